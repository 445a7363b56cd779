//! The runtime: deploys components as actors over the durable elections.
//!
//! One [`Runtime`] owns one store of elections ([`EmbeddedStore`]) and one shared
//! wasmtime engine. Each deployment is an actor (see [`actor`]): a tokio task with a
//! bounded mailbox and its own wasmtime `Store`. Every change an actor or the host makes
//! is a [`ballot_core::command::Command`] proposed to the store's writer; what it causes
//! (election callbacks, watch events) is delivered to the mailboxes from the writer thread
//! once durable, in commit order, so an actor never sees anything that a crash could take
//! back, and never out of order.
//!
//! A host import never waits on its own actor's mailbox: deliveries are `try_send`s, and
//! the outcomes of vote and resign arrive later as callbacks.
//!
//! Each deployment is supervised ([`supervisor`]): its instance runs confined
//! ([`sandbox`]: a deadline per callback, memory limits, quotas, a fence), and when it
//! loses its leadership or session (trap, deadline, expiry, deposition, undeploy) the
//! host throws its fence first, then lets the successor be promoted, then restarts it
//! in a fresh instance (with backoff, up to a crash limit).
//!
//! # Layout
//!
//! - this file: the [`Runtime`] handle; `engine`: the one shared wasmtime engine
//!   ([`new_engine`]) and its epoch ticker;
//! - `deploy`, `swap`, `supervisor`, `actor`: a deployment's life, from compile (on the
//!   blocking pool, cached by content) to restarts; `cache`: the compiled components,
//!   bounded ([`ComponentCache`]);
//! - [`sandbox`] and [`limits`]: deadlines, memory, quotas, fences;
//! - `txn`: transaction functions and commits through lease electors;
//! - [`host_impl`]: the host side of each WIT interface, one file per interface;
//! - [`bindings`]: the wit-bindgen-generated worlds.
#![deny(missing_docs)]

mod actor;
pub mod bindings;
mod bounded;
mod cache;
mod code;
mod compiled;
mod deploy;
mod engine;
mod grants;
pub mod host_impl;
pub mod limits;
pub mod sandbox;
mod supervisor;
mod swap;
pub(crate) mod txn;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use tokio::sync::mpsc::{self, error::TrySendError};
use wasmtime::Engine;
use wasmtime::component::Linker;

use crate::host_impl::HostState;
use ballot_check::history::Recorder;
use ballot_core::command::{Applied, Command};
use ballot_core::election::{Callback, CandidateId, Effects, Elections, Recipient};
use ballot_core::namespace::{MonoTime, SessionId, WatcherId};
use ballot_store::{EffectsSink, EmbeddedStore, Hooks, StoreError};

pub use cache::{ComponentCache, IDLE_COMPONENTS};
pub use code::Code;
pub use compiled::{DISK_CACHE_BYTES, DiskCache, Loaded};
pub use deploy::{DeployError, DeploySpec, DeploymentId, Role};
pub use engine::{
    EPOCH_TICK, MAX_INSTANCES, MAX_MEMORY_BYTES, new_engine, new_engine_without_epochs,
};
pub use limits::{Limits, Quotas, Supervision};
pub use sandbox::{Fence, Interrupted, MemoryGauge, Revocation};
pub use supervisor::DeploymentStatus;
pub use swap::{SwapError, SwapOutcome, SwapReport};
pub use txn::{
    CommitMode, CommitReport, CommitRequest, DEFAULT_TXN_DEADLINE, TxnSource, digest as txn_digest,
    hex as sha256_hex, parse_sha256,
};

use actor::Message;

/// Locks one of the runtime's mutexes, poisoned or not. Each guards a value that every
/// holder leaves whole (a replaced status, a pushed line, a swapped code), so a panic that
/// poisoned it (a component's callback panicking the task that held it) must not take
/// every later caller down with it.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Mailbox capacity of each actor.
pub const MAILBOX: usize = 1024;

/// Whether a candidate deployment's running instance has a ballot in its election. A
/// deployment can run and still be out of its election; its status must say so, or a
/// user sees `running` and no leader and cannot tell why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Standing {
    /// It has a ballot (an observer always counts as in).
    #[default]
    In,
    /// Its component resigned through the election import and has not voted since.
    Resigned,
    /// Its `on-winning-election` failed, so it resigned; the host casts its ballot again
    /// after a backoff that doubles with each refusal in a row.
    WinRefused {
        /// What the callback returned.
        reason: String,
        /// Refusals in a row.
        attempts: u32,
        /// When the host votes again for it.
        votes_again_at: tokio::time::Instant,
    },
}

