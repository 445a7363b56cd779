//! A serving host: the runtime on the durable store, its persisted deployments, the
//! event feed and metrics; started from a data directory and shut down gracefully.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;

use ballot_check::history::Recorder;
use ballot_core::command::{Command, Outcome};
use ballot_core::election::{ElectionName, read_leader, read_leading_term};
use ballot_core::namespace::HostEpoch;
use ballot_runtime::{
    ComponentCache, DeploySpec, DeploymentId, DeploymentStatus, DiskCache, Limits, Role, Runtime,
    Standing, new_engine,
};
use ballot_store::clock::SystemClock;
use ballot_store::{EmbeddedStore, Options};

use super::error::{ApiError, ApiResult};
use super::events::Feed;
use super::metrics::Metrics;
use super::registry::{Record, Registry};
use super::wire::{DeploymentView, DrainView, HandOffView};

/// Longest a graceful shutdown waits for a resigned leader's successor to acknowledge.
const SUCCESSION_WAIT: Duration = Duration::from_secs(2);

/// Longest a `?consistent=true` read waits for this replica to catch up with etcd.
const CONSISTENT_READ_WAIT: Duration = Duration::from_secs(10);

/// Where a host keeps its namespace.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The embedded store in the data folder: one host, the default.
    Embedded,
    /// A replica of a namespace shared through an etcd cluster's log.
    Etcd {
        /// The members' client URLs.
        endpoints: Vec<String>,
        /// The ballot cluster's name (which keys in etcd are its).
        cluster: String,
        /// This host's name, the same across its restarts.
        host_id: String,
        /// How long it may go without an acknowledged heartbeat.
        ttl: Duration,
        /// Batches between two snapshots.
        snapshot_every: u64,
        /// Log positions between two comparisons of the replicas' digests.
        digest_every: u64,
    },
}

/// Opens the namespace `backend` names: the embedded store in `data_dir`, or this host's
/// replica of an etcd cluster's (joined on a blocking thread: the etcd client drives its
/// own runtime).
async fn open_store(
    data_dir: &Path,
    backend: &Backend,
) -> anyhow::Result<(EmbeddedStore, Option<ballot_etcd::Host>)> {
    let clock = Arc::new(SystemClock::new());
    match backend.clone() {
        Backend::Embedded => Ok((
            EmbeddedStore::open(&data_dir.join("store"), clock, Options::default()).map_err(
                |e| {
                    anyhow::anyhow!(
                        "opening the store in {}: {e}",
                        data_dir.join("store").display()
                    )
                },
            )?,
            None,
        )),
        Backend::Etcd {
            endpoints,
            cluster,
            host_id,
            ttl,
            snapshot_every,
            digest_every,
        } => {
            let settings = ballot_etcd::Settings::new(endpoints, &cluster);
            let options = ballot_etcd::HostOptions {
                snapshot_every,
                digest_every,
                ..ballot_etcd::HostOptions::new(&host_id, ttl)
            };
            let (store, link) = tokio::task::spawn_blocking(move || {
                ballot_etcd::Host::open(settings, options, clock)
            })
            .await??;
            Ok((store, Some(link)))
        }
    }
}

/// Everything the API's handlers share.
pub struct Host {
    /// The host's link to its etcd cluster, when it shares one.
    pub cluster: Option<ballot_etcd::Host>,
    /// The runtime the deployments run in.
    pub runtime: Runtime,
    /// Persisted deployments.
    pub registry: Arc<Registry>,
    /// The runtime's id of each running deployment, by API id.
    live: DashMap<u64, DeploymentId>,
    /// Deployments that did not come back at start-up, and why.
    not_started: DashMap<u64, String>,
    /// The event feed.
    pub feed: Arc<Feed>,
    /// The leadership history the runtime records (see `GET /v1/history`).
    pub recorder: Recorder,
    /// The metrics.
    pub metrics: Metrics,
    /// Serialises deploy, swap and undeploy, so the registry and the runtime never
    /// disagree about a deployment between two of them.
    pub changes: tokio::sync::Mutex<()>,
    /// Where uploaded transaction functions are kept, by SHA-256.
    txn_fns: std::path::PathBuf,
    /// Set when the host begins to stop: event streams end, so the server's graceful
    /// shutdown is not held open by them.
    stopping: tokio::sync::watch::Sender<bool>,
}

