//! The runtime: deploys components as actors over the durable elections.
//!
//! One [`Runtime`] owns one store of elections ([`EmbeddedStore<Elections>`]) and one shared
//! wasmtime engine. Each deployment is an actor (see [`actor`]): a tokio task with a
//! bounded mailbox and its own wasmtime `Store`. Every change an actor or the host makes
//! goes through the store's writer; what it causes (election callbacks, watch events) is
//! delivered to the mailboxes from the writer thread once durable, in commit order, so an
//! actor never sees anything that a crash could take back, and never out of order.
//!
//! A host import never waits on its own actor's mailbox: deliveries are `try_send`s, and
//! the outcomes of vote and resign arrive later as callbacks.

mod actor;
pub mod bindings;
mod deploy;
mod engine;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use tokio::sync::mpsc;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use crate::election::{Effects, Elections, Recipient};
use crate::history::Recorder;
use crate::host_impl::HostState;
use crate::namespace::{MonoTime, SessionId, WatcherId};
use crate::store::{EmbeddedStore, StoreError};

pub use deploy::{DeployError, DeploySpec, DeploymentId, Role};
pub use engine::{MAX_INSTANCES, MAX_MEMORY_BYTES, new_engine};

use actor::Message;

/// Mailbox capacity of each actor.
pub const MAILBOX: usize = 1024;

/// Something that happened to a deployment, for the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimelineEvent {
    /// Deployed, with its session.
    Deployed(String),
    /// A callback was delivered (its name and arguments).
    Callback(String),
    /// The host wrote its ack under this term.
    Acked(u64),
    /// Its ballot vanished while it led: this term is revoked.
    Deposed(u64),
    /// It trapped; its session was closed.
    Trapped(String),
    /// Undeployed.
    Undeployed,
}

/// One timeline line: when, who, what.
#[derive(Debug, Clone)]
pub struct TimelineEntry {
    /// Since the runtime started.
    pub at: Duration,
    /// The deployment's name.
    pub deployment: String,
    /// What happened.
    pub event: TimelineEvent,
}

/// State shared by the runtime, its actors and their host imports.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) store: EmbeddedStore<Elections>,
    candidate_linker: Linker<HostState>,
    observer_linker: Linker<HostState>,
    /// Compiled components by content hash: a redeploy of the same bytes skips compiling.
    components: DashMap<[u8; 32], Component>,
    /// Live actors' mailboxes, by who the elections address.
    mailboxes: DashMap<Recipient, mpsc::Sender<Message>>,
    /// Whose mailbox each watcher's events go to.
    watch_routes: DashMap<WatcherId, Recipient>,
    deployments: DashMap<DeploymentId, deploy::Record>,
    last_deployment: AtomicU64,
    started: Instant,
    /// A std mutex: held only to push a line, never across an await.
    timeline: Mutex<Vec<TimelineEntry>>,
    logs: Mutex<Vec<(String, String)>>,
    /// Records elections, guarded commits and resignations for the leadership model.
    pub(crate) recorder: Recorder,
}

impl Shared {
    /// Commits through the store and delivers what the commit causes, in commit order,
    /// once durable.
    pub(crate) async fn commit<R: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Elections, MonoTime) -> (R, Effects) + Send + 'static,
    ) -> Result<R, StoreError> {
        let me = self.clone();
        self.store
            .execute_ordered(f, move |effects| me.deliver(effects))
            .await
    }

    /// Hands notifications and watch events to their actors without waiting. A full
    /// mailbox loses the message, loudly (the sandbox issue turns this into expiring the
    /// actor's session).
    pub(crate) fn deliver(&self, effects: Effects) {
        let send = |to: Recipient, message: Message| {
            if let Some(mailbox) = self.mailboxes.get(&to)
                && let Err(error) = mailbox.try_send(message)
            {
                tracing::error!(?to, %error, "mailbox refused a message");
            }
        };
        for notification in effects.notifications {
            send(notification.to, Message::Notify(notification.callback));
        }
        for event in effects.watch_events {
            if let Some(to) = self.watch_routes.get(&event.watcher).map(|r| *r) {
                send(to, Message::Event(event));
            }
        }
    }

    /// Closes a session (a trapped actor's, an undeployed one's) and delivers the fallout.
    pub(crate) async fn close_session(self: &Arc<Self>, session: SessionId) {
        let _ = self
            .commit(move |el: &mut Elections, _| {
                ((), el.close_session(session).unwrap_or_default())
            })
            .await;
    }

    /// Adds a timeline line.
    pub(crate) fn note(&self, deployment: &str, event: TimelineEvent) {
        let entry = TimelineEntry {
            at: self.started.elapsed(),
            deployment: deployment.to_string(),
            event,
        };
        tracing::info!(deployment, event = ?entry.event, "timeline");
        self.timeline
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(entry);
    }

    /// Keeps a guest's log line for [`Runtime::logs`].
    pub(crate) fn record_log(&self, deployment: &str, message: &str) {
        let mut logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        if logs.len() < 100_000 {
            logs.push((deployment.to_string(), message.to_string()));
        }
    }
}

