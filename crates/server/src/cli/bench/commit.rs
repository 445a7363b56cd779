//! `ballot bench commit`: guarded commits through a lease elector whose operations a
//! transaction function computes (`fixture-txn`, `count PATH`: read a counter, write it
//! plus one), against the same commits with the operations given (the baseline), on the
//! durable store: latency p50/p99 with one client, throughput with 16 and 64 (the two
//! kinds alternating in slices, so the disk's changes of speed weigh on both alike), and
//! the process's CPU time per commit, which bounds the rate once the disk does not.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ballot_check::history::Recorder;
use ballot_core::command::Command;
use ballot_core::election::ElectionName;
use ballot_core::namespace::{CreateMode, Data, NodePath, Op};
use ballot_runtime::{CommitMode, CommitRequest, Limits, Runtime, TxnSource, new_engine};
use ballot_store::clock::SystemClock;
use ballot_store::{EmbeddedStore, Options};

use super::{Figure, histogram, micros, on_tokio, record, summarise};

/// Arguments of `ballot bench commit`.
#[derive(Debug, clap::Args)]
pub struct CommitArgs {
    /// Commits timed one at a time, per kind.
    #[arg(long, default_value_t = 300)]
    commits: usize,
    /// Seconds of each throughput run.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Slices each throughput run is cut into, the two kinds alternating slice by slice,
    /// so a disk that speeds up or slows down during the run weighs on both alike.
    #[arg(long, default_value_t = 8)]
    slices: u32,
}

/// Runs the benchmark.
pub fn run(args: CommitArgs) -> anyhow::Result<ExitCode> {
    on_tokio(measure(args))
}

/// What a client commits: its own counter, by a function or by plain operations.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    TxnFn,
    Plain,
}

/// A request of `kind` for `client`'s counter; the function is the registered one whose
/// SHA-256 is `sha256`, as a component or an HTTP client names it.
fn request(kind: Kind, client: usize, sha256: [u8; 32]) -> CommitRequest {
    let path = format!("/bench/c{client}");
    let txn = match kind {
        Kind::TxnFn => TxnSource::Registered {
            sha256,
            args: format!("count {path}").into_bytes(),
            limits: Limits::default(),
        },
        Kind::Plain => TxnSource::Ops(vec![Op::Set {
            path: NodePath::parse(&path).expect("a valid path"),
            data: Data::from("1"),
            expected: None,
        }]),
    };
    CommitRequest {
        elector: ElectionName::parse("bench").expect("a valid name"),
        peer: "master".into(),
        mode: CommitMode::Guarded,
        txn,
    }
}