impl Host {
    /// Opens the host on `data_dir`: recovers the store, ends every session of the
    /// previous run (its instances are gone; their ballots must not hold elections), and
    /// brings every persisted deployment back in a new session. Must run inside tokio;
    /// everything runs on the runtime it runs on.
    pub async fn start(
        data_dir: &Path,
        recorder: Recorder,
        backend: &Backend,
    ) -> anyhow::Result<Arc<Host>> {
        Self::start_serving_on(
            data_dir,
            recorder,
            backend,
            tokio::runtime::Handle::current(),
        )
        .await
    }

    /// [`Host::start`], run on the actors' runtime, with the event feed on `api`, the
    /// runtime that serves the API: publishing an event wakes every open stream, work that
    /// must not take the actors' threads.
    pub async fn start_serving_on(
        data_dir: &Path,
        recorder: Recorder,
        backend: &Backend,
        api: tokio::runtime::Handle,
    ) -> anyhow::Result<Arc<Host>> {
        use anyhow::Context as _;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating the data folder {}", data_dir.display()))?;
        let (store, cluster) = open_store(data_dir, backend).await?;
        let engine = new_engine().map_err(|e| anyhow::anyhow!("{e:#}"))?;
        // Compiled components outlive the process: a restart loads them instead of
        // compiling each deployment's code again (seconds for an interpreter component).
        let compiled = data_dir.join("compiled");
        let disk = DiskCache::open(&compiled).with_context(|| {
            format!(
                "opening the compiled-component cache {}",
                compiled.display()
            )
        })?;
        let components = ComponentCache::default().with_disk(disk);
        let runtime = Runtime::with_component_cache(engine, store, recorder.clone(), components)?;
        runtime.name_host(match backend {
            Backend::Etcd { host_id, .. } => host_id.clone(),
            Backend::Embedded => super::machine_name().unwrap_or_else(|| "local".into()),
        });
        if let Some(cluster) = &cluster {
            runtime.number_deployments_from(cluster.epoch().0.saturating_mul(1_000_000));
        }
        // On a shared log, the sessions of this host's previous run were expired when it
        // joined (with its old epoch), and the rest are other hosts' own.
        let stale: Vec<_> = match cluster {
            None => runtime.state().sessions().map(|(id, _)| id).collect(),
            Some(_) => Vec::new(),
        };
        if !stale.is_empty() {
            let closed = runtime
                .propose(Command::CloseSessions {
                    sessions: stale.to_vec(),
                })
                .await?
                .map_or(0, |outcome| match outcome {
                    Outcome::Ended(ended) => ended.len(),
                    _ => 0,
                });
            tracing::info!(closed, "closed the sessions of the previous run");
        }
        // The feed starts from one snapshot: its revision is the horizon, and every later
        // change (the deployments coming back, below) is an event.
        let mut states = runtime.subscribe();
        let initial = states.borrow_and_update().clone();
        let feed = Feed::new(initial.revision().0);
        let metrics = Metrics::new(runtime.commit_latency());
        let host = Arc::new(Host {
            cluster,
            registry: Arc::new(Registry::open(data_dir).map_err(|e| {
                anyhow::anyhow!("opening the deployments in {}: {e}", data_dir.display())
            })?),
            runtime,
            live: DashMap::new(),
            not_started: DashMap::new(),
            feed: feed.clone(),
            recorder,
            metrics,
            changes: tokio::sync::Mutex::new(()),
            stopping: tokio::sync::watch::Sender::new(false),
            txn_fns: data_dir.join("txn-fns"),
        });
        if let Some(cluster) = &host.cluster {
            let leading = Arc::downgrade(&host);
            cluster.leaders(move || {
                leading
                    .upgrade()
                    .map_or_else(Vec::new, |host| host.runtime.leaders())
            });
            let fenced = Arc::downgrade(&host);
            cluster.on_fence(move || {
                if let Some(host) = fenced.upgrade() {
                    let revoked = host.runtime.fence_all();
                    tracing::error!(revoked, "fenced this host: every instance was revoked");
                }
            });
        }
        std::fs::create_dir_all(&host.txn_fns)?;
        host.register_stored_txn_fns().await?;
        {
            let host = Arc::downgrade(&host);
            api.spawn(feed.follow(states, initial, move |changes| {
                if let Some(host) = host.upgrade() {
                    host.metrics.leaders_changed(changes);
                }
            }));
        }
        for record in host.registry.records() {
            let id = record.id;
            match host.bring_back(&record).await {
                Ok(runtime_id) => {
                    host.live.insert(id, runtime_id);
                }
                Err(why) => {
                    tracing::error!(id, name = %record.name, %why, "a persisted deployment did not start");
                    host.not_started.insert(id, why);
                }
            }
        }
        host.publish_all().await;
        Ok(host)
    }

