//! Every change to the elections as plain data, and the one function that applies it.
//!
//! A [`Command`] is what a caller asks for (open a session, vote, commit under a lease),
//! with everything apply needs inside it and nothing else: no closure, no handle, no
//! clock. [`apply`] carries it out on the [`Elections`] and returns what it decided and
//! what it caused ([`Effects`]). Because apply reads nothing but the elections, the
//! command and the time the log stamped it with, every replica that applies the same
//! stamped commands in the same order reaches the same state, and every refusal (a bad
//! version, a stale term, a write into a host-kept subtree, a quota) is decided in the
//! same place for every caller: the runtime's imports, the HTTP API, the simulator, and
//! (later) commands that arrive from another host.
//!
//! # Time
//!
//! Apply reads no clock, and no outcome of apply depends on time: a session (and a lease,
//! which is a session) is open from the command that opens it until the command that
//! closes or expires it. Time enters only as commands: the owner of a session keeps its
//! deadline on the owner's own monotonic clock and, when the TTL runs out, proposes
//! [`Command::ExpireSessions`] naming it, so every replica ends exactly the sessions the
//! owner named. The stamp the log gives each command ([`MonoTime`], apply's third
//! argument) only moves those owner-side deadlines (opening, heartbeats, a restart), which
//! are soft state: never consulted by apply, never persisted, and reported back only as
//! information (a lease's time left).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::commit::ReadSet;
use crate::election::{
    CandidateId, Cause, Effects, ElectionError, ElectionName, Elections, LeaseOutcome, Priority,
    Recipient, Term, refuse_host_kept,
};
use crate::namespace::{
    Committed, Data, Error, Guard, HostEpoch, Lifetime, MonoTime, MultiError, NodePath, Op,
    Revision, SessionId, WatchKind, WatcherId,
};

