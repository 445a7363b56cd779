//! The search: Wing and Gong's backtracking over a linked list of call and return events,
//! with Lowe's memoisation of visited configurations (the set of linearized ops plus the
//! model state).
//!
//! The list holds, in real-time order, a call event per op and a return event per
//! required op. From the head, every call before the first return is a candidate to
//! linearize next: applying it to the model must succeed and give a configuration not
//! seen before; then its events leave the list and the scan restarts at the head.
//! Reaching a return means its op should have been linearized already, so the search
//! backtracks. It succeeds when no required op is left; unknown-outcome ops without a
//! return event may stay unlinearized.
//!
//! The set of linearized ops is stored in the cache as a frontier (one past the highest
//! linearized op, in invoke order) plus the sorted "holes" below it: ops invoked before
//! the frontier but not linearized. An op is linearized only while it is invoked before
//! the first pending return, so the holes are about as many as the processes, and a cache
//! entry stays small however long the history is.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::time::Instant;

use super::model::Model;
use super::prepare::{Event, Part};

/// Why a search gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exhausted {
    /// The time limit passed.
    Time,
    /// The cache outgrew the memory limit.
    Memory,
}

/// Limits the search stays within; hitting one yields an unknown verdict.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub deadline: Instant,
    pub memory: usize,
}

/// The configuration at which the search first reached its deepest point.
#[derive(Debug, Clone)]
pub(crate) struct Deepest<S> {
    /// The linearized ops in order, each with the state after it.
    pub linearized: Vec<(u32, S)>,
    /// Ops that were candidates to go next.
    pub candidates: Vec<u32>,
    /// The op whose return ended the candidates, if any.
    pub blocking: Option<u32>,
    /// The state at that point.
    pub state: S,
}

/// How a search ended.
#[derive(Debug, Clone)]
pub(crate) enum Found<S> {
    Linearizable,
    NotLinearizable {
        max_depth: usize,
        deepest: Option<Box<Deepest<S>>>,
    },
    Exhausted(Exhausted),
}

/// Counters for the report.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SearchStats {
    pub configurations: usize,
    pub peak_bytes: usize,
}

/// A small, fast, non-cryptographic hasher for cache keys: the keys are not chosen by
/// an adversary, and SipHash would dominate the search's time.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u32(&mut self, word: u32) {
        self.write_u64(u64::from(word));
    }

    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }
}

#[derive(PartialEq, Eq, Hash)]
struct Key<S> {
    frontier: u32,
    holes: Box<[u32]>,
    state: S,
}

struct Frame<S> {
    op: u32,
    prev_state: S,
    prev_frontier: u32,
    prev_holes: u32,
}

/// The list of events with O(1) removal and undo (dancing links).
struct List {
    next: Vec<u32>,
    prev: Vec<u32>,
    head: u32,
    end: u32,
    has_return: Vec<bool>,
}

impl List {
    fn new(ops: usize, events: &[Event]) -> Self {
        let head = u32::try_from(2 * ops).unwrap_or(u32::MAX - 1);
        let end = head + 1;
        let mut list = List {
            next: vec![end; 2 * ops + 2],
            prev: vec![head; 2 * ops + 2],
            head,
            end,
            has_return: vec![false; ops],
        };
        let mut last = head;
        for event in events {
            let entry = match *event {
                Event::Call(op) => 2 * op,
                Event::Return(op) => {
                    list.has_return[op as usize] = true;
                    2 * op + 1
                }
            };
            list.next[last as usize] = entry;
            list.prev[entry as usize] = last;
            last = entry;
        }
        list.next[last as usize] = end;
        list.prev[end as usize] = last;
        list
    }

    fn unlink(&mut self, entry: u32) {
        let (p, n) = (self.prev[entry as usize], self.next[entry as usize]);
        self.next[p as usize] = n;
        self.prev[n as usize] = p;
    }

    fn relink(&mut self, entry: u32) {
        let (p, n) = (self.prev[entry as usize], self.next[entry as usize]);
        self.next[p as usize] = entry;
        self.prev[n as usize] = entry;
    }

    fn lift(&mut self, op: u32) {
        self.unlink(2 * op);
        if self.has_return[op as usize] {
            self.unlink(2 * op + 1);
        }
    }

    fn unlift(&mut self, op: u32) {
        if self.has_return[op as usize] {
            self.relink(2 * op + 1);
        }
        self.relink(2 * op);
    }
}

