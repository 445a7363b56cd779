//! `ballot:election/elector`: the lease elector, for candidates. Calls are admitted like
//! every import (fence, quota) and run in one writer step each.

use std::time::Duration;

use crate::election::{ElectionError, ElectionName, Elections, LeaseOutcome};
use crate::runtime::bindings::{elector_api, wit};

use super::HostState;
use super::convert::to_wit_error;

type Answer<T> = wasmtime::Result<Result<T, wit::Error>>;

fn to_wit(error: ElectionError) -> wit::Error {
    match error {
        ElectionError::Namespace(error) => to_wit_error(error),
        other => wit::Error::Invalid(other.to_string()),
    }
}

impl HostState {
    /// Admits a call naming elector `name`, and parses the name.
    fn admit_elector(&mut self, name: &str) -> Result<ElectionName, wit::Error> {
        self.admit()?;
        ElectionName::parse(name).map_err(to_wit_error)
    }
}

impl elector_api::Host for HostState {
    async fn reset_elector(&mut self, name: String, duration_ms: u64, peer: String) -> Answer<()> {
        let name = match self.admit_elector(&name) {
            Ok(name) => name,
            Err(error) => return Ok(Err(error)),
        };
        let check = self.fenced();
        let outcome = self
            .shared
            .store
            .execute_async(move |el: &mut Elections, now| {
                check.fence(el)?;
                el.reset_elector(&name, Duration::from_millis(duration_ms), &peer, now)
                    .map_err(to_wit)
            })
            .await?;
        Ok(outcome)
    }

    async fn elect_for_duration(
        &mut self,
        name: String,
        peer: String,
    ) -> Answer<elector_api::LeaseOutcome> {
        let name = match self.admit_elector(&name) {
            Ok(name) => name,
            Err(error) => return Ok(Err(error)),
        };
        let check = self.fenced();
        let outcome = self
            .shared
            .store
            .execute_async(move |el: &mut Elections, now| {
                check.fence(el)?;
                el.elect_for_duration(&name, &peer, now).map_err(to_wit)
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
