//! The seed's scenarios, replayed against the host's election. A tiny "runtime" here plays
//! the components: it acks every win, as a candidate whose on-winning-election returns ok.

use std::time::Duration;

use super::*;
use crate::namespace::{Limits, OpResult};

const TTL: Duration = Duration::from_secs(10);

fn t(secs: u64) -> MonoTime {
    MonoTime(secs * 1_000_000_000)
}

fn e(name: &str) -> ElectionName {
    ElectionName::parse(name).unwrap()
}

/// Drives the elections and delivers notifications like a runtime would, acking wins.
struct Runtime {
    el: Elections,
    log: Vec<(Recipient, Callback)>,
    auto_ack: bool,
}

impl Runtime {
    fn new() -> Self {
        Runtime {
            el: Elections::new(Namespace::new(Limits::default())),
            log: Vec::new(),
            auto_ack: true,
        }
    }

    fn candidate(&mut self, election: &str, data: &str) -> CandidateId {
        let session = self.el.open_session(TTL, t(0)).unwrap();
        self.el.join(&e(election), session, Data::from(data), false)
    }

    /// A candidate of a priority election.
    fn ranked(&mut self, election: &str, data: &str, level: i64, preempt: bool) -> CandidateId {
        let session = self.el.open_session(TTL, t(0)).unwrap();
        let priority = Priority { level, preempt };
        self.el
            .join_with(
                &e(election),
                session,
                Data::from(data),
                false,
                Some(priority),
            )
            .unwrap()
    }

    /// The candidates holding ballots, lowest first.
    fn queue(&self, election: &str) -> Vec<CandidateId> {
        self.el.queue(&e(election))
    }

    fn deliver(&mut self, effects: Effects) {
        for n in effects.notifications {
            self.log.push((n.to, n.callback.clone()));
            if let (Recipient::Candidate(id), Callback::WinningElection { term }, true) =
                (n.to, &n.callback, self.auto_ack)
            {
                let more = self.el.acknowledge(id, *term, None).unwrap();
                self.deliver(more);
            }
        }
    }

    fn vote(&mut self, id: CandidateId) {
        let effects = self.el.vote(id).unwrap();
        self.deliver(effects);
    }

    fn kill(&mut self, id: CandidateId) {
        let session = self.el.session_of(id).unwrap();
        let effects = self.el.close_session(session).unwrap();
        self.deliver(effects);
    }

    /// Deletes the candidate's ballot behind its back, as an operator (or a bug) would;
    /// the effects are returned undelivered.
    fn delete_ballot(&mut self, id: CandidateId) -> (Committed, Effects) {
        let ballot = self.el.ballot(id).expect("has a ballot").clone();
        let delete = Op::Delete {
            path: ballot,
            expected: None,
        };
        self.el.multi_as_host(None, &[delete]).unwrap()
    }

    fn take_log(&mut self) -> Vec<(Recipient, Callback)> {
        std::mem::take(&mut self.log)
    }
}

fn cand(id: CandidateId) -> Recipient {
    Recipient::Candidate(id)
}

fn leader(rt: &Runtime, id: CandidateId, data: &str) -> Leader {
    Leader {
        candidate: id,
        term: rt.el.leading_term(id).expect("leads"),
        data: Data::from(data),
    }
}

#[test]
fn leader_dies_next_lowest_wins_and_losers_hear_only_after_the_ack() {
    let mut rt = Runtime::new();
    let (obs, fx) = rt.el.observe(&e("db"));
    assert!(fx.is_empty());
    let a = rt.candidate("db", "a:1");
    let b = rt.candidate("db", "b:2");
    let c = rt.candidate("db", "c:3");
    rt.vote(a);
    let la = leader(&rt, a, "a:1");
    assert_eq!(
        rt.take_log(),
        [
            (cand(a), Callback::WinningElection { term: la.term }),
            (
                Recipient::Observer(obs),
                Callback::NewLeader { leader: la.clone() }
            ),
        ]
    );
    rt.vote(b);
    rt.vote(c);
    assert_eq!(
        rt.take_log(),
        [
            (cand(b), Callback::LosingElection { leader: la.clone() }),
            (cand(c), Callback::LosingElection { leader: la.clone() }),
        ]
    );
    assert_eq!(rt.el.predecessor(c), rt.el.ballot(b));

    let watch_events = rt.el.stats().ballot_watch_events;
    rt.kill(a);
    let lb = leader(&rt, b, "b:2");
    assert!(lb.term > la.term, "terms increase");
    assert_eq!(
        rt.take_log(),
        [
            (
                cand(a),
                Callback::Deposed {
                    term: la.term,
                    cause: Cause::Lost
                }
            ),
            (
                Recipient::Observer(obs),
                Callback::LeadersDeath { term: la.term }
            ),
            (cand(b), Callback::WinningElection { term: lb.term }),
            (
                Recipient::Observer(obs),
                Callback::NewLeader { leader: lb.clone() }
            ),
        ],
        "c is not woken, and is not told it lost a second time"
    );
    assert_eq!(rt.el.stats().ballot_watch_events, watch_events + 1);
    assert_eq!(rt.el.leader(&e("db")), Some(lb));
}

