//! Unit tests of the namespace core. Property tests over random operation sequences live in
//! `crates/server/tests/all/namespace_props.rs`.

use std::time::Duration;

use super::*;

const TTL: Duration = Duration::from_secs(10);

fn p(raw: &str) -> NodePath {
    NodePath::parse(raw).unwrap()
}

fn t(secs: u64) -> MonoTime {
    MonoTime(secs * 1_000_000_000)
}

fn mk(ns: &mut Namespace, raw: &str) -> NodePath {
    ns.create(&p(raw), Data::from(raw), CreateMode::PERSISTENT)
        .unwrap()
        .0
}

#[test]
fn create_get_set_delete_track_versions_and_revisions() {
    let mut ns = Namespace::default();
    let a = mk(&mut ns, "/a");
    assert_eq!(ns.revision(), Revision(1));
    let (data, stat) = ns.get(&a).unwrap();
    assert_eq!(data.as_bytes(), b"/a");
    assert_eq!(
        (stat.data_version, stat.created, stat.modified),
        (0, Revision(1), Revision(1))
    );

    ns.set(&a, Data::from("x"), Some(0)).unwrap();
    let stat = ns.exists(&a).unwrap();
    assert_eq!(
        (stat.data_version, stat.created, stat.modified),
        (1, Revision(1), Revision(2))
    );

    let err = ns.set(&a, Data::from("y"), Some(0)).unwrap_err();
    assert_eq!(
        err,
        Error::BadVersion {
            path: "/a".into(),
            expected: 0,
            actual: 1
        }
    );
    assert_eq!(
        ns.revision(),
        Revision(2),
        "a refused set takes no revision"
    );

    mk(&mut ns, "/a/b");
    assert_eq!(ns.exists(&a).unwrap().children_version, 1);
    assert!(matches!(ns.delete(&a, None), Err(Error::NotEmpty { .. })));
    ns.delete(&p("/a/b"), None).unwrap();
    ns.delete(&a, Some(1)).unwrap();
    assert!(ns.exists(&a).is_none());
    assert!(matches!(ns.get(&a), Err(Error::NoNode { .. })));
}

#[test]
fn creates_need_a_parent_and_a_free_name() {
    let mut ns = Namespace::default();
    let err = ns
        .create(&p("/x/y"), Data::default(), CreateMode::PERSISTENT)
        .unwrap_err();
    assert_eq!(err, Error::NoNode { path: "/x".into() });
    mk(&mut ns, "/x");
    let err = ns
        .create(&p("/x"), Data::default(), CreateMode::PERSISTENT)
        .unwrap_err();
    assert_eq!(err, Error::NodeExists { path: "/x".into() });
    assert!(matches!(
        ns.create(&NodePath::root(), Data::default(), CreateMode::PERSISTENT),
        Err(Error::NodeExists { .. })
    ));
    assert!(matches!(
        ns.delete(&NodePath::root(), None),
        Err(Error::Invalid { .. })
    ));
}

#[test]
fn data_over_the_limit_is_refused() {
    let mut ns = Namespace::new(Limits { max_data: 4 });
    let err = ns
        .create(&p("/a"), Data::from("12345"), CreateMode::PERSISTENT)
        .unwrap_err();
    assert_eq!(err, Error::TooLarge { size: 5, limit: 4 });
    ns.create(&p("/a"), Data::from("1234"), CreateMode::PERSISTENT)
        .unwrap();
}

