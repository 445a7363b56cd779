//! Commits through the lease elector, with the operations given or computed by a
//! transaction function (a `txn-fn` component), as the Datomic gist's `guarded-commit!`
//! and `speculative-commit!` do, made durable and fenced.
//!
//! A transaction function runs in a store of its own against the last durable revision
//! R, outside the writer: a slow function holds up no other commit. Then one writer step
//! checks that nothing it read changed since R (else it runs again, up to
//! [`MAX_ATTEMPTS`] times), that the committer holds its lease under its term (a guarded
//! commit holds or wins it in that same step), and applies everything or nothing. What
//! the commit causes (watch events, elections) is delivered like any other commit's.

use crate::lock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::Digest;
use wasmtime::Store;
use wasmtime::component::{HasSelf, Linker};

use crate::host_impl::{TxnState, to_ops};
use ballot_check::history::LeadershipToken;
use ballot_check::models::LeadershipCall;
use ballot_core::command::{Command, Outcome, Refusal};
use ballot_core::commit::{CommitError, MAX_ATTEMPTS, ReadSet, Snapshot};
use ballot_core::election::{ElectionName, Elections, Term};
use ballot_core::namespace::{Error, Op, OpResult, State};
use ballot_store::Hooks;
use ballot_store::embedded::OnApplied;

use super::deploy::{DeployError, compile_blocking};
use super::sandbox::{self, confine};
use super::{Limits, Shared};

/// Where a commit's operations come from.
#[derive(Debug, Clone)]
pub enum TxnSource {
    /// These operations, as given.
    Ops(Vec<Op>),
    /// A transaction function's, run on the snapshot with `args`.
    Function {
        /// The component (compiled once per content, like deployments).
        wasm: Arc<Vec<u8>>,
        /// Its arguments.
        args: Vec<u8>,
        /// Longest one run may take; memory as in [`Limits`].
        limits: Limits,
    },
    /// A transaction function registered with this runtime
    /// ([`super::Runtime::register_txn_fn`]), named by the SHA-256 of its wasm: how a
    /// component, which cannot hand the host a wasm binary, names one.
    Registered {
        /// The SHA-256 of its wasm.
        sha256: [u8; 32],
        /// Its arguments.
        args: Vec<u8>,
        /// Longest one run may take; memory as in [`Limits`].
        limits: Limits,
    },
}

/// A check a commit must also pass inside the writer steps that elect and apply it:
/// whether the committing component's instance may still act (its fence), so that an
/// instance revoked while its commit was on the way (killed, deposed, undeployed) writes
/// nothing. A refusal is `not-leader`, naming the elector's current term.
pub(crate) type Gate = Arc<dyn Fn() -> bool + Send + Sync>;

/// The precondition a gate puts on one proposal of a commit for `elector`: while it is
/// shut, the refusal is not-leader with the elector's current term.
fn gated(gate: &Option<Gate>, elector: &ElectionName) -> Hooks {
    let Some(gate) = gate.clone() else {
        return Hooks::default();
    };
    let elector = elector.clone();
    Hooks::admit(move |el: &Elections, now| {
        if gate() {
            return Ok(());
        }
        Err(Error::NotLeader {
            current: el.lease_holder(&elector, now).map(|holder| holder.term),
        }
        .into())
    })
}

/// How the commit is fenced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitMode {
    /// `guarded-commit`: if the peer is not master, it wins the lease (if free) in the
    /// writer step that commits, so both are one durable batch; the commit is under that
    /// term. A refused commit wins nothing.
    Guarded,
    /// `speculative-commit`: no election; commit under this term, which the guard refuses
    /// if it is no longer held, even after the function ran.
    Speculative(Term),
    /// A dry run: the operations and what they would do, written nowhere.
    Preview,
}

/// A commit request.
#[derive(Debug, Clone)]
pub struct CommitRequest {
    /// The lease elector that fences it.
    pub elector: ElectionName,
    /// The committing peer.
    pub peer: String,
    /// Guarded, speculative or preview.
    pub mode: CommitMode,
    /// The operations or the function that computes them.
    pub txn: TxnSource,
}