#[test]
fn losers_wait_for_an_ack_even_across_a_leader_that_never_acked() {
    let mut rt = Runtime::new();
    rt.auto_ack = false;
    let a = rt.candidate("db", "a");
    let b = rt.candidate("db", "b");
    let c = rt.candidate("db", "c");
    for id in [a, b, c] {
        rt.vote(id);
    }
    let ta = rt.el.leading_term(a).unwrap();
    assert_eq!(
        rt.take_log(),
        [(cand(a), Callback::WinningElection { term: ta })]
    );
    rt.kill(a); // dies before acking
    let tb = rt.el.leading_term(b).unwrap();
    assert_eq!(
        rt.take_log(),
        [
            (
                cand(a),
                Callback::Deposed {
                    term: ta,
                    cause: Cause::Lost
                }
            ),
            (cand(b), Callback::WinningElection { term: tb }),
        ]
    );
    let fx = rt
        .el
        .acknowledge(b, tb, Some(Data::from("b-ready")))
        .unwrap();
    rt.deliver(fx);
    let lb = Leader {
        candidate: b,
        term: tb,
        data: Data::from("b-ready"),
    };
    assert_eq!(
        rt.take_log(),
        [(cand(c), Callback::LosingElection { leader: lb })]
    );
}

#[test]
fn a_middle_candidate_dying_only_moves_its_successors_watch() {
    let mut rt = Runtime::new();
    let (_obs, _) = rt.el.observe(&e("db"));
    let [a, b, c] = ["a", "b", "c"].map(|d| rt.candidate("db", d));
    for id in [a, b, c] {
        rt.vote(id);
    }
    rt.take_log();
    let before = rt.el.stats().ballot_watch_events;
    rt.kill(b);
    assert_eq!(rt.take_log(), [], "nobody is told anything");
    assert_eq!(
        rt.el.stats().ballot_watch_events,
        before + 1,
        "only c was woken"
    );
    assert_eq!(rt.el.predecessor(c), rt.el.ballot(a), "c now watches a");
    assert!(rt.el.leading_term(a).is_some());
}

#[test]
fn observers_see_new_leader_with_ack_data_and_deaths_in_order() {
    let mut rt = Runtime::new();
    let [a, b] = ["10.0.0.1:5432", "10.0.0.2:5432"].map(|d| rt.candidate("pg", d));
    rt.vote(a);
    rt.vote(b);
    // An observer that arrives late is told the current leader at once.
    let (obs, fx) = rt.el.observe(&e("pg"));
    rt.deliver(fx);
    rt.kill(a);
    rt.kill(b);
    let seen: Vec<String> = rt
        .take_log()
        .into_iter()
        .filter(|(to, _)| *to == Recipient::Observer(obs))
        .map(|(_, cb)| match cb {
            Callback::NewLeader { leader } => format!("new {:?}", leader.data),
            Callback::LeadersDeath { term } => format!("death {term}"),
            other => panic!("observers get no {other:?}"),
        })
        .collect();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(seen[0], "new \"10.0.0.1:5432\"");
    assert!(seen[1].starts_with("death "));
    assert_eq!(seen[2], "new \"10.0.0.2:5432\"");
    assert!(seen[3].starts_with("death "));
    assert_eq!(rt.el.leader(&e("pg")), None);
}

#[test]
fn resign_hands_over_without_deposing_and_can_vote_again() {
    let mut rt = Runtime::new();
    let (obs, _) = rt.el.observe(&e("db"));
    let [a, b] = ["a", "b"].map(|d| rt.candidate("db", d));
    rt.vote(a);
    rt.vote(b);
    let ta = rt.el.leading_term(a).unwrap();
    rt.take_log();
    let fx = rt.el.resign(a).unwrap();
    rt.deliver(fx);
    let tb = rt.el.leading_term(b).unwrap();
    assert_eq!(
        rt.take_log(),
        [
            (
                Recipient::Observer(obs),
                Callback::LeadersDeath { term: ta }
            ),
            (cand(b), Callback::WinningElection { term: tb }),
            (
                Recipient::Observer(obs),
                Callback::NewLeader {
                    leader: leader(&rt, b, "b")
                }
            ),
        ]
    );
    assert_eq!(rt.el.ballot(a), None);
    rt.vote(a);
    assert_eq!(
        rt.take_log(),
        [(
            cand(a),
            Callback::LosingElection {
                leader: leader(&rt, b, "b")
            }
        )],
        "a new vote is told it lost, once"
    );
}

