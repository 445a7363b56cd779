//! The embedded store, ballot's default: the namespace in memory, every change in a
//! write-ahead log on local disk.
//!
//! One writer thread owns the in-memory head. It stamps each proposed [`Command`] with the
//! clock's time and applies it with the core's `apply` (a precondition in [`Hooks`] may
//! withdraw it first), hands what it caused to the [`EffectsSink`] in the same step, gathers
//! the command and its stamp as a log [`Entry`] (if the log must keep it), and makes each
//! batch durable through the [`Log`] trait, one write and one sync ([`group`]), before it
//! publishes the new state and releases anyone's result. Readers only ever see the last
//! published, durable state. The writer knows the log only through that trait: here it is
//! the write-ahead log ([`Wal`]: segments of framed records, one `fdatasync` per batch),
//! and every so many records it hands a clone of the elections to a background thread
//! that saves a snapshot through [`crate::Snapshots`] ([`WalSnapshots`], which deletes the
//! segments it covers). Opening a folder opens the log (cutting a torn tail) and rebuilds
//! the state with [`crate::log::replay`], through the same `apply`. The simulator opens the
//! same store with no threads and steps the writer and the snapshotter itself (`stepper`).
//!
//! The same writer also runs on a log that many hosts share ([`EmbeddedStore::open_shared`],
//! the `shared` module): there it forms and appends batches, and applies every batch, its
//! own and other hosts', only in the order the log hands them back.

mod files;
mod frame;
mod full_disk;
pub mod group;
mod layout;
mod pipeline;
mod record;
mod shared;
mod snapshotter;
mod stepper;
mod wal;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};

use crossbeam_channel::{Receiver, RecvTimeoutError, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::Clock;
use crate::log::{self, Entry, Log};
use ballot_core::command::{Applied, Command, Outcome, Refusal, apply};
use ballot_core::election::{Effects, Elections};
use ballot_core::namespace::{Committed, Guard, Limits, MonoTime, Op, Revision, SessionId, State};

use super::{Store, StoreError};

pub use files::{AppendFile, CrashMode, Fault, FileSystem, RealFs, SimFs};
pub use frame::FORMAT_VERSION;

use group::{GroupCommit, Step};
pub use shared::{Appended, Checkpoint, Feeder, Sequenced, SharedLog};
pub use snapshotter::WalSnapshots;
pub use stepper::{SharedStepper, Stepper};
pub use wal::{Opened, Wal};

/// Settings of an embedded store.
#[derive(Debug, Clone)]
pub struct Options {
    /// `fdatasync` every batch before acknowledging it. Turning this off loses
    /// acknowledged commits on a power cut; it exists only so a test can show that.
    pub sync: bool,
    /// Sync each batch on a second thread while the writer applies the next one (see
    /// [`pipeline`]); the same guarantees either way. Off by default: on this project's
    /// 2-core machines it split 64 clients into two half-size batches and each fdatasync
    /// costs CPU there too, so it made 0.70-1.04x the sequential writer's commits/s
    /// (0.71x and 0.78x in the last two runs; `bench store` measures both). It pays
    /// where building a batch takes about as long as syncing it.
    pub pipeline: bool,
    /// Records between snapshots.
    pub snapshot_every: u64,
    /// Log bytes between snapshots: a log of few large records is snapshotted by its
    /// size, so recovery never reads much more than this (about one segment more after
    /// a restart, which counts only the last segment).
    pub snapshot_bytes: u64,
    /// A segment is rolled over once it is this long.
    pub segment_bytes: u64,
    /// Commands per batch, at most.
    pub max_batch: usize,
    /// The namespace's limits.
    pub limits: Limits,
    /// Requests waiting for the writer, at most; one more is refused with
    /// [`StoreError::Overloaded`] rather than queued, so a flood of clients costs them a
    /// clear refusal instead of costing the host its memory.
    pub max_queued: usize,
    /// On a shared log, how long a batch whose append was not confirmed (it may or may
    /// not have landed) waits to come back in the log's order before its waiters are told
    /// that its outcome is unknown.
    pub unconfirmed_wait: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sync: true,
            pipeline: false,
            snapshot_every: 100_000,
            snapshot_bytes: 64 << 20,
            segment_bytes: 64 << 20,
            max_batch: 4096,
            limits: Limits::default(),
            max_queued: 65_536,
            unconfirmed_wait: Duration::from_secs(3),
        }
    }
}

/// Runs a long-lived task (the writer, the snapshotter). Injected so that a simulator can
/// run them where it wants; [`thread_spawner`] is the default.
pub type Spawner = Arc<dyn Fn(Box<dyn FnOnce() + Send>) + Send + Sync>;

/// Runs each task on its own named OS thread.
pub fn thread_spawner() -> Spawner {
    Arc::new(|task| {
        std::thread::Builder::new()
            .name("ballot-store".into())
            .spawn(task)
            .expect("spawning a store thread");
    })
}

type Waiter = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn FnOnce(Result<(&mut Elections, MonoTime), String>, &Shared) -> Ran + Send>;

/// What a writer job left behind: who waits for its batch, and the entry the log must
/// keep, if any.
struct Ran {
    waiter: Waiter,
    logged: Option<Entry>,
}

impl Ran {
    fn unlogged(waiter: Waiter) -> Self {
        Ran {
            waiter,
            logged: None,
        }
    }
}

