//! Floods the host with import calls once it wins: a bounded burst of reads, counting
//! how many were answered and how many refused with quota-exceeded, then logs
//! `flood: ok=<n> quota-exceeded=<m>` and leads on. The quota must limit it without
//! harming it or anyone else.

use ballot_guest::{Candidate, Error, Leader, Term, log, namespace};

/// Calls made in the burst.
const CALLS: u32 = 50_000;

#[derive(Default)]
struct ImportFlood;

impl Candidate for ImportFlood {
    fn on_winning_election(&mut self, _term: Term) -> Result<(), String> {
        let (mut answered, mut refused) = (0u32, 0u32);
        for _ in 0..CALLS {
            match namespace::get("/") {
                Err(Error::QuotaExceeded(_)) => refused += 1,
                _ => answered += 1,
            }
        }
        log::info(&format!("flood: ok={answered} quota-exceeded={refused}"));
        Ok(())
    }

    fn on_losing_election(&mut self, _leader: Leader) {}
}

ballot_guest::export_candidate!(ImportFlood);
