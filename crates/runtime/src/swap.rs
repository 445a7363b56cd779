//! Hot-swap: new code for a live deployment, keeping its session, ballot and term.
//!
//! The new instance is compiled, checked and instantiated first, in a store of its own
//! whose imports are refused until it is activated; any failure up to there leaves the
//! old instance running and says why. Then the actor switches between two callbacks: the
//! old instance's in-flight callback has finished (bounded by its deadline), the old
//! instance is dropped, the new one is activated and takes over the same mailbox, fence
//! and identity, and is told where it stands: a leader gets on-winning-election with its
//! current term (its ack is re-asserted unchanged, so observers see nothing), a loser
//! on-losing-election with the current leader, an observer on-new-leader. The two
//! instances never run at once: they would share a term, and nothing could fence one
//! from the other.
//!
//! Guest memory does not carry over: the new instance starts from its own initial state
//! and must rebuild what it needs from the namespace. A trap after activation is a trap
//! like any other (the instance is revoked, its leadership lost, supervision applies),
//! and the swap's report says so.

use std::sync::Arc;
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::sync::oneshot;
use wasmtime::Store;

use crate::host_impl::HostState;
use ballot_core::election::{Callback, Term, read_leader, read_leading_term};
use ballot_core::namespace::SessionId;

use super::actor::{Guest, Message};
use super::deploy::{self, DeployError, Role};
use super::sandbox;
use super::{DeploymentId, Shared, TimelineEvent};

/// Why a swap did not happen. The old instance keeps running in every case.
#[derive(Debug, Error)]
pub enum SwapError {
    /// The new code was refused: malformed, not granted, wrong world, or its
    /// instantiation failed.
    #[error("the new code was refused: {0}")]
    Refused(#[from] DeployError),
    /// The deployment has no running instance to swap (restarting, failed, stopping).
    #[error("deployment {0} (the runtime's number) has no running instance to swap")]
    NotRunning(DeploymentId),
    /// The instance ended before the swap could be made.
    #[error("the instance ended before the swap was made")]
    Ended,
}

/// How a swap went once the new instance was activated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwapOutcome {
    /// Its first callback returned (or it had nothing to be told yet).
    Activated,
    /// Its first callback trapped: leadership is lost and supervision applies.
    TrappedAfterActivation(String),
}

/// What a successful swap reports.
#[derive(Debug, Clone)]
pub struct SwapReport {
    /// The term it leads under (unchanged by the swap), if it leads.
    pub term: Option<Term>,
    /// What the new instance was told first (the callback's name), if anything.
    pub told: Option<String>,
    /// The old instance's last import call.
    pub old_last_import: Option<Instant>,
    /// When the new instance's first callback started.
    pub first_callback: Instant,
    /// The new instance's first import call.
    pub new_first_import: Option<Instant>,
    /// Whether the new instance survived its first callback.
    pub outcome: SwapOutcome,
}

impl SwapReport {
    /// The callback blackout: the old instance's last import call to the new instance's
    /// first callback (zero if the old one never called).
    pub fn blackout(&self) -> Duration {
        self.old_last_import.map_or(Duration::ZERO, |last| {
            self.first_callback.duration_since(last)
        })
    }
}

/// A prepared instance waiting for the actor to switch to it.
pub(crate) struct SwapRequest {
    pub(crate) store: Store<HostState>,
    pub(crate) guest: Guest,
    /// Makes the new code the deployment's code, for every later restart.
    pub(crate) install: Box<dyn FnOnce() + Send>,
    pub(crate) reply: oneshot::Sender<SwapReport>,
}

/// Prepares the new instance and hands it to the deployment's actor.
pub(crate) async fn swap(
    shared: &Arc<Shared>,
    id: DeploymentId,
    wasm: &[u8],
) -> Result<SwapReport, SwapError> {
    let (deployment, current) = {
        let handle = shared
            .deployments
            .get(&id)
            .ok_or(SwapError::Refused(DeployError::Unknown(id)))?;
        (handle.deployment.clone(), handle.current())
    };
    let wasm = super::Code::from(wasm);
    let component = deploy::compile(shared, &wasm).await?;
    let digest = wasm.digest();
    let current = current.ok_or(SwapError::NotRunning(id))?;
    let limits = deployment.spec.limits;
    deploy::fits_memory(&component, &limits)?;
    let code = deploy::prepare(shared, &deployment.spec.role, digest, &component)?;
    let mut state = HostState::new(
        shared.clone(),
        current.identity.clone(),
        current.fence.clone(),
        &limits,
    );
    state.active = false;
    let memory = state.confinement.memory();
    let mut store = Store::new(&shared.engine, state);
    sandbox::confine(&mut store);
    let deadline = limits.callback_deadline;
    let guest = deploy::instantiate(&code, &mut store, deadline).await?;

    let (reply, report) = oneshot::channel();
    let installed = code;
    let target = deployment.clone();
    let request = SwapRequest {
        store,
        guest,
        install: Box::new(move || target.install(installed, digest)),
        reply,
    };
    current
        .swaps
        .send(request)
        .await
        .map_err(|_| SwapError::Ended)?;
    let report = report.await.map_err(|_| SwapError::Ended)?;
    if let Some(handle) = shared.deployments.get(&id) {
        handle.instance_swapped_in(memory);
    }
    shared.note(
        &deployment.spec.name,
        TimelineEvent::Swapped(match &report.outcome {
            SwapOutcome::Activated => "activated".to_string(),
            SwapOutcome::TrappedAfterActivation(why) => format!("trapped after activation: {why}"),
        }),
    );
    shared.evict_idle_components();
    Ok(report)
}

/// What the new instance of `role` on `session` is told first: where it stands in the
/// latest durable state. (Anything newer is already on its way through the mailbox, and
/// a revocation newer than that state has thrown the fence the instance shares.)
pub(crate) fn where_it_stands(shared: &Shared, role: &Role, session: SessionId) -> Option<Message> {
    let state = shared.store.published();
    let (election, is_observer) = match role {
        Role::Candidate { election, .. } => (election, false),
        Role::Observer { election } => (election, true),
    };
    let leading = (!is_observer)
        .then(|| read_leading_term(&state, election, session))
        .flatten();
    let leader = read_leader(&state, election);
    match (leading, leader) {
        (Some(term), _) => Some(Message::Notify(Callback::WinningElection { term })),
        (None, Some(leader)) if is_observer => {
            Some(Message::Notify(Callback::NewLeader { leader }))
        }
        (None, Some(leader)) => Some(Message::Notify(Callback::LosingElection { leader })),
        (None, None) => None,
    }
}
