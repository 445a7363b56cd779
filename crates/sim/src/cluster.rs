//! Several hosts sharing one namespace through one ordered log, as hosts on etcd do, with
//! the log simulated: every host is the real store's replica writer
//! ([`EmbeddedStore::open_shared_stepped`]), stepped by the schedule, over a [`SimLog`]
//! held in memory that misbehaves the ways etcd can.
//!
//! The schedule's steps mean here:
//!
//! - **write**: every host's writer takes what is queued and appends the batch it formed
//!   (one append per host: its group commit).
//! - **sync**: the next host in turn hears the log: its follower hands it every batch it
//!   has not seen, and it applies them in the log's order, releasing its own waiters. The
//!   hosts take turns, so each lags the log for a while: the log's delays.
//! - **snapshot**: fault, a stall: the next host in turn misses its next three turns.
//! - **crash**: a fault of the log or of a host, in rotation: the next append lands but
//!   its answer is lost (the proposer must learn the outcome from the log's order); the
//!   next append fails and nothing lands; a host's follower reconnects from an older
//!   position and hears batches again (redelivery); a host dies (`kill -9`: what it
//!   queued and every answer it owed are gone, its clients' connections break), a peer
//!   expires its epoch (its sessions end in that one step, and whatever it appended that
//!   lands later is refused), and it restarts under a new epoch, replaying the whole log.
//! - **tick**, **jump**: every host sweeps the sessions it owns and gives up on batches
//!   whose append was never confirmed and that never came back.
//!
//! A client talks to one host (client `c` to host `c % hosts`), which owns its session.
//! Reads (a value, a term) are consistent reads: answered from the host's replica once it
//! has applied everything the log held when the read arrived, as `?consistent=true` does.
//! At the end of a run every host hears the whole log, and their states must be equal.

use std::sync::{Arc, Mutex};

use ballot_core::command::Command;
use ballot_core::election::Elections;
use ballot_core::namespace::{HostEpoch, Limits, MonoTime, Namespace, State};
use ballot_store::clock::{Clock, ManualClock};
use ballot_store::embedded::{Options, SharedStepper};
use ballot_store::log::{Entry, Position, Replayed};
use ballot_store::{Appended, EmbeddedStore, Feeder, Hooks, Sequenced, SharedLog, StoreError};

use super::planned::{PlannedCounter, PlannedCounts};

use super::faults::FaultCounts;
use super::host::{self, Candidates, Leaders, Outgoing, Reply, Request, lock};
use super::{Config, Planted};

/// How a host's replica is told about the log at most per turn: bounds its queue.
const DELIVER_PER_TURN: usize = 256;

/// Turns a stalled host misses.
const STALL_TURNS: u32 = 3;

/// What the next append suffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AppendFault {
    /// It lands, and its answer is lost (a put that timed out after a quorum had it).
    LoseAnswer,
    /// Nothing lands, and the proposer hears an error.
    Fail,
}

#[derive(Default)]
struct LogState {
    batches: Vec<Sequenced>,
    next_append: Option<AppendFault>,
}

/// The ordered log every host appends to and follows, in memory.
#[derive(Clone, Default)]
pub struct SimLog(Arc<Mutex<LogState>>);

impl SimLog {
    fn state(&self) -> std::sync::MutexGuard<'_, LogState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The position of the last batch in the log.
    pub fn end(&self) -> Position {
        self.state().batches.last().map_or(0, |b| b.position)
    }

    /// The batches after index `from` (at most `most`).
    fn after(&self, from: usize, most: usize) -> Vec<Sequenced> {
        let state = self.state();
        state
            .batches
            .iter()
            .skip(from)
            .take(most)
            .cloned()
            .collect()
    }

    fn len(&self) -> usize {
        self.state().batches.len()
    }
}

