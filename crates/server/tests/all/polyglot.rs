//! Components written in Python (componentize-py) and JavaScript (componentize-js) on the
//! same WIT as Rust ones: a mixed election behaves as a Rust one, a Rust leader hot-swaps
//! to its Python version, their transaction functions agree byte for byte, and their
//! misbehaviour costs only their own instance.
//!
//! The components are built by `ballot-artifacts` when the toolchains are present. Without
//! them these tests say why and pass, except under CI (`CI` set), which installs both and
//! must run them.

use std::sync::Arc;
use std::time::Duration;

use ballot_artifacts::Polyglot;
use ballot_check::history::Recorder;
use ballot_core::command::Command;
use ballot_core::election::ElectionName;
use ballot_core::namespace::{CreateMode, Data, NodePath, Op};
use ballot_runtime::{
    CommitMode, CommitRequest, Delivered, DeploySpec, Limits, Role, Runtime, Supervision,
    SwapOutcome, TimelineEvent, TxnSource,
};

use super::support::{
    acked, any, assert_leadership_linearizable, candidate, count, election, lines, lost, observer,
    runtime, wait_for, wasm,
};

/// The bytes of a Python or JavaScript component, or `None` (with the reason printed) on
/// a machine without its toolchain. Under CI a missing toolchain fails the test.
fn polyglot(component: Polyglot) -> Option<Vec<u8>> {
    match component.path() {
        Ok(path) => Some(wasm(path)),
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("CI installs the Python and JavaScript toolchains, yet: {why}")
        }
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

/// A candidate deployment of `wasm` named `name` in the example election.
fn candidate_of(name: &str, wasm: Vec<u8>, tick: Option<Duration>) -> DeploySpec {
    let mut spec = candidate(name, tick);
    spec.wasm = wasm.into();
    spec
}

/// An observer deployment of `wasm` named `name` of the example election.
fn observer_of(name: &str, wasm: Vec<u8>) -> DeploySpec {
    let mut spec = observer(name);
    spec.wasm = wasm.into();
    spec
}

/// The field `name` of the CBOR map the example workers write, in any language.
fn cbor_field(data: &Data, name: &str) -> Option<ciborium::Value> {
    let value: ciborium::Value = ciborium::from_reader(data.as_bytes()).expect("CBOR");
    value
        .into_map()
        .ok()?
        .into_iter()
        .find(|(k, _)| k.as_text() == Some(name))
        .map(|(_, v)| v)
}

/// The field `name` of a CBOR map, as a term.
fn cbor_term(data: &Data, name: &str) -> Option<u64> {
    u64::try_from(cbor_field(data, name)?.as_integer()?).ok()
}

/// The name and term in `/example/leader`, as the leader wrote them (CBOR).
fn leader_record(rt: &Runtime) -> Option<(String, u64)> {
    let (data, _) = rt
        .state()
        .get(&NodePath::parse("/example/leader").unwrap())
        .ok()?;
    let name = cbor_field(&data, "name")?.into_text().ok()?;
    Some((name, cbor_term(&data, "term")?))
}

/// Waits until `/example/leader` names `name` under `term`.
async fn wait_record(rt: &Runtime, name: &str, term: u64) {
    super::support::wait_state(
        rt,
        &format!("{name} writes /example/leader under {term}"),
        |_| leader_record(rt) == Some((name.to_string(), term)),
    )
    .await;
}

/// The number of `who`'s first timeline line numbered `from` or later that `what`
/// accepts, waiting for it (at most the support module's ceiling).
async fn seq_from(
    rt: &Runtime,
    who: &str,
    from: u64,
    what: impl Fn(&TimelineEvent) -> bool,
) -> u64 {
    let deadline = tokio::time::Instant::now() + super::support::CEILING;
    match rt
        .next_in_timeline(from, deadline, |e| e.deployment == who && what(&e.event))
        .await
    {
        Some(entry) => entry.seq,
        None => panic!("{who}: nothing from {from} on\n{}", lines(rt).join("\n")),
    }
}

fn acked_term(e: &TimelineEvent) -> Option<u64> {
    match e {
        TimelineEvent::Acked(term) => Some(*term),
        _ => None,
    }
}

/// One election with a Python leader, a JavaScript and a Rust candidate, and observers
/// in all three languages: the seed's order (ack after the win callback, losers told
/// after the ack, observers hear of the death before the new leader), then the Python
/// leader killed (the JavaScript one leads) and the JavaScript one undeployed (the Rust
/// one leads), each leader writing under its own term; the history is checked with the
/// leadership models, exclusive included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_election_behaves_as_a_rust_one() {
    let (Some(python), Some(js), Some(py_observer), Some(js_observer)) = (
        polyglot(ballot_artifacts::PYTHON_CANDIDATE),
        polyglot(ballot_artifacts::JS_CANDIDATE),
        polyglot(ballot_artifacts::PYTHON_OBSERVER),
        polyglot(ballot_artifacts::JS_OBSERVER),
    ) else {
        return;
    };
    let recorder = Recorder::new();
    let rt = runtime(recorder.clone());
    rt.deploy(observer("rust-watcher")).await.unwrap();
    rt.deploy(observer_of("py-watcher", py_observer))
        .await
        .unwrap();
    rt.deploy(observer_of("js-watcher", js_observer))
        .await
        .unwrap();
    let tick = Some(Duration::from_millis(50));
    let py = rt.deploy(candidate_of("py", python, tick)).await.unwrap();
    let py_ack = wait_for(&rt, "py", acked).await;
    let py_term = acked_term(&py_ack.event).unwrap();
    let js = rt.deploy(candidate_of("js", js, tick)).await.unwrap();
    rt.deploy(candidate("rust", tick)).await.unwrap();

    // The win callback ran before the ack; losers and observers hear after the ack.
    let win = wait_for(&rt, "py", |e| {
        matches!(
            e,
            TimelineEvent::Callback(Delivered::WinningElection { .. })
        )
    })
    .await;
    assert!(win.seq < py_ack.seq);
    for loser in ["js", "rust"] {
        let told = wait_for(&rt, loser, lost).await;
        assert!(told.seq > py_ack.seq, "{loser} told before the ack");
        assert_eq!(
            told.event,
            TimelineEvent::Callback(Delivered::LosingElection {
                leader_term: py_term
            })
        );
    }
    for watcher in ["rust-watcher", "py-watcher", "js-watcher"] {
        seq_from(&rt, watcher, py_ack.seq + 1, |e| {
            *e == TimelineEvent::Callback(Delivered::NewLeader { term: py_term })
        })
        .await;
    }
    wait_record(&rt, "python-candidate", py_term).await;

    // Kill the Python leader: every observer hears its death, then the JavaScript leader.
    let before_kill = rt.timeline_cursor();
    rt.kill(py).unwrap();
    let js_ack = seq_from(&rt, "js", before_kill, |e| acked_term(e).is_some()).await;
    let js_term = rt
        .timeline()
        .into_iter()
        .find(|e| e.seq == js_ack)
        .and_then(|e| acked_term(&e.event))
        .unwrap();
    assert!(js_term > py_term);
    for watcher in ["rust-watcher", "py-watcher", "js-watcher"] {
        let death = seq_from(&rt, watcher, before_kill, |e| {
            *e == TimelineEvent::Callback(Delivered::LeadersDeath { term: py_term })
        })
        .await;
        let heard = seq_from(&rt, watcher, before_kill, |e| {
            *e == TimelineEvent::Callback(Delivered::NewLeader { term: js_term })
        })
        .await;
        assert!(
            death < heard,
            "{watcher} heard of the new leader before the death"
        );
    }
    wait_record(&rt, "js-candidate", js_term).await;

    // Undeploy the JavaScript leader: the Rust one is next in line (the restarted Python
    // instance stands behind it).
    let before_undeploy = rt.timeline_cursor();
    rt.undeploy(js).await.unwrap();
    let rust_ack = seq_from(&rt, "rust", before_undeploy, |e| acked_term(e).is_some()).await;
    let rust_term = rt
        .timeline()
        .into_iter()
        .find(|e| e.seq == rust_ack)
        .and_then(|e| acked_term(&e.event))
        .unwrap();
    assert!(rust_term > js_term);
    wait_record(&rt, "example-candidate", rust_term).await;
    assert_leadership_linearizable(&recorder);
}

