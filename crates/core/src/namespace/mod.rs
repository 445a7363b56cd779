//! The namespace: a ZooKeeper-style tree of persistent, ephemeral and sequential nodes,
//! with sessions and watches.
//!
//! This is the deterministic core the rest of the host stands on. It does no I/O and
//! reads no clock (callers pass [`MonoTime`] in), and it keeps its state only in ordered
//! maps, so one state has exactly one byte encoding ([`State::encode`]) and the simulator,
//! the model tests and production all run this same code.
//!
//! # Why a persistent map
//!
//! The canonical state ([`State`]) lives in [`imbl::OrdMap`]s: B-trees whose nodes are
//! shared between versions. Cloning a state is O(1) and a writer that changes it afterwards
//! copies only the O(log n) path it touches, so:
//!
//! - a snapshot ([`Namespace::snapshot`]) can be taken on every commit and written out in
//!   the background while the writer goes on, without a lock and without copying the tree;
//! - writers pay for copying only while a snapshot is outstanding: with none, imbl mutates
//!   its uniquely owned nodes in place.
//!
//! A multi is applied in place with an undo journal ([`txn`]) and rolled back if any
//! operation fails, so a refused op changes nothing without the whole multi running on a
//! copy (which would force a path copy on every write).
//!
//! `imbl` is the maintained fork of `im`; its B-tree is shallower and faster to iterate
//! than `rpds`' red-black tree, which matters for child listings of a long ballot queue.
//!
//! # Revisions
//!
//! One global counter, bumped once by every commit that changes at least one node (a
//! multi is one revision, as in etcd and ZooKeeper's zxid). A node records the revision
//! that created it and the one that last modified it; a ballot's creation revision is its
//! candidate's term.

mod error;
mod journal;
mod node;
mod op;
mod path;
mod session;
mod txn;
mod watch;

use std::time::Duration;
use std::{fmt, ops::Bound};

use imbl::OrdMap;
use serde::{Deserialize, Serialize};

pub(crate) use error::describe_current;
pub use error::{Error, MultiError, PathError};
pub use journal::{Entry, ReplayError};
pub use node::{CreateMode, Data, Lifetime, Node, Stat};
pub use op::{Change, Committed, Guard, Op, OpResult};
pub use path::{MAX_PATH_LEN, NodePath};
pub use session::{HostEpoch, HostRecord, MonoTime, SessionId, SessionRecord};
pub use watch::{EventKind, WatchEvent, WatchKind, WatcherId};

use session::Deadlines;
use txn::Txn;
use watch::Watches;

/// A position in the namespace's history of changes. Also the type of a term.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Revision(pub u64);

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The largest sequence number that fits the 10-digit suffix.
pub const MAX_SEQUENCE: u64 = 9_999_999_999;

/// Bounds the namespace enforces on every write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest node payload in bytes. ZooKeeper's default `jute.maxbuffer` is about 1 MiB.
    pub max_data: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_data: 1 << 20 }
    }
}

/// How a node differs between two states (see [`State::changes_to`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeChangeKind {
    /// It exists only in the newer state.
    Created,
    /// Its data was replaced (or it was deleted and created again).
    DataChanged,
    /// Only its children changed.
    ChildrenChanged,
    /// It exists only in the older state.
    Deleted,
}

/// The canonical, persisted state: nodes, sessions and counters. Cheap to clone (see the
/// module docs), so it doubles as a consistent read-only snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    revision: Revision,
    last_session: u64,
    nodes: OrdMap<NodePath, Node>,
    sessions: OrdMap<SessionId, SessionRecord>,
    /// The hosts sharing this namespace, by epoch; empty for an embedded store.
    #[serde(default, skip_serializing_if = "OrdMap::is_empty")]
    hosts: OrdMap<HostEpoch, HostRecord>,
}

impl Default for State {
    fn default() -> Self {
        let mut nodes = OrdMap::new();
        nodes.insert(
            NodePath::root(),
            Node::new(Data::default(), Revision(0), None),
        );
        State {
            revision: Revision(0),
            last_session: 0,
            nodes,
            sessions: OrdMap::new(),
            hosts: OrdMap::new(),
        }
    }
}

