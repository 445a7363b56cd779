//! How one batch of commands is written into the log key's value: a versioned CBOR
//! envelope naming its proposer, so every host can tell whose batch it applies and a
//! proposer whose answer was lost recognises its own.

use serde::{Deserialize, Serialize};

use ballot_core::namespace::HostEpoch;
use ballot_store::StoreError;
use ballot_store::log::Entry;

/// The envelope's format; a host refuses a log written in another.
pub const FORMAT: u32 = 1;

/// One batch as the log key holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// [`FORMAT`] of the writer.
    pub format: u32,
    /// The proposing host's epoch.
    pub host: HostEpoch,
    /// The proposer's own number for the batch.
    pub seq: u64,
    /// The commands, stamped on the proposer's clock.
    pub entries: Vec<Entry>,
}

impl Envelope {
    /// The value to put.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        ciborium::into_writer(self, &mut bytes).expect("encoding to memory cannot fail");
        bytes
    }

    /// Reads the value of the log key at `position`; a value from another version of
    /// ballot, or damaged, is an error naming the position, never a guess.
    pub fn decode(bytes: &[u8], position: u64) -> Result<Envelope, StoreError> {
        #[derive(Deserialize)]
        struct Format {
            format: u32,
        }
        let format: Format = ciborium::from_reader(bytes).map_err(|e| StoreError::Corrupt {
            file: "etcd log key".into(),
            offset: position,
            reason: format!("not a ballot batch: {e}"),
        })?;
        if format.format != FORMAT {
            return Err(StoreError::Incompatible(format!(
                "the log's batch at revision {position} is in format {}, and this ballot reads format {FORMAT}: \
                 it was written by an incompatible version",
                format.format
            )));
        }
        ciborium::from_reader(bytes).map_err(|e| StoreError::Corrupt {
            file: "etcd log key".into(),
            offset: position,
            reason: format!("a damaged batch: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballot_core::command::Command;
    use ballot_core::namespace::MonoTime;
    use std::time::Duration;

    #[test]
    fn a_batch_reads_back_and_another_format_is_refused_by_name() {
        let envelope = Envelope {
            format: FORMAT,
            host: HostEpoch(7),
            seq: 3,
            entries: vec![Entry {
                at: MonoTime(5),
                command: Command::OpenSession {
                    ttl: Duration::from_secs(1),
                },
            }],
        };
        assert_eq!(Envelope::decode(&envelope.encode(), 9).unwrap(), envelope);
        let future = Envelope {
            format: FORMAT + 1,
            ..envelope
        };
        match Envelope::decode(&future.encode(), 9) {
            Err(StoreError::Incompatible(why)) => assert!(why.contains("revision 9"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Envelope::decode(b"\xff\x00", 9),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
