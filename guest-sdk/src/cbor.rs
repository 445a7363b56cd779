//! Typed node data and arguments as CBOR (with `ciborium`), the format the host uses too.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct Owner {
//!     name: String,
//!     term: u64,
//! }
//!
//! let owner = Owner { name: "worker-1".into(), term: 7 };
//! let bytes = ballot_guest::cbor::to_vec(&owner).unwrap();
//! let back: Owner = ballot_guest::cbor::from_slice(&bytes).unwrap();
//! assert_eq!(back, owner);
//! ```

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a value could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CborError {
    /// The value could not be encoded. Carries the reason.
    Encode(String),
    /// The bytes are not CBOR of the expected shape. Carries the reason.
    Decode(String),
}

impl fmt::Display for CborError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CborError::Encode(reason) => write!(f, "cannot encode CBOR: {reason}"),
            CborError::Decode(reason) => write!(f, "cannot decode CBOR: {reason}"),
        }
    }
}

impl std::error::Error for CborError {}

/// Lets a callback that returns `Result<(), String>` use `?` on CBOR calls.
///
/// ```
/// fn read(bytes: &[u8]) -> Result<u64, String> {
///     Ok(ballot_guest::cbor::from_slice(bytes)?)
/// }
/// assert!(read(b"\xff").is_err());
/// ```
impl From<CborError> for String {
    fn from(error: CborError) -> String {
        error.to_string()
    }
}

/// Encodes `value` as CBOR.
///
/// ```
/// let bytes = ballot_guest::cbor::to_vec(&42u64).unwrap();
/// assert_eq!(bytes, [0x18, 42]);
/// ```
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CborError> {
    let mut bytes = Vec::new();
    ciborium::into_writer(value, &mut bytes).map_err(|e| CborError::Encode(e.to_string()))?;
    Ok(bytes)
}

/// Decodes a `T` from CBOR `bytes`.
///
/// ```
/// let n: u64 = ballot_guest::cbor::from_slice(&[0x18, 42]).unwrap();
/// assert_eq!(n, 42);
/// assert!(ballot_guest::cbor::from_slice::<u64>(b"not cbor").is_err());
/// ```
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CborError> {
    ciborium::from_reader(bytes).map_err(|e| CborError::Decode(e.to_string()))
}