impl State {
    /// The revision of the last commit that changed a node.
    pub fn revision(&self) -> Revision {
        self.revision
    }

    /// The node at `path`, if any.
    pub fn node(&self, path: &NodePath) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Data and metadata of `path`.
    pub fn get(&self, path: &NodePath) -> Result<(Data, Stat), Error> {
        self.node(path)
            .map(|node| (node.data().clone(), node.stat()))
            .ok_or_else(|| no_node(path))
    }

    /// Metadata of `path`, or `None` if it does not exist.
    pub fn exists(&self, path: &NodePath) -> Option<Stat> {
        self.node(path).map(Node::stat)
    }

    /// Names of the children of `path`, in order (sequence order for sequential siblings
    /// with a common prefix).
    pub fn children(&self, path: &NodePath) -> Result<Vec<String>, Error> {
        let node = self.node(path).ok_or_else(|| no_node(path))?;
        Ok(node.children.iter().cloned().collect())
    }

    /// The first child of `path` in name order: for a ballot queue, the leader's ballot.
    pub fn first_child(&self, path: &NodePath) -> Option<&str> {
        self.node(path)?.children.get_min().map(String::as_str)
    }

    /// The child of `path` just before `name` in name order: a ballot's predecessor.
    pub fn child_before(&self, path: &NodePath, name: &str) -> Option<&str> {
        let bounds = (Bound::Unbounded, Bound::Excluded(name.to_string()));
        self.node(path)?
            .children
            .range(bounds)
            .next_back()
            .map(String::as_str)
    }

    /// A persisted session.
    pub fn session(&self, session: SessionId) -> Option<&SessionRecord> {
        self.sessions.get(&session)
    }

    /// All persisted sessions, by id.
    /// The hosts sharing the namespace, by epoch.
    pub fn hosts(&self) -> impl Iterator<Item = (HostEpoch, &HostRecord)> {
        self.hosts.iter().map(|(epoch, record)| (*epoch, record))
    }

    /// Whether commands proposed by `host` may still apply: the embedded host always,
    /// a shared host from its registration until it is expired.
    pub fn is_live_host(&self, host: HostEpoch) -> bool {
        host == HostEpoch::EMBEDDED || self.hosts.contains_key(&host)
    }

    /// Every open session, in id order.
    pub fn sessions(&self) -> impl Iterator<Item = (SessionId, &SessionRecord)> {
        self.sessions.iter().map(|(id, record)| (*id, record))
    }

    /// How nodes differ from this state to `newer`, in path order. Cheap between states
    /// that share structure, as successive published states do: unchanged subtrees are
    /// skipped, not compared.
    pub fn changes_to<'a>(
        &'a self,
        newer: &'a State,
    ) -> impl Iterator<Item = (&'a NodePath, NodeChangeKind)> + 'a {
        self.nodes.diff(&newer.nodes).map(|item| match item {
            imbl::ordmap::DiffItem::Add(path, _) => (path, NodeChangeKind::Created),
            imbl::ordmap::DiffItem::Remove(path, _) => (path, NodeChangeKind::Deleted),
            imbl::ordmap::DiffItem::Update { old, new } => {
                let kind = if old.1.stat().data_version != new.1.stat().data_version
                    || old.1.stat().created != new.1.stat().created
                {
                    NodeChangeKind::DataChanged
                } else {
                    NodeChangeKind::ChildrenChanged
                };
                (new.0, kind)
            }
        })
    }

    /// Number of nodes, the root included.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The canonical CBOR encoding. Two states are equal exactly when their encodings are.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(self, &mut out).expect("writing CBOR to a Vec cannot fail");
        out
    }

    /// Reads a state written by [`State::encode`].
    pub fn decode(bytes: &[u8]) -> Result<State, ciborium::de::Error<std::io::Error>> {
        ciborium::from_reader(bytes)
    }
}

