//! The recorder: a cheap, cloneable handle that tests, the simulator and a running host
//! switch on to write down what their clients did.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use serde_json::Value;

use super::{History, Op, OpType};
use crate::models::LeadershipCall;

/// Where a recorder reads its clock: real monotonic time, or a simulator's virtual time.
type ClockFn = dyn Fn() -> u64 + Send + Sync;

/// A handle to one history being recorded. Clones share the history.
///
/// Off by default ([`Recorder::off`], `Default`): then every call is a branch on a `None`
/// and nothing is allocated, so code can record unconditionally. Build the value only when
/// it is costly and [`Recorder::is_on`] says so.
///
/// A recorder either keeps its history in memory ([`Recorder::new`], for tests and the
/// simulator, which check it afterwards) or streams it to a file without keeping it
/// ([`Recorder::streaming_to`], for a running host, whose history has no end). Streaming
/// hands each line to a thread of its own, so whoever records (often the store's writer,
/// inside the step that made a leader) never waits for a disk.
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
    /// The history, when kept in memory: its first `keep` lines.
    ops: Vec<Op>,
    /// Lines kept in memory at most (unbounded for a recorder made by [`Recorder::new`],
    /// none once streaming unless [`Recorder::keeping`] says otherwise).
    keep: usize,
    /// Where a streaming recorder sends its lines instead: the writing thread.
    stream: Option<SyncSender<Streamed>>,
    /// Lines recorded, kept or streamed.
    recorded: usize,
    last_time: u64,
}

/// What the writing thread of a streaming recorder receives.
enum Streamed {
    /// A line to append.
    Line(Op),
    /// Everything before has been written and flushed: answer on this channel.
    Flushed(SyncSender<()>),
}

/// The field of a leadership invoke that names its election (or lease elector): a host
/// runs many elections, each with its own leaders, and the leadership model is checked
/// election by election ([`crate::history::History::split_by`]).
pub const ELECTION_FIELD: &str = "election";

/// The field of a `revoke` invoke that says what ended the term: `deposed` (its ballot
/// vanished), `handoff`, `preempt`, `drain`, `stall`, `crash`, `kill`, `session-ended`,
/// `fenced` (its host fenced itself) and the like. The models read only the call; the
/// cause is for whoever reads the history.
pub const CAUSE_FIELD: &str = "cause";

