//! Apply decides every refusal, for every caller, and is a function of the elections and
//! the stamped commands alone.

use std::time::Duration;

use super::*;
use crate::election::Callback;
use crate::namespace::{CreateMode, Limits, Namespace, Revision};

const TTL: Duration = Duration::from_secs(10);

fn t(ms: u64) -> MonoTime {
    MonoTime(ms * 1_000_000)
}

fn e(name: &str) -> ElectionName {
    ElectionName::parse(name).unwrap()
}

fn path(raw: &str) -> NodePath {
    NodePath::parse(raw).unwrap()
}

fn fresh() -> Elections {
    Elections::new(Namespace::new(Limits::default()))
}

fn create(raw: &str, mode: CreateMode) -> Op {
    Op::Create {
        path: path(raw),
        data: Data::from("x"),
        mode,
    }
}

fn applied(el: &mut Elections, command: Command, at: MonoTime) -> Outcome {
    let (outcome, _) = apply(el, &command, at);
    outcome.unwrap_or_else(|refusal| panic!("{} refused: {refusal}", command.kind()))
}

fn enter(el: &mut Elections, election: &str, data: &str, at: MonoTime) -> (SessionId, CandidateId) {
    let role = Entrant::Candidate {
        election: e(election),
        data: Data::from(data),
        follow_leader: false,
        name: None,
        priority: None,
    };
    match applied(el, Command::Enter { ttl: TTL, role }, at) {
        Outcome::Entered {
            session,
            recipient: Recipient::Candidate(id),
            vote_refused: None,
            ..
        } => (session, id),
        other => panic!("entered as {other:?}"),
    }
}

#[test]
fn writes_into_the_kept_subtrees_are_refused_by_apply_whatever_the_command() {
    let mut el = fresh();
    let (session, _) = enter(&mut el, "db", "a", t(0));
    let before = el.namespace().snapshot().encode();
    let forged_ack = create("/elections/db/ack", CreateMode::ephemeral(session));
    let lease = create("/electors/jobs/lease/x", CreateMode::PERSISTENT);
    applied(
        &mut el,
        Command::ResetElector {
            elector: e("jobs"),
            duration: TTL,
            peer: "p".into(),
        },
        t(1),
    );
    let before_commit = el.namespace().snapshot().encode();
    let refused = [
        Command::Multi {
            guard: None,
            ops: vec![forged_ack.clone()],
            quota: None,
        },
        Command::Commit {
            elector: e("jobs"),
            peer: "p".into(),
            term: None,
            reads: ReadSet::default(),
            ops: vec![lease],
        },
    ];
    for command in refused {
        let (outcome, effects) = apply(&mut el, &command, t(2));
        assert!(
            matches!(
                outcome,
                Err(Refusal::Namespace(Error::HostKept { .. }))
                    | Err(Refusal::Multi(MultiError {
                        error: Error::HostKept { .. },
                        ..
                    }))
            ),
            "{}: {outcome:?}",
            command.kind()
        );
        assert!(effects.is_empty());
    }
    assert_ne!(before, before_commit, "the reset itself wrote the elector");
    assert_eq!(el.namespace().snapshot().encode(), before_commit);
    // Elections::multi, the in-memory entry point, keeps the same rule.
    assert!(el.multi(None, &[forged_ack]).is_err());
}

#[test]
fn a_deployment_enters_its_election_in_one_step() {
    let mut el = fresh();
    let role = Entrant::Candidate {
        election: e("db"),
        data: Data::from("a"),
        follow_leader: false,
        name: None,
        priority: None,
    };
    let revision = el.namespace().revision();
    let (outcome, effects) = apply(&mut el, &Command::Enter { ttl: TTL, role }, t(0));
    let Ok(Outcome::Entered {
        session,
        recipient,
        vote_refused: None,
        ..
    }) = outcome
    else {
        panic!("{outcome:?}");
    };
    assert!(el.namespace().state().session(session).is_some());
    let won: Vec<_> = effects
        .notifications
        .iter()
        .filter(|n| n.to == recipient && matches!(n.callback, Callback::WinningElection { .. }))
        .collect();
    assert_eq!(won.len(), 1, "{effects:?}");
    assert!(el.namespace().revision() > revision);
}

