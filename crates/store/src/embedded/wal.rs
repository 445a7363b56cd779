//! The write-ahead log: the embedded store's [`Log`], in segment files on local disk.
//!
//! Each entry is framed on its own as a record `{lsn, at, command}` numbered 1, 2, 3, ...
//! without gaps, so an entry's position is its record number. A batch is one append and
//! one `fdatasync`. Segments roll over at a size; snapshots
//! ([`super::snapshotter::WalSnapshots`]) delete the segments they cover. Opening a folder
//! checks how its files fit together and cuts a torn tail (a record the crash left half
//! written, with nothing valid after it); anything else that does not decode is
//! corruption, refused with the file and the offset.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::StoreError;
use crate::log::{Batch, DetachedSync, Entry, Log, Position};
use ballot_core::command::Command;
use ballot_core::namespace::MonoTime;

use super::files::{AppendFile, FileSystem};
use super::frame::{self, FileKind, Frame, HEADER_LEN, HeaderError};
use super::layout;
use super::record::LogRecord;

/// Framed bytes gathered before they are appended: bounds the framing buffer whatever
/// the batch.
const WRITE_CHUNK: usize = 4 << 20;

/// The embedded log, open for appending.
pub struct Wal {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    segment: Box<dyn AppendFile>,
    segment_len: u64,
    /// The number the next record gets.
    next_lsn: u64,
    segment_bytes: u64,
    /// Bytes of records the newest snapshot does not cover (about: at open, the last
    /// segment's).
    unsnapshotted: u64,
    /// `fdatasync` in [`Log::sync`]; off only to show what is lost without it.
    sync: bool,
    /// Framing buffer, reused from batch to batch.
    buffer: Vec<u8>,
    /// The file the log appends to now.
    segment_path: PathBuf,
    /// Where the log stood before the write not yet synced, if any: what
    /// [`Log::undo_unsynced`] goes back to.
    before_write: Option<Mark>,
    /// The segment file's length: the log's end plus the zeros written ahead of it.
    allocated: u64,
}

/// Where the log ends: what a failed write is cut back to.
#[derive(Debug, Clone, Copy)]
struct Mark {
    segment_len: u64,
    next_lsn: u64,
    unsnapshotted: u64,
}

/// How far ahead of the log's end a segment is written with zeros. An fdatasync after an
/// append that grows a file must also make its new size and blocks durable (on ext4, a
/// journal commit); one after an append into room already written needs only the data,
/// and took half the time on this project's machines (119-125 us against 239 us). etcd's
/// and ZooKeeper's logs do the same. The zeros are written by the append that needs
/// them, in steps of this size, so a batch waits for one such step at most.
const WRITE_AHEAD: u64 = 1 << 20;

/// How much a probe writes and syncs: room for a batch of ordinary commands.
const PROBE_BYTES: usize = 64 << 10;

/// What opening a folder found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Opened {
    /// A torn tail cut from the last segment: the file and how many bytes.
    pub cut: Option<(PathBuf, u64)>,
}

/// How a record is framed: [`LogRecord`] borrowed, so writing a batch clones no command.
#[derive(Serialize)]
struct RecordRef<'a> {
    lsn: u64,
    at: MonoTime,
    command: &'a Command,
}

pub(super) fn corrupt(path: &Path, offset: usize, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        file: path.display().to_string(),
        offset: offset as u64,
        reason: reason.into(),
    }
}

