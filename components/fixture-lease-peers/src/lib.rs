//! When it wins its election, stands two peers in the lease elector `jobs` (a 60 s
//! lease): `p1` elects and wins, `p1` again renews, `p2` elects and is told `p1` holds
//! the lease. Logs each outcome as `lease: <peer> <outcome>`.

use ballot_guest::elector::{self, LeaseOutcome};
use ballot_guest::{Candidate, Leader, Term, log};

#[derive(Default)]
struct LeasePeers;

fn elect(peer: &str) -> Result<(), String> {
    let outcome = match elector::elect_for_duration("jobs", peer).map_err(|e| format!("{e:?}"))? {
        LeaseOutcome::Won(term) => format!("won term {term}"),
        LeaseOutcome::Renewed(term) => format!("renewed term {term}"),
        LeaseOutcome::Held(held) => format!("held by {} term {}", held.master, held.term),
    };
    log::info(&format!("lease: {peer} {outcome}"));
    Ok(())
}

impl Candidate for LeasePeers {
    fn on_winning_election(&mut self, _term: Term) -> Result<(), String> {
        for peer in ["p1", "p2"] {
            elector::reset_elector("jobs", 60_000, peer).map_err(|e| format!("{e:?}"))?;
        }
        elect("p1")?;
        elect("p1")?;
        elect("p2")
    }

    fn on_losing_election(&mut self, _leader: Leader) {}
}

ballot_guest::export_candidate!(LeasePeers);