/// What a commit did.
#[derive(Debug, Clone)]
pub struct CommitReport {
    /// The term it was fenced by (none for a preview).
    pub term: Option<Term>,
    /// The operations, as applied (or as a preview would apply them).
    pub ops: Vec<Op>,
    /// Their results.
    pub results: Vec<OpResult>,
    /// The revision it committed at (for a preview: the revision it read).
    pub revision: u64,
    /// How many times the function ran.
    pub attempts: usize,
}

/// The linker for transaction functions: their snapshot and log, and WASI.
pub(crate) fn txn_linker(engine: &wasmtime::Engine) -> Result<Linker<TxnState>, DeployError> {
    let mut linker = Linker::new(engine);
    let wire = |e: wasmtime::Error| DeployError::Linker(format!("{e:#}"));
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(wire)?;
    super::bindings::txn_fn::TxnFn::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
        .map_err(wire)?;
    Ok(linker)
}

/// A transaction function ready to instantiate: imports resolved and type-checked once.
type Prepared = super::bindings::txn_fn::TxnFnPre<TxnState>;

/// The SHA-256 that names a transaction function.
pub fn digest(wasm: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(wasm).into()
}

/// Whether a validated function joins the host's registry of functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// Registered: kept (and its compiled component with it) for commits that name it.
    Registered,
    /// Sent with one commit: prepared for it alone; only its compiled component may stay
    /// a while, in the bounded component cache.
    ForThisCommit,
}

/// Checks that `wasm` is a transaction function this host can run, preparing it (a
/// registered one is prepared once, so a commit pays only for the instantiation); returns
/// its SHA-256 too. Hashing and compiling run on the blocking pool (see
/// [`super::deploy::compile`]).
pub(crate) async fn validate(
    shared: &Arc<Shared>,
    wasm: &[u8],
    keep: Keep,
) -> Result<([u8; 32], Prepared), DeployError> {
    let (shared, wasm) = (shared.clone(), wasm.to_vec());
    super::deploy::off_worker(move || {
        let hash = digest(&wasm);
        validate_named(&shared, hash, &wasm, keep).map(|prepared| (hash, prepared))
    })
    .await
}

/// [`validate`] on the calling thread (not an async worker), for a caller that already
/// hashed `wasm` (as `hash`), so 2.8 MB of code is not hashed twice.
fn validate_named(
    shared: &Shared,
    hash: [u8; 32],
    wasm: &[u8],
    keep: Keep,
) -> Result<Prepared, DeployError> {
    if let Some(prepared) = shared.txn_fns.get(&hash) {
        return Ok(prepared.clone());
    }
    let component = compile_blocking(shared, wasm)?;
    let prepared = shared
        .txn_linker
        .instantiate_pre(&component)
        .and_then(super::bindings::txn_fn::TxnFnPre::new)
        .map_err(|e| DeployError::WrongWorld {
            world: "txn-fn",
            reason: format!("{e:#}"),
        })?;
    if keep == Keep::Registered {
        shared.txn_fns.insert(hash, prepared.clone());
    }
    Ok(prepared)
}

/// Runs the function once on `state`: its operations and what it read.
async fn run(
    shared: &Shared,
    pre: &Prepared,
    state: State,
    args: &[u8],
    limits: &Limits,
) -> Result<(Vec<Op>, ReadSet), CommitError> {
    let aborted = |why: String| CommitError::TxnAborted(why);
    let mut store = Store::new(
        &shared.engine,
        TxnState::new("txn-fn", Snapshot::new(state), args, limits),
    );
    confine(&mut store);
    let deadline = limits.callback_deadline;
    sandbox::arm(&mut store, deadline);
    let outcome = async {
        let bindings = sandbox::within(deadline, pre.instantiate_async(&mut store)).await?;
        sandbox::within(deadline, bindings.call_apply(&mut store, args)).await
    }
    .await;
    sandbox::disarm(&mut store);
    match outcome {
        Ok(Ok(ops)) => {
            let ops = to_ops(ops).map_err(aborted)?;
            Ok((ops, store.into_data().into_reads()))
        }
        Ok(Err(refusal)) => Err(aborted(refusal)),
        Err(trap) => {
            let mut why = sandbox::describe(&trap);
            if let Some(words) = store.data().last_words() {
                why = format!("{why}: {words}");
            }
            Err(aborted(why))
        }
    }
}