#[test]
fn sequential_names_are_ten_digit_and_per_parent() {
    let mut ns = Namespace::default();
    mk(&mut ns, "/q");
    mk(&mut ns, "/r");
    let seq = CreateMode {
        lifetime: Lifetime::Persistent,
        sequential: true,
    };
    let names: Vec<String> = (0..3)
        .map(|_| {
            ns.create(&p("/q/n-"), Data::default(), seq)
                .unwrap()
                .0
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        ["/q/n-0000000000", "/q/n-0000000001", "/q/n-0000000002"]
    );
    // A delete does not make a number come back; another parent counts on its own.
    ns.delete(&p("/q/n-0000000002"), None).unwrap();
    let again = ns.create(&p("/q/n-"), Data::default(), seq).unwrap().0;
    assert_eq!(again.as_str(), "/q/n-0000000003");
    let other = ns.create(&p("/r/n-"), Data::default(), seq).unwrap().0;
    assert_eq!(other.as_str(), "/r/n-0000000000");
}

#[test]
fn ephemerals_belong_to_live_sessions_and_go_with_them_in_one_step() {
    let mut ns = Namespace::default();
    mk(&mut ns, "/e");
    let s = ns.open_session(TTL, t(0)).unwrap();
    for name in ["/e/a", "/e/b", "/e/c"] {
        ns.create(&p(name), Data::default(), CreateMode::ephemeral(s))
            .unwrap();
    }
    let err = ns
        .create(&p("/e/a/child"), Data::default(), CreateMode::PERSISTENT)
        .unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");

    let before = ns.revision();
    let committed = ns.close_session(s).unwrap();
    assert_eq!(committed.revision, Revision(before.0 + 1), "one step");
    assert_eq!(ns.children(&p("/e")).unwrap(), Vec::<String>::new());
    assert!(ns.state().session(s).is_none());
    let err = ns
        .create(&p("/e/d"), Data::default(), CreateMode::ephemeral(s))
        .unwrap_err();
    assert_eq!(err, Error::SessionExpired { session: s });
}

#[test]
fn sessions_are_overdue_on_the_owners_clock_and_end_only_when_expired() {
    let mut ns = Namespace::default();
    let a = ns.open_session(TTL, t(0)).unwrap();
    let b = ns.open_session(TTL, t(0)).unwrap();
    assert!(b > a, "ids increase");
    ns.create(&p("/a"), Data::default(), CreateMode::ephemeral(a))
        .unwrap();
    ns.heartbeat(b, t(9)).unwrap();
    assert!(ns.overdue(t(9)).is_empty());
    // At exactly the deadline the owner sees the session overdue; it stays open (and
    // usable) until the owner's expiry names it: time decides nothing by itself.
    assert_eq!(ns.overdue(t(10)), [a]);
    assert!(ns.is_open(a));
    let expired = ns.expire_sessions(&ns.overdue(t(10)));
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].0, a);
    assert!(!ns.is_open(a));
    assert!(ns.exists(&p("/a")).is_none());
    assert_eq!(
        ns.heartbeat(a, t(11)),
        Err(Error::SessionExpired { session: a })
    );
    // Expiring a session again, or one never opened, ends nothing.
    assert!(ns.expire_sessions(&[a, SessionId(99)]).is_empty());
    assert!(ns.overdue(t(18)).is_empty());
    assert_eq!(
        ns.expire_sessions(&ns.overdue(t(19)))
            .into_iter()
            .map(|e| e.0)
            .collect::<Vec<_>>(),
        [b]
    );
    let c = ns.open_session(TTL, t(20)).unwrap();
    assert!(c > b, "ids are never reused");
    assert!(matches!(
        ns.open_session(Duration::ZERO, t(0)),
        Err(Error::Invalid { .. })
    ));
}

#[test]
fn multi_is_all_or_nothing() {
    let mut ns = Namespace::default();
    mk(&mut ns, "/m");
    let before = ns.state().encode();
    let watcher = ns.new_watcher();
    ns.watch(watcher, &p("/m"), WatchKind::Children).unwrap();
    let ops = [
        Op::Create {
            path: p("/m/a"),
            data: Data::default(),
            mode: CreateMode::PERSISTENT,
        },
        Op::Set {
            path: p("/m"),
            data: Data::from("new"),
            expected: None,
        },
        Op::Check {
            path: p("/m"),
            expected: Some(7),
        },
    ];
    let err = ns.multi(None, &ops).unwrap_err();
    assert_eq!(err.index, Some(2));
    assert!(matches!(err.error, Error::BadVersion { .. }));
    assert_eq!(ns.state().encode(), before, "nothing applied");
    assert_eq!(ns.watch_count(), 1, "no watch consumed");

    let ok = ns.multi(None, &ops[..2]).unwrap();
    assert_eq!(ok.revision, Revision(2), "one revision for the whole multi");
    assert_eq!(ok.results.len(), 2);
    assert_eq!(ok.events.len(), 1);
    assert_eq!(ns.exists(&p("/m/a")).unwrap().created, Revision(2));
    assert_eq!(ns.exists(&p("/m")).unwrap().modified, Revision(2));
}

#[test]
fn one_shot_watches_fire_once_in_revision_order() {
    let mut ns = Namespace::default();
    mk(&mut ns, "/w");
    let w = ns.new_watcher();
    ns.watch(w, &p("/w/x"), WatchKind::Exists).unwrap();
    ns.watch(w, &p("/w"), WatchKind::Children).unwrap();
    assert!(matches!(
        ns.watch(w, &p("/nope"), WatchKind::Data),
        Err(Error::NoNode { .. })
    ));

    let (x, created) = ns
        .create(&p("/w/x"), Data::default(), CreateMode::PERSISTENT)
        .unwrap();
    let kinds: Vec<_> = created
        .events
        .iter()
        .map(|e| (e.path.to_string(), e.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("/w/x".into(), EventKind::Created),
            ("/w".into(), EventKind::ChildrenChanged)
        ]
    );
    assert!(
        created
            .events
            .iter()
            .all(|e| e.revision == created.revision && e.watcher == w)
    );
    // Both watches were one-shot.
    assert!(ns.set(&x, Data::from("1"), None).unwrap().events.is_empty());

    ns.watch(w, &x, WatchKind::Data).unwrap();
    ns.watch(w, &x, WatchKind::Children).unwrap();
    let deleted = ns.delete(&x, None).unwrap();
    assert_eq!(
        deleted.events.len(),
        1,
        "one Deleted per watcher, not one per table"
    );
    assert_eq!(deleted.events[0].kind, EventKind::Deleted);
    assert_eq!(ns.watch_count(), 0);
}

