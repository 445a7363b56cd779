//! The lease elector of the Datomic gist (seed 000), made durable and fenced.
//!
//! An elector is a named set of peers sharing one lease duration. Whoever calls
//! [`Elections::elect_for_duration`] while no lease is held becomes master for that
//! duration under a new term; the master renews by calling again; anyone else is told who
//! the master is and how long its lease has left.
//!
//! # How it sits on the namespace
//!
//! - `/electors/<name>`: the elector, CBOR `{duration_ms}`. The duration belongs to the
//!   elector: the first reset sets it, and a later reset naming another duration is
//!   refused instead of silently changing the lease everyone else relies on.
//! - `/electors/<name>/peers/<peer>`: one node per peer added by a reset.
//! - `/electors/<name>/lease/m-<seq>`: the lease, an ephemeral-sequential node owned by a
//!   session of its own whose TTL is the duration. Winning opens that session and creates
//!   the node; renewing heartbeats the session; the lease lapses exactly when the session
//!   expires, which its owner decides on its own monotonic clock and logs as a command
//!   (apply never reads a clock). The term is the node's creation revision, so terms
//!   strictly increase and a term guard ([`Elections::lease_guard`]) checks the
//!   lease atomically in a multi, like a ballot. After a restart the lease session, like
//!   every session, counts as held for its full duration from the restart.
//!
//! # The gist's bugs, and what this does instead
//!
//! - `electForDuration`'s live-lease branch marks the caller master (`master? = (= ie
//!   meid)` for every peer, with `ie` unbound) without it winning: the worst of them, since
//!   every caller during a live lease became master. Here a caller that did not win gets
//!   [`LeaseOutcome::Held`] and nothing changes.
//! - Its winning branch moves the timestamp but never sets `master?`: here winning records
//!   the master in the lease node, in the same step.
//! - `electionMaster?` compares the wrong way (`ts < now` means the lease has *expired*),
//!   and `(boolean (q ...))` is true whenever the query finds a row, even one whose
//!   `master?` is false: [`Elections::lease_holder`] answers only for a live lease and names
//!   its one master.
//! - `assertElectionMaster` builds its error when the caller *is* master, never throws it,
//!   and calls `electionMaster` without its `?`: [`Elections::lease_guard`] refuses exactly
//!   the callers that do not hold the term, with not-leader, and the multi it guards
//!   applies nothing then.
//! - `elected?` counts `elect!`'s transaction report (always truthy) as a win: here the
//!   outcome is a typed [`LeaseOutcome`] and only `Won`/`Renewed` carry a term.
//! - `reset-elector!` builds its transaction data and never transacts it (and reads
//!   `entities`, which is unbound, and elects `(first entities)` rather than the caller):
//!   here a reset writes the elector and the peer, and elects nobody.
//! - `java.lang.Date` does not exist (the gist means `java.util.Date`), and wall-clock
//!   dates are the wrong clock for leases anyway: leases run on the monotonic clock.
//!
//! One deliberate deviation: the gist's reset sets the elector's timestamp to now, which
//! ends the incumbent's lease whenever a peer joins. A reset here never touches the lease.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::namespace::{CreateMode, Data, Error, Guard, MonoTime, NodePath, Op, SessionId};

use super::{ElectionError, ElectionName, Elections, ElectorError, Term};

/// Where one elector's nodes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElectorPaths {
    /// `/electors/<name>`: the elector and its duration.
    pub root: NodePath,
    /// `/electors/<name>/peers`.
    pub peers: NodePath,
    /// `/electors/<name>/lease`: holds the lease node while a lease is held.
    pub lease: NodePath,
}

/// Where every elector lives.
pub const ELECTORS_ROOT: &str = "/electors";

impl ElectorPaths {
    /// The paths of the elector `name` (validated like an election name).
    pub fn of(name: &ElectionName) -> ElectorPaths {
        let root = NodePath::parse(&format!("{ELECTORS_ROOT}/{name}"))
            .expect("validated when the name was parsed");
        let child = |segment| root.child(segment).expect("fixed names are valid");
        ElectorPaths {
            peers: child("peers"),
            lease: child("lease"),
            root,
        }
    }
}

