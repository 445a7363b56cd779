//! Reading the histories Jepsen and Knossos users already have: Jepsen's EDN (`history.edn`,
//! one op map per line or one vector of maps) and Jepsen's plain log lines
//! (`INFO  jepsen.util - 3 :invoke :write 4`, tab separated), the form the linearizability corpora of
//! Knossos and Porcupine are kept in.
//!
//! Each op becomes the same [`Op`] a JSON-lines history holds: `:type` and `:f` keywords
//! become words, `:value` becomes JSON (nil is null, keywords and symbols their names,
//! vectors, lists and sets arrays, maps objects), and a separate `:key` (as Porcupine's
//! key-value logs carry it) is folded into the value as Jepsen's independent-key
//! `[key value]`, the shape the keyed models read. `:time` is kept (an op without one
//! takes the time of the op before it); every other field goes into [`Op::extra`].
//! Ops of the `:nemesis` process are faults, not client calls: they are skipped and
//! counted. Malformed input is an error naming its line and column.

use std::collections::BTreeMap;

use edn_format::{ParserError, ParserErrorWithContext, Value as Edn};
use serde_json::{Map, Value};

use super::parse::{Builder, ParseError};
use super::{History, Op, OpType};

/// The formats a history file may be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// ballot's JSON lines (one op object per line).
    JsonLines,
    /// Jepsen's EDN: op maps, one per line or in one vector.
    Edn,
    /// Jepsen's log lines: `process :type :f value`, after an optional logger prefix.
    JepsenLog,
}

impl Format {
    /// The format `text` is in, from its first line that is not blank.
    pub fn detect(text: &str) -> Format {
        let first = text.lines().map(str::trim).find(|line| !line.is_empty());
        match first {
            Some(line)
                if line.starts_with("{\"")
                    || serde_json::from_str::<Value>(line).is_ok_and(|v| v.is_object()) =>
            {
                Format::JsonLines
            }
            Some(line) if line.starts_with('{') || line.starts_with('[') => Format::Edn,
            Some(line) if log_fields(line).is_some() => Format::JepsenLog,
            _ => Format::JsonLines,
        }
    }
}

/// A history read from EDN or log lines, and what was skipped.
#[derive(Debug, Clone)]
pub struct Read {
    /// The client calls.
    pub history: History,
    /// Ops of the `:nemesis` process, left out.
    pub nemesis_ops: usize,
}

/// Reads a history in whichever format `text` is in (see [`Format::detect`]).
pub fn parse_any(text: &str) -> Result<Read, ParseError> {
    match Format::detect(text) {
        Format::JsonLines => Ok(Read {
            history: super::parse_str(text)?,
            nemesis_ops: 0,
        }),
        Format::Edn => parse_edn(text),
        Format::JepsenLog => parse_jepsen_log(text),
    }
}

/// Reads a Jepsen EDN history: a vector of op maps, or op maps one after another (one per
/// line, or spread over several lines).
pub fn parse_edn(text: &str) -> Result<Read, ParseError> {
    let mut ops = Ops::default();
    if text.trim_start().starts_with('[') {
        let whole = edn_format::parse_str(text).map_err(|e| located(0, &e))?;
        let Edn::Vector(maps) = whole else {
            return Err(ParseError::Edn {
                line: 1,
                column: 1,
                problem: "a history is a vector of op maps".into(),
            });
        };
        // A single form: line numbers are the ops' places in it.
        for (index, map) in maps.iter().enumerate() {
            ops.map(index + 1, map)?;
        }
        return ops.finish();
    }
    // Forms one after another: each starts on a line; one that does not end on its line
    // takes the next lines until it does.
    let lines: Vec<&str> = text.lines().collect();
    let mut start = 0;
    while start < lines.len() {
        if lines[start].trim().is_empty() || lines[start].trim_start().starts_with(';') {
            start += 1;
            continue;
        }
        let mut end = start + 1;
        let form = loop {
            let chunk = lines[start..end].join("\n");
            match edn_format::parse_str(&chunk) {
                Ok(form) => break form,
                Err(e) if e.error == ParserError::UnexpectedEndOfInput && end < lines.len() => {
                    end += 1;
                }
                Err(e) => return Err(located(start, &e)),
            }
        };
        ops.map(start + 1, &form)?;
        start = end;
    }
    ops.finish()
}

