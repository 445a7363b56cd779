//! `ballot serve`: a host on the durable embedded store with an HTTP API (JSON), for
//! deploying and hot-swapping components, and for processes that are not components to
//! take part in elections. See the README's "HTTP API" for every route.
//!
//! Every call needs a bearer token with the scope it needs (read, write, deploy; see
//! `auth`), but the dashboard's page and `/healthz`; `--public-reads` opens reads. Deployments
//! persist in the data directory and come back when the host starts. SIGTERM (or
//! Ctrl-C) shuts down gracefully: the listener closes, leaders resign so their successors
//! take over at once, and the store closes.

mod auth;
mod clients;
mod components;
mod connections;
mod dashboard;
mod directory;
mod electors;
mod error;
mod events;
mod history;
mod host;
mod json_body;
mod memory;
mod metrics;
mod registry;
pub mod timeline;
pub mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};

pub use auth::Token;
pub use error::ApiError;
pub use events::{BUFFERED, RETAINED};
pub use host::{Backend, Host};
pub use registry::{Record, Registry};
pub use timeline::TimelineView;

use ballot_check::history::Recorder;

/// Arguments of `ballot serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:7420")]
    pub listen: SocketAddr,
    /// Where the store, the deployments and their code are kept.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// File of bearer tokens, one per line as `SCOPES TOKEN` (scopes: read, write,
    /// deploy, comma-separated, or all) or a bare `TOKEN` with every scope (else
    /// `BALLOT_TOKEN`, with every scope).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Let anyone read (state, events, logs, metrics) without a token; changes still need
    /// one.
    #[arg(long)]
    pub public_reads: bool,
    /// Largest request body accepted, in MiB (components are sent as bodies).
    #[arg(long, default_value_t = 64)]
    pub max_body_mib: usize,
    /// Connections open at once, at most (event streams included); one more is answered
    /// 503 `too-many-connections`. Kept under the open-files limit.
    #[arg(long, default_value_t = 10_000)]
    pub max_connections: usize,
    /// A client must send a request's headers within this long of connecting, or of its
    /// last response on a kept-alive connection, or the connection is closed.
    #[arg(long, default_value_t = 30_000)]
    pub header_timeout_ms: u64,
    /// A request's body must be read, and its answer begun, within this long (a 408
    /// after); event streams then run as long as their client reads.
    #[arg(long, default_value_t = 60_000)]
    pub request_timeout_ms: u64,
    /// A write to a client that makes no progress for this long closes its connection
    /// (a client that stopped reading its event stream).
    #[arg(long, default_value_t = 30_000)]
    pub write_timeout_ms: u64,
    /// Stream the leadership history (elections, guarded commits, resignations) to this
    /// file as JSON lines, for `ballot check --model leadership`.
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Share the namespace with other hosts through this etcd cluster (its members' client
    /// URLs, comma-separated). Without it the host keeps its namespace in --data-dir.
    #[arg(long, value_delimiter = ',', requires = "cluster")]
    pub etcd: Vec<String>,
    /// The ballot cluster's name: hosts with the same name share one namespace (its keys
    /// in etcd are under /ballot/NAME/).
    #[arg(long)]
    pub cluster: Option<String>,
    /// This host's name in the cluster, the same across its restarts (default: the
    /// machine's hostname and the listen port).
    #[arg(long)]
    pub host_id: Option<String>,
    /// How long this host may go without a heartbeat acknowledged by etcd before its
    /// peers expire it (ending its sessions); it fences itself a margin before that.
    #[arg(long, default_value_t = 1000)]
    pub host_ttl_ms: u64,
    /// With `--etcd`: batches of the log between two snapshots, written by the host that
    /// leads the hosts. A host that starts, or finds the log it needs compacted, loads the
    /// newest snapshot and reads the log after it.
    #[arg(long, default_value_t = 10_000)]
    pub snapshot_every: u64,
    /// With `--etcd`: log positions between two comparisons of the hosts' state digests
    /// (tests compare often).
    #[arg(long, default_value_t = 1_000, hide = true)]
    pub digest_every: u64,
}