#[test]
fn subtree_watches_persist_and_see_every_change_below() {
    let mut ns = Namespace::default();
    let w = ns.new_watcher();
    ns.watch(w, &p("/s"), WatchKind::Subtree).unwrap();
    mk(&mut ns, "/s");
    mk(&mut ns, "/s/a");
    mk(&mut ns, "/sibling");
    ns.set(&p("/s/a"), Data::from("v"), None).unwrap();
    let events = ns.delete(&p("/s/a"), None).unwrap().events;
    assert_eq!(events[0].kind, EventKind::Deleted);
    assert_eq!(ns.watch_count(), 1, "still registered");
    ns.unwatch(w);
    assert_eq!(ns.watch_count(), 0);
    assert!(ns.delete(&p("/s"), None).unwrap().events.is_empty());
}

#[test]
fn guard_checks_the_term_in_the_same_step() {
    let mut ns = Namespace::default();
    mk(&mut ns, "/b");
    let leader = ns.open_session(TTL, t(0)).unwrap();
    let other = ns.open_session(TTL, t(0)).unwrap();
    let (ballot, c) = ns
        .create(
            &p("/b/b-"),
            Data::default(),
            CreateMode::ephemeral_sequential(leader),
        )
        .unwrap();
    let term = c.revision;
    ns.create(
        &p("/b/b-"),
        Data::default(),
        CreateMode::ephemeral_sequential(other),
    )
    .unwrap();
    let write = [Op::Create {
        path: p("/out"),
        data: Data::default(),
        mode: CreateMode::PERSISTENT,
    }];
    let guard = |session, term| Guard::HoldsTerm {
        ballots: p("/b"),
        session,
        term,
    };
    let err = ns.multi(Some(&guard(other, term)), &write).unwrap_err();
    assert_eq!(
        err.error,
        Error::NotLeader {
            current: Some(term)
        }
    );
    assert_eq!(err.index, None);
    let err = ns
        .multi(Some(&guard(leader, Revision(term.0 + 100))), &write)
        .unwrap_err();
    assert_eq!(
        err.error,
        Error::NotLeader {
            current: Some(term)
        }
    );
    ns.multi(Some(&guard(leader, term)), &write).unwrap();

    // Deposed: its ballot is gone, so the next ballot leads with a later term.
    ns.delete(&ballot, None).unwrap();
    let err = ns.multi(Some(&guard(leader, term)), &write).unwrap_err();
    assert!(matches!(err.error, Error::NotLeader { current: Some(next) } if next > term));
    // A session that has expired (its owner named it) is refused as such.
    ns.expire_sessions(&[other]);
    let err = ns.multi(Some(&guard(other, term)), &write).unwrap_err();
    assert_eq!(err.error, Error::SessionExpired { session: other });
}

#[test]
fn snapshots_are_unaffected_by_later_writes_and_round_trip() {
    let mut ns = Namespace::default();
    mk(&mut ns, "/a");
    let snap = ns.snapshot();
    mk(&mut ns, "/b");
    ns.set(&p("/a"), Data::from("changed"), None).unwrap();
    assert!(snap.exists(&p("/b")).is_none());
    assert_eq!(snap.get(&p("/a")).unwrap().0.as_bytes(), b"/a");
    let decoded = State::decode(&ns.state().encode()).unwrap();
    assert_eq!(&decoded, ns.state());
    assert_eq!(decoded.encode(), ns.state().encode());
}

#[test]
fn first_child_and_predecessor_follow_name_order() {
    let mut ns = Namespace::default();
    mk(&mut ns, "/q");
    let s = ns.open_session(TTL, t(0)).unwrap();
    for _ in 0..3 {
        ns.create(
            &p("/q/b-"),
            Data::default(),
            CreateMode::ephemeral_sequential(s),
        )
        .unwrap();
    }
    let q = p("/q");
    assert_eq!(ns.state().first_child(&q), Some("b-0000000000"));
    assert_eq!(
        ns.state().child_before(&q, "b-0000000002"),
        Some("b-0000000001")
    );
    assert_eq!(ns.state().child_before(&q, "b-0000000000"), None);
}