/// Something that happened to a deployment, for the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimelineEvent {
    /// Deployed, with its session.
    Deployed(String),
    /// A callback was delivered.
    Callback(Delivered),
    /// Its `on-winning-election` returned an error; it resigns.
    WinRefused(String),
    /// After refused wins, the host cast its ballot again (this many refusals in a row).
    StandsAgain(u32),
    /// The host wrote its ack under this term.
    Acked(u64),
    /// Its ballot vanished while it led: this term is revoked.
    Deposed(u64),
    /// Its instance crashed (trap, deadline, memory); its session was closed.
    Trapped(String),
    /// Its instance lost its powers for a reason not its own (deposed, session ended).
    Revoked(String),
    /// New code was swapped in (activated, or trapped right after).
    Swapped(String),
    /// Its mailbox overflowed; what the host did about it.
    Overflow(String),
    /// A fresh instance starts after this wait.
    Restarting(Duration),
    /// Too many crashes: the deployment stays out of elections.
    Failed(String),
    /// Undeployed.
    Undeployed,
}

/// An election callback as the timeline records it: typed, so that whoever waits for one
/// (a test, the demo, a benchmark) matches on the variant and its term rather than on
/// text that changes when a message is reworded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// `on-winning-election` under this term.
    WinningElection {
        /// The term won.
        term: u64,
    },
    /// `on-losing-election`, naming the leader's term.
    LosingElection {
        /// The term of the leader the candidate queues behind.
        leader_term: u64,
    },
    /// `on-new-leader` under this term.
    NewLeader {
        /// The new leader's term.
        term: u64,
    },
    /// `on-leaders-death` of the leader of this term.
    LeadersDeath {
        /// The dead leader's term.
        term: u64,
    },
}

impl std::fmt::Display for Delivered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Delivered::WinningElection { term } => write!(f, "on-winning-election(term {term})"),
            Delivered::LosingElection { leader_term } => {
                write!(f, "on-losing-election(leader term {leader_term})")
            }
            Delivered::NewLeader { term } => write!(f, "on-new-leader(term {term})"),
            Delivered::LeadersDeath { term } => write!(f, "on-leaders-death(term {term})"),
        }
    }
}

/// Timeline lines kept; older ones are dropped (and counted in [`Retained`]).
pub const TIMELINE_CAP: usize = 10_000;

/// Bytes of guest log text kept per deployment; its older lines are dropped first.
pub const LOG_BYTES_PER_DEPLOYMENT: usize = 256 << 10;

/// A deployment's log lines from some number on (see [`Runtime::log_lines`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLines {
    /// (number, line), oldest first. Numbers run across deployments, so they have gaps.
    pub lines: Vec<(u64, String)>,
    /// The number the next line (of any deployment) will get.
    pub next: u64,
}

/// How much the runtime's bounded buffers hold, and what they dropped at their bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retained {
    /// Bytes of guest log text kept, across deployments.
    pub log_bytes: usize,
    /// Guest log lines dropped at a deployment's cap or by its bytes quota.
    pub log_lines_dropped: u64,
    /// Timeline lines dropped at [`TIMELINE_CAP`].
    pub timeline_lines_dropped: u64,
}

/// One timeline line: when, who, what.
#[derive(Debug, Clone)]
pub struct TimelineEntry {
    /// Its number, from 0 in the order lines were added: a cursor that stays valid after
    /// old lines are dropped (see [`Runtime::timeline_from`]).
    pub seq: u64,
    /// Since the runtime started.
    pub at: Duration,
    /// The deployment's name.
    pub deployment: String,
    /// What happened.
    pub event: TimelineEvent,
}

/// Where the host reaches one live instance: its mailbox, and the fence that revokes it.
pub(crate) struct Link {
    mailbox: mpsc::Sender<Message>,
    fence: Arc<Fence>,
    /// The deployment's name and process number, for the histories a revocation records.
    name: String,
    process: u64,
    /// The deployment's id as its user knows it (see [`DeploySpec::public_id`]), to name
    /// it as a leader.
    public_id: u64,
    /// Its election, for the histories a revocation records.
    election: String,
}

/// Which kind of a deployment's acts a recorded op belongs to; see [`recorded_process`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lane {
    /// `elected`: from learning of a win to the end of on-winning-election.
    Election = 0,
    /// `commit`: a guarded commit, which a leader makes inside its election callback.
    Commit = 1,
    /// `resign` and `revoke`: the end of a term, which the host may record while the
    /// deployment's callback is still running.
    Exit = 2,
}

