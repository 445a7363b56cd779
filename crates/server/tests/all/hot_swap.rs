//! Hot-swap with real components: the leader gets new code and keeps its session,
//! ballot and term; observers see nothing; the two instances never overlap; a refused
//! swap leaves the old code running; a swapped-in loser learns the leader.

use std::time::Duration;

use ballot_check::history::Recorder;
use ballot_core::namespace::NodePath;
use ballot_runtime::{
    DeployError, DeploymentStatus, Runtime, SwapError, SwapOutcome, TimelineEvent,
};

use super::support::{
    acked, any, assert_leadership_linearizable, candidate, count, election, lines, lost,
    new_leader, observer, runtime, wait_for, wait_state, wasm,
};

fn session_of(rt: &Runtime, id: ballot_runtime::DeploymentId) -> u64 {
    match rt.status(id) {
        Some(DeploymentStatus::Running { session, .. }) => session.0,
        other => panic!("not running: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swapped_leader_keeps_its_term_and_ballot_and_observers_see_nothing() {
    let recorder = Recorder::new();
    let rt = runtime(recorder.clone());
    rt.deploy(observer("watcher")).await.unwrap();
    let a = rt
        .deploy(candidate("a", Some(Duration::from_millis(20))))
        .await
        .unwrap();
    wait_for(&rt, "a", acked).await;
    rt.deploy(candidate("b", None)).await.unwrap();
    wait_for(&rt, "b", lost).await;
    wait_for(&rt, "watcher", new_leader).await;

    let paths = election().paths();
    let ballots_before = rt.state().children(&paths.ballots).unwrap();
    let (ack_before, ack_stat_before) = rt.state().get(&paths.ack).unwrap();
    let session_before = session_of(&rt, a);
    let watcher_lines = count(&rt, "watcher", any);

    let report = rt
        .swap(a, &wasm(ballot_artifacts::EXAMPLE_CANDIDATE_V2))
        .await
        .expect("swapped");
    assert_eq!(report.outcome, SwapOutcome::Activated);
    assert_eq!(report.told.as_deref(), Some("on-winning-election"));
    let term = report.term.expect("a still leads");
    let acked = rt
        .timeline()
        .into_iter()
        .find_map(|e| match e.event {
            TimelineEvent::Acked(term) if e.deployment == "a" => Some(term),
            _ => None,
        })
        .expect("a acked");
    assert_eq!(term.0, acked, "the term it won before the swap");

    // No overlap: the old instance's last import precedes the new one's first.
    let (old_last, new_first) = (
        report
            .old_last_import
            .expect("the old instance called the host"),
        report
            .new_first_import
            .expect("the new instance called the host"),
    );
    assert!(old_last < new_first);
    assert!(old_last <= report.first_callback);

    // The new behaviour is visible: v2 rewrote the leader record under the same term.
    let leader = NodePath::parse("/example/leader").unwrap();
    let (record, _) = rt.state().get(&leader).unwrap();
    let text = String::from_utf8_lossy(record.as_bytes()).to_string();
    assert!(text.contains("example-candidate-v2"), "{text:?}");

    // Same session, same ballot, same ack; observers heard nothing.
    assert_eq!(session_of(&rt, a), session_before);
    assert_eq!(rt.state().children(&paths.ballots).unwrap(), ballots_before);
    let (ack_after, ack_stat_after) = rt.state().get(&paths.ack).unwrap();
    assert_eq!(ack_after, ack_before);
    assert_eq!(ack_stat_after.modified, ack_stat_before.modified);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        count(&rt, "watcher", any),
        watcher_lines,
        "{}",
        lines(&rt).join("\n")
    );
    assert_leadership_linearizable(&recorder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_swap_leaves_the_old_code_running() {
    let rt = runtime(Recorder::off());
    let a = rt
        .deploy(candidate("a", Some(Duration::from_millis(20))))
        .await
        .unwrap();
    wait_for(&rt, "a", acked).await;
    let session = session_of(&rt, a);
    let ticks = NodePath::parse("/example/ticks").unwrap();

    let garbage = rt.swap(a, b"not wasm at all").await.unwrap_err();
    assert!(
        matches!(garbage, SwapError::Refused(DeployError::Malformed(_))),
        "{garbage}"
    );
    let unknown = rt
        .swap(a, &wasm(ballot_artifacts::FIXTURE_UNKNOWN_IMPORT))
        .await
        .unwrap_err();
    assert!(
        unknown.to_string().contains("acme:outside/dial"),
        "{unknown}"
    );
    let wrong_world = rt
        .swap(a, &wasm(ballot_artifacts::EXAMPLE_OBSERVER))
        .await
        .unwrap_err();
    assert!(
        matches!(
            wrong_world,
            SwapError::Refused(DeployError::WrongWorld { .. })
        ),
        "{wrong_world}"
    );

    // The old instance still leads and works: its ticks go on, as v1.
    assert_eq!(session_of(&rt, a), session);
    let before = rt.state().get(&ticks).unwrap().1.data_version;
    wait_state(&rt, "the old instance's ticks stopped", |state| {
        state
            .get(&ticks)
            .is_ok_and(|(_, stat)| stat.data_version > before + 3)
    })
    .await;
    let leader = NodePath::parse("/example/leader").unwrap();
    let (record, _) = rt.state().get(&leader).unwrap();
    assert!(!String::from_utf8_lossy(record.as_bytes()).contains("-v2"));
    assert!(
        !rt.timeline()
            .iter()
            .any(|e| matches!(e.event, TimelineEvent::Swapped(_)))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swapped_in_loser_learns_the_leader() {
    let rt = runtime(Recorder::off());
    rt.deploy(candidate("a", None)).await.unwrap();
    wait_for(&rt, "a", acked).await;
    let b = rt.deploy(candidate("b", None)).await.unwrap();
    wait_for(&rt, "b", lost).await;
    let report = rt
        .swap(b, &wasm(ballot_artifacts::EXAMPLE_CANDIDATE_V2))
        .await
        .expect("swapped");
    assert_eq!(report.told.as_deref(), Some("on-losing-election"));
    assert_eq!(report.term, None);
    assert_eq!(count(&rt, "b", lost), 2, "{}", lines(&rt).join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_code_that_traps_on_activation_loses_leadership_like_any_trap() {
    let recorder = Recorder::new();
    let rt = runtime(recorder.clone());
    let a = rt.deploy(candidate("a", None)).await.unwrap();
    wait_for(&rt, "a", acked).await;
    rt.deploy(candidate("b", None)).await.unwrap();
    wait_for(&rt, "b", lost).await;
    let report = rt
        .swap(a, &wasm(ballot_artifacts::FIXTURE_TRAP_ON_WIN))
        .await
        .expect("activated");
    let SwapOutcome::TrappedAfterActivation(why) = &report.outcome else {
        panic!("{:?}", report.outcome);
    };
    assert!(why.contains("trap-on-win"), "{why}");
    wait_for(&rt, "b", acked).await;
    assert_leadership_linearizable(&recorder);
}