/// Who hears what applied commands cause, for every command from every caller: the
/// runtime, which revokes and delivers. Both methods run on the writer thread and must not
/// block.
pub trait EffectsSink: Send + Sync {
    /// In the step that applied the command, before anything of it is durable or
    /// released: where a deposed leader's powers are revoked, so that nothing it does
    /// afterwards takes effect and its successor cannot hear of its win first.
    fn applied(&self, effects: &Effects);
    /// Once the command is durable, in commit order, before its result is released.
    fn durable(&self, effects: Effects);
}

/// A local precondition of a proposal, checked in the writer step against the elections
/// just before the command applies (it reads, never writes): how a host refuses a
/// command from an instance it revoked while the command waited in the queue.
pub type Admit = Box<dyn FnOnce(&Elections, MonoTime) -> Result<(), Refusal> + Send>;

/// Called in the writer step with what apply decided, before anything is released: for
/// recording the step's outcome where it happened (the leadership history).
pub type OnApplied = Box<dyn FnOnce(&Applied) + Send>;

/// Optional hooks of one proposal (see [`Admit`] and [`OnApplied`]).
#[derive(Default)]
pub struct Hooks {
    /// Checked just before apply; a refusal means the command never applied.
    pub admit: Option<Admit>,
    /// Told what apply decided, in the step (before it is durable).
    pub applied: Option<OnApplied>,
    /// Told what apply decided once it is durable and published, before what it caused
    /// is delivered: for what readers must not see ahead of the state (a timeline line).
    pub durable: Option<OnApplied>,
}

impl Hooks {
    /// Only a precondition.
    pub fn admit(
        admit: impl FnOnce(&Elections, MonoTime) -> Result<(), Refusal> + Send + 'static,
    ) -> Self {
        Hooks {
            admit: Some(Box::new(admit)),
            ..Hooks::default()
        }
    }
}

/// What a proposal applies: a caller's command, or the expiry of every session overdue
/// on the writer's clock, which the writer names in the step (the owner's decision).
enum Proposed {
    Command(Command),
    ExpireOverdue,
}

/// A caller's proposal, as the writer receives it.
struct Proposal {
    proposed: Proposed,
    hooks: Hooks,
    reply: Box<dyn FnOnce(Result<Applied, String>) + Send>,
}

impl Proposal {
    fn new(
        proposed: Proposed,
        hooks: Hooks,
        reply: impl FnOnce(Result<Applied, String>) + Send + 'static,
    ) -> Self {
        Proposal {
            proposed,
            hooks,
            reply: Box::new(reply),
        }
    }

    /// The writer job of the proposal on a store that owns its log: admit, apply, tell the
    /// sink and the hook; the reply gets the outcome once the batch it joined is durable
    /// (or has failed).
    fn into_job(self) -> Job {
        let Proposal {
            proposed,
            hooks,
            reply,
        } = self;
        Box::new(move |target, shared: &Shared| match target {
            Ok((el, now)) => {
                let command = match proposed {
                    Proposed::Command(command) => command,
                    Proposed::ExpireOverdue => Command::ExpireSessions {
                        sessions: el.namespace().overdue(now),
                    },
                };
                let admitted = match hooks.admit {
                    Some(admit) => admit(el, now),
                    None => Ok(()),
                };
                let (applied, effects) = match admitted {
                    Ok(()) => apply(el, &command, now),
                    Err(refused) => (Err(refused), Effects::default()),
                };
                let sink = shared.sink.get().cloned();
                if let Some(sink) = &sink {
                    sink.applied(&effects);
                }
                if let Some(hook) = hooks.applied {
                    hook(&applied);
                }
                let logged = command
                    .is_logged(&applied)
                    .then_some(Entry { at: now, command });
                let on_durable = hooks.durable;
                let waiter: Waiter = Box::new(move |flushed: Result<(), String>| {
                    if flushed.is_ok() {
                        if let Some(hook) = on_durable {
                            hook(&applied);
                        }
                        if let Some(sink) = sink {
                            sink.durable(effects);
                        }
                    }
                    reply(flushed.map(|()| applied))
                });
                Ran { waiter, logged }
            }
            Err(failure) => Ran::unlogged(Box::new(move |_| reply(Err(failure)))),
        })
    }
}

/// Tells a waiter how its batch went. A panic in it (a caller's durable hook) is logged
/// and goes no further: the batch's outcome is settled and the state consistent, and the
/// waiters after it must still hear theirs.
fn tell(waiter: Waiter, outcome: Result<(), String>) {
    answer(|| waiter(outcome));
}

/// Runs what answers a caller once the outcome is settled (its durable hook, the sink's
/// delivery, its reply), containing a panic in it: logged, and the caller gets no answer.
pub(super) fn answer(what: impl FnOnce()) {
    if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(what)) {
        tracing::error!(
            panic = panic_message(panic.as_ref()),
            "answering a settled command panicked; its caller gets no answer"
        );
    }
}

/// A caller's answer as the writer sent it: the outcome, the writer's failure, or (the
/// reply dropped unsent) a closed store.
fn answered<T, Dropped>(received: Result<Result<T, String>, Dropped>) -> Result<T, StoreError> {
    match received {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(failure)) => Err(StoreError::Failed(failure)),
        Err(_) => Err(StoreError::Closed),
    }
}

