//! How one instance is confined: its fence (the switch that takes its powers away), the
//! deadline of the callback it runs, and the wasmtime limits and epoch callback that
//! enforce both from inside the guest's own execution.
//!
//! Stopping a guest is a two-part job. Wasm that runs is stopped by the epoch callback,
//! which wasmtime calls every [`super::EPOCH_TICK`]: it yields to tokio (so a looping
//! guest never keeps a worker thread), then traps if the deadline passed or the fence was
//! revoked. Wasm blocked in an async host call runs no wasm and checks no epoch, so every
//! call into a guest also runs under a tokio timeout ([`within`]); dropping the call's
//! future unwinds the guest's fiber, and the instance is never used again.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::sync::Notify;
use wasmtime::{ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, UpdateDeadline};

use crate::host_impl::HostState;
use ballot_core::election::{Cause, Term};

use super::Limits;

/// Why an instance lost its powers. The first reason sticks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// It led `term` and its ballot is gone (its session ended, the ballot was deleted,
    /// or a planned change handed leadership on, as the cause says): that term is over.
    Deposed(Term, Cause),
    /// Its session was closed or expired.
    SessionEnded,
    /// Its mailbox was full: it fell too far behind to be trusted with its session.
    MailboxOverflow,
    /// It was undeployed.
    Undeployed,
    /// Its own callback trapped or passed its deadline.
    Crashed(String),
    /// It was killed from outside ([`super::Runtime::kill`]).
    Killed,
    /// It led and made no import call for this long (its deployment's max silence).
    Stalled(Duration),
    /// Its host fenced itself: it could not get a heartbeat through to the shared log
    /// for its TTL, so its peers may already count it dead ([`super::Runtime::fence_all`]).
    HostFenced,
}

impl Revocation {
    /// What the leadership history records as the cause of a `revoke`
    /// (`ballot_check::history::CAUSE_FIELD`).
    pub fn cause(&self) -> &'static str {
        match self {
            Revocation::Deposed(_, cause) => cause.name(),
            Revocation::SessionEnded => "session-ended",
            Revocation::MailboxOverflow => "mailbox-overflow",
            Revocation::Undeployed => "undeployed",
            Revocation::Crashed(_) => "crash",
            Revocation::Killed => "kill",
            Revocation::Stalled(_) => "stall",
            Revocation::HostFenced => "fenced",
        }
    }
}

impl std::fmt::Display for Revocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Revocation::Deposed(term, Cause::Lost) => write!(f, "deposed from term {term}"),
            Revocation::Deposed(term, Cause::HandOff) => {
                write!(f, "handed off: leadership given on from term {term}")
            }
            Revocation::Deposed(term, Cause::Preempted) => {
                write!(f, "preempted from term {term} by a higher priority")
            }
            Revocation::Deposed(term, Cause::Drained) => {
                write!(
                    f,
                    "drained: term {term} given to a candidate on another host"
                )
            }
            Revocation::SessionEnded => f.write_str("its session ended"),
            Revocation::MailboxOverflow => f.write_str("its mailbox overflowed"),
            Revocation::Undeployed => f.write_str("undeployed"),
            Revocation::Stalled(silence) => write!(
                f,
                "stalled: it led and made no import call for {} ms",
                silence.as_millis()
            ),
            Revocation::Crashed(why) => write!(f, "crashed: {why}"),
            Revocation::Killed => f.write_str("killed"),
            Revocation::HostFenced => f.write_str("its host fenced itself"),
        }
    }
}

/// The switch that ends one instance's powers, shared by the instance's host state, the
/// runtime's routing tables and its supervisor.
///
/// It is thrown on the store's writer thread in the very step that ends the instance's
/// leadership or session, before that step is durable and before anyone else hears of
/// it: every import call the writer runs after that sees it and is refused, the running
/// callback is interrupted at the next epoch tick, and the actor's loop is woken.
#[derive(Debug, Default)]
pub struct Fence {
    /// The term the instance was told it leads under (0: none), so that a host fencing
    /// itself can record which leader it revoked.
    leading: std::sync::atomic::AtomicU64,
    revoked: AtomicBool,
    reason: OnceLock<Revocation>,
    wake: Notify,
}

impl Fence {
    /// A fence that has not been thrown.
    pub fn new() -> Arc<Fence> {
        Arc::new(Fence::default())
    }

    /// Throws the fence. Returns whether this call threw it (the first reason wins).
    pub fn revoke(&self, why: Revocation) -> bool {
        let first = self.reason.set(why).is_ok();
        self.revoked.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        first
    }

    /// Notes that the instance leads under `term`.
    pub fn lead(&self, term: u64) {
        self.leading.store(term, Ordering::SeqCst);
    }

    /// The term the instance was last told it leads under, if any.
    pub fn leading(&self) -> Option<u64> {
        match self.leading.load(Ordering::SeqCst) {
            0 => None,
            term => Some(term),
        }
    }

    /// Whether the fence has been thrown.
    pub fn is_revoked(&self) -> bool {
        self.revoked.load(Ordering::SeqCst)
    }

    /// Why it was thrown, once it has been.
    pub fn reason(&self) -> Option<&Revocation> {
        self.reason.get()
    }

    /// Resolves once the fence is thrown (at once if it already was).
    pub async fn revoked(&self) {
        while !self.is_revoked() {
            self.wake.notified().await;
        }
    }
}

