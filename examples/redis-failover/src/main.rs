//! `redis-failover [--depth N]`: explores seed 001 with the original coordinator to the
//! depth the issue asks for (4 beyond the first anomaly, and both anomalies found), or to
//! `N` if that is deeper, then with ballot as the coordinator to the same depth, then the
//! controls (ballot with one rule taken out), and prints what each found, with an example
//! of each anomaly.

use std::time::Instant;

use anyhow::{Context, bail};
use redis_failover::{Anomaly, Coordinator, Explorer, Rule, Summary, history_of, schedule_of};

/// The original coordinator shows both anomalies well before this; stop if it does not.
const DEPTH_LIMIT: usize = 30;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut asked = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--depth" => {
                let value = args.next().context("--depth needs a number")?;
                asked = Some(value.parse::<usize>().context("--depth needs a number")?);
            }
            "-h" | "--help" => {
                println!("usage: redis-failover [--depth N]");
                return Ok(());
            }
            other => bail!("unknown argument {other:?} (usage: redis-failover [--depth N])"),
        }
    }

    println!("seed 001, the Knossos Redis-failover model: nodes a b c, clients a b,");
    println!(
        "every schedule explored breadth first, every distinct history checked (register model)"
    );
    println!();

    let started = Instant::now();
    let mut explorer = Explorer::new(Coordinator::Original)?;
    let required = loop {
        if let Some(required) = explorer.summary().required_depth() {
            break required;
        }
        if explorer.summary().depth >= DEPTH_LIMIT {
            bail!("no anomaly of each kind within depth {DEPTH_LIMIT}");
        }
        explorer.deepen()?;
    };
    let depth = asked.map_or(required, |asked| asked.max(required));
    while explorer.summary().depth < depth {
        explorer.deepen()?;
    }
    // Keep the figures, free the states before the next exploration.
    let original = explorer.summary().clone();
    drop(explorer);
    let original_time = started.elapsed();
    let first = original
        .first_violation_depth()
        .expect("required_depth implies a violation");
    println!("smallest depth showing an anomaly (original coordinator): {first}");
    for anomaly in Anomaly::ALL {
        let example = original.seen(anomaly).example.as_ref().expect("found");
        println!("  {}: first at depth {}", anomaly.name(), example.depth);
    }
    println!("depth explored: {depth} (required: {required})");
    println!();

    let started = Instant::now();
    let mut explorer = Explorer::new(Coordinator::Ballot)?;
    while explorer.summary().depth < depth {
        explorer.deepen()?;
    }
    let ballot = explorer.summary().clone();
    drop(explorer);
    let ballot_time = started.elapsed();

    print_table(&[(&original, original_time), (&ballot, ballot_time)]);
    println!("(a history may show both anomalies; \"neither\" counts those showing none)");
    println!();
    println!("controls: the ballot coordinator with one rule taken out");
    for rule in Rule::ALL {
        // To the same depth, or deeper if the rule's anomaly needs more steps: the
        // new-term rule matters only once a write, a failover and a read fit.
        let mut control = Explorer::new(Coordinator::BallotWithout(rule))?;
        while control.summary().first_violation_depth().is_none() {
            if control.summary().depth >= DEPTH_LIMIT {
                bail!("control {rule:?} shows nothing within depth {DEPTH_LIMIT}");
            }
            control.deepen()?;
        }
        while control.summary().depth < depth {
            control.deepen()?;
        }
        let control = control.summary();
        println!(
            "  {:<54} first at depth {}; to depth {:>2}: not linearizable {:>6} \
             (failed write visible {}, unreplicated read lost {}, neither {})",
            control.coordinator.to_string(),
            control.first_violation_depth().expect("found above"),
            control.depth,
            control.not_linearizable,
            control.seen(Anomaly::FailedWriteVisible).histories,
            control.seen(Anomaly::UnreplicatedReadLost).histories,
            control.other,
        );
    }
    println!();
    print_levels(&original, &ballot);

    for anomaly in Anomaly::ALL {
        let example = original.seen(anomaly).example.as_ref().expect("found");
        println!();
        println!(
            "example, {} (original coordinator, depth {}):",
            anomaly.name(),
            example.depth
        );
        if let Some(schedule) = schedule_of(Coordinator::Original, &example.events, example.depth) {
            let steps: Vec<String> = schedule.iter().map(ToString::to_string).collect();
            println!("  schedule: {}", steps.join(", "));
        }
        println!("  history:");
        for line in history_of(&example.events)?.to_jsonl().lines() {
            println!("    {line}");
        }
        println!("  checker:");
        for line in example.violation.lines() {
            println!("    {line}");
        }
    }

    if ballot.not_linearizable > 0 || ballot.unknown > 0 {
        bail!("the ballot coordinator produced a history that is not linearizable");
    }
    Ok(())
}

fn print_table(rows: &[(&Summary, std::time::Duration)]) {
    println!(
        "{:<12} {:>5} {:>15} {:>17} {:>16} {:>20} {:>22} {:>7} {:>8}",
        "coordinator",
        "depth",
        "states explored",
        "histories checked",
        "not linearizable",
        Anomaly::FailedWriteVisible.name(),
        Anomaly::UnreplicatedReadLost.name(),
        "neither",
        "time"
    );
    for (summary, time) in rows {
        println!(
            "{:<12} {:>5} {:>15} {:>17} {:>16} {:>20} {:>22} {:>7} {:>7.1}s",
            summary.coordinator.to_string(),
            summary.depth,
            summary.states,
            summary.histories,
            summary.not_linearizable,
            summary.seen(Anomaly::FailedWriteVisible).histories,
            summary.seen(Anomaly::UnreplicatedReadLost).histories,
            summary.other,
            time.as_secs_f64()
        );
        if summary.unknown > 0 {
            println!(
                "  ({} histories undecided within the checker's budget)",
                summary.unknown
            );
        }
    }
}

fn print_levels(original: &Summary, ballot: &Summary) {
    println!("per depth (new states / new histories / not linearizable):");
    for (o, b) in original.levels.iter().zip(&ballot.levels) {
        println!(
            "  {:>3}  original {:>9} / {:>8} / {:>7}    ballot {:>9} / {:>8} / {:>2}",
            o.depth,
            o.states,
            o.histories,
            o.not_linearizable,
            b.states,
            b.histories,
            b.not_linearizable
        );
    }
}