async fn measure(args: CommitArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let store: EmbeddedStore =
        EmbeddedStore::open(dir.path(), Arc::new(SystemClock::new()), Options::default())?;
    let engine = new_engine().map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let rt = Arc::new(Runtime::new(engine, store, Recorder::off())?);
    let wasm = crate::cli::bundled::FIXTURE_TXN.to_vec();
    let sha256 = ballot_runtime::parse_sha256(&rt.register_txn_fn(&wasm).await?)
        .ok_or_else(|| anyhow::anyhow!("the runtime named the function by a bad hash"))?;
    let elector = ElectionName::parse("bench").expect("a valid name");
    rt.propose(Command::ResetElector {
        elector,
        duration: Duration::from_secs(3600),
        peer: "master".into(),
    })
    .await??;
    {
        let mut ops = vec![Op::Create {
            path: NodePath::parse("/bench").expect("a valid path"),
            data: Data::default(),
            mode: CreateMode::PERSISTENT,
        }];
        for client in 0..64 {
            ops.push(Op::Create {
                path: NodePath::parse(&format!("/bench/c{client}")).expect("a valid path"),
                data: Data::from("0"),
                mode: CreateMode::PERSISTENT,
            });
        }
        rt.propose(Command::Multi {
            guard: None,
            ops,
            quota: None,
        })
        .await??;
    }
    // Win the lease and compile the function once.
    for kind in [Kind::TxnFn, Kind::Plain] {
        rt.commit(request(kind, 0, sha256)).await?;
    }

    println!(
        "latency: {} guarded commits of each kind, one at a time, alternating",
        args.commits
    );
    let (mut txn_latency, mut plain_latency) = (histogram(), histogram());
    for _ in 0..args.commits {
        for (kind, into) in [
            (Kind::TxnFn, &mut txn_latency),
            (Kind::Plain, &mut plain_latency),
        ] {
            let started = Instant::now();
            rt.commit(request(kind, 0, sha256)).await?;
            record(into, started.elapsed());
        }
    }

    let mut throughput = Vec::new();
    for clients in [16usize, 64] {
        let slice = Duration::from_secs_f64(args.seconds / f64::from(args.slices.max(1)));
        let (mut txn, mut plain) = (Throughput::default(), Throughput::default());
        for _ in 0..args.slices.max(1) {
            txn.add(run_slice(&rt, Kind::TxnFn, clients, slice, sha256).await?);
            plain.add(run_slice(&rt, Kind::Plain, clients, slice, sha256).await?);
        }
        for (name, measured) in [("txn-fn", &txn), ("plain ops", &plain)] {
            println!(
                "{clients} clients, {name}: {:.0} commits/s, {:.1} us of CPU each",
                measured.rate(),
                measured.cpu_micros()
            );
        }
        throughput.push([txn, plain]);
    }
    println!(
        "one client: txn-fn p50 {:.0} us, p99 {:.0} us; plain ops p50 {:.0} us, p99 {:.0} us",
        micros(&txn_latency, 0.5),
        micros(&txn_latency, 0.99),
        micros(&plain_latency, 0.5),
        micros(&plain_latency, 0.99)
    );
    summarise(&[
        Figure {
            name: "txn-fn-commit-p50",
            value: micros(&txn_latency, 0.5),
            unit: "us",
            baseline: "plain-commit-p50",
            baseline_value: micros(&plain_latency, 0.5),
        },
        Figure {
            name: "txn-fn-commit-p99",
            value: micros(&txn_latency, 0.99),
            unit: "us",
            baseline: "plain-commit-p99",
            baseline_value: micros(&plain_latency, 0.99),
        },
        Figure {
            name: "txn-fn-commits-16-clients",
            value: throughput[0][0].rate(),
            unit: "commits/s",
            baseline: "plain-commits-16-clients",
            baseline_value: throughput[0][1].rate(),
        },
        Figure {
            name: "txn-fn-commits-64-clients",
            value: throughput[1][0].rate(),
            unit: "commits/s",
            baseline: "plain-commits-64-clients",
            baseline_value: throughput[1][1].rate(),
        },
        Figure {
            name: "txn-fn-cpu-per-commit-64-clients",
            value: throughput[1][0].cpu_micros(),
            unit: "us",
            baseline: "plain-cpu-per-commit-64-clients",
            baseline_value: throughput[1][1].cpu_micros(),
        },
    ]);
    Ok(ExitCode::SUCCESS)
}

/// Commits made, the time they took and the CPU time the process spent meanwhile, over
/// the slices of one throughput figure.
#[derive(Default)]
struct Throughput {
    commits: u64,
    elapsed: Duration,
    cpu: Duration,
}

impl Throughput {
    fn add(&mut self, slice: Throughput) {
        self.commits += slice.commits;
        self.elapsed += slice.elapsed;
        self.cpu += slice.cpu;
    }

    fn rate(&self) -> f64 {
        self.commits as f64 / self.elapsed.as_secs_f64()
    }

    /// CPU time per commit: what bounds the rate once the disk is not the limit.
    fn cpu_micros(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.commits.max(1) as f64
    }
}

/// CPU time (user and system) of every thread of this process so far.
fn process_cpu() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct it is given and reads nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// `clients` concurrent clients committing `kind` for `length`.
async fn run_slice(
    rt: &Arc<Runtime>,
    kind: Kind,
    clients: usize,
    length: Duration,
    sha256: [u8; 32],
) -> anyhow::Result<Throughput> {
    let cpu = process_cpu();
    let started = Instant::now();
    let until = started + length;
    let mut tasks = Vec::new();
    for client in 0..clients {
        let rt = rt.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            while Instant::now() < until {
                rt.commit(request(kind, client, sha256)).await?;
                done += 1;
            }
            anyhow::Ok(done)
        }));
    }
    let mut done = 0;
    for task in tasks {
        done += task.await??;
    }
    Ok(Throughput {
        commits: done,
        elapsed: started.elapsed(),
        cpu: process_cpu().saturating_sub(cpu),
    })
}
