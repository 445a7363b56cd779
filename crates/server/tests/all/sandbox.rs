//! Misbehaving components cost only their own session: each fixture under `components/`
//! is deployed next to a well-behaved candidate, and the host, the successor and every
//! other actor go on. Order is asserted from the timeline and the recorded history
//! (checked with the leadership models), never from tight timings.

use std::time::Duration;

use ballot_check::history::Recorder;
use ballot_core::election::ElectionName;
use ballot_core::namespace::NodePath;
use ballot_runtime::{
    DeployError, DeploySpec, DeploymentStatus, LOG_BYTES_PER_DEPLOYMENT, Limits, Quotas, Role,
    Runtime, Supervision, TimelineEvent,
};

use super::support::eventually;
use super::support::{
    acked, assert_leadership_linearizable, count, depose_leader, deposed, failed, first, lines,
    lost, multi_ops, runtime, trapped, wait_for, wait_state, wasm, won,
};

/// A candidate deployment of `component` in `election`, with short limits so a
/// misbehaving guest is caught quickly, and quick restarts.
fn candidate(name: &str, component: &str, election: &str) -> DeploySpec {
    DeploySpec {
        public_id: None,
        name: name.into(),
        wasm: wasm(component).into(),
        role: Role::Candidate {
            election: ElectionName::parse(election).unwrap(),
            data: name.as_bytes().to_vec(),
            follow_leader: false,
            priority: None,
        },
        ttl: Duration::from_secs(2),
        tick: None,
        limits: Limits {
            callback_deadline: Duration::from_millis(400),
            ..Limits::default()
        },
        supervision: Supervision {
            backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
            max_crashes: 100,
            window: Duration::from_secs(60),
            max_silence: None,
        },
    }
}

fn well_behaved(name: &str, election: &str) -> DeploySpec {
    candidate(name, ballot_artifacts::EMPTY_EXPORT, election)
}

/// Why `who`'s instance first crashed, if it did.
fn crash_of(rt: &Runtime, who: &str) -> Option<String> {
    rt.timeline().into_iter().find_map(|e| match e.event {
        TimelineEvent::Trapped(why) if e.deployment == who => Some(why),
        _ => None,
    })
}

/// Why `who`'s instance was first revoked, if it was.
fn revocation_of(rt: &Runtime, who: &str) -> Option<String> {
    rt.timeline().into_iter().find_map(|e| match e.event {
        TimelineEvent::Revoked(why) if e.deployment == who => Some(why),
        _ => None,
    })
}

