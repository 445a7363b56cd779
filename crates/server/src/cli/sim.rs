//! `ballot sim`: deterministic simulation runs, one line per seed with the faults it
//! injected, a summary, and for a failing seed its account and its shrunk schedule.
//!
//! Exit code 0 when every seed passed, 1 when one failed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;

use ballot_sim::{Config, FaultCounts, Planted, Sim, Topology, schedule, shrink};

/// Arguments of `ballot sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// How many seeds to run, from `--from`.
    #[arg(long, default_value_t = 100)]
    pub seeds: u64,
    /// The first seed of the range.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Run only this seed (reproduces a failure from its number).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Plant a bug to show the simulator finds it: fencing-off or ack-before-sync (one
    /// host), fencing-off or reapply-redelivered (with --shared-log).
    #[arg(long, value_parser = parse_planted, default_value = "none")]
    pub planted: Planted,
    /// Run HOSTS hosts sharing one namespace through one simulated ordered log (as hosts
    /// on etcd do) instead of one host on the embedded store: crashes become faults of
    /// the log or a host (lost append answers, failed appends, redeliveries, a host
    /// killed, expired and restarted) and snapshot steps stall a host's follower.
    #[arg(long, value_name = "HOSTS", value_parser = clap::value_parser!(u64).range(1..=16))]
    pub shared_log: Option<u64>,
    /// Clients per run.
    #[arg(long, default_value_t = Config::default().clients)]
    pub clients: usize,
    /// Steps per schedule.
    #[arg(long, default_value_t = Config::default().steps)]
    pub steps: usize,
    /// Keep going after a failing seed.
    #[arg(long)]
    pub keep_going: bool,
    /// Do not shrink a failing schedule.
    #[arg(long)]
    pub no_shrink: bool,
    /// Write the histories of a failing seed here (data.jsonl for `--model kv`,
    /// ballot.jsonl and lease.jsonl for `--model leadership`).
    #[arg(long, value_name = "DIR")]
    pub histories: Option<PathBuf>,
    /// Print only failing seeds and the summary, not one line per seed.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_planted(word: &str) -> Result<Planted, String> {
    Planted::parse(word).ok_or_else(|| {
        format!(
            "unknown planted bug {word:?}: use none, fencing-off, ack-before-sync or \
             reapply-redelivered"
        )
    })
}

/// Runs `ballot sim`.
pub fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    let (topology, flag, described) = match args.shared_log {
        None => (Topology::Embedded, String::new(), String::new()),
        Some(hosts) => (
            Topology::SharedLog {
                hosts: hosts as usize,
            },
            format!(" --shared-log {hosts}"),
            format!(" on {hosts} hosts sharing a log"),
        ),
    };
    match (topology, args.planted) {
        (Topology::SharedLog { .. }, Planted::AckBeforeSync) => anyhow::bail!(
            "--planted ack-before-sync plants a bug in the embedded store's fdatasync, which \
             hosts on a shared log do not use; with --shared-log plant fencing-off or \
             reapply-redelivered"
        ),
        (Topology::Embedded, Planted::ReapplyRedelivered) => anyhow::bail!(
            "--planted reapply-redelivered plants a bug in hosts on a shared log; add \
             --shared-log HOSTS"
        ),
        _ => {}
    }
    // The faults the runs inject are logged by the store as errors, thousands of them:
    // they are counted in each seed's line instead.
    let _quiet = tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::default());
    let config = Config {
        topology,
        clients: args.clients.max(1),
        steps: args.steps,
        planted: args.planted,
        ..Config::default()
    };
    let seeds = match args.seed {
        Some(seed) => seed..seed + 1,
        None => args.from..args.from + args.seeds,
    };
    let start = Instant::now();
    let (mut passed, mut failed, mut ops) = (0u64, Vec::new(), 0usize);
    let mut faults = FaultCounts::default();
    let mut planned = ballot_sim::planned::PlannedCounts::default();
    for seed in seeds.clone() {
        let report = Sim::run(seed, &config);
        faults.add(&report.faults);
        planned.add(&report.planned);
        ops += report.ops;
        if !args.quiet || !report.passed() {
            println!("{}", report.line());
        }
        let Some(failure) = &report.failure else {
            passed += 1;
            continue;
        };
        failed.push(seed);
        println!("{failure}");
        println!(
            "reproduce: ballot sim --seed {seed}{flag} --planted {} --clients {} --steps {}",
            config.planted, config.clients, config.steps
        );
        if let Some(dir) = &args.histories {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            for (name, history) in ["data", "ballot", "lease"].iter().zip(&report.histories) {
                let path = dir.join(format!("{name}.jsonl"));
                std::fs::write(&path, history.to_jsonl())
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("history: {}", path.display());
            }
        }
        if !args.no_shrink {
            let steps = schedule::generate(seed, &config);
            let short = shrink(seed, &steps, &config);
            println!(
                "shrunk from {} to {} steps ({} faults):",
                steps.len(),
                short.len(),
                short.iter().filter(|s| s.is_fault()).count()
            );
            for step in &short {
                println!("  {step}");
            }
        }
        if !args.keep_going {
            break;
        }
    }
    let run = passed + failed.len() as u64;
    println!(
        "{run} seeds ({}..{}){} with planted bug {}: {passed} passed, {} failed{} in {:.2?}; {ops} client ops",
        seeds.start,
        seeds.start + run,
        described,
        config.planted,
        failed.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(" (seeds {failed:?})")
        },
        start.elapsed()
    );
    println!("faults injected: {faults}");
    println!("planned changes: {planned} (odd seeds run a priority election)");
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