impl ServeArgs {
    /// What one client may cost, from the flags, with the connection cap kept under the
    /// process's open-files limit.
    pub fn bounds(&self) -> connections::Bounds {
        connections::Bounds {
            max_connections: self
                .max_connections
                .min(open_files_limit().saturating_sub(256)),
            header_timeout: Duration::from_millis(self.header_timeout_ms.max(1)),
            write_timeout: Duration::from_millis(self.write_timeout_ms.max(1)),
        }
    }

    /// Where the namespace lives, from the flags.
    pub fn backend(&self) -> anyhow::Result<Backend> {
        if self.etcd.is_empty() {
            return Ok(Backend::Embedded);
        }
        let cluster = self
            .cluster
            .clone()
            .ok_or_else(|| anyhow::anyhow!("--etcd needs --cluster NAME"))?;
        if self.host_ttl_ms < 100 {
            anyhow::bail!(
                "--host-ttl-ms must be at least 100 (got {})",
                self.host_ttl_ms
            );
        }
        let host_id = match &self.host_id {
            Some(id) => id.clone(),
            None => {
                let machine = machine_name().unwrap_or_else(|| "host".into());
                format!("{machine}-{}", self.listen.port())
            }
        };
        if host_id.is_empty() || host_id.contains('/') {
            anyhow::bail!("--host-id must be non-empty and hold no '/' (got {host_id:?})");
        }
        Ok(Backend::Etcd {
            endpoints: self.etcd.clone(),
            cluster,
            host_id,
            ttl: std::time::Duration::from_millis(self.host_ttl_ms),
            snapshot_every: self.snapshot_every.max(1),
            digest_every: self.digest_every.max(1),
        })
    }
}

/// This machine's name, for a host's default id and what `whoami` tells components.
pub(crate) fn machine_name() -> Option<String> {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
}

/// Milliseconds since the Unix epoch on this host's wall clock: for people and for
/// comparing hosts, never for timing (sessions and leases run on the monotonic clock).
pub(crate) fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

static MAX_BODY_BYTES: AtomicUsize = AtomicUsize::new(64 << 20);

/// The request timeout in force (`--request-timeout-ms`).
static REQUEST_TIMEOUT_MS: AtomicU64 = AtomicU64::new(60_000);

/// The process's limit of open files, which every connection takes one of.
fn open_files_limit() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the limit into the struct it is given, which lives here.
    let read = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    if read == 0 {
        usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
    } else {
        1024
    }
}

/// The body limit in force, for the 413 message.
pub(crate) fn max_body_bytes() -> usize {
    MAX_BODY_BYTES.load(Ordering::Relaxed)
}

/// Runs `ballot serve` until SIGTERM or Ctrl-C.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let token = Token::load(args.token_file.as_deref())
        .map_err(anyhow::Error::msg)?
        .with_public_reads(args.public_reads);
    MAX_BODY_BYTES.store(args.max_body_mib.max(1) << 20, Ordering::Relaxed);
    REQUEST_TIMEOUT_MS.store(args.request_timeout_ms.max(1), Ordering::Relaxed);
    // Two runtimes: the actors (every callback, the store's effects, the event feed) on
    // one, the HTTP API (requests and thousands of event streams) on the other, so no
    // callback ever waits in a queue behind API work. The OS shares the cores between them.
    let actors = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ballot-actors")
        .build()?;
    let api = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ballot-api")
        .on_thread_start(lower_thread_priority)
        .build()?;
    memory::start_trimming();
    let served = api.block_on(serve(args, token, actors.handle().clone()));
    drop(api);
    actors.shutdown_timeout(std::time::Duration::from_secs(5));
    served
}

/// Lowers the calling thread's scheduling priority (a nice value of [`API_NICENESS`]), so
/// that when the cores are contended the actors' threads run first: a flood of API work
/// slows the API, not failover. Raising one's own niceness needs no privilege; a failure
/// leaves the thread as it was.
pub(crate) fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take and return plain integers; the thread id is
        // this thread's, which PRIO_PROCESS takes on Linux to mean this thread alone.
        let changed = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, API_NICENESS)
        };
        if changed != 0 {
            tracing::debug!("could not lower the API thread's priority");
        }
    }
}

/// The API threads' nice value: far enough below the actors' that a woken actor thread
/// takes a core from a busy API thread at once.
const API_NICENESS: libc::c_int = 10;

