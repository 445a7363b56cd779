//! The linearizability checker and the models it checks histories against.
//!
//! A history ([`crate::history`]) is linearizable for a model when every call can be
//! given one point between its invoke and its completion such that running the calls in
//! the order of their points through the model's sequential specification reproduces
//! every `ok` result. A `fail` took no effect and is left out; an `info` (or a call still
//! in flight when the history ends) may take effect at any point after its invoke, or
//! never.
//!
//! # How
//!
//! 1. Each call is compiled by the model into its op ([`Model::compile`]); a call the
//!    model cannot read is an error naming the line ([`CheckError`]).
//! 2. P-compositionality: when the model splits ops by key ([`Model::partition`]), each
//!    key is checked on its own. The key-value model splits; the multi-key model does
//!    not, so a transaction seen half-applied is caught.
//! 3. Unknown-outcome calls are pruned or promoted using the model's footprints (see
//!    `prepare`), so that thousands of `info` calls do not stay open forever.
//! 4. The search is Wing and Gong's, with Lowe's cache of visited configurations (see
//!    `wgl`), under a time and memory [`Budget`]. When a budget runs out the verdict is
//!    [`Verdict::Unknown`]: the checker never runs forever.
//! 5. On a violation the search runs again to stop at its deepest point, and the
//!    [`Violation`] lists the longest linearizable prefix and the calls that could not
//!    follow it, with the model's reason for each ([`Violation::render_text`],
//!    [`render_svg`]).
//!
//! # Models and their vocabularies
//!
//! | `--model`      | `f` and `value`                                                     |
//! |----------------|---------------------------------------------------------------------|
//! | `register`     | `read` (ok value: what was read), `write` v                          |
//! | `cas-register` | as `register`, plus `cas` `[expected, new]`; a cas that did not match is a `fail` |
//! | `kv`           | `read` `[k, v]`, `write` `[k, v]`, `cas` `[k, [expected, new]]`; checked key by key |
//! | `multi`        | as `kv`, plus `txn` with micro-ops `[["r", k, v], ["w", k, v], ["cas", k, [e, n]]]`, atomic, checked whole |
//! | `leadership`   | `elected` `[candidate, term]`, `commit` `[candidate, term(, payload)]`, `read-leader` (ok value `[candidate, term]` or `null`), `resign` `[candidate, term]` |
//!
//! Every register and key starts as `null`. The leadership model (see
//! [`models::Leadership`]) holds the current term and its leader: `elected` must name a
//! higher term than any before (so at most one leader per term, and terms increase), a
//! `commit` takes effect only while its candidate leads its term, `read-leader` must see
//! the current leader, and `resign` clears it.
//!
//! ```
//! use ballot_check::{Budget, ModelKind, check};
//! use ballot_check::history::parse_str;
//!
//! let history = parse_str(concat!(
//!     r#"{"type":"invoke","process":0,"f":"write","value":1,"time":1}"#, "\n",
//!     r#"{"type":"invoke","process":1,"f":"read","value":null,"time":2}"#, "\n",
//!     r#"{"type":"ok","process":1,"f":"read","value":1,"time":3}"#, "\n",
//!     r#"{"type":"ok","process":0,"f":"write","value":1,"time":4}"#, "\n",
//! ))?;
//! let report = check(&history, ModelKind::Register, &Budget::default())?;
//! assert!(report.verdict.is_linearizable());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod history;
mod model;
pub mod models;
mod prepare;
mod report;
mod svg;
mod value;
mod wgl;

use std::time::{Duration, Instant};

use crate::history::{Call, History, Outcome};

pub use model::{Binding, Footprint, Model};
pub use models::{ModelKind, UnknownModel};
pub use report::{OpView, Placed, Report, Stats, Unplaced, Verdict, Violation};
pub use svg::render_svg;
pub use value::{Interner, ValueId};
pub use wgl::Exhausted;

use prepare::Part;
use wgl::{Found, Limits, SearchStats};

/// How much the checker may spend before answering "unknown".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Wall time for the whole check.
    pub time: Duration,
    /// Estimated bytes of the search's cache and stack for one part of the history (each
    /// worker thread searches one part at a time, so up to `threads` times this at once).
    pub memory: usize,
    /// Worker threads for a history that splits into parts (by key); `0` for one per
    /// core. Parts are handed out in order and the first violation stops the handing
    /// out, so the verdict and the violation reported are the ones a single thread finds.
    pub threads: usize,
}