/// Lines a streaming recorder holds for its writing thread, at most; beyond it, whoever
/// records waits for the disk rather than let memory grow.
pub const STREAM_BACKLOG: usize = 65_536;

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
                    keep: usize::MAX,
                    stream: None,
                    recorded: 0,
                    last_time: 0,
                }),
            })),
        }
    }

    /// Streams every line to `sink` as it is recorded, instead of keeping it: a running
    /// host records for as long as it runs, so its history lives only in the file. Lines
    /// are written by a thread of their own, in order, and flushed whenever it catches up;
    /// [`Recorder::flush`] waits for that. A write error stops the streaming (with one
    /// error in the log), never the recording host.
    pub fn streaming_to(self, sink: impl Write + Send + 'static) -> Self {
        if let Some(shared) = &self.shared {
            let (lines, received) = sync_channel(STREAM_BACKLOG);
            let spawned = std::thread::Builder::new()
                .name("ballot-history".into())
                .spawn(move || write_lines(received, sink));
            match spawned {
                Ok(_) => {
                    let mut log = shared.lock();
                    log.stream = Some(lines);
                    log.keep = 0;
                }
                Err(error) => {
                    tracing::error!(%error, "no thread to write the history; not streaming")
                }
            }
        }
        self
    }

    /// Also keeps the first `lines` lines in memory (after [`Recorder::streaming_to`],
    /// which keeps none by default), for a host that shows its own history while it runs:
    /// a bounded prefix, never a window, because the checker needs a history from its
    /// start. [`Recorder::kept_all`] says when the bound was reached.
    pub fn keeping(self, lines: usize) -> Self {
        if let Some(shared) = &self.shared {
            shared.lock().keep = lines;
        }
        self
    }

    /// True when every line recorded so far is kept in memory (so [`Recorder::history`]
    /// is the whole history).
    pub fn kept_all(&self) -> bool {
        self.shared.as_ref().is_none_or(|shared| {
            let log = shared.lock();
            log.ops.len() == log.recorded
        })
    }

    /// Waits until every line recorded so far is written and flushed (a no-op unless
    /// streaming). A host calls it as it stops, so its history file is whole.
    pub fn flush(&self) {
        let Some(shared) = &self.shared else { return };
        let Some(stream) = shared.lock().stream.clone() else {
            return;
        };
        let (done, flushed) = sync_channel(1);
        if stream.send(Streamed::Flushed(done)).is_ok() {
            let _ = flushed.recv();
        }
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

    /// Records that `candidate` begins `call` under `term` of `election` (an election or
    /// a lease elector), in the leadership model's shape (`[candidate, term]` in and out,
    /// the election in the invoke's [`ELECTION_FIELD`]); complete it with
    /// [`LeadershipToken::ok`] or [`LeadershipToken::fail`]. Every place that records
    /// leadership goes through here.
    pub fn leadership(
        &self,
        process: u64,
        call: LeadershipCall,
        election: &str,
        candidate: &str,
        term: u64,
    ) -> LeadershipToken {
        if !self.is_on() {
            return LeadershipToken {
                token: Token { open: None },
                value: Value::Null,
            };
        }
        let value = serde_json::json!([candidate, term]);
        let extra = BTreeMap::from([(ELECTION_FIELD.to_string(), Value::from(election))]);
        LeadershipToken {
            token: self.invoke_with(process, call.name(), value.clone(), extra),
            value,
        }
    }

    /// Records a leadership `call` that took effect at once (invoked and `ok` together):
    /// a win decided in the writer's step, a revocation, a resignation.
    pub fn leadership_now(
        &self,
        process: u64,
        call: LeadershipCall,
        election: &str,
        candidate: &str,
        term: u64,
    ) {
        self.leadership(process, call, election, candidate, term)
            .ok();
    }

    /// Records that the host took `candidate`'s `term` away, with what made it
    /// ([`CAUSE_FIELD`]): a `revoke` that took effect at once.
    pub fn revoked(&self, process: u64, election: &str, candidate: &str, term: u64, cause: &str) {
        if !self.is_on() {
            return;
        }
        let value = serde_json::json!([candidate, term]);
        let extra = BTreeMap::from([
            (ELECTION_FIELD.to_string(), Value::from(election)),
            (CAUSE_FIELD.to_string(), Value::from(cause)),
        ]);
        LeadershipToken {
            token: self.invoke_with(process, LeadershipCall::Revoke.name(), value.clone(), extra),
            value,
        }
        .ok();
    }

    /// A copy of everything kept so far (empty when off, and when streaming without
    /// [`Recorder::keeping`]).
    pub fn history(&self) -> History {
        let mut history = History::default();
        if let Some(shared) = &self.shared {
            let log = shared.lock();
            history.ops = log.ops.clone();
            history.lines = (1..=log.ops.len()).collect();
        }
        history
    }

    /// Number of lines recorded so far, kept or streamed.
    pub fn len(&self) -> usize {
        self.shared
            .as_ref()
            .map_or(0, |shared| shared.lock().recorded)
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
        log.recorded += 1;
        let keep = log.ops.len() < log.keep;
        match &log.stream {
            // Sent under the lock, so the thread writes lines in the order of their times.
            Some(stream) => {
                let copy = keep.then(|| op.clone());
                if stream.send(Streamed::Line(op)).is_err() {
                    log.stream = None;
                }
                log.ops.extend(copy);
            }
            None if keep => log.ops.push(op),
            None => {}
        }
    }
}

/// The writing thread of a streaming recorder: appends lines until every recorder is
/// gone, flushing whenever no line is waiting.
fn write_lines<W: Write>(lines: Receiver<Streamed>, sink: W) {
    let mut file = HistoryFile(Some(BufWriter::new(sink)));
    loop {
        let next = match lines.try_recv() {
            Ok(next) => next,
            Err(TryRecvError::Empty) => {
                file.attempt(|out| out.flush());
                match lines.recv() {
                    Ok(next) => next,
                    Err(_) => return,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        match next {
            Streamed::Line(op) => file.attempt(|out| writeln!(out, "{}", op.to_line())),
            Streamed::Flushed(done) => {
                file.attempt(|out| out.flush());
                let _ = done.send(());
            }
        }
    }
    file.attempt(|out| out.flush());
}

/// The history's file, until a write to it fails.
struct HistoryFile<W: Write>(Option<BufWriter<W>>);

impl<W: Write> HistoryFile<W> {
    fn attempt(&mut self, write: impl FnOnce(&mut BufWriter<W>) -> std::io::Result<()>) {
        if let Some(out) = &mut self.0
            && let Err(error) = write(out)
        {
            tracing::error!(%error, "writing the history failed; it is no longer written");
            self.0 = None;
        }
    }
}

/// A leadership call waiting for its completion, which repeats its `[candidate, term]`.
/// Dropping it records `info`.
#[must_use = "complete the call with ok or fail"]
#[derive(Debug)]
pub struct LeadershipToken {
    token: Token,
    value: Value,
}

impl LeadershipToken {
    /// The call took effect.
    pub fn ok(self) {
        self.token.ok(self.value);
    }

    /// The call certainly did not take effect (a refused ack or commit).
    pub fn fail(self) {
        self.token.fail(self.value);
    }

    /// Whether the call took effect is unknown (the store failed under it).
    pub fn info(self) {
        self.token.info(self.value);
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
