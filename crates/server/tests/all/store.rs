//! The embedded store: conformance, restarts, recovery of every damaged shape, disk
//! failures, thousands of simulated power cuts, and real processes killed with SIGKILL.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ballot_check::history::{Recorder, Token};
use ballot_check::{Budget, ModelKind, Verdict, check};
use ballot_core::namespace::State;
use ballot_core::namespace::{CreateMode, Data, NodePath, Op};
use ballot_store::clock::ManualClock;
use ballot_store::embedded::{CrashMode, Fault, SimFs, thread_spawner};
use ballot_store::{EmbeddedStore, Options, Store, StoreError, conformance};
use serde_json::json;

const DIR: &str = "/data";

type NsStore = EmbeddedStore;

fn open_sim(fs: &SimFs, options: Options) -> Result<NsStore, StoreError> {
    EmbeddedStore::open_with(
        Path::new(DIR),
        Arc::new(fs.clone()),
        Arc::new(ManualClock::new()),
        options,
        thread_spawner(),
    )
}

fn p(raw: &str) -> NodePath {
    NodePath::parse(raw).unwrap()
}

fn pair(name: &str) -> Vec<Op> {
    ["a", "b"]
        .map(|half| Op::Create {
            path: p(&format!("/k/{name}-{half}")),
            data: Data::from(name),
            mode: CreateMode::PERSISTENT,
        })
        .to_vec()
}

fn ensure_root(store: &NsStore) {
    let root = Op::Create {
        path: p("/k"),
        data: Data::default(),
        mode: CreateMode::PERSISTENT,
    };
    match store.multi(None, vec![root]) {
        Ok(_) | Err(StoreError::MultiRefused(_)) => {}
        Err(other) => panic!("{other}"),
    }
}

/// Every acknowledged pair is there, and no pair is there by half.
fn verify(state: &ballot_core::namespace::State, acked: &BTreeSet<String>) {
    verify_pairs(state, "/k", acked);
}

/// Under `folder`: both halves of every acknowledged pair, and no half without its twin.
fn verify_pairs(state: &ballot_core::namespace::State, folder: &str, acked: &BTreeSet<String>) {
    let children: BTreeSet<String> = state
        .children(&p(folder))
        .map(|c| c.into_iter().collect())
        .unwrap_or_default();
    for name in acked {
        assert!(
            children.contains(&format!("{name}-a")) && children.contains(&format!("{name}-b")),
            "acknowledged {name} lost"
        );
    }
    for child in &children {
        let (name, half) = child.rsplit_once('-').unwrap();
        let other = if half == "a" { "b" } else { "a" };
        assert!(
            children.contains(&format!("{name}-{other}")),
            "half a multi: {child}"
        );
    }
}

struct SimBuilder;

impl conformance::Builder for SimBuilder {
    type Store = NsStore;
    fn build(&self, clock: ManualClock) -> NsStore {
        EmbeddedStore::open_with(
            Path::new(DIR),
            Arc::new(SimFs::new()),
            Arc::new(clock),
            Options::default(),
            thread_spawner(),
        )
        .unwrap()
    }
}

struct DiskBuilder(tempfile::TempDir);

impl conformance::Builder for DiskBuilder {
    type Store = NsStore;
    fn build(&self, clock: ManualClock) -> NsStore {
        let dir = tempfile::tempdir_in(self.0.path()).unwrap().keep();
        EmbeddedStore::open_with(
            &dir,
            Arc::new(ballot_store::embedded::RealFs),
            Arc::new(clock),
            Options::default(),
            thread_spawner(),
        )
        .unwrap()
    }
}

#[test]
fn conformance_on_the_simulated_and_the_real_file_system() {
    conformance::run_all(&SimBuilder);
    conformance::run_all(&DiskBuilder(tempfile::tempdir().unwrap()));
}

