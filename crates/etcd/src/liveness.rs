//! Host liveness across the cluster: each host's heartbeat key, the expiry of peers that
//! fall silent, and the fencing of a host that cannot get its own heartbeat through.
//! The crate docs give the safety argument and what it assumes of clocks.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use etcd_client::{EventType, PutOptions, WatchOptions};
use serde::{Deserialize, Serialize};

use ballot_core::command::Command;
use ballot_core::namespace::{HostEpoch, MonoTime};
use ballot_store::clock::Clock;
use ballot_store::{Feeder, StoreError};

use crate::connection::{Connection, unavailable};

/// The shortest wait between two looks at the peers' heartbeats.
const PEER_CHECK_FLOOR: Duration = Duration::from_millis(2);

/// What a host's heartbeat key holds.
#[derive(Debug, Serialize, Deserialize)]
struct Beat {
    id: String,
    epoch: HostEpoch,
    applied: u64,
    /// The leaders the host ran when it sent the beat, by deployment name and term.
    #[serde(default)]
    leading: Vec<(String, u64)>,
}

/// What a host says it runs, for its heartbeat.
pub type Leaders = Box<dyn Fn() -> Vec<(String, u64)> + Send + Sync>;

/// A host as this host last heard of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its epoch.
    pub epoch: HostEpoch,
    /// Its name.
    pub id: String,
    /// Time since its last heartbeat reached this host (for itself: since its last
    /// acknowledged one was sent).
    pub since_heartbeat: Duration,
    /// The log position it had applied at that heartbeat.
    pub applied: u64,
}

/// The TTL of the etcd lease a host's key is under: the host's TTL in whole seconds,
/// at least etcd's usual minimum. The lease is a second way peers learn of a dead host
/// (its key is deleted when the lease runs out) and keeps dead hosts' keys from piling up.
fn lease_ttl(ttl: Duration) -> i64 {
    (ttl.as_millis().div_ceil(1000) as i64).max(2)
}

/// Grants a lease for a host's key.
fn grant(connection: &Connection, ttl: Duration) -> Result<i64, StoreError> {
    let mut client = connection.client();
    let granted = connection
        .block_on(client.lease_grant(lease_ttl(ttl), None))
        .map_err(unavailable("granting the host key's lease"))?;
    Ok(granted.id())
}

/// Registers a new epoch for host `id`: the revision of a put of its heartbeat key (under
/// a new lease, returned with it), unique and greater than every earlier epoch.
pub fn register(
    connection: &Connection,
    id: &str,
    ttl: Duration,
) -> Result<(HostEpoch, i64), StoreError> {
    let lease = grant(connection, ttl)?;
    let mut client = connection.client();
    let key = connection.keys().host(id);
    let beat = encode(&Beat {
        id: id.to_owned(),
        epoch: HostEpoch(0),
        applied: 0,
        leading: Vec::new(),
    });
    let options = PutOptions::new().with_lease(lease);
    let response = connection
        .block_on(client.put(key, beat, Some(options)))
        .map_err(unavailable("registering the host"))?;
    let revision = response
        .header()
        .map(|h| h.revision() as u64)
        .ok_or_else(|| StoreError::Unavailable("etcd's answer had no revision".into()))?;
    Ok((HostEpoch(revision), lease))
}

fn encode(beat: &Beat) -> Vec<u8> {
    let mut bytes = Vec::new();
    ciborium::into_writer(beat, &mut bytes).expect("encoding to memory cannot fail");
    bytes
}

/// The liveness machinery of one host.
pub(crate) struct Liveness {
    connection: Connection,
    feeder: Feeder,
    id: String,
    epoch: AtomicU64,
    /// The lease the host's key is under (replaced when it ran out).
    lease: std::sync::atomic::AtomicI64,
    ttl: Duration,
    clock: Arc<dyn Clock>,
    stop: Arc<AtomicBool>,
    /// When this host sent its last heartbeat that etcd acknowledged.
    acked: Mutex<MonoTime>,
    /// When this host last (re)joined: it judges no peer silent for longer than it has
    /// itself been live.
    joined: Mutex<MonoTime>,
    /// Whether this host has fenced itself and not yet rejoined.
    fenced: AtomicBool,
    /// Set by the log's follower when it loaded a snapshot in place of the replica's state:
    /// this host missed what happened in between, so it fences itself and rejoins.
    behind: Arc<AtomicBool>,
    on_fence: OnceLock<Box<dyn Fn() + Send + Sync>>,
    leaders: OnceLock<Leaders>,
    /// Each peer epoch's last heartbeat, with when it arrived on this host's clock.
    seen: Mutex<BTreeMap<HostEpoch, (MonoTime, Beat)>>,
    /// Peers this host proposed to expire.
    expiring: Mutex<BTreeSet<HostEpoch>>,
}

