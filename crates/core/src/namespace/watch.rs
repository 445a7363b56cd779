//! Watches: ZooKeeper's one-shot data, exists and children watches, plus persistent subtree
//! watches.
//!
//! The namespace only records who watches what and, when a commit changes a node, turns
//! the change into [`WatchEvent`]s addressed to watcher ids. Delivering them (to an actor's
//! mailbox, an SSE stream) is the caller's job.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Change, NodePath, Revision};

/// Whoever a watch event is addressed to. Issued by [`super::Namespace::new_watcher`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WatcherId(pub u64);

/// What a watch waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum WatchKind {
    /// One-shot: the node's data changes or it is deleted. The node must exist.
    Data,
    /// One-shot: the node is created, changed or deleted. The node may be absent.
    Exists,
    /// One-shot: a child is created or deleted, or the node itself is deleted. The node must exist.
    Children,
    /// Persistent: every create, set and delete at this path or below, until removed.
    Subtree,
}

/// What happened to the node an event names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// The node was created.
    Created,
    /// The node's data was set.
    DataChanged,
    /// The node was deleted.
    Deleted,
    /// A child of the node was created or deleted.
    ChildrenChanged,
}

/// A fired watch, addressed to one watcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchEvent {
    /// Who registered the watch.
    pub watcher: WatcherId,
    /// The revision of the commit that fired it; events are produced in revision order.
    pub revision: Revision,
    /// The node the event is about.
    pub path: NodePath,
    /// What happened.
    pub kind: EventKind,
}

/// The tables a watch can live in. `Exists` watches share the data table, as in ZooKeeper's
/// server, because both fire on create, set and delete of the one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
enum Table {
    Data,
    Children,
    Subtree,
}

type Watchers = BTreeMap<NodePath, BTreeSet<WatcherId>>;

/// Registered watches, with a reverse index so one watcher's watches go in O(k log n).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(super) struct Watches {
    data: Watchers,
    children: Watchers,
    subtree: Watchers,
    by_watcher: BTreeMap<WatcherId, BTreeSet<(Table, NodePath)>>,
}

impl Watches {
    pub(super) fn add(&mut self, watcher: WatcherId, path: NodePath, kind: WatchKind) {
        let table = match kind {
            WatchKind::Data | WatchKind::Exists => Table::Data,
            WatchKind::Children => Table::Children,
            WatchKind::Subtree => Table::Subtree,
        };
        self.table_mut(table)
            .entry(path.clone())
            .or_default()
            .insert(watcher);
        self.by_watcher
            .entry(watcher)
            .or_default()
            .insert((table, path));
    }

    /// Drops every watch `watcher` holds.
    pub(super) fn remove_watcher(&mut self, watcher: WatcherId) {
        for (table, path) in self.by_watcher.remove(&watcher).unwrap_or_default() {
            let map = self.table_mut(table);
            if let Some(set) = map.get_mut(&path) {
                set.remove(&watcher);
                if set.is_empty() {
                    map.remove(&path);
                }
            }
        }
    }

    /// Every watcher that holds a watch.
    pub(super) fn watchers(&self) -> impl Iterator<Item = WatcherId> + '_ {
        self.by_watcher.keys().copied()
    }

    /// Number of watches `watcher` holds: what a per-session watch quota counts.
    pub(super) fn count_of(&self, watcher: WatcherId) -> usize {
        self.by_watcher.get(&watcher).map_or(0, BTreeSet::len)
    }

    /// Number of watches registered, one-shot and persistent.
    pub(super) fn len(&self) -> usize {
        self.by_watcher.values().map(BTreeSet::len).sum()
    }

    /// Turns one change into events, consuming the one-shot watches it fires.
    pub(super) fn fire(&mut self, change: &Change, revision: Revision, out: &mut Vec<WatchEvent>) {
        let (path, kind) = match change {
            Change::Created(p) => (p, EventKind::Created),
            Change::DataChanged(p) => (p, EventKind::DataChanged),
            Change::Deleted(p) => (p, EventKind::Deleted),
        };
        // The node's own watchers: its data/exists watchers always; its children watchers
        // only when it is deleted. A watcher in both tables hears of it once.
        let mut own = self.take(Table::Data, path);
        if kind == EventKind::Deleted {
            own.extend(self.take(Table::Children, path));
        }
        let mut emit = |watcher, path: &NodePath, kind| {
            out.push(WatchEvent {
                watcher,
                revision,
                path: path.clone(),
                kind,
            })
        };
        for watcher in own {
            emit(watcher, path, kind);
        }
        if kind != EventKind::DataChanged
            && let Some(parent) = path.parent()
        {
            for watcher in self.take(Table::Children, &parent) {
                emit(watcher, &parent, EventKind::ChildrenChanged);
            }
        }
        let subtree: BTreeSet<WatcherId> = path
            .ancestors_inclusive_str()
            .filter_map(|ancestor| self.subtree.get(ancestor))
            .flatten()
            .copied()
            .collect();
        for watcher in subtree {
            emit(watcher, path, kind);
        }
    }

    fn take(&mut self, table: Table, path: &NodePath) -> BTreeSet<WatcherId> {
        let taken = self.table_mut(table).remove(path).unwrap_or_default();
        for watcher in &taken {
            if let Some(held) = self.by_watcher.get_mut(watcher) {
                held.remove(&(table, path.clone()));
                if held.is_empty() {
                    self.by_watcher.remove(watcher);
                }
            }
        }
        taken
    }

    fn table_mut(&mut self, table: Table) -> &mut Watchers {
        match table {
            Table::Data => &mut self.data,
            Table::Children => &mut self.children,
            Table::Subtree => &mut self.subtree,
        }
    }
}
