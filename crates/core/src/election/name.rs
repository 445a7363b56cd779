//! Election names and where an election lives in the namespace.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::namespace::{Error, NodePath};

/// The folder under which every election keeps its nodes.
pub const ELECTIONS_ROOT: &str = "/elections";

/// Longest election name, in bytes (the rule of every name, [`crate::name`]).
pub const MAX_NAME_LEN: usize = crate::name::MAX_NAME_LEN;

/// A validated election name: one path segment, so it maps to exactly one folder.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ElectionName(String);

impl ElectionName {
    /// Checks that `name` is a usable election name, by the rule of every name
    /// ([`crate::name::check`]).
    pub fn parse(name: &str) -> Result<Self, Error> {
        crate::name::check("election", name)?;
        NodePath::parse(&format!("{ELECTIONS_ROOT}/{name}"))?;
        Ok(ElectionName(name.to_string()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The election's nodes.
    pub fn paths(&self) -> ElectionPaths {
        let root = NodePath::parse(&format!("{ELECTIONS_ROOT}/{}", self.0))
            .expect("validated when the name was parsed");
        let child = |name| root.child(name).expect("fixed names are valid");
        ElectionPaths {
            ballots: child("ballots"),
            ack: child("ack"),
            ballot_prefix: child("ballots").child("b-").expect("fixed names are valid"),
            root,
        }
    }
}

impl TryFrom<String> for ElectionName {
    type Error = Error;
    fn try_from(name: String) -> Result<Self, Error> {
        ElectionName::parse(&name)
    }
}

impl From<ElectionName> for String {
    fn from(name: ElectionName) -> String {
        name.0
    }
}

impl fmt::Display for ElectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ElectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// Where one election's nodes are.
///
/// Ballots have a folder of their own (unlike the zk gem, which keeps `leader_ack` beside
/// them), so "the lowest ballot" is simply the first child, with no name filtering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElectionPaths {
    /// `/elections/<name>`.
    pub root: NodePath,
    /// `/elections/<name>/ballots`: the queue of ephemeral-sequential ballots.
    pub ballots: NodePath,
    /// `/elections/<name>/ballots/b-`: what a sequential create of a ballot names.
    pub ballot_prefix: NodePath,
    /// `/elections/<name>/ack`: the leader's acknowledgement, ephemeral, owned by the leader.
    pub ack: NodePath,
}
