//! `ballot bench runtime`: components as actors. Host-to-guest callback latency against
//! calling an empty exported function; deploy-to-first-callback against one durable
//! commit (a one-op multi through the same store, measured in the same run), both
//! back to back (the writer never idle: the best case) and one before each deploy (the
//! writer idle, as it is when the deploy's batch arrives), the commits and the deploys
//! taking turns in slices; failover (leader undeployed until the successor's
//! on-winning-election starts). It runs as a task on a worker, as a host's callers do.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use hdrhistogram::Histogram;

use ballot_check::history::Recorder;
use ballot_core::command::Command;
use ballot_core::election::ElectionName;
use ballot_core::namespace::{CreateMode, Data, NodePath, Op};
use ballot_runtime::bindings::wit;
use ballot_runtime::{Runtime, new_engine};
use ballot_store::clock::SystemClock;
use ballot_store::{EmbeddedStore, Options};

use super::{
    Figure, candidate, histogram, micros, on_tokio_worker, record, started_winning, summarise,
    undeploy_failovers,
};

/// Arguments of `ballot bench runtime`.
#[derive(Debug, clap::Args)]
pub struct RuntimeArgs {
    /// Direct calls measured per kind.
    #[arg(long, default_value_t = 20_000)]
    calls: usize,
    /// Deploys and failovers measured (and ten back-to-back commits per deploy).
    #[arg(long, default_value_t = 100)]
    rounds: usize,
    /// Slices the deploys and their baseline commits are split into, taking turns, so a
    /// disk that speeds up or slows down during the run weighs on both alike.
    #[arg(long, default_value_t = 5)]
    slices: usize,
}