impl SharedLog for SimLog {
    fn append(
        &mut self,
        host: HostEpoch,
        seq: u64,
        entries: &[Entry],
    ) -> Result<Appended, StoreError> {
        let mut state = self.state();
        let fault = state.next_append.take();
        if fault == Some(AppendFault::Fail) {
            return Err(StoreError::Unavailable(
                "simulated: the append failed and nothing landed".into(),
            ));
        }
        let after = state.batches.last().map_or(0, |b| b.position);
        let position = after + 1;
        state.batches.push(Sequenced {
            position,
            host,
            seq,
            entries: entries.to_vec(),
        });
        match fault {
            Some(AppendFault::LoseAnswer) => Err(StoreError::Unavailable(
                "simulated: the append landed and its answer was lost".into(),
            )),
            _ => Ok(Appended {
                position,
                after: Some(after),
            }),
        }
    }
}

/// A read waiting until its host has applied what the log held when it arrived.
struct WaitingRead {
    client: usize,
    id: u64,
    request: Request,
    log_end: Position,
}

/// One host: the real replica writer, its follower's place in the log, its mail.
struct Replica {
    store: EmbeddedStore,
    feeder: Feeder,
    stepper: SharedStepper,
    /// Index in the log of the next batch its follower hands over.
    next: usize,
    /// Turns it still misses.
    stalled: u32,
    /// Replies released by its writer, waiting to go on the wire.
    outbox: Arc<Mutex<Vec<Outgoing>>>,
    candidates: Candidates,
    reads: Vec<WaitingRead>,
    /// Revision of the published state last looked at for new terms.
    observed: Option<u64>,
    /// The planned leadership changes this replica applied durably (every replica
    /// applies all of them; a restarted one counts again from the log's start).
    planned: PlannedCounter,
}

impl Replica {
    /// Its follower hands over what it has not seen; its writer applies it.
    fn hear_the_log(&mut self, log: &SimLog) {
        let batches = log.after(self.next, DELIVER_PER_TURN);
        self.next += batches.len();
        for batch in batches {
            self.feeder
                .deliver(batch)
                .expect("a stepped replica's queue outlives the run");
        }
        self.stepper.step();
        self.answer_reads();
    }

    /// Answers the reads whose log position this replica has applied.
    fn answer_reads(&mut self) {
        let applied = self.store.applied_position();
        if self.reads.iter().all(|read| read.log_end > applied) {
            return;
        }
        let state = self.store.published();
        let mut outbox = lock(&self.outbox);
        self.reads.retain(|read| {
            if read.log_end > applied {
                return true;
            }
            let reply = host::read(&state, &read.request).unwrap_or(Reply::Done);
            outbox.push((read.client, read.id, reply));
            false
        });
    }
}

/// The hosts and their log.
pub struct Cluster {
    config: Config,
    clock: ManualClock,
    log: SimLog,
    options: Options,
    replicas: Vec<Replica>,
    /// Each host's current epoch, and the next epoch a restarted host takes.
    epochs: Vec<HostEpoch>,
    next_epoch: u64,
    /// Whose turn it is to hear the log (or to stall).
    turn: usize,
    /// Log faults injected so far, by kind, in rotation.
    log_faults: u64,
    handled: Vec<(MonoTime, Request)>,
}

impl Cluster {
    /// `hosts` hosts on an empty log, each joined under its own epoch, with the keys the
    /// clients use created.
    pub fn new(config: &Config, clock: ManualClock, hosts: usize) -> Self {
        let log = SimLog::default();
        let options = Options {
            // Twice a client's patience: an unconfirmed batch is given up on only after
            // its client has stopped waiting, so the answer "unknown" is never early.
            unconfirmed_wait: config.timeout * 2,
            // Room for a turn's batches and every client's request (the default's 65,536
            // slots cost a large allocation at every host restart).
            max_queued: 4 * DELIVER_PER_TURN,
            ..Options::default()
        };
        let hosts = hosts.max(1);
        let mut cluster = Cluster {
            config: config.clone(),
            clock,
            log,
            options,
            replicas: Vec::with_capacity(hosts),
            epochs: Vec::with_capacity(hosts),
            next_epoch: 1,
            turn: 0,
            log_faults: 0,
            handled: Vec::new(),
        };
        for _ in 0..hosts {
            let (epoch, replica) = cluster.start_host();
            cluster.epochs.push(epoch);
            cluster.replicas.push(replica);
        }
        cluster.settle();
        let mut setup = vec![Command::Multi {
            guard: None,
            ops: host::key_nodes(),
            quota: None,
        }];
        if config.planted == Planted::FencingOff {
            setup.push(Command::PlantFencingOff);
        }
        for command in setup {
            cluster.replicas[0]
                .store
                .submit(command, Hooks::default(), |applied| {
                    assert!(
                        matches!(applied, Ok(Ok(_))),
                        "a fresh namespace takes the setup: {applied:?}"
                    );
                })
                .expect("a fresh replica takes the setup");
        }
        cluster.settle();
        cluster
    }

