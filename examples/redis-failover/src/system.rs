//! The system of seed 001: three nodes, two clients, a failover coordinator, and the
//! history of what the clients saw, with every step that can follow a state.
//!
//! The seed's names are kept: nodes `a`, `b`, `c` (indices 0, 1, 2), clients `a` and `b`
//! (processes 0 and 1 of the history), the steps `client-write`, `client-write-complete`,
//! `client-read`, `replicate-from-primary`, `ack-offset-to-primary` and the four
//! `failover-*` stages. A step is a pure function from a state to its successors, so a path
//! is replayed by replaying its steps and the explorer can compare states for equality.
//!
//! # How the seed's register became a log
//!
//! The seed keeps one register and one replication offset per node and copies both when a
//! replica replicates. Here a node keeps the list of entries behind its register: the
//! register is the last entry's value and the offset is the list's length. Copying the list
//! is copying the seed's register and offset at once, so the original coordinator behaves
//! exactly as the seed's. The list is what lets the ballot coordinator answer a read with
//! the value at the majority-replicated offset rather than at the node's own offset, and
//! tell an entry of its own term from one of an older primary.

use std::fmt;

/// How many nodes the system has: `a`, `b` and `c`, as in the seed.
pub const NODES: usize = 3;
/// How many clients the system has: `a` and `b`, as in the seed.
pub const CLIENTS: usize = 2;

/// The seed's node names, by index.
const NODE_NAMES: [char; NODES] = ['a', 'b', 'c'];

/// Which coordinator runs failover, and with it which rules nodes and clients follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coordinator {
    /// The seed's coordinator and replication rules, with only the fixes that make the
    /// seed run (see the crate docs). It loses writes and reports them wrongly: this is
    /// the system the model exists to show.
    Original,
    /// The same nodes, clients and failover stages with ballot as the coordinator: each
    /// election issues a term (a fencing token, strictly increasing per failover), a
    /// primary acts only under its term and a node refuses a stale one, a write is
    /// acknowledged only once majority-replicated and is `info` when the wait times out,
    /// and a read answers only majority-replicated state.
    ///
    /// Failover 1 isolates the old primary for good, as in the seed, so no client or
    /// replica can reach it afterwards; the stale-term refusals the explored schedules
    /// exercise are a replica's acknowledgement of a log copied under an older
    /// term, and a new primary serving before anything of its own term is committed.
    ///
    /// Terms are modelled as integers here rather than issued by a real
    /// `ballot_core::election::Elections`: the explorer clones, hashes and compares every
    /// state it reaches (millions), and the election core owns a whole namespace with
    /// sessions and watches. What this model relies on is the election's contract, that
    /// each new leader's term is strictly greater than every earlier one and that a guard
    /// refuses an older term; `tests/terms.rs` checks that contract on the real core.
    Ballot,
    /// A control: the ballot coordinator with one rule taken out, to show that the
    /// exploration finds what that rule prevents (as the store's tests run it without
    /// `fdatasync`).
    BallotWithout(Rule),
}

/// A rule of the ballot coordinator that a control takes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// A write whose replication wait is not met is answered `info`; without the rule,
    /// `fail` as in the original.
    InfoOnTimeout,
    /// A read answers the value at the committed offset; without the rule, the primary's
    /// own register as in the original.
    CommittedReads,
    /// A new primary serves nothing until the no-op of its term is majority-replicated;
    /// without the rule, its committed offset is the majority-acknowledged one at once,
    /// which may lag behind what the old primary acknowledged.
    NewTermCommitted,
}

impl Rule {
    /// Every rule a control can take out.
    pub const ALL: [Rule; 3] = [
        Rule::InfoOnTimeout,
        Rule::CommittedReads,
        Rule::NewTermCommitted,
    ];
}

impl fmt::Display for Coordinator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Coordinator::Original => f.write_str("original"),
            Coordinator::Ballot => f.write_str("ballot"),
            Coordinator::BallotWithout(Rule::InfoOnTimeout) => {
                f.write_str("ballot, timed-out write reported fail")
            }
            Coordinator::BallotWithout(Rule::CommittedReads) => {
                f.write_str("ballot, reads of the primary's own register")
            }
            Coordinator::BallotWithout(Rule::NewTermCommitted) => {
                f.write_str("ballot, a new primary serves before its term commits")
            }
        }
    }
}

/// One replicated write (or, with ballot, a new primary's no-op).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The term of the primary that appended it (always 1 with the original coordinator).
    pub term: u8,
    /// The register after this entry. A no-op repeats the value before it.
    pub value: Option<u16>,
}

