//! Priority elections: the highest priority leads, a higher one preempts through a
//! handoff, and the queue stays in priority order.

use super::*;

/// The issue's scenario: low, high and medium join in that order. High takes over from
/// low by preemption (low deposed first, as in a handoff, under a higher term); medium
/// waits; when high goes, medium leads.
#[test]
fn a_higher_priority_preempts_the_leader_and_a_lower_one_waits() {
    let mut rt = Runtime::new();
    let (_, observed) = rt.el.observe(&e("jobs"));
    rt.deliver(observed);
    let low = rt.ranked("jobs", "low", 1, true);
    rt.vote(low);
    let t_low = rt.el.leading_term(low).expect("low leads alone");
    rt.take_log();

    let high = rt.ranked("jobs", "high", 9, true);
    let fx = rt.el.vote(high).unwrap();
    let deposed = fx
        .notifications
        .iter()
        .position(|n| {
            n.to == cand(low)
                && n.callback
                    == Callback::Deposed {
                        term: t_low,
                        cause: Cause::Preempted,
                    }
        })
        .expect("low is deposed, by preemption");
    let won = fx
        .notifications
        .iter()
        .position(|n| n.to == cand(high) && matches!(n.callback, Callback::WinningElection { .. }))
        .expect("high wins");
    assert!(
        deposed < won,
        "revoked before promoted: {:?}",
        fx.notifications
    );
    assert_eq!(fx.deposed.len(), 1);
    assert_eq!(fx.deposed[0].cause, Cause::Preempted);
    rt.deliver(fx);
    let t_high = rt.el.leading_term(high).expect("high leads");
    assert!(t_high > t_low);
    assert_eq!(rt.el.leader(&e("jobs")).map(|l| l.candidate), Some(high));
    let changes = rt
        .take_log()
        .into_iter()
        .filter(|(to, cb)| {
            matches!(to, Recipient::Observer(_)) && matches!(cb, Callback::NewLeader { .. })
        })
        .count();
    assert_eq!(changes, 1, "observers hear one change");

    let medium = rt.ranked("jobs", "medium", 5, true);
    rt.vote(medium);
    assert_eq!(
        rt.el.leading_term(high),
        Some(t_high),
        "medium does not outrank high"
    );
    rt.vote(low); // low's instance stands again, behind medium
    assert_eq!(rt.queue("jobs"), [high, medium, low]);
    rt.kill(high);
    assert!(
        rt.el.leading_term(medium).is_some(),
        "medium, the highest left, leads"
    );
}

/// `preempt: false`: the higher candidate waits at the head of the line until the leader
/// goes.
#[test]
fn without_preemption_the_leader_keeps_it_until_it_goes() {
    let mut rt = Runtime::new();
    let low = rt.ranked("jobs", "low", 1, true);
    rt.vote(low);
    let high = rt.ranked("jobs", "high", 9, false);
    rt.vote(high);
    let medium = rt.ranked("jobs", "medium", 5, false);
    rt.vote(medium);
    assert!(rt.el.leading_term(low).is_some(), "low keeps it");
    assert_eq!(rt.queue("jobs"), [low, high, medium]);
    rt.kill(low);
    assert!(rt.el.leading_term(high).is_some(), "then high leads");
}

/// Waiting candidates are kept highest first, equal priorities in the order they voted,
/// and one that was already told it lost is not told again when it is moved back.
#[test]
fn the_waiting_line_is_kept_in_priority_order_ties_by_ballot() {
    let mut rt = Runtime::new();
    let leader = rt.ranked("jobs", "leader", 10, true);
    rt.vote(leader);
    let a = rt.ranked("jobs", "a", 1, true);
    let b = rt.ranked("jobs", "b", 3, true);
    let c = rt.ranked("jobs", "c", 2, true);
    let d = rt.ranked("jobs", "d", 3, true);
    for id in [a, b, c, d] {
        rt.vote(id);
    }
    assert_eq!(rt.queue("jobs"), [leader, b, d, c, a]);
    let told: Vec<Recipient> = rt
        .take_log()
        .into_iter()
        .filter(|(_, cb)| matches!(cb, Callback::LosingElection { .. }))
        .map(|(to, _)| to)
        .collect();
    assert_eq!(told.len(), 4, "each told once that it lost: {told:?}");
    // An unranked candidate gets the default priority (0), behind everyone.
    let unranked = rt.candidate("jobs", "plain");
    rt.vote(unranked);
    assert_eq!(rt.queue("jobs"), [leader, b, d, c, a, unranked]);
}