/// The host runtime: deploy and undeploy components; they run as actors over the store.
pub struct Runtime {
    shared: Arc<Shared>,
    sweeper: tokio::task::JoinHandle<()>,
}

/// How often expired sessions are swept.
const SWEEP: Duration = Duration::from_millis(20);

impl Runtime {
    /// A runtime over `store`, running components on `engine` (share one engine per
    /// process). Must be called inside a tokio runtime.
    ///
    /// With `recorder` on, the runtime records every election (`elected`, invoked when
    /// on-winning-election starts, ok once the ack is written), every guarded commit
    /// (`commit`, ok or fail) and every leader's resignation (`resign`), each under the
    /// deployment's process number, for [`crate::check`]'s leadership model.
    pub fn new(
        engine: Engine,
        store: EmbeddedStore<Elections>,
        recorder: Recorder,
    ) -> Result<Self, DeployError> {
        let candidate_linker = deploy::candidate_linker(&engine)?;
        let observer_linker = deploy::observer_linker(&engine)?;
        let shared = Arc::new(Shared {
            engine,
            store,
            candidate_linker,
            observer_linker,
            components: DashMap::new(),
            mailboxes: DashMap::new(),
            watch_routes: DashMap::new(),
            deployments: DashMap::new(),
            last_deployment: AtomicU64::new(0),
            started: Instant::now(),
            timeline: Mutex::new(Vec::new()),
            logs: Mutex::new(Vec::new()),
            recorder,
        });
        let sweeper = {
            let shared = shared.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(SWEEP);
                loop {
                    every.tick().await;
                    let swept = shared
                        .commit(|el: &mut Elections, now| {
                            let (_expired, effects) = el.tick(now);
                            ((), effects)
                        })
                        .await;
                    if swept.is_err() {
                        break;
                    }
                }
            })
        };
        Ok(Runtime { shared, sweeper })
    }

    /// Deploys a component: compile (cached by content hash), check it against its
    /// world, instantiate, open its session, join the election (or observe it), start its
    /// actor, and cast its ballot. A malformed component is refused and nothing changes.
    pub async fn deploy(&self, spec: DeploySpec) -> Result<DeploymentId, DeployError> {
        deploy::deploy(&self.shared, spec).await
    }

    /// Undeploys: resigns, closes the session (its ephemerals go), stops the actor.
    pub async fn undeploy(&self, id: DeploymentId) -> Result<(), DeployError> {
        deploy::undeploy(&self.shared, id).await
    }

    /// The timeline so far.
    pub fn timeline(&self) -> Vec<TimelineEntry> {
        self.shared
            .timeline
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Guest log lines so far: (deployment, message).
    pub fn logs(&self) -> Vec<(String, String)> {
        self.shared
            .logs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The latest durable namespace state.
    pub fn state(&self) -> crate::namespace::State {
        self.shared.store.published()
    }

    /// Runs `f` on the elections through the store and delivers what it causes to the
    /// actors, like any import call: for the host's own operations and for tests.
    pub async fn with_elections<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Elections, MonoTime) -> (R, Effects) + Send + 'static,
    ) -> Result<R, StoreError> {
        self.shared.commit(f).await
    }

    /// Time since the runtime started: the clock of [`TimelineEntry::at`].
    pub fn uptime(&self) -> Duration {
        self.shared.started.elapsed()
    }

    /// Instantiates a candidate component outside any actor, with a throwaway identity:
    /// for measuring raw host-to-guest call costs.
    pub async fn bare_candidate(
        &self,
        wasm: &[u8],
    ) -> Result<(wasmtime::Store<HostState>, bindings::candidate::Candidate), DeployError> {
        deploy::bare_candidate(&self.shared, wasm).await
    }

    /// The number of compiled components in the cache.
    pub fn cached_components(&self) -> usize {
        self.shared.components.len()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.sweeper.abort();
    }
}
