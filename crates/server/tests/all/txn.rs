//! Commits through the lease elector with transaction functions (the `fixture-txn`
//! component): determinism, aborts that cost only their own commit, stale reads run
//! again, and fencing of a lapsed master, checked on the recorded history.

use std::sync::Arc;
use std::time::Duration;

use ballot_check::history::Recorder;
use ballot_check::{Budget, ModelKind, Verdict, check};
use ballot_core::command::Command;
use ballot_core::commit::CommitError;
use ballot_core::election::ElectionName;
use ballot_core::namespace::{CreateMode, Data, NodePath, Op};
use ballot_runtime::{CommitMode, CommitReport, CommitRequest, Limits, Runtime, TxnSource};

use super::support::{eventually, multi, runtime, wasm};

fn txn_fn() -> Arc<Vec<u8>> {
    static WASM: std::sync::OnceLock<Arc<Vec<u8>>> = std::sync::OnceLock::new();
    WASM.get_or_init(|| Arc::new(wasm(ballot_artifacts::FIXTURE_TXN)))
        .clone()
}

fn function(args: &str, deadline: Duration) -> TxnSource {
    TxnSource::Function {
        wasm: txn_fn(),
        args: args.as_bytes().to_vec(),
        limits: Limits {
            callback_deadline: deadline,
            ..Limits::default()
        },
    }
}

fn elector() -> ElectionName {
    ElectionName::parse("jobs").unwrap()
}

async fn reset(rt: &Runtime, peers: &[&str], duration: Duration) {
    let peers: Vec<String> = peers.iter().map(|p| p.to_string()).collect();
    for peer in peers {
        let command = Command::ResetElector {
            elector: elector(),
            duration,
            peer,
        };
        rt.propose(command).await.unwrap().unwrap();
    }
}

async fn commit(
    rt: &Runtime,
    peer: &str,
    mode: CommitMode,
    txn: TxnSource,
) -> Result<CommitReport, CommitError> {
    rt.commit(CommitRequest {
        elector: elector(),
        peer: peer.to_string(),
        mode,
        txn,
    })
    .await
}

fn data(rt: &Runtime, path: &str) -> Option<String> {
    rt.state()
        .get(&NodePath::parse(path).unwrap())
        .ok()
        .map(|(data, _)| String::from_utf8_lossy(data.as_bytes()).into_owned())
}

