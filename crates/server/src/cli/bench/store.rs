//! `ballot bench store`: the embedded store's guarded-commit latency and group-commit
//! throughput, against the raw cost of one 4 KiB append plus `fdatasync` in the same
//! folder.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use ballot_core::command::Command;
use ballot_core::commit::ReadSet;
use ballot_core::election::ElectionName;
use ballot_core::namespace::{CreateMode, Data, NodePath, Op};
use ballot_store::clock::SystemClock;
use ballot_store::embedded::{FileSystem, RealFs};
use ballot_store::{EmbeddedStore, Options, Store};

use super::{Figure, histogram, micros, record, summarise};

/// Arguments of `ballot bench store`.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// Folder to put the data in (on the disk to measure; not tmpfs). A fresh subfolder is
    /// made and removed.
    #[arg(long, default_value = "target")]
    dir: PathBuf,
    /// Length of each measurement.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Commits made before the restart is timed (default settings); 0 skips it.
    #[arg(long, default_value_t = 1_000_000)]
    restart_commits: u64,
}

/// How long reopening a folder takes after `commits` commits with the default settings,
/// and (the baseline, same state) after a snapshot of all of it; with the records the
/// first replayed.
fn restart_times(dir: &Path, commits: u64) -> anyhow::Result<(Duration, Duration, u64)> {
    const WRITERS: u64 = 64;
    let open = || EmbeddedStore::open(dir, Arc::new(SystemClock::new()), Options::default());
    let store = Arc::new(open()?);
    let root = NodePath::parse("/restart")?;
    store.multi(
        None,
        vec![Op::Create {
            path: root.clone(),
            data: Data::default(),
            mode: CreateMode::PERSISTENT,
        }],
    )?;
    let workers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (store, root) = (store.clone(), root.clone());
            std::thread::spawn(move || -> anyhow::Result<()> {
                let path = root.child(&format!("w{writer}"))?;
                store.multi(
                    None,
                    vec![Op::Create {
                        path: path.clone(),
                        data: Data::default(),
                        mode: CreateMode::PERSISTENT,
                    }],
                )?;
                for n in 1..commits / WRITERS {
                    let op = Op::Set {
                        path: path.clone(),
                        data: Data::from(n.to_string()),
                        expected: None,
                    };
                    store.multi(None, vec![op])?;
                }
                Ok(())
            })
        })
        .collect();
    for worker in workers {
        worker
            .join()
            .map_err(|_| anyhow::anyhow!("a writer panicked"))??;
    }
    drop(store);
    let t = Instant::now();
    let store = open()?;
    let from_log = t.elapsed();
    let replayed = store.recovery().replayed;
    store.snapshot_now()?;
    drop(store);
    let t = Instant::now();
    drop(open()?);
    Ok((from_log, t.elapsed(), replayed))
}

/// Raw 4 KiB append + fdatasync latencies: the floor any durable commit stands on.
fn raw_syncs(dir: &Path, until: Duration) -> anyhow::Result<Histogram<u64>> {
    let fs = RealFs;
    let path = dir.join("raw-fdatasync");
    let mut file = fs.create(&path)?;
    let page = vec![0x5a; 4096];
    let mut latencies = histogram();
    let start = Instant::now();
    while start.elapsed() < until {
        let t = Instant::now();
        file.append(&page)?;
        file.sync_data()?;
        record(&mut latencies, t.elapsed());
    }
    fs.remove(&path)?;
    Ok(latencies)
}