#[test]
fn a_restart_keeps_everything_and_ids_and_revisions_move_on() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new());
    let options = Options {
        snapshot_every: 7,
        segment_bytes: 512,
        ..Options::default()
    };
    let open = || NsStore::open(dir.path(), clock.clone(), options.clone()).unwrap();
    let store = open();
    ensure_root(&store);
    let session = store.open_session(Duration::from_secs(5)).unwrap();
    let eph = Op::Create {
        path: p("/k/eph"),
        data: Data::default(),
        mode: CreateMode::ephemeral(session),
    };
    let mut acked = BTreeSet::new();
    store.multi(None, vec![eph]).unwrap();
    for i in 0..40 {
        store.multi(None, pair(&format!("n{i}"))).unwrap();
        acked.insert(format!("n{i}"));
    }
    let before = store.read();
    drop(store);

    // Time passes while the host is down: the session still gets a full TTL from restart.
    clock.advance(Duration::from_secs(60));
    let store = open();
    let state = store.read();
    assert_eq!(
        state.encode(),
        before.encode(),
        "the same state, byte for byte"
    );
    assert!(
        state.exists(&p("/k/eph")).is_some(),
        "sessions survive a restart"
    );
    assert_eq!(store.expire_sessions().unwrap(), []);
    clock.advance(Duration::from_secs(5));
    assert_eq!(store.expire_sessions().unwrap(), [session]);
    let next = store.open_session(Duration::from_secs(5)).unwrap();
    assert!(
        next > session,
        "session ids after a restart exceed all before"
    );
    assert!(store.read().revision() > before.revision());
    // Snapshots were taken and the log truncated behind them.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.ends_with(".snap")), "{names:?}");
    assert!(
        names.iter().filter(|n| n.ends_with(".log")).count() < 10,
        "{names:?}"
    );
    verify(&store.read(), &acked);
}

#[test]
fn a_second_host_on_the_same_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new());
    let first = NsStore::open(dir.path(), clock.clone(), Options::default()).unwrap();
    let err = NsStore::open(dir.path(), clock.clone(), Options::default())
        .err()
        .unwrap();
    assert!(
        matches!(&err, StoreError::Locked(m) if m.contains("in use by another ballot host")),
        "{err}"
    );
    drop(first);
    NsStore::open(dir.path(), clock, Options::default()).unwrap();
}

fn only_segment(fs: &SimFs) -> String {
    let names: Vec<String> = fs
        .files(Path::new(DIR))
        .into_iter()
        .filter(|n| n.ends_with(".log"))
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    format!("{DIR}/{}", names[0])
}

fn filled(count: usize) -> (SimFs, BTreeSet<String>) {
    let fs = SimFs::new();
    let store = open_sim(&fs, Options::default()).unwrap();
    ensure_root(&store);
    let mut acked = BTreeSet::new();
    for i in 0..count {
        store.multi(None, pair(&format!("r{i}"))).unwrap();
        acked.insert(format!("r{i}"));
    }
    drop(store);
    (fs, acked)
}

#[test]
fn a_torn_tail_is_cut_and_logged() {
    let (fs, acked) = filled(5);
    // An unacknowledged commit whose record reached the disk only in part.
    let store = open_sim(
        &fs,
        Options {
            sync: false,
            ..Options::default()
        },
    )
    .unwrap();
    store.multi(None, pair("torn")).unwrap();
    drop(store);
    let fs = fs.crashed(CrashMode::Tear(11));
    let store = open_sim(&fs, Options::default()).unwrap();
    let (file, bytes) = store.recovery().cut.clone().expect("a cut");
    assert!(file.to_string_lossy().ends_with(".log"));
    assert_eq!(bytes, 11);
    verify(&store.read(), &acked);
    assert!(store.read().exists(&p("/k/torn-a")).is_none());
    // The cut is durable and the log goes on from there.
    store.multi(None, pair("after")).unwrap();
    drop(store);
    let store = open_sim(&fs.crashed(CrashMode::DropUnsynced), Options::default()).unwrap();
    assert_eq!(store.recovery().cut, None);
    assert!(store.read().exists(&p("/k/after-b")).is_some());
}

#[test]
fn a_bad_record_followed_by_valid_ones_is_corruption_not_a_tail() {
    let (fs, _) = filled(5);
    let segment = only_segment(&fs);
    // Flip a byte inside the second record's payload (header 20 bytes, then records).
    let bytes = ballot_store::embedded::FileSystem::read(&fs, Path::new(&segment)).unwrap();
    let first_len = u32::from_le_bytes(bytes[20..24].try_into().unwrap()) as usize;
    let second = 20 + 8 + first_len;
    fs.corrupt(Path::new(&segment), second + 12, &[0xAA]);
    let err = open_sim(&fs, Options::default()).err().expect("refused");
    match err {
        StoreError::Corrupt {
            file,
            offset,
            reason,
        } => {
            assert_eq!(file, segment);
            assert_eq!(offset, second as u64);
            assert!(reason.contains("valid records follow"), "{reason}");
        }
        other => panic!("expected corruption, got {other}"),
    }
}

