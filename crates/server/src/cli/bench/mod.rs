//! `ballot bench`: measured figures, each against a baseline measured in the same run,
//! ending with one `SUMMARY <name> <value> <unit> <ratio> <baseline>` line per figure so
//! runs can be compared line by line. Run optimised: `cargo run --release -- bench ...`.

pub(crate) mod cluster;
mod commit;
mod events;
mod foundation;
mod handoff;
mod languages;
pub(crate) mod peers;
mod runtime;
mod sandbox;
mod serve;
mod sim;
mod store;
mod swap;
pub(crate) mod zookeeper;

use std::process::ExitCode;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Arguments of `ballot bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    suite: Option<Suite>,
}

impl BenchArgs {
    /// Whether this run is the simulation benchmark, whose crashes and torn tails are on
    /// purpose (so only errors are worth logging).
    pub fn simulates(&self) -> bool {
        matches!(self.suite, Some(Suite::Sim(_)))
    }
}

#[derive(Debug, clap::Subcommand)]
enum Suite {
    /// Namespace operations, votes and failover (the default).
    Foundation(foundation::FoundationArgs),
    /// The embedded store: fdatasync baseline, commit latency, group-commit throughput.
    Store(store::StoreArgs),
    /// Components as actors: callback latency, deploy to first callback, failover.
    Runtime(runtime::RuntimeArgs),
    /// The sandbox: failover after a trap, and the cost of epoch yields on busy guests.
    Sandbox(sandbox::SandboxArgs),
    /// Hot-swap: the callback blackout of a busy leader, against a failover.
    Swap(swap::SwapArgs),
    /// Planned handoffs: the blackout of a handoff to the next in line, against a
    /// failover by undeploy on the same queue.
    Handoff(handoff::HandoffArgs),
    /// The HTTP API: leader query latency against a bare axum handler, and the
    /// blackout of hot-swaps made over HTTP.
    Serve(serve::ServeArgs),
    /// Many hosts on etcd: guarded commits through the etcd log against etcd's own put and
    /// Txn-guarded put, on a 3-member cluster started for the run.
    Cluster(cluster::ClusterArgs),
    /// Event streams: failover with thousands of `GET /v1/events` streams open against
    /// none, and the host's memory before, during and after them.
    Events(events::EventsArgs),
    /// Guarded commits with a transaction function against the same with plain ops.
    Commit(commit::CommitArgs),
    /// The same candidate in Rust, Python and JavaScript: size, compile, load from the
    /// disk cache, deploy to first callback, callback latency and memory, against Rust.
    Languages(languages::LanguagesArgs),
    /// Beside its peers: guarded writes (1-client latency, 16- and 64-client throughput)
    /// and failover after `kill -9`, ballot over HTTP against etcd and ZooKeeper (when
    /// installed), each through its own network API.
    Peers(peers::PeersArgs),
    /// Deterministic simulation: simulated operations per second against the same
    /// operations run directly on the elections.
    Sim(sim::SimArgs),
}

/// One reported figure and the baseline it is compared with.
pub(crate) struct Figure {
    pub name: &'static str,
    pub value: f64,
    pub unit: &'static str,
    pub baseline: &'static str,
    pub baseline_value: f64,
}

/// Runs an async benchmark on the runtime every component benchmark uses: tokio with
/// two workers, as many as the machine has cores.
pub(crate) fn on_tokio(
    benchmark: impl std::future::Future<Output = anyhow::Result<ExitCode>>,
) -> anyhow::Result<ExitCode> {
    two_workers()?.block_on(benchmark)
}

/// [`on_tokio`], with the benchmark itself a task on one of the runtime's workers, as
/// every caller of a running host is (`ballot serve`'s request handlers): what it spawns
/// and wakes goes through that worker's own queue, not the runtime's shared one.
pub(crate) fn on_tokio_worker(
    benchmark: impl std::future::Future<Output = anyhow::Result<ExitCode>> + Send + 'static,
) -> anyhow::Result<ExitCode> {
    let runtime = two_workers()?;
    let task = runtime.spawn(benchmark);
    runtime.block_on(task)?
}

fn two_workers() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// A candidate deployment with default limits and a 10 s TTL: what the component
/// benchmarks deploy, each adjusting what it measures.
pub(crate) fn candidate(
    name: String,
    election: &ballot_core::election::ElectionName,
    wasm: impl Into<ballot_runtime::Code>,
) -> ballot_runtime::DeploySpec {
    ballot_runtime::DeploySpec {
        public_id: None,
        name,
        wasm: wasm.into(),
        role: ballot_runtime::Role::Candidate {
            election: election.clone(),
            data: Vec::new(),
            follow_leader: false,
            priority: None,
        },
        ttl: Duration::from_secs(10),
        tick: None,
        limits: Default::default(),
        supervision: Default::default(),
    }
}

/// Failover by undeploy, `rounds` times: in a queue of three candidates of `wasm` in
/// `election`, the leader is undeployed and the time until its successor's
/// on-winning-election starts is recorded; a fresh candidate joins the back each round.
pub(crate) async fn undeploy_failovers(
    rt: &ballot_runtime::Runtime,
    wasm: &[u8],
    election: &ballot_core::election::ElectionName,
    rounds: usize,
) -> anyhow::Result<Histogram<u64>> {
    let prefix = format!("{election}-");
    let mut queue = std::collections::VecDeque::new();
    let from = rt.timeline_cursor();
    for i in 0..3 {
        let name = format!("{prefix}{i}");
        let id = rt.deploy(candidate(name.clone(), election, wasm)).await?;
        queue.push_back((name, id));
    }
    let first = queue[0].0.clone();
    started_winning(rt, &first, from).await?;
    let mut failovers = histogram();
    for round in 0..rounds {
        let (_, leader) = queue.pop_front().expect("a queue of three");
        let successor = queue.front().expect("a queue of three").0.clone();
        let from = rt.timeline_cursor();
        let start = rt.uptime();
        rt.undeploy(leader).await?;
        let won = started_winning(rt, &successor, from).await?;
        record(&mut failovers, won.saturating_sub(start));
        let name = format!("{prefix}{}", round + 3);
        let id = rt.deploy(candidate(name.clone(), election, wasm)).await?;
        queue.push_back((name, id));
    }
    Ok(failovers)
}

/// Who and when of the first timeline entry from index `from` on that `pick` accepts,
/// waiting at most 10 s and waking on each new line: how the component benchmarks wait
/// for what the runtime does.
pub(crate) async fn next_entry(
    rt: &ballot_runtime::Runtime,
    from: u64,
    pick: impl Fn(&str, &ballot_runtime::TimelineEvent) -> bool,
) -> anyhow::Result<(String, Duration)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    rt.next_in_timeline(from, deadline, |e| pick(&e.deployment, &e.event))
        .await
        .map(|entry| (entry.deployment, entry.at))
        .ok_or_else(|| anyhow::anyhow!("the timeline never showed what was waited for"))
}

/// Whether `event` is the start of an on-winning-election callback.
pub(crate) fn winning(event: &ballot_runtime::TimelineEvent) -> bool {
    matches!(
        event,
        ballot_runtime::TimelineEvent::Callback(ballot_runtime::Delivered::WinningElection { .. })
    )
}

/// When `who` next started an on-winning-election, at timeline index `from` or later.
pub(crate) async fn started_winning(
    rt: &ballot_runtime::Runtime,
    who: &str,
    from: u64,
) -> anyhow::Result<Duration> {
    let (_, at) = next_entry(rt, from, |name, event| name == who && winning(event)).await?;
    Ok(at)
}

/// Runs blocking client work (ureq calls) off the tokio workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f).await?
}

/// Prints the summary lines.
pub(crate) fn summarise(figures: &[Figure]) {
    for f in figures {
        println!(
            "SUMMARY {} {:.2} {} {:.3} {}",
            f.name,
            f.value,
            f.unit,
            f.value / f.baseline_value,
            f.baseline
        );
    }
}

/// A latency histogram from 1 ns to a minute, 3 significant digits.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds")
}

/// Records one latency.
pub(crate) fn record(histogram: &mut Histogram<u64>, elapsed: Duration) {
    let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
    histogram.saturating_record(nanos.max(1));
}

/// Microseconds at a quantile.
pub(crate) fn micros(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1e3
}

/// Runs the chosen suite.
pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: unoptimised build; run `cargo run --release -- bench` for real figures"
        );
    }
    match args.suite {
        None => foundation::run(foundation::FoundationArgs::default()),
        Some(Suite::Foundation(args)) => foundation::run(args),
        Some(Suite::Store(args)) => store::run(args),
        Some(Suite::Runtime(args)) => runtime::run(args),
        Some(Suite::Sandbox(args)) => sandbox::run(args),
        Some(Suite::Swap(args)) => swap::run(args),
        Some(Suite::Handoff(args)) => handoff::run(args),
        Some(Suite::Serve(args)) => serve::run(args),
        Some(Suite::Cluster(args)) => cluster::run(args),
        Some(Suite::Commit(args)) => commit::run(args),
        Some(Suite::Languages(args)) => languages::run(args),
        Some(Suite::Events(args)) => events::run(args),
        Some(Suite::Peers(args)) => peers::run(args),
        Some(Suite::Sim(args)) => sim::run(args),
    }
}
