//! `ballot:election/commit`: guarded, speculative and preview commits through a lease
//! elector, for candidates. The call is admitted like every import; the commit then runs
//! as [`crate::Runtime::commit`] does, with the instance's fence checked again in
//! the writer step that elects and in the one that applies, so an instance revoked while
//! its commit was on the way (killed, deposed, undeployed) writes nothing.

use std::sync::Arc;

use crate::bindings::{commit_api, wit};
use crate::txn::Gate;
use crate::{CommitMode, CommitReport, CommitRequest, DEFAULT_TXN_DEADLINE, Limits, TxnSource};
use ballot_core::commit::CommitError;
use ballot_core::election::ElectionName;
use ballot_core::namespace::{self as ns, Revision};

use super::HostState;
use super::convert::{election_error_to_wit, to_wit_error, to_wit_op, to_wit_result};

type Answer<T> = wasmtime::Result<Result<T, wit::Error>>;

impl HostState {
    /// Admits the call (refused if the instance is revoked or over its call quota) and
    /// converts `txn`. Its operations' data is charged to the bytes quota once they are
    /// known (a function's, after each run), before they go to the writer.
    fn admit_commit(&mut self, txn: commit_api::Txn) -> Result<TxnSource, wit::Error> {
        self.admit()?;
        to_txn_source(txn)
    }

    /// The writer-side check of this instance's commits: its fence.
    fn commit_gate(&self) -> Gate {
        let check = self.fenced();
        Arc::new(move || check.is_open())
    }

    /// Runs an elector-fenced commit for this instance.
    async fn fenced_commit(
        &mut self,
        elector: String,
        peer: String,
        mode: CommitMode,
        txn: commit_api::Txn,
    ) -> Answer<CommitReport> {
        let admitted = ElectionName::parse(&elector)
            .map_err(to_wit_error)
            .and_then(|elector| Ok((elector, self.admit_commit(txn)?)));
        let (elector, txn) = match admitted {
            Ok(admitted) => admitted,
            Err(refused) => return Ok(Err(refused)),
        };
        let request = CommitRequest {
            elector,
            peer,
            mode,
            txn,
        };
        let gate = self.commit_gate();
        let quota = &mut self.quota;
        let mut charge = |ops: &[ns::Op]| {
            quota
                .charge_written(ops)
                .map_err(CommitError::QuotaExceeded)
        };
        Ok(
            crate::txn::commit(&self.shared, request, Some(gate), Some(&mut charge))
                .await
                .map_err(commit_error_to_wit),
        )
    }
}

impl commit_api::Host for HostState {
    async fn guarded_commit(
        &mut self,
        elector: String,
        peer: String,
        txn: commit_api::Txn,
    ) -> Answer<commit_api::Committed> {
        let report = self
            .fenced_commit(elector, peer, CommitMode::Guarded, txn)
            .await?;
        Ok(report.map(to_wit_committed))
    }

    async fn speculative_commit(
        &mut self,
        elector: String,
        peer: String,
        term: u64,
        txn: commit_api::Txn,
    ) -> Answer<commit_api::Committed> {
        let mode = CommitMode::Speculative(Revision(term));
        let report = self.fenced_commit(elector, peer, mode, txn).await?;
        Ok(report.map(to_wit_committed))
    }

    async fn preview(&mut self, txn: commit_api::Txn) -> Answer<commit_api::PreviewReport> {
        let txn = match self.admit_commit(txn) {
            Ok(txn) => txn,
            Err(refused) => return Ok(Err(refused)),
        };
        let report = crate::txn::preview(&self.shared, txn).await;
        Ok(report
            .map(|report| commit_api::PreviewReport {
                ops: report.ops.into_iter().map(to_wit_op).collect(),
                results: report.results.into_iter().map(to_wit_result).collect(),
                revision: report.revision,
            })
            .map_err(commit_error_to_wit))
    }
}

/// A commit's operations or function, from WIT. A commit belongs to no session, so
/// ephemeral creates are refused, as they are for a transaction function's operations.
fn to_txn_source(txn: commit_api::Txn) -> Result<TxnSource, wit::Error> {
    let limits = Limits {
        callback_deadline: DEFAULT_TXN_DEADLINE,
        ..Limits::default()
    };
    match txn {
        commit_api::Txn::Ops(ops) => super::to_ops(ops)
            .map(TxnSource::Ops)
            .map_err(wit::Error::Invalid),
        commit_api::Txn::Function(call) => Ok(TxnSource::Registered {
            sha256: parse_sha256(&call.sha256)?,
            args: call.args,
            limits,
        }),
    }
}

/// 64 hex digits as a SHA-256.
fn parse_sha256(hex: &str) -> Result<[u8; 32], wit::Error> {
    crate::parse_sha256(hex)
        .ok_or_else(|| wit::Error::Invalid(format!("{hex:?} is not a SHA-256 (64 hex digits)")))
}

/// A commit refusal as the WIT `error` variant.
fn commit_error_to_wit(error: CommitError) -> wit::Error {
    match error {
        CommitError::NotLeader { current } => wit::Error::NotLeader(current.map(|t| t.0)),
        CommitError::Conflict { .. } | CommitError::TxnAborted(_) => {
            wit::Error::TxnAborted(error.to_string())
        }
        CommitError::Refused(error) => to_wit_error(error),
        CommitError::Election(error) => election_error_to_wit(error),
        CommitError::QuotaExceeded(which) => wit::Error::QuotaExceeded(which),
    }
}

/// What a committed report says, as WIT.
fn to_wit_committed(report: CommitReport) -> commit_api::Committed {
    commit_api::Committed {
        term: report.term.map_or(0, |term| term.0),
        revision: report.revision,
        results: report.results.into_iter().map(to_wit_result).collect(),
        attempts: u32::try_from(report.attempts).unwrap_or(u32::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_sha256;

    #[test]
    fn sha256_must_be_64_hex_digits() {
        let good = "00ff".repeat(16);
        assert_eq!(parse_sha256(&good).unwrap()[..2], [0x00, 0xff]);
        assert!(parse_sha256("abc").is_err());
        assert!(parse_sha256(&"zz".repeat(32)).is_err());
        assert!(parse_sha256(&"é".repeat(32)).is_err());
    }
}