#[test]
fn an_unknown_format_version_is_a_clear_error() {
    let (fs, _) = filled(1);
    let segment = only_segment(&fs);
    fs.corrupt(Path::new(&segment), 8, &7u32.to_le_bytes());
    let err = open_sim(&fs, Options::default()).err().expect("refused");
    let text = err.to_string();
    assert!(text.contains("format version 7 is not supported"), "{text}");
    assert!(text.contains(&segment), "{text}");
}

#[test]
fn without_a_snapshot_the_whole_log_replays_and_with_a_truncated_log_it_is_an_error() {
    let (fs, acked) = filled(30);
    // No snapshot was ever taken: the full log rebuilds the state.
    let store = open_sim(&fs, Options::default()).unwrap();
    // The root, the 30 pairs, and the first run's restart.
    assert_eq!(store.recovery().replayed, 30 + 2);
    verify(&store.read(), &acked);
    // Snapshot, which truncates the log; then lose the snapshot.
    let lsn = store.snapshot_now().unwrap();
    store.multi(None, pair("late")).unwrap();
    drop(store);
    let snapshot = format!("{DIR}/snap-{lsn:020}.snap");
    let reopened = open_sim(&fs, Options::default()).unwrap();
    assert_eq!(
        reopened.recovery().replayed,
        1,
        "only the record after the snapshot"
    );
    drop(reopened);
    ballot_store::embedded::FileSystem::remove(&fs, Path::new(&snapshot)).unwrap();
    let err = open_sim(&fs, Options::default()).err().expect("refused");
    assert!(
        err.to_string()
            .contains("snapshot holding the records before is missing"),
        "{err}"
    );
}

#[test]
fn a_full_disk_refuses_changes_until_space_comes_back_and_loses_nothing() {
    let fs = SimFs::new();
    let store = open_sim(&fs, Options::default()).unwrap();
    ensure_root(&store);
    store.multi(None, pair("before")).unwrap();
    let session = store.open_session(Duration::from_secs(60)).unwrap();
    let before = store.read().encode();

    fs.inject(Fault::DiskFull);
    let err = store.multi(None, pair("during")).unwrap_err();
    assert!(err.to_string().contains("the disk is full"), "{err}");
    assert_eq!(store.halted(), None, "a full disk passes: no stop for good");
    let why = store.degraded().expect("a store refusing changes says why");
    assert!(why.contains("no space left on device"), "{why}");
    // While the disk stays full every change is refused, and nothing refused shows.
    let err = store.multi(None, pair("still-full")).unwrap_err();
    assert!(err.to_string().contains("the disk is full"), "{err}");
    assert_eq!(store.read().encode(), before);
    // The half of the refused write that reached the file was cut, durably: a power cut
    // keeping every byte written brings back only what was acknowledged.
    let booted = open_sim(&fs.crashed(CrashMode::Tear(usize::MAX)), Options::default()).unwrap();
    verify(&booted.read(), &BTreeSet::from(["before".to_string()]));
    drop(booted);

    // Space comes back: the store takes changes again by itself, with the same state
    // and the same sessions.
    fs.clear_faults();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while store.degraded().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the store did not resume within 30 s of space coming back"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    store.multi(None, pair("after")).unwrap();
    store
        .heartbeat(session)
        .expect("the session outlived the full disk");
    drop(store);
    let store = open_sim(&fs.crashed(CrashMode::DropUnsynced), Options::default()).unwrap();
    verify(
        &store.read(),
        &BTreeSet::from(["before".to_string(), "after".to_string()]),
    );
}

