//! Deterministic simulation with faults.
//!
//! A seeded [`schedule`] drives the real code, not copies of it: the embedded store over
//! [`Elections`](ballot_core::election::Elections) (its writer and snapshotter stepped phase by
//! phase over the simulated file system and a [`ManualClock`]), the ballot election, the
//! lease elector and the guarded and speculative commits of [`ballot_core::commit`]. Several
//! [`client`]s talk to the [`host`] through a simulated [`net`]work. The schedule injects
//! faults and the run counts them ([`FaultCounts`]):
//!
//! - **crash**: a power cut loses every write not followed by an fdatasync and every
//!   folder change not followed by a folder sync (or tears the unsynced tail); the host
//!   recovers the folder and goes on, its sessions counting their full TTL from the
//!   restart. A crash may land between a batch's write and its sync.
//! - **pause**: a client stops for longer than its session TTL and the lease, and wakes
//!   believing it still leads: it writes under its old term.
//! - **delay, loss, reorder** of requests and replies (a lost reply makes the op `info`).
//! - **clock jump**: the clock leaps forward (it never goes back: it is monotonic).
//!
//! Every run ends with checks ([`verdict`]): the data history against the `kv` model, the
//! ballot and the lease histories against the `leadership` model, and direct invariants
//! checked as the run goes (every acknowledged revision survives each crash; the terms the
//! published state shows only increase). A run that injected no fault fails.
//!
//! A run is a function of its schedule, and the schedule of its seed:
//! [`Sim::run`]`(seed, &config)` reproduces a failure from the number alone, and
//! [`shrink`] cuts a failing schedule down to a short one that still fails.
//!
//! With [`Topology::SharedLog`], the same clients talk to several hosts that share one
//! namespace through one ordered log, as hosts on etcd do: each host is the real store's
//! replica writer, stepped by the schedule, over a simulated log that delays, loses
//! append answers, fails appends and redelivers (see [`cluster`]). The same histories
//! are checked, and at the end every host's state must be the same.
//!
//! [`Planted`] bugs, which only this module can switch on, show that the checks bite.
#![deny(missing_docs)]

pub mod client;
pub mod cluster;
pub mod faults;
pub mod host;
pub mod net;
pub mod planned;
pub mod rng;
pub mod schedule;
pub mod shrink;
pub mod verdict;

#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

use ballot_check::history::{History, Recorder};
use ballot_check::models::LeadershipCall;
use ballot_store::clock::{Clock, ManualClock};

pub use faults::FaultCounts;
pub use schedule::Step;
pub use shrink::shrink;
pub use verdict::Failure;

use client::Client;
use cluster::Cluster;
use host::Host;
use net::{Net, Payload};

/// A bug the simulator can plant in the real code, to prove it finds it. The switches
/// behind these are crate-private and reached only from here; no cargo feature turns them
/// on, so no other build or test can have them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Planted {
    /// No bug: the code as it ships.
    #[default]
    None,
    /// Fencing off: term guards and lease guards are not checked.
    FencingOff,
    /// The store acknowledges (and publishes) a batch before its fdatasync.
    AckBeforeSync,
    /// On a shared log, a batch a host hears again after its follower reconnected from
    /// an older position applies again.
    ReapplyRedelivered,
}

impl Planted {
    /// Parses `fencing-off`, `ack-before-sync` or `reapply-redelivered` (`none` for no
    /// bug).
    pub fn parse(word: &str) -> Option<Planted> {
        match word {
            "none" => Some(Planted::None),
            "fencing-off" => Some(Planted::FencingOff),
            "ack-before-sync" => Some(Planted::AckBeforeSync),
            "reapply-redelivered" => Some(Planted::ReapplyRedelivered),
            _ => None,
        }
    }
}

impl fmt::Display for Planted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Planted::None => "none",
            Planted::FencingOff => "fencing-off",
            Planted::AckBeforeSync => "ack-before-sync",
            Planted::ReapplyRedelivered => "reapply-redelivered",
        })
    }
}

/// Where the simulated namespace lives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Topology {
    /// One host on the embedded store, over the simulated file system (crashes are power
    /// cuts of its disk).
    #[default]
    Embedded,
    /// `hosts` hosts sharing one namespace through one simulated ordered log (crashes are
    /// faults of the log; see [`cluster`]).
    SharedLog {
        /// How many hosts.
        hosts: usize,
    },
}