/// A node, as the seed's `node`: a register with its replication offset (here the
/// entries behind them), the primary it replicates from, whether it is isolated, and the
/// offsets a primary knows its replicas have.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Node {
    /// The entries; the register is the last one's value, the offset their number.
    pub log: Vec<Entry>,
    /// The node it replicates from; `None` makes it a primary.
    pub primary: Option<u8>,
    /// Cut off from every other node and client; no step in the seed heals it.
    pub isolated: bool,
    /// As a primary, the offset each other node last acknowledged (own slot unused).
    pub acked: [u8; NODES],
    /// The newest term this node has been told of (ballot only; 1 otherwise).
    pub term: u8,
    /// The term of the primary its log was last copied from, or its own term as a
    /// primary. An acknowledgement counts only when this matches the primary's term.
    pub log_term: u8,
    /// As a ballot primary, the offset of its term's no-op: nothing is served before it
    /// is majority-replicated.
    pub term_start: u8,
}

impl Node {
    /// The replication offset: how many entries the node holds.
    pub fn offset(&self) -> u8 {
        self.log.len() as u8
    }

    /// The register at `offset` (`None` at 0: every register starts as null).
    pub fn value_at(&self, offset: u8) -> Option<u16> {
        match offset {
            0 => None,
            n => self.log[usize::from(n) - 1].value,
        }
    }

    /// The register: the value at the node's own offset.
    pub fn register(&self) -> Option<u16> {
        self.value_at(self.offset())
    }

    /// The seed's `primary-node?`.
    pub fn is_primary(&self) -> bool {
        self.primary.is_none()
    }
}

/// An in-flight write a client waits on: the seed's `:waiting` offset, plus the term and
/// value that identify the entry (ballot checks that the entry is still the client's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Wait {
    /// The offset the write reached on the primary.
    pub offset: u8,
    /// The term the primary appended it under.
    pub term: u8,
    /// The value written.
    pub value: u16,
}

/// A client, as the seed's `client`: single-threaded, at most one request in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Client {
    /// The node it sends reads and writes to.
    pub node: u8,
    /// The term it learnt with its node (ballot only): a request carries it, and a node
    /// under another term refuses the request.
    pub term: u8,
    /// The write it waits on, if any.
    pub waiting: Option<Wait>,
}

/// The coordinator's phase in the failover cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// No failover under way; the next step may start one.
    Normal,
    /// Failover 1 isolated the primary.
    Isolated,
    /// Failover 2 selected a new primary.
    Selected,
    /// Failover 3 told the reachable nodes; failover 4 tells the clients.
    InformedNodes,
}

/// The seed's `coordinator`: a phase and the primary it believes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Controller {
    /// Where in the failover cycle it is.
    pub phase: Phase,
    /// The primary; `None` between isolating the old one and selecting the next.
    pub primary: Option<u8>,
    /// The last term issued (ballot only; 1 otherwise).
    pub term: u8,
}

/// How a write ended, as the history records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The replication wait was met.
    Ok,
    /// The original coordinator's answer when the wait was not met: "did not happen",
    /// although the write is already in the primary's register.
    Fail,
    /// Ballot's answer when the wait was not met: unknown, it may yet take effect.
    Info,
}

/// One thing the clients saw; [`crate::history_of`] turns these into history lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// A client sent a write of `value`.
    WriteInvoke {
        /// The client.
        process: u8,
        /// The value, unique on its path.
        value: u16,
    },
    /// The write's answer.
    WriteDone {
        /// The client.
        process: u8,
        /// The value it wrote.
        value: u16,
        /// The answer.
        outcome: Outcome,
    },
    /// A read and its answer, one step as in the seed (an invoke and an ok line).
    Read {
        /// The client.
        process: u8,
        /// What it read.
        value: Option<u16>,
        /// Whether the entry read was on a majority of nodes at the time. Not part of
        /// the history; it tells an unreplicated read from a lost replicated one.
        replicated: bool,
    },
}