#[test]
fn io_errors_fail_closed_for_good() {
    for fault in [Fault::WriteError, Fault::SyncError] {
        let fs = SimFs::new();
        let store = open_sim(&fs, Options::default()).unwrap();
        ensure_root(&store);
        store.multi(None, pair("before")).unwrap();
        let before = store.read().encode();
        assert_eq!(store.halted(), None);
        fs.inject(fault);
        let err = store.multi(None, pair("during")).unwrap_err();
        assert!(matches!(err, StoreError::Failed(_)), "{fault:?}: {err}");
        // It says so, for /healthz: the store takes no change until restarted.
        let why = store.halted().expect("a failed store says it stopped");
        assert!(why.contains("disk refused"), "{why}");
        fs.clear_faults();
        // A failed store stays failed: no later commit is acknowledged.
        assert!(matches!(
            store.multi(None, pair("after")),
            Err(StoreError::Failed(_))
        ));
        assert_eq!(
            store.read().encode(),
            before,
            "nothing unacknowledged became visible"
        );
        drop(store);
        let store = open_sim(&fs.crashed(CrashMode::DropUnsynced), Options::default()).unwrap();
        verify(&store.read(), &BTreeSet::from(["before".to_string()]));
    }
}

#[test]
fn nothing_is_visible_before_it_is_durable() {
    let fs = SimFs::new();
    let store = Arc::new(open_sim(&fs, Options::default()).unwrap());
    ensure_root(&store);
    fs.hold_syncs();
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || store.multi(None, pair("pending")).unwrap())
    };
    // The record is written but not synced: readers must not see it yet.
    while !fs.has_unsynced_data() {
        std::thread::yield_now();
    }
    let revision = store.read().revision();
    assert!(store.read().exists(&p("/k/pending-a")).is_none());
    // A commit arriving now waits for the next flush and sees the first one's change.
    let second = {
        let store = store.clone();
        std::thread::spawn(move || store.multi(None, pair("second")).unwrap())
    };
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(store.read().revision(), revision, "still nothing published");
    fs.release_syncs();
    let first = writer.join().unwrap();
    let second = second.join().unwrap();
    assert!(second.revision > first.revision);
    assert!(store.read().exists(&p("/k/second-b")).is_some());
}

/// The writer applies a batch while the one before it syncs (one batch in flight, one
/// being built). A power cut in that window loses only what nobody was told was durable:
/// first with the batch in flight and the one built behind it both unacknowledged, then
/// with the first acknowledged and the second written but not yet synced.
#[test]
fn a_crash_between_two_overlapping_batches_loses_only_unacknowledged_commits() {
    use ballot_core::command::Command;
    use ballot_store::embedded::Hooks;
    use std::sync::mpsc::{self, Receiver};

    let ceiling = Duration::from_secs(60);
    let fs = SimFs::new();
    let pipelined = Options {
        pipeline: true,
        ..Options::default()
    };
    let store = Arc::new(open_sim(&fs, pipelined).unwrap());
    ensure_root(&store);
    // Proposes a pair; answers whether it applied (in the writer's step) and whether it
    // was acknowledged durable.
    let propose = |name: &str| -> (Receiver<bool>, Receiver<bool>) {
        let (applied_tx, applied_rx) = mpsc::channel();
        let (durable_tx, durable_rx) = mpsc::channel();
        let command = Command::Multi {
            guard: None,
            ops: pair(name),
            quota: None,
        };
        let hooks = Hooks {
            applied: Some(Box::new(move |applied| {
                let _ = applied_tx.send(applied.is_ok());
            })),
            ..Hooks::default()
        };
        store
            .submit(command, hooks, move |outcome| {
                let _ = durable_tx.send(outcome.is_ok());
            })
            .unwrap();
        (applied_rx, durable_rx)
    };
    let wait_for_unsynced_data = || {
        while !fs.has_unsynced_data() {
            std::thread::yield_now();
        }
    };
    let survivors = |mode: CrashMode| -> Vec<String> {
        let booted = open_sim(&fs.crashed(mode), Options::default()).unwrap();
        let state = booted.read();
        ["zero", "first", "second", "third"]
            .into_iter()
            .filter(|name| state.exists(&p(&format!("/k/{name}-a"))).is_some())
            .map(String::from)
            .collect()
    };

    // A lone commit is synced by the writer itself; two commits queued behind it form
    // the next batch, whose sync goes to the sync thread and is held there.
    fs.hold_syncs();
    let (_, zero) = propose("zero");
    wait_for_unsynced_data();
    let (_, first) = propose("first");
    let (_, second) = propose("second");
    fs.let_one_sync_through();
    assert_eq!(zero.recv_timeout(ceiling), Ok(true));
    wait_for_unsynced_data();
    // With that batch in flight, the writer applies the next commit instead of waiting.
    let (third_applied, third) = propose("third");
    assert_eq!(
        third_applied.recv_timeout(ceiling),
        Ok(true),
        "a commit applies while the batch before it syncs"
    );
    assert!(first.try_recv().is_err() && second.try_recv().is_err() && third.try_recv().is_err());
    assert!(
        store.read().exists(&p("/k/first-a")).is_none(),
        "nothing published early"
    );
    for mode in [CrashMode::DropUnsynced, CrashMode::Tear(13)] {
        assert_eq!(survivors(mode), ["zero"], "{mode:?}");
    }
    // A crash may keep a whole batch that was written but not yet acknowledged (its
    // bytes reached the disk): never part of one, and never the batch built behind it.
    let all_written = survivors(CrashMode::Tear(usize::MAX));
    assert_eq!(all_written, ["zero", "first", "second"]);

    // The batch in flight lands; the one built behind it is written and held in its sync.
    fs.let_one_sync_through();
    assert_eq!(first.recv_timeout(ceiling), Ok(true));
    assert_eq!(second.recv_timeout(ceiling), Ok(true));
    wait_for_unsynced_data();
    assert!(
        third.try_recv().is_err(),
        "the third is not acknowledged yet"
    );
    for mode in [CrashMode::DropUnsynced, CrashMode::Tear(7)] {
        assert_eq!(survivors(mode), ["zero", "first", "second"], "{mode:?}");
    }
    fs.release_syncs();
    assert_eq!(third.recv_timeout(ceiling), Ok(true));
    assert_eq!(
        survivors(CrashMode::DropUnsynced),
        ["zero", "first", "second", "third"]
    );
}

