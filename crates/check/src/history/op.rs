//! One line of a history: an invoke or a completion, in Jepsen's operation shape.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

/// What a line says about its operation: that it started, or how it ended.
///
/// The four kinds are Jepsen's, so a Jepsen user reads a ballot history without a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpType {
    /// The process started the operation.
    Invoke,
    /// The operation took effect, once, between its invoke and this line.
    Ok,
    /// The operation certainly did not take effect.
    Fail,
    /// The outcome is unknown (timeout, crash): it may take effect at any point after its
    /// invoke, or never.
    Info,
}

impl OpType {
    /// The word used for this kind in the `type` field.
    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }

    /// Reads the `type` field's word; `None` when it is not one of the four.
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "invoke" => Some(OpType::Invoke),
            "ok" => Some(OpType::Ok),
            "fail" => Some(OpType::Fail),
            "info" => Some(OpType::Info),
            _ => None,
        }
    }
}

impl fmt::Display for OpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event of a history: a line of the JSON-lines file.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    /// Invoke or one of the three completions (the `type` field).
    pub kind: OpType,
    /// The single-threaded client that issued the operation; it has at most one
    /// operation in flight.
    pub process: u64,
    /// The operation's name (`read`, `write`, `cas`, `txn`, `elected`, ...): the model
    /// decides what it means.
    pub f: String,
    /// The argument on an invoke, the result on an `ok` (for a read: the value read).
    pub value: Value,
    /// Monotonic nanoseconds. Real-time order is the order of lines; this field is
    /// informational and never decreases.
    pub time: u64,
    /// Any other fields the recorder added (term, revision, error...), kept in key order
    /// so the same history always prints the same bytes.
    pub extra: BTreeMap<String, Value>,
}

impl Op {
    /// The op as one JSON line (no trailing newline), fields in Jepsen's usual order.
    pub fn to_line(&self) -> String {
        let mut line = String::with_capacity(64);
        line.push_str("{\"type\":\"");
        line.push_str(self.kind.as_str());
        line.push_str("\",\"process\":");
        line.push_str(&self.process.to_string());
        line.push_str(",\"f\":");
        line.push_str(&Value::String(self.f.clone()).to_string());
        line.push_str(",\"value\":");
        line.push_str(&self.value.to_string());
        line.push_str(",\"time\":");
        line.push_str(&self.time.to_string());
        for (key, value) in &self.extra {
            line.push(',');
            line.push_str(&Value::String(key.clone()).to_string());
            line.push(':');
            line.push_str(&value.to_string());
        }
        line.push('}');
        line
    }

    /// The key of a keyed op (`[key, value]` or a multi's first micro-op key), used by
    /// filters. `None` when the value has no key shape.
    pub fn key(&self) -> Option<&Value> {
        match &self.value {
            Value::Array(items) if items.len() == 2 && !items[0].is_array() => Some(&items[0]),
            _ => None,
        }
    }

    /// Every key the op touches: `[key, value]` gives one, a multi's micro-ops
    /// `[f, key, value]` give theirs. Used by `ballot history --key`.
    pub fn keys(&self) -> Vec<&Value> {
        match &self.value {
            Value::Array(items)
                if items.iter().all(|item| item.is_array()) && !items.is_empty() =>
            {
                items
                    .iter()
                    .filter_map(|micro| micro.as_array().and_then(|m| m.get(1)))
                    .collect()
            }
            _ => self.key().into_iter().collect(),
        }
    }
}
