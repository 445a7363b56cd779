//! The writer on a log that many hosts append to (etcd): propose first, apply in the
//! log's order.
//!
//! A store that owns its log applies a command and then makes it durable: nobody else can
//! come between. On a shared log, another host's batch may land between any two of ours,
//! so here the writer only *forms* each batch (checks its local preconditions, stamps its
//! commands) and appends it; the log's order decides. Every host, this one included,
//! applies every batch when the log hands it back ([`Request::Sequenced`]), in that order,
//! through the same `apply`: so every replica ends in the same state, and the outcome a
//! proposer hears is the one every host computed.
//!
//! What only this host may decide stays local and is never logged: a heartbeat (it moves
//! only the owner's deadline), a component's watches (they only decide whom effects go to
//! here), and the preconditions in [`Hooks::admit`] (a revoked instance's command is not
//! sent). Whatever a precondition could not see, because another host's batch landed
//! first, apply refuses the same way on every host: a deposed leader's term, a closed
//! session, an expired host ([`Refusal::HostExpired`]).

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};

use ballot_core::command::{Applied, Command, Outcome, apply};
use ballot_core::election::{Effects, Elections};
use ballot_core::namespace::{HostEpoch, MonoTime, SessionId, State};

use super::{Job, OnApplied, Proposal, Proposed, Request, Waiter, Writer, answer, halt_on_panic};
use crate::StoreError;
use crate::log::{Entry, Position};

/// How often an idle writer looks for batches that waited
/// [`super::Options::unconfirmed_wait`].
pub(super) const UNCONFIRMED_LOOK: std::time::Duration = std::time::Duration::from_millis(500);

/// The longest [`Feeder::propose_blocking`] waits for its answer.
const PROPOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A batch as a shared log ordered it, tagged with who proposed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sequenced {
    /// Its position in the log.
    pub position: Position,
    /// The host (epoch) that proposed it: it owns the sessions the batch opens, and the
    /// batch applies only while that epoch is live.
    pub host: HostEpoch,
    /// The proposer's own number for it, so the proposer recognises its batch even when
    /// its append's answer was lost.
    pub seq: u64,
    /// The commands, in order.
    pub entries: Vec<Entry>,
}

/// Where an appended batch landed in a [`SharedLog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Its position.
    pub position: Position,
    /// The position of the batch just before it, when the log can say (etcd returns the
    /// key's previous revision with the put). A writer that has applied exactly that far
    /// applies its batch at once instead of waiting for the log to hand it back: nothing
    /// can come between the two, so the order is the log's all the same.
    pub after: Option<Position>,
}

/// A log that many hosts append to, in one order they all read back.
pub trait SharedLog: Send {
    /// Appends a batch tagged (`host`, `seq`) and says where it landed once it is durable
    /// (a quorum has it). An error leaves the batch's fate unknown: it may still appear in
    /// the order, and is then applied like any other host's batch.
    fn append(
        &mut self,
        host: HostEpoch,
        seq: u64,
        entries: &[Entry],
    ) -> Result<Appended, StoreError>;

    /// The most bytes of encoded entries one batch may carry (etcd refuses requests over
    /// its `--max-request-bytes`): the writer starts a new batch before this, and refuses a
    /// single command larger than it before anything is sent.
    fn max_batch_bytes(&self) -> usize {
        usize::MAX
    }
}

/// The bytes `entry` takes in a batch.
fn encoded_len(entry: &Entry) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    ciborium::into_writer(entry, &mut counter).expect("counting cannot fail");
    counter.0
}

/// The handle a shared log's machinery keeps on the store: its follower hands it each
/// batch in the log's order, and its host-liveness thread proposes (joins, expiries) and
/// reads the state, from plain threads, after the store itself went to the runtime.
#[derive(Clone)]
pub struct Feeder {
    pub(super) requests: Arc<Mutex<Option<crossbeam_channel::Sender<Request>>>>,
    pub(super) shared: Arc<super::Shared>,
}