impl Budget {
    /// The worker threads for a history of `parts` parts: as many as asked (one per core
    /// for `0`), never more than the parts.
    pub fn workers(&self, parts: usize) -> usize {
        let wanted = match self.threads {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            n => n,
        };
        wanted.min(parts).max(1)
    }

    /// The default time limit: long enough for 100k-op histories (see the benchmark),
    /// short enough that a pathological history gives up within a coffee.
    pub const DEFAULT_TIME: Duration = Duration::from_secs(120);
    /// The default memory limit, 2 GiB.
    pub const DEFAULT_MEMORY: usize = 2 << 30;
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            time: Self::DEFAULT_TIME,
            memory: Self::DEFAULT_MEMORY,
            threads: 0,
        }
    }
}

/// A history the model cannot read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CheckError {
    /// A call's `f` or value does not fit the model's vocabulary.
    #[error("line {line}: {message} (model {model})")]
    Model {
        /// Source line of the call's invoke.
        line: usize,
        /// The model's name.
        model: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Checks `history` against the model `kind` names.
pub fn check(history: &History, kind: ModelKind, budget: &Budget) -> Result<Report, CheckError> {
    match kind {
        ModelKind::Register => check_with(&models::Register { cas: false }, history, budget),
        ModelKind::CasRegister => check_with(&models::Register { cas: true }, history, budget),
        ModelKind::Kv => check_with(&models::Kv, history, budget),
        ModelKind::KvAppend => check_with(&models::KvAppend, history, budget),
        ModelKind::Multi => check_with(&models::Multi, history, budget),
        ModelKind::Mutex => check_with(&models::Mutex, history, budget),
        ModelKind::Set => check_with(&models::Set, history, budget),
        ModelKind::FifoQueue => check_with(&models::Queue { fifo: true }, history, budget),
        ModelKind::UnorderedQueue => check_with(&models::Queue { fifo: false }, history, budget),
        ModelKind::Leadership => check_by_election(&models::Leadership::PER_TERM, history, budget),
        ModelKind::LeadershipExclusive => {
            check_by_election(&models::Leadership::EXCLUSIVE, history, budget)
        }
    }
}

/// Checks a leadership history election by election: each election (or lease elector)
/// has its own leaders and terms, so a host running several is one history per election,
/// split by the invoke field [`history::ELECTION_FIELD`] (a history without it is one
/// election). The budget's time covers all of them; the first violation is the answer.
pub fn check_by_election<M>(
    model: &M,
    history: &History,
    budget: &Budget,
) -> Result<Report, CheckError>
where
    M: Model + Sync,
    M::Op: Sync,
    M::State: Send,
{
    let mut parts = history.split_by(history::ELECTION_FIELD);
    if parts.len() == 1 {
        return check_with(model, &parts.remove(0).1, budget);
    }
    let started = Instant::now();
    let mut stats = Stats::default();
    let mut verdict = Verdict::Linearizable;
    for (election, part) in &parts {
        let left = Budget {
            time: budget.time.saturating_sub(started.elapsed()),
            ..*budget
        };
        let report = check_with(model, part, &left)?;
        stats.calls += report.stats.calls;
        stats.failed += report.stats.failed;
        stats.pruned += report.stats.pruned;
        stats.promoted += report.stats.promoted;
        stats.open += report.stats.open;
        stats.partitions += report.stats.partitions;
        stats.configurations += report.stats.configurations;
        stats.peak_bytes = stats.peak_bytes.max(report.stats.peak_bytes);
        match report.verdict {
            Verdict::Linearizable => {}
            Verdict::Unknown(why) => {
                if verdict.is_linearizable() {
                    verdict = Verdict::Unknown(why);
                }
            }
            Verdict::NotLinearizable(mut violation) => {
                let name = match election {
                    Some(serde_json::Value::String(name)) => name.clone(),
                    Some(other) => other.to_string(),
                    None => "(none named)".to_string(),
                };
                violation.partition = Some(format!("election {name}"));
                verdict = Verdict::NotLinearizable(violation);
                break;
            }
        }
    }
    stats.elapsed = started.elapsed();
    Ok(Report {
        model: model.name(),
        verdict,
        stats,
    })
}

/// Checks `history` against `model`.
pub fn check_with<M>(model: &M, history: &History, budget: &Budget) -> Result<Report, CheckError>
where
    M: Model + Sync,
    M::Op: Sync,
    M::State: Send,
{
    let started = Instant::now();
    let limits = Limits {
        deadline: started + budget.time,
        memory: budget.memory,
    };
    let calls = history.calls();
    let mut values = Interner::default();
    let mut compiled = Vec::with_capacity(calls.len());
    for call in &calls {
        let op = model
            .compile(call, &mut values)
            .map_err(|message| CheckError::Model {
                line: history.line_of(call.invoke),
                model: model.name(),
                message,
            })?;
        compiled.push(op);
    }
    // The ops as compiled, for reports: the search's may have merged values.
    let originals = compiled.clone();
    model.merge_unobserved(&mut compiled, &mut values);
    let compiled = compiled.into_iter().enumerate().collect();
    let (parts, prepared) = prepare::prepare(model, &calls, compiled);
    let mut stats = Stats {
        calls: calls.len(),
        failed: prepared.failed,
        pruned: prepared.pruned,
        promoted: prepared.promoted,
        open: prepared.open,
        partitions: parts.len(),
        ..Stats::default()
    };
    let mut search_stats = SearchStats::default();
    let mut verdict = Verdict::Linearizable;
    let parts: Vec<(Option<ValueId>, Part<M::Op>)> = parts.into_iter().collect();
    let searched = search_parts(model, &parts, limits, budget.workers(parts.len()));
    for ((key, part), outcome) in parts.iter().zip(searched) {
        // Parts after the first violation may not have been searched.
        let Some((found, part_stats)) = outcome else {
            break;
        };
        search_stats.configurations += part_stats.configurations;
        search_stats.peak_bytes = search_stats.peak_bytes.max(part_stats.peak_bytes);
        match found {
            Found::Linearizable => {}
            Found::Exhausted(why) => {
                if verdict.is_linearizable() {
                    verdict = Verdict::Unknown(why);
                }
            }
            Found::NotLinearizable { max_depth, .. } => {
                let mut again = SearchStats::default();
                let deepest = match wgl::search(model, part, limits, Some(max_depth), &mut again) {
                    Found::NotLinearizable { deepest, .. } => deepest,
                    _ => None,
                };
                let partition = key.map(|k| format!("key {}", values.show(k)));
                let context = Context {
                    model,
                    history,
                    calls: &calls,
                    values: &values,
                    part,
                    originals: &originals,
                };
                verdict = Verdict::NotLinearizable(Box::new(context.violation(partition, deepest)));
                break;
            }
        }
    }
    stats.configurations = search_stats.configurations;
    stats.peak_bytes = search_stats.peak_bytes;
    stats.elapsed = started.elapsed();
    Ok(Report {
        model: model.name(),
        verdict,
        stats,
    })
}

/// Searches each part on up to `threads` threads: the outcome of each part searched, in
/// part order. Parts are handed out in order; after a violation no more are handed out,
/// and the ones in flight finish, so every part before the first violating one has an
/// outcome, as when one thread searches them all in order.
#[allow(clippy::type_complexity)]
fn search_parts<M>(
    model: &M,
    parts: &[(Option<ValueId>, Part<M::Op>)],
    limits: Limits,
    threads: usize,
) -> Vec<Option<(Found<M::State>, SearchStats)>>
where
    M: Model + Sync,
    M::Op: Sync,
    M::State: Send,
{
    let search = |part: &Part<M::Op>| {
        let mut stats = SearchStats::default();
        let found = wgl::search(model, part, limits, None, &mut stats);
        (found, stats)
    };
    if threads <= 1 {
        let mut outcomes = Vec::with_capacity(parts.len());
        for (_, part) in parts {
            let outcome = search(part);
            let violated = matches!(outcome.0, Found::NotLinearizable { .. });
            outcomes.push(Some(outcome));
            if violated {
                break;
            }
        }
        outcomes.resize_with(parts.len(), || None);
        return outcomes;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let outcomes = std::sync::Mutex::new((0..parts.len()).map(|_| None).collect::<Vec<_>>());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                use std::sync::atomic::Ordering::SeqCst;
                while !stop.load(SeqCst) {
                    let index = next.fetch_add(1, SeqCst);
                    let Some((_, part)) = parts.get(index) else {
                        break;
                    };
                    let outcome = search(part);
                    if matches!(outcome.0, Found::NotLinearizable { .. }) {
                        stop.store(true, SeqCst);
                    }
                    outcomes.lock().unwrap_or_else(|p| p.into_inner())[index] = Some(outcome);
                }
            });
        }
    });
    outcomes.into_inner().unwrap_or_else(|p| p.into_inner())
}