/// The process a deployment's act is recorded under. A history allows one op in flight
/// per process (Jepsen's rule; `ballot check` enforces it on files), but a deployment's
/// acts overlap (it commits inside its election callback, and may be revoked meanwhile),
/// so each kind of act gets a process of its own. The leadership model names leaders by
/// value, not by process, so nothing is lost.
pub(crate) fn recorded_process(deployment: u64, lane: Lane) -> u64 {
    deployment * 3 + lane as u64
}

/// State shared by the runtime, its actors and their host imports.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) store: EmbeddedStore,
    candidate_linker: Linker<HostState>,
    observer_linker: Linker<HostState>,
    txn_linker: Linker<crate::host_impl::TxnState>,
    /// Prepared transaction functions by content hash.
    txn_fns: DashMap<[u8; 32], bindings::txn_fn::TxnFnPre<crate::host_impl::TxnState>>,
    /// Compiled components by content hash: a redeploy of the same bytes skips compiling.
    components: ComponentCache,
    /// Components linked for a world (candidate: true), by content hash: this runtime's
    /// linkers' work, kept while the component is cached or in use.
    prepared: DashMap<(cache::Digest, bool), deploy::Prepared>,
    /// Components (by digest, and whether as a candidate) that have instantiated here:
    /// a deploy or restart of one enters its election while it instantiates.
    instantiated: dashmap::DashSet<(cache::Digest, bool)>,
    /// Live instances, by who the elections address.
    links: DashMap<Recipient, Link>,
    /// Live instances' fences, by session: ending a session revokes its instance.
    session_fences: DashMap<SessionId, Arc<Fence>>,
    /// Whose mailbox each watcher's events go to.
    watch_routes: DashMap<WatcherId, Recipient>,
    deployments: DashMap<DeploymentId, supervisor::Handle>,
    /// Import calls refused because the caller's fence was thrown.
    pub(crate) fenced_refusals: Arc<AtomicU64>,
    /// The runtime the actors run on, whoever deploys them: work started from the writer
    /// thread (not a tokio thread), and every actor, so that a host serving its API on
    /// another runtime never queues callbacks behind requests and streams.
    tokio: tokio::runtime::Handle,
    last_deployment: AtomicU64,
    /// Where deployment numbers started ([`Runtime::number_deployments_from`]).
    last_deployment_base: AtomicU64,
    started: Instant,
    /// The host's name, as `whoami` tells components ([`Runtime::name_host`]).
    host_name: std::sync::OnceLock<String>,
    /// A std mutex: held only to push a line, never across an await. The newest
    /// [`TIMELINE_CAP`] lines.
    timeline: Mutex<bounded::Ring<TimelineEntry>>,
    /// The timeline's cursor after each new line, so waiters wake on a change, not a timer.
    timeline_changes: tokio::sync::watch::Sender<u64>,
    /// Guests' log lines, [`LOG_BYTES_PER_DEPLOYMENT`] bytes per deployment at most.
    logs: Mutex<bounded::LogBuffer>,
    /// The log buffer's next line number after each new line, so followers wake on a
    /// line, not a timer.
    log_changes: tokio::sync::watch::Sender<u64>,
    /// Records elections, guarded commits and resignations for the leadership model.
    pub(crate) recorder: Recorder,
    /// Seconds from submitting a commit to its result, durable.
    commit_latency: Histogram,
}

impl Shared {
    /// Drops idle compiled components beyond the cache's bound: those no deployment runs
    /// and no registered transaction function needs. Called whenever a deployment's code
    /// comes or goes (deploy, swap, undeploy).
    pub(crate) fn evict_idle_components(&self) {
        let mut in_use: std::collections::HashSet<cache::Digest> =
            self.txn_fns.iter().map(|entry| *entry.key()).collect();
        in_use.extend(
            self.deployments
                .iter()
                .map(|handle| handle.deployment.digest()),
        );
        let evicted = self.components.evict_idle(&in_use);
        let kept =
            |digest: &cache::Digest| in_use.contains(digest) || self.components.contains(digest);
        self.prepared.retain(|(digest, _), _| kept(digest));
        self.instantiated.retain(|(digest, _)| kept(digest));
        if evicted > 0 {
            tracing::debug!(evicted, "idle compiled components dropped");
        }
    }