async fn serve(
    args: ServeArgs,
    token: Token,
    actors: tokio::runtime::Handle,
) -> anyhow::Result<ExitCode> {
    let backend = args.backend()?;
    let recorder = match &backend {
        Backend::Embedded => Recorder::new(),
        // Hosts sharing a namespace record on the wall clock, the one clock their
        // histories share, so `ballot check` can merge them (hosts on several machines
        // need their clocks synchronized for the merge to mean anything).
        Backend::Etcd { .. } => Recorder::with_clock(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        }),
    };
    // The host always records its leadership history (the dashboard and `GET /v1/history`
    // check it), keeping a bounded prefix in memory; `--history` also streams all of it.
    let recorder =
        match &args.history {
            None => recorder,
            Some(path) => recorder.streaming_to(std::fs::File::create(path).map_err(|e| {
                anyhow::anyhow!("creating the history file {}: {e}", path.display())
            })?),
        }
        .keeping(history::KEPT);
    // The address first: a port in use is refused before the store is opened (and, on
    // etcd, before this host joins the cluster).
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("listening on {}: {e}", args.listen))?;
    let host = {
        let (data_dir, recorder) = (args.data_dir.clone(), recorder.clone());
        let api = tokio::runtime::Handle::current();
        actors
            .spawn(async move { Host::start_serving_on(&data_dir, recorder, &backend, api).await })
            .await??
    };
    // The first line on stdout is the address, for scripts and tests that asked for
    // port 0.
    println!(
        "ballot serve: listening on http://{}",
        listener.local_addr()?
    );
    println!(
        "ballot serve: data in {}, {} deployment(s) restored",
        args.data_dir.display(),
        host.views().len()
    );
    // SIGTERM, Ctrl-C or a drain of this host (`POST /v1/drain`) stop it.
    let signalled = {
        let host = host.clone();
        async move {
            tokio::select! {
                () = shutdown_signal() => {}
                () = host.stopped() => {}
            }
            host.begin_stopping();
        }
    };
    connections::serve(
        listener,
        router(host.clone(), token),
        args.bounds(),
        signalled,
    )
    .await?;
    eprintln!("ballot serve: shutting down: leaders resign");
    host.shutdown().await;
    // The history file is written by a thread of its own: let it catch up.
    tokio::task::spawn_blocking(move || recorder.flush()).await?;
    println!("ballot serve: stopped");
    Ok(ExitCode::SUCCESS)
}

/// `GET /v1/hosts`: the hosts sharing the namespace (none on the embedded store).
async fn hosts(
    State(host): State<Arc<Host>>,
    read: Result<
        axum::extract::Query<clients::ReadQuery>,
        axum::extract::rejection::QueryRejection,
    >,
) -> error::ApiResult<axum::Json<wire::HostsView>> {
    host.read_consistently(read?.consistent).await?;
    let me = host.cluster.as_ref().map(|c| c.epoch().0);
    let mut records = directory::all(&host.runtime.state());
    let hosts: Vec<wire::HostView> = host
        .hosts()
        .into_iter()
        .map(|peer| wire::HostView {
            deployments: records
                .iter()
                .position(|(id, _)| *id == peer.id)
                .map(|at| records.remove(at).1)
                .unwrap_or_default(),
            id: peer.id,
            epoch: peer.epoch.0,
            this_host: Some(peer.epoch.0) == me,
            since_heartbeat_ms: (peer.since_heartbeat != std::time::Duration::MAX)
                .then(|| u64::try_from(peer.since_heartbeat.as_millis()).unwrap_or(u64::MAX)),
            applied: peer.applied,
        })
        .collect();
    let unhosted = records.into_iter().flat_map(|(_, r)| r).collect();
    Ok(axum::Json(wire::HostsView { hosts, unhosted }))
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// The API's routes over `host`.
pub fn router(host: Arc<Host>, token: Token) -> Router {
    Router::new()
        .route(
            "/v1/components",
            post(components::deploy).get(components::list),
        )
        .route(
            "/v1/components/{id}",
            axum::routing::put(components::swap).delete(components::undeploy),
        )
        .route("/v1/components/{id}/kill", post(components::kill))
        .route("/v1/components/{id}/logs", get(components::logs))
        .route("/v1/hosts", get(hosts))
        .route("/v1/elections", get(clients::elections))
        .route("/v1/elections/{name}", get(clients::election))
        .route("/v1/elections/{name}/candidates", post(clients::stand))
        .route("/v1/elections/{name}/handoff", post(clients::hand_off))
        .route("/v1/drain", post(clients::drain))
        .route(
            "/v1/candidates/{id}",
            get(clients::candidate).delete(clients::leave),
        )
        .route("/v1/candidates/{id}/ack", post(clients::ack))
        .route("/v1/candidates/{id}/resign", post(clients::resign))
        .route("/v1/sessions", post(clients::open_session))
        .route(
            "/v1/sessions/{id}",
            axum::routing::delete(clients::close_session),
        )
        .route("/v1/sessions/{id}/heartbeat", post(clients::heartbeat))
        .route("/v1/nodes", get(clients::node))
        .route("/v1/nodes/{*path}", get(clients::node))
        .route("/v1/multi", post(clients::multi))
        .route("/v1/electors/{name}", get(electors::show))
        .route("/v1/electors/{name}/peers", post(electors::reset))
        .route("/v1/electors/{name}/elect", post(electors::elect))
        .route("/v1/electors/{name}/commit", post(electors::commit))
        .route("/v1/txn-fns", post(electors::upload))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/v1/events", get(events::stream))
        .route("/v1/timeline", get(timeline::stream))
        .route("/v1/history", get(history::lines))
        .route("/v1/history/check", get(history::check))
        .route("/", get(dashboard::page))
        .route("/dashboard/{asset}", get(dashboard::asset))
        .with_state(host)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            token,
            auth::require_token,
        ))
        .layer(axum::middleware::from_fn(reject_oversized))
        .layer(DefaultBodyLimit::max(max_body_bytes()))
        .layer(axum::middleware::from_fn(bound_request_time))
}