/// A step of the seed, with what it acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// `client-write` by a client.
    Write(u8),
    /// `client-write-complete` for a client.
    Complete(u8),
    /// `client-read` by a client.
    Read(u8),
    /// `replicate-from-primary` by a node.
    Replicate(u8),
    /// `ack-offset-to-primary` by a node.
    Ack(u8),
    /// `failover-1-isolate`.
    Isolate,
    /// `failover-2-select`, choosing this node.
    Select(u8),
    /// `failover-3-inform-nodes`.
    InformNodes,
    /// `failover-4-inform-clients`.
    InformClients,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let node = |n: &u8| NODE_NAMES[usize::from(*n)];
        let client = |c: &u8| NODE_NAMES[usize::from(*c)];
        match self {
            Step::Write(c) => write!(f, "client-write {}", client(c)),
            Step::Complete(c) => write!(f, "client-write-complete {}", client(c)),
            Step::Read(c) => write!(f, "client-read {}", client(c)),
            Step::Replicate(n) => write!(f, "replicate-from-primary {}", node(n)),
            Step::Ack(n) => write!(f, "ack-offset-to-primary {}", node(n)),
            Step::Isolate => f.write_str("failover-1-isolate"),
            Step::Select(n) => write!(f, "failover-2-select {}", node(n)),
            Step::InformNodes => f.write_str("failover-3-inform-nodes"),
            Step::InformClients => f.write_str("failover-4-inform-clients"),
        }
    }
}

/// The seed's `system`: nodes, clients, coordinator and history, plus the per-path write
/// counter that replaces the seed's global `write-state` atom.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct System {
    /// The rules in force.
    pub coordinator: Coordinator,
    /// `a`, `b`, `c`, indexed by name.
    ///
    /// Fix: the seed builds its nodes as a sequence, so `get-node` (a lookup by name)
    /// finds nothing, and its `nodes` accessor returns `(:clients system)`.
    pub nodes: [Node; NODES],
    /// Clients `a` and `b`.
    pub clients: [Client; CLIENTS],
    /// The failover coordinator.
    pub controller: Controller,
    /// What the clients saw on the path to this state.
    pub history: Vec<Event>,
    /// Fix: the seed draws values from a global atom, so a value depends on every path
    /// explored before, states that should be equal differ, and a replayed path writes
    /// other values. Here the counter is part of the state: the n-th write on a path
    /// writes n.
    pub next_value: u16,
}

impl System {
    /// The seed's system in its intended start.
    ///
    /// Fixes: the seed's coordinator starts in `:selecting`, which no step handles, so no
    /// failover could ever run; here it is `Normal` with primary `a`. Every seed node has
    /// `:primary nil`, which makes all three primaries; here `b` and `c` replicate from
    /// `a`. Seed clients have `:node nil`, so `valid-client?` holds for none and no client
    /// could act; here both use `a`.
    pub fn initial(coordinator: Coordinator) -> Self {
        let node = |primary: Option<u8>| Node {
            log: Vec::new(),
            primary,
            isolated: false,
            acked: [0; NODES],
            term: 1,
            log_term: 1,
            term_start: 0,
        };
        let client = Client {
            node: 0,
            term: 1,
            waiting: None,
        };
        System {
            coordinator,
            nodes: [node(None), node(Some(0)), node(Some(0))],
            clients: [client; CLIENTS],
            controller: Controller {
                phase: Phase::Normal,
                primary: Some(0),
                term: 1,
            },
            history: Vec::new(),
            next_value: 1,
        }
    }

    /// Every state one step away, with the step, in a fixed order (the seed's `step`).
    pub fn successors(&self) -> Vec<(Step, System)> {
        let mut out = Vec::new();
        for c in 0..CLIENTS as u8 {
            out.extend(self.client_write(c).map(|s| (Step::Write(c), s)));
            out.extend(self.client_read(c).map(|s| (Step::Read(c), s)));
            out.extend(
                self.client_write_complete(c)
                    .map(|s| (Step::Complete(c), s)),
            );
        }
        for n in 0..NODES as u8 {
            out.extend(
                self.replicate_from_primary(n)
                    .map(|s| (Step::Replicate(n), s)),
            );
            out.extend(self.ack_offset_to_primary(n).map(|s| (Step::Ack(n), s)));
        }
        self.failover(&mut out);
        out
    }

    /// The state after `step`, when `step` is enabled here.
    pub fn after(&self, step: Step) -> Option<System> {
        self.successors()
            .into_iter()
            .find_map(|(s, next)| (s == step).then_some(next))
    }

    fn node(&self, n: u8) -> &Node {
        &self.nodes[usize::from(n)]
    }

    fn ballot(&self) -> bool {
        matches!(
            self.coordinator,
            Coordinator::Ballot | Coordinator::BallotWithout(_)
        )
    }

    /// Whether a ballot rule is in force (not taken out by a control).
    fn keeps(&self, rule: Rule) -> bool {
        self.coordinator != Coordinator::BallotWithout(rule)
    }

