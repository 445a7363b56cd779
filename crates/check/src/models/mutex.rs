//! Knossos's mutex: a lock that one process holds at a time.
//!
//! | f         | invoke value | ok value |
//! |-----------|--------------|----------|
//! | `acquire` | anything     | anything |
//! | `release` | anything     | anything |
//!
//! An `acquire` takes effect only on a free lock, a `release` only on a held one (who
//! holds it is not checked, as in Knossos). The lock starts free.

use crate::history::Call;

use super::super::model::Model;
use super::super::value::Interner;

/// A mutex op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MutexOp {
    /// Takes the lock.
    Acquire,
    /// Gives it back.
    Release,
}

/// The mutex model; its state is whether the lock is held.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mutex;

impl Model for Mutex {
    type State = bool;
    type Op = MutexOp;

    fn name(&self) -> &'static str {
        "mutex"
    }

    fn init(&self) -> bool {
        false
    }

    fn compile(&self, call: &Call, _values: &mut Interner) -> Result<MutexOp, String> {
        match call.f.as_str() {
            "acquire" => Ok(MutexOp::Acquire),
            "release" => Ok(MutexOp::Release),
            other => Err(format!("f must be acquire or release, found {other:?}")),
        }
    }

    fn step(&self, held: &bool, op: &MutexOp) -> Option<bool> {
        match op {
            MutexOp::Acquire => (!held).then_some(true),
            MutexOp::Release => held.then_some(false),
        }
    }

    fn explain(&self, held: &bool, op: &MutexOp, _values: &Interner) -> String {
        match (op, held) {
            (MutexOp::Acquire, true) => "acquire while the lock is held".into(),
            (MutexOp::Release, false) => "release of a lock nobody holds".into(),
            _ => "always possible".into(),
        }
    }

    fn show_op(&self, op: &MutexOp, _values: &Interner) -> String {
        match op {
            MutexOp::Acquire => "acquire".into(),
            MutexOp::Release => "release".into(),
        }
    }

    fn show_state(&self, held: &bool, _values: &Interner) -> String {
        if *held { "held" } else { "free" }.into()
    }
}
