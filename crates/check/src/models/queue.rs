//! Knossos's queues: `fifo-queue` (dequeues in the order of enqueues) and
//! `unordered-queue` (any element that is in it).
//!
//! | f         | invoke value | ok value                                   |
//! |-----------|--------------|--------------------------------------------|
//! | `enqueue` | the element  | the element                                |
//! | `dequeue` | `null`       | the element taken, or `null` for an empty queue |
//!
//! Queues start empty. A dequeue whose outcome is unknown takes the head of a FIFO queue
//! (or nothing from an empty one). For the unordered queue it is taken never to have
//! happened: which element it would have taken is unknowable, and the checker's model
//! steps are deterministic. A history whose correctness depends on such a dequeue
//! having taken an element may then be reported as a violation.

use std::collections::VecDeque;

use crate::history::Call;

use super::super::model::Model;
use super::super::value::{Interner, ValueId};

/// A queue op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueOp {
    /// Adds an element.
    Enqueue(ValueId),
    /// Takes an element: the one it returned (`NULL` for an empty queue), or `None` when
    /// unknown.
    Dequeue(Option<ValueId>),
}

/// The queue models; `fifo` for `fifo-queue`, else `unordered-queue`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Queue {
    /// Whether dequeues come out in enqueue order.
    pub fifo: bool,
}

impl Model for Queue {
    /// The elements, oldest first (an unordered queue keeps them sorted instead, so equal
    /// multisets are one state).
    type State = VecDeque<ValueId>;
    type Op = QueueOp;

    fn name(&self) -> &'static str {
        if self.fifo {
            "fifo-queue"
        } else {
            "unordered-queue"
        }
    }

    fn init(&self) -> VecDeque<ValueId> {
        VecDeque::new()
    }

    fn compile(&self, call: &Call, values: &mut Interner) -> Result<QueueOp, String> {
        match call.f.as_str() {
            "enqueue" => Ok(QueueOp::Enqueue(values.intern(&call.input))),
            "dequeue" => Ok(QueueOp::Dequeue(
                super::output(call).map(|taken| values.intern(taken)),
            )),
            other => Err(format!("f must be enqueue or dequeue, found {other:?}")),
        }
    }

    fn step(&self, state: &VecDeque<ValueId>, op: &QueueOp) -> Option<VecDeque<ValueId>> {
        match *op {
            QueueOp::Enqueue(element) => {
                let mut next = state.clone();
                if self.fifo {
                    next.push_back(element);
                } else {
                    let at = next.partition_point(|e| *e <= element);
                    next.insert(at, element);
                }
                Some(next)
            }
            QueueOp::Dequeue(Some(ValueId::NULL)) => state.is_empty().then(|| state.clone()),
            QueueOp::Dequeue(Some(taken)) => {
                let at = if self.fifo {
                    (state.front() == Some(&taken)).then_some(0)?
                } else {
                    state.iter().position(|e| *e == taken)?
                };
                let mut next = state.clone();
                next.remove(at);
                Some(next)
            }
            QueueOp::Dequeue(None) if self.fifo => {
                let mut next = state.clone();
                next.pop_front();
                Some(next)
            }
            QueueOp::Dequeue(None) => None,
        }
    }

    fn explain(&self, state: &VecDeque<ValueId>, op: &QueueOp, values: &Interner) -> String {
        match *op {
            QueueOp::Dequeue(Some(ValueId::NULL)) => {
                format!("dequeue found it empty but it held {}", show(state, values))
            }
            QueueOp::Dequeue(Some(taken)) if self.fifo => format!(
                "dequeue took {} but the head was {}",
                values.show(taken),
                state.front().map_or("nothing".into(), |e| values.show(*e))
            ),
            QueueOp::Dequeue(Some(taken)) => format!(
                "dequeue took {} but the queue held {}",
                values.show(taken),
                show(state, values)
            ),
            _ => "always possible".into(),
        }
    }

    fn show_op(&self, op: &QueueOp, values: &Interner) -> String {
        match *op {
            QueueOp::Enqueue(element) => format!("enqueue {}", values.show(element)),
            QueueOp::Dequeue(None) => "dequeue -> ?".into(),
            QueueOp::Dequeue(Some(taken)) => format!("dequeue -> {}", values.show(taken)),
        }
    }

    fn show_state(&self, state: &VecDeque<ValueId>, values: &Interner) -> String {
        show(state, values)
    }

    fn state_heap_bytes(&self, state: &VecDeque<ValueId>) -> usize {
        state.len() * std::mem::size_of::<ValueId>()
    }
}

fn show(elements: &VecDeque<ValueId>, values: &Interner) -> String {
    let shown: Vec<String> = elements.iter().map(|e| values.show(*e)).collect();
    format!("[{}]", shown.join(" "))
}
