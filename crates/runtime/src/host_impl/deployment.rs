//! `ballot:election/deployment`: who and where a component is, from its deployment.

use crate::bindings::deployment_api::{self, About, Role};

use super::HostState;

impl deployment_api::Host for HostState {
    async fn whoami(&mut self) -> wasmtime::Result<About> {
        // Reading what the component was given changes nothing: allowed even when
        // revoked, and not charged to the call quota.
        let identity = &self.identity;
        Ok(About {
            id: identity.about.public_id,
            name: identity.name.clone(),
            role: if identity.about.observer {
                Role::Observer
            } else {
                Role::Candidate
            },
            election: identity.election.to_string(),
            ballot_data: identity.about.ballot_data.clone(),
            host: self.shared.host_name().to_string(),
            session: identity.session.0,
        })
    }
}