    /// With `consistent`, waits until this replica has applied the log as etcd holds it
    /// now, so the read that follows sees every change acknowledged anywhere before it
    /// began; a read from the local replica otherwise (and always on the embedded store,
    /// which is the only copy).
    pub async fn read_consistently(&self, consistent: bool) -> ApiResult<()> {
        let Some(cluster) = self.cluster.as_ref().filter(|_| consistent) else {
            return Ok(());
        };
        let wanted = tokio::task::block_in_place(|| cluster.log_position())?;
        let mut changes = self.runtime.subscribe();
        let caught_up = async {
            while self.runtime.applied_position() < wanted {
                if changes.changed().await.is_err() {
                    break;
                }
            }
        };
        match tokio::time::timeout(CONSISTENT_READ_WAIT, caught_up).await {
            Ok(()) if self.runtime.applied_position() >= wanted => Ok(()),
            _ => Err(ApiError::from(ballot_store::StoreError::Unavailable(
                format!(
                    "this host has applied the log up to {} and did not reach etcd's {wanted} \
                 within {CONSISTENT_READ_WAIT:?}",
                    self.runtime.applied_position()
                ),
            ))),
        }
    }

    /// Every host sharing the namespace, as this host last heard of it; empty on the
    /// embedded store.
    pub fn hosts(&self) -> Vec<ballot_etcd::liveness::Peer> {
        self.cluster.as_ref().map_or_else(Vec::new, |c| c.peers())
    }

    async fn bring_back(&self, record: &Record) -> Result<DeploymentId, String> {
        let wasm = self
            .registry
            .code(record)
            .map_err(|e| format!("its code {}: {e}", record.sha256))?;
        let spec = spec_of(record, wasm).map_err(|e| e.message)?;
        self.runtime.deploy(spec).await.map_err(|e| e.to_string())
    }