/// One change, as data. See the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Opens a session that its owner expires (with [`Command::ExpireSessions`]) once `ttl`
    /// has passed since its last heartbeat on the owner's clock.
    OpenSession {
        /// The session's time to live.
        ttl: Duration,
    },
    /// Restarts a session's TTL on its owner's clock. Changes nothing a reader or a later
    /// command sees, so the log does not keep it.
    Heartbeat {
        /// The session.
        session: SessionId,
    },
    /// Closes a session: its ephemerals and ballots go in one step.
    CloseSession {
        /// The session.
        session: SessionId,
    },
    /// Closes each of `sessions` that is still open, in one step: the sessions a host
    /// left behind when it stopped.
    CloseSessions {
        /// The sessions.
        sessions: Vec<SessionId>,
    },
    /// Ends each of `sessions` that is still open: the ones whose TTL ran out on their
    /// owner's monotonic clock, as the owner decided. Apply reads no clock: which
    /// sessions expire is in the command, so every replica ends the same ones.
    ExpireSessions {
        /// The sessions, earliest deadline first.
        sessions: Vec<SessionId>,
    },
    /// Sim-only planted bug: from now on term and lease guards are ignored (see
    /// [`Elections::plant_fencing_off`]). A command, so that a log replays onto elections as
    /// broken as the ones it ran on. Hidden from the docs; nothing but the simulator may
    /// propose it.
    #[doc(hidden)]
    PlantFencingOff,
    /// The store reopened after a stop: every session's TTL starts again in full at the
    /// stamp, so the time the host was down counts against nobody.
    Restart,
    /// A host starts sharing the namespace under `epoch` (see [`HostEpoch`]); its commands
    /// apply from here until it is expired. Proposed by that host itself.
    JoinHost {
        /// The new epoch, which the proposing batch must carry too.
        epoch: HostEpoch,
        /// The host's name (`--host-id`).
        id: String,
    },
    /// A host is gone: its peers saw no heartbeat for its TTL, or it rejoined under a new
    /// epoch. Every session it owned ends in this one step, and every command it proposed
    /// that comes later in the log is refused.
    ExpireHost {
        /// The epoch that ends.
        epoch: HostEpoch,
    },
    /// An all-or-nothing multi from outside the election machinery (a component, an HTTP
    /// client), so no write may touch a host-kept subtree.
    Multi {
        /// Checked in the same step, before any operation.
        guard: Option<Guard>,
        /// The operations.
        ops: Vec<Op>,
        /// A per-session limit on ephemeral nodes the creates must stay within.
        quota: Option<EphemeralQuota>,
    },
    /// Registers a watch for `watcher`, unless it already has `most`.
    Watch {
        /// Whose watch.
        watcher: WatcherId,
        /// The node watched.
        path: NodePath,
        /// Data, existence or children.
        kind: WatchKind,
        /// The watcher's quota of watches.
        most: usize,
    },
    /// Removes every watch of `watcher`.
    Unwatch {
        /// Whose watches.
        watcher: WatcherId,
    },
    /// A deployment's first step: a session, a watcher, and its place in the election
    /// (joined and voted, or observing), all in one step so it reaches its first
    /// callback through one durable batch.
    Enter {
        /// The new session's time to live.
        ttl: Duration,
        /// Candidate or observer.
        role: Entrant,
    },
    /// Registers a candidate in `session` and casts its ballot; if the vote is refused
    /// the candidate is not kept.
    Stand {
        /// The election.
        election: ElectionName,
        /// Whose ballot.
        session: SessionId,
        /// Ballot data.
        data: Data,
        /// Its priority, which makes (or requires) a priority election.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<Priority>,
    },
    /// Casts a joined candidate's ballot, with new ballot data if given.
    Vote {
        /// The candidate.
        candidate: CandidateId,
        /// Replaces the candidate's ballot data first.
        data: Option<Data>,
    },
    /// The leader acknowledges its term (by default the one it leads under).
    Acknowledge {
        /// The leader.
        candidate: CandidateId,
        /// The term acknowledged; `None` for the candidate's current term.
        term: Option<Term>,
        /// Ack data; `None` for the ballot's data.
        data: Option<Data>,
    },
    /// Gives up the candidate's ballot and its term, if it leads.
    Resign {
        /// The candidate.
        candidate: CandidateId,
    },
    /// Hands the election's leadership to `to`, or to the next in line (see
    /// [`Elections::hand_off`]).
    HandOff {
        /// The election.
        election: ElectionName,
        /// The candidate to lead; the next in line without it.
        to: Option<CandidateId>,
        /// Made to drain the leader's host (recorded as the cause), not by request.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        drain: bool,
        /// The leader itself asking (a component's `hand-off`): refused unless it leads
        /// the election at this step. `None` for an operator.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<CandidateId>,
    },
    /// Resigns and forgets the candidate.
    Leave {
        /// The candidate.
        candidate: CandidateId,
    },
    /// Deletes every ballot `session` holds in `election`: an operator withdrawing a
    /// candidate whose registration did not survive a restart.
    WithdrawBallots {
        /// The election.
        election: ElectionName,
        /// Whose ballots.
        session: SessionId,
    },
    /// An instance's last step: it leaves its election (or stops observing), drops its
    /// watches, and its session closes.
    Retire {
        /// Candidate or observer.
        recipient: Recipient,
        /// Its watcher.
        watcher: WatcherId,
        /// Its session.
        session: SessionId,
    },
    /// Adds `peer` to a lease elector, creating it with `duration`.
    ResetElector {
        /// The elector.
        elector: ElectionName,
        /// The lease duration.
        duration: Duration,
        /// The peer.
        peer: String,
    },
    /// The lease elector's election for `peer`: won if free, renewed if it is master,
    /// else held by another (reported, not refused).
    ElectForDuration {
        /// The elector.
        elector: ElectionName,
        /// The peer.
        peer: String,
    },
    /// The peer's term of the lease: kept if it is master, else won if the lease is free.
    HoldLease {
        /// The elector.
        elector: ElectionName,
        /// The peer.
        peer: String,
    },
    /// A commit fenced by a lease: refused if anything in `reads` changed, or the peer
    /// does not hold `term` (with `None`, the lease is held or won first, in this step).
    Commit {
        /// The elector.
        elector: ElectionName,
        /// The peer.
        peer: String,
        /// The term claimed, or `None` for whatever term holding the lease gives.
        term: Option<Term>,
        /// What the transaction read, with what it saw.
        reads: ReadSet,
        /// The operations; none may write a host-kept subtree.
        ops: Vec<Op>,
    },
}

