//! The subtrees the election machinery keeps: `/elections` (ballots, acks) and
//! `/electors` (electors, peers, leases). Their meaning rests on invariants only the host
//! code upholds: an ack names the holder of the lowest ballot and lives in its session, a
//! lease node lives exactly as long as its lease. A write from outside (a component's
//! namespace call, a commit's or a transaction function's operations, an HTTP multi)
//! could depose a leader behind its back, forge an ack or end a lease early, so those
//! writes are refused; reads and `check` operations are not.

use std::sync::LazyLock;

use crate::namespace::{Error, NodePath, Op};

use super::{ELECTIONS_ROOT, ELECTORS_ROOT};

/// The kept roots, parsed once: every write of every commit is checked against them.
static KEPT_ROOTS: LazyLock<[NodePath; 2]> = LazyLock::new(|| {
    [ELECTIONS_ROOT, ELECTORS_ROOT].map(|root| NodePath::parse(root).expect("valid roots"))
});

/// Whether `path` is in a subtree the election machinery keeps.
pub fn is_host_kept(path: &NodePath) -> bool {
    KEPT_ROOTS.iter().any(|root| path.is_within(root))
}

/// Refuses `ops` if any of them would write into a subtree the election machinery keeps:
/// the first such path is named. `check` operations only read, so they pass.
pub fn refuse_host_kept(ops: &[Op]) -> Result<(), Error> {
    let written = ops.iter().find_map(|op| match op {
        Op::Create { path, .. } | Op::Set { path, .. } | Op::Delete { path, .. } => {
            is_host_kept(path).then_some(path)
        }
        Op::Check { .. } => None,
    });
    match written {
        Some(path) => Err(Error::HostKept {
            path: path.to_string(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::namespace::{CreateMode, Data};

    fn path(raw: &str) -> NodePath {
        NodePath::parse(raw).unwrap()
    }

    #[test]
    fn the_election_and_elector_subtrees_are_kept_and_their_lookalikes_are_not() {
        for kept in [
            "/elections",
            "/elections/db/ack",
            "/elections/db/ballots/b-0000000001",
            "/electors",
            "/electors/jobs/lease/m-0000000003",
        ] {
            assert!(is_host_kept(&path(kept)), "{kept}");
        }
        for free in [
            "/",
            "/election",
            "/elections-archive",
            "/app/elections",
            "/electorsx",
        ] {
            assert!(!is_host_kept(&path(free)), "{free}");
        }
    }

    #[test]
    fn writes_into_kept_subtrees_are_refused_and_checks_pass() {
        let ack = path("/elections/db/ack");
        let check = Op::Check {
            path: ack.clone(),
            expected: None,
        };
        let free = Op::Create {
            path: path("/app"),
            data: Data::from("x"),
            mode: CreateMode::PERSISTENT,
        };
        assert_eq!(refuse_host_kept(&[check.clone(), free.clone()]), Ok(()));
        for write in [
            Op::Set {
                path: ack.clone(),
                data: Data::from("forged"),
                expected: None,
            },
            Op::Delete {
                path: ack.clone(),
                expected: None,
            },
        ] {
            assert_eq!(
                refuse_host_kept(&[check.clone(), free.clone(), write]),
                Err(Error::HostKept {
                    path: ack.to_string()
                })
            );
        }
    }
}