#[test]
fn session_expiry_removes_every_ephemeral_in_one_step() {
    let mut rt = Runtime::new();
    let s = rt.el.open_session(TTL, t(0)).unwrap();
    let other = rt.el.open_session(Duration::from_secs(100), t(0)).unwrap();
    let x = rt.el.join(&e("x"), s, Data::from("s-x"), false);
    let y = rt.el.join(&e("y"), s, Data::from("s-y"), false);
    let x2 = rt.el.join(&e("x"), other, Data::from("o-x"), false);
    for id in [x, y, x2] {
        rt.vote(id);
    }
    rt.take_log();
    let before = rt.el.namespace().revision();
    rt.el.heartbeat(s, t(5)).unwrap();
    let (expired, fx) = rt.el.tick(t(14));
    assert!(
        expired.is_empty() && fx.is_empty(),
        "the heartbeat extended it"
    );
    let (expired, fx) = rt.el.tick(t(15));
    assert_eq!(expired, [s]);
    rt.deliver(fx);
    let ns = rt.el.namespace();
    assert_eq!(
        ns.revision().0,
        before.0 + 2,
        "one step for the expiry, one for x2's ack"
    );
    assert!(ns.state().session(s).is_none());
    assert_eq!(
        ns.children(&e("y").paths().ballots).unwrap(),
        Vec::<String>::new()
    );
    assert!(rt.el.leading_term(x2).is_some());
    assert_eq!(rt.el.leader(&e("x")).unwrap().candidate, x2);
}

/// Found by the simulator (seed 3): `tick` applies every expiry before absorbing the
/// first, so the candidate woken by the first expiry may have lost its ballot to the
/// second. It used to panic ("an owned ballot exists"); the third candidate must win.
#[test]
fn two_sessions_expiring_in_one_tick_wake_no_vanished_ballot() {
    let mut rt = Runtime::new();
    let a = rt.candidate("x", "a");
    let b = rt.candidate("x", "b");
    let late = rt.el.open_session(Duration::from_secs(100), t(0)).unwrap();
    let c = rt.el.join(&e("x"), late, Data::from("c"), false);
    for id in [a, b, c] {
        rt.vote(id);
    }
    rt.take_log();
    let (expired, fx) = rt.el.tick(t(11));
    assert_eq!(expired.len(), 2);
    rt.deliver(fx);
    assert!(rt.el.leading_term(c).is_some());
    assert_eq!(rt.el.leader(&e("x")).unwrap().candidate, c);
    assert!(rt.el.ballot(b).is_none());
}

#[test]
fn followers_hear_every_new_leader() {
    let mut rt = Runtime::new();
    let s = rt.el.open_session(TTL, t(0)).unwrap();
    let a = rt.candidate("db", "a");
    let f = rt.el.join(&e("db"), s, Data::from("f"), true);
    rt.vote(a);
    rt.vote(f);
    let la = leader(&rt, a, "a");
    let log = rt.take_log();
    assert!(log.contains(&(cand(f), Callback::NewLeader { leader: la.clone() })));
    assert!(log.contains(&(cand(f), Callback::LosingElection { leader: la })));
    rt.kill(a);
    // f now leads itself: no NewLeader about itself.
    let log = rt.take_log();
    assert!(
        log.iter()
            .all(|(to, cb)| !(*to == cand(f) && matches!(cb, Callback::NewLeader { .. })))
    );
}