impl Feeder {
    /// Proposes `command` and waits for what apply decided (see
    /// [`super::EmbeddedStore::propose_blocking`]).
    pub fn propose_blocking(&self, command: Command) -> Result<Applied, StoreError> {
        let sender = self.sender()?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let proposal = Proposal::new(
            Proposed::Command(command),
            super::Hooks::default(),
            move |outcome| {
                let _ = tx.send(outcome);
            },
        );
        sender
            .send(Request::Propose {
                proposal,
                sweep: true,
            })
            .map_err(|_| StoreError::Closed)?;
        // Bounded: a batch whose append was confirmed but which the follower cannot bring
        // back (the log out of reach) must not hold the caller for ever.
        match rx.recv_timeout(PROPOSE_WAIT) {
            Ok(Ok(applied)) => Ok(applied),
            Ok(Err(failure)) => Err(StoreError::Unavailable(failure)),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(StoreError::Unavailable(
                format!("no answer within {PROPOSE_WAIT:?}; the command may still apply"),
            )),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(StoreError::Closed),
        }
    }

    /// The latest state this replica applied.
    pub fn published(&self) -> ballot_core::namespace::State {
        self.shared.published.borrow().clone()
    }

    /// The position of the last batch this replica applied.
    pub fn applied_position(&self) -> Position {
        self.shared.position.load(Ordering::Acquire)
    }

    /// How many batches this replica has applied since it opened.
    pub fn applied_batches(&self) -> u64 {
        self.shared.counters.batches.load(Ordering::Relaxed)
    }

    /// Hands `batch` to the writer; blocks while its queue is full (the follower slows
    /// down instead of the queue growing). Fails once the store is closed.
    pub fn deliver(&self, batch: Sequenced) -> Result<(), StoreError> {
        self.sender()?
            .send(Request::Sequenced(batch))
            .map_err(|_| StoreError::Closed)
    }

    /// The state this replica applied and its position, taken between two batches, without
    /// the watches only this host's callers registered: what a snapshot of the shared log
    /// holds. Waits behind whatever is queued.
    pub fn capture(&self) -> Result<(Position, Elections), StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.control(Control::Capture(tx))?;
        rx.recv_timeout(PROPOSE_WAIT).map_err(|_| {
            StoreError::Unavailable(format!("the writer did not answer within {PROPOSE_WAIT:?}"))
        })
    }

    /// Replaces the replica's state with a snapshot's at `position`, when this host fell
    /// behind the log's compaction: every command of this host still waiting for the log's
    /// order is answered that its outcome is unknown, and nothing that happened in between
    /// is delivered, so the host must fence its components and rejoin under a new epoch.
    /// A snapshot at or before the replica's position is ignored.
    pub fn install(&self, position: Position, elections: Elections) -> Result<(), StoreError> {
        self.control(Control::Install {
            position,
            elections: Box::new(elections),
        })
    }

    /// Stops the replica for good: every waiting and later command is refused with `why`,
    /// and no further batch applies (a replica whose state diverged must not act on it).
    pub fn halt(&self, why: String) -> Result<(), StoreError> {
        self.control(Control::Halt(why))
    }

    /// Why the replica stopped, once [`Feeder::halt`] or a panic in its writer's step
    /// stopped it: a host that finds it set fences its components and stops its heartbeats.
    pub fn halted(&self) -> Option<String> {
        self.shared.halted.get().cloned()
    }

    /// From now on, the state at the first batch past every multiple of `every` positions
    /// goes to the returned receiver: the same positions on every host, so their digests
    /// can be compared. At most `bound` wait; when the receiver falls behind, a
    /// checkpoint is skipped rather than the writer held.
    pub fn checkpoints(
        &self,
        every: u64,
        bound: usize,
    ) -> Result<std::sync::mpsc::Receiver<Checkpoint>, StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(bound.max(1));
        self.control(Control::Checkpoints {
            every: every.max(1),
            to: tx,
        })?;
        Ok(rx)
    }

    fn control(&self, control: Control) -> Result<(), StoreError> {
        self.sender()?
            .send(Request::Control(control))
            .map_err(|_| StoreError::Closed)
    }

    /// A sender to the writer, cloned out of the lock so a full queue blocks only the
    /// caller; fails once the store is closed.
    fn sender(&self) -> Result<crossbeam_channel::Sender<Request>, StoreError> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(StoreError::Closed)
    }
}

