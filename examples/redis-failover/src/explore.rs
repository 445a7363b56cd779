//! Exhaustive exploration: every schedule to a depth, every history checked.
//!
//! The search is breadth first and keeps every state it has reached. Two paths that reach
//! equal states (nodes, clients, coordinator, write counter *and* history) have the same
//! futures and the same history, so the second is not explored again; because the search
//! is breadth first, a state is always kept at the smallest depth it is reachable at, and
//! every path of at most `depth` steps ends in a kept state. Dropping a duplicate
//! therefore never drops a history. Each distinct history is checked once, against the
//! register model, by the project's checker ([`ballot_check`]).

use std::collections::HashSet;
use std::time::Duration;

use ballot_check::{Budget, ModelKind, Verdict};

use crate::history_of;
use crate::system::{Coordinator, Event, Outcome, Step, System};

/// The two anomalies seed 001 exists to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Anomaly {
    /// A write was reported `fail` (its replication wait was not met) although it had
    /// already changed the primary's register, and a read returned its value.
    FailedWriteVisible,
    /// A read returned a primary's value that was on no majority of nodes, and a later
    /// read returned an older value: the read state was lost at failover.
    UnreplicatedReadLost,
}

impl Anomaly {
    /// Both, in the order they are printed.
    pub const ALL: [Anomaly; 2] = [Anomaly::FailedWriteVisible, Anomaly::UnreplicatedReadLost];

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Anomaly::FailedWriteVisible => "failed write visible",
            Anomaly::UnreplicatedReadLost => "unreplicated read lost",
        }
    }
}

/// Which anomalies a non-linearizable history shows, read off its events (values are
/// unique and increase along a path, so "older" is "smaller, or null").
pub fn classify(history: &[Event]) -> Vec<Anomaly> {
    let mut found = Vec::new();
    let failed = |v: u16| {
        history.iter().any(
            |e| matches!(e, Event::WriteDone { value, outcome: Outcome::Fail, .. } if *value == v),
        )
    };
    let read_failed = history
        .iter()
        .any(|e| matches!(e, Event::Read { value: Some(v), .. } if failed(*v)));
    if read_failed {
        found.push(Anomaly::FailedWriteVisible);
    }
    let lost = history.iter().enumerate().any(|(i, first)| {
        let Event::Read {
            value: Some(newer),
            replicated: false,
            ..
        } = first
        else {
            return false;
        };
        history[i + 1..].iter().any(
            |later| matches!(later, Event::Read { value, .. } if value.is_none_or(|v| v < *newer)),
        )
    });
    if lost {
        found.push(Anomaly::UnreplicatedReadLost);
    }
    found
}

/// The shallowest history found showing one anomaly.
#[derive(Debug, Clone)]
pub struct Example {
    /// The number of steps of its path.
    pub depth: usize,
    /// Its events.
    pub events: Vec<Event>,
    /// The checker's account of why it is not linearizable.
    pub violation: String,
}

/// How often one anomaly was seen.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Non-linearizable histories showing it.
    pub histories: u64,
    /// The shallowest of them.
    pub example: Option<Example>,
}

/// What one depth added.
#[derive(Debug, Clone, Copy, Default)]
pub struct Level {
    /// Steps from the initial state.
    pub depth: usize,
    /// States first reached at this depth.
    pub states: u64,
    /// Histories first seen at this depth.
    pub histories: u64,
    /// How many of those were not linearizable.
    pub not_linearizable: u64,
}

/// The figures the example prints for one coordinator.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Which coordinator.
    pub coordinator: Coordinator,
    /// The depth explored to: every schedule of at most this many steps.
    pub depth: usize,
    /// Distinct states reached, the initial one included.
    pub states: u64,
    /// Distinct histories checked.
    pub histories: u64,
    /// Histories the checker found not linearizable.
    pub not_linearizable: u64,
    /// Histories the checker could not decide within its budget (expected 0).
    pub unknown: u64,
    /// Per anomaly, indexed as [`Anomaly::ALL`].
    pub anomalies: [Seen; 2],
    /// Non-linearizable histories showing neither anomaly.
    pub other: u64,
    /// One row per depth, from 0.
    pub levels: Vec<Level>,
}

impl Summary {
    /// What was seen of `anomaly`.
    pub fn seen(&self, anomaly: Anomaly) -> &Seen {
        &self.anomalies[anomaly as usize]
    }

    /// The smallest depth with a non-linearizable history.
    pub fn first_violation_depth(&self) -> Option<usize> {
        self.levels
            .iter()
            .find(|l| l.not_linearizable > 0)
            .map(|l| l.depth)
    }

    /// The depth the issue asks for: at least 4 beyond the smallest depth that shows an
    /// anomaly, and deep enough that both anomalies are found. `None` until both are.
    pub fn required_depth(&self) -> Option<usize> {
        let first = self.first_violation_depth()?;
        let mut depth = first + 4;
        for anomaly in Anomaly::ALL {
            depth = depth.max(self.seen(anomaly).example.as_ref()?.depth);
        }
        Some(depth)
    }
}

/// A breadth-first exploration that can be deepened one level at a time.
pub struct Explorer {
    summary: Summary,
    frontier: Vec<System>,
    seen: HashSet<System>,
    checked: HashSet<Vec<Event>>,
    budget: Budget,
}