/// Deploys `bad` first (so it leads), then a well-behaved successor; waits until the
/// successor leads, and returns the runtime and bad's crash line.
async fn crashes_and_is_succeeded(bad: DeploySpec, expect: &str) -> (Runtime, Recorder, String) {
    let recorder = Recorder::new();
    let rt = runtime(recorder.clone());
    let election = match &bad.role {
        Role::Candidate { election, .. } => election.to_string(),
        Role::Observer { .. } => unreachable!(),
    };
    let name = bad.name.clone();
    rt.deploy(bad).await.unwrap();
    wait_for(&rt, &name, won).await;
    rt.deploy(well_behaved("good", &election)).await.unwrap();
    wait_for(&rt, "good", acked).await;
    let crash = crash_of(&rt, &name).expect("the bad actor crashed");
    assert!(crash.contains(expect), "{crash}");
    (rt, recorder, crash)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_in_on_winning_election_costs_only_that_actor() {
    let bad = candidate(
        "trapper",
        ballot_artifacts::FIXTURE_TRAP_ON_WIN,
        "sandbox-trap",
    );
    let (rt, recorder, _) = crashes_and_is_succeeded(bad, "trap-on-win").await;
    // It comes back in a fresh instance and, with good leading, loses and stays.
    wait_for(&rt, "trapper", lost).await;
    assert_leadership_linearizable(&recorder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_looping_forever_is_interrupted_at_its_deadline() {
    let bad = candidate(
        "looper",
        ballot_artifacts::FIXTURE_LOOP_FOREVER,
        "sandbox-loop",
    );
    let (rt, recorder, _) = crashes_and_is_succeeded(bad, "deadline of 400ms").await;
    wait_for(&rt, "looper", lost).await;
    assert_leadership_linearizable(&recorder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_asleep_in_a_host_call_is_cut_off() {
    let bad = candidate(
        "sleeper",
        ballot_artifacts::FIXTURE_SLEEP_IN_HOST,
        "sandbox-sleep",
    );
    let (_rt, recorder, _) = crashes_and_is_succeeded(bad, "deadline of 400ms").await;
    assert_leadership_linearizable(&recorder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_hog_is_stopped_at_its_limit() {
    let mut bad = candidate(
        "hog",
        ballot_artifacts::FIXTURE_MEMORY_HOG,
        "sandbox-memory",
    );
    bad.limits.memory_bytes = 16 << 20;
    bad.limits.callback_deadline = Duration::from_secs(5);
    let (_rt, recorder, crash) = crashes_and_is_succeeded(bad, "memory").await;
    assert!(!crash.contains("deadline"), "{crash}");
    assert_leadership_linearizable(&recorder);
}

/// `wasi:sockets` is linked (every CPython component imports it) but grants nothing: a
/// component that connects is answered permission denied, refuses its win with that
/// error, and the host and its neighbour go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_importing_sockets_runs_but_cannot_open_one() {
    let rt = runtime(Recorder::off());
    rt.deploy(candidate(
        "net",
        ballot_artifacts::FIXTURE_SOCKETS,
        "sandbox-sockets",
    ))
    .await
    .unwrap();
    rt.deploy(well_behaved("next", "sandbox-sockets"))
        .await
        .unwrap();
    let refusal = wait_for(&rt, "net", |e| matches!(e, TimelineEvent::WinRefused(_))).await;
    let TimelineEvent::WinRefused(reason) = &refusal.event else {
        unreachable!()
    };
    assert!(
        reason.to_lowercase().contains("denied"),
        "the connect should be denied: {reason}"
    );
    wait_for(&rt, "next", acked).await;
    assert_eq!(count(&rt, "net", acked), 0, "{:#?}", lines(&rt));
}

/// An import the host does not know is refused at deploy, naming it, and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_importing_the_unknown_is_refused_at_deploy() {
    let rt = runtime(Recorder::off());
    let before = rt.state().encode();
    let spec = candidate(
        "dialer",
        ballot_artifacts::FIXTURE_UNKNOWN_IMPORT,
        "sandbox-unknown",
    );
    let error = rt.deploy(spec).await.unwrap_err();
    let DeployError::Refused(imports) = &error else {
        panic!("refused for the wrong reason: {error}");
    };
    assert_eq!(
        imports,
        &["acme:outside/dial (unknown to this host)".to_string()]
    );
    assert!(error.to_string().contains("acme:outside/dial"), "{error}");
    assert_eq!(
        rt.state().encode(),
        before,
        "a refused deploy changes nothing"
    );
    assert!(rt.timeline().is_empty());
}

/// A guest logging 4 KiB lines without end is held to its bytes quota, the host keeps only
/// a bounded tail of its lines, and the memory comes back when it is undeployed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_logging_in_a_loop_keeps_a_bounded_tail_and_gives_it_back() {
    let rt = runtime(Recorder::off());
    let mut flood = candidate(
        "logger",
        ballot_artifacts::FIXTURE_LOG_FLOOD,
        "sandbox-log-flood",
    );
    flood.tick = Some(Duration::from_millis(1));
    let logger = rt.deploy(flood).await.unwrap();
    rt.deploy(well_behaved("calm", "sandbox-log-calm"))
        .await
        .unwrap();
    wait_for(&rt, "calm", acked).await;
    // 64 lines a tick, a tick a millisecond: far beyond what is kept and what the quota
    // lets through.
    let dropped = eventually(
        || format!("the logger never logged much: {:?}", rt.retained()),
        || {
            let retained = rt.retained();
            (retained.log_lines_dropped >= 20_000).then_some(retained)
        },
    )
    .await;
    assert!(
        dropped.log_bytes <= 2 * LOG_BYTES_PER_DEPLOYMENT,
        "two deployments keep at most their caps: {dropped:?}"
    );
    assert!(
        matches!(
            rt.status(logger),
            Some(DeploymentStatus::Running { restarts: 0, .. })
        ),
        "limited, not killed"
    );

    rt.undeploy(logger).await.unwrap();
    assert!(
        rt.logs().iter().all(|(who, _)| who != "logger"),
        "an undeployed deployment's lines go with it"
    );
    let left = rt.retained().log_bytes;
    assert!(
        left <= LOG_BYTES_PER_DEPLOYMENT,
        "only calm's lines are left: {left} bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_flood_is_limited_by_its_quota() {
    let rt = runtime(Recorder::off());
    let mut flood = candidate(
        "flood",
        ballot_artifacts::FIXTURE_IMPORT_FLOOD,
        "sandbox-flood",
    );
    flood.limits.callback_deadline = Duration::from_secs(10);
    flood.limits.quotas = Quotas {
        calls_per_second: 1_000,
        ..Quotas::default()
    };
    rt.deploy(flood).await.unwrap();
    rt.deploy(well_behaved("calm", "sandbox-calm"))
        .await
        .unwrap();
    wait_for(&rt, "flood", acked).await;
    wait_for(&rt, "calm", acked).await;
    let line = rt
        .logs()
        .into_iter()
        .find(|(who, line)| who == "flood" && line.starts_with("flood:"))
        .map(|(_, line)| line)
        .expect("the flooder reports its counts");
    let count = |key: &str| -> u64 {
        let field = line
            .split_whitespace()
            .find_map(|f| f.strip_prefix(key))
            .unwrap_or_else(|| panic!("{key} in {line}"));
        field.parse().unwrap()
    };
    let (answered, refused) = (count("ok="), count("quota-exceeded="));
    assert_eq!(answered + refused, 50_000, "{line}");
    // A burst of one second's worth, plus what refills while the burst runs.
    assert!(answered >= 1_000, "{line}");
    assert!(refused > 40_000, "{line}");
    assert!(crash_of(&rt, "flood").is_none(), "limited, not killed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loop_ends_marked_failed_and_out_of_the_election() {
    let recorder = Recorder::new();
    let rt = runtime(recorder.clone());
    let mut looper = candidate(
        "crasher",
        ballot_artifacts::FIXTURE_CRASH_LOOP,
        "sandbox-crash",
    );
    looper.supervision = Supervision {
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        max_crashes: 4,
        window: Duration::from_secs(60),
        max_silence: None,
    };
    let id = rt.deploy(looper).await.unwrap();
    let good = rt
        .deploy(well_behaved("good", "sandbox-crash"))
        .await
        .unwrap();
    wait_for(&rt, "crasher", failed).await;
    let Some(DeploymentStatus::Failed { reason }) = rt.status(id) else {
        panic!("{:?}", rt.status(id));
    };
    assert!(reason.contains("4 crashes"), "{reason}");
    assert!(reason.contains("crash-loop"), "{reason}");
    wait_for(&rt, "good", acked).await;
    assert!(matches!(
        rt.status(good),
        Some(DeploymentStatus::Running { restarts: 0, .. })
    ));
    // Only good's ballot is left: the failed deployment stays out of the election.
    let ballots = ElectionName::parse("sandbox-crash")
        .unwrap()
        .paths()
        .ballots;
    assert_eq!(rt.state().children(&ballots).unwrap().len(), 1);
    let crashes = count(&rt, "crasher", trapped);
    assert_eq!(crashes, 4, "{}", lines(&rt).join("\n"));
    assert_leadership_linearizable(&recorder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_driven_session_survives_two_looping_guests() {
    let rt = runtime(Recorder::off());
    let mut calm = well_behaved("calm", "sandbox-calm");
    calm.ttl = Duration::from_millis(300);
    let calm = rt.deploy(calm).await.unwrap();
    let Some(DeploymentStatus::Running { session, .. }) = rt.status(calm) else {
        panic!("calm is not running");
    };
    for (name, election) in [("spin-a", "sandbox-spin-a"), ("spin-b", "sandbox-spin-b")] {
        let mut spinner = candidate(name, ballot_artifacts::FIXTURE_LOOP_FOREVER, election);
        spinner.limits.callback_deadline = Duration::from_secs(1);
        rt.deploy(spinner).await.unwrap();
    }
    wait_for(&rt, "spin-a", won).await;
    wait_for(&rt, "spin-b", won).await;
    // Both spinners loop on the 2 cores, are interrupted, restart and loop again, for
    // ten times calm's TTL.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(crash_of(&rt, "spin-a").is_some());
    assert!(crash_of(&rt, "spin-b").is_some());
    assert_eq!(
        rt.status(calm),
        Some(DeploymentStatus::Running {
            session,
            restarts: 0
        }),
        "{}",
        lines(&rt).join("\n")
    );
    assert!(revocation_of(&rt, "calm").is_none());
    assert!(
        rt.state().session(session).is_some(),
        "calm's session lives"
    );
}

/// One deposition of a writing leader: returns how many of its calls the fence refused.
async fn depose_a_writer() -> u64 {
    let recorder = Recorder::new();
    let rt = runtime(recorder.clone());
    let mut writer = candidate(
        "writer",
        ballot_artifacts::FIXTURE_FENCED_WRITER,
        "sandbox-fence",
    );
    writer.limits.callback_deadline = Duration::from_secs(30);
    // Unthrottled: the only refusal it may meet is the fence's.
    writer.limits.quotas.calls_per_second = 100_000_000;
    rt.deploy(writer).await.unwrap();
    rt.deploy(well_behaved("next", "sandbox-fence"))
        .await
        .unwrap();
    let progress = NodePath::parse("/fenced/progress").unwrap();
    wait_state(&rt, "the writer never made progress", |state| {
        state
            .get(&progress)
            .is_ok_and(|(_, stat)| stat.data_version > 20)
    })
    .await;
    // Depose the writer mid-loop: delete its ballot behind its back.
    let deposed_at = depose_leader(&rt, &ElectionName::parse("sandbox-fence").unwrap()).await;
    wait_for(&rt, "next", acked).await;
    wait_for(&rt, "writer", deposed).await;
    let (_, stat) = rt.state().get(&progress).unwrap();
    assert!(
        stat.modified < deposed_at,
        "a write landed after the revocation: modified {:?}, deposed at {deposed_at:?}",
        stat.modified
    );
    let after = NodePath::parse("/fenced/after-refusal").unwrap();
    assert!(
        rt.state().exists(&after).is_none(),
        "nothing written after refusal"
    );
    // Whatever the guest heard back was the fence's not-leader.
    for (who, line) in rt.logs() {
        if who == "writer" && line.starts_with("refused:") {
            assert!(line.contains("NotLeader"), "{line}");
        }
    }
    // The spinning callback was interrupted by the revocation, not by its deadline.
    assert!(crash_of(&rt, "writer").is_none());
    wait_for(&rt, "writer", lost).await;
    assert_leadership_linearizable(&recorder);
    rt.fenced_refusals()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_leader_is_refused_and_its_callback_never_completes_a_write() {
    // Every deposition must change nothing. Whether the writer makes one more import
    // call before the epoch tick interrupts it depends on timing, so depose until the
    // fence has refused a call (nearly always the first time).
    let mut refused = 0;
    for _ in 0..10 {
        refused += depose_a_writer().await;
        if refused > 0 {
            break;
        }
    }
    assert!(
        refused > 0,
        "no import call met the fence in ten depositions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_mailbox_drops_the_watches_and_never_blocks_the_writer() {
    let rt = runtime(Recorder::off());
    let slow = rt
        .deploy(candidate(
            "slow",
            ballot_artifacts::FIXTURE_SLOW_WATCHER,
            "sandbox-mailbox",
        ))
        .await
        .unwrap();
    wait_for(&rt, "slow", acked).await;
    // One commit of 3,000 creates under the watched subtree: 3,000 events at once, far
    // more than a mailbox holds. The commit returns without waiting for the actor.
    let creates: Vec<ballot_core::namespace::Op> = (0..3_000)
        .map(|i| ballot_core::namespace::Op::Create {
            path: NodePath::parse(&format!("/flood/n{i}")).unwrap(),
            data: Default::default(),
            mode: ballot_core::namespace::CreateMode::PERSISTENT,
        })
        .collect();
    let started = std::time::Instant::now();
    multi_ops(&rt, creates).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    wait_for(
        &rt,
        "slow",
        |e| matches!(e, TimelineEvent::Overflow(what) if what.contains("watches dropped")),
    )
    .await;
    // Only the watches went: the session, leadership and instance stay.
    assert!(matches!(
        rt.status(slow),
        Some(DeploymentStatus::Running { restarts: 0, .. })
    ));
    assert!(revocation_of(&rt, "slow").is_none());
    assert!(crash_of(&rt, "slow").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_leader_is_stopped_mid_callback_and_succeeded_then_restarts() {
    let recorder = Recorder::new();
    let rt = runtime(recorder.clone());
    // A leader looping in its callback with a deadline far away: only the kill stops it.
    let mut looping = candidate("looper", ballot_artifacts::FIXTURE_LOOP_FOREVER, "kill");
    looping.limits.callback_deadline = Duration::from_secs(30);
    looping.ttl = Duration::from_secs(60);
    let looper = rt.deploy(looping).await.unwrap();
    wait_for(&rt, "looper", won).await;
    rt.deploy(well_behaved("good", "kill")).await.unwrap();
    assert!(first(&rt, "good", acked).is_none(), "good waits for looper");

    rt.kill(looper).unwrap();
    wait_for(&rt, "good", acked).await;
    let killed = revocation_of(&rt, "looper").expect("looper was revoked");
    assert!(killed.contains("killed"), "{killed}");
    assert!(
        crash_of(&rt, "looper").is_none(),
        "stopped by the kill, not its deadline"
    );
    // A kill counts as a crash: a fresh instance on a new session, which loses to good.
    wait_for(&rt, "looper", lost).await;
    assert!(matches!(
        rt.status(looper),
        Some(DeploymentStatus::Running { restarts: 1, .. })
    ));
    assert_leadership_linearizable(&recorder);
    assert!(matches!(
        rt.kill(ballot_runtime::DeploymentId(999)),
        Err(DeployError::Unknown(_))
    ));
}