/// Searches `part` for a linearization. With `capture_depth`, records the configuration
/// where the search first reaches that many linearized ops (used on a second run to
/// explain a violation).
pub(crate) fn search<M: Model>(
    model: &M,
    part: &Part<M::Op>,
    limits: Limits,
    capture_depth: Option<usize>,
    stats: &mut SearchStats,
) -> Found<M::State> {
    let ops = &part.ops;
    let mut list = List::new(ops.len(), &part.events);
    let mut required_left = ops.iter().filter(|op| op.required).count();
    let mut state = model.init();
    let mut frontier: u32 = 0;
    let mut holes: Vec<u32> = Vec::new();
    let mut stack: Vec<Frame<M::State>> = Vec::new();
    let mut cache: HashSet<Key<M::State>, BuildHasherDefault<FastHasher>> = HashSet::default();
    let per_entry = std::mem::size_of::<Key<M::State>>() * 8 / 7 + 1 + 16;
    let per_frame = std::mem::size_of::<Frame<M::State>>();
    let mut bytes = 0usize;
    let mut max_depth = 0usize;
    let mut deepest = None;
    if capture_depth == Some(0) {
        deepest = Some(Box::new(capture(&list, &stack, &state)));
    }
    let mut entry = list.next[list.head as usize];
    let mut steps: u64 = 0;
    loop {
        if required_left == 0 {
            return Found::Linearizable;
        }
        steps += 1;
        if steps & 1023 == 0 && Instant::now() >= limits.deadline {
            return Found::Exhausted(Exhausted::Time);
        }
        if entry != list.end && entry % 2 == 0 {
            let op = entry / 2;
            if let Some(next_state) = model.step(&state, &ops[op as usize].op) {
                let (prev_frontier, prev_holes) = (frontier, holes.len() as u32);
                if op >= frontier {
                    holes.extend(frontier..op);
                    frontier = op + 1;
                } else if let Ok(at) = holes.binary_search(&op) {
                    holes.remove(at);
                }
                let key = Key {
                    frontier,
                    holes: holes.as_slice().into(),
                    state: next_state.clone(),
                };
                let key_bytes = per_entry + 4 * holes.len() + model.state_heap_bytes(&next_state);
                if cache.insert(key) {
                    bytes += key_bytes + per_frame;
                    stats.configurations += 1;
                    stats.peak_bytes = stats.peak_bytes.max(bytes);
                    if bytes > limits.memory {
                        return Found::Exhausted(Exhausted::Memory);
                    }
                    stack.push(Frame {
                        op,
                        prev_state: std::mem::replace(&mut state, next_state),
                        prev_frontier,
                        prev_holes,
                    });
                    list.lift(op);
                    if ops[op as usize].required {
                        required_left -= 1;
                    }
                    max_depth = max_depth.max(stack.len());
                    if capture_depth == Some(stack.len()) && deepest.is_none() {
                        deepest = Some(Box::new(capture(&list, &stack, &state)));
                    }
                    entry = list.next[list.head as usize];
                    continue;
                }
                restore(&mut holes, &mut frontier, op, prev_frontier, prev_holes);
            }
            entry = list.next[entry as usize];
            continue;
        }
        // A return (or the end): the ops linearized so far cannot be extended here.
        let Some(frame) = stack.pop() else {
            return Found::NotLinearizable { max_depth, deepest };
        };
        bytes -= per_frame;
        let op = frame.op;
        list.unlift(op);
        if ops[op as usize].required {
            required_left += 1;
        }
        state = frame.prev_state;
        restore(
            &mut holes,
            &mut frontier,
            op,
            frame.prev_frontier,
            frame.prev_holes,
        );
        entry = list.next[2 * op as usize];
    }
}

/// Undoes the change to the linearized set that linearizing `op` made.
fn restore(holes: &mut Vec<u32>, frontier: &mut u32, op: u32, prev_frontier: u32, prev_holes: u32) {
    if op >= prev_frontier {
        holes.truncate(prev_holes as usize);
        *frontier = prev_frontier;
    } else {
        let at = holes.binary_search(&op).unwrap_or_else(|at| at);
        holes.insert(at, op);
    }
}

fn capture<S: Clone>(list: &List, stack: &[Frame<S>], state: &S) -> Deepest<S> {
    let linearized = stack
        .iter()
        .enumerate()
        .map(|(i, frame)| {
            let after = stack.get(i + 1).map_or(state, |next| &next.prev_state);
            (frame.op, after.clone())
        })
        .collect();
    let mut candidates = Vec::new();
    let mut entry = list.next[list.head as usize];
    while entry != list.end && entry % 2 == 0 {
        candidates.push(entry / 2);
        entry = list.next[entry as usize];
    }
    let blocking = (entry != list.end).then_some(entry / 2);
    Deepest {
        linearized,
        candidates,
        blocking,
        state: state.clone(),
    }
}
