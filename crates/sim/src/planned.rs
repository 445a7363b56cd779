//! Counting the planned leadership changes a run made (handoffs, drains, preemptions), by
//! the cause apply gave each deposition: a schedule meant to exercise them shows it did.

use std::fmt;
use std::sync::{Arc, Mutex};

use ballot_core::election::{Cause, Effects};
use ballot_store::embedded::EffectsSink;

use super::host::lock;

/// How many leaders one run (or many) deposed by a planned change, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlannedCounts {
    /// Handoffs an operator asked for.
    pub handoffs: u64,
    /// Handoffs made to drain a host.
    pub drains: u64,
    /// Leaders a higher priority took over from.
    pub preemptions: u64,
}

impl PlannedCounts {
    /// All planned changes together.
    pub fn total(&self) -> u64 {
        self.handoffs + self.drains + self.preemptions
    }

    /// Adds another run's counts.
    pub fn add(&mut self, other: &PlannedCounts) {
        self.handoffs += other.handoffs;
        self.drains += other.drains;
        self.preemptions += other.preemptions;
    }
}

impl fmt::Display for PlannedCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} handoffs, {} drains, {} preemptions",
            self.handoffs, self.drains, self.preemptions
        )
    }
}

/// A store's effects sink that counts the durable depositions of planned changes.
#[derive(Clone, Default)]
pub(crate) struct PlannedCounter(Arc<Mutex<PlannedCounts>>);

impl PlannedCounter {
    /// The counts so far.
    pub(crate) fn counts(&self) -> PlannedCounts {
        *lock(&self.0)
    }
}

impl EffectsSink for PlannedCounter {
    fn applied(&self, _effects: &Effects) {}

    /// Counted once durable: a batch a crash lost before its sync made no change.
    fn durable(&self, effects: Effects) {
        let mut counts = lock(&self.0);
        for deposed in &effects.deposed {
            match deposed.cause {
                Cause::HandOff => counts.handoffs += 1,
                Cause::Drained => counts.drains += 1,
                Cause::Preempted => counts.preemptions += 1,
                Cause::Lost => {}
            }
        }
    }
}