/// The elector node's contents.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct ElectorRecord {
    duration_ms: u64,
}

/// The lease node's contents.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct LeaseRecord {
    master: String,
}

/// What [`Elections::elect_for_duration`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// No lease was held: the caller is master under a new term.
    Won {
        /// The new term.
        term: Term,
        /// The lease's duration.
        lease: Duration,
    },
    /// The caller was master: its lease runs for the full duration again.
    Renewed {
        /// Its term, unchanged.
        term: Term,
        /// The lease's duration.
        lease: Duration,
    },
    /// Another peer holds a live lease. Nothing changed.
    Held {
        /// The master.
        master: String,
        /// Its term.
        term: Term,
        /// How long its lease has left.
        left: Duration,
    },
}

/// The live lease of an elector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHolder {
    /// The master.
    pub master: String,
    /// Its term.
    pub term: Term,
    /// How long its lease has left.
    pub left: Duration,
    /// The lease's own session (renewed by the master's elections).
    pub session: SessionId,
}

fn encode<T: Serialize>(value: &T) -> Data {
    let mut bytes = Vec::new();
    ciborium::into_writer(value, &mut bytes).expect("encoding to memory cannot fail");
    Data::from(bytes)
}

fn decode<T: for<'de> Deserialize<'de>>(data: &Data) -> Option<T> {
    ciborium::from_reader(data.as_bytes()).ok()
}

impl Elections {
    /// Adds `peer` to the elector `name`, creating the elector with `duration` if it does
    /// not exist. Idempotent. Never shortens or ends a live lease. Refuses a duration that
    /// differs from the elector's, and an empty peer name.
    pub fn reset_elector(
        &mut self,
        name: &ElectionName,
        duration: Duration,
        peer: &str,
    ) -> Result<(), ElectionError> {
        let paths = ElectorPaths::of(name);
        let unusable = |refused: Error| ElectorError::BadPeerName {
            peer: peer.to_string(),
            reason: match refused {
                Error::Invalid { reason, .. } => reason.to_string(),
                other => other.to_string(),
            },
        };
        crate::name::check("peer", peer).map_err(unusable)?;
        let peer_path = paths.peers.child(peer).map_err(unusable)?;
        if duration.is_zero() {
            return Err(ElectorError::ZeroDuration.into());
        }
        let duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        let mut ops = Vec::new();
        match self.ns.get(&paths.root) {
            Ok((data, _)) => {
                let record: ElectorRecord =
                    decode(&data).ok_or_else(|| ElectorError::NotAnElector {
                        path: paths.root.to_string(),
                    })?;
                if record.duration_ms != duration_ms {
                    return Err(ElectorError::DurationMismatch {
                        elector: name.to_string(),
                        duration_ms: record.duration_ms,
                        asked_ms: duration_ms,
                    }
                    .into());
                }
            }
            Err(_) => {
                let root = NodePath::parse(ELECTORS_ROOT).expect("a valid path");
                if self.ns.exists(&root).is_none() {
                    ops.push(Op::Create {
                        path: root,
                        data: Data::default(),
                        mode: CreateMode::PERSISTENT,
                    });
                }
                ops.push(Op::Create {
                    path: paths.root.clone(),
                    data: encode(&ElectorRecord { duration_ms }),
                    mode: CreateMode::PERSISTENT,
                });
                for path in [&paths.peers, &paths.lease] {
                    ops.push(Op::Create {
                        path: path.clone(),
                        data: Data::default(),
                        mode: CreateMode::PERSISTENT,
                    });
                }
            }
        }
        if self.ns.exists(&peer_path).is_none() {
            ops.push(Op::Create {
                path: peer_path,
                data: Data::default(),
                mode: CreateMode::PERSISTENT,
            });
        }
        if !ops.is_empty() {
            self.ns.multi(None, &ops)?;
        }
        Ok(())
    }

