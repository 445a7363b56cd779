//! Real components as actors: the seed's scenarios replayed with wasm candidates and an
//! observer, fencing of a deposed candidate, and refusal of bad components. Order and
//! cause are asserted from the runtime's timeline and recorded history, with loose time
//! bounds only.

use std::time::Duration;

use ballot_check::history::Recorder;
use ballot_core::namespace::NodePath;
use ballot_runtime::{ComponentCache, Delivered, DeployError, Runtime, TimelineEvent};

use super::support::{
    acked, assert_leadership_linearizable, candidate, count, depose_leader, deposed, election,
    first, lines, lost, observer, runtime, runtime_with_cache, runtime_with_own_cache, sim_store,
    trapped, wait_for, wait_state, wasm, won,
};

/// The number of `who`'s first timeline line that is `event`.
fn position(rt: &Runtime, who: &str, event: TimelineEvent) -> u64 {
    first(rt, who, |e| *e == event)
        .unwrap_or_else(|| panic!("{who}: {event:?} missing:\n{}", lines(rt).join("\n")))
        .seq
}

fn term_acked_by(rt: &Runtime, name: &str) -> u64 {
    rt.timeline()
        .into_iter()
        .find_map(|e| match e.event {
            TimelineEvent::Acked(term) if e.deployment == name => Some(term),
            _ => None,
        })
        .expect("acked")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_replayed_with_components() {
    let recorder = Recorder::new();
    let rt = runtime(recorder.clone());
    rt.deploy(observer("obs")).await.unwrap();
    let a = rt.deploy(candidate("a", None)).await.unwrap();
    wait_for(&rt, "a", acked).await;
    rt.deploy(candidate("b", None)).await.unwrap();
    rt.deploy(candidate("c", None)).await.unwrap();
    wait_for(&rt, "b", lost).await;
    wait_for(&rt, "c", lost).await;
    let ta = term_acked_by(&rt, "a");

    rt.undeploy(a).await.unwrap();
    wait_for(&rt, "b", acked).await;
    let tb = term_acked_by(&rt, "b");
    assert!(tb > ta, "terms increase");
    let callback = TimelineEvent::Callback;
    wait_for(&rt, "obs", |e| {
        *e == callback(Delivered::NewLeader { term: tb })
    })
    .await;

    // The winner acks after its callback; losers and observers hear only after the ack.
    let a_wins = position(&rt, "a", callback(Delivered::WinningElection { term: ta }));
    let a_acks = position(&rt, "a", TimelineEvent::Acked(ta));
    assert!(a_wins < a_acks);
    for who in ["b", "c"] {
        let lost = position(
            &rt,
            who,
            callback(Delivered::LosingElection { leader_term: ta }),
        );
        assert!(a_acks < lost, "{who} heard it lost before the ack");
    }
    let obs_new_a = position(&rt, "obs", callback(Delivered::NewLeader { term: ta }));
    let a_gone = position(&rt, "a", TimelineEvent::Undeployed);
    let obs_death = position(&rt, "obs", callback(Delivered::LeadersDeath { term: ta }));
    let b_wins = position(&rt, "b", callback(Delivered::WinningElection { term: tb }));
    let obs_new_b = position(&rt, "obs", callback(Delivered::NewLeader { term: tb }));
    assert!(a_acks < obs_new_a && obs_new_a < obs_death && obs_death < obs_new_b);
    assert!(b_wins < obs_new_b && a_gone > a_acks);
    // c is not woken by the failover, and hears it lost only once.
    assert_eq!(
        count(&rt, "c", |e| matches!(e, TimelineEvent::Callback(_))),
        1,
        "{}",
        lines(&rt).join("\n")
    );

    // The observer component recorded the stream in order in the namespace too.
    let observed = NodePath::parse("/example/observed").unwrap();
    wait_state(
        &rt,
        "the observer never recorded three callbacks",
        |state| state.children(&observed).is_ok_and(|c| c.len() >= 3),
    )
    .await;
    assert_eq!(rt.state().children(&observed).unwrap().len(), 3);

    // The new leader wrote under its term with a guarded multi.
    let leader_node = NodePath::parse("/example/leader").unwrap();
    wait_state(&rt, "the new leader never wrote under its term", |state| {
        state
            .get(&leader_node)
            .is_ok_and(|(_, stat)| stat.modified.0 >= tb)
    })
    .await;
    assert_leadership_linearizable(&recorder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposed_candidates_guarded_writes_are_refused() {
    let recorder = Recorder::new();
    let rt = runtime(recorder.clone());
    rt.deploy(candidate("a", Some(Duration::from_millis(30))))
        .await
        .unwrap();
    wait_for(&rt, "a", acked).await;
    let ticks = NodePath::parse("/example/ticks").unwrap();
    wait_state(&rt, "the leader never ticked under its term", |state| {
        state.exists(&ticks).is_some()
    })
    .await;

    // Depose a by deleting its ballot behind its back; b takes over.
    rt.deploy(candidate("b", None)).await.unwrap();
    depose_leader(&rt, &election()).await;
    wait_for(&rt, "a", deposed).await;
    wait_for(&rt, "b", acked).await;
    // a's instance was revoked in the step that deleted its ballot (recorded before b
    // could hear of its win) and replaced by a fresh one that lost: nobody ticks now.
    let history = recorder.history();
    assert!(
        history
            .ops
            .iter()
            .any(|op| op.f == "revoke" && op.value[0] == "a"),
        "a's revocation is recorded:\n{}",
        history.to_jsonl()
    );
    wait_for(&rt, "a", lost).await;
    // b's ack outlives a's old session, which closed after b may have acked.
    let leader = ballot_core::election::read_leader(&rt.state(), &election());
    assert!(leader.is_some(), "b still leads, acked");
    let (_, stat) = rt.state().get(&ticks).unwrap();
    let modified = stat.modified.0;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        rt.state().get(&ticks).unwrap().1.modified.0,
        modified,
        "nobody ticks after a was deposed (b has no tick)"
    );
    assert_leadership_linearizable(&recorder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_components_are_refused_and_change_nothing() {
    let rt = runtime(Recorder::off());
    let before = rt.state().encode();
    let mut garbage = candidate("garbage", None);
    garbage.wasm = b"definitely not wasm".to_vec().into();
    let err = rt.deploy(garbage).await.unwrap_err();
    assert!(matches!(err, DeployError::Malformed(_)), "{err}");

    let mut core_module = candidate("core", None);
    core_module.wasm = b"\0asm\x01\0\0\0".to_vec().into();
    let err = rt.deploy(core_module).await.unwrap_err();
    assert!(err.to_string().contains("not a valid component"), "{err}");

    // An observer component deployed as a candidate lacks the candidate's exports.
    let mut wrong = candidate("wrong", None);
    wrong.wasm = wasm(ballot_artifacts::EXAMPLE_OBSERVER).into();
    let err = rt.deploy(wrong).await.unwrap_err();
    assert!(
        matches!(
            &err,
            DeployError::WrongWorld {
                world: "candidate",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(rt.state().encode(), before, "no session, no ballot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responsive_actor_keeps_its_session_and_the_cache_serves_redeploys() {
    let rt = runtime_with_own_cache(Recorder::off());
    let mut spec = candidate("steady", None);
    spec.ttl = Duration::from_millis(300);
    rt.deploy(spec.clone()).await.unwrap();
    wait_for(&rt, "steady", acked).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        count(&rt, "steady", trapped),
        0,
        "{}",
        lines(&rt).join("\n")
    );
    assert_eq!(
        rt.state().sessions().count(),
        1,
        "heartbeats kept it alive past 3 TTLs"
    );
    spec.name = "again".into();
    rt.deploy(spec).await.unwrap();
    assert_eq!(rt.cached_components(), 1, "the same bytes compiled once");
}

/// A component that has started here before enters its election while it instantiates;
/// if that instantiation fails after all (here: a table limit below its table's size), the
/// deploy is refused and its entry taken back, whether it joined behind a leader or won the
/// empty election meanwhile. Nothing of it remains, and later deploys elect as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_made_while_instantiating_is_taken_back_when_instantiation_fails() {
    let recorder = Recorder::new();
    let rt = runtime(recorder.clone());
    let ballots = || {
        rt.state()
            .children(&NodePath::parse("/elections/example/ballots").unwrap())
            .unwrap_or_default()
            .len()
    };
    let steady = rt.deploy(candidate("steady", None)).await.unwrap();
    wait_for(&rt, "steady", acked).await;
    let term = term_acked_by(&rt, "steady");
    let mut starved = candidate("starved", None);
    starved.limits.table_elements = 0;

    // Behind a leader: refused, and the leader keeps its term.
    let refused = rt.deploy(starved.clone()).await;
    assert!(
        matches!(refused, Err(DeployError::Instantiate(_))),
        "{refused:?}"
    );
    assert_eq!(rt.deployments(), vec![steady]);
    assert_eq!(rt.state().sessions().count(), 1);
    assert_eq!(ballots(), 1);
    assert_eq!(rt.leaders(), vec![("steady".to_string(), term)]);

    // In the empty election, where its entry may win before the instantiation fails.
    rt.undeploy(steady).await.unwrap();
    let refused = rt.deploy(starved).await;
    assert!(
        matches!(refused, Err(DeployError::Instantiate(_))),
        "{refused:?}"
    );
    assert!(rt.deployments().is_empty());
    assert_eq!(rt.state().sessions().count(), 0);
    assert_eq!(ballots(), 0);
    assert_eq!(count(&rt, "starved", won), 0, "{}", lines(&rt).join("\n"));

    rt.deploy(candidate("after", None)).await.unwrap();
    wait_for(&rt, "after", acked).await;
    assert!(term_acked_by(&rt, "after") > term);
    assert_leadership_linearizable(&recorder);
}

/// The compiled-component cache keeps what deployments use and a bounded number of idle
/// components besides, the least recently used going first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_compiled_components_are_dropped_beyond_the_bound_and_used_ones_kept() {
    let rt = runtime_with_cache(ComponentCache::with_idle_capacity(1));
    let spec = |name: &str, component: &str| {
        let mut spec = candidate(name, None);
        spec.wasm = wasm(component).into();
        spec
    };
    let a = rt
        .deploy(spec("a", ballot_artifacts::EXAMPLE_CANDIDATE))
        .await
        .unwrap();
    wait_for(&rt, "a", acked).await;
    let b = rt
        .deploy(spec("b", ballot_artifacts::EXAMPLE_CANDIDATE_V2))
        .await
        .unwrap();
    let c = rt
        .deploy(spec("c", ballot_artifacts::EMPTY_EXPORT))
        .await
        .unwrap();
    assert_eq!(rt.cached_components(), 3, "all three are in use");

    rt.undeploy(a).await.unwrap();
    assert_eq!(
        rt.cached_components(),
        3,
        "one idle component is within the bound"
    );
    rt.undeploy(b).await.unwrap();
    assert_eq!(
        rt.cached_components(),
        2,
        "the least recently used idle one went, the used one stayed"
    );
    // c's code is still cached: a second deployment of it compiles nothing.
    rt.deploy(spec("c2", ballot_artifacts::EMPTY_EXPORT))
        .await
        .unwrap();
    assert_eq!(rt.cached_components(), 2);

    // Swapping c away from its code leaves that code in use by c2 only; swapping c2 too
    // makes it idle, and the older idle one goes.
    rt.swap(c, &wasm(ballot_artifacts::EXAMPLE_CANDIDATE))
        .await
        .expect("swapped");
    assert_eq!(
        rt.cached_components(),
        2,
        "b's code went when a's came back"
    );
    rt.undeploy(c).await.unwrap();
    assert_eq!(
        rt.cached_components(),
        2,
        "the empty component (c2) and the example (idle, the most recent)"
    );
}

/// One store serves one runtime: its effects (revocations, deliveries) reach one set of
/// actors. A store already delivering elsewhere is refused with a reason of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_already_serves_a_runtime_is_refused() {
    struct Elsewhere;
    impl ballot_store::EffectsSink for Elsewhere {
        fn applied(&self, _: &ballot_core::election::Effects) {}
        fn durable(&self, _: ballot_core::election::Effects) {}
    }
    let store = sim_store();
    assert!(store.set_sink(std::sync::Arc::new(Elsewhere)).is_ok());
    let refused = Runtime::new(super::support::engine(), store, Recorder::off());
    assert!(
        matches!(refused, Err(DeployError::StoreInUse)),
        "{:?}",
        refused.err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_uses_the_lease_elector() {
    let rt = runtime(Recorder::off());
    let mut spec = candidate("peers", None);
    spec.wasm = wasm(ballot_artifacts::FIXTURE_LEASE_PEERS).into();
    rt.deploy(spec).await.unwrap();
    wait_for(&rt, "peers", acked).await;
    let said: Vec<String> = rt
        .logs()
        .into_iter()
        .filter(|(who, line)| who == "peers" && line.starts_with("lease:"))
        .map(|(_, line)| line)
        .collect();
    assert_eq!(said.len(), 3, "{said:?}");
    let term = said[0]
        .strip_prefix("lease: p1 won term ")
        .unwrap_or_else(|| panic!("{said:?}"));
    assert_eq!(said[1], format!("lease: p1 renewed term {term}"));
    assert_eq!(said[2], format!("lease: p2 held by p1 term {term}"));
}

/// Compiling runs on the blocking pool, never on an async worker: on a runtime with a
/// single worker thread, a leader with a 300 ms TTL keeps its session and its term while
/// every component of the build (megabytes each, none compiled yet by this runtime) is
/// compiled for deploys. Were a compile to run on the worker, the leader's heartbeats
/// would stop for longer than its TTL and the sweeper would end its session.
#[tokio::test(flavor = "current_thread")]
async fn compiling_large_components_leaves_a_300ms_ttl_leader_its_session_and_term() {
    use ballot_runtime::{DeploySpec, DeploymentStatus, Role};
    let rt = runtime_with_own_cache(Recorder::off());
    let mut leader = candidate("leader", None);
    leader.ttl = Duration::from_millis(300);
    let id = rt.deploy(leader).await.unwrap();
    wait_for(&rt, "leader", acked).await;
    let Some(DeploymentStatus::Running { session, .. }) = rt.status(id) else {
        panic!("the leader runs")
    };
    let term = term_acked_by(&rt, "leader");
    let compiled_before = rt.cached_components();
    let started = std::time::Instant::now();
    let mut bytes = 0;
    for (index, (name, path)) in ballot_artifacts::ALL.iter().enumerate() {
        if path.ends_with("example_candidate.wasm") {
            continue;
        }
        let code = wasm(path);
        bytes += code.len();
        // Observers in elections of their own; a component of another world is refused
        // after it compiled, which is all this needs.
        let _ = rt
            .deploy(DeploySpec {
                public_id: None,
                name: format!("big-{name}"),
                wasm: code.into(),
                role: Role::Observer {
                    election: ballot_core::election::ElectionName::parse(&format!("big-{index}"))
                        .unwrap(),
                },
                ttl: Duration::from_secs(10),
                tick: None,
                limits: Default::default(),
                supervision: Default::default(),
            })
            .await;
    }
    let compiling = started.elapsed();
    assert!(
        rt.cached_components() > compiled_before + 3,
        "the components compiled"
    );
    assert!(
        compiling > Duration::from_millis(300),
        "compiling {bytes} bytes took {compiling:?}, less than the TTL: this test shows nothing"
    );
    assert!(
        matches!(rt.status(id), Some(DeploymentStatus::Running { session: now, restarts: 0 }) if now == session),
        "the leader lost its session while {bytes} bytes compiled for {compiling:?}: {:?}\n{}",
        rt.status(id),
        lines(&rt).join("\n")
    );
    let leader = ballot_core::election::read_leader(&rt.state(), &election()).expect("a leader");
    assert_eq!(leader.term.0, term, "the term changed");
}

/// A candidate whose `on-winning-election` fails is resigned, says it is out of its
/// election (with the callback's reason), and stands again after a backoff until a win
/// goes through: it is never silently left out. Its ballot data reaches it through
/// `whoami`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_win_stands_again_after_a_backoff_until_it_leads() {
    let rt = runtime(Recorder::new());
    let mut spec = candidate("shy", None);
    spec.wasm = wasm(ballot_artifacts::FIXTURE_REFUSE_WIN).into();
    spec.role = ballot_runtime::Role::Candidate {
        election: election(),
        data: b"refuse=2".to_vec(),
        follow_leader: false,
        priority: None,
    };
    let id = rt.deploy(spec).await.unwrap();
    let refused = |e: &TimelineEvent| matches!(e, TimelineEvent::WinRefused(_));
    let first_refusal = wait_for(&rt, "shy", refused).await;
    match &first_refusal.event {
        TimelineEvent::WinRefused(reason) => {
            assert!(reason.contains("refusal 1"), "{reason}")
        }
        other => unreachable!("{other:?}"),
    }
    wait_for(&rt, "shy", |e| *e == TimelineEvent::StandsAgain(1)).await;
    wait_for(&rt, "shy", |e| *e == TimelineEvent::StandsAgain(2)).await;
    let acked_at = wait_for(&rt, "shy", acked).await;
    assert_eq!(count(&rt, "shy", refused), 2, "{:#?}", lines(&rt));
    let second_vote = position(&rt, "shy", TimelineEvent::StandsAgain(2));
    assert!(second_vote < acked_at.seq);
    // The backoff doubles: the second wait is longer than the first.
    let at = |event: TimelineEvent| {
        first(&rt, "shy", |e| *e == event)
            .expect("in the timeline")
            .at
    };
    let refusals: Vec<_> = rt
        .timeline()
        .into_iter()
        .filter(|e| e.deployment == "shy" && refused(&e.event))
        .map(|e| e.at)
        .collect();
    let first_wait = at(TimelineEvent::StandsAgain(1)) - refusals[0];
    let second_wait = at(TimelineEvent::StandsAgain(2)) - refusals[1];
    assert!(first_wait >= Duration::from_millis(250), "{first_wait:?}");
    assert!(second_wait >= Duration::from_millis(500), "{second_wait:?}");
    assert_eq!(rt.standing(id), Some(ballot_runtime::Standing::In));
}

/// A leader that makes no import call for its max silence is deposed as stalled, and the
/// next candidate leads; a leader whose ticks keep calling imports is never deposed, with
/// the writer kept busy by other commits meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_leader_is_deposed_after_its_max_silence_and_a_working_one_is_not() {
    use ballot_core::command::Command;
    use ballot_core::namespace::{CreateMode, Data, Lifetime, Op};
    let recorder = Recorder::new();
    let rt = std::sync::Arc::new(runtime(recorder.clone()));
    let silence = Some(Duration::from_millis(300));
    // No tick: after its ack it never calls the host again.
    let mut quiet = candidate("quiet", None);
    quiet.supervision.max_silence = silence;
    rt.deploy(quiet).await.unwrap();
    wait_for(&rt, "quiet", acked).await;
    let mut working = candidate("working", Some(Duration::from_millis(20)));
    working.supervision.max_silence = silence;
    rt.deploy(working).await.unwrap();
    let stalled = wait_for(
        &rt,
        "quiet",
        |e| matches!(e, TimelineEvent::Revoked(why) if why.contains("stalled")),
    )
    .await;
    wait_for(&rt, "working", acked).await;
    assert!(
        rt.timeline()
            .iter()
            .any(|e| e.deployment == "working" && won(&e.event) && e.seq > stalled.seq),
        "the next candidate won after the stalled leader was revoked"
    );

    // The working leader ticks (a guarded write each time) through many windows of its
    // max silence while other commits keep the writer busy.
    let load = {
        let rt = rt.clone();
        tokio::spawn(async move {
            let create = |path: String| Command::Multi {
                guard: None,
                ops: vec![Op::Create {
                    path: NodePath::parse(&path).unwrap(),
                    data: Data::from("x"),
                    mode: CreateMode {
                        lifetime: Lifetime::Persistent,
                        sequential: false,
                    },
                }],
                quota: None,
            };
            let _ = rt.propose(create("/load".into())).await;
            for n in 0..3_000 {
                let _ = rt.propose(create(format!("/load/n{n}"))).await;
            }
        })
    };
    let ticks = NodePath::parse("/example/ticks").unwrap();
    let from = rt
        .state()
        .exists(&ticks)
        .map_or(0, |stat| stat.data_version);
    wait_state(&rt, "the working leader ticks 60 times", |state| {
        state
            .exists(&ticks)
            .is_some_and(|stat| stat.data_version >= from + 60)
    })
    .await;
    load.await.unwrap();
    assert_eq!(
        count(&rt, "working", |e| matches!(e, TimelineEvent::Revoked(_))),
        0,
        "a leader that works is never deposed: {:#?}",
        lines(&rt)
    );
    assert_leadership_linearizable(&recorder);
    assert_revoked_because(&recorder, "quiet", "stall");
}

/// Asserts that the history records `who`'s term ending with `cause`.
fn assert_revoked_because(recorder: &Recorder, who: &str, cause: &str) {
    let history = recorder.history();
    assert!(
        history.ops.iter().any(|op| op.f == "revoke"
            && op.value.get(0).and_then(|v| v.as_str()) == Some(who)
            && op.extra.get(ballot_check::history::CAUSE_FIELD) == Some(&serde_json::json!(cause))),
        "no revoke of {who} with cause {cause}:\n{}",
        history.to_jsonl()
    );
}

/// A handoff between deployments: the leader is deposed (revoked before the target is
/// told), the named deployment in the middle of the queue leads at a higher term, the
/// observer hears exactly one new leader, and the history checks as exclusive leadership.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handoff_to_a_deployment_in_the_middle_of_the_queue() {
    use ballot_core::command::{Command, Outcome};
    let recorder = Recorder::new();
    let rt = runtime(recorder.clone());
    rt.deploy(observer("obs")).await.unwrap();
    rt.deploy(candidate("a", None)).await.unwrap();
    wait_for(&rt, "a", acked).await;
    rt.deploy(candidate("b", None)).await.unwrap();
    let c = rt.deploy(candidate("c", None)).await.unwrap();
    wait_for(&rt, "c", lost).await;
    let heard_before = count(&rt, "obs", |e| {
        matches!(e, TimelineEvent::Callback(Delivered::NewLeader { .. }))
    });
    let old_term = ballot_core::election::read_leader(&rt.state(), &election())
        .unwrap()
        .term;

    let to = rt.candidate_of(c).unwrap();
    let handed = rt
        .propose(Command::HandOff {
            election: election(),
            to: Some(to),
            drain: false,
            from: None,
        })
        .await
        .unwrap();
    assert_eq!(handed, Ok(Outcome::HandedOff(to)));
    wait_for(&rt, "c", won).await;
    wait_for(&rt, "c", acked).await;
    // a is deposed. Its timeline line is written when its actor retires, which may come
    // after c's win is noted; the order that matters (a's fence thrown before c is told)
    // is the history's, checked at the end.
    wait_for(&rt, "a", deposed).await;
    let leader = ballot_core::election::read_leader(&rt.state(), &election()).unwrap();
    assert!(leader.term > old_term);
    assert_eq!(leader.data.as_bytes(), b"c:5432");
    wait_for(&rt, "obs", |e| {
        matches!(e, TimelineEvent::Callback(Delivered::NewLeader { term }) if *term == leader.term.0)
    })
    .await;
    assert_eq!(
        count(&rt, "obs", |e| matches!(
            e,
            TimelineEvent::Callback(Delivered::NewLeader { .. })
        )),
        heard_before + 1,
        "one change heard: {:#?}",
        lines(&rt)
    );
    assert_leadership_linearizable(&recorder);
    super::support::assert_revoked_before_promoted(&recorder.history());
}

/// An example candidate of a priority election (the example election), standing with
/// `level`.
fn ranked(name: &str, level: i64, preempt: bool) -> ballot_runtime::DeploySpec {
    let mut spec = candidate(name, None);
    if let ballot_runtime::Role::Candidate { priority, .. } = &mut spec.role {
        *priority = Some(ballot_core::election::Priority { level, preempt });
    }
    spec
}

/// The priority election: low, high and medium join in that order; high takes
/// over from low by preemption (low revoked first, the history saying why); medium
/// waits. Then a candidate above everyone that does not preempt waits until the leader
/// is undeployed, and only then leads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_priority_election_preempts_through_a_handoff_unless_told_not_to() {
    let recorder = Recorder::new();
    let rt = runtime(recorder.clone());
    rt.deploy(ranked("low", 1, true)).await.unwrap();
    wait_for(&rt, "low", acked).await;
    let low_term = ballot_core::election::read_leader(&rt.state(), &election())
        .unwrap()
        .term;
    let high = rt.deploy(ranked("high", 9, true)).await.unwrap();
    wait_for(&rt, "high", acked).await;
    wait_for(&rt, "low", deposed).await;
    let leader = ballot_core::election::read_leader(&rt.state(), &election()).unwrap();
    assert_eq!(leader.data.as_bytes(), b"high:5432");
    assert!(leader.term > low_term);

    let medium = rt.deploy(ranked("medium", 5, true)).await.unwrap();
    wait_for(&rt, "medium", lost).await;
    // low's deposed instance stands again in a fresh one, behind medium.
    wait_for(&rt, "low", lost).await;
    assert_eq!(
        ballot_core::election::read_leader(&rt.state(), &election())
            .unwrap()
            .data
            .as_bytes(),
        b"high:5432",
        "medium does not outrank high"
    );

    rt.undeploy(high).await.unwrap();
    wait_for(&rt, "medium", acked).await;
    rt.deploy(ranked("top", 20, false)).await.unwrap();
    wait_for(&rt, "top", lost).await;
    assert_eq!(
        count(&rt, "medium", |e| matches!(e, TimelineEvent::Deposed(_))),
        0,
        "top does not preempt: {:#?}",
        lines(&rt)
    );
    rt.undeploy(medium).await.unwrap();
    wait_for(&rt, "top", acked).await;

    assert_revoked_because(&recorder, "low", "preempt");
    assert_leadership_linearizable(&recorder);
    super::support::assert_revoked_before_promoted(&recorder.history());
}

/// A leader component hands its leadership to a named deployment through the
/// `hand-off` import: it is revoked in the step that makes the handoff (its write under
/// the old term right after is refused and changes nothing), the named one leads under a
/// higher term, and the history records the handoff as the cause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_component_hands_off_through_its_import() {
    use ballot_core::command::Command;
    use ballot_core::namespace::{CreateMode, Data, Lifetime, Op};
    let recorder = Recorder::new();
    let rt = runtime(recorder.clone());
    let mut spec = candidate("a", Some(Duration::from_millis(20)));
    spec.wasm = wasm(ballot_artifacts::FIXTURE_HAND_OFF).into();
    rt.deploy(spec).await.unwrap();
    wait_for(&rt, "a", acked).await;
    rt.deploy(candidate("b", None)).await.unwrap();
    let c = rt.deploy(candidate("c", None)).await.unwrap();
    wait_for(&rt, "c", lost).await;
    let old_term = ballot_core::election::read_leader(&rt.state(), &election())
        .unwrap()
        .term;

    let create = |path: &str, data: String| Op::Create {
        path: NodePath::parse(path).unwrap(),
        data: Data::from(data),
        mode: CreateMode {
            lifetime: Lifetime::Persistent,
            sequential: false,
        },
    };
    let ask = Command::Multi {
        guard: None,
        ops: vec![
            create("/handoff", String::new()),
            create("/handoff/to", c.0.to_string()),
        ],
        quota: None,
    };
    rt.propose(ask).await.unwrap().unwrap();
    wait_for(&rt, "c", acked).await;
    wait_for(&rt, "a", deposed).await;
    let leader = ballot_core::election::read_leader(&rt.state(), &election()).unwrap();
    assert_eq!(
        leader.data.as_bytes(),
        b"c:5432",
        "c, not b, the next in line"
    );
    assert!(leader.term > old_term);
    assert!(
        rt.state()
            .exists(&NodePath::parse("/handoff/after").unwrap())
            .is_none(),
        "the old leader's write after its hand-off changed nothing"
    );
    assert_revoked_because(&recorder, "a", "handoff");
    assert_leadership_linearizable(&recorder);
    super::support::assert_revoked_before_promoted(&recorder.history());
}

/// Compiled components kept on disk: a runtime with a fresh memory cache (a restarted
/// host) loads instead of compiling; an altered entry and an entry another engine
/// configuration wrote are both detected, deleted and compiled again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiled_components_on_disk_survive_a_restart_and_bad_entries_are_recompiled() {
    use ballot_runtime::{DiskCache, Loaded, new_engine_without_epochs};
    use sha2::{Digest as _, Sha256};

    let dir = tempfile::tempdir().unwrap();
    let disk = || DiskCache::open(dir.path().join("compiled")).unwrap();
    let bytes = wasm(ballot_artifacts::EXAMPLE_CANDIDATE);
    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    let engine = super::support::engine();
    let entry = disk().entry_path(&engine, &digest);

    // Each "start" is a runtime with a memory cache of its own on the shared folder.
    let start = |cache: &ComponentCache| {
        Runtime::with_component_cache(engine.clone(), sim_store(), Recorder::off(), cache.clone())
            .unwrap()
    };
    let deploy_once = |cache: ComponentCache| async move {
        let rt = start(&cache);
        rt.deploy(candidate("a", None)).await.unwrap();
        wait_for(&rt, "a", acked).await;
        (
            cache.compiled(),
            cache.loaded_from_disk(),
            cache.discarded_from_disk(),
        )
    };

    let first = deploy_once(ComponentCache::default().with_disk(disk())).await;
    assert_eq!(first, (1, 0, 0), "compiled, and kept");
    assert!(entry.is_file());
    let restarted = deploy_once(ComponentCache::default().with_disk(disk())).await;
    assert_eq!(restarted, (0, 1, 0), "loaded, not compiled");

    // A flipped byte: detected by the checksum before wasmtime reads it.
    let mut altered = std::fs::read(&entry).unwrap();
    let middle = altered.len() / 2;
    altered[middle] ^= 0x40;
    std::fs::write(&entry, &altered).unwrap();
    let after_damage = deploy_once(ComponentCache::default().with_disk(disk())).await;
    assert_eq!(after_damage, (1, 0, 1), "discarded and compiled again");
    assert!(matches!(disk().load(&engine, &digest), Loaded::Hit(_)));

    // An entry compiled by an engine configured otherwise, put under this engine's name
    // with a valid checksum: wasmtime refuses it, and it is compiled again.
    let other = new_engine_without_epochs().unwrap();
    let foreign = wasmtime::component::Component::new(&other, &bytes).unwrap();
    disk().save(&other, &digest, &foreign).unwrap();
    let foreign_entry = disk().entry_path(&other, &digest);
    assert_ne!(foreign_entry, entry, "entries are kept apart by engine");
    std::fs::rename(&foreign_entry, &entry).unwrap();
    let after_foreign = deploy_once(ComponentCache::default().with_disk(disk())).await;
    assert_eq!(
        after_foreign,
        (1, 0, 1),
        "refused by wasmtime, compiled again"
    );
    assert!(matches!(disk().load(&engine, &digest), Loaded::Hit(_)));
}
