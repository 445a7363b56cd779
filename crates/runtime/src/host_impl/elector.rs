//! `ballot:election/elector`: the lease elector, for candidates. Calls are admitted like
//! every import (fence, quota) and run in one writer step each.

use std::time::Duration;

use crate::bindings::{elector_api, wit};
use ballot_core::election::{ElectionError, ElectionName, Elections, LeaseOutcome};
use ballot_core::namespace::MonoTime;

use super::HostState;
use super::convert::{election_error_to_wit, to_wit_error};

type Answer<T> = wasmtime::Result<Result<T, wit::Error>>;

impl HostState {
    /// Runs `f` on elector `name` for this instance: admitted like every import, then in
    /// one writer step behind the instance's fence.
    async fn elector_step<T: Send + 'static>(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut Elections, &ElectionName, MonoTime) -> Result<T, ElectionError>
        + Send
        + 'static,
    ) -> Answer<T> {
        let admitted = self
            .admit()
            .and_then(|()| ElectionName::parse(name).map_err(to_wit_error));
        let name = match admitted {
            Ok(name) => name,
            Err(error) => return Ok(Err(error)),
        };
        let check = self.fenced();
        let outcome = self
            .shared
            .store
            .execute_async(move |el: &mut Elections, now| {
                check.fence(el)?;
                f(el, &name, now).map_err(election_error_to_wit)
            })
            .await?;
        Ok(outcome)
    }
}

impl elector_api::Host for HostState {
    async fn reset_elector(&mut self, name: String, duration_ms: u64, peer: String) -> Answer<()> {
        let duration = Duration::from_millis(duration_ms);
        self.elector_step(&name, move |el, name, now| {
            el.reset_elector(name, duration, &peer, now)
        })
        .await
    }

    async fn elect_for_duration(
        &mut self,
        name: String,
        peer: String,
    ) -> Answer<elector_api::LeaseOutcome> {
        // A win is recorded as `elected` in the writer step that made it, so a recorded
        // history shows every term its commits are guarded by (the leadership model).
        let recorder = self.shared.recorder.clone();
        let outcome = self
            .elector_step(&name, move |el, name, now| {
                let outcome = el.elect_for_duration(name, &peer, now)?;
                if let LeaseOutcome::Won { term, .. } = &outcome {
                    let value = serde_json::json!([peer, term.0]);
                    recorder
                        .invoke(crate::txn::next_process(), "elected", value.clone())
                        .ok(value);
                }
                Ok(outcome)
            })
            .await?;
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
