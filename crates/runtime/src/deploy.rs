//! Deploying components: compile (cached), check grants, and start instances. The first
//! instance is started here so a bad component is refused to the caller; restarts use
//! the same [`start`].

use crate::lock;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::mpsc;
use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, Linker};

use crate::cache::Digest;
use crate::host_impl::{HostState, Identity};
use ballot_core::command::{Command, Entrant, Outcome, Refusal};
use ballot_core::election::{ElectionError, ElectionName, Priority, Recipient};
use ballot_core::namespace::{Data, SessionId, WatcherId};
use ballot_store::embedded::OnApplied;
use ballot_store::{Hooks, StoreError};

use super::actor::{Exit, Guest, Incarnation};
use super::bindings::{candidate::CandidatePre, observer::ObserverPre, txn_fn::TxnFnPre};
use super::code::Code;
use super::compiled::Loaded;
use super::sandbox::{self, Fence, Revocation};
use super::{Limits, Link, MAILBOX, Shared, Supervision, grants, supervisor};

/// A deployment's identity within one runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeploymentId(pub u64);

impl std::fmt::Display for DeploymentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

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
        /// A priority, which makes (or requires) a priority election (see
        /// [`ballot_core::election::Policy`]); `None` stands in the queue as the seed does.
        priority: Option<Priority>,
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
    /// The component's bytes (a WebAssembly component, not a core module); clone one
    /// [`Code`] to deploy the same component again without copying or hashing it.
    pub wasm: Code,
    /// Candidate or observer.
    pub role: Role,
    /// Session TTL: how long the actor may be unresponsive before it loses its session.
    pub ttl: Duration,
    /// How often to call the candidate's `tick`, if at all.
    pub tick: Option<Duration>,
    /// Deadline, memory and quotas of each instance.
    pub limits: Limits,
    /// Restart backoff and crash limit.
    pub supervision: Supervision,
    /// The id its user knows it by, which `whoami` tells the component (`ballot serve`
    /// gives its API id); `None` for the runtime's own [`DeploymentId`].
    pub public_id: Option<u64>,
}

/// Why a deployment was refused or failed. A refused deploy leaves nothing behind.
#[derive(Debug, Error)]
pub enum DeployError {
    /// The bytes are not a valid WebAssembly component.
    #[error("not a valid component: {0}")]
    Malformed(String),
    /// The component imports what it is not granted (sockets, HTTP) or what the host
    /// does not know. Lists every such import.
    #[error("the component imports what it is not granted: {}", .0.join("; "))]
    Refused(Vec<String>),
    /// The component does not fit its world: a missing export, or an import the host
    /// does not provide.
    #[error("the component does not fit the {world} world: {reason}")]
    WrongWorld {
        /// `candidate` or `observer`.
        world: &'static str,
        /// What does not fit.
        reason: String,
    },
    /// Instantiation failed (its start trapped or passed its deadline, or no instance
    /// slot was free).
    #[error("instantiation failed: {0}")]
    Instantiate(String),

    /// The component's linear memory starts larger than the deployment's memory limit,
    /// so no instance of it could start (an interpreter's pre-initialized heap, say).
    #[error(
        "the component starts with {needs_mib} MiB of linear memory, over its memory limit of \
         {limit_mib} MiB; deploy it with a larger limit (`--memory-mib`, at most {max_mib})"
    )]
    TooLittleMemory {
        /// What its largest memory starts at, rounded up to MiB.
        needs_mib: u64,
        /// The deployment's limit, in MiB.
        limit_mib: u64,
        /// The most any deployment may be given, in MiB.
        max_mib: u64,
    },
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The elections refused.
    #[error(transparent)]
    Election(#[from] ElectionError),
    /// No such deployment.
    #[error("no deployment {0} (the runtime's number)")]
    Unknown(DeploymentId),
    /// The deployment has no running instance (it is restarting, or it failed).
    #[error("deployment {0} (the runtime's number) has no running instance")]
    NotRunning(DeploymentId),
    /// The host could not set up its linker.
    #[error("linker setup failed: {0}")]
    Linker(String),
    /// Compiling or hashing the component panicked on its blocking thread (a bug in the
    /// host or in wasmtime, not in the request); the host goes on.
    #[error("preparing the component failed inside the host: {0}")]
    Panicked(String),
    /// The store already delivers its effects to another runtime: one store serves one
    /// runtime, whose actors its effects reach.
    #[error("this store already delivers its effects to another runtime")]
    StoreInUse,
}

