//! What the election tells its participants. Every outcome is an event returned to the
//! caller for delivery through the participant's mailbox, never a call made from inside the
//! operation that caused it.

use serde::{Deserialize, Serialize};

use crate::namespace::{Revision, SessionId, WatchEvent};

use super::{CandidateId, ElectionName, Leader, ObserverId, Term};

/// Who a notification is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Recipient {
    /// A candidate.
    Candidate(CandidateId),
    /// An observer.
    Observer(ObserverId),
}

/// The callbacks of the candidate and observer worlds, plus the revocation signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Callback {
    /// To a candidate: its ballot is now the lowest; it leads under `term`. When it has done
    /// what taking over needs, it acknowledges, which announces it to everyone else.
    WinningElection {
        /// The new leader's term.
        term: Term,
    },
    /// To a candidate, once per vote: its ballot lost, and this is the leader, which has
    /// already acknowledged.
    LosingElection {
        /// The acknowledged leader.
        leader: Leader,
    },
    /// To observers and to candidates that follow the leader: a leader acknowledged (or
    /// re-acknowledged with new data).
    NewLeader {
        /// The acknowledged leader.
        leader: Leader,
    },
    /// To observers: the acknowledged leader's ack vanished (it died, expired or resigned).
    LeadersDeath {
        /// The term that ended.
        term: Term,
    },
    /// To a leader that did not resign: its ballot is gone, so `term` no longer holds.
    /// Placed before any notification of the commit that deposed it (the successor's
    /// `WinningElection` included), so the host revokes the old term's powers first.
    Deposed {
        /// The term it lost.
        term: Term,
        /// What ended it.
        cause: Cause,
    },
}

/// What ended a leader's term in a step of apply: the unplanned loss of the recipe, or
/// one of the planned changes (a handoff, a preemption, a drain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Cause {
    /// Its ballot vanished: its session ended or closed, or the ballot was deleted.
    Lost,
    /// An operator or the leader itself handed leadership to another candidate.
    HandOff,
    /// A candidate with a higher priority took over (a priority election).
    Preempted,
    /// Its host was drained: leadership went to a candidate that survives the stop.
    Drained,
}

impl Cause {
    /// The name the leadership history gives it (the `cause` of a `revoke`).
    pub fn name(self) -> &'static str {
        match self {
            Cause::Lost => "deposed",
            Cause::HandOff => "handoff",
            Cause::Preempted => "preempt",
            Cause::Drained => "drain",
        }
    }
}

/// One callback for one participant, with the revision that caused it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The revision of the change that caused it.
    pub revision: Revision,
    /// The election concerned.
    pub election: ElectionName,
    /// Who should run the callback.
    pub to: Recipient,
    /// Which callback, with its arguments.
    pub callback: Callback,
}

/// Everything an operation caused, in causal order: election notifications, and watch
/// events for watches that callers registered themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    /// Election callbacks to deliver, in order.
    pub notifications: Vec<Notification>,
    /// Fired watches that belong to callers (not to the election bookkeeping).
    pub watch_events: Vec<WatchEvent>,
    /// Sessions this step ended (closed or expired): whoever acted through them has lost
    /// its powers, and the host revokes them before anything else is delivered.
    pub ended_sessions: Vec<SessionId>,
    /// Leaders this step deposed, by the name they entered with: every host applying the
    /// step learns whose term ended, wherever that leader ran.
    pub deposed: Vec<Deposition>,
}

/// A leader's term ended by a step (see [`Effects::deposed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deposition {
    /// The name it entered with, if any.
    pub name: Option<String>,
    /// The election it led.
    pub election: ElectionName,
    /// The term that ended.
    pub term: Term,
    /// Its session.
    pub session: SessionId,
    /// What ended the term.
    pub cause: Cause,
}

impl Effects {
    /// Appends `other` after these effects.
    pub fn extend(&mut self, other: Effects) {
        self.notifications.extend(other.notifications);
        self.watch_events.extend(other.watch_events);
        self.ended_sessions.extend(other.ended_sessions);
        self.deposed.extend(other.deposed);
    }

    /// True when nothing happened that anyone must hear of.
    pub fn is_empty(&self) -> bool {
        self.notifications.is_empty()
            && self.watch_events.is_empty()
            && self.ended_sessions.is_empty()
    }
}
