//! The models histories are checked against, one file each, and the names `--model`
//! takes.

mod append;
mod kv;
mod leadership;
mod multi;
mod mutex;
mod queue;
mod register;
mod set;

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::history::{Call, Outcome};

use super::value::{Interner, ValueId};

pub use append::{AppendOp, KvAppend, StringOp};
pub use kv::{Kv, KvOp};
pub use leadership::{Leadership, LeadershipCall, LeadershipOp, LeadershipState};
pub use multi::{Micro, Multi, MultiState};
pub use mutex::{Mutex, MutexOp};
pub use queue::{Queue, QueueOp};
pub use register::{RegOp, Register};
pub use set::{Set, SetOp};

/// The models `ballot check --model` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ModelKind {
    /// A read/write register.
    Register,
    /// A register with compare-and-set.
    CasRegister,
    /// A map of independent registers, checked key by key.
    Kv,
    /// Porcupine's map of strings with get, put and append, checked key by key.
    KvAppend,
    /// A map with atomic multi-key transactions, checked whole.
    Multi,
    /// Knossos's mutex: acquire and release.
    Mutex,
    /// Knossos's set: add and read.
    Set,
    /// Knossos's FIFO queue: enqueue and dequeue in order.
    FifoQueue,
    /// Knossos's unordered queue: enqueue, and dequeue of any element in it.
    UnorderedQueue,
    /// Elections with terms and guarded commits.
    Leadership,
    /// [`ModelKind::Leadership`], and no new leader before the old one is revoked.
    LeadershipExclusive,
}

impl ModelKind {
    /// Every model, in the order help texts list them.
    pub const ALL: [ModelKind; 11] = [
        ModelKind::Register,
        ModelKind::CasRegister,
        ModelKind::Kv,
        ModelKind::KvAppend,
        ModelKind::Multi,
        ModelKind::Mutex,
        ModelKind::Set,
        ModelKind::FifoQueue,
        ModelKind::UnorderedQueue,
        ModelKind::Leadership,
        ModelKind::LeadershipExclusive,
    ];

    /// The name `--model` takes.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::CasRegister => "cas-register",
            ModelKind::Kv => "kv",
            ModelKind::KvAppend => "kv-append",
            ModelKind::Multi => "multi",
            ModelKind::Mutex => "mutex",
            ModelKind::Set => "set",
            ModelKind::FifoQueue => "fifo-queue",
            ModelKind::UnorderedQueue => "unordered-queue",
            ModelKind::Leadership => "leadership",
            ModelKind::LeadershipExclusive => "leadership-exclusive",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A model name that `--model` does not know.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "unknown model {0:?}; known: register, cas-register, kv, kv-append, multi, mutex, set, fifo-queue, unordered-queue, leadership, leadership-exclusive"
)]
pub struct UnknownModel(pub String);

impl FromStr for ModelKind {
    type Err = UnknownModel;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        ModelKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| UnknownModel(name.to_string()))
    }
}

/// The value an `ok` call returned, `None` when the outcome is unknown or failed.
fn output(call: &Call) -> Option<&Value> {
    match &call.outcome {
        Outcome::Ok(value) => Some(value),
        _ => None,
    }
}

/// `[a, b]` as a pair.
fn pair(value: &Value) -> Option<(&Value, &Value)> {
    match value.as_array().map(Vec::as_slice) {
        Some([a, b]) => Some((a, b)),
        _ => None,
    }
}

/// `[key, x]`, with an error naming what the op needed.
fn keyed<'v>(value: &'v Value, what: &str) -> Result<(&'v Value, &'v Value), String> {
    pair(value).ok_or_else(|| format!("value must be [key, {what}], found {value}"))
}

/// A register op from `f`, its input and (when ok) its output, without keys.
fn reg_op(
    f: &str,
    input: &Value,
    output: Option<&Value>,
    cas: bool,
    values: &mut Interner,
) -> Result<RegOp, String> {
    match f {
        "read" | "r" => Ok(RegOp::Read(output.map(|v| values.intern(v)))),
        "write" | "w" => Ok(RegOp::Write(values.intern(input))),
        "cas" if cas => {
            let (expected, new) = pair(input)
                .ok_or_else(|| format!("cas value must be [expected, new], found {input}"))?;
            Ok(RegOp::Cas(values.intern(expected), values.intern(new)))
        }
        other => Err(format!(
            "f must be read or write{}, found {other:?}",
            if cas { " or cas" } else { "" }
        )),
    }
}

/// Merges the values that no op of `ops` observes into [`ValueId::UNREAD`], for models
/// whose ops are register ops (`reg` reaches an op's [`RegOp`], `set` replaces it). A
/// value that is observed anywhere (under any key) keeps its id: coarser than per key,
/// still exact.
fn merge_unobserved<O>(
    ops: &mut [O],
    reg: impl Fn(&mut O) -> &mut RegOp,
    set: impl Fn(&mut RegOp, RegOp),
) {
    let mut observed = std::collections::HashSet::new();
    observed.insert(ValueId::NULL);
    for op in ops.iter_mut() {
        if let Some(value) = reg(op).observes() {
            observed.insert(value);
        }
    }
    for op in ops.iter_mut() {
        let op = reg(op);
        let rewritten = op.merged(|value| !observed.contains(&value), ValueId::UNREAD);
        set(op, rewritten);
    }
}

fn show_key(key: ValueId, values: &Interner) -> String {
    values.show(key)
}
