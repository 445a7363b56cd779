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
    /// Shared log: appends that landed and whose answer was lost.
    pub lost_answers: u64,
    /// Shared log: appends that failed with nothing landed.
    pub failed_appends: u64,
    /// Shared log: batches a follower heard again after reconnecting from an older
    /// position.
    pub redeliveries: u64,
    /// Shared log: a host's follower stalled (it heard nothing for a few turns).
    pub stalls: u64,
    /// Shared log: a host died, was expired by a peer and restarted under a new epoch.
    pub host_crashes: u64,
}

impl FaultCounts {
    /// All faults together (mid-flush crashes are already counted as crashes).
    pub fn total(&self) -> u64 {
        self.crashes
            + self.pauses
            + self.delays
            + self.losses
            + self.reorders
            + self.clock_jumps
            + self.log_faults()
    }

    /// The faults of the simulated shared log.
    pub fn log_faults(&self) -> u64 {
        self.lost_answers
            + self.failed_appends
            + self.redeliveries
            + self.stalls
            + self.host_crashes
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
        self.lost_answers += other.lost_answers;
        self.failed_appends += other.failed_appends;
        self.redeliveries += other.redeliveries;
        self.stalls += other.stalls;
        self.host_crashes += other.host_crashes;
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
        )?;
        if self.log_faults() > 0 {
            write!(
                f,
                "; shared log: lost answers {}, failed appends {}, redeliveries {}, stalls {}, \
                 host crashes {}",
                self.lost_answers,
                self.failed_appends,
                self.redeliveries,
                self.stalls,
                self.host_crashes
            )?;
        }
        Ok(())
    }
}