/// Answers 408 to a request whose body is not read, or whose answer is not begun, within
/// the request timeout: a client sending its body a byte at a time holds a connection
/// (and its slot) no longer than that. A streamed answer (events, logs) runs on after.
async fn bound_request_time(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let limit = Duration::from_millis(REQUEST_TIMEOUT_MS.load(Ordering::Relaxed));
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            "request-timeout",
            format!(
                "the request was not read and answered within {} ms (see --request-timeout-ms)",
                limit.as_millis()
            ),
        )
        .into_response(),
    }
}

/// Answers 413 at once to a request that declares a body over the limit, rather than
/// after reading the body up to the limit. (A body without a declared length is cut at
/// the limit by [`DefaultBodyLimit`], which answers the same.)
async fn reject_oversized(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max_body_bytes() as u64) {
        return ApiError::too_large().into_response();
    }
    next.run(request).await
}

async fn healthz(State(host): State<Arc<Host>>) -> impl IntoResponse {
    // The wall clock is reported for operators comparing hosts; nothing in the host
    // depends on it (sessions and leases run on the monotonic clock).
    let wall_clock_ms = wall_clock_ms();
    // A store that stopped for good (a failed sync, a diverged replica) or refuses changes
    // for now (a full disk, probed until it takes writes again): say so, and why.
    let halted = host.runtime.halted();
    let degraded = host.runtime.degraded();
    let (status, word) = match (&halted, &degraded) {
        (Some(_), _) => (axum::http::StatusCode::SERVICE_UNAVAILABLE, "halted"),
        (None, Some(_)) => (axum::http::StatusCode::SERVICE_UNAVAILABLE, "degraded"),
        (None, None) => (axum::http::StatusCode::OK, "ok"),
    };
    let body = axum::Json(serde_json::json!({
        "status": word,
        "halted": halted,
        "degraded": degraded,
        "revision": host.runtime.state().revision().0,
        "deployments": host.runtime.deployments().len(),
        "wall_clock_ms": wall_clock_ms,
    }));
    (status, body)
}

async fn metrics(State(host): State<Arc<Host>>) -> impl IntoResponse {
    let cache = host.runtime.component_cache();
    let totals = metrics::RuntimeTotals {
        fenced_refusals: host.runtime.fenced_refusals(),
        components_compiled: cache.compiled(),
        components_loaded: cache.loaded_from_disk(),
        components_discarded: cache.discarded_from_disk(),
    };
    let text = host.metrics.render(
        &host.runtime.state(),
        host.runtime.deployments().len(),
        totals,
    );
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "this route does not take that method (see the README's HTTP API)",
    )
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route (see the README's HTTP API)")
}
