//! One simulated client: a single-threaded process with one request in flight, holding a
//! session, standing in the ballot election and the lease elector, writing and reading
//! the register, and recording every operation it makes into the histories.
//!
//! It acts on what it believes, which may be stale: a client paused past its TTL wakes
//! believing it still leads and writes under its old term, exactly what fencing is for.

use std::time::Duration;

use serde_json::{Value, json};

use ballot_check::history::{LeadershipToken, Token};
use ballot_check::models::LeadershipCall;
use ballot_core::election::Term;
use ballot_core::namespace::{MonoTime, SessionId};

use super::Histories;
use super::host::{LEASE_KEY, REG, Refusal, Reply, Request};

/// What the lease elector's terms are recorded under in the lease history (as the
/// runtime records an elector's).
pub const LEASE_SCOPE: &str = "elector:sim-lease";

/// How a pending request's history lines are completed.
enum Record {
    /// Not recorded (sessions, votes, polls).
    Nothing,
    /// A kv write of `value` to `key`, and (when guarded) a leadership commit.
    Write {
        key: &'static str,
        value: u64,
        data: Token,
        commit: Option<LeadershipToken>,
    },
    /// A kv read of `key`.
    Read { key: &'static str, data: Token },
}

struct Pending {
    id: u64,
    sent: MonoTime,
    request: Request,
    record: Record,
}

/// A client's state: what it holds and what it believes.
pub struct Client {
    index: usize,
    clients: usize,
    name: String,
    /// The run's election is a priority election: its votes carry a priority.
    ranked: bool,
    /// Its process number in the histories; a new one after an op ends unknown.
    process: u64,
    session: Option<SessionId>,
    last_heartbeat: MonoTime,
    voted: bool,
    /// The ballot term it believes it leads.
    term: Option<Term>,
    joined_elector: bool,
    /// The lease term it believes it holds.
    lease_term: Option<Term>,
    paused_until: Option<MonoTime>,
    /// Woke from a pause believing it leads: its next act writes under the old term.
    stale_write_due: bool,
    pending: Option<Pending>,
    next_id: u64,
    next_value: u64,
}

fn key_name(key: &str) -> &'static str {
    if key == REG { "reg" } else { "leased" }
}

impl Client {
    /// Client `index` of `clients`; with `ranked`, its votes carry priorities.
    pub fn new(index: usize, clients: usize, ranked: bool) -> Self {
        Client {
            index,
            clients,
            name: format!("c{index}"),
            ranked,
            process: index as u64,
            session: None,
            last_heartbeat: MonoTime(0),
            voted: false,
            term: None,
            joined_elector: false,
            lease_term: None,
            paused_until: None,
            stale_write_due: false,
            pending: None,
            next_id: 0,
            next_value: 0,
        }
    }

    /// The request it waits on, if any.
    pub fn waiting_on(&self) -> Option<&Request> {
        self.pending.as_ref().map(|p| &p.request)
    }

    /// True if it is awake and has no call in flight (or one it is about to give up on).
    pub fn ready(&self, now: MonoTime, timeout: Duration) -> bool {
        self.awake(now)
            && self
                .pending
                .as_ref()
                .is_none_or(|p| now.since(p.sent) >= timeout)
    }

    /// False while paused.
    pub fn awake(&self, now: MonoTime) -> bool {
        self.paused_until.is_none_or(|until| now >= until)
    }

    /// Pauses the client until `until` (a GC pause, a stopped VM): it neither acts nor
    /// hears replies, and wakes with its beliefs unchanged.
    pub fn pause(&mut self, until: MonoTime) {
        self.paused_until = Some(until);
        self.stale_write_due = self.term.is_some() || self.lease_term.is_some();
    }

    fn value(&mut self) -> u64 {
        self.next_value += 1;
        (self.index as u64 + 1) * 1_000_000 + self.next_value
    }

    /// The host crashed and the connection broke: a request in flight has an unknown
    /// outcome, as a reset connection leaves it.
    pub fn connection_reset(&mut self) {
        if let Some(pending) = self.pending.take() {
            self.unknown(pending);
        }
    }