    /// Proposes `command` to the store and waits for what apply decided, durable. What
    /// the command causes reaches the actors through [`EffectSink`]: whoever it deposes
    /// or whose session it ends is revoked in the command's own step on the writer
    /// thread, before anything is delivered; deliveries follow in commit order.
    ///
    /// Submitted at the call (see [`EmbeddedStore::propose_with`]): a deploy instantiates
    /// its component while its entry syncs.
    pub(crate) fn propose(
        &self,
        command: Command,
        hooks: Hooks,
    ) -> impl Future<Output = Result<Applied, StoreError>> + Send + 'static {
        let started = Instant::now();
        let answer = self.store.propose_with(command, hooks);
        let latency = self.commit_latency.clone();
        async move {
            let result = answer.await;
            latency.observe(started.elapsed().as_secs_f64());
            result
        }
    }

    /// The candidate of the running instance of the deployment its user knows as
    /// `public_id` (see [`DeploySpec::public_id`]), if one runs here.
    pub(crate) fn candidate_deployed_as(&self, public_id: u64) -> Option<CandidateId> {
        self.links.iter().find_map(|link| match link.key() {
            Recipient::Candidate(candidate) if link.public_id == public_id => Some(*candidate),
            _ => None,
        })
    }

    /// Throws the fences of the instances `effects` depose or whose sessions they end.
    /// A deposed leader's loss of its term is recorded (`revoke`) for the leadership
    /// model: it is recorded here, before the successor can even hear of its win.
    fn revoke_for(&self, effects: &Effects) {
        for notification in &effects.notifications {
            if let Callback::Deposed { term, cause } = notification.callback
                && let Some(link) = self.links.get(&notification.to)
            {
                link.fence.revoke(Revocation::Deposed(term, cause));
                self.recorder.revoked(
                    recorded_process(link.process, Lane::Exit),
                    &link.election,
                    &link.name,
                    term.0,
                    cause.name(),
                );
            }
        }
        for session in &effects.ended_sessions {
            if let Some(fence) = self.session_fences.get(session) {
                fence.revoke(Revocation::SessionEnded);
            }
        }
        // A leader that ran on another host sharing the namespace: this host records its
        // term's end too, in the step that ends it, so that a merged history holds it
        // even when its own host died without recording anything.
        for deposed in &effects.deposed {
            if let Some(name) = &deposed.name
                && !self.session_fences.contains_key(&deposed.session)
            {
                let base = self
                    .last_deployment_base
                    .load(std::sync::atomic::Ordering::Relaxed);
                self.recorder.revoked(
                    recorded_process(base + 999_999, Lane::Exit),
                    deposed.election.as_str(),
                    name,
                    deposed.term.0,
                    deposed.cause.name(),
                );
            }
        }
    }

    /// Hands notifications and watch events to their actors without waiting. When a
    /// mailbox is full the sender still does not wait: an election callback that cannot
    /// be delivered revokes the instance (its supervisor ends its session and starts it
    /// afresh, so it re-learns where it stands); a watch event that cannot be delivered
    /// drops that actor's watches. Either way the reason is logged.
    pub(crate) fn deliver(self: &Arc<Self>, effects: Effects) {
        for notification in effects.notifications {
            let to = notification.to;
            let Some(link) = self.links.get(&to) else {
                continue;
            };
            if let Err(TrySendError::Full(_)) = link
                .mailbox
                .try_send(Message::Notify(notification.callback))
            {
                tracing::error!(deployment = %link.name, "mailbox full: an election callback could not be delivered; the instance is revoked");
                link.fence.revoke(Revocation::MailboxOverflow);
                self.note(
                    &link.name,
                    TimelineEvent::Overflow("an election callback was lost: revoked".into()),
                );
            }
        }
        for event in effects.watch_events {
            let watcher = event.watcher;
            let Some(to) = self.watch_routes.get(&watcher).map(|r| *r) else {
                continue;
            };
            let Some(link) = self.links.get(&to) else {
                continue;
            };
            if let Err(TrySendError::Full(_)) = link.mailbox.try_send(Message::Event(event)) {
                tracing::error!(deployment = %link.name, "mailbox full: its watches are dropped");
                self.note(
                    &link.name,
                    TimelineEvent::Overflow("a watch event was lost: watches dropped".into()),
                );
                self.watch_routes.remove(&watcher);
                let me = self.clone();
                self.tokio.spawn(async move {
                    let _ = me.store.propose(Command::Unwatch { watcher }).await;
                });
            }
        }
    }

    /// Adds a timeline line.
    pub(crate) fn note(&self, deployment: &str, event: TimelineEvent) {
        tracing::info!(deployment, ?event, "timeline");
        let mut timeline = lock(&self.timeline);
        let entry = TimelineEntry {
            seq: timeline.next(),
            at: self.started.elapsed(),
            deployment: deployment.to_string(),
            event,
        };
        timeline.push(entry);
        self.timeline_changes.send_replace(timeline.next());
    }

    /// A leader as WIT, naming its deployment when the leader is one of this host's.
    pub(crate) fn wit_leader(
        &self,
        leader: &ballot_core::election::Leader,
    ) -> bindings::wit::Leader {
        let deployment = self
            .links
            .get(&Recipient::Candidate(leader.candidate))
            .map(|link| bindings::wit::DeploymentRef {
                id: link.public_id,
                name: link.name.clone(),
            });
        host_impl::to_wit_leader(leader, deployment)
    }

    /// The host's name (see [`Runtime::name_host`]).
    pub(crate) fn host_name(&self) -> &str {
        self.host_name.get().map_or("local", String::as_str)
    }

    /// Counts a guest's log line dropped by its bytes quota.
    pub(crate) fn note_dropped_log(&self) {
        lock(&self.logs).note_dropped();
    }

    /// Lets the log lines kept for deployments named `deployment` go (the last of them was
    /// undeployed), so what a deployment logged costs memory only while it is deployed.
    pub(crate) fn forget_logs(&self, deployment: &str) {
        lock(&self.logs).forget(deployment);
    }

    /// Keeps a guest's log line for [`Runtime::logs`].
    pub(crate) fn record_log(&self, deployment: &str, message: &str) {
        let next = {
            let mut logs = lock(&self.logs);
            logs.push(deployment, message);
            logs.next()
        };
        self.log_changes.send_replace(next);
    }
}