/// A Rust leader hot-swapped to the Python version of the same worker keeps its term and
/// ballot, its observers hear nothing, and the Python code writes under that term.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_leader_hot_swaps_to_its_python_version_under_the_same_term() {
    let Some(python) = polyglot(ballot_artifacts::PYTHON_CANDIDATE) else {
        return;
    };
    let recorder = Recorder::new();
    let rt = runtime(recorder.clone());
    rt.deploy(observer("watcher")).await.unwrap();
    let leader = rt
        .deploy(candidate("leader", Some(Duration::from_millis(50))))
        .await
        .unwrap();
    let term = acked_term(&wait_for(&rt, "leader", acked).await.event).unwrap();
    wait_for(&rt, "watcher", |e| {
        *e == TimelineEvent::Callback(Delivered::NewLeader { term })
    })
    .await;
    wait_record(&rt, "example-candidate", term).await;
    let paths = election().paths();
    let (ack_before, ack_stat_before) = rt.state().get(&paths.ack).unwrap();
    let watcher_lines = count(&rt, "watcher", any);

    let report = rt.swap(leader, &python).await.expect("swapped");
    assert_eq!(report.outcome, SwapOutcome::Activated);
    assert_eq!(
        report.term.map(|t| t.0),
        Some(term),
        "the term it led under"
    );
    wait_record(&rt, "python-candidate", term).await;
    let (ack_after, ack_stat_after) = rt.state().get(&paths.ack).unwrap();
    assert_eq!(ack_after, ack_before);
    assert_eq!(ack_stat_after.modified, ack_stat_before.modified);
    // The Python worker's ticks go on under the same term.
    let ticks = NodePath::parse("/example/ticks").unwrap();
    super::support::wait_state(&rt, "the Python leader ticks", |state| {
        state
            .get(&ticks)
            .is_ok_and(|(data, _)| cbor_term(&data, "term") == Some(term))
    })
    .await;
    assert_eq!(
        count(&rt, "watcher", any),
        watcher_lines,
        "the observer heard something:\n{}",
        lines(&rt).join("\n")
    );
    assert_leadership_linearizable(&recorder);
}

