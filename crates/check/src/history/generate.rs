//! Random concurrent histories recorded from a real execution, and mutations of them
//! that are not linearizable by construction.
//!
//! The generator runs `processes` simulated clients against one real shared map (a
//! register is the map with one key) under a seeded random interleaving. Each call is
//! recorded in three steps that the scheduler interleaves: the invoke, then the real
//! atomic step on the map, then the completion. Because every call took effect exactly at
//! its atomic step, inside its invoke-completion window, the history is linearizable by
//! construction. A share of calls end as `info`: half of those crash before the step
//! (they never took effect), half after it (they did, but nobody knows).
//!
//! Tests use it for known-good inputs and the benchmark for large ones.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

use super::{History, Op, OpType, Recorder, Token};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// Concurrent clients (each has at most one call in flight).
    pub processes: usize,
    /// Calls to record (each gives two lines).
    pub calls: usize,
    /// `None`: a single register, values `v` and cas `[e, n]`. `Some(k)`: a key-value map
    /// with integer keys `0..k`, values `[key, v]` and cas `[key, [e, n]]`.
    pub keys: Option<u64>,
    /// Share of calls that end as `info` (0.0 to 1.0).
    pub info_share: f64,
    /// Whether to issue compare-and-set calls besides reads and writes.
    pub cas: bool,
    /// `None`: every write writes a fresh value (what the mutations need). `Some(d)`:
    /// values are drawn from `0..d`, so values repeat and the checker's shortcuts for
    /// unique values do not apply.
    pub value_domain: Option<u64>,
    /// Seed of the interleaving and of every choice.
    pub seed: u64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            processes: 5,
            calls: 100,
            keys: None,
            info_share: 0.05,
            cas: true,
            value_domain: None,
            seed: 0,
        }
    }
}

/// The time between two recorded lines of a generated history, in nanoseconds.
const TICK_NS: u64 = 1_000;

#[derive(Debug, Clone)]
enum Call {
    Read {
        key: u64,
    },
    Write {
        key: u64,
        value: Value,
    },
    Cas {
        key: u64,
        expected: Value,
        new: Value,
    },
}

enum Phase {
    Idle,
    Invoked(Token, Call),
    Applied(Token, Call, Option<Value>),
}

struct Slot {
    process: u64,
    phase: Phase,
}

/// Generates one history as described in the module docs.
pub fn generate(config: &GenConfig) -> History {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed);
    let clock = Arc::new(AtomicU64::new(0));
    let recorder = {
        let clock = Arc::clone(&clock);
        Recorder::with_clock(move || clock.fetch_add(TICK_NS, Ordering::Relaxed))
    };
    let processes = config.processes.max(1);
    let mut slots: Vec<Slot> = (0..processes as u64)
        .map(|process| Slot {
            process,
            phase: Phase::Idle,
        })
        .collect();
    let mut store: BTreeMap<u64, Value> = BTreeMap::new();
    let mut written: Vec<Value> = Vec::new();
    let mut next_value: u64 = 0;
    let mut started = 0usize;
    let mut live: Vec<usize> = Vec::with_capacity(processes);
    loop {
        live.clear();
        live.extend(
            (0..slots.len())
                .filter(|&i| started < config.calls || !matches!(slots[i].phase, Phase::Idle)),
        );
        if live.is_empty() {
            break;
        }
        let slot = &mut slots[live[rng.random_range(0..live.len())]];
        let phase = std::mem::replace(&mut slot.phase, Phase::Idle);
        slot.phase = match phase {
            Phase::Idle => {
                started += 1;
                let call = pick_call(config, &mut rng, &store, &written, &mut next_value);
                if let Call::Write { value, .. } | Call::Cas { new: value, .. } = &call {
                    written.push(value.clone());
                }
                let (f, value) = invoke_shape(config, &call);
                Phase::Invoked(recorder.invoke(slot.process, f, value), call)
            }
            Phase::Invoked(token, call) => {
                if rng.random_bool(config.info_share / 2.0) {
                    // Crash before the step: it never happens, nobody knows.
                    token.info(invoke_shape(config, &call).1);
                    slot.process += processes as u64;
                    Phase::Idle
                } else {
                    let result = apply(&mut store, &call);
                    Phase::Applied(token, call, result)
                }
            }
            Phase::Applied(token, call, result) => {
                let (_, input) = invoke_shape(config, &call);
                if rng.random_bool(config.info_share / 2.0) {
                    token.info(input);
                    slot.process += processes as u64;
                } else {
                    match (&call, result) {
                        (Call::Read { key }, Some(value)) => {
                            token.ok(keyed(config, *key, value));
                        }
                        (_, Some(_)) => token.ok(input),
                        (_, None) => token.fail(input),
                    }
                }
                Phase::Idle
            }
        };
    }
    recorder.history()
}

fn pick_call(
    config: &GenConfig,
    rng: &mut Xoshiro256PlusPlus,
    store: &BTreeMap<u64, Value>,
    written: &[Value],
    next_value: &mut u64,
) -> Call {
    let key = config
        .keys
        .map_or(0, |keys| rng.random_range(0..keys.max(1)));
    let mut fresh = |rng: &mut Xoshiro256PlusPlus| match config.value_domain {
        None => {
            *next_value += 1;
            json!(*next_value)
        }
        Some(domain) => json!(rng.random_range(0..domain.max(1))),
    };
    let roll: f64 = rng.random();
    if roll < 0.4 {
        Call::Read { key }
    } else if !config.cas || roll < 0.75 {
        Call::Write {
            key,
            value: fresh(rng),
        }
    } else {
        let expected = if written.is_empty() || rng.random_bool(0.7) {
            store.get(&key).cloned().unwrap_or(Value::Null)
        } else {
            written[rng.random_range(0..written.len())].clone()
        };
        Call::Cas {
            key,
            expected,
            new: fresh(rng),
        }
    }
}

