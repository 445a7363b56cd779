//! A leader that hands its leadership on when asked. Each tick, while it leads, it reads
//! `/handoff/to`: `next` hands off to the next in line, a number to the candidate
//! deployed under that id. Then, as a leader that did not know better, it tries one more
//! write guarded by its old term (`/handoff/after`), which must be refused: the handoff
//! revoked it in the step that made it. It logs `handed-off` or `hand-off refused: ...`,
//! and `write after hand-off: ...` with what the write got.

use ballot_guest::{Candidate, CreateMode, Leader, Op, Term, TermGuard, deployment, election, log, namespace};

/// The request: `next`, or a deployment id.
const REQUEST: &str = "/handoff/to";
/// Written only if a leader could still write after handing off.
const AFTER: &str = "/handoff/after";

#[derive(Default)]
struct HandOff {
    /// The term it leads under, while it leads.
    term: Option<Term>,
}

impl Candidate for HandOff {
    fn on_winning_election(&mut self, term: Term) -> Result<(), String> {
        self.term = Some(term);
        log::info(&format!("hand-off fixture leads term {term}"));
        Ok(())
    }

    fn on_losing_election(&mut self, _leader: Leader) {
        self.term = None;
    }

    fn tick(&mut self) {
        let Some(term) = self.term else {
            return;
        };
        let Ok(request) = namespace::get(REQUEST) else {
            return;
        };
        let request = String::from_utf8_lossy(&request.data).into_owned();
        let to = match request.trim() {
            "next" => None,
            id => match id.parse::<u64>() {
                Ok(id) => Some(id),
                Err(_) => {
                    log::warn(&format!("bad request {request:?}"));
                    return;
                }
            },
        };
        match election::hand_off(to) {
            Ok(()) => log::info("handed-off"),
            Err(error) => {
                log::warn(&format!("hand-off refused: {error:?}"));
                return;
            }
        }
        self.term = None;
        let me = deployment::whoami();
        let guard = TermGuard::new(&me.election, term);
        let write = Op::create(AFTER, b"stale".to_vec(), CreateMode::PERSISTENT);
        let got = namespace::multi(&[write], Some(&guard));
        log::info(&format!("write after hand-off: {got:?}"));
    }
}

ballot_guest::export_candidate!(HandOff);