/// The replicated state at one position of the log (see [`Feeder::checkpoints`]).
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The position of the batch it follows.
    pub position: Position,
    /// The namespace there: what every host must agree on.
    pub state: State,
}

/// What a shared log's machinery asks of the writer besides batches (see [`Feeder`]).
pub(super) enum Control {
    Capture(SyncSender<(Position, Elections)>),
    Install {
        position: Position,
        elections: Box<Elections>,
    },
    Halt(String),
    Checkpoints {
        every: u64,
        to: SyncSender<Checkpoint>,
    },
}

/// What waits for one command of this host's batch to come back in the log's order.
enum Item {
    /// A proposal: `applied` runs in the step that applies it, `durable` and the reply
    /// once the batch is published.
    Proposal {
        applied: Option<OnApplied>,
        durable: Option<OnApplied>,
        reply: Box<dyn FnOnce(Result<Applied, String>) + Send>,
    },
    /// A read queued behind the proposals before it.
    Inspection(Job),
}

/// One of this host's batches, appended and not yet applied.
struct Pending {
    host: HostEpoch,
    seq: u64,
    entries: Vec<Entry>,
    items: Vec<Item>,
    /// When the append failed without an answer (the batch may or may not be in the
    /// log); `None` once the log confirmed it.
    unconfirmed: Option<MonoTime>,
}

/// The writer's state on a shared log.
pub(super) struct Replication {
    log: Box<dyn SharedLog>,
    /// This host's epoch: the tag of every batch it appends.
    host: HostEpoch,
    seq: u64,
    /// The batch being formed, and its encoded size.
    entries: Vec<Entry>,
    bytes: usize,
    items: Vec<Item>,
    /// Appended, waiting for the log's order, oldest first.
    pending: VecDeque<Pending>,
    /// Sessions this host proposed to expire and has not yet seen expire.
    expiring: BTreeSet<SessionId>,
    /// The position of the last batch applied.
    position: Position,
    /// Where checkpoints go, and every how many positions.
    checkpoints: Option<(u64, SyncSender<Checkpoint>)>,
    /// The planted bug (simulator only): a batch heard again applies again.
    pub(super) reapply_redelivered: bool,
}

impl Replication {
    pub(super) fn new(log: Box<dyn SharedLog>, host: HostEpoch, position: Position) -> Self {
        Replication {
            log,
            host,
            seq: 0,
            entries: Vec::new(),
            bytes: 0,
            items: Vec::new(),
            pending: VecDeque::new(),
            expiring: BTreeSet::new(),
            position,
            checkpoints: None,
            reapply_redelivered: false,
        }
    }
}

impl Replication {
    /// Forgets that this host proposed to expire the sessions `entries` would have: that
    /// batch may never apply, so they are proposed again when next found overdue.
    fn forget_expiries(&mut self, entries: &[Entry]) {
        for entry in entries {
            if let Command::ExpireSessions { sessions } = &entry.command {
                for session in sessions {
                    self.expiring.remove(session);
                }
            }
        }
    }

    /// Whether the batch being formed holds `max` commands already.
    pub(super) fn is_full(&self, max: usize) -> bool {
        self.entries.len() >= max
    }
}

/// The writer's [`crate::Log`] slot on a shared log, where it is never used: batches go
/// through [`SharedLog::append`].
pub(super) struct NoLocalLog;

impl crate::Log for NoLocalLog {
    fn last_position(&self) -> Position {
        0
    }

    fn write(&mut self, _: &[Entry]) -> Result<Position, StoreError> {
        Err(StoreError::Failed(
            "a shared log's writer has no local log".into(),
        ))
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn read_after(&self, _: Position, _: usize) -> Result<Vec<crate::log::Batch>, StoreError> {
        Ok(Vec::new())
    }
}

/// Whether only this host needs `command`: it changes nothing another replica sees.
fn is_local(command: &Command) -> bool {
    matches!(
        command,
        Command::Heartbeat { .. } | Command::Watch { .. } | Command::Unwatch { .. }
    )
}

impl Writer {
    fn replication(&mut self) -> &mut Replication {
        self.replication
            .as_mut()
            .expect("called only on a shared log")
    }

