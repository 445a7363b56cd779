//! What the checker needs from a model: a sequential specification plus two hints that
//! keep the search small.

use std::fmt::Debug;
use std::hash::Hash;

use crate::history::Call;

use super::value::{Interner, ValueId};

/// A sequential specification of an object, against which a concurrent history is
/// checked.
///
/// The checker compiles each call into an [`Model::Op`] once, then searches for an order
/// of the ops in which every `step` succeeds. States are hashed into the search's cache,
/// so they should be small: values are interned as [`ValueId`]s.
pub trait Model {
    /// Everything the object's future behaviour depends on.
    type State: Clone + Eq + Hash + Debug;
    /// One call in the model's terms, with its observed result when it was `ok` and
    /// without one when its outcome is unknown.
    type Op: Clone + Debug;

    /// The name users pass to `--model`.
    fn name(&self) -> &'static str;

    /// The state before any op.
    fn init(&self) -> Self::State;

    /// Reads a call (its `f`, input and, when `ok`, output). A `fail` or unknown outcome
    /// is compiled like an unknown one. Errors say what is wrong with the value.
    fn compile(&self, call: &Call, values: &mut Interner) -> Result<Self::Op, String>;

    /// Applies `op` to `state`: the next state, or `None` when `op` could not have
    /// happened in `state` (a read that saw something else, a cas that would not match).
    fn step(&self, state: &Self::State, op: &Self::Op) -> Option<Self::State>;

    /// Why `step` refused `op` in `state`, for reports.
    fn explain(&self, state: &Self::State, op: &Self::Op, values: &Interner) -> String;

    /// The op for humans, e.g. `read -> 3` or `cas 1 -> 2`.
    fn show_op(&self, op: &Self::Op, values: &Interner) -> String;

    /// The state for humans.
    fn show_state(&self, state: &Self::State, values: &Interner) -> String;

    /// P-compositionality: the part of the object `op` touches. When every op names a
    /// part, ops of different parts commute and each part starts from `init()` on its
    /// own, the checker checks each part as a separate, much smaller history. `None`: the
    /// history is checked whole.
    fn partition(&self, _op: &Self::Op) -> Option<ValueId> {
        None
    }

    /// The `(key, value)` bindings `op` reads and writes, for pruning ops of unknown
    /// outcome. `Opaque` (the default) turns pruning off for the op.
    ///
    /// # Correctness requirements
    ///
    /// A model that returns `Bindings` promises, for its states:
    /// - an op succeeds in a state exactly when every binding it reads holds there, and
    ///   then it makes the bindings it writes hold and changes nothing else;
    /// - the initial state holds `(key, null)` for every key.
    ///
    /// From these: an unknown-outcome op whose written bindings nobody else reads may be
    /// assumed never to have happened, and one that is the only writer of a binding an
    /// `ok` op reads must have happened before that op completed.
    fn footprint(&self, _op: &Self::Op) -> Footprint {
        Footprint::Opaque
    }

    /// True when `op` never changes the state it succeeds in (a read). The search
    /// linearizes such an op as soon as it can and tries no alternative to it, which
    /// removes the subsets of concurrent reads from the search. The default reads the
    /// footprint: bindings that write nothing.
    fn read_only(&self, op: &Self::Op) -> bool {
        matches!(self.footprint(op), Footprint::Bindings { writes, .. } if writes.is_empty())
    }

    /// Symmetry: gives every value that no op can tell apart from another one id, before
    /// the search. For a register, a write of a value that no read returns and no cas
    /// expects leaves a state every later op treats alike, whichever such value it was;
    /// with one id for all of them, configurations that differ only in which unread
    /// value is current are one configuration in the cache, and the search does not
    /// explore their orders again. `values` interns the shared id. Default: nothing.
    fn merge_unobserved(&self, _ops: &mut [Self::Op], _values: &mut Interner) {}

    /// An op (not read-only) that may be linearized at once in `state`, with no
    /// alternative tried, when it succeeds there: as for read-only ops, this must hold
    /// only when moving `op` to this point, from wherever a linearization would place it,
    /// keeps that linearization valid. Default: none.
    fn forces_at(&self, _state: &Self::State, _op: &Self::Op) -> bool {
        false
    }

    /// Bytes a cached state takes beyond `size_of::<State>()`, for the memory budget.
    fn state_heap_bytes(&self, _state: &Self::State) -> usize {
        0
    }
}

/// What an op reads and writes, as `(key, value)` bindings; see [`Model::footprint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Footprint {
    /// The model makes no promise about this op; it is never pruned.
    Opaque,
    /// The bindings the op requires to hold, and the ones it makes hold.
    Bindings {
        /// Bindings that must hold for the op to succeed.
        reads: Vec<Binding>,
        /// Bindings that hold after it.
        writes: Vec<Binding>,
    },
}

/// A key holding a value. Models without keys use [`ValueId::NULL`] as the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Binding {
    /// The key (a register's only key is `null`).
    pub key: ValueId,
    /// The value it holds.
    pub value: ValueId,
}
