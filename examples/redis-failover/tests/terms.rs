//! The contract the ballot coordinator's model takes from the real election core
//! (`ballot_core::election`): every failover's term is strictly greater than the one
//! before, and a write fenced with a deposed primary's term is refused. The explorer
//! models terms as integers (see `Coordinator::Ballot`); this test ties those integers to
//! the terms the host issues when the primary's session ends, as failover 1 ends it.

use std::time::Duration;

use ballot_core::election::{ElectionName, Elections};
use ballot_core::namespace::{CreateMode, Data, Error, Limits, MonoTime, Namespace, NodePath, Op};

#[test]
fn each_failover_issues_a_greater_term_and_fences_the_old_one() -> anyhow::Result<()> {
    let now = MonoTime(0);
    let election = ElectionName::parse("redis")?;
    let mut elections = Elections::new(Namespace::new(Limits::default()));
    // Nodes a, b, c stand for election in that order, so a is the first primary.
    let mut nodes = Vec::new();
    for name in ["a", "b", "c"] {
        let session = elections.open_session(Duration::from_secs(10), now)?;
        let id = elections.join(&election, session, Data::from(name), false);
        elections.vote(id)?;
        nodes.push((id, session));
    }
    let write = |value: &str| {
        [Op::Create {
            path: NodePath::parse(&format!("/register-{value}")).expect("a valid path"),
            data: Data::from(value),
            mode: CreateMode::PERSISTENT,
        }]
    };
    let mut previous: Option<(ballot_core::election::Term, _)> = None;
    for (round, &(id, session)) in nodes.iter().enumerate() {
        let term = elections.leading_term(id).expect("the next node leads");
        if let Some((old_term, old_session)) = previous {
            assert!(term > old_term, "terms strictly increase per failover");
            let stale = Elections::term_guard(&election, old_session, old_term);
            let refused = elections
                .multi(Some(&stale), &write(&format!("stale-{round}")))
                .expect_err("a deposed primary's term is refused");
            // The deposed primary's session is gone, so the guard fails on it; a live
            // session with an old term would get `NotLeader` (crates/core/src/election/tests.rs).
            assert!(
                matches!(refused.error, Error::SessionExpired { session } if session == old_session),
                "{:?}",
                refused.error
            );
        }
        let guard = Elections::term_guard(&election, session, term);
        elections.multi(Some(&guard), &write(&format!("fresh-{round}")))?;
        // failover-1-isolate: the primary's session ends; the next ballot leads.
        elections.close_session(session)?;
        previous = Some((term, session));
    }
    Ok(())
}
