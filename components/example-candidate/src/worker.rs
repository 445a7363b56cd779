//! The worker shared by `example-candidate` and `example-candidate-v2`; each crate root
//! defines `NAME` and `VERSION`.

use ballot_guest::{
    Candidate, CreateMode, Error, Leader, Op, Term, TermGuard, cbor, log, namespace,
};
use serde::{Deserialize, Serialize};

use super::{NAME, VERSION};

/// The election the host deploys this candidate into.
pub const ELECTION: &str = "example";
/// Parent of the nodes below.
pub const ROOT: &str = "/example";
/// Who leads, under which term, running which version.
pub const LEADER: &str = "/example/leader";
/// How many ticks the leaders have done.
pub const TICKS: &str = "/example/ticks";

/// How often a write is retried when a concurrent change beat it (bad-version etc.).
const ATTEMPTS: usize = 3;

/// Contents of `/example/leader`.
#[derive(Serialize, Deserialize, Debug)]
pub struct LeaderRecord {
    /// The component's name.
    pub name: String,
    /// The term it leads under.
    pub term: Term,
    /// The component's version.
    pub version: u32,
}

/// Contents of `/example/ticks`.
#[derive(Serialize, Deserialize, Debug)]
pub struct Ticks {
    /// Ticks done by all leaders so far.
    pub count: u64,
    /// The term of the last tick.
    pub term: Term,
}

/// The candidate's state: the term it leads under, if it does.
#[derive(Default)]
pub struct Example {
    leading: Option<Term>,
}

impl Candidate for Example {
    fn on_winning_election(&mut self, term: Term) -> Result<(), String> {
        ensure_node(ROOT)?;
        let record = cbor::to_vec(&LeaderRecord {
            name: NAME.to_string(),
            term,
            version: VERSION,
        })?;
        retry(|| {
            let op = upsert(LEADER, &record)?;
            namespace::multi(&[op], Some(&guard(term))).map(drop)
        })?;
        log::info(&format!("{NAME} v{VERSION} leads under term {term}"));
        self.leading = Some(term);
        Ok(())
    }

    fn on_losing_election(&mut self, leader: Leader) {
        log::info(&format!(
            "{NAME}: {} leads under term {}",
            leader.who(),
            leader.term
        ));
        self.leading = None;
    }

    fn on_new_leader(&mut self, leader: Leader) {
        if self.leading.is_some_and(|term| term != leader.term) {
            log::warn(&format!("{NAME}: deposed by term {}", leader.term));
            self.leading = None;
        }
    }

    fn tick(&mut self) {
        let Some(term) = self.leading else { return };
        match retry(|| bump_ticks(term)) {
            Ok(count) => log::debug(&format!("{NAME}: tick {count} under term {term}")),
            Err(Error::NotLeader(current)) => {
                log::warn(&format!(
                    "{NAME}: term {term} is over (current: {current:?}); stopping leader work"
                ));
                self.leading = None;
            }
            Err(error) => log::warn(&format!("{NAME}: tick under term {term} failed: {error}")),
        }
    }
}

/// The fence of every write: "this candidate holds `term` of `example`".
fn guard(term: Term) -> TermGuard {
    TermGuard::new(ELECTION, term)
}

/// Creates the persistent node `path` unless it exists.
fn ensure_node(path: &str) -> Result<(), Error> {
    match namespace::create(path, &[], CreateMode::PERSISTENT) {
        Ok(_) | Err(Error::NodeExists(_)) => Ok(()),
        Err(error) => Err(error),
    }
}

/// An op that writes `data` to `path` whether or not it exists yet, refused if the node
/// changes between this read and the multi.
fn upsert(path: &str, data: &[u8]) -> Result<Op, Error> {
    match namespace::get(path) {
        Ok(node) => Ok(Op::set(path, data, Some(node.stat.data_version))),
        Err(Error::NoNode(_)) => Ok(Op::create(path, data, CreateMode::PERSISTENT)),
        Err(error) => Err(error),
    }
}

/// Adds one to `/example/ticks` under `term`; returns the new count.
fn bump_ticks(term: Term) -> Result<u64, Error> {
    let (count, op) = match namespace::get(TICKS) {
        Ok(node) => {
            let count = cbor::from_slice::<Ticks>(&node.data).map_or(0, |t| t.count) + 1;
            let data = encode_ticks(count, term)?;
            (count, Op::set(TICKS, data, Some(node.stat.data_version)))
        }
        Err(Error::NoNode(_)) => (
            1,
            Op::create(TICKS, encode_ticks(1, term)?, CreateMode::PERSISTENT),
        ),
        Err(error) => return Err(error),
    };
    namespace::multi(&[op], Some(&guard(term)))?;
    Ok(count)
}

fn encode_ticks(count: u64, term: Term) -> Result<Vec<u8>, Error> {
    cbor::to_vec(&Ticks { count, term }).map_err(|e| Error::Invalid(e.to_string()))
}

/// Runs `write` again when a concurrent change beat it, up to [`ATTEMPTS`] times.
fn retry<T>(mut write: impl FnMut() -> Result<T, Error>) -> Result<T, Error> {
    let mut attempt = 1;
    loop {
        match write() {
            Err(Error::BadVersion(_) | Error::NodeExists(_) | Error::NoNode(_))
                if attempt < ATTEMPTS =>
            {
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}
