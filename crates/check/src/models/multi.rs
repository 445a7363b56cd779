//! The multi-key map: single-key ops as in the key-value model plus atomic multi-key
//! transactions, checked whole (never split by key) so that a transaction seen half
//! applied is caught.
//!
//! A transaction is `f = "txn"` (or `"multi"`) whose value is a list of micro-ops
//! `[f, key, value]`, as in Jepsen's transactional histories: `["r", k, null]` on the
//! invoke and `["r", k, v]` on the `ok` for a read, `["w", k, v]` for a write, and
//! `["cas", k, [expected, new]]` for a compare-and-set (`read`/`write` spell `r`/`w` too).
//! Micro-ops apply in order, all or nothing; a transaction refused as a whole is a
//! `fail`. Single-key `read`/`write`/`cas` take `[key, value]` as in `kv`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::history::Call;

use super::super::model::{Binding, Footprint, Model};
use super::super::value::{Interner, ValueId};
use super::RegOp;

/// One micro-op of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Micro {
    /// The key it touches.
    pub key: ValueId,
    /// What it does to the key.
    pub op: RegOp,
}

/// The whole map: keys holding `null` are left out, so equal maps hash equally.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct MultiState(pub BTreeMap<ValueId, ValueId>);

impl MultiState {
    fn get(&self, key: ValueId) -> ValueId {
        self.0.get(&key).copied().unwrap_or(ValueId::NULL)
    }

    fn set(&mut self, key: ValueId, value: ValueId) {
        if value == ValueId::NULL {
            self.0.remove(&key);
        } else {
            self.0.insert(key, value);
        }
    }
}

/// The multi-key map model.
#[derive(Debug, Clone, Copy, Default)]
pub struct Multi;

impl Multi {
    fn compile_txn(
        input: &Value,
        output: Option<&Value>,
        values: &mut Interner,
    ) -> Result<Vec<Micro>, String> {
        let micros = input
            .as_array()
            .ok_or_else(|| format!("txn value must be a list of [f, key, value], found {input}"))?;
        let outs = match output {
            Some(out) => {
                let outs = out
                    .as_array()
                    .filter(|outs| outs.len() == micros.len())
                    .ok_or_else(|| {
                        format!(
                            "txn completion must list the same {} micro-ops, found {out}",
                            micros.len()
                        )
                    })?;
                Some(outs)
            }
            None => None,
        };
        let mut compiled = Vec::with_capacity(micros.len());
        for (index, micro) in micros.iter().enumerate() {
            let (f, key, value) = triple(micro)?;
            let out_value = match outs {
                Some(outs) => {
                    let (out_f, out_key, out_value) = triple(&outs[index])?;
                    if out_f != f || out_key != key {
                        return Err(format!(
                            "txn completion micro-op {} is {} but the invoke had {micro}",
                            index + 1,
                            outs[index]
                        ));
                    }
                    Some(out_value)
                }
                None => None,
            };
            compiled.push(Micro {
                key: values.intern(key),
                op: super::reg_op(f, value, out_value, true, values)
                    .map_err(|e| format!("txn micro-op {}: {e}", index + 1))?,
            });
        }
        Ok(compiled)
    }
}

fn triple(micro: &Value) -> Result<(&str, &Value, &Value), String> {
    match micro.as_array().map(Vec::as_slice) {
        Some([Value::String(f), key, value]) => Ok((f, key, value)),
        _ => Err(format!("micro-op must be [f, key, value], found {micro}")),
    }
}

impl Model for Multi {
    type State = MultiState;
    type Op = Vec<Micro>;

    fn name(&self) -> &'static str {
        "multi"
    }

    fn init(&self) -> MultiState {
        MultiState::default()
    }

    fn compile(&self, call: &Call, values: &mut Interner) -> Result<Vec<Micro>, String> {
        let output = super::output(call);
        if call.f == "txn" || call.f == "multi" {
            return Self::compile_txn(&call.input, output, values);
        }
        let (key, input) = super::keyed(&call.input, "value")?;
        let out_value = match output {
            Some(out) => Some(super::keyed(out, "value")?.1),
            None => None,
        };
        Ok(vec![Micro {
            key: values.intern(key),
            op: super::reg_op(&call.f, input, out_value, true, values)?,
        }])
    }

    fn step(&self, state: &MultiState, op: &Vec<Micro>) -> Option<MultiState> {
        let mut next = state.clone();
        for micro in op {
            let value = micro.op.step(next.get(micro.key))?;
            next.set(micro.key, value);
        }
        Some(next)
    }

    fn explain(&self, state: &MultiState, op: &Vec<Micro>, values: &Interner) -> String {
        let mut next = state.clone();
        for micro in op {
            match micro.op.step(next.get(micro.key)) {
                Some(value) => next.set(micro.key, value),
                None => {
                    return format!(
                        "key {}: {}",
                        values.show(micro.key),
                        micro.op.explain(next.get(micro.key), values)
                    );
                }
            }
        }
        "always possible".to_string()
    }

    fn show_op(&self, op: &Vec<Micro>, values: &Interner) -> String {
        let parts: Vec<String> = op
            .iter()
            .map(|micro| format!("{} {}", values.show(micro.key), micro.op.show(values)))
            .collect();
        match parts.as_slice() {
            [one] => one.clone(),
            _ => format!("txn [{}]", parts.join(", ")),
        }
    }

    fn show_state(&self, state: &MultiState, values: &Interner) -> String {
        let parts: Vec<String> = state
            .0
            .iter()
            .map(|(key, value)| format!("{}={}", values.show(*key), values.show(*value)))
            .collect();
        format!("{{{}}}", parts.join(", "))
    }

    fn footprint(&self, op: &Vec<Micro>) -> Footprint {
        // A read of a key the transaction itself wrote earlier depends on that write, not
        // on the state before; only the last write to a key is visible afterwards.
        let mut reads = BTreeSet::new();
        let mut written: BTreeMap<ValueId, ValueId> = BTreeMap::new();
        for micro in op {
            let (mut r, mut w) = (Vec::new(), Vec::new());
            micro.op.bindings(micro.key, &mut r, &mut w);
            for binding in r {
                if !written.contains_key(&binding.key) {
                    reads.insert(binding);
                }
            }
            for binding in w {
                written.insert(binding.key, binding.value);
            }
        }
        Footprint::Bindings {
            reads: reads.into_iter().collect(),
            writes: written
                .into_iter()
                .map(|(key, value)| Binding { key, value })
                .collect(),
        }
    }

    fn state_heap_bytes(&self, state: &MultiState) -> usize {
        state.0.len() * 2 * std::mem::size_of::<ValueId>() + 32
    }
}