    /// The seed's `majority-acked-offset`: the median of the node's own offset and the
    /// offsets it knows for the others.
    ///
    /// Fix: the seed takes `(values (:offsets node))`; Clojure's function is `vals`.
    pub fn majority_acked_offset(&self, n: u8) -> u8 {
        let node = self.node(n);
        let mut offsets = node.acked;
        offsets[usize::from(n)] = node.offset();
        offsets.sort_unstable();
        offsets[NODES / 2]
    }

    /// Ballot's committed offset on primary `n`: the majority-acknowledged offset, once
    /// it covers the no-op of the primary's own term (Raft's rule: an older term's entry
    /// is not known committed by counting replicas). `None` while it does not.
    pub fn committed_offset(&self, n: u8) -> Option<u8> {
        let acked = self.majority_acked_offset(n);
        let started = !self.keeps(Rule::NewTermCommitted) || acked >= self.node(n).term_start;
        started.then_some(acked)
    }

    /// The seed's `valid-client?`: its node is a reachable primary. With ballot the node
    /// must also hold the term the client learnt: a stale term is refused.
    ///
    /// Fix: the seed calls `reachable-primary-node`, which is not defined (the predicate
    /// is `reachable-primary-node?`).
    fn valid_client(&self, c: u8) -> bool {
        let client = &self.clients[usize::from(c)];
        let node = self.node(client.node);
        node.is_primary() && !node.isolated && (!self.ballot() || node.term == client.term)
    }

    fn free_client(&self, c: u8) -> bool {
        self.clients[usize::from(c)].waiting.is_none()
    }

    /// `client-write`: a free, valid client writes the next value into its primary's
    /// register and waits for the replication offset it reached.
    fn client_write(&self, c: u8) -> Option<System> {
        if !self.free_client(c) || !self.valid_client(c) {
            return None;
        }
        let mut next = self.clone();
        let value = next.next_value;
        next.next_value += 1;
        let client = &mut next.clients[usize::from(c)];
        let node = &mut next.nodes[usize::from(client.node)];
        node.log.push(Entry {
            term: node.term,
            value: Some(value),
        });
        client.waiting = Some(Wait {
            offset: node.offset(),
            term: node.term,
            value,
        });
        next.history.push(Event::WriteInvoke { process: c, value });
        Some(next)
    }

    /// `client-write-complete`: the client's primary answers whether the offset the
    /// client waits on is majority-acknowledged. Original: `ok`, or else `fail`. Ballot:
    /// `ok` only when the very entry (same offset and term) is committed, or else `info`.
    ///
    /// As in the seed, the answer comes from the client's current node, which failover 4
    /// may have changed since the write.
    fn client_write_complete(&self, c: u8) -> Option<System> {
        let wait = self.clients[usize::from(c)].waiting?;
        if !self.valid_client(c) {
            return None;
        }
        let n = self.clients[usize::from(c)].node;
        let outcome = if self.ballot() {
            let node = self.node(n);
            let same_entry = node
                .log
                .get(usize::from(wait.offset) - 1)
                .is_some_and(|e| e.term == wait.term && e.value == Some(wait.value));
            let committed = self.committed_offset(n).is_some_and(|o| o >= wait.offset);
            if same_entry && committed {
                Outcome::Ok
            } else if self.keeps(Rule::InfoOnTimeout) {
                Outcome::Info
            } else {
                Outcome::Fail
            }
        } else if wait.offset <= self.majority_acked_offset(n) {
            Outcome::Ok
        } else {
            Outcome::Fail
        };
        let mut next = self.clone();
        next.clients[usize::from(c)].waiting = None;
        next.history.push(Event::WriteDone {
            process: c,
            value: wait.value,
            outcome,
        });
        Some(next)
    }

    /// `client-read`: a free, valid client reads its primary's register. With ballot it
    /// reads the value at the committed offset, and nothing before its primary's term is
    /// committed.
    fn client_read(&self, c: u8) -> Option<System> {
        if !self.free_client(c) || !self.valid_client(c) {
            return None;
        }
        let n = self.clients[usize::from(c)].node;
        let node = self.node(n);
        let offset = if self.ballot() && self.keeps(Rule::CommittedReads) {
            self.committed_offset(n)?
        } else {
            node.offset()
        };
        let replicated = offset == 0 || {
            let entry = node.log[usize::from(offset) - 1];
            let holders = self
                .nodes
                .iter()
                .filter(|other| other.log.get(usize::from(offset) - 1) == Some(&entry))
                .count();
            holders > NODES / 2
        };
        let mut next = self.clone();
        next.history.push(Event::Read {
            process: c,
            value: node.value_at(offset),
            replicated,
        });
        Some(next)
    }

