//! The write-ahead log passes the log conformance suite on the simulated file system
//! (where a crash really drops what was not synced) and on the real one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ballot_store::conformance::log::{LogBuilder, run_all};
use ballot_store::embedded::{CrashMode, FileSystem, RealFs, SimFs, Wal, WalSnapshots};
use ballot_store::log::{Log, Snapshots};

const SEGMENT_BYTES: u64 = 300;

fn open_wal(fs: Arc<dyn FileSystem>, dir: &Path) -> (Box<dyn Log>, Box<dyn Snapshots>) {
    fs.create_dir_all(dir).expect("folder");
    // Small segments, so that the suite crosses segment boundaries and snapshots free
    // whole files.
    let (wal, _) = Wal::open(fs.clone(), dir, SEGMENT_BYTES, true).expect("open the log");
    (Box::new(wal), Box::new(WalSnapshots::new(fs, dir)))
}

/// The simulated file system: a crash keeps only what was synced.
struct Simulated(Mutex<SimFs>);

impl LogBuilder for Simulated {
    fn open(&self) -> (Box<dyn Log>, Box<dyn Snapshots>) {
        let fs = self.0.lock().unwrap().clone();
        open_wal(Arc::new(fs), Path::new("/data"))
    }

    fn crash(&self) {
        let mut fs = self.0.lock().unwrap();
        *fs = fs.crashed(CrashMode::DropUnsynced);
    }
}

/// A real folder: the process ends, the kernel keeps what it was given.
struct Disk(tempfile::TempDir);

impl Disk {
    fn dir(&self) -> PathBuf {
        self.0.path().join("data")
    }
}

impl LogBuilder for Disk {
    fn open(&self) -> (Box<dyn Log>, Box<dyn Snapshots>) {
        open_wal(Arc::new(RealFs), &self.dir())
    }

    fn crash(&self) {}
}

#[test]
fn the_write_ahead_log_conforms_on_the_simulated_file_system() {
    run_all(|| Simulated(Mutex::new(SimFs::new())));
}

#[test]
fn the_write_ahead_log_conforms_on_the_real_file_system() {
    run_all(|| Disk(tempfile::tempdir().expect("a temporary folder")));
}

/// A torn tail counts as never written: the suite's crash check with the crash tearing
/// the unsynced write instead of dropping it.
#[test]
fn the_write_ahead_log_conforms_when_a_crash_tears_the_last_write() {
    struct Torn(Mutex<SimFs>);
    impl LogBuilder for Torn {
        fn open(&self) -> (Box<dyn Log>, Box<dyn Snapshots>) {
            let fs = self.0.lock().unwrap().clone();
            open_wal(Arc::new(fs), Path::new("/data"))
        }
        fn crash(&self) {
            let mut fs = self.0.lock().unwrap();
            *fs = fs.crashed(CrashMode::Tear(7));
        }
    }
    run_all(|| Torn(Mutex::new(SimFs::new())));
}
