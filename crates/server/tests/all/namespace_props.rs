//! Property tests: random operation sequences over the namespace and its elections, with
//! sessions opening, heartbeating, closing and expiring, checked against the invariants
//! everything else relies on.

use std::collections::BTreeMap;
use std::time::Duration;

use ballot_core::election::{Callback, CandidateId, ElectionName, Elections, Term};
use ballot_core::namespace::{
    CreateMode, Data, Lifetime, MonoTime, Namespace, NodePath, Op, OpResult, Revision, SessionId,
};
use proptest::prelude::*;

const PATHS: &[&str] = &[
    "/a",
    "/a/b",
    "/a/c",
    "/a/b/d",
    "/e",
    "/elections",
    "/elections/x",
];
const ELECTIONS: &[&str] = &["x", "y"];

#[derive(Debug, Clone)]
enum Step {
    OpenSession {
        ttl_secs: u64,
    },
    Heartbeat {
        session: usize,
    },
    Advance {
        secs: u64,
    },
    CloseSession {
        session: usize,
    },
    Create {
        path: usize,
        session: Option<usize>,
        sequential: bool,
    },
    Set {
        path: usize,
        expected: Option<u64>,
    },
    Delete {
        path: usize,
        expected: Option<u64>,
    },
    Multi {
        ops: Vec<(usize, u8, Option<u64>)>,
    },
    Join {
        election: usize,
        session: usize,
    },
    Vote {
        candidate: usize,
    },
    Resign {
        candidate: usize,
    },
    Ack {
        candidate: usize,
        stale: bool,
    },
    DeleteLowestBallot {
        election: usize,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let idx = 0..8usize;
    prop_oneof![
        1 => (1..20u64).prop_map(|ttl_secs| Step::OpenSession { ttl_secs }),
        1 => idx.clone().prop_map(|session| Step::Heartbeat { session }),
        1 => (0..8u64).prop_map(|secs| Step::Advance { secs }),
        1 => idx.clone()
            .prop_map(|session| Step::CloseSession { session }),
        1 => (
            0..PATHS.len(),
            proptest::option::of(idx.clone()),
            any::<bool>()
        )
            .prop_map(|(path, session, sequential)| Step::Create {
                path,
                session,
                sequential
            }),
        1 => (0..PATHS.len(), proptest::option::of(0..3u64))
            .prop_map(|(path, expected)| Step::Set { path, expected }),
        1 => (0..PATHS.len(), proptest::option::of(0..3u64))
            .prop_map(|(path, expected)| Step::Delete { path, expected }),
        1 => proptest::collection::vec(
            (0..PATHS.len(), 0..4u8, proptest::option::of(0..3u64)),
            1..4
        )
        .prop_map(|ops| Step::Multi { ops }),
        // The election's own steps weigh more, so hand-overs (a ballot deleted behind
        // its leader's back, then the successor acking) happen in most cases.
        3 => (0..ELECTIONS.len(), idx.clone())
            .prop_map(|(election, session)| Step::Join { election, session }),
        3 => idx.clone().prop_map(|candidate| Step::Vote { candidate }),
        1 => idx.clone().prop_map(|candidate| Step::Resign { candidate }),
        4 => (idx.clone(), any::<bool>()).prop_map(|(candidate, stale)| Step::Ack { candidate, stale }),
        2 => (0..ELECTIONS.len()).prop_map(|election| Step::DeleteLowestBallot { election }),
    ]
}

/// Everything the invariants need to remember between steps.
#[derive(Default)]
struct Model {
    sessions: Vec<SessionId>,
    candidates: Vec<CandidateId>,
    now: u64,
    /// Last sequence number issued under each parent.
    last_sequence: BTreeMap<String, u64>,
    /// Last versions seen of each node, keyed by path and creation revision.
    versions: BTreeMap<(String, Revision), (u64, u64, Revision)>,
    /// Last term won in each election.
    last_term: BTreeMap<String, Term>,
}

fn path(i: usize) -> NodePath {
    NodePath::parse(PATHS[i]).unwrap()
}

fn pick<T: Copy>(items: &[T], i: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[i % items.len()])
}

fn op_of(path_index: usize, kind: u8, expected: Option<u64>) -> Op {
    let path = path(path_index);
    match kind {
        0 => Op::Create {
            path,
            data: Data::from("m"),
            mode: CreateMode::PERSISTENT,
        },
        1 => Op::Set {
            path,
            data: Data::from("s"),
            expected,
        },
        2 => Op::Delete { path, expected },
        _ => Op::Check { path, expected },
    }
}