/// A deployment as its supervisor keeps it: what to start again after a crash.
pub(crate) struct Deployment {
    pub(crate) id: DeploymentId,
    pub(crate) spec: DeploySpec,
    /// The code restarts start from: the deployed one, or the last swapped in, already
    /// checked against its world and linked, so a restart only instantiates; with the
    /// digest of its bytes, which keeps its compiled component in the cache.
    code: std::sync::Mutex<(Prepared, Digest)>,
    /// Whether its running instance has a ballot ([`super::Runtime::standing`]).
    pub(crate) standing: Arc<std::sync::Mutex<super::Standing>>,
}

/// A component checked against its role's world and pre-linked (wasmtime's
/// `InstancePre`): built once per deploy or swap, instantiated at every start and restart.
#[derive(Clone)]
pub(crate) enum Prepared {
    /// The candidate world's.
    Candidate(CandidatePre<HostState>),
    /// The observer world's.
    Observer(ObserverPre<HostState>),
}

/// Checks `component` (compiled from bytes with `digest`) against `role`'s world and
/// links it: once per component and world, then from the runtime's cache, so a cached
/// deploy does not link again (tens of microseconds on a deploy's path).
pub(crate) fn prepare(
    shared: &Shared,
    role: &Role,
    digest: Digest,
    component: &Component,
) -> Result<Prepared, DeployError> {
    let key = (digest, matches!(role, Role::Candidate { .. }));
    if let Some(prepared) = shared.prepared.get(&key) {
        return Ok(prepared.clone());
    }
    let prepared = link(shared, role, component)?;
    shared.prepared.insert(key, prepared.clone());
    Ok(prepared)
}

/// [`prepare`] without the cache. A component that fits another world than its role's
/// is refused with what to do instead, not with the linker's account of the mismatch.
fn link(shared: &Shared, role: &Role, component: &Component) -> Result<Prepared, DeployError> {
    let linked = match role {
        Role::Candidate { .. } => prepare_candidate(shared, component).map(Prepared::Candidate),
        Role::Observer { .. } => shared
            .observer_linker
            .instantiate_pre(component)
            .and_then(ObserverPre::new)
            .map(Prepared::Observer)
            .map_err(wrong_world("observer")),
    };
    linked.map_err(
        |error| match (error, other_world(shared, role, component)) {
            (DeployError::WrongWorld { world, .. }, Some(instead)) => DeployError::WrongWorld {
                world,
                reason: instead.to_string(),
            },
            (error, _) => error,
        },
    )
}

/// What to do with a component refused for `role` that fits another world: its imports
/// and its exports both (a component that exports nothing imports nothing a world
/// lacks, and fits none of them).
fn other_world(shared: &Shared, role: &Role, component: &Component) -> Option<&'static str> {
    let fits_candidate = || fits(&shared.candidate_linker, component, CandidatePre::new);
    let fits_observer = || fits(&shared.observer_linker, component, ObserverPre::new);
    let fits_txn_fn = || fits(&shared.txn_linker, component, TxnFnPre::new);
    match role {
        Role::Candidate { .. } if fits_observer() => {
            Some("it is an observer (it fits the observer world): deploy it with role observer")
        }
        Role::Observer { .. } if fits_candidate() => {
            Some("it is a candidate (it fits the candidate world): deploy it with role candidate")
        }
        _ if fits_txn_fn() => Some(
            "it is a transaction function (it fits the txn-fn world): upload it to \
             POST /v1/txn-fns and name it in commits (`ballot commit --txn-fn FILE`); it \
             is not deployed",
        ),
        _ => None,
    }
}

