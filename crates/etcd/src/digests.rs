//! Comparing the replicas: at the same log positions on every host, a digest of the
//! namespace, checked against the other hosts' digests for that position.
//!
//! Every replica applies the same batches in the same order through the same `apply`, so
//! their states must be equal at every position. A bug that breaks that (a command whose
//! outcome depends on something only one host sees) would otherwise show only as hosts
//! quietly disagreeing about who leads. So the writer hands over the state at the first
//! batch past every multiple of `every` positions ([`ballot_store::Feeder::checkpoints`]),
//! the same batches on every host; this host hashes it off the writer, records the digest
//! under the position and its own name, and reads the others'. When they all agree, that
//! is all. When some differ, it waits (a few seconds at most) for every live host's
//! digest, and the majority of those recorded decides: a host whose digest is not held by
//! a strict majority stops serving (its writer refuses everything, its components are
//! fenced, its heartbeats stop so its peers expire it) and says why. So one host with a
//! bug stops alone, and of two hosts that disagree both stop: neither can tell which is
//! right.
//!
//! The digest covers the namespace ([`ballot_core::namespace::State`]: nodes, sessions,
//! hosts, revision), whose encoding is canonical. Watches are left out: a component's
//! watches are registered only on the host that runs it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use etcd_client::{DeleteOptions, GetOptions};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use ballot_store::{Checkpoint, StoreError};

use crate::connection::{Connection, unavailable};
use crate::liveness::Liveness;

/// Checkpoints kept in etcd behind the newest (older digest keys are deleted).
const KEEP: u64 = 8;

/// What a digest key holds.
#[derive(Debug, Serialize, Deserialize)]
struct Recorded {
    host: String,
    sha256: Vec<u8>,
}

/// Starts comparing this host's state with the cluster's every `every` positions.
pub(crate) fn start(
    connection: Connection,
    liveness: Arc<Liveness>,
    every: u64,
    stop: Arc<AtomicBool>,
) -> Result<(), StoreError> {
    let checkpoints = liveness.feeder().checkpoints(every, 4)?;
    std::thread::Builder::new()
        .name("ballot-digests".into())
        .spawn(move || {
            while !stop.load(Ordering::Acquire) {
                let Ok(checkpoint) = checkpoints.recv_timeout(Duration::from_millis(500)) else {
                    continue;
                };
                let live = || {
                    let state = liveness.feeder().published();
                    state.hosts().map(|(_, host)| host.id.clone()).collect()
                };
                match compare(&connection, liveness.id(), &checkpoint, every, live) {
                    Ok(None) => {}
                    Ok(Some(why)) => {
                        let _ = liveness.feeder().halt(why.clone());
                        liveness.fence(&why);
                        return;
                    }
                    Err(error) => tracing::warn!(
                        %error, position = checkpoint.position,
                        "could not compare this replica's digest; skipped"
                    ),
                }
            }
        })
        .expect("spawning the digest checker");
    Ok(())
}

/// The digest of a checkpoint's state.
fn digest(checkpoint: &Checkpoint) -> Vec<u8> {
    Sha256::digest(checkpoint.state.encode()).to_vec()
}

/// How long a host that finds its digest disputed waits for every live host's digest
/// before the majority of those recorded decides.
const VERDICT_WAIT: Duration = Duration::from_secs(3);

/// Records this host's digest for the checkpoint and compares it with the others';
/// `Some(why)` when this host must stop: its digest is not held by a strict majority of
/// the hosts that recorded one (every `live` host's is waited for, up to
/// [`VERDICT_WAIT`]).
fn compare(
    connection: &Connection,
    host: &str,
    checkpoint: &Checkpoint,
    every: u64,
    live: impl Fn() -> Vec<String>,
) -> Result<Option<String>, StoreError> {
    let mine = digest(checkpoint);
    let folder = format!("{}/", connection.keys().digest(checkpoint.position));
    let mut value = Vec::new();
    ciborium::into_writer(
        &Recorded {
            host: host.to_owned(),
            sha256: mine.clone(),
        },
        &mut value,
    )
    .expect("encoding to memory cannot fail");
    let mut client = connection.client();
    connection
        .block_on(client.put(format!("{folder}{host}"), value, None))
        .map_err(unavailable("recording a digest"))?;
    let deadline = std::time::Instant::now() + VERDICT_WAIT;
    let verdict = loop {
        let response = connection
            .block_on(client.get(folder.clone(), Some(GetOptions::new().with_prefix())))
            .map_err(unavailable("reading the digests"))?;
        let records: Vec<Recorded> = response
            .kvs()
            .iter()
            .filter_map(|kv| ciborium::from_reader(kv.value()).ok())
            .collect();
        if records.iter().all(|r| r.sha256 == mine) {
            break None;
        }
        let missing = live()
            .iter()
            .any(|id| !records.iter().any(|r| r.host == *id));
        if missing && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        let others: Vec<String> = records
            .iter()
            .filter(|r| r.sha256 != mine)
            .map(|r| format!("{} ({})", r.host, hex(&r.sha256)))
            .collect();
        let agreeing = records.len() - others.len();
        if agreeing * 2 > records.len() {
            tracing::warn!(
                position = checkpoint.position, differing = ?others,
                "hosts in a minority recorded other digests; they stop serving"
            );
            break None;
        }
        break Some(format!(
            "this replica's state diverged from the cluster's: at log position {} its digest \
             is {}, held by {agreeing} of the {} hosts that recorded one; the others: {}; \
             it stopped serving",
            checkpoint.position,
            hex(&mine),
            records.len(),
            others.join(", ")
        ));
    };
    if verdict.is_none() {
        tracing::debug!(position = checkpoint.position, digest = %hex(&mine), "replica digest agrees");
    }
    // Older checkpoints are of no more use to anyone.
    if let Some(oldest) = checkpoint.position.checked_sub(KEEP * every) {
        let options = DeleteOptions::new().with_range(connection.keys().digest(oldest));
        let _ = connection.block_on(client.delete(connection.keys().digests(), Some(options)));
    }
    Ok(verdict)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