    /// A host process starting under the next epoch: an empty replica whose follower
    /// starts at the log's beginning, its join queued.
    fn start_host(&mut self) -> (HostEpoch, Replica) {
        let epoch = HostEpoch(self.next_epoch);
        self.next_epoch += 1;
        let fresh = Replayed {
            elections: Elections::new(Namespace::new(Limits::default())),
            position: 0,
            replayed: 0,
        };
        let (store, feeder, mut stepper) = EmbeddedStore::open_shared_stepped(
            Box::new(self.log.clone()),
            fresh,
            epoch,
            Arc::new(self.clock.clone()),
            self.options.clone(),
        );
        if self.config.planted == Planted::ReapplyRedelivered {
            stepper.plant_reapply_redelivered();
        }
        let planned = PlannedCounter::default();
        let _ = store.set_sink(Arc::new(planned.clone()));
        let join = Command::JoinHost {
            epoch,
            id: format!("host-{}", epoch.0),
        };
        store
            .submit(join, Hooks::default(), |_| {})
            .expect("a fresh replica takes its join");
        let replica = Replica {
            store,
            feeder,
            stepper,
            next: 0,
            stalled: 0,
            outbox: Arc::default(),
            candidates: Arc::default(),
            reads: Vec::new(),
            observed: None,
            planned,
        };
        (epoch, replica)
    }

    /// Runs every writer and every follower until each host has applied the whole log and
    /// nothing is left to append.
    fn settle(&mut self) {
        for _ in 0..16 {
            let appended = self.write();
            let behind = self.replicas.iter().any(|r| r.next < self.log.len());
            if !appended && !behind {
                return;
            }
            for replica in &mut self.replicas {
                replica.hear_the_log(&self.log);
            }
        }
    }

    /// How many hosts there are (at least one, whatever was asked).
    pub fn hosts(&self) -> usize {
        self.replicas.len()
    }

    fn replica_of(&self, client: usize) -> usize {
        client % self.replicas.len()
    }

    /// Handles a request that reached client `client`'s host: a read once the host has
    /// applied what the log holds now, anything else proposed through the host's writer
    /// and answered once the log's order brought it back applied.
    pub fn handle(&mut self, client: usize, id: u64, request: Request) {
        self.handled.push((self.clock.now(), request.clone()));
        let log_end = self.log.end();
        let index = self.replica_of(client);
        let replica = &mut self.replicas[index];
        if matches!(request, Request::Read(_) | Request::PollTerm(_)) {
            replica.reads.push(WaitingRead {
                client,
                id,
                request,
                log_end,
            });
            replica.answer_reads();
            return;
        }
        let outbox = replica.outbox.clone();
        let answer = move |reply: Reply, _| lock(&outbox).push((client, id, reply));
        let submitted = host::propose(
            &replica.store,
            request,
            &self.config,
            &replica.candidates,
            answer,
        );
        if let Err(error) = submitted {
            lock(&replica.outbox).push((client, id, Reply::Failed(error.to_string())));
        }
    }

    /// Replies released since the last call, from every host.
    pub fn take_outbox(&mut self) -> Vec<Outgoing> {
        self.replicas
            .iter()
            .flat_map(|r| std::mem::take(&mut *lock(&r.outbox)))
            .collect()
    }

    /// Every host's writer appends what it formed. True if any appended.
    pub fn write(&mut self) -> bool {
        let before = self.log.len();
        for replica in &mut self.replicas {
            replica.stepper.step();
        }
        self.log.len() > before
    }

    /// The next host in turn hears the log (unless it is stalled). True if it did.
    pub fn sync(&mut self) -> bool {
        let index = self.next_turn();
        let replica = &mut self.replicas[index];
        if replica.stalled > 0 {
            replica.stalled -= 1;
            return false;
        }
        replica.hear_the_log(&self.log);
        true
    }

