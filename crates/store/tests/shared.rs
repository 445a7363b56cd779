//! Two replicas of one namespace on a shared, ordered log held in memory: what every host
//! on etcd relies on, without etcd. Each replica proposes through its own writer and
//! applies every batch, its own and the other's, in the log's one order.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use ballot_core::command::{Command, Outcome, Refusal};
use ballot_core::election::Elections;
use ballot_core::namespace::{
    CreateMode, Data, HostEpoch, Lifetime, Limits, Namespace, NodePath, Op, SessionId,
};
use ballot_store::clock::ManualClock;
use ballot_store::embedded::thread_spawner;
use ballot_store::log::{Entry, Position, Replayed};
use ballot_store::{Appended, EmbeddedStore, Feeder, Options, Sequenced, SharedLog, StoreError};

/// An ordered log in memory that any number of replicas append to and follow.
#[derive(Clone, Default)]
struct MemoryLog {
    batches: Arc<(Mutex<Vec<Sequenced>>, Condvar)>,
}

impl SharedLog for MemoryLog {
    fn append(
        &mut self,
        host: HostEpoch,
        seq: u64,
        entries: &[Entry],
    ) -> Result<Appended, StoreError> {
        let (batches, grown) = &*self.batches;
        let mut batches = batches.lock().unwrap();
        let after = batches.len() as u64;
        let position = after + 1;
        batches.push(Sequenced {
            position,
            host,
            seq,
            entries: entries.to_vec(),
        });
        grown.notify_all();
        Ok(Appended {
            position,
            after: Some(after),
        })
    }
}

impl MemoryLog {
    /// Follows the log into `feeder` from the start, until `stop`.
    fn follow(&self, feeder: Feeder, stop: Arc<AtomicBool>) {
        let log = self.clone();
        std::thread::spawn(move || {
            let mut next = 0;
            while !stop.load(Ordering::Acquire) {
                let batch = {
                    let (batches, grown) = &*log.batches;
                    let mut batches = batches.lock().unwrap();
                    while batches.len() <= next && !stop.load(Ordering::Acquire) {
                        batches = grown
                            .wait_timeout(batches, Duration::from_millis(50))
                            .unwrap()
                            .0;
                    }
                    match batches.get(next) {
                        Some(batch) => batch.clone(),
                        None => return,
                    }
                };
                next += 1;
                if feeder.deliver(batch).is_err() {
                    return;
                }
            }
        });
    }
}

struct Replica {
    store: EmbeddedStore,
    feeder: Feeder,
    clock: Arc<ManualClock>,
    epoch: HostEpoch,
}

fn replica(log: &MemoryLog, epoch: HostEpoch, stop: &Arc<AtomicBool>) -> Replica {
    let clock = Arc::new(ManualClock::new());
    let fresh = Replayed {
        elections: Elections::new(Namespace::new(Limits::default())),
        position: 0,
        replayed: 0,
    };
    let (store, feeder) = EmbeddedStore::open_shared(
        Box::new(log.clone()),
        fresh,
        epoch,
        clock.clone(),
        Options::default(),
        thread_spawner(),
    );
    log.follow(feeder.clone(), stop.clone());
    let joined = feeder
        .propose_blocking(Command::JoinHost {
            epoch,
            id: format!("host-{}", epoch.0),
        })
        .unwrap();
    assert_eq!(joined, Ok(Outcome::Done));
    Replica {
        store,
        feeder,
        clock,
        epoch,
    }
}

/// Waits (on the replica's published state, with a generous ceiling) until it has applied
/// at least `position`.
fn caught_up(replica: &Replica, position: Position) {
    let mut published = replica.store.subscribe();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while replica.store.applied_position() < position {
        assert!(
            std::time::Instant::now() < deadline,
            "replica did not catch up"
        );
        wait_for_change(&mut published);
    }
}

/// Blocks until the watch channel changes or 50 ms pass.
fn wait_for_change(rx: &mut tokio::sync::watch::Receiver<ballot_core::namespace::State>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let _ = tokio::time::timeout(Duration::from_millis(50), rx.changed()).await;
    });
}

