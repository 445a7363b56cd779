//! `ballot bench sim`: what deterministic simulation costs. Simulated operations per
//! second (every client request that reached the host, with the store stepped over the
//! simulated disk, the network, the faults and the history recording; with and without
//! the end-of-run linearizability checks) against the same requests run directly on
//! in-memory elections, the baseline: no store, network, faults or checks.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use ballot_sim::{Config, Sim, host, verdict};

use super::{Figure, summarise};

/// Arguments of `ballot bench sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Seeds to run.
    #[arg(long, default_value_t = 300)]
    seeds: u64,
    /// Times the baseline replays each run's requests (it is fast; repeat to time it).
    #[arg(long, default_value_t = 20)]
    replays: u32,
}

/// Runs the benchmark.
pub fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    let config = Config::default();
    let (mut sim_time, mut check_time, mut direct_time) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut requests, mut replayed) = (0usize, 0usize);
    let mut failures = 0;
    for seed in 0..args.seeds {
        let start = Instant::now();
        let report = Sim::run(seed, &config);
        sim_time += start.elapsed();
        if !report.passed() {
            failures += 1;
        }
        let start = Instant::now();
        std::hint::black_box(verdict::check_histories(&report.histories));
        check_time += start.elapsed();
        requests += report.requests.len();
        let start = Instant::now();
        for _ in 0..args.replays {
            replayed += host::replay(&report.requests, &config);
        }
        direct_time += start.elapsed();
    }
    if failures > 0 {
        anyhow::bail!("{failures} seeds failed: run `ballot sim` to see them");
    }
    let per_sec = |n: usize, t: Duration| n as f64 / t.as_secs_f64().max(1e-9);
    let sim = per_sec(requests, sim_time);
    let unchecked = per_sec(requests, sim_time.saturating_sub(check_time));
    let direct = per_sec(replayed, direct_time);
    println!(
        "{} seeds, {requests} simulated requests in {sim_time:.2?} ({check_time:.2?} of it checking histories)",
        args.seeds
    );
    println!("simulated: {sim:.0} ops/s with checks, {unchecked:.0} ops/s without");
    println!(
        "direct on the elections: {direct:.0} ops/s ({replayed} requests in {direct_time:.2?})"
    );
    summarise(&[
        Figure {
            name: "sim_ops_per_sec",
            value: sim,
            unit: "ops/s",
            baseline: "direct_ops_per_sec",
            baseline_value: direct,
        },
        Figure {
            name: "sim_ops_per_sec_unchecked",
            value: unchecked,
            unit: "ops/s",
            baseline: "direct_ops_per_sec",
            baseline_value: direct,
        },
    ]);
    Ok(ExitCode::SUCCESS)
}