fn no_node(path: &NodePath) -> Error {
    Error::NoNode {
        path: path.to_string(),
    }
}

/// The live namespace: the canonical [`State`] plus what is not persisted (session
/// deadlines on the monotonic clock, registered watches).
///
/// Single writer: every method that changes anything takes `&mut self`; concurrent readers
/// take a [`Namespace::snapshot`].
///
/// It serializes whole (for a store's snapshots, from which commands replay), except its
/// limits, which are the opener's, and its journal.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Namespace {
    state: State,
    /// Soft: the owner's deadlines, set from command stamps, never consulted by a write.
    #[serde(skip)]
    deadlines: Deadlines,
    watches: Watches,
    #[serde(skip)]
    limits: Limits,
    last_watcher: u64,
    /// Soft: the host that proposed the command being applied (set by the store from the
    /// log's batch, so replicas agree): it owns the sessions the command opens.
    #[serde(skip)]
    proposer: HostEpoch,
    /// Soft: the host this replica runs on. Only its own sessions get deadlines here, as
    /// only their owner's clock may expire them.
    #[serde(skip)]
    local: HostEpoch,
    /// Entries not yet taken by the store; `None` when nobody persists this namespace.
    #[serde(skip)]
    journal: Option<Vec<Entry>>,
}

impl Namespace {
    /// An empty tree (only `/`) with the given limits.
    pub fn new(limits: Limits) -> Self {
        Namespace {
            limits,
            ..Namespace::default()
        }
    }

    /// Replaces the limits, as a namespace loaded from a snapshot takes its opener's.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The current state, for reads.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// A consistent copy of the current state, O(1).
    pub fn snapshot(&self) -> State {
        self.state.clone()
    }

    /// The revision of the last change.
    pub fn revision(&self) -> Revision {
        self.state.revision
    }

    /// Shorthand for [`State::is_live_host`].
    pub fn is_live_host(&self, host: HostEpoch) -> bool {
        self.state.is_live_host(host)
    }

    /// Shorthand for [`State::get`].
    pub fn get(&self, path: &NodePath) -> Result<(Data, Stat), Error> {
        self.state.get(path)
    }

    /// Shorthand for [`State::exists`].
    pub fn exists(&self, path: &NodePath) -> Option<Stat> {
        self.state.exists(path)
    }

    /// Shorthand for [`State::children`].
    pub fn children(&self, path: &NodePath) -> Result<Vec<String>, Error> {
        self.state.children(path)
    }

    // ----- sessions -----

    /// Opens a session that its owner expires once `ttl` has passed since `now` (or since
    /// its last heartbeat) on the owner's clock.
    pub fn open_session(&mut self, ttl: Duration, now: MonoTime) -> Result<SessionId, Error> {
        if ttl.is_zero() {
            return Err(Error::Invalid {
                subject: "session".into(),
                reason: "the TTL must be positive",
            });
        }
        self.state.last_session += 1;
        let id = SessionId(self.state.last_session);
        self.state.sessions.insert(
            id,
            SessionRecord {
                ttl,
                ephemerals: Default::default(),
                owner: self.proposer,
            },
        );
        if self.proposer == self.local {
            self.deadlines.set(id, now.after(ttl));
        }
        self.record(|| Entry::OpenSession { session: id, ttl });
        Ok(id)
    }

    /// Sets the host whose command applies next (the store does, from each batch of a
    /// shared log; an embedded store never changes it).
    pub fn set_proposer(&mut self, host: HostEpoch) {
        self.proposer = host;
    }

    /// The host whose command is applying.
    pub fn proposer(&self) -> HostEpoch {
        self.proposer
    }

