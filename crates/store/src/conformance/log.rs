//! The conformance suite every [`Log`] must pass: the contract that lets a store keep its
//! state in it, written against the trait alone so that the write-ahead log and the etcd
//! log run it unchanged.
//!
//! Each check gets a fresh [`LogBuilder`], whose storage outlives the logs it opens: a
//! check drops a log, may [`LogBuilder::crash`] the storage, and opens it again, as a
//! process that dies and restarts would.

use std::time::Duration;

use crate::StoreError;
use crate::log::{Batch, Entry, Log, Position, Snapshots, replay};
use ballot_core::command::{Command, apply};
use ballot_core::election::Elections;
use ballot_core::namespace::{CreateMode, Data, Limits, MonoTime, Namespace, NodePath, Op};

/// Storage for one log, opened as often as a check likes.
pub trait LogBuilder {
    /// Opens the log kept in this builder's storage: empty the first time, and afterwards
    /// holding at least everything that a [`Log::sync`] made durable.
    fn open(&self) -> (Box<dyn Log>, Box<dyn Snapshots>);

    /// The machine holding the storage loses power: whatever was written and not synced
    /// may be lost (a log whose writes are durable when they return loses nothing). Called
    /// only while no log of this builder is open.
    fn crash(&self);
}

/// One named check of the suite.
type Check<B> = (&'static str, fn(&B));

/// Runs every check, each on storage from `fresh`, panicking with the check's name on the
/// first failure.
pub fn run_all<B: LogBuilder>(fresh: impl Fn() -> B) {
    let checks: [Check<B>; 7] = [
        ("an empty log holds nothing", an_empty_log_holds_nothing),
        (
            "batches read back in order after every position",
            batches_read_back_in_order,
        ),
        ("reads are bounded and resume", reads_are_bounded_and_resume),
        (
            "synced batches survive a crash and positions move on",
            synced_batches_survive_a_crash,
        ),
        (
            "a crash loses only what was not synced",
            a_crash_loses_only_what_was_not_synced,
        ),
        (
            "the newest snapshot loads back and the log continues after it",
            snapshots_load_back,
        ),
        (
            "replay rebuilds the state that apply built",
            replay_rebuilds_the_state,
        ),
    ];
    for (name, check) in checks {
        let builder = fresh();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&builder)));
        if let Err(panic) = outcome {
            eprintln!("log conformance check failed: {name}");
            std::panic::resume_unwind(panic);
        }
    }
}

/// The `n`th command of a script that always applies: sessions opened and nodes created,
/// stamped a millisecond apart.
fn entry(n: u64) -> Entry {
    let command = if n.is_multiple_of(3) {
        Command::OpenSession {
            ttl: Duration::from_secs(10),
        }
    } else {
        Command::Multi {
            guard: None,
            ops: vec![Op::Create {
                path: NodePath::parse(&format!("/n{n}")).expect("a valid path"),
                data: Data::from(format!("value {n}").as_str()),
                mode: CreateMode::PERSISTENT,
            }],
            quota: None,
        }
    };
    Entry {
        at: MonoTime(n * 1_000_000),
        command,
    }
}

/// Batches of 1, 2 and 3 entries, numbered on from `from`.
fn batches(from: u64, count: usize) -> Vec<Vec<Entry>> {
    let mut next = from;
    (0..count)
        .map(|i| {
            let len = 1 + (i % 3) as u64;
            let batch = (next..next + len).map(entry).collect();
            next += len;
            batch
        })
        .collect()
}

fn append_all(log: &mut dyn Log, batches: &[Vec<Entry>]) -> Vec<Position> {
    batches
        .iter()
        .map(|batch| log.append(batch).expect("append"))
        .collect()
}

/// Everything after `after`, read in chunks of `chunk`, checking that positions increase.
fn read_all(log: &dyn Log, after: Position, chunk: usize) -> Vec<Batch> {
    let mut all: Vec<Batch> = Vec::new();
    let mut position = after;
    loop {
        let read = log.read_after(position, chunk).expect("read");
        assert!(read.len() <= chunk, "asked for {chunk}, got {}", read.len());
        let Some(last) = read.last() else {
            return all;
        };
        for batch in &read {
            assert!(batch.position > position, "positions must increase");
            assert!(
                !batch.entries.is_empty(),
                "a batch read back is never empty"
            );
            position = batch.position;
        }
        debug_assert_eq!(position, last.position);
        all.extend(read);
    }
}

fn entries(batches: &[Batch]) -> Vec<Entry> {
    batches.iter().flat_map(|b| b.entries.clone()).collect()
}

fn state_after(entries: &[Entry]) -> Elections {
    let mut elections = Elections::new(Namespace::new(Limits::default()));
    for entry in entries {
        let (applied, _) = apply(&mut elections, &entry.command, entry.at);
        applied.expect("the script applies");
    }
    elections
}

fn an_empty_log_holds_nothing(builder: &impl LogBuilder) {
    let (log, snapshots) = builder.open();
    assert_eq!(log.last_position(), 0);
    assert_eq!(log.read_after(0, 16).expect("read"), []);
    assert!(
        snapshots
            .load_newest(Limits::default())
            .expect("load")
            .is_none()
    );
}

