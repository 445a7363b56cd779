//! What one deployment may use: time per callback, memory, and per-session quotas on
//! what it asks of the host; and how often it may crash before it is given up on.

use std::time::{Duration, Instant};

use super::engine::MAX_MEMORY_BYTES;

/// A deployment's limits. Exceeding a limit costs only that deployment: a deadline or
/// memory overrun traps its instance (and its session ends), a quota answers
/// `quota-exceeded` and changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest a single callback (or the instantiation) may run, counting time blocked in
    /// host calls. Keep it well under the session TTL: a callback that runs long delays
    /// the actor's heartbeats.
    pub callback_deadline: Duration,
    /// Most linear memory the instance may have, in bytes (at most
    /// [`MAX_MEMORY_BYTES`]). Growing past it traps.
    pub memory_bytes: usize,
    /// Most elements any one table may hold.
    pub table_elements: usize,
    /// Per-session quotas.
    pub quotas: Quotas,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            callback_deadline: Duration::from_secs(2),
            memory_bytes: 32 << 20,
            table_elements: 20_000,
            quotas: Quotas::default(),
        }
    }
}

impl Limits {
    /// The memory limit, capped by what the engine's pool reserves per instance.
    pub fn effective_memory_bytes(&self) -> usize {
        self.memory_bytes.min(MAX_MEMORY_BYTES)
    }
}

/// Quotas on one session's use of the namespace. Nodes are the session's own: ephemeral
/// nodes it holds (persistent nodes outlive sessions, so they are bounded by the write
/// rate, not by a count that would be wrong after the session ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// Most ephemeral nodes the session may hold at once.
    pub ephemeral_nodes: usize,
    /// Most watches it may have registered at once.
    pub watches: usize,
    /// Most bytes of node data it may write per second (a burst of one second's worth).
    pub bytes_per_second: u64,
    /// Most import calls per second (a burst of one second's worth).
    pub calls_per_second: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            ephemeral_nodes: 1_000,
            watches: 1_000,
            bytes_per_second: 4 << 20,
            calls_per_second: 10_000,
        }
    }
}

/// How a deployment is restarted after it crashes, and when it is given up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Supervision {
    /// Wait before the first restart; doubles with each crash in the window.
    pub backoff: Duration,
    /// The longest wait between restarts.
    pub max_backoff: Duration,
    /// This many crashes within `window` mark the deployment failed.
    pub max_crashes: u32,
    /// The window crashes are counted in.
    pub window: Duration,
    /// A leader that makes no import call for this long is deposed: its instance ends as
    /// stalled (counted as a crash) and the next candidate leads. The liveness check of a
    /// renew deadline, applied to the work instead of the heartbeat; `None`: never.
    pub max_silence: Option<Duration>,
}

impl Default for Supervision {
    fn default() -> Self {
        Supervision {
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            max_crashes: 5,
            window: Duration::from_secs(60),
            max_silence: None,
        }
    }
}

/// A token bucket: `rate` tokens per second, holding at most one second's worth.
///
/// Hand-written rather than taken from a crate (`governor`): the host needs one
/// `try_take(n)` on a value it already owns exclusively (the actor's store data), with
/// no clock abstraction, sharing or async waiting, which is these few lines.
#[derive(Debug, Clone)]
pub(crate) struct RateBucket {
    rate: u64,
    tokens: f64,
    refilled: Instant,
}

impl RateBucket {
    pub(crate) fn new(rate: u64) -> Self {
        RateBucket {
            rate,
            tokens: rate as f64,
            refilled: Instant::now(),
        }
    }

    /// Takes `n` tokens if there are that many; otherwise takes none.
    pub(crate) fn try_take(&mut self, n: u64) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.refilled).as_secs_f64() * self.rate as f64;
        self.tokens = (self.tokens + refill).min(self.rate as f64);
        self.refilled = now;
        if self.tokens >= n as f64 {
            self.tokens -= n as f64;
            true
        } else {
            false
        }
    }
}

/// Counts crashes in a sliding window and says how long to wait before the next start.
#[derive(Debug)]
pub(crate) struct CrashCounter {
    policy: Supervision,
    crashes: Vec<Instant>,
}

/// What the supervisor does after a crash.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterCrash {
    /// Start again after this long.
    RestartAfter(Duration),
    /// Too many crashes in the window: stop for good.
    GiveUp {
        /// How many crashes the window held.
        crashes: u32,
    },
}

impl CrashCounter {
    pub(crate) fn new(policy: Supervision) -> Self {
        CrashCounter {
            policy,
            crashes: Vec::new(),
        }
    }

    /// Records a crash at `now`.
    pub(crate) fn crashed(&mut self, now: Instant) -> AfterCrash {
        let window = self.policy.window;
        self.crashes.retain(|at| now.duration_since(*at) < window);
        self.crashes.push(now);
        let count = self.crashes.len() as u32;
        if count >= self.policy.max_crashes {
            return AfterCrash::GiveUp { crashes: count };
        }
        let doubling = 2u32.saturating_pow(count - 1);
        let wait = self
            .policy
            .backoff
            .saturating_mul(doubling)
            .min(self.policy.max_backoff);
        AfterCrash::RestartAfter(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_gives_up() {
        let policy = Supervision {
            backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(30),
            max_crashes: 4,
            window: Duration::from_secs(60),
            max_silence: None,
        };
        let mut counter = CrashCounter::new(policy);
        let t = Instant::now();
        let waits: Vec<_> = (0..4).map(|_| counter.crashed(t)).collect();
        assert_eq!(
            waits,
            vec![
                AfterCrash::RestartAfter(Duration::from_millis(10)),
                AfterCrash::RestartAfter(Duration::from_millis(20)),
                AfterCrash::RestartAfter(Duration::from_millis(30)),
                AfterCrash::GiveUp { crashes: 4 },
            ]
        );
    }

    #[test]
    fn crashes_outside_the_window_are_forgotten() {
        let policy = Supervision {
            backoff: Duration::from_millis(10),
            max_backoff: Duration::from_secs(1),
            max_crashes: 2,
            window: Duration::from_secs(1),
            max_silence: None,
        };
        let mut counter = CrashCounter::new(policy);
        let t = Instant::now();
        assert!(matches!(counter.crashed(t), AfterCrash::RestartAfter(_)));
        let later = t + Duration::from_secs(2);
        assert_eq!(
            counter.crashed(later),
            AfterCrash::RestartAfter(Duration::from_millis(10))
        );
    }

    #[test]
    fn a_bucket_refuses_past_its_burst() {
        let mut bucket = RateBucket::new(100);
        assert!(bucket.try_take(60));
        assert!(bucket.try_take(40));
        assert!(!bucket.try_take(50));
    }
}
