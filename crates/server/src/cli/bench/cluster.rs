//! `ballot bench cluster`: ballot's guarded commits through the etcd log against etcd's
//! own put and Txn-guarded put, on one 3-member etcd cluster started on loopback for the
//! run (Debian's `etcd`), with the Rust `etcd-client` for etcd's figures.
//!
//! A guarded write on each side is the same thing: etcd's is a Txn that puts a client's
//! key only if its mod revision is the one the client last saw; ballot's is a multi that
//! sets a client's node only if its data version is the one the client last saw. Each
//! client writes its own key, so no guard fails.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Client, Compare, CompareOp, Txn, TxnOp};
use hdrhistogram::Histogram;

use ballot_core::command::{Command, Outcome};
use ballot_core::namespace::{CreateMode, Data, NodePath, Op};
use ballot_etcd::local::LocalCluster;
use ballot_etcd::{HostOptions, Settings};
use ballot_store::clock::SystemClock;
use ballot_store::{EmbeddedStore, Options};

use super::{Figure, histogram, micros, record, summarise};

/// Arguments of `ballot bench cluster`.
#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// Length of each measurement.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
}

/// What one measurement gave: latencies and completed writes per second.
struct Run {
    latencies: Histogram<u64>,
    per_second: f64,
}

/// Runs `clients` loops of `write` for `until`; each loop gets its client number.
async fn load<F, Fut>(clients: usize, until: Duration, write: F) -> anyhow::Result<Run>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let write = Arc::new(write);
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let write = write.clone();
            tokio::spawn(async move {
                let mut latencies = histogram();
                let mut n = 0u64;
                while start.elapsed() < until {
                    let t = Instant::now();
                    write(client, n).await?;
                    record(&mut latencies, t.elapsed());
                    n += 1;
                }
                Ok::<_, anyhow::Error>(latencies)
            })
        })
        .collect();
    let mut all = histogram();
    for task in tasks {
        all.add(task.await??)?;
    }
    Ok(Run {
        per_second: all.len() as f64 / start.elapsed().as_secs_f64(),
        latencies: all,
    })
}

async fn etcd_puts(client: &Client, clients: usize, until: Duration) -> anyhow::Result<Run> {
    let client = client.clone();
    load(clients, until, move |who, n| {
        let mut client = client.clone();
        async move {
            client
                .put(format!("/bench/put/{who}"), n.to_string(), None)
                .await?;
            Ok(())
        }
    })
    .await
}

