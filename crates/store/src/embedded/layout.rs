//! File names in the data folder.
//!
//! - `wal-<first record number, 20 digits>.log`: log segments, in order;
//! - `snap-<last record number covered, 20 digits>.snap`: snapshots;
//! - `*.tmp`: a snapshot being written, renamed into place once synced, or a probe of a
//!   disk that was full;
//! - `LOCK`: held by the host that owns the folder.

use std::path::{Path, PathBuf};

/// The segment starting at record `first`.
pub fn segment(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("wal-{first:020}.log"))
}

/// The snapshot covering records up to `lsn`.
pub fn snapshot(dir: &Path, lsn: u64) -> PathBuf {
    dir.join(format!("snap-{lsn:020}.snap"))
}

/// Where the snapshot covering `lsn` is written before its rename.
pub fn snapshot_tmp(dir: &Path, lsn: u64) -> PathBuf {
    dir.join(format!("snap-{lsn:020}.tmp"))
}

/// Where the store checks, after a full disk, whether writes go through again; a
/// temporary, so a probe cut short by a crash is swept at the next start.
pub fn probe(dir: &Path) -> PathBuf {
    dir.join("probe.tmp")
}

/// The data folder's files, by kind, each sorted by its number.
#[derive(Debug, Default)]
pub struct Listing {
    /// Segments: first record number and file name.
    pub segments: Vec<(u64, String)>,
    /// Snapshots: last record number covered and file name.
    pub snapshots: Vec<(u64, String)>,
    /// Unfinished snapshot files.
    pub temporaries: Vec<String>,
}

/// Sorts a folder listing into segments, snapshots and temporaries; ignores anything else.
pub fn classify(names: Vec<String>) -> Listing {
    let mut listing = Listing::default();
    for name in names {
        let number = |prefix: &str, suffix: &str| {
            name.strip_prefix(prefix)?
                .strip_suffix(suffix)
                .filter(|digits| digits.len() == 20)?
                .parse::<u64>()
                .ok()
        };
        if let Some(first) = number("wal-", ".log") {
            listing.segments.push((first, name));
        } else if let Some(lsn) = number("snap-", ".snap") {
            listing.snapshots.push((lsn, name));
        } else if name.ends_with(".tmp") {
            listing.temporaries.push(name);
        }
    }
    listing.segments.sort();
    listing.snapshots.sort();
    listing
}