    /// Sets which host this replica runs on, and keeps deadlines only for that host's
    /// sessions (starting a full TTL from `now` for any it did not have one for).
    pub fn set_local_host(&mut self, host: HostEpoch, now: MonoTime) {
        self.local = host;
        let theirs: Vec<SessionId> = self
            .state
            .sessions
            .iter()
            .filter(|(_, record)| record.owner != host)
            .map(|(id, _)| *id)
            .collect();
        for id in theirs {
            self.deadlines.remove(id);
        }
        let mine: Vec<(SessionId, Duration)> = self
            .state
            .sessions
            .iter()
            .filter(|(id, record)| record.owner == host && self.deadlines.get(**id).is_none())
            .map(|(id, record)| (*id, record.ttl))
            .collect();
        for (id, ttl) in mine {
            self.deadlines.set(id, now.after(ttl));
        }
    }

    /// The host this replica runs on.
    pub fn local_host(&self) -> HostEpoch {
        self.local
    }

    /// Registers `host` under `id`; refused if that epoch was ever used (an epoch is
    /// the log position where its host registered, so it is never reused).
    pub fn join_host(&mut self, host: HostEpoch, id: &str) -> Result<(), Error> {
        if host == HostEpoch::EMBEDDED || self.state.hosts.contains_key(&host) {
            return Err(Error::Invalid {
                subject: format!("host {host}"),
                reason: "that epoch is already taken",
            });
        }
        self.state
            .hosts
            .insert(host, HostRecord { id: id.to_owned() });
        Ok(())
    }

    /// Forgets `host` and returns its open sessions, for the caller to close: a host
    /// expired by its peers (or replaced by its own next epoch) acts no more.
    pub fn forget_host(&mut self, host: HostEpoch) -> Result<Vec<SessionId>, Error> {
        if self.state.hosts.remove(&host).is_none() {
            return Err(Error::Invalid {
                subject: format!("host {host}"),
                reason: "no such live host",
            });
        }
        Ok(self
            .state
            .sessions
            .iter()
            .filter(|(_, record)| record.owner == host)
            .map(|(id, _)| *id)
            .collect())
    }

    /// Moves an open session's deadline to a full TTL from `now`: its owner will not
    /// expire it before then. Changes nothing a reader sees.
    pub fn heartbeat(&mut self, session: SessionId, now: MonoTime) -> Result<(), Error> {
        self.require_open(session)?;
        let ttl = self.state.sessions[&session].ttl;
        self.deadlines.set(session, now.after(ttl));
        Ok(())
    }

    /// When `session`'s owner will expire it unless it is heartbeated, if it is open.
    pub fn session_deadline(&self, session: SessionId) -> Option<MonoTime> {
        self.deadlines.get(session)
    }

    /// True while `session` is open: until a command closes or expires it, whatever the
    /// time (time reaches the namespace only as commands).
    pub fn is_open(&self, session: SessionId) -> bool {
        self.state.sessions.contains_key(&session)
    }

    /// Closes `session`, deleting all its ephemeral nodes in one commit.
    pub fn close_session(&mut self, session: SessionId) -> Result<Committed, Error> {
        let record = self
            .state
            .sessions
            .get(&session)
            .ok_or(Error::SessionExpired { session })?;
        let ops: Vec<Op> = record
            .ephemerals
            .iter()
            .map(|path| Op::Delete {
                path: path.clone(),
                expected: None,
            })
            .collect();
        // Ephemerals never have children, so these deletes cannot fail.
        let mut committed = self
            .apply(None, &ops)
            .expect("deleting a session's ephemerals cannot fail");
        committed.results.clear();
        self.state.sessions.remove(&session);
        self.deadlines.remove(session);
        let revision = committed.revision;
        self.record(|| Entry::CloseSession { session, revision });
        Ok(committed)
    }

    /// The open sessions whose deadline is at or before `now`, earliest first: what their
    /// owner, reading its own clock, expires next (with [`Namespace::expire_sessions`]).
    pub fn overdue(&self, now: MonoTime) -> Vec<SessionId> {
        self.deadlines.overdue(now)
    }

    /// Closes each of `sessions` that is still open, in the order given, each in its own
    /// commit: an expiry its owner decided on its clock.
    pub fn expire_sessions(&mut self, sessions: &[SessionId]) -> Vec<(SessionId, Committed)> {
        sessions
            .iter()
            .filter_map(|&session| {
                self.close_session(session)
                    .ok()
                    .map(|committed| (session, committed))
            })
            .collect()
    }

