//! Leaders and the ack node that announces them.

use serde::{Deserialize, Serialize};

use crate::namespace::{Data, Revision};

use super::CandidateId;

/// A leader's term: the creation revision of its ballot. Strictly increasing per election,
/// because every ballot that can still win was created after the current leader's.
pub type Term = Revision;

/// An acknowledged leader, as observers and losing candidates learn of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leader {
    /// Which candidate leads.
    pub candidate: CandidateId,
    /// Its term: the fencing token every one of its effects must carry.
    pub term: Term,
    /// The data it acknowledged with (the zk gem's leader-ack data, e.g. its address).
    pub data: Data,
}

impl Leader {
    /// The ack node's payload. The term travels with the data, so a reader of the ack alone
    /// knows which term it belongs to and can tell a stale ack from a current one.
    pub fn encode(&self) -> Data {
        let mut out = Vec::new();
        ciborium::into_writer(self, &mut out).expect("writing CBOR to a Vec cannot fail");
        Data::from(out)
    }

    /// Reads an ack node's payload; `None` if somebody else wrote something else there.
    pub fn decode(data: &Data) -> Option<Leader> {
        ciborium::from_reader(data.as_bytes()).ok()
    }
}