/// Reads Jepsen log lines: `process :type :f value`, each optionally after a logger's
/// prefix ending in ` - ` (`INFO  jepsen.util - `). Lines that are not ops (other log
/// output) are skipped.
pub fn parse_jepsen_log(text: &str) -> Result<Read, ParseError> {
    let mut ops = Ops::default();
    for (index, line) in text.lines().enumerate() {
        let Some((process, kind, f, value)) = log_fields(line) else {
            continue;
        };
        let line_no = index + 1;
        let value = if value.trim().is_empty() {
            Edn::Nil
        } else {
            edn_format::parse_str(value).map_err(|e| {
                // See `located` for edn-format's swapped row and column.
                let column = line.len() - value.len() + e.row.max(1);
                ParseError::Edn {
                    line: line_no,
                    column,
                    problem: e.error.to_string(),
                }
            })?
        };
        let mut map = BTreeMap::new();
        let process = match process.parse::<i64>() {
            Ok(n) => Edn::Integer(n),
            Err(_) => keyword_or_string(process),
        };
        map.insert(keyword("process"), process);
        map.insert(keyword("type"), keyword_or_string(kind));
        map.insert(keyword("f"), keyword_or_string(f));
        map.insert(keyword("value"), value);
        ops.map(line_no, &Edn::Map(map))?;
    }
    ops.finish()
}

/// The fields of a Jepsen log line: process, `:type`, `:f` and the value's text.
fn log_fields(line: &str) -> Option<(&str, &str, &str, &str)> {
    let body = match line.find(" - ") {
        Some(at) if line[..at].contains("jepsen") => &line[at + 3..],
        _ => line,
    };
    let mut fields = body.trim_start().splitn(4, '\t');
    let process = fields.next()?.trim();
    let kind = fields.next()?.trim();
    let f = fields.next()?.trim();
    let value = fields.next().unwrap_or("");
    let is_type = matches!(kind, ":invoke" | ":ok" | ":fail" | ":info");
    let is_process = process.parse::<i64>().is_ok() || process.starts_with(':');
    (is_type && is_process && f.starts_with(':')).then_some((process, kind, f, value))
}

fn keyword(name: &str) -> Edn {
    Edn::Keyword(edn_format::Keyword::from_name(name))
}

fn keyword_or_string(word: &str) -> Edn {
    match word.strip_prefix(':') {
        Some(name) => keyword(name),
        None => Edn::String(word.to_string()),
    }
}

/// An EDN parser error in text that starts at `first_line` (0-based), as a
/// [`ParseError`]. edn-format 3.3 counts lines in its `col` (from 1) and the characters
/// read on the line in its `row` (the two are swapped against their docs), so the line
/// is `col` and the column `row`.
fn located(first_line: usize, error: &ParserErrorWithContext) -> ParseError {
    ParseError::Edn {
        line: first_line + error.col.max(1),
        column: error.row.max(1),
        problem: error.error.to_string(),
    }
}

/// The ops read so far.
#[derive(Default)]
struct Ops {
    builder: Builder,
    nemesis: usize,
    time: u64,
}

