//! A caller's hook that panics costs its own answer, never the process, and never leaves
//! a caller waiting for ever. A panic inside the writer's step (where the head may be half
//! changed) halts the store, fail-closed: what the open batch held is not written, every
//! change after it is refused with the reason, and a restart starts from what was durable.
//! A panic in a durable hook, once the batch is settled, is logged and the store goes on.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use ballot_core::command::Command;
use ballot_core::namespace::{CreateMode, Data, NodePath, Op};
use ballot_store::StoreError;
use ballot_store::clock::SystemClock;
use ballot_store::embedded::{EmbeddedStore, Hooks, Options};

fn create(path: &str) -> Command {
    Command::Multi {
        guard: None,
        ops: vec![Op::Create {
            path: NodePath::parse(path).expect("a path"),
            data: Data::from("x"),
            mode: CreateMode::PERSISTENT,
        }],
        quota: None,
    }
}

fn open(dir: &Path) -> EmbeddedStore {
    EmbeddedStore::open(dir, Arc::new(SystemClock::new()), Options::default()).expect("open")
}

/// Proposes `command` with `hooks` and waits (at most a generous minute) for the answer:
/// `Err(Closed)` when the writer dropped the reply.
fn propose(store: &EmbeddedStore, command: Command, hooks: Hooks) -> Result<(), StoreError> {
    let (tx, rx) = mpsc::sync_channel(1);
    store.submit(command, hooks, move |outcome| {
        let _ = tx.send(outcome);
    })?;
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(Ok(_))) => Ok(()),
        Ok(Ok(Err(refused))) => panic!("refused: {refused}"),
        Ok(Err(failure)) => Err(StoreError::Failed(failure)),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(StoreError::Closed),
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("no answer within a minute"),
    }
}

fn exists(store: &EmbeddedStore, path: &str) -> bool {
    let path = NodePath::parse(path).expect("a path");
    store.published().get(&path).is_ok()
}

#[test]
fn a_panic_in_the_writers_step_halts_the_store_and_answers_everyone() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = open(dir.path());
    propose(&store, create("/kept"), Hooks::default()).expect("a plain commit");

    let panicking = Hooks {
        applied: Some(Box::new(|_| panic!("a bug in a caller's hook"))),
        ..Hooks::default()
    };
    let answer = propose(&store, create("/lost"), panicking);
    assert!(answer.is_err(), "the panicking proposal was acknowledged");
    let halted = common::why_halted(&store);
    assert!(halted.contains("a bug in a caller's hook"), "{halted}");

    // Every later change hears why, at once; nothing after the panic became visible.
    match propose(&store, create("/after"), Hooks::default()) {
        Err(StoreError::Failed(why)) => assert!(why.contains("panicked"), "{why}"),
        other => panic!("a change after the halt was answered {other:?}"),
    }
    assert!(exists(&store, "/kept"));
    assert!(!exists(&store, "/lost"));
    assert!(!exists(&store, "/after"));

    drop(store);
    let store = open(dir.path());
    assert!(exists(&store, "/kept"));
    assert!(
        !exists(&store, "/lost"),
        "an unacknowledged change survived the restart"
    );
    propose(&store, create("/again"), Hooks::default()).expect("a restart takes changes");
}

#[test]
fn a_panic_in_a_durable_hook_costs_only_its_own_answer() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = open(dir.path());
    let panicking = Hooks {
        durable: Some(Box::new(|_| panic!("a bug in a durable hook"))),
        ..Hooks::default()
    };
    // Its batch is durable before the hook runs, so the change stands; only the answer
    // is lost with the panic.
    assert!(matches!(
        propose(&store, create("/durable"), panicking),
        Err(StoreError::Closed)
    ));
    assert!(store.halted().is_none());
    propose(&store, create("/next"), Hooks::default()).expect("the store goes on");
    assert!(exists(&store, "/durable"));
    assert!(exists(&store, "/next"));
}
