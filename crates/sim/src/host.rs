//! The simulated host: the real embedded store over [`Elections`], on the simulated file
//! system and clock, its writer stepped by the schedule. It turns client requests into
//! writer jobs (the same election, lease and commit calls the runtime makes), answers
//! reads from the published (durable) state, crashes and recovers, and watches the
//! published state for new terms.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;

use ballot_core::command::{Applied, Command, Outcome, Refusal as Refused, apply};
use ballot_core::election::{
    CandidateId, ElectionError, ElectionName, Elections, ElectorPaths, Priority, Term,
    read_leading_term,
};
use ballot_core::namespace::{
    CreateMode, Data, Error, Limits, MonoTime, MultiError, Namespace, NodePath, Op, SessionId,
    State,
};
use ballot_store::clock::{Clock, ManualClock};
use ballot_store::embedded::{CrashMode, OnApplied, Options, SimFs, Stepper};
use ballot_store::{EmbeddedStore, Hooks, StoreError};

use super::planned::{PlannedCounter, PlannedCounts};
use super::{Config, Planted};

/// The register key plain and term-guarded writes go to.
pub const REG: &str = "/reg";
/// The key lease-guarded commits write.
pub const LEASE_KEY: &str = "/leased";
/// The ballot election every client stands in.
pub const ELECTION: &str = "sim";
/// The lease elector every client is a peer of.
pub const ELECTOR: &str = "sim-lease";

/// What a client asks the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Open a session with the configured TTL.
    OpenSession,
    /// Keep the session alive.
    Heartbeat(SessionId),
    /// Join the election (once per host incarnation) and cast a ballot carrying `name`.
    Vote {
        /// The client's session.
        session: SessionId,
        /// The ballot's data: the client's name.
        name: String,
        /// Its priority, in a run whose election is a priority election (a higher one
        /// than the leader's preempts it).
        priority: Option<i64>,
    },
    /// An operator's planned change: hand the election's leadership to a candidate the
    /// host knows (`pick` chooses, modulo their number plus one: the extra choice is the
    /// next in line), as a handoff or, with `drain`, as a drain.
    HandOff {
        /// Chooses the target.
        pick: u32,
        /// Recorded as a drain rather than a handoff.
        drain: bool,
    },
    /// Acknowledge leadership of `term` (the leader ack).
    Ack {
        /// The client's session.
        session: SessionId,
        /// The term it believes it leads.
        term: Term,
    },
    /// Withdraw the ballot.
    Resign(SessionId),
    /// Which term does this session lead, if any (read from the published state).
    PollTerm(SessionId),
    /// Set a key, unguarded.
    Write {
        /// The key's path.
        key: &'static str,
        /// The value.
        value: u64,
    },
    /// Set the register under the term guard "`session` holds `term`".
    GuardedWrite {
        /// The client's session.
        session: SessionId,
        /// The term it believes it holds.
        term: Term,
        /// The value.
        value: u64,
    },
    /// Read a key from the published state.
    Read(&'static str),
    /// Join the lease elector as `peer`.
    ResetElector(String),
    /// A lease-guarded commit by `peer` writing `value` to [`LEASE_KEY`]: guarded (hold an
    /// election first if needed) without a claim, speculative under the claimed term.
    LeaseCommit {
        /// The peer.
        peer: String,
        /// The value.
        value: u64,
        /// The term claimed by a speculative commit.
        claim: Option<Term>,
    },
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The caller does not hold the term.
    NotLeader,
    /// The caller's session is gone.
    Expired,
    /// Anything else.
    Other(String),
}

/// The host's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A new session.
    Session(SessionId),
    /// Done, nothing to report.
    Done,
    /// The term the session leads, if any.
    Term(Option<Term>),
    /// A key's value (`None`: empty).
    Value(Option<u64>),
    /// A commit applied under this term.
    Committed(Term),
    /// Refused; nothing changed.
    Refused(Refusal),
    /// The store failed; nothing is known.
    Failed(String),
}

/// A reply on its way out of the host: addressee, request number, answer.
pub type Outgoing = (usize, u64, Reply);

/// A term the published state shows, as the host saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderSeen {
    /// The leader's (or master's) name.
    pub name: String,
    /// Its term.
    pub term: u64,
}

/// The leaders a published state shows: (ballot election, lease elector).
pub type Leaders = (Option<LeaderSeen>, Option<LeaderSeen>);

