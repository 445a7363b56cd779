//! Conversions between the namespace's Rust types and the WIT contract's.

use crate::bindings::wit;
use ballot_core::command::Refusal;
use ballot_core::election::{ElectionError, Leader};
use ballot_core::namespace::{self as ns, CreateMode, Lifetime, NodePath, SessionId};

/// A namespace error as the WIT `error` variant.
pub fn to_wit_error(error: ns::Error) -> wit::Error {
    match error {
        ns::Error::NoNode { path } => wit::Error::NoNode(path),
        ns::Error::NodeExists { path } => wit::Error::NodeExists(path),
        ns::Error::BadVersion { path, .. } => wit::Error::BadVersion(path),
        ns::Error::NotEmpty { path } => wit::Error::NotEmpty(path),
        ns::Error::NotLeader { current } => wit::Error::NotLeader(current.map(|t| t.0)),
        ns::Error::SessionExpired { .. } => wit::Error::SessionExpired,
        error @ (ns::Error::InvalidPath { .. } | ns::Error::Invalid { .. }) => {
            wit::Error::Invalid(error.to_string())
        }
        error @ ns::Error::TooLarge { .. } => wit::Error::TooLarge(error.to_string()),
        error @ ns::Error::HostKept { .. } => wit::Error::Denied(error.to_string()),
    }
}

/// An election or elector refusal as the WIT `error` variant: the namespace's own
/// errors keep their case, the rest are `invalid` with the reason.
pub fn election_error_to_wit(error: ElectionError) -> wit::Error {
    match error {
        ElectionError::Namespace(error) => to_wit_error(error),
        other => wit::Error::Invalid(other.to_string()),
    }
}

/// Whatever apply refused, as the WIT `error` variant.
pub fn refusal_to_wit(refusal: Refusal) -> wit::Error {
    match refusal {
        Refusal::Namespace(error) => to_wit_error(error),
        Refusal::Multi(failed) => to_wit_error(failed.error),
        Refusal::Election(error) => election_error_to_wit(error),
        Refusal::Quota(what) => wit::Error::QuotaExceeded(what),
        stale @ Refusal::Stale(_) => wit::Error::Invalid(stale.to_string()),
        Refusal::HostExpired(_) => wit::Error::SessionExpired,
    }
}

/// Parses a path from a guest.
pub fn path(raw: &str) -> Result<NodePath, wit::Error> {
    NodePath::parse(raw).map_err(to_wit_error)
}

/// A node's metadata as WIT.
pub fn to_wit_stat(stat: ns::Stat) -> wit::Stat {
    wit::Stat {
        data_version: stat.data_version,
        children_version: stat.children_version,
        created: stat.created.0,
        modified: stat.modified.0,
        ephemeral: stat.ephemeral_owner.is_some(),
        num_children: u32::try_from(stat.num_children).unwrap_or(u32::MAX),
    }
}

/// A create mode from WIT; ephemerals belong to the caller's session.
pub fn create_mode(mode: wit::CreateMode, session: SessionId) -> CreateMode {
    CreateMode {
        lifetime: match mode.lifetime {
            wit::Lifetime::Persistent => Lifetime::Persistent,
            wit::Lifetime::Ephemeral => Lifetime::Ephemeral(session),
        },
        sequential: mode.sequential,
    }
}

/// A multi operation from WIT.
pub fn op(op: wit::Op, session: SessionId) -> Result<ns::Op, wit::Error> {
    Ok(match op {
        wit::Op::Create(c) => ns::Op::Create {
            path: path(&c.path)?,
            data: ns::Data::from(c.data),
            mode: create_mode(c.mode, session),
        },
        wit::Op::Set(s) => ns::Op::Set {
            path: path(&s.path)?,
            data: ns::Data::from(s.data),
            expected: s.expected,
        },
        wit::Op::Delete(d) => ns::Op::Delete {
            path: path(&d.path)?,
            expected: d.expected,
        },
        wit::Op::Check(c) => ns::Op::Check {
            path: path(&c.path)?,
            expected: c.expected,
        },
    })
}

/// A multi operation as WIT (a preview's, say).
pub fn to_wit_op(op: ns::Op) -> wit::Op {
    match op {
        ns::Op::Create { path, data, mode } => wit::Op::Create(wit::CreateOp {
            path: path.to_string(),
            data: data.as_bytes().to_vec(),
            mode: wit::CreateMode {
                lifetime: match mode.lifetime {
                    Lifetime::Persistent => wit::Lifetime::Persistent,
                    Lifetime::Ephemeral(_) => wit::Lifetime::Ephemeral,
                },
                sequential: mode.sequential,
            },
        }),
        ns::Op::Set {
            path,
            data,
            expected,
        } => wit::Op::Set(wit::SetOp {
            path: path.to_string(),
            data: data.as_bytes().to_vec(),
            expected,
        }),
        ns::Op::Delete { path, expected } => wit::Op::Delete(wit::PathOp {
            path: path.to_string(),
            expected,
        }),
        ns::Op::Check { path, expected } => wit::Op::Check(wit::PathOp {
            path: path.to_string(),
            expected,
        }),
    }
}

/// A multi result as WIT.
pub fn to_wit_result(result: ns::OpResult) -> wit::OpResult {
    match result {
        ns::OpResult::Created { path, .. } => wit::OpResult::Created(path.to_string()),
        ns::OpResult::Set { stat } => wit::OpResult::Set(to_wit_stat(stat)),
        ns::OpResult::Deleted => wit::OpResult::Deleted,
        ns::OpResult::Checked { stat } => wit::OpResult::Checked(to_wit_stat(stat)),
    }
}

/// A leader as WIT, led by `deployment` when the caller knows it (see
/// `Shared::wit_leader`).
pub fn to_wit_leader(leader: &Leader, deployment: Option<wit::DeploymentRef>) -> wit::Leader {
    wit::Leader {
        candidate: leader.candidate.0,
        term: leader.term.0,
        data: leader.data.as_bytes().to_vec(),
        deployment,
    }
}

/// A watch event as WIT.
pub fn to_wit_event(event: &ns::WatchEvent) -> wit::WatchEvent {
    wit::WatchEvent {
        path: event.path.to_string(),
        kind: match event.kind {
            ns::EventKind::Created => wit::EventKind::Created,
            ns::EventKind::DataChanged => wit::EventKind::DataChanged,
            ns::EventKind::Deleted => wit::EventKind::Deleted,
            ns::EventKind::ChildrenChanged => wit::EventKind::ChildrenChanged,
        },
        revision: event.revision.0,
    }
}

/// A watch kind from WIT.
pub fn watch_kind(kind: wit::WatchKind) -> ns::WatchKind {
    match kind {
        wit::WatchKind::Data => ns::WatchKind::Data,
        wit::WatchKind::Exists => ns::WatchKind::Exists,
        wit::WatchKind::Children => ns::WatchKind::Children,
        wit::WatchKind::Subtree => ns::WatchKind::Subtree,
    }
}