#[test]
fn a_stale_term_is_fenced_and_nothing_is_applied() {
    let mut rt = Runtime::new();
    let [a, b] = ["a", "b"].map(|d| rt.candidate("db", d));
    rt.vote(a);
    rt.vote(b);
    let ta = rt.el.leading_term(a).unwrap();
    let sa = rt.el.session_of(a).unwrap();
    let write = [Op::Create {
        path: NodePath::parse("/out").unwrap(),
        data: Data::from("x"),
        mode: CreateMode::PERSISTENT,
    }];
    let guard = Elections::term_guard(&e("db"), sa, ta);
    rt.el.multi(Some(&guard), &write).unwrap();

    let fx = rt.el.resign(a).unwrap();
    rt.deliver(fx);
    let tb = rt.el.leading_term(b).unwrap();
    let before = rt.el.namespace().state().encode();
    let write2 = [Op::Set {
        path: NodePath::parse("/out").unwrap(),
        data: Data::from("stale"),
        expected: None,
    }];
    let err = rt.el.multi(Some(&guard), &write2).unwrap_err();
    assert_eq!(err.error, Error::NotLeader { current: Some(tb) });
    assert_eq!(rt.el.namespace().state().encode(), before);
    // The deposed leader's ack is fenced the same way.
    let err = rt.el.acknowledge(a, ta, None).unwrap_err();
    assert_eq!(
        err,
        ElectionError::Namespace(Error::NotLeader { current: Some(tb) })
    );
}

#[test]
fn a_repeated_ack_is_idempotent_and_new_data_updates_it() {
    let mut rt = Runtime::new();
    let (obs, _) = rt.el.observe(&e("db"));
    let a = rt.candidate("db", "a");
    rt.vote(a);
    let ta = rt.el.leading_term(a).unwrap();
    rt.take_log();
    let revision = rt.el.namespace().revision();
    assert!(rt.el.acknowledge(a, ta, None).unwrap().is_empty());
    assert_eq!(rt.el.namespace().revision(), revision, "nothing written");
    let fx = rt.el.acknowledge(a, ta, Some(Data::from("v2"))).unwrap();
    rt.deliver(fx);
    let updated = Leader {
        candidate: a,
        term: ta,
        data: Data::from("v2"),
    };
    assert_eq!(
        rt.take_log(),
        [(
            Recipient::Observer(obs),
            Callback::NewLeader { leader: updated }
        )]
    );
}

#[test]
fn refused_votes_change_nothing() {
    let mut rt = Runtime::new();
    let a = rt.candidate("db", "a");
    rt.vote(a);
    assert_eq!(rt.el.vote(a), Err(ElectionError::AlreadyVoted(a)));
    let s = rt.el.open_session(TTL, t(0)).unwrap();
    let late = rt.el.join(&e("other"), s, Data::from("z"), false);
    rt.el.expire_sessions(&[s]);
    let before = rt.el.namespace().state().encode();
    let err = rt.el.vote(late).unwrap_err();
    assert_eq!(
        err,
        ElectionError::Namespace(Error::SessionExpired { session: s })
    );
    assert_eq!(
        rt.el.namespace().state().encode(),
        before,
        "no folders either"
    );
    assert!(ElectionName::parse("a/b").is_err());
    assert!(ElectionName::parse("").is_err());
    assert!(ElectionName::parse("..").is_err());
}

#[test]
fn a_ballot_deleted_by_hand_deposes_its_leader_before_the_successor_hears() {
    let mut rt = Runtime::new();
    let [a, b] = ["a", "b"].map(|d| rt.candidate("db", d));
    rt.vote(a);
    rt.vote(b);
    let ta = rt.el.leading_term(a).unwrap();
    rt.take_log();
    let (committed, fx) = rt.delete_ballot(a);
    assert_eq!(committed.results, [OpResult::Deleted]);
    let first = &fx.notifications[0];
    assert_eq!(
        (first.to, &first.callback),
        (
            cand(a),
            &Callback::Deposed {
                term: ta,
                cause: Cause::Lost
            }
        )
    );
    rt.deliver(fx);
    assert!(rt.el.leading_term(b).is_some());
    assert_eq!(rt.el.leading_term(a), None);
}

/// The ack is an ephemeral node: a successor that acked over its deposed predecessor's
/// ack must own it, or the predecessor's session closing later would take the new
/// leader's ack with it (a false death, and later voters waiting for an ack forever).
#[test]
fn a_deposed_leaders_session_closing_after_the_successors_ack_leaves_that_ack() {
    let mut rt = Runtime::new();
    let (obs, _) = rt.el.observe(&e("db"));
    let [a, b] = ["a", "b"].map(|d| rt.candidate("db", d));
    rt.vote(a);
    rt.vote(b);
    let la = leader(&rt, a, "a");
    rt.take_log();
    let (_, fx) = rt.delete_ballot(a);
    rt.deliver(fx); // a deposed; b wins and acks while a's session still lives
    let lb = leader(&rt, b, "b");
    let ack = e("db").paths().ack;
    let owner = rt.el.namespace().exists(&ack).unwrap().ephemeral_owner;
    assert_eq!(owner, rt.el.session_of(b), "the new leader owns its ack");
    rt.kill(a);
    assert_eq!(rt.el.leader(&e("db")), Some(lb.clone()), "b's ack survives");
    let c = rt.candidate("db", "c");
    rt.vote(c);
    let log = rt.take_log();
    assert!(
        log.contains(&(cand(c), Callback::LosingElection { leader: lb.clone() })),
        "a later voter hears of b at once: {log:?}"
    );
    let observed: Vec<Callback> = log
        .into_iter()
        .filter(|(to, _)| *to == Recipient::Observer(obs))
        .map(|(_, cb)| cb)
        .collect();
    assert_eq!(
        observed,
        [
            Callback::LeadersDeath { term: la.term },
            Callback::NewLeader { leader: lb.clone() },
        ],
        "a's death once, before b; never a death of b"
    );
    rt.kill(b);
    assert!(rt.el.leading_term(c).is_some(), "c is next");
}

