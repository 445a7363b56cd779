//! Turning a history into the search's input: compile calls with the model, drop the
//! fails, split by partition, and shrink the set of calls whose outcome is unknown.
//!
//! Unknown-outcome calls are what makes checking expensive: each may take effect at any
//! point after its invoke or never, so it stays a candidate for the rest of the search
//! and doubles the configurations to explore. With the model's footprints
//! ([`Model::footprint`]) most of them are settled before the search starts:
//!
//! - *pruned*: its written bindings are read by no other remaining call, so assuming it
//!   never happened loses no linearization (a read-only one, such as an unknown read, is
//!   always pruned). Pruning one can make another prunable; this runs to a fixpoint.
//! - *promoted*: it is the only writer of a non-null binding that a required call reads,
//!   so it must have happened before that call completed. It becomes required, with that
//!   completion as its deadline, like an `ok` call.
//!
//! What is left (unknown calls whose footprint is opaque or whose values repeat) stays
//! open to the end of the history, as in Knossos and Porcupine.

use std::collections::{BTreeMap, HashMap};

use crate::history::Call;

use super::model::{Binding, Footprint, Model};
use super::value::ValueId;

/// One call as the search sees it.
#[derive(Debug, Clone)]
pub(crate) struct SearchOp<O> {
    /// The model's op.
    pub op: O,
    /// Index of the call in the history's calls.
    pub call: usize,
    /// Must be linearized (it was `ok`, or was promoted).
    pub required: bool,
}

/// A point of the search's event list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// The op with this index may be linearized from here on.
    Call(u32),
    /// The op with this index must have been linearized by here.
    Return(u32),
}

/// One independent part of the history, ready to search.
#[derive(Debug, Clone)]
pub(crate) struct Part<O> {
    /// The ops in invoke order.
    pub ops: Vec<SearchOp<O>>,
    /// Calls and returns in real-time order.
    pub events: Vec<Event>,
}

/// What preparation did, for the report.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PrepareStats {
    pub failed: usize,
    pub pruned: usize,
    pub promoted: usize,
    pub open: usize,
}

/// Splits compiled calls (`(call index, op)` in invoke order) into parts and prepares
/// each. `calls` gives their outcomes and positions.
pub(crate) fn prepare<M: Model>(
    model: &M,
    calls: &[Call],
    compiled: Vec<(usize, M::Op)>,
) -> (BTreeMap<Option<ValueId>, Part<M::Op>>, PrepareStats) {
    let mut stats = PrepareStats::default();
    let mut groups: BTreeMap<Option<ValueId>, Vec<(usize, M::Op)>> = BTreeMap::new();
    for (call, op) in compiled {
        if matches!(calls[call].outcome, crate::history::Outcome::Fail) {
            stats.failed += 1;
            continue;
        }
        groups
            .entry(model.partition(&op))
            .or_default()
            .push((call, op));
    }
    let parts = groups
        .into_iter()
        .map(|(key, ops)| (key, prepare_part(model, calls, ops, &mut stats)))
        .collect();
    (parts, stats)
}

/// Position of "just after history op `index`"; even positions sit between ops.
fn pos(index: usize) -> u64 {
    2 * index as u64 + 1
}

