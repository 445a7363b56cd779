//! As leader, watches the subtree `/flood` and takes about 2 ms of busy work per event,
//! so a burst of changes there fills its mailbox. The host must drop its watches rather
//! than wait for it or grow without bound.

use ballot_guest::{Candidate, CreateMode, Leader, Term, WatchEvent, WatchKind, namespace};

/// The subtree it watches.
const FLOOD: &str = "/flood";

#[derive(Default)]
struct SlowWatcher;

impl Candidate for SlowWatcher {
    fn on_winning_election(&mut self, _term: Term) -> Result<(), String> {
        let _ = namespace::create(FLOOD, b"", CreateMode::PERSISTENT);
        namespace::watch(FLOOD, WatchKind::Subtree).map_err(|e| format!("{e:?}"))
    }

    fn on_losing_election(&mut self, _leader: Leader) {}

    fn on_event(&mut self, _event: WatchEvent) {
        let mut x: u64 = 1;
        for i in 0..2_000_000 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
    }
}

ballot_guest::export_candidate!(SlowWatcher);
