//! One connection to an etcd cluster, usable from plain threads: the store's writer and
//! the log's follower are OS threads, and etcd-client is async, so the connection owns a
//! small tokio runtime that drives the client and blocks the calling thread on it.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, ConnectOptions};

use ballot_store::StoreError;

/// Where the cluster's keys live: every key of one ballot cluster is under
/// `/ballot/<cluster>/`, so clusters can share one etcd.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// The keys of cluster `name`.
    pub fn new(name: &str) -> Self {
        Keys {
            prefix: format!("/ballot/{name}/"),
        }
    }

    /// The key whose history is the log.
    pub fn log(&self) -> String {
        format!("{}log", self.prefix)
    }

    /// Where each host keeps its heartbeat.
    pub fn hosts(&self) -> String {
        format!("{}hosts/", self.prefix)
    }

    /// The heartbeat key of host `id`.
    pub fn host(&self, id: &str) -> String {
        format!("{}{id}", self.hosts())
    }

    /// Where each host records the digest of its state at a checkpoint position.
    pub fn digests(&self) -> String {
        format!("{}digests/", self.prefix)
    }

    /// The digest key of checkpoint `position` (zero-padded, so the keys sort by position).
    pub fn digest(&self, position: u64) -> String {
        format!("{}{position:020}", self.digests())
    }

    /// Where snapshots are kept.
    pub fn snapshots(&self) -> String {
        format!("{}snapshots/", self.prefix)
    }
}

/// Settings of a connection.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The members' client URLs (`http://127.0.0.1:2379`).
    pub endpoints: Vec<String>,
    /// The ballot cluster's name: which keys are its.
    pub cluster: String,
    /// How long one request may take before it counts as failed.
    pub request_timeout: Duration,
    /// How long connecting may take at start.
    pub connect_timeout: Duration,
    /// The largest request etcd accepts (its `--max-request-bytes`, 1.5 MiB by default):
    /// a batch is kept below it, and a command that cannot fit is refused before it is
    /// sent.
    pub max_request_bytes: usize,
}

impl Settings {
    /// Defaults for `endpoints` and `cluster`.
    pub fn new(endpoints: Vec<String>, cluster: &str) -> Self {
        Settings {
            endpoints,
            cluster: cluster.to_owned(),
            request_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(3),
            max_request_bytes: 1536 * 1024,
        }
    }
}

/// A client and the runtime that drives it.
#[derive(Clone)]
pub struct Connection {
    runtime: Arc<tokio::runtime::Runtime>,
    client: Client,
    keys: Keys,
    settings: Settings,
}

impl Connection {
    /// Connects to the cluster; an unreachable cluster is an error naming its endpoints.
    pub fn open(settings: Settings) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("ballot-etcd")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unavailable(format!("starting the etcd client: {e}")))?;
        let runtime = Arc::new(runtime);
        let client = connect(&runtime, &settings)?;
        Ok(Connection {
            runtime,
            client,
            keys: Keys::new(&settings.cluster),
            settings,
        })
    }

    /// The same connection on a new client (new channels to the members): for a long
    /// watch that failed, whose channel may be stuck after the members restarted.
    pub fn reconnect(&self) -> Result<Connection, StoreError> {
        Ok(Connection {
            client: connect(&self.runtime, &self.settings)?,
            ..self.clone()
        })
    }

    /// Runs `work` on the connection's runtime and waits for it; for plain threads only.
    pub fn block_on<T>(&self, work: impl Future<Output = T>) -> T {
        self.runtime.block_on(work)
    }

    /// Spawns `work` on the connection's runtime.
    pub fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.runtime.spawn(work);
    }

    /// A client handle (cheap to clone).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The cluster's keys.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The settings it was opened with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

fn connect(runtime: &tokio::runtime::Runtime, settings: &Settings) -> Result<Client, StoreError> {
    let options = ConnectOptions::new()
        .with_connect_timeout(settings.connect_timeout)
        .with_timeout(settings.request_timeout)
        // Not more often than etcd allows (--grpc-keepalive-min-time, 5 s by default):
        // a client that pings faster is told to go away, and its watches break.
        .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5));
    runtime
        .block_on(async {
            let mut client = Client::connect(&settings.endpoints, Some(options)).await?;
            // Connecting is lazy; a status call proves some member answers.
            client.status().await?;
            Ok::<_, etcd_client::Error>(client)
        })
        .map_err(|e| {
            StoreError::Unavailable(format!(
                "etcd at {} cannot be reached: {e}",
                settings.endpoints.join(",")
            ))
        })
}

/// An etcd failure as a store error.
pub fn unavailable(doing: &str) -> impl Fn(etcd_client::Error) -> StoreError + '_ {
    move |e| StoreError::Unavailable(format!("{doing}: {e}"))
}
