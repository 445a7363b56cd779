//! The log on etcd: one key whose history is the log. Each batch is one put of that key,
//! and the batch's position is the put's revision; reading the log is watching the key
//! from a revision, which replays its history in order.

use std::sync::atomic::{AtomicU64, Ordering};

use etcd_client::{EventType, PutOptions, WatchOptions, WatchResponse};

use ballot_core::namespace::HostEpoch;
use ballot_store::StoreError;
use ballot_store::log::{Batch, Entry, Log, Position};
use ballot_store::{Appended, Sequenced, SharedLog};

use crate::connection::{Connection, unavailable};
use crate::envelope::{Envelope, FORMAT};

/// Bytes an envelope adds around its entries, with room to spare: the put's key and
/// framing, the host, the sequence number.
const ENVELOPE_SLACK: usize = 4096;

/// The log of one ballot cluster on etcd.
pub struct EtcdLog {
    connection: Connection,
    /// The revision of the last batch this handle wrote or saw.
    last: AtomicU64,
    /// Tags of batches written through [`Log::write`] (recovery and tests; hosts append
    /// through [`SharedLog::append`] with their own).
    seq: u64,
}

impl EtcdLog {
    /// The log of the connection's cluster.
    pub fn open(connection: Connection) -> Result<Self, StoreError> {
        let log = EtcdLog {
            connection,
            last: AtomicU64::new(0),
            seq: 0,
        };
        let last = log.current_position()?;
        log.last.store(last, Ordering::Release);
        Ok(log)
    }

    /// The revision of the log key's newest batch, asked of the cluster now (a linearized
    /// read): a host that has applied up to it has seen everything acknowledged so far.
    pub fn current_position(&self) -> Result<Position, StoreError> {
        current_position(&self.connection)
    }

    /// Puts one batch and returns its revision; the put is refused before it is sent if it
    /// is over the cluster's request limit.
    fn put(&self, host: HostEpoch, seq: u64, entries: &[Entry]) -> Result<Appended, StoreError> {
        let value = Envelope {
            format: FORMAT,
            host,
            seq,
            entries: entries.to_vec(),
        }
        .encode();
        let limit = self.connection.settings().max_request_bytes;
        if value.len() + ENVELOPE_SLACK > limit {
            return Err(StoreError::Unavailable(format!(
                "a batch of {} bytes is over etcd's request limit of {limit} bytes \
                 (--max-request-bytes); it was not sent",
                value.len()
            )));
        }
        let key = self.connection.keys().log();
        let mut client = self.connection.client();
        let response = self
            .connection
            .block_on(client.put(key, value, Some(PutOptions::new().with_prev_key())))
            .map_err(unavailable("appending a batch"))?;
        let revision = response
            .header()
            .map(|h| h.revision() as u64)
            .ok_or_else(|| StoreError::Unavailable("etcd's answer had no revision".into()))?;
        self.last.fetch_max(revision, Ordering::AcqRel);
        Ok(Appended {
            position: revision,
            // The previous batch's revision; none before the first batch.
            after: response
                .prev_key()
                .map(|previous| previous.mod_revision() as u64),
        })
    }

    /// At most `max` batches after `after`, tagged with their proposers.
    pub fn history(&self, after: Position, max: usize) -> Result<Vec<Sequenced>, StoreError> {
        let last = self.current_position()?;
        if last <= after || max == 0 {
            return Ok(Vec::new());
        }
        let key = self.connection.keys().log();
        let mut client = self.connection.client();
        self.connection.block_on(async move {
            let options = WatchOptions::new().with_start_revision(after as i64 + 1);
            let (mut watcher, mut stream) = client
                .watch(key, Some(options))
                .await
                .map_err(unavailable("reading the log"))?;
            let mut batches = Vec::new();
            'read: while let Some(response) = stream
                .message()
                .await
                .map_err(unavailable("reading the log"))?
            {
                for batch in batches_in(&response, after)? {
                    let position = batch.position;
                    batches.push(batch);
                    if batches.len() >= max || position >= last {
                        break 'read;
                    }
                }
            }
            let _ = watcher.cancel().await;
            Ok(batches)
        })
    }
}

/// The revision of the log key's newest batch in the connection's cluster, asked of the
/// cluster now (a linearized read).
pub(crate) fn current_position(connection: &Connection) -> Result<Position, StoreError> {
    let key = connection.keys().log();
    let mut client = connection.client();
    let response = connection
        .block_on(client.get(key, None))
        .map_err(unavailable("reading the log's position"))?;
    Ok(response
        .kvs()
        .first()
        .map_or(0, |kv| kv.mod_revision() as u64))
}

/// The batches one answer of a watch on the log key carries, in order. A watch that
/// started after `after` and finds that part compacted away is
/// [`StoreError::Compacted`]; one etcd ended is [`StoreError::Unavailable`].
pub(crate) fn batches_in(
    response: &WatchResponse,
    after: Position,
) -> Result<Vec<Sequenced>, StoreError> {
    if response.compact_revision() > 0 {
        return Err(StoreError::Compacted {
            position: after,
            compacted: response.compact_revision() as u64,
        });
    }
    if response.canceled() {
        return Err(StoreError::Unavailable(format!(
            "etcd ended the log's watch: {}",
            response.cancel_reason()
        )));
    }
    let mut batches = Vec::new();
    for event in response.events() {
        let (EventType::Put, Some(kv)) = (event.event_type(), event.kv()) else {
            continue;
        };
        let position = kv.mod_revision() as u64;
        let envelope = Envelope::decode(kv.value(), position)?;
        batches.push(Sequenced {
            position,
            host: envelope.host,
            seq: envelope.seq,
            entries: envelope.entries,
        });
    }
    Ok(batches)
}

impl Log for EtcdLog {
    fn last_position(&self) -> Position {
        self.last.load(Ordering::Acquire)
    }

    fn write(&mut self, entries: &[Entry]) -> Result<Position, StoreError> {
        self.seq += 1;
        self.put(HostEpoch::EMBEDDED, self.seq, entries)
            .map(|appended| appended.position)
    }

    /// A put returns once a quorum of members has it: nothing is left to sync.
    fn sync(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn read_after(&self, after: Position, max: usize) -> Result<Vec<Batch>, StoreError> {
        Ok(self
            .history(after, max)?
            .into_iter()
            .map(|batch| Batch {
                position: batch.position,
                host: batch.host,
                entries: batch.entries,
            })
            .collect())
    }
}

impl SharedLog for EtcdLog {
    fn append(
        &mut self,
        host: HostEpoch,
        seq: u64,
        entries: &[Entry],
    ) -> Result<Appended, StoreError> {
        self.put(host, seq, entries)
    }

    fn max_batch_bytes(&self) -> usize {
        self.connection
            .settings()
            .max_request_bytes
            .saturating_sub(ENVELOPE_SLACK)
    }
}
