use std::time::Duration;

use super::*;
use crate::namespace::{CreateMode, Data};

const LEASE: Duration = Duration::from_secs(10);

fn t(ms: u64) -> MonoTime {
    MonoTime(0).after(Duration::from_millis(ms))
}

fn path(p: &str) -> NodePath {
    NodePath::parse(p).unwrap()
}

fn create(p: &str) -> Op {
    Op::Create {
        path: path(p),
        data: Data::from(b"x".to_vec()),
        mode: CreateMode::PERSISTENT,
    }
}

fn setup() -> (Elections, ElectionName) {
    let mut el = Elections::new(Namespace::new(Limits::default()));
    let name = ElectionName::parse("work").unwrap();
    for peer in ["a", "b"] {
        el.reset_elector(&name, LEASE, peer).unwrap();
    }
    (el, name)
}

#[test]
fn a_lapsed_masters_speculative_commit_is_refused_after_its_function_ran() {
    let (mut el, name) = setup();
    let first = guarded_commit(&mut el, &name, "a", t(0), &mut |_| Ok(vec![create("/one")]))
        .expect("a wins and commits");
    // a's lease lapses (its owner expires it at its deadline); b takes over.
    el.tick(t(10_000));
    let second =
        guarded_commit(&mut el, &name, "b", t(10_000), &mut |_| Ok(vec![])).expect("b wins");
    assert!(second.term > first.term);
    let mut ran = 0;
    let refused = speculative_commit(&mut el, &name, "a", first.term, &mut |_| {
        ran += 1;
        Ok(vec![create("/stale")])
    });
    assert_eq!(ran, 1, "the function ran");
    assert_eq!(
        refused.unwrap_err(),
        CommitError::NotLeader {
            current: Some(second.term)
        }
    );
    assert!(el.namespace().exists(&path("/stale")).is_none());
}

#[test]
fn a_lapsed_lease_with_nobody_else_is_refused_too() {
    let (mut el, name) = setup();
    let first = guarded_commit(&mut el, &name, "a", t(0), &mut |_| Ok(vec![])).unwrap();
    el.tick(t(10_000));
    let refused = speculative_commit(&mut el, &name, "a", first.term, &mut |_| {
        Ok(vec![create("/late")])
    });
    assert_eq!(
        refused.unwrap_err(),
        CommitError::NotLeader { current: None }
    );
    assert!(el.namespace().exists(&path("/late")).is_none());
}

#[test]
fn a_guarded_commit_during_anothers_lease_names_the_master_and_writes_nothing() {
    let (mut el, name) = setup();
    let a = guarded_commit(&mut el, &name, "a", t(0), &mut |_| Ok(vec![])).unwrap();
    let mut ran = false;
    let refused = guarded_commit(&mut el, &name, "b", t(1_000), &mut |_| {
        ran = true;
        Ok(vec![create("/b")])
    });
    assert!(!ran, "no election won, no function run");
    assert_eq!(
        refused.unwrap_err(),
        CommitError::NotLeader {
            current: Some(a.term)
        }
    );
}

#[test]
fn reads_that_changed_since_the_snapshot_are_a_conflict() {
    let (mut el, _) = setup();
    el.multi(None, &[create("/x"), create("/q")]).unwrap();
    let stale = |el: &mut Elections, read: &dyn Fn(&mut Snapshot), change: Op| {
        let mut snapshot = Snapshot::new(el.namespace().snapshot());
        read(&mut snapshot);
        el.multi(None, &[change]).unwrap();
        el.apply_checked(snapshot.reads(), None, &[create("/out")])
    };
    // A node read, then set.
    let set = Op::Set {
        path: path("/x"),
        data: Data::from(b"y".to_vec()),
        expected: None,
    };
    let seen = stale(&mut el, &|s| drop(s.get(&path("/x"))), set);
    assert_eq!(seen.unwrap_err(), Ok(path("/x")));
    // An absence read, then created: a phantom.
    let seen = stale(&mut el, &|s| drop(s.get(&path("/y"))), create("/y"));
    assert_eq!(seen.unwrap_err(), Ok(path("/y")));
    // A child list read, then a child created.
    let seen = stale(&mut el, &|s| drop(s.children(&path("/q"))), create("/q/c"));
    assert_eq!(seen.unwrap_err(), Ok(path("/q")));
    assert!(el.namespace().exists(&path("/out")).is_none());
    // Unchanged reads apply.
    let mut snapshot = Snapshot::new(el.namespace().snapshot());
    snapshot.get(&path("/x")).unwrap();
    el.apply_checked(snapshot.reads(), None, &[create("/out")])
        .expect("nothing it read changed");
}

#[test]
fn an_aborted_function_writes_nothing() {
    let (mut el, name) = setup();
    let before = el.namespace().state().encode();
    let aborted = guarded_commit(&mut el, &name, "a", t(0), &mut |_| Err("bad ops".into()));
    assert_eq!(
        aborted.unwrap_err(),
        CommitError::TxnAborted("bad ops".into())
    );
    // The election it won is a change; the function's ops are not.
    assert_ne!(el.namespace().state().encode(), before);
    assert!(el.namespace().exists(&path("/bad")).is_none());
}

#[test]
fn a_preview_returns_the_view_and_writes_nothing() {
    let (el, _) = setup();
    let before = el.namespace().state().encode();
    let preview = preview(el.namespace().snapshot(), Limits::default(), &mut |s| {
        assert!(s.get(&path("/p")).is_err());
        Ok(vec![create("/p")])
    })
    .unwrap();
    assert!(preview.view.exists(&path("/p")).is_some());
    assert_eq!(preview.ops.len(), 1);
    assert_eq!(el.namespace().state().encode(), before);
}

#[test]
fn a_not_leader_refusal_names_the_term_in_words() {
    let refused = CommitError::NotLeader {
        current: Some(crate::namespace::Revision(8)),
    };
    assert_eq!(refused.to_string(), "not the leader: the current term is 8");
    let refused = CommitError::NotLeader { current: None };
    assert_eq!(
        refused.to_string(),
        "not the leader: the election has no leader"
    );
}
