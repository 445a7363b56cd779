//! Selecting the lines of a history a reader cares about (`ballot history --process ...`).

use serde_json::Value;

use super::{Op, OpType};

/// A conjunction of conditions; an empty list in a field means "any".
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Keep only these processes.
    pub processes: Vec<u64>,
    /// Keep only these operation names.
    pub fs: Vec<String>,
    /// Keep only these line kinds.
    pub types: Vec<OpType>,
    /// Keep only ops touching one of these keys. A key given on the command line is
    /// compared both as JSON (`3`, `"x"`) and as a bare string (`x`).
    pub keys: Vec<String>,
}

impl Filter {
    /// True when `op` passes every condition.
    pub fn matches(&self, op: &Op) -> bool {
        (self.processes.is_empty() || self.processes.contains(&op.process))
            && (self.fs.is_empty() || self.fs.contains(&op.f))
            && (self.types.is_empty() || self.types.contains(&op.kind))
            && (self.keys.is_empty() || op.keys().into_iter().any(|key| self.key_matches(key)))
    }

    fn key_matches(&self, key: &Value) -> bool {
        self.keys.iter().any(|wanted| {
            key.as_str() == Some(wanted.as_str())
                || serde_json::from_str::<Value>(wanted).is_ok_and(|parsed| parsed == *key)
        })
    }
}