/// Who a host is in the cluster when its liveness starts.
pub(crate) struct Member {
    /// Its name.
    pub(crate) id: String,
    /// The epoch it joined under, and the lease its key is under.
    pub(crate) epoch: HostEpoch,
    pub(crate) lease: i64,
    /// Its heartbeat TTL.
    pub(crate) ttl: Duration,
}

impl Liveness {
    pub(crate) fn start(
        connection: Connection,
        feeder: Feeder,
        Member {
            id,
            epoch,
            lease,
            ttl,
        }: Member,
        clock: Arc<dyn Clock>,
        behind: Arc<AtomicBool>,
        stop: Arc<AtomicBool>,
    ) -> Arc<Self> {
        let now = clock.now();
        let liveness = Arc::new(Liveness {
            connection,
            feeder,
            id,
            epoch: AtomicU64::new(epoch.0),
            lease: std::sync::atomic::AtomicI64::new(lease),
            ttl,
            clock,
            stop,
            acked: Mutex::new(now),
            joined: Mutex::new(now),
            fenced: AtomicBool::new(false),
            behind,
            on_fence: OnceLock::new(),
            leaders: OnceLock::new(),
            seen: Mutex::new(BTreeMap::new()),
            expiring: Mutex::new(BTreeSet::new()),
        });
        let beating = liveness.clone();
        std::thread::Builder::new()
            .name("ballot-heartbeat".into())
            .spawn(move || beating.beat())
            .expect("spawning the heartbeat thread");
        let watching = liveness.clone();
        let connection = liveness.connection.clone();
        connection.spawn(async move { watching.watch_peers().await });
        let checking = liveness.clone();
        std::thread::Builder::new()
            .name("ballot-peers".into())
            .spawn(move || checking.check_peers())
            .expect("spawning the peer checker");
        liveness
    }

    pub(crate) fn epoch(&self) -> HostEpoch {
        HostEpoch(self.epoch.load(Ordering::Acquire))
    }

    /// The store handle this host's machinery shares.
    pub(crate) fn feeder(&self) -> &Feeder {
        &self.feeder
    }

