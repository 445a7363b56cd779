//! The key-value map: independent registers with compare-and-set, one per key, checked
//! key by key (P-compositionality, as Jepsen's independent checker does).
//!
//! | f       | invoke value           | ok value               |
//! |---------|------------------------|------------------------|
//! | `read`  | `[key, null]`          | `[key, value read]`    |
//! | `write` | `[key, value]`         | `[key, value]`         |
//! | `cas`   | `[key, [expected, new]]` | `[key, [expected, new]]` |
//!
//! Every key starts as `null`.

use crate::history::Call;

use super::super::model::{Footprint, Model};
use super::super::value::{Interner, ValueId};
use super::RegOp;

/// A key-value op: which key, and the register op on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KvOp {
    /// The key.
    pub key: ValueId,
    /// What happens to the key's register.
    pub op: RegOp,
}

/// The key-value model. Its state is one key's register: the checker splits the history
/// by key first, so a search only ever sees one key.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kv;

impl Model for Kv {
    type State = ValueId;
    type Op = KvOp;

    fn name(&self) -> &'static str {
        "kv"
    }

    fn init(&self) -> ValueId {
        ValueId::NULL
    }

    fn compile(&self, call: &Call, values: &mut Interner) -> Result<KvOp, String> {
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
        Ok(KvOp {
            key: values.intern(key),
            op: super::reg_op(&call.f, input, output, true, values)?,
        })
    }

    fn step(&self, state: &ValueId, op: &KvOp) -> Option<ValueId> {
        op.op.step(*state)
    }

    fn explain(&self, state: &ValueId, op: &KvOp, values: &Interner) -> String {
        format!(
            "key {}: {}",
            values.show(op.key),
            op.op.explain(*state, values)
        )
    }

    fn show_op(&self, op: &KvOp, values: &Interner) -> String {
        format!("{} {}", super::show_key(op.key, values), op.op.show(values))
    }

    fn show_state(&self, state: &ValueId, values: &Interner) -> String {
        values.show(*state)
    }

    fn partition(&self, op: &KvOp) -> Option<ValueId> {
        Some(op.key)
    }

    fn merge_unobserved(&self, ops: &mut [KvOp], _values: &mut Interner) {
        super::merge_unobserved(ops, |op| &mut op.op, |op, merged| *op = merged);
    }

    fn forces_at(&self, state: &ValueId, op: &KvOp) -> bool {
        op.op.changes_nothing_unread(*state)
    }

    fn footprint(&self, op: &KvOp) -> Footprint {
        let (mut reads, mut writes) = (Vec::new(), Vec::new());
        op.op.bindings(op.key, &mut reads, &mut writes);
        Footprint::Bindings { reads, writes }
    }
}
