//! The host side of each WIT interface: one file per interface, each only checking its
//! arguments, converting them, and handing the work to the store and the elections.
//!
//! An actor's store data is a [`HostState`]; every import call names the actor through it
//! (its session, its candidate, its election) so a component can only ever act as itself.

mod admission;
mod commit;
mod convert;
mod deployment;
mod election;
mod elector;
mod log;
mod namespace;
mod txn_fn;

use crate::lock;
use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::wit;
use crate::sandbox::Confinement;
use crate::{Limits, Shared};
use ballot_core::election::{CandidateId, ElectionName};
use ballot_core::namespace::{SessionId, WatcherId};

pub(crate) use admission::Quota;

pub(crate) use convert::{to_wit_event, to_wit_leader};
pub use txn_fn::TxnState;
pub(crate) use txn_fn::to_ops;

/// Who an actor is, as its import calls act.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The deployment's name, for logs and recorded histories.
    pub name: String,
    /// The deployment's number: its process in recorded histories.
    pub process: u64,
    /// The actor's session: owns its ephemerals and, for a candidate, its ballots.
    pub session: SessionId,
    /// The candidate, for a candidate deployment.
    pub candidate: Option<CandidateId>,
    /// The election it takes part in or observes.
    pub election: ElectionName,
    /// Its watcher id: the events of its watches come back to it.
    pub watcher: WatcherId,
    /// What `whoami` tells it of its deployment.
    pub about: Arc<About>,
    /// Whether it has a ballot in its election, shared with the deployment's handle.
    pub(crate) standing: Arc<std::sync::Mutex<crate::Standing>>,
}

impl Identity {
    /// Records whether the instance has a ballot (see [`crate::Runtime::standing`]).
    pub(crate) fn set_standing(&self, standing: crate::Standing) {
        *lock(&self.standing) = standing;
    }

    /// Whether the instance has a ballot.
    pub(crate) fn standing(&self) -> crate::Standing {
        lock(&self.standing).clone()
    }
}

/// What a deployment says about its component, for `ballot:election/deployment`.
#[derive(Debug, Clone, Default)]
pub struct About {
    /// The deployment's id as its user knows it (the HTTP API's, under `ballot serve`).
    pub public_id: u64,
    /// True for an observer.
    pub observer: bool,
    /// The ballot data it was deployed with.
    pub ballot_data: Vec<u8>,
}

/// The data of one actor's wasmtime `Store`.
pub struct HostState {
    pub(crate) shared: Arc<Shared>,
    pub(crate) identity: Identity,
    /// Its fence, deadline and memory limits.
    pub(crate) confinement: Confinement,
    /// Its session's quotas.
    pub(crate) quota: Quota,
    /// Whether its import calls are admitted: false for a hot-swap's new instance until
    /// the old one has stopped, so the two never act at once.
    pub(crate) active: bool,
    /// When it made its first and last import calls.
    pub(crate) imports: ImportTimes,
    /// What the guest wrote to stderr (a Rust panic's message goes there), kept so a
    /// crash can say why in the guest's own words.
    stderr: MemoryOutputPipe,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl HostState {
    /// State for an actor's instance: WASI with nothing granted (no preopened folders, no
    /// inherited environment, no arguments, no network), output discarded; confined by
    /// `limits` behind `fence`.
    pub(crate) fn new(
        shared: Arc<Shared>,
        identity: Identity,
        fence: Arc<crate::sandbox::Fence>,
        limits: &Limits,
    ) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_BYTES);
        HostState {
            shared,
            identity,
            confinement: Confinement::new(fence, limits),
            quota: Quota::new(limits.quotas),
            active: true,
            imports: ImportTimes::default(),
            wasi: crate::grants::no_network(WasiCtx::builder().stderr(stderr.clone())).build(),
            stderr,
            table: ResourceTable::new(),
        }
    }

    /// The last line the guest wrote to stderr, if any: for a panicking Rust guest, the
    /// panic message.
    pub(crate) fn last_words(&self) -> Option<String> {
        last_words(&self.stderr)
    }
}

/// Lines a language runtime writes after the message that explains a crash: Rust's panic
/// hint; what componentize-py's runtime prints after a Python traceback (its own panic,
/// whose location is in its runtime, not in the user's code); StarlingMonkey's stack and
/// abort notice after a JavaScript exception, and its bindings' complaint when that
/// exception left an export returning a result; and indented lines (stack frames).
fn is_trailer(line: &str) -> bool {
    line.starts_with(char::is_whitespace)
        || line.starts_with("note:")
        || line.starts_with("Python function threw an unexpected exception")
        || (line.starts_with("thread '") && line.contains("panicked at runtime/src/lib.rs"))
        || line == "Stack:"
        || line.starts_with("Redirecting call to abort()")
        // componentize-js's bindings, on an exception where an `err` string was due.
        || line.starts_with("expected a string, received")
}

/// The last line a guest wrote to `stderr`, skipping blank lines and runtimes' trailers:
/// for a panicking Rust guest, the panic message; for Python, the traceback's exception
/// line (`ValueError: ...`); for JavaScript, the uncaught error's message.
pub(crate) fn last_words(stderr: &MemoryOutputPipe) -> Option<String> {
    last_words_of(&String::from_utf8_lossy(&stderr.contents()))
}

fn last_words_of(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty() && !is_trailer(line))
        .map(|line| line.trim().to_string())
}

/// When an instance made its first and last import calls: how a hot-swap shows that the
/// old and the new instance never overlapped, and how long the blackout between them was.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportTimes {
    /// The first admitted call.
    pub first: Option<std::time::Instant>,
    /// The latest admitted call.
    pub last: Option<std::time::Instant>,
}

/// How much of a guest's stderr is kept (beyond it, its writes fail).
const STDERR_BYTES: usize = 64 << 10;

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wit::Host for HostState {}

#[cfg(test)]
mod tests {
    use super::last_words_of;

    #[test]
    fn last_words_are_the_crash_message_in_each_language() {
        let rust = "thread '<unnamed>' panicked at src/lib.rs:9:5:\nthe fixture traps on purpose\n\
                    note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        let python = "Traceback (most recent call last):\n  File \"/0/worker.py\", line 46, in tick\n\
                      ValueError: the fixture raises on purpose\n\n\
                      thread '<unnamed>' (1) panicked at runtime/src/lib.rs:1293:29:\n\
                      Python function threw an unexpected exception\n\
                      note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        let javascript = "Error: the fixture throws on purpose\nStack:\n  tick@bundle.js:2313:23\n\
                          expected a string, received [object]\n\
                          \nRedirecting call to abort() to mozalloc_abort\n\n";
        assert_eq!(
            last_words_of(rust).as_deref(),
            Some("the fixture traps on purpose")
        );
        assert_eq!(
            last_words_of(python).as_deref(),
            Some("ValueError: the fixture raises on purpose")
        );
        assert_eq!(
            last_words_of(javascript).as_deref(),
            Some("Error: the fixture throws on purpose")
        );
        assert_eq!(last_words_of("\n  \n"), None);
    }
}