    /// Takes the deadlines `earlier` keeps for the sessions this namespace has: what a store
    /// that rebuilt its state from disk (after taking back a write the disk refused) does,
    /// since heartbeats are not logged and replay alone would give stale deadlines. A
    /// session `earlier` had already ended keeps the deadline replay gave it, long past,
    /// so the next sweep ends it again.
    pub fn keep_deadlines_from(&mut self, earlier: &Namespace) {
        let sessions: Vec<SessionId> = self.state.sessions.keys().copied().collect();
        for id in sessions {
            if let Some(deadline) = earlier.deadlines.get(id) {
                self.deadlines.set(id, deadline);
            }
        }
    }

    /// Restarts the deadline of every persisted session at `now` + its TTL: what recovery
    /// does, so that nobody's session runs out early because the host was down.
    pub fn restart_deadlines(&mut self, now: MonoTime) {
        self.deadlines = Deadlines::default();
        for (id, record) in self.state.sessions.iter() {
            if record.owner == self.local {
                self.deadlines.set(*id, now.after(record.ttl));
            }
        }
    }

    fn require_open(&self, session: SessionId) -> Result<(), Error> {
        if self.is_open(session) {
            Ok(())
        } else {
            Err(Error::SessionExpired { session })
        }
    }

    // ----- watches -----

    /// A fresh watcher id, never handed out before by this namespace.
    pub fn new_watcher(&mut self) -> WatcherId {
        self.last_watcher += 1;
        WatcherId(self.last_watcher)
    }

    /// Registers a watch. `Data` and `Children` need the node to exist (as ZooKeeper's
    /// `getData` and `getChildren`); `Exists` and `Subtree` do not.
    pub fn watch(
        &mut self,
        watcher: WatcherId,
        path: &NodePath,
        kind: WatchKind,
    ) -> Result<(), Error> {
        if matches!(kind, WatchKind::Data | WatchKind::Children) && self.exists(path).is_none() {
            return Err(no_node(path));
        }
        self.watches.add(watcher, path.clone(), kind);
        Ok(())
    }

    /// Removes every watch `watcher` holds.
    pub fn unwatch(&mut self, watcher: WatcherId) {
        self.watches.remove_watcher(watcher);
    }

    /// Every watcher that holds a watch.
    pub fn watchers(&self) -> Vec<WatcherId> {
        self.watches.watchers().collect()
    }

    /// Number of registered watches.
    pub fn watch_count(&self) -> usize {
        self.watches.len()
    }

    /// Number of watches one watcher holds (a component's quota is counted on this).
    pub fn watches_of(&self, watcher: WatcherId) -> usize {
        self.watches.count_of(watcher)
    }

    // ----- writes -----

    /// Creates one node; returns its full path (with any sequence number).
    pub fn create(
        &mut self,
        path: &NodePath,
        data: Data,
        mode: CreateMode,
    ) -> Result<(NodePath, Committed), Error> {
        let op = Op::Create {
            path: path.clone(),
            data,
            mode,
        };
        let committed = self.single(op)?;
        match &committed.results[0] {
            OpResult::Created { path, .. } => Ok((path.clone(), committed)),
            other => unreachable!("a create returned {other:?}"),
        }
    }

    /// Sets one node's data.
    pub fn set(
        &mut self,
        path: &NodePath,
        data: Data,
        expected: Option<u64>,
    ) -> Result<Committed, Error> {
        let op = Op::Set {
            path: path.clone(),
            data,
            expected,
        };
        self.single(op)
    }

    /// Deletes one node.
    pub fn delete(&mut self, path: &NodePath, expected: Option<u64>) -> Result<Committed, Error> {
        let op = Op::Delete {
            path: path.clone(),
            expected,
        };
        self.single(op)
    }

