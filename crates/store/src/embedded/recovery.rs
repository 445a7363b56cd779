//! Opening a data folder: load the newest snapshot, replay the log after it, and cut a
//! torn tail, refusing anything that looks like real damage.

use std::path::{Path, PathBuf};

use crate::StoreError;
use ballot_core::command::apply;
use ballot_core::election::Elections;
use ballot_core::namespace::{Limits, Namespace};

use super::files::FileSystem;
use super::frame::{self, FileKind, Frame, HEADER_LEN, HeaderError};
use super::layout;
use super::record::{LogRecord, SnapshotBody};

/// The outcome of recovery.
pub struct Recovered {
    /// The elections with every durable command applied.
    pub elections: Elections,
    /// The number the next record gets.
    pub next_lsn: u64,
    /// The segment to append to, if any (absent in a new folder).
    pub tail_segment: Option<PathBuf>,
    /// Bytes cut from the end of the last segment (a torn write), if any.
    pub cut: Option<(PathBuf, u64)>,
    /// How many records were replayed on top of the snapshot.
    pub replayed: u64,
}

fn corrupt(path: &Path, offset: usize, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        file: path.display().to_string(),
        offset: offset as u64,
        reason: reason.into(),
    }
}

fn header_error(path: &Path, error: HeaderError) -> StoreError {
    let reason = match error {
        HeaderError::Short => "shorter than a file header".to_string(),
        HeaderError::BadMagic => "not a ballot file of this kind".to_string(),
        HeaderError::UnknownVersion(v) => format!(
            "format version {v} is not supported by this build (it reads version {})",
            frame::FORMAT_VERSION
        ),
    };
    corrupt(path, 0, reason)
}

/// Recovers the elections stored in `dir`: the newest snapshot, then every command logged
/// after it, applied again at the stamp it was applied at.
pub fn recover(fs: &dyn FileSystem, dir: &Path, limits: Limits) -> Result<Recovered, StoreError> {
    let names = fs
        .list(dir)
        .map_err(|e| StoreError::io(format!("listing {}", dir.display()), &e))?;
    let listing = layout::classify(names);
    for name in &listing.temporaries {
        // A snapshot that was never renamed into place: it never counted.
        let _ = fs.remove(&dir.join(name));
    }

    let (mut elections, snapshot_lsn) = match listing.snapshots.last() {
        Some((lsn, name)) => {
            let path = dir.join(name);
            let body = read_snapshot(fs, &path)?;
            if body.lsn != *lsn {
                return Err(corrupt(
                    &path,
                    0,
                    "the snapshot's content does not match its name",
                ));
            }
            let mut elections = body.elections;
            elections.set_limits(limits);
            (elections, body.lsn)
        }
        None => (Elections::new(Namespace::new(limits)), 0),
    };

    // The log must continue right after the snapshot: a first segment that starts later
    // means records were truncated away that no snapshot holds.
    if let Some((first, name)) = listing.segments.first() {
        if *first > snapshot_lsn + 1 {
            return Err(corrupt(
                &dir.join(name),
                0,
                format!(
                    "the log starts at record {first} but the newest snapshot covers only up to {snapshot_lsn}: the snapshot holding the records before is missing"
                ),
            ));
        }
    } else if snapshot_lsn > 0 {
        return Err(StoreError::Corrupt {
            file: dir.display().to_string(),
            offset: 0,
            reason: "a snapshot exists but no log segment does".into(),
        });
    }

    let mut next_lsn = 1;
    let mut replayed = 0;
    let mut cut = None;
    let count = listing.segments.len();
    for (index, (first, name)) in listing.segments.iter().enumerate() {
        let path = dir.join(name);
        let last_segment = index + 1 == count;
        let bytes = fs
            .read(&path)
            .map_err(|e| StoreError::io(format!("reading {}", path.display()), &e))?;
        let header_first = match frame::read_header(FileKind::Segment, &bytes) {
            Ok(first) => first,
            // A segment whose header never made it to disk: created, then the crash.
            Err(HeaderError::Short) if last_segment && bytes.len() < HEADER_LEN => {
                tracing::warn!(file = %path.display(), "removing a segment with a torn header");
                fs.remove(&path)
                    .map_err(|e| StoreError::io(format!("removing {}", path.display()), &e))?;
                break;
            }
            Err(error) => return Err(header_error(&path, error)),
        };
        if header_first != *first {
            return Err(corrupt(
                &path,
                12,
                "the header's first record does not match the file name",
            ));
        }
        if index > 0 && *first != next_lsn {
            return Err(corrupt(
                &path,
                0,
                format!(
                    "the log has a gap: expected record {next_lsn}, this segment starts at {first}"
                ),
            ));
        }
        next_lsn = *first;
        let mut offset = HEADER_LEN;
        loop {
            match frame::decode::<LogRecord>(&bytes, offset) {
                Frame::End => break,
                Frame::Record(record, next) => {
                    if record.lsn != next_lsn {
                        return Err(corrupt(
                            &path,
                            offset,
                            format!("expected record {next_lsn}, found {}", record.lsn),
                        ));
                    }
                    if record.lsn > snapshot_lsn {
                        // Every logged command applied when it was logged; applied again
                        // on the same elections at the same stamp it must apply again.
                        let (applied, _) = apply(&mut elections, &record.command, record.at);
                        if let Err(refusal) = applied {
                            return Err(corrupt(
                                &path,
                                offset,
                                format!(
                                    "record {} ({}) does not apply again: {refusal}",
                                    record.lsn,
                                    record.command.kind()
                                ),
                            ));
                        }
                        replayed += 1;
                    }
                    next_lsn += 1;
                    offset = next;
                }
                Frame::Bad(reason) => {
                    if !last_segment || frame::any_valid_after::<LogRecord>(&bytes, offset) {
                        return Err(corrupt(
                            &path,
                            offset,
                            format!("{reason}, and valid records follow"),
                        ));
                    }
                    tracing::warn!(
                        file = %path.display(),
                        offset,
                        cut = bytes.len() - offset,
                        reason,
                        "cutting a torn record at the end of the log"
                    );
                    fs.truncate(&path, offset as u64).map_err(|e| {
                        StoreError::io(format!("truncating {}", path.display()), &e)
                    })?;
                    cut = Some((path.clone(), (bytes.len() - offset) as u64));
                    break;
                }
            }
        }
    }
    if next_lsn <= snapshot_lsn {
        next_lsn = snapshot_lsn + 1;
    }
    let tail_segment = fs
        .list(dir)
        .map(layout::classify)
        .ok()
        .and_then(|l| l.segments.last().map(|(_, name)| dir.join(name)));
    Ok(Recovered {
        elections,
        next_lsn,
        tail_segment,
        cut,
        replayed,
    })
}

/// Reads and checks a snapshot file.
pub fn read_snapshot(fs: &dyn FileSystem, path: &Path) -> Result<SnapshotBody, StoreError> {
    let bytes = fs
        .read(path)
        .map_err(|e| StoreError::io(format!("reading {}", path.display()), &e))?;
    frame::read_header(FileKind::Snapshot, &bytes).map_err(|e| header_error(path, e))?;
    match frame::decode::<SnapshotBody>(&bytes, HEADER_LEN) {
        Frame::Record(body, _) => Ok(body),
        Frame::End => Err(corrupt(path, HEADER_LEN, "the snapshot is empty")),
        Frame::Bad(reason) => Err(corrupt(path, HEADER_LEN, reason)),
    }
}
