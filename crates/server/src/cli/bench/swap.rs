//! `ballot bench swap`: how long a hot-swap stops a leader's work. The blackout is the
//! old instance's last import call to the new instance's first callback, with the old
//! leader busy (ticking every millisecond, each tick a guarded write) and both versions
//! compiled already. The baseline, in the same run, is what the swap avoids: a failover
//! (the leader undeployed until its successor's on-winning-election starts).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use ballot_check::history::Recorder;
use ballot_core::election::ElectionName;
use ballot_runtime::{DeploySpec, Runtime, SwapOutcome, TimelineEvent, new_engine};
use ballot_store::clock::SystemClock;
use ballot_store::{EmbeddedStore, Options};

use super::{
    Figure, candidate, histogram, micros, next_entry, on_tokio, record, summarise,
    undeploy_failovers,
};

/// Arguments of `ballot bench swap`.
#[derive(Debug, clap::Args)]
pub struct SwapArgs {
    /// Swaps (and failovers) measured.
    #[arg(long, default_value_t = 100)]
    rounds: usize,
}

fn spec(name: &str, wasm: &[u8], tick: Option<Duration>) -> anyhow::Result<DeploySpec> {
    // The example candidates fence their writes with the election `example`.
    let election = ElectionName::parse("example")?;
    Ok(DeploySpec {
        tick,
        ..candidate(name.to_string(), &election, wasm)
    })
}

/// Blackouts of `rounds` swaps of a busy leader between v1 and v2.
async fn blackouts(rt: &Runtime, rounds: usize) -> anyhow::Result<Histogram<u64>> {
    let v1 = crate::cli::bundled::EXAMPLE_CANDIDATE.to_vec();
    let v2 = crate::cli::bundled::EXAMPLE_CANDIDATE_V2.to_vec();
    let leader = rt
        .deploy(spec("busy", &v1, Some(Duration::from_millis(1)))?)
        .await?;
    next_entry(rt, 0, |who, e| {
        who == "busy" && matches!(e, TimelineEvent::Acked(_))
    })
    .await?;
    // Compile v2 once, and let both versions settle into ticking.
    rt.swap(leader, &v2).await?;
    rt.swap(leader, &v1).await?;
    let mut blackouts = histogram();
    for round in 0..rounds {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let next = if round % 2 == 0 { &v2 } else { &v1 };
        let report = rt.swap(leader, next).await?;
        anyhow::ensure!(
            report.outcome == SwapOutcome::Activated,
            "swap {round}: {:?}",
            report.outcome
        );
        anyhow::ensure!(
            report.old_last_import.is_some(),
            "the old instance made no import call"
        );
        record(&mut blackouts, report.blackout());
    }
    rt.undeploy(leader).await?;
    Ok(blackouts)
}

async fn measure(args: SwapArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir_in(std::env::temp_dir())?;
    let store: EmbeddedStore =
        EmbeddedStore::open(dir.path(), Arc::new(SystemClock::new()), Options::default())?;
    let engine = new_engine().map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let rt = Runtime::new(engine, store, Recorder::off())?;

    let blackouts = blackouts(&rt, args.rounds).await?;
    let example = crate::cli::bundled::EXAMPLE_CANDIDATE.to_vec();
    let election = ElectionName::parse("example")?;
    let failovers = undeploy_failovers(&rt, &example, &election, args.rounds).await?;
    println!(
        "hot-swap blackout: p50 {:.1} us, p99 {:.1} us; failover by undeploy: p50 {:.1} us, p99 {:.1} us ({} rounds)",
        micros(&blackouts, 0.5),
        micros(&blackouts, 0.99),
        micros(&failovers, 0.5),
        micros(&failovers, 0.99),
        args.rounds
    );
    let figure = |name, q, baseline| Figure {
        name,
        value: micros(&blackouts, q),
        unit: "us",
        baseline,
        baseline_value: micros(&failovers, q),
    };
    summarise(&[
        figure("swap_blackout_p50", 0.5, "failover_undeploy_p50"),
        figure("swap_blackout_p99", 0.99, "failover_undeploy_p99"),
    ]);
    Ok(ExitCode::SUCCESS)
}

/// Runs the hot-swap benchmark.
pub fn run(args: SwapArgs) -> anyhow::Result<ExitCode> {
    on_tokio(measure(args))
}
