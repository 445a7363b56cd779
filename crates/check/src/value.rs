//! Interned JSON values: models compare and hash small integers instead of JSON trees.

use std::collections::HashMap;

use serde_json::Value;

/// A JSON value seen in the history, as a small integer. [`ValueId::NULL`] is JSON
/// `null`, the value of a register or key never written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValueId(pub u32);

impl ValueId {
    /// JSON `null`: the initial value of every register and key.
    pub const NULL: ValueId = ValueId(0);
    /// Every value that no op of a history observes, merged into one (see
    /// `Model::merge_unobserved`); never given to a value by an [`Interner`].
    pub const UNREAD: ValueId = ValueId(u32::MAX);
}

/// Gives each distinct JSON value one [`ValueId`] and turns ids back into values for
/// reports. Equal values (by their canonical JSON text) get equal ids.
#[derive(Debug, Clone)]
pub struct Interner {
    ids: HashMap<String, ValueId>,
    values: Vec<Value>,
}

impl Default for Interner {
    fn default() -> Self {
        let mut interner = Interner {
            ids: HashMap::new(),
            values: Vec::new(),
        };
        interner.intern(&Value::Null);
        interner
    }
}

impl Interner {
    /// The id of `value`, new or existing.
    pub fn intern(&mut self, value: &Value) -> ValueId {
        // serde_json's maps are ordered, so equal objects print equal text.
        let text = value.to_string();
        if let Some(id) = self.ids.get(&text) {
            return *id;
        }
        let id = ValueId(
            u32::try_from(self.values.len())
                .unwrap_or(u32::MAX - 1)
                .min(u32::MAX - 1),
        );
        self.ids.insert(text, id);
        self.values.push(value.clone());
        id
    }

    /// The value behind `id` (null for an id this interner never gave).
    pub fn value(&self, id: ValueId) -> &Value {
        self.values.get(id.0 as usize).unwrap_or(&Value::Null)
    }

    /// The value behind `id` as compact JSON text, for reports.
    pub fn show(&self, id: ValueId) -> String {
        if id == ValueId::UNREAD {
            return "(a value no read returned)".to_string();
        }
        self.value(id).to_string()
    }
}
