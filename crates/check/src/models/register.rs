//! The register and the compare-and-set register.
//!
//! | f       | invoke value      | ok value          |
//! |---------|-------------------|-------------------|
//! | `read`  | `null`            | the value read    |
//! | `write` | the value         | the value         |
//! | `cas`   | `[expected, new]` | `[expected, new]` |
//!
//! A cas whose expected value did not match is recorded as `fail` (it took no effect).
//! The register starts as `null`.

use crate::history::Call;

use super::super::model::{Binding, Footprint, Model};
use super::super::value::{Interner, ValueId};

/// A register op. Also the per-key op of the key-value and multi-key models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegOp {
    /// A read; the value it returned, or `None` when unknown.
    Read(Option<ValueId>),
    /// A write of the value.
    Write(ValueId),
    /// Compare-and-set: `(expected, new)`.
    Cas(ValueId, ValueId),
}

impl RegOp {
    /// The register after `self` from `current`, or `None` when `self` could not happen.
    pub fn step(self, current: ValueId) -> Option<ValueId> {
        match self {
            RegOp::Read(None) => Some(current),
            RegOp::Read(Some(seen)) => (seen == current).then_some(current),
            RegOp::Write(value) => Some(value),
            RegOp::Cas(expected, new) => (expected == current).then_some(new),
        }
    }

    /// Why `step` refused `self` on `current`.
    pub fn explain(self, current: ValueId, values: &Interner) -> String {
        match self {
            RegOp::Read(Some(seen)) => format!(
                "read {} but the value was {}",
                values.show(seen),
                values.show(current)
            ),
            RegOp::Cas(expected, _) => format!(
                "cas expected {} but the value was {}",
                values.show(expected),
                values.show(current)
            ),
            _ => "always possible".to_string(),
        }
    }

    /// The op for humans.
    pub fn show(self, values: &Interner) -> String {
        match self {
            RegOp::Read(None) => "read -> ?".to_string(),
            RegOp::Read(Some(seen)) => format!("read -> {}", values.show(seen)),
            RegOp::Write(value) => format!("write {}", values.show(value)),
            RegOp::Cas(expected, new) => {
                format!("cas {} -> {}", values.show(expected), values.show(new))
            }
        }
    }

    /// A write of an unread value while the value is one already: it changes nothing, and
    /// wherever else it would have gone, only ops that succeed on any value (writes,
    /// reads of unknown outcome) could follow it before the next write, so it may go
    /// now with no alternative tried (see [`Model::forces_at`]).
    pub fn changes_nothing_unread(self, current: ValueId) -> bool {
        self == RegOp::Write(ValueId::UNREAD) && current == ValueId::UNREAD
    }

    /// The value this op compares the state with, if any (what a read returned, what a cas
    /// expected).
    pub fn observes(self) -> Option<ValueId> {
        match self {
            RegOp::Read(seen) => seen,
            RegOp::Cas(expected, _) => Some(expected),
            RegOp::Write(_) => None,
        }
    }

    /// The op with the value it writes replaced by `merged` when `unobserved` says no op
    /// compares with it (see [`Model::merge_unobserved`]).
    pub fn merged(self, unobserved: impl Fn(ValueId) -> bool, merged: ValueId) -> RegOp {
        let keep = |value| if unobserved(value) { merged } else { value };
        match self {
            RegOp::Write(value) => RegOp::Write(keep(value)),
            RegOp::Cas(expected, new) => RegOp::Cas(expected, keep(new)),
            read => read,
        }
    }

    /// The op's bindings on `key` (see [`Model::footprint`]).
    pub fn bindings(self, key: ValueId, reads: &mut Vec<Binding>, writes: &mut Vec<Binding>) {
        match self {
            RegOp::Read(None) => {}
            RegOp::Read(Some(value)) => reads.push(Binding { key, value }),
            RegOp::Write(value) => writes.push(Binding { key, value }),
            RegOp::Cas(expected, new) => {
                reads.push(Binding {
                    key,
                    value: expected,
                });
                writes.push(Binding { key, value: new });
            }
        }
    }
}

/// A single register; with `cas` it also takes compare-and-set.
#[derive(Debug, Clone, Copy, Default)]
pub struct Register {
    /// Whether `cas` is part of the vocabulary (`cas-register`).
    pub cas: bool,
}

impl Model for Register {
    type State = ValueId;
    type Op = RegOp;

    fn name(&self) -> &'static str {
        if self.cas { "cas-register" } else { "register" }
    }

    fn init(&self) -> ValueId {
        ValueId::NULL
    }

    fn compile(&self, call: &Call, values: &mut Interner) -> Result<RegOp, String> {
        super::reg_op(&call.f, &call.input, super::output(call), self.cas, values)
    }

    fn step(&self, state: &ValueId, op: &RegOp) -> Option<ValueId> {
        op.step(*state)
    }

    fn explain(&self, state: &ValueId, op: &RegOp, values: &Interner) -> String {
        op.explain(*state, values)
    }

    fn show_op(&self, op: &RegOp, values: &Interner) -> String {
        op.show(values)
    }

    fn show_state(&self, state: &ValueId, values: &Interner) -> String {
        values.show(*state)
    }

    fn footprint(&self, op: &RegOp) -> Footprint {
        let (mut reads, mut writes) = (Vec::new(), Vec::new());
        op.bindings(ValueId::NULL, &mut reads, &mut writes);
        Footprint::Bindings { reads, writes }
    }

    fn merge_unobserved(&self, ops: &mut [RegOp], _values: &mut Interner) {
        super::merge_unobserved(ops, |op| op, |op, merged| *op = merged);
    }

    fn forces_at(&self, state: &ValueId, op: &RegOp) -> bool {
        op.changes_nothing_unread(*state)
    }
}
