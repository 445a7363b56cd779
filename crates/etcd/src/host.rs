//! Opening one host's replica of a cluster's namespace: register an epoch, rebuild the
//! state from the newest snapshot and the log after it, open the store on the shared log,
//! and follow the log key into it from there.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use etcd_client::WatchOptions;

use ballot_core::command::{Command, Outcome};
use ballot_core::namespace::{HostEpoch, Limits};
use ballot_store::clock::Clock;
use ballot_store::embedded::Spawner;
use ballot_store::log::{Position, Snapshots, replay};
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
    /// Batches between two snapshots written by the host that leads the hosts
    /// (`--snapshot-every`): how much of the log a host that starts, or falls behind a
    /// compaction, has to read after the newest snapshot.
    pub snapshot_every: u64,
    /// Log positions between two comparisons of the replicas' digests.
    pub digest_every: u64,
}

impl HostOptions {
    /// Defaults for host `id` with heartbeat TTL `ttl`.
    pub fn new(id: &str, ttl: Duration) -> Self {
        HostOptions {
            id: id.to_owned(),
            ttl,
            store: Options::default(),
            snapshot_every: 10_000,
            digest_every: 1_000,
        }
    }
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
        let (epoch, lease) = liveness::register(&connection, &options.id, options.ttl)?;
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
        let behind = Arc::new(AtomicBool::new(false));
        follow(
            connection.clone(),
            feeder.clone(),
            position,
            options.store.limits,
            behind.clone(),
            stop.clone(),
            ballot_store::embedded::thread_spawner(),
        );
        join(&feeder, epoch, &options.id)?;
        let liveness = Liveness::start(
            connection.clone(),
            feeder,
            liveness::Member {
                id: options.id.clone(),
                epoch,
                lease,
                ttl: options.ttl,
            },
            clock,
            behind,
            stop.clone(),
        );
        crate::snapshotting::start(
            liveness.clone(),
            EtcdSnapshots::new(connection.clone()),
            options.snapshot_every,
            stop.clone(),
        );
        crate::digests::start(
            connection,
            liveness.clone(),
            options.digest_every,
            stop.clone(),
        )?;
        Ok((store, Host { liveness, stop }))
    }

    /// This host's name (`--host-id`).
    pub fn id(&self) -> &str {
        self.liveness.id()
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

    /// The position of the log's newest batch, asked of etcd now: once this replica has
    /// applied it, a read here sees every change acknowledged before the call.
    pub fn log_position(&self) -> Result<Position, StoreError> {
        crate::log::current_position(self.liveness.connection())
    }

    /// Why this host stopped serving (its replica diverged from the cluster's), if it did.
    pub fn halted(&self) -> Option<String> {
        self.liveness.feeder().halted()
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
///
/// When the log it needs was compacted away (this host fell that far behind), it loads the
/// newest snapshot in place of the replica's state and sets `behind`: what happened in
/// between was never delivered here, so the host must fence its components and rejoin.
fn follow(
    connection: Connection,
    feeder: Feeder,
    after: Position,
    limits: Limits,
    behind: Arc<AtomicBool>,
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
                Err(StoreError::Compacted { compacted, .. }) => {
                    match catch_up_from_snapshot(&connection, &feeder, after, compacted, limits) {
                        Ok(position) => {
                            after = position;
                            behind.store(true, Ordering::Release);
                        }
                        Err(error) => {
                            tracing::error!(%error, after, compacted, "cannot follow the log");
                            std::thread::sleep(Duration::from_secs(1));
                        }
                    }
                }
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

/// Loads the newest snapshot into the replica after the log was compacted up to
/// `compacted`, past `after`; returns the snapshot's position, from which the log can be
/// followed again. Fails while no snapshot reaches the compaction (ballot never compacts
/// etcd itself: whoever compacted it went past the newest snapshot).
fn catch_up_from_snapshot(
    connection: &Connection,
    feeder: &Feeder,
    after: Position,
    compacted: Position,
    limits: Limits,
) -> Result<Position, StoreError> {
    let snapshots = EtcdSnapshots::new(connection.clone());
    let newest = snapshots.load_newest(limits)?;
    let Some((position, elections)) = newest.filter(|(position, _)| position + 1 >= compacted)
    else {
        return Err(StoreError::Failed(format!(
            "the log was compacted up to revision {compacted}, past this host's position \
             {after} and past the newest snapshot; compact etcd only up to the newest \
             snapshot's position (the keys under {})",
            connection.keys().snapshots()
        )));
    };
    feeder.install(position, elections)?;
    tracing::warn!(
        after,
        compacted,
        position,
        "the log this host needed was compacted: loaded the newest snapshot"
    );
    Ok(position)
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
        for batch in crate::log::batches_in(&response, *after)? {
            let position = batch.position;
            feeder.deliver(batch)?;
            *after = position;
        }
    }
}