    /// The host's connection to etcd.
    pub(crate) fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The host's name.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn on_fence(&self, fence: Box<dyn Fn() + Send + Sync>) {
        let _ = self.on_fence.set(fence);
    }

    pub(crate) fn leaders(&self, leaders: Leaders) {
        let _ = self.leaders.set(leaders);
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Puts the heartbeat every TTL/3. Fences the host when none was acknowledged for TTL
    /// minus a margin (measured from its send), or when the host finds it was paused that
    /// long, or that its epoch was expired; rejoins under a new epoch once heartbeats get
    /// through again.
    fn beat(self: Arc<Self>) {
        let every = self.ttl / 3;
        let margin = self.ttl / 5;
        let limit = self.ttl.saturating_sub(margin);
        let mut client = self.connection.client();
        let key = self.connection.keys().host(&self.id);
        let lease_every = Duration::from_secs(lease_ttl(self.ttl) as u64) / 3;
        let mut kept = self.clock.now();
        while !self.stopped() {
            let sent = self.clock.now();
            let acked = *self.acked.lock().unwrap_or_else(|p| p.into_inner());
            // Checked before the put: a host that was paused past the limit must not count
            // the first heartbeat after the pause as proof that it stayed live.
            if sent.since(acked) >= limit {
                self.fence("no heartbeat acknowledged for the TTL minus its margin");
            }
            let epoch = self.epoch();
            if !self.feeder.published().is_live_host(epoch) && self.feeder.applied_position() > 0 {
                self.fence("this host's epoch was expired by its peers");
            }
            if self.behind.swap(false, Ordering::AcqRel) {
                self.fence("this host fell behind the log's compaction and loaded a snapshot");
            }
            if let Some(why) = self.feeder.halted() {
                self.fence(&why);
                std::thread::sleep(every);
                continue;
            }
            let beat = encode(&Beat {
                id: self.id.clone(),
                epoch,
                applied: self.feeder.applied_position(),
                leading: self
                    .leaders
                    .get()
                    .map_or_else(Vec::new, |leaders| leaders()),
            });
            // A slow put that still lands in time keeps the host live: wait for it as long
            // as an acknowledgement would still count.
            let budget = limit
                .saturating_sub(sent.since(acked))
                .max(Duration::from_millis(20));
            let lease = self.lease.load(Ordering::Acquire);
            let put = self.connection.block_on(async {
                tokio::time::timeout(budget, async {
                    let options = PutOptions::new().with_lease(lease);
                    client.put(key.clone(), beat, Some(options)).await
                })
                .await
            });
            match put {
                Ok(Ok(_)) => {
                    *self.acked.lock().unwrap_or_else(|p| p.into_inner()) = sent;
                    if self.fenced.load(Ordering::Acquire) {
                        self.rejoin();
                    }
                    if sent.since(kept) >= lease_every {
                        self.keep_lease(lease, budget);
                        kept = sent;
                    }
                }
                Ok(Err(error)) if error.to_string().contains("lease not found") => {
                    self.renew_lease("the host key's lease ran out")
                }
                Ok(Err(error)) => tracing::warn!(%error, "a heartbeat failed"),
                Err(_) => tracing::warn!("a heartbeat timed out"),
            }
            let spent = self.clock.now().since(sent);
            std::thread::sleep(every.saturating_sub(spent));
        }
    }

    /// Revokes every local component's powers, once per fencing.
    pub(crate) fn fence(&self, why: &str) {
        if self.fenced.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::error!(host = %self.id, epoch = %self.epoch(), why, "fencing this host");
        if let Some(fence) = self.on_fence.get() {
            fence();
        }
    }

    /// Refreshes the lease of the host's key (the key then outlives the host by at most
    /// the lease's TTL); a lease found gone is replaced.
    fn keep_lease(&self, lease: i64, budget: Duration) {
        let mut client = self.connection.client();
        let kept = self.connection.block_on(async {
            tokio::time::timeout(budget, async {
                let (mut keeper, mut answers) = client.lease_keep_alive(lease).await?;
                keeper.keep_alive().await?;
                answers.message().await
            })
            .await
        });
        match kept {
            Ok(Ok(Some(answer))) if answer.ttl() > 0 => {}
            Ok(Ok(_)) => self.renew_lease("the host key's lease ran out"),
            Ok(Err(error)) => tracing::warn!(%error, "refreshing the host key's lease failed"),
            Err(_) => tracing::warn!("refreshing the host key's lease timed out"),
        }
    }

    /// A new lease for the host's key, after the old one ran out (the host was silent
    /// for longer than the lease: it has fenced itself by then, or is about to).
    fn renew_lease(&self, why: &str) {
        tracing::warn!(host = %self.id, why, "granting the host key a new lease");
        match grant(&self.connection, self.ttl) {
            Ok(lease) => self.lease.store(lease, Ordering::Release),
            Err(error) => tracing::warn!(%error, "granting a new lease failed"),
        }
    }

    /// After fencing itself: a new epoch, joined, and the old one expired.
    fn rejoin(&self) {
        let id = self.id.clone();
        match register(&self.connection, &id, self.ttl) {
            Ok((epoch, lease)) => match crate::host::join(&self.feeder, epoch, &id) {
                Ok(()) => {
                    self.lease.store(lease, Ordering::Release);
                    self.epoch.store(epoch.0, Ordering::Release);
                    *self.joined.lock().unwrap_or_else(|p| p.into_inner()) = self.clock.now();
                    self.fenced.store(false, Ordering::Release);
                    tracing::info!(host = %id, %epoch, "rejoined the cluster under a new epoch");
                }
                Err(error) => tracing::warn!(%error, "rejoining failed; trying again"),
            },
            Err(error) => tracing::warn!(%error, "registering a new epoch failed; trying again"),
        }
    }

    /// Notes every peer heartbeat as it arrives.
    async fn watch_peers(self: Arc<Self>) {
        while !self.stopped() {
            let mut client = self.connection.client();
            let options = WatchOptions::new().with_prefix().with_prev_key();
            let watched = client
                .watch(self.connection.keys().hosts(), Some(options))
                .await;
            let Ok((_watcher, mut stream)) = watched else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            loop {
                let next = tokio::time::timeout(Duration::from_millis(500), stream.message()).await;
                if self.stopped() {
                    return;
                }
                let Ok(message) = next else { continue };
                let Ok(Some(response)) = message else { break };
                for event in response.events() {
                    match (event.event_type(), event.kv()) {
                        (EventType::Put, Some(kv)) => {
                            if let Ok(beat) = ciborium::from_reader::<Beat, _>(kv.value()) {
                                self.seen
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .insert(beat.epoch, (self.clock.now(), beat));
                            }
                        }
                        (EventType::Delete, _) => {
                            let gone = event
                                .prev_kv()
                                .and_then(|kv| ciborium::from_reader::<Beat, _>(kv.value()).ok());
                            if let Some(beat) = gone {
                                self.seen
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .insert(beat.epoch, (MonoTime(0), beat));
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    /// Every TTL/4, proposes the expiry of each live host (in the namespace) whose
    /// heartbeat this host has not seen for a full TTL on its own clock.
    fn check_peers(self: Arc<Self>) {
        let margin = self.ttl / 5;
        let mut noticed: BTreeMap<HostEpoch, MonoTime> = BTreeMap::new();
        let mut wait = self.ttl / 4;
        while !self.stopped() {
            std::thread::sleep(wait);
            // At the latest every TTL/4; sooner when a peer's TTL runs out before that, so
            // a dead host is expired when its TTL ends, not up to a quarter TTL later.
            wait = self.ttl / 4;
            let now = self.clock.now();
            let acked = *self.acked.lock().unwrap_or_else(|p| p.into_inner());
            if self.fenced.load(Ordering::Acquire)
                || now.since(acked) >= self.ttl.saturating_sub(margin)
            {
                // A host whose own heartbeat is not getting through (or that was paused)
                // may be the one cut off: it judges nobody.
                continue;
            }
            let joined = *self.joined.lock().unwrap_or_else(|p| p.into_inner());
            let mine = self.epoch();
            let state = self.feeder.published();
            let silent: Vec<HostEpoch> = {
                let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
                // A host that just joined gets a full TTL from when this host first saw it
                // in the namespace, before its first heartbeat arrives.
                noticed.retain(|epoch, _| state.is_live_host(*epoch));
                state
                    .hosts()
                    .map(|(epoch, _)| epoch)
                    .filter(|epoch| *epoch != mine)
                    .filter(|epoch| {
                        let first = *noticed.entry(*epoch).or_insert(now);
                        let heard = last_heard(seen.get(epoch).map(|(at, _)| *at), first, joined);
                        let silent_for = now.since(heard);
                        wait = wait.min(self.ttl.saturating_sub(silent_for));
                        silent_for >= self.ttl
                    })
                    .collect()
            };
            wait = wait.max(PEER_CHECK_FLOOR);
            for epoch in silent {
                if !self
                    .expiring
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(epoch)
                {
                    continue;
                }
                tracing::warn!(%epoch, "a host fell silent for its TTL: expiring it");
                match self.feeder.propose_blocking(Command::ExpireHost { epoch }) {
                    Ok(applied) => tracing::info!(%epoch, ?applied, "expired a silent host"),
                    Err(error) => {
                        tracing::warn!(%error, %epoch, "expiring a silent host failed; will retry");
                        self.expiring
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&epoch);
                    }
                }
            }
        }
    }

    pub(crate) fn peers(&self) -> Vec<Peer> {
        let now = self.clock.now();
        let mine = self.epoch();
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let state = self.feeder.published();
        state
            .hosts()
            .map(|(epoch, record)| {
                let (since, applied) = if epoch == mine {
                    let acked = *self.acked.lock().unwrap_or_else(|p| p.into_inner());
                    (now.since(acked), self.feeder.applied_position())
                } else {
                    seen.get(&epoch).map_or((Duration::MAX, 0), |(at, beat)| {
                        (now.since(*at), beat.applied)
                    })
                };
                Peer {
                    epoch,
                    id: record.id.clone(),
                    since_heartbeat: since,
                    applied,
                }
            })
            .collect()
    }
}

/// Since when a peer counts as silent: its last heartbeat as this host received it;
/// before any arrived, since this host first saw the peer in the namespace (it cannot know
/// how old the peer's last heartbeat is); and never before this host itself joined.
///
/// A heartbeat, once heard, is the whole story: a peer that beat before this host's next
/// check noticed it in the namespace is silent from that beat, so that, killed right after,
/// it is expired a TTL after the beat and not up to a check interval (a quarter TTL) later.
/// `heard` is `MonoTime(0)` for a peer whose key was deleted (its lease ran out).
fn last_heard(heard: Option<MonoTime>, first_noticed: MonoTime, joined: MonoTime) -> MonoTime {
    heard.unwrap_or(first_noticed).max(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> MonoTime {
        MonoTime(ms * 1_000_000)
    }

    #[test]
    fn a_peer_heard_before_it_was_noticed_is_silent_from_its_heartbeat() {
        // Heard at 10 ms, first noticed in the namespace by the check at 70 ms.
        assert_eq!(last_heard(Some(at(10)), at(70), at(0)), at(10));
    }

    #[test]
    fn a_peer_never_heard_gets_a_full_ttl_from_when_it_was_noticed() {
        assert_eq!(last_heard(None, at(70), at(0)), at(70));
    }

    #[test]
    fn nobody_is_silent_from_before_this_host_joined() {
        assert_eq!(last_heard(Some(at(10)), at(70), at(500)), at(500));
        assert_eq!(last_heard(None, at(70), at(500)), at(500));
    }

    #[test]
    fn a_peer_whose_key_went_is_silent_since_this_host_joined() {
        assert_eq!(last_heard(Some(MonoTime(0)), at(70), at(5)), at(5));
    }
}