/// A priority in an election that uses the queue is refused and changes nothing; an
/// unranked candidate joins a priority election.
#[test]
fn a_priority_in_a_queue_election_is_refused_and_changes_nothing() {
    let mut rt = Runtime::new();
    let first = rt.candidate("db", "first");
    rt.vote(first);
    assert_eq!(rt.el.policy(&e("db")), Some(Policy::Queue));
    let before = rt.el.encode();
    let session = rt.el.open_session(TTL, t(0)).unwrap();
    let after_session = rt.el.encode();
    let refused = rt.el.join_with(
        &e("db"),
        session,
        Data::from("x"),
        false,
        Some(Priority::default()),
    );
    assert!(
        matches!(&refused, Err(ElectionError::Policy { reason, .. }) if reason.contains("queue")),
        "{refused:?}"
    );
    assert_ne!(before, after_session);
    assert_eq!(rt.el.encode(), after_session, "the refusal changed nothing");

    let ranked = rt.ranked("jobs", "r", 4, true);
    rt.vote(ranked);
    let plain = rt.candidate("jobs", "plain");
    rt.vote(plain);
    assert_eq!(rt.el.policy(&e("jobs")), Some(Policy::Priority));
    assert_eq!(rt.el.priority_of(plain), Some(Priority::default()));
}

/// An operator's handoff in a priority election goes where it is told; the line behind
/// is put back in priority order.
#[test]
fn a_handoff_in_a_priority_election_keeps_the_line_in_order() {
    let mut rt = Runtime::new();
    let top = rt.ranked("jobs", "top", 9, true);
    rt.vote(top);
    let [x, y, z] = [("x", 5), ("y", 4), ("z", 3)].map(|(name, level)| {
        let id = rt.ranked("jobs", name, level, true);
        rt.vote(id);
        id
    });
    assert_eq!(rt.queue("jobs"), [top, x, y, z]);
    let (to, fx) = rt.el.hand_off(&e("jobs"), Some(z), Cause::HandOff).unwrap();
    rt.deliver(fx);
    assert_eq!(to, z);
    assert!(rt.el.leading_term(z).is_some());
    assert_eq!(rt.queue("jobs"), [z, x, y]);
}

/// A drain hands the leadership to the first in line that another host runs, jumping
/// the leader's own host's candidates; with none, it is refused and changes nothing.
#[test]
fn a_drain_goes_to_the_first_candidate_of_another_host() {
    use crate::namespace::HostEpoch;
    let mut rt = Runtime::new();
    let (h1, h2) = (HostEpoch(1), HostEpoch(2));
    for (epoch, id) in [(h1, "h1"), (h2, "h2")] {
        rt.el.set_proposer(epoch);
        rt.el.join_host(epoch, id).unwrap();
    }
    rt.el.set_proposer(h1);
    let a = rt.candidate("db", "a");
    let b = rt.candidate("db", "b");
    rt.vote(a);
    rt.vote(b);
    let before = rt.el.encode();
    assert!(matches!(
        rt.el.hand_off(&e("db"), None, Cause::Drained),
        Err(ElectionError::Handoff { .. })
    ));
    assert_eq!(rt.el.encode(), before, "a refused drain changes nothing");
    rt.el.set_proposer(h2);
    let c = rt.candidate("db", "c");
    rt.vote(c);
    let (to, fx) = rt.el.hand_off(&e("db"), None, Cause::Drained).unwrap();
    assert_eq!(to, c, "h2's candidate, not b on the draining host");
    assert_eq!(fx.deposed[0].cause, Cause::Drained);
    rt.deliver(fx);
    assert!(rt.el.leading_term(c).is_some());
    assert_eq!(rt.queue("db"), [c, b]);
}