impl Explorer {
    /// Starts at the initial state (depth 0, its empty history checked).
    pub fn new(coordinator: Coordinator) -> anyhow::Result<Self> {
        let initial = System::initial(coordinator);
        let mut explorer = Explorer {
            summary: Summary {
                coordinator,
                depth: 0,
                states: 0,
                histories: 0,
                not_linearizable: 0,
                unknown: 0,
                anomalies: Default::default(),
                other: 0,
                levels: Vec::new(),
            },
            frontier: Vec::new(),
            seen: HashSet::new(),
            checked: HashSet::new(),
            // Histories here have at most a few dozen lines; a check that needed more
            // than this would be a bug, and shows up as `unknown`.
            budget: Budget {
                time: Duration::from_secs(30),
                ..Budget::default()
            },
        };
        explorer.visit(vec![initial])?;
        Ok(explorer)
    }

    /// Explores every state one step beyond the deepest level.
    pub fn deepen(&mut self) -> anyhow::Result<()> {
        let frontier = std::mem::take(&mut self.frontier);
        let mut next = Vec::new();
        for state in &frontier {
            for (_, successor) in state.successors() {
                if !self.seen.contains(&successor) {
                    self.seen.insert(successor.clone());
                    next.push(successor);
                }
            }
        }
        self.summary.depth += 1;
        self.visit(next)
    }

    /// The figures so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Counts and checks a new level of states.
    fn visit(&mut self, states: Vec<System>) -> anyhow::Result<()> {
        let depth = self.summary.depth;
        let mut level = Level {
            depth,
            states: states.len() as u64,
            ..Level::default()
        };
        if depth == 0 {
            self.seen.extend(states.iter().cloned());
        }
        for state in &states {
            if !self.checked.insert(state.history.clone()) {
                continue;
            }
            level.histories += 1;
            let report = ballot_check::check(
                &history_of(&state.history)?,
                ModelKind::Register,
                &self.budget,
            )?;
            match report.verdict {
                Verdict::Linearizable => {}
                Verdict::Unknown(_) => self.summary.unknown += 1,
                Verdict::NotLinearizable(violation) => {
                    level.not_linearizable += 1;
                    let kinds = classify(&state.history);
                    if kinds.is_empty() {
                        self.summary.other += 1;
                    }
                    for kind in kinds {
                        let seen = &mut self.summary.anomalies[kind as usize];
                        seen.histories += 1;
                        seen.example.get_or_insert_with(|| Example {
                            depth,
                            events: state.history.clone(),
                            violation: violation.render_text(),
                        });
                    }
                }
            }
        }
        self.summary.states += level.states;
        self.summary.histories += level.histories;
        self.summary.not_linearizable += level.not_linearizable;
        self.summary.levels.push(level);
        self.frontier = states;
        Ok(())
    }
}

/// Explores every schedule of at most `depth` steps.
pub fn explore(coordinator: Coordinator, depth: usize) -> anyhow::Result<Summary> {
    let mut explorer = Explorer::new(coordinator)?;
    while explorer.summary().depth < depth {
        explorer.deepen()?;
    }
    Ok(explorer.summary().clone())
}

/// A schedule of at most `depth` steps whose history is `events`, to show how an
/// example arose (the breadth-first search keeps states, not paths).
pub fn schedule_of(coordinator: Coordinator, events: &[Event], depth: usize) -> Option<Vec<Step>> {
    fn search(state: &System, events: &[Event], depth: usize, path: &mut Vec<Step>) -> bool {
        if state.history == events {
            return true;
        }
        if path.len() == depth {
            return false;
        }
        for (step, next) in state.successors() {
            if !events.starts_with(&next.history) {
                continue;
            }
            path.push(step);
            if search(&next, events, depth, path) {
                return true;
            }
            path.pop();
        }
        false
    }
    let mut path = Vec::new();
    search(&System::initial(coordinator), events, depth, &mut path).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_of_a_failed_write_is_classified() {
        let history = [
            Event::WriteInvoke {
                process: 0,
                value: 1,
            },
            Event::WriteDone {
                process: 0,
                value: 1,
                outcome: Outcome::Fail,
            },
            Event::Read {
                process: 1,
                value: Some(1),
                replicated: false,
            },
        ];
        assert_eq!(classify(&history), [Anomaly::FailedWriteVisible]);
    }

    #[test]
    fn a_lost_unreplicated_read_is_classified() {
        let history = [
            Event::WriteInvoke {
                process: 0,
                value: 1,
            },
            Event::Read {
                process: 1,
                value: Some(1),
                replicated: false,
            },
            Event::Read {
                process: 1,
                value: None,
                replicated: true,
            },
        ];
        assert_eq!(classify(&history), [Anomaly::UnreplicatedReadLost]);
    }

    #[test]
    fn the_schedule_of_a_failed_write_read_back_is_found() {
        let events = [
            Event::WriteInvoke {
                process: 0,
                value: 1,
            },
            Event::WriteDone {
                process: 0,
                value: 1,
                outcome: Outcome::Fail,
            },
        ];
        let schedule = schedule_of(Coordinator::Original, &events, 2).expect("a schedule");
        assert_eq!(schedule, [Step::Write(0), Step::Complete(0)]);
    }
}
