//! The leadership model: elections with terms as fencing tokens, and commits guarded by
//! them.
//!
//! The state is the current term and its leader, if any. Candidates are any JSON value
//! (a name, a number); terms are non-negative integers.
//!
//! | f             | invoke value                   | ok value                  | takes effect when |
//! |---------------|--------------------------------|---------------------------|-------------------|
//! | `elected`     | `[candidate, term]`            | the same                  | `term` is above the current term (it becomes the term, `candidate` its leader), or it repeats the current term and leader |
//! | `commit`      | `[candidate, term]` or `[candidate, term, payload]` | the same | `candidate` leads `term` right now; changes nothing |
//! | `read-leader` | `null`                         | `[candidate, term]`, or `null` for no leader | the reply is the current term and leader |
//! | `resign`      | `[candidate, term]`            | the same                  | `term` is below the current term (nothing changes); or it is the current term and its leader is `candidate` or nobody (clears the leader); or it is above the current term, a term that ended before its leader acted on it (it becomes the current term, with no leader; in the exclusive variant only while nobody leads) |
//! | `revoke`      | `[candidate, term]`            | the same                  | as `resign`: the host took the term's powers away (deposed, trapped, expired, or a planned change) |
//!
//! A `revoke` may say why in its invoke's `cause` field
//! ([`crate::history::CAUSE_FIELD`]): `deposed`, `handoff`, `preempt`, `drain`, `stall`,
//! `crash`, `kill`, `session-ended`, `fenced`. The model reads only the call: a planned
//! change ends a term exactly as an unplanned one does, so the same rules hold for it.
//!
//! From these rules: at most one leader per term (a second `elected` for a term is
//! refused), terms only increase, and a commit is valid only under the term that holds
//! when it applies, so a deposed leader's commit that completed `ok` after a newer
//! election completed is a violation. A commit the guard refused is recorded as `fail`
//! and, like every `fail`, never took effect.
//!
//! The exclusive variant ([`Leadership::EXCLUSIVE`], `leadership-exclusive`) adds one
//! rule: a new term's `elected` takes effect only once nobody leads, so a successor that
//! starts acting on its win before its predecessor was revoked (or resigned) is a
//! violation. It is how the runtime proves that revocation precedes promotion.
//!
//! Who records what: the election records `elected` when a candidate learns it won
//! (invoke when it starts to act on the win, `ok` when the callback returns), the commit
//! path records `commit` with the term it was guarded by, observers record
//! `read-leader`, and `resign` is recorded around a resignation.

use serde_json::Value;

use crate::history::Call;

use super::super::model::Model;
use super::super::value::{Interner, ValueId};

/// The calls a leadership history holds: the model's whole vocabulary, named once. The
/// runtime records through [`crate::history::Recorder::leadership`] with these, so what it
/// writes and what this model reads cannot drift apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeadershipCall {
    /// A candidate won a term and acts on it.
    Elected,
    /// A commit guarded by a term.
    Commit,
    /// A leader gave its term up.
    Resign,
    /// The host took a term's powers away (deposed, trapped, expired, killed).
    Revoke,
    /// Someone read who leads.
    ReadLeader,
}

impl LeadershipCall {
    /// Every call, in the order the module docs list them.
    pub const ALL: [LeadershipCall; 5] = [
        LeadershipCall::Elected,
        LeadershipCall::Commit,
        LeadershipCall::ReadLeader,
        LeadershipCall::Resign,
        LeadershipCall::Revoke,
    ];

    /// The `f` of the call in a history.
    pub const fn name(self) -> &'static str {
        match self {
            LeadershipCall::Elected => "elected",
            LeadershipCall::Commit => "commit",
            LeadershipCall::Resign => "resign",
            LeadershipCall::Revoke => "revoke",
            LeadershipCall::ReadLeader => "read-leader",
        }
    }

    /// The call a history's `f` names, if it is one of the model's.
    pub fn from_name(f: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|call| call.name() == f)
    }
}

/// The current term and its leader (`None` before any election or after a resign).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct LeadershipState {
    /// The highest term elected so far.
    pub term: u64,
    /// Its leader, while it leads.
    pub leader: Option<ValueId>,
}

/// One leadership op; see the module docs for the vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeadershipOp {
    /// `candidate` won `term`.
    Elected {
        /// The winner.
        candidate: ValueId,
        /// Its term.
        term: u64,
    },
    /// `candidate` committed guarded by `term`.
    Commit {
        /// The committer.
        candidate: ValueId,
        /// The term guarding the commit.
        term: u64,
    },
    /// A read of the current leader: `Some(None)` saw no leader, `Some(Some(..))` saw
    /// one, `None` when unknown.
    ReadLeader(Option<Option<(ValueId, u64)>>),
    /// `candidate` stepped down from `term`.
    Resign {
        /// Who resigned.
        candidate: ValueId,
        /// The term it resigned from.
        term: u64,
    },
}

/// The leadership model.
#[derive(Debug, Clone, Copy, Default)]
pub struct Leadership {
    /// Whether a new term needs the previous leader gone first (see the module docs).
    pub exclusive: bool,
}

impl Leadership {
    /// Terms as fencing tokens: one leader per term, terms increase.
    pub const PER_TERM: Leadership = Leadership { exclusive: false };
    /// Additionally, no two leaders at once, whatever their terms.
    pub const EXCLUSIVE: Leadership = Leadership { exclusive: true };
}