pub(super) fn header_error(path: &Path, error: HeaderError) -> StoreError {
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

/// Maps an I/O error to [`StoreError::Io`], saying what was done to which file.
pub(super) fn io(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let what = format!("{what} {}", path.display());
    move |e: std::io::Error| StoreError::io(what, &e)
}

/// The records of one segment file, checked from its header to its end.
struct Scan {
    records: Vec<(LogRecord, usize)>,
    /// Where the first record that does not decode starts, and why, if one does.
    bad: Option<(usize, &'static str)>,
    /// Where the records end: at the first record that does not decode, where the
    /// zeros written ahead start, or at the file's end.
    end: usize,
    /// The file's length without its trailing zeros: how much a cut of a torn record
    /// takes back (the zeros were never a record).
    used: usize,
    /// The file's length.
    len: usize,
}

/// Reads a segment and decodes its records, checking that they continue from `first`
/// without gaps. Stops at the first frame that does not decode (reported in `bad`).
fn scan(fs: &dyn FileSystem, path: &Path, first: u64) -> Result<Scan, StoreError> {
    let bytes = fs.read(path).map_err(io("reading", path))?;
    let header_first =
        frame::read_header(FileKind::Segment, &bytes).map_err(|e| header_error(path, e))?;
    if header_first != first {
        return Err(corrupt(
            path,
            12,
            "the header's first record does not match the file name",
        ));
    }
    let mut records = Vec::new();
    let mut offset = HEADER_LEN;
    let mut bad = None;
    let used = bytes
        .iter()
        .rposition(|byte| *byte != 0)
        .map_or(0, |last| last + 1)
        .max(HEADER_LEN);
    loop {
        match frame::decode::<LogRecord>(&bytes, offset) {
            Frame::End => break,
            Frame::Record(record, next) => {
                let expected = first + records.len() as u64;
                if record.lsn != expected {
                    return Err(corrupt(
                        path,
                        offset,
                        format!("expected record {expected}, found {}", record.lsn),
                    ));
                }
                records.push((record, offset));
                offset = next;
            }
            Frame::Bad(reason) => {
                if frame::any_valid_after::<LogRecord>(&bytes, offset, used) {
                    return Err(corrupt(
                        path,
                        offset,
                        format!("{reason}, and valid records follow"),
                    ));
                }
                bad = Some((offset, reason));
                break;
            }
        }
    }
    Ok(Scan {
        records,
        bad,
        end: offset,
        used,
        len: bytes.len(),
    })
}

fn new_segment(
    fs: &dyn FileSystem,
    dir: &Path,
    first: u64,
) -> std::io::Result<(Box<dyn AppendFile>, u64)> {
    let path = layout::segment(dir, first);
    let mut file = fs.create(&path)?;
    let header = frame::header(FileKind::Segment, first);
    file.append(&header)?;
    file.sync_data()?;
    fs.sync_dir(dir)?;
    Ok((file, header.len() as u64))
}

impl Wal {
    /// Opens the log in `dir` (which must exist; the caller holds its lock): checks that
    /// the segments continue the newest snapshot, cuts a torn tail from the last segment,
    /// and positions the log for appending. Segments before the last are checked record by
    /// record when they are read.
    pub fn open(
        fs: Arc<dyn FileSystem>,
        dir: &Path,
        segment_bytes: u64,
        sync: bool,
    ) -> Result<(Wal, Opened), StoreError> {
        let listing = layout::classify(fs.list(dir).map_err(io("listing", dir))?);
        for name in &listing.temporaries {
            // A snapshot that was never renamed into place: it never counted.
            let _ = fs.remove(&dir.join(name));
        }
        let snapshot_lsn = listing.snapshots.last().map_or(0, |(lsn, _)| *lsn);
        // The log must continue right after the snapshot: a first segment that starts later
        // means records were truncated away that no snapshot holds.
        match listing.segments.first() {
            Some((first, name)) if *first > snapshot_lsn + 1 => {
                return Err(corrupt(
                    &dir.join(name),
                    0,
                    format!(
                        "the log starts at record {first} but the newest snapshot covers only up to {snapshot_lsn}: the snapshot holding the records before is missing"
                    ),
                ));
            }
            None if snapshot_lsn > 0 => {
                return Err(StoreError::Corrupt {
                    file: dir.display().to_string(),
                    offset: 0,
                    reason: "a snapshot exists but no log segment does".into(),
                });
            }
            _ => {}
        }

        let mut segments = listing.segments;
        let mut opened = Opened::default();
        let mut tail = None;
        while let Some((first, name)) = segments.last().cloned() {
            let path = dir.join(&name);
            let bytes = fs.read(&path).map_err(io("reading", &path))?;
            if bytes.len() < HEADER_LEN {
                // A segment whose header never made it to disk: created, then the crash.
                tracing::warn!(file = %path.display(), "removing a segment with a torn header");
                fs.remove(&path).map_err(io("removing", &path))?;
                segments.pop();
                continue;
            }
            let scan = scan(&*fs, &path, first)?;
            let mut allocated = scan.len as u64;
            if let Some((offset, reason)) = scan.bad {
                let torn = scan.used.max(offset) - offset;
                tracing::warn!(
                    file = %path.display(),
                    offset,
                    cut = torn,
                    reason,
                    "cutting a torn record at the end of the log"
                );
                fs.truncate(&path, offset as u64)
                    .map_err(io("truncating", &path))?;
                opened.cut = Some((path.clone(), torn as u64));
                allocated = offset as u64;
            }
            let next_lsn = first + scan.records.len() as u64;
            tail = Some((path, next_lsn, scan.end as u64, allocated));
            break;
        }

        let (segment, segment_path, segment_len, next_lsn, allocated) = match tail {
            // A log that ends before its snapshot (written without fsync, then a power cut)
            // continues in a new segment after the snapshot, never with a gap inside a file.
            Some((path, next_lsn, len, allocated)) if next_lsn > snapshot_lsn => {
                let file = fs.open_at(&path, len).map_err(io("opening", &path))?;
                (file, path, len, next_lsn, allocated)
            }
            _ => {
                let next_lsn = snapshot_lsn + 1;
                let (file, len) =
                    new_segment(&*fs, dir, next_lsn).map_err(io("creating a segment in", dir))?;
                (file, layout::segment(dir, next_lsn), len, next_lsn, len)
            }
        };
        let wal = Wal {
            fs,
            dir: dir.to_path_buf(),
            segment,
            segment_len,
            next_lsn,
            segment_bytes,
            unsnapshotted: segment_len.saturating_sub(HEADER_LEN as u64),
            sync,
            buffer: Vec::new(),
            segment_path,
            before_write: None,
            allocated,
        };
        Ok((wal, opened))
    }

    /// Appends the framing buffer to the segment and empties it.
    fn append_buffer(&mut self) -> Result<(), StoreError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let end = self.segment_len + self.buffer.len() as u64;
        if end > self.allocated {
            // Write the zeros ahead, up to the segment's size (an append that runs past
            // it gets just its own room).
            let ahead = (end + WRITE_AHEAD).min(self.segment_bytes).max(end);
            self.segment
                .preallocate(ahead)
                .map_err(io("writing room ahead of the log in", &self.dir))?;
            self.allocated = ahead;
        }
        self.segment
            .append(&self.buffer)
            .map_err(io("appending to", &self.dir))?;
        self.segment_len += self.buffer.len() as u64;
        self.unsnapshotted += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// Starts a new segment whose first record is `first`.
    fn roll(&mut self, first: u64) -> Result<(), StoreError> {
        let path = layout::segment(&self.dir, first);
        let (segment, len) = match new_segment(&*self.fs, &self.dir, first) {
            Ok(created) => created,
            Err(error) => {
                // A segment that never got its header whole (a full disk) is no segment:
                // the next roll creates it again.
                let _ = self.fs.remove(&path);
                return Err(io("starting a segment in", &self.dir)(error));
            }
        };
        self.segment = segment;
        self.segment_path = path;
        self.segment_len = len;
        self.allocated = len;
        Ok(())
    }

    fn mark(&self) -> Mark {
        Mark {
            segment_len: self.segment_len,
            next_lsn: self.next_lsn,
            unsnapshotted: self.unsnapshotted,
        }
    }
}

impl Log for Wal {
    fn last_position(&self) -> Position {
        self.next_lsn - 1
    }

    fn write(&mut self, entries: &[Entry]) -> Result<Position, StoreError> {
        debug_assert!(!entries.is_empty(), "a batch holds at least one entry");
        if self.segment_len >= self.segment_bytes {
            self.roll(self.next_lsn)?;
        }
        self.buffer.clear();
        self.before_write.get_or_insert(self.mark());
        for (lsn, entry) in (self.next_lsn..).zip(entries) {
            let record = RecordRef {
                lsn,
                at: entry.at,
                command: &entry.command,
            };
            frame::encode(&record, &mut self.buffer);
            // A batch of large commands is written in pieces, so the framing buffer
            // stays small; the batch is still durable only at the next sync.
            if self.buffer.len() >= WRITE_CHUNK {
                self.append_buffer()?;
            }
        }
        self.append_buffer()?;
        self.next_lsn += entries.len() as u64;
        Ok(self.next_lsn - 1)
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        if self.sync {
            self.segment
                .sync_data()
                .map_err(io("syncing the log in", &self.dir))?;
        }
        self.before_write = None;
        Ok(())
    }

    fn detach_sync(&mut self) -> Result<Option<DetachedSync>, StoreError> {
        if !self.sync {
            // Nothing to wait for: `sync` only forgets the mark.
            return self.sync().map(|()| None);
        }
        let sync = self.segment.detached_sync();
        let dir = self.dir.clone();
        Ok(Some(Box::new(move || {
            sync().map_err(io("syncing the log in", &dir))
        })))
    }

    fn synced(&mut self, durable: bool) {
        if durable {
            self.before_write = None;
        }
    }

    fn undo_unsynced(&mut self) -> Result<(), StoreError> {
        let Some(mark) = self.before_write.take() else {
            return Ok(());
        };
        let path = self.segment_path.clone();
        // Durable when it returns (the file system's `truncate` syncs the cut): a record
        // that reached the file whole must not come back at the next start.
        self.fs
            .truncate(&path, mark.segment_len)
            .map_err(io("cutting a failed write from", &path))?;
        // Opened again at the cut: the old handle would go on past it and leave a hole
        // of zeros in the log.
        self.segment = self
            .fs
            .open_at(&path, mark.segment_len)
            .map_err(io("opening after the cut", &path))?;
        self.allocated = mark.segment_len;
        self.segment_len = mark.segment_len;
        self.next_lsn = mark.next_lsn;
        self.unsnapshotted = mark.unsnapshotted;
        self.buffer.clear();
        tracing::warn!(file = %path.display(), length = mark.segment_len, "cut a write the disk refused");
        Ok(())
    }

    fn probe(&mut self) -> Result<(), StoreError> {
        let path = layout::probe(&self.dir);
        let written = (|| {
            let mut file = self.fs.create(&path)?;
            file.append(&[0; PROBE_BYTES])?;
            file.sync_data()
        })();
        let _ = self.fs.remove(&path);
        written.map_err(io("probing the disk with", &path))
    }

    fn read_after(&self, after: Position, max: usize) -> Result<Vec<Batch>, StoreError> {
        let listing = layout::classify(self.fs.list(&self.dir).map_err(io("listing", &self.dir))?);
        let wanted = after + 1;
        let start = listing
            .segments
            .iter()
            .rposition(|(first, _)| *first <= wanted);
        let Some(start) = start else {
            return match listing.segments.first() {
                Some((first, name)) => Err(corrupt(
                    &self.dir.join(name),
                    0,
                    format!(
                        "record {wanted} was asked for, but the log now starts at record {first}: a snapshot covers what came before"
                    ),
                )),
                None => Ok(Vec::new()),
            };
        };
        let mut batches = Vec::new();
        let mut expected_first = None;
        for (first, name) in &listing.segments[start..] {
            let path = self.dir.join(name);
            if let Some(expected) = expected_first
                && *first != expected
            {
                return Err(corrupt(
                    &path,
                    0,
                    format!(
                        "the log has a gap: expected record {expected}, this segment starts at {first}"
                    ),
                ));
            }
            let scan = scan(&*self.fs, &path, *first)?;
            if let Some((offset, reason)) = scan.bad {
                // The tail was cut when the log was opened; damage found now is real.
                return Err(corrupt(&path, offset, reason));
            }
            expected_first = Some(first + scan.records.len() as u64);
            for (record, _) in scan.records {
                if record.lsn < wanted {
                    continue;
                }
                if batches.len() == max {
                    return Ok(batches);
                }
                batches.push(Batch {
                    host: ballot_core::namespace::HostEpoch::EMBEDDED,
                    position: record.lsn,
                    entries: vec![Entry {
                        at: record.at,
                        command: record.command,
                    }],
                });
            }
        }
        Ok(batches)
    }

    fn prepare_snapshot(&mut self) -> Result<(), StoreError> {
        // Every older segment is then wholly covered by the snapshot, and goes with it.
        if self.segment_len > HEADER_LEN as u64 {
            self.roll(self.next_lsn)?;
        }
        self.unsnapshotted = 0;
        Ok(())
    }

    fn unsnapshotted_bytes(&self) -> u64 {
        self.unsnapshotted
    }
}
