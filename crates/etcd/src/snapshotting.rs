//! Writing the cluster's snapshots: one host at a time, the one that leads the hosts'
//! own election.
//!
//! That election needs no ballots of its own: the hosts' epochs already are ballots. Each
//! is the revision of its host's registration, so lower means joined earlier, and the
//! namespace's table of live hosts is the same on every replica at every position. The
//! live host with the lowest epoch leads; when it is expired (silent for its TTL, or
//! restarted under a new epoch), the next lowest leads, with no extra keys or watches.
//! Exclusivity is not needed for safety either: a snapshot at a position is the same
//! bytes whoever takes it, and is keyed by that position, so two writers at once only
//! repeat work.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ballot_store::log::Snapshots;

use crate::liveness::Liveness;
use crate::snapshots::EtcdSnapshots;

/// How often the writer looks whether a snapshot is due.
const LOOK_EVERY: Duration = Duration::from_millis(250);

/// Starts the snapshot writer of this host: while it leads the hosts, it saves the
/// replica's state once `every` batches have applied since its last snapshot.
pub(crate) fn start(
    liveness: Arc<Liveness>,
    snapshots: EtcdSnapshots,
    every: u64,
    stop: Arc<AtomicBool>,
) {
    std::thread::Builder::new()
        .name("ballot-snapshots".into())
        .spawn(move || run(&liveness, &snapshots, every.max(1), &stop))
        .expect("spawning the snapshot writer");
}

fn run(liveness: &Liveness, snapshots: &EtcdSnapshots, every: u64, stop: &AtomicBool) {
    let feeder = liveness.feeder();
    let mut last = 0;
    while !stop.load(Ordering::Acquire) {
        std::thread::sleep(LOOK_EVERY);
        let batches = feeder.applied_batches();
        if batches.saturating_sub(last) < every || feeder.halted().is_some() {
            continue;
        }
        let state = feeder.published();
        let leader = state.hosts().map(|(epoch, _)| epoch).min();
        if leader != Some(liveness.epoch()) {
            continue;
        }
        let captured = feeder.capture();
        let saved = captured.and_then(|(position, elections)| {
            let started = std::time::Instant::now();
            snapshots.save(position, &elections)?;
            Ok((position, started.elapsed()))
        });
        match saved {
            Ok((position, took)) => {
                last = batches;
                tracing::info!(position, ?took, "wrote the cluster's snapshot");
            }
            Err(error) => tracing::warn!(%error, "writing a snapshot failed; will try again"),
        }
    }
}
