//! Grows its memory without bound once it wins, touching every page so the growth is
//! real. The deployment's memory limit must stop it with a trap.

use ballot_guest::{Candidate, Leader, Term};

#[derive(Default)]
struct MemoryHog {
    hoard: Vec<Vec<u8>>,
}

impl Candidate for MemoryHog {
    fn on_winning_election(&mut self, _term: Term) -> Result<(), String> {
        loop {
            self.hoard.push(vec![0xA5; 1 << 20]);
            std::hint::black_box(&self.hoard);
        }
    }

    fn on_losing_election(&mut self, _leader: Leader) {}
}

ballot_guest::export_candidate!(MemoryHog);
