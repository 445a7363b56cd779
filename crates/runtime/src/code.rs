//! A component's bytes as the runtime keeps them: shared, never copied, and named by their
//! SHA-256, worked out once.

use std::fmt;
use std::sync::{Arc, OnceLock};

/// A component's bytes and their SHA-256, computed on first use and kept with them.
///
/// Compiled components are cached by content, so every deploy needs the digest of its
/// bytes; for a few megabytes that costs milliseconds, more than the rest of a cached
/// deploy. A caller that deploys the same component again and again (replicas, restarts
/// of a service, benchmarks) holds one `Code` and clones it: the clone shares the bytes
/// and the digest, and a deploy from the cache neither copies nor hashes anything.
#[derive(Clone)]
pub struct Code {
    bytes: Arc<[u8]>,
    digest: Arc<OnceLock<[u8; 32]>>,
}

impl Code {
    /// Wraps `bytes`; nothing is hashed yet.
    pub fn new(bytes: impl Into<Arc<[u8]>>) -> Self {
        Code {
            bytes: bytes.into(),
            digest: Arc::default(),
        }
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The SHA-256 of the bytes, hashing them on the first call. Hashing megabytes takes
    /// milliseconds of CPU: call this off the async workers unless
    /// [`Code::known_digest`] has it already.
    pub fn digest(&self) -> [u8; 32] {
        *self.digest.get_or_init(|| crate::txn::digest(&self.bytes))
    }

    /// The digest if some clone of this code has already worked it out.
    pub fn known_digest(&self) -> Option<[u8; 32]> {
        self.digest.get().copied()
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether there are no bytes at all (which no component is).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl From<Vec<u8>> for Code {
    fn from(bytes: Vec<u8>) -> Self {
        Code::new(bytes)
    }
}

impl From<&Code> for Code {
    fn from(code: &Code) -> Self {
        code.clone()
    }
}

impl From<&Vec<u8>> for Code {
    fn from(bytes: &Vec<u8>) -> Self {
        Code::new(bytes.as_slice())
    }
}

impl From<&[u8]> for Code {
    fn from(bytes: &[u8]) -> Self {
        Code::new(bytes)
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.known_digest() {
            Some(digest) => write!(
                f,
                "Code({} bytes, sha256 {})",
                self.bytes.len(),
                crate::txn::hex(&digest)
            ),
            None => write!(f, "Code({} bytes)", self.bytes.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_digest_worked_out_once() {
        let code = Code::from(b"not a component".to_vec());
        let clone = code.clone();
        assert_eq!(clone.known_digest(), None);
        let digest = code.digest();
        assert_eq!(clone.known_digest(), Some(digest));
        assert_eq!(digest, crate::txn::digest(b"not a component"));
        assert!(format!("{clone:?}").contains(&crate::txn::hex(&digest)));
    }
}