/// Runs `step`, a step of a writer that changes the head (`writer` names whose, and
/// `refuser` who then refuses changes). A panic in it may have left the head half changed,
/// so it halts the store: the reason is set as the store's `halted`, logged, and returned
/// for the caller to refuse with. The process lives on to say why.
fn halt_on_panic<R>(
    shared: &Shared,
    writer: &str,
    refuser: &str,
    step: impl FnOnce() -> R,
) -> Result<R, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)).map_err(|panic| {
        let why = format!(
            "a step of {writer} panicked ({}), so the state it was changing cannot be \
             trusted: {refuser} refuses every change until it is restarted",
            panic_message(panic.as_ref())
        );
        tracing::error!(%why, "the store halted");
        let _ = shared.halted.set(why.clone());
        why
    })
}

/// What a caught panic said, when it said it in words.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("without a message")
}

/// The writer job of a read of the head: `reply` gets the answer once everything it saw
/// is durable.
fn inspection<R: Send + 'static>(
    f: impl FnOnce(&Elections, MonoTime) -> R + Send + 'static,
    reply: impl FnOnce(Result<R, String>) + Send + 'static,
) -> Job {
    Box::new(move |target, _: &Shared| match target {
        Ok((el, now)) => {
            let answer = f(el, now);
            Ran::unlogged(Box::new(move |flushed: Result<(), String>| {
                reply(flushed.map(|()| answer))
            }))
        }
        Err(failure) => Ran::unlogged(Box::new(move |_| reply(Err(failure)))),
    })
}

enum Request {
    /// A proposal. With `sweep`, the writer first expires whatever is overdue; without,
    /// it is an expiry ([`EmbeddedStore::submit_expiry`]), which answers with the sessions
    /// it ended itself, or the restart at open, which gives every session a full TTL again.
    Propose {
        proposal: Proposal,
        sweep: bool,
    },
    /// A read of the head: the writer first expires whatever is overdue.
    Inspect(Job),
    Snapshot(Sender<Result<u64, StoreError>>),
    /// A batch in the order of a shared log (see [`shared`]), from any host.
    Sequenced(shared::Sequenced),
    /// What a shared log's machinery asks of the writer besides batches.
    Control(shared::Control),
}

/// What recovery found when the store was opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Log records replayed on top of the newest snapshot.
    pub replayed: u64,
    /// A torn tail cut from the last segment: the file and how many bytes.
    pub cut: Option<(PathBuf, u64)>,
}

/// Counters of the writer's work.
#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    records: AtomicU64,
}

struct Shared {
    /// The latest durable state; a watch channel, so followers (the server's event
    /// feed) hear of each newly published state without polling.
    published: tokio::sync::watch::Sender<State>,
    /// On a shared log, the position of the last batch applied (0 otherwise).
    position: AtomicU64,
    counters: Counters,
    /// Set once, by whoever delivers effects (the runtime).
    sink: std::sync::OnceLock<Arc<dyn EffectsSink>>,
    /// Why the store stopped taking changes, once it did (see [`EmbeddedStore::halted`]).
    halted: std::sync::OnceLock<String>,
    /// Why the store refuses changes for now (see [`EmbeddedStore::degraded`]).
    degraded: Mutex<Option<String>>,
}

/// The embedded store: the elections in memory, every change a [`Command`] made durable
/// in the write-ahead log before anyone sees it.
pub struct EmbeddedStore {
    requests: Arc<Mutex<Option<crossbeam_channel::Sender<Request>>>>,
    max_queued: usize,
    shared: Arc<Shared>,
    stopped: Mutex<Option<mpsc::Receiver<()>>>,
    recovery: RecoveryReport,
    dir: PathBuf,
}

/// A recovered store with its writer not yet running.
struct Parts {
    store: EmbeddedStore,
    writer: Writer,
    requests: Receiver<Request>,
    snapshots: mpsc::Receiver<snapshotter::Task>,
    snapshot_files: WalSnapshots,
    lock: Box<dyn Send + Sync>,
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store in `dir` on the real file system, recovering
    /// what is there.
    pub fn open(dir: &Path, clock: Arc<dyn Clock>, options: Options) -> Result<Self, StoreError> {
        Self::open_with(dir, Arc::new(RealFs), clock, options, thread_spawner())
    }

    /// Opens the store with every dependency injected.
    pub fn open_with(
        dir: &Path,
        fs: Arc<dyn FileSystem>,
        clock: Arc<dyn Clock>,
        options: Options,
        spawn: Spawner,
    ) -> Result<Self, StoreError> {
        let parts = Self::open_parts(dir, fs, clock, options, false)?;
        let Parts {
            store,
            writer,
            requests,
            snapshots,
            snapshot_files,
            lock,
        } = parts;
        let (snapshot_done_tx, snapshot_done_rx) = mpsc::channel::<()>();
        spawn(Box::new(move || {
            snapshotter::run(Arc::new(snapshot_files), snapshots);
            drop(snapshot_done_tx);
        }));
        let (stopped_tx, stopped_rx) = mpsc::channel::<()>();
        spawn(Box::new(move || {
            writer.run(requests);
            // The snapshotter ends when the writer drops its sender; wait for it so that a
            // reopened store never races an old snapshot write.
            let _ = snapshot_done_rx.recv();
            drop(lock);
            drop(stopped_tx);
        }));
        *store.stopped.lock().unwrap_or_else(|p| p.into_inner()) = Some(stopped_rx);
        Ok(store)
    }