fn counter(rt: &Runtime, path: &str) -> Option<u64> {
    data(rt, path).map(|d| d.split('|').next().unwrap().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_txn_fn_gives_the_same_ops_on_the_same_snapshot_despite_clocks_and_hashmaps() {
    let rt = runtime(Recorder::off());
    reset(&rt, &["a"], Duration::from_secs(10)).await;
    let second = Duration::from_secs(5);
    let first = commit(&rt, "a", CommitMode::Preview, function("count /c", second))
        .await
        .unwrap();
    let again = commit(&rt, "a", CommitMode::Preview, function("count /c", second))
        .await
        .unwrap();
    assert_eq!(
        first.ops, again.ops,
        "same snapshot, same arguments, same ops"
    );
    assert_eq!(data(&rt, "/c"), None, "a preview writes nothing");
    let Op::Create { data, .. } = &first.ops[0] else {
        panic!("{:?}", first.ops)
    };
    let text = String::from_utf8_lossy(data.as_bytes()).into_owned();
    assert!(
        text.starts_with("1|1577836800000000000|"),
        "the fixed clock: {text}"
    );
    for expected in 1..=3 {
        let report = commit(&rt, "a", CommitMode::Guarded, function("count /c", second))
            .await
            .unwrap();
        assert_eq!(report.attempts, 1);
        assert_eq!(counter(&rt, "/c"), Some(expected));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_txn_fn_that_traps_loops_or_returns_bad_ops_aborts_only_its_own_commit() {
    let rt = runtime(Recorder::off());
    reset(&rt, &["a"], Duration::from_secs(10)).await;
    // A plain commit first: a is master, and commits need no function.
    let plain = TxnSource::Ops(vec![Op::Create {
        path: NodePath::parse("/plain").unwrap(),
        data: Data::from("ok"),
        mode: CreateMode::PERSISTENT,
    }]);
    commit(&rt, "a", CommitMode::Guarded, plain).await.unwrap();
    assert_eq!(data(&rt, "/plain").as_deref(), Some("ok"));
    let before = rt.state();
    for (args, reason) in [
        ("trap", "traps on purpose"),
        ("loop", "deadline"),
        ("bad-ops", "operation 0 is invalid"),
        ("nonsense", "unknown arguments"),
    ] {
        let txn = function(args, Duration::from_millis(300));
        let error = commit(&rt, "a", CommitMode::Guarded, txn)
            .await
            .expect_err(args);
        match &error {
            CommitError::TxnAborted(why) => assert!(why.contains(reason), "{args}: {why}"),
            other => panic!("{args}: {other:?}"),
        }
    }
    assert_eq!(rt.state(), before, "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_txn_fn_whose_reads_went_stale_runs_again_on_the_new_state() {
    let rt = Arc::new(runtime(Recorder::off()));
    reset(&rt, &["a"], Duration::from_secs(30)).await;
    async fn set_from(rt: &Runtime, value: &'static str) {
        let op = Op::Set {
            path: NodePath::parse("/from").unwrap(),
            data: Data::from(value),
            expected: None,
        };
        multi(rt, op).await;
    }
    let create = Op::Create {
        path: NodePath::parse("/from").unwrap(),
        data: Data::from("old"),
        mode: CreateMode::PERSISTENT,
    };
    multi(&rt, create).await;
    // The copy spins for a while after reading /from; change /from meanwhile. On a
    // loaded machine the change may miss the first run, so try a few times.
    for round in 0..5 {
        let value: &'static str = ["v0", "v1", "v2", "v3", "v4"][round];
        let copying = tokio::spawn({
            let rt = rt.clone();
            async move {
                commit(
                    &rt,
                    "a",
                    CommitMode::Guarded,
                    function("copy /from /to", Duration::from_secs(20)),
                )
                .await
            }
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        set_from(&rt, value).await;
        let report = copying.await.unwrap().unwrap();
        assert_eq!(data(&rt, "/to").as_deref(), data(&rt, "/from").as_deref());
        if report.attempts >= 2 {
            assert_eq!(
                data(&rt, "/to").as_deref(),
                Some(value),
                "the rerun saw the change"
            );
            return;
        }
    }
    panic!("the change never landed while the function ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_master_is_refused_even_after_its_txn_fn_ran() {
    let rt = runtime(Recorder::off());
    reset(&rt, &["a", "b"], Duration::from_millis(200)).await;
    let count = || function("count /c", Duration::from_secs(5));
    let won = commit(&rt, "a", CommitMode::Guarded, count())
        .await
        .unwrap();
    let term = won.term.unwrap();
    assert_eq!(counter(&rt, "/c"), Some(1));
    // While a's lease is live, b's guarded commit is refused.
    if let Err(error) = commit(&rt, "b", CommitMode::Guarded, count()).await {
        assert!(matches!(error, CommitError::NotLeader { .. }), "{error:?}");
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let taken = commit(&rt, "b", CommitMode::Guarded, count())
        .await
        .unwrap();
    assert!(taken.term.unwrap() > term);
    let value = counter(&rt, "/c");
    // a still believes it holds its term: its function runs, its commit is refused.
    let error = commit(&rt, "a", CommitMode::Speculative(term), count())
        .await
        .expect_err("a stale term");
    assert!(
        matches!(error, CommitError::NotLeader { current: Some(t) } if t == taken.term.unwrap()),
        "{error:?}"
    );
    assert_eq!(counter(&rt, "/c"), value, "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_racing_guarded_commits_through_expiries_give_one_master_per_term() {
    let recorder = Recorder::new();
    let rt = Arc::new(runtime(recorder.clone()));
    reset(&rt, &["a", "b", "c"], Duration::from_millis(40)).await;
    let mut racers = Vec::new();
    for peer in ["a", "b", "c"] {
        let rt = rt.clone();
        racers.push(tokio::spawn(async move {
            let mut applied = 0;
            for round in 0..25u64 {
                let txn = function("count /c", Duration::from_secs(5));
                if commit(&rt, peer, CommitMode::Guarded, txn).await.is_ok() {
                    applied += 1;
                }
                // Sometimes pause past the lease, so masters change.
                let pause = if round % 4 == 0 { 60 } else { 5 };
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            applied
        }));
    }
    let mut applied = 0;
    for racer in racers {
        applied += racer.await.unwrap();
    }
    assert_eq!(
        counter(&rt, "/c"),
        Some(applied),
        "every applied commit counted once"
    );
    let history = recorder.history();
    let elected = history.ops.iter().filter(|op| op.f == "elected").count();
    assert!(elected > 2, "masters changed: {}", history.to_jsonl());
    assert_leadership_per_term(&history);
}

/// Checks `history` against the leadership model (one master per term, commits only
/// under the term that holds).
fn assert_leadership_per_term(history: &ballot_check::history::History) {
    let report = check(history, ModelKind::Leadership, &Budget::default()).unwrap();
    assert!(
        matches!(report.verdict, Verdict::Linearizable),
        "{:?}\n{}",
        report.verdict,
        history.to_jsonl()
    );
}

/// Creates `path` with `data` (its parent must exist).
async fn create(rt: &Runtime, path: &str, data: &str) {
    let op = Op::Create {
        path: NodePath::parse(path).unwrap(),
        data: Data::from(data),
        mode: CreateMode::PERSISTENT,
    };
    multi(rt, op).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_commits_through_the_elector_with_ops_and_a_registered_function() {
    let recorder = Recorder::new();
    let rt = runtime(recorder.clone());
    let not_a_txn_fn = wasm(ballot_artifacts::EXAMPLE_CANDIDATE);
    assert!(
        rt.register_txn_fn(&not_a_txn_fn).await.is_err(),
        "a candidate is not a txn-fn"
    );
    let sha = rt.register_txn_fn(&txn_fn()).await.unwrap();
    assert_eq!(sha.len(), 64);
    assert_eq!(
        rt.register_txn_fn(&txn_fn()).await.unwrap(),
        sha,
        "named by content"
    );
    deploy_committer(&rt, "cases", &sha, |_| {}).await;
    super::support::wait_for(&rt, "committer", super::support::acked).await;
    let said = committer_said(&rt);
    let outcome = |case: &str| said.get(case).unwrap_or_else(|| panic!("{case}: {said:?}"));

    let term: u64 = outcome("guarded-function")
        .strip_prefix("ok term ")
        .and_then(|rest| rest.strip_suffix(" attempts 1"))
        .unwrap_or_else(|| panic!("{said:?}"))
        .parse()
        .unwrap();
    assert_eq!(
        counter(&rt, "/c"),
        Some(1),
        "the function's commit applied once"
    );
    assert!(
        outcome("preview").starts_with("ok ops 1 revision"),
        "{said:?}"
    );
    assert!(outcome("unregistered").contains("Invalid"), "{said:?}");
    assert!(
        outcome("unregistered").contains("no such function"),
        "{said:?}"
    );
    assert!(outcome("malformed").contains("Invalid"), "{said:?}");
    assert!(outcome("ephemeral").contains("ephemeral"), "{said:?}");
    assert_eq!(
        outcome("stale-term"),
        &format!("refused Error::NotLeader(Some({term}))"),
        "a term not held is refused, naming the one that holds"
    );
    assert_eq!(outcome("speculative"), &format!("ok term {term}"));
    assert_eq!(
        outcome("other-peer"),
        &format!("refused Error::NotLeader(Some({term}))")
    );
    assert_eq!(data(&rt, "/d").as_deref(), Some("x"));
    for refused in ["/e", "/q"] {
        assert_eq!(data(&rt, refused), None, "{refused} was written");
    }
    // The lease's own history (the candidate's ballot election is another election):
    // p won once, and every commit recorded ok ran under the term p held.
    let history = recorder.history();
    let lease = ballot_check::history::History::from_ops(
        history
            .ops
            .iter()
            .filter(|op| matches!(op.value.get(0).and_then(|v| v.as_str()), Some("p" | "q")))
            .cloned(),
    )
    .unwrap();
    let commits = lease
        .ops
        .iter()
        .filter(|op| op.f == "commit" && op.kind == ballot_check::history::OpType::Ok)
        .count();
    assert_eq!(commits, 2, "{}", lease.to_jsonl());
    assert_leadership_per_term(&lease);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_into_the_kept_subtrees_are_refused_whatever_computes_them() {
    let rt = runtime(Recorder::off());
    reset(&rt, &["a", "b"], Duration::from_secs(10)).await;
    let before = rt.state().encode();
    let drop_b = TxnSource::Ops(vec![Op::Delete {
        path: NodePath::parse("/electors/jobs/peers/b").unwrap(),
        expected: None,
    }]);
    let forge = || function("count /elections/example/ack", Duration::from_secs(5));
    for (mode, txn) in [
        (
            CommitMode::Speculative(ballot_core::namespace::Revision(1)),
            drop_b,
        ),
        (CommitMode::Preview, forge()),
    ] {
        let refused = commit(&rt, "a", mode, txn).await.unwrap_err();
        assert!(
            matches!(
                &refused,
                CommitError::Refused(ballot_core::namespace::Error::HostKept { .. })
            ),
            "{refused}"
        );
    }
    assert_eq!(rt.state().encode(), before, "nothing written");
    // A guarded commit elects a first (that is the elector's own write), then refuses.
    let refused = commit(&rt, "a", CommitMode::Guarded, forge())
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("/elections/example/ack"),
        "{refused}"
    );
    assert_eq!(data(&rt, "/elections/example/ack"), None);
}

/// Deploys the fixture committer in `mode` (with the function `sha`), its spec adjusted by
/// `adjust`; the nodes it reads are written first.
async fn deploy_committer(
    rt: &Runtime,
    mode: &str,
    sha: &str,
    adjust: impl FnOnce(&mut ballot_runtime::DeploySpec),
) -> ballot_runtime::DeploymentId {
    create(rt, "/committer", "").await;
    create(rt, "/committer/sha256", sha).await;
    create(rt, "/committer/mode", mode).await;
    let mut spec = super::support::candidate("committer", None);
    spec.wasm = wasm(ballot_artifacts::FIXTURE_COMMITTER).into();
    adjust(&mut spec);
    rt.deploy(spec).await.unwrap()
}

/// The fixture committer's `commit: <case> <outcome>` log lines, by case.
fn committer_said(rt: &Runtime) -> std::collections::BTreeMap<String, String> {
    rt.logs()
        .into_iter()
        .filter_map(|(who, line)| {
            let rest = line.strip_prefix("commit: ")?.to_string();
            let (case, outcome) = rest.split_once(' ')?;
            (who == "committer").then(|| (case.to_string(), outcome.to_string()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_cannot_write_what_the_election_machinery_keeps() {
    let rt = runtime(Recorder::off());
    deploy_committer(&rt, "forge", "", |_| {}).await;
    super::support::wait_for(&rt, "committer", super::support::acked).await;
    let said = committer_said(&rt);
    for case in ["forge-ack", "delete-ballot", "create-ballot", "drop-peer"] {
        let outcome = said.get(case).unwrap_or_else(|| panic!("{case}: {said:?}"));
        assert!(
            outcome.starts_with("refused Error::Denied(")
                && outcome.contains("is kept by the host"),
            "{case}: {outcome}"
        );
    }
    assert_eq!(
        said.get("check-ballot").map(String::as_str),
        Some("ok"),
        "{said:?}"
    );
    assert_eq!(data(&rt, "/checked").as_deref(), Some("y"));
    // It still leads on its one ballot, under an ack the host wrote; q is still a peer.
    let state = rt.state();
    let election = super::support::election();
    let ballots = state.children(&election.paths().ballots).unwrap();
    assert_eq!(ballots.len(), 1, "{ballots:?}");
    let leader = ballot_core::election::read_leader(&state, &election).expect("acked");
    assert_eq!(leader.data.as_bytes(), b"committer:5432");
    assert!(data(&rt, "/electors/commits/peers/q").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_functions_operations_are_charged_to_the_components_bytes_quota() {
    // The same 64 KiB copy, by a committer allowed 16 KiB/s and by one allowed the default.
    for (bytes_per_second, written) in [(16 << 10, false), (4 << 20, true)] {
        let rt = runtime(Recorder::off());
        let sha = rt.register_txn_fn(&txn_fn()).await.unwrap();
        create(&rt, "/big", &"b".repeat(64 << 10)).await;
        deploy_committer(&rt, "big", &sha, |spec| {
            spec.limits.quotas.bytes_per_second = bytes_per_second;
        })
        .await;
        super::support::wait_for(&rt, "committer", super::support::acked).await;
        let said = committer_said(&rt);
        let outcome = said.get("big").unwrap_or_else(|| panic!("{said:?}"));
        assert_eq!(outcome.starts_with("ok term "), written, "{outcome}");
        if !written {
            assert!(
                outcome.starts_with("refused Error::QuotaExceeded(\"written bytes"),
                "{outcome}"
            );
        }
        assert_eq!(data(&rt, "/big-copy").is_some(), written);
    }
}

/// A component killed while its transaction function runs writes nothing: the function
/// runs on, and its commit is refused in the writer step by the instance's fence.
///
/// On a loaded machine the function (a spin of about 10^8 steps) may instead pass its
/// 1 s deadline and abort; it writes nothing either way, so the test waits for the one
/// thing both outcomes share (the killed instance's callback has returned and a fresh
/// instance runs on a new session) and checks the fence's refusal only when the commit
/// reached the writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_killed_while_its_function_runs_writes_nothing() {
    use ballot_runtime::DeploymentStatus;
    let recorder = Recorder::new();
    let rt = runtime(recorder.clone());
    let sha = rt.register_txn_fn(&txn_fn()).await.unwrap();
    // Its callback may take as long as the machine needs; its function has its own 1 s.
    let id = deploy_committer(&rt, "slow", &sha, |spec| {
        spec.limits.callback_deadline = Duration::from_secs(30);
    })
    .await;
    eventually(
        || "the committer never started its slow commit".to_string(),
        || {
            rt.logs()
                .iter()
                .any(|(_, line)| line == "commit: slow-start")
                .then_some(())
        },
    )
    .await;
    let refusals = rt.fenced_refusals();
    let killed = rt.kill(id).unwrap();
    eventually(
        || format!("no fresh instance after the kill: {:?}", rt.status(id)),
        || match rt.status(id) {
            Some(DeploymentStatus::Running { session, .. }) if session != killed => Some(()),
            _ => None,
        },
    )
    .await;
    let history = recorder.history();
    let outcome = history
        .ops
        .iter()
        .find(|op| op.f == "commit" && op.kind != ballot_check::history::OpType::Invoke);
    if let Some(outcome) = outcome {
        assert_eq!(
            outcome.kind,
            ballot_check::history::OpType::Fail,
            "{}",
            history.to_jsonl()
        );
        assert!(
            rt.fenced_refusals() > refusals,
            "the writer's fence check refused it"
        );
    }
    assert_eq!(data(&rt, "/slow-copy"), None, "a killed instance wrote");
    assert!(
        !rt.logs()
            .iter()
            .any(|(_, line)| line.starts_with("commit: slow ok")),
        "the killed instance never saw its commit succeed"
    );
}