fn jobs() -> ElectionName {
    ElectionName::parse("jobs").unwrap()
}

fn counter_call(wasm: &Arc<Vec<u8>>) -> TxnSource {
    TxnSource::Function {
        wasm: wasm.clone(),
        args: b"count /counter".to_vec(),
        limits: Limits {
            callback_deadline: Duration::from_secs(10),
            ..Limits::default()
        },
    }
}

/// A Python and a JavaScript transaction function computing the same counter give
/// byte-identical previews on the same snapshot, and a guarded commit through each
/// applies exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_javascript_txn_fns_preview_alike_and_commit_once() {
    let (Some(python), Some(js)) = (
        polyglot(ballot_artifacts::PYTHON_TXN),
        polyglot(ballot_artifacts::JS_TXN),
    ) else {
        return;
    };
    let (python, js) = (Arc::new(python), Arc::new(js));
    let rt = runtime(Recorder::off());
    rt.propose(Command::ResetElector {
        elector: jobs(),
        duration: Duration::from_secs(30),
        peer: "worker".into(),
    })
    .await
    .unwrap()
    .unwrap();
    let request = |mode, wasm: &Arc<Vec<u8>>| CommitRequest {
        elector: jobs(),
        peer: "worker".into(),
        mode,
        txn: counter_call(wasm),
    };
    let counter = NodePath::parse("/counter").unwrap();
    let value = |rt: &Runtime| {
        rt.state()
            .get(&counter)
            .ok()
            .map(|(data, _)| String::from_utf8_lossy(data.as_bytes()).into_owned())
    };
    let encode = |ops: &[Op]| {
        let mut bytes = Vec::new();
        ciborium::into_writer(ops, &mut bytes).unwrap();
        bytes
    };

    // On an empty namespace: both create the counter at 1.
    let py_preview = rt
        .commit(request(CommitMode::Preview, &python))
        .await
        .unwrap();
    let js_preview = rt.commit(request(CommitMode::Preview, &js)).await.unwrap();
    assert_eq!(encode(&py_preview.ops), encode(&js_preview.ops));
    assert_eq!(
        py_preview.ops,
        vec![Op::Create {
            path: counter.clone(),
            data: Data::from(b"1".to_vec()),
            mode: CreateMode::PERSISTENT,
        }]
    );
    assert_eq!(value(&rt), None, "a preview writes nothing");

    // Each commits once: 1 from Python, 2 from JavaScript.
    let py_commit = rt
        .commit(request(CommitMode::Guarded, &python))
        .await
        .unwrap();
    assert_eq!((py_commit.attempts, value(&rt).as_deref()), (1, Some("1")));
    let js_commit = rt.commit(request(CommitMode::Guarded, &js)).await.unwrap();
    assert_eq!((js_commit.attempts, value(&rt).as_deref()), (1, Some("2")));

    // On the counter at 2: the same set at the same version, byte for byte.
    let py_preview = rt
        .commit(request(CommitMode::Preview, &python))
        .await
        .unwrap();
    let js_preview = rt.commit(request(CommitMode::Preview, &js)).await.unwrap();
    assert_eq!(encode(&py_preview.ops), encode(&js_preview.ops));
    assert!(
        matches!(&py_preview.ops[..], [Op::Set { data, expected: Some(1), .. }] if data.as_bytes() == b"3"),
        "{:?}",
        py_preview.ops
    );
    assert_eq!(value(&rt).as_deref(), Some("2"));
}

