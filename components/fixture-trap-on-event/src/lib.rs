//! Leads normally and, as leader, watches `/fixtures/kill` (exists watch); when that node
//! is created, changed or deleted it traps. The failover benchmark uses it to kill the
//! leader on cue and time how soon the successor starts leading.

use ballot_guest::{Candidate, Leader, Term, WatchEvent, WatchKind, namespace};

/// The node whose change kills the leader.
const KILL: &str = "/fixtures/kill";

#[derive(Default)]
struct TrapOnEvent;

impl Candidate for TrapOnEvent {
    fn on_winning_election(&mut self, _term: Term) -> Result<(), String> {
        namespace::watch(KILL, WatchKind::Exists).map_err(|e| format!("{e:?}"))
    }

    fn on_losing_election(&mut self, _leader: Leader) {}

    fn on_event(&mut self, event: WatchEvent) {
        panic!("trap-on-event: killed by a change at {}", event.path);
    }
}

ballot_guest::export_candidate!(TrapOnEvent);