#[test]
fn the_same_stamped_commands_reach_the_same_state_byte_for_byte() {
    let script = |el: &mut Elections| {
        let mut outcomes = Vec::new();
        let (a, first) = enter(el, "db", "a", t(0));
        let (_, second) = enter(el, "db", "b", t(1));
        let mut run = |el: &mut Elections, command: Command, at| {
            outcomes.push(apply(el, &command, at).0);
        };
        run(
            el,
            Command::Acknowledge {
                candidate: first,
                term: None,
                data: None,
            },
            t(2),
        );
        run(
            el,
            Command::Multi {
                guard: None,
                ops: vec![create("/jobs", CreateMode::PERSISTENT)],
                quota: None,
            },
            t(3),
        );
        run(el, Command::Resign { candidate: first }, t(4));
        run(
            el,
            Command::Acknowledge {
                candidate: second,
                term: None,
                data: Some(Data::from("b2")),
            },
            t(5),
        );
        run(
            el,
            Command::ResetElector {
                elector: e("jobs"),
                duration: TTL,
                peer: "p".into(),
            },
            t(6),
        );
        run(
            el,
            Command::Commit {
                elector: e("jobs"),
                peer: "p".into(),
                term: None,
                reads: ReadSet::default(),
                ops: vec![create("/jobs/1", CreateMode::PERSISTENT)],
            },
            t(7),
        );
        run(el, Command::CloseSession { session: a }, t(8));
        // The owner's clock, a minute on: every session still open is overdue, and the
        // command names them.
        let sessions = el.namespace().overdue(t(60_000));
        run(el, Command::ExpireSessions { sessions }, t(60_000));
        outcomes
    };
    let (mut one, mut two) = (fresh(), fresh());
    let (first, second) = (script(&mut one), script(&mut two));
    assert_eq!(first, second);
    assert_eq!(
        one.namespace().snapshot().encode(),
        two.namespace().snapshot().encode()
    );
    // Everything still open expired at the last stamp, a minute on.
    assert!(matches!(first.last(), Some(Ok(Outcome::Ended(ended))) if !ended.is_empty()));
    assert_eq!(one.namespace().state().sessions().count(), 0);
}

#[test]
fn commands_survive_cbor_and_damaged_bytes_are_refused() {
    let commands = vec![
        Command::OpenSession { ttl: TTL },
        Command::Heartbeat {
            session: SessionId(3),
        },
        Command::CloseSessions {
            sessions: vec![SessionId(1), SessionId(2)],
        },
        Command::ExpireSessions {
            sessions: vec![SessionId(4)],
        },
        Command::Multi {
            guard: Some(Elections::term_guard(&e("db"), SessionId(1), Revision(4))),
            ops: vec![create("/a", CreateMode::PERSISTENT)],
            quota: Some(EphemeralQuota {
                session: SessionId(1),
                most: 8,
            }),
        },
        Command::Watch {
            watcher: WatcherId(2),
            path: path("/a"),
            kind: WatchKind::Data,
            most: 4,
        },
        Command::Enter {
            ttl: TTL,
            role: Entrant::Observer { election: e("db") },
        },
        Command::Stand {
            election: e("db"),
            session: SessionId(1),
            data: Data::from("d"),
            priority: None,
        },
        Command::Acknowledge {
            candidate: CandidateId(1),
            term: Some(Revision(9)),
            data: None,
        },
        Command::Retire {
            recipient: Recipient::Candidate(CandidateId(1)),
            watcher: WatcherId(1),
            session: SessionId(1),
        },
        Command::Commit {
            elector: e("jobs"),
            peer: "p".into(),
            term: Some(Revision(2)),
            reads: ReadSet::default(),
            ops: vec![],
        },
    ];
    for command in commands {
        let bytes = command.encode();
        assert_eq!(Command::decode(&bytes).unwrap(), command);
        assert!(
            Command::decode(&bytes[..bytes.len() - 1]).is_err(),
            "{}",
            command.kind()
        );
    }
}

#[test]
fn a_refused_command_changes_nothing_and_causes_nothing() {
    let mut el = fresh();
    let (session, candidate) = enter(&mut el, "db", "a", t(0));
    let before = el.namespace().snapshot().encode();
    let refusals = [
        Command::Vote {
            candidate,
            data: None,
        },
        Command::Stand {
            election: e("db"),
            session: SessionId(99),
            data: Data::from("x"),
            priority: None,
        },
        Command::Heartbeat {
            session: SessionId(99),
        },
        Command::Watch {
            watcher: WatcherId(1),
            path: path("/a"),
            kind: WatchKind::Data,
            most: 0,
        },
        Command::Multi {
            guard: None,
            ops: vec![
                create("/e1", CreateMode::ephemeral(session)),
                create("/e2", CreateMode::ephemeral(session)),
            ],
            quota: Some(EphemeralQuota { session, most: 2 }),
        },
        Command::HoldLease {
            elector: e("nobody"),
            peer: "p".into(),
        },
    ];
    for command in refusals {
        let (outcome, effects) = apply(&mut el, &command, t(1));
        assert!(outcome.is_err(), "{}: {outcome:?}", command.kind());
        assert!(effects.is_empty(), "{}", command.kind());
        assert_eq!(
            el.namespace().snapshot().encode(),
            before,
            "{}",
            command.kind()
        );
    }
}

