//! Helpers shared by the store's integration tests.

use std::time::{Duration, Instant};

use ballot_store::EmbeddedStore;

/// Why `store` halted, waiting for it: the answer of the proposal whose step panicked
/// unwinds with the panic, a moment before the writer records the reason.
pub fn why_halted(store: &EmbeddedStore) -> String {
    let ceiling = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(why) = store.halted() {
            return why;
        }
        assert!(Instant::now() < ceiling, "the store never halted");
        std::thread::sleep(Duration::from_millis(1));
    }
}
