//! Prometheus metrics of a serving host, in the text exposition format at `/metrics`.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use ballot_core::election::{ELECTIONS_ROOT, ElectionName, read_leader};
use ballot_core::namespace::{NodePath, State};

use super::wire::LeaderChange;

/// Labels naming an election.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ElectionLabel {
    /// The election.
    pub election: String,
}

/// Totals the runtime keeps itself, mirrored into counters at each scrape.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuntimeTotals {
    /// Import calls refused because their instance had been revoked.
    pub fenced_refusals: u64,
    /// Components compiled from their bytes.
    pub components_compiled: u64,
    /// Compiled components loaded from disk.
    pub components_loaded: u64,
    /// On-disk entries discarded as torn, altered or foreign.
    pub components_discarded: u64,
}

/// A counter that follows a total kept elsewhere.
#[derive(Default)]
struct Mirrored {
    counter: Counter,
    seen: Mutex<u64>,
}

impl Mirrored {
    /// Adds what `total` grew by since the last scrape.
    fn catch_up(&self, total: u64) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        self.counter.inc_by(total.saturating_sub(*seen));
        *seen = (*seen).max(total);
    }
}

/// The host's metrics. Counters are bumped where things happen; gauges that mirror state
/// (leaders, terms, deployments) are refreshed from the durable state on each scrape.
pub struct Metrics {
    registry: Registry,
    /// Successful deploys.
    pub deploys: Counter,
    /// Successful hot-swaps.
    pub swaps: Counter,
    /// Undeploys.
    pub undeploys: Counter,
    /// Instances killed through the API.
    pub kills: Counter,
    leader_changes: Counter,
    failovers: Counter,
    fenced_refusals: Mirrored,
    components_compiled: Mirrored,
    components_loaded: Mirrored,
    components_discarded: Mirrored,
    /// Elections that have had a leader since the host started.
    had_leader: Mutex<HashSet<String>>,
    elections: Gauge,
    deployments: Gauge,
    terms: Family<ElectionLabel, Gauge<u64, AtomicU64>>,
}

impl Metrics {
    /// Registers every metric; `commit_latency` is the runtime's live histogram.
    pub fn new(commit_latency: Histogram) -> Self {
        let mut registry = Registry::with_prefix("ballot");
        let metrics = Metrics {
            deploys: Counter::default(),
            swaps: Counter::default(),
            undeploys: Counter::default(),
            kills: Counter::default(),
            leader_changes: Counter::default(),
            failovers: Counter::default(),
            fenced_refusals: Mirrored::default(),
            components_compiled: Mirrored::default(),
            components_loaded: Mirrored::default(),
            components_discarded: Mirrored::default(),
            had_leader: Mutex::new(HashSet::new()),
            elections: Gauge::default(),
            deployments: Gauge::default(),
            terms: Family::default(),
            registry: Registry::default(),
        };
        registry.register("deploys", "Components deployed", metrics.deploys.clone());
        registry.register("swaps", "Hot-swaps made", metrics.swaps.clone());
        registry.register(
            "undeploys",
            "Components undeployed",
            metrics.undeploys.clone(),
        );
        registry.register(
            "kills",
            "Component instances killed through the API",
            metrics.kills.clone(),
        );
        registry.register(
            "leader_changes",
            "Changes of an election's acknowledged leader (to a leader or to none)",
            metrics.leader_changes.clone(),
        );
        registry.register(
            "failovers",
            "New acknowledged leaders of elections that had one before",
            metrics.failovers.clone(),
        );
        registry.register(
            "fenced_refusals",
            "Import calls refused because their instance had lost its term or session",
            metrics.fenced_refusals.counter.clone(),
        );
        registry.register(
            "components_compiled",
            "Components compiled from their bytes",
            metrics.components_compiled.counter.clone(),
        );
        registry.register(
            "components_loaded_from_disk",
            "Compiled components loaded from DATA_DIR/compiled instead of compiled",
            metrics.components_loaded.counter.clone(),
        );
        registry.register(
            "components_discarded_from_disk",
            "Compiled components on disk found torn, altered or foreign, deleted and compiled again",
            metrics.components_discarded.counter.clone(),
        );
        registry.register(
            "elections_led",
            "Elections with an acknowledged leader",
            metrics.elections.clone(),
        );
        registry.register(
            "deployments",
            "Deployments supervised",
            metrics.deployments.clone(),
        );
        registry.register(
            "term",
            "Term of each election's acknowledged leader",
            metrics.terms.clone(),
        );
        registry.register(
            "commit_latency_seconds",
            "Runtime commits, submit to durable result",
            commit_latency,
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    /// Counts a batch of leader changes seen on the event feed.
    pub fn leaders_changed(&self, changes: &[LeaderChange]) {
        let mut had_leader = self.had_leader.lock().unwrap_or_else(|p| p.into_inner());
        for change in changes {
            self.leader_changes.inc();
            if change.leader.is_some() && !had_leader.insert(change.election.clone()) {
                self.failovers.inc();
            }
        }
    }

    /// The exposition text, with state gauges refreshed from `state`.
    pub fn render(&self, state: &State, deployments: usize, totals: RuntimeTotals) -> String {
        self.deployments.set(deployments as i64);
        self.fenced_refusals.catch_up(totals.fenced_refusals);
        self.components_compiled
            .catch_up(totals.components_compiled);
        self.components_loaded.catch_up(totals.components_loaded);
        self.components_discarded
            .catch_up(totals.components_discarded);
        let root = NodePath::parse(ELECTIONS_ROOT).expect("a valid path");
        let mut led = 0;
        self.terms.clear();
        for name in state.children(&root).unwrap_or_default() {
            let Ok(election) = ElectionName::parse(&name) else {
                continue;
            };
            if let Some(leader) = read_leader(state, &election) {
                led += 1;
                self.terms
                    .get_or_create(&ElectionLabel { election: name })
                    .set(leader.term.0);
            }
        }
        self.elections.set(led);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