fn prepare_part<M: Model>(
    model: &M,
    calls: &[Call],
    ops: Vec<(usize, M::Op)>,
    stats: &mut PrepareStats,
) -> Part<M::Op> {
    let n = ops.len();
    let unknown: Vec<bool> = ops
        .iter()
        .map(|(c, _)| calls[*c].outcome.is_unknown())
        .collect();
    let prints: Vec<Option<(Vec<Binding>, Vec<Binding>)>> = ops
        .iter()
        .map(|(_, op)| match model.footprint(op) {
            Footprint::Opaque => None,
            Footprint::Bindings {
                mut reads,
                mut writes,
            } => {
                reads.sort_unstable();
                reads.dedup();
                writes.sort_unstable();
                writes.dedup();
                Some((reads, writes))
            }
        })
        .collect();
    let mut kept = vec![true; n];
    let mut readers: HashMap<Binding, Vec<usize>> = HashMap::new();
    let mut unknown_writers: HashMap<Binding, Vec<usize>> = HashMap::new();
    let mut writer_count: HashMap<Binding, usize> = HashMap::new();
    for (i, print) in prints.iter().enumerate() {
        let Some((reads, writes)) = print else {
            continue;
        };
        for b in reads {
            readers.entry(*b).or_default().push(i);
        }
        for b in writes {
            *writer_count.entry(*b).or_default() += 1;
            if unknown[i] {
                unknown_writers.entry(*b).or_default().push(i);
            }
        }
    }
    let mut reader_count: HashMap<Binding, usize> =
        readers.iter().map(|(b, list)| (*b, list.len())).collect();

    // Prune to a fixpoint with a worklist.
    let mut work: Vec<usize> = (0..n)
        .filter(|&i| unknown[i] && prints[i].is_some())
        .collect();
    while let Some(i) = work.pop() {
        if !kept[i] {
            continue;
        }
        let Some((reads, writes)) = &prints[i] else {
            continue;
        };
        let read_by_others = writes.iter().any(|b| {
            let own = usize::from(reads.binary_search(b).is_ok());
            reader_count.get(b).copied().unwrap_or(0) > own
        });
        if read_by_others {
            continue;
        }
        kept[i] = false;
        stats.pruned += 1;
        for b in writes {
            if let Some(count) = writer_count.get_mut(b) {
                *count -= 1;
            }
        }
        for b in reads {
            if let Some(count) = reader_count.get_mut(b) {
                *count -= 1;
            }
            if let Some(writers) = unknown_writers.get(b) {
                work.extend(writers.iter().copied().filter(|&w| kept[w]));
            }
        }
    }

    // Deadlines: the completion of `ok` calls; promoted unknown calls get one too.
    let mut deadline: Vec<Option<u64>> = ops
        .iter()
        .enumerate()
        .map(|(i, (c, _))| {
            if unknown[i] {
                None
            } else {
                calls[*c].complete.map(pos)
            }
        })
        .collect();
    let mut changed = true;
    let mut passes = 0;
    // Each pass can only tighten deadlines, and every deadline set is implied by the
    // history, so stopping early is sound; the cap only bounds pathological chains.
    while changed && passes < 64 {
        changed = false;
        passes += 1;
        for i in 0..n {
            if !kept[i] || !unknown[i] {
                continue;
            }
            let Some((_, writes)) = &prints[i] else {
                continue;
            };
            let mut best: Option<u64> = None;
            for b in writes {
                if b.value == ValueId::NULL || writer_count.get(b).copied() != Some(1) {
                    continue;
                }
                for &r in readers.get(b).map(Vec::as_slice).unwrap_or(&[]) {
                    if r != i
                        && kept[r]
                        && let Some(d) = deadline[r]
                    {
                        best = Some(best.map_or(d, |x: u64| x.min(d)));
                    }
                }
            }
            if let Some(d) = best {
                // Just before the reader's completion, but never before its own invoke.
                let d = (d - 1).max(pos(calls[ops[i].0].invoke) + 1);
                if deadline[i].is_none_or(|old| d < old) {
                    deadline[i] = Some(d);
                    changed = true;
                }
            }
        }
    }

    let mut search_ops = Vec::with_capacity(n);
    let mut timed: Vec<(u64, u8, u32)> = Vec::with_capacity(2 * n);
    for (i, (call, op)) in ops.into_iter().enumerate() {
        if !kept[i] {
            continue;
        }
        let index = u32::try_from(search_ops.len()).unwrap_or(u32::MAX);
        timed.push((pos(calls[call].invoke), 1, index));
        if let Some(d) = deadline[i] {
            timed.push((d, 0, index));
            if unknown[i] {
                stats.promoted += 1;
            }
        } else {
            stats.open += 1;
        }
        search_ops.push(SearchOp {
            op,
            call,
            required: deadline[i].is_some(),
        });
    }
    timed.sort_unstable();
    let events = timed
        .into_iter()
        .map(|(_, kind, index)| {
            if kind == 0 {
                Event::Return(index)
            } else {
                Event::Call(index)
            }
        })
        .collect();
    Part {
        ops: search_ops,
        events,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::history::{History, Op, OpType};
    use crate::models::Register;
    use crate::value::Interner;

    fn history(rows: &[(u64, OpType, &str, serde_json::Value)]) -> History {
        History::from_ops(
            rows.iter()
                .enumerate()
                .map(|(i, (process, kind, f, value))| Op {
                    kind: *kind,
                    process: *process,
                    f: (*f).to_string(),
                    value: value.clone(),
                    time: i as u64,
                    extra: Default::default(),
                }),
        )
        .expect("well formed")
    }

    fn prepared(h: &History) -> (Part<crate::models::RegOp>, PrepareStats) {
        let model = Register { cas: true };
        let calls = h.calls();
        let mut values = Interner::default();
        let compiled = calls
            .iter()
            .enumerate()
            .map(|(i, c)| (i, model.compile(c, &mut values).expect("readable")))
            .collect();
        let (mut parts, stats) = prepare(&model, &calls, compiled);
        (parts.remove(&None).expect("one part"), stats)
    }

    #[test]
    fn unobserved_info_chain_is_pruned_to_a_fixpoint() {
        // info write 1, info cas 1 -> 2: nobody reads 2, so the cas goes, and then
        // nobody reads 1, so the write goes too.
        let h = history(&[
            (0, OpType::Invoke, "write", json!(1)),
            (0, OpType::Info, "write", json!(1)),
            (1, OpType::Invoke, "cas", json!([1, 2])),
            (1, OpType::Info, "cas", json!([1, 2])),
            (2, OpType::Invoke, "write", json!(3)),
            (2, OpType::Ok, "write", json!(3)),
        ]);
        let (part, stats) = prepared(&h);
        assert_eq!((stats.pruned, stats.promoted, stats.open), (2, 0, 0));
        assert_eq!(part.ops.len(), 1);
    }

    #[test]
    fn only_writer_of_a_read_value_is_promoted_with_the_reads_deadline() {
        let h = history(&[
            (0, OpType::Invoke, "write", json!(1)),
            (0, OpType::Info, "write", json!(1)),
            (1, OpType::Invoke, "read", json!(null)),
            (1, OpType::Ok, "read", json!(1)),
        ]);
        let (part, stats) = prepared(&h);
        assert_eq!((stats.pruned, stats.promoted, stats.open), (0, 1, 0));
        assert!(part.ops.iter().all(|op| op.required));
        // The promoted write's return comes before the read's.
        assert_eq!(
            part.events,
            [
                Event::Call(0),
                Event::Call(1),
                Event::Return(0),
                Event::Return(1)
            ]
        );
    }

    #[test]
    fn repeated_values_stay_open() {
        // Two writers of 1: neither is known to be the one the read saw.
        let h = history(&[
            (0, OpType::Invoke, "write", json!(1)),
            (0, OpType::Info, "write", json!(1)),
            (1, OpType::Invoke, "write", json!(1)),
            (1, OpType::Info, "write", json!(1)),
            (2, OpType::Invoke, "read", json!(null)),
            (2, OpType::Ok, "read", json!(1)),
        ]);
        let (_, stats) = prepared(&h);
        assert_eq!((stats.pruned, stats.promoted, stats.open), (0, 0, 2));
    }
}
