//! Traps (panics) as soon as it wins an election; as a loser it behaves. The host must
//! take only this actor down: revoke it, promote the successor, restart it fresh.

use ballot_guest::{Candidate, Leader, Term};

#[derive(Default)]
struct TrapOnWin;

impl Candidate for TrapOnWin {
    fn on_winning_election(&mut self, term: Term) -> Result<(), String> {
        panic!("trap-on-win: refusing to lead term {term}");
    }

    fn on_losing_election(&mut self, _leader: Leader) {}
}

ballot_guest::export_candidate!(TrapOnWin);
