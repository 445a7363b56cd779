//! Counting the faults a run injected, by kind: a run that injected none proves nothing
//! and fails.

use std::fmt;

/// How many faults of each kind one run injected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Host crashes (unsynced writes and folder changes lost, then recovery).
    pub crashes: u64,
    /// Of those, crashes that landed between a batch's write and its fdatasync.
    pub crashes_mid_flush: u64,
    /// Client pauses longer than the session TTL and the lease.
    pub pauses: u64,
    /// Messages held back for a while.
    pub delays: u64,
    /// Messages lost (requests and replies).
    pub losses: u64,
    /// Messages delivered ahead of one sent earlier.
    pub reorders: u64,
    /// Forward jumps of the clock.
    pub clock_jumps: u64,
}

impl FaultCounts {
    /// All faults together (mid-flush crashes are already counted as crashes).
    pub fn total(&self) -> u64 {
        self.crashes + self.pauses + self.delays + self.losses + self.reorders + self.clock_jumps
    }

    /// Adds another run's counts.
    pub fn add(&mut self, other: &FaultCounts) {
        self.crashes += other.crashes;
        self.crashes_mid_flush += other.crashes_mid_flush;
        self.pauses += other.pauses;
        self.delays += other.delays;
        self.losses += other.losses;
        self.reorders += other.reorders;
        self.clock_jumps += other.clock_jumps;
    }
}

impl fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "crashes {} (mid-flush {}), pauses {}, delays {}, losses {}, reorders {}, clock jumps {}",
            self.crashes,
            self.crashes_mid_flush,
            self.pauses,
            self.delays,
            self.losses,
            self.reorders,
            self.clock_jumps
        )
    }
}