#[derive(Deserialize)]
struct LeaseRecord {
    master: String,
}

/// Shared with the writer's jobs and their replies.
#[derive(Default)]
struct Shared {
    outbox: Vec<Outgoing>,
    /// The highest revision any released job saw: all of it was acknowledged as durable.
    acked: u64,
}

/// Candidates joined through a host in its current incarnation, by session: the next
/// request of a session that stood finds its candidate here. The election bookkeeping is
/// not persisted, so a recovered host starts with none.
pub(crate) type Candidates = Arc<Mutex<BTreeMap<SessionId, CandidateId>>>;

/// The host, with its store.
pub struct Host {
    config: Config,
    clock: ManualClock,
    fs: SimFs,
    dir: PathBuf,
    store: EmbeddedStore,
    stepper: Stepper,
    shared: Arc<Mutex<Shared>>,
    candidates: Candidates,
    /// Revision of the published state last looked at for new terms.
    observed: Option<u64>,
    handled: Vec<(MonoTime, Request)>,
    /// Counts the planned leadership changes that became durable, across crashes.
    planned: PlannedCounter,
}

/// Locks `mutex`, whether or not a panicking holder poisoned it (the simulator reports
/// a panic as a finding and goes on reading its state).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn path(raw: &str) -> NodePath {
    NodePath::parse(raw).expect("the simulator's paths are valid")
}

fn election() -> ElectionName {
    ElectionName::parse(ELECTION).expect("a valid name")
}

fn elector() -> ElectionName {
    ElectionName::parse(ELECTOR).expect("a valid name")
}

fn refusal(error: &Error) -> Refusal {
    match error {
        Error::NotLeader { .. } => Refusal::NotLeader,
        Error::SessionExpired { .. } => Refusal::Expired,
        other => Refusal::Other(other.to_string()),
    }
}

fn election_refusal(error: &ElectionError) -> Refusal {
    match error {
        ElectionError::Namespace(e) => refusal(e),
        other => Refusal::Other(other.to_string()),
    }
}

impl Host {
    /// A new host on an empty simulated disk, with the keys the clients use created.
    pub fn new(config: &Config, clock: ManualClock) -> Result<Self, StoreError> {
        let fs = SimFs::new();
        let dir = PathBuf::from("/sim/data");
        let planned = PlannedCounter::default();
        let (store, stepper) = Self::open(config, &clock, &fs, &dir, &planned)?;
        let mut host = Host {
            config: config.clone(),
            clock,
            fs,
            dir,
            store,
            stepper,
            shared: Arc::default(),
            candidates: Arc::default(),
            observed: None,
            handled: Vec::new(),
            planned,
        };
        host.plant();
        let keys = Command::Multi {
            guard: None,
            ops: key_nodes(),
            quota: None,
        };
        host.store.submit(keys, Hooks::default(), |applied| {
            assert!(
                matches!(applied, Ok(Ok(_))),
                "a fresh namespace takes the keys: {applied:?}"
            );
        })?;
        while host.stepper.write() {
            host.stepper.sync();
        }
        host.stepper.sync();
        Ok(host)
    }

    fn open(
        config: &Config,
        clock: &ManualClock,
        fs: &SimFs,
        dir: &std::path::Path,
        planned: &PlannedCounter,
    ) -> Result<(EmbeddedStore, Stepper), StoreError> {
        let options = Options {
            snapshot_every: config.snapshot_every,
            segment_bytes: config.segment_bytes,
            ..Options::default()
        };
        let (store, stepper) = EmbeddedStore::open_stepped(
            dir,
            Arc::new(fs.clone()),
            Arc::new(clock.clone()),
            options,
            config.planted == Planted::AckBeforeSync,
        )?;
        let _ = store.set_sink(Arc::new(planned.clone()));
        Ok((store, stepper))
    }

    /// The planned leadership changes made so far.
    pub fn planned(&self) -> PlannedCounts {
        self.planned.counts()
    }

    /// Turns the planted fencing bug on in this incarnation's elections, if chosen: the
    /// first job of every incarnation.
    fn plant(&mut self) {
        if self.config.planted == Planted::FencingOff {
            let _ = self
                .store
                .submit(Command::PlantFencingOff, Hooks::default(), |_| {});
        }
    }

    /// The latest durable state.
    pub fn published(&self) -> State {
        self.store.published()
    }

