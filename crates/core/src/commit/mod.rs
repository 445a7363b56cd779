//! Commits built from a transaction function's reads, as the Datomic gist's
//! `guarded-commit!` and `speculative-commit!` do, made durable and fenced.
//!
//! A transaction function reads a [`Snapshot`] of the last durable revision `R` and
//! returns operations. It runs outside the writer's critical section; at apply time
//! [`Elections::apply_checked`] checks, in one writer step, that nothing it read changed
//! since `R` (else the commit is stale and is re-run, a bounded number of times), that
//! the caller still holds its term (the guard), and applies everything or nothing.
//!
//! - **guarded**: holds an election first if the caller's lease has lapsed (and commits
//!   only if it wins), then commits under the term guard;
//! - **speculative**: skips the election and lets the guard refuse a stale term;
//! - **preview**: runs and applies on a private copy, returning the operations and the
//!   resulting view, writing nothing.
//!
//! This module is pure: time is passed in, and a transaction function is any
//! `FnMut(&mut Snapshot) -> Result<Vec<Op>, String>`. The runtime runs wasm txn-fns in
//! their own stores against published state; the simulator calls these directly.

mod snapshot;

use thiserror::Error;

use crate::election::{
    ElectionError, ElectionName, Elections, LeaseOutcome, Term, refuse_host_kept,
};
use crate::namespace::{
    Committed, Error, Guard, Limits, MonoTime, MultiError, Namespace, NodePath, Op, State,
};

pub use snapshot::{ReadSet, Snapshot};

/// How many times a transaction function is re-run after its reads went stale.
pub const MAX_ATTEMPTS: usize = 5;

