//! The file layer under the embedded store: the real file system, or a simulated one that
//! loses what a power cut would lose.
//!
//! Everything the store does to disk goes through [`FileSystem`], so the crash tests can
//! swap in [`SimFs`], which keeps apart what was written and what was made durable: a
//! simulated crash drops every write not followed by `sync_data`, and every create,
//! rename, remove or truncate not followed by a `sync_dir` of its folder. A SIGKILL alone
//! never loses the page cache, so only this layer can prove that the store syncs.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

/// A file the store appends to.
pub trait AppendFile: Send {
    /// Appends all of `bytes`.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Makes the file's data durable (fdatasync).
    fn sync_data(&mut self) -> io::Result<()>;
    /// Makes the file at least `len` bytes long, the new bytes zeros, without moving
    /// where the next append lands: room written ahead of the log, so that the fdatasync
    /// after an append into it has no file size or block allocation to make durable.
    fn preallocate(&mut self, len: u64) -> io::Result<()>;
    /// The same fdatasync, to run on another thread while the writer goes on (it writes
    /// nothing to the file until the sync is done): covers every byte appended so far.
    fn detached_sync(&self) -> DetachedSync;
}

/// An fdatasync of one file, made to run on another thread (see
/// [`AppendFile::detached_sync`]).
pub type DetachedSync = Box<dyn FnOnce() -> io::Result<()> + Send>;

/// What the embedded store needs from a file system.
pub trait FileSystem: Send + Sync + 'static {
    /// Creates a folder and its parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Names of the files in `dir`.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// The whole content of a file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Creates (or empties) a file for appending.
    fn create(&self, path: &Path) -> io::Result<Box<dyn AppendFile>>;
    /// Opens an existing file to write from `offset` on (where its log ends, which may be
    /// before its length when room was written ahead; see [`AppendFile::preallocate`]).
    fn open_at(&self, path: &Path, offset: u64) -> io::Result<Box<dyn AppendFile>>;
    /// Renames a file (atomically replacing `to`).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Deletes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Cuts a file to `len` bytes and makes the cut durable.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Makes the folder's entries (creates, renames, removes) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Takes the folder's exclusive lock for this process; held while the value lives.
    fn lock(&self, dir: &Path) -> io::Result<Box<dyn Send + Sync>>;
}

/// The operating system's file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

/// Shared, so that a detached sync holds the file open (no `dup` per batch).
struct RealFile(Arc<File>);

impl AppendFile for RealFile {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        (&*self.0).write_all(bytes)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn detached_sync(&self) -> DetachedSync {
        let file = self.0.clone();
        Box::new(move || file.sync_data())
    }

    fn preallocate(&mut self, len: u64) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
        let mut at = self.0.metadata()?.len();
        while at < len {
            let n = (len - at).min(ZEROS.len() as u64) as usize;
            self.0.write_all_at(&ZEROS[..n], at)?;
            at += n as u64;
        }
        Ok(())
    }
}

impl FileSystem for RealFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn AppendFile>> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(Box::new(RealFile(Arc::new(file))))
    }

    fn open_at(&self, path: &Path, offset: u64) -> io::Result<Box<dyn AppendFile>> {
        use std::io::{Seek, SeekFrom};
        let mut file = OpenOptions::new().write(true).open(path)?;
        file.seek(SeekFrom::Start(offset))?;
        Ok(Box::new(RealFile(Arc::new(file))))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(len)?;
        file.sync_all()
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn lock(&self, dir: &Path) -> io::Result<Box<dyn Send + Sync>> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join("LOCK"))?;
        match file.try_lock() {
            Ok(()) => Ok(Box::new(file)),
            Err(fs::TryLockError::WouldBlock) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "{} is in use by another ballot host (its LOCK file is held)",
                    dir.display()
                ),
            )),
            Err(fs::TryLockError::Error(error)) => Err(error),
        }
    }
}

/// A fault the simulated file system injects into every later call of its kind, until
/// cleared: a failed disk stays failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Appends fail with "no space left on device".
    DiskFull,
    /// Appends fail with an I/O error.
    WriteError,
    /// `sync_data` fails with an I/O error.
    SyncError,
}

/// How a simulated crash treats data written but not synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// All of it is lost.
    DropUnsynced,
    /// A prefix of it survives: this many bytes per file at most (a torn write).
    Tear(usize),
}

#[derive(Debug, Clone, Default)]
struct SimFile {
    /// What a reader sees now.
    content: Vec<u8>,
    /// What survives a crash.
    durable: Vec<u8>,
}

#[derive(Debug, Default)]
struct SimState {
    /// Folder entries as a reader sees them: path to file id.
    entries: BTreeMap<PathBuf, u64>,
    /// Folder entries that survive a crash.
    durable_entries: BTreeMap<PathBuf, u64>,
    files: BTreeMap<u64, SimFile>,
    last_id: u64,
    faults: Vec<Fault>,
    locked: Vec<PathBuf>,
    syncs: u64,
}

