//! Applying a multi in place, with an undo journal for all-or-nothing.
//!
//! Each step records the smallest inverse that restores what it touched (a child name
//! rather than the parent's whole child set), so neither the commit nor the rollback
//! copies a persistent map that nobody else shares.

use super::{
    Change, CreateMode, Data, Error, Lifetime, Limits, MAX_SEQUENCE, Node, NodePath, Op, OpResult,
    Revision, SessionId, State, no_node,
};

/// How to undo one step.
enum Undo {
    /// A node was inserted: remove it.
    Inserted(NodePath),
    /// A node was removed: put it back.
    Removed(NodePath, Node),
    /// A node's data was replaced: restore data, version and modified revision.
    DataSet {
        path: NodePath,
        data: Data,
        data_version: u64,
        modified: Revision,
    },
    /// A child name was added to or removed from `parent`: undo that and restore its counters.
    Child {
        parent: NodePath,
        name: String,
        added: bool,
        children_version: u64,
        next_sequence: u64,
    },
    /// An ephemeral was added to or removed from a session's set.
    Ephemeral {
        session: SessionId,
        path: NodePath,
        added: bool,
    },
}

/// A multi in progress, applied directly to the live state.
pub(super) struct Txn<'a> {
    state: &'a mut State,
    revision: Revision,
    changes: Vec<Change>,
    undo: Vec<Undo>,
    limits: Limits,
}

impl<'a> Txn<'a> {
    pub(super) fn new(state: &'a mut State, limits: Limits) -> Self {
        let revision = Revision(state.revision.0 + 1);
        Txn {
            state,
            revision,
            changes: Vec::new(),
            undo: Vec::new(),
            limits,
        }
    }

    /// Commits: stamps the new revision if anything changed, and returns the changes.
    pub(super) fn finish(self) -> Vec<Change> {
        if !self.changes.is_empty() {
            self.state.revision = self.revision;
        }
        self.changes
    }

    /// Undoes every step, newest first.
    pub(super) fn roll_back(mut self) {
        while let Some(step) = self.undo.pop() {
            let nodes = &mut self.state.nodes;
            match step {
                Undo::Inserted(path) => {
                    nodes.remove(&path);
                }
                Undo::Removed(path, node) => {
                    nodes.insert(path, node);
                }
                Undo::DataSet {
                    path,
                    data,
                    data_version,
                    modified,
                } => {
                    let node = nodes.get_mut(&path).expect("journalled node");
                    node.data = data;
                    node.data_version = data_version;
                    node.modified = modified;
                }
                Undo::Child {
                    parent,
                    name,
                    added,
                    children_version,
                    next_sequence,
                } => {
                    let node = nodes.get_mut(&parent).expect("journalled parent");
                    if added {
                        node.children.remove(&name);
                    } else {
                        node.children.insert(name);
                    }
                    node.children_version = children_version;
                    node.next_sequence = next_sequence;
                }
                Undo::Ephemeral {
                    session,
                    path,
                    added,
                } => {
                    let record = self
                        .state
                        .sessions
                        .get_mut(&session)
                        .expect("journalled session");
                    if added {
                        record.ephemerals.remove(&path);
                    } else {
                        record.ephemerals.insert(path);
                    }
                }
            }
        }
    }

    pub(super) fn apply(&mut self, op: &Op) -> Result<OpResult, Error> {
        match op {
            Op::Create { path, data, mode } => self.create(path, data, *mode),
            Op::Set {
                path,
                data,
                expected,
            } => self.set(path, data, *expected),
            Op::Delete { path, expected } => self.delete(path, *expected),
            Op::Check { path, expected } => {
                let node = self.existing(path, *expected)?;
                Ok(OpResult::Checked { stat: node.stat() })
            }
        }
    }

    fn check_size(&self, data: &Data) -> Result<(), Error> {
        if data.len() > self.limits.max_data {
            return Err(Error::TooLarge {
                size: data.len(),
                limit: self.limits.max_data,
            });
        }
        Ok(())
    }

    fn existing(&self, path: &NodePath, expected: Option<u64>) -> Result<&Node, Error> {
        let node = self.state.nodes.get(path).ok_or_else(|| no_node(path))?;
        match expected {
            Some(expected) if expected != node.data_version => Err(Error::BadVersion {
                path: path.to_string(),
                expected,
                actual: node.data_version,
            }),
            _ => Ok(node),
        }
    }

