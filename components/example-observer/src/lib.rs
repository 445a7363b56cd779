//! The example observer: follows the election `example` and records its leader stream.
//!
//! Every callback is logged through the `log` import and recorded as a persistent
//! sequential node `/example/observed/e-<10 digits>`, so the sequence numbers give the
//! order. Each node holds CBOR `{kind, term, candidate}`: `kind` is `"new-leader"` (with the
//! leader's `candidate` id) or `"leaders-death"` (`candidate` null). `/example` and
//! `/example/observed` are created when missing.

use ballot_guest::{CreateMode, Error, Leader, Observer, Term, cbor, log, namespace};
use serde::{Deserialize, Serialize};

/// Parent of the records.
const OBSERVED: &str = "/example/observed";
/// Prefix of each record's path.
const RECORD_PREFIX: &str = "/example/observed/e-";

/// Contents of one `/example/observed/e-*` node.
#[derive(Serialize, Deserialize, Debug)]
struct Observed {
    /// `"new-leader"` or `"leaders-death"`.
    kind: String,
    /// The leader's term.
    term: Term,
    /// The leader's candidate id (new-leader only).
    candidate: Option<u64>,
}

/// The observer's state: whether the parent nodes are known to exist.
#[derive(Default)]
struct Recorder {
    parents_ready: bool,
}

impl Observer for Recorder {
    fn on_new_leader(&mut self, leader: Leader) {
        log::info(&format!(
            "observer: {} leads under term {}",
            leader.who(),
            leader.term
        ));
        self.record(&Observed {
            kind: "new-leader".into(),
            term: leader.term,
            candidate: Some(leader.candidate),
        });
    }

    fn on_leaders_death(&mut self, term: Term) {
        log::info(&format!("observer: the leader of term {term} is gone"));
        self.record(&Observed {
            kind: "leaders-death".into(),
            term,
            candidate: None,
        });
    }
}

impl Recorder {
    /// Appends `entry` under `/example/observed`; failures are logged, not fatal.
    fn record(&mut self, entry: &Observed) {
        let data = match cbor::to_vec(entry) {
            Ok(data) => data,
            Err(error) => return log::error(&format!("observer: {error}")),
        };
        for _ in 0..2 {
            if let Err(error) = self.ensure_parents() {
                return log::error(&format!("observer: cannot create {OBSERVED}: {error}"));
            }
            match namespace::create(RECORD_PREFIX, &data, CreateMode::PERSISTENT_SEQUENTIAL) {
                Ok(path) => return log::debug(&format!("observer: recorded {path}")),
                // Someone removed the parents meanwhile: create them again, once.
                Err(Error::NoNode(_)) => self.parents_ready = false,
                Err(error) => return log::error(&format!("observer: cannot record: {error}")),
            }
        }
        log::error(&format!("observer: {OBSERVED} keeps disappearing"));
    }

    fn ensure_parents(&mut self) -> Result<(), Error> {
        if !self.parents_ready {
            for path in ["/example", OBSERVED] {
                match namespace::create(path, &[], CreateMode::PERSISTENT) {
                    Ok(_) | Err(Error::NodeExists(_)) => {}
                    Err(error) => return Err(error),
                }
            }
            self.parents_ready = true;
        }
        Ok(())
    }
}

ballot_guest::export_observer!(Recorder);