/// Whether `component` fits the world of `linker` (its imports) and of `exports` (the
/// world's bindings, which check its exports).
fn fits<T, Pre>(
    linker: &Linker<T>,
    component: &Component,
    exports: impl FnOnce(wasmtime::component::InstancePre<T>) -> wasmtime::Result<Pre>,
) -> bool {
    linker.instantiate_pre(component).and_then(exports).is_ok()
}

/// Why `wasm` cannot be a component at all, in words a person can act on: the parser's
/// own account of a file that is not WebAssembly is a dump of the bytes it expected.
fn not_a_component(wasm: &[u8]) -> Option<String> {
    const MAGIC: &[u8] = b"\0asm";
    const CORE_VERSION: &[u8] = &[1, 0, 0, 0];
    if wasm.len() < 8 || &wasm[..4] != MAGIC {
        return Some(
            "this is not a WebAssembly file (it does not start with the bytes \\0asm): \
             deploy the .wasm that `cargo build --target wasm32-wasip2` writes"
                .into(),
        );
    }
    if &wasm[4..8] == CORE_VERSION {
        return Some(
            "this is a core WebAssembly module, not a component: build it with \
             `cargo build --target wasm32-wasip2` (wasm32-wasip1 and wasm32-unknown-unknown \
             build core modules)"
                .into(),
        );
    }
    None
}

/// [`prepare`] for the candidate world.
fn prepare_candidate(
    shared: &Shared,
    component: &Component,
) -> Result<CandidatePre<HostState>, DeployError> {
    shared
        .candidate_linker
        .instantiate_pre(component)
        .and_then(CandidatePre::new)
        .map_err(wrong_world("candidate"))
}

impl Deployment {
    /// The code a fresh instance runs, with the digest of its bytes (read together, so a
    /// swap in between cannot pair one's code with the other's digest).
    pub(crate) fn current(&self) -> (Prepared, Digest) {
        lock(&self.code).clone()
    }

    /// The digest of the bytes of the code a fresh instance runs.
    pub(crate) fn digest(&self) -> Digest {
        lock(&self.code).1
    }

    /// Makes `code` (compiled from bytes with `digest`) the code of every later instance
    /// (a hot-swap took effect).
    pub(crate) fn install(&self, code: Prepared, digest: Digest) {
        *lock(&self.code) = (code, digest);
    }
}

/// The linker for candidate components: WASI (nothing granted) plus our interfaces.
pub(crate) fn candidate_linker(
    engine: &wasmtime::Engine,
) -> Result<Linker<HostState>, DeployError> {
    linker_with(engine, |linker| {
        super::bindings::candidate::Candidate::add_to_linker::<_, HasSelf<_>>(linker, |s| s)
    })
}

/// The linker for observer components.
pub(crate) fn observer_linker(engine: &wasmtime::Engine) -> Result<Linker<HostState>, DeployError> {
    linker_with(engine, |linker| {
        super::bindings::observer::Observer::add_to_linker::<_, HasSelf<_>>(linker, |s| s)
    })
}

/// WASI with nothing granted, plus one world's interfaces (`add_world`): what every
/// role's linker shares.
fn linker_with(
    engine: &wasmtime::Engine,
    add_world: impl FnOnce(&mut Linker<HostState>) -> wasmtime::Result<()>,
) -> Result<Linker<HostState>, DeployError> {
    let mut linker = Linker::new(engine);
    let wire = |e: wasmtime::Error| DeployError::Linker(format!("{e:#}"));
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(wire)?;
    add_world(&mut linker).map_err(wire)?;
    Ok(linker)
}