    /// Replies released since the last call.
    pub fn take_outbox(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut lock(&self.shared).outbox)
    }

    /// Handles a request that reached the host: a read from the published state at once,
    /// anything else as a writer job, answered once it is durable.
    pub fn handle(&mut self, client: usize, id: u64, request: Request) {
        self.handled.push((self.clock.now(), request.clone()));
        if let Some(reply) = read(&self.published(), &request) {
            lock(&self.shared).outbox.push((client, id, reply));
            return;
        }
        let released = self.shared.clone();
        // A reply is released once its batch is published: everything published then is
        // what the host has acknowledged.
        let published = self.store.subscribe();
        let answer = move |reply: Reply, acknowledged: bool| {
            let mut shared = lock(&released);
            if acknowledged {
                let revision = published.borrow().revision().0;
                shared.acked = shared.acked.max(revision);
            }
            shared.outbox.push((client, id, reply));
        };
        let submitted = propose(&self.store, request, &self.config, &self.candidates, answer);
        if let Err(error) = submitted {
            lock(&self.shared)
                .outbox
                .push((client, id, Reply::Failed(error.to_string())));
        }
    }

    /// Every request that reached the host, with when: what the benchmark replays.
    pub fn handled(&self) -> &[(MonoTime, Request)] {
        &self.handled
    }

    /// Time passed: the host expires the sessions overdue on its clock, as its ticker
    /// does.
    pub fn tick(&mut self) {
        let _ = self.store.submit_expiry(|_| {});
    }

    /// The writer's first half (see [`Stepper::write`]).
    pub fn write(&mut self) -> bool {
        self.stepper.write()
    }

    /// The writer's second half (see [`Stepper::sync`]).
    pub fn sync(&mut self) -> bool {
        self.stepper.sync()
    }

    /// One snapshotter phase.
    pub fn snapshot(&mut self) -> bool {
        self.stepper.snapshot()
    }

    /// True if a batch is written and not synced: a crash now loses it.
    pub fn mid_flush(&self) -> bool {
        self.stepper.has_written()
    }

    /// A power cut and a reboot: everything not synced (data, and folder entries not
    /// followed by a folder sync) is lost, or torn to `tear` bytes per file; queued
    /// requests and unreleased replies die with the process; the folder is recovered.
    /// Returns the revision acknowledged before and the one recovered.
    pub fn crash(&mut self, tear: u32) -> Result<(u64, u64), StoreError> {
        let mode = if tear == 0 {
            CrashMode::DropUnsynced
        } else {
            CrashMode::Tear(tear as usize)
        };
        let survivor = self.fs.crashed(mode);
        let (store, stepper) = Self::open(
            &self.config,
            &self.clock,
            &survivor,
            &self.dir,
            &self.planned,
        )?;
        // The old process is gone: its queued jobs and unreleased waiters are dropped
        // unanswered with it.
        self.stepper = stepper;
        self.store = store;
        self.fs = survivor;
        lock(&self.candidates).clear();
        let acked = lock(&self.shared).acked;
        self.plant();
        self.observed = None;
        Ok((acked, self.store.published().revision().0))
    }

    /// Right after a crash: the sessions the recovered head holds whose deadline is not
    /// a full TTL from the restart (there should be none: nobody's session may run out
    /// early, or late, because the host was down). Runs the writer for it at once, on an
    /// empty queue, so it joins no client's batch.
    pub fn sessions_not_restored(&mut self) -> Vec<SessionId> {
        let found = Arc::new(Mutex::new(Vec::new()));
        let into = found.clone();
        let _ = self.store.submit_inspection(
            move |el: &Elections, now| {
                let ns = el.namespace();
                ns.state()
                    .sessions()
                    .filter(|(id, record)| ns.session_deadline(*id) != Some(now.after(record.ttl)))
                    .map(|(id, _)| id)
                    .collect::<Vec<_>>()
            },
            move |outcome| {
                if let Ok(bad) = outcome {
                    *into.lock().unwrap_or_else(|p| p.into_inner()) = bad;
                }
            },
        );
        while self.stepper.write() {
            self.stepper.sync();
        }
        self.stepper.sync();
        found.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The current leaders the published state shows, if it changed since the last call:
    /// (ballot election, lease elector).
    pub fn leaders(&mut self) -> Option<Leaders> {
        let state = self.published();
        let revision = state.revision().0;
        if self.observed == Some(revision) {
            return None;
        }
        self.observed = Some(revision);
        Some(leaders_in(&state))
    }

    /// The monotonic clock the store reads.
    pub fn now(&self) -> MonoTime {
        self.clock.now()
    }

    /// The session TTL clients get.
    pub fn ttl(&self) -> Duration {
        self.config.ttl
    }
}

