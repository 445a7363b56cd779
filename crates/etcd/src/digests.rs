//! Comparing the replicas: at the same log positions on every host, a digest of the
//! namespace, checked against the first one recorded for that position.
//!
//! Every replica applies the same batches in the same order through the same `apply`, so
//! their states must be equal at every position. A bug that breaks that (a command whose
//! outcome depends on something only one host sees) would otherwise show only as hosts
//! quietly disagreeing about who leads. So the writer hands over the state at the first
//! batch past every multiple of `every` positions ([`ballot_store::Feeder::checkpoints`]),
//! the same batches on every host; this host hashes it off the writer and records the
//! digest under the position with a create-if-absent transaction. The first digest
//! recorded for a position is the reference: a host whose digest differs stops serving
//! (its writer refuses everything and its components are fenced) and says why.
//!
//! The digest covers the namespace ([`ballot_core::namespace::State`]: nodes, sessions,
//! hosts, revision), whose encoding is canonical. Watches are left out: a component's
//! watches are registered only on the host that runs it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use etcd_client::{Compare, CompareOp, DeleteOptions, Txn, TxnOp, TxnOpResponse};
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
                match compare(&connection, liveness.id(), &checkpoint, every) {
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
pub fn digest(checkpoint: &Checkpoint) -> Vec<u8> {
    Sha256::digest(checkpoint.state.encode()).to_vec()
}

/// Records this host's digest for the checkpoint or compares it with the one recorded
/// first; `Some(why)` when they differ.
fn compare(
    connection: &Connection,
    host: &str,
    checkpoint: &Checkpoint,
    every: u64,
) -> Result<Option<String>, StoreError> {
    let mine = digest(checkpoint);
    let key = connection.keys().digest(checkpoint.position);
    let mut value = Vec::new();
    ciborium::into_writer(
        &Recorded {
            host: host.to_owned(),
            sha256: mine.clone(),
        },
        &mut value,
    )
    .expect("encoding to memory cannot fail");
    let txn = Txn::new()
        .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
        .and_then([TxnOp::put(key.clone(), value, None)])
        .or_else([TxnOp::get(key.clone(), None)]);
    let mut client = connection.client();
    let response = connection
        .block_on(client.txn(txn))
        .map_err(unavailable("recording a digest"))?;
    let verdict = if response.succeeded() {
        None
    } else {
        let recorded = response.op_responses().into_iter().find_map(|op| match op {
            TxnOpResponse::Get(get) => get.kvs().first().map(|kv| kv.value().to_vec()),
            _ => None,
        });
        let recorded: Option<Recorded> =
            recorded.and_then(|bytes| ciborium::from_reader(&bytes[..]).ok());
        match recorded {
            Some(theirs) if theirs.sha256 != mine => Some(format!(
                "this replica's state diverged from the cluster's: at log position {} its \
                 digest is {}, but host {} recorded {}; it stopped serving",
                checkpoint.position,
                hex(&mine),
                theirs.host,
                hex(&theirs.sha256)
            )),
            _ => None,
        }
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