/// Refuses a component whose memory starts above `limits`: its instances could never
/// start, and a deploy that says so beats a crash loop of instantiation failures. Memory
/// is sized per deployment (`Limits::memory_bytes`): a Python or JavaScript instance,
/// which starts at 10-13 MiB, fits the default, and one that needs more is given more
/// without raising every Rust one.
pub(crate) fn fits_memory(component: &Component, limits: &Limits) -> Result<(), DeployError> {
    let pages = component
        .resources_required()
        .and_then(|r| r.max_initial_memory_size)
        .unwrap_or(0);
    let needs = pages.saturating_mul(64 << 10);
    let limit = limits.effective_memory_bytes() as u64;
    if needs <= limit {
        return Ok(());
    }
    let mib = |bytes: u64| bytes.div_ceil(1 << 20);
    Err(DeployError::TooLittleMemory {
        needs_mib: mib(needs),
        limit_mib: mib(limit),
        max_mib: mib(super::engine::MAX_MEMORY_BYTES as u64),
    })
}

/// Compiles `wasm` on a blocking thread, or takes it from the cache by content hash.
///
/// Hashing and compiling a large component (bodies may be 64 MiB) take seconds of CPU; on
/// a tokio worker of a 2-core host that would stall other components' heartbeats and cost
/// them their sessions, so neither runs on an async worker.
pub(crate) async fn compile(shared: &Arc<Shared>, wasm: &Code) -> Result<Component, DeployError> {
    if let Some(digest) = wasm.known_digest()
        && let Some(component) = shared.components.get(&digest)
    {
        return Ok(component.clone());
    }
    let (shared, wasm) = (shared.clone(), wasm.clone());
    off_worker(move || compile_code(&shared, &wasm)).await
}

/// Compiles `wasm`, or takes it from the cache by its digest, on the calling thread
/// (which must not be an async worker).
fn compile_code(shared: &Shared, wasm: &Code) -> Result<Component, DeployError> {
    compile_cached(shared, wasm.digest(), wasm.bytes())
}

/// Runs `work` (compiling, hashing) on tokio's blocking pool; a panic there is this
/// request's failure, not the host's.
pub(crate) async fn off_worker<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, DeployError> + Send + 'static,
) -> Result<T, DeployError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|failed| Err(DeployError::Panicked(failed.to_string())))
}

/// [`compile`] on the calling thread, which must not be an async worker.
pub(crate) fn compile_blocking(shared: &Shared, wasm: &[u8]) -> Result<Component, DeployError> {
    compile_cached(shared, super::txn::digest(wasm), wasm)
}

/// The compiled component of `wasm` (whose digest is `hash`) from the cache, or compiled,
/// its imports checked, and cached.
fn compile_cached(shared: &Shared, hash: [u8; 32], wasm: &[u8]) -> Result<Component, DeployError> {
    if let Some(component) = shared.components.get(&hash) {
        return Ok(component.clone());
    }
    if let Some(why) = not_a_component(wasm) {
        return Err(DeployError::Malformed(why));
    }
    let cache = &shared.components;
    let disk = cache.disk();
    let loaded = disk.and_then(|disk| match disk.load(&shared.engine, &hash) {
        Loaded::Hit(component) => Some(component),
        Loaded::Miss => None,
        Loaded::Discarded(why) => {
            tracing::warn!(%why, "a compiled component on disk was discarded; compiling again");
            cache.note_discarded();
            None
        }
    });
    let fresh = loaded.is_none();
    let component = match loaded {
        Some(component) => component,
        None => Component::new(&shared.engine, wasm)
            .map_err(|e| DeployError::Malformed(format!("{e:#}")))?,
    };
    cache.note_obtained(fresh);
    // Checked for every load too: the grants may be narrower than when it was compiled.
    let refused = grants::refused_imports(&shared.engine, &component);
    if !refused.is_empty() {
        return Err(DeployError::Refused(refused));
    }
    if fresh
        && let Some(disk) = disk
        && let Err(e) = disk.save(&shared.engine, &hash, &component)
    {
        // A cache: a host that cannot keep one compiles again after a restart.
        tracing::warn!(error = %e, "could not keep a compiled component on disk");
    }
    shared.components.insert(hash, component.clone());
    shared.evict_idle_components();
    Ok(component)
}

