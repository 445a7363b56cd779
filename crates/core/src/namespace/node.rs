//! Nodes, their metadata, and the byte payloads they carry.

use std::fmt;
use std::sync::Arc;

use imbl::OrdSet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Revision, SessionId};

/// A node's payload. Shared, because a node is cloned whenever its children change and the
/// data should not be copied with it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Data(Arc<[u8]>);

impl Data {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&[u8]> for Data {
    fn from(bytes: &[u8]) -> Self {
        Data(Arc::from(bytes))
    }
}

impl From<Vec<u8>> for Data {
    fn from(bytes: Vec<u8>) -> Self {
        Data(Arc::from(bytes))
    }
}

impl From<String> for Data {
    fn from(text: String) -> Self {
        Data::from(text.into_bytes())
    }
}

impl From<&str> for Data {
    fn from(text: &str) -> Self {
        Data::from(text.as_bytes())
    }
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(&self.0) {
            Ok(text) => write!(f, "{text:?}"),
            Err(_) => write!(f, "<{} bytes>", self.0.len()),
        }
    }
}

// Encoded as a CBOR byte string, not as an array of integers.
impl Serialize for Data {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Data {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes = serde_bytes::ByteBuf::deserialize(deserializer)?;
        Ok(Data::from(bytes.into_vec()))
    }
}

/// Whether a node outlives the session that created it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Lifetime {
    /// Stays until deleted.
    Persistent,
    /// Deleted when the owning session closes or expires. Cannot have children.
    Ephemeral(SessionId),
}

/// How a node is created: its lifetime, and whether the host appends a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateMode {
    /// Persistent or owned by a session.
    pub lifetime: Lifetime,
    /// Append the parent's next 10-digit zero-padded sequence number to the name.
    pub sequential: bool,
}

impl CreateMode {
    /// A plain persistent node.
    pub const PERSISTENT: CreateMode = CreateMode {
        lifetime: Lifetime::Persistent,
        sequential: false,
    };

    /// An ephemeral node owned by `session`.
    pub fn ephemeral(session: SessionId) -> Self {
        CreateMode {
            lifetime: Lifetime::Ephemeral(session),
            sequential: false,
        }
    }

    /// An ephemeral-sequential node owned by `session`: a ballot.
    pub fn ephemeral_sequential(session: SessionId) -> Self {
        CreateMode {
            lifetime: Lifetime::Ephemeral(session),
            sequential: true,
        }
    }
}

/// A node's metadata, returned by reads and writes (ZooKeeper's `Stat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stat {
    /// Bumped by every set; what `expected` versions are compared against.
    pub data_version: u64,
    /// Bumped by every create or delete of a child.
    pub children_version: u64,
    /// Revision of the create. For a ballot this is the leader's term.
    pub created: Revision,
    /// Revision of the last create or set.
    pub modified: Revision,
    /// The owning session of an ephemeral node.
    pub ephemeral_owner: Option<SessionId>,
    /// Number of children now.
    pub num_children: usize,
}

/// A node in the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub(super) data: Data,
    pub(super) data_version: u64,
    pub(super) children_version: u64,
    pub(super) created: Revision,
    pub(super) modified: Revision,
    pub(super) ephemeral_owner: Option<SessionId>,
    /// Child names, ordered. Ordered so that the lowest ballot and a ballot's predecessor
    /// are found in O(log n) without listing the whole queue.
    pub(super) children: OrdSet<String>,
    /// The next sequence number handed to a sequential child. Kept apart from
    /// `children_version` so that it only ever counts sequential creates.
    pub(super) next_sequence: u64,
}

impl Node {
    pub(super) fn new(data: Data, revision: Revision, owner: Option<SessionId>) -> Self {
        Node {
            data,
            data_version: 0,
            children_version: 0,
            created: revision,
            modified: revision,
            ephemeral_owner: owner,
            children: OrdSet::new(),
            next_sequence: 0,
        }
    }

    /// The payload.
    pub fn data(&self) -> &Data {
        &self.data
    }

    /// The metadata.
    pub fn stat(&self) -> Stat {
        Stat {
            data_version: self.data_version,
            children_version: self.children_version,
            created: self.created,
            modified: self.modified,
            ephemeral_owner: self.ephemeral_owner,
            num_children: self.children.len(),
        }
    }
}
