//! Knossos's set: elements added, and reads of the whole set.
//!
//! | f      | invoke value | ok value                      |
//! |--------|--------------|-------------------------------|
//! | `add`  | the element  | the element                   |
//! | `read` | `null`       | every element, in any order   |
//!
//! The set starts empty; adding an element twice keeps one.

use serde_json::Value;

use crate::history::Call;

use super::super::model::Model;
use super::super::value::{Interner, ValueId};

/// A set op.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SetOp {
    /// Adds an element.
    Add(ValueId),
    /// Reads the set: its elements, sorted, or `None` when unknown.
    Read(Option<Vec<ValueId>>),
}

/// The set model; its state is the elements, sorted.
#[derive(Debug, Clone, Copy, Default)]
pub struct Set;

impl Model for Set {
    type State = Vec<ValueId>;
    type Op = SetOp;

    fn name(&self) -> &'static str {
        "set"
    }

    fn init(&self) -> Vec<ValueId> {
        Vec::new()
    }

    fn compile(&self, call: &Call, values: &mut Interner) -> Result<SetOp, String> {
        match call.f.as_str() {
            "add" => Ok(SetOp::Add(values.intern(&call.input))),
            "read" => {
                let Some(seen) = super::output(call) else {
                    return Ok(SetOp::Read(None));
                };
                let Value::Array(items) = seen else {
                    return Err(format!(
                        "a read's ok value is an array of elements, found {seen}"
                    ));
                };
                let mut ids: Vec<ValueId> = items.iter().map(|v| values.intern(v)).collect();
                ids.sort();
                ids.dedup();
                Ok(SetOp::Read(Some(ids)))
            }
            other => Err(format!("f must be add or read, found {other:?}")),
        }
    }

    fn step(&self, state: &Vec<ValueId>, op: &SetOp) -> Option<Vec<ValueId>> {
        match op {
            SetOp::Add(element) => {
                let mut next = state.clone();
                if let Err(at) = next.binary_search(element) {
                    next.insert(at, *element);
                }
                Some(next)
            }
            SetOp::Read(None) => Some(state.clone()),
            SetOp::Read(Some(seen)) => (seen == state).then(|| state.clone()),
        }
    }

    fn explain(&self, state: &Vec<ValueId>, op: &SetOp, values: &Interner) -> String {
        match op {
            SetOp::Read(Some(seen)) => format!(
                "read {} but the set was {}",
                show(seen, values),
                show(state, values)
            ),
            _ => "always possible".into(),
        }
    }

    fn show_op(&self, op: &SetOp, values: &Interner) -> String {
        match op {
            SetOp::Add(element) => format!("add {}", values.show(*element)),
            SetOp::Read(None) => "read -> ?".into(),
            SetOp::Read(Some(seen)) => format!("read -> {}", show(seen, values)),
        }
    }

    fn show_state(&self, state: &Vec<ValueId>, values: &Interner) -> String {
        show(state, values)
    }

    fn read_only(&self, op: &SetOp) -> bool {
        matches!(op, SetOp::Read(_))
    }

    fn state_heap_bytes(&self, state: &Vec<ValueId>) -> usize {
        state.len() * std::mem::size_of::<ValueId>()
    }
}

fn show(elements: &[ValueId], values: &Interner) -> String {
    let shown: Vec<String> = elements.iter().map(|e| values.show(*e)).collect();
    format!("#{{{}}}", shown.join(" "))
}