/// How a deployment takes part in its election.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Entrant {
    /// A candidate, voting at once.
    Candidate {
        /// The election.
        election: ElectionName,
        /// Ballot data.
        data: Data,
        /// Whether it also hears of every new leader.
        follow_leader: bool,
        /// Who it is (a deployment's name): kept with the candidate, so that any host
        /// applying its deposition can record whose term ended.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// Its priority, which makes (or requires) a priority election.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<Priority>,
    },
    /// An observer.
    Observer {
        /// The election.
        election: ElectionName,
    },
}

/// A session's allowance of ephemeral nodes, checked where the creates apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EphemeralQuota {
    /// The session that pays.
    pub session: SessionId,
    /// Ephemeral nodes it may hold at most.
    pub most: usize,
}

/// What an applied command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done; nothing to report.
    Done,
    /// A session was opened.
    Opened(SessionId),
    /// The session closed at this revision.
    Closed(Revision),
    /// The session's ballots are gone as of this revision.
    Withdrawn(Revision),
    /// These sessions ended (closed, or expired).
    Ended(Vec<SessionId>),
    /// A multi committed.
    Committed(Committed),
    /// A deployment entered (see [`Command::Enter`]).
    Entered {
        /// Its session.
        session: SessionId,
        /// Its watcher.
        watcher: WatcherId,
        /// The candidate or observer it became.
        recipient: Recipient,
        /// A candidate whose vote was refused stays joined and idle; this says why.
        vote_refused: Option<ElectionError>,
    },
    /// A candidate stood (see [`Command::Stand`]); where it stands now.
    Stood(CandidateStatus),
    /// A handoff was made: this candidate holds the lowest ballot now (its win follows).
    HandedOff(CandidateId),
    /// An instance retired; the term it gave up, if it led.
    Retired {
        /// The term it held when it left.
        left_term: Option<Term>,
    },
    /// What the lease elector's election did.
    Lease(LeaseOutcome),
    /// The peer holds the lease under `term`.
    Leased {
        /// The term.
        term: Term,
        /// Whether this step won or renewed the lease (as opposed to finding it held).
        elected: bool,
    },
    /// A lease-fenced commit applied.
    LeaseCommitted {
        /// What the multi did.
        committed: Committed,
        /// The term it committed under.
        term: Term,
        /// Whether this step won or renewed the lease first.
        elected: bool,
    },
}

/// Why a command changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The namespace refused (including a write into a host-kept subtree, and a lease or
    /// term the caller does not hold: `NotLeader`).
    #[error(transparent)]
    Namespace(#[from] Error),
    /// One operation of a multi was refused; the error names which.
    #[error(transparent)]
    Multi(#[from] MultiError),
    /// The election bookkeeping refused.
    #[error(transparent)]
    Election(#[from] ElectionError),
    /// A quota of the caller's would be exceeded.
    #[error("quota exceeded: {0}")]
    Quota(String),
    /// A commit's read set no longer matches: this node changed since it was read.
    #[error("{0} changed since the transaction read it")]
    Stale(NodePath),
    /// The proposing host was expired before this command reached the log: nothing it
    /// proposes under that epoch applies again.
    #[error("host {0} was expired; its commands no longer apply")]
    HostExpired(HostEpoch),
}

/// What apply decided.
pub type Applied = Result<Outcome, Refusal>;

/// Where a candidate stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateStatus {
    /// The candidate.
    pub id: CandidateId,
    /// Its election.
    pub election: ElectionName,
    /// Its session.
    pub session: SessionId,
    /// Its ballot, if it has one in the queue.
    pub ballot: Option<NodePath>,
    /// The term it leads under, if it leads.
    pub term: Option<Term>,
}

impl Command {
    /// The command as CBOR, the form a log keeps.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        ciborium::into_writer(self, &mut bytes).expect("encoding to memory cannot fail");
        bytes
    }

    /// Reads a command written by [`Command::encode`]; damaged bytes are an error, not a
    /// guess.
    pub fn decode(bytes: &[u8]) -> Result<Command, ciborium::de::Error<std::io::Error>> {
        ciborium::from_reader(bytes)
    }

    /// Whether a log must keep this command, given what apply decided: everything that
    /// applied, because any of it (a candidate leaving, a session expiring) can decide
    /// what a later command does when the log replays; except what changed nothing a
    /// later command can see: a refusal, an expiry that ended no session, a heartbeat
    /// (it moves only its owner's deadline), and the caller's own watches, which only
    /// decide whom effects go to.
    pub fn is_logged(&self, applied: &Applied) -> bool {
        match (self, applied) {
            (_, Err(_)) => false,
            (Command::Watch { .. } | Command::Unwatch { .. } | Command::Heartbeat { .. }, _) => {
                false
            }
            (Command::ExpireSessions { .. }, Ok(Outcome::Ended(ended))) => !ended.is_empty(),
            _ => true,
        }
    }

    /// A short name for the command's kind, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::OpenSession { .. } => "open-session",
            Command::Heartbeat { .. } => "heartbeat",
            Command::CloseSession { .. } => "close-session",
            Command::CloseSessions { .. } => "close-sessions",
            Command::ExpireSessions { .. } => "expire-sessions",
            Command::Restart => "restart",
            Command::JoinHost { .. } => "join-host",
            Command::ExpireHost { .. } => "expire-host",
            Command::PlantFencingOff => "plant-fencing-off",
            Command::Multi { .. } => "multi",
            Command::Watch { .. } => "watch",
            Command::Unwatch { .. } => "unwatch",
            Command::Enter { .. } => "enter",
            Command::Stand { .. } => "stand",
            Command::Vote { .. } => "vote",
            Command::Acknowledge { .. } => "ack",
            Command::Resign { .. } => "resign",
            Command::HandOff { .. } => "hand-off",
            Command::Leave { .. } => "leave",
            Command::WithdrawBallots { .. } => "withdraw-ballots",
            Command::Retire { .. } => "retire",
            Command::ResetElector { .. } => "reset-elector",
            Command::ElectForDuration { .. } => "elect-for-duration",
            Command::HoldLease { .. } => "hold-lease",
            Command::Commit { .. } => "commit",
        }
    }
}

