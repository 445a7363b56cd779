//! Priority elections: the highest priority leads, ties by ballot order.
//!
//! The recipe's rule (the lowest ballot leads) stays the only rule that picks a winner;
//! a priority election keeps its queue in the order it wants instead. After every vote
//! in it, the waiting candidates are put in priority order (highest first, ties by the
//! order they voted in) by sending the ones out of place to the back again, in order,
//! so that whoever is next in line when the leader goes is the highest priority waiting.
//! A candidate that votes with a priority above the leader's (and did not opt out with
//! `preempt: false`) takes over at once, through the same step as a handoff: the leader
//! is deposed (revoked before anyone else hears) and the first in line wins under a
//! higher term. Elections that never chose `priority` are the seed's, untouched.

use serde::{Deserialize, Serialize};

use super::{CandidateId, Cause, Effects, ElectionError, ElectionName, Elections};

/// How an election picks its leader, fixed by the first candidate that joins it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Policy {
    /// The seed's rule: the lowest ballot leads, in the order the candidates voted.
    Queue,
    /// The highest priority leads; ties by ballot order (see the module docs).
    Priority,
}

/// A candidate's standing in a priority election.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Priority {
    /// Higher leads.
    pub level: i64,
    /// Whether voting with a priority above the leader's takes leadership over at once;
    /// without it the candidate waits at the head of the line until the leader goes.
    pub preempt: bool,
}

impl Default for Priority {
    /// What a candidate that names no priority gets in a priority election.
    fn default() -> Self {
        Priority {
            level: 0,
            preempt: true,
        }
    }
}

impl Elections {
    /// The election's policy, once a candidate has joined it.
    pub fn policy(&self, election: &ElectionName) -> Option<Policy> {
        self.races.get(election)?.policy
    }

    /// The candidate's priority (the default one in elections that use the queue).
    pub fn priority_of(&self, id: CandidateId) -> Option<Priority> {
        Some(self.candidates.get(&id)?.priority)
    }

    /// Checks that a candidate asking for `priority` may join `election` (and, with the
    /// first candidate, fixes the policy): a priority in an election that uses the queue
    /// would be silently ignored, so it is refused. A candidate without one joins any
    /// election, with the default priority in a priority election.
    pub(super) fn admit(
        &mut self,
        election: &ElectionName,
        priority: Option<Priority>,
    ) -> Result<(), ElectionError> {
        if priority.is_some() {
            self.check_priority(election)?;
        }
        let race = self.race(election);
        if race.policy.is_none() {
            race.policy = Some(if priority.is_some() {
                Policy::Priority
            } else {
                Policy::Queue
            });
        }
        Ok(())
    }

    /// Whether a candidate with `priority` may join `election`, changing nothing: refused
    /// when the election uses the queue.
    pub fn check_priority(&self, election: &ElectionName) -> Result<(), ElectionError> {
        match self.policy(election) {
            Some(Policy::Queue) => Err(ElectionError::Policy {
                election: election.clone(),
                reason: "it uses the queue policy (chosen by its first candidate), so a \
                         priority would be ignored; join without one, or use another \
                         election"
                    .into(),
            }),
            _ => Ok(()),
        }
    }

    /// The candidates holding ballots in `election`, lowest ballot (the leader) first.
    pub(super) fn queue(&self, election: &ElectionName) -> Vec<CandidateId> {
        let paths = election.paths();
        self.ns
            .children(&paths.ballots)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|name| {
                let ballot = paths.ballots.child(&name).ok()?;
                self.ballot_owners.get(&ballot).copied()
            })
            .collect()
    }

    /// After `voter` voted in `election`: the waiting candidates in priority order, and
    /// the leader preempted if the voter outranks it and may preempt.
    pub(super) fn settle(
        &mut self,
        election: &ElectionName,
        voter: CandidateId,
        out: &mut Effects,
    ) -> Result<(), ElectionError> {
        if self.policy(election) != Some(Policy::Priority) {
            return Ok(());
        }
        self.sort_waiting(election, out)?;
        let queue = self.queue(election);
        let (Some(&leader), Some(&next)) = (queue.first(), queue.get(1)) else {
            return Ok(());
        };
        let voter_priority = self.candidates[&voter].priority;
        let outranks = voter_priority.level > self.candidates[&leader].priority.level;
        if voter != leader
            && voter_priority.preempt
            && outranks
            && self.leading_term(leader).is_some()
        {
            let (_, handed) = self.hand_off(election, Some(next), Cause::Preempted)?;
            out.extend(handed);
        }
        Ok(())
    }

    /// Puts the waiting candidates of a priority election in order: from the first one
    /// out of place on, each votes again at the back, highest priority first.
    pub(super) fn sort_waiting(
        &mut self,
        election: &ElectionName,
        out: &mut Effects,
    ) -> Result<(), ElectionError> {
        let queue = self.queue(election);
        let Some(waiting) = queue.get(1..) else {
            return Ok(());
        };
        let mut wanted = waiting.to_vec();
        // Stable: equal priorities keep their ballot order.
        wanted.sort_by_key(|id| std::cmp::Reverse(self.candidates[id].priority.level));
        let Some(first_out_of_place) = waiting.iter().zip(&wanted).position(|(a, b)| a != b) else {
            return Ok(());
        };
        for &id in &wanted[first_out_of_place..] {
            self.requeue(id, out)?;
        }
        Ok(())
    }

    /// Sends a waiting candidate to the back of the queue: its ballot goes and a new one
    /// is cast with the same session and data. It is not told it lost again if it was
    /// told already: nothing changed for it but its place.
    pub(super) fn requeue(
        &mut self,
        id: CandidateId,
        out: &mut Effects,
    ) -> Result<(), ElectionError> {
        let told = self.candidates[&id].told_losing;
        out.extend(self.resign(id)?);
        out.extend(self.cast(id, told)?);
        Ok(())
    }
}