/// Every commit call is its own process in recorded histories (one op in flight each).
static NEXT_PROCESS: AtomicU64 = AtomicU64::new(1 << 40);

/// A fresh process number for a recorded lease-elector act (a commit, or a win), so
/// acts of one peer that overlap never share a process.
pub(crate) fn next_process() -> u64 {
    NEXT_PROCESS.fetch_add(1, Ordering::Relaxed)
}

/// The prepared function of `txn`, if it has one.
async fn prepare(shared: &Arc<Shared>, txn: &TxnSource) -> Result<Option<Prepared>, CommitError> {
    match txn {
        TxnSource::Ops(_) => Ok(None),
        TxnSource::Function { wasm, .. } => validate(shared, wasm, Keep::ForThisCommit)
            .await
            .map(|(_, prepared)| Some(prepared))
            .map_err(|e| CommitError::TxnAborted(format!("the function was refused: {e}"))),
        TxnSource::Registered { sha256, .. } => shared
            .txn_fns
            .get(sha256)
            .map(|prepared| Some(prepared.clone()))
            .ok_or_else(|| {
                CommitError::Refused(Error::Invalid {
                    subject: format!("transaction function {}", hex(sha256)),
                    reason: "no such function is registered with this host",
                })
            }),
    }
}

/// 64 lowercase hex digits: how a transaction function is named outside the host.
pub fn hex(sha256: &[u8; 32]) -> String {
    sha256.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A SHA-256 from 64 hex digits (either case); `None` for anything else.
pub fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut sha256 = [0; 32];
    for (byte, pair) in sha256.iter_mut().zip(hex.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(sha256)
}

/// `txn`'s operations on `state`, and what computing them read. Operations that would
/// write what the election machinery keeps are refused where they apply, whoever
/// computed them.
async fn compute(
    shared: &Shared,
    txn: &TxnSource,
    prepared: Option<&Prepared>,
    state: State,
) -> Result<(Vec<Op>, ReadSet), CommitError> {
    let (ops, reads) = match (txn, prepared) {
        (TxnSource::Ops(ops), _) => (ops.clone(), ReadSet::default()),
        (
            TxnSource::Function { args, limits, .. } | TxnSource::Registered { args, limits, .. },
            Some(prepared),
        ) => run(shared, prepared, state, args, limits).await?,
        (TxnSource::Function { .. } | TxnSource::Registered { .. }, None) => {
            unreachable!("prepared by the caller")
        }
    };
    Ok((ops, reads))
}

/// A dry run of `txn` on the last durable revision: its operations and what they would
/// do, written nowhere.
pub(crate) async fn preview(
    shared: &Arc<Shared>,
    txn: TxnSource,
) -> Result<CommitReport, CommitError> {
    let prepared = prepare(shared, &txn).await?;
    let state = shared.store.published();
    let revision = state.revision().0;
    let (ops, _reads) = compute(shared, &txn, prepared.as_ref(), state.clone()).await?;
    let preview =
        ballot_core::commit::preview(state, Default::default(), &mut |_| Ok(ops.clone()))?;
    Ok(CommitReport {
        term: None,
        results: preview.committed.results,
        ops: preview.ops,
        revision,
        attempts: 1,
    })
}

/// Admits a commit's operations once they are known, before they go to the writer: a
/// component's bytes quota pays for them here, a function's after each run.
pub(crate) type Admit<'a> = &'a mut (dyn FnMut(&[Op]) -> Result<(), CommitError> + Send);

/// Carries out `request`; with a `gate`, only if it still lets the commit through in the
/// writer step that applies it; with `admit`, only the operations it admits.
pub(crate) async fn commit(
    shared: &Arc<Shared>,
    request: CommitRequest,
    gate: Option<Gate>,
    mut admit: Option<Admit<'_>>,
) -> Result<CommitReport, CommitError> {
    let CommitRequest {
        elector,
        peer,
        mode,
        txn,
    } = request;
    if mode == CommitMode::Preview {
        return preview(shared, txn).await;
    }
    let prepared = prepare(shared, &txn).await?;
    let process = next_process();
    // A guarded commit holds (or wins) the lease in the step that commits, one durable
    // batch for both; a speculative one claims its term.
    let claim = match mode {
        CommitMode::Speculative(term) => Some(term),
        CommitMode::Guarded => None,
        CommitMode::Preview => unreachable!("a preview returned above"),
    };
    let scope = elector_scope(&elector);
    let mut last_conflict = None;
    for attempt in 1..=MAX_ATTEMPTS {
        let state = shared.store.published();
        let (ops, reads) = compute(shared, &txn, prepared.as_ref(), state).await?;
        if let Some(admit) = admit.as_deref_mut() {
            admit(&ops)?;
        }
        let mut hooks = gated(&gate, &elector);
        // A claimed term's record opens now; otherwise in the step that learns the term.
        let opened: Arc<Mutex<Option<LeadershipToken>>> = Arc::default();
        let claimed = match claim {
            Some(term) => Some(shared.recorder.leadership(
                process,
                LeadershipCall::Commit,
                &scope,
                &peer,
                term.0,
            )),
            None => {
                hooks.applied = Some(record_in_step(shared, process, &scope, &peer, &opened));
                None
            }
        };
        let command = Command::Commit {
            elector: elector.clone(),
            peer: peer.clone(),
            term: claim,
            reads,
            ops: ops.clone(),
        };
        let applied = shared
            .propose(command, hooks)
            .await
            .map_err(|e| CommitError::TxnAborted(format!("the store failed: {e}")));
        let token = claimed.or_else(|| lock(&opened).take());
        let complete = |how: fn(LeadershipToken)| token.map(how);
        match applied {
            Ok(Ok(Outcome::LeaseCommitted {
                committed, term, ..
            })) => {
                complete(LeadershipToken::ok);
                return Ok(CommitReport {
                    term: Some(term),
                    ops,
                    results: committed.results,
                    revision: committed.revision.0,
                    attempts: attempt,
                });
            }
            Ok(Ok(other)) => {
                complete(LeadershipToken::info);
                return Err(CommitError::TxnAborted(format!(
                    "a commit applied as {other:?}"
                )));
            }
            Ok(Err(Refusal::Stale(path))) => {
                complete(LeadershipToken::fail);
                last_conflict = Some(path);
            }
            Ok(Err(refused)) => {
                complete(LeadershipToken::fail);
                return Err(refused.into());
            }
            Err(error) => {
                complete(LeadershipToken::info);
                return Err(error);
            }
        }
    }
    Err(CommitError::Conflict {
        path: last_conflict.expect("a conflict ended every attempt"),
        attempts: MAX_ATTEMPTS,
    })
}

/// What a lease elector's terms are recorded under in the leadership history: its own
/// election, apart from a ballot election of the same name.
pub(crate) fn elector_scope(elector: &ElectionName) -> String {
    format!("elector:{elector}")
}

/// The hook of a guarded commit, whose term is known only in the writer step that holds
/// the lease: there it records a lease won in that step as `elected`, and opens the
/// commit's record in `opened` (completed by the caller once the outcome is known). A
/// refused step records nothing: it changed nothing.
fn record_in_step(
    shared: &Shared,
    process: u64,
    scope: &str,
    peer: &str,
    opened: &Arc<Mutex<Option<LeadershipToken>>>,
) -> OnApplied {
    let recorder = shared.recorder.clone();
    let (scope, peer, opened) = (scope.to_string(), peer.to_string(), opened.clone());
    Box::new(move |applied| {
        if let Ok(Outcome::LeaseCommitted { term, elected, .. }) = applied {
            if *elected {
                recorder.leadership_now(process, LeadershipCall::Elected, &scope, &peer, term.0);
            }
            let token = recorder.leadership(process, LeadershipCall::Commit, &scope, &peer, term.0);
            *lock(&opened) = Some(token);
        }
    })
}

/// How long a transaction function may run by default.
pub const DEFAULT_TXN_DEADLINE: Duration = Duration::from_secs(1);