    /// Deploys `record`'s component and persists it; answered only once both are done.
    pub async fn deploy(&self, record: Record, wasm: Vec<u8>) -> ApiResult<DeploymentView> {
        let spec = spec_of(&record, wasm.clone())?;
        let runtime_id = self.runtime.deploy(spec).await?;
        let record_copy = record.clone();
        let persisted = self
            .on_disk(move |registry| {
                registry.store_code(&wasm)?;
                registry.put(record_copy)
            })
            .await;
        if let Err(e) = persisted {
            // Not acknowledged unless durable: the deployment is undone, and the client
            // hears that the disk refused (not a fault of the request or of the host).
            let _ = self.runtime.undeploy(runtime_id).await;
            return Err(ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "disk-refused",
                format!(
                    "the deployment was undone: its record could not be written to the data \
                     folder ({e}); nothing of it remains"
                ),
            ));
        }
        self.live.insert(record.id, runtime_id);
        self.metrics.deploys.inc();
        self.publish(&record).await;
        Ok(self.view(&record))
    }

    /// The API id of the deployment the runtime numbers `runtime_id`, if it is one of
    /// this host's.
    pub fn api_id(&self, runtime_id: DeploymentId) -> Option<u64> {
        self.live
            .iter()
            .find_map(|entry| (*entry.value() == runtime_id).then_some(*entry.key()))
    }

    /// The runtime id of a live deployment.
    pub fn runtime_id(&self, id: u64) -> ApiResult<DeploymentId> {
        self.live.get(&id).map(|r| *r).ok_or_else(|| {
            if self.registry.get(id).is_some() {
                ApiError::new(
                    axum::http::StatusCode::CONFLICT,
                    "not-running",
                    format!("deployment {id} did not start with this host"),
                )
            } else {
                ApiError::no_deployment(id)
            }
        })
    }

    /// Undeploys `id` (its leader resigns) and forgets it durably.
    pub async fn undeploy(&self, id: u64) -> ApiResult<()> {
        if self.registry.get(id).is_none() {
            return Err(ApiError::no_deployment(id));
        }
        if let Some((_, runtime_id)) = self.live.remove(&id) {
            self.runtime
                .undeploy(runtime_id)
                .await
                .map_err(|e| ApiError::from(e).for_deployment(id))?;
        }
        self.not_started.remove(&id);
        self.on_disk(move |registry| registry.remove(id))
            .await
            .map_err(|e| internal(format!("forgetting the deployment: {e}")))?;
        self.withdraw(id).await;
        self.metrics.undeploys.inc();
        Ok(())
    }

    /// How a deployment stands, for the API.
    pub fn view(&self, record: &Record) -> DeploymentView {
        let runtime_id = self.live.get(&record.id).map(|id| *id);
        let mut restarts = 0;
        let (status, reason, session) = match runtime_id {
            None => (
                "not-started".to_string(),
                self.not_started.get(&record.id).map(|why| why.clone()),
                None,
            ),
            Some(runtime_id) => match self.runtime.status(runtime_id) {
                Some(DeploymentStatus::Running {
                    session,
                    restarts: started,
                }) => {
                    restarts = started;
                    match self.runtime.standing(runtime_id) {
                        Some(Standing::Resigned) => (
                            "out-of-election".to_string(),
                            Some("it resigned and has not voted since".to_string()),
                            Some(session),
                        ),
                        Some(Standing::WinRefused {
                            reason,
                            attempts,
                            votes_again_at,
                        }) => (
                            "out-of-election".to_string(),
                            Some(format!(
                                "on-winning-election failed ({attempts} in a row): {reason}; it stands again in {} ms",
                                votes_again_at
                                    .saturating_duration_since(tokio::time::Instant::now())
                                    .as_millis()
                            )),
                            Some(session),
                        ),
                        _ => ("running".to_string(), None, Some(session)),
                    }
                }
                Some(DeploymentStatus::Restarting { last_crash }) => {
                    ("restarting".to_string(), Some(last_crash), None)
                }
                Some(DeploymentStatus::Failed { reason }) => {
                    ("failed".to_string(), Some(reason), None)
                }
                None => ("stopped".to_string(), None, None),
            },
        };
        let term = match (session, ElectionName::parse(&record.election)) {
            (Some(session), Ok(election)) if record.role == "candidate" => {
                read_leading_term(&self.runtime.state(), &election, session).map(|t| t.0)
            }
            _ => None,
        };
        DeploymentView {
            id: record.id,
            name: record.name.clone(),
            role: record.role.clone(),
            election: record.election.clone(),
            status,
            reason,
            session: session.map(|s| s.0),
            term,
            restarts,
            memory_bytes: runtime_id.and_then(|id| self.runtime.memory_bytes(id)),
            priority: record.priority,
            no_preempt: record.no_preempt,
            sha256: record.sha256.clone(),
        }
    }

    /// Every deployment, by id.
    pub fn views(&self) -> Vec<DeploymentView> {
        self.registry
            .records()
            .iter()
            .map(|record| self.view(record))
            .collect()
    }

    /// Keeps an uploaded transaction function durably under its SHA-256 (as
    /// [`ballot_runtime::Runtime::register_txn_fn`] named it).
    /// The write and its fsyncs run on the blocking pool.
    pub async fn store_txn_fn(&self, sha256: &str, wasm: Vec<u8>) -> std::io::Result<()> {
        let path = self.txn_fns.join(format!("{sha256}.wasm"));
        self.on_disk(move |_| {
            if !path.exists() {
                super::registry::write_durably(&path, &wasm)?;
            }
            Ok(())
        })
        .await
    }

    /// Runs `io` (file writes and fsyncs of the registry) on tokio's blocking pool, so a
    /// slow disk never stalls the async workers that carry heartbeats.
    pub async fn on_disk<T: Send + 'static>(
        &self,
        io: impl FnOnce(&Registry) -> std::io::Result<T> + Send + 'static,
    ) -> std::io::Result<T> {
        let registry = self.registry.clone();
        tokio::task::spawn_blocking(move || io(&registry))
            .await
            .unwrap_or_else(|failed| Err(std::io::Error::other(failed.to_string())))
    }

    /// Registers every uploaded transaction function with the runtime again, so that the
    /// components coming back can commit with them by hash as before the restart. One
    /// that cannot be read or no longer validates is logged and left out (its commits are
    /// refused); only an unreadable folder stops the host.
    async fn register_stored_txn_fns(&self) -> std::io::Result<()> {
        // The listing, then one file at a time: all stored functions together may be
        // far larger than any one of them.
        let dir = self.txn_fns.clone();
        let paths = self
            .on_disk(move |_| {
                let mut paths = Vec::new();
                for entry in std::fs::read_dir(&dir)? {
                    let path = entry?.path();
                    if path.extension().is_some_and(|ext| ext == "wasm") {
                        paths.push(path);
                    }
                }
                Ok(paths)
            })
            .await?;
        for path in paths {
            let file = path.clone();
            let registered = match self.on_disk(move |_| std::fs::read(&file)).await {
                Ok(wasm) => self
                    .runtime
                    .register_txn_fn(&wasm)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(why) = registered {
                // Left out: commits naming it are refused as naming no registered function.
                tracing::error!(path = %path.display(), %why, "a stored transaction function was not registered");
            }
        }
        Ok(())
    }

    /// An uploaded transaction function's SHA-256, if it was uploaded (it is registered
    /// with the runtime, so a commit names it without reading or hashing its code).
    pub fn txn_fn(&self, sha256: &str) -> Option<[u8; 32]> {
        let digest = ballot_runtime::parse_sha256(sha256)?;
        let stored = self
            .txn_fns
            .join(format!("{}.wasm", ballot_runtime::sha256_hex(&digest)));
        stored.is_file().then_some(digest)
    }

    /// A future that completes once the host begins to stop.
    pub fn stopped(&self) -> impl Future<Output = ()> + Send + use<> {
        let mut stopping = self.stopping.subscribe();
        async move {
            let _ = stopping.wait_for(|stopping| *stopping).await;
        }
    }

    /// Begins stopping: event streams end.
    pub fn begin_stopping(&self) {
        self.stopping.send_replace(true);
    }

    /// This host's epoch in the namespace ([`HostEpoch::EMBEDDED`] on the embedded store).
    pub fn epoch(&self) -> HostEpoch {
        self.cluster
            .as_ref()
            .map_or(HostEpoch::EMBEDDED, |cluster| cluster.epoch())
    }

    /// This host's name: its `--host-id`, or `embedded`.
    pub fn name(&self) -> String {
        self.cluster.as_ref().map_or_else(
            || "embedded".to_string(),
            |cluster| cluster.id().to_string(),
        )
    }

    /// Hands every leadership held on the host of `epoch` to a candidate that survives its
    /// stop: the first in line that another host runs, in one fenced step per election
    /// (`Command::HandOff` with `drain`, recorded with the cause `drain`). Elections with
    /// no such candidate keep their leader (it resigns when its host stops). `stopping`
    /// only fills in the answer.
    pub async fn drain(&self, epoch: HostEpoch, host: String, stopping: bool) -> DrainView {
        let mut view = DrainView {
            host,
            handed_off: Vec::new(),
            kept: Vec::new(),
            stopping,
        };
        for election in elections_led_from(&self.runtime.state(), epoch) {
            let command = Command::HandOff {
                election: election.clone(),
                to: None,
                drain: true,
                from: None,
            };
            match self.runtime.propose(command).await {
                Ok(Ok(Outcome::HandedOff(candidate))) => {
                    tracing::info!(%election, %candidate, "drained: leadership handed over");
                    let deployment = self
                        .runtime
                        .deployment_of(candidate)
                        .and_then(|runtime_id| self.api_id(runtime_id));
                    view.handed_off.push(HandOffView {
                        election: election.to_string(),
                        candidate: candidate.0,
                        deployment,
                    });
                }
                outcome => {
                    tracing::info!(%election, ?outcome, "drain: the leader stays");
                    view.kept.push(election.to_string());
                }
            }
        }
        view
    }

    /// Graceful shutdown. This host's deployments that do not lead stop first: they are
    /// stopping too, so none of them may be promoted on the way out (that would be a
    /// second leader change for one stop, and a leader that lives a few milliseconds).
    /// Then the host is drained: each leadership goes to the first in line that another
    /// host runs, in one fenced step. Leaders with no such successor resign, and each
    /// waits (briefly) for a successor from elsewhere (a process on the HTTP API) to
    /// acknowledge, so leadership passes at once rather than after a session expiry.
    /// Records are kept: they come back at the next start.
    pub async fn shutdown(&self) {
        let _guard = self.changes.lock().await;
        let mut leaders = Vec::new();
        let mut others = Vec::new();
        for record in self.registry.records() {
            let Some(runtime_id) = self.live.get(&record.id).map(|r| *r) else {
                continue;
            };
            let view = self.view(&record);
            match view.term {
                Some(term) => leaders.push((runtime_id, record.election.clone(), term)),
                None => others.push(runtime_id),
            }
        }
        for runtime_id in others {
            let _ = self.runtime.undeploy(runtime_id).await;
        }
        let drained = self.drain(self.epoch(), self.name(), true).await;
        let handed: std::collections::HashSet<String> = drained
            .handed_off
            .into_iter()
            .map(|handed| handed.election)
            .collect();
        let mut successions = HashMap::new();
        for (runtime_id, election, term) in leaders {
            if handed.contains(&election) {
                // Handed over already: what stops now is a candidate at the back.
                let _ = self.runtime.undeploy(runtime_id).await;
                continue;
            }
            tracing::info!(%election, term, "shutting down: the leader resigns");
            if let Err(why) = self.runtime.undeploy(runtime_id).await {
                tracing::warn!(%why, "a leader's resignation failed");
            }
            successions.insert(election, term);
        }
        let deadline = tokio::time::Instant::now() + SUCCESSION_WAIT;
        for (election, old_term) in successions {
            let Ok(name) = ElectionName::parse(&election) else {
                continue;
            };
            let waiting_for = |state: &ballot_core::namespace::State| {
                let queued = state.first_child(&name.paths().ballots).is_some();
                queued && read_leader(state, &name).is_none_or(|l| l.term.0 == old_term)
            };
            while waiting_for(&self.runtime.state()) && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        self.live.clear();
    }
}

/// The elections whose lowest ballot (the leader's, or a winner's about to be told)
/// belongs to a session the host of `epoch` owns.
fn elections_led_from(
    state: &ballot_core::namespace::State,
    epoch: HostEpoch,
) -> Vec<ElectionName> {
    let Ok(root) = ballot_core::namespace::NodePath::parse(ballot_core::election::ELECTIONS_ROOT)
    else {
        return Vec::new();
    };
    state
        .children(&root)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|name| ElectionName::parse(&name).ok())
        .filter(|election| {
            let ballots = election.paths().ballots;
            state
                .first_child(&ballots)
                .and_then(|lowest| state.exists(&ballots.child(lowest).ok()?))
                .and_then(|stat| stat.ephemeral_owner)
                .and_then(|session| state.session(session))
                .is_some_and(|record| record.owner == epoch)
        })
        .collect()
}

