//! Deploying and undeploying components.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, Linker};

use crate::election::{CandidateId, Effects, ElectionError, ElectionName, Elections, Recipient};
use crate::host_impl::{HostState, Identity};
use crate::namespace::{Data, SessionId, WatcherId};
use crate::store::StoreError;

use super::actor::{self, ActorConfig, Guest, Message};
use super::bindings::{candidate::CandidatePre, observer::ObserverPre};
use super::{MAILBOX, Shared, TimelineEvent};

/// A deployment's identity within one runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeploymentId(pub u64);

/// What a deployment does.
#[derive(Debug, Clone)]
pub enum Role {
    /// Stands in `election` with a ballot carrying `data`.
    Candidate {
        /// The election.
        election: ElectionName,
        /// Ballot and ack data (e.g. an address).
        data: Vec<u8>,
        /// Also hear of every new leader (on-new-leader).
        follow_leader: bool,
    },
    /// Follows `election`'s leaders.
    Observer {
        /// The election.
        election: ElectionName,
    },
}

/// Everything needed to deploy a component.
#[derive(Debug, Clone)]
pub struct DeploySpec {
    /// A name for logs and the timeline.
    pub name: String,
    /// The component's bytes (a WebAssembly component, not a core module).
    pub wasm: Vec<u8>,
    /// Candidate or observer.
    pub role: Role,
    /// Session TTL: how long the actor may be unresponsive before it loses its session.
    pub ttl: Duration,
    /// How often to call the candidate's `tick`, if at all.
    pub tick: Option<Duration>,
}