pub(crate) async fn bare_candidate(
    shared: &Arc<Shared>,
    wasm: &[u8],
    confined: bool,
) -> Result<(Store<HostState>, super::bindings::candidate::Candidate), DeployError> {
    let component = compile(shared, &Code::from(wasm)).await?;
    let identity = Identity {
        name: "bare".into(),
        process: 0,
        session: SessionId(0),
        candidate: None,
        election: ElectionName::parse("bare").map_err(ElectionError::from)?,
        watcher: WatcherId(0),
        about: Arc::default(),
        standing: Arc::default(),
    };
    let state = HostState::new(shared.clone(), identity, Fence::new(), &Limits::default());
    let mut store = Store::new(&shared.engine, state);
    if confined {
        sandbox::confine(&mut store);
    } else {
        // Far enough never to be reached (epoch + delta must not overflow).
        store.set_epoch_deadline(1 << 62);
    }
    let instance = prepare_candidate(shared, &component)?
        .instantiate_async(&mut store)
        .await
        .map_err(instantiation_failed)?;
    Ok((store, instance))
}

fn wrong_world(world: &'static str) -> impl Fn(wasmtime::Error) -> DeployError {
    move |e| DeployError::WrongWorld {
        world,
        reason: format!("{e:#}"),
    }
}

fn instantiation_failed(e: wasmtime::Error) -> DeployError {
    DeployError::Instantiate(sandbox::describe(&e))
}

/// Deploys: compiles and checks the component, starts its first instance (so a bad
/// component is refused here, leaving nothing behind), and hands it to a supervisor.
pub(crate) async fn deploy(
    shared: &Arc<Shared>,
    spec: DeploySpec,
) -> Result<DeploymentId, DeployError> {
    let component = compile(shared, &spec.wasm).await?;
    fits_memory(&component, &spec.limits)?;
    let digest = spec.wasm.digest();
    let code = prepare(shared, &spec.role, digest, &component)?;
    let id = DeploymentId(shared.last_deployment.fetch_add(1, Ordering::Relaxed) + 1);
    let deployment = Arc::new(Deployment {
        id,
        spec,
        code: std::sync::Mutex::new((code, digest)),
        standing: Arc::default(),
    });
    let first = begin(shared, &deployment);
    supervisor::spawn(shared, id, deployment, first).await?;
    Ok(id)
}

/// Starts one instance of `deployment`: a fresh store confined by its limits,
/// instantiated under its deadline; then, in one writer step (one durable batch), its
/// session opens, it joins (or observes) its election, its routes are set, so whatever
/// that or a later step causes for it finds its mailbox, and a candidate votes.
pub(crate) async fn start(
    shared: &Arc<Shared>,
    deployment: &Deployment,
) -> Result<Incarnation, DeployError> {
    begin(shared, deployment).finish(shared).await
}

/// An instance on its way up (see [`start`]): its host state is built and, for a component
/// that has started here before, its entry is already in the writer's queue. Split from
/// [`Starting::finish`] so a deploy can hand the rest to the deployment's own task: the
/// entry's sync then wakes the task that runs the first callback, not the deploying
/// caller, which would have to wake that task in turn.
pub(crate) struct Starting {
    state: HostState,
    code: Prepared,
    deadline: Duration,
    fence: Arc<Fence>,
    mailbox: mpsc::Receiver<super::actor::Message>,
    entry: Entry,
    /// Recorded as started here once it has instantiated.
    started_here_before: (Digest, bool),
}

/// The instance's entry into its election: proposed while it instantiates, or held until
/// it has.
enum Entry {
    Proposed(std::pin::Pin<Box<dyn Future<Output = Entered> + Send>>),
    Held(Command, Hooks),
}

type Entered = Result<ballot_core::command::Applied, StoreError>;

