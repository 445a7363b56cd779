//! A full disk, waited out.
//!
//! A write the disk refused for want of space, before any fdatasync covered it, can be
//! taken back: the log is cut to where the last sync left it, the state is rebuilt from
//! the newest snapshot and the log (so the refused commands vanish from memory too), and
//! the store refuses changes while a probe write and sync fail, then takes changes again
//! by itself. A failed fdatasync is another matter: after one, what the page cache holds
//! cannot be trusted, so the store stops for good (see [`super::EmbeddedStore::halted`]).

use std::time::{Duration, Instant};

use super::Writer;
use crate::log;

/// How often a store refusing changes for a full disk probes it.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

/// A probe failure is logged once in this many, after the first: a full disk that stays
/// full for hours must not fill the log too.
const LOG_EVERY_NTH_FAILURE: u64 = 60;

/// What the writer knows while it waits out a full disk.
pub(super) struct FullDisk {
    since: Instant,
    next_probe: Instant,
    failed_probes: u64,
}

impl FullDisk {
    /// How long until the next probe is due (zero when it is).
    pub(super) fn until_probe(&self) -> Duration {
        self.next_probe.saturating_duration_since(Instant::now())
    }
}

impl Writer {
    /// After a write the disk refused for want of space (`why`): cuts it from the log,
    /// rebuilds the state as the last sync left it and starts refusing changes until a
    /// probe succeeds. If the log cannot be cut or the state not rebuilt, leaves the store
    /// to stop for good, as any other failed write does. Returns what every change is
    /// refused with meanwhile.
    pub(super) fn take_back_refused_write(&mut self, why: &str) -> Option<String> {
        let snapshot_files = self.snapshot_files.as_ref()?;
        let rebuilt = self
            .log
            .undo_unsynced()
            .and_then(|()| log::replay(&*self.log, snapshot_files, self.options.limits));
        let replayed = match rebuilt {
            Ok(replayed) => replayed,
            Err(error) => {
                tracing::error!(%error, "could not take back the write the disk refused");
                return None;
            }
        };
        let mut elections = replayed.elections;
        elections.keep_deadlines_from(&self.core);
        self.core = elections;
        let refusal = format!(
            "the disk is full ({why}); the store took back the refused write and refuses \
             changes until a probe write goes through (every {PROBE_EVERY:?})"
        );
        tracing::error!(%why, "the disk is full: the store refuses changes and probes it every {PROBE_EVERY:?}");
        *self
            .shared
            .degraded
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(refusal.clone());
        let now = Instant::now();
        self.full_disk = Some(FullDisk {
            since: now,
            next_probe: now + PROBE_EVERY,
            failed_probes: 0,
        });
        Some(refusal)
    }

    /// While the disk is full, and a probe is due: probes it; takes changes again when
    /// the probe's write and sync go through.
    pub(super) fn probe_disk_if_due(&mut self) {
        let Some(full) = self.full_disk.as_mut() else {
            return;
        };
        if !full.until_probe().is_zero() {
            return;
        }
        match self.log.probe() {
            Ok(()) => {
                let waited = full.since.elapsed();
                tracing::warn!(
                    ?waited,
                    failed_probes = full.failed_probes,
                    "the disk takes writes again: the store takes changes again"
                );
                self.full_disk = None;
                self.group.set_failure(None);
                *self
                    .shared
                    .degraded
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = None;
            }
            Err(error) => {
                full.failed_probes += 1;
                full.next_probe = Instant::now() + PROBE_EVERY;
                if full.failed_probes % LOG_EVERY_NTH_FAILURE == 1 {
                    tracing::warn!(%error, failed_probes = full.failed_probes, "the disk is still full");
                }
            }
        }
    }
}