    fn create(
        &mut self,
        path: &NodePath,
        data: &Data,
        mode: CreateMode,
    ) -> Result<OpResult, Error> {
        self.check_size(data)?;
        let Some(parent_path) = path.parent() else {
            return Err(Error::NodeExists {
                path: path.to_string(),
            });
        };
        let parent = self
            .state
            .nodes
            .get(&parent_path)
            .ok_or_else(|| no_node(&parent_path))?;
        if parent.ephemeral_owner.is_some() {
            return Err(Error::Invalid {
                subject: parent_path.to_string(),
                reason: "ephemeral nodes cannot have children",
            });
        }
        let owner = match mode.lifetime {
            Lifetime::Persistent => None,
            Lifetime::Ephemeral(session) => {
                if !self.state.sessions.contains_key(&session) {
                    return Err(Error::SessionExpired { session });
                }
                Some(session)
            }
        };
        let full = if mode.sequential {
            if parent.next_sequence > MAX_SEQUENCE {
                return Err(Error::Invalid {
                    subject: parent_path.to_string(),
                    reason: "the sequence counter is exhausted",
                });
            }
            parent_path.child(&format!("{}{:010}", path.name(), parent.next_sequence))?
        } else {
            path.clone()
        };
        if self.state.nodes.contains_key(&full) {
            return Err(Error::NodeExists {
                path: full.to_string(),
            });
        }
        let node = Node::new(data.clone(), self.revision, owner);
        let stat = node.stat();
        self.state.nodes.insert(full.clone(), node);
        self.undo.push(Undo::Inserted(full.clone()));
        self.change_child(&parent_path, full.name(), true, mode.sequential);
        if let Some(session) = owner {
            self.change_ephemeral(session, &full, true);
        }
        self.changes.push(Change::Created(full.clone()));
        Ok(OpResult::Created { path: full, stat })
    }

    fn set(
        &mut self,
        path: &NodePath,
        data: &Data,
        expected: Option<u64>,
    ) -> Result<OpResult, Error> {
        self.check_size(data)?;
        self.existing(path, expected)?;
        let node = self.state.nodes.get_mut(path).expect("checked above");
        self.undo.push(Undo::DataSet {
            path: path.clone(),
            data: std::mem::replace(&mut node.data, data.clone()),
            data_version: node.data_version,
            modified: node.modified,
        });
        node.data_version += 1;
        node.modified = self.revision;
        let stat = node.stat();
        self.changes.push(Change::DataChanged(path.clone()));
        Ok(OpResult::Set { stat })
    }

    fn delete(&mut self, path: &NodePath, expected: Option<u64>) -> Result<OpResult, Error> {
        let Some(parent_path) = path.parent() else {
            return Err(Error::Invalid {
                subject: path.to_string(),
                reason: "the root cannot be deleted",
            });
        };
        let node = self.existing(path, expected)?;
        if !node.children.is_empty() {
            return Err(Error::NotEmpty {
                path: path.to_string(),
            });
        }
        let node = self.state.nodes.remove(path).expect("checked above");
        let owner = node.ephemeral_owner;
        self.undo.push(Undo::Removed(path.clone(), node));
        self.change_child(&parent_path, path.name(), false, false);
        if let Some(session) = owner {
            self.change_ephemeral(session, path, false);
        }
        self.changes.push(Change::Deleted(path.clone()));
        Ok(OpResult::Deleted)
    }

    fn change_child(&mut self, parent: &NodePath, name: &str, added: bool, sequential: bool) {
        let node = self
            .state
            .nodes
            .get_mut(parent)
            .expect("a node's parent exists");
        self.undo.push(Undo::Child {
            parent: parent.clone(),
            name: name.to_string(),
            added,
            children_version: node.children_version,
            next_sequence: node.next_sequence,
        });
        if added {
            node.children.insert(name.to_string());
        } else {
            node.children.remove(name);
        }
        node.children_version += 1;
        if sequential {
            node.next_sequence += 1;
        }
    }

    fn change_ephemeral(&mut self, session: SessionId, path: &NodePath, added: bool) {
        let Some(record) = self.state.sessions.get_mut(&session) else {
            return; // A session's ephemerals are deleted after its record goes.
        };
        if added {
            record.ephemerals.insert(path.clone());
        } else {
            record.ephemerals.remove(path);
        }
        self.undo.push(Undo::Ephemeral {
            session,
            path: path.clone(),
            added,
        });
    }
}