    /// Runs one step of the replica's writer. A panic in it (in apply, or in a caller's
    /// hook or the sink it calls, while the head changes) may have left the head half
    /// changed, so the replica halts: every command formed or on its way through the log
    /// is answered with the panic's message (those of the batch it was applying, whose
    /// answers unwound with the panic, hear that the store closed), and every later one is
    /// refused, as after a digest mismatch. The process lives on to say why. A panic while answering a settled
    /// command is contained where it happens (see [`super::answer`]) and halts nothing.
    pub(super) fn contain_shared(&mut self, step: impl FnOnce(&mut Self)) {
        let shared = self.shared.clone();
        let stepped = halt_on_panic(&shared, "this replica's writer", "the host", || {
            step(&mut *self)
        });
        if let Err(why) = stepped {
            self.fail_everything_waiting(&why);
        }
    }

    pub(super) fn handle_shared(&mut self, request: Request) {
        if let Some(why) = self.shared.halted.get().cloned() {
            return self.refuse_halted(request, &why);
        }
        match request {
            Request::Propose { proposal, sweep } => self.form(proposal, sweep),
            Request::Inspect(job) => {
                let now = self.clock.now();
                let replication = self.replication();
                if replication.entries.is_empty() && replication.pending.is_empty() {
                    self.inspect_now(job, now);
                } else {
                    replication.items.push(Item::Inspection(job));
                }
            }
            Request::Snapshot(reply) => {
                let _ = reply.send(Err(StoreError::Failed(
                    "a host on a shared log does not take snapshots on request".into(),
                )));
            }
            Request::Sequenced(batch) => self.apply_sequenced(batch),
            Request::Control(control) => self.control(control),
        }
    }

    /// Answers `request` on a halted replica: nothing applies, every waiter hears `why`.
    fn refuse_halted(&mut self, request: Request, why: &str) {
        match request {
            Request::Propose { proposal, .. } => {
                answer(|| (proposal.reply)(Err(why.to_owned())));
            }
            Request::Inspect(job) => self.fail(vec![Item::Inspection(job)], why),
            Request::Snapshot(reply) => {
                let _ = reply.send(Err(StoreError::Failed(why.to_owned())));
            }
            Request::Sequenced(_) | Request::Control(_) => {}
        }
    }

    fn control(&mut self, control: Control) {
        match control {
            Control::Capture(reply) => {
                let position = self.replication().position;
                // Only what every replica holds: this host's callers' watches stay here.
                let mut elections = self.core.clone();
                elections.drop_caller_watches();
                let _ = reply.send((position, elections));
            }
            Control::Install {
                position,
                elections,
            } => self.install(position, *elections),
            Control::Halt(why) => {
                tracing::error!(%why, "this replica stops serving");
                let _ = self.shared.halted.set(why.clone());
                self.fail_everything_waiting(&why);
            }
            Control::Checkpoints { every, to } => {
                self.replication().checkpoints = Some((every, to));
            }
        }
    }

    /// Answers every command formed or on its way through the log with `why`: nothing
    /// this host waits for will be matched any more.
    fn fail_everything_waiting(&mut self, why: &str) {
        let replication = self.replication();
        let mut items = std::mem::take(&mut replication.items);
        replication.entries.clear();
        replication.bytes = 0;
        for pending in std::mem::take(&mut replication.pending) {
            items.extend(pending.items);
        }
        replication.expiring.clear();
        self.fail(items, why);
    }

    /// Takes a snapshot's state in place of this replica's (see [`Feeder::install`]).
    fn install(&mut self, position: Position, mut elections: Elections) {
        if position <= self.replication().position {
            return;
        }
        let why = format!(
            "this host fell behind the log's compaction and loaded the snapshot at position \
             {position}: whether the command applied is unknown"
        );
        self.fail_everything_waiting(&why);
        let now = self.clock.now();
        let host = self.replication().host;
        elections.set_limits(self.options.limits);
        elections.set_local_host(host, now);
        self.core = elections;
        self.replication().position = position;
        // The position first: whoever wakes on the new state must read it already moved.
        self.shared.position.store(position, Ordering::Release);
        self.shared
            .published
            .send_replace(self.core.namespace().snapshot());
        tracing::warn!(
            position,
            "loaded a snapshot in place of the replica's state"
        );
    }