/// Applies one step; returns whether it was refused, and every term won during it.
fn apply(el: &mut Elections, m: &mut Model, step: &Step) -> (bool, Vec<(String, Term)>) {
    let now = MonoTime(m.now * 1_000_000_000);
    let mut won = Vec::new();
    let record = |fx: ballot_core::election::Effects, won: &mut Vec<(String, Term)>| {
        for n in fx.notifications {
            if let Callback::WinningElection { term } = n.callback {
                won.push((n.election.to_string(), term));
            }
        }
    };
    let refused = match step {
        Step::OpenSession { ttl_secs } => {
            let s = el
                .open_session(Duration::from_secs(*ttl_secs), now)
                .unwrap();
            m.sessions.push(s);
            false
        }
        Step::Heartbeat { session } => match pick(&m.sessions, *session) {
            Some(s) => el.heartbeat(s, now).is_err(),
            None => false,
        },
        Step::Advance { secs } => {
            m.now += secs;
            let (_, fx) = el.tick(MonoTime(m.now * 1_000_000_000));
            record(fx, &mut won);
            false
        }
        Step::CloseSession { session } => match pick(&m.sessions, *session) {
            Some(s) => match el.close_session(s) {
                Ok(fx) => {
                    record(fx, &mut won);
                    false
                }
                Err(_) => true,
            },
            None => false,
        },
        Step::Create {
            path: p,
            session,
            sequential,
        } => {
            let lifetime = match session.and_then(|s| pick(&m.sessions, s)) {
                Some(s) => Lifetime::Ephemeral(s),
                None => Lifetime::Persistent,
            };
            let op = Op::Create {
                path: path(*p),
                data: Data::from("c"),
                mode: CreateMode {
                    lifetime,
                    sequential: *sequential,
                },
            };
            multi(el, m, &[op], &mut won)
        }
        Step::Set { path: p, expected } => {
            let op = Op::Set {
                path: path(*p),
                data: Data::from("v"),
                expected: *expected,
            };
            multi(el, m, &[op], &mut won)
        }
        Step::Delete { path: p, expected } => {
            let op = Op::Delete {
                path: path(*p),
                expected: *expected,
            };
            multi(el, m, &[op], &mut won)
        }
        Step::Multi { ops } => {
            let ops: Vec<Op> = ops.iter().map(|&(p, k, e)| op_of(p, k, e)).collect();
            multi(el, m, &ops, &mut won)
        }
        Step::Join { election, session } => {
            if let Some(s) = pick(&m.sessions, *session) {
                let name = ElectionName::parse(ELECTIONS[*election]).unwrap();
                m.candidates
                    .push(el.join(&name, s, Data::from("d"), *session % 2 == 0));
            }
            false
        }
        Step::Vote { candidate } => match pick(&m.candidates, *candidate) {
            Some(c) => match el.vote(c) {
                Ok(fx) => {
                    note_sequence(m, el, c);
                    record(fx, &mut won);
                    false
                }
                Err(_) => true,
            },
            None => false,
        },
        Step::Resign { candidate } => match pick(&m.candidates, *candidate) {
            Some(c) => match el.resign(c) {
                Ok(fx) => {
                    record(fx, &mut won);
                    false
                }
                Err(_) => true,
            },
            None => false,
        },
        Step::Ack { candidate, stale } => match pick(&m.candidates, *candidate) {
            Some(c) => {
                let term = el.leading_term(c).unwrap_or(Revision(1));
                let term = if *stale {
                    Revision(term.0.saturating_sub(1))
                } else {
                    term
                };
                match el.acknowledge(c, term, None) {
                    Ok(fx) => {
                        record(fx, &mut won);
                        false
                    }
                    Err(_) => true,
                }
            }
            None => false,
        },
        Step::DeleteLowestBallot { election } => {
            let ballots = ElectionName::parse(ELECTIONS[*election])
                .unwrap()
                .paths()
                .ballots;
            match el.namespace().state().first_child(&ballots) {
                Some(name) => {
                    let op = Op::Delete {
                        path: ballots.child(name).unwrap(),
                        expected: None,
                    };
                    multi(el, m, &[op], &mut won)
                }
                None => false,
            }
        }
    };
    (refused, won)
}