/// An in-memory file system with crash semantics, for tests and the simulator.
#[derive(Debug, Clone, Default)]
pub struct SimFs {
    state: Arc<Mutex<SimState>>,
    /// While held, `sync_data` waits: lets a test look at the store mid-sync.
    sync_gate: Arc<(Mutex<SyncGate>, Condvar)>,
}

/// Whether syncs wait, and how many may pass while they do.
#[derive(Debug, Default)]
struct SyncGate {
    held: bool,
    passes: u64,
}

impl SimFs {
    /// An empty file system.
    pub fn new() -> Self {
        SimFs::default()
    }

    /// Injects a fault into every later call of its kind.
    pub fn inject(&self, fault: Fault) {
        self.lock_state().faults.push(fault);
    }

    /// Clears all injected faults.
    pub fn clear_faults(&self) {
        self.lock_state().faults.clear();
    }

    /// Makes every later `sync_data` wait until [`SimFs::release_syncs`].
    pub fn hold_syncs(&self) {
        self.sync_gate
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .held = true;
    }

    /// Lets held and later syncs proceed.
    pub fn release_syncs(&self) {
        self.sync_gate
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .held = false;
        self.sync_gate.1.notify_all();
    }

    /// While syncs are held, lets exactly one (waiting or the next) through: a test can
    /// then stop the store with one batch durable and the next one written but not.
    pub fn let_one_sync_through(&self) {
        self.sync_gate
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .passes += 1;
        self.sync_gate.1.notify_all();
    }

    /// True if some write is waiting for a sync (its bytes are in a file, not yet durable).
    pub fn has_unsynced_data(&self) -> bool {
        self.lock_state()
            .files
            .values()
            .any(|file| file.content != file.durable)
    }

    /// How many `sync_data` calls succeeded.
    pub fn syncs(&self) -> u64 {
        self.lock_state().syncs
    }

    /// A power cut, as seen by the next boot: a new file system holding only what was
    /// durable here (plus, with [`CrashMode::Tear`], a torn prefix of unsynced data), with
    /// no locks held. This one is left as it was, so a store still running on it (the
    /// "dead" process) cannot touch what the next boot sees.
    pub fn crashed(&self, mode: CrashMode) -> SimFs {
        let state = self.lock_state();
        let entries = state.durable_entries.clone();
        let mut files = BTreeMap::new();
        for id in entries.values() {
            let file = &state.files[id];
            let mut survivor = file.durable.clone();
            if let CrashMode::Tear(max) = mode {
                // The first write since the last sync reaches the disk in part: from the
                // first byte that differs (past the end, for an append; inside, for a
                // write into room written ahead), at most `max` bytes of it.
                let from = file
                    .content
                    .iter()
                    .zip(&file.durable)
                    .position(|(now, synced)| now != synced)
                    .unwrap_or(file.durable.len().min(file.content.len()));
                let to = file.content.len().min(from.saturating_add(max));
                if from < to {
                    if survivor.len() < to {
                        survivor.resize(to, 0);
                    }
                    survivor[from..to].copy_from_slice(&file.content[from..to]);
                }
            }
            files.insert(
                *id,
                SimFile {
                    content: survivor.clone(),
                    durable: survivor,
                },
            );
        }
        SimFs {
            sync_gate: Arc::default(),
            state: Arc::new(Mutex::new(SimState {
                durable_entries: entries.clone(),
                entries,
                files,
                last_id: state.last_id,
                ..SimState::default()
            })),
        }
    }

    /// Names of the files in `dir` as a reader sees them now.
    pub fn files(&self, dir: &Path) -> Vec<String> {
        self.list(dir).unwrap_or_default()
    }

    /// Overwrites bytes of a file in place, durably: to plant corruption.
    pub fn corrupt(&self, path: &Path, offset: usize, bytes: &[u8]) {
        let mut state = self.lock_state();
        let id = state.entries[path];
        let file = state.files.get_mut(&id).expect("entry has a file");
        for (i, b) in bytes.iter().enumerate() {
            file.content[offset + i] = *b;
        }
        file.durable = file.content.clone();
    }

    /// What `sync_data` does to file `id`: waits while syncs are held, then makes what
    /// it holds durable (or fails, with [`Fault::SyncError`]).
    fn sync_file(&self, id: u64) -> io::Result<()> {
        {
            let (gate, changed) = &*self.sync_gate;
            let mut gate = gate.lock().unwrap_or_else(|p| p.into_inner());
            while gate.held && gate.passes == 0 {
                gate = changed.wait(gate).unwrap_or_else(|p| p.into_inner());
            }
            if gate.held {
                gate.passes -= 1;
            }
        }
        let mut state = self.lock_state();
        if state.faults.contains(&Fault::SyncError) {
            return Err(io::Error::other("input/output error on fsync (simulated)"));
        }
        if let Some(file) = state.files.get_mut(&id) {
            file.durable = file.content.clone();
        }
        state.syncs += 1;
        Ok(())
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn not_found(path: &Path) -> io::Error {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} not found", path.display()),
        )
    }
}

/// A held simulated lock; dropping it releases the folder, as closing the LOCK file would.
struct SimLock {
    fs: SimFs,
    dir: PathBuf,
}

