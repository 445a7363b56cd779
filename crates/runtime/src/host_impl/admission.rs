//! Every import call is admitted here first: a revoked instance is refused outright, and
//! each session's quotas are charged. The writer-side half ([`HostState::fenced`]) is the
//! command's precondition, checked in the writer step that would apply it, so a
//! revocation thrown by an earlier step is always seen.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Quotas;
use crate::bindings::wit;
use crate::limits::RateBucket;
use crate::sandbox::Fence;
use ballot_core::command::{EphemeralQuota, Refusal};
use ballot_core::election::{ElectionName, Elections};
use ballot_core::namespace as ns;
use ballot_store::{Hooks, embedded::Admit};

use super::HostState;

/// One session's quota state: the limits and the two rate buckets they fill.
#[derive(Debug, Clone)]
pub(crate) struct Quota {
    pub(crate) quotas: Quotas,
    calls: RateBucket,
    bytes: RateBucket,
}

impl Quota {
    /// Charges the data `ops` write to the bytes-per-second quota; the refusal says which
    /// quota ran out.
    pub(crate) fn charge_written(&mut self, ops: &[ns::Op]) -> Result<(), String> {
        let bytes: u64 = ops
            .iter()
            .map(|op| match op {
                ns::Op::Create { data, .. } | ns::Op::Set { data, .. } => data.len() as u64,
                ns::Op::Delete { .. } | ns::Op::Check { .. } => 0,
            })
            .sum();
        if bytes > 0 && !self.bytes.try_take(bytes) {
            return Err(format!(
                "written bytes: {} per second",
                self.quotas.bytes_per_second
            ));
        }
        Ok(())
    }

    /// Charges a log line to the bytes-per-second quota, as written data is: false when
    /// the quota has run out, and the line is dropped (logging has no error to return).
    pub(crate) fn charge_log(&mut self, line: &str) -> bool {
        self.bytes.try_take(line.len() as u64)
    }

    pub(crate) fn new(quotas: Quotas) -> Self {
        Quota {
            quotas,
            calls: RateBucket::new(quotas.calls_per_second),
            bytes: RateBucket::new(quotas.bytes_per_second),
        }
    }
}

/// The refusal a revoked instance gets: not-leader, naming the election's current term.
pub(crate) fn refused(el: &Elections, election: &ElectionName) -> Refusal {
    ns::Error::NotLeader {
        current: el.leader(election).map(|leader| leader.term),
    }
    .into()
}

impl HostState {
    /// Admits one import call: refused if the instance is revoked, charged to the
    /// calls-per-second quota otherwise.
    pub(crate) fn admit(&mut self) -> Result<(), wit::Error> {
        if !self.active {
            return Err(wit::Error::Invalid(
                "this instance is not active yet: it is being swapped in".into(),
            ));
        }
        let now = std::time::Instant::now();
        self.imports.first.get_or_insert(now);
        self.imports.last = Some(now);
        if self.confinement.fence.is_revoked() {
            self.shared.fenced_refusals.fetch_add(1, Ordering::Relaxed);
            let state = self.shared.store.published();
            let current = ballot_core::election::read_leader(&state, &self.identity.election)
                .map(|leader| leader.term.0);
            return Err(wit::Error::NotLeader(current));
        }
        if !self.quota.calls.try_take(1) {
            return Err(wit::Error::QuotaExceeded(format!(
                "import calls: {} per second",
                self.quota.quotas.calls_per_second
            )));
        }
        Ok(())
    }

    /// Admits a write of `ops`, once the call itself was admitted ([`HostState::admit`],
    /// first, before any parsing): refuses writes into the subtrees the election
    /// machinery keeps (a component changes those only through the election imports),
    /// then charges the data it writes to the bytes-per-second quota.
    pub(crate) fn admit_write(&mut self, ops: &[ns::Op]) -> Result<(), wit::Error> {
        ballot_core::election::refuse_host_kept(ops).map_err(super::convert::to_wit_error)?;
        self.quota
            .charge_written(ops)
            .map_err(wit::Error::QuotaExceeded)
    }

    /// What the writer checks for this instance, in the step that applies its change:
    /// the fence, then the session's ephemeral-node quota for `ops`.
    pub(crate) fn fenced(&self) -> WriterCheck {
        WriterCheck {
            fence: self.confinement.fence.clone(),
            refusals: self.shared.fenced_refusals.clone(),
            election: self.identity.election.clone(),
            session: self.identity.session,
            ephemeral_nodes: self.quota.quotas.ephemeral_nodes,
        }
    }
}

/// The writer-side admission of one instance's change (see [`HostState::fenced`]).
pub(crate) struct WriterCheck {
    fence: Arc<Fence>,
    refusals: Arc<AtomicU64>,
    election: ElectionName,
    session: ns::SessionId,
    ephemeral_nodes: usize,
}

impl WriterCheck {
    /// The precondition of the instance's command, checked in the writer step that would
    /// apply it: refused if the instance was revoked by any earlier step.
    pub(crate) fn admit(self) -> Admit {
        Box::new(move |el: &Elections, _| {
            if !self.is_open() {
                return Err(refused(el, &self.election));
            }
            Ok(())
        })
    }

    /// Whether the instance is still unrevoked; a refusal is counted.
    pub(crate) fn is_open(&self) -> bool {
        if self.fence.is_revoked() {
            self.refusals.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// [`WriterCheck::admit`] as a proposal's hooks.
    pub(crate) fn hooks(self) -> Hooks {
        Hooks {
            admit: Some(self.admit()),
            applied: None,
            durable: None,
        }
    }

    /// The session's allowance of ephemeral nodes, which apply checks creates against.
    pub(crate) fn quota(&self) -> EphemeralQuota {
        EphemeralQuota {
            session: self.session,
            most: self.ephemeral_nodes,
        }
    }
}