/// Applies `command`, stamped `at`, to the elections: the only way a change is made.
/// A refusal changes nothing and causes nothing.
pub fn apply(el: &mut Elections, command: &Command, at: MonoTime) -> (Applied, Effects) {
    let mut effects = Effects::default();
    let applied = step(el, command, at, &mut effects);
    if applied.is_err() {
        effects = Effects::default();
    }
    (applied, effects)
}

fn step(el: &mut Elections, command: &Command, at: MonoTime, out: &mut Effects) -> Applied {
    let proposer = el.namespace().proposer();
    let joining = matches!(command, Command::JoinHost { epoch, .. } if *epoch == proposer);
    if !joining && !el.namespace().is_live_host(proposer) {
        return Err(Refusal::HostExpired(proposer));
    }
    match command {
        Command::JoinHost { epoch, id } => {
            if *epoch != proposer {
                return Err(Refusal::Namespace(Error::Invalid {
                    subject: format!("host {epoch}"),
                    reason: "a host joins only under its own epoch",
                }));
            }
            el.join_host(*epoch, id)?;
            Ok(Outcome::Done)
        }
        Command::ExpireHost { epoch } => {
            let (ended, effects) = el.expire_host(*epoch)?;
            out.extend(effects);
            Ok(Outcome::Ended(ended))
        }
        Command::OpenSession { ttl } => Ok(Outcome::Opened(el.open_session(*ttl, at)?)),
        Command::Heartbeat { session } => {
            el.heartbeat(*session, at)?;
            Ok(Outcome::Done)
        }
        Command::CloseSession { session } => {
            out.extend(el.close_session(*session)?);
            Ok(Outcome::Closed(el.namespace().revision()))
        }
        Command::CloseSessions { sessions } => {
            let mut ended = Vec::new();
            for session in sessions {
                if let Ok(closed) = el.close_session(*session) {
                    out.extend(closed);
                    ended.push(*session);
                }
            }
            Ok(Outcome::Ended(ended))
        }
        Command::ExpireSessions { sessions } => {
            let (expired, effects) = el.expire_sessions(sessions);
            out.extend(effects);
            Ok(Outcome::Ended(expired))
        }
        Command::Restart => {
            el.restart_deadlines(at);
            Ok(Outcome::Done)
        }
        Command::PlantFencingOff => {
            el.plant_fencing_off();
            Ok(Outcome::Done)
        }
        Command::Multi { guard, ops, quota } => {
            refuse_host_kept(ops)?;
            if let Some(quota) = quota {
                within_quota(el, ops, quota)?;
            }
            let (committed, effects) = el.multi(guard.as_ref(), ops)?;
            out.extend(effects);
            Ok(Outcome::Committed(committed))
        }
        Command::Watch {
            watcher,
            path,
            kind,
            most,
        } => {
            if el.namespace().watches_of(*watcher) >= *most {
                return Err(Refusal::Quota(format!("watches: {most} per session")));
            }
            el.watch(*watcher, path, *kind)?;
            Ok(Outcome::Done)
        }
        Command::Unwatch { watcher } => {
            el.unwatch(*watcher);
            Ok(Outcome::Done)
        }
        Command::Enter { ttl, role } => {
            if let Entrant::Candidate {
                election,
                priority: Some(_),
                ..
            } = role
            {
                // Before the session opens, so a refusal leaves nothing behind.
                el.check_priority(election)?;
            }
            let session = el.open_session(*ttl, at)?;
            let watcher = el.new_watcher();
            let (recipient, vote_refused) = match role {
                Entrant::Candidate {
                    election,
                    data,
                    follow_leader,
                    name,
                    priority,
                } => {
                    let id =
                        el.join_with(election, session, data.clone(), *follow_leader, *priority)?;
                    if let Some(name) = name {
                        el.name_candidate(id, name);
                    }
                    let refused = match el.vote(id) {
                        Ok(effects) => {
                            out.extend(effects);
                            None
                        }
                        Err(error) => Some(error),
                    };
                    (Recipient::Candidate(id), refused)
                }
                Entrant::Observer { election } => {
                    let (id, effects) = el.observe(election);
                    out.extend(effects);
                    (Recipient::Observer(id), None)
                }
            };
            Ok(Outcome::Entered {
                session,
                watcher,
                recipient,
                vote_refused,
            })
        }
        Command::Stand {
            election,
            session,
            data,
            priority,
        } => {
            if !el.namespace().is_open(*session) {
                return Err(Error::SessionExpired { session: *session }.into());
            }
            let id = el.join_with(election, *session, data.clone(), false, *priority)?;
            match el.vote(id) {
                Ok(effects) => {
                    out.extend(effects);
                    Ok(Outcome::Stood(el.status(id).expect("it just joined")))
                }
                Err(error) => {
                    let _ = el.leave(id);
                    Err(error.into())
                }
            }
        }
        Command::Vote { candidate, data } => {
            // New ballot data only with a vote that happens: a refused vote keeps the old.
            let previous = match data {
                Some(data) => Some(el.set_data(*candidate, data.clone())?),
                None => None,
            };
            match el.vote(*candidate) {
                Ok(effects) => {
                    out.extend(effects);
                    Ok(Outcome::Done)
                }
                Err(error) => {
                    if let Some(previous) = previous {
                        el.set_data(*candidate, previous)?;
                    }
                    Err(error.into())
                }
            }
        }
        Command::Acknowledge {
            candidate,
            term,
            data,
        } => {
            let term = match term {
                Some(term) => *term,
                None => el
                    .leading_term(*candidate)
                    .ok_or(Error::NotLeader { current: None })?,
            };
            out.extend(el.acknowledge(*candidate, term, data.clone())?);
            Ok(Outcome::Done)
        }
        Command::Resign { candidate } => {
            out.extend(el.resign(*candidate)?);
            Ok(Outcome::Done)
        }
        Command::HandOff {
            election,
            to,
            drain,
            from,
        } => {
            if let Some(from) = from
                && (el.leading_term(*from).is_none()
                    || el.election_of(*from).as_ref() != Some(election))
            {
                let current =
                    crate::election::read_leader(el.namespace().state(), election).map(|l| l.term);
                return Err(Error::NotLeader { current }.into());
            }
            let cause = if *drain {
                Cause::Drained
            } else {
                Cause::HandOff
            };
            let (leader, effects) = el.hand_off(election, *to, cause)?;
            out.extend(effects);
            Ok(Outcome::HandedOff(leader))
        }
        Command::Leave { candidate } => {
            out.extend(el.leave(*candidate)?);
            Ok(Outcome::Done)
        }
        Command::WithdrawBallots { election, session } => {
            out.extend(el.withdraw_ballots(election, *session)?);
            Ok(Outcome::Withdrawn(el.namespace().revision()))
        }
        Command::Retire {
            recipient,
            watcher,
            session,
        } => {
            let mut left_term = None;
            match recipient {
                Recipient::Candidate(candidate) => {
                    let leading = el.leading_term(*candidate);
                    if let Ok(left) = el.leave(*candidate) {
                        out.extend(left);
                        left_term = leading;
                    }
                }
                Recipient::Observer(observer) => {
                    let _ = el.unobserve(*observer);
                }
            }
            el.unwatch(*watcher);
            if let Ok(closed) = el.close_session(*session) {
                out.extend(closed);
            }
            Ok(Outcome::Retired { left_term })
        }
        Command::ResetElector {
            elector,
            duration,
            peer,
        } => {
            el.reset_elector(elector, *duration, peer)?;
            Ok(Outcome::Done)
        }
        Command::ElectForDuration { elector, peer } => {
            Ok(Outcome::Lease(el.elect_for_duration(elector, peer, at)?))
        }
        Command::HoldLease { elector, peer } => {
            let (term, elected) = hold_lease(el, elector, peer, at)?;
            Ok(Outcome::Leased { term, elected })
        }
        Command::Commit {
            elector,
            peer,
            term,
            reads,
            ops,
        } => {
            refuse_host_kept(ops)?;
            // Against the state the transaction read, before holding the lease changes
            // anything (a lease node it read is not a conflict of its own making).
            if let Some(path) = reads.conflict(el.namespace().state()) {
                return Err(Refusal::Stale(path.clone()));
            }
            // The term claimed, else the one the peer already holds.
            let held = term.or_else(|| {
                el.lease_holder(elector, at)
                    .filter(|holder| holder.master == *peer)
                    .map(|holder| holder.term)
            });
            match held {
                Some(term) => commit_under_lease(el, elector, peer, term, false, ops, out),
                None => {
                    // Winning the lease changes the elections. A commit refused after the
                    // win must change nothing, like any refusal (a refusal is not logged,
                    // so recovery would never see the win): the win is undone with it.
                    let before = el.clone();
                    let committed =
                        hold_lease(el, elector, peer, at).and_then(|(term, elected)| {
                            commit_under_lease(el, elector, peer, term, elected, ops, out)
                        });
                    if committed.is_err() {
                        *el = before;
                    }
                    committed
                }
            }
        }
    }
}