    /// Answers every waiter of a batch that will not come back applied with `why`.
    fn fail(&self, items: Vec<Item>, why: &str) {
        for item in items {
            answer(|| match item {
                Item::Proposal { reply, .. } => reply(Err(why.to_owned())),
                Item::Inspection(job) => {
                    let ran = job(Err(why.to_owned()), &self.shared);
                    (ran.waiter)(Err(why.to_owned()));
                }
            });
        }
    }

    /// Applies one entry of the log's order and revokes what it deposed, in this step.
    fn apply_entry(
        &mut self,
        entry: &Entry,
        sink: &Option<Arc<dyn super::EffectsSink>>,
    ) -> (Applied, Effects) {
        let (applied, effects) = apply(&mut self.core, &entry.command, entry.at);
        if let Some(sink) = sink {
            sink.applied(&effects);
        }
        (applied, effects)
    }

    fn inspect_now(&mut self, job: Job, now: MonoTime) {
        let ran = job(Ok((&mut self.core, now)), &self.shared);
        answer(|| (ran.waiter)(Ok(())));
    }

    /// Adds a proposal to the batch being formed, or answers it here: a local precondition
    /// that refuses, or a command only this host needs.
    fn form(&mut self, proposal: Proposal, sweep: bool) {
        let now = self.clock.now();
        if sweep {
            self.propose_overdue(now);
        }
        let Proposal {
            proposed,
            hooks,
            reply,
        } = proposal;
        let command = match proposed {
            Proposed::Command(command) => command,
            Proposed::ExpireOverdue => {
                let sessions = self.newly_overdue(now);
                if sessions.is_empty() {
                    // Nothing overdue: nothing to append (the sweeper asks every few
                    // milliseconds; an idle host must not write to the log for it).
                    reply(Ok(Ok(Outcome::Ended(Vec::new()))));
                    return;
                }
                Command::ExpireSessions { sessions }
            }
        };
        if let Some(admit) = hooks.admit
            && let Err(refused) = admit(&self.core, now)
        {
            reply(Ok(Err(refused)));
            return;
        }
        if is_local(&command) {
            let host = self.replication().host;
            self.core.set_proposer(host);
            let (applied, effects) = apply(&mut self.core, &command, now);
            let sink = self.shared.sink.get().cloned();
            if let Some(sink) = &sink {
                sink.applied(&effects);
            }
            if let Some(hook) = hooks.applied {
                hook(&applied);
            }
            answer(|| {
                if let Some(hook) = hooks.durable {
                    hook(&applied);
                }
                if let Some(sink) = sink {
                    sink.durable(effects);
                }
                reply(Ok(applied));
            });
            return;
        }
        if let Command::JoinHost { epoch, .. } = &command {
            // Everything formed so far goes out under the old epoch; this batch and every
            // later one under the new, and only the new epoch's sessions have deadlines here.
            let epoch = *epoch;
            self.flush_shared();
            self.replication().host = epoch;
            self.core.set_local_host(epoch, now);
        }
        let entry = Entry { at: now, command };
        let size = encoded_len(&entry);
        let most = self.replication().log.max_batch_bytes();
        if size > most {
            reply(Err(format!(
                "a {} command of {size} bytes is over the shared log's limit of {most} bytes \
                 per batch; it was not sent",
                entry.command.kind()
            )));
            return;
        }
        if self.replication().bytes + size > most {
            self.flush_shared();
        }
        if let Command::ExpireSessions { sessions } = &entry.command {
            self.replication().expiring.extend(sessions.iter().copied());
        }
        let replication = self.replication();
        replication.bytes += size;
        replication.entries.push(entry);
        replication.items.push(Item::Proposal {
            applied: hooks.applied,
            durable: hooks.durable,
            reply,
        });
    }

