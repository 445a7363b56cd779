//! Reading a JSON-lines history, with an error that names the line and what is wrong.

use std::collections::BTreeMap;
use std::io::BufRead;

use serde_json::{Map, Value};
use thiserror::Error;

use super::{History, Op, OpType};

/// Why a history file could not be read. Every variant but `Io` names the 1-based line.
#[derive(Debug, Error)]
pub enum ParseError {
    /// The file could not be read at all.
    #[error("cannot read history: {0}")]
    Io(#[from] std::io::Error),
    /// The line is not one JSON object.
    #[error("line {line}: not a JSON object: {message}")]
    Json {
        /// 1-based line number.
        line: usize,
        /// serde_json's description.
        message: String,
    },
    /// A field is missing or has the wrong type or word.
    #[error("line {line}: field `{field}` {problem}")]
    Field {
        /// 1-based line number.
        line: usize,
        /// The field's name.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// EDN (or a Jepsen log line's value) that does not parse.
    #[error("line {line}, column {column}: malformed EDN: {problem}")]
    Edn {
        /// 1-based line number.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser ran into.
        problem: String,
    },
    /// The line is well formed alone but does not fit the lines before it.
    #[error("line {line}: {problem}")]
    Structure {
        /// 1-based line number.
        line: usize,
        /// What does not fit.
        problem: String,
    },
}

/// Reads a whole history from JSON lines. Blank lines are skipped (line numbers still
/// count them).
pub fn parse_reader(reader: impl BufRead) -> Result<History, ParseError> {
    let mut builder = Builder::default();
    for (index, line) in reader.lines().enumerate() {
        builder.line(index + 1, &line?)?;
    }
    Ok(builder.finish())
}

/// Reads a whole history from a string of JSON lines.
pub fn parse_str(text: &str) -> Result<History, ParseError> {
    let mut builder = Builder::default();
    for (index, line) in text.lines().enumerate() {
        builder.line(index + 1, line)?;
    }
    Ok(builder.finish())
}

/// Parses one line alone (no checks against other lines).
pub fn parse_line(line: usize, text: &str) -> Result<Op, ParseError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ParseError::Json {
        line,
        message: e.to_string(),
    })?;
    let Value::Object(mut map) = value else {
        return Err(ParseError::Json {
            line,
            message: format!("found {}", kind_of(&value)),
        });
    };
    let field_error = |field: &'static str, problem: String| ParseError::Field {
        line,
        field,
        problem,
    };
    let kind = match take(&mut map, "type", line)? {
        Value::String(word) => OpType::parse(&word).ok_or_else(|| {
            field_error(
                "type",
                format!("must be invoke, ok, fail or info, found {word:?}"),
            )
        })?,
        other => {
            return Err(field_error(
                "type",
                format!("must be a string, found {}", kind_of(&other)),
            ));
        }
    };
    let process = match take(&mut map, "process", line)? {
        Value::Number(n) if n.as_u64().is_some() => n.as_u64().unwrap_or_default(),
        other => {
            return Err(field_error(
                "process",
                format!("must be a non-negative integer, found {other}"),
            ));
        }
    };
    let f = match take(&mut map, "f", line)? {
        Value::String(f) if !f.is_empty() => f,
        other => {
            return Err(field_error(
                "f",
                format!("must be a non-empty string, found {other}"),
            ));
        }
    };
    let time = match take(&mut map, "time", line)? {
        Value::Number(n) if n.as_u64().is_some() => n.as_u64().unwrap_or_default(),
        other => {
            return Err(field_error(
                "time",
                format!("must be non-negative integer nanoseconds, found {other}"),
            ));
        }
    };
    let value = map.remove("value").unwrap_or(Value::Null);
    let extra: BTreeMap<String, Value> = map.into_iter().collect();
    Ok(Op {
        kind,
        process,
        f,
        value,
        time,
        extra,
    })
}

fn take(
    map: &mut Map<String, Value>,
    field: &'static str,
    line: usize,
) -> Result<Value, ParseError> {
    map.remove(field).ok_or(ParseError::Field {
        line,
        field,
        problem: "is missing".to_string(),
    })
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Collects ops and checks that each fits the ones before it: one op in flight per
/// process, a completion answers an invoke of the same f, time never goes backwards.
#[derive(Default)]
pub(crate) struct Builder {
    ops: Vec<Op>,
    lines: Vec<usize>,
    /// Process -> (f, line) of its invoke still in flight.
    open: BTreeMap<u64, (String, usize)>,
    last_time: u64,
}

impl Builder {
    fn line(&mut self, line: usize, text: &str) -> Result<(), ParseError> {
        if text.trim().is_empty() {
            return Ok(());
        }
        let op = parse_line(line, text)?;
        self.push(line, op)
    }

    pub(crate) fn push(&mut self, line: usize, op: Op) -> Result<(), ParseError> {
        let structure = |problem: String| ParseError::Structure { line, problem };
        if op.time < self.last_time {
            return Err(structure(format!(
                "time {} goes backwards (the line before has {})",
                op.time, self.last_time
            )));
        }
        match op.kind {
            OpType::Invoke => {
                if let Some((f, at)) = self.open.get(&op.process) {
                    return Err(structure(format!(
                        "process {} invokes {} while its {f} from line {at} is still in flight",
                        op.process, op.f
                    )));
                }
                self.open.insert(op.process, (op.f.clone(), line));
            }
            kind => match self.open.remove(&op.process) {
                None => {
                    return Err(structure(format!(
                        "{kind} for process {} which has no operation in flight",
                        op.process
                    )));
                }
                Some((f, at)) if f != op.f => {
                    return Err(structure(format!(
                        "{kind} {} for process {} answers the {f} invoked on line {at}",
                        op.f, op.process
                    )));
                }
                Some(_) => {}
            },
        }
        self.last_time = op.time;
        self.ops.push(op);
        self.lines.push(line);
        Ok(())
    }

    pub(crate) fn finish(self) -> History {
        History {
            ops: self.ops,
            lines: self.lines,
        }
    }
}