/// Builds the instance's host state and, for a component that has started here before,
/// proposes its entry at once (see [`start`]); its wasmtime store is built in
/// [`Starting::finish`], while that entry syncs.
pub(crate) fn begin(shared: &Arc<Shared>, deployment: &Deployment) -> Starting {
    let spec = &deployment.spec;
    let (election, ballot_data, observer) = match &spec.role {
        Role::Candidate { election, data, .. } => (election.clone(), data.clone(), false),
        Role::Observer { election } => (election.clone(), Vec::new(), true),
    };
    let identity = Identity {
        name: spec.name.clone(),
        process: deployment.id.0,
        session: SessionId(0),
        candidate: None,
        election,
        watcher: WatcherId(0),
        about: Arc::new(super::host_impl::About {
            public_id: spec.public_id.unwrap_or(deployment.id.0),
            observer,
            ballot_data,
        }),
        standing: deployment.standing.clone(),
    };
    // A fresh instance casts a fresh ballot (below).
    identity.set_standing(super::Standing::In);
    let fence = Fence::new();
    // Its store is built in `finish`, while an entry proposed here syncs.
    let state = HostState::new(shared.clone(), identity, fence.clone(), &spec.limits);
    let deadline = spec.limits.callback_deadline;
    let (code, digest) = deployment.current();

    let (tx, rx) = mpsc::channel(MAILBOX);
    let role = match spec.role.clone() {
        Role::Candidate {
            election,
            data,
            follow_leader,
            priority,
        } => Entrant::Candidate {
            election,
            data: Data::from(data),
            follow_leader,
            name: Some(spec.name.clone()),
            priority,
        },
        Role::Observer { election } => Entrant::Observer { election },
    };
    let routes = shared.clone();
    let (name, process) = (spec.name.clone(), deployment.id.0);
    let public_id = spec.public_id.unwrap_or(process);
    let link_election = match &spec.role {
        Role::Candidate { election, .. } | Role::Observer { election } => election.to_string(),
    };
    let link_fence = fence.clone();
    // Its routes are in place in the step that enters it, before anything that step
    // causes (its own win) is delivered.
    let route: OnApplied = Box::new(move |applied| {
        if let Ok(Outcome::Entered {
            session,
            watcher,
            recipient,
            ..
        }) = applied
        {
            routes.links.insert(
                *recipient,
                Link {
                    mailbox: tx,
                    fence: link_fence.clone(),
                    name,
                    process,
                    public_id,
                    election: link_election,
                },
            );
            routes.session_fences.insert(*session, link_fence);
            routes.watch_routes.insert(*watcher, *recipient);
        }
    });
    let hooks = Hooks {
        admit: None,
        applied: Some(route),
        durable: None,
    };
    let command = Command::Enter {
        ttl: spec.ttl,
        role,
    };
    let started_here_before = (digest, !observer);
    let entry = if shared.instantiated.contains(&started_here_before) {
        // This component has started here before, so its start is all but sure: it enters
        // while it instantiates, and the batch's sync hides the instantiation. Should it
        // fail after all, the entry is taken back before the error is returned.
        Entry::Proposed(Box::pin(shared.propose(command, hooks)))
    } else {
        // A first start: instantiated before it enters, so a component that cannot start
        // never stands.
        Entry::Held(command, hooks)
    };
    Starting {
        state,
        code,
        deadline,
        fence,
        mailbox: rx,
        entry,
        started_here_before,
    }
}

