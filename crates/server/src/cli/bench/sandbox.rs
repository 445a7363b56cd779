//! `ballot bench sandbox`: what confinement costs. Failover after a leader's trap (trap
//! to the successor's on-winning-election) against failover after an undeploy in the same
//! run; and a compute-bound guest under the epoch callback (a yield every tick) against
//! the same guest with no deadline, and on an engine without epoch checks at all.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use ballot_check::history::Recorder;
use ballot_core::command::Command;
use ballot_core::election::ElectionName;
use ballot_core::namespace::{CreateMode, Data, NodePath, Op};
use ballot_runtime::{
    DeploySpec, Runtime, Supervision, TimelineEvent, new_engine, new_engine_without_epochs,
};
use ballot_store::clock::SystemClock;
use ballot_store::{EmbeddedStore, Options};
use wasmtime::Engine;

use super::{
    Figure, candidate, histogram, micros, next_entry, on_tokio, record, summarise,
    undeploy_failovers, winning,
};

/// Arguments of `ballot bench sandbox`.
#[derive(Debug, clap::Args)]
pub struct SandboxArgs {
    /// Failovers measured per kind.
    #[arg(long, default_value_t = 100)]
    rounds: usize,
    /// Calls of the compute-bound tick per configuration.
    #[arg(long, default_value_t = 10)]
    calls: usize,
}

/// The node whose change kills the trap-on-event leader.
const KILL: &str = "/fixtures/kill";

fn spec(name: String, election: &ElectionName, wasm: &[u8]) -> DeploySpec {
    DeploySpec {
        public_id: None,
        // Crashing is the point here: restart at once, never give up.
        supervision: Supervision {
            backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
            max_crashes: u32::MAX,
            window: Duration::from_secs(1),
            max_silence: None,
        },
        ..candidate(name, election, wasm)
    }
}

fn runtime_on(engine: Engine, dir: &std::path::Path) -> anyhow::Result<Runtime> {
    let store: EmbeddedStore =
        EmbeddedStore::open(dir, Arc::new(SystemClock::new()), Options::default())?;
    Ok(Runtime::new(engine, store, Recorder::off())?)
}

/// Creates the kill node if it is absent, deletes it if present: either fires the
/// leader's exists watch.
async fn toggle_kill(rt: &Runtime) -> anyhow::Result<()> {
    let kill = NodePath::parse(KILL)?;
    let op = if rt.state().exists(&kill).is_some() {
        Op::Delete {
            path: kill,
            expected: None,
        }
    } else {
        Op::Create {
            path: kill,
            data: Data::default(),
            mode: CreateMode::PERSISTENT,
        }
    };
    let command = Command::Multi {
        guard: None,
        ops: vec![op],
        quota: None,
    };
    // A refusal (a toggle racing another) only means this round fires no watch.
    let _ = rt.propose(command).await?;
    Ok(())
}

/// Leader trap to successor's on-winning-election, `rounds` times.
async fn trap_failovers(rt: &Runtime, rounds: usize) -> anyhow::Result<Histogram<u64>> {
    let wasm = crate::cli::bundled::FIXTURE_TRAP_ON_EVENT.to_vec();
    let election = ElectionName::parse("bench-trap")?;
    let fixtures = NodePath::parse("/fixtures")?;
    let op = Op::Create {
        path: fixtures,
        data: Data::default(),
        mode: CreateMode::PERSISTENT,
    };
    // Already there from an earlier run of this benchmark: fine.
    let _ = rt
        .propose(Command::Multi {
            guard: None,
            ops: vec![op],
            quota: None,
        })
        .await?;
    for i in 0..3 {
        rt.deploy(spec(format!("t{i}"), &election, &wasm)).await?;
    }
    next_entry(rt, 0, |who, e| {
        who == "t0" && matches!(e, TimelineEvent::Acked(_))
    })
    .await?;
    let mut failovers = histogram();
    for _ in 0..rounds {
        let from = rt.timeline_cursor();
        toggle_kill(rt).await?;
        let (dead, trapped) =
            next_entry(rt, from, |_, e| matches!(e, TimelineEvent::Trapped(_))).await?;
        let (_, won) = next_entry(rt, from, |who, e| who != dead && winning(e)).await?;
        record(&mut failovers, won.saturating_sub(trapped));
        // Let the successor finish taking over (its watch is set once it acks).
        next_entry(rt, from, |who, e| {
            who != dead && matches!(e, TimelineEvent::Acked(_))
        })
        .await?;
    }
    Ok(failovers)
}