async fn measure(args: RuntimeArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir_in(std::env::temp_dir())?;
    let store: EmbeddedStore =
        EmbeddedStore::open(dir.path(), Arc::new(SystemClock::new()), Options::default())?;
    let engine = new_engine().map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let rt = Runtime::new(engine, store, Recorder::off())?;
    let empty = crate::cli::bundled::EMPTY_EXPORT.to_vec();
    // One `Code`, cloned into every deploy: a cached deploy neither copies nor hashes it.
    let example = ballot_runtime::Code::from(crate::cli::bundled::EXAMPLE_CANDIDATE);

    // Baseline: an empty exported function, called directly.
    let (mut store, guest) = rt.bare_candidate(&empty, true).await?;
    let mut baseline = histogram();
    for _ in 0..args.calls {
        let t = Instant::now();
        guest
            .call_tick(&mut store)
            .await
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        record(&mut baseline, t.elapsed());
    }
    // A real callback: the example candidate's on-losing-election (one log import call).
    let (mut store, guest) = rt.bare_candidate(example.bytes(), true).await?;
    let leader = wit::Leader {
        candidate: 1,
        term: 1,
        data: b"x".to_vec(),
        deployment: None,
    };
    let mut callback = histogram();
    for _ in 0..args.calls {
        let t = Instant::now();
        guest
            .call_on_losing_election(&mut store, &leader)
            .await
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        record(&mut callback, t.elapsed());
    }

    // One durable commit, the deploy's baseline: deploy-to-first-callback is one such
    // batch (session, join and vote) plus instantiation. Back to back, the store's writer
    // never parks between commits: the best case.
    let path = NodePath::parse("/bench-commit")?;
    propose_set(&rt, &path, None).await?;
    let mut commits = histogram();
    // Deploy (cached component) until its first callback, each in an election of its own.
    // Before each, one commit under the deploy's own conditions (the writer idle since the
    // last undeploy, caches cold from instantiating): what one batch costs here.
    let mut deploys = histogram();
    let mut idle_commits = histogram();
    // The two take turns in slices, so a disk that speeds up or slows down during the run
    // weighs on the deploys and their baseline alike.
    let slices = args.slices.clamp(1, args.rounds.max(1));
    let mut round = 0;
    for slice in 0..slices {
        let deploys_now = args.rounds * (slice + 1) / slices - args.rounds * slice / slices;
        for _ in 0..deploys_now * 10 {
            let t = Instant::now();
            propose_set(&rt, &path, Some(round)).await?;
            record(&mut commits, t.elapsed());
            round += 1;
        }
        for _ in 0..deploys_now {
            let t = Instant::now();
            propose_set(&rt, &path, Some(round)).await?;
            record(&mut idle_commits, t.elapsed());
            let election = ElectionName::parse(&format!("deploy-{round}"))?;
            let name = format!("d{round}");
            let from = rt.timeline_cursor();
            let start = rt.uptime();
            let id = rt
                .deploy(candidate(name.clone(), &election, &example))
                .await?;
            let at = started_winning(&rt, &name, from).await?;
            record(&mut deploys, at.saturating_sub(start));
            rt.undeploy(id).await?;
            round += 1;
        }
    }

    // Failover: undeploy the leader of a queue, time the successor's on-winning-election.
    // The example candidate fences its writes with the election `example`, so it stands there.
    let election = ElectionName::parse("example")?;
    let failovers = undeploy_failovers(&rt, example.bytes(), &election, args.rounds).await?;

    let base50 = micros(&baseline, 0.5);
    let base99 = micros(&baseline, 0.99);
    println!(
        "empty exported call: p50 {base50:.1} us, p99 {base99:.1} us ({} calls)",
        baseline.len()
    );
    let (commit50, commit99) = (micros(&commits, 0.5), micros(&commits, 0.99));
    println!(
        "one durable commit: p50 {commit50:.1} us, p99 {commit99:.1} us ({} commits)",
        commits.len()
    );
    let (empty50, empty99) = (("empty_call_p50", base50), ("empty_call_p99", base99));
    let (idle50, idle99) = (micros(&idle_commits, 0.5), micros(&idle_commits, 0.99));
    println!(
        "one durable commit between deploys: p50 {idle50:.1} us, p99 {idle99:.1} us ({} commits)",
        idle_commits.len()
    );
    let (commit50, commit99) = (("commit_p50", commit50), ("commit_p99", commit99));
    let (idle50, idle99) = (("idle_commit_p50", idle50), ("idle_commit_p99", idle99));
    let figure = |name, h: &Histogram<u64>, q, (baseline, baseline_value)| Figure {
        name,
        value: micros(h, q),
        unit: "us",
        baseline,
        baseline_value,
    };
    let figures = [
        figure("callback_p50", &callback, 0.5, empty50),
        figure("callback_p99", &callback, 0.99, empty99),
        figure("deploy_to_first_callback_p50", &deploys, 0.5, commit50),
        figure("deploy_to_first_callback_p99", &deploys, 0.99, commit99),
        figure("idle_commit_p50", &idle_commits, 0.5, commit50),
        figure("deploy_vs_idle_commit_p50", &deploys, 0.5, idle50),
        figure("deploy_vs_idle_commit_p99", &deploys, 0.99, idle99),
        figure("failover_undeploy_p50", &failovers, 0.5, empty50),
        figure("failover_undeploy_p99", &failovers, 0.99, empty99),
    ];
    summarise(&figures);
    Ok(ExitCode::SUCCESS)
}

/// Sets `path` to `round` (creates it when `round` is `None`) in one durable commit.
async fn propose_set(rt: &Runtime, path: &NodePath, round: Option<usize>) -> anyhow::Result<()> {
    let op = match round {
        None => Op::Create {
            path: path.clone(),
            data: Data::from("0"),
            mode: CreateMode::PERSISTENT,
        },
        Some(round) => Op::Set {
            path: path.clone(),
            data: Data::from(round.to_string()),
            expected: None,
        },
    };
    rt.propose(Command::Multi {
        guard: None,
        ops: vec![op],
        quota: None,
    })
    .await??;
    Ok(())
}

/// Runs the runtime benchmark.
pub fn run(args: RuntimeArgs) -> anyhow::Result<ExitCode> {
    on_tokio_worker(measure(args))
}