#[test]
fn elections_kept_in_the_store_come_back_after_a_restart() {
    use ballot_core::command::{Command, Entrant, Outcome};
    use ballot_core::election::{ElectionName, Recipient, read_leader};
    let fs = SimFs::new();
    let open = |fs: &SimFs| -> EmbeddedStore {
        EmbeddedStore::open_with(
            Path::new(DIR),
            Arc::new(fs.clone()),
            Arc::new(ManualClock::new()),
            Options::default(),
            thread_spawner(),
        )
        .unwrap()
    };
    let store = open(&fs);
    let election = ElectionName::parse("db").unwrap();
    let stand = |data: &str| Command::Enter {
        ttl: Duration::from_secs(10),
        role: Entrant::Candidate {
            election: election.clone(),
            data: Data::from(data),
            follow_leader: false,
            name: None,
            priority: None,
        },
    };
    let Ok(Outcome::Entered {
        recipient: Recipient::Candidate(first),
        ..
    }) = store.propose_blocking(stand("a")).unwrap()
    else {
        panic!("the first candidate enters")
    };
    let acked = store
        .propose_blocking(Command::Acknowledge {
            candidate: first,
            term: None,
            data: None,
        })
        .unwrap();
    assert!(acked.is_ok(), "the first vote wins and acks: {acked:?}");
    let term = read_leader(&store.published(), &election)
        .expect("an acked leader")
        .term;
    drop(store);
    let store = open(&fs.crashed(CrashMode::DropUnsynced));
    let leader = read_leader(&store.published(), &election);
    assert_eq!(
        leader.map(|l| l.term),
        Some(term),
        "the acked leader survived"
    );
    // A new ballot after the restart gets a later revision: terms never repeat.
    let before = store.published().revision();
    let entered = store.propose_blocking(stand("b")).unwrap();
    assert!(entered.is_ok(), "{entered:?}");
    let ballots = election.paths().ballots;
    let state = store.published();
    let later = state
        .children(&ballots)
        .unwrap()
        .iter()
        .filter_map(|name| state.exists(&ballots.child(name).unwrap()))
        .map(|stat| stat.created)
        .max()
        .unwrap();
    assert!(later > before && later > term);
    assert!(later > term);
}

