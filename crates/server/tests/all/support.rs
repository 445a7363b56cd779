//! What the runtime and sandbox tests share: one engine and one component cache for the
//! whole binary, a runtime on a simulated disk, and readers of its timeline and history.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ballot_check::history::{History, OpType, Recorder};
use ballot_check::{Budget, ModelKind, Verdict, check};
use ballot_core::command::{Command, Outcome};
use ballot_core::election::ElectionName;
use ballot_core::namespace::{Op, Revision};
use ballot_runtime::{
    ComponentCache, Delivered, DeploySpec, DiskCache, Role, Runtime, TimelineEntry, TimelineEvent,
    new_engine,
};
use ballot_store::clock::SystemClock;
use ballot_store::embedded::{SimFs, thread_spawner};
use ballot_store::{EmbeddedStore, Options};
use wasmtime::Engine;

/// One engine for every test in the binary: compiling is the expensive part.
pub fn engine() -> Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| new_engine().expect("engine")).clone()
}

/// One component cache on that engine: each component compiles once per binary, and once
/// per build of the tests, since it keeps what it compiles on disk beside the build (the
/// Python and JavaScript components take seconds each to compile).
fn components() -> ComponentCache {
    static CACHE: OnceLock<ComponentCache> = OnceLock::new();
    CACHE
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("compiled");
            ComponentCache::default()
                .with_disk(DiskCache::open(dir).expect("the test cache folder"))
        })
        .clone()
}

/// A component's bytes, as `ballot-artifacts` built them.
pub fn wasm(path: &str) -> Vec<u8> {
    std::fs::read(path).expect("component built by ballot-artifacts")
}

/// A runtime over a store on a simulated disk, sharing the binary's component cache.
pub fn runtime(recorder: Recorder) -> Runtime {
    Runtime::with_component_cache(engine(), sim_store(), recorder, components()).expect("runtime")
}

/// A runtime with a component cache of its own, for tests that count compilations.
pub fn runtime_with_own_cache(recorder: Recorder) -> Runtime {
    Runtime::new(engine(), sim_store(), recorder).expect("runtime")
}

/// A runtime on `cache`, for tests of the cache's bound.
pub fn runtime_with_cache(cache: ComponentCache) -> Runtime {
    Runtime::with_component_cache(engine(), sim_store(), Recorder::off(), cache).expect("runtime")
}

/// An embedded store on a simulated disk.
pub fn sim_store() -> EmbeddedStore {
    EmbeddedStore::open_with(
        Path::new("/data"),
        Arc::new(SimFs::new()),
        Arc::new(SystemClock::new()),
        Options::default(),
        thread_spawner(),
    )
    .expect("store")
}

/// The timeline as `who: what` lines, for a failing test's message (never matched on).
pub fn lines(rt: &Runtime) -> Vec<String> {
    rt.timeline()
        .into_iter()
        .map(|e| format!("{}: {:?}", e.deployment, e.event))
        .collect()
}

/// How long a test waits for anything, in real time: generous, because a loaded 2-core
/// machine is slow, and measured on the clock, not as a count of sleeps (which stretch
/// under load and are shared between waits by accident).
pub const CEILING: Duration = Duration::from_secs(60);

/// Waits (at most [`CEILING`]) for `who`'s first timeline event that `what` accepts and
/// returns its line. Wakes on each new timeline line, not on a timer.
pub async fn wait_for(
    rt: &Runtime,
    who: &str,
    what: impl Fn(&TimelineEvent) -> bool,
) -> TimelineEntry {
    let deadline = tokio::time::Instant::now() + CEILING;
    match rt
        .next_in_timeline(0, deadline, |e| e.deployment == who && what(&e.event))
        .await
    {
        Some(entry) => entry,
        None => panic!(
            "{who} never got there within {CEILING:?}:\n{}",
            lines(rt).join("\n")
        ),
    }
}

/// `who`'s first timeline line that `what` accepts, if any yet.
pub fn first(
    rt: &Runtime,
    who: &str,
    what: impl Fn(&TimelineEvent) -> bool,
) -> Option<TimelineEntry> {
    rt.timeline()
        .into_iter()
        .find(|e| e.deployment == who && what(&e.event))
}

/// How many of `who`'s timeline lines `what` accepts.
pub fn count(rt: &Runtime, who: &str, what: impl Fn(&TimelineEvent) -> bool) -> usize {
    rt.timeline()
        .iter()
        .filter(|e| e.deployment == who && what(&e.event))
        .count()
}

/// The host wrote the deployment's ack.
pub fn acked(e: &TimelineEvent) -> bool {
    matches!(e, TimelineEvent::Acked(_))
}

/// `on-winning-election` was delivered.
pub fn won(e: &TimelineEvent) -> bool {
    matches!(
        e,
        TimelineEvent::Callback(Delivered::WinningElection { .. })
    )
}

/// `on-losing-election` was delivered.
pub fn lost(e: &TimelineEvent) -> bool {
    matches!(e, TimelineEvent::Callback(Delivered::LosingElection { .. }))
}

/// `on-new-leader` was delivered.
pub fn new_leader(e: &TimelineEvent) -> bool {
    matches!(e, TimelineEvent::Callback(Delivered::NewLeader { .. }))
}

/// Its ballot vanished while it led.
pub fn deposed(e: &TimelineEvent) -> bool {
    matches!(e, TimelineEvent::Deposed(_))
}

/// Crash-limited: out of elections for good.
pub fn failed(e: &TimelineEvent) -> bool {
    matches!(e, TimelineEvent::Failed(_))
}

