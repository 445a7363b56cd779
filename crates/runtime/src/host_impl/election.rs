//! `ballot:election/election`: vote, resign and ack act on the caller's own candidacy;
//! their outcomes arrive later as callbacks, never inside the call.

use crate::bindings::{election_api, wit};
use ballot_core::election::{CandidateId, Effects, ElectionError, ElectionName, Elections};
use ballot_core::namespace::{Data, Error};

use super::HostState;
use super::convert::{election_error_to_wit, to_wit_error, to_wit_leader};

type Answer<T> = wasmtime::Result<Result<T, wit::Error>>;

impl HostState {
    fn candidate_id(&self) -> Result<CandidateId, wit::Error> {
        self.identity
            .candidate
            .ok_or_else(|| wit::Error::Invalid("only candidates take part in elections".into()))
    }

    /// Runs an election operation for this candidate and delivers its effects.
    async fn elect(
        &mut self,
        f: impl FnOnce(
            &mut Elections,
            CandidateId,
            ballot_core::namespace::MonoTime,
        ) -> Result<Effects, ElectionError>
        + Send
        + 'static,
    ) -> Answer<()> {
        let id = match self.admit().and_then(|()| self.candidate_id()) {
            Ok(id) => id,
            Err(error) => return Ok(Err(error)),
        };
        let check = self.fenced();
        let outcome = self
            .shared
            .commit(move |el: &mut Elections, now| {
                if let Err(refused) = check.fence(el) {
                    return (Err(refused), Effects::default());
                }
                match f(el, id, now) {
                    Ok(effects) => (Ok(()), effects),
                    Err(error) => (Err(election_error_to_wit(error)), Effects::default()),
                }
            })
            .await?;
        Ok(outcome)
    }
}

impl election_api::Host for HostState {
    async fn vote(&mut self, data: Vec<u8>) -> Answer<()> {
        self.elect(move |el, id, now| {
            el.set_data(id, Data::from(data))?;
            el.vote(id, now)
        })
        .await
    }

    async fn resign(&mut self) -> Answer<()> {
        self.elect(|el, id, now| el.resign(id, now)).await
    }

    async fn leader(&mut self, election: String) -> Answer<Option<wit::Leader>> {
        if let Err(refused) = self.admit() {
            return Ok(Err(refused));
        }
        let election = match ElectionName::parse(&election) {
            Ok(election) => election,
            Err(error) => return Ok(Err(to_wit_error(error))),
        };
        let state = self.shared.store.published();
        Ok(Ok(
            ballot_core::election::read_leader(&state, &election).map(|l| to_wit_leader(&l))
        ))
    }

    async fn ack(&mut self, data: Vec<u8>) -> Answer<()> {
        self.elect(move |el, id, now| {
            let term = el
                .leading_term(id)
                .ok_or(ElectionError::Namespace(Error::NotLeader { current: None }))?;
            el.acknowledge(id, term, Some(Data::from(data)), now)
        })
        .await
    }
}