/// A misbehaving candidate deployed with `mode` as its ballot data, with a short deadline
/// and quick restarts, first in `election`.
fn misbehaving(name: &str, wasm: Vec<u8>, mode: &str, election: &str) -> DeploySpec {
    DeploySpec {
        public_id: None,
        name: name.into(),
        wasm: wasm.into(),
        role: Role::Candidate {
            election: ElectionName::parse(election).unwrap(),
            data: mode.as_bytes().to_vec(),
            follow_leader: false,
            priority: None,
        },
        ttl: Duration::from_secs(3),
        tick: None,
        limits: Limits {
            callback_deadline: Duration::from_millis(500),
            ..Limits::default()
        },
        supervision: Supervision {
            backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            max_crashes: 100,
            window: Duration::from_secs(60),
            max_silence: None,
        },
    }
}

/// An exception in on-winning-election and an endless loop there, in each language, cost
/// only that instance: it crashes (with the exception's message, or the deadline), and a
/// Rust candidate behind it leads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_python_and_javascript_cost_only_their_own_instance() {
    let (Some(python), Some(js)) = (
        polyglot(ballot_artifacts::PYTHON_MISBEHAVING),
        polyglot(ballot_artifacts::JS_MISBEHAVING),
    ) else {
        return;
    };
    let cases = [
        ("py-raise", &python, "raise", "raises on purpose"),
        ("py-loop", &python, "loop", "deadline"),
        ("js-raise", &js, "raise", "throws on purpose"),
        ("js-loop", &js, "loop", "deadline"),
    ];
    // One runtime (and history) per case: the leadership checks read one election.
    for (name, code, mode, expect) in cases {
        let recorder = Recorder::new();
        let rt = runtime(recorder.clone());
        let election = format!("poly-{name}");
        rt.deploy(misbehaving(name, code.clone(), mode, &election))
            .await
            .unwrap();
        let next_name = format!("{name}-next");
        let next = misbehaving(
            &next_name,
            wasm(ballot_artifacts::EMPTY_EXPORT),
            "",
            &election,
        );
        rt.deploy(next).await.unwrap();
        let crash = wait_for(&rt, name, |e| matches!(e, TimelineEvent::Trapped(_))).await;
        let TimelineEvent::Trapped(why) = &crash.event else {
            unreachable!()
        };
        assert!(why.contains(expect), "{name} crashed with: {why}");
        wait_for(&rt, &next_name, acked).await;
        assert_leadership_linearizable(&recorder);
    }
}

