//! `work-queue [--items N] [--workers N] [--kills N] [--seed N]`: runs the exactly-once
//! work queue with its masters killed at random, and prints what the audit found. Exits
//! non-zero unless every item's effect appears exactly once, kills landed mid-claim, and
//! the lease's history passes the leadership model.

use std::process::ExitCode;

use anyhow::{Context, bail};
use work_queue::{Config, Report};

fn parse_args() -> anyhow::Result<Config> {
    let mut config = Config::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> anyhow::Result<u64> {
            let value = args
                .next()
                .with_context(|| format!("{name} needs a number"))?;
            value
                .parse()
                .with_context(|| format!("{name} needs a number, not {value:?}"))
        };
        match arg.as_str() {
            "--items" => config.items = number("--items")? as usize,
            "--workers" => config.workers = number("--workers")? as usize,
            "--kills" => config.kills = number("--kills")? as usize,
            "--seed" => config.seed = number("--seed")?,
            "-h" | "--help" => {
                println!("usage: work-queue [--items N] [--workers N] [--kills N] [--seed N]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    if config.items == 0 || config.workers == 0 {
        bail!("--items and --workers must be at least 1");
    }
    Ok(config)
}

fn print(config: &Config, report: &Report) {
    let audit = &report.audit;
    println!(
        "work-queue: {} items from {} producers, {} workers, seed {}",
        config.items, config.producers, config.workers, config.seed
    );
    println!(
        "  masters killed:          {} ({} mid-claim)",
        report.kills.total, report.kills.mid_claim
    );
    println!(
        "  claims cut short:        {} taken over and completed by the next master",
        report.taken_over
    );
    println!("  terms won:               {}", report.terms);
    println!("  lease commits applied:   {}", report.commits);
    println!(
        "  items done:              {} of {} ({:.2} s)",
        audit.items - audit.not_done.len(),
        audit.expected,
        report.elapsed.as_secs_f64()
    );
    println!("  effects:                 {}", audit.effects);
    if audit.exactly_once() {
        println!("  every item's effect appears exactly once");
    } else {
        println!("  NOT exactly once:");
        for item in &audit.not_done {
            println!("    {item}: not done");
        }
        for item in &audit.missing {
            println!("    {item}: done, no effect");
        }
        for (item, count) in &audit.duplicated {
            println!("    {item}: {count} effects");
        }
        for line in &audit.mismatched {
            println!("    {line}");
        }
    }
    match &report.history {
        Ok(()) => println!("  lease history: linearizable (leadership model)"),
        Err(why) => println!("  lease history: NOT linearizable: {why}"),
    }
    if report.taken_over == 0 {
        println!(
            "  no claim cut short by a kill was taken over: the run showed nothing; try more --kills"
        );
    }
}

fn main() -> anyhow::Result<ExitCode> {
    let config = parse_args()?;
    let wasm = work_queue::bundled::WORK_QUEUE_WORKER;
    let report = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(work_queue::run(&config, wasm))?;
    print(&config, &report);
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
