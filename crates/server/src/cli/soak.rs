//! `ballot soak crash`: a real `ballot serve` killed with SIGKILL under writers, round
//! after round, and every write it acknowledged audited after each restart.
//!
//! Each round starts the host on the same data folder, audits everything acknowledged in
//! every round before (each node must be there), lets `--writers` clients create nodes
//! over HTTP until a random moment, and kills the host mid-write. A write whose answer
//! never came may or may not have applied; one answered 200 must survive every later
//! crash. Ends with one line: rounds, acknowledged writes, losses (non-zero exit on any).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::bench::cluster::{BENCH_TOKEN, HostProcess, agent};

/// Arguments of `ballot soak`.
#[derive(Debug, clap::Args)]
pub struct SoakArgs {
    #[command(subcommand)]
    what: Soak,
}

#[derive(Debug, clap::Subcommand)]
enum Soak {
    /// Kill -9 a host under writers, restart it, audit every acknowledged write.
    Crash(CrashArgs),
}

/// Arguments of `ballot soak crash`.
#[derive(Debug, clap::Args)]
pub struct CrashArgs {
    /// Kills (and restarts) of the host.
    #[arg(long, default_value_t = 100)]
    rounds: u32,
    /// Clients writing at once, each one write at a time.
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// The kill lands at a random moment up to this long after the round's first ack.
    #[arg(long, default_value_t = 200)]
    max_run_ms: u64,
    /// Seed of the kill moments, to run the same schedule again.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where the host keeps its data and log (default: a temporary folder, removed after).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Runs the chosen soak.
pub fn run(args: SoakArgs) -> anyhow::Result<ExitCode> {
    match args.what {
        Soak::Crash(args) => crash(args),
    }
}

fn crash(args: CrashArgs) -> anyhow::Result<ExitCode> {
    let temporary = tempfile::tempdir()?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temporary.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let mut rng = args.seed.max(1);
    let mut acked: BTreeSet<String> = BTreeSet::new();
    let mut lost = 0usize;
    let started = Instant::now();
    for round in 0..args.rounds {
        let mut host = HostProcess::start_with(&dir, "host", &[])
            .with_context(|| format!("starting the host for round {round}"))?;
        if round == 0 {
            create(&host.base, "/soak").context("creating /soak")?;
        }
        let missing = audit(&host.base, &acked)?;
        if !missing.is_empty() {
            eprintln!(
                "round {round}: {} acknowledged write(s) missing, e.g. {:?}",
                missing.len(),
                missing.iter().take(5).collect::<Vec<_>>()
            );
            lost += missing.len();
            acked.retain(|name| !missing.contains(name));
        }
        let round_acks = write_until_killed(&mut host, round, &args, &mut rng)?;
        acked.extend(round_acks);
        if (round + 1) % 50 == 0 || round + 1 == args.rounds {
            eprintln!(
                "after {} rounds: {} acknowledged writes, {lost} lost ({:.0?})",
                round + 1,
                acked.len(),
                started.elapsed()
            );
        }
    }
    // The last round's writes, after one more restart.
    let host = HostProcess::start_with(&dir, "host", &[])?;
    let missing = audit(&host.base, &acked)?;
    lost += missing.len();
    drop(host);
    println!(
        "soak crash: {} rounds of kill -9, {} acknowledged writes, {lost} lost ({:.1?})",
        args.rounds,
        acked.len() + missing.len(),
        started.elapsed()
    );
    println!("SUMMARY soak_crash_lost_writes {lost} writes 0.000 acknowledged_writes");
    Ok(if lost == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Runs the writers against `host` until it is killed at a random moment after the first
/// acknowledgement; returns the names of the nodes whose creation was answered 200.
fn write_until_killed(
    host: &mut HostProcess,
    round: u32,
    args: &CrashArgs,
    rng: &mut u64,
) -> anyhow::Result<Vec<String>> {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let killed = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..args.writers)
        .map(|writer| {
            let (base, acked, killed) = (host.base.clone(), acked.clone(), killed.clone());
            std::thread::spawn(move || {
                for n in 0u64.. {
                    if killed.load(Ordering::Acquire) {
                        return;
                    }
                    let name = format!("r{round}-w{writer}-{n}");
                    match create(&base, &format!("/soak/{name}")) {
                        Ok(()) => acked.lock().unwrap_or_else(|p| p.into_inner()).push(name),
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap_or_else(|p| p.into_inner()).is_empty() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "round {round}: no write was acknowledged within 30 s"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_micros(below(
        rng,
        args.max_run_ms.max(1) * 1000,
    )));
    host.kill();
    killed.store(true, Ordering::Release);
    for writer in writers {
        let _ = writer.join();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(acked)
}

/// Creates the persistent node `path` through the host's API.
fn create(base: &str, path: &str) -> anyhow::Result<()> {
    let mut answer = agent()
        .post(format!("{base}/v1/multi"))
        .header("authorization", format!("Bearer {BENCH_TOKEN}"))
        .send_json(serde_json::json!({"ops": [{"op": "create", "path": path}]}))?;
    let status = answer.status().as_u16();
    anyhow::ensure!(
        status == 200,
        "{status}: {}",
        answer.body_mut().read_to_string().unwrap_or_default()
    );
    Ok(())
}

/// The acknowledged names not among `/soak`'s children.
fn audit(base: &str, acked: &BTreeSet<String>) -> anyhow::Result<BTreeSet<String>> {
    let mut answer = agent().get(format!("{base}/v1/nodes/soak")).call()?;
    anyhow::ensure!(
        answer.status().as_u16() == 200,
        "reading /soak: {}",
        answer.status()
    );
    let node: serde_json::Value = answer.body_mut().read_json()?;
    let children: BTreeSet<&str> = node["children"]
        .as_array()
        .context("/soak has no children list")?
        .iter()
        .filter_map(|child| child.as_str())
        .collect();
    Ok(acked
        .iter()
        .filter(|name| !children.contains(name.as_str()))
        .cloned()
        .collect())
}

/// A number below `bound` from a xorshift generator.
fn below(state: &mut u64, bound: u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state % bound.max(1)
}