    /// `replicate-from-primary`: a reachable replica copies its reachable primary's
    /// register and offset (here: its entries). With ballot the source must be a primary
    /// under a term at least the replica's own; an older term is refused.
    ///
    /// Fix: the seed lets every non-isolated node take this step, primaries included; a
    /// primary's `:primary` is nil, so it would copy a nil register and offset. Here only
    /// a node with a primary replicates.
    fn replicate_from_primary(&self, n: u8) -> Option<System> {
        let node = self.node(n);
        let p = node.primary?;
        let primary = self.node(p);
        if node.isolated || primary.isolated {
            return None;
        }
        if self.ballot() && (!primary.is_primary() || primary.term < node.term) {
            return None;
        }
        if node.log == primary.log && node.log_term == primary.term {
            return None;
        }
        let mut next = self.clone();
        let (log, term) = (primary.log.clone(), primary.term);
        let node = &mut next.nodes[usize::from(n)];
        node.log = log;
        if self.ballot() {
            node.term = term;
            node.log_term = term;
        }
        Some(next)
    }

    /// `ack-offset-to-primary`: a reachable replica tells its reachable primary its
    /// offset. With ballot the acknowledgement counts only for a log copied under the
    /// primary's own term.
    ///
    /// Fixes: as with replication, only a node with a primary acknowledges. The seed
    /// stores the offset at `[:nodes primary name]`, beside the primary's own fields,
    /// where `majority-acked-offset` never looks; here it goes into the primary's
    /// `acked`, the seed's `:offsets`.
    fn ack_offset_to_primary(&self, n: u8) -> Option<System> {
        let node = self.node(n);
        let p = node.primary?;
        let primary = self.node(p);
        if node.isolated || primary.isolated {
            return None;
        }
        if self.ballot() && (!primary.is_primary() || node.log_term != primary.term) {
            return None;
        }
        if primary.acked[usize::from(n)] == node.offset() {
            return None;
        }
        let mut next = self.clone();
        let offset = node.offset();
        next.nodes[usize::from(p)].acked[usize::from(n)] = offset;
        Some(next)
    }

