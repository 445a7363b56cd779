//! The recorder: a cheap, cloneable handle that tests, the simulator and a running host
//! switch on to write down what their clients did.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use serde_json::Value;

use super::{History, Op, OpType};

/// Where a recorder reads its clock: real monotonic time, or a simulator's virtual time.
type ClockFn = dyn Fn() -> u64 + Send + Sync;

/// A handle to one history being recorded. Clones share the history.
///
/// Off by default ([`Recorder::off`], `Default`): then every call is a branch on a `None`
/// and nothing is allocated, so code can record unconditionally. Build the value only when
/// it is costly and [`Recorder::is_on`] says so.
///
/// The lock is a std `Mutex` held only to append one line, never across an `.await`. The
/// time is read under the lock, so line order and time order agree even when many
/// threads record at once.
#[derive(Clone, Default)]
pub struct Recorder {
    shared: Option<Arc<Shared>>,
}

struct Shared {
    clock: Box<ClockFn>,
    log: Mutex<Log>,
}

struct Log {
    ops: Vec<Op>,
    /// Lines are also written here as they happen, so a crash keeps what came before.
    sink: Option<Box<dyn Write + Send>>,
    last_time: u64,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("on", &self.is_on())
            .finish()
    }
}

impl Recorder {
    /// A recorder that records nothing.
    pub fn off() -> Self {
        Recorder { shared: None }
    }

    /// A recorder keeping the history in memory, timed by the monotonic clock from now.
    pub fn new() -> Self {
        let start = Instant::now();
        Self::with_clock(move || u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    /// A recorder timed by `clock` (nanoseconds), e.g. the simulator's virtual clock. A
    /// clock that goes backwards is clamped: recorded time never decreases.
    pub fn with_clock(clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        Recorder {
            shared: Some(Arc::new(Shared {
                clock: Box::new(clock),
                log: Mutex::new(Log {
                    ops: Vec::new(),
                    sink: None,
                    last_time: 0,
                }),
            })),
        }
    }

    /// Also writes every line to `sink` as it is recorded (a running host streams its
    /// history to a file this way). Write errors stop the streaming, not the recording.
    pub fn streaming_to(self, sink: impl Write + Send + 'static) -> Self {
        if let Some(shared) = &self.shared {
            shared.lock().sink = Some(Box::new(sink));
        }
        self
    }

    /// True when this recorder records.
    pub fn is_on(&self) -> bool {
        self.shared.is_some()
    }

    /// Records that `process` invokes `f` with `value`; complete the returned token with
    /// [`Token::ok`], [`Token::fail`] or [`Token::info`]. A token dropped without
    /// completion records `info` (the outcome is unknown), so a panicking client still
    /// leaves a well-formed history.
    pub fn invoke(&self, process: u64, f: &str, value: Value) -> Token {
        self.invoke_with(process, f, value, BTreeMap::new())
    }

    /// Like [`Recorder::invoke`], with extra fields on the invoke line.
    pub fn invoke_with(
        &self,
        process: u64,
        f: &str,
        value: Value,
        extra: BTreeMap<String, Value>,
    ) -> Token {
        let Some(shared) = &self.shared else {
            return Token { open: None };
        };
        shared.append(OpType::Invoke, process, f, value, extra);
        Token {
            open: Some(OpenCall {
                shared: Arc::clone(shared),
                process,
                f: f.to_string(),
            }),
        }
    }

    /// A copy of everything recorded so far (empty when off).
    pub fn history(&self) -> History {
        let mut history = History::default();
        if let Some(shared) = &self.shared {
            let log = shared.lock();
            history.ops = log.ops.clone();
            history.lines = (1..=log.ops.len()).collect();
        }
        history
    }

    /// Number of lines recorded so far.
    pub fn len(&self) -> usize {
        self.shared
            .as_ref()
            .map_or(0, |shared| shared.lock().ops.len())
    }

    /// True when nothing has been recorded (always true when off).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        // A panic while appending leaves a valid log (push is the last step), so a
        // poisoned lock is still usable.
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(
        &self,
        kind: OpType,
        process: u64,
        f: &str,
        value: Value,
        extra: BTreeMap<String, Value>,
    ) {
        let mut log = self.lock();
        let time = (self.clock)().max(log.last_time);
        log.last_time = time;
        let op = Op {
            kind,
            process,
            f: f.to_string(),
            value,
            time,
            extra,
        };
        if let Some(sink) = log.sink.as_mut() {
            let line = op.to_line();
            if writeln!(sink, "{line}")
                .and_then(|()| sink.flush())
                .is_err()
            {
                log.sink = None;
            }
        }
        log.ops.push(op);
    }
}

/// An invoked operation waiting for its completion. Complete it exactly once; dropping it
/// records `info`.
#[must_use = "complete the call with ok, fail or info"]
pub struct Token {
    open: Option<OpenCall>,
}

struct OpenCall {
    shared: Arc<Shared>,
    process: u64,
    f: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.open {
            Some(call) => write!(f, "Token(process {}, {})", call.process, call.f),
            None => f.write_str("Token(off)"),
        }
    }
}

impl Token {
    /// The operation took effect; `value` is its result (for a read, what was read).
    pub fn ok(self, value: Value) {
        self.complete(OpType::Ok, value, BTreeMap::new());
    }

    /// The operation certainly did not take effect (a refused cas, a rejected commit).
    pub fn fail(self, value: Value) {
        self.complete(OpType::Fail, value, BTreeMap::new());
    }

    /// The outcome is unknown (a timeout, a lost connection).
    pub fn info(self, value: Value) {
        self.complete(OpType::Info, value, BTreeMap::new());
    }

    /// Completes with `kind` (not `Invoke`) and extra fields such as `term` or
    /// `revision`.
    pub fn complete(mut self, kind: OpType, value: Value, extra: BTreeMap<String, Value>) {
        debug_assert!(kind != OpType::Invoke, "a completion cannot be an invoke");
        if let Some(call) = self.open.take() {
            call.shared
                .append(kind, call.process, &call.f, value, extra);
        }
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        if let Some(call) = self.open.take() {
            call.shared.append(
                OpType::Info,
                call.process,
                &call.f,
                Value::Null,
                BTreeMap::new(),
            );
        }
    }
}
