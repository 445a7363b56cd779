//! A worker of the exactly-once work queue (`examples/work-queue`).
//!
//! Workers compete for the queue through the lease elector `work-queue`; only the master
//! works. Each instance names itself by an ephemeral sequential node under
//! `/work-queue/workers`, so an instance that is killed and restarted comes back as a new
//! peer, and its old lease must lapse before anyone else can take over.
//!
//! On every tick the worker renews (or tries to win) the lease, then does one step:
//!
//! 1. **claim**: the first item that is `pending`, or `claimed` under an older term (its
//!    claimer lost the lease before finishing), becomes `claimed <peer> <term>` in a
//!    guarded commit conditional on the item's version;
//! 2. **work**: it holds the claim for [`WORK_TICKS`] ticks (the work takes time, so a
//!    kill can land in the middle of it);
//! 3. **complete**: in one commit guarded by the claim's term (a speculative commit: the
//!    host refuses it unless the peer still holds that very term, so a completion never
//!    lands under another term than its claim's) and conditional on the item's version
//!    being the one its claim wrote, the item becomes `done <peer> <term>` and the effect
//!    `<item> <peer> <term>` is appended under `/work-queue/effects`.
//!
//! Whoever completes an item, and however many claims of it were cut short, the version
//! condition lets exactly one completion through, and the term guard refuses a master
//! whose lease lapsed: every item's effect is written exactly once.

use std::collections::BTreeSet;

use ballot_guest::commit::{self, Txn};
use ballot_guest::elector::{self, LeaseOutcome};
use ballot_guest::{Candidate, CreateMode, Error, Leader, Op, Term, log, namespace};

/// The lease elector the workers compete in.
const ELECTOR: &str = "work-queue";
/// How long a master's lease lasts without renewal.
const LEASE_MS: u64 = 150;
/// Where producers enqueue items (persistent sequential nodes, data `pending`).
const ITEMS: &str = "/work-queue/items";
/// Where completions append their effects.
const EFFECTS: &str = "/work-queue/effects/effect-";
/// Where each instance takes its peer name.
const WORKERS: &str = "/work-queue/workers/w-";
/// Ticks an item is held between its claim and its completion.
const WORK_TICKS: u32 = 2;

/// An item as its node's data says.
#[derive(Debug, PartialEq, Eq)]
enum ItemState {
    Pending,
    Claimed { peer: String, term: Term },
    Done,
}

/// Parses an item's data; `None` for anything this worker would not have written. (The
/// example's audit, `examples/work-queue/src/queue.rs`, reads the same format.)
fn parse(data: &[u8]) -> Option<ItemState> {
    let text = std::str::from_utf8(data).ok()?;
    let words: Vec<&str> = text.split(' ').collect();
    match words.as_slice() {
        ["pending"] => Some(ItemState::Pending),
        ["claimed", peer, term] => Some(ItemState::Claimed {
            peer: peer.to_string(),
            term: term.parse().ok()?,
        }),
        ["done", _, term] => {
            term.parse::<Term>().ok()?;
            Some(ItemState::Done)
        }
        _ => None,
    }
}

/// The item this instance claimed and is working on.
#[derive(Debug)]
struct Claim {
    path: String,
    name: String,
    /// The item's data version after the claim: the completion requires it.
    version: u64,
    term: Term,
    ticks: u32,
}

#[derive(Default)]
struct Worker {
    /// This instance's peer name, once it has one.
    peer: Option<String>,
    /// Whether the peer has joined the elector.
    joined: bool,
    claim: Option<Claim>,
    /// Items seen done (they never change again), so the scan skips them.
    done: BTreeSet<String>,
}

impl Worker {
    /// This instance's peer name, registering it in the elector on first use. (Each
    /// instance adds one peer; the elector keeps every peer it was told of.)
    fn peer(&mut self) -> Result<String, Error> {
        let peer = match &self.peer {
            Some(peer) => peer.clone(),
            None => {
                let path = namespace::create(WORKERS, b"", CreateMode::EPHEMERAL_SEQUENTIAL)?;
                let peer = path.rsplit('/').next().unwrap_or(&path).to_string();
                self.peer = Some(peer.clone());
                peer
            }
        };
        if !self.joined {
            elector::reset_elector(ELECTOR, LEASE_MS, &peer)?;
            log::info(&format!("worker {peer} joined"));
            self.joined = true;
        }
        Ok(peer)
    }