    /// Opens the store for the simulator: no threads; the returned [`Stepper`] runs the
    /// writer and the snapshotter one phase at a time, so a crash can land between a
    /// batch's write and its fdatasync. With `ack_before_sync` (a planted bug, sim only)
    /// the writer publishes and releases a batch before syncing it.
    pub fn open_stepped(
        dir: &Path,
        fs: Arc<dyn FileSystem>,
        clock: Arc<dyn Clock>,
        options: Options,
        ack_before_sync: bool,
    ) -> Result<(Self, Stepper), StoreError> {
        let parts = Self::open_parts(dir, fs, clock, options, ack_before_sync)?;
        let stepper = Stepper {
            writer: parts.writer,
            requests: parts.requests,
            snapshots: parts.snapshots,
            snapshot_files: parts.snapshot_files,
            written: None,
            renamed: None,
            _lock: parts.lock,
        };
        Ok((parts.store, stepper))
    }

    /// Recovers `dir` and builds the store, its writer and the writer's channels, running
    /// nothing: the callers decide where the writer and the snapshotter run.
    fn open_parts(
        dir: &Path,
        fs: Arc<dyn FileSystem>,
        clock: Arc<dyn Clock>,
        options: Options,
        ack_before_sync: bool,
    ) -> Result<Parts, StoreError> {
        fs.create_dir_all(dir)
            .map_err(|e| StoreError::io(format!("creating {}", dir.display()), &e))?;
        let lock = fs.lock(dir).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock => StoreError::Locked(e.to_string()),
            _ => StoreError::io(format!("locking {}", dir.display()), &e),
        })?;
        let (wal, opened) = Wal::open(fs.clone(), dir, options.segment_bytes, options.sync)?;
        if let Some((file, bytes)) = &opened.cut {
            tracing::warn!(file = %file.display(), bytes, "recovery cut a torn tail");
        }
        let snapshot_files = WalSnapshots::new(fs, dir);
        let replayed = log::replay(&wal, &snapshot_files, options.limits)?;
        let report = RecoveryReport {
            replayed: replayed.replayed,
            cut: opened.cut,
        };
        let elections = replayed.elections;
        let shared = Arc::new(Shared {
            published: tokio::sync::watch::Sender::new(elections.namespace().snapshot()),
            position: AtomicU64::new(0),
            counters: Counters::default(),
            sink: std::sync::OnceLock::new(),
            halted: std::sync::OnceLock::new(),
            degraded: Mutex::new(None),
        });
        let (snapshot_tx, snapshot_rx) = mpsc::channel();
        let max_queued = options.max_queued.max(1);
        let mut writer = Writer {
            core: elections,
            log: Box::new(wal),
            clock,
            group: GroupCommit::new(options.max_batch),
            options,
            since_snapshot: replayed.replayed,
            shared: shared.clone(),
            snapshots: snapshot_tx,
            ack_before_sync,
            replication: None,
            snapshot_files: Some(snapshot_files.clone()),
            full_disk: None,
            syncer: None,
            in_flight: None,
        };
        // The first command of every run, logged like any other and before any other: the
        // sessions' TTLs start again now, and a later recovery replays exactly that. It
        // joins the first batch. Nothing is expired before it: the deadlines replay rebuilt
        // are stale (heartbeats are not logged), and the restart replaces them.
        writer.handle(Request::Propose {
            proposal: Proposal::new(
                Proposed::Command(Command::Restart),
                Hooks::default(),
                |_| {},
            ),
            sweep: false,
        });
        let (requests_tx, requests_rx) = crossbeam_channel::bounded(max_queued);

        Ok(Parts {
            store: EmbeddedStore {
                requests: Arc::new(Mutex::new(Some(requests_tx))),
                max_queued,
                shared,
                stopped: Mutex::new(None),
                recovery: report,
                dir: dir.to_path_buf(),
            },
            writer,
            requests: requests_rx,
            snapshots: snapshot_rx,
            snapshot_files,
            lock,
        })
    }

    /// Opens a store on a log shared with other hosts (see [`shared`]): `recovered` is the
    /// state read back from that log (with [`crate::log::replay`]), and `host` the epoch
    /// under which this host appends until it joins under another
    /// ([`Command::JoinHost`]). Returns the store and the [`Feeder`] through which the
    /// log's follower hands it every batch after `recovered.position`, this host's own
    /// included, in the log's order: nothing applies until it comes back that way.
    pub fn open_shared(
        log: Box<dyn SharedLog>,
        recovered: log::Replayed,
        host: ballot_core::namespace::HostEpoch,
        clock: Arc<dyn Clock>,
        options: Options,
        spawn: Spawner,
    ) -> (Self, Feeder) {
        let (mut store, feeder, stepper) =
            Self::open_shared_stepped(log, recovered, host, clock, options);
        let (stopped_tx, stopped_rx) = mpsc::channel::<()>();
        spawn(Box::new(move || {
            let SharedStepper { writer, requests } = stepper;
            writer.run(requests);
            drop(stopped_tx);
        }));
        store.stopped = Mutex::new(Some(stopped_rx));
        (store, feeder)
    }

    /// [`EmbeddedStore::open_shared`] for the simulator: no thread; the returned
    /// [`SharedStepper`] runs the writer when the caller says, so the simulator decides
    /// when each batch is appended and when each replica hears the log's order.
    pub fn open_shared_stepped(
        log: Box<dyn SharedLog>,
        recovered: log::Replayed,
        host: ballot_core::namespace::HostEpoch,
        clock: Arc<dyn Clock>,
        options: Options,
    ) -> (Self, Feeder, SharedStepper) {
        let mut elections = recovered.elections;
        elections.set_local_host(host, clock.now());
        let shared = Arc::new(Shared {
            published: tokio::sync::watch::Sender::new(elections.namespace().snapshot()),
            position: AtomicU64::new(recovered.position),
            counters: Counters::default(),
            sink: std::sync::OnceLock::new(),
            halted: std::sync::OnceLock::new(),
            degraded: Mutex::new(None),
        });
        // Snapshots of a shared log are the log's business, not this writer's.
        let (snapshot_tx, _) = mpsc::channel();
        let max_queued = options.max_queued.max(1);
        let writer = Writer {
            core: elections,
            log: Box::new(shared::NoLocalLog),
            clock,
            group: GroupCommit::new(options.max_batch),
            options,
            since_snapshot: 0,
            shared: shared.clone(),
            snapshots: snapshot_tx,
            ack_before_sync: false,
            replication: Some(shared::Replication::new(log, host, recovered.position)),
            snapshot_files: None,
            full_disk: None,
            syncer: None,
            in_flight: None,
        };
        let (requests_tx, requests_rx) = crossbeam_channel::bounded(max_queued);
        let requests = Arc::new(Mutex::new(Some(requests_tx)));
        let store = EmbeddedStore {
            requests: requests.clone(),
            max_queued,
            shared,
            stopped: Mutex::new(None),
            recovery: RecoveryReport::default(),
            dir: PathBuf::new(),
        };
        let feeder = Feeder {
            requests,
            shared: store.shared.clone(),
        };
        let stepper = SharedStepper {
            writer,
            requests: requests_rx,
        };
        (store, feeder, stepper)
    }

    /// On a shared log, the position of the last batch this host applied: a read that
    /// must see everything the log held at some moment waits until this reaches it.
    pub fn applied_position(&self) -> u64 {
        self.shared.position.load(Ordering::Acquire)
    }

    /// Why this store stopped taking changes, once it did: on its own log, a write or
    /// sync the disk refused (the store fails closed); on a shared log, a replica whose
    /// state diverged from the cluster's. Every change is refused from then on.
    pub fn halted(&self) -> Option<String> {
        self.shared.halted.get().cloned()
    }

    /// Why this store refuses changes for now, while it does: its disk was full, so it
    /// took back the write the disk refused and probes until writes go through again,
    /// then takes changes by itself. Unlike [`EmbeddedStore::halted`], this passes.
    pub fn degraded(&self) -> Option<String> {
        self.shared
            .degraded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sets who hears what commands cause (see [`EffectsSink`]). Once per store: a
    /// second call is refused, returning the sink it was given.
    pub fn set_sink(&self, sink: Arc<dyn EffectsSink>) -> Result<(), Arc<dyn EffectsSink>> {
        self.shared.sink.set(sink)
    }

    /// Hands `command` to the writer without waiting: `reply` gets what apply decided
    /// once the batch it joined is durable (or has failed). The simulator's way in,
    /// where nothing may block.
    pub fn submit(
        &self,
        command: Command,
        hooks: Hooks,
        reply: impl FnOnce(Result<Applied, String>) + Send + 'static,
    ) -> Result<(), StoreError> {
        self.send(Request::Propose {
            proposal: Proposal::new(Proposed::Command(command), hooks, reply),
            sweep: true,
        })
    }

    /// Expires every session whose TTL has run out on this store's clock: the store is
    /// the sessions' owner, so it names them in a [`Command::ExpireSessions`] it applies
    /// and logs (apply itself reads no clock). Returns the sessions it ended. The writer
    /// also does this before every command it applies, so an overdue session never acts;
    /// call this periodically so that sessions expire while nothing else happens.
    pub async fn expire_overdue(&self) -> Result<Vec<SessionId>, StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<Applied, String>>();
        self.submit_expiry(move |outcome| {
            let _ = tx.send(outcome);
        })?;
        answered(rx.await).and_then(ended)
    }

    /// [`EmbeddedStore::expire_overdue`] without waiting: `reply` gets what apply decided
    /// once it is durable. For the simulator and blocking callers.
    pub fn submit_expiry(
        &self,
        reply: impl FnOnce(Result<Applied, String>) + Send + 'static,
    ) -> Result<(), StoreError> {
        self.send(Request::Propose {
            proposal: Proposal::new(Proposed::ExpireOverdue, Hooks::default(), reply),
            sweep: false,
        })
    }

    /// Applies `command` and returns what apply decided once everything it changed is
    /// durable; blocks the calling thread meanwhile (use [`EmbeddedStore::propose`] from
    /// async code). The command sees all earlier changes, and nobody sees its changes
    /// before the sync.
    pub fn propose_blocking(&self, command: Command) -> Result<Applied, StoreError> {
        let (tx, rx) = mpsc::sync_channel::<Result<Applied, String>>(1);
        self.submit(command, Hooks::default(), move |outcome| {
            let _ = tx.send(outcome);
        })?;
        answered(rx.recv())
    }

    /// [`EmbeddedStore::propose_blocking`] for async callers: the answer arrives through
    /// a oneshot channel, so a tokio task awaits durability without blocking its thread.
    ///
    /// The command is submitted when this is called, not when the future is first
    /// polled: a caller can start other work (instantiating a component, say) while the
    /// writer applies and syncs, and the command keeps its place in the caller's order.
    pub fn propose(
        &self,
        command: Command,
    ) -> impl Future<Output = Result<Applied, StoreError>> + Send + 'static {
        self.propose_with(command, Hooks::default())
    }

    /// [`EmbeddedStore::propose`] with a precondition and an in-step hook; submitted at
    /// the call, like it.
    pub fn propose_with(
        &self,
        command: Command,
        hooks: Hooks,
    ) -> impl Future<Output = Result<Applied, StoreError>> + Send + 'static {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<Applied, String>>();
        let submitted = self.submit(command, hooks, move |outcome| {
            let _ = tx.send(outcome);
        });
        async move {
            submitted?;
            answered(rx.await)
        }
    }

    /// Reads the writer's head, in order with the commands around it, and answers once
    /// everything the read saw is durable: for what only the elections know (where a
    /// candidate stands) and the published state does not say. It changes nothing.
    pub async fn inspect<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Elections, MonoTime) -> R + Send + 'static,
    ) -> Result<R, StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<R, String>>();
        self.send(Request::Inspect(inspection(f, move |outcome| {
            let _ = tx.send(outcome);
        })))?;
        answered(rx.await)
    }

    /// [`EmbeddedStore::inspect`] without waiting: `reply` gets the answer once what it
    /// saw is durable. For the simulator.
    pub fn submit_inspection<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Elections, MonoTime) -> R + Send + 'static,
        reply: impl FnOnce(Result<R, String>) + Send + 'static,
    ) -> Result<(), StoreError> {
        self.send(Request::Inspect(inspection(f, reply)))
    }

    /// The latest durable state, as readers may see it.
    pub fn published(&self) -> State {
        self.shared.published.borrow().clone()
    }

    /// Follows the published state: the receiver sees each newly durable state (a slow
    /// follower skips to the newest; it never holds the writer up).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<State> {
        self.shared.published.subscribe()
    }

    /// Writes a snapshot now and truncates the log behind it; returns the record number it
    /// covers. Snapshots are also taken on their own every `snapshot_every` records.
    pub fn snapshot_now(&self) -> Result<u64, StoreError> {
        let (tx, rx) = mpsc::channel();
        self.send(Request::Snapshot(tx))?;
        rx.recv().map_err(|_| StoreError::Closed)?
    }

    /// What recovery found when this store was opened.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// The data folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Batches flushed and records written since opening: their ratio is the mean batch.
    pub fn batch_stats(&self) -> (u64, u64) {
        let c = &self.shared.counters;
        (
            c.batches.load(Ordering::Relaxed),
            c.records.load(Ordering::Relaxed),
        )
    }

    /// Stops the writer and the snapshotter and releases the folder's lock; waits for both.
    pub fn close(&self) {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(stopped) = self
            .stopped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = stopped.recv();
        }
    }

    fn send(&self, request: Request) -> Result<(), StoreError> {
        let requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        match requests
            .as_ref()
            .ok_or(StoreError::Closed)?
            .try_send(request)
        {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(StoreError::Overloaded {
                queued: self.max_queued,
            }),
            Err(TrySendError::Disconnected(_)) => Err(StoreError::Closed),
        }
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        self.close();
    }
}