/// `Refuse` from the win callback, in each language, declines the win as a Rust `Err`
/// does: the candidate is resigned with that reason (not crashed) and stands again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_in_python_or_javascript_declines_the_win_with_its_reason() {
    let (Some(python), Some(js)) = (
        polyglot(ballot_artifacts::PYTHON_MISBEHAVING),
        polyglot(ballot_artifacts::JS_MISBEHAVING),
    ) else {
        return;
    };
    let rt = runtime(Recorder::off());
    for (name, code) in [("py-refuse", python), ("js-refuse", js)] {
        rt.deploy(misbehaving(name, code, "refuse", &format!("poly-{name}")))
            .await
            .unwrap();
    }
    for name in ["py-refuse", "js-refuse"] {
        let refusal = wait_for(&rt, name, |e| matches!(e, TimelineEvent::WinRefused(_))).await;
        let TimelineEvent::WinRefused(reason) = &refusal.event else {
            unreachable!()
        };
        assert!(reason.contains("refuses term"), "{name}: {reason}");
        wait_for(&rt, name, |e| *e == TimelineEvent::StandsAgain(1)).await;
        assert_eq!(
            count(&rt, name, |e| matches!(e, TimelineEvent::Trapped(_))),
            0,
            "{}",
            lines(&rt).join("\n")
        );
    }
}

/// Memory is sized per deployment: a Python component whose pre-initialized heap is
/// larger than its deployment's limit is refused at deploy, naming what it needs, while
/// a Rust one runs under the same limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_that_starts_above_its_memory_limit_is_refused_at_deploy() {
    let Some(python) = polyglot(ballot_artifacts::PYTHON_CANDIDATE) else {
        return;
    };
    let rt = runtime(Recorder::off());
    let before = rt.state().encode();
    let mut tight = candidate_of("py-tight", python, None);
    tight.limits.memory_bytes = 4 << 20;
    let error = rt.deploy(tight).await.unwrap_err();
    let ballot_runtime::DeployError::TooLittleMemory {
        needs_mib,
        limit_mib,
        ..
    } = error
    else {
        panic!("refused for the wrong reason: {error}");
    };
    assert_eq!(limit_mib, 4);
    assert!(needs_mib > 4, "{error}");
    assert!(error.to_string().contains("--memory-mib"), "{error}");
    assert_eq!(
        rt.state().encode(),
        before,
        "a refused deploy changes nothing"
    );

    let mut rust = candidate("rust-tight", None);
    rust.limits.memory_bytes = 4 << 20;
    rt.deploy(rust).await.unwrap();
    wait_for(&rt, "rust-tight", acked).await;
}

/// Each SDK's wrappers against the real host: a candidate in each language calls every
/// kind of import once (create, delete, a refused get, the lease elector, a guarded
/// commit, a term guard refused with the current term as the error's detail, the
/// election's leader, whoami) and logs what it got.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sdk_wraps_the_hosts_imports_and_errors() {
    let (Some(python), Some(js)) = (
        polyglot(ballot_artifacts::PYTHON_SURFACE),
        polyglot(ballot_artifacts::JS_SURFACE),
    ) else {
        return;
    };
    let rt = runtime(Recorder::off());
    let cases = [
        (
            "py-surface",
            python,
            [
                "get: NoNode /surface-py",
                "elector: LeaseOutcome_Won",
                "commit: attempts 1",
                "guard: NotLeader True",
                "leader before the ack: None",
                "whoami: py-surface poly-py-surface",
            ],
        ),
        (
            "js-surface",
            js,
            [
                "get: NoNode /surface-js",
                "elector: won",
                "commit: attempts 1",
                "guard: NotLeader true",
                "leader before the ack: none",
                "whoami: js-surface poly-js-surface",
            ],
        ),
    ];
    for (name, code, expected) in cases {
        rt.deploy(misbehaving(name, code, "", &format!("poly-{name}")))
            .await
            .unwrap();
        wait_for(&rt, name, acked).await;
        let said: Vec<String> = rt
            .logs()
            .into_iter()
            .filter(|(who, _)| who == name)
            .map(|(_, line)| line)
            .collect();
        assert_eq!(said, expected, "{name}");
    }
}