#[test]
fn a_refused_vote_keeps_the_ballot_data_it_had() {
    let mut el = fresh();
    let (session, candidate) = enter(&mut el, "db", "a", t(0));
    let vote = Command::Vote {
        candidate,
        data: Some(Data::from("b")),
    };
    assert!(matches!(
        apply(&mut el, &vote, t(1)).0,
        Err(Refusal::Election(ElectionError::AlreadyVoted(_)))
    ));
    applied(&mut el, Command::Resign { candidate }, t(2));
    applied(
        &mut el,
        Command::Vote {
            candidate,
            data: None,
        },
        t(3),
    );
    let ballot = el.ballot(candidate).expect("voted again").clone();
    let (data, stat) = el.namespace().get(&ballot).unwrap();
    assert_eq!(data, Data::from("a"));
    assert_eq!(stat.ephemeral_owner, Some(session));
}

#[test]
fn a_commit_whose_reads_changed_is_stale_and_a_retire_reports_the_term_it_gave_up() {
    let mut el = fresh();
    applied(
        &mut el,
        Command::Multi {
            guard: None,
            ops: vec![create("/k", CreateMode::PERSISTENT)],
            quota: None,
        },
        t(0),
    );
    applied(
        &mut el,
        Command::ResetElector {
            elector: e("jobs"),
            duration: TTL,
            peer: "p".into(),
        },
        t(0),
    );
    let mut snapshot = crate::commit::Snapshot::new(el.namespace().snapshot());
    let _ = snapshot.get(&path("/k"));
    let reads = snapshot.into_reads();
    let set = Op::Set {
        path: path("/k"),
        data: Data::from("y"),
        expected: None,
    };
    applied(
        &mut el,
        Command::Multi {
            guard: None,
            ops: vec![set.clone()],
            quota: None,
        },
        t(1),
    );
    let command = Command::Commit {
        elector: e("jobs"),
        peer: "p".into(),
        term: None,
        reads,
        ops: vec![set],
    };
    assert_eq!(
        apply(&mut el, &command, t(2)).0,
        Err(Refusal::Stale(path("/k")))
    );

    let (session, candidate) = enter(&mut el, "db", "a", t(3));
    let term = el.leading_term(candidate);
    assert!(term.is_some());
    let retire = Command::Retire {
        recipient: Recipient::Candidate(candidate),
        watcher: WatcherId(0),
        session,
    };
    assert_eq!(
        applied(&mut el, retire, t(4)),
        Outcome::Retired { left_term: term }
    );
    assert!(el.namespace().state().session(session).is_none());
}

/// Time decides nothing in apply: a session whose TTL has long run out on the stamps is
/// open (it writes, it stands) until an expiry names it, and an expiry ends exactly the
/// sessions it names, whatever the stamp.
#[test]
fn only_an_expiry_that_names_a_session_ends_it() {
    let mut el = fresh();
    let Outcome::Opened(a) = applied(&mut el, Command::OpenSession { ttl: TTL }, t(0)) else {
        panic!("opened")
    };
    let Outcome::Opened(b) = applied(&mut el, Command::OpenSession { ttl: TTL }, t(0)) else {
        panic!("opened")
    };
    // An hour of stamps later, both are overdue on the owner's clock, and still open.
    let late = t(3_600_000);
    assert_eq!(el.namespace().overdue(late), [a, b]);
    let write = Command::Multi {
        guard: None,
        ops: vec![create("/still", CreateMode::ephemeral(a))],
        quota: None,
    };
    applied(&mut el, write, late);
    // The owner names only b: a stays, with its node.
    let ended = applied(&mut el, Command::ExpireSessions { sessions: vec![b] }, late);
    assert!(matches!(ended, Outcome::Ended(ref ended) if ended == &[b]));
    assert!(el.namespace().is_open(a) && !el.namespace().is_open(b));
    assert!(el.namespace().exists(&path("/still")).is_some());
    // Naming it again ends nothing, and the log need not keep such an expiry.
    let again = Command::ExpireSessions { sessions: vec![b] };
    let (outcome, _) = apply(&mut el, &again, late);
    assert!(matches!(outcome, Ok(Outcome::Ended(ref ended)) if ended.is_empty()));
    assert!(!again.is_logged(&outcome));
    // A heartbeat moves only the owner's deadline: the log does not keep it.
    let beat = Command::Heartbeat { session: a };
    let (outcome, _) = apply(&mut el, &beat, late);
    assert!(outcome.is_ok() && !beat.is_logged(&outcome));
    assert!(el.namespace().overdue(late).is_empty());
}

