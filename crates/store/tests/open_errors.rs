//! A store that cannot open says why, typed.

use std::sync::Arc;

use ballot_store::StoreError;
use ballot_store::clock::ManualClock;
use ballot_store::embedded::{EmbeddedStore, Options};

/// Opening a store where its folder should be, but a file is, fails with the operating
/// system's kind of error kept, so a caller can tell a bad path from a full disk.
#[test]
fn an_open_that_fails_on_io_keeps_the_kind_of_error() {
    let dir = std::env::temp_dir().join(format!("ballot-store-io-{}", std::process::id()));
    std::fs::write(&dir, b"a file, not a folder").unwrap();
    let opened = EmbeddedStore::open(&dir, Arc::new(ManualClock::new()), Options::default());
    std::fs::remove_file(&dir).unwrap();
    match opened {
        Err(StoreError::Io { kind, context, .. }) => {
            assert_ne!(kind, std::io::ErrorKind::Other, "{context}");
            assert!(context.contains(&dir.display().to_string()), "{context}");
        }
        Err(other) => panic!("not an I/O error: {other}"),
        Ok(_) => panic!("a store opened over a file"),
    }
}
