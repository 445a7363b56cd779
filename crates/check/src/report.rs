//! What a check found, and how a violation reads in a terminal.

use std::fmt::Write as _;
use std::time::Duration;

use super::wgl::Exhausted;

/// The checker's answer.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Some order of the calls, each at a point between its invoke and completion,
    /// explains every result.
    Linearizable,
    /// No such order exists; the violation shows how far the best attempt got.
    NotLinearizable(Box<Violation>),
    /// A budget ran out before the search could decide.
    Unknown(Exhausted),
}

impl Verdict {
    /// The exit code of `ballot check`: 0 linearizable, 1 not, 2 unknown.
    pub fn exit_code(&self) -> u8 {
        match self {
            Verdict::Linearizable => 0,
            Verdict::NotLinearizable(_) => 1,
            Verdict::Unknown(_) => 2,
        }
    }

    /// True for [`Verdict::Linearizable`].
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable)
    }

    /// True for [`Verdict::NotLinearizable`].
    pub fn is_violation(&self) -> bool {
        matches!(self, Verdict::NotLinearizable(_))
    }
}

/// Counters that say where the effort went.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    /// Calls in the history.
    pub calls: usize,
    /// `fail` calls, dropped because they took no effect.
    pub failed: usize,
    /// Unknown-outcome calls assumed never to have happened (nothing could observe them).
    pub pruned: usize,
    /// Unknown-outcome calls that must have happened (the only writer of something read).
    pub promoted: usize,
    /// Unknown-outcome calls left open to the end of the history.
    pub open: usize,
    /// Independent parts the history was split into (keys, for `kv`).
    pub partitions: usize,
    /// Configurations (linearized set + state) the search cached.
    pub configurations: usize,
    /// Largest estimated size of one part's cache and stack, in bytes.
    pub peak_bytes: usize,
    /// Wall time of the whole check.
    pub elapsed: Duration,
}

/// The result of checking one history.
#[derive(Debug, Clone)]
pub struct Report {
    /// The model's name.
    pub model: &'static str,
    /// The answer.
    pub verdict: Verdict,
    /// Where the effort went.
    pub stats: Stats,
}

/// A call as a report shows it.
#[derive(Debug, Clone)]
pub struct OpView {
    /// Its process.
    pub process: u64,
    /// The model's rendering, e.g. `write 3`.
    pub text: String,
    /// `ok`, `info` or `pending`.
    pub outcome: &'static str,
    /// Index of the invoke in the history's ops.
    pub invoke: usize,
    /// Index of the completion, if any.
    pub complete: Option<usize>,
    /// Source line of the invoke.
    pub invoke_line: usize,
    /// Source line of the completion, if any.
    pub complete_line: Option<usize>,
}

impl OpView {
    fn lines(&self) -> String {
        match self.complete_line {
            Some(end) => format!("lines {}-{end}", self.invoke_line),
            None => format!("line {}-", self.invoke_line),
        }
    }
}

/// One op of the longest linearizable prefix.
#[derive(Debug, Clone)]
pub struct Placed {
    /// The op.
    pub op: OpView,
    /// The model's state after it.
    pub state_after: String,
}

/// An op that could not go next after the prefix.
#[derive(Debug, Clone)]
pub struct Unplaced {
    /// The op.
    pub op: OpView,
    /// Why not.
    pub reason: String,
    /// True for the op whose completion ended the candidates: it had to go by then.
    pub blocking: bool,
}

/// Where the search got stuck.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The part of the history that failed (`key 3` for `kv`), `None` when unsplit.
    pub partition: Option<String>,
    /// Ops that had to be placed in that part.
    pub required: usize,
    /// The longest prefix of a linearization the search found, in order.
    pub linearized: Vec<Placed>,
    /// The state after it.
    pub state: String,
    /// The ops that could not be placed after it.
    pub unplaced: Vec<Unplaced>,
}

/// How many ops of the prefix a text report lists (the rest is summarised).
const PREFIX_SHOWN: usize = 12;

