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
//!
//! Two additions keep high concurrency tractable (see [`search`] and `Run::order`):
//! a read-only op that can go now goes without branching, and candidates are tried
//! due-first, so an op is linearized when its completion is reached or when the op that
//! is due needs it, as in Lowe's just-in-time linearization.

use std::hash::{Hash, Hasher};
use std::time::Instant;

use super::model::{Binding, Footprint, Model};
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

/// The configurations seen: a hash table whose entries keep their holes in one shared
/// arena, so that remembering a configuration allocates nothing of its own (the cache
/// only grows during a search, so the arena never needs compacting).
struct Cache<S> {
    table: hashbrown::HashTable<Entry<S>>,
    holes: Vec<u32>,
}

/// One configuration: its frontier, its holes (`len` of them from `start` in the arena),
/// its state, and its hash (kept, so the table grows without rehashing).
struct Entry<S> {
    hash: u64,
    frontier: u32,
    start: u32,
    len: u32,
    state: S,
}

impl<S: Hash + Eq + Clone> Cache<S> {
    fn new() -> Self {
        Cache {
            table: hashbrown::HashTable::new(),
            holes: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.table.len()
    }

    /// Bytes an entry of `holes` holes costs, for the memory budget (the table's slack
    /// included).
    fn entry_bytes(holes: usize) -> usize {
        std::mem::size_of::<Entry<S>>() * 8 / 7 + 1 + 4 * holes
    }

    /// Remembers the configuration, unless it was seen before or the arena cannot address
    /// its holes (a cache past 16 GiB of holes: the search is out of memory).
    fn insert(&mut self, frontier: u32, holes: &[u32], state: &S) -> Insert {
        let mut hasher = FastHasher::default();
        frontier.hash(&mut hasher);
        holes.hash(&mut hasher);
        state.hash(&mut hasher);
        let hash = hasher.finish();
        let arena = &self.holes;
        let found = self.table.find(hash, |e| {
            e.frontier == frontier
                && e.state == *state
                && &arena[e.start as usize..(e.start + e.len) as usize] == holes
        });
        if found.is_some() {
            return Insert::Seen;
        }
        let end = self.holes.len() + holes.len();
        let (Ok(start), Ok(len), Ok(_)) = (
            u32::try_from(self.holes.len()),
            u32::try_from(holes.len()),
            u32::try_from(end),
        ) else {
            return Insert::Full;
        };
        self.holes.extend_from_slice(holes);
        self.table.insert_unique(
            hash,
            Entry {
                hash,
                frontier,
                start,
                len,
                state: state.clone(),
            },
            |e| e.hash,
        );
        Insert::New
    }
}

/// What [`Cache::insert`] did.
enum Insert {
    New,
    Seen,
    Full,
}

struct Frame<S> {
    op: u32,
    /// Linearized by the read-only rule: there is no alternative to try instead.
    forced: bool,
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
///
/// One reduction on top of WGL: an op the model calls read-only ([`Model::read_only`])
/// that succeeds in the current state is linearized at once, and no alternative to it is
/// tried. Moving such an op earlier, to the first point where it is a candidate, keeps
/// every later step valid (it changes no state) and every real-time constraint (the ops
/// it overtakes had not completed before it was invoked), so a linearization exists from
/// the configuration if and only if one exists after the forced step. Without this, the
/// reads concurrent with a write make the search try every subset of them.
pub(crate) fn search<M: Model>(
    model: &M,
    part: &Part<M::Op>,
    limits: Limits,
    capture_depth: Option<usize>,
    stats: &mut SearchStats,
) -> Found<M::State> {
    let mut run = Run::new(model, part, limits);
    let mut deepest = None;
    if capture_depth == Some(0) {
        deepest = Some(Box::new(capture(&run.list, &run.stack, &run.state)));
    }
    // The candidates at the current configuration in the order to try them, and the
    // next one to try.
    let mut order = Vec::new();
    run.order(&mut order);
    let mut next = 0;
    // True on arriving at a configuration for the first time: look for a forced op.
    let mut fresh = true;
    let mut steps: u64 = 0;
    let found = 'search: loop {
        if run.required_left == 0 {
            break Found::Linearizable;
        }
        steps += 1;
        if steps & 255 == 0 && Instant::now() >= limits.deadline {
            break Found::Exhausted(Exhausted::Time);
        }
        let mut pushed = false;
        let mut dead_end = false;
        if fresh {
            fresh = false;
            if let Some((op, next_state)) = run.forced_candidate() {
                match run.push(op, next_state, true) {
                    Push::Pushed => pushed = true,
                    Push::Seen => dead_end = true,
                    Push::OverMemory => break Found::Exhausted(Exhausted::Memory),
                }
            }
        }
        while !pushed && !dead_end && next < order.len() {
            let op = order[next];
            next += 1;
            if let Some(next_state) = run.model.step(&run.state, &run.part.ops[op as usize].op) {
                match run.push(op, next_state, false) {
                    Push::Pushed => pushed = true,
                    Push::Seen => {}
                    Push::OverMemory => break 'search Found::Exhausted(Exhausted::Memory),
                }
            }
        }
        if pushed {
            if capture_depth == Some(run.stack.len()) && deepest.is_none() {
                deepest = Some(Box::new(capture(&run.list, &run.stack, &run.state)));
            }
            run.order(&mut order);
            next = 0;
            fresh = true;
            continue;
        }
        // No candidate leads anywhere new: undo up to the last choice that had
        // alternatives, and go on with the one after it.
        match run.backtrack() {
            Some(op) => {
                run.order(&mut order);
                next = order
                    .iter()
                    .position(|&o| o == op)
                    .map_or(order.len(), |at| at + 1);
            }
            None => {
                break Found::NotLinearizable {
                    max_depth: run.max_depth,
                    deepest,
                };
            }
        }
    };
    stats.configurations += run.cache.len();
    stats.peak_bytes = stats.peak_bytes.max(run.peak_bytes);
    found
}

enum Push {
    Pushed,
    Seen,
    OverMemory,
}

/// The search's mutable state: the configuration, the path to it and the cache.
struct Run<'a, M: Model> {
    model: &'a M,
    part: &'a Part<M::Op>,
    limits: Limits,
    read_only: Vec<bool>,
    /// Each op's footprint, for ordering candidates; empty for opaque models.
    reads: Vec<Vec<Binding>>,
    writes: Vec<Vec<Binding>>,
    list: List,
    required_left: usize,
    state: M::State,
    frontier: u32,
    holes: Vec<u32>,
    stack: Vec<Frame<M::State>>,
    cache: Cache<M::State>,
    bytes: usize,
    peak_bytes: usize,
    max_depth: usize,
}