/// The runtime's side of the store's effects: revocations in the step, deliveries once
/// durable (see [`EffectsSink`]). Weak, so the store does not keep its runtime alive.
struct EffectSink(std::sync::Weak<Shared>);

impl EffectsSink for EffectSink {
    fn applied(&self, effects: &Effects) {
        if let Some(shared) = self.0.upgrade() {
            shared.revoke_for(effects);
        }
    }

    fn durable(&self, effects: Effects) {
        if let Some(shared) = self.0.upgrade() {
            shared.deliver(effects);
        }
    }
}

/// The host runtime: deploy and undeploy components; they run as actors over the store.
pub struct Runtime {
    shared: Arc<Shared>,
    sweeper: tokio::task::JoinHandle<()>,
}

/// How often expired sessions are swept.
const SWEEP: Duration = Duration::from_millis(20);

impl Runtime {
    /// A runtime over `store`, running components on `engine` (share one engine per
    /// process). Must be called inside a tokio runtime.
    ///
    /// With `recorder` on, the runtime records every election (`elected`, invoked when
    /// on-winning-election starts, ok once the ack is written), every guarded commit
    /// (`commit`, ok or fail) and every leader's resignation (`resign`), each under the
    /// deployment's process number, for [`ballot_check`]'s leadership model.
    pub fn new(
        engine: Engine,
        store: EmbeddedStore,
        recorder: Recorder,
    ) -> Result<Self, DeployError> {
        Self::with_component_cache(engine, store, recorder, ComponentCache::default())
    }