impl Ops {
    /// Adds the op map `form` read at `line`.
    fn map(&mut self, line: usize, form: &Edn) -> Result<(), ParseError> {
        let Edn::Map(fields) = form else {
            return Err(ParseError::Structure {
                line,
                problem: format!(
                    "an op is a map like {{:type :invoke, :f :read, :process 0, :value nil}}, found {}",
                    edn_format::emit_str(form)
                ),
            });
        };
        let field_error = |field: &'static str, problem: String| ParseError::Field {
            line,
            field,
            problem,
        };
        let mut kind = None;
        let mut f = None;
        let mut process = None;
        let mut value = Value::Null;
        let mut key = None;
        let mut time = None;
        let mut extra = BTreeMap::new();
        for (name, field) in fields {
            let name = match name {
                Edn::Keyword(k) => k.name().to_string(),
                other => to_json(other).to_string(),
            };
            match name.as_str() {
                "type" => {
                    let word = word(field).ok_or_else(|| {
                        field_error("type", "must be :invoke, :ok, :fail or :info".into())
                    })?;
                    kind = Some(OpType::parse(&word).ok_or_else(|| {
                        field_error(
                            "type",
                            format!("{word:?} is not one of invoke, ok, fail, info"),
                        )
                    })?);
                }
                "f" => {
                    f =
                        Some(word(field).ok_or_else(|| {
                            field_error("f", "must be a keyword or a string".into())
                        })?)
                }
                "process" => process = Some(field.clone()),
                "value" => value = to_json(field),
                "key" => key = Some(to_json(field)),
                "time" => match field {
                    Edn::Integer(nanos) if *nanos >= 0 => time = Some(*nanos as u64),
                    _ => {
                        return Err(field_error(
                            "time",
                            "must be a non-negative integer (nanoseconds)".into(),
                        ));
                    }
                },
                _ => {
                    extra.insert(name, to_json(field));
                }
            }
        }
        let process = match process {
            Some(Edn::Integer(n)) if n >= 0 => n as u64,
            Some(Edn::Keyword(k)) if k.name() == "nemesis" => {
                self.nemesis += 1;
                return Ok(());
            }
            Some(other) => {
                return Err(field_error(
                    "process",
                    format!(
                        "must be a non-negative integer or :nemesis, found {}",
                        edn_format::emit_str(&other)
                    ),
                ));
            }
            None => return Err(field_error("process", "is missing".into())),
        };
        let kind = kind.ok_or_else(|| field_error("type", "is missing".into()))?;
        let f = f.ok_or_else(|| field_error("f", "is missing".into()))?;
        if let Some(key) = key {
            value = Value::Array(vec![key, value]);
        }
        // Ops without a time keep the order of the file.
        self.time = time.unwrap_or(self.time).max(self.time);

        self.builder.push(
            line,
            Op {
                kind,
                process,
                f,
                value,
                time: self.time,
                extra,
            },
        )
    }

    fn finish(self) -> Result<Read, ParseError> {
        Ok(Read {
            history: self.builder.finish(),
            nemesis_ops: self.nemesis,
        })
    }
}

/// A keyword's or a string's text.
fn word(value: &Edn) -> Option<String> {
    match value {
        Edn::Keyword(k) => Some(k.name().to_string()),
        Edn::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// An EDN value as JSON (see the module docs).
pub fn to_json(value: &Edn) -> Value {
    match value {
        Edn::Nil => Value::Null,
        Edn::Boolean(b) => Value::Bool(*b),
        Edn::Integer(n) => Value::from(*n),
        Edn::Float(x) => {
            serde_json::Number::from_f64(x.into_inner()).map_or(Value::Null, Value::Number)
        }
        Edn::String(s) => Value::String(s.clone()),
        Edn::Character(c) => Value::String(c.to_string()),
        Edn::Keyword(k) => Value::String(match k.namespace() {
            Some(ns) => format!("{ns}/{}", k.name()),
            None => k.name().to_string(),
        }),
        Edn::Symbol(s) => Value::String(match s.namespace() {
            Some(ns) => format!("{ns}/{}", s.name()),
            None => s.name().to_string(),
        }),
        Edn::List(items) | Edn::Vector(items) => Value::Array(items.iter().map(to_json).collect()),
        Edn::Set(items) => Value::Array(items.iter().map(to_json).collect()),
        Edn::Map(map) => {
            let mut object = Map::new();
            for (k, v) in map {
                let key = match to_json(k) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                object.insert(key, to_json(v));
            }
            Value::Object(object)
        }
        other => {
            // Big numbers, instants, UUIDs, tagged elements: their printed form.
            let printed = edn_format::emit_str(other);
            printed
                .parse::<serde_json::Number>()
                .map_or(Value::String(printed), Value::Number)
        }
    }
}