/// Why a deployment was refused or failed. A refused deploy leaves nothing behind.
#[derive(Debug, Error)]
pub enum DeployError {
    /// The bytes are not a valid WebAssembly component.
    #[error("not a valid component: {0}")]
    Malformed(String),
    /// The component does not fit its world: a missing export, or an import the host
    /// does not provide.
    #[error("the component does not fit the {world} world: {reason}")]
    WrongWorld {
        /// `candidate` or `observer`.
        world: &'static str,
        /// What does not fit.
        reason: String,
    },
    /// Instantiation failed (its start trapped, or no instance slot was free).
    #[error("instantiation failed: {0}")]
    Instantiate(String),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The elections refused.
    #[error(transparent)]
    Election(#[from] ElectionError),
    /// No such deployment.
    #[error("no deployment {0:?}")]
    Unknown(DeploymentId),
    /// The host could not set up its linker.
    #[error("linker setup failed: {0}")]
    Linker(String),
}

/// What the runtime keeps about a live deployment.
pub(crate) struct Record {
    name: String,
    recipient: Recipient,
    session: SessionId,
    watcher: WatcherId,
    mailbox: mpsc::Sender<Message>,
}

/// The linker for candidate components: WASI (nothing granted) plus our interfaces.
pub(crate) fn candidate_linker(
    engine: &wasmtime::Engine,
) -> Result<Linker<HostState>, DeployError> {
    let mut linker = Linker::new(engine);
    let wire = |e: wasmtime::Error| DeployError::Linker(format!("{e:#}"));
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(wire)?;
    super::bindings::candidate::Candidate::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
        .map_err(wire)?;
    Ok(linker)
}

/// The linker for observer components.
pub(crate) fn observer_linker(engine: &wasmtime::Engine) -> Result<Linker<HostState>, DeployError> {
    let mut linker = Linker::new(engine);
    let wire = |e: wasmtime::Error| DeployError::Linker(format!("{e:#}"));
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(wire)?;
    super::bindings::observer::Observer::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
        .map_err(wire)?;
    Ok(linker)
}

/// Compiles `wasm`, or takes it from the cache by content hash.
fn compile(shared: &Shared, wasm: &[u8]) -> Result<Component, DeployError> {
    let hash: [u8; 32] = Sha256::digest(wasm).into();
    if let Some(component) = shared.components.get(&hash) {
        return Ok(component.clone());
    }
    let component = Component::new(&shared.engine, wasm)
        .map_err(|e| DeployError::Malformed(format!("{e:#}")))?;
    shared.components.insert(hash, component.clone());
    Ok(component)
}

pub(crate) async fn bare_candidate(
    shared: &Arc<Shared>,
    wasm: &[u8],
) -> Result<(Store<HostState>, super::bindings::candidate::Candidate), DeployError> {
    let component = compile(shared, wasm)?;
    let identity = Identity {
        name: "bare".into(),
        process: 0,
        session: SessionId(0),
        candidate: None,
        election: ElectionName::parse("bare").map_err(ElectionError::from)?,
        watcher: WatcherId(0),
    };
    let mut store = Store::new(&shared.engine, HostState::new(shared.clone(), identity));
    let instance = instantiate_candidate(shared, &component, &mut store).await?;
    Ok((store, instance))
}

fn wrong_world(world: &'static str) -> impl Fn(wasmtime::Error) -> DeployError {
    move |e| DeployError::WrongWorld {
        world,
        reason: format!("{e:#}"),
    }
}

fn instantiation_failed(e: wasmtime::Error) -> DeployError {
    DeployError::Instantiate(format!("{e:#}"))
}

/// Checks `component` against the candidate world and instantiates it in `store`.
async fn instantiate_candidate(
    shared: &Shared,
    component: &Component,
    store: &mut Store<HostState>,
) -> Result<super::bindings::candidate::Candidate, DeployError> {
    let pre = shared
        .candidate_linker
        .instantiate_pre(component)
        .map_err(wrong_world("candidate"))?;
    let pre = CandidatePre::new(pre).map_err(wrong_world("candidate"))?;
    pre.instantiate_async(store)
        .await
        .map_err(instantiation_failed)
}

pub(crate) async fn deploy(
    shared: &Arc<Shared>,
    spec: DeploySpec,
) -> Result<super::DeploymentId, DeployError> {
    let component = compile(shared, &spec.wasm)?;
    let election = match &spec.role {
        Role::Candidate { election, .. } | Role::Observer { election } => election.clone(),
    };
    let id = super::DeploymentId(shared.last_deployment.fetch_add(1, Ordering::Relaxed) + 1);
    let identity = Identity {
        name: spec.name.clone(),
        process: id.0,
        session: SessionId(0),
        candidate: None,
        election,
        watcher: WatcherId(0),
    };
    let mut store = Store::new(&shared.engine, HostState::new(shared.clone(), identity));
    let guest = match &spec.role {
        Role::Candidate { .. } => {
            Guest::Candidate(instantiate_candidate(shared, &component, &mut store).await?)
        }
        Role::Observer { .. } => {
            let pre = shared
                .observer_linker
                .instantiate_pre(&component)
                .map_err(wrong_world("observer"))?;
            let pre = ObserverPre::new(pre).map_err(wrong_world("observer"))?;
            Guest::Observer(
                pre.instantiate_async(&mut store)
                    .await
                    .map_err(instantiation_failed)?,
            )
        }
    };

    // Open the session, join (or observe), and route the actor's mail, in one writer job:
    // whatever any later commit causes for this actor finds its mailbox already there.
    let (tx, rx) = mpsc::channel(MAILBOX);
    let mailbox = tx.clone();
    let (ttl, role) = (spec.ttl, spec.role.clone());
    let routes = shared.clone();
    let (session, recipient, watcher, candidate) = shared
        .commit(move |el: &mut Elections, now| {
            let session = match el.open_session(ttl, now) {
                Ok(session) => session,
                Err(error) => return (Err(ElectionError::from(error)), Effects::default()),
            };
            let watcher = el.new_watcher();
            let (recipient, candidate, effects) = match role {
                Role::Candidate {
                    election,
                    data,
                    follow_leader,
                } => {
                    let id = el.join(&election, session, Data::from(data), follow_leader);
                    (Recipient::Candidate(id), Some(id), Effects::default())
                }
                Role::Observer { election } => {
                    let (id, effects) = el.observe(&election);
                    (Recipient::Observer(id), None, effects)
                }
            };
            routes.mailboxes.insert(recipient, tx);
            routes.watch_routes.insert(watcher, recipient);
            (Ok((session, recipient, watcher, candidate)), effects)
        })
        .await??;
    {
        let identity = &mut store.data_mut().identity;
        identity.session = session;
        identity.candidate = candidate;
        identity.watcher = watcher;
    }
    shared.deployments.insert(
        id,
        Record {
            name: spec.name.clone(),
            recipient,
            session,
            watcher,
            mailbox,
        },
    );
    shared.note(
        &spec.name,
        TimelineEvent::Deployed(format!("session {session}")),
    );
    let config = ActorConfig {
        ttl: spec.ttl,
        tick: spec.tick,
    };
    tokio::spawn(actor::run(shared.clone(), store, guest, rx, config));
    if let Some(candidate) = candidate {
        vote(shared, candidate).await?;
    }
    Ok(id)
}

async fn vote(shared: &Arc<Shared>, candidate: CandidateId) -> Result<(), DeployError> {
    shared
        .commit(
            move |el: &mut Elections, now| match el.vote(candidate, now) {
                Ok(effects) => (Ok(()), effects),
                Err(error) => (Err(error), Effects::default()),
            },
        )
        .await??;
    Ok(())
}

pub(crate) async fn undeploy(
    shared: &Arc<Shared>,
    id: super::DeploymentId,
) -> Result<(), DeployError> {
    let (_, record) = shared
        .deployments
        .remove(&id)
        .ok_or(DeployError::Unknown(id))?;
    let Record {
        name,
        recipient,
        session,
        watcher,
        mailbox,
    } = record;
    // Stop the actor first (after what is already in its mailbox), so it never heartbeats
    // a session that is about to close; then resign and close in one step.
    let (done, stopped) = oneshot::channel();
    if mailbox.send(Message::Stop(done)).await.is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(5), stopped).await;
    }
    shared.mailboxes.remove(&recipient);
    shared.watch_routes.remove(&watcher);
    let (recorder, who, process) = (shared.recorder.clone(), name.clone(), id.0);
    shared
        .commit(move |el: &mut Elections, now| {
            let mut effects = Effects::default();
            match recipient {
                Recipient::Candidate(candidate) => {
                    // A leader's resignation belongs in the leadership history.
                    let resigning = el.leading_term(candidate).map(|term| {
                        let value = serde_json::json!([who, term.0]);
                        (recorder.invoke(process, "resign", value.clone()), value)
                    });
                    if let Ok(resigned) = el.leave(candidate, now) {
                        effects.extend(resigned);
                        if let Some((token, value)) = resigning {
                            token.ok(value);
                        }
                    }
                }
                Recipient::Observer(observer) => {
                    let _ = el.unobserve(observer);
                }
            }
            el.unwatch(watcher);
            if let Ok(closed) = el.close_session(session) {
                effects.extend(closed);
            }
            ((), effects)
        })
        .await?;
    shared.note(&name, TimelineEvent::Undeployed);
    Ok(())
}
