//! `ballot demo`: real components in one process. Three example candidates and an example
//! observer are deployed into a runtime over the embedded store (in a temporary folder);
//! the leader is undeployed; the next candidate wins; the timeline is printed with terms.
//! `--native` runs the host-native demo instead (no wasm, a simulated clock).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ballot_check::history::Recorder;
use ballot_core::election::ElectionName;
use ballot_core::namespace::NodePath;
use ballot_runtime::{Delivered, DeploySpec, Role, Runtime, TimelineEvent, new_engine};
use ballot_store::clock::SystemClock;
use ballot_store::{EmbeddedStore, Options};

/// Arguments of `ballot demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Run the host-native demo (bare namespace, simulated clock) instead of components.
    #[arg(long)]
    pub native: bool,
    /// Session TTL of every participant, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub ttl_ms: u64,
}

impl Default for DemoArgs {
    fn default() -> Self {
        DemoArgs {
            native: false,
            ttl_ms: 2000,
        }
    }
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    if args.native {
        return super::demo_native::run(&args);
    }
    anyhow::ensure!(
        args.ttl_ms >= 300,
        "--ttl-ms must be at least 300 for components"
    );
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(components(Duration::from_millis(args.ttl_ms)))
}

/// Waits for `who`'s first timeline event that `what` accepts, waking on each new line.
async fn wait_for(
    rt: &Runtime,
    who: &str,
    what: impl Fn(&TimelineEvent) -> bool,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    rt.next_in_timeline(0, deadline, |e| e.deployment == who && what(&e.event))
        .await
        .map(drop)
        .ok_or_else(|| anyhow::anyhow!("{who} did not get there within 30 s"))
}

async fn components(ttl: Duration) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let store: EmbeddedStore =
        EmbeddedStore::open(dir.path(), Arc::new(SystemClock::new()), Options::default())?;
    let engine = new_engine().map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let rt = Runtime::new(engine, store, Recorder::off())?;
    let election = ElectionName::parse("example")?;
    println!(
        "ballot demo: components in one process, election {:?}, store in {}, session TTL {} ms\n",
        election.as_str(),
        dir.path().display(),
        ttl.as_millis()
    );
    let candidate_wasm = ballot_runtime::Code::from(crate::cli::bundled::EXAMPLE_CANDIDATE);
    let observer_wasm = ballot_runtime::Code::from(crate::cli::bundled::EXAMPLE_OBSERVER);
    rt.deploy(DeploySpec {
        public_id: None,
        name: "dashboard".into(),
        wasm: observer_wasm,
        role: Role::Observer {
            election: election.clone(),
        },
        ttl,
        tick: None,
        limits: Default::default(),
        supervision: Default::default(),
    })
    .await?;
    let mut ids = Vec::new();
    for (name, address) in [
        ("alpha", "10.0.0.1:5432"),
        ("bravo", "10.0.0.2:5432"),
        ("charlie", "10.0.0.3:5432"),
    ] {
        let spec = DeploySpec {
            public_id: None,
            name: name.into(),
            wasm: candidate_wasm.clone(),
            role: Role::Candidate {
                election: election.clone(),
                data: address.as_bytes().to_vec(),
                follow_leader: false,
                priority: None,
            },
            ttl,
            tick: None,
            limits: Default::default(),
            supervision: Default::default(),
        };
        ids.push(rt.deploy(spec).await?);
        if name == "alpha" {
            wait_for(&rt, "alpha", |e| matches!(e, TimelineEvent::Acked(_))).await?;
        }
    }
    for who in ["bravo", "charlie"] {
        wait_for(&rt, who, |e| {
            matches!(e, TimelineEvent::Callback(Delivered::LosingElection { .. }))
        })
        .await?;
    }
    let undeploy_at = rt.timeline_cursor();
    rt.undeploy(ids[0]).await?;
    wait_for(&rt, "bravo", |e| matches!(e, TimelineEvent::Acked(_))).await?;
    let first = first_term(&rt);
    wait_for(&rt, "dashboard", |e| {
        matches!(e, TimelineEvent::Callback(Delivered::NewLeader { term }) if Some(*term) != first)
    })
    .await?;
    let swap_at = rt.timeline_cursor();
    let v2 = crate::cli::bundled::EXAMPLE_CANDIDATE_V2.to_vec();
    let swapped = rt.swap(ids[1], &v2).await?;

    println!("{:>9}  {:<10} event", "time", "who");
    for entry in rt.timeline().iter() {
        let i = entry.seq;
        if i == undeploy_at {
            println!(
                "{:>9}  {:<10} -- the leader is undeployed: it resigns, its session closes --",
                "", ""
            );
        }
        if i == swap_at {
            println!(
                "{:>9}  {:<10} -- the leader is hot-swapped to v2: same session, ballot and term --",
                "", ""
            );
        }
        let what = match &entry.event {
            TimelineEvent::Deployed(session) => format!("deployed ({session})"),
            TimelineEvent::Callback(callback) => format!("<- {callback}"),
            TimelineEvent::WinRefused(why) => {
                format!("<- on-winning-election failed: {why}; resigning")
            }
            TimelineEvent::StandsAgain(refusals) => {
                format!("votes again after {refusals} refused win(s)")
            }
            TimelineEvent::Acked(term) => format!("ack asserted under term {term}"),
            TimelineEvent::Deposed(term) => format!("deposed: term {term} revoked"),
            TimelineEvent::Trapped(why) => format!("crashed: {why}"),
            TimelineEvent::Revoked(why) => format!("revoked: {why}"),
            TimelineEvent::Overflow(what) => format!("mailbox overflow: {what}"),
            TimelineEvent::Swapped(how) => format!("hot-swapped: {how}"),
            TimelineEvent::Restarting(after) => format!("restarting in {after:?}"),
            TimelineEvent::Failed(why) => format!("failed: {why}"),
            TimelineEvent::Undeployed => "undeployed".to_string(),
        };
        println!(
            "{:>8.3}s  {:<10} {what}",
            entry.at.as_secs_f64(),
            entry.deployment
        );
    }
    println!(
        "\nhot-swap: {:?}; the new instance was told {} (term {:?}, unchanged)",
        swapped.outcome,
        swapped.told.as_deref().unwrap_or("nothing"),
        swapped.term.map(|t| t.0)
    );
    println!("\nguest log lines:");
    for (who, line) in rt.logs() {
        println!("  {who:<10} {line}");
    }
    let state = rt.state();
    let (data, stat) = state.get(&NodePath::parse("/example/leader")?)?;
    let record: ciborium::Value = ciborium::from_reader(data.as_bytes())?;
    println!(
        "\n/example/leader (written by the leader under its term, revision {}): {record:?}",
        stat.modified
    );
    let leader = ballot_core::election::read_leader(&state, &election)
        .ok_or_else(|| anyhow::anyhow!("no leader"))?;
    println!(
        "leader now: candidate {} under term {} ({:?})",
        leader.candidate, leader.term, leader.data
    );
    Ok(ExitCode::SUCCESS)
}

/// The term alpha acked, as text, to tell the observer's second new-leader from its first.
fn first_term(rt: &Runtime) -> Option<u64> {
    rt.timeline().iter().find_map(|e| match e.event {
        TimelineEvent::Acked(term) => Some(term),
        _ => None,
    })
}