    /// This host's sessions overdue on its clock that it has not already proposed to
    /// expire.
    fn newly_overdue(&mut self, now: MonoTime) -> Vec<SessionId> {
        let overdue = self.core.namespace().overdue(now);
        let replication = self.replication();
        overdue
            .into_iter()
            .filter(|session| !replication.expiring.contains(session))
            .collect()
    }

    fn propose_overdue(&mut self, now: MonoTime) {
        let sessions = self.newly_overdue(now);
        if sessions.is_empty() {
            return;
        }
        let replication = self.replication();
        replication.expiring.extend(sessions.iter().copied());
        replication.entries.push(Entry {
            at: now,
            command: Command::ExpireSessions { sessions },
        });
        replication.items.push(Item::Proposal {
            applied: None,
            durable: None,
            reply: Box::new(|_| {}),
        });
    }

    /// Appends the batch formed so far (one append, however many commands queued during
    /// the last one: the group commit of a shared log).
    pub(super) fn flush_shared(&mut self) {
        let now = self.clock.now();
        let replication = self.replication();
        let entries = std::mem::take(&mut replication.entries);
        let items = std::mem::take(&mut replication.items);
        replication.bytes = 0;
        if entries.is_empty() {
            // Only reads: they follow whatever of ours is still on its way.
            match replication.pending.back_mut() {
                Some(last) => last.items.extend(items),
                None => {
                    for item in items {
                        if let Item::Inspection(job) = item {
                            self.inspect_now(job, now);
                        }
                    }
                }
            }
            return;
        }
        replication.seq += 1;
        let (host, seq) = (replication.host, replication.seq);
        let (unconfirmed, next_in_order) = match replication.log.append(host, seq, &entries) {
            Ok(appended) => {
                // Right behind the last batch applied here: nothing can come between, so
                // it applies now, without the round trip of hearing it back. (When it is
                // heard, it is at or before the replica's position and skipped.)
                let next = (appended.after == Some(replication.position)).then(|| Sequenced {
                    position: appended.position,
                    host,
                    seq,
                    entries: entries.clone(),
                });
                (None, next)
            }
            Err(error) => {
                // The batch may still land: its tag (host, seq) lets this host recognise it
                // in the log's order and answer its waiters with what it did there.
                tracing::warn!(%error, host = %host, seq, "an append was not confirmed");
                (Some(now), None)
            }
        };
        replication.pending.push_back(Pending {
            host,
            seq,
            entries,
            items,
            unconfirmed,
        });
        if let Some(batch) = next_in_order {
            self.apply_sequenced(batch);
        }
    }

    /// Answers the waiters of every batch whose append was not confirmed and that has not
    /// come back within [`super::Options::unconfirmed_wait`]: its outcome is unknown (it
    /// may still land, and then applies like any other host's batch).
    pub(super) fn give_up_unconfirmed(&mut self) {
        let now = self.clock.now();
        let wait = self.options.unconfirmed_wait;
        let replication = self.replication();
        if !replication
            .pending
            .iter()
            .any(|p| p.unconfirmed.is_some_and(|at| now.since(at) >= wait))
        {
            return;
        }
        let (overdue, kept): (VecDeque<Pending>, VecDeque<Pending>) =
            std::mem::take(&mut replication.pending)
                .into_iter()
                .partition(|p| p.unconfirmed.is_some_and(|at| now.since(at) >= wait));
        replication.pending = kept;
        for batch in &overdue {
            replication.forget_expiries(&batch.entries);
        }
        for batch in overdue {
            let why = format!(
                "the shared log did not confirm the batch, and it did not come back within \
                 {wait:?}: whether it applied is unknown (it may still)"
            );
            tracing::error!(host = %batch.host, seq = batch.seq, "{why}");
            self.fail(batch.items, &why);
        }
    }

