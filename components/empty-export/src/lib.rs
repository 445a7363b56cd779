//! A candidate whose every export does nothing: what the host benchmark calls to measure
//! the cost of calling an empty exported function (including the SDK's dispatch to the
//! worker).

use ballot_guest::{Candidate, Leader, Term};

/// The worker: no state, no work.
#[derive(Default)]
struct Empty;

impl Candidate for Empty {
    fn on_winning_election(&mut self, _term: Term) -> Result<(), String> {
        Ok(())
    }

    fn on_losing_election(&mut self, _leader: Leader) {}
}

ballot_guest::export_candidate!(Empty);
