//! Group commit, as a pure state machine.
//!
//! Commits are applied to the in-memory head one after another; the entries the log must
//! keep are gathered into one batch; one write and one sync make the whole batch durable;
//! only then is any of them acknowledged. Commits that arrive while a batch is being synced form the
//! next batch, so none waits more than one flush behind another. This type only decides
//! what goes into which batch and who is released with what: the file layer, the clock and
//! the thread that drives it are the caller's, so the simulator can step it exactly.

use crate::log::Entry;

/// A batch being assembled or flushed: the entries to append and who waits on them.
pub struct Batch<W> {
    /// The entries the log must keep, in order.
    pub entries: Vec<Entry>,
    /// The waiters, in submission order.
    pub waiters: Vec<W>,
}

impl<W> Default for Batch<W> {
    fn default() -> Self {
        Batch {
            entries: Vec::new(),
            waiters: Vec::new(),
        }
    }
}

/// What the driver should do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing queued: wait for work.
    Idle,
    /// Append and sync the batch from [`GroupCommit::start_flush`].
    Flush,
}

/// The batching state machine.
pub struct GroupCommit<W> {
    open: Batch<W>,
    flushing: bool,
    max_batch: usize,
    /// The error that stopped the store, if any: every later waiter is failed with it.
    failed: Option<String>,
}

/// How a finished flush turned out for its waiters.
pub enum Outcome<W> {
    /// Durable: acknowledge them.
    Durable(Vec<W>),
    /// Not durable: fail them with this message.
    Failed(Vec<W>, String),
}

impl<W> GroupCommit<W> {
    /// A state machine that flushes at most `max_batch` entries per batch.
    pub fn new(max_batch: usize) -> Self {
        GroupCommit {
            open: Batch::default(),
            flushing: false,
            max_batch: max_batch.max(1),
            failed: None,
        }
    }

    /// True once a flush has failed: the store must refuse further changes.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// Sets why every later waiter is refused, or (with `None`) takes changes again: for
    /// a store that took back a write a full disk refused, and resumes once it takes
    /// writes again.
    pub fn set_failure(&mut self, failure: Option<String>) {
        self.failed = failure;
    }

    /// True if the open batch has no room for more.
    pub fn is_full(&self) -> bool {
        self.open.entries.len() >= self.max_batch
    }

    /// How many wait on the open batch.
    pub fn open_waiters(&self) -> usize {
        self.open.waiters.len()
    }

    /// Adds a commit's entry (none for a read or a refusal) and its waiter.
    pub fn submit(&mut self, entry: Option<Entry>, waiter: W) {
        self.open.entries.extend(entry);
        self.open.waiters.push(waiter);
    }

    /// What to do now.
    pub fn step(&self) -> Step {
        if !self.flushing && !self.open.waiters.is_empty() {
            Step::Flush
        } else {
            Step::Idle
        }
    }

    /// Takes the open batch for flushing. The driver appends and syncs its entries (skipping
    /// both when there are none) and reports back with [`GroupCommit::finish_flush`].
    pub fn start_flush(&mut self) -> Batch<W> {
        assert!(!self.flushing, "one flush at a time");
        self.flushing = true;
        std::mem::take(&mut self.open)
    }

    /// Reports how the flush of `batch` went; returns who to release, and how.
    pub fn finish_flush(&mut self, batch: Batch<W>, result: Result<(), String>) -> Outcome<W> {
        self.flushing = false;
        match (&self.failed, result) {
            (None, Ok(())) => Outcome::Durable(batch.waiters),
            (Some(earlier), _) => Outcome::Failed(batch.waiters, earlier.clone()),
            (None, Err(error)) => {
                self.failed = Some(error.clone());
                Outcome::Failed(batch.waiters, error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballot_core::command::Command;
    use ballot_core::namespace::MonoTime;

    fn entry(ms: u64) -> Option<Entry> {
        Some(Entry {
            at: MonoTime(ms),
            command: Command::ExpireSessions { sessions: vec![] },
        })
    }

    #[test]
    fn commits_arriving_during_a_flush_share_the_next_one() {
        let mut gc = GroupCommit::new(1 << 20);
        assert_eq!(gc.step(), Step::Idle);
        gc.submit(entry(1), "a");
        assert_eq!(gc.step(), Step::Flush);
        let first = gc.start_flush();
        // b and c arrive while a's sync runs: they wait, together, for the next flush.
        gc.submit(entry(2), "b");
        gc.submit(None, "read");
        gc.submit(entry(3), "c");
        assert_eq!(gc.step(), Step::Idle);
        let Outcome::Durable(done) = gc.finish_flush(first, Ok(())) else {
            panic!()
        };
        assert_eq!(done, ["a"]);
        assert_eq!(gc.step(), Step::Flush);
        let second = gc.start_flush();
        let stamps: Vec<_> = second.entries.iter().map(|e| e.at).collect();
        assert_eq!(stamps, [MonoTime(2), MonoTime(3)]);
        let Outcome::Durable(done) = gc.finish_flush(second, Ok(())) else {
            panic!()
        };
        assert_eq!(done, ["b", "read", "c"]);
    }

    #[test]
    fn a_failed_flush_fails_its_batch_and_everything_after() {
        let mut gc = GroupCommit::new(1 << 20);
        gc.submit(entry(1), 1);
        let batch = gc.start_flush();
        let Outcome::Failed(failed, why) = gc.finish_flush(batch, Err("disk full".into())) else {
            panic!()
        };
        assert_eq!((failed, why.as_str()), (vec![1], "disk full"));
        assert_eq!(gc.failure(), Some("disk full"));
        gc.submit(entry(2), 2);
        let batch = gc.start_flush();
        let Outcome::Failed(failed, _) = gc.finish_flush(batch, Ok(())) else {
            panic!("a store that failed stays failed")
        };
        assert_eq!(failed, [2]);
    }

    #[test]
    fn a_full_batch_says_so() {
        let mut gc = GroupCommit::new(2);
        gc.submit(entry(1), ());
        gc.submit(None, ());
        assert!(!gc.is_full());
        gc.submit(entry(2), ());
        assert!(gc.is_full());
    }
}
