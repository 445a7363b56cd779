//! Traps in every callback, winning or losing: every fresh instance crashes as soon as
//! it is told where it stands. Supervision must give up on it and keep it out of the
//! election.

use ballot_guest::{Candidate, Leader, Term};

#[derive(Default)]
struct CrashLoop;

impl Candidate for CrashLoop {
    fn on_winning_election(&mut self, term: Term) -> Result<(), String> {
        panic!("crash-loop: crashed on winning term {term}");
    }

    fn on_losing_election(&mut self, leader: Leader) {
        panic!("crash-loop: crashed on losing to term {}", leader.term);
    }
}

ballot_guest::export_candidate!(CrashLoop);