impl Drop for SimLock {
    fn drop(&mut self) {
        self.fs.lock_state().locked.retain(|held| held != &self.dir);
    }
}

struct SimAppend {
    fs: SimFs,
    id: u64,
    /// Where the next write lands: the handle writes at its own offset, as a real one
    /// does (past a cut, it leaves a hole of zeros).
    offset: usize,
}

impl SimAppend {
    /// Writes `bytes` at `offset` and moves it past them.
    fn put(offset: &mut usize, file: &mut SimFile, bytes: &[u8]) {
        let at = *offset;
        if file.content.len() < at {
            file.content.resize(at, 0);
        }
        let overlap = (file.content.len() - at).min(bytes.len());
        file.content[at..at + overlap].copy_from_slice(&bytes[..overlap]);
        file.content.extend_from_slice(&bytes[overlap..]);
        *offset = at + bytes.len();
    }

    /// What a write to a full simulated disk fails with.
    fn disk_full() -> io::Error {
        io::Error::new(
            io::ErrorKind::StorageFull,
            "no space left on device (simulated)",
        )
    }

    /// What a write to a simulated file removed from under its handle fails with.
    fn removed() -> io::Error {
        io::Error::new(io::ErrorKind::NotFound, "file was removed (simulated)")
    }
}

impl AppendFile for SimAppend {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut state = self.fs.lock_state();
        if state.faults.contains(&Fault::DiskFull) {
            // As a real disk fills: part of the write lands before the refusal.
            let part = bytes.len() / 2;
            if let Some(file) = state.files.get_mut(&self.id) {
                Self::put(&mut self.offset, file, &bytes[..part]);
            }
            return Err(Self::disk_full());
        }
        if state.faults.contains(&Fault::WriteError) {
            return Err(io::Error::other("input/output error on write (simulated)"));
        }
        let file = state.files.get_mut(&self.id).ok_or_else(Self::removed)?;
        Self::put(&mut self.offset, file, bytes);
        Ok(())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.fs.sync_file(self.id)
    }

    fn detached_sync(&self) -> DetachedSync {
        let (fs, id) = (self.fs.clone(), self.id);
        Box::new(move || fs.sync_file(id))
    }

    fn preallocate(&mut self, len: u64) -> io::Result<()> {
        let mut state = self.fs.lock_state();
        if state.faults.contains(&Fault::DiskFull) {
            return Err(Self::disk_full());
        }
        let file = state.files.get_mut(&self.id).ok_or_else(Self::removed)?;
        let len = usize::try_from(len).map_err(io::Error::other)?;
        if file.content.len() < len {
            file.content.resize(len, 0);
        }
        Ok(())
    }
}

impl FileSystem for SimFs {
    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let state = self.lock_state();
        Ok(state
            .entries
            .keys()
            .filter(|path| path.parent() == Some(dir))
            .filter_map(|path| path.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect())
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let state = self.lock_state();
        let id = state
            .entries
            .get(path)
            .ok_or_else(|| Self::not_found(path))?;
        Ok(state.files[id].content.clone())
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn AppendFile>> {
        let mut state = self.lock_state();
        state.last_id += 1;
        let id = state.last_id;
        state.files.insert(id, SimFile::default());
        state.entries.insert(path.to_path_buf(), id);
        Ok(Box::new(SimAppend {
            fs: self.clone(),
            id,
            offset: 0,
        }))
    }

    fn open_at(&self, path: &Path, offset: u64) -> io::Result<Box<dyn AppendFile>> {
        let state = self.lock_state();
        let id = *state
            .entries
            .get(path)
            .ok_or_else(|| Self::not_found(path))?;
        Ok(Box::new(SimAppend {
            fs: self.clone(),
            id,
            offset: offset as usize,
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut state = self.lock_state();
        let id = state
            .entries
            .remove(from)
            .ok_or_else(|| Self::not_found(from))?;
        state.entries.insert(to.to_path_buf(), id);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut state = self.lock_state();
        state
            .entries
            .remove(path)
            .ok_or_else(|| Self::not_found(path))?;
        Ok(())
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut state = self.lock_state();
        let id = *state
            .entries
            .get(path)
            .ok_or_else(|| Self::not_found(path))?;
        let file = state.files.get_mut(&id).expect("entry has a file");
        let len = usize::try_from(len).expect("fits");
        file.content.truncate(len);
        file.durable.truncate(len);
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut state = self.lock_state();
        let SimState {
            entries,
            durable_entries,
            ..
        } = &mut *state;
        durable_entries.retain(|path, _| path.parent() != Some(dir));
        for (path, id) in entries.iter() {
            if path.parent() == Some(dir) {
                durable_entries.insert(path.clone(), *id);
            }
        }
        Ok(())
    }

    fn lock(&self, dir: &Path) -> io::Result<Box<dyn Send + Sync>> {
        let mut state = self.lock_state();
        if state.locked.iter().any(|held| held == dir) {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is in use by another ballot host", dir.display()),
            ));
        }
        state.locked.push(dir.to_path_buf());
        Ok(Box::new(SimLock {
            fs: self.clone(),
            dir: dir.to_path_buf(),
        }))
    }
}