    /// The elector's duration, if it exists.
    pub fn elector_duration(&self, name: &ElectionName) -> Option<Duration> {
        let (data, _) = self.ns.get(&ElectorPaths::of(name).root).ok()?;
        decode::<ElectorRecord>(&data).map(|r| Duration::from_millis(r.duration_ms))
    }

    /// The lease of elector `name`, if one is held: from its win until its owner expires
    /// its session (on the owner's clock, as a command), whatever the time. `left` is what
    /// the owner's clock leaves it at `now`: informational, it decides nothing.
    pub fn lease_holder(&self, name: &ElectionName, now: MonoTime) -> Option<LeaseHolder> {
        let (master, term, session) = self.held_lease(name)?;
        let left = self
            .ns
            .session_deadline(session)
            .map_or(Duration::ZERO, |deadline| deadline.since(now));
        Some(LeaseHolder {
            master,
            term,
            left,
            session,
        })
    }

    /// The master, term and session of the lease of `name`, if one is held.
    fn held_lease(&self, name: &ElectionName) -> Option<(String, Term, SessionId)> {
        let paths = ElectorPaths::of(name);
        let node_name = self.ns.state().first_child(&paths.lease)?;
        let path = paths.lease.child(node_name).ok()?;
        let (data, stat) = self.ns.get(&path).ok()?;
        let session = stat.ephemeral_owner?;
        let record: LeaseRecord = decode(&data)?;
        Some((record.master, stat.created, session))
    }

    /// Elects `peer` master of `name` if no lease is held (a new term), renews the lease
    /// if `peer` holds it, or reports the master. `peer` must have been added by a reset.
    pub fn elect_for_duration(
        &mut self,
        name: &ElectionName,
        peer: &str,
        now: MonoTime,
    ) -> Result<LeaseOutcome, ElectionError> {
        let paths = ElectorPaths::of(name);
        let duration = self
            .elector_duration(name)
            .ok_or_else(|| ElectorError::UnknownElector {
                elector: name.to_string(),
            })?;
        let member = paths
            .peers
            .child(peer)
            .ok()
            .and_then(|path| self.ns.exists(&path));
        if member.is_none() {
            return Err(ElectorError::NotAPeer {
                elector: name.to_string(),
                peer: peer.to_string(),
            }
            .into());
        }
        if let Some(holder) = self.lease_holder(name, now) {
            if holder.master == peer {
                self.ns.heartbeat(holder.session, now)?;
                return Ok(LeaseOutcome::Renewed {
                    term: holder.term,
                    lease: duration,
                });
            }
            return Ok(LeaseOutcome::Held {
                master: holder.master,
                term: holder.term,
                left: holder.left,
            });
        }
        // Not held (never, or expired by its owner): a lease node left without a readable
        // record goes with its session; then the peer wins under a fresh lease session.
        let lapsed = self
            .ns
            .state()
            .first_child(&paths.lease)
            .and_then(|n| paths.lease.child(n).ok())
            .and_then(|path| self.ns.get(&path).ok())
            .and_then(|(_, stat)| stat.ephemeral_owner);
        if let Some(session) = lapsed {
            let committed = self.ns.close_session(session)?;
            let mut ignored = super::Effects::default();
            self.absorb(committed, &mut ignored);
        }
        let session = self.ns.open_session(duration, now)?;
        let prefix = paths.lease.child("m-").expect("a fixed name");
        let op = Op::Create {
            path: prefix,
            data: encode(&LeaseRecord {
                master: peer.to_string(),
            }),
            mode: CreateMode::ephemeral_sequential(session),
        };
        let committed = self.ns.multi(None, &[op])?;
        Ok(LeaseOutcome::Won {
            term: committed.revision,
            lease: duration,
        })
    }

