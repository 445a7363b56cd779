//! `ballot bench foundation`: namespace operations against bare `BTreeMap` inserts, votes,
//! and failover latency against a plain session close.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::{Figure, histogram, micros, record, summarise};

use ballot_core::election::{Callback, CandidateId, ElectionName, Elections};
use ballot_core::namespace::{CreateMode, Data, MonoTime, Namespace, NodePath};

/// Arguments of `ballot bench foundation`.
#[derive(Debug, clap::Args)]
pub struct FoundationArgs {
    /// Namespace operations per measured kind.
    #[arg(long, default_value_t = 200_000)]
    ops: usize,
    /// Candidates joined and voted in one election.
    #[arg(long, default_value_t = 10_000)]
    candidates: usize,
    /// Failovers measured (each closes the leader's session).
    #[arg(long, default_value_t = 5_000)]
    failovers: usize,
}

impl Default for FoundationArgs {
    fn default() -> Self {
        FoundationArgs {
            ops: 200_000,
            candidates: 10_000,
            failovers: 5_000,
        }
    }
}

const TTL: Duration = Duration::from_secs(3600);

fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

fn keys(count: usize) -> Vec<NodePath> {
    (0..count)
        .map(|i| NodePath::parse(&format!("/bench/k{i:08}")).expect("valid"))
        .collect()
}

/// Plain ordered-map inserts of the same keys and payload: the cost floor of a tree.
fn btreemap_inserts(keys: &[NodePath]) -> f64 {
    let start = Instant::now();
    let mut map = BTreeMap::new();
    for key in keys {
        map.insert(key.to_string(), b"payload".to_vec());
    }
    black_box(&map);
    per_second(keys.len(), start.elapsed())
}

/// Creates, gets, sets and deletes, each one commit, each kind timed separately.
fn namespace_ops(keys: &[NodePath]) -> [(&'static str, f64); 4] {
    let mut ns = Namespace::default();
    ns.create(
        &NodePath::parse("/bench").expect("valid"),
        Data::default(),
        CreateMode::PERSISTENT,
    )
    .expect("fresh namespace");
    let payload = Data::from("payload");
    let start = Instant::now();
    for key in keys {
        ns.create(key, payload.clone(), CreateMode::PERSISTENT)
            .expect("new key");
    }
    let create = per_second(keys.len(), start.elapsed());
    let start = Instant::now();
    for key in keys {
        black_box(ns.get(key).expect("exists"));
    }
    let get = per_second(keys.len(), start.elapsed());
    let start = Instant::now();
    for key in keys {
        ns.set(key, payload.clone(), Some(0)).expect("version 0");
    }
    let set = per_second(keys.len(), start.elapsed());
    let start = Instant::now();
    for key in keys {
        ns.delete(key, None).expect("exists");
    }
    let delete = per_second(keys.len(), start.elapsed());
    [
        ("namespace_create", create),
        ("namespace_get", get),
        ("namespace_set", set),
        ("namespace_delete", delete),
    ]
}

/// Joins and votes `count` candidates, each with its own session, acking the first winner.
fn voted_queue(count: usize) -> (Elections, Vec<CandidateId>, Duration) {
    let election = ElectionName::parse("bench").expect("valid");
    let mut el = Elections::new(Namespace::default());

    let start = Instant::now();
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let session = el.open_session(TTL, MonoTime(0)).expect("positive TTL");
        let id = el.join(&election, session, Data::from(format!("c{i}")), false);
        let effects = el.vote(id).expect("live session");
        ack_wins(&mut el, effects.notifications);
        ids.push(id);
    }
    (el, ids, start.elapsed())
}

fn ack_wins(el: &mut Elections, notifications: Vec<ballot_core::election::Notification>) {
    for n in notifications {
        if let (
            Callback::WinningElection { term },
            ballot_core::election::Recipient::Candidate(id),
        ) = (n.callback, n.to)
        {
            el.acknowledge(id, term, None).expect("the winner acks");
        }
    }
}

/// Leader session closed → the successor's on-winning-election notification is out.
fn failovers(el: &mut Elections, ids: &[CandidateId], count: usize) -> Histogram<u64> {
    let mut latencies = histogram();
    for &leader in ids.iter().take(count.min(ids.len() - 1)) {
        let session = el.session_of(leader).expect("known");
        let start = Instant::now();
        let effects = el.close_session(session).expect("open session");
        let elapsed = start.elapsed();
        assert!(
            effects
                .notifications
                .iter()
                .any(|n| matches!(n.callback, Callback::WinningElection { .. })),
            "closing the leader's session elects a successor"
        );
        record(&mut latencies, elapsed);
        ack_wins(el, effects.notifications);
    }
    latencies
}

/// Deleting one ephemeral node by closing its session: the same commit without an election.
fn plain_session_closes(count: usize) -> Histogram<u64> {
    let mut ns = Namespace::default();
    let folder = NodePath::parse("/plain").expect("valid");
    ns.create(&folder, Data::default(), CreateMode::PERSISTENT)
        .expect("fresh");
    let child = folder.child("e-").expect("valid");
    let sessions: Vec<_> = (0..count)
        .map(|_| {
            let s = ns.open_session(TTL, MonoTime(0)).expect("positive TTL");
            ns.create(&child, Data::from("x"), CreateMode::ephemeral_sequential(s))
                .expect("live");
            s
        })
        .collect();
    let mut latencies = histogram();
    for s in sessions {
        let start = Instant::now();
        black_box(ns.close_session(s).expect("open"));
        record(&mut latencies, start.elapsed());
    }
    latencies
}

/// Runs the benchmarks.
pub fn run(args: FoundationArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.candidates >= 2, "--candidates must be at least 2");
    let keys = keys(args.ops);
    let baseline = btreemap_inserts(&keys);
    let mut figures = Vec::new();
    for (name, value) in namespace_ops(&keys) {
        figures.push(Figure {
            name,
            value,
            unit: "ops/s",
            baseline: "btreemap_insert",
            baseline_value: baseline,
        });
    }
    let create = figures[0].value;

    let (mut el, ids, voting) = voted_queue(args.candidates);
    let votes = per_second(args.candidates, voting);
    println!(
        "{} candidates joined and voted in {:.1} ms",
        args.candidates,
        voting.as_secs_f64() * 1e3
    );
    figures.push(Figure {
        name: "votes",
        value: votes,
        unit: "votes/s",
        baseline: "namespace_create",
        baseline_value: create,
    });

    let failover = failovers(&mut el, &ids, args.failovers);
    let plain = plain_session_closes(failover.len() as usize);
    println!(
        "{} failovers over a queue of {} (each wakes one candidate)",
        failover.len(),
        args.candidates
    );
    for (name, quantile) in [("failover_p50", 0.5), ("failover_p99", 0.99)] {
        figures.push(Figure {
            name,
            value: micros(&failover, quantile),
            unit: "us",
            baseline: if quantile == 0.5 {
                "session_close_p50"
            } else {
                "session_close_p99"
            },
            baseline_value: micros(&plain, quantile),
        });
    }

    println!(
        "\nbaselines: btreemap_insert {baseline:.0} ops/s, session_close p50 {:.2} us, p99 {:.2} us",
        micros(&plain, 0.5),
        micros(&plain, 0.99)
    );
    summarise(&figures);
    Ok(ExitCode::SUCCESS)
}