/// `ops` applied under `peer`'s lease of `elector` at `term`.
fn commit_under_lease(
    el: &mut Elections,
    elector: &ElectionName,
    peer: &str,
    term: Term,
    elected: bool,
    ops: &[Op],
    out: &mut Effects,
) -> Applied {
    let guard = el.lease_guard(elector, peer, term)?;
    let (committed, effects) = el.multi(Some(&guard), ops)?;
    out.extend(effects);
    Ok(Outcome::LeaseCommitted {
        committed,
        term,
        elected,
    })
}

/// The peer's term: the one it holds, or the one it wins now; refused with the holder's
/// term if another peer holds the lease.
fn hold_lease(
    el: &mut Elections,
    elector: &ElectionName,
    peer: &str,
    at: MonoTime,
) -> Result<(Term, bool), Refusal> {
    if let Some(holder) = el.lease_holder(elector, at)
        && holder.master == peer
    {
        return Ok((holder.term, false));
    }
    match el.elect_for_duration(elector, peer, at)? {
        LeaseOutcome::Won { term, .. } | LeaseOutcome::Renewed { term, .. } => Ok((term, true)),
        LeaseOutcome::Held { term, .. } => Err(Error::NotLeader {
            current: Some(term),
        }
        .into()),
    }
}

/// Refuses `ops` if their ephemeral creates would take the quota's session past it.
fn within_quota(el: &Elections, ops: &[Op], quota: &EphemeralQuota) -> Result<(), Refusal> {
    let creating = ops
        .iter()
        .filter(|op| {
            matches!(op, Op::Create { mode, .. } if matches!(mode.lifetime, Lifetime::Ephemeral(_)))
        })
        .count();
    if creating == 0 {
        return Ok(());
    }
    let held = el
        .namespace()
        .state()
        .session(quota.session)
        .map_or(0, |record| record.ephemerals.len());
    if held + creating > quota.most {
        return Err(Refusal::Quota(format!(
            "ephemeral nodes: {} per session",
            quota.most
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