/// What a run simulates.
#[derive(Debug, Clone)]
pub struct Config {
    /// One host on its own disk, or several on one shared log.
    pub topology: Topology,
    /// Clients (processes).
    pub clients: usize,
    /// Steps in a schedule.
    pub steps: usize,
    /// Session TTL.
    pub ttl: Duration,
    /// Lease duration of the elector.
    pub lease: Duration,
    /// A client gives up on a request after this long (its outcome is then unknown).
    pub timeout: Duration,
    /// Store records between snapshots (small, so snapshots happen within a run).
    pub snapshot_every: u64,
    /// Store segment size (small, so segments roll within a run).
    pub segment_bytes: u64,
    /// The planted bug, if any.
    pub planted: Planted,
    /// The direct checks as the run goes: after each crash every acknowledged revision
    /// survived, and published terms only increase; on a shared log, every host ends in
    /// the same state. Off, only the histories can tell (a test shows they do).
    pub direct_checks: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            topology: Topology::Embedded,
            clients: 5,
            steps: 5000,
            ttl: Duration::from_millis(1500),
            lease: Duration::from_millis(1500),
            timeout: Duration::from_millis(500),
            snapshot_every: 24,
            segment_bytes: 2048,
            planted: Planted::None,
            direct_checks: true,
        }
    }
}

/// The three histories a run records.
#[derive(Clone)]
pub struct Histories {
    /// Reads and writes of the keys (`kv` model).
    pub data: Recorder,
    /// The ballot election: terms the host published, commits under them (`leadership`).
    pub ballot: Recorder,
    /// The lease elector: the same for leases (`leadership`).
    pub lease: Recorder,
}

/// The process number of the host's own history lines (the terms it publishes).
pub const HOST_PROCESS: u64 = 1_000_000;

/// What one run did and found.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The seed.
    pub seed: u64,
    /// Steps in its schedule.
    pub steps: usize,
    /// Faults injected.
    pub faults: FaultCounts,
    /// Planned leadership changes made (handoffs, drains, preemptions).
    pub planned: planned::PlannedCounts,
    /// Client operations invoked (lines in the data history that are invokes).
    pub ops: usize,
    /// The first thing that went wrong, if anything.
    pub failure: Option<Failure>,
    /// The histories: data, ballot, lease.
    pub histories: [History; 3],
    /// Every request that reached the host, with when (for the benchmark's baseline).
    pub requests: Vec<(ballot_core::namespace::MonoTime, host::Request)>,
}

impl RunReport {
    /// True when the run found nothing wrong.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }

    /// One line: the seed, its fault counts and its outcome.
    pub fn line(&self) -> String {
        let outcome = match &self.failure {
            None => "ok".to_string(),
            Some(failure) => format!("FAILED: {}", failure.summary()),
        };
        format!(
            "seed {}: {} ops; {}; {}; {}",
            self.seed, self.ops, self.faults, self.planned, outcome
        )
    }
}

/// The simulator.
pub struct Sim;

impl Sim {
    /// Runs the schedule of `seed`: the whole run follows from the number.
    pub fn run(seed: u64, config: &Config) -> RunReport {
        Self::run_schedule(seed, &schedule::generate(seed, config), config)
    }

    /// Runs a given schedule (a seed's, or one the shrinker cut down).
    pub fn run_schedule(seed: u64, steps: &[Step], config: &Config) -> RunReport {
        // Odd seeds run a priority election (votes carry priorities and preempt), even
        // seeds the seed's queue.
        let mut run = Run::new(config, seed % 2 == 1);
        let mut failure = None;
        for step in steps {
            // The store runs its jobs on this thread: a panic in the real code is a
            // finding like any other, with a seed and a schedule to shrink.
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run.step(*step)));
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(found)) => {
                    failure = Some(found);
                    break;
                }
                Err(panic) => {
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic".into());
                    failure = Some(Failure::Panic(message));
                    break;
                }
            }
        }
        let histories = [
            run.histories.data.history(),
            run.histories.ballot.history(),
            run.histories.lease.history(),
        ];
        let faults = run.faults;
        if failure.is_none()
            && run.config.direct_checks
            && let Backend::Shared(cluster) = &mut run.host
            && let Err((position, first, other)) = cluster.converge()
        {
            failure = Some(Failure::Diverged {
                position,
                first,
                other,
            });
        }
        if failure.is_none() {
            failure = verdict::check_histories(&histories);
        }
        if failure.is_none() && faults.total() == 0 {
            failure = Some(Failure::NoFaults);
        }
        let ops = histories[0]
            .ops
            .iter()
            .filter(|op| op.kind == ballot_check::history::OpType::Invoke)
            .count();
        RunReport {
            seed,
            steps: steps.len(),
            faults,
            planned: run.host.planned(),
            ops,
            failure,
            histories,
            requests: run.host.handled().to_vec(),
        }
    }
}

/// The host, or the hosts on their shared log.
enum Backend {
    Embedded(Box<Host>),
    Shared(Box<Cluster>),
}