/// Guarded commits from `clients` concurrent clients for `until`: each sets its own node
/// in a `Commit` fenced by the lease of one elector (the master peer's term, kept in the
/// same step), as `bench commit`'s plain commits and an HTTP guarded commit are. The
/// clients are tokio tasks awaiting the store, as `ballot serve`'s requests do. Returns
/// latencies, commits, and the store's (batches, records).
fn commits(
    dir: &Path,
    clients: usize,
    until: Duration,
    pipeline: bool,
) -> anyhow::Result<(Histogram<u64>, u64, (u64, u64))> {
    let options = Options {
        pipeline,
        ..Options::default()
    };
    let store: Arc<EmbeddedStore> = Arc::new(EmbeddedStore::open(
        dir,
        Arc::new(SystemClock::new()),
        options,
    )?);
    let elector = ElectionName::parse("bench")?;
    let root = NodePath::parse(&format!("/c{clients}"))?;
    let nodes = (0..clients)
        .map(|client| root.child(&format!("n{client}")))
        .collect::<Result<Vec<_>, _>>()?;
    let setup = [
        Command::ResetElector {
            elector: elector.clone(),
            duration: Duration::from_secs(3600),
            peer: "master".into(),
        },
        Command::Multi {
            guard: None,
            ops: std::iter::once(&root)
                .chain(&nodes)
                .map(|path| Op::Create {
                    path: path.clone(),
                    data: Data::default(),
                    mode: CreateMode::PERSISTENT,
                })
                .collect(),
            quota: None,
        },
    ];
    for command in setup {
        store
            .propose_blocking(command)?
            .map_err(|refusal| anyhow::anyhow!("setting up: {refusal}"))?;
    }
    let before = store.batch_stats();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let all = runtime.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = nodes
            .into_iter()
            .map(|path| {
                let (store, elector) = (store.clone(), elector.clone());
                tokio::spawn(async move {
                    let mut latencies = histogram();
                    let data = Data::from(&[7u8; 64][..]);
                    while start.elapsed() < until {
                        let command = Command::Commit {
                            elector: elector.clone(),
                            peer: "master".into(),
                            term: None,
                            reads: ReadSet::default(),
                            ops: vec![Op::Set {
                                path: path.clone(),
                                data: data.clone(),
                                expected: None,
                            }],
                        };
                        let t = Instant::now();
                        store.propose(command).await?.map_err(|refusal| {
                            anyhow::anyhow!("a commit was refused: {refusal}")
                        })?;
                        record(&mut latencies, t.elapsed());
                    }
                    anyhow::Ok(latencies)
                })
            })
            .collect();
        let mut all = histogram();
        for task in tasks {
            all.add(&task.await??)?;
        }
        anyhow::Ok(all)
    })?;
    let after = store.batch_stats();
    let count = all.len();
    Ok((all, count, (after.0 - before.0, after.1 - before.1)))
}

/// The file system type holding `dir`, from /proc/mounts (longest matching mount point).
fn filesystem_type(dir: &Path) -> String {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            dir.starts_with(point)
                .then(|| (point.len(), kind.to_string()))
        })
        .max()
        .map_or_else(|| "unknown".to_string(), |(_, kind)| kind)
}

