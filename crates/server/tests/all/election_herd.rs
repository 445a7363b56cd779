//! The herd test: however long the ballot queue, a ballot's deletion wakes exactly one
//! candidate.

use std::time::Duration;

use ballot_core::election::{Callback, ElectionName, Elections, Recipient};
use ballot_core::namespace::{Data, MonoTime, Namespace};

const CANDIDATES: usize = 10_000;

#[test]
fn ten_thousand_candidates_deleting_a_ballot_wakes_exactly_one() {
    let election = ElectionName::parse("herd").unwrap();
    let mut el = Elections::new(Namespace::default());
    let now = MonoTime(0);
    let (observer, _) = el.observe(&election);
    let mut ids = Vec::with_capacity(CANDIDATES);
    for i in 0..CANDIDATES {
        let session = el.open_session(Duration::from_secs(60), now).unwrap();
        let id = el.join(
            &election,
            session,
            Data::from(format!("c{i}").as_str()),
            false,
        );
        let fx = el.vote(id).unwrap();
        // The first one wins and acks; nobody else hears anything before that ack.
        for n in fx.notifications {
            if let Callback::WinningElection { term } = n.callback {
                el.acknowledge(id, term, None).unwrap();
            }
        }
        ids.push(id);
    }
    assert_eq!(el.stats().ballot_watch_events, 0, "voting wakes nobody");
    assert_eq!(
        el.namespace().watch_count(),
        CANDIDATES - 1 + 1,
        "one predecessor watch per loser, one ack watch for the election"
    );

    // Delete the leader: exactly one ballot-watch event, one winner.
    let leader = ids[0];
    let before = el.stats().ballot_watch_events;
    let fx = el.close_session(el.session_of(leader).unwrap()).unwrap();
    assert_eq!(el.stats().ballot_watch_events - before, 1);
    let winners: Vec<_> = fx
        .notifications
        .iter()
        .filter(|n| matches!(n.callback, Callback::WinningElection { .. }))
        .map(|n| n.to)
        .collect();
    assert_eq!(winners, [Recipient::Candidate(ids[1])]);
    let candidates_told = fx
        .notifications
        .iter()
        .filter(|n| matches!(n.to, Recipient::Candidate(id) if id != leader))
        .count();
    assert_eq!(candidates_told, 1, "only the successor hears anything");
    assert!(
        fx.notifications
            .iter()
            .any(|n| n.to == Recipient::Observer(observer))
    );

    // Delete a ballot in the middle: exactly one event, no callbacks at all.
    let middle = ids[CANDIDATES / 2];
    let before = el.stats().ballot_watch_events;
    let fx = el.close_session(el.session_of(middle).unwrap()).unwrap();
    assert_eq!(el.stats().ballot_watch_events - before, 1);
    assert!(fx.notifications.is_empty(), "{:?}", fx.notifications);
    assert_eq!(
        el.predecessor(ids[CANDIDATES / 2 + 1]),
        el.ballot(ids[CANDIDATES / 2 - 1])
    );
}
