//! A run's schedule: the list of scheduler decisions and faults, generated from a seed.
//!
//! Every choice the simulator makes is a [`Step`] in this list, and nothing else is
//! random, so a run is a pure function of its schedule: the seed reproduces it, and the
//! shrinker can cut steps out and run what is left. A step that no longer applies (a
//! delivery with nothing in flight, a client act while it waits) does nothing.

use std::fmt;

use super::Config;
use super::rng::Rng;

/// One scheduler decision or fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A client starts its next operation: the `client`-th of those idle and awake
    /// (modulo their number); `pick` chooses the operation.
    Act {
        /// The client.
        client: usize,
        /// Chooses among the operations open to it.
        pick: u32,
    },
    /// Deliver one ready message; `pick` chooses which (not the oldest: a reorder).
    Deliver {
        /// Index among the ready messages, modulo their number.
        pick: u32,
    },
    /// The store's writer takes its queued requests and appends their batch.
    Write,
    /// The writer fdatasyncs the appended batch, publishes it and releases its waiters.
    Sync,
    /// One phase of the snapshotter.
    Snapshot,
    /// Simulated time passes; the host sweeps expired sessions.
    Tick {
        /// How long, in milliseconds.
        ms: u32,
    },
    /// Fault: a message is lost.
    Lose {
        /// Index among the messages in flight, modulo their number.
        pick: u32,
    },
    /// Fault: a message is held back.
    Delay {
        /// Index among the messages in flight, modulo their number.
        pick: u32,
        /// For how long, in milliseconds.
        ms: u32,
    },
    /// Fault: the host crashes (unsynced data and folder changes lost) and recovers.
    Crash {
        /// Bytes of unsynced data per file that survive (a torn write); 0 drops them all.
        tear: u32,
    },
    /// Fault: a client stops for longer than its session TTL and lease.
    Pause {
        /// The client.
        client: usize,
        /// For how long, in milliseconds.
        ms: u32,
    },
    /// Fault: the clock jumps forward.
    Jump {
        /// By how much, in milliseconds.
        ms: u32,
    },
}

impl Step {
    /// Whether this step is a fault (what the shrinker reports).
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            Step::Lose { .. }
                | Step::Delay { .. }
                | Step::Crash { .. }
                | Step::Pause { .. }
                | Step::Jump { .. }
        )
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Step::Act { client, pick } => write!(f, "act c{client} #{pick}"),
            Step::Deliver { pick } => write!(f, "deliver #{pick}"),
            Step::Write => write!(f, "write"),
            Step::Sync => write!(f, "sync"),
            Step::Snapshot => write!(f, "snapshot"),
            Step::Tick { ms } => write!(f, "tick {ms}ms"),
            Step::Lose { pick } => write!(f, "LOSE #{pick}"),
            Step::Delay { pick, ms } => write!(f, "DELAY #{pick} {ms}ms"),
            Step::Crash { tear } => write!(f, "CRASH tear {tear}"),
            Step::Pause { client, ms } => write!(f, "PAUSE c{client} {ms}ms"),
            Step::Jump { ms } => write!(f, "JUMP {ms}ms"),
        }
    }
}

/// The schedule of `seed` under `config`: `config.steps` steps.
pub fn generate(seed: u64, config: &Config) -> Vec<Step> {
    let mut rng = Rng::new(seed);
    let ttl = config.ttl.as_millis() as u64;
    let clients = config.clients as u64;
    // Weights per ten thousand steps.
    let table: [(u64, u8); 11] = [
        (2400, 0), // act
        (2800, 1), // deliver
        (1900, 2), // write
        (1900, 3), // sync
        (150, 4),  // snapshot
        (1000, 5), // tick
        (60, 6),   // lose
        (60, 7),   // delay
        (30, 8),   // crash
        (10, 9),   // pause
        (8, 10),   // jump
    ];
    let total: u64 = table.iter().map(|(w, _)| w).sum();
    (0..config.steps)
        .map(|_| {
            let mut roll = rng.below(total);
            let mut kind = 0;
            for (weight, k) in table {
                if roll < weight {
                    kind = k;
                    break;
                }
                roll -= weight;
            }
            let pick = rng.next_u64() as u32;
            match kind {
                0 => Step::Act {
                    client: rng.below(clients) as usize,
                    pick,
                },
                1 => Step::Deliver {
                    pick: if rng.below(4) == 0 { pick } else { 0 },
                },
                2 => Step::Write,
                3 => Step::Sync,
                4 => Step::Snapshot,
                5 => Step::Tick {
                    ms: rng.between(10, 60) as u32,
                },
                6 => Step::Lose { pick },
                7 => Step::Delay {
                    pick,
                    ms: rng.between(100, ttl) as u32,
                },
                8 => Step::Crash {
                    tear: if rng.below(3) == 0 {
                        rng.between(1, 64) as u32
                    } else {
                        0
                    },
                },
                9 => Step::Pause {
                    client: rng.below(clients) as usize,
                    ms: rng.between(ttl * 3 / 2, ttl * 5 / 2) as u32,
                },
                _ => Step::Jump {
                    ms: rng.between(ttl / 2, ttl * 2) as u32,
                },
            }
        })
        .collect()
}
