//! The conformance suites (openraft's pattern): each check gets a fresh backend from a
//! builder and asserts one requirement of a contract.
//!
//! - this file: every [`Store`] (the namespace's view of the seam); the embedded store runs
//!   it in `crates/server/tests/all/store.rs`;
//! - [`log`]: every [`crate::Log`] beneath apply; the write-ahead log runs it on the real
//!   and the simulated file system in `crates/store/tests/log_conformance.rs`, and the
//!   etcd log will run the same function.

pub mod log;

use std::time::Duration;

use crate::clock::ManualClock;
use ballot_core::namespace::{
    CreateMode, Data, Error, Guard, NodePath, Op, OpResult, Revision, SessionId,
};

use super::{Store, StoreError};

/// Builds a fresh, empty store whose sessions expire on the given clock.
pub trait Builder {
    /// The backend under test.
    type Store: Store;
    /// A fresh store, reading time from `clock`.
    fn build(&self, clock: ManualClock) -> Self::Store;
}

/// One named check of the suite.
type Check<S> = (&'static str, fn(&S, &ManualClock));

/// Runs every check, panicking with the check's name on the first failure.
pub fn run_all<B: Builder>(builder: &B) {
    let checks: [Check<B::Store>; 7] = [
        (
            "acknowledged writes are read back",
            acknowledged_writes_are_read_back,
        ),
        (
            "a refused multi changes nothing",
            a_refused_multi_changes_nothing,
        ),
        (
            "session ids increase and closing deletes ephemerals at once",
            sessions_and_ephemerals,
        ),
        (
            "sessions expire only when their TTL runs out",
            sessions_expire_on_the_clock,
        ),
        (
            "sequence numbers increase per parent",
            sequence_numbers_increase,
        ),
        ("a stale term is refused", a_stale_term_is_refused),
        (
            "expected versions are enforced",
            expected_versions_are_enforced,
        ),
    ];
    for (name, check) in checks {
        let clock = ManualClock::new();
        let store = builder.build(clock.clone());
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&store, &clock)));
        if let Err(panic) = outcome {
            eprintln!("conformance check failed: {name}");
            std::panic::resume_unwind(panic);
        }
    }
}

fn p(raw: &str) -> NodePath {
    NodePath::parse(raw).expect("valid test path")
}

fn create(path: &str, data: &str, mode: CreateMode) -> Op {
    Op::Create {
        path: p(path),
        data: Data::from(data),
        mode,
    }
}

fn created_path(result: &OpResult) -> NodePath {
    match result {
        OpResult::Created { path, .. } => path.clone(),
        other => panic!("expected a create, got {other:?}"),
    }
}

fn acknowledged_writes_are_read_back(store: &impl Store, _: &ManualClock) {
    let before = store.read().revision();
    let committed = store
        .multi(None, vec![create("/a", "1", CreateMode::PERSISTENT)])
        .expect("create /a");
    assert!(committed.revision > before);
    let state = store.read();
    assert_eq!(state.revision(), committed.revision);
    assert_eq!(state.get(&p("/a")).expect("read back").0.as_bytes(), b"1");
}

fn a_refused_multi_changes_nothing(store: &impl Store, _: &ManualClock) {
    store
        .multi(None, vec![create("/x", "", CreateMode::PERSISTENT)])
        .expect("create /x");
    let before = store.read().encode();
    let err = store
        .multi(
            None,
            vec![
                create("/x/1", "", CreateMode::PERSISTENT),
                create("/missing/2", "", CreateMode::PERSISTENT),
            ],
        )
        .expect_err("the second op has no parent");
    let StoreError::MultiRefused(failed) = err else {
        panic!("expected a refused multi, got {err:?}")
    };
    assert_eq!(failed.index, Some(1));
    assert_eq!(store.read().encode(), before);
}