/// The compute fixture's tick, ready to call in one configuration.
struct Compute {
    store: wasmtime::Store<ballot_runtime::host_impl::HostState>,
    guest: ballot_runtime::bindings::candidate::Candidate,
    times_ms: Vec<f64>,
}

impl Compute {
    async fn new(rt: &Runtime, confined: bool) -> anyhow::Result<Self> {
        let wasm = crate::cli::bundled::FIXTURE_COMPUTE.to_vec();
        let (store, guest) = rt.bare_candidate(&wasm, confined).await?;
        let mut compute = Compute {
            store,
            guest,
            times_ms: Vec::new(),
        };
        compute.call().await?; // warm-up, not kept
        compute.times_ms.clear();
        Ok(compute)
    }

    async fn call(&mut self) -> anyhow::Result<()> {
        let start = Instant::now();
        self.guest
            .call_tick(&mut self.store)
            .await
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        self.times_ms.push(start.elapsed().as_secs_f64() * 1e3);
        Ok(())
    }

    fn median_ms(&mut self) -> f64 {
        self.times_ms.sort_by(f64::total_cmp);
        self.times_ms[self.times_ms.len() / 2]
    }
}

async fn measure(args: SandboxArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir_in(std::env::temp_dir())?;
    let engine = new_engine().map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let rt = runtime_on(engine, &dir.path().join("epochs"))?;

    let empty = crate::cli::bundled::EMPTY_EXPORT.to_vec();
    let election = ElectionName::parse("bench-undeploy")?;
    let undeploys = undeploy_failovers(&rt, &empty, &election, args.rounds).await?;
    let traps = trap_failovers(&rt, args.rounds).await?;
    println!(
        "failover after undeploy: p50 {:.1} us, p99 {:.1} us; after a trap: p50 {:.1} us, p99 {:.1} us ({} rounds)",
        micros(&undeploys, 0.5),
        micros(&undeploys, 0.99),
        micros(&traps, 0.5),
        micros(&traps, 0.99),
        args.rounds
    );

    // The three configurations take turns, call by call, so drift in the machine's speed
    // lands on all of them alike; each reports its median call.
    let plain = new_engine_without_epochs().map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let plain_rt = runtime_on(plain, &dir.path().join("plain"))?;
    let mut unwatched = Compute::new(&rt, false).await?;
    let mut yielding = Compute::new(&rt, true).await?;
    let mut uninstrumented = Compute::new(&plain_rt, false).await?;
    for _ in 0..args.calls.max(1) {
        unwatched.call().await?;
        yielding.call().await?;
        uninstrumented.call().await?;
    }
    let (unwatched, yielding, uninstrumented) = (
        unwatched.median_ms(),
        yielding.median_ms(),
        uninstrumented.median_ms(),
    );
    println!(
        "compute-bound tick: {yielding:.1} ms under the epoch callback, {unwatched:.1} ms with no deadline, {uninstrumented:.1} ms without epoch checks"
    );

    let failover = |name, q| Figure {
        name,
        value: micros(&traps, q),
        unit: "us",
        baseline: if q == 0.5 {
            "failover_undeploy_p50"
        } else {
            "failover_undeploy_p99"
        },
        baseline_value: micros(&undeploys, q),
    };
    let compute = |name, value| Figure {
        name,
        value,
        unit: "ms",
        baseline: "compute_no_deadline",
        baseline_value: unwatched,
    };
    summarise(&[
        failover("failover_trap_p50", 0.5),
        failover("failover_trap_p99", 0.99),
        compute("compute_epoch_yield", yielding),
        compute("compute_without_epoch_checks", uninstrumented),
    ]);
    Ok(ExitCode::SUCCESS)
}

/// Runs the sandbox benchmark.
pub fn run(args: SandboxArgs) -> anyhow::Result<ExitCode> {
    on_tokio(measure(args))
}