/// Proposes a request that changes something through `store`'s writer, as the command
/// the runtime would propose. `answer` gets the reply, and whether the writer released it
/// as applied, once the batch it joined is published. A candidate that stands is
/// remembered in `candidates` in the step that applies it, so the next request of its
/// session finds it.
pub(crate) fn propose(
    store: &EmbeddedStore,
    request: Request,
    config: &Config,
    candidates: &Candidates,
    answer: impl FnOnce(Reply, bool) + Send + 'static,
) -> Result<(), StoreError> {
    let known = known_candidate(&lock(candidates), &request);
    match command(&request, known, config) {
        // Nothing to do (an ack from a candidate the host forgot in a crash): still
        // answered in order with the writer's work, once what came before is durable.
        None => store.submit_inspection(
            |_: &Elections, _| (),
            move |outcome| match outcome {
                Ok(()) => answer(Reply::Done, true),
                Err(failure) => answer(Reply::Failed(failure), false),
            },
        ),
        Some(command) => {
            let candidates = candidates.clone();
            let remember: OnApplied = Box::new(move |applied| {
                if let Ok(Outcome::Stood(status)) = applied {
                    lock(&candidates).insert(status.session, status.id);
                }
            });
            let hooks = Hooks {
                admit: None,
                applied: Some(remember),
                durable: None,
            };
            store.submit(command, hooks, move |outcome| match outcome {
                Ok(applied) => answer(reply(&request, applied), true),
                Err(failure) => answer(Reply::Failed(failure), false),
            })
        }
    }
}

/// The leaders `state` shows: (ballot election, lease elector).
pub fn leaders_in(state: &State) -> Leaders {
    let ballots = election().paths().ballots;
    let ballot = state
        .first_child(&ballots)
        .and_then(|name| ballots.child(name).ok())
        .and_then(|p| state.node(&p))
        .map(|node| LeaderSeen {
            name: String::from_utf8_lossy(node.data().as_bytes()).into_owned(),
            term: node.stat().created.0,
        });
    let leases = ElectorPaths::of(&elector()).lease;
    let lease = state
        .first_child(&leases)
        .and_then(|name| leases.child(name).ok())
        .and_then(|p| state.node(&p))
        .and_then(|node| {
            let record: LeaseRecord = ciborium::from_reader(node.data().as_bytes()).ok()?;
            Some(LeaderSeen {
                name: record.master,
                term: node.stat().created.0,
            })
        });
    (ballot, lease)
}

fn set(key: &str, value: u64) -> Op {
    Op::Set {
        path: path(key),
        data: Data::from(value.to_string()),
        expected: None,
    }
}

fn read_value(state: &State, key: &str) -> Option<u64> {
    let (data, _) = state.get(&path(key)).ok()?;
    std::str::from_utf8(data.as_bytes()).ok()?.parse().ok()
}

/// The answer to a request served from the published state (a read, a term poll), or
/// `None` for a request that changes something.
pub fn read(state: &State, request: &Request) -> Option<Reply> {
    match request {
        Request::PollTerm(session) => {
            Some(Reply::Term(read_leading_term(state, &election(), *session)))
        }
        Request::Read(key) => Some(Reply::Value(read_value(state, key))),
        _ => None,
    }
}

/// The candidate a request acts for: its session's, or a handoff's target (`None`, the
/// next in line, is one choice more than the candidates the host knows).
pub(crate) fn known_candidate(
    candidates: &BTreeMap<SessionId, CandidateId>,
    request: &Request,
) -> Option<CandidateId> {
    match request {
        Request::HandOff { pick, .. } => {
            let known: Vec<CandidateId> = candidates.values().copied().collect();
            known.get(*pick as usize % (known.len() + 1)).copied()
        }
        _ => candidates.get(&request_session(request)).copied(),
    }
}

/// The session a request acts for (the zero session for those that have none).
pub(crate) fn request_session(request: &Request) -> SessionId {
    match request {
        Request::Heartbeat(session)
        | Request::Vote { session, .. }
        | Request::Ack { session, .. }
        | Request::Resign(session)
        | Request::PollTerm(session)
        | Request::GuardedWrite { session, .. } => *session,
        _ => SessionId(0),
    }
}