/// Runs the store benchmark.
pub fn run(args: StoreArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.dir)?;
    let scratch = tempfile::tempdir_in(&args.dir)?;
    let until = Duration::from_secs_f64(args.seconds);
    let fs_type = filesystem_type(scratch.path());
    println!("data folder {} on {fs_type}", scratch.path().display());
    if fs_type == "tmpfs" {
        println!("warning: tmpfs does not sync to a disk; the ratios mean nothing here");
    }
    let raw = raw_syncs(scratch.path(), until)?;
    let raw_p50 = micros(&raw, 0.5);
    println!(
        "raw 4 KiB append + fdatasync: p50 {raw_p50:.1} us, p99 {:.1} us",
        micros(&raw, 0.99)
    );
    let mut figures = Vec::new();
    let sync_rate = 1e6 / raw_p50;
    for clients in [1usize, 16, 64] {
        let dir = scratch.path().join(format!("store-{clients}"));
        let (latencies, count, (batches, records)) = commits(&dir, clients, until, false)?;
        let throughput = count as f64 / until.as_secs_f64();
        let mean_batch = records as f64 / batches.max(1) as f64;
        println!(
            "{clients:>2} clients: {throughput:.0} commits/s, p50 {:.1} us, p99 {:.1} us, mean batch {mean_batch:.1} commits",
            micros(&latencies, 0.5),
            micros(&latencies, 0.99)
        );
        if clients == 1 {
            figures.push(Figure {
                name: "commit_p50_1_client",
                value: micros(&latencies, 0.5),
                unit: "us",
                baseline: "raw_fdatasync_p50",
                baseline_value: raw_p50,
            });
            figures.push(Figure {
                name: "commit_p99_1_client",
                value: micros(&latencies, 0.99),
                unit: "us",
                baseline: "raw_fdatasync_p50",
                baseline_value: raw_p50,
            });
        }
        let name = match clients {
            1 => "throughput_1_client",
            16 => "throughput_16_clients",
            _ => "throughput_64_clients",
        };
        figures.push(Figure {
            name,
            value: throughput,
            unit: "commits/s",
            baseline: "syncs_per_s_at_raw_p50",
            baseline_value: sync_rate,
        });
        let batch_name = match clients {
            1 => "mean_batch_1_client",
            16 => "mean_batch_16_clients",
            _ => "mean_batch_64_clients",
        };
        figures.push(Figure {
            name: batch_name,
            value: mean_batch,
            unit: "commits",
            baseline: "clients",
            baseline_value: clients as f64,
        });
    }
    // The same clients on the writer that syncs each batch on a second thread while it
    // builds the next (`Options::pipeline`, off by default), against the default writer
    // measured above in this run.
    let figure = |figures: &[Figure], name: &str| {
        figures
            .iter()
            .find(|figure| figure.name == name)
            .map_or(0.0, |figure| figure.value)
    };
    for clients in [1usize, 64] {
        let dir = scratch.path().join(format!("store-{clients}-pipelined"));
        let (latencies, count, (batches, records)) = commits(&dir, clients, until, true)?;
        let throughput = count as f64 / until.as_secs_f64();
        let p50 = micros(&latencies, 0.5);
        println!(
            "{clients:>2} clients, pipelined writer: {throughput:.0} commits/s, p50 {p50:.1} us, \
             mean batch {:.1} commits",
            records as f64 / batches.max(1) as f64
        );
        let pipelined = if clients == 1 {
            Figure {
                name: "commit_p50_1_client_pipelined",
                value: p50,
                unit: "us",
                baseline: "commit_p50_1_client_sequential_writer",
                baseline_value: figure(&figures, "commit_p50_1_client"),
            }
        } else {
            Figure {
                name: "throughput_64_clients_pipelined",
                value: throughput,
                unit: "commits/s",
                baseline: "throughput_64_clients_sequential_writer",
                baseline_value: figure(&figures, "throughput_64_clients"),
            }
        };
        figures.push(pipelined);
    }
    if args.restart_commits > 0 {
        let dir = scratch.path().join("restart");
        let (from_log, from_snapshot, replayed) = restart_times(&dir, args.restart_commits)?;
        println!(
            "restart after {} commits (default settings): {:.0} ms, {replayed} log records \
             replayed; from a snapshot of the same state: {:.0} ms",
            args.restart_commits,
            from_log.as_secs_f64() * 1e3,
            from_snapshot.as_secs_f64() * 1e3
        );
        figures.push(Figure {
            name: "restart_after_commits",
            value: from_log.as_secs_f64() * 1e3,
            unit: "ms",
            baseline: "restart_from_snapshot",
            baseline_value: from_snapshot.as_secs_f64() * 1e3,
        });
    }
    let target_64 = (22.0 * sync_rate).max(100_000.0);
    println!(
        "targets: 1-client p50 within 1.15x of raw ({:.2}x); 64 clients >= {target_64:.0} \
         commits/s (100,000, and 22x one commit per raw sync)",
        figures[0].value / raw_p50
    );
    println!("filesystem: {fs_type}");
    summarise(&figures);
    Ok(ExitCode::SUCCESS)
}