impl Backend {
    fn handle(&mut self, client: usize, id: u64, request: host::Request) {
        match self {
            Backend::Embedded(host) => host.handle(client, id, request),
            Backend::Shared(cluster) => cluster.handle(client, id, request),
        }
    }

    fn take_outbox(&mut self) -> Vec<host::Outgoing> {
        match self {
            Backend::Embedded(host) => host.take_outbox(),
            Backend::Shared(cluster) => cluster.take_outbox(),
        }
    }

    fn tick(&mut self) {
        match self {
            Backend::Embedded(host) => host.tick(),
            Backend::Shared(cluster) => cluster.tick(),
        }
    }

    fn planned(&self) -> planned::PlannedCounts {
        match self {
            Backend::Embedded(host) => host.planned(),
            Backend::Shared(cluster) => cluster.planned(),
        }
    }

    fn handled(&self) -> &[(ballot_core::namespace::MonoTime, host::Request)] {
        match self {
            Backend::Embedded(host) => host.handled(),
            Backend::Shared(cluster) => cluster.handled(),
        }
    }

    /// The leaders shown by each host whose published state changed since the last call.
    fn leaders(&mut self) -> Vec<(usize, host::Leaders)> {
        match self {
            Backend::Embedded(host) => host.leaders().map(|seen| (0, seen)).into_iter().collect(),
            Backend::Shared(cluster) => cluster.leaders(),
        }
    }
}

/// The state of one run.
struct Run {
    config: Config,
    clock: ManualClock,
    host: Backend,
    clients: Vec<Client>,
    net: Net,
    histories: Histories,
    faults: FaultCounts,
    /// The last term each host showed published, per history (ballot, lease).
    last_terms: Vec<[Option<host::LeaderSeen>; 2]>,
    /// The highest term recorded as elected, per history: on a shared log the first host
    /// to show a term records it, and hosts that show it later do not.
    recorded: [Option<u64>; 2],
}

impl Run {
    fn new(config: &Config, ranked: bool) -> Self {
        let clock = ManualClock::new();
        // Start away from zero, so "never heartbeated" differs from "now".
        clock.advance(Duration::from_secs(1));
        let recorder = || {
            let clock = clock.clone();
            Recorder::with_clock(move || clock.now().0)
        };
        let histories = Histories {
            data: recorder(),
            ballot: recorder(),
            lease: recorder(),
        };
        let (host, hosts) = match config.topology {
            Topology::Embedded => {
                let host = Host::new(config, clock.clone()).expect("a fresh simulated disk opens");
                (Backend::Embedded(Box::new(host)), 1)
            }
            Topology::SharedLog { hosts } => {
                let cluster = Cluster::new(config, clock.clone(), hosts);
                let hosts = cluster.hosts();
                (Backend::Shared(Box::new(cluster)), hosts)
            }
        };
        Run {
            config: config.clone(),
            host,
            clients: (0..config.clients)
                .map(|i| Client::new(i, config.clients, ranked))
                .collect(),
            net: Net::default(),
            histories,
            faults: FaultCounts::default(),
            last_terms: vec![[None, None]; hosts],
            recorded: [None, None],
            clock,
        }
    }

    fn now(&self) -> ballot_core::namespace::MonoTime {
        self.clock.now()
    }