/// A tiny deterministic generator, so each crash iteration is reproducible from its seed.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Runs `iterations` power cuts under concurrent commits and checks, after each, that
/// every commit acknowledged before the cut is there and no multi is there by half. Every
/// 40 cuts it starts over on an empty disk, so the state (and each snapshot) stays small.
fn simulated_crashes(iterations: u64, seed: u64) {
    let mut rng = XorShift(seed);
    let mut fs = SimFs::new();
    let mut acked: BTreeSet<String> = BTreeSet::new();
    let mut history = Recorder::new();
    let written = Arc::new(Mutex::new(Vec::<String>::new()));
    for iteration in 0..iterations {
        if iteration % EPOCH == 0 {
            check_epoch(&history);
            history = Recorder::new();
            fs = SimFs::new();
            acked.clear();
            written.lock().unwrap().clear();
        }
        let options = Options {
            snapshot_every: 1 + rng.below(40),
            segment_bytes: 256 + rng.below(4096),
            ..Options::default()
        };
        let store = Arc::new(
            open_sim(&fs, options)
                .unwrap_or_else(|e| panic!("seed {seed} iteration {iteration}: {e}")),
        );
        verify(&store.read(), &acked);
        record_read(
            &history,
            u64::MAX - iteration,
            &store.read(),
            &written.lock().unwrap(),
        );
        ensure_root(&store);
        let log = Arc::new(Mutex::new(Vec::new()));
        let pending = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..3)
            .map(|client| {
                let (store, log, stop) = (store.clone(), log.clone(), stop.clone());
                let (history, pending, written) =
                    (history.clone(), pending.clone(), written.clone());
                std::thread::spawn(move || {
                    for seq in 0..30 {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let name = format!("i{iteration}c{client}s{seq}");
                        let value = json!([
                            ["w", format!("{name}-a"), name],
                            ["w", format!("{name}-b"), name]
                        ]);
                        written.lock().unwrap().push(name.clone());
                        // Each transaction is its own process: its completion is decided
                        // at the cut, after the client has moved on.
                        let process = (iteration * 3 + client) * 100 + seq;
                        let token = history.invoke(process, "txn", value.clone());
                        match store.multi(None, pair(&name)) {
                            Ok(_) => {
                                pending.lock().unwrap().push((name.clone(), token, value));
                                log.lock().unwrap().push(name);
                            }
                            Err(_) => {
                                token.info(value);
                                break;
                            }
                        }
                    }
                })
            })
            .collect();
        let wait_for = rng.below(12) as usize;
        while log.lock().unwrap().len() < wait_for && clients.iter().any(|c| !c.is_finished()) {
            std::thread::yield_now();
        }
        // Acknowledged before the cut means durable before the cut.
        let acked_now: Vec<String> = log.lock().unwrap().clone();
        let mode = if rng.below(2) == 0 {
            CrashMode::DropUnsynced
        } else {
            CrashMode::Tear(rng.below(64) as usize)
        };
        let next = fs.crashed(mode);
        // In the history, what was acknowledged before the cut is ok; whatever the dead
        // store acknowledged after it is unknown to the next boot, so info.
        let settle = |pending: &Mutex<Vec<(String, Token, serde_json::Value)>>| {
            for (name, token, value) in pending.lock().unwrap().drain(..) {
                if acked_now.contains(&name) {
                    token.ok(value);
                } else {
                    token.info(value);
                }
            }
        };
        settle(&pending);
        stop.store(true, Ordering::SeqCst);
        for client in clients {
            client.join().unwrap();
        }
        settle(&pending);
        drop(store);
        acked.extend(acked_now);
        fs = next;
    }
    check_epoch(&history);
}

/// Power cuts between starting over on an empty disk; each epoch's history is checked.
const EPOCH: u64 = 40;

/// Records a read of every key written so far, as one transaction, from recovered state.
fn record_read(history: &Recorder, process: u64, state: &State, names: &[String]) {
    let keys: Vec<String> = names
        .iter()
        .flat_map(|n| [format!("{n}-a"), format!("{n}-b")])
        .collect();
    let invoke = keys
        .iter()
        .map(|k| json!(["r", k, null]))
        .collect::<Vec<_>>();
    let token = history.invoke(process, "txn", json!(invoke));
    let read = keys
        .iter()
        .map(|k| {
            let value = state
                .get(&p(&format!("/k/{k}")))
                .ok()
                .map(|(data, _)| json!(String::from_utf8_lossy(data.as_bytes())));
            json!(["r", k, value])
        })
        .collect::<Vec<_>>();
    token.ok(json!(read));
}