fn candidate_term(
    value: &Value,
    values: &mut Interner,
    what: &str,
) -> Result<(ValueId, u64), String> {
    let items = value.as_array().map(Vec::as_slice);
    let (candidate, term) = match items {
        Some([candidate, term]) => (candidate, term),
        Some([candidate, term, _payload]) if what == "commit" => (candidate, term),
        _ => {
            let shape = if what == "commit" {
                "[candidate, term] or [candidate, term, payload]"
            } else {
                "[candidate, term]"
            };
            return Err(format!("{what} value must be {shape}, found {value}"));
        }
    };
    let term = term
        .as_u64()
        .ok_or_else(|| format!("{what} term must be a non-negative integer, found {term}"))?;
    Ok((values.intern(candidate), term))
}

impl Model for Leadership {
    type State = LeadershipState;
    type Op = LeadershipOp;

    fn name(&self) -> &'static str {
        if self.exclusive {
            "leadership-exclusive"
        } else {
            "leadership"
        }
    }

    fn init(&self) -> LeadershipState {
        LeadershipState::default()
    }

    fn compile(&self, call: &Call, values: &mut Interner) -> Result<LeadershipOp, String> {
        let Some(kind) = LeadershipCall::from_name(&call.f) else {
            let names: Vec<&str> = LeadershipCall::ALL.iter().map(|c| c.name()).collect();
            return Err(format!(
                "f must be one of {}, found {:?}",
                names.join(", "),
                call.f
            ));
        };
        match kind {
            LeadershipCall::Elected => {
                let (candidate, term) = candidate_term(&call.input, values, "elected")?;
                Ok(LeadershipOp::Elected { candidate, term })
            }
            LeadershipCall::Commit => {
                let (candidate, term) = candidate_term(&call.input, values, "commit")?;
                Ok(LeadershipOp::Commit { candidate, term })
            }
            LeadershipCall::Resign | LeadershipCall::Revoke => {
                let (candidate, term) = candidate_term(&call.input, values, &call.f)?;
                Ok(LeadershipOp::Resign { candidate, term })
            }
            LeadershipCall::ReadLeader => match super::output(call) {
                None => Ok(LeadershipOp::ReadLeader(None)),
                Some(Value::Null) => Ok(LeadershipOp::ReadLeader(Some(None))),
                Some(seen) => {
                    let (candidate, term) = candidate_term(seen, values, "read-leader")?;
                    Ok(LeadershipOp::ReadLeader(Some(Some((candidate, term)))))
                }
            },
        }
    }

    fn step(&self, state: &LeadershipState, op: &LeadershipOp) -> Option<LeadershipState> {
        match *op {
            LeadershipOp::Elected { candidate, term } => {
                if term > state.term && !(self.exclusive && state.leader.is_some()) {
                    Some(LeadershipState {
                        term,
                        leader: Some(candidate),
                    })
                } else {
                    (term == state.term && state.leader == Some(candidate)).then_some(*state)
                }
            }
            LeadershipOp::Commit { candidate, term } => {
                (term == state.term && state.leader == Some(candidate)).then_some(*state)
            }
            LeadershipOp::ReadLeader(None) => Some(*state),
            LeadershipOp::ReadLeader(Some(seen)) => {
                let current = state.leader.map(|leader| (leader, state.term));
                (seen == current).then_some(*state)
            }
            LeadershipOp::Resign { candidate, term } => {
                if term < state.term {
                    Some(*state)
                } else if term > state.term {
                    // A term that ended before its leader acted on it (deposed before it
                    // heard it won, recorded by another host): it began, so terms move on
                    // to it; in the exclusive model only once nobody leads.
                    (!(self.exclusive && state.leader.is_some()))
                        .then_some(LeadershipState { term, leader: None })
                } else if term == state.term
                    && (state.leader == Some(candidate) || state.leader.is_none())
                {
                    Some(LeadershipState { term, leader: None })
                } else {
                    None
                }
            }
        }
    }

    fn read_only(&self, op: &LeadershipOp) -> bool {
        matches!(
            op,
            LeadershipOp::Commit { .. } | LeadershipOp::ReadLeader(_)
        )
    }

    fn explain(&self, state: &LeadershipState, op: &LeadershipOp, values: &Interner) -> String {
        let now = self.show_state(state, values);
        match *op {
            LeadershipOp::Elected { candidate, term } => format!(
                "{} cannot win term {term}: {now} (one leader per term, terms increase{})",
                values.show(candidate),
                if self.exclusive {
                    ", and the previous leader must be revoked first"
                } else {
                    ""
                }
            ),
            LeadershipOp::Commit { candidate, term } => format!(
                "commit by {} under term {term} applied while {now}",
                values.show(candidate)
            ),
            LeadershipOp::ReadLeader(_) => format!("read a leader other than the current: {now}"),
            LeadershipOp::Resign { candidate, term } => format!(
                "{} cannot resign term {term}: {now}",
                values.show(candidate)
            ),
        }
    }

    fn show_op(&self, op: &LeadershipOp, values: &Interner) -> String {
        match *op {
            LeadershipOp::Elected { candidate, term } => {
                format!("elected {} term {term}", values.show(candidate))
            }
            LeadershipOp::Commit { candidate, term } => {
                format!("commit by {} term {term}", values.show(candidate))
            }
            LeadershipOp::ReadLeader(None) => "read-leader -> ?".to_string(),
            LeadershipOp::ReadLeader(Some(None)) => "read-leader -> none".to_string(),
            LeadershipOp::ReadLeader(Some(Some((candidate, term)))) => {
                format!("read-leader -> {} term {term}", values.show(candidate))
            }
            LeadershipOp::Resign { candidate, term } => {
                format!("resign {} term {term}", values.show(candidate))
            }
        }
    }

    fn show_state(&self, state: &LeadershipState, values: &Interner) -> String {
        match state.leader {
            Some(leader) => format!("term {} led by {}", state.term, values.show(leader)),
            None => format!("term {} with no leader", state.term),
        }
    }
}