fn multi(el: &mut Elections, m: &mut Model, ops: &[Op], won: &mut Vec<(String, Term)>) -> bool {
    match el.multi(None, ops) {
        Ok((committed, fx)) => {
            for result in &committed.results {
                if let OpResult::Created { path, .. } = result {
                    note_created(m, path);
                }
            }
            for n in fx.notifications {
                if let Callback::WinningElection { term } = n.callback {
                    won.push((n.election.to_string(), term));
                }
            }
            false
        }
        Err(_) => true,
    }
}

fn note_sequence(m: &mut Model, el: &Elections, c: CandidateId) {
    if let Some(ballot) = el.ballot(c).cloned() {
        note_created(m, &ballot);
    }
}

/// Sequential names end in ten digits; each must exceed the last one under its parent.
fn note_created(m: &mut Model, path: &NodePath) {
    let name = path.name();
    if name.len() < 10 || !name[name.len() - 10..].bytes().all(|b| b.is_ascii_digit()) {
        return;
    }
    let number: u64 = name[name.len() - 10..].parse().unwrap();
    let parent = path.parent().unwrap().to_string();
    if let Some(&last) = m.last_sequence.get(&parent) {
        assert!(
            number > last,
            "sequence under {parent} went from {last} to {number}"
        );
    }
    m.last_sequence.insert(parent, number);
}

fn check_invariants(el: &Elections, m: &mut Model) {
    let state = el.namespace().state();
    // Versions only move forward, for a node identified by its path and creation revision.
    let mut stack = vec![NodePath::root()];
    while let Some(p) = stack.pop() {
        let stat = state.exists(&p).unwrap();
        let key = (p.to_string(), stat.created);
        let now = (stat.data_version, stat.children_version, stat.modified);
        if let Some(before) = m.versions.get(&key) {
            assert!(
                now.0 >= before.0 && now.1 >= before.1 && now.2 >= before.2,
                "{key:?}"
            );
        }
        assert!(stat.modified <= state.revision() && stat.created <= stat.modified);
        m.versions.insert(key, now);
        for child in state.children(&p).unwrap() {
            stack.push(p.child(&child).unwrap());
        }
    }
    // At most one leader per election, and it holds the lowest ballot.
    for name in ELECTIONS {
        let election = ElectionName::parse(name).unwrap();
        let leaders: Vec<_> = m
            .candidates
            .iter()
            .filter(|&&c| el.leading_term(c).is_some() && el.ballot(c).is_some())
            .filter(|&&c| el.ballot(c).unwrap().is_within(&election.paths().root))
            .collect();
        assert!(leaders.len() <= 1, "{name}: leaders {leaders:?}");
        if let Some(&&c) = leaders.first() {
            let lowest = state.first_child(&election.paths().ballots).unwrap();
            assert_eq!(el.ballot(c).unwrap().name(), lowest);
            let created = state.exists(el.ballot(c).unwrap()).unwrap().created;
            assert_eq!(
                el.leading_term(c),
                Some(created),
                "the term is the ballot's revision"
            );
        }
        // An ack naming the current leader lives and dies with that leader's session.
        if let Some(leader) = ballot_core::election::read_leader(state, &election) {
            let ack = state.exists(&election.paths().ack).unwrap();
            assert_eq!(
                ack.ephemeral_owner,
                el.session_of(leader.candidate),
                "{name}: the ack of {leader:?} belongs to another session"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_the_invariants(steps in proptest::collection::vec(step(), 1..80)) {
        let mut ns = Namespace::default();
        ns.enable_journal();
        let mut el = Elections::new(ns);
        let mut m = Model::default();
        for step in &steps {
            let before = el.namespace().state().encode();
            let revision = el.namespace().revision();
            let (refused, won) = apply(&mut el, &mut m, step);
            if refused {
                prop_assert_eq!(&el.namespace().state().encode(), &before, "refused {:?} changed the state", step);
                prop_assert_eq!(el.namespace().revision(), revision);
            }
            prop_assert!(el.namespace().revision() >= revision);
            for (election, term) in won {
                if let Some(&last) = m.last_term.get(&election) {
                    prop_assert!(term > last, "{}: term {} after {}", election, term, last);
                }
                m.last_term.insert(election, term);
            }
            check_invariants(&el, &mut m);
        }
        // The journal replays to exactly the same state: what the write-ahead log relies on.
        let mut replayed = Namespace::default();
        for entry in el.take_journal() {
            replayed.replay(&entry).unwrap();
        }
        prop_assert_eq!(replayed.state().encode(), el.namespace().state().encode());
    }
}
