//! Exactly-once work through a lease elector (seed 000's `guarded-commit!`), made durable,
//! sandboxed and fenced, and shown under leader kills.
//!
//! Producers enqueue items under `/work-queue/items`; worker components
//! (`components/work-queue-worker`) compete for them through the lease elector
//! `work-queue`, and only the master claims and completes items: a claim is a guarded
//! commit conditional on the item's version, and each completion appends its effect
//! `(item, worker, term)` in a commit guarded by the claim's term (speculative, so it can
//! never land under another) and conditional on the item's state. Meanwhile the master is killed at random
//! ([`ballot_runtime::Runtime::kill`], a crash as far as its supervisor knows): some
//! kills land between a claim and its completion. At the end [`run`] audits the store
//! (every item done, each with exactly one effect) and checks the recorded history of
//! the lease (elections and commits) against the leadership model.
//!
//! The layers: [`queue`] holds the paths and the item format shared with the worker,
//! [`chaos`] picks and kills masters, [`audit`] reads the outcome back.

pub mod audit;
/// The worker component (`components/work-queue-worker`), embedded at build time so the
/// program runs wherever it is installed.
pub mod bundled {
    include!(concat!(env!("OUT_DIR"), "/worker_component.rs"));
}
pub mod chaos;
pub mod queue;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use ballot_check::history::Recorder;
use ballot_runtime::{DeploySpec, DeploymentId, Limits, Role, Runtime, Supervision, new_engine};
use ballot_store::clock::SystemClock;
use ballot_store::{EmbeddedStore, Options};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

pub use audit::Audit;
pub use chaos::Kills;

/// What one run does.
#[derive(Debug, Clone)]
pub struct Config {
    /// Items to enqueue, in all.
    pub items: usize,
    /// Producers enqueueing them side by side.
    pub producers: usize,
    /// Worker deployments competing for the lease.
    pub workers: usize,
    /// Masters to kill, at most (kills stop early once every item is done).
    pub kills: usize,
    /// How often each worker ticks (one step of the queue per tick).
    pub tick: Duration,
    /// Seeds the producers' pacing and the killer's choices.
    pub seed: u64,
    /// The whole run's limit: a run that has not finished by then is reported as such.
    pub deadline: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            items: 200,
            producers: 2,
            workers: 3,
            kills: 25,
            tick: Duration::from_millis(4),
            seed: 1,
            deadline: Duration::from_secs(120),
        }
    }
}

/// What a run found.
#[derive(Debug, Clone)]
pub struct Report {
    /// Kills and where they landed.
    pub kills: Kills,
    /// The store's state at the end, audited.
    pub audit: Audit,
    /// Distinct masters (terms won) over the run.
    pub terms: usize,
    /// Items whose claim a kill cut short that another master completed (the rest were
    /// completed by the killed master in the instant before its kill landed).
    pub taken_over: usize,
    /// Commits the recorded lease history shows applied.
    pub commits: usize,
    /// Whether that history is linearizable under the leadership model (one master per
    /// term, commits only under the term that holds), or why not.
    pub history: Result<(), String>,
    /// Wall time from the first item to the audit.
    pub elapsed: Duration,
}

impl Report {
    /// Every item done with exactly one effect, a claim cut short by a kill and finished
    /// by another master, and a history the leadership model accepts.
    pub fn passed(&self) -> bool {
        self.audit.exactly_once() && self.taken_over > 0 && self.history.is_ok()
    }
}

/// Runs the queue once: a fresh store in a temporary folder, `config.workers` workers
/// built from `worker_wasm`, producers, and the killer; then the audit.
pub async fn run(config: &Config, worker_wasm: &[u8]) -> anyhow::Result<Report> {
    let dir = tempfile::tempdir()?;
    let store: EmbeddedStore =
        EmbeddedStore::open(dir.path(), Arc::new(SystemClock::new()), Options::default())?;
    let engine = new_engine().map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let recorder = Recorder::new();
    let rt = Arc::new(Runtime::new(engine, store, recorder.clone())?);
    queue::create_tree(&rt).await?;

    let mut workers = Vec::new();
    for index in 0..config.workers {
        let id = rt
            .deploy(worker_spec(index, worker_wasm, config.tick))
            .await
            .with_context(|| format!("deploying worker {index}"))?;
        workers.push(id);
    }

    let started = Instant::now();
    let producers = queue::produce(&rt, config.items, config.producers, config.seed);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed);
    let kills = chaos::kill_masters(&rt, &workers, config, &mut rng, started).await?;
    for producer in producers {
        producer.await.context("a producer panicked")??;
    }
    let finished = queue::wait_until_done(&rt, config.items, started + config.deadline).await;
    let elapsed = started.elapsed();

    for id in workers {
        rt.undeploy(id).await?;
    }
    let audit = Audit::of(&rt.state(), config.items, finished);
    let lease = audit::lease_history(&recorder.history());
    let terms = lease
        .ops
        .iter()
        .filter(|op| op.f == "elected" && op.kind == ballot_check::history::OpType::Ok)
        .count();
    let taken_over = audit::taken_over(&rt.state(), &kills.cut_short);
    let commits = lease
        .ops
        .iter()
        .filter(|op| op.f == "commit" && op.kind == ballot_check::history::OpType::Ok)
        .count();
    let history = audit::check_lease(&lease);
    Ok(Report {
        kills,
        audit,
        terms,
        taken_over,
        commits,
        history,
        elapsed,
    })
}

/// A worker deployment: a candidate ticking every `tick` (a kill restarts it at once, on a
/// new session, so as a new peer).
fn worker_spec(index: usize, wasm: &[u8], tick: Duration) -> DeploySpec {
    DeploySpec {
        public_id: None,
        name: format!("worker-{index}"),
        wasm: wasm.into(),
        role: Role::Candidate {
            election: queue::ballot_election(),
            data: Vec::new(),
            follow_leader: false,
            priority: None,
        },
        ttl: Duration::from_secs(2),
        tick: Some(tick),
        limits: Limits::default(),
        supervision: Supervision::default(),
    }
}

/// The deployment running on `session`, among `workers`.
pub(crate) fn deployment_on(
    rt: &Runtime,
    workers: &[DeploymentId],
    session: ballot_core::namespace::SessionId,
) -> Option<DeploymentId> {
    workers.iter().copied().find(|id| {
        matches!(
            rt.status(*id),
            Some(ballot_runtime::DeploymentStatus::Running { session: s, .. }) if s == session
        )
    })
}
