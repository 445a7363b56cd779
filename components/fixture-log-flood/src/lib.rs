//! Logs without end: at every tick (and once it wins or loses) a burst of 4 KiB lines,
//! far beyond its bytes quota. The host must charge the lines to the quota, keep at most a
//! bounded tail of them, and give the memory back when the deployment goes.

use ballot_guest::{Candidate, Leader, Term, log};

/// Lines per burst.
const BURST: usize = 64;

/// Bytes per line.
const LINE: usize = 4096;

#[derive(Default)]
struct LogFlood {
    bursts: u64,
}

impl LogFlood {
    fn burst(&mut self) {
        self.bursts += 1;
        let padding = "x".repeat(LINE - 32);
        for i in 0..BURST {
            log::info(&format!("burst {} line {i:02} {padding}", self.bursts));
        }
    }
}

impl Candidate for LogFlood {
    fn on_winning_election(&mut self, _term: Term) -> Result<(), String> {
        self.burst();
        Ok(())
    }

    fn on_losing_election(&mut self, _leader: Leader) {
        self.burst();
    }

    fn tick(&mut self) {
        self.burst();
    }
}

ballot_guest::export_candidate!(LogFlood);