    /// Gives up on a request older than `timeout`: its outcome is unknown.
    fn expire_pending(&mut self, now: MonoTime, timeout: Duration) {
        if let Some(pending) = &self.pending
            && now.since(pending.sent) >= timeout
        {
            let pending = self.pending.take().expect("checked");
            self.unknown(pending);
        }
    }

    fn unknown(&mut self, pending: Pending) {
        match pending.record {
            Record::Nothing => {}
            Record::Write {
                key,
                value,
                data,
                commit,
            } => {
                data.info(json!([key_name(key), value]));
                if let Some(token) = commit {
                    token.info();
                }
                // A process whose call may still take effect can issue no more: the next
                // calls come from a fresh process, as in Jepsen.
                self.process += self.clients as u64;
            }
            Record::Read { key, data } => {
                data.info(json!([key_name(key), Value::Null]));
                self.process += self.clients as u64;
            }
        }
        if matches!(pending.request, Request::Vote { .. }) {
            self.voted = true;
        }
    }

    /// The client's next request, if it is awake and idle; `pick` chooses it.
    pub fn act(
        &mut self,
        now: MonoTime,
        pick: u32,
        ttl: Duration,
        timeout: Duration,
        histories: &Histories,
    ) -> Option<(u64, Request)> {
        if !self.awake(now) {
            return None;
        }
        self.paused_until = None;
        self.expire_pending(now, timeout);
        if self.pending.is_some() {
            return None;
        }
        let request = self.choose(now, pick, ttl);
        let record = self.record(&request, histories);
        self.next_id += 1;
        self.pending = Some(Pending {
            id: self.next_id,
            sent: now,
            request: request.clone(),
            record,
        });
        Some((self.next_id, request))
    }

    fn choose(&mut self, now: MonoTime, pick: u32, ttl: Duration) -> Request {
        if std::mem::take(&mut self.stale_write_due) {
            if let (Some(session), Some(term)) = (self.session, self.term) {
                let value = self.value();
                return Request::GuardedWrite {
                    session,
                    term,
                    value,
                };
            }
            if let Some(term) = self.lease_term {
                let value = self.value();
                return Request::LeaseCommit {
                    peer: self.name.clone(),
                    value,
                    claim: Some(term),
                };
            }
        }
        let Some(session) = self.session else {
            return Request::OpenSession;
        };
        if now.since(self.last_heartbeat) >= ttl / 2 {
            self.last_heartbeat = now;
            return Request::Heartbeat(session);
        }
        let read_key = if (pick / 16).is_multiple_of(2) {
            REG
        } else {
            LEASE_KEY
        };
        let priority = self.ranked.then_some(i64::from(pick / 256 % 4));
        match pick % 13 {
            0 if !self.voted => Request::Vote {
                session,
                name: self.name.clone(),
                priority,
            },
            0 if self.term.is_some() && (pick / 16).is_multiple_of(3) => Request::Resign(session),
            // Stand again: refused while its ballot waits, a new ballot once a handoff or
            // a preemption took the one it had.
            0 if self.term.is_none() && pick / 16 % 3 == 1 => Request::Vote {
                session,
                name: self.name.clone(),
                priority,
            },
            0..=2 => Request::PollTerm(session),
            3 | 4 => match self.term {
                Some(term) => {
                    let value = self.value();
                    Request::GuardedWrite {
                        session,
                        term,
                        value,
                    }
                }
                None => Request::PollTerm(session),
            },
            5 => Request::Write {
                key: REG,
                value: self.value(),
            },
            6 | 7 => Request::Read(read_key),
            8 | 9 if !self.joined_elector => Request::ResetElector(self.name.clone()),
            8 | 9 => Request::LeaseCommit {
                peer: self.name.clone(),
                value: self.value(),
                claim: None,
            },
            10 => match self.lease_term {
                Some(term) => Request::LeaseCommit {
                    peer: self.name.clone(),
                    value: self.value(),
                    claim: Some(term),
                },
                None => Request::Read(LEASE_KEY),
            },
            11 => match self.term {
                Some(term) => Request::Ack { session, term },
                None => Request::Read(REG),
            },
            _ if !self.voted => Request::Vote {
                session,
                name: self.name.clone(),
                priority,
            },
            // An operator's planned change, now and then.
            12 if (pick / 16).is_multiple_of(8) => Request::HandOff {
                pick: pick / 128,
                drain: (pick / 4096).is_multiple_of(2),
            },
            _ => Request::PollTerm(session),
        }
    }