/// What turning search indices back into readable ops needs.
struct Context<'a, M: Model> {
    model: &'a M,
    history: &'a History,
    calls: &'a [Call],
    values: &'a Interner,
    part: &'a Part<M::Op>,
    /// Each call's op before values were merged: what reports show.
    originals: &'a [M::Op],
}

impl<M: Model> Context<'_, M> {
    fn view(&self, op: u32) -> OpView {
        let search_op = &self.part.ops[op as usize];
        let call = &self.calls[search_op.call];
        OpView {
            process: call.process,
            text: self.model.show_op(self.original(op), self.values),
            outcome: match call.outcome {
                Outcome::Ok(_) => "ok",
                Outcome::Fail => "fail",
                Outcome::Info => "info",
                Outcome::Pending => "pending",
            },
            invoke: call.invoke,
            complete: call.complete,
            invoke_line: self.history.line_of(call.invoke),
            complete_line: call.complete.map(|c| self.history.line_of(c)),
        }
    }

    fn violation(
        &self,
        partition: Option<String>,
        deepest: Option<Box<wgl::Deepest<M::State>>>,
    ) -> Violation {
        let required = self.part.ops.iter().filter(|op| op.required).count();
        let Some(deepest) = deepest else {
            return Violation {
                partition,
                required,
                linearized: Vec::new(),
                state: "(the budget ran out while locating the violation)".to_string(),
                unplaced: Vec::new(),
            };
        };
        // The states the ops as compiled go through (the search's may hold merged
        // values); the search's own if they do not replay (they always should).
        let mut replayed = Vec::with_capacity(deepest.linearized.len());
        let mut current = self.model.init();
        for (op, _) in &deepest.linearized {
            match self.model.step(&current, self.original(*op)) {
                Some(next) => {
                    current = next;
                    replayed.push(current.clone());
                }
                None => break,
            }
        }
        let (states, last): (Vec<&M::State>, &M::State) =
            if replayed.len() == deepest.linearized.len() {
                (replayed.iter().collect(), &current)
            } else {
                (
                    deepest.linearized.iter().map(|(_, after)| after).collect(),
                    &deepest.state,
                )
            };
        let linearized = deepest
            .linearized
            .iter()
            .zip(&states)
            .map(|((op, _), after)| Placed {
                op: self.view(*op),
                state_after: self.model.show_state(after, self.values),
            })
            .collect();
        let mut unplaced = Vec::new();
        let reason = |op: u32| {
            let model_op = self.original(op);
            match self.model.step(last, model_op) {
                None => self.model.explain(last, model_op, self.values),
                Some(_) => "possible here, but no linearization continues after it".to_string(),
            }
        };
        if let Some(blocking) = deepest.blocking {
            let view = self.view(blocking);
            let by = view
                .complete_line
                .map_or_else(|| "its deadline".to_string(), |l| format!("line {l}"));
            unplaced.push(Unplaced {
                reason: format!("had to take effect by {by}: {}", reason(blocking)),
                op: view,
                blocking: true,
            });
        }
        for &op in &deepest.candidates {
            if Some(op) != deepest.blocking {
                unplaced.push(Unplaced {
                    op: self.view(op),
                    reason: reason(op),
                    blocking: false,
                });
            }
        }
        Violation {
            partition,
            required,
            linearized,
            state: self.model.show_state(last, self.values),
            unplaced,
        }
    }

    /// Op `op` of the part as compiled, before values were merged.
    fn original(&self, op: u32) -> &M::Op {
        &self.originals[self.part.ops[op as usize].call]
    }
}