/// The writer thread's state.
struct Writer {
    core: Elections,
    log: Box<dyn Log>,
    clock: Arc<dyn Clock>,
    options: Options,
    group: GroupCommit<Waiter>,
    since_snapshot: u64,
    shared: Arc<Shared>,
    snapshots: Sender<snapshotter::Task>,
    /// The planted bug of the simulator (see [`EmbeddedStore::open_stepped`]); always
    /// false otherwise.
    ack_before_sync: bool,
    /// On a log shared with other hosts, how batches are formed and applied instead
    /// (see [`shared`]); `None` when this store owns its log.
    replication: Option<shared::Replication>,
    /// The snapshots the state is rebuilt from after a write the disk refused; `None` on
    /// a shared log, which keeps no files here.
    snapshot_files: Option<WalSnapshots>,
    /// While the disk is full: the store refuses changes and probes (see [`full_disk`]).
    full_disk: Option<full_disk::FullDisk>,
    /// The thread that syncs one batch while the writer builds the next (see
    /// [`pipeline`]); `None` where batches are synced on the writer's thread.
    syncer: Option<pipeline::Syncer>,
    /// The batch whose sync runs on the [`pipeline::Syncer`], if one does.
    in_flight: Option<pipeline::InFlight>,
}

/// A batch appended to the log and not yet synced: the writer between its write and its
/// fdatasync.
struct Written {
    /// The batch, unless (planted bug) it was released before the sync.
    batch: Option<group::Batch<Waiter>>,
    records: u64,
    /// Whether the batch had no bytes (reads, refusals): nothing to sync.
    empty: bool,
    result: Result<(), String>,
    /// Whether the write failed for want of space: then it can be taken back.
    refused_for_space: bool,
}