    /// [`Runtime::new`] with a component cache shared with other runtimes on the same
    /// engine.
    pub fn with_component_cache(
        engine: Engine,
        store: EmbeddedStore,
        recorder: Recorder,
        components: ComponentCache,
    ) -> Result<Self, DeployError> {
        let candidate_linker = deploy::candidate_linker(&engine)?;
        let observer_linker = deploy::observer_linker(&engine)?;
        let txn_linker = txn::txn_linker(&engine)?;
        let shared = Arc::new(Shared {
            engine,
            store,
            candidate_linker,
            observer_linker,
            txn_linker,
            txn_fns: DashMap::new(),
            components,
            prepared: DashMap::new(),
            instantiated: dashmap::DashSet::new(),
            links: DashMap::new(),
            session_fences: DashMap::new(),
            watch_routes: DashMap::new(),
            deployments: DashMap::new(),
            fenced_refusals: Arc::default(),
            tokio: tokio::runtime::Handle::current(),
            last_deployment: AtomicU64::new(0),
            last_deployment_base: AtomicU64::new(0),
            started: Instant::now(),
            host_name: std::sync::OnceLock::new(),
            timeline: Mutex::new(bounded::Ring::new(TIMELINE_CAP)),
            timeline_changes: tokio::sync::watch::Sender::new(0),
            logs: Mutex::new(bounded::LogBuffer::new(LOG_BYTES_PER_DEPLOYMENT)),
            log_changes: tokio::sync::watch::Sender::new(0),
            recorder,
            commit_latency: Histogram::new(exponential_buckets(50e-6, 2.0, 16)),
        });
        if shared
            .store
            .set_sink(Arc::new(EffectSink(Arc::downgrade(&shared))))
            .is_err()
        {
            return Err(DeployError::StoreInUse);
        }
        let sweeper = {
            let shared = shared.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(SWEEP);
                loop {
                    every.tick().await;
                    let swept = shared.store.expire_overdue().await;
                    if swept.is_err() {
                        break;
                    }
                }
            })
        };
        Ok(Runtime { shared, sweeper })
    }

    /// Deploys a component: compile (cached by content hash), check it against its
    /// world, instantiate, open its session, join the election (or observe it), start its
    /// actor, and cast its ballot. A malformed component is refused and nothing changes.
    pub async fn deploy(&self, spec: DeploySpec) -> Result<DeploymentId, DeployError> {
        deploy::deploy(&self.shared, spec).await
    }

    /// Undeploys: revokes the instance (interrupting a running callback), then resigns
    /// and closes the session (its ephemerals go) in one step, and stops supervising.
    pub async fn undeploy(&self, id: DeploymentId) -> Result<(), DeployError> {
        supervisor::undeploy(&self.shared, id).await
    }

    /// How many import calls were refused because their instance had been revoked: each
    /// is an effect a deposed or crashed component tried and the fence stopped.
    pub fn fenced_refusals(&self) -> u64 {
        self.shared
            .fenced_refusals
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Hot-swaps a running deployment's code, keeping its session, ballot and term (see
    /// the `swap` module). On any error the old code keeps running.
    pub async fn swap(&self, id: DeploymentId, wasm: &[u8]) -> Result<SwapReport, SwapError> {
        swap::swap(&self.shared, id, wasm).await
    }

    /// Where a deployment stands: running (and on which session), restarting, or failed
    /// and why. `None` for an unknown or undeployed one.
    pub fn status(&self, id: DeploymentId) -> Option<DeploymentStatus> {
        self.shared
            .deployments
            .get(&id)
            .map(|handle| handle.status())
    }

    /// Whether the deployment's running instance has a ballot; `None` when none runs.
    pub fn standing(&self, id: DeploymentId) -> Option<Standing> {
        let handle = self.shared.deployments.get(&id)?;
        handle.current()?;
        Some(lock(&handle.deployment.standing).clone())
    }

    /// Bytes of linear memory the deployment's running instance holds; `None` when no
    /// instance runs (restarting, failed, unknown).
    pub fn memory_bytes(&self, id: DeploymentId) -> Option<u64> {
        self.shared
            .deployments
            .get(&id)
            .and_then(|handle| handle.memory_bytes())
    }

    /// The timeline as kept: its newest [`TIMELINE_CAP`] lines.
    pub fn timeline(&self) -> Vec<TimelineEntry> {
        self.timeline_from(0)
    }

    /// The kept timeline lines numbered `cursor` or later: follow the timeline with
    /// [`Runtime::timeline_cursor`] taken before the change you wait for.
    pub fn timeline_from(&self, cursor: u64) -> Vec<TimelineEntry> {
        lock(&self.shared.timeline).from(cursor)
    }

    /// Wakes on every new timeline line (its value is [`Runtime::timeline_cursor`] after
    /// the line): subscribe, look at the timeline, then await `changed()`, and no line
    /// can slip between the look and the wait.
    pub fn timeline_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.timeline_changes.subscribe()
    }

    /// Waits, at most until `deadline`, for the first timeline line numbered `from` or
    /// later that `pick` accepts, waking on each new line rather than on a timer. `None`
    /// when the deadline passes first. Tests, the demo and the benchmarks all wait for the
    /// runtime this way, on typed events.
    pub async fn next_in_timeline(
        &self,
        from: u64,
        deadline: tokio::time::Instant,
        pick: impl Fn(&TimelineEntry) -> bool,
    ) -> Option<TimelineEntry> {
        let mut changes = self.timeline_changes();
        loop {
            if let Some(found) = self.timeline_from(from).into_iter().find(&pick) {
                return Some(found);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return None,
            }
        }
    }

    /// The number the next timeline line will get.
    pub fn timeline_cursor(&self) -> u64 {
        lock(&self.shared.timeline).next()
    }

    /// Guest log lines as kept, oldest first: (deployment, message). Each deployment's are
    /// capped at [`LOG_BYTES_PER_DEPLOYMENT`], its oldest dropped first, and go when the
    /// deployment is undeployed.
    pub fn logs(&self) -> Vec<(String, String)> {
        lock(&self.shared.logs).all()
    }

    /// The kept log lines of the deployment named `deployment` numbered `after` or later,
    /// oldest first, and the number the next line will get (follow from there).
    pub fn log_lines(&self, deployment: &str, after: u64) -> LogLines {
        let logs = lock(&self.shared.logs);
        LogLines {
            lines: logs.lines_of(deployment, after),
            next: logs.next(),
        }
    }

    /// The log buffer's next line number, changing with every new line: to wait for a
    /// deployment's next line without polling.
    pub fn log_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.log_changes.subscribe()
    }

    /// What the timeline and the log buffer hold and have dropped at their bounds.
    pub fn retained(&self) -> Retained {
        let logs = lock(&self.shared.logs);
        let timeline = lock(&self.shared.timeline);
        Retained {
            log_bytes: logs.bytes(),
            log_lines_dropped: logs.dropped(),
            timeline_lines_dropped: timeline.dropped(),
        }
    }

    /// The latest durable namespace state.
    pub fn state(&self) -> ballot_core::namespace::State {
        self.shared.store.published()
    }

    /// On a shared log, the position of the last batch this replica applied (see
    /// [`EmbeddedStore::applied_position`]).
    pub fn applied_position(&self) -> u64 {
        self.shared.store.applied_position()
    }

    /// Why the store stopped taking changes, if it did: the disk refused a write, or (on a
    /// shared log) the replica diverged (see [`EmbeddedStore::halted`]).
    pub fn halted(&self) -> Option<String> {
        self.shared.store.halted()
    }

    /// Why the store refuses changes for now, while its disk is full (see
    /// [`EmbeddedStore::degraded`]); it takes changes again by itself.
    pub fn degraded(&self) -> Option<String> {
        self.shared.store.degraded()
    }

    /// Follows the durable state (see [`EmbeddedStore::subscribe`]).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<ballot_core::namespace::State> {
        self.shared.store.subscribe()
    }

    /// Proposes `command` through the store, like any import call, and delivers what it
    /// causes to the actors: for the host's own operations (the HTTP API) and for tests.
    pub async fn propose(&self, command: Command) -> Result<Applied, StoreError> {
        self.shared.propose(command, Hooks::default()).await
    }

    /// Reads what only the elections know (where a candidate stands), in order with the
    /// commands around it (see [`EmbeddedStore::inspect`]).
    pub async fn inspect<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Elections, MonoTime) -> R + Send + 'static,
    ) -> Result<R, StoreError> {
        self.shared.store.inspect(f).await
    }

    /// Names the host the runtime runs on, for components that ask who and where they are
    /// (`ballot:election/deployment`); the first name given sticks. Unnamed, it is
    /// `local`.
    pub fn name_host(&self, name: impl Into<String>) {
        let _ = self.shared.host_name.set(name.into());
    }

    /// Time since the runtime started: the clock of [`TimelineEntry::at`].
    pub fn uptime(&self) -> Duration {
        self.shared.started.elapsed()
    }

    /// Instantiates a candidate component outside any actor, with a throwaway identity:
    /// for measuring raw host-to-guest call costs.
    /// With `confined`, the store runs under the sandbox's epoch callback (yielding to
    /// tokio every [`EPOCH_TICK`], no deadline); without, the epoch deadline is never
    /// reached, so the instance runs as if nothing watched it.
    pub async fn bare_candidate(
        &self,
        wasm: &[u8],
        confined: bool,
    ) -> Result<(wasmtime::Store<HostState>, bindings::candidate::Candidate), DeployError> {
        deploy::bare_candidate(&self.shared, wasm, confined).await
    }

    /// Latency of the runtime's commits (imports that write, deploys, retirements,
    /// sweeps), submit to durable result; a handle onto the live histogram, for metrics.
    pub fn commit_latency(&self) -> Histogram {
        self.shared.commit_latency.clone()
    }

    /// The ids of the deployments currently supervised.
    pub fn deployments(&self) -> Vec<DeploymentId> {
        let mut ids: Vec<_> = self.shared.deployments.iter().map(|e| *e.key()).collect();
        ids.sort();
        ids
    }

    /// Commits through a lease elector, with given operations or a transaction
    /// function's (see the `txn` module): guarded, speculative, or a preview. Refused
    /// commits write nothing.
    pub async fn commit(
        &self,
        request: CommitRequest,
    ) -> Result<CommitReport, ballot_core::commit::CommitError> {
        txn::commit(&self.shared, request, None, None).await
    }

    /// Registers a transaction function so that components can commit with it, naming it
    /// by the SHA-256 of its wasm (returned as 64 lowercase hex digits). Registering the
    /// same bytes again is a no-op; a component that is not a `txn-fn` is refused.
    /// Hashing and compiling run on the blocking pool, never on an async worker.
    pub async fn register_txn_fn(&self, wasm: &[u8]) -> Result<String, DeployError> {
        let (hash, _) = txn::validate(&self.shared, wasm, txn::Keep::Registered).await?;
        Ok(txn::hex(&hash))
    }

    /// Kills a deployment's running instance, as `kill -9` kills a process under a
    /// supervisor that restarts it: its powers are revoked at once (an import call in
    /// flight is refused, a running callback is interrupted at the next epoch tick), it
    /// leaves its election and its session closes, and a fresh instance starts at once on
    /// a new session. A kill is not the component's fault, so it does not count towards
    /// the crash limit. Returns the session of the instance it killed; `NotRunning` if
    /// none was running (restarting or failed), which changes nothing. For chaos tests
    /// and operators unsticking a worker.
    pub fn kill(&self, id: DeploymentId) -> Result<SessionId, DeployError> {
        let handle = self
            .shared
            .deployments
            .get(&id)
            .ok_or(DeployError::Unknown(id))?;
        let current = handle.current().ok_or(DeployError::NotRunning(id))?;
        if !current.fence.revoke(sandbox::Revocation::Killed) {
            // Already on its way out for another reason.
            return Err(DeployError::NotRunning(id));
        }
        Ok(current.identity.session)
    }

    /// The candidate a deployment's running instance stands as: what a handoff to that
    /// deployment names. `NotRunning` for an observer, or a deployment with no instance.
    pub fn candidate_of(&self, id: DeploymentId) -> Result<CandidateId, DeployError> {
        let handle = self
            .shared
            .deployments
            .get(&id)
            .ok_or(DeployError::Unknown(id))?;
        handle
            .current()
            .and_then(|current| current.identity.candidate)
            .ok_or(DeployError::NotRunning(id))
    }

    /// The deployment whose running instance is `candidate`, if any (a candidate may
    /// also be an HTTP client's).
    pub fn deployment_of(&self, candidate: CandidateId) -> Option<DeploymentId> {
        self.shared.deployments.iter().find_map(|entry| {
            let current = entry.value().current()?;
            (current.identity.candidate == Some(candidate)).then_some(*entry.key())
        })
    }

    /// Numbers this runtime's deployments from `base` on (before any is deployed): hosts
    /// that share a namespace give each its own range, so the processes of their recorded
    /// histories never collide when the histories are merged.
    pub fn number_deployments_from(&self, base: u64) {
        self.shared
            .last_deployment
            .fetch_max(base, std::sync::atomic::Ordering::Relaxed);
        self.shared
            .last_deployment_base
            .store(base, std::sync::atomic::Ordering::Relaxed);
    }

    /// The leaders running here, by deployment name and term: what this host's heartbeat
    /// tells its peers.
    pub fn leaders(&self) -> Vec<(String, u64)> {
        self.shared
            .links
            .iter()
            .filter(|link| !link.fence.is_revoked())
            .filter_map(|link| Some((link.name.clone(), link.fence.leading()?)))
            .collect()
    }

    /// Revokes every instance on this host at once, leaders first recorded as revoked: what
    /// a host does when it fences itself (it lost the shared log for its TTL, so its peers
    /// may already have expired it and elected successors). Its supervisors then retire and
    /// restart them, which the log admits again once the host has rejoined.
    pub fn fence_all(&self) -> usize {
        let mut revoked = 0;
        for link in self.shared.links.iter() {
            if link.fence.revoke(sandbox::Revocation::HostFenced) {
                revoked += 1;
                if let Some(term) = link.fence.leading() {
                    self.shared.recorder.revoked(
                        recorded_process(link.process, Lane::Exit),
                        &link.election,
                        &link.name,
                        term,
                        sandbox::Revocation::HostFenced.cause(),
                    );
                }
            }
        }
        revoked
    }

    /// The number of compiled components in the cache.
    pub fn cached_components(&self) -> usize {
        self.shared.components.len()
    }

    /// The component cache, with its counts of compiles and of loads from disk.
    pub fn component_cache(&self) -> &ComponentCache {
        &self.shared.components
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.sweeper.abort();
    }
}