/// The command a changing request becomes: the same commands the runtime proposes.
/// `known` is the candidate the request's session registered, if the host still knows
/// it. `None`: there is nothing to do.
pub fn command(request: &Request, known: Option<CandidateId>, config: &Config) -> Option<Command> {
    Some(match request.clone() {
        Request::OpenSession => Command::OpenSession { ttl: config.ttl },
        Request::Heartbeat(session) => Command::Heartbeat { session },
        Request::Vote {
            session,
            name,
            priority,
        } => match known {
            Some(candidate) => Command::Vote {
                candidate,
                data: None,
            },
            None => Command::Stand {
                election: election(),
                session,
                data: Data::from(name),
                priority: priority.map(|level| Priority {
                    level,
                    preempt: level % 2 == 0,
                }),
            },
        },
        Request::HandOff { drain, .. } => Command::HandOff {
            election: election(),
            to: known,
            drain,
            from: None,
        },
        Request::Ack { term, .. } => Command::Acknowledge {
            candidate: known?,
            term: Some(term),
            data: None,
        },
        Request::Resign(session) => match known {
            Some(candidate) => Command::Resign { candidate },
            // Joined before a crash: withdraw its ballots by hand, as an operator would;
            // the elections react to the deletes like to any other.
            None => Command::WithdrawBallots {
                election: election(),
                session,
            },
        },
        Request::Write { key, value } => Command::Multi {
            guard: None,
            ops: vec![set(key, value)],
            quota: None,
        },
        Request::GuardedWrite {
            session,
            term,
            value,
        } => Command::Multi {
            guard: Some(Elections::term_guard(&election(), session, term)),
            ops: vec![set(REG, value)],
            quota: None,
        },
        Request::ResetElector(peer) => Command::ResetElector {
            elector: elector(),
            duration: config.lease,
            peer,
        },
        Request::LeaseCommit { peer, value, claim } => Command::Commit {
            elector: elector(),
            peer,
            term: claim,
            // A blind write: it reads nothing, so nothing it read can go stale.
            reads: Default::default(),
            ops: vec![set(LEASE_KEY, value)],
        },
        Request::PollTerm(_) | Request::Read(_) => return None,
    })
}

/// The client's answer to `request` from what apply decided.
pub(crate) fn reply(request: &Request, applied: Applied) -> Reply {
    match (request, applied) {
        (_, Err(refused)) => Reply::Refused(match refused {
            Refused::Namespace(error) | Refused::Multi(MultiError { error, .. }) => refusal(&error),
            Refused::Election(error) => election_refusal(&error),
            other => Refusal::Other(other.to_string()),
        }),
        (Request::OpenSession, Ok(Outcome::Opened(session))) => Reply::Session(session),
        (Request::GuardedWrite { term, .. }, Ok(_)) => Reply::Committed(*term),
        (Request::LeaseCommit { .. }, Ok(Outcome::LeaseCommitted { term, .. })) => {
            Reply::Committed(term)
        }
        (_, Ok(_)) => Reply::Done,
    }
}

/// The creates of the nodes the clients' keys live in, as every run starts with them.
pub(crate) fn key_nodes() -> Vec<Op> {
    [REG, LEASE_KEY]
        .iter()
        .map(|key| Op::Create {
            path: path(key),
            data: Data::default(),
            mode: CreateMode::PERSISTENT,
        })
        .collect()
}

/// The baseline of `ballot bench sim`: the requests a run handled, run straight on
/// in-memory elections (no store, network, faults or checks). Returns how many ran.
pub fn replay(requests: &[(MonoTime, Request)], config: &Config) -> usize {
    let mut el = Elections::new(Namespace::new(Limits::default()));
    el.multi(None, &key_nodes())
        .expect("a fresh namespace takes the keys");
    let mut candidates = BTreeMap::new();
    for (now, request) in requests {
        let known = known_candidate(&candidates, request);
        let answer = match command(request, known, config) {
            Some(command) => {
                let (applied, _) = apply(&mut el, &command, *now);
                if let Ok(Outcome::Stood(status)) = &applied {
                    candidates.insert(status.session, status.id);
                }
                reply(request, applied)
            }
            None => read(el.namespace().state(), request).unwrap_or(Reply::Done),
        };
        std::hint::black_box(answer);
    }
    requests.len()
}
