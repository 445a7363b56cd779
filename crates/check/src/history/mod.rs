//! Operation histories: what clients invoked, and how each call ended.
//!
//! A history is the input of the linearizability checker ([`crate`]). It is kept
//! in Jepsen's operation shape so that Jepsen and Knossos users read it without a key:
//! one JSON object per line, with
//!
//! | field     | meaning                                                              |
//! |-----------|----------------------------------------------------------------------|
//! | `type`    | `invoke`, then one of `ok` (took effect), `fail` (did not take effect) or `info` (unknown: may take effect at any time after the invoke, or never) |
//! | `process` | non-negative integer: a single-threaded client, one call in flight   |
//! | `f`       | the operation's name; the model gives it meaning                     |
//! | `value`   | argument on the invoke, result on `ok`: a register's `v`, a cas's `[expected, new]`, a keyed op's `[key, value]`, a multi's list of micro-ops `[f, key, value]` |
//! | `time`    | monotonic nanoseconds, never decreasing                              |
//! | others    | kept as they are (`term`, `revision`, ...)                           |
//!
//! ```text
//! {"type":"invoke","process":0,"f":"cas","value":[1,2],"time":1000}
//! {"type":"fail","process":0,"f":"cas","value":[1,2],"time":2000}
//! ```
//!
//! Line order is real-time order: an op whose completion line comes before another's
//! invoke line finished before it began. A history ending with calls in flight is
//! allowed; those calls count as `info`.
//!
//! # Layout
//!
//! - `op`: one line ([`Op`], [`OpType`]) and how it prints.
//! - `parse`: reading a file, with errors naming the line ([`ParseError`]).
//! - `call`: pairing invokes with completions ([`Call`], [`Outcome`]).
//! - `record`: the [`Recorder`] handle that tests, the simulator and the host record into.
//! - `filter`: selecting lines for `ballot history`.
//! - `generate`: random linearizable histories from a real execution, and mutations that
//!   break them, for tests and benchmarks.

mod call;
pub mod edn;
mod filter;
pub mod generate;
mod op;
mod parse;
mod record;

use std::io::Write;

use serde_json::Value;

pub use call::{Call, Outcome};
pub use filter::Filter;
pub use op::{Op, OpType};
pub use parse::{ParseError, parse_line, parse_reader, parse_str};
pub use record::{CAUSE_FIELD, ELECTION_FIELD, LeadershipToken, Recorder, STREAM_BACKLOG, Token};

/// A well-formed history: ops in real-time order, one call in flight per process,
/// completions matching their invokes, time never decreasing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// The lines, in order.
    pub ops: Vec<Op>,
    /// The 1-based source line of each op (blank lines in a file shift these), so the
    /// checker's reports point into the file the user has.
    pub lines: Vec<usize>,
}

impl History {
    /// Builds a history from ops, checking that they are well formed.
    pub fn from_ops(ops: impl IntoIterator<Item = Op>) -> Result<Self, ParseError> {
        let mut builder = parse::Builder::default();
        for (index, op) in ops.into_iter().enumerate() {
            builder.push(index + 1, op)?;
        }
        Ok(builder.finish())
    }

    /// Reads a history file, in any of the [`edn::Format`]s (nemesis ops are skipped).
    pub fn read_file(path: impl AsRef<std::path::Path>) -> Result<Self, ParseError> {
        let text = std::fs::read_to_string(path)?;
        Ok(edn::parse_any(&text)?.history)
    }

    /// The source line of op `index`.
    pub fn line_of(&self, index: usize) -> usize {
        self.lines.get(index).copied().unwrap_or(index + 1)
    }

    /// Writes the history as JSON lines.
    pub fn write_jsonl(&self, mut out: impl Write) -> std::io::Result<()> {
        for op in &self.ops {
            writeln!(out, "{}", op.to_line())?;
        }
        Ok(())
    }

    /// The history split by the value of the invoke field `field`: one history per
    /// value, in order of first appearance, each completion going with its invoke (by
    /// process), source lines kept. Calls whose invoke lacks the field form a part keyed
    /// `None`. Returns one part when no invoke has the field.
    pub fn split_by(&self, field: &str) -> Vec<(Option<Value>, History)> {
        let mut parts: Vec<(Option<Value>, History)> = Vec::new();
        let mut open: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
        for (index, op) in self.ops.iter().enumerate() {
            let part = if op.kind == OpType::Invoke {
                let key = op.extra.get(field).cloned();
                let part = match parts.iter().position(|(k, _)| *k == key) {
                    Some(part) => part,
                    None => {
                        parts.push((key, History::default()));
                        parts.len() - 1
                    }
                };
                open.insert(op.process, part);
                part
            } else {
                match open.remove(&op.process) {
                    Some(part) => part,
                    // A completion without an invoke cannot be in a well-formed history.
                    None => continue,
                }
            };
            let history = &mut parts[part].1;
            history.ops.push(op.clone());
            history.lines.push(self.line_of(index));
        }
        if parts.is_empty() {
            parts.push((None, History::default()));
        }
        parts
    }

    /// The history as one JSON-lines string.
    pub fn to_jsonl(&self) -> String {
        let mut text = String::with_capacity(self.ops.len() * 64);
        for op in &self.ops {
            text.push_str(&op.to_line());
            text.push('\n');
        }
        text
    }
}