    /// Applies one batch of the log's order: this host's own (its waiters hear what apply
    /// decided) or another's (what it causes here is delivered here all the same).
    fn apply_sequenced(&mut self, batch: Sequenced) {
        self.give_up_unconfirmed();
        let now = self.clock.now();
        let replication = self.replication();
        if batch.position <= replication.position && !replication.reapply_redelivered {
            return;
        }
        let previous = replication.position;
        replication.position = batch.position;
        // This host's batches come back in the order they were appended; one that is not
        // there (given up on, and then it landed after all) applies like any other host's.
        // Those appended before the one that came back and still missing were lost (if the
        // log had confirmed them) or may yet land (if not).
        let own = replication
            .pending
            .iter()
            .position(|p| (p.host, p.seq) == (batch.host, batch.seq));
        let mut lost = Vec::new();
        let items = own.and_then(|at| {
            lost.extend(replication.pending.drain(..at));
            replication.pending.pop_front().map(|p| {
                debug_assert_eq!(p.entries, batch.entries);
                p.items
            })
        });
        for missing in &lost {
            replication.forget_expiries(&missing.entries);
        }
        for missing in lost {
            let why = match missing.unconfirmed {
                // Never confirmed, and overtaken by a later batch of this host: it may
                // still land (a put that timed out), so its outcome is unknown.
                Some(_) => "the shared log did not confirm the batch, and a later one came \
                            back first: whether it applied is unknown (it may still)"
                    .to_string(),
                None => "the shared log lost a batch it had confirmed".to_string(),
            };
            tracing::error!(host = %missing.host, seq = missing.seq, "{why}");
            self.fail(missing.items, &why);
        }
        self.core.set_proposer(batch.host);
        let sink = self.shared.sink.get().cloned();
        let mut entries = batch.entries.into_iter();
        let mut done: Vec<Done> = Vec::new();
        match items {
            Some(items) => {
                for item in items {
                    match item {
                        Item::Proposal {
                            applied: on_applied,
                            durable,
                            reply,
                        } => {
                            let Some(entry) = entries.next() else {
                                reply(Err("the log lost a command of this host's batch".into()));
                                continue;
                            };
                            let (applied, effects) = self.apply_entry(&entry, &sink);
                            if let Some(hook) = on_applied {
                                hook(&applied);
                            }
                            done.push(Done::Proposal {
                                applied,
                                effects,
                                durable,
                                reply,
                            });
                        }
                        Item::Inspection(job) => {
                            let ran = job(Ok((&mut self.core, now)), &self.shared);
                            done.push(Done::Waiter(ran.waiter));
                        }
                    }
                }
            }
            None => {
                for entry in entries {
                    let (_, effects) = self.apply_entry(&entry, &sink);
                    done.push(Done::Effects(effects));
                }
            }
        }
        let records = done.len() as u64;
        // The position before the state: a consistent read that wakes on the new state
        // must find the position already moved, or it would wait for a change that may
        // never come.
        self.shared
            .position
            .store(batch.position, Ordering::Release);
        self.shared
            .published
            .send_replace(self.core.namespace().snapshot());
        let counters = &self.shared.counters;
        counters.batches.fetch_add(1, Ordering::Relaxed);
        counters.records.fetch_add(records, Ordering::Relaxed);
        let namespace = self.core.namespace();
        let replication = self.replication.as_mut().expect("a shared log");
        replication
            .expiring
            .retain(|session| namespace.is_open(*session));
        if let Some((every, to)) = &replication.checkpoints
            && previous / every < batch.position / every
        {
            let _ = to.try_send(Checkpoint {
                position: batch.position,
                state: namespace.snapshot(),
            });
        }
        for finished in done {
            answer(|| match finished {
                Done::Proposal {
                    applied,
                    effects,
                    durable,
                    reply,
                } => {
                    if let Some(hook) = durable {
                        hook(&applied);
                    }
                    if let Some(sink) = &sink {
                        sink.durable(effects);
                    }
                    reply(Ok(applied));
                }
                Done::Effects(effects) => {
                    if let Some(sink) = &sink {
                        sink.durable(effects);
                    }
                }
                Done::Waiter(waiter) => waiter(Ok(())),
            });
        }
    }
}

/// What is left to do for one command once its batch is published.
enum Done {
    Proposal {
        applied: Applied,
        effects: Effects,
        durable: Option<OnApplied>,
        reply: Box<dyn FnOnce(Result<Applied, String>) + Send>,
    },
    Effects(Effects),
    Waiter(Waiter),
}