    /// The guard "`peer` holds the lease of `name` under `term`", for a fenced multi. Only
    /// the peer that won `term` gets one, and only while that lease is held; at commit the
    /// guard checks the lease again, in the same step as the change it guards.
    pub fn lease_guard(&self, name: &ElectionName, peer: &str, term: Term) -> Result<Guard, Error> {
        if self.fencing_off {
            // The planted bug (sim only): a guard for anyone, which `multi` then ignores.
            return Ok(Guard::HoldsTerm {
                ballots: ElectorPaths::of(name).lease,
                session: SessionId(0),
                term,
            });
        }
        match self.held_lease(name) {
            Some((master, held, session)) if master == peer && held == term => {
                Ok(Guard::HoldsTerm {
                    ballots: ElectorPaths::of(name).lease,
                    session,
                    term,
                })
            }
            other => Err(Error::NotLeader {
                current: other.map(|(_, held, _)| held),
            }),
        }
    }

    /// Whether `peer` is master of `name`: it holds the lease.
    pub fn is_lease_master(&self, name: &ElectionName, peer: &str) -> bool {
        self.held_lease(name)
            .is_some_and(|(master, _, _)| master == peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::namespace::{Limits, Namespace};

    const LEASE: Duration = Duration::from_secs(10);

    fn t(ms: u64) -> MonoTime {
        MonoTime(0).after(Duration::from_millis(ms))
    }

    fn elector() -> (Elections, ElectionName) {
        let mut el = Elections::new(Namespace::new(Limits::default()));
        let name = ElectionName::parse("jobs").unwrap();
        for peer in ["a", "b"] {
            el.reset_elector(&name, LEASE, peer).unwrap();
        }
        (el, name)
    }

    fn won(outcome: LeaseOutcome) -> Term {
        match outcome {
            LeaseOutcome::Won { term, .. } => term,
            other => panic!("expected a win, got {other:?}"),
        }
    }

    #[test]
    fn a_caller_during_a_live_lease_is_told_the_master_and_does_not_become_one() {
        // The gist's worst bug: its live-lease branch made every caller master.
        let (mut el, name) = elector();
        let term = won(el.elect_for_duration(&name, "a", t(0)).unwrap());
        let outcome = el.elect_for_duration(&name, "b", t(4_000)).unwrap();
        assert_eq!(
            outcome,
            LeaseOutcome::Held {
                master: "a".into(),
                term,
                left: Duration::from_secs(6)
            }
        );
        assert!(!el.is_lease_master(&name, "b"));
        assert!(el.is_lease_master(&name, "a"));
    }

    #[test]
    fn winning_records_the_master() {
        // The gist's winning branch moved the timestamp and never set master?.
        let (mut el, name) = elector();
        let term = won(el.elect_for_duration(&name, "b", t(0)).unwrap());
        let holder = el.lease_holder(&name, t(1)).unwrap();
        assert_eq!((holder.master.as_str(), holder.term), ("b", term));
    }

    #[test]
    fn mastership_ends_when_the_lease_lapses_and_a_new_term_begins() {
        // The gist's electionMaster? compared the wrong way and was true for any row.
        let (mut el, name) = elector();
        let first = won(el.elect_for_duration(&name, "a", t(0)).unwrap());
        // Its owner's clock: not yet overdue a millisecond before the duration is up.
        assert!(el.tick(t(9_999)).0.is_empty());
        assert!(el.is_lease_master(&name, "a"));
        let (expired, _) = el.tick(t(10_000));
        assert_eq!(expired.len(), 1, "the lease's session, at its deadline");
        assert!(!el.is_lease_master(&name, "a"), "lapsed");
        assert!(!el.is_lease_master(&name, "b"));
        let second = won(el.elect_for_duration(&name, "b", t(10_000)).unwrap());
        assert!(second > first, "terms increase");
        assert!(el.is_lease_master(&name, "b"));
    }

    #[test]
    fn renewing_extends_the_lease_under_the_same_term() {
        let (mut el, name) = elector();
        let term = won(el.elect_for_duration(&name, "a", t(0)).unwrap());
        assert_eq!(
            el.elect_for_duration(&name, "a", t(8_000)).unwrap(),
            LeaseOutcome::Renewed { term, lease: LEASE }
        );
        // Renewed at 8 s: the owner's deadline moved to 18 s.
        assert!(el.tick(t(17_000)).0.is_empty());
        assert!(el.is_lease_master(&name, "a"));
        el.tick(t(18_000));
        assert!(!el.is_lease_master(&name, "a"));
    }

    #[test]
    fn the_guard_admits_the_master_and_refuses_everyone_else() {
        // The gist's assertElectionMaster built its error for the master, never threw it.
        let (mut el, name) = elector();
        let term = won(el.elect_for_duration(&name, "a", t(0)).unwrap());
        let guard = el.lease_guard(&name, "a", term).expect("a holds the term");
        let op = Op::Create {
            path: NodePath::parse("/done").unwrap(),
            data: Data::default(),
            mode: CreateMode::PERSISTENT,
        };
        assert!(matches!(
            el.lease_guard(&name, "b", term),
            Err(Error::NotLeader { current: Some(current) }) if current == term
        ));
        el.multi(Some(&guard), &[op]).expect("the master commits");
        // Once its owner expires the lease, the guard taken while it was held refuses at
        // commit and nothing is written.
        el.tick(t(10_000));
        let late = Op::Create {
            path: NodePath::parse("/late").unwrap(),
            data: Data::default(),
            mode: CreateMode::PERSISTENT,
        };
        assert!(el.multi(Some(&guard), &[late]).is_err());
        assert!(
            el.namespace()
                .exists(&NodePath::parse("/late").unwrap())
                .is_none()
        );
    }

    #[test]
    fn a_reset_writes_the_elector_and_never_shortens_a_live_lease() {
        // The gist's reset never transacted its data, and reset the timestamp to now,
        // ending the incumbent's lease whenever a peer joined.
        let (mut el, name) = elector();
        let term = won(el.elect_for_duration(&name, "a", t(0)).unwrap());
        el.reset_elector(&name, LEASE, "c").unwrap();
        let paths = ElectorPaths::of(&name);
        assert_eq!(
            el.namespace().children(&paths.peers).unwrap(),
            vec!["a", "b", "c"]
        );
        assert_eq!(el.elector_duration(&name), Some(LEASE));
        let holder = el.lease_holder(&name, t(9_000)).unwrap();
        assert_eq!((holder.master.as_str(), holder.term), ("a", term));
        assert_eq!(holder.left, Duration::from_secs(1));
    }

    #[test]
    fn peers_share_one_duration_and_must_be_members() {
        let (mut el, name) = elector();
        let longer = el.reset_elector(&name, LEASE * 2, "c");
        assert!(longer.unwrap_err().to_string().contains("10000 ms"));
        let stranger = el.elect_for_duration(&name, "zed", t(0));
        assert!(stranger.unwrap_err().to_string().contains("not a peer"));
        let unknown = ElectionName::parse("nope").unwrap();
        assert!(el.elect_for_duration(&unknown, "a", t(0)).is_err());
    }

    #[test]
    fn after_a_restart_a_persisted_lease_counts_from_the_restart() {
        let (mut el, name) = elector();
        let term = won(el.elect_for_duration(&name, "a", t(0)).unwrap());
        // The host restarts at its monotonic zero, long after the lease began.
        let state = el.namespace().snapshot();
        let mut ns = Namespace::from_state(state, Limits::default());
        ns.restart_deadlines(t(0));
        let mut el = Elections::new(ns);
        let holder = el.lease_holder(&name, t(9_000)).expect("still held");
        assert_eq!((holder.master.as_str(), holder.term), ("a", term));
        assert!(matches!(
            el.elect_for_duration(&name, "b", t(9_000)).unwrap(),
            LeaseOutcome::Held { .. }
        ));
        el.tick(t(10_000));
        assert!(matches!(
            el.elect_for_duration(&name, "b", t(10_000)).unwrap(),
            LeaseOutcome::Won { .. }
        ));
    }
}