impl<'a, M: Model> Run<'a, M> {
    fn new(model: &'a M, part: &'a Part<M::Op>, limits: Limits) -> Self {
        let prints: Vec<(Vec<Binding>, Vec<Binding>)> = part
            .ops
            .iter()
            .map(|op| match model.footprint(&op.op) {
                Footprint::Opaque => (Vec::new(), Vec::new()),
                Footprint::Bindings { reads, writes } => (reads, writes),
            })
            .collect();
        Run {
            model,
            part,
            limits,
            read_only: part.ops.iter().map(|op| model.read_only(&op.op)).collect(),
            reads: prints.iter().map(|(reads, _)| reads.clone()).collect(),
            writes: prints.into_iter().map(|(_, writes)| writes).collect(),
            list: List::new(part.ops.len(), &part.events),
            required_left: part.ops.iter().filter(|op| op.required).count(),
            state: model.init(),
            frontier: 0,
            holes: Vec::new(),
            stack: Vec::new(),
            cache: Cache::new(),
            bytes: 0,
            peak_bytes: 0,
            max_depth: 0,
        }
    }

    /// The candidates (calls before the first return) in the order to try them:
    ///
    /// 1. unknown-outcome ops left open (no deadline): taking them early gets them out
    ///    of the candidate set, where every later backtrack would otherwise try each
    ///    subset of them;
    /// 2. the op whose return comes first: it is due;
    /// 3. ops writing a binding the due op reads: they may enable it;
    /// 4. the rest, in invoke order.
    ///
    /// The order only steers which linearization is found first; every candidate is
    /// tried before giving up. Ordering by "due or needed" is Lowe's just-in-time idea
    /// inside WGL: the first path usually succeeds, so few subsets of concurrent writes
    /// are explored.
    /// Fills `candidates` (reused, so that the search allocates no list per step).
    fn order(&self, candidates: &mut Vec<u32>) {
        candidates.clear();
        let mut entry = self.first();
        while entry != self.list.end && entry.is_multiple_of(2) {
            candidates.push(entry / 2);
            entry = self.list.next[entry as usize];
        }
        if entry != self.list.end {
            let due = (entry / 2) as usize;
            let wanted = &self.reads[due];
            let rank = |op: u32| {
                if !self.list.has_return[op as usize] {
                    0
                } else if op as usize == due {
                    1
                } else if self.writes[op as usize].iter().any(|b| wanted.contains(b)) {
                    2
                } else {
                    3
                }
            };
            // Few candidates (about the processes): an insertion sort by rank, stable.
            for i in 1..candidates.len() {
                let (op, key) = (candidates[i], rank(candidates[i]));
                let mut j = i;
                while j > 0 && rank(candidates[j - 1]) > key {
                    candidates[j] = candidates[j - 1];
                    j -= 1;
                }
                candidates[j] = op;
            }
        }
    }

