//! Deployments that outlive the host process: each is a JSON record in
//! `<data-dir>/deployments/`, its code a content-addressed file in
//! `<data-dir>/components/`. Every change is written to a temporary file, synced, renamed
//! into place and the folder synced, before the API answers: a deploy or swap that was
//! acknowledged comes back after a crash; one that was not may or may not.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// What brings a deployment back: everything its deploy call said, and which code it
/// runs now (the deployed code, or the last swapped in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The API's id for it, stable across restarts.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// `candidate` or `observer`.
    pub role: String,
    /// Its election.
    pub election: String,
    /// A candidate's ballot data.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// Whether a candidate also hears of every new leader.
    pub follow_leader: bool,
    /// Session TTL.
    pub ttl_ms: u64,
    /// Period of the candidate's `tick`, if any.
    pub tick_ms: Option<u64>,
    /// Longest a callback may run.
    pub deadline_ms: u64,
    /// Most linear memory, in MiB.
    pub memory_mib: u64,
    /// A leader silent (no import call) this long is deposed as stalled; none if absent
    /// (records written before it existed read as none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_silence_ms: Option<u64>,
    /// Its priority in a priority election; none stands in the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// With a priority: it waits for the leader to go instead of preempting it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_preempt: bool,
    /// SHA-256 (hex) of the code it runs.
    pub sha256: String,
}

/// The persisted deployments of one data directory.
pub struct Registry {
    records_dir: PathBuf,
    code_dir: PathBuf,
    records: Mutex<BTreeMap<u64, Record>>,
    /// The next id to hand out; persisted, so an id is never reused for another
    /// deployment, even after its record is gone and the host restarted.
    next_id: Mutex<u64>,
}

/// The file the id counter is kept in.
const NEXT_ID: &str = "next-id";

/// SHA-256 of `wasm`, in hex: the name its code is stored under.
pub fn digest(wasm: &[u8]) -> String {
    ballot_runtime::sha256_hex(&ballot_runtime::txn_digest(wasm))
}

