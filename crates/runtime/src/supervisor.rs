//! Supervision: one task per deployment runs its instance, retires it when it ends
//! (fence thrown first, then leadership and session given up in one step, so the
//! successor is promoted only after), and starts a fresh one — at once after a
//! revocation that was not the instance's fault, after an exponential backoff after a
//! crash, and never again once the deployment has crashed too often in the window.

use crate::lock;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use crate::host_impl::Identity;
use ballot_check::models::LeadershipCall;
use ballot_core::command::{Command, Outcome};
use ballot_core::namespace::SessionId;
use ballot_store::Hooks;
use ballot_store::embedded::OnApplied;

use super::actor::{self, ActorConfig, Exit, Incarnation};
use super::deploy::{self, DeployError, Deployment, Starting};

use super::limits::{AfterCrash, CrashCounter};
use super::sandbox::{Fence, Revocation};
use super::swap::SwapRequest;
use super::{DeploymentId, Shared, TimelineEvent};

/// Where a deployment stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeploymentStatus {
    /// An instance runs on this session.
    Running {
        /// Its session.
        session: SessionId,
        /// Instances started before this one.
        restarts: u32,
    },
    /// Waiting to start a fresh instance after a crash.
    Restarting {
        /// Why the last instance ended.
        last_crash: String,
    },
    /// Crashed too often: it stays out of elections until redeployed.
    Failed {
        /// The crashes and the last one's reason.
        reason: String,
    },
}

/// How the runtime reaches the running instance from outside its actor.
#[derive(Clone)]
pub(crate) struct Current {
    /// To revoke it.
    pub(crate) fence: Arc<Fence>,
    /// Who it is: a swapped-in instance takes the same identity.
    pub(crate) identity: Identity,
    /// To hand it a swapped-in instance.
    pub(crate) swaps: mpsc::Sender<SwapRequest>,
    /// The linear memory it holds.
    pub(crate) memory: Arc<crate::sandbox::MemoryGauge>,
}

impl Current {
    fn of(incarnation: &Incarnation) -> Self {
        Current {
            fence: incarnation.fence.clone(),
            identity: incarnation.store.data().identity.clone(),
            swaps: incarnation.swap_sender.clone(),
            memory: incarnation.store.data().confinement.memory(),
        }
    }
}

/// What the runtime holds of a supervised deployment.
pub(crate) struct Handle {
    name: String,
    pub(crate) deployment: Arc<Deployment>,
    status: Arc<Mutex<DeploymentStatus>>,
    /// The running instance, if one runs.
    current: Arc<Mutex<Option<Current>>>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Handle {
    /// The running instance, if one runs.
    pub(crate) fn current(&self) -> Option<Current> {
        lock(&self.current).clone()
    }

    /// The linear memory the running instance holds, if one runs.
    pub(crate) fn memory_bytes(&self) -> Option<u64> {
        self.current().map(|current| current.memory.bytes())
    }

    /// A swapped-in instance now runs: its memory is the one to show.
    pub(crate) fn instance_swapped_in(&self, memory: Arc<crate::sandbox::MemoryGauge>) {
        if let Some(current) = lock(&self.current).as_mut() {
            current.memory = memory;
        }
    }

    pub(crate) fn status(&self) -> DeploymentStatus {
        lock(&self.status).clone()
    }
}

/// Starts supervising `deployment` from its first instance, which the deployment's own
/// task finishes starting (so the entry's sync wakes the task that runs the first
/// callback). Returns once that instance stands, or with why it could not, leaving
/// nothing behind.
pub(crate) async fn spawn(
    shared: &Arc<Shared>,
    id: DeploymentId,
    deployment: Arc<Deployment>,
    first: Starting,
) -> Result<(), DeployError> {
    let status = Arc::new(Mutex::new(DeploymentStatus::Running {
        session: SessionId(0),
        restarts: 0,
    }));
    let current = Arc::new(Mutex::new(None));
    let (stop, stopped) = watch::channel(false);
    let (started, first_started) = oneshot::channel();
    let task = shared.tokio.spawn(supervise(
        shared.clone(),
        deployment.clone(),
        First { first, started },
        Watched {
            status: status.clone(),
            current: current.clone(),
            stopped,
        },
    ));
    match first_started.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return Err(error),
        Err(_) => {
            return Err(DeployError::Instantiate(
                "the runtime stopped while the first instance started".into(),
            ));
        }
    }
    shared.deployments.insert(
        id,
        Handle {
            name: deployment.spec.name.clone(),
            deployment: deployment.clone(),
            status,
            current,
            stop,
            task: Mutex::new(Some(task)),
        },
    );
    Ok(())
}