    fn single(&mut self, op: Op) -> Result<Committed, Error> {
        self.multi(None, std::slice::from_ref(&op))
            .map_err(|failed| failed.error)
    }

    /// Applies `ops` all or nothing, after checking `guard` (if any) in the same step.
    ///
    /// On error nothing has changed: not the state, not the revision, not the watches.
    pub fn multi(&mut self, guard: Option<&Guard>, ops: &[Op]) -> Result<Committed, MultiError> {
        let committed = self.apply(guard, ops)?;
        if !committed.changes.is_empty() {
            let revision = committed.revision;
            self.record(|| Entry::Multi {
                ops: ops.to_vec(),
                revision,
            });
        }
        Ok(committed)
    }

    fn apply(&mut self, guard: Option<&Guard>, ops: &[Op]) -> Result<Committed, MultiError> {
        if let Some(guard) = guard {
            self.check_guard(guard)
                .map_err(|error| MultiError { index: None, error })?;
        }
        let mut txn = Txn::new(&mut self.state, self.limits);
        let mut results = Vec::with_capacity(ops.len());
        for (index, op) in ops.iter().enumerate() {
            match txn.apply(op) {
                Ok(result) => results.push(result),
                Err(error) => {
                    txn.roll_back();
                    return Err(MultiError {
                        index: Some(index),
                        error,
                    });
                }
            }
        }
        let changes = txn.finish();
        let revision = self.state.revision;
        let mut events = Vec::new();
        for change in &changes {
            self.watches.fire(change, revision, &mut events);
        }
        Ok(Committed {
            revision,
            results,
            changes,
            events,
        })
    }

    // ----- journal -----

    /// Starts recording every state change as an [`Entry`], for a store to persist.
    pub fn enable_journal(&mut self) {
        self.journal.get_or_insert_with(Vec::new);
    }

    /// The entries recorded since the last call, oldest first.
    pub fn take_journal(&mut self) -> Vec<Entry> {
        self.journal
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Journals the entry `entry` builds, building it only when a journal is kept: a
    /// store's namespace keeps none, and a multi's entry copies all its ops.
    fn record(&mut self, entry: impl FnOnce() -> Entry) {
        if let Some(journal) = &mut self.journal {
            journal.push(entry());
        }
    }

    /// A namespace holding `state`, as loaded from a snapshot, ready for
    /// [`Namespace::replay`]. Its sessions have no deadlines until their owner gives them
    /// some ([`Namespace::restart_deadlines`]): none is overdue before then.
    pub fn from_state(state: State, limits: Limits) -> Self {
        Namespace {
            state,
            limits,
            ..Namespace::default()
        }
    }

    /// Re-applies a journalled change during recovery. Guards are not re-checked (they
    /// held when the change was made), and the result must match the record.
    pub fn replay(&mut self, entry: &Entry) -> Result<(), ReplayError> {
        match entry {
            Entry::OpenSession { session, ttl } => {
                journal::check(session.0, self.state.last_session + 1)?;
                self.open_session(*ttl, MonoTime(u64::MAX))?;
            }
            Entry::CloseSession { session, revision } => {
                let committed = self.close_session(*session)?;
                journal::check(revision.0, committed.revision.0)?;
            }
            Entry::Multi { ops, revision } => {
                let committed = self.multi(None, ops).map_err(|failed| failed.error)?;
                journal::check(revision.0, committed.revision.0)?;
            }
        }
        Ok(())
    }

    fn check_guard(&self, guard: &Guard) -> Result<(), Error> {
        match guard {
            Guard::HoldsTerm {
                ballots,
                session,
                term,
            } => {
                self.require_open(*session)?;
                let leader = self
                    .state
                    .first_child(ballots)
                    .and_then(|name| ballots.child(name).ok())
                    .and_then(|path| self.state.node(&path));
                match leader {
                    Some(node)
                        if node.created == *term && node.ephemeral_owner == Some(*session) =>
                    {
                        Ok(())
                    }
                    other => Err(Error::NotLeader {
                        current: other.map(|node| node.created),
                    }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