/// Runs one future to its end on a throwaway runtime.
fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(future)
}

fn open_session(replica: &Replica) -> SessionId {
    match replica
        .feeder
        .propose_blocking(Command::OpenSession {
            ttl: Duration::from_secs(1),
        })
        .unwrap()
    {
        Ok(Outcome::Opened(session)) => session,
        other => panic!("{other:?}"),
    }
}

fn create(path: &str, lifetime: Lifetime) -> Command {
    Command::Multi {
        guard: None,
        ops: vec![Op::Create {
            path: NodePath::parse(path).unwrap(),
            data: Data::from(b"x".to_vec()),
            mode: CreateMode {
                lifetime,
                sequential: false,
            },
        }],
        quota: None,
    }
}

#[test]
fn two_replicas_apply_one_order_and_an_expired_host_acts_no_more() {
    let log = MemoryLog::default();
    let stop = Arc::new(AtomicBool::new(false));
    let a = replica(&log, HostEpoch(1), &stop);
    let b = replica(&log, HostEpoch(2), &stop);

    // A's ephemeral node, owned by A's session, is seen by B.
    let session = open_session(&a);
    let node = a
        .feeder
        .propose_blocking(create("/a", Lifetime::Ephemeral(session)))
        .unwrap();
    assert!(matches!(node, Ok(Outcome::Committed(_))), "{node:?}");
    caught_up(&b, a.store.applied_position());
    assert!(
        b.store
            .published()
            .exists(&NodePath::parse("/a").unwrap())
            .is_some()
    );
    assert_eq!(
        b.store.published().session(session).map(|s| s.owner),
        Some(a.epoch)
    );

    // Both propose at once; both end in the same state, whatever the interleaving.
    let writers: Vec<_> = [(&a, "a"), (&b, "b")]
        .into_iter()
        .map(|(replica, name)| {
            let feeder = replica.feeder.clone();
            let name = name.to_owned();
            std::thread::spawn(move || {
                for n in 0..50 {
                    let applied = feeder
                        .propose_blocking(create(&format!("/{name}{n}"), Lifetime::Persistent))
                        .unwrap();
                    assert!(matches!(applied, Ok(Outcome::Committed(_))), "{applied:?}");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let end = a.store.applied_position().max(b.store.applied_position());
    caught_up(&a, end);
    caught_up(&b, end);
    assert_eq!(a.store.published().encode(), b.store.published().encode());

    // A sweep that finds nothing overdue writes nothing to the log: hosts sweep every
    // few milliseconds, and an idle one must not append for it.
    let before = log.batches.0.lock().unwrap().len();
    for _ in 0..5 {
        let swept = block_on(b.store.expire_overdue());
        assert_eq!(swept.unwrap(), Vec::<SessionId>::new());
    }
    assert_eq!(
        log.batches.0.lock().unwrap().len(),
        before,
        "idle sweeps appended"
    );

    // Only a session's owner expires it: B's clock running past A's TTL ends nothing.
    b.clock.advance(Duration::from_secs(5));
    let none = b
        .feeder
        .propose_blocking(Command::ExpireSessions { sessions: vec![] });
    assert_eq!(none.unwrap(), Ok(Outcome::Ended(vec![])));
    assert!(a.store.published().session(session).is_some());

    // B expires A: A's session and its ephemeral go in one step on both replicas, and
    // whatever A proposes afterwards is refused on both.
    let expired = b
        .feeder
        .propose_blocking(Command::ExpireHost { epoch: a.epoch })
        .unwrap();
    assert_eq!(expired, Ok(Outcome::Ended(vec![session])));
    let late = a
        .feeder
        .propose_blocking(create("/late", Lifetime::Persistent))
        .unwrap();
    assert_eq!(late, Err(Refusal::HostExpired(a.epoch)));
    let end = a.store.applied_position().max(b.store.applied_position());
    caught_up(&a, end);
    caught_up(&b, end);
    for replica in [&a, &b] {
        let state = replica.store.published();
        assert!(state.exists(&NodePath::parse("/a").unwrap()).is_none());
        assert!(state.exists(&NodePath::parse("/late").unwrap()).is_none());
        assert!(state.session(session).is_none());
    }
    assert_eq!(a.store.published().encode(), b.store.published().encode());
    stop.store(true, Ordering::Release);
}

#[test]
fn a_command_over_the_batch_limit_is_refused_before_it_is_sent() {
    #[derive(Clone, Default)]
    struct Small(MemoryLog);
    impl SharedLog for Small {
        fn append(
            &mut self,
            host: HostEpoch,
            seq: u64,
            entries: &[Entry],
        ) -> Result<Appended, StoreError> {
            self.0.append(host, seq, entries)
        }
        fn max_batch_bytes(&self) -> usize {
            4096
        }
    }
    let log = Small::default();
    let stop = Arc::new(AtomicBool::new(false));
    let fresh = Replayed {
        elections: Elections::new(Namespace::new(Limits::default())),
        position: 0,
        replayed: 0,
    };
    let (store, feeder) = EmbeddedStore::open_shared(
        Box::new(log.clone()),
        fresh,
        HostEpoch(1),
        Arc::new(ManualClock::new()),
        Options::default(),
        thread_spawner(),
    );
    log.0.follow(feeder.clone(), stop.clone());
    let big = Command::Multi {
        guard: None,
        ops: vec![Op::Create {
            path: NodePath::parse("/big").unwrap(),
            data: Data::from(vec![7u8; 8192]),
            mode: CreateMode {
                lifetime: Lifetime::Persistent,
                sequential: false,
            },
        }],
        quota: None,
    };
    let error = feeder.propose_blocking(big).unwrap_err();
    assert!(error.to_string().contains("4096 bytes"), "{error}");
    assert!(
        log.0.batches.0.lock().unwrap().is_empty(),
        "nothing was sent"
    );
    drop(store);
    stop.store(true, Ordering::Release);
}

/// A small seeded generator (splitmix64): the faults of one seed are the same every run.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// What the faulty log did, counted.
#[derive(Default)]
struct Faults {
    answers_lost: std::sync::atomic::AtomicU64,
    appends_failed: std::sync::atomic::AtomicU64,
    redelivered: std::sync::atomic::AtomicU64,
}

/// The ordered log misbehaving as etcd can: an append's answer is lost although the
/// batch landed (a put that timed out after the quorum had it), an append fails with
/// nothing landed, and a follower gets batches late, some of them twice (a watch that
/// reconnects from an older revision).
#[derive(Clone)]
struct FaultyLog {
    log: MemoryLog,
    rng: Arc<Mutex<Seeded>>,
    faults: Arc<Faults>,
}

impl SharedLog for FaultyLog {
    fn append(
        &mut self,
        host: HostEpoch,
        seq: u64,
        entries: &[Entry],
    ) -> Result<Appended, StoreError> {
        let (lose_answer, fail) = {
            let mut rng = self.rng.lock().unwrap();
            (rng.chance(10), rng.chance(4))
        };
        if fail {
            self.faults.appends_failed.fetch_add(1, Ordering::Relaxed);
            return Err(StoreError::Unavailable("the append failed".into()));
        }
        let appended = self.log.append(host, seq, entries)?;
        if lose_answer {
            self.faults.answers_lost.fetch_add(1, Ordering::Relaxed);
            return Err(StoreError::Unavailable(
                "the append's answer was lost".into(),
            ));
        }
        Ok(appended)
    }
}

impl FaultyLog {
    /// Follows the log into `feeder`, late and with repeats, until `stop`.
    fn follow(&self, feeder: Feeder, seed: u64, stop: Arc<AtomicBool>) {
        let faulty = self.clone();
        std::thread::spawn(move || {
            let mut rng = Seeded(seed);
            let mut next = 0;
            while !stop.load(Ordering::Acquire) {
                let batches = faulty.log.batches.0.lock().unwrap().clone();
                if batches.len() <= next {
                    std::thread::sleep(Duration::from_micros(200));
                    continue;
                }
                if rng.chance(20) {
                    std::thread::sleep(Duration::from_micros(rng.next() % 2000));
                }
                if feeder.deliver(batches[next].clone()).is_err() {
                    return;
                }
                next += 1;
                if rng.chance(10) {
                    // A reconnect from an older position: the batches since come again.
                    let back = (rng.next() as usize % 5).min(next);
                    faulty
                        .faults
                        .redelivered
                        .fetch_add(back as u64, Ordering::Relaxed);
                    next -= back;
                }
            }
        });
    }
}

#[test]
fn replicas_on_a_log_that_loses_answers_and_redelivers_agree_and_lose_no_acknowledged_write() {
    for seed in [1u64, 2, 3] {
        let faults = Arc::new(Faults::default());
        let log = FaultyLog {
            log: MemoryLog::default(),
            rng: Arc::new(Mutex::new(Seeded(seed))),
            faults: faults.clone(),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let options = Options {
            unconfirmed_wait: Duration::from_secs(2),
            ..Options::default()
        };
        let replicas: Vec<(EmbeddedStore, Feeder)> = (1..=3)
            .map(|host| {
                let fresh = Replayed {
                    elections: Elections::new(Namespace::new(Limits::default())),
                    position: 0,
                    replayed: 0,
                };
                let (store, feeder) = EmbeddedStore::open_shared(
                    Box::new(log.clone()),
                    fresh,
                    HostEpoch(host),
                    Arc::new(ballot_store::clock::SystemClock::new()),
                    options.clone(),
                    thread_spawner(),
                );
                log.follow(feeder.clone(), seed * 10 + host, stop.clone());
                (store, feeder)
            })
            .collect();
        for (host, (_, feeder)) in replicas.iter().enumerate() {
            // Joining may itself meet a fault: try until it is known to have applied.
            let epoch = HostEpoch(host as u64 + 1);
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while !feeder.published().is_live_host(epoch) {
                assert!(std::time::Instant::now() < deadline, "host {epoch} joins");
                let _ = feeder.propose_blocking(Command::JoinHost {
                    epoch,
                    id: format!("host-{}", epoch.0),
                });
            }
        }

        // Three writers per replica, each path created once: every answer is either what
        // the log's order decided (the proposer found its batch there, even when the
        // append's answer was lost) or "unknown".
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let unknown = Arc::new(Mutex::new(Vec::new()));
        let writers: Vec<_> = replicas
            .iter()
            .enumerate()
            .flat_map(|(host, (_, feeder))| {
                (0..3).map(move |writer| (host, writer, feeder.clone()))
            })
            .map(|(host, writer, feeder)| {
                let (acknowledged, unknown) = (acknowledged.clone(), unknown.clone());
                std::thread::spawn(move || {
                    for n in 0..40 {
                        let path = format!("/h{host}-w{writer}-{n}");
                        match feeder.propose_blocking(create(&path, Lifetime::Persistent)) {
                            Ok(Ok(Outcome::Committed(_))) => {
                                acknowledged.lock().unwrap().push(path)
                            }
                            Ok(other) => panic!("{path}: {other:?}"),
                            Err(error) => {
                                assert!(error.to_string().contains("unknown"), "{error}");
                                unknown.lock().unwrap().push(path);
                            }
                        }
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }

        let end = log
            .log
            .batches
            .0
            .lock()
            .unwrap()
            .last()
            .map_or(0, |b| b.position);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while replicas
            .iter()
            .any(|(store, _)| store.applied_position() < end)
        {
            assert!(std::time::Instant::now() < deadline, "replicas catch up");
            std::thread::sleep(Duration::from_millis(5));
        }
        let states: Vec<_> = replicas.iter().map(|(s, _)| s.published()).collect();
        for state in &states[1..] {
            assert_eq!(
                state.encode(),
                states[0].encode(),
                "seed {seed}: replicas agree"
            );
        }
        let acknowledged = acknowledged.lock().unwrap();
        for path in acknowledged.iter() {
            assert!(
                states[0].exists(&NodePath::parse(path).unwrap()).is_some(),
                "seed {seed}: acknowledged {path} is on every replica"
            );
        }
        // The faults happened; a write whose append lost its answer was still answered
        // from the log's order (so "unknown" went only to writes that never landed).
        assert!(faults.answers_lost.load(Ordering::Relaxed) > 0);
        assert!(faults.appends_failed.load(Ordering::Relaxed) > 0);
        assert!(faults.redelivered.load(Ordering::Relaxed) > 0);
        let unknown = unknown.lock().unwrap();
        assert_eq!(acknowledged.len() + unknown.len(), 9 * 40);
        for path in unknown.iter() {
            assert!(
                states[0].exists(&NodePath::parse(path).unwrap()).is_none(),
                "seed {seed}: {path} landed, and its proposer was not told"
            );
        }
        stop.store(true, Ordering::Release);
        for (store, _) in &replicas {
            store.close();
        }
    }
}

/// A batch that lands right behind the last one the replica applied applies when its
/// append is answered, without waiting for the follower to bring it back: nothing can
/// come between the two. When the follower does bring it back, it does not apply again.
#[test]
fn a_batch_right_behind_the_replica_applies_on_its_answer_and_once() {
    let log = MemoryLog::default();
    let stop = Arc::new(AtomicBool::new(false));
    let fresh = Replayed {
        elections: Elections::new(Namespace::new(Limits::default())),
        position: 0,
        replayed: 0,
    };
    // No follower yet: only the append's answer can apply anything.
    let (store, feeder) = EmbeddedStore::open_shared(
        Box::new(log.clone()),
        fresh,
        HostEpoch(1),
        Arc::new(ManualClock::new()),
        Options::default(),
        thread_spawner(),
    );
    let create = |name: &str| Command::Multi {
        guard: None,
        ops: vec![Op::Create {
            path: NodePath::parse(name).unwrap(),
            data: Data::from("x"),
            mode: CreateMode {
                lifetime: Lifetime::Persistent,
                sequential: false,
            },
        }],
        quota: None,
    };
    let joined = feeder.propose_blocking(Command::JoinHost {
        epoch: HostEpoch(1),
        id: "host-1".into(),
    });
    assert_eq!(joined.unwrap(), Ok(Outcome::Done));
    for name in ["/a", "/b"] {
        let applied = feeder.propose_blocking(create(name)).unwrap();
        assert!(matches!(applied, Ok(Outcome::Committed(_))), "{applied:?}");
    }
    assert_eq!(feeder.applied_position(), 3);
    let before = store.published();

    // The follower now hands every batch over again, from the start.
    log.follow(feeder.clone(), stop.clone());
    let applied = feeder.propose_blocking(create("/c")).unwrap();
    assert!(matches!(applied, Ok(Outcome::Committed(_))), "{applied:?}");
    let after = store.published();
    assert_eq!(feeder.applied_position(), 4);
    assert_eq!(
        after.revision().0,
        before.revision().0 + 1,
        "only /c's batch applied since; the three heard again did not apply twice"
    );
    stop.store(true, Ordering::Release);
}

/// A reader that wakes on a new state finds the replica's position already at that
/// state's batch: a consistent read waits on the state and then checks the position, and
/// would otherwise wait for a change that may never come.
#[test]
fn whoever_sees_a_batchs_state_sees_its_position() {
    let log = MemoryLog::default();
    let stop = Arc::new(AtomicBool::new(false));
    let replica = replica(&log, HostEpoch(1), &stop);
    let joined_at = replica.store.applied_position();
    let base = replica.store.published().revision().0;
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let published = replica.store.subscribe();
        let feeder = replica.feeder.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            let mut checked = 0u64;
            while !done.load(Ordering::Acquire) {
                // One create per batch: the state's revision names the batch it came from.
                let created = published.borrow().revision().0 - base;
                let position = feeder.applied_position();
                assert!(
                    position >= joined_at + created,
                    "the state of position {} was visible while the position read {position}",
                    joined_at + created
                );
                checked += 1;
            }
            checked
        })
    };
    for n in 0..3_000 {
        let applied = replica
            .feeder
            .propose_blocking(create(&format!("/n{n}"), Lifetime::Persistent))
            .unwrap();
        assert!(matches!(applied, Ok(Outcome::Committed(_))), "{applied:?}");
    }
    done.store(true, Ordering::Release);
    let checked = reader.join().unwrap();
    assert!(checked > 0);
    stop.store(true, Ordering::Release);
}

/// Proposes `command` with `hooks` on `replica` and waits (at most a generous minute) for
/// the answer: `Err(Closed)` when the writer dropped the reply.
fn propose_with_hooks(
    replica: &Replica,
    command: Command,
    hooks: ballot_store::Hooks,
) -> Result<Result<Outcome, Refusal>, StoreError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    replica.store.submit(command, hooks, move |outcome| {
        let _ = tx.send(outcome);
    })?;
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(applied)) => Ok(applied),
        Ok(Err(failure)) => Err(StoreError::Failed(failure)),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(StoreError::Closed),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("no answer within a minute"),
    }
}

/// A panic in a replica's step (here a caller's hook, while the head changes) halts that
/// replica, fail-closed: it answers its callers with the reason instead of leaving them
/// waiting, refuses every later change, and lives on to say why. The command was in the
/// log already, so it stands on the other replica, which goes on.
#[test]
fn a_panic_in_a_replicas_step_halts_that_replica_and_answers_its_callers() {
    let log = MemoryLog::default();
    let stop = Arc::new(AtomicBool::new(false));
    let a = replica(&log, HostEpoch(1), &stop);
    let b = replica(&log, HostEpoch(2), &stop);

    let panicking = ballot_store::Hooks {
        applied: Some(Box::new(|_| panic!("a bug in a caller's hook"))),
        ..ballot_store::Hooks::default()
    };
    let answer = propose_with_hooks(&a, create("/logged", Lifetime::Persistent), panicking);
    assert!(
        answer.is_err(),
        "the panicking proposal was answered {answer:?}"
    );
    let halted = common::why_halted(&a.store);
    assert!(halted.contains("a bug in a caller's hook"), "{halted}");

    // Every later change on the halted replica hears why, at once.
    let after = a
        .feeder
        .propose_blocking(create("/after", Lifetime::Persistent));
    match after {
        Err(StoreError::Unavailable(why)) => assert!(why.contains("panicked"), "{why}"),
        other => panic!("a change after the halt was answered {other:?}"),
    }

    // The other replica applied the logged command and takes changes.
    let applied = b
        .feeder
        .propose_blocking(create("/on-b", Lifetime::Persistent))
        .unwrap();
    assert!(matches!(applied, Ok(Outcome::Committed(_))), "{applied:?}");
    caught_up(&b, b.store.applied_position());
    let state = b.store.published();
    assert!(state.exists(&NodePath::parse("/logged").unwrap()).is_some());
    assert!(state.exists(&NodePath::parse("/after").unwrap()).is_none());
    assert!(b.store.halted().is_none());
    stop.store(true, Ordering::Release);
}

/// A panic in a durable hook, once the command's batch is applied in the log's order,
/// costs only that caller's answer: the replica stays whole and goes on.
#[test]
fn a_panic_in_a_durable_hook_on_a_replica_costs_only_its_own_answer() {
    let log = MemoryLog::default();
    let stop = Arc::new(AtomicBool::new(false));
    let a = replica(&log, HostEpoch(1), &stop);
    let panicking = ballot_store::Hooks {
        durable: Some(Box::new(|_| panic!("a bug in a durable hook"))),
        ..ballot_store::Hooks::default()
    };
    assert!(matches!(
        propose_with_hooks(&a, create("/durable", Lifetime::Persistent), panicking),
        Err(StoreError::Closed)
    ));
    assert!(a.store.halted().is_none());
    let applied = a
        .feeder
        .propose_blocking(create("/next", Lifetime::Persistent))
        .unwrap();
    assert!(matches!(applied, Ok(Outcome::Committed(_))), "{applied:?}");
    let state = a.store.published();
    assert!(
        state
            .exists(&NodePath::parse("/durable").unwrap())
            .is_some()
    );
    assert!(state.exists(&NodePath::parse("/next").unwrap()).is_some());
    stop.store(true, Ordering::Release);
}
