//! Snapshots of the state in etcd: the encoded elections in chunks below etcd's request
//! limit, then a manifest naming the chunks and their digest. The manifest is written
//! last, so a snapshot without one is unfinished and never loaded; a loaded snapshot whose
//! chunks do not match the digest is refused.

use etcd_client::{GetOptions, SortOrder, SortTarget};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use ballot_core::election::Elections;
use ballot_core::namespace::Limits;
use ballot_store::StoreError;
use ballot_store::log::{Position, Snapshots};

use crate::connection::{Connection, unavailable};

/// Bytes per chunk: well below etcd's default request limit of 1.5 MiB.
const CHUNK: usize = 1 << 20;

/// Snapshots kept; older ones are deleted once a newer one is complete.
const KEEP: usize = 2;

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    position: Position,
    chunks: u32,
    bytes: u64,
    sha256: Vec<u8>,
}

/// The snapshots of one ballot cluster.
pub struct EtcdSnapshots {
    connection: Connection,
}

impl EtcdSnapshots {
    /// The snapshots of the connection's cluster.
    pub fn new(connection: Connection) -> Self {
        EtcdSnapshots { connection }
    }

    fn folder(&self, position: Position) -> String {
        // Zero-padded, so the keys sort by position.
        format!("{}{position:020}/", self.connection.keys().snapshots())
    }

    /// The positions of complete snapshots, oldest first.
    fn complete(&self) -> Result<Vec<Position>, StoreError> {
        let mut client = self.connection.client();
        let prefix = self.connection.keys().snapshots();
        let options = GetOptions::new()
            .with_prefix()
            .with_keys_only()
            .with_sort(SortTarget::Key, SortOrder::Ascend);
        let response = self
            .connection
            .block_on(client.get(prefix.clone(), Some(options)))
            .map_err(unavailable("listing snapshots"))?;
        Ok(response
            .kvs()
            .iter()
            .filter_map(|kv| {
                let key = kv.key_str().ok()?;
                let rest = key.strip_prefix(&prefix)?;
                let (position, name) = rest.split_once('/')?;
                (name == "manifest").then(|| position.parse().ok())?
            })
            .collect())
    }

    fn get(&self, key: String, what: &str) -> Result<Vec<u8>, StoreError> {
        let mut client = self.connection.client();
        let response = self
            .connection
            .block_on(client.get(key.clone(), None))
            .map_err(unavailable(what))?;
        response
            .kvs()
            .first()
            .map(|kv| kv.value().to_vec())
            .ok_or_else(|| corrupt(&key, "the key is missing"))
    }
}

fn corrupt(key: &str, reason: &str) -> StoreError {
    StoreError::Corrupt {
        file: key.to_owned(),
        offset: 0,
        reason: reason.to_owned(),
    }
}

impl Snapshots for EtcdSnapshots {
    fn save(&self, position: Position, elections: &Elections) -> Result<(), StoreError> {
        let bytes = elections.encode();
        let folder = self.folder(position);
        let mut client = self.connection.client();
        let chunks: Vec<&[u8]> = bytes.chunks(CHUNK).collect();
        for (index, chunk) in chunks.iter().enumerate() {
            self.connection
                .block_on(client.put(format!("{folder}{index:06}"), chunk.to_vec(), None))
                .map_err(unavailable("writing a snapshot chunk"))?;
        }
        let manifest = Manifest {
            position,
            chunks: chunks.len() as u32,
            bytes: bytes.len() as u64,
            sha256: Sha256::digest(&bytes).to_vec(),
        };
        let mut encoded = Vec::new();
        ciborium::into_writer(&manifest, &mut encoded).expect("encoding to memory cannot fail");
        self.connection
            .block_on(client.put(format!("{folder}manifest"), encoded, None))
            .map_err(unavailable("writing a snapshot manifest"))?;
        let complete = self.complete()?;
        for old in complete.iter().take(complete.len().saturating_sub(KEEP)) {
            let options = etcd_client::DeleteOptions::new().with_prefix();
            self.connection
                .block_on(client.delete(self.folder(*old), Some(options)))
                .map_err(unavailable("deleting an old snapshot"))?;
        }
        Ok(())
    }

    fn load_newest(&self, limits: Limits) -> Result<Option<(Position, Elections)>, StoreError> {
        let Some(&position) = self.complete()?.last() else {
            return Ok(None);
        };
        let folder = self.folder(position);
        let manifest_key = format!("{folder}manifest");
        let manifest: Manifest =
            ciborium::from_reader(&self.get(manifest_key.clone(), "reading a snapshot")?[..])
                .map_err(|e| corrupt(&manifest_key, &format!("a damaged manifest: {e}")))?;
        let mut bytes = Vec::with_capacity(manifest.bytes as usize);
        for index in 0..manifest.chunks {
            bytes.extend(self.get(format!("{folder}{index:06}"), "reading a snapshot")?);
        }
        if bytes.len() as u64 != manifest.bytes || Sha256::digest(&bytes)[..] != manifest.sha256[..]
        {
            return Err(corrupt(
                &folder,
                "the chunks do not match the manifest's digest",
            ));
        }
        let mut elections: Elections = ciborium::from_reader(&bytes[..])
            .map_err(|e| corrupt(&folder, &format!("a damaged snapshot: {e}")))?;
        elections.set_limits(limits);
        Ok(Some((manifest.position, elections)))
    }
}