/// Checks one epoch's history with the multi-key model: every acknowledged transaction
/// seen whole after every later crash, none seen by half.
fn check_epoch(history: &Recorder) {
    if history.is_empty() {
        return;
    }
    let history = history.history();
    let report = check(&history, ModelKind::Multi, &Budget::default()).expect("checkable");
    assert!(
        matches!(report.verdict, Verdict::Linearizable),
        "{:?}",
        report.verdict
    );
}

#[test]
fn thousands_of_simulated_power_cuts_lose_nothing_acknowledged() {
    simulated_crashes(2000, 0x9E37_79B9_7F4A_7C15);
}

#[test]
fn without_fsync_a_power_cut_loses_acknowledged_commits() {
    // The control: a store that skips fdatasync acknowledges commits a power cut then
    // takes away, so the crash test above is able to fail.
    let fs = SimFs::new();
    let store = open_sim(
        &fs,
        Options {
            sync: false,
            ..Options::default()
        },
    )
    .unwrap();
    ensure_root(&store);
    let mut acked = BTreeSet::new();
    for i in 0..20 {
        store.multi(None, pair(&format!("u{i}"))).unwrap();
        acked.insert(format!("u{i}"));
    }
    let after_cut = fs.crashed(CrashMode::DropUnsynced);
    drop(store);
    let store = open_sim(&after_cut, Options::default()).unwrap();
    let state = store.read();
    let lost = acked
        .iter()
        .filter(|name| state.exists(&p(&format!("/k/{name}-a"))).is_none())
        .count();
    assert_eq!(lost, 20, "every unsynced acknowledgement is gone");
}

fn load_child(dir: &Path, prefix: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_ballot"))
        .args([
            "store-load",
            "--clients",
            "4",
            "--snapshot-every",
            "500",
            "--prefix",
            prefix,
            "--dir",
        ])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ballot store-load")
}

/// Kills `iterations` real store processes with SIGKILL mid-load and checks every
/// acknowledgement they printed after each restart.
fn sigkill_crashes(iterations: u32) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = XorShift(0x5EED);
    let mut acked = BTreeSet::new();
    for iteration in 0..iterations {
        let mut child = load_child(dir.path(), &format!("p{iteration}"));
        let stdout = child.stdout.take().unwrap();
        let (first_tx, first_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut names = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let line = line.unwrap();
                if names.is_empty() {
                    let _ = first_tx.send(());
                }
                names.push(line.strip_prefix("ack ").expect("ack lines").to_string());
            }
            names
        });
        let _ = first_rx.recv_timeout(Duration::from_secs(10));
        std::thread::sleep(Duration::from_micros(rng.below(15_000)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Everything the child printed was acknowledged, including what is still in the pipe.
        acked.extend(reader.join().unwrap());
        let store = NsStore::open(dir.path(), Arc::new(ManualClock::new()), Options::default())
            .unwrap_or_else(|e| panic!("restart {iteration}: {e}"));
        verify_pairs(&store.read(), "/load", &acked);
    }
    assert!(
        acked.len() > iterations as usize,
        "the children committed under load"
    );
}

#[test]
fn two_hundred_sigkills_under_load_lose_nothing_acknowledged() {
    sigkill_crashes(200);
}

#[test]
#[ignore = "soak: run with --ignored (see README)"]
fn soak_a_thousand_sigkills() {
    sigkill_crashes(1_000);
}

mod damaged_logs {
    //! Recovery over logs damaged at random: whatever the damage, opening either gives
    //! a prefix of what was committed (every commit whole or absent, none after a missing
    //! one), or refuses with an error that names the damaged file. It never panics and
    //! never invents a state.

    use super::*;
    use proptest::prelude::*;

