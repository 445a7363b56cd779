//! Sessions and the monotonic time that expires them.
//!
//! A session's identity and TTL are part of the canonical state (they are persisted and
//! survive a restart); its deadline is not, because a monotonic instant means nothing
//! after a restart: recovery gives every session a full TTL again (see the store).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use imbl::OrdSet;
use serde::{Deserialize, Serialize};

use super::NodePath;

/// A session's identity. Issued in increasing order and never reused, so a stale id can
/// never name somebody else's session.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub u64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{}", self.0)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A reading of a monotonic clock, in nanoseconds from an arbitrary origin.
///
/// The namespace never reads a clock itself: callers pass the time in, so that tests and the
/// simulator drive expiry deterministically and production uses `std::time::Instant`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct MonoTime(pub u64);

impl MonoTime {
    /// The instant `by` later, saturating instead of wrapping.
    pub fn after(self, by: Duration) -> MonoTime {
        MonoTime(
            self.0
                .saturating_add(u64::try_from(by.as_nanos()).unwrap_or(u64::MAX)),
        )
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: MonoTime) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

/// One run of one host that shares the namespace: the log position at which it
/// registered, so a host that restarts (or fences itself and rejoins) comes back under a
/// new, greater epoch and nothing it did under the old one can act again. Epoch 0 is the
/// only host of an embedded store.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct HostEpoch(pub u64);

impl HostEpoch {
    /// The host of an embedded store, which is always live.
    pub const EMBEDDED: HostEpoch = HostEpoch(0);
}

impl fmt::Display for HostEpoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "e{}", self.0)
    }
}

/// A host registered in the namespace (see [`HostEpoch`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRecord {
    /// The name the host was started with (`--host-id`), the same across its epochs.
    pub id: String,
}

/// The persisted part of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// How long the session lives without a heartbeat.
    pub ttl: Duration,
    /// Every ephemeral node it owns, deleted in one step when it ends.
    pub ephemerals: OrdSet<NodePath>,
    /// The host that opened it, which alone heartbeats and expires it on its clock; its
    /// sessions all end when the host is expired.
    #[serde(default, skip_serializing_if = "is_embedded")]
    pub owner: HostEpoch,
}

fn is_embedded(host: &HostEpoch) -> bool {
    *host == HostEpoch::EMBEDDED
}

/// When each open session is due to expire on its owner's clock, indexed both ways so
/// finding the overdue ones is O(log n) per session. Soft state: apply never consults it
/// (a session is open until a command closes or expires it), and it is not persisted.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(super) struct Deadlines {
    by_session: BTreeMap<SessionId, MonoTime>,
    by_time: BTreeSet<(MonoTime, SessionId)>,
}

impl Deadlines {
    pub(super) fn set(&mut self, session: SessionId, deadline: MonoTime) {
        if let Some(old) = self.by_session.insert(session, deadline) {
            self.by_time.remove(&(old, session));
        }
        self.by_time.insert((deadline, session));
    }

    pub(super) fn remove(&mut self, session: SessionId) {
        if let Some(old) = self.by_session.remove(&session) {
            self.by_time.remove(&(old, session));
        }
    }

    pub(super) fn get(&self, session: SessionId) -> Option<MonoTime> {
        self.by_session.get(&session).copied()
    }

    /// Sessions whose deadline is at or before `now`, earliest first.
    pub(super) fn overdue(&self, now: MonoTime) -> Vec<SessionId> {
        self.by_time
            .iter()
            .take_while(|(deadline, _)| *deadline <= now)
            .map(|&(_, session)| session)
            .collect()
    }
}