impl Registry {
    /// Opens the registry under `data_dir`, reading every record. A record that cannot be
    /// read is an error naming the file: starting without it would silently drop a
    /// deployment somebody was told exists.
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        let records_dir = data_dir.join("deployments");
        let code_dir = data_dir.join("components");
        fs::create_dir_all(&records_dir)?;
        fs::create_dir_all(&code_dir)?;
        sweep_temp_files(&records_dir)?;
        sweep_temp_files(&code_dir)?;
        let mut records = BTreeMap::new();
        for entry in fs::read_dir(&records_dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|ext| ext == "json") {
                let record: Record = serde_json::from_slice(&fs::read(&path)?).map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("deployment record {}: {e}", path.display()),
                    )
                })?;
                records.insert(record.id, record);
            }
        }
        let counter = records_dir.join(NEXT_ID);
        let saved = match fs::read_to_string(&counter) {
            Ok(text) => text.trim().parse::<u64>().map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", counter.display()),
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 1,
            Err(e) => return Err(e),
        };
        let after_records = records.keys().next_back().map_or(1, |last| last + 1);
        Ok(Registry {
            records_dir,
            code_dir,
            records: Mutex::new(records),
            next_id: Mutex::new(saved.max(after_records)),
        })
    }

    /// Every record, by id.
    pub fn records(&self) -> Vec<Record> {
        self.lock().values().cloned().collect()
    }

    /// The record of `id`.
    pub fn get(&self, id: u64) -> Option<Record> {
        self.lock().get(&id).cloned()
    }

    /// The id the next new deployment gets: never one handed out before in this data
    /// directory. It is taken when that deployment's record is [`Registry::put`].
    pub fn next_id(&self) -> u64 {
        *self.next_id.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The stored code of a record.
    pub fn code(&self, record: &Record) -> std::io::Result<Vec<u8>> {
        fs::read(self.code_path(&record.sha256))
    }

    /// Stores `wasm` (if not stored already), durably; returns its digest.
    pub fn store_code(&self, wasm: &[u8]) -> std::io::Result<String> {
        let sha = digest(wasm);
        let path = self.code_path(&sha);
        if !path.exists() {
            write_durably(&path, wasm)?;
        }
        Ok(sha)
    }

    /// Writes `record` durably (a new one, or a new version of one).
    pub fn put(&self, record: Record) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(&record).map_err(std::io::Error::other)?;
        {
            let mut next = self.next_id.lock().unwrap_or_else(|p| p.into_inner());
            if record.id >= *next {
                let counter = self.records_dir.join(NEXT_ID);
                write_durably(&counter, (record.id + 1).to_string().as_bytes())?;
                *next = record.id + 1;
            }
        }
        write_durably(&self.record_path(record.id), &bytes)?;
        self.lock().insert(record.id, record);
        Ok(())
    }

    /// Removes `id`'s record durably, and its code if nothing else runs it.
    pub fn remove(&self, id: u64) -> std::io::Result<()> {
        let Some(removed) = self.get(id) else {
            return Ok(());
        };
        // The file goes first: if that fails, the record stays, in memory as on disk.
        fs::remove_file(self.record_path(id))?;
        sync_dir(&self.records_dir)?;
        self.lock().remove(&id);
        if let Err(e) = self.collect_code(&removed.sha256) {
            tracing::warn!(sha256 = %removed.sha256, error = %e, "unused code not deleted");
        }
        Ok(())
    }

    /// Deletes the stored code `sha256` if no record runs it.
    pub fn collect_code(&self, sha256: &str) -> std::io::Result<()> {
        let in_use = self.lock().values().any(|r| r.sha256 == sha256);
        if !in_use {
            match fs::remove_file(self.code_path(sha256)) {
                Ok(()) => sync_dir(&self.code_dir)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn code_path(&self, sha256: &str) -> PathBuf {
        self.code_dir.join(format!("{sha256}.wasm"))
    }

    fn record_path(&self, id: u64) -> PathBuf {
        self.records_dir.join(format!("{id}.json"))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Record>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Replaces `path` with `bytes` so that a crash leaves the old file or the new one, never
/// a torn one, and the new one survives once this returns.
pub(super) fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let written = File::create(&tmp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_data()
        })
        .and_then(|()| fs::rename(&tmp, path));
    if let Err(error) = written {
        // A full disk leaves a partial temp file: it goes now, not at some later start.
        let _ = fs::remove_file(&tmp);
        return Err(error);
    }
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Removes the temp files a write cut short by a crash left in `dir` (a write that
/// failed removes its own): they are never read, and would only take space.
fn sweep_temp_files(dir: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "tmp") {
            tracing::info!(file = %path.display(), "removing a temp file a crash left");
            fs::remove_file(&path)?;
        }
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_files_a_crash_left_are_swept_at_open_and_records_kept() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::open(dir.path()).unwrap();
        let sha = registry.store_code(b"code").unwrap();
        registry.put(record(1, sha)).unwrap();
        drop(registry);
        let stale = [
            dir.path().join("components").join("0123.tmp"),
            dir.path().join("deployments").join("7.tmp"),
        ];
        for path in &stale {
            std::fs::write(path, b"").unwrap();
        }
        let reopened = Registry::open(dir.path()).unwrap();
        for path in &stale {
            assert!(!path.exists(), "{} swept", path.display());
        }
        assert!(reopened.get(1).is_some(), "the records stay");
    }

    #[test]
    fn a_write_that_fails_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        // The temp file is written, then the rename fails (the target is a folder).
        let target = dir.path().join("x.json");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("inside"), b"").unwrap();
        assert!(write_durably(&target, b"{}").is_err());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["x.json"], "no temp file left beside it");
    }

    fn record(id: u64, sha256: String) -> Record {
        Record {
            id,
            name: format!("d{id}"),
            role: "candidate".into(),
            election: "e".into(),
            data: b"10.0.0.1".to_vec(),
            follow_leader: false,
            ttl_ms: 2000,
            tick_ms: None,
            deadline_ms: 2000,
            memory_mib: 32,
            max_silence_ms: None,
            priority: None,
            no_preempt: false,
            sha256,
        }
    }

    #[test]
    fn records_and_code_survive_reopening_and_unused_code_goes() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::open(dir.path()).unwrap();
        let sha = registry.store_code(b"code").unwrap();
        registry.put(record(1, sha.clone())).unwrap();
        registry.put(record(2, sha.clone())).unwrap();
        let reopened = Registry::open(dir.path()).unwrap();
        assert_eq!(reopened.records(), registry.records());
        assert_eq!(reopened.next_id(), 3);
        assert_eq!(reopened.code(&reopened.get(1).unwrap()).unwrap(), b"code");
        reopened.remove(1).unwrap();
        assert!(
            reopened.code(&reopened.get(2).unwrap()).is_ok(),
            "still in use"
        );
        reopened.remove(2).unwrap();
        assert!(!dir.path().join(format!("components/{sha}.wasm")).exists());
        let emptied = Registry::open(dir.path()).unwrap();
        assert!(emptied.records().is_empty());
        assert_eq!(emptied.next_id(), 3, "ids are never reused");
    }

    #[test]
    fn an_unreadable_record_is_named() {
        let dir = tempfile::tempdir().unwrap();
        Registry::open(dir.path()).unwrap();
        fs::write(dir.path().join("deployments/7.json"), b"{not json").unwrap();
        let error = Registry::open(dir.path()).err().unwrap().to_string();
        assert!(error.contains("7.json"), "{error}");
    }
}