impl Violation {
    /// A readable account: the tail of the prefix, the ops that could not follow, and a
    /// per-process timeline of both.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        if let Some(part) = &self.partition {
            let _ = writeln!(out, "in {part}:");
        }
        let n = self.linearized.len();
        let _ = writeln!(
            out,
            "longest linearizable prefix: {n} ops (of {} that had to take effect)",
            self.required
        );
        if n > PREFIX_SHOWN {
            let _ = writeln!(out, "  ... {} earlier ops", n - PREFIX_SHOWN);
        }
        for (i, placed) in self
            .linearized
            .iter()
            .enumerate()
            .skip(n.saturating_sub(PREFIX_SHOWN))
        {
            let _ = writeln!(
                out,
                "  #{:<5} p{:<4} {:<14} {:<28} => {}",
                i + 1,
                placed.op.process,
                placed.op.lines(),
                placed.op.text,
                placed.state_after
            );
        }
        let _ = writeln!(out, "state after the prefix: {}", self.state);
        let _ = writeln!(out, "could not be placed next:");
        for un in &self.unplaced {
            let _ = writeln!(
                out,
                "  {} p{:<4} {:<14} {:<28} {} ({})",
                if un.blocking { "!" } else { " " },
                un.op.process,
                un.op.lines(),
                un.op.text,
                un.reason,
                un.op.outcome
            );
        }
        out.push('\n');
        out.push_str(&self.render_timeline());
        out
    }

    /// The ops the pictures show: the tail of the prefix and every unplaced op, each
    /// with a label letter and whether it was placed.
    pub(crate) fn window(&self) -> Vec<(String, &OpView, Option<usize>)> {
        let tail = self.linearized.len().saturating_sub(8);
        let mut ops: Vec<(String, &OpView, Option<usize>)> = Vec::new();
        for (i, placed) in self.linearized.iter().enumerate().skip(tail) {
            ops.push((String::new(), &placed.op, Some(i + 1)));
        }
        for un in &self.unplaced {
            ops.push((String::new(), &un.op, None));
        }
        ops.sort_by_key(|(_, op, _)| op.invoke);
        for (i, entry) in ops.iter_mut().enumerate() {
            entry.0 = label(i);
        }
        ops
    }

    /// An ASCII timeline, one row per process, of [`Violation::window`]'s ops.
    pub fn render_timeline(&self) -> String {
        let ops = self.window();
        let points = time_points(&ops);
        let column = |index: usize| 4 * points.partition_point(|&p| p < index);
        let width = 4 * points.len() + 4;
        let mut rows: std::collections::BTreeMap<u64, Vec<u8>> = std::collections::BTreeMap::new();
        for (name, op, _) in &ops {
            let row = rows.entry(op.process).or_insert_with(|| vec![b' '; width]);
            let start = column(op.invoke);
            let end = op.complete.map_or(width - 1, column);
            for cell in row.iter_mut().take(end).skip(start + 1) {
                *cell = b'-';
            }
            row[start] = b'[';
            row[end.min(width - 1)] = match op.outcome {
                "ok" => b']',
                _ => b'?',
            };
            for (k, byte) in name.bytes().enumerate() {
                if start + 1 + k < end {
                    row[start + 1 + k] = byte;
                }
            }
        }
        let mut out =
            String::from("timeline (left to right in history order; ? = outcome unknown):\n");
        for (process, row) in &rows {
            let _ = writeln!(
                out,
                "  p{process:<5} {}",
                String::from_utf8_lossy(row).trim_end()
            );
        }
        for (name, op, order) in &ops {
            let what = match order {
                Some(k) => format!("placed #{k}"),
                None => "NOT PLACED".to_string(),
            };
            let _ = writeln!(
                out,
                "  {name:<3} p{:<4} {:<14} {:<28} {what}",
                op.process,
                op.lines(),
                op.text
            );
        }
        out
    }
}

/// `A`..`Z`, then `AA`, `AB`, ...
fn label(i: usize) -> String {
    let letters = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    if i < 26 {
        (letters[i] as char).to_string()
    } else {
        format!(
            "{}{}",
            letters[(i / 26 - 1) % 26] as char,
            letters[i % 26] as char
        )
    }
}

/// The distinct history positions (invokes and completions) of `ops`, in order: the
/// columns of both the ASCII timeline and the SVG picture.
pub(crate) fn time_points(ops: &[(String, &OpView, Option<usize>)]) -> Vec<usize> {
    let mut points: Vec<usize> = ops
        .iter()
        .flat_map(|(_, op, _)| std::iter::once(op.invoke).chain(op.complete))
        .collect();
    points.sort_unstable();
    points.dedup();
    points
}
