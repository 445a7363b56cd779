//! Opening one host's replica of a cluster's namespace: register an epoch, rebuild the
//! state from the newest snapshot and the log after it, open the store on the shared log,
//! and follow the log key into it from there.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use etcd_client::WatchOptions;

use ballot_core::command::{Command, Outcome};
use ballot_core::namespace::HostEpoch;
use ballot_store::clock::Clock;
use ballot_store::embedded::Spawner;
use ballot_store::log::{Position, replay};
use ballot_store::{EmbeddedStore, Feeder, Options, StoreError};

use crate::connection::{Connection, Settings, unavailable};
use crate::liveness::{self, Liveness};
use crate::log::EtcdLog;
use crate::snapshots::EtcdSnapshots;

/// Settings of one host.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// The host's name, the same across its restarts (`--host-id`).
    pub id: String,
    /// How long the host may go without an acknowledged heartbeat before its peers expire
    /// it (`--host-ttl-ms`).
    pub ttl: Duration,
    /// The store's settings (limits, batch size, queue bound).
    pub store: Options,
}

/// A running host's link to the cluster: the log's follower and the liveness threads.
/// Dropping it stops both.
pub struct Host {
    liveness: Arc<Liveness>,
    stop: Arc<AtomicBool>,
}

impl Host {
    /// Joins the cluster: returns the store (a replica of the shared namespace, to hand to
    /// the runtime) and the host's link. Fails with the endpoints named when etcd cannot
    /// be reached, and with [`StoreError::Incompatible`] when the log was written by
    /// another version of ballot.
    pub fn open(
        settings: Settings,
        options: HostOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<(EmbeddedStore, Host), StoreError> {
        let connection = Connection::open(settings)?;
        let epoch = liveness::register(&connection, &options.id)?;
        let log = EtcdLog::open(connection.clone())?;
        let snapshots = EtcdSnapshots::new(connection.clone());
        let replayed = replay(&log, &snapshots, options.store.limits)?;
        tracing::info!(
            host = %options.id, %epoch, position = replayed.position, replayed = replayed.replayed,
            "joined the cluster's log"
        );
        let position = replayed.position;
        let (store, feeder) = EmbeddedStore::open_shared(
            Box::new(log),
            replayed,
            epoch,
            clock.clone(),
            options.store.clone(),
            ballot_store::embedded::thread_spawner(),
        );
        let stop = Arc::new(AtomicBool::new(false));
        follow(
            connection.clone(),
            feeder.clone(),
            position,
            stop.clone(),
            ballot_store::embedded::thread_spawner(),
        );
        join(&feeder, epoch, &options.id)?;
        let liveness = Liveness::start(
            connection,
            feeder,
            options.id.clone(),
            epoch,
            options.ttl,
            clock,
            stop.clone(),
        );
        Ok((store, Host { liveness, stop }))
    }

    /// This host's current epoch.
    pub fn epoch(&self) -> HostEpoch {
        self.liveness.epoch()
    }

    /// Sets what the host does when it fences itself (revoke every local component's
    /// powers): called before anything else learns of it.
    pub fn on_fence(&self, fence: impl Fn() + Send + Sync + 'static) {
        self.liveness.on_fence(Box::new(fence));
    }

    /// Sets what this host's heartbeats say it leads (deployment names and terms).
    pub fn leaders(&self, leaders: impl Fn() -> Vec<(String, u64)> + Send + Sync + 'static) {
        self.liveness.leaders(Box::new(leaders));
    }

    /// Every host's last heartbeat as this host saw it, with the time since.
    pub fn peers(&self) -> Vec<liveness::Peer> {
        self.liveness.peers()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Registers `epoch` in the namespace and expires this host's earlier epochs (a restart
/// or a rejoin): whatever it ran before is over.
pub(crate) fn join(feeder: &Feeder, epoch: HostEpoch, id: &str) -> Result<(), StoreError> {
    match feeder.propose_blocking(Command::JoinHost {
        epoch,
        id: id.to_owned(),
    })? {
        Ok(Outcome::Done) => {}
        Ok(other) => return Err(StoreError::Failed(format!("joining returned {other:?}"))),
        Err(refusal) => {
            return Err(StoreError::Failed(format!(
                "joining was refused: {refusal}"
            )));
        }
    }
    let earlier: Vec<HostEpoch> = feeder
        .published()
        .hosts()
        .filter(|(other, record)| record.id == id && *other != epoch)
        .map(|(other, _)| other)
        .collect();
    for old in earlier {
        let ended = feeder.propose_blocking(Command::ExpireHost { epoch: old })?;
        tracing::info!(host = id, epoch = %old, ?ended, "expired this host's earlier epoch");
    }
    Ok(())
}

/// Follows the log key from `after` and hands every batch to the store, in order; on a
/// lost watch it reconnects from the last batch it handed over.
fn follow(
    connection: Connection,
    feeder: Feeder,
    after: Position,
    stop: Arc<AtomicBool>,
    spawn: Spawner,
) {
    spawn(Box::new(move || {
        let mut after = after;
        let mut pause = Duration::from_millis(50);
        let mut connection = connection;
        while !stop.load(Ordering::Acquire) {
            match connection.block_on(watch_from(&connection, &feeder, &mut after, &stop)) {
                Ok(()) => return,
                Err(StoreError::Closed) => return,
                Err(error) => {
                    tracing::warn!(%error, after, "the log's watch was lost; following again");
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(1));
                    // A fresh client: the old one's channel may not recover from every
                    // member having restarted.
                    match connection.reconnect() {
                        Ok(fresh) => {
                            connection = fresh;
                            pause = Duration::from_millis(50);
                        }
                        Err(error) => tracing::warn!(%error, "reconnecting to etcd failed"),
                    }
                }
            }
        }
    }));
}

async fn watch_from(
    connection: &Connection,
    feeder: &Feeder,
    after: &mut Position,
    stop: &AtomicBool,
) -> Result<(), StoreError> {
    let mut client = connection.client();
    let options = WatchOptions::new()
        .with_start_revision(*after as i64 + 1)
        .with_progress_notify();
    let (_watcher, mut stream) = client
        .watch(connection.keys().log(), Some(options))
        .await
        .map_err(unavailable("following the log"))?;
    loop {
        let next = tokio::time::timeout(Duration::from_millis(500), stream.message()).await;
        if stop.load(Ordering::Acquire) {
            return Ok(());
        }
        let Ok(message) = next else {
            continue;
        };
        let Some(response) = message.map_err(unavailable("following the log"))? else {
            return Err(StoreError::Unavailable(
                "etcd closed the log's watch".into(),
            ));
        };
        // A compacted start ends following with `Compacted` (no host loads a snapshot
        // while running yet: see the README).
        for batch in crate::log::batches_in(&response, *after)? {
            let position = batch.position;
            feeder.deliver(batch)?;
            *after = position;
        }
    }
}