/// Why a commit did not apply. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommitError {
    /// The caller does not hold the term (or lost the election): the current term, if any.
    #[error("not the leader: {}", crate::namespace::describe_current(.current))]
    NotLeader {
        /// The term that holds now.
        current: Option<Term>,
    },
    /// What the transaction read changed since its snapshot, every attempt.
    #[error("{path} changed since the snapshot was read ({attempts} attempts)")]
    Conflict {
        /// The first read that changed.
        path: NodePath,
        /// Attempts made.
        attempts: usize,
    },
    /// The transaction function aborted (it trapped, passed its deadline, or returned
    /// invalid operations).
    #[error("transaction aborted: {0}")]
    TxnAborted(String),
    /// The namespace refused the operations.
    #[error(transparent)]
    Refused(#[from] Error),
    /// The elector refused (unknown elector, not a peer).
    #[error(transparent)]
    Election(#[from] ElectionError),
    /// The committer's quota cannot pay for the operations (a component's bytes per
    /// second): nothing was written.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
}

impl From<crate::command::Refusal> for CommitError {
    /// What a refused [`crate::command::Command::Commit`] or `HoldLease` means to the
    /// committer: a term it does not hold is `NotLeader` wherever it was found out.
    fn from(refusal: crate::command::Refusal) -> Self {
        use crate::command::Refusal;
        match refusal {
            Refusal::Namespace(Error::NotLeader { current })
            | Refusal::Multi(MultiError {
                error: Error::NotLeader { current },
                ..
            })
            | Refusal::Election(ElectionError::Namespace(Error::NotLeader { current })) => {
                CommitError::NotLeader { current }
            }
            Refusal::Namespace(error) | Refusal::Multi(MultiError { error, .. }) => {
                CommitError::Refused(error)
            }
            Refusal::Election(error) => CommitError::Election(error),
            Refusal::Quota(what) => CommitError::QuotaExceeded(what),
            Refusal::Stale(path) => CommitError::Conflict { path, attempts: 1 },
            // Its host was expired: whatever it held, it holds nothing now.
            Refusal::HostExpired(_) => CommitError::NotLeader { current: None },
        }
    }
}

/// A commit that applied.
#[derive(Debug, Clone)]
pub struct CommitOutcome {
    /// The term it was guarded by.
    pub term: Term,
    /// What the namespace did.
    pub committed: Committed,
    /// How many times the transaction function ran.
    pub attempts: usize,
}

/// What a preview would do.
#[derive(Debug, Clone)]
pub struct Preview {
    /// The operations the transaction function returned.
    pub ops: Vec<Op>,
    /// The namespace as it would be after them.
    pub view: State,
    /// The results the operations would have.
    pub committed: Committed,
}

impl Elections {
    /// Applies `ops` under `guard` only if nothing in `reads` changed: one writer step.
    pub fn apply_checked(
        &mut self,
        reads: &ReadSet,
        guard: Option<&Guard>,
        ops: &[Op],
    ) -> Result<Committed, Result<NodePath, Error>> {
        if let Some(path) = reads.conflict(self.namespace().state()) {
            return Err(Ok(path.clone()));
        }
        self.multi(guard, ops)
            .map(|(committed, _effects)| committed)
            .map_err(|failed| Err(failed.error))
    }
}

/// Runs `txn` on a snapshot and applies its operations under the lease guard of
/// (`elector`, `peer`, `term`), re-running it while its reads go stale.
fn commit_under(
    el: &mut Elections,
    elector: &ElectionName,
    peer: &str,
    term: Term,
    txn: &mut dyn FnMut(&mut Snapshot) -> Result<Vec<Op>, String>,
) -> Result<CommitOutcome, CommitError> {
    let mut last_conflict = None;
    for attempt in 1..=MAX_ATTEMPTS {
        let mut snapshot = Snapshot::new(el.namespace().snapshot());
        let ops = txn(&mut snapshot).map_err(CommitError::TxnAborted)?;
        refuse_host_kept(&ops)?;
        // The guard is taken in the step that applies, so a lease that lapsed while the
        // function ran refuses here, with not-leader.
        let guard = el
            .lease_guard(elector, peer, term)
            .map_err(|error| match error {
                Error::NotLeader { current } => CommitError::NotLeader { current },
                other => CommitError::Refused(other),
            })?;
        match el.apply_checked(snapshot.reads(), Some(&guard), &ops) {
            Ok(committed) => {
                return Ok(CommitOutcome {
                    term,
                    committed,
                    attempts: attempt,
                });
            }
            Err(Ok(path)) => last_conflict = Some(path),
            Err(Err(Error::NotLeader { current })) => {
                return Err(CommitError::NotLeader { current });
            }
            Err(Err(other)) => return Err(CommitError::Refused(other)),
        }
    }
    Err(CommitError::Conflict {
        path: last_conflict.expect("a conflict ended every attempt"),
        attempts: MAX_ATTEMPTS,
    })
}

/// The gist's `guarded-commit!`: if `peer` is not master of `elector` it holds an
/// election first (and commits only if it wins); then it runs `txn` and commits under the
/// term guard.
pub fn guarded_commit(
    el: &mut Elections,
    elector: &ElectionName,
    peer: &str,
    now: MonoTime,
    txn: &mut dyn FnMut(&mut Snapshot) -> Result<Vec<Op>, String>,
) -> Result<CommitOutcome, CommitError> {
    let term = match el.lease_holder(elector, now) {
        Some(holder) if holder.master == peer => holder.term,
        _ => match el.elect_for_duration(elector, peer, now)? {
            LeaseOutcome::Won { term, .. } | LeaseOutcome::Renewed { term, .. } => term,
            LeaseOutcome::Held { term, .. } => {
                return Err(CommitError::NotLeader {
                    current: Some(term),
                });
            }
        },
    };
    commit_under(el, elector, peer, term, txn)
}

/// The gist's `speculative-commit!`: no election; `peer` claims `term`, and the guard
/// refuses the commit if that term is no longer held (after the function ran, too).
pub fn speculative_commit(
    el: &mut Elections,
    elector: &ElectionName,
    peer: &str,
    term: Term,
    txn: &mut dyn FnMut(&mut Snapshot) -> Result<Vec<Op>, String>,
) -> Result<CommitOutcome, CommitError> {
    commit_under(el, elector, peer, term, txn)
}

/// A dry run: `txn` on a snapshot, its operations applied to a private copy. Writes
/// nothing; the namespace refusing the operations is reported as it would be.
pub fn preview(
    state: State,
    limits: Limits,
    txn: &mut dyn FnMut(&mut Snapshot) -> Result<Vec<Op>, String>,
) -> Result<Preview, CommitError> {
    let mut snapshot = Snapshot::new(state.clone());
    let ops = txn(&mut snapshot).map_err(CommitError::TxnAborted)?;
    refuse_host_kept(&ops)?;
    let mut private = Namespace::from_state(state, limits);
    let committed = private
        .multi(None, &ops)
        .map_err(|failed| CommitError::Refused(failed.error))?;
    Ok(Preview {
        ops,
        view: private.snapshot(),
        committed,
    })
}

#[cfg(test)]
mod tests;
