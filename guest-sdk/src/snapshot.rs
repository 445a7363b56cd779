//! Reads of the snapshot a transaction function runs against (the `txn-fn` world only).

use crate::bindings::txn_fn::ballot::election::snapshot as imports;
use crate::types::{Error, Revision, Stat};

/// The revision every read sees.
pub fn revision() -> Revision {
    imports::revision()
}

/// A node's data and metadata, recorded as read (an absent node too).
pub fn get(path: &str) -> Result<(Vec<u8>, Stat), Error> {
    imports::get(path)
}

/// The names of a node's children in order, recorded as read.
pub fn children(path: &str) -> Result<Vec<String>, Error> {
    imports::children(path)
}
