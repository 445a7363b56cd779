//! The ballot-queue election, the recipe of the zk gem's `ZK::Election`, kept by the host.
//!
//! # The recipe
//!
//! - [`Elections::vote`] creates an ephemeral-sequential **ballot** under
//!   `/elections/<name>/ballots` with the candidate's data. The lowest ballot leads.
//! - Every other candidate watches only the ballot just below its own. When that ballot
//!   vanishes it re-checks: it leads now, or it watches the next lower ballot. Deleting any
//!   one ballot wakes exactly one candidate, however long the queue: no herd.
//! - The leader's **term** is the creation revision of its ballot. It is stored with the
//!   ballot (node metadata), so a multi can check it atomically ([`Elections::term_guard`]),
//!   and strictly increases per election because every later leader's ballot was created
//!   later.
//! - When the leader's on-winning-election callback returns ok, the host calls
//!   [`Elections::acknowledge`], which creates the **ack** node (ephemeral, the leader's
//!   data and term). A second ack updates it; an identical one writes nothing.
//! - A losing candidate hears on-losing-election once per vote, when its ballot first loses,
//!   and only after the then-leader has acked, with that leader's term and ack data.
//!   Candidates are not woken by later leader changes unless they follow the leader; then
//!   they get on-new-leader like observers. That opt-in is the only way one change wakes many.
//! - Observers hear on-new-leader on every ack and on-leaders-death when the ack vanishes.
//! - [`Elections::resign`] deletes ballot and ack in one multi.
//!
//! # Where ballot departs from the gem
//!
//! - When a middle ballot vanishes, the gem's successor calls `vote!` again and so fires
//!   `on_losing_election` a second time although nothing changed for it. Here the successor
//!   re-watches silently: losing is reported once per vote.
//! - The host walks the predecessor chain, so components never see the queue.
//! - A leader whose ballot disappears without it resigning (session expired or closed, or
//!   the ballot deleted by hand) is sent [`Callback::Deposed`] before anything else the same
//!   commit caused, so its powers are revoked before its successor is told it leads.
//! - Ballots and the ack live in separate folders; the ack carries the term with the data.
//! - Planned changes the gem does not have: [`Elections::hand_off`] moves leadership to a
//!   named candidate (or the next in line) in one step, deposing the leader first; and an
//!   election whose first candidate names a priority keeps its line in priority order,
//!   a higher priority preempting the leader through the same step (see [`Policy`]). The
//!   lowest ballot still decides who leads: these change the queue, never the rule.
//!
//! This module is pure like the namespace: it owns a [`Namespace`], takes the time as an
//! argument, and returns what happened as [`Effects`] for the caller to deliver.

mod callback;
mod kept;
mod leader;
mod lease;
mod name;
mod priority;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::namespace::{
    Change, Committed, CreateMode, Data, Error, EventKind, Guard, HostEpoch, MonoTime, MultiError,
    Namespace, NodePath, Op, Revision, SessionId, State, WatchEvent, WatchKind, WatcherId,
};

pub use callback::{Callback, Cause, Deposition, Effects, Notification, Recipient};
pub use kept::{is_host_kept, refuse_host_kept};
pub use leader::{Leader, Term};
pub use lease::{ELECTORS_ROOT, ElectorPaths, LeaseHolder, LeaseOutcome};
pub use name::{ELECTIONS_ROOT, ElectionName, ElectionPaths, MAX_NAME_LEN};
pub use priority::{Policy, Priority};

/// A candidate's identity, issued by [`Elections::join`] and never reused.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CandidateId(pub u64);

/// An observer's identity, issued by [`Elections::observe`] and never reused.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ObserverId(pub u64);

impl fmt::Debug for CandidateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

impl fmt::Display for CandidateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

impl fmt::Debug for ObserverId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "o{}", self.0)
    }
}

impl fmt::Display for ObserverId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "o{}", self.0)
    }
}

/// The acknowledged leader of `election` in `state`: the ack, if it belongs to whoever
/// holds the lowest ballot. Readers of a durable snapshot use this without the elections.
pub fn read_leader(state: &State, election: &ElectionName) -> Option<Leader> {
    current_ack(state, &election.paths())
}

/// The term `session` leads `election` under in `state`, if its ballot is the lowest.
pub fn read_leading_term(
    state: &State,
    election: &ElectionName,
    session: SessionId,
) -> Option<Term> {
    let ballots = election.paths().ballots;
    let name = state.first_child(&ballots)?;
    let stat = state.exists(&ballots.child(name).ok()?)?;
    (stat.ephemeral_owner == Some(session)).then_some(stat.created)
}

fn current_ack(state: &State, paths: &ElectionPaths) -> Option<Leader> {
    let (data, _) = state.get(&paths.ack).ok()?;
    let leader = Leader::decode(&data)?;
    (lowest_term(state, paths) == Some(leader.term)).then_some(leader)
}

fn lowest_term(state: &State, paths: &ElectionPaths) -> Option<Term> {
    let name = state.first_child(&paths.ballots)?;
    let path = paths.ballots.child(name).ok()?;
    state.exists(&path).map(|stat| stat.created)
}