/// Its instance crashed.
pub fn trapped(e: &TimelineEvent) -> bool {
    matches!(e, TimelineEvent::Trapped(_))
}

/// Any line at all.
pub fn any(_: &TimelineEvent) -> bool {
    true
}

/// Waits (at most [`CEILING`]) until the durable state satisfies `ready`, waking on each
/// newly published state, not on a timer; fails with `what`.
pub async fn wait_state(
    rt: &Runtime,
    what: &str,
    ready: impl Fn(&ballot_core::namespace::State) -> bool,
) {
    let deadline = tokio::time::Instant::now() + CEILING;
    let mut states = rt.subscribe();
    loop {
        if ready(&states.borrow_and_update()) {
            return;
        }
        let woke = tokio::time::timeout_at(deadline, states.changed()).await;
        assert!(matches!(woke, Ok(Ok(()))), "{what} (waited {CEILING:?})");
    }
}

/// Polls `ready` every millisecond until it gives a value, failing with `what()` after
/// [`CEILING`] of real time: for conditions no event announces (a log line, a recorded
/// history).
pub async fn eventually<T>(what: impl Fn() -> String, mut ready: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + CEILING;
    loop {
        if let Some(value) = ready() {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} (waited {CEILING:?})",
            what()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Checks the recorded history against the leadership model per term and exclusive:
/// every new leader started acting only after the old one was revoked or resigned.
pub fn assert_leadership_linearizable(recorder: &Recorder) {
    let history = recorder.history();
    assert!(!history.to_jsonl().is_empty());
    // Per term, and exclusive: every new leader started only after the old one was
    // revoked or resigned.
    for model in [ModelKind::Leadership, ModelKind::LeadershipExclusive] {
        let report = check(&history, model, &Budget::default()).expect("checkable");
        assert!(
            matches!(report.verdict, Verdict::Linearizable),
            "{model}: {:?}\n{}",
            report.verdict,
            history.to_jsonl()
        );
    }
    assert_revoked_before_promoted(&history);
}

/// Walks the history in real-time order: from the moment a leader starts acting on its
/// win (`elected` invoked) until its revocation or resignation completes (or its win
/// fails), no other candidate may start acting on a win.
pub fn assert_revoked_before_promoted(history: &History) {
    let mut sitting: Option<(serde_json::Value, u64)> = None;
    for op in &history.ops {
        let Some([who, term]) = op.value.as_array().map(Vec::as_slice) else {
            continue;
        };
        let term = term.as_u64().expect("a term");
        match (op.f.as_str(), op.kind) {
            ("elected", OpType::Invoke) => {
                if let Some((leader, held)) = &sitting {
                    assert!(
                        leader == who && *held == term,
                        "{who} started on term {term} while {leader} still held term {held}:\n{}",
                        history.to_jsonl()
                    );
                }
                sitting = Some((who.clone(), term));
            }
            ("elected", OpType::Fail) | ("revoke" | "resign", OpType::Ok)
                if sitting.as_ref() == Some(&(who.clone(), term)) =>
            {
                sitting = None;
            }
            _ => {}
        }
    }
}

/// The election the example components fence their writes with.
pub fn election() -> ElectionName {
    ElectionName::parse("example").unwrap()
}

/// An example candidate named `name` in [`election`], ticking every `tick` if given.
pub fn candidate(name: &str, tick: Option<Duration>) -> DeploySpec {
    DeploySpec {
        public_id: None,
        name: name.into(),
        wasm: wasm(ballot_artifacts::EXAMPLE_CANDIDATE).into(),
        role: Role::Candidate {
            election: election(),
            data: format!("{name}:5432").into_bytes(),
            follow_leader: false,
            priority: None,
        },
        ttl: Duration::from_secs(2),
        tick,
        limits: Default::default(),
        supervision: Default::default(),
    }
}

/// An example observer of [`election`].
pub fn observer(name: &str) -> DeploySpec {
    DeploySpec {
        public_id: None,
        name: name.into(),
        wasm: wasm(ballot_artifacts::EXAMPLE_OBSERVER).into(),
        role: Role::Observer {
            election: election(),
        },
        ttl: Duration::from_secs(2),
        tick: None,
        limits: Default::default(),
        supervision: Default::default(),
    }
}

/// Deposes the leader of `election` by deleting its ballot behind its back, as an
/// operator (or a bug) might; returns the revision of the deletion.
pub async fn depose_leader(rt: &Runtime, election: &ElectionName) -> Revision {
    let ballots = election.paths().ballots;
    let state = rt.state();
    let lowest = state.first_child(&ballots).expect("a leader to depose");
    let session = state
        .exists(&ballots.child(lowest).unwrap())
        .and_then(|stat| stat.ephemeral_owner)
        .expect("a ballot belongs to a session");
    let command = Command::WithdrawBallots {
        election: election.clone(),
        session,
    };
    match rt.propose(command).await.unwrap() {
        Ok(Outcome::Withdrawn(revision)) => revision,
        other => panic!("withdrawing the leader's ballot: {other:?}"),
    }
}

/// Commits `ops` as a client would (an unguarded multi), delivering what they cause;
/// panics on a refusal.
pub async fn multi_ops(rt: &Runtime, ops: Vec<Op>) -> Revision {
    let command = Command::Multi {
        guard: None,
        ops,
        quota: None,
    };
    match rt.propose(command).await.unwrap() {
        Ok(Outcome::Committed(committed)) => committed.revision,
        other => panic!("the multi was refused: {other:?}"),
    }
}

/// [`multi_ops`] of one operation.
pub async fn multi(rt: &Runtime, op: Op) -> Revision {
    multi_ops(rt, vec![op]).await
}