    /// The seed's `failover`: whichever of the four stages applies.
    ///
    /// Fix: when none applies the seed returns `(nil)`, a successor that is no system;
    /// here there is no successor.
    fn failover(&self, out: &mut Vec<(Step, System)>) {
        let ctl = self.controller;
        match ctl.phase {
            // failover-1-isolate.
            Phase::Normal => {
                let Some(p) = ctl.primary else { return };
                let mut next = self.clone();
                next.controller.phase = Phase::Isolated;
                next.controller.primary = None;
                next.nodes[usize::from(p)].isolated = true;
                out.push((Step::Isolate, next));
            }
            // failover-2-select: the reachable node with the highest offset; with ballot
            // the highest (last entry's term, offset), Raft's "at least as up to date".
            // Every tie is explored. Fix: the seed takes `max-key` over no node at all
            // once every node is isolated, which throws; here no step is enabled.
            Phase::Isolated => {
                let rank = |node: &Node| {
                    let last_term = if self.ballot() {
                        node.log.last().map_or(0, |e| e.term)
                    } else {
                        0
                    };
                    (last_term, node.offset())
                };
                let best = self
                    .nodes
                    .iter()
                    .filter(|node| !node.isolated)
                    .map(rank)
                    .max();
                let Some(best) = best else { return };
                for (i, node) in self.nodes.iter().enumerate() {
                    if node.isolated || rank(node) != best {
                        continue;
                    }
                    let mut next = self.clone();
                    next.controller.phase = Phase::Selected;
                    next.controller.primary = Some(i as u8);
                    if self.ballot() {
                        next.controller.term += 1;
                    }
                    out.push((Step::Select(i as u8), next));
                }
            }
            // failover-3-inform-nodes: reachable nodes learn the new primary; the isolated
            // old primary still believes it is one. With ballot they learn the new term,
            // and the new primary appends its term's no-op and forgets the offsets it
            // knew under another term.
            Phase::Selected => {
                let Some(p) = ctl.primary else { return };
                let mut next = self.clone();
                next.controller.phase = Phase::InformedNodes;
                let ballot = self.ballot();
                for (i, node) in next.nodes.iter_mut().enumerate() {
                    if node.isolated {
                        continue;
                    }
                    if ballot {
                        node.term = ctl.term;
                    }
                    if i == usize::from(p) {
                        node.primary = None;
                        if ballot {
                            let value = node.register();
                            node.log.push(Entry {
                                term: ctl.term,
                                value,
                            });
                            node.log_term = ctl.term;
                            node.term_start = node.offset();
                            node.acked = [0; NODES];
                        }
                    } else {
                        node.primary = Some(p);
                    }
                }
                out.push((Step::InformNodes, next));
            }
            // failover-4-inform-clients. Fix: the seed sets each client's `:primary`, a
            // field no step reads; clients send to `:node`, which is what moves here.
            Phase::InformedNodes => {
                let Some(p) = ctl.primary else { return };
                let mut next = self.clone();
                next.controller.phase = Phase::Normal;
                for client in &mut next.clients {
                    client.node = p;
                    client.term = ctl.term;
                }
                out.push((Step::InformClients, next));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_initial_state_lets_clients_act_and_failover_run() {
        for coordinator in [Coordinator::Original, Coordinator::Ballot] {
            let system = System::initial(coordinator);
            let steps: Vec<Step> = system.successors().into_iter().map(|(s, _)| s).collect();
            assert!(steps.contains(&Step::Write(0)), "{steps:?}");
            assert!(steps.contains(&Step::Read(1)), "{steps:?}");
            assert!(steps.contains(&Step::Isolate), "{steps:?}");
        }
    }

    #[test]
    fn failover_four_moves_the_clients_node() {
        let mut system = System::initial(Coordinator::Original);
        for step in [
            Step::Isolate,
            Step::Select(1),
            Step::InformNodes,
            Step::InformClients,
        ] {
            system = system.after(step).expect("enabled");
        }
        assert!(system.clients.iter().all(|c| c.node == 1));
        assert_eq!(system.nodes[2].primary, Some(1));
        assert!(system.nodes[0].isolated && system.nodes[0].is_primary());
    }

    #[test]
    fn values_count_per_path() {
        let system = System::initial(Coordinator::Original);
        let first = system.after(Step::Write(0)).expect("enabled");
        let other = system.after(Step::Write(1)).expect("enabled");
        assert_eq!(
            first.history,
            [Event::WriteInvoke {
                process: 0,
                value: 1
            }]
        );
        assert_eq!(
            other.history,
            [Event::WriteInvoke {
                process: 1,
                value: 1
            }]
        );
    }

    #[test]
    fn ballot_refuses_an_acknowledgement_from_an_older_term() {
        let mut system = System::initial(Coordinator::Ballot);
        for step in [Step::Write(0), Step::Replicate(1), Step::Replicate(2)] {
            system = system.after(step).expect("enabled");
        }
        for step in [Step::Isolate, Step::Select(2), Step::InformNodes] {
            system = system.after(step).expect("enabled");
        }
        // b holds term 2 but its log is still the one copied from a under term 1.
        assert_eq!(system.after(Step::Ack(1)), None);
        system = system.after(Step::Replicate(1)).expect("enabled");
        assert!(system.after(Step::Ack(1)).is_some());
    }

    #[test]
    fn ballot_serves_an_acknowledged_write_after_failover() {
        let mut system = System::initial(Coordinator::Ballot);
        // Not majority-replicated yet: a read sees null and a completion would be info.
        system = system.after(Step::Write(0)).expect("enabled");
        let early = system.after(Step::Complete(0)).expect("enabled");
        assert!(matches!(
            early.history.last(),
            Some(Event::WriteDone {
                outcome: Outcome::Info,
                ..
            })
        ));
        for step in [
            Step::Replicate(1),
            Step::Ack(1),
            Step::Complete(0),
            Step::Isolate,
            Step::Select(1),
            Step::InformNodes,
            Step::InformClients,
        ] {
            system = system.after(step).expect("enabled");
        }
        // b's no-op is not majority-replicated: b serves nothing yet.
        assert_eq!(system.after(Step::Read(1)), None);
        for step in [Step::Replicate(2), Step::Ack(2), Step::Read(1)] {
            system = system.after(step).expect("enabled");
        }
        assert_eq!(
            &system.history[1..],
            [
                Event::WriteDone {
                    process: 0,
                    value: 1,
                    outcome: Outcome::Ok
                },
                Event::Read {
                    process: 1,
                    value: Some(1),
                    replicated: true
                },
            ]
        );
    }
}