fn sessions_and_ephemerals(store: &impl Store, _: &ManualClock) {
    let ttl = Duration::from_secs(10);
    let a = store.open_session(ttl).expect("open");
    let b = store.open_session(ttl).expect("open");
    assert!(b > a);
    store
        .multi(None, vec![create("/e", "", CreateMode::PERSISTENT)])
        .expect("folder");
    store
        .multi(
            None,
            vec![
                create("/e/1", "", CreateMode::ephemeral(a)),
                create("/e/2", "", CreateMode::ephemeral(a)),
            ],
        )
        .expect("ephemerals");
    let before = store.read().revision();
    let revision = store.close_session(a).expect("close");
    assert_eq!(revision, Revision(before.0 + 1), "one step");
    assert!(store.read().children(&p("/e")).expect("folder").is_empty());
    assert_eq!(
        store.heartbeat(a),
        Err(StoreError::Refused(Error::SessionExpired { session: a }))
    );
    let c = store.open_session(ttl).expect("open");
    assert!(c > b, "ids are never reused");
}

fn sessions_expire_on_the_clock(store: &impl Store, clock: &ManualClock) {
    let s = store.open_session(Duration::from_secs(5)).expect("open");
    store
        .multi(None, vec![create("/eph", "", CreateMode::ephemeral(s))])
        .expect("ephemeral");
    clock.advance(Duration::from_secs(4));
    store.heartbeat(s).expect("still live");
    clock.advance(Duration::from_secs(4));
    assert_eq!(
        store.expire_sessions().expect("sweep"),
        Vec::<SessionId>::new()
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(store.expire_sessions().expect("sweep"), [s]);
    assert!(store.read().exists(&p("/eph")).is_none());
}

fn sequence_numbers_increase(store: &impl Store, _: &ManualClock) {
    store
        .multi(None, vec![create("/q", "", CreateMode::PERSISTENT)])
        .expect("folder");
    let seq = CreateMode {
        lifetime: ballot_core::namespace::Lifetime::Persistent,
        sequential: true,
    };
    let names: Vec<String> = (0..3)
        .map(|_| {
            let c = store
                .multi(None, vec![create("/q/n-", "", seq)])
                .expect("create");
            created_path(&c.results[0]).name().to_string()
        })
        .collect();
    assert_eq!(names, ["n-0000000000", "n-0000000001", "n-0000000002"]);
}

fn a_stale_term_is_refused(store: &impl Store, _: &ManualClock) {
    let ttl = Duration::from_secs(30);
    let (a, b) = (
        store.open_session(ttl).expect("a"),
        store.open_session(ttl).expect("b"),
    );
    store
        .multi(
            None,
            vec![
                create("/el", "", CreateMode::PERSISTENT),
                create("/el/ballots", "", CreateMode::PERSISTENT),
            ],
        )
        .expect("folders");
    let ballot = |s| {
        let c = store
            .multi(
                None,
                vec![create(
                    "/el/ballots/b-",
                    "",
                    CreateMode::ephemeral_sequential(s),
                )],
            )
            .expect("ballot");
        (created_path(&c.results[0]), c.revision)
    };
    let (first, term_a) = ballot(a);
    let (_, term_b) = ballot(b);
    let guard = |session, term| Guard::HoldsTerm {
        ballots: p("/el/ballots"),
        session,
        term,
    };
    store
        .multi(
            Some(guard(a, term_a)),
            vec![create("/w1", "", CreateMode::PERSISTENT)],
        )
        .expect("the leader writes");
    store
        .multi(
            None,
            vec![Op::Delete {
                path: first,
                expected: None,
            }],
        )
        .expect("depose a");
    let before = store.read().encode();
    let err = store
        .multi(
            Some(guard(a, term_a)),
            vec![create("/w2", "", CreateMode::PERSISTENT)],
        )
        .expect_err("stale term");
    let StoreError::MultiRefused(failed) = err else {
        panic!("expected a refusal, got {err:?}")
    };
    assert_eq!(
        failed.error,
        Error::NotLeader {
            current: Some(term_b)
        }
    );
    assert_eq!(store.read().encode(), before);
}

fn expected_versions_are_enforced(store: &impl Store, _: &ManualClock) {
    store
        .multi(None, vec![create("/v", "0", CreateMode::PERSISTENT)])
        .expect("create");
    let set = |expected| Op::Set {
        path: p("/v"),
        data: Data::from("next"),
        expected: Some(expected),
    };
    store.multi(None, vec![set(0)]).expect("version 0 matches");
    assert!(matches!(
        store.multi(None, vec![set(0)]),
        Err(StoreError::MultiRefused(f)) if matches!(f.error, Error::BadVersion { expected: 0, actual: 1, .. })
    ));
}