    fn next_turn(&mut self) -> usize {
        self.turn = (self.turn + 1) % self.replicas.len();
        self.turn
    }

    /// Fault: the next host in turn stalls (its follower hears nothing for a while).
    pub fn stall(&mut self, faults: &mut FaultCounts) {
        let index = self.next_turn();
        self.replicas[index].stalled = STALL_TURNS;
        faults.stalls += 1;
    }

    /// Fault on the log or a host, the next kind in rotation (see the module docs).
    /// `tear` picks how far back a redelivery starts. Returns the host that died, if one
    /// did: its clients' connections broke.
    pub fn fault(&mut self, tear: u32, faults: &mut FaultCounts) -> Option<usize> {
        self.log_faults += 1;
        match self.log_faults % 4 {
            1 => {
                self.log.state().next_append = Some(AppendFault::LoseAnswer);
                faults.lost_answers += 1;
            }
            2 => {
                self.log.state().next_append = Some(AppendFault::Fail);
                faults.failed_appends += 1;
            }
            3 => {
                let index = self.next_turn();
                let replica = &mut self.replicas[index];
                let back = (1 + tear as usize % 6).min(replica.next);
                replica.next -= back;
                faults.redeliveries += back as u64;
            }
            _ => {
                let index = self.next_turn();
                self.kill_and_restart(index);
                faults.host_crashes += 1;
                return Some(index);
            }
        }
        None
    }

    /// Host `index` dies and restarts under a new epoch; a peer (itself, when it is the
    /// only host) expires the old epoch, as its liveness check would once the dead host's
    /// heartbeats stopped.
    fn kill_and_restart(&mut self, index: usize) {
        let dead = self.epochs[index];
        let (epoch, replica) = self.start_host();
        // The old process is gone: what it had queued and the answers it owed go with it.
        drop(std::mem::replace(&mut self.replicas[index], replica));
        self.epochs[index] = epoch;
        let peer = (index + 1) % self.replicas.len();
        let _ = self.replicas[peer].store.submit(
            Command::ExpireHost { epoch: dead },
            Hooks::default(),
            |_| {},
        );
    }

    /// Whether client `client` talks to host `index`.
    pub fn is_client_of(&self, client: usize, index: usize) -> bool {
        self.replica_of(client) == index
    }

    /// Time passed: every host sweeps the sessions it owns and gives up on batches whose
    /// append was never confirmed and that never came back.
    pub fn tick(&mut self) {
        for replica in &mut self.replicas {
            let _ = replica.store.submit_expiry(|_| {});
            replica.stepper.give_up_unconfirmed();
        }
    }

    /// The planned leadership changes made: the count of the replica that saw most.
    pub fn planned(&self) -> PlannedCounts {
        self.replicas
            .iter()
            .map(|replica| replica.planned.counts())
            .max_by_key(PlannedCounts::total)
            .unwrap_or_default()
    }

    /// Every request that reached a host, with when.
    pub fn handled(&self) -> &[(MonoTime, Request)] {
        &self.handled
    }

    /// The leaders each host's published state shows, for the hosts whose state changed
    /// since the last call: (host, (ballot election, lease elector)).
    pub fn leaders(&mut self) -> Vec<(usize, Leaders)> {
        let mut changed = Vec::new();
        for (index, replica) in self.replicas.iter_mut().enumerate() {
            let state = replica.store.published();
            let revision = state.revision().0;
            if replica.observed == Some(revision) {
                continue;
            }
            replica.observed = Some(revision);
            changed.push((index, host::leaders_in(&state)));
        }
        changed
    }

    /// The end of a run: every host hears the whole log; their states must be equal.
    /// Returns the position and the hosts whose states differ, if any do.
    pub fn converge(&mut self) -> Result<(), (Position, usize, usize)> {
        self.settle();
        let states: Vec<State> = self.replicas.iter().map(|r| r.store.published()).collect();
        let first = states[0].encode();
        for (index, state) in states.iter().enumerate().skip(1) {
            if state.encode() != first {
                return Err((self.log.end(), 0, index));
            }
        }
        Ok(())
    }
}