    const PAIRS: usize = 8;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn recovery_gives_a_prefix_or_names_the_damage(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            cut in proptest::option::of(any::<prop::sample::Index>()),
        ) {
            let (fs, _) = filled(PAIRS);
            let segment = only_segment(&fs);
            let path = Path::new(&segment);
            let mut bytes = ballot_store::embedded::FileSystem::read(&fs, path).unwrap();
            for (at, byte) in &flips {
                let at = at.index(bytes.len());
                bytes[at] ^= byte | 1;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len()));
            }
            let damaged = SimFs::new();
            let mut file = ballot_store::embedded::FileSystem::create_dir_all(&damaged, Path::new(DIR))
                .and_then(|()| ballot_store::embedded::FileSystem::create(&damaged, path))
                .unwrap();
            file.append(&bytes).unwrap();
            file.sync_data().unwrap();
            ballot_store::embedded::FileSystem::sync_dir(&damaged, Path::new(DIR)).unwrap();

            match open_sim(&damaged, Options::default()) {
                Ok(store) => {
                    let state = store.read();
                    let present: Vec<usize> = (0..PAIRS)
                        .filter(|i| state.exists(&p(&format!("/k/r{i}-a"))).is_some())
                        .collect();
                    for i in 0..PAIRS {
                        let halves = ["a", "b"]
                            .map(|h| state.exists(&p(&format!("/k/r{i}-{h}"))).is_some());
                        prop_assert!(halves[0] == halves[1], "pair r{i} is there by half");
                    }
                    prop_assert_eq!(&present, &(0..present.len()).collect::<Vec<_>>(), "not a prefix");
                }
                Err(error) => {
                    let text = error.to_string();
                    prop_assert!(text.contains(&segment) || text.contains(DIR), "names no file: {}", text);
                }
            }
        }

        #[test]
        fn a_state_from_arbitrary_bytes_is_an_error_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = State::decode(&bytes);
        }

        #[test]
        fn a_shared_log_batch_from_arbitrary_bytes_is_an_error_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = ballot_etcd::envelope::Envelope::decode(&bytes, 7);
        }
    }
}

/// A log of few large records is snapshotted by its size, not only by its count of
/// records, so recovery never reads much more than `snapshot_bytes` of log; and the
/// snapshot taken so restores everything.
#[test]
fn a_log_is_snapshotted_by_its_bytes_as_well_as_its_records() {
    let fs = SimFs::new();
    let options = Options {
        snapshot_every: u64::MAX,
        snapshot_bytes: 16 << 10,
        ..Options::default()
    };
    let store = open_sim(&fs, options.clone()).unwrap();
    ensure_root(&store);
    let snapshots = |fs: &SimFs| {
        fs.files(Path::new(DIR))
            .into_iter()
            .filter(|name| name.ends_with(".snap"))
            .count()
    };
    let big = Data::from(vec![b'x'; 4 << 10]);
    // 4 KiB a record: the fifth passes 16 KiB.
    let written = 5;
    for i in 0..written {
        let op = Op::Create {
            path: p(&format!("/k/big{i}")),
            data: big.clone(),
            mode: CreateMode::PERSISTENT,
        };
        store.multi(None, vec![op]).unwrap();
    }
    // The snapshot is written off the writer: wait for its file, on the clock.
    let deadline = std::time::Instant::now() + super::support::CEILING;
    while snapshots(&fs) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no snapshot after {written} records of 4 KiB"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(store);
    let store = open_sim(&fs, options).unwrap();
    for i in 0..written {
        assert!(store.read().exists(&p(&format!("/k/big{i}"))).is_some());
    }
}

/// `ballot soak crash`, a few rounds: a real served host killed with SIGKILL under
/// writers, and every acknowledged write found after each restart.
#[test]
fn a_served_host_killed_under_writers_keeps_every_acknowledged_write() {
    crash_soak(5);
}

#[test]
#[ignore = "soak: run with --ignored (see README)"]
fn soak_a_thousand_sigkills_of_a_served_host() {
    crash_soak(1_000);
}

fn crash_soak(rounds: u32) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ballot"))
        .args(["soak", "crash", "--rounds", &rounds.to_string(), "--dir"])
        .arg(dir.path())
        .output()
        .expect("ballot soak runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("{rounds} rounds of kill -9")) && stdout.contains(", 0 lost"),
        "{stdout}"
    );
    let acked: u64 = stdout
        .split(", ")
        .find_map(|part| part.strip_suffix(" acknowledged writes"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of acknowledged writes: {stdout}"));
    assert!(
        acked >= u64::from(rounds),
        "each round acknowledged writes: {stdout}"
    );
}
