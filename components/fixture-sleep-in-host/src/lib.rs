//! Sleeps "forever" once it wins: `std::thread::sleep` blocks in a WASI clock poll, a
//! host call, so the guest runs no wasm and no epoch check ever fires. Only the host's
//! timeout around the callback can end it.

use ballot_guest::{Candidate, Leader, Term};

#[derive(Default)]
struct SleepInHost;

impl Candidate for SleepInHost {
    fn on_winning_election(&mut self, _term: Term) -> Result<(), String> {
        std::thread::sleep(std::time::Duration::from_secs(1 << 30));
        Ok(())
    }

    fn on_losing_election(&mut self, _leader: Leader) {}
}

ballot_guest::export_candidate!(SleepInHost);