/// Why an election operation was refused. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ElectionError {
    /// The namespace refused the underlying operation.
    #[error(transparent)]
    Namespace(#[from] Error),
    /// No such candidate (never joined, or left).
    #[error("unknown candidate {0}")]
    UnknownCandidate(CandidateId),
    /// No such observer.
    #[error("unknown observer {0}")]
    UnknownObserver(ObserverId),
    /// A lease elector refused; the variant says why, so callers can branch (an unknown
    /// elector is a 404 over HTTP, a bad argument a 400).
    #[error(transparent)]
    Elector(#[from] ElectorError),
    /// `vote` for a candidate whose ballot is still in the queue.
    #[error("candidate {0} has already voted")]
    AlreadyVoted(CandidateId),
    /// A candidate whose priority does not fit the election's policy; nothing changed.
    #[error("election {election} refused the candidate: {reason}")]
    Policy {
        /// The election.
        election: ElectionName,
        /// Why, in words.
        reason: String,
    },
    /// A handoff that cannot be made; nothing changed.
    #[error("no handoff in election {election}: {reason}")]
    Handoff {
        /// The election.
        election: ElectionName,
        /// Why, in words.
        reason: String,
    },
}

/// Why a lease elector refused a reset or an election.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ElectorError {
    /// No elector of that name: reset it (join as a peer) first.
    #[error("no elector {elector}: reset it first")]
    UnknownElector {
        /// The elector's name.
        elector: String,
    },
    /// The caller is not among the elector's peers.
    #[error("{peer:?} is not a peer of elector {elector}")]
    NotAPeer {
        /// The elector's name.
        elector: String,
        /// The caller's peer name.
        peer: String,
    },
    /// Peers of one elector must share its lease duration.
    #[error(
        "elector {elector} has a duration of {duration_ms} ms, not {asked_ms} ms; peers must share it"
    )]
    DurationMismatch {
        /// The elector's name.
        elector: String,
        /// The elector's duration.
        duration_ms: u64,
        /// The duration asked for.
        asked_ms: u64,
    },
    /// A lease of zero length would never be held.
    #[error("a lease duration must be positive")]
    ZeroDuration,
    /// The peer name cannot be a path segment.
    #[error("{peer:?} is not a usable peer name: {reason}")]
    BadPeerName {
        /// The name given.
        peer: String,
        /// The rule it breaks.
        reason: String,
    },
    /// The elector's node holds something that is not an elector record.
    #[error("{path} is not an elector")]
    NotAnElector {
        /// The node's path.
        path: String,
    },
}

impl From<MultiError> for ElectionError {
    fn from(failed: MultiError) -> Self {
        ElectionError::Namespace(failed.error)
    }
}

/// Counters of the watch events the election bookkeeping consumed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Predecessor-ballot watch events: one per candidate woken. The herd test counts these.
    pub ballot_watch_events: u64,
    /// Ack watch events: one per election per ack change, fanned out by the host.
    pub ack_watch_events: u64,
}

/// Where a candidate stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Phase {
    /// No ballot in the queue: never voted, resigned, or lost its ballot with its session.
    Idle,
    /// Its ballot is the lowest.
    Leading { term: Term },
    /// Its ballot waits behind `predecessor`.
    Waiting { predecessor: NodePath },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Candidate {
    election: ElectionName,
    session: SessionId,
    data: Data,
    /// Its own ballot watcher: routes predecessor events back to it.
    watcher: WatcherId,
    ballot: Option<NodePath>,
    phase: Phase,
    /// Whether on-losing-election was delivered for the current vote.
    told_losing: bool,
    /// The name it entered with (see [`crate::command::Entrant::Candidate`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// Its priority, which only a priority election reads.
    #[serde(default)]
    priority: Priority,
}

/// Per-election bookkeeping.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Race {
    paths: ElectionPaths,
    /// The acknowledged leader, as the ack node says.
    acked: Option<Leader>,
    /// Losers not yet told, because the leader has not acked.
    awaiting_ack: BTreeSet<CandidateId>,
    followers: BTreeSet<CandidateId>,
    observers: BTreeSet<ObserverId>,
    /// How it picks its leader; chosen by its first candidate.
    #[serde(default)]
    policy: Option<Policy>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
enum Route {
    Ballot(CandidateId),
    Ack,
}

/// The host's elections over one namespace: the single writer of the namespace, so that
/// every commit's consequences for elections are worked out before the next commit.
///
/// Serializable whole, so a store's snapshot holds what later commands refer to
/// (candidates, observers, their watches), and commands replay onto it as they applied.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Elections {
    ns: Namespace,
    races: BTreeMap<ElectionName, Race>,
    candidates: BTreeMap<CandidateId, Candidate>,
    observers: BTreeMap<ObserverId, ElectionName>,
    /// Which ballot belongs to which candidate, to notice a ballot deleted under a leader.
    ballot_owners: BTreeMap<NodePath, CandidateId>,
    routes: BTreeMap<WatcherId, (ElectionName, Route)>,
    last_participant: u64,
    stats: Stats,
    /// A planted bug, set only by the simulator ([`Elections::plant_fencing_off`]): term
    /// guards are ignored, so a deposed leader's write applies. Kept in snapshots, so that
    /// commands replay as they applied.
    fencing_off: bool,
}

impl Elections {
    /// Elections over `ns`. Acks already present in `ns` are picked up when their election
    /// is first used.
    pub fn new(ns: Namespace) -> Self {
        Elections {
            ns,
            ..Elections::default()
        }
    }

