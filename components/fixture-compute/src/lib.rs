//! A compute-bound `tick`: a fixed amount of arithmetic and no host calls. The benchmark
//! times it with and without the sandbox's epoch callback to price the yields.

use ballot_guest::{Candidate, Leader, Term};

/// Iterations per tick.
const WORK: u64 = 400_000_000;

#[derive(Default)]
struct Compute;

impl Candidate for Compute {
    fn on_winning_election(&mut self, _term: Term) -> Result<(), String> {
        Ok(())
    }

    fn on_losing_election(&mut self, _leader: Leader) {}

    fn tick(&mut self) {
        let mut x: u64 = 1;
        for i in 0..WORK {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
        }
        std::hint::black_box(x);
    }
}

ballot_guest::export_candidate!(Compute);