fn batches_read_back_in_order(builder: &impl LogBuilder) {
    let (mut log, _) = builder.open();
    let written = batches(0, 6);
    let positions = append_all(&mut *log, &written);
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert_eq!(log.last_position(), *positions.last().expect("six"));
    for (k, position) in std::iter::once(&0).chain(&positions).enumerate() {
        let expected: Vec<Entry> = written[k..].iter().flatten().cloned().collect();
        assert_eq!(
            entries(&read_all(&*log, *position, 1 << 20)),
            expected,
            "after position {position}"
        );
    }
}

fn reads_are_bounded_and_resume(builder: &impl LogBuilder) {
    let (mut log, _) = builder.open();
    let written = batches(0, 9);
    append_all(&mut *log, &written);
    let expected: Vec<Entry> = written.into_iter().flatten().collect();
    assert_eq!(entries(&read_all(&*log, 0, 2)), expected);
    assert_eq!(entries(&read_all(&*log, 0, 1)), expected);
}

fn synced_batches_survive_a_crash(builder: &impl LogBuilder) {
    let written = batches(0, 4);
    let last = {
        let (mut log, _) = builder.open();
        *append_all(&mut *log, &written).last().expect("four")
    };
    builder.crash();
    let (mut log, _) = builder.open();
    assert_eq!(log.last_position(), last);
    let expected: Vec<Entry> = written.iter().flatten().cloned().collect();
    assert_eq!(entries(&read_all(&*log, 0, 1 << 20)), expected);
    let more = log.append(&[entry(100)]).expect("append after reopening");
    assert!(
        more > last,
        "a reopened log goes on after its last position"
    );
    drop(log);
    let (log, _) = builder.open();
    let mut expected = expected;
    expected.push(entry(100));
    assert_eq!(entries(&read_all(&*log, 0, 1 << 20)), expected);
}

fn a_crash_loses_only_what_was_not_synced(builder: &impl LogBuilder) {
    let synced = batches(0, 3);
    let unsynced = entry(50);
    {
        let (mut log, _) = builder.open();
        append_all(&mut *log, &synced);
        log.write(std::slice::from_ref(&unsynced))
            .expect("write without sync");
    }
    builder.crash();
    let (mut log, _) = builder.open();
    let read = entries(&read_all(&*log, 0, 1 << 20));
    let kept: Vec<Entry> = synced.into_iter().flatten().collect();
    let mut with_unsynced = kept.clone();
    with_unsynced.push(unsynced);
    assert!(
        read == kept || read == with_unsynced,
        "after a crash the log holds what was synced, and perhaps what was only written: {} entries",
        read.len()
    );
    let before = log.last_position();
    assert!(log.append(&[entry(51)]).expect("append") > before);
}

fn snapshots_load_back(builder: &impl LogBuilder) {
    let first = batches(0, 4);
    let second = batches(10, 3);
    let covered: Vec<Entry> = first.iter().flatten().cloned().collect();
    let (at, state) = {
        let (mut log, snapshots) = builder.open();
        append_all(&mut *log, &first);
        log.prepare_snapshot().expect("prepare");
        let at = log.last_position();
        let state = state_after(&covered);
        snapshots.save(at, &state).expect("save");
        append_all(&mut *log, &second);
        (at, state)
    };
    builder.crash();
    let (log, snapshots) = builder.open();
    let (loaded_at, loaded) = snapshots
        .load_newest(Limits::default())
        .expect("load")
        .expect("a snapshot");
    assert_eq!(loaded_at, at);
    assert_eq!(
        loaded.encode(),
        state.encode(),
        "the snapshot comes back whole"
    );
    let expected: Vec<Entry> = second.iter().flatten().cloned().collect();
    assert_eq!(entries(&read_all(&*log, at, 1 << 20)), expected);
    // What the snapshot covers may be gone, but never silently.
    match log.read_after(0, 1 << 20) {
        Ok(read) => assert_eq!(
            entries(&read),
            covered.iter().chain(&expected).cloned().collect::<Vec<_>>(),
            "a log that still holds what a snapshot covers holds all of it"
        ),
        Err(StoreError::Corrupt { .. } | StoreError::Compacted { .. }) => {}
        Err(other) => panic!("reading what a snapshot freed: {other}"),
    }

    // A newer snapshot replaces it as the newest.
    let newer = state_after(&covered.iter().chain(&expected).cloned().collect::<Vec<_>>());
    snapshots.save(log.last_position(), &newer).expect("save");
    let (newest_at, newest) = snapshots
        .load_newest(Limits::default())
        .expect("load")
        .expect("a snapshot");
    assert_eq!(newest_at, log.last_position());
    assert_eq!(newest.encode(), newer.encode());
}

fn replay_rebuilds_the_state(builder: &impl LogBuilder) {
    let script: Vec<Vec<Entry>> = batches(0, 12);
    let all: Vec<Entry> = script.iter().flatten().cloned().collect();
    let half = script[..6].iter().map(Vec::len).sum::<usize>();
    {
        let (mut log, snapshots) = builder.open();
        append_all(&mut *log, &script[..6]);
        log.prepare_snapshot().expect("prepare");
        snapshots
            .save(log.last_position(), &state_after(&all[..half]))
            .expect("save");
        append_all(&mut *log, &script[6..]);
    }
    builder.crash();
    let (log, snapshots) = builder.open();
    let replayed = replay(&*log, &*snapshots, Limits::default()).expect("replay");
    assert_eq!(replayed.elections.encode(), state_after(&all).encode());
    assert_eq!(replayed.position, log.last_position());
    assert_eq!(replayed.replayed, (all.len() - half) as u64);
}