/// A deployment's first instance on its way up, and whom to tell how its start went.
struct First {
    first: Starting,
    started: oneshot::Sender<Result<(), DeployError>>,
}

/// The supervisor's side of a [`Handle`].
struct Watched {
    status: Arc<Mutex<DeploymentStatus>>,
    current: Arc<Mutex<Option<Current>>>,
    stopped: watch::Receiver<bool>,
}

impl Watched {
    fn set(&self, status: DeploymentStatus) {
        *lock(&self.status) = status;
    }

    fn set_current(&self, current: Option<Current>) {
        *lock(&self.current) = current;
    }

    fn is_stopped(&self) -> bool {
        *self.stopped.borrow()
    }

    /// Waits `wait`, or less if the deployment is undeployed meanwhile.
    async fn pause(&mut self, wait: Duration) {
        let stopped = self.stopped.wait_for(|stop| *stop);
        let _ = tokio::time::timeout(wait, stopped).await;
    }
}

/// How long a deployment whose host fenced itself waits before it tries to start again.
const HOST_FENCED_RETRY: Duration = Duration::from_millis(250);

async fn supervise(
    shared: Arc<Shared>,
    deployment: Arc<Deployment>,
    first: First,
    mut watched: Watched,
) {
    let name = deployment.spec.name.clone();
    let First { first, started } = first;
    let first = match first.finish(&shared).await {
        Ok(first) => first,
        Err(error) => {
            let _ = started.send(Err(error));
            return;
        }
    };
    shared.note(
        &name,
        TimelineEvent::Deployed(format!("session {}", first.session)),
    );
    watched.set_current(Some(Current::of(&first)));
    watched.set(DeploymentStatus::Running {
        session: first.session,
        restarts: 0,
    });
    if started.send(Ok(())).is_err() {
        // Whoever deployed it has gone (its request was dropped): nobody holds its id,
        // so nothing could ever undeploy it. It leaves at once.
        retire(
            &shared,
            &name,
            first,
            &Exit::Revoked(Revocation::Undeployed),
        )
        .await;
        return;
    }
    let config = ActorConfig {
        role: deployment.spec.role.clone(),
        ttl: deployment.spec.ttl,
        tick: deployment.spec.tick,
        deadline: deployment.spec.limits.callback_deadline,
        max_silence: deployment.spec.supervision.max_silence,
    };
    let mut crashes = CrashCounter::new(deployment.spec.supervision);
    let mut restarts = 0;
    let mut next = Some(first);
    loop {
        let outcome = match next.take() {
            Some(incarnation) => Ok(incarnation),
            None => deploy::start(&shared, &deployment).await.inspect(|fresh| {
                let started = format!("restarted on session {}", fresh.session);
                shared.note(&name, TimelineEvent::Deployed(started));
            }),
        };
        let exit = match outcome {
            Ok(mut incarnation) => {
                watched.set_current(Some(Current::of(&incarnation)));
                watched.set(DeploymentStatus::Running {
                    session: incarnation.session,
                    restarts,
                });
                // An undeploy that raced this start found no fence to throw.
                if watched.is_stopped() {
                    incarnation.fence.revoke(Revocation::Undeployed);
                }
                let exit = actor::run(&shared, &mut incarnation, &config).await;
                retire(&shared, &name, incarnation, &exit).await;
                watched.set_current(None);
                exit
            }
            // The store could not take the new instance's entry (a shared log out of
            // reach, or this host fenced and not yet rejoined): not the component's fault.
            Err(DeployError::Store(error)) => {
                tracing::warn!(deployment = %name, %error, "restart waits for the store");
                Exit::Revoked(Revocation::HostFenced)
            }
            Err(error) => Exit::Crashed(format!("restart failed: {error}")),
        };
        if watched.is_stopped() || exit == Exit::Revoked(Revocation::Undeployed) {
            break;
        }
        restarts += 1;
        match exit {
            Exit::Revoked(why @ (Revocation::Deposed(..) | Revocation::Killed)) => {
                // Not the instance's fault (its ballot was taken, or it was killed from
                // outside): continue at once, and not towards the crash limit.
                tracing::info!(deployment = %name, %why, "restarting in a fresh instance");
            }
            Exit::Revoked(Revocation::HostFenced) => {
                // Its host lost the shared log: try again shortly, not towards the crash
                // limit, until the host has rejoined.
                watched.pause(HOST_FENCED_RETRY).await;
            }
            // Anything else ended the instance through its own doing (a crash, a lapsed
            // session, a full mailbox): it counts against the crash limit.
            Exit::Revoked(why) => {
                if !after_crash(&shared, &name, &mut crashes, &mut watched, why.to_string()).await {
                    break;
                }
            }
            Exit::Crashed(why) => {
                if !after_crash(&shared, &name, &mut crashes, &mut watched, why).await {
                    break;
                }
            }
        }
        if watched.is_stopped() {
            break;
        }
    }
}