    /// Replaces the namespace's limits (see [`Namespace::set_limits`]).
    pub fn set_limits(&mut self, limits: crate::namespace::Limits) {
        self.ns.set_limits(limits);
    }

    /// Every session's TTL starts again in full at `now` (see
    /// [`Namespace::restart_deadlines`]).
    pub fn restart_deadlines(&mut self, now: MonoTime) {
        self.ns.restart_deadlines(now);
    }

    /// Takes `earlier`'s session deadlines (see [`Namespace::keep_deadlines_from`]).
    pub fn keep_deadlines_from(&mut self, earlier: &Elections) {
        self.ns.keep_deadlines_from(&earlier.ns);
    }

    /// The elections as CBOR, for a snapshot.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        ciborium::into_writer(self, &mut bytes).expect("encoding to memory cannot fail");
        bytes
    }

    /// The namespace, for reads.
    pub fn namespace(&self) -> &Namespace {
        &self.ns
    }

    /// The namespace's journalled changes since the last call (see
    /// [`Namespace::enable_journal`]): what a store must persist before releasing effects.
    pub fn take_journal(&mut self) -> Vec<crate::namespace::Entry> {
        self.ns.take_journal()
    }

    /// Sim-only planted bug: from now on [`Elections::multi`] ignores its guard and
    /// [`Elections::lease_guard`] hands a guard to anyone. It exists so the simulator can
    /// show that it finds a broken fence; nothing else may call it. It is public only so
    /// that `ballot-sim`, a crate of its own, can reach it, and hidden from the docs.
    #[doc(hidden)]
    pub fn plant_fencing_off(&mut self) {
        self.fencing_off = true;
    }

    /// Counters of consumed watch events.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    // ----- sessions -----

    /// Opens a session (see [`Namespace::open_session`]).
    pub fn open_session(&mut self, ttl: Duration, now: MonoTime) -> Result<SessionId, Error> {
        self.ns.open_session(ttl, now)
    }

    /// Keeps a session alive (see [`Namespace::heartbeat`]).
    pub fn heartbeat(&mut self, session: SessionId, now: MonoTime) -> Result<(), Error> {
        self.ns.heartbeat(session, now)
    }

    /// Closes a session: its ballots and acks go in one step, and the elections react.
    pub fn close_session(&mut self, session: SessionId) -> Result<Effects, ElectionError> {
        let committed = self.ns.close_session(session)?;
        let mut out = Effects::default();
        self.absorb(committed, &mut out);
        out.ended_sessions.push(session);
        Ok(out)
    }

    /// Expires each of `sessions` still open (the owner's decision, on its clock; see
    /// [`crate::command::Command::ExpireSessions`]), and lets the elections react.
    pub fn expire_sessions(&mut self, sessions: &[SessionId]) -> (Vec<SessionId>, Effects) {
        let mut out = Effects::default();
        let mut expired = Vec::new();
        for (session, committed) in self.ns.expire_sessions(sessions) {
            expired.push(session);
            self.absorb(committed, &mut out);
            out.ended_sessions.push(session);
        }
        (expired, out)
    }

    /// Registers a host (see [`Namespace::join_host`]).
    pub fn join_host(&mut self, host: HostEpoch, id: &str) -> Result<(), Error> {
        self.ns.join_host(host, id)
    }

    /// Expires a host: it is forgotten and every session it owned ends in this one step,
    /// its ballots with them, and the elections react.
    pub fn expire_host(&mut self, host: HostEpoch) -> Result<(Vec<SessionId>, Effects), Error> {
        let sessions = self.ns.forget_host(host)?;
        let mut out = Effects::default();
        for &session in &sessions {
            if let Ok(closed) = self.close_session(session) {
                out.extend(closed);
            }
        }
        Ok((sessions, out))
    }

    /// Sets the host whose commands apply next (see [`Namespace::set_proposer`]).
    pub fn set_proposer(&mut self, host: HostEpoch) {
        self.ns.set_proposer(host);
    }

    /// Sets the host this replica runs on (see [`Namespace::set_local_host`]).
    pub fn set_local_host(&mut self, host: HostEpoch, now: MonoTime) {
        self.ns.set_local_host(host, now);
    }

    /// The owner's sweep in one call: expires every session overdue at `now` on the
    /// owner's clock. For callers that are the owner and the log at once (tests, the
    /// native demo); a store proposes the list as a command instead.
    pub fn tick(&mut self, now: MonoTime) -> (Vec<SessionId>, Effects) {
        let overdue = self.ns.overdue(now);
        self.expire_sessions(&overdue)
    }

    // ----- plain namespace access -----

    /// A watcher id for the caller's own watches; their events come back in
    /// [`Effects::watch_events`].
    pub fn new_watcher(&mut self) -> WatcherId {
        self.ns.new_watcher()
    }

    /// Registers a caller's watch (see [`Namespace::watch`]).
    pub fn watch(
        &mut self,
        watcher: WatcherId,
        path: &NodePath,
        kind: WatchKind,
    ) -> Result<(), Error> {
        self.ns.watch(watcher, path, kind)
    }

    /// Removes every watch of a caller's watcher (see [`Namespace::unwatch`]).
    pub fn unwatch(&mut self, watcher: WatcherId) {
        self.ns.unwatch(watcher);
    }

    /// Drops every watch a caller registered, keeping the elections' own: for a snapshot
    /// another host may load. On a shared log a caller's watch is registered only on the
    /// host that runs the caller, while the elections' watches are set by apply on every
    /// replica alike.
    pub fn drop_caller_watches(&mut self) {
        for watcher in self.ns.watchers() {
            if !self.routes.contains_key(&watcher) {
                self.ns.unwatch(watcher);
            }
        }
    }

    /// Applies a multi from outside the election machinery (see [`Namespace::multi`]):
    /// a write into a host-kept subtree is refused (see [`refuse_host_kept`]), whoever
    /// calls, so no caller can forge an ack or end a lease behind the host's back.
    pub fn multi(
        &mut self,
        guard: Option<&Guard>,
        ops: &[Op],
    ) -> Result<(Committed, Effects), MultiError> {
        if let Err(error) = refuse_host_kept(ops) {
            let index = ops
                .iter()
                .position(|op| refuse_host_kept(std::slice::from_ref(op)).is_err());
            return Err(MultiError { index, error });
        }
        self.multi_as_host(guard, ops)
    }

    /// [`Elections::multi`] without the host-kept rule, for the election machinery's own
    /// writes; the elections react to whatever it changed, so a ballot deleted by hand
    /// is handled like any other.
    pub(crate) fn multi_as_host(
        &mut self,
        guard: Option<&Guard>,
        ops: &[Op],
    ) -> Result<(Committed, Effects), MultiError> {
        let guard = if self.fencing_off { None } else { guard };
        let committed = self.ns.multi(guard, ops)?;
        let mut out = Effects::default();
        self.absorb(committed.clone(), &mut out);
        Ok((committed, out))
    }

    /// The guard "`session` holds `term` of `election`", for a fenced multi.
    pub fn term_guard(election: &ElectionName, session: SessionId, term: Term) -> Guard {
        Guard::HoldsTerm {
            ballots: election.paths().ballots,
            session,
            term,
        }
    }

    // ----- candidates -----

    /// Registers a candidate of `election` whose ballots belong to `session`. It takes part
    /// only once it votes. With `follows_leader` it also hears of every new leader.
    pub fn join(
        &mut self,
        election: &ElectionName,
        session: SessionId,
        data: Data,
        follows_leader: bool,
    ) -> CandidateId {
        self.join_with(election, session, data, follows_leader, None)
            .expect("a candidate without a priority may join any election")
    }

    /// [`Elections::join`] with a priority, which makes (or requires) a priority election
    /// (see [`Policy`]). Refused, changing nothing, in an election that uses the queue.
    pub fn join_with(
        &mut self,
        election: &ElectionName,
        session: SessionId,
        data: Data,
        follows_leader: bool,
        priority: Option<Priority>,
    ) -> Result<CandidateId, ElectionError> {
        self.admit(election, priority)?;
        let id = CandidateId(self.next_participant());
        let watcher = self.ns.new_watcher();
        self.race(election);
        self.routes
            .insert(watcher, (election.clone(), Route::Ballot(id)));
        if follows_leader {
            self.race_mut(election).followers.insert(id);
        }
        self.candidates.insert(
            id,
            Candidate {
                election: election.clone(),
                session,
                data,
                watcher,
                ballot: None,
                phase: Phase::Idle,
                told_losing: false,
                name: None,
                priority: priority.unwrap_or_default(),
            },
        );
        Ok(id)
    }

    /// Names a candidate (see [`crate::command::Entrant::Candidate`]).
    pub fn name_candidate(&mut self, id: CandidateId, name: &str) {
        if let Some(candidate) = self.candidates.get_mut(&id) {
            candidate.name = Some(name.to_owned());
        }
    }

    /// Casts the candidate's ballot. The outcome (winning, or losing once the leader has
    /// acked) comes back as notifications.
    ///
    /// In a priority election the queue is then put in order, and the leader preempted
    /// if the candidate outranks it (see [`Policy::Priority`]).
    pub fn vote(&mut self, id: CandidateId) -> Result<Effects, ElectionError> {
        let mut out = self.cast(id, false)?;
        let election = self.candidates[&id].election.clone();
        self.settle(&election, id, &mut out)?;
        Ok(out)
    }

    /// Casts the candidate's ballot at the back of the queue, nothing more; `told_losing`
    /// says whether it has already heard it lost (a candidate only moved in the queue).
    fn cast(&mut self, id: CandidateId, told_losing: bool) -> Result<Effects, ElectionError> {
        let candidate = self.candidate(id)?;
        if candidate.ballot.is_some() {
            return Err(ElectionError::AlreadyVoted(id));
        }
        let (election, session, data) = (
            candidate.election.clone(),
            candidate.session,
            candidate.data.clone(),
        );
        let paths = self.races[&election].paths.clone();
        let mut out = Effects::default();
        let (ballot, committed) = self.create_ballot(&paths, session, data)?;
        self.ballot_owners.insert(ballot.clone(), id);
        let candidate = self.candidates.get_mut(&id).expect("looked up above");
        candidate.ballot = Some(ballot);
        candidate.told_losing = told_losing;
        self.absorb(committed, &mut out);
        self.evaluate(id, &mut out);
        Ok(out)
    }

    fn create_ballot(
        &mut self,
        paths: &ElectionPaths,
        session: SessionId,
        data: Data,
    ) -> Result<(NodePath, Committed), ElectionError> {
        // Create the folders and the ballot in one multi, so a refused ballot (expired
        // session, data too large) leaves no folders behind either.
        let mut ops: Vec<Op> = Vec::new();
        if self.ns.exists(&paths.ballots).is_none() {
            let mut missing: Vec<NodePath> = paths
                .ballots
                .ancestors_inclusive()
                .take_while(|folder| !folder.is_root() && self.ns.exists(folder).is_none())
                .collect();
            missing.reverse();
            ops.extend(missing.into_iter().map(|path| Op::Create {
                path,
                data: Data::default(),
                mode: CreateMode::PERSISTENT,
            }));
        }
        ops.push(Op::Create {
            path: paths.ballot_prefix.clone(),
            data,
            mode: CreateMode::ephemeral_sequential(session),
        });
        let committed = self.ns.multi(None, &ops)?;
        let ballot = match committed.results.last() {
            Some(crate::namespace::OpResult::Created { path, .. }) => path.clone(),
            other => unreachable!("a ballot create returned {other:?}"),
        };
        Ok((ballot, committed))
    }

    /// Called when the leader's on-winning-election returned ok, or when it acks again
    /// with new data: writes the ack under the term guard. An identical ack writes nothing.
    pub fn acknowledge(
        &mut self,
        id: CandidateId,
        term: Term,
        data: Option<Data>,
    ) -> Result<Effects, ElectionError> {
        let candidate = self.candidate(id)?;
        let paths = self.races[&candidate.election].paths.clone();
        // Without new data, a re-ack of the same term keeps the data it already holds
        // (a hot-swapped leader re-asserts its ack without changing it).
        let data = data.unwrap_or_else(|| {
            self.ns
                .get(&paths.ack)
                .ok()
                .and_then(|(bytes, _)| Leader::decode(&bytes))
                .filter(|held| held.candidate == id && held.term == term)
                .map_or_else(|| candidate.data.clone(), |held| held.data)
        });
        let leader = Leader {
            candidate: id,
            term,
            data,
        };
        let session = candidate.session;
        let guard = Self::term_guard(&candidate.election, session, term);
        let payload = leader.encode();
        let create = Op::Create {
            path: paths.ack.clone(),
            data: payload.clone(),
            mode: CreateMode::ephemeral(session),
        };
        let ops = match self.ns.get(&paths.ack) {
            Ok((current, stat)) if stat.ephemeral_owner == Some(session) => {
                if current == payload {
                    // Idempotent re-ack: still fenced, but nothing to write.
                    self.ns.multi(Some(&guard), &[])?;
                    return Ok(Effects::default());
                }
                vec![Op::Set {
                    path: paths.ack.clone(),
                    data: payload,
                    expected: None,
                }]
            }
            // A deposed predecessor's ack, still owned by its session: replaced, not
            // overwritten, so the ack lives and dies with this leader's session. (Set
            // would leave it to the old session, whose close would delete this ack.)
            Ok(_) => vec![
                Op::Delete {
                    path: paths.ack.clone(),
                    expected: None,
                },
                create,
            ],
            Err(_) => vec![create],
        };
        let committed = self.ns.multi(Some(&guard), &ops)?;
        let mut out = Effects::default();
        self.absorb(committed, &mut out);
        Ok(out)
    }

    /// Withdraws the candidate's ballot (and its ack, if it leads) in one multi. It hears
    /// nothing itself; its successor, if it now leads, hears it won.
    pub fn resign(&mut self, id: CandidateId) -> Result<Effects, ElectionError> {
        let candidate = self.candidate(id)?;
        let Some(ballot) = candidate.ballot.clone() else {
            return Ok(Effects::default());
        };
        let paths = self.races[&candidate.election].paths.clone();
        let mut ops = Vec::new();
        if let Phase::Leading { term } = candidate.phase
            && self.acked_term(&candidate.election) == Some(term)
        {
            ops.push(Op::Delete {
                path: paths.ack,
                expected: None,
            });
        }
        ops.push(Op::Delete {
            path: ballot,
            expected: None,
        });
        let committed = self.ns.multi(None, &ops)?;
        self.drop_ballot(id);
        let mut out = Effects::default();
        self.absorb(committed, &mut out);
        Ok(out)
    }

    /// Hands leadership of `election` from its leader to `to` (or, without it, to the next
    /// in line), in one step: every candidate queued between the two goes to the back of
    /// the queue in its order (it keeps its session and data, and is not told it lost
    /// again), then the leader's ballot and ack go, so the leader is deposed (revoked
    /// before anyone else hears of it, as any deposition, with `cause` recorded) and `to`
    /// holds the lowest ballot: it wins under its own ballot's revision, a term above the
    /// leader's. Observers hear one change of leader. Outside a handoff, the lowest ballot
    /// wins as in the recipe. A drain (`cause` [`Cause::Drained`]) without a target goes
    /// to the first in line whose session another host owns: one that survives the
    /// leader's host stopping. In a priority election the waiting candidates are then put
    /// back in priority order. Returns the candidate that now leads. Refused, changing
    /// nothing, when the election has no leader, or `to` is not a candidate standing in
    /// it behind the leader.
    pub fn hand_off(
        &mut self,
        election: &ElectionName,
        to: Option<CandidateId>,
        cause: Cause,
    ) -> Result<(CandidateId, Effects), ElectionError> {
        let refuse = |reason: String| ElectionError::Handoff {
            election: election.clone(),
            reason,
        };
        let paths = election.paths();
        let queue = self.queue(election);
        let Some(&leader) = queue.first() else {
            return Err(refuse("nobody stands in it".into()));
        };
        let Some(old_term) = self.leading_term(leader) else {
            return Err(refuse("its lowest ballot has not won yet".into()));
        };
        let target = match to {
            // A drain hands over to whoever survives the leader's host stopping: the
            // first in line whose session another host owns.
            None if cause == Cause::Drained => {
                let owner = |id: &CandidateId| {
                    let session = self.candidates[id].session;
                    self.ns.state().session(session).map(|record| record.owner)
                };
                let leaders_host = owner(&leader);
                *queue
                    .iter()
                    .skip(1)
                    .find(|id| owner(id) != leaders_host)
                    .ok_or_else(|| {
                        refuse("no candidate of another host stands behind the leader".into())
                    })?
            }
            None => *queue
                .get(1)
                .ok_or_else(|| refuse("nobody stands behind the leader".into()))?,
            Some(target) if target == leader => {
                return Err(refuse(format!("candidate {target} already leads it")));
            }
            Some(target) if !queue.contains(&target) => {
                return Err(refuse(format!(
                    "candidate {target} does not stand in it (unknown, out of the queue, or in another election)"
                )));
            }
            Some(target) => target,
        };
        let between: Vec<CandidateId> = queue
            .iter()
            .copied()
            .skip(1)
            .take_while(|c| *c != target)
            .collect();
        let mut out = Effects::default();
        for candidate in between {
            self.requeue(candidate, &mut out)?;
        }
        let leader_ballot = self.candidates[&leader]
            .ballot
            .clone()
            .expect("the leader holds the lowest ballot");
        let mut ops = Vec::new();
        if self.acked_term(election) == Some(old_term) {
            ops.push(Op::Delete {
                path: paths.ack.clone(),
                expected: None,
            });
        }
        ops.push(Op::Delete {
            path: leader_ballot,
            expected: None,
        });
        let committed = self.ns.multi(None, &ops)?;
        // The only ballot this commit deletes is the leader's: its deposition is `cause`.
        self.absorb_because(committed, cause, &mut out);
        if self.policy(election) == Some(Policy::Priority) {
            self.sort_waiting(election, &mut out)?;
        }
        Ok((target, out))
    }

    /// Resigns and forgets the candidate.
    pub fn leave(&mut self, id: CandidateId) -> Result<Effects, ElectionError> {
        let out = self.resign(id)?;
        let candidate = self.candidates.remove(&id).expect("resign found it");
        self.ns.unwatch(candidate.watcher);
        self.routes.remove(&candidate.watcher);
        self.race_mut(&candidate.election).followers.remove(&id);
        Ok(out)
    }

    /// The term the candidate leads under, if it leads.
    pub fn leading_term(&self, id: CandidateId) -> Option<Term> {
        match self.candidates.get(&id)?.phase {
            Phase::Leading { term } => Some(term),
            _ => None,
        }
    }

    /// The candidate's ballot, if it has one in the queue.
    pub fn ballot(&self, id: CandidateId) -> Option<&NodePath> {
        self.candidates.get(&id)?.ballot.as_ref()
    }

    /// The ballot the candidate watches, if it waits.
    pub fn predecessor(&self, id: CandidateId) -> Option<&NodePath> {
        match &self.candidates.get(&id)?.phase {
            Phase::Waiting { predecessor } => Some(predecessor),
            _ => None,
        }
    }

    /// The session a candidate's ballots belong to.
    pub fn session_of(&self, id: CandidateId) -> Option<SessionId> {
        self.candidates.get(&id).map(|c| c.session)
    }

    /// The election a candidate stands in.
    pub fn election_of(&self, id: CandidateId) -> Option<ElectionName> {
        self.candidates.get(&id).map(|c| c.election.clone())
    }

    /// Where a candidate stands, or `None` if there is no such candidate.
    pub fn status(&self, id: CandidateId) -> Option<crate::command::CandidateStatus> {
        let candidate = self.candidates.get(&id)?;
        Some(crate::command::CandidateStatus {
            id,
            election: candidate.election.clone(),
            session: candidate.session,
            ballot: candidate.ballot.clone(),
            term: self.leading_term(id),
        })
    }

    /// Deletes every ballot `session` holds in `election`, as an operator would for a
    /// candidate whose registration is gone; the elections react as to any delete.
    pub fn withdraw_ballots(
        &mut self,
        election: &ElectionName,
        session: SessionId,
    ) -> Result<Effects, ElectionError> {
        let ballots = election.paths().ballots;
        let state = self.ns.state();
        let ops: Vec<Op> = state
            .children(&ballots)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|name| ballots.child(&name).ok())
            .filter(|path| state.exists(path).and_then(|s| s.ephemeral_owner) == Some(session))
            .map(|path| Op::Delete {
                path,
                expected: None,
            })
            .collect();
        if ops.is_empty() {
            return Ok(Effects::default());
        }
        let (_, effects) = self.multi_as_host(None, &ops)?;
        Ok(effects)
    }

    // ----- observers -----

    /// Registers an observer. If a leader has already acked it hears of it at once, as a
    /// notification like any other.
    pub fn observe(&mut self, election: &ElectionName) -> (ObserverId, Effects) {
        let id = ObserverId(self.next_participant());
        self.observers.insert(id, election.clone());
        let race = self.race(election);
        race.observers.insert(id);
        let mut out = Effects::default();
        if let Some(leader) = race.acked.clone() {
            out.notifications.push(Notification {
                revision: self.ns.revision(),
                election: election.clone(),
                to: Recipient::Observer(id),
                callback: Callback::NewLeader { leader },
            });
        }
        (id, out)
    }

    /// Forgets an observer.
    pub fn unobserve(&mut self, id: ObserverId) -> Result<(), ElectionError> {
        let election = self
            .observers
            .remove(&id)
            .ok_or(ElectionError::UnknownObserver(id))?;
        self.race_mut(&election).observers.remove(&id);
        Ok(())
    }

    /// The acknowledged leader of `election`, if any.
    pub fn leader(&self, election: &ElectionName) -> Option<Leader> {
        read_leader(self.ns.state(), election)
    }

    /// Replaces the data the candidate's next ballot (and ack) carries; returns the old,
    /// so a refused vote can put it back.
    pub fn set_data(&mut self, id: CandidateId, data: Data) -> Result<Data, ElectionError> {
        let candidate = self
            .candidates
            .get_mut(&id)
            .ok_or(ElectionError::UnknownCandidate(id))?;
        Ok(std::mem::replace(&mut candidate.data, data))
    }

    // ----- internals -----

    fn next_participant(&mut self) -> u64 {
        self.last_participant += 1;
        self.last_participant
    }

    fn candidate(&self, id: CandidateId) -> Result<&Candidate, ElectionError> {
        self.candidates
            .get(&id)
            .ok_or(ElectionError::UnknownCandidate(id))
    }

    fn acked_term(&self, election: &ElectionName) -> Option<Term> {
        self.races.get(election)?.acked.as_ref().map(|l| l.term)
    }

    /// The race of `election`, set up on first use: its ack watch registered and any ack
    /// already in the namespace picked up.
    fn race(&mut self, election: &ElectionName) -> &mut Race {
        if !self.races.contains_key(election) {
            let paths = election.paths();
            let ack_watcher = self.ns.new_watcher();
            self.ns
                .watch(ack_watcher, &paths.ack, WatchKind::Subtree)
                .expect("subtree watches need no node");
            self.routes
                .insert(ack_watcher, (election.clone(), Route::Ack));
            let acked = self.current_ack(&paths);
            // One persistent watch on the ack per election, shared by every observer,
            // follower and waiting loser: the host fans the event out.
            self.races.insert(
                election.clone(),
                Race {
                    paths,
                    acked,
                    awaiting_ack: BTreeSet::new(),
                    followers: BTreeSet::new(),
                    observers: BTreeSet::new(),
                    policy: None,
                },
            );
        }
        self.races.get_mut(election).expect("inserted above")
    }

    fn race_mut(&mut self, election: &ElectionName) -> &mut Race {
        self.races
            .get_mut(election)
            .expect("a race exists for every participant's election")
    }

    /// The ack in the namespace, if it belongs to whoever holds the lowest ballot now.
    fn current_ack(&self, paths: &ElectionPaths) -> Option<Leader> {
        current_ack(self.ns.state(), paths)
    }

    /// Works out everything a commit means for the elections, in order: deposed leaders
    /// first, then the watch events of the commit.
    fn absorb(&mut self, committed: Committed, out: &mut Effects) {
        self.absorb_because(committed, Cause::Lost, out);
    }

    /// [`Elections::absorb`] for a commit whose deleted ballots were taken by `cause`
    /// (a planned change), which every deposition it makes records.
    fn absorb_because(&mut self, committed: Committed, cause: Cause, out: &mut Effects) {
        for change in &committed.changes {
            if let Change::Deleted(path) = change
                && let Some(id) = self.ballot_owners.get(path).copied()
            {
                self.ballot_vanished(id, committed.revision, cause, out);
            }
        }
        for event in committed.events {
            match self.routes.get(&event.watcher).cloned() {
                Some((_, Route::Ballot(id))) => {
                    self.stats.ballot_watch_events += 1;
                    self.evaluate(id, out);
                }
                Some((election, Route::Ack)) => {
                    self.stats.ack_watch_events += 1;
                    self.ack_changed(&election, &event, out);
                }
                None => out.watch_events.push(event),
            }
        }
    }

    /// A candidate's ballot was deleted by something other than its own resign; `cause`
    /// ends its term if it led.
    fn ballot_vanished(
        &mut self,
        id: CandidateId,
        revision: Revision,
        cause: Cause,
        out: &mut Effects,
    ) {
        let candidate = &self.candidates[&id];
        if let Phase::Leading { term } = candidate.phase {
            out.notifications.push(Notification {
                revision,
                election: candidate.election.clone(),
                to: Recipient::Candidate(id),
                callback: Callback::Deposed { term, cause },
            });
            out.deposed.push(Deposition {
                name: candidate.name.clone(),
                election: candidate.election.clone(),
                term,
                session: candidate.session,
                cause,
            });
        }
        self.drop_ballot(id);
    }

    /// Forgets the candidate's ballot and anything waiting on it.
    fn drop_ballot(&mut self, id: CandidateId) {
        let candidate = self.candidates.get_mut(&id).expect("known candidate");
        if let Some(ballot) = candidate.ballot.take() {
            self.ballot_owners.remove(&ballot);
        }
        candidate.phase = Phase::Idle;
        let (watcher, election) = (candidate.watcher, candidate.election.clone());
        self.ns.unwatch(watcher);
        self.race_mut(&election).awaiting_ack.remove(&id);
    }

    /// The recipe's check: lead, or watch the ballot just below and maybe hear of the leader.
    fn evaluate(&mut self, id: CandidateId, out: &mut Effects) {
        let candidate = &self.candidates[&id];
        let Some(ballot) = candidate.ballot.clone() else {
            return; // The event raced with the ballot's own deletion.
        };
        let election = candidate.election.clone();
        let watcher = candidate.watcher;
        let ballots = self.races[&election].paths.ballots.clone();
        let revision = self.ns.revision();
        let Some(stat) = self.ns.exists(&ballot) else {
            // Gone in a commit not absorbed yet: `tick` applies every expiry before it
            // absorbs the first, so a ballot woken by one expiry may have gone with a
            // later one. Absorbing that one forgets the ballot (found by the simulator).
            return;
        };
        let term = stat.created;
        let predecessor = self
            .ns
            .state()
            .child_before(&ballots, ballot.name())
            .map(|name| {
                ballots
                    .child(name)
                    .expect("an existing child's path is valid")
            });
        match predecessor {
            None => {
                let candidate = self.candidates.get_mut(&id).expect("known candidate");
                if candidate.phase == (Phase::Leading { term }) {
                    return;
                }
                candidate.phase = Phase::Leading { term };
                self.race_mut(&election).awaiting_ack.remove(&id);
                out.notifications.push(Notification {
                    revision,
                    election,
                    to: Recipient::Candidate(id),
                    callback: Callback::WinningElection { term },
                });
            }
            Some(predecessor) => {
                // One-shot exists watch; the predecessor is known to exist at this
                // revision, and nothing can commit before the watch is in place.
                self.ns
                    .watch(watcher, &predecessor, WatchKind::Exists)
                    .expect("exists watches need no node");
                let candidate = self.candidates.get_mut(&id).expect("known candidate");
                candidate.phase = Phase::Waiting { predecessor };
                if candidate.told_losing {
                    return;
                }
                // Only an ack of the current lowest ballot counts: within one commit the
                // old leader's ack may not have been processed yet.
                let lowest = lowest_term(self.ns.state(), &self.races[&election].paths);
                match self.races[&election].acked.clone() {
                    Some(leader) if Some(leader.term) == lowest => {
                        self.tell_losing(id, leader, revision, out)
                    }
                    _ => {
                        self.race_mut(&election).awaiting_ack.insert(id);
                    }
                }
            }
        }
    }

    fn tell_losing(
        &mut self,
        id: CandidateId,
        leader: Leader,
        revision: Revision,
        out: &mut Effects,
    ) {
        let candidate = self.candidates.get_mut(&id).expect("known candidate");
        candidate.told_losing = true;
        out.notifications.push(Notification {
            revision,
            election: candidate.election.clone(),
            to: Recipient::Candidate(id),
            callback: Callback::LosingElection { leader },
        });
    }

    /// The ack node was created, set or deleted.
    fn ack_changed(&mut self, election: &ElectionName, event: &WatchEvent, out: &mut Effects) {
        match event.kind {
            EventKind::Created | EventKind::DataChanged => {
                let paths = self.races[election].paths.clone();
                let Some(leader) = self.current_ack(&paths) else {
                    tracing::warn!(%election, "ignoring an ack that is not the current leader's");
                    return;
                };
                let race = self.race_mut(election);
                race.acked = Some(leader.clone());
                let waiting = std::mem::take(&mut race.awaiting_ack);
                let race = &self.races[election];
                // Followers hear of leaders too, except a leader of itself.
                let recipients: Vec<Recipient> = race
                    .observers
                    .iter()
                    .map(|&o| Recipient::Observer(o))
                    .chain(
                        race.followers
                            .iter()
                            .filter(|&&c| c != leader.candidate)
                            .map(|&c| Recipient::Candidate(c)),
                    )
                    .collect();
                let callback = Callback::NewLeader {
                    leader: leader.clone(),
                };
                Self::fan_out(election, event.revision, recipients, callback, out);
                for id in waiting {
                    self.tell_losing(id, leader.clone(), event.revision, out);
                }
            }
            EventKind::Deleted => {
                if let Some(gone) = self.race_mut(election).acked.take() {
                    let recipients = self.races[election]
                        .observers
                        .iter()
                        .map(|&o| Recipient::Observer(o))
                        .collect();
                    let callback = Callback::LeadersDeath { term: gone.term };
                    Self::fan_out(election, event.revision, recipients, callback, out);
                }
            }
            EventKind::ChildrenChanged => {}
        }
    }

    fn fan_out(
        election: &ElectionName,
        revision: Revision,
        recipients: Vec<Recipient>,
        callback: Callback,
        out: &mut Effects,
    ) {
        for to in recipients {
            out.notifications.push(Notification {
                revision,
                election: election.clone(),
                to,
                callback: callback.clone(),
            });
        }
    }
}