#[test]
fn a_snapshot_for_other_hosts_drops_the_callers_watches_and_keeps_the_elections() {
    let mut el = fresh();
    let (first, _) = enter(&mut el, "jobs", "a", t(0));
    let (_, second) = enter(&mut el, "jobs", "b", t(1));
    // A caller's own watch, as a component registers on its host.
    let watcher = el.new_watcher();
    applied(
        &mut el,
        Command::Watch {
            watcher,
            path: path("/elections"),
            kind: WatchKind::Children,
            most: 10,
        },
        t(2),
    );
    let before = el.namespace().watch_count();
    assert!(before > 1, "the election's own watches are there too");
    let mut shipped = el.clone();
    shipped.drop_caller_watches();
    assert_eq!(shipped.namespace().watches_of(watcher), 0);
    assert_eq!(shipped.namespace().watch_count(), before - 1);
    // The elections still work on the copy: the leader's session ends, the next ballot
    // is told it won, as on the original.
    for replica in [&mut el, &mut shipped] {
        let (_, effects) = apply(
            replica,
            &Command::CloseSessions {
                sessions: vec![first],
            },
            t(3),
        );
        let won = effects.notifications.iter().any(|n| {
            n.to == Recipient::Candidate(second)
                && matches!(n.callback, Callback::WinningElection { .. })
        });
        assert!(won, "{effects:?}");
    }
    assert_eq!(
        el.namespace().state().encode(),
        shipped.namespace().state().encode()
    );
}

/// A leader's own handoff (`from`) is refused unless it leads the election at that step,
/// so a candidate cannot give away a leadership it does not hold; an entrant asking for a
/// priority in a queue election is refused before its session opens.
#[test]
fn a_handoff_from_a_non_leader_and_a_mismatched_priority_are_refused_and_change_nothing() {
    let mut el = fresh();
    let (_, a) = enter(&mut el, "db", "a", t(0));
    let (_, b) = enter(&mut el, "db", "b", t(0));
    let (_, other) = enter(&mut el, "other", "o", t(0));
    let before = el.encode();
    for from in [b, other] {
        let command = Command::HandOff {
            election: e("db"),
            to: None,
            drain: false,
            from: Some(from),
        };
        let (refused, effects) = apply(&mut el, &command, t(1));
        assert!(
            matches!(refused, Err(Refusal::Namespace(Error::NotLeader { .. }))),
            "{from}: {refused:?}"
        );
        assert!(effects.is_empty());
        assert_eq!(el.encode(), before);
    }
    let entrant = Entrant::Candidate {
        election: e("db"),
        data: Data::from("ranked"),
        follow_leader: false,
        name: None,
        priority: Some(crate::election::Priority::default()),
    };
    let (refused, _) = apply(
        &mut el,
        &Command::Enter {
            ttl: TTL,
            role: entrant,
        },
        t(1),
    );
    assert!(
        matches!(
            refused,
            Err(Refusal::Election(ElectionError::Policy { .. }))
        ),
        "{refused:?}"
    );
    assert_eq!(
        el.encode(),
        before,
        "no session opened for a refused entrant"
    );
    let handed = applied(
        &mut el,
        Command::HandOff {
            election: e("db"),
            to: None,
            drain: false,
            from: Some(a),
        },
        t(2),
    );
    assert_eq!(handed, Outcome::HandedOff(b));
}

#[test]
fn a_commit_that_would_win_the_lease_but_is_refused_changes_nothing() {
    let mut el = fresh();
    applied(
        &mut el,
        Command::ResetElector {
            elector: e("jobs"),
            duration: TTL,
            peer: "p".into(),
        },
        t(1),
    );
    let before = el.namespace().snapshot().encode();
    let holder_before = el.lease_holder(&e("jobs"), t(2)).map(|h| h.term);
    // The lease is free, so holding it would win it; but the set names no node.
    let command = Command::Commit {
        elector: e("jobs"),
        peer: "p".into(),
        term: None,
        reads: ReadSet::default(),
        ops: vec![Op::Set {
            path: path("/nowhere"),
            data: Data::from("x"),
            expected: None,
        }],
    };
    let (outcome, effects) = apply(&mut el, &command, t(2));
    assert!(outcome.is_err(), "{outcome:?}");
    assert!(!command.is_logged(&outcome));
    assert_eq!(effects, Effects::default());
    assert_eq!(
        el.lease_holder(&e("jobs"), t(2)).map(|h| h.term),
        holder_before
    );
    assert_eq!(el.namespace().snapshot().encode(), before);
}
