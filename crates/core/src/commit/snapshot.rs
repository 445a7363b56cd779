//! A read-only view of the namespace at one revision that remembers what was read, so a
//! commit built from it can be checked at apply time: if anything it read (a node, a
//! node's absence, a child list) changed since, the commit is stale.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::namespace::{Data, Error, NodePath, Revision, Stat, State};

/// What one read saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Seen {
    /// The node, as last created or set at this revision.
    Node(Revision),
    /// No node: a later create is a conflict (a phantom).
    Absent,
}

/// Everything a transaction read, with what it saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadSet {
    nodes: BTreeMap<NodePath, Seen>,
    /// Child lists read, by their parent's children version (`None`: no parent).
    children: BTreeMap<NodePath, Option<u64>>,
}

impl ReadSet {
    /// The first read that `state` no longer agrees with, if any.
    pub fn conflict(&self, state: &State) -> Option<&NodePath> {
        let node_changed = self.nodes.iter().find(|(path, seen)| {
            let now = match state.exists(path) {
                Some(stat) => Seen::Node(stat.modified),
                None => Seen::Absent,
            };
            now != **seen
        });
        if let Some((path, _)) = node_changed {
            return Some(path);
        }
        self.children
            .iter()
            .find(|(path, version)| state.exists(path).map(|s| s.children_version) != **version)
            .map(|(path, _)| path)
    }

    /// How many reads were recorded.
    pub fn len(&self) -> usize {
        self.nodes.len() + self.children.len()
    }

    /// Whether nothing was read.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The namespace as of one revision, recording every read.
#[derive(Debug, Clone)]
pub struct Snapshot {
    state: State,
    reads: ReadSet,
}

impl Snapshot {
    /// A view of `state` (an O(1) copy of the tree).
    pub fn new(state: State) -> Self {
        Snapshot {
            state,
            reads: ReadSet::default(),
        }
    }

    /// The revision the view is at.
    pub fn revision(&self) -> Revision {
        self.state.revision()
    }

    /// A node's data and metadata (its absence is recorded too).
    pub fn get(&mut self, path: &NodePath) -> Result<(Data, Stat), Error> {
        let found = self.state.get(path);
        let seen = match &found {
            Ok((_, stat)) => Seen::Node(stat.modified),
            Err(_) => Seen::Absent,
        };
        self.reads.nodes.insert(path.clone(), seen);
        found
    }

    /// A node's children, in order (the list is recorded, so a child created or deleted
    /// later is a conflict).
    pub fn children(&mut self, path: &NodePath) -> Result<Vec<String>, Error> {
        let version = self.state.exists(path).map(|stat| stat.children_version);
        self.reads.children.insert(path.clone(), version);
        self.state.children(path)
    }

    /// What was read so far.
    pub fn reads(&self) -> &ReadSet {
        &self.reads
    }

    /// The reads, giving up the view.
    pub fn into_reads(self) -> ReadSet {
        self.reads
    }
}
