//! `ballot:election/election`: vote, resign and ack act on the caller's own candidacy;
//! their outcomes arrive later as callbacks, never inside the call.

use crate::bindings::{election_api, wit};
use ballot_core::command::Command;
use ballot_core::election::{CandidateId, ElectionName};
use ballot_core::namespace::Data;

use super::HostState;
use super::convert::{refusal_to_wit, to_wit_error};

type Answer<T> = wasmtime::Result<Result<T, wit::Error>>;

impl HostState {
    fn candidate_id(&self) -> Result<CandidateId, wit::Error> {
        self.identity
            .candidate
            .ok_or_else(|| wit::Error::Invalid("only candidates take part in elections".into()))
    }

    /// Proposes the election command `command` builds for this candidate; what it
    /// causes is delivered like any other command's.
    async fn elect(&mut self, command: impl FnOnce(CandidateId) -> Command) -> Answer<()> {
        let id = match self.admit().and_then(|()| self.candidate_id()) {
            Ok(id) => id,
            Err(error) => return Ok(Err(error)),
        };
        let hooks = self.fenced().hooks();
        let outcome = self.shared.propose(command(id), hooks).await?;
        Ok(outcome.map(drop).map_err(refusal_to_wit))
    }
}

impl election_api::Host for HostState {
    async fn vote(&mut self, data: Vec<u8>) -> Answer<()> {
        let answer = self
            .elect(move |candidate| Command::Vote {
                candidate,
                data: Some(Data::from(data)),
            })
            .await;
        if matches!(answer, Ok(Ok(()))) {
            self.identity.set_standing(crate::Standing::In);
        }
        answer
    }

    async fn resign(&mut self) -> Answer<()> {
        let answer = self.elect(|candidate| Command::Resign { candidate }).await;
        if matches!(answer, Ok(Ok(()))) {
            self.identity.set_standing(crate::Standing::Resigned);
        }
        answer
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
        Ok(Ok(ballot_core::election::read_leader(&state, &election)
            .map(|l| self.shared.wit_leader(&l))))
    }

    async fn hand_off(&mut self, to: Option<u64>) -> Answer<()> {
        let target = match to {
            None => None,
            Some(public_id) => match self.shared.candidate_deployed_as(public_id) {
                Some(candidate) => Some(candidate),
                None => {
                    return Ok(Err(wit::Error::Invalid(format!(
                        "no candidate deployed as {public_id} runs on this host"
                    ))));
                }
            },
        };
        let election = self.identity.election.clone();
        self.elect(move |candidate| Command::HandOff {
            election,
            to: target,
            drain: false,
            from: Some(candidate),
        })
        .await
    }

    async fn ack(&mut self, data: Vec<u8>) -> Answer<()> {
        self.elect(move |candidate| Command::Acknowledge {
            candidate,
            term: None,
            data: Some(Data::from(data)),
        })
        .await
    }
}