    fn step(&mut self) -> Result<(), Error> {
        let peer = self.peer()?;
        let term = match elector::elect_for_duration(ELECTOR, &peer)? {
            LeaseOutcome::Won(term) => {
                log::info(&format!("{peer} is master under term {term}"));
                term
            }
            LeaseOutcome::Renewed(term) => term,
            LeaseOutcome::Held(_) => {
                self.claim = None;
                return Ok(());
            }
        };
        match self.claim.take() {
            Some(claim) if claim.term != term => Ok(()),
            Some(mut claim) if claim.ticks < WORK_TICKS => {
                claim.ticks += 1;
                self.claim = Some(claim);
                Ok(())
            }
            Some(claim) => self.complete(&peer, claim),
            None => self.claim_next(&peer, term),
        }
    }

    /// Finds the first item that is free to claim and claims it.
    fn claim_next(&mut self, peer: &str, term: Term) -> Result<(), Error> {
        for name in namespace::children(ITEMS)? {
            if self.done.contains(&name) {
                continue;
            }
            let path = format!("{ITEMS}/{name}");
            let node = namespace::get(&path)?;
            match parse(&node.data) {
                Some(ItemState::Pending) => {}
                // Its claimer lost the lease before completing it.
                Some(ItemState::Claimed { term: theirs, .. }) if theirs < term => {}
                // This instance's own claim, whose completion was refused on the way
                // (a quota, say): complete it now.
                Some(ItemState::Claimed { peer: theirs, term: held })
                    if theirs == peer && held == term =>
                {
                    self.claim = Some(Claim {
                        path,
                        name,
                        version: node.stat.data_version,
                        term,
                        ticks: WORK_TICKS,
                    });
                    return Ok(());
                }
                Some(ItemState::Claimed { .. }) => continue,
                Some(ItemState::Done) => {
                    self.done.insert(name);
                    continue;
                }
                None => {
                    log::warn(&format!("{path}: unreadable item, skipped"));
                    continue;
                }
            }
            let data = format!("claimed {peer} {term}").into_bytes();
            let ops = vec![Op::set(&path, data, Some(node.stat.data_version))];
            let committed = commit::guarded_commit(ELECTOR, peer, &Txn::Ops(ops))?;
            let version = match committed.results.first() {
                Some(ballot_guest::OpResult::Set(stat)) => stat.data_version,
                _ => node.stat.data_version + 1,
            };
            self.claim = Some(Claim {
                path,
                name,
                version,
                term: committed.term,
                ticks: 0,
            });
            return Ok(());
        }
        Ok(())
    }

    /// Completes the claimed item: marks it done and appends its effect, in one commit.
    fn complete(&mut self, peer: &str, claim: Claim) -> Result<(), Error> {
        let Claim {
            path, name, version, term, ..
        } = claim;
        let ops = vec![
            Op::set(&path, format!("done {peer} {term}").into_bytes(), Some(version)),
            Op::create(
                EFFECTS,
                format!("{name} {peer} {term}").into_bytes(),
                CreateMode::PERSISTENT_SEQUENTIAL,
            ),
        ];
        commit::speculative_commit(ELECTOR, peer, term, &Txn::Ops(ops))?;
        self.done.insert(name);
        Ok(())
    }
}

impl Candidate for Worker {
    fn on_winning_election(&mut self, _term: Term) -> Result<(), String> {
        Ok(())
    }

    fn on_losing_election(&mut self, _leader: Leader) {}

    fn tick(&mut self) {
        if let Err(error) = self.step() {
            // Lost races (bad-version, not-leader) are the normal course of things; the
            // next tick starts again from the durable state.
            log::info(&format!("step refused: {error:?}"));
        }
    }
}

ballot_guest::export_candidate!(Worker);