/// Why a call into a guest was cut short by the host.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum Interrupted {
    /// The callback ran (or waited in a host call) past its deadline.
    #[error("the callback passed its deadline of {0:?}")]
    Deadline(Duration),
    /// The instance's powers were revoked while it ran.
    #[error("interrupted: {0}")]
    Revoked(Revocation),
}

/// The per-instance part of [`HostState`] that the sandbox reads and writes.
pub struct Confinement {
    /// This instance's fence.
    pub(crate) fence: Arc<Fence>,
    /// When the running callback must be done, and the limit it came from.
    deadline: Option<(Instant, Duration)>,
    /// Memory and table limits, enforced by wasmtime through `Store::limiter`, and the
    /// memory the instance holds.
    store_limits: MeteredLimits,
}

/// Bytes of linear memory one instance holds, readable from outside its actor (the
/// dashboard and `GET /v1/components` show it) while the actor owns the store.
#[derive(Debug, Default)]
pub struct MemoryGauge(AtomicU64);

impl MemoryGauge {
    /// The bytes held now.
    pub fn bytes(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// wasmtime's [`StoreLimits`], counting what they grant into a [`MemoryGauge`].
struct MeteredLimits {
    limits: StoreLimits,
    gauge: Arc<MemoryGauge>,
}

impl ResourceLimiter for MeteredLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let granted = self.limits.memory_growing(current, desired, maximum)?;
        if granted {
            // A memory's creation is a grow from 0, so the sum over every grant is the
            // instance's linear memory across all its memories.
            let grown = u64::try_from(desired.saturating_sub(current)).unwrap_or(u64::MAX);
            self.gauge.0.fetch_add(grown, Ordering::Relaxed);
        }
        Ok(granted)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

impl Confinement {
    /// Confinement under `limits` behind `fence`.
    pub(crate) fn new(fence: Arc<Fence>, limits: &Limits) -> Self {
        let store_limits = StoreLimitsBuilder::new()
            .memory_size(limits.effective_memory_bytes())
            .table_elements(limits.table_elements)
            // A failed grow traps with a clear message instead of handing the guest a -1
            // that Rust's allocator turns into an abort with none.
            .trap_on_grow_failure(true)
            .build();
        Confinement {
            fence,
            deadline: None,
            store_limits: MeteredLimits {
                limits: store_limits,
                gauge: Arc::default(),
            },
        }
    }

    /// The instance's memory gauge.
    pub(crate) fn memory(&self) -> Arc<MemoryGauge> {
        self.store_limits.gauge.clone()
    }
}

/// Store data that carries a [`Confinement`]: an actor's instance, or a transaction
/// function's.
pub(crate) trait Confined: Send + 'static {
    /// The confinement.
    fn confinement(&self) -> &Confinement;
    /// The confinement, to change.
    fn confinement_mut(&mut self) -> &mut Confinement;
}

impl Confined for HostState {
    fn confinement(&self) -> &Confinement {
        &self.confinement
    }
    fn confinement_mut(&mut self) -> &mut Confinement {
        &mut self.confinement
    }
}

/// Installs the limiter and the epoch callback on a new instance's store.
pub(crate) fn confine<T: Confined>(store: &mut Store<T>) {
    store.limiter(|state| &mut state.confinement_mut().store_limits);
    store.epoch_deadline_callback(|ctx| {
        let confinement = ctx.data().confinement();
        if let Some(why) = confinement.fence.reason() {
            return Err(Interrupted::Revoked(why.clone()).into());
        }
        if let Some((at, limit)) = confinement.deadline
            && Instant::now() >= at
        {
            return Err(Interrupted::Deadline(limit).into());
        }
        // tokio's own yield, as wasmtime recommends under tokio: it also gives up the
        // task's cooperative budget, so the worker really runs something else.
        Ok(UpdateDeadline::YieldCustom(
            1,
            Box::pin(tokio::task::yield_now()),
        ))
    });
    store.set_epoch_deadline(1);
}

/// Starts a callback's clock; [`within`] must wrap the call itself.
pub(crate) fn arm<T: Confined>(store: &mut Store<T>, limit: Duration) {
    store.data_mut().confinement_mut().deadline = Some((Instant::now() + limit, limit));
    store.set_epoch_deadline(1);
}

/// Stops the callback's clock.
pub(crate) fn disarm<T: Confined>(store: &mut Store<T>) {
    store.data_mut().confinement_mut().deadline = None;
}

/// How much longer than the deadline the tokio timeout waits: the epoch callback should
/// fire first for running wasm; the timeout is for a guest stuck in a host call.
const GRACE: Duration = Duration::from_millis(50);

/// Runs a call into a guest under `limit`. Dropping the call's future on timeout ends
/// it as a trap; the instance must not be called again afterwards.
pub(crate) async fn within<T>(
    limit: Duration,
    call: impl Future<Output = wasmtime::Result<T>>,
) -> wasmtime::Result<T> {
    match tokio::time::timeout(limit + GRACE, call).await {
        Ok(result) => result,
        Err(_elapsed) => Err(Interrupted::Deadline(limit).into()),
    }
}

/// Why a guest call failed, in words for the timeline and the deployment's status: the
/// root cause (a trap's kind, not its backtrace).
pub(crate) fn describe(error: &wasmtime::Error) -> String {
    if let Some(interrupted) = error.downcast_ref::<Interrupted>() {
        return interrupted.to_string();
    }
    error.root_cause().to_string()
}
