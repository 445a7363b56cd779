//! Compiled components on disk, by content hash, so a restarted host does not compile
//! again: an interpreter component (CPython, SpiderMonkey) is 12-18 MB of wasm and takes
//! seconds of CPU to compile, which a host would otherwise pay for every deployment at
//! every start.
//!
//! An entry is wasmtime's serialized form of the component, named after the component's
//! SHA-256 and a key of the engine that compiled it (wasmtime's version and its
//! compatibility hash of the engine's configuration), so an engine configured otherwise
//! or another wasmtime never reads it. The file starts with a magic and the SHA-256 of
//! the rest: a torn, truncated or altered entry is detected before wasmtime sees it,
//! deleted, and the component compiled again. Entries are written to a temporary file
//! and renamed; they are a cache, so they are not synced: a crash can lose one, never
//! leave a half-written one under its name.
//!
//! The folder is bounded ([`DiskCache::capacity_bytes`]): after each write the least
//! recently used entries (by modification time, refreshed on each load) go until the
//! rest fit.

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::cache::Digest;

/// What every entry starts with: the format's name and version.
const MAGIC: &[u8; 8] = b"BALLOTC1";

/// The default bound on the folder: room for dozens of interpreter components.
pub const DISK_CACHE_BYTES: u64 = 2 << 30;

/// Compiled components in one folder (a host's `DATA_DIR/compiled`).
#[derive(Debug, Clone)]
pub struct DiskCache {
    dir: PathBuf,
    capacity_bytes: u64,
}

/// What a load found.
pub enum Loaded {
    /// A good entry.
    Hit(Component),
    /// No entry for this component and engine.
    Miss,
    /// An entry that failed its check or that wasmtime refused; it was deleted.
    Discarded(String),
}

impl DiskCache {
    /// A cache in `dir` (created if missing), holding at most [`DISK_CACHE_BYTES`].
    /// Temporary files a crash left behind are removed.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<Self> {
        Self::with_capacity(dir, DISK_CACHE_BYTES)
    }

    /// A cache in `dir` holding at most `capacity_bytes`.
    pub fn with_capacity(dir: impl Into<PathBuf>, capacity_bytes: u64) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        for entry in fs::read_dir(&dir)?.flatten() {
            if entry.path().extension().is_some_and(|e| e == "tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(DiskCache {
            dir,
            capacity_bytes,
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The bound on the folder's size.
    pub fn capacity_bytes(&self) -> u64 {
        self.capacity_bytes
    }

    /// Where the entry of the component with `digest`, compiled by `engine`, lives.
    pub fn entry_path(&self, engine: &Engine, digest: &Digest) -> PathBuf {
        self.dir
            .join(format!("{}-{}.cwasm", hex(digest), engine_key(engine)))
    }

    /// The component with `digest` as `engine` compiled it, if a good entry is held.
    /// Blocking file I/O: call it off the async workers.
    pub fn load(&self, engine: &Engine, digest: &Digest) -> Loaded {
        let path = self.entry_path(engine, digest);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(_) => return Loaded::Miss,
        };
        let discard = |why: String| {
            let _ = fs::remove_file(&path);
            Loaded::Discarded(format!("{}: {why}", path.display()))
        };
        let Some(payload) = checked_payload(&bytes) else {
            return discard("its checksum does not match (torn or altered)".into());
        };
        // SAFETY: `Component::deserialize` runs the machine code in `payload` as trusted.
        // These bytes are wasmtime's own serialization, written by `save` into the host's
        // data folder: the checksum above proves they are exactly what `save` wrote, and
        // wasmtime checks that they were compiled by this version with this engine
        // configuration, refusing them otherwise.
        match unsafe { Component::deserialize(engine, payload) } {
            Ok(component) => {
                // Mark it recently used, for the bound.
                let _ = fs::File::options()
                    .append(true)
                    .open(&path)
                    .and_then(|f| f.set_modified(std::time::SystemTime::now()));
                Loaded::Hit(component)
            }
            Err(e) => discard(format!("wasmtime refused it: {e:#}")),
        }
    }

    /// Writes the entry of `component` (compiled from bytes with `digest`), then trims
    /// the folder to its bound. Blocking file I/O: call it off the async workers.
    pub fn save(&self, engine: &Engine, digest: &Digest, component: &Component) -> io::Result<()> {
        let payload = component
            .serialize()
            .map_err(|e| io::Error::other(format!("{e:#}")))?;
        let path = self.entry_path(engine, digest);
        let tmp = path.with_extension("tmp");
        let mut file = Vec::with_capacity(MAGIC.len() + 32 + payload.len());
        file.extend_from_slice(MAGIC);
        file.extend_from_slice(&Sha256::digest(&payload));
        file.extend_from_slice(&payload);
        let written = fs::write(&tmp, &file).and_then(|()| fs::rename(&tmp, &path));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written?;
        self.trim();
        Ok(())
    }

    /// Deletes the least recently used entries until the folder fits its bound.
    fn trim(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), e.path()))
            })
            .collect();
        let mut total: u64 = files.iter().map(|(_, len, _)| len).sum();
        files.sort();
        for (_, len, path) in files {
            if total <= self.capacity_bytes {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }
}

/// The payload of an entry whose magic and checksum hold.
fn checked_payload(bytes: &[u8]) -> Option<&[u8]> {
    let rest = bytes.strip_prefix(MAGIC)?;
    if rest.len() < 32 {
        return None;
    }
    let (sum, payload) = rest.split_at(32);
    (Sha256::digest(payload).as_slice() == sum).then_some(payload)
}

/// A name for what makes compiled code compatible: wasmtime's hash of its version and
/// the engine's configuration, and this crate's version.
fn engine_key(engine: &Engine) -> String {
    let mut hasher = DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::checked_payload;

    #[test]
    fn an_entry_is_read_only_when_its_checksum_holds() {
        use sha2::{Digest as _, Sha256};
        let payload = b"compiled code".to_vec();
        let mut entry = super::MAGIC.to_vec();
        entry.extend_from_slice(&Sha256::digest(&payload));
        entry.extend_from_slice(&payload);
        assert_eq!(checked_payload(&entry), Some(&payload[..]));
        let mut flipped = entry.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(checked_payload(&flipped), None);
        assert_eq!(checked_payload(&entry[..entry.len() - 1]), None);
        assert_eq!(checked_payload(b"BALLOTC1"), None);
        assert_eq!(
            checked_payload(b"something else entirely, long enough"),
            None
        );
    }
}
