//! Pairing invokes with their completions: the unit the checker reasons about.

use serde_json::Value;

use super::{History, OpType};

/// How a call ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It took effect; the value is the completion's (for a read, what was read).
    Ok(Value),
    /// It did not take effect.
    Fail,
    /// Unknown: it may take effect at any point after its invoke, or never.
    Info,
    /// The history ends while it is in flight; treated exactly like `Info`.
    Pending,
}

impl Outcome {
    /// True when the call may or may not have taken effect (`Info` or `Pending`).
    pub fn is_unknown(&self) -> bool {
        matches!(self, Outcome::Info | Outcome::Pending)
    }
}

/// One operation from invoke to completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The process that issued it.
    pub process: u64,
    /// The operation's name.
    pub f: String,
    /// The invoke's value: the argument.
    pub input: Value,
    /// How it ended, with the completion's value when it is `ok`.
    pub outcome: Outcome,
    /// Index of the invoke in [`History::ops`].
    pub invoke: usize,
    /// Index of the completion in [`History::ops`], `None` when pending.
    pub complete: Option<usize>,
}

impl History {
    /// The calls in invoke order. A history built by the parser or a recorder is well
    /// formed, so every completion finds its invoke.
    pub fn calls(&self) -> Vec<Call> {
        let mut calls: Vec<Call> = Vec::with_capacity(self.ops.len() / 2 + 1);
        // process -> index into `calls` of its call in flight
        let mut open: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
        for (index, op) in self.ops.iter().enumerate() {
            if op.kind == OpType::Invoke {
                open.insert(op.process, calls.len());
                calls.push(Call {
                    process: op.process,
                    f: op.f.clone(),
                    input: op.value.clone(),
                    outcome: Outcome::Pending,
                    invoke: index,
                    complete: None,
                });
                continue;
            }
            let Some(at) = open.remove(&op.process) else {
                continue;
            };
            let call = &mut calls[at];
            call.complete = Some(index);
            call.outcome = match op.kind {
                OpType::Ok => Outcome::Ok(op.value.clone()),
                OpType::Fail => Outcome::Fail,
                _ => Outcome::Info,
            };
        }
        calls
    }
}
