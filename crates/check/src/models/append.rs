//! Porcupine's key-value model: string values with `get`, `put` and `append`, one
//! register per key, checked key by key. Jepsen's `read` and `write` are the same
//! operations under their names, so both vocabularies work.
//!
//! | f                | invoke value     | ok value               |
//! |------------------|------------------|------------------------|
//! | `get` / `read`   | `[key, null]`    | `[key, value read]`    |
//! | `put` / `write`  | `[key, value]`   | `[key, value]`         |
//! | `append`         | `[key, suffix]`  | `[key, suffix]`        |
//!
//! Every key starts as the empty string, as in Porcupine (a `null` read is the empty
//! string too). Values are strings; a number is taken as its decimal text.

use std::sync::Arc;

use serde_json::Value;

use crate::history::Call;

use super::super::model::Model;
use super::super::value::{Interner, ValueId};

/// What one call does to its key's string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StringOp {
    /// A read; the string it returned, or `None` when unknown.
    Get(Option<Arc<str>>),
    /// Replaces the string.
    Put(Arc<str>),
    /// Adds to the end of the string.
    Append(Arc<str>),
}

/// A key-value op on strings: which key, and what it does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppendOp {
    /// The key.
    pub key: ValueId,
    /// What happens to the key's string.
    pub op: StringOp,
}

/// The key-value model of strings with append. Its state is one key's string: the
/// checker splits the history by key first.
#[derive(Debug, Clone, Copy, Default)]
pub struct KvAppend;

/// A JSON value as the string it stands for.
fn text(value: &Value) -> Result<Arc<str>, String> {
    match value {
        Value::Null => Ok(Arc::from("")),
        Value::String(s) => Ok(Arc::from(s.as_str())),
        Value::Number(n) => Ok(Arc::from(n.to_string())),
        other => Err(format!("a value must be a string, found {other}")),
    }
}

impl Model for KvAppend {
    type State = Arc<str>;
    type Op = AppendOp;

    fn name(&self) -> &'static str {
        "kv-append"
    }

    fn init(&self) -> Arc<str> {
        Arc::from("")
    }

    fn compile(&self, call: &Call, values: &mut Interner) -> Result<AppendOp, String> {
        let (key, input) = super::keyed(&call.input, "value")?;
        let output = match super::output(call) {
            Some(out) => {
                let (out_key, out_value) = super::keyed(out, "value")?;
                if out_key != key {
                    return Err(format!(
                        "completion is for key {out_key} but the invoke was for key {key}"
                    ));
                }
                Some(out_value)
            }
            None => None,
        };
        let op = match call.f.as_str() {
            "get" | "read" | "r" => StringOp::Get(output.map(text).transpose()?),
            "put" | "write" | "w" => StringOp::Put(text(input)?),
            "append" => StringOp::Append(text(input)?),
            other => {
                return Err(format!(
                    "f must be get, put or append (or read, write), found {other:?}"
                ));
            }
        };
        Ok(AppendOp {
            key: values.intern(key),
            op,
        })
    }

    fn step(&self, state: &Arc<str>, op: &AppendOp) -> Option<Arc<str>> {
        match &op.op {
            StringOp::Get(None) => Some(state.clone()),
            StringOp::Get(Some(seen)) => (seen == state).then(|| state.clone()),
            StringOp::Put(value) => Some(value.clone()),
            StringOp::Append(suffix) => Some(Arc::from(format!("{state}{suffix}"))),
        }
    }

    fn explain(&self, state: &Arc<str>, op: &AppendOp, values: &Interner) -> String {
        match &op.op {
            StringOp::Get(Some(seen)) => format!(
                "key {}: the get returned {seen:?} but the value is {state:?}",
                values.show(op.key)
            ),
            _ => format!("key {}: cannot happen on {state:?}", values.show(op.key)),
        }
    }

    fn show_op(&self, op: &AppendOp, values: &Interner) -> String {
        let key = values.show(op.key);
        match &op.op {
            StringOp::Get(Some(seen)) => format!("{key} get -> {seen:?}"),
            StringOp::Get(None) => format!("{key} get -> ?"),
            StringOp::Put(value) => format!("{key} put {value:?}"),
            StringOp::Append(suffix) => format!("{key} append {suffix:?}"),
        }
    }

    fn show_state(&self, state: &Arc<str>, _values: &Interner) -> String {
        format!("{state:?}")
    }

    fn partition(&self, op: &AppendOp) -> Option<ValueId> {
        Some(op.key)
    }

    fn read_only(&self, op: &AppendOp) -> bool {
        matches!(op.op, StringOp::Get(_))
    }

    fn state_heap_bytes(&self, state: &Arc<str>) -> usize {
        state.len() + 16
    }
}