    fn first(&self) -> u32 {
        self.list.next[self.list.head as usize]
    }

    /// A read-only candidate that succeeds now, if any.
    fn forced_candidate(&self) -> Option<(u32, M::State)> {
        let mut entry = self.first();
        while entry != self.list.end && entry.is_multiple_of(2) {
            let op = entry / 2;
            let model_op = &self.part.ops[op as usize].op;
            if (self.read_only[op as usize] || self.model.forces_at(&self.state, model_op))
                && let Some(next) = self.model.step(&self.state, model_op)
            {
                return Some((op, next));
            }
            entry = self.list.next[entry as usize];
        }
        None
    }

    /// Linearizes `op` (giving `next_state`) unless the configuration was seen before.
    fn push(&mut self, op: u32, next_state: M::State, forced: bool) -> Push {
        let (prev_frontier, prev_holes) = (self.frontier, self.holes.len() as u32);
        if op >= self.frontier {
            self.holes.extend(self.frontier..op);
            self.frontier = op + 1;
        } else if let Ok(at) = self.holes.binary_search(&op) {
            self.holes.remove(at);
        }
        let key_bytes = Cache::<M::State>::entry_bytes(self.holes.len())
            + self.model.state_heap_bytes(&next_state);
        match self.cache.insert(self.frontier, &self.holes, &next_state) {
            Insert::New => {}
            Insert::Seen => {
                restore(
                    &mut self.holes,
                    &mut self.frontier,
                    op,
                    prev_frontier,
                    prev_holes,
                );
                return Push::Seen;
            }
            Insert::Full => return Push::OverMemory,
        }
        self.bytes += key_bytes + std::mem::size_of::<Frame<M::State>>();
        self.peak_bytes = self.peak_bytes.max(self.bytes);
        if self.bytes > self.limits.memory {
            return Push::OverMemory;
        }
        self.stack.push(Frame {
            op,
            forced,
            prev_state: std::mem::replace(&mut self.state, next_state),
            prev_frontier,
            prev_holes,
        });
        self.list.lift(op);
        if self.part.ops[op as usize].required {
            self.required_left -= 1;
        }
        self.max_depth = self.max_depth.max(self.stack.len());
        Push::Pushed
    }

    /// Pops frames up to and including the last unforced one; returns its op, or `None`
    /// when the stack runs out (no linearization exists).
    fn backtrack(&mut self) -> Option<u32> {
        loop {
            let frame = self.stack.pop()?;
            self.bytes -= std::mem::size_of::<Frame<M::State>>();
            let op = frame.op;
            self.list.unlift(op);
            if self.part.ops[op as usize].required {
                self.required_left += 1;
            }
            self.state = frame.prev_state;
            restore(
                &mut self.holes,
                &mut self.frontier,
                op,
                frame.prev_frontier,
                frame.prev_holes,
            );
            if !frame.forced {
                return Some(op);
            }
        }
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
    while entry != list.end && entry.is_multiple_of(2) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifting_and_unlifting_restore_the_list() {
        let events = [
            Event::Call(0),
            Event::Call(1),
            Event::Return(0),
            Event::Call(2),
            Event::Return(1),
        ];
        let mut list = List::new(3, &events);
        let walk = |list: &List| {
            let mut out = Vec::new();
            let mut entry = list.next[list.head as usize];
            while entry != list.end {
                out.push(entry);
                entry = list.next[entry as usize];
            }
            out
        };
        let before = walk(&list);
        assert_eq!(before, [0, 2, 1, 4, 3]);
        list.lift(0);
        assert_eq!(walk(&list), [2, 4, 3]);
        list.lift(1);
        assert_eq!(walk(&list), [4]);
        list.unlift(1);
        list.unlift(0);
        assert_eq!(walk(&list), before);
    }

    #[test]
    fn holes_round_trip() {
        let (mut holes, mut frontier) = (Vec::new(), 0u32);
        // Linearize 3 first: 0, 1, 2 become holes.
        holes.extend(frontier..3);
        frontier = 4;
        assert_eq!(holes, [0, 1, 2]);
        // Linearize 1 (below the frontier), then undo it.
        holes.retain(|&h| h != 1);
        restore(&mut holes, &mut frontier, 1, 4, 2);
        assert_eq!((holes.as_slice(), frontier), (&[0, 1, 2][..], 4));
        // Undo 3.
        restore(&mut holes, &mut frontier, 3, 0, 0);
        assert_eq!((holes.len(), frontier), (0, 0));
    }
}