/// Counts a crash; waits out the backoff, or marks the deployment failed. Returns
/// whether to start again.
async fn after_crash(
    shared: &Shared,
    name: &str,
    crashes: &mut CrashCounter,
    watched: &mut Watched,
    why: String,
) -> bool {
    match crashes.crashed(Instant::now()) {
        AfterCrash::RestartAfter(wait) => {
            watched.set(DeploymentStatus::Restarting {
                last_crash: why.clone(),
            });
            shared.note(name, TimelineEvent::Restarting(wait));
            watched.pause(wait).await;
            true
        }
        AfterCrash::GiveUp { crashes } => {
            let reason = format!("{crashes} crashes in the supervision window; last: {why}");
            tracing::error!(deployment = %name, %reason, "deployment failed");
            // The status first: whoever sees the timeline line finds the status it reports.
            watched.set(DeploymentStatus::Failed {
                reason: reason.clone(),
            });
            shared.note(name, TimelineEvent::Failed(reason));
            false
        }
    }
}

/// Ends an instance: its fence is thrown (if it was not already), its routes go, and in
/// one step it leaves its election and its session closes. Only that step lets a
/// successor be promoted, so the revocation always comes first. A leader's exit is
/// recorded: `resign` when it was undeployed, `revoke` otherwise.
pub(crate) async fn retire(shared: &Arc<Shared>, name: &str, me: Incarnation, exit: &Exit) {
    let name = name.to_string();
    let revocation = match exit {
        Exit::Revoked(why) => why.clone(),
        Exit::Crashed(why) => Revocation::Crashed(why.clone()),
    };
    me.fence.revoke(revocation.clone());
    match exit {
        Exit::Crashed(why) => shared.note(&name, TimelineEvent::Trapped(why.clone())),
        Exit::Revoked(Revocation::Deposed(term, _)) => {
            shared.note(&name, TimelineEvent::Deposed(term.0))
        }
        Exit::Revoked(Revocation::Undeployed) => {}
        Exit::Revoked(why) => shared.note(&name, TimelineEvent::Revoked(why.to_string())),
    }
    shared.links.remove(&me.recipient);
    shared.session_fences.remove(&me.session);
    shared.watch_routes.remove(&me.watcher);
    let recorder = shared.recorder.clone();
    let process = super::recorded_process(me.store.data().identity.process, super::Lane::Exit);
    let resigned = revocation == Revocation::Undeployed;
    let cause = revocation.cause();
    let (recipient, watcher, session) = (me.recipient, me.watcher, me.session);
    let who = name.clone();
    let election = me.store.data().identity.election.to_string();
    // The leader's loss of its term is recorded in the step that ends it.
    let record: OnApplied = Box::new(move |applied| {
        if let Ok(Outcome::Retired {
            left_term: Some(term),
        }) = applied
        {
            if resigned {
                recorder.leadership_now(process, LeadershipCall::Resign, &election, &who, term.0);
            } else {
                recorder.revoked(process, &election, &who, term.0, cause);
            }
        }
    });
    let hooks = Hooks {
        admit: None,
        applied: Some(record),
        durable: None,
    };
    let command = Command::Retire {
        recipient,
        watcher,
        session,
    };
    let _ = shared.propose(command, hooks).await;
}

/// Undeploys: stops supervising, revokes the running instance (interrupting a running
/// callback at the next epoch tick), and waits until it has resigned and closed its
/// session.
pub(crate) async fn undeploy(shared: &Arc<Shared>, id: DeploymentId) -> Result<(), DeployError> {
    let (_, handle) = shared
        .deployments
        .remove(&id)
        .ok_or(DeployError::Unknown(id))?;
    let _ = handle.stop.send(true);
    if let Some(current) = handle.current() {
        current.fence.revoke(Revocation::Undeployed);
    }
    let task = lock(&handle.task).take();
    if let Some(task) = task {
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }
    shared.note(&handle.name, TimelineEvent::Undeployed);
    if !shared
        .deployments
        .iter()
        .any(|other| other.name == handle.name)
    {
        shared.forget_logs(&handle.name);
    }
    shared.evict_idle_components();
    Ok(())
}