impl Writer {
    fn run(mut self, requests: Receiver<Request>) {
        if self.replication.is_none() && self.options.pipeline {
            self.start_pipeline();
        }
        // Block for the first request, then take everything already queued: that is the
        // batch. Whatever arrives during its flush forms the next one.
        loop {
            if self.has_in_flight() {
                match self.wait_in_flight(&requests) {
                    pipeline::Woken::Request(request) => self.take(request, &requests),
                    pipeline::Woken::Synced(outcome) => self.land(outcome, !requests.is_empty()),
                    pipeline::Woken::Closed => break,
                }
                continue;
            }
            let first = match &self.replication {
                None => match self
                    .full_disk
                    .as_ref()
                    .map(full_disk::FullDisk::until_probe)
                {
                    None => requests.recv().ok(),
                    // Refusing changes for a full disk: wake up to probe it now and then.
                    Some(wait) => match requests.recv_timeout(wait) {
                        Ok(first) => Some(first),
                        Err(RecvTimeoutError::Timeout) => {
                            self.probe_disk_if_due();
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => None,
                    },
                },
                // On a shared log, wake up now and then to give up on batches whose append
                // was never confirmed and that never came back.
                Some(_) => match requests.recv_timeout(shared::UNCONFIRMED_LOOK) {
                    Ok(first) => Some(first),
                    Err(RecvTimeoutError::Timeout) => {
                        self.contain_shared(Writer::give_up_unconfirmed);
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => None,
                },
            };
            let Some(first) = first else { break };
            self.wake(first, &requests);
        }
        self.drain();
    }

    /// What the writer does each time it wakes with `first`: takes it and whatever else
    /// is queued, then appends the batch (on a shared log) or writes and syncs it.
    pub(super) fn wake(&mut self, first: Request, requests: &Receiver<Request>) {
        self.probe_disk_if_due();
        if self.replication.is_some() {
            return self.contain_shared(|writer| {
                writer.take(first, requests);
                writer.flush_shared();
            });
        }
        self.take(first, requests);
        if self.group.step() == Step::Flush {
            self.flush(!requests.is_empty());
        }
    }

    /// Handles `first` and whatever else is queued, up to a full batch.
    fn take(&mut self, first: Request, requests: &Receiver<Request>) {
        self.handle(first);
        while !self.batch_is_full() {
            match requests.try_recv() {
                Ok(request) => self.handle(request),
                Err(_) => break,
            }
        }
    }

    fn batch_is_full(&self) -> bool {
        match &self.replication {
            Some(replication) => replication.is_full(self.options.max_batch),
            None => self.group.is_full(),
        }
    }

    fn handle(&mut self, request: Request) {
        if self.replication.is_some() {
            return self.handle_shared(request);
        }
        match request {
            Request::Propose { proposal, sweep } => self.run_job(proposal.into_job(), sweep),
            Request::Inspect(job) => self.run_job(job, true),
            Request::Sequenced(_) | Request::Control(_) => {
                tracing::error!("a store that owns its log was handed a shared log's request")
            }
            Request::Snapshot(reply) => {
                // Flush what is pending first, so the snapshot covers only durable records.
                self.drain();
                if let Some(failure) = self.group.failure() {
                    let _ = reply.send(Err(StoreError::Failed(failure.to_string())));
                    return;
                }
                self.start_snapshot(Some(reply));
            }
        }
    }

    /// Runs a job on the head; with `sweep`, first expires what the clock says is overdue.
    fn run_job(&mut self, job: Job, sweep: bool) {
        let now = self.clock.now();
        // The sessions' owner expires whatever its clock says is overdue before the next
        // command applies, so a session past its TTL never acts (a host that was paused
        // catches up here first).
        if sweep && self.group.failure().is_none() {
            let overdue = self.core.namespace().overdue(now);
            if !overdue.is_empty() {
                let command = Command::ExpireSessions { sessions: overdue };
                let expiry = Proposal::new(Proposed::Command(command), Hooks::default(), |_| {});
                self.run_contained(expiry.into_job(), now);
            }
        }
        // Checked after the expiry, which may itself have halted the store.
        if let Some(failure) = self.group.failure() {
            let ran = job(Err(failure.to_string()), &self.shared);
            self.group.submit(None, ran.waiter);
            return;
        }
        self.run_contained(job, now);
    }

    /// Runs `job` on the head and adds it to the open batch. A panic in it (in apply, or
    /// in a caller's hook or the sink it calls) may have left the head half changed, so
    /// the store halts: nothing of the open batch is written, every waiter and every
    /// later change is refused, and the process lives on to say why.
    fn run_contained(&mut self, job: Job, now: MonoTime) {
        let core = &mut self.core;
        let shared = &self.shared;
        let ran = halt_on_panic(shared, "the store's writer", "the store", || {
            job(Ok((core, now)), shared)
        });
        match ran {
            Ok(ran) => self.group.submit(ran.logged, ran.waiter),
            Err(why) => {
                // For good: a full disk's probe must not take changes again.
                self.full_disk = None;
                self.group.set_failure(Some(why));
            }
        }
    }

    /// The first half of a flush: takes the open batch and appends it to the log.
    fn write_batch(&mut self) -> Written {
        let mut batch = self.group.start_flush();
        let records = batch.entries.len() as u64;
        let empty = batch.entries.is_empty();
        let result = if let Some(failure) = self.group.failure() {
            // Applied while the batch before it failed (see [`pipeline`]): never written.
            Err(StoreError::Failed(failure.to_string()))
        } else if empty {
            Ok(())
        } else {
            self.log.write(&batch.entries).map(drop)
        };
        let refused_for_space = result.as_ref().is_err_and(StoreError::is_disk_full);
        let result = result.map_err(|e| e.to_string());
        // Written: the entries are the log's now, and only the waiters remain.
        batch.entries = Vec::new();
        let mut written = Written {
            batch: Some(batch),
            records,
            empty,
            result,
            refused_for_space,
        };
        if self.ack_before_sync && written.result.is_ok() {
            // The planted bug: publish and release what is not durable yet.
            if let Some(batch) = written.batch.take() {
                self.release(batch, Ok(()), records, None);
            }
        }
        written
    }

    /// The second half: makes the appended batch durable, then publishes the new state
    /// and releases its waiters (or fails them, and the store).
    fn sync_batch(&mut self, mut written: Written) {
        let result = std::mem::replace(&mut written.result, Ok(())).and_then(|()| {
            if written.empty {
                return Ok(());
            }
            self.log.sync().map_err(|e| e.to_string())
        });
        self.settle(written, result, None, true);
    }

    /// Whether a snapshot is due once a batch of `records` is durable.
    fn snapshot_due_after(&self, records: u64) -> bool {
        self.since_snapshot + records >= self.options.snapshot_every
            || self.log.unsnapshotted_bytes() >= self.options.snapshot_bytes
    }

    /// What follows a batch's sync (`result`): a write the disk refused is taken back,
    /// the batch is released with `state` published (the head's, when `None`), and a
    /// snapshot is started if one is due and `may_snapshot` (the head is the log's state).
    fn settle(
        &mut self,
        written: Written,
        mut result: Result<(), String>,
        state: Option<State>,
        may_snapshot: bool,
    ) {
        if written.refused_for_space
            && let Err(why) = &result
            && let Some(refusal) = self.take_back_refused_write(why)
        {
            // The batch's waiters, and everyone after them until the disk takes writes
            // again, hear why in words.
            result = Err(refusal);
        }
        match written.batch {
            Some(batch) => self.release(batch, result, written.records, state),
            None => {
                if let Err(why) = result {
                    tracing::error!(%why, "a sync failed after its batch was released");
                }
            }
        }
        if may_snapshot && self.snapshot_due_after(0) && self.group.failure().is_none() {
            self.start_snapshot(None);
        }
    }

    /// Publishes the state (if the batch is durable and changed something) and releases
    /// the batch's waiters with its outcome.
    fn release(
        &mut self,
        batch: group::Batch<Waiter>,
        result: Result<(), String>,
        records: u64,
        state: Option<State>,
    ) {
        if result.is_ok() && records > 0 {
            let state = state.unwrap_or_else(|| self.core.namespace().snapshot());
            self.shared.published.send_replace(state);
            let counters = &self.shared.counters;
            counters.batches.fetch_add(1, Ordering::Relaxed);
            counters.records.fetch_add(records, Ordering::Relaxed);
            self.since_snapshot += records;
        }
        match self.group.finish_flush(batch, result) {
            group::Outcome::Durable(waiters) => waiters.into_iter().for_each(|w| tell(w, Ok(()))),
            group::Outcome::Failed(waiters, why) => {
                if self.full_disk.is_none() {
                    tracing::error!(%why, "the store failed and refuses further changes");
                    let _ = self
                        .shared
                        .halted
                        .set(format!("the disk refused a write or sync, so the store refuses every change until it is restarted: {why}"));
                }
                waiters.into_iter().for_each(|w| tell(w, Err(why.clone())))
            }
        }
    }

    fn start_snapshot(&mut self, reply: Option<Sender<Result<u64, StoreError>>>) {
        if let Err(error) = self.log.prepare_snapshot() {
            tracing::error!(%error, "could not prepare the log for a snapshot");
            if let Some(reply) = reply {
                let _ = reply.send(Err(error));
            }
            return;
        }
        let lsn = self.log.last_position();
        self.since_snapshot = 0;
        let task = snapshotter::Task {
            lsn,
            elections: self.core.clone(),
            reply,
        };
        let _ = self.snapshots.send(task);
    }
}

/// What a refused or failed proposal means to a [`Store`] caller.
fn refused(refusal: Refusal) -> StoreError {
    match refusal {
        Refusal::Namespace(error) => StoreError::Refused(error),
        Refusal::Multi(failed) => StoreError::MultiRefused(failed),
        other => StoreError::Failed(format!("unexpected refusal: {other}")),
    }
}

fn unexpected(outcome: Outcome) -> StoreError {
    StoreError::Failed(format!("unexpected outcome: {outcome:?}"))
}

/// The sessions an expiry ended, from what apply decided.
fn ended(applied: Applied) -> Result<Vec<SessionId>, StoreError> {
    match applied.map_err(refused)? {
        Outcome::Ended(sessions) => Ok(sessions),
        other => Err(unexpected(other)),
    }
}

impl Store for EmbeddedStore {
    fn open_session(&self, ttl: Duration) -> Result<SessionId, StoreError> {
        match self
            .propose_blocking(Command::OpenSession { ttl })?
            .map_err(refused)?
        {
            Outcome::Opened(session) => Ok(session),
            other => Err(unexpected(other)),
        }
    }

    fn heartbeat(&self, session: SessionId) -> Result<(), StoreError> {
        self.propose_blocking(Command::Heartbeat { session })?
            .map_err(refused)
            .map(drop)
    }

    fn close_session(&self, session: SessionId) -> Result<Revision, StoreError> {
        match self
            .propose_blocking(Command::CloseSession { session })?
            .map_err(refused)?
        {
            Outcome::Closed(revision) => Ok(revision),
            other => Err(unexpected(other)),
        }
    }

    fn expire_sessions(&self) -> Result<Vec<SessionId>, StoreError> {
        let (tx, rx) = mpsc::sync_channel::<Result<Applied, String>>(1);
        self.submit_expiry(move |outcome| {
            let _ = tx.send(outcome);
        })?;
        answered(rx.recv()).and_then(ended)
    }

    fn multi(&self, guard: Option<Guard>, ops: Vec<Op>) -> Result<Committed, StoreError> {
        let command = Command::Multi {
            guard,
            ops,
            quota: None,
        };
        match self.propose_blocking(command)?.map_err(refused)? {
            Outcome::Committed(committed) => Ok(committed),
            other => Err(unexpected(other)),
        }
    }

    fn read(&self) -> State {
        self.published()
    }
}