impl Starting {
    /// Instantiates the instance and waits for its entry to be durable: the instance,
    /// ready for its actor, whose mailbox already holds what the entry caused for it.
    pub(crate) async fn finish(self, shared: &Arc<Shared>) -> Result<Incarnation, DeployError> {
        let Starting {
            state,
            code,
            deadline,
            fence,
            mailbox: rx,
            entry,
            started_here_before,
        } = self;
        let mut store = Store::new(&shared.engine, state);
        sandbox::confine(&mut store);
        let (guest, entered) = match entry {
            Entry::Proposed(entering) => {
                let guest = instantiate(&code, &mut store, deadline).await;
                let entered = entering.await;
                match guest {
                    Ok(guest) => (guest, entered),
                    Err(error) => {
                        withdraw_entry(shared, entered, &fence).await;
                        return Err(error);
                    }
                }
            }
            Entry::Held(command, hooks) => {
                let guest = instantiate(&code, &mut store, deadline).await?;
                shared.instantiated.insert(started_here_before);
                (guest, shared.propose(command, hooks).await)
            }
        };
        let (session, recipient, watcher, refused_vote) = match entered? {
            Ok(Outcome::Entered {
                session,
                watcher,
                recipient,
                vote_refused,
            }) => (session, recipient, watcher, vote_refused),
            Ok(other) => {
                return Err(DeployError::Instantiate(format!(
                    "entering the election returned {other:?}"
                )));
            }
            Err(Refusal::Election(error)) => return Err(error.into()),
            Err(Refusal::Namespace(error)) => return Err(ElectionError::from(error).into()),
            Err(expired @ Refusal::HostExpired(_)) => {
                return Err(DeployError::Store(StoreError::Unavailable(
                    expired.to_string(),
                )));
            }
            Err(other) => return Err(DeployError::Instantiate(other.to_string())),
        };
        let candidate = match recipient {
            Recipient::Candidate(id) => Some(id),
            Recipient::Observer(_) => None,
        };
        {
            let identity = &mut store.data_mut().identity;
            identity.session = session;
            identity.candidate = candidate;
            identity.watcher = watcher;
        }
        let (swap_sender, swaps) = mpsc::channel(1);
        let incarnation = Incarnation {
            store,
            guest,
            mailbox: rx,
            fence,
            recipient,
            session,
            watcher,
            candidate,
            swaps,
            swap_sender,
            refusals: 0,
        };
        if let Some(error) = refused_vote {
            let exit = Exit::Revoked(Revocation::Undeployed);
            let name = incarnation.store.data().identity.name.clone();
            supervisor::retire(shared, &name, incarnation, &exit).await;
            return Err(error.into());
        }
        Ok(incarnation)
    }
}

/// Takes back an entry made for an instance that then failed to instantiate: its routes go
/// and its session is retired (resigning a term it may have won meanwhile; no callback
/// of that term ran, so no effect was made under it).
async fn withdraw_entry(
    shared: &Arc<Shared>,
    entered: Result<ballot_core::command::Applied, StoreError>,
    fence: &Fence,
) {
    fence.revoke(Revocation::Undeployed);
    let Ok(Ok(Outcome::Entered {
        session,
        watcher,
        recipient,
        ..
    })) = entered
    else {
        return;
    };
    shared.links.remove(&recipient);
    shared.session_fences.remove(&session);
    shared.watch_routes.remove(&watcher);
    let retire = Command::Retire {
        recipient,
        watcher,
        session,
    };
    let _ = shared.propose(retire, Hooks::default()).await;
}

/// Instantiates `component` for `role` in `store` under `deadline`, by the epoch (the
/// store is armed with it here) and by a timeout: a component whose start loops or
/// blocks is refused.
pub(crate) async fn instantiate(
    code: &Prepared,
    store: &mut Store<HostState>,
    deadline: Duration,
) -> Result<Guest, DeployError> {
    sandbox::arm(store, deadline);
    let instantiated = async {
        Ok(match code {
            Prepared::Candidate(pre) => Guest::Candidate(
                pre.instantiate_async(&mut *store)
                    .await
                    .map_err(instantiation_failed)?,
            ),
            Prepared::Observer(pre) => Guest::Observer(
                pre.instantiate_async(&mut *store)
                    .await
                    .map_err(instantiation_failed)?,
            ),
        })
    };
    let result = tokio::time::timeout(deadline + deadline / 4, instantiated)
        .await
        .unwrap_or_else(|_| {
            Err(DeployError::Instantiate(format!(
                "instantiation passed its deadline of {deadline:?}"
            )))
        });
    sandbox::disarm(store);
    result
}