async fn etcd_txns(client: &Client, clients: usize, until: Duration) -> anyhow::Result<Run> {
    // Each client's key and the mod revision it last wrote there.
    let mut last = Vec::new();
    for who in 0..clients {
        let mut c = client.clone();
        let put = c.put(format!("/bench/txn/{who}"), "0", None).await?;
        let revision = put.header().map_or(0, |h| h.revision());
        last.push(Arc::new(std::sync::atomic::AtomicI64::new(revision)));
    }
    let last = Arc::new(last);
    let client = client.clone();
    load(clients, until, move |who, n| {
        let (mut client, last) = (client.clone(), last.clone());
        async move {
            let key = format!("/bench/txn/{who}");
            let seen = last[who].load(std::sync::atomic::Ordering::Relaxed);
            let txn = Txn::new()
                .when([Compare::mod_revision(key.clone(), CompareOp::Equal, seen)])
                .and_then([TxnOp::put(key, n.to_string(), None)]);
            let answer = client.txn(txn).await?;
            anyhow::ensure!(
                answer.succeeded(),
                "the guard failed: a client's own key moved"
            );
            let revision = answer.header().map_or(0, |h| h.revision());
            last[who].store(revision, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        }
    })
    .await
}

/// Guarded sets of each client's own node through ballot's store on the etcd log.
async fn ballot_commits(
    store: &Arc<EmbeddedStore>,
    clients: usize,
    until: Duration,
) -> anyhow::Result<Run> {
    let root = NodePath::parse(&format!("/bench{clients}"))?;
    let mut ops = vec![Op::Create {
        path: root.clone(),
        data: Data::default(),
        mode: CreateMode::PERSISTENT,
    }];
    for who in 0..clients {
        ops.push(Op::Create {
            path: root.child(&format!("c{who}"))?,
            data: Data::default(),
            mode: CreateMode::PERSISTENT,
        });
    }
    let created = store
        .propose(Command::Multi {
            guard: None,
            ops,
            quota: None,
        })
        .await?;
    anyhow::ensure!(matches!(created, Ok(Outcome::Committed(_))), "{created:?}");
    let versions: Arc<Vec<std::sync::atomic::AtomicU64>> =
        Arc::new((0..clients).map(|_| 0.into()).collect());
    let store = store.clone();
    load(clients, until, move |who, n| {
        let (store, versions, root) = (store.clone(), versions.clone(), root.clone());
        async move {
            let seen = versions[who].load(std::sync::atomic::Ordering::Relaxed);
            let command = Command::Multi {
                guard: None,
                ops: vec![Op::Set {
                    path: root.child(&format!("c{who}"))?,
                    data: Data::from(n.to_string().into_bytes()),
                    expected: Some(seen),
                }],
                quota: None,
            };
            let applied = store.propose(command).await?;
            anyhow::ensure!(
                matches!(applied, Ok(Outcome::Committed(_))),
                "the guard failed: {applied:?}"
            );
            versions[who].store(seen + 1, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        }
    })
    .await
}

/// Runs `ballot bench cluster`.
pub fn run(args: ClusterArgs) -> anyhow::Result<ExitCode> {
    let until = Duration::from_secs_f64(args.seconds);
    let dir = tempfile::tempdir()?;
    let etcd = LocalCluster::start(3, dir.path())?;
    println!(
        "etcd: 3 members on loopback ({})",
        etcd.endpoints().join(",")
    );
    let settings = Settings::new(etcd.endpoints(), "bench");
    let options = HostOptions {
        id: "bench".into(),
        ttl: Duration::from_secs(2),
        store: Options::default(),
    };
    let (store, _host) = ballot_etcd::Host::open(settings, options, Arc::new(SystemClock::new()))?;
    let store = Arc::new(store);
    let endpoints = etcd.endpoints();
    super::on_tokio(async move {
        let client = Client::connect(&endpoints, None).await?;
        let put1 = etcd_puts(&client, 1, until).await?;
        let txn1 = etcd_txns(&client, 1, until).await?;
        let ballot1 = ballot_commits(&store, 1, until).await?;
        println!(
            "1 client p50/p99 (us): etcd put {:.0}/{:.0}, etcd guarded Txn {:.0}/{:.0}, ballot guarded commit {:.0}/{:.0}",
            micros(&put1.latencies, 0.5),
            micros(&put1.latencies, 0.99),
            micros(&txn1.latencies, 0.5),
            micros(&txn1.latencies, 0.99),
            micros(&ballot1.latencies, 0.5),
            micros(&ballot1.latencies, 0.99),
        );
        let mut figures = vec![Figure {
            name: "cluster_guarded_commit_p50",
            value: micros(&ballot1.latencies, 0.5),
            unit: "us",
            baseline: "etcd_put_p50",
            baseline_value: micros(&put1.latencies, 0.5),
        }];
        for clients in [16, 64] {
            let puts = etcd_puts(&client, clients, until).await?;
            let txns = etcd_txns(&client, clients, until).await?;
            let commits = ballot_commits(&store, clients, until).await?;
            println!(
                "{clients} clients (writes/s): etcd put {:.0}, etcd guarded Txn {:.0}, ballot guarded commit {:.0} (p50 {:.0} us)",
                puts.per_second,
                txns.per_second,
                commits.per_second,
                micros(&commits.latencies, 0.5),
            );
            figures.push(Figure {
                name: if clients == 16 {
                    "cluster_guarded_commits_16_clients"
                } else {
                    "cluster_guarded_commits_64_clients"
                },
                value: commits.per_second,
                unit: "commits/s",
                baseline: if clients == 16 {
                    "etcd_guarded_txn_16_clients"
                } else {
                    "etcd_guarded_txn_64_clients"
                },
                baseline_value: txns.per_second,
            });
        }
        let (batches, records) = store.batch_stats();
        println!(
            "ballot batches: {batches}, commands: {records} ({:.1} per batch)",
            records as f64 / batches.max(1) as f64
        );
        summarise(&figures);
        Ok(ExitCode::SUCCESS)
    })
}
