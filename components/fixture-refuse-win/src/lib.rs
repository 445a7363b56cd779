//! Refuses to lead: its `on-winning-election` returns an error for its first N wins, where
//! N is its ballot data (`refuse=N`, or `refuse=always`), read through `whoami`. The host
//! must resign it, say it is out of its election, and cast its ballot again after a
//! backoff, until a win goes through.

use ballot_guest::{Candidate, Leader, Term, deployment, log};

#[derive(Default)]
struct RefuseWin {
    refused: u32,
}

impl Candidate for RefuseWin {
    fn on_winning_election(&mut self, term: Term) -> Result<(), String> {
        let me = deployment::whoami();
        let asked = String::from_utf8_lossy(&me.ballot_data).into_owned();
        let refuse = match asked.strip_prefix("refuse=") {
            Some("always") => u32::MAX,
            Some(n) => n.parse().unwrap_or(0),
            None => 0,
        };
        if self.refused < refuse {
            self.refused += 1;
            return Err(format!("not ready to lead term {term} (refusal {})", self.refused));
        }
        log::info(&format!("{} leads {} under term {term}", me.name, me.election));
        Ok(())
    }

    fn on_losing_election(&mut self, _leader: Leader) {}
}

ballot_guest::export_candidate!(RefuseWin);
