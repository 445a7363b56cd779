//! `ballot bench handoff`: how long a planned handoff leaves an election without a
//! working leader, against the unplanned change it replaces (the leader undeployed), in
//! the same run, on the same queue.
//!
//! Three busy candidates (each leader ticks every millisecond, every tick a guarded
//! write) stand in one election. Rounds alternate: a handoff to the next in line (the old
//! leader is revoked in that step and its deployment stands again at the back), or an
//! undeploy of the leader (and a fresh candidate deployed at the back). Each is timed from
//! the operator's request to the successor's on-winning-election starting, on the
//! runtime's clock: the old leader works until the step that revokes it (a tick's
//! write at most a millisecond before), so this is the blackout the issue names (the old
//! leader's last import call to the new leader's first callback) plus up to a tick.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ballot_check::history::Recorder;
use ballot_core::command::{Command, Outcome};
use ballot_core::election::ElectionName;
use ballot_runtime::{DeployError, DeploySpec, DeploymentId, Runtime, TimelineEvent, new_engine};
use ballot_store::clock::SystemClock;
use ballot_store::{EmbeddedStore, Options};

use super::{Figure, candidate, histogram, micros, next_entry, on_tokio, record, summarise};

/// Arguments of `ballot bench handoff`.
#[derive(Debug, clap::Args)]
pub struct HandoffArgs {
    /// Handoffs measured, and as many failovers by undeploy.
    #[arg(long, default_value_t = 100)]
    rounds: usize,
}

/// A busy candidate whose ballot data is its name (to know who is next in line).
fn busy(name: &str, election: &ElectionName) -> DeploySpec {
    let mut spec = candidate(
        name.to_string(),
        election,
        crate::cli::bundled::EXAMPLE_CANDIDATE.to_vec(),
    );
    spec.tick = Some(Duration::from_millis(1));
    if let ballot_runtime::Role::Candidate { data, .. } = &mut spec.role {
        *data = name.as_bytes().to_vec();
    }
    spec
}

/// Deploys `name` and waits until it stands (it lost, behind the leader).
async fn stand(rt: &Runtime, name: &str, election: &ElectionName) -> anyhow::Result<()> {
    let from = rt.timeline_cursor();
    rt.deploy(busy(name, election)).await?;
    next_entry(rt, from, |who, e| {
        who == name
            && matches!(
                e,
                TimelineEvent::Callback(ballot_runtime::Delivered::LosingElection { .. })
            )
    })
    .await?;
    Ok(())
}

/// The deployment running the election's acknowledged leader.
fn leader(rt: &Runtime, election: &ElectionName) -> anyhow::Result<DeploymentId> {
    let state = rt.state();
    let leader = ballot_core::election::read_leader(&state, election)
        .ok_or_else(|| anyhow::anyhow!("no acknowledged leader"))?;
    rt.deployment_of(leader.candidate)
        .ok_or_else(|| anyhow::anyhow!("the leader is not a deployment"))
}

/// The name of the deployment next in line.
fn next_in_line(rt: &Runtime, election: &ElectionName) -> anyhow::Result<String> {
    let state = rt.state();
    let ballots = election.paths().ballots;
    let second = state
        .children(&ballots)
        .ok()
        .and_then(|names| names.get(1).cloned())
        .ok_or_else(|| anyhow::anyhow!("no one behind the leader"))?;
    let (data, _) = state.get(&ballots.child(&second)?)?;
    Ok(String::from_utf8_lossy(data.as_bytes()).into_owned())
}

/// Waits until `who` has acknowledged its win, from timeline index `from` on.
async fn acked(rt: &Runtime, who: &str, from: u64) -> anyhow::Result<()> {
    next_entry(rt, from, |name, e| {
        name == who && matches!(e, TimelineEvent::Acked(_))
    })
    .await?;
    Ok(())
}

async fn measure(args: HandoffArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir_in(std::env::temp_dir())?;
    let store: EmbeddedStore =
        EmbeddedStore::open(dir.path(), Arc::new(SystemClock::new()), Options::default())?;
    let engine = new_engine().map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let rt = Runtime::new(engine, store, Recorder::off())?;
    // The example candidates fence their writes with the election `example`.
    let election = ElectionName::parse("example")?;
    let mut deployed = 0usize;
    let fresh = |deployed: &mut usize| {
        *deployed += 1;
        format!("busy-{deployed}")
    };
    let first = fresh(&mut deployed);
    let from = rt.timeline_cursor();
    rt.deploy(busy(&first, &election)).await?;
    acked(&rt, &first, from).await?;
    for _ in 0..2 {
        let name = fresh(&mut deployed);
        stand(&rt, &name, &election).await?;
    }
    let (mut handoffs, mut failovers) = (histogram(), histogram());
    for round in 0..args.rounds * 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let successor = next_in_line(&rt, &election)?;
        let from = rt.timeline_cursor();
        let start = rt.uptime();
        if round % 2 == 0 {
            let handed = rt
                .propose(Command::HandOff {
                    election: election.clone(),
                    to: None,
                    drain: false,
                    from: None,
                })
                .await?;
            anyhow::ensure!(
                matches!(handed, Ok(Outcome::HandedOff(_))),
                "handoff {round}: {handed:?}"
            );
            let won = super::started_winning(&rt, &successor, from).await?;
            record(&mut handoffs, won.saturating_sub(start));
        } else {
            let old = leader(&rt, &election)?;
            match rt.undeploy(old).await {
                Ok(()) | Err(DeployError::Unknown(_)) => {}
                Err(error) => return Err(error.into()),
            }
            let won = super::started_winning(&rt, &successor, from).await?;
            record(&mut failovers, won.saturating_sub(start));
            let name = fresh(&mut deployed);
            stand(&rt, &name, &election).await?;
        }
        acked(&rt, &successor, from).await?;
    }
    println!(
        "handoff: p50 {:.1} us, p99 {:.1} us; failover by undeploy: p50 {:.1} us, p99 {:.1} us ({} rounds each, busy leaders ticking every 1 ms)",
        micros(&handoffs, 0.5),
        micros(&handoffs, 0.99),
        micros(&failovers, 0.5),
        micros(&failovers, 0.99),
        args.rounds
    );
    let figure = |name, q, baseline| Figure {
        name,
        value: micros(&handoffs, q),
        unit: "us",
        baseline,
        baseline_value: micros(&failovers, q),
    };
    summarise(&[
        figure("handoff_blackout_p50", 0.5, "failover_undeploy_p50"),
        figure("handoff_blackout_p99", 0.99, "failover_undeploy_p99"),
    ]);
    Ok(ExitCode::SUCCESS)
}

/// Runs the handoff benchmark.
pub fn run(args: HandoffArgs) -> anyhow::Result<ExitCode> {
    on_tokio(measure(args))
}