    fn step(&mut self, step: Step) -> Result<(), Failure> {
        let now = self.now();
        match step {
            Step::Act { client, pick } => {
                let timeout = self.config.timeout;
                let idle: Vec<usize> = (0..self.clients.len())
                    .filter(|&c| self.clients[c].ready(now, timeout))
                    .collect();
                if idle.is_empty() {
                    return Ok(());
                }
                let client = idle[client % idle.len()];
                if let Some((id, request)) = self.clients[client].act(
                    now,
                    pick,
                    self.config.ttl,
                    self.config.timeout,
                    &self.histories,
                ) {
                    self.net.send(
                        now,
                        Payload::ToHost {
                            client,
                            id,
                            request,
                        },
                    );
                }
            }
            Step::Deliver { pick } => {
                let clients = &self.clients;
                if let Some((payload, reordered)) =
                    self.net.deliver(now, pick, |c| !clients[c].awake(now))
                {
                    if reordered {
                        self.faults.reorders += 1;
                    }
                    match payload {
                        Payload::ToHost {
                            client,
                            id,
                            request,
                        } => self.host.handle(client, id, request),
                        Payload::ToClient { client, id, reply } => {
                            self.clients[client].on_reply(id, reply)
                        }
                    }
                }
            }
            Step::Write => match &mut self.host {
                Backend::Embedded(host) => {
                    host.write();
                }
                Backend::Shared(cluster) => {
                    cluster.write();
                }
            },
            Step::Sync => match &mut self.host {
                Backend::Embedded(host) => {
                    host.sync();
                }
                Backend::Shared(cluster) => {
                    cluster.sync();
                }
            },
            Step::Snapshot => match &mut self.host {
                Backend::Embedded(host) => {
                    host.snapshot();
                }
                Backend::Shared(cluster) => cluster.stall(&mut self.faults),
            },
            Step::Tick { ms } => {
                self.clock.advance(Duration::from_millis(ms.into()));
                self.host.tick();
            }
            Step::Lose { pick } => {
                if self.net.lose(pick) {
                    self.faults.losses += 1;
                }
            }
            Step::Delay { pick, ms } => {
                if self
                    .net
                    .delay(pick, now.after(Duration::from_millis(ms.into())))
                {
                    self.faults.delays += 1;
                }
            }
            Step::Crash { tear } => {
                let host = match &mut self.host {
                    Backend::Embedded(host) => host,
                    Backend::Shared(cluster) => {
                        if let Some(dead) = cluster.fault(tear, &mut self.faults) {
                            // Its clients' connections broke: their calls in flight end
                            // with an unknown outcome. A restarted host replays the log
                            // and shows old terms again on its way.
                            let broken = |c: usize| cluster.is_client_of(c, dead);
                            self.net.reset_clients(broken);
                            for (c, client) in self.clients.iter_mut().enumerate() {
                                if broken(c) {
                                    client.connection_reset();
                                }
                            }
                            self.last_terms[dead] = [None, None];
                        }
                        return self.after_step();
                    }
                };
                self.faults.crashes += 1;
                if host.mid_flush() {
                    self.faults.crashes_mid_flush += 1;
                }
                // Every connection breaks: requests and replies in flight are gone, and
                // each client's call in flight ends with an unknown outcome.
                host.take_outbox();
                self.net.reset();
                for client in &mut self.clients {
                    client.connection_reset();
                }
                let (acked, recovered) = host
                    .crash(tear)
                    .map_err(|e| Failure::Recovery(e.to_string()))?;
                if recovered < acked && self.config.direct_checks {
                    return Err(Failure::LostAck { acked, recovered });
                }
                let early = host.sessions_not_restored();
                if !early.is_empty() {
                    return Err(Failure::SessionNotRestored(
                        early.iter().map(|s| s.0).collect(),
                    ));
                }
            }
            Step::Pause { client, ms } => {
                let client = client % self.clients.len();
                if self.clients[client].awake(now) {
                    self.clients[client].pause(now.after(Duration::from_millis(ms.into())));
                    self.faults.pauses += 1;
                }
            }
            Step::Jump { ms } => {
                self.clock.advance(Duration::from_millis(ms.into()));
                self.faults.clock_jumps += 1;
                self.host.tick();
            }
        }
        self.after_step()
    }

    /// What follows every step: replies go out, and new terms are looked for.
    fn after_step(&mut self) -> Result<(), Failure> {
        self.flush_outbox();
        self.observe_leaders()
    }

    /// Puts the host's released replies on the wire.
    fn flush_outbox(&mut self) {
        let now = self.now();
        for (client, id, reply) in self.host.take_outbox() {
            self.net.send(now, Payload::ToClient { client, id, reply });
        }
    }

    /// Records each new term the published state shows as `elected` in its history, and
    /// checks that the terms each host shows only increase.
    fn observe_leaders(&mut self) -> Result<(), Failure> {
        let shared = matches!(self.host, Backend::Shared(_));
        for (index, (ballot, lease)) in self.host.leaders() {
            for (slot, (seen, recorder, what)) in [
                (ballot, &self.histories.ballot, "ballot"),
                (lease, &self.histories.lease, "lease"),
            ]
            .into_iter()
            .enumerate()
            {
                let Some(seen) = seen else { continue };
                match &self.last_terms[index][slot] {
                    Some(last) if *last == seen => continue,
                    Some(last) if last.term >= seen.term && self.config.direct_checks => {
                        return Err(Failure::TermWentBack {
                            election: what,
                            before: last.term,
                            before_leader: last.name.clone(),
                            after: seen.term,
                            after_leader: seen.name.clone(),
                        });
                    }
                    _ => {}
                }
                self.last_terms[index][slot] = Some(seen.clone());
                if shared && self.recorded[slot].is_some_and(|term| term >= seen.term) {
                    // Another host showed this term first, and it was recorded then.
                    continue;
                }
                let scope = if slot == 0 {
                    host::ELECTION
                } else {
                    client::LEASE_SCOPE
                };
                recorder.leadership_now(
                    HOST_PROCESS,
                    LeadershipCall::Elected,
                    scope,
                    &seen.name,
                    seen.term,
                );
                self.recorded[slot] = Some(self.recorded[slot].unwrap_or(0).max(seen.term));
            }
        }
        Ok(())
    }
}