/// A handoff to a candidate in the middle of the queue: the leader is deposed before
/// anyone else hears, the target wins at a term above the leader's, the candidates it
/// jumped go to the back in their order, and an observer hears one change of leader.
#[test]
fn a_handoff_to_a_middle_candidate_deposes_the_leader_and_jumps_the_queue() {
    let mut rt = Runtime::new();
    let [a, b, c, d] = ["a", "b", "c", "d"].map(|data| rt.candidate("db", data));
    for id in [a, b, c, d] {
        rt.vote(id);
    }
    let (_, observed) = rt.el.observe(&e("db"));
    rt.deliver(observed);
    let ta = rt.el.leading_term(a).unwrap();
    rt.take_log();

    let (leader, fx) = rt.el.hand_off(&e("db"), Some(c), Cause::HandOff).unwrap();
    assert_eq!(leader, c);
    let deposed = fx
        .notifications
        .iter()
        .position(|n| {
            n.callback
                == Callback::Deposed {
                    term: ta,
                    cause: Cause::HandOff,
                }
        })
        .expect("the leader is deposed");
    let won = fx
        .notifications
        .iter()
        .position(|n| n.to == cand(c) && matches!(n.callback, Callback::WinningElection { .. }))
        .expect("the target wins");
    assert!(
        deposed < won,
        "deposed before the win: {:?}",
        fx.notifications
    );
    rt.deliver(fx);
    let tc = rt.el.leading_term(c).expect("c leads");
    assert!(tc > ta, "the new term {tc:?} is above the old {ta:?}");
    assert_eq!(rt.el.leader(&e("db")).map(|l| l.candidate), Some(c));
    // b, jumped, votes again behind d; d still waits; a has no ballot (its instance is
    // revoked and stands again as a fresh one).
    assert_eq!(rt.queue("db"), [c, d, b]);
    let log = rt.take_log();
    let new_leaders = log
        .iter()
        .filter(|(to, callback)| {
            matches!(to, Recipient::Observer(_)) && matches!(callback, Callback::NewLeader { .. })
        })
        .count();
    assert_eq!(new_leaders, 1, "observers hear one change: {log:?}");
    assert!(
        !log.iter()
            .any(|(to, callback)| *to == cand(b)
                && matches!(callback, Callback::LosingElection { .. })),
        "b, only moved back, is not told it lost again: {log:?}"
    );
}

/// A handoff with nowhere to go is refused and changes nothing.
#[test]
fn a_handoff_that_cannot_be_made_is_refused_and_changes_nothing() {
    let mut rt = Runtime::new();
    let [a, b] = ["a", "b"].map(|data| rt.candidate("db", data));
    let outsider = rt.candidate("other", "x");
    assert!(matches!(
        rt.el.hand_off(&e("db"), None, Cause::HandOff),
        Err(ElectionError::Handoff { .. })
    ));
    rt.vote(a);
    let before = rt.el.namespace().state().encode();
    for to in [
        None,
        Some(a),
        Some(b),
        Some(outsider),
        Some(CandidateId(999)),
    ] {
        let refused = rt.el.hand_off(&e("db"), to, Cause::HandOff);
        assert!(
            matches!(&refused, Err(ElectionError::Handoff { reason, .. }) if !reason.is_empty()),
            "{to:?}: {refused:?}"
        );
        assert_eq!(
            rt.el.namespace().state().encode(),
            before,
            "{to:?} changed the state"
        );
    }
    rt.vote(b);
    let (leader, fx) = rt.el.hand_off(&e("db"), None, Cause::HandOff).unwrap();
    rt.deliver(fx);
    assert_eq!(leader, b, "without a target, the next in line");
    assert_eq!(rt.el.leader(&e("db")).map(|l| l.candidate), Some(b));
}

mod priorities;