/// The real atomic step. `None` means the call was refused (a cas that did not match).
fn apply(store: &mut BTreeMap<u64, Value>, call: &Call) -> Option<Value> {
    match call {
        Call::Read { key } => Some(store.get(key).cloned().unwrap_or(Value::Null)),
        Call::Write { key, value } => {
            store.insert(*key, value.clone());
            Some(Value::Null)
        }
        Call::Cas { key, expected, new } => {
            let current = store.get(key).unwrap_or(&Value::Null);
            if current == expected {
                store.insert(*key, new.clone());
                Some(Value::Null)
            } else {
                None
            }
        }
    }
}

fn keyed(config: &GenConfig, key: u64, value: Value) -> Value {
    match config.keys {
        None => value,
        Some(_) => json!([key, value]),
    }
}

fn invoke_shape(config: &GenConfig, call: &Call) -> (&'static str, Value) {
    match call {
        Call::Read { key } => ("read", keyed(config, *key, Value::Null)),
        Call::Write { key, value } => ("write", keyed(config, *key, value.clone())),
        Call::Cas { key, expected, new } => ("cas", keyed(config, *key, json!([expected, new]))),
    }
}

/// A change that makes a linearizable history non-linearizable by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutation {
    /// An `ok` read returns a value that no call ever wrote.
    ReadNeverWritten,
    /// An `ok` read returns the value of a write that an `ok` write overwrote, although
    /// the read began after the overwrite completed. Needs unique written values (the
    /// generator's default) to be a violation.
    StaleRead,
}

/// Applies `mutation` to a history from [`generate`] (whose shape `keyed` says). When the
/// history has no place for it (no suitable read), three sequential calls by a new process
/// are appended that commit it.
pub fn mutate(history: &History, mutation: Mutation, keyed: bool, seed: u64) -> History {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut out = history.clone();
    let calls = history.calls();
    let split = |value: &Value| -> (Option<Value>, Value) {
        match (keyed, value) {
            (true, Value::Array(pair)) if pair.len() == 2 => {
                (Some(pair[0].clone()), pair[1].clone())
            }
            _ => (None, value.clone()),
        }
    };
    let join = |key: &Option<Value>, value: Value| match key {
        Some(key) => json!([key, value]),
        None => value,
    };
    let mut reads: Vec<usize> = (0..calls.len())
        .filter(|&i| calls[i].f == "read" && matches!(calls[i].outcome, super::Outcome::Ok(_)))
        .collect();
    // Seeded shuffle so the mutation lands in a different place per seed.
    for i in (1..reads.len()).rev() {
        reads.swap(i, rng.random_range(0..=i));
    }
    match mutation {
        Mutation::ReadNeverWritten => {
            if let Some(&r) = reads.first() {
                let complete = calls[r].complete.unwrap_or(calls[r].invoke);
                let (key, _) = split(&out.ops[complete].value);
                out.ops[complete].value = join(&key, json!("never-written"));
                return out;
            }
        }
        Mutation::StaleRead => {
            let writes: Vec<&super::Call> = calls
                .iter()
                .filter(|c| c.f == "write" && matches!(c.outcome, super::Outcome::Ok(_)))
                .collect();
            for &r in &reads {
                let read = &calls[r];
                let (key, _) = split(&read.input);
                let on_key = |c: &&&super::Call| split(&c.input).0 == key;
                let Some(overwrite) = writes
                    .iter()
                    .filter(on_key)
                    .filter(|w| w.complete.is_some_and(|c| c < read.invoke))
                    .max_by_key(|w| w.complete)
                else {
                    continue;
                };
                let overwritten_value = split(&overwrite.input).1;
                let Some(old) = writes
                    .iter()
                    .filter(on_key)
                    .filter(|w| w.complete.is_some_and(|c| c < overwrite.invoke))
                    .filter(|w| split(&w.input).1 != overwritten_value)
                    .max_by_key(|w| w.complete)
                else {
                    continue;
                };
                let complete = read.complete.unwrap_or(read.invoke);
                out.ops[complete].value = join(&key, split(&old.input).1);
                return out;
            }
        }
    }
    append_violation(&mut out, mutation, keyed);
    out
}

fn append_violation(history: &mut History, mutation: Mutation, keyed: bool) {
    let process = history
        .ops
        .iter()
        .map(|op| op.process)
        .max()
        .map_or(0, |p| p + 1);
    let key = keyed.then(|| json!(0));
    let wrap = |value: Value| match &key {
        Some(key) => json!([key, value]),
        None => value,
    };
    let mut time = history.ops.last().map_or(0, |op| op.time);
    let mut push = |kind: OpType, f: &str, value: Value| {
        time += TICK_NS;
        history.ops.push(Op {
            kind,
            process,
            f: f.to_string(),
            value,
            time,
            extra: BTreeMap::new(),
        });
        history.lines.push(history.ops.len());
    };
    let read_value = match mutation {
        Mutation::ReadNeverWritten => json!("never-written"),
        Mutation::StaleRead => {
            for value in ["stale-a", "stale-b"] {
                push(OpType::Invoke, "write", wrap(json!(value)));
                push(OpType::Ok, "write", wrap(json!(value)));
            }
            json!("stale-a")
        }
    };
    push(OpType::Invoke, "read", wrap(Value::Null));
    push(OpType::Ok, "read", wrap(read_value));
}
