//! `ballot:election/elector`: the lease elector, for candidates. Calls are admitted like
//! every import (fence, quota) and run in one writer step each.

use std::time::Duration;

use crate::bindings::{elector_api, wit};
use ballot_check::models::LeadershipCall;
use ballot_core::command::{Command, Outcome};
use ballot_core::election::{ElectionName, LeaseOutcome};
use ballot_store::embedded::OnApplied;

use super::HostState;
use super::convert::{refusal_to_wit, to_wit_error};

type Answer<T> = wasmtime::Result<Result<T, wit::Error>>;

impl HostState {
    /// Proposes the elector command `command` builds for elector `name`: admitted like
    /// every import, then applied behind the instance's fence; `applied` sees what
    /// apply decided, in the step.
    async fn elector_step(
        &mut self,
        name: &str,
        command: impl FnOnce(ElectionName) -> Command,
        applied: Option<OnApplied>,
    ) -> Answer<Outcome> {
        let admitted = self
            .admit()
            .and_then(|()| ElectionName::parse(name).map_err(to_wit_error));
        let name = match admitted {
            Ok(name) => name,
            Err(error) => return Ok(Err(error)),
        };
        let mut hooks = self.fenced().hooks();
        hooks.applied = applied;
        let outcome = self.shared.propose(command(name), hooks).await?;
        Ok(outcome.map_err(refusal_to_wit))
    }
}

impl elector_api::Host for HostState {
    async fn reset_elector(&mut self, name: String, duration_ms: u64, peer: String) -> Answer<()> {
        let duration = Duration::from_millis(duration_ms);
        let outcome = self
            .elector_step(
                &name,
                move |elector| Command::ResetElector {
                    elector,
                    duration,
                    peer,
                },
                None,
            )
            .await?;
        Ok(outcome.map(drop))
    }

    async fn elect_for_duration(
        &mut self,
        name: String,
        peer: String,
    ) -> Answer<elector_api::LeaseOutcome> {
        // A win is recorded as `elected` in the writer step that made it, so a recorded
        // history shows every term its commits are guarded by (the leadership model).
        let recorder = self.shared.recorder.clone();
        let who = peer.clone();
        let scope = format!("elector:{name}");
        let record: OnApplied = Box::new(move |applied| {
            if let Ok(Outcome::Lease(LeaseOutcome::Won { term, .. })) = applied {
                recorder.leadership_now(
                    crate::txn::next_process(),
                    LeadershipCall::Elected,
                    &scope,
                    &who,
                    term.0,
                );
            }
        });
        let outcome = self
            .elector_step(
                &name,
                move |elector| Command::ElectForDuration { elector, peer },
                Some(record),
            )
            .await?;
        let outcome = match outcome {
            Ok(Outcome::Lease(outcome)) => Ok(outcome),
            Ok(other) => {
                return Err(wasmtime::Error::msg(format!(
                    "an election for a lease returned {other:?}"
                )));
            }
            Err(refused) => Err(refused),
        };
        Ok(outcome.map(|outcome| match outcome {
            LeaseOutcome::Won { term, .. } => elector_api::LeaseOutcome::Won(term.0),
            LeaseOutcome::Renewed { term, .. } => elector_api::LeaseOutcome::Renewed(term.0),
            LeaseOutcome::Held { master, term, left } => {
                elector_api::LeaseOutcome::Held(elector_api::LeaseHeld {
                    master,
                    term: term.0,
                    left_ms: u64::try_from(left.as_millis()).unwrap_or(u64::MAX),
                })
            }
        }))
    }
}
