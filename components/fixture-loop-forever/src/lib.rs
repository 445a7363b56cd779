//! Loops forever, without a single host call, once it wins. Only epoch interruption can
//! stop it; while it loops it must not keep a tokio worker from other actors.

use ballot_guest::{Candidate, Leader, Term};

#[derive(Default)]
struct LoopForever;

impl Candidate for LoopForever {
    fn on_winning_election(&mut self, _term: Term) -> Result<(), String> {
        let mut x: u64 = 1;
        loop {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }

    fn on_losing_election(&mut self, _leader: Leader) {}
}

ballot_guest::export_candidate!(LoopForever);