/// A runtime deploy spec from a record and its code.
pub fn spec_of(record: &Record, wasm: Vec<u8>) -> ApiResult<DeploySpec> {
    let election = ElectionName::parse(&record.election).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "bad-query",
            format!("election: {e}"),
        )
    })?;
    let role = match record.role.as_str() {
        "candidate" => Role::Candidate {
            election,
            data: record.data.clone(),
            follow_leader: record.follow_leader,
            priority: record
                .priority
                .map(|level| ballot_core::election::Priority {
                    level,
                    preempt: !record.no_preempt,
                }),
        },
        "observer" => Role::Observer { election },
        other => {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "unknown-role",
                format!("unknown role {other:?}: candidate or observer"),
            ));
        }
    };
    Ok(DeploySpec {
        public_id: Some(record.id),
        name: record.name.clone(),
        wasm: wasm.into(),
        role,
        ttl: Duration::from_millis(record.ttl_ms),
        tick: record.tick_ms.map(Duration::from_millis),
        limits: Limits {
            callback_deadline: Duration::from_millis(record.deadline_ms),
            memory_bytes: (record.memory_mib as usize) << 20,
            ..Limits::default()
        },
        supervision: ballot_runtime::Supervision {
            max_silence: record.max_silence_ms.map(Duration::from_millis),
            ..Default::default()
        },
    })
}

fn internal(message: String) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        message,
    )
}