    fn record(&self, request: &Request, histories: &Histories) -> Record {
        let p = self.process;
        match request {
            Request::Write { key, value } => Record::Write {
                key,
                value: *value,
                data: histories
                    .data
                    .invoke(p, "write", json!([key_name(key), value])),
                commit: None,
            },
            Request::GuardedWrite { term, value, .. } => Record::Write {
                key: REG,
                value: *value,
                data: histories
                    .data
                    .invoke(p, "write", json!([key_name(REG), value])),
                commit: Some(histories.ballot.leadership(
                    p,
                    LeadershipCall::Commit,
                    crate::host::ELECTION,
                    &self.name,
                    term.0,
                )),
            },
            Request::LeaseCommit { value, claim, .. } => Record::Write {
                key: LEASE_KEY,
                value: *value,
                data: histories
                    .data
                    .invoke(p, "write", json!([key_name(LEASE_KEY), value])),
                // A guarded commit's term is known only once it won, so only a claimed
                // (speculative) one is a leadership commit.
                commit: claim.map(|term| {
                    histories.lease.leadership(
                        p,
                        LeadershipCall::Commit,
                        LEASE_SCOPE,
                        &self.name,
                        term.0,
                    )
                }),
            },
            Request::Read(key) => Record::Read {
                key,
                data: histories
                    .data
                    .invoke(p, "read", json!([key_name(key), Value::Null])),
            },
            _ => Record::Nothing,
        }
    }

    /// A reply reached the client. Replies to a request it gave up on are ignored.
    pub fn on_reply(&mut self, id: u64, reply: Reply) {
        let Some(pending) = self.pending.take_if(|p| p.id == id) else {
            return;
        };
        if let Reply::Failed(_) = reply {
            self.unknown(pending);
            return;
        }
        if let Reply::Refused(Refusal::Expired) = reply {
            self.session = None;
            self.voted = false;
            self.term = None;
        }
        match (&pending.request, &reply) {
            (Request::OpenSession, Reply::Session(session)) => {
                self.session = Some(*session);
                self.voted = false;
                self.term = None;
            }
            (Request::Vote { .. }, _) => self.voted = true,
            (Request::Resign(_), Reply::Done) => {
                self.voted = false;
                self.term = None;
            }
            (Request::PollTerm(_), Reply::Term(term)) => self.term = *term,
            (Request::ResetElector(_), Reply::Done) => self.joined_elector = true,
            (Request::GuardedWrite { .. }, Reply::Refused(_)) => self.term = None,
            (Request::LeaseCommit { .. }, Reply::Committed(term)) => self.lease_term = Some(*term),
            (Request::LeaseCommit { .. }, Reply::Refused(_)) => self.lease_term = None,
            _ => {}
        }
        match pending.record {
            Record::Nothing => {}
            Record::Write {
                key,
                value,
                data,
                commit,
            } => {
                let written = json!([key_name(key), value]);
                match &reply {
                    // A guarded lease commit's term is known only now, so only a claimed
                    // one is in the leadership history (the host records the win), and
                    // it committed under the term it claimed.
                    Reply::Committed(_) | Reply::Done => {
                        data.ok(written);
                        if let Some(token) = commit {
                            token.ok();
                        }
                    }
                    _ => {
                        data.fail(written.clone());
                        if let Some(token) = commit {
                            token.fail();
                        }
                    }
                }
            }
            Record::Read { key, data } => match reply {
                Reply::Value(value) => data.ok(json!([key_name(key), value])),
                _ => data.fail(json!([key_name(key), Value::Null])),
            },
        }
    }
}
