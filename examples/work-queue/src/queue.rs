//! The queue's layout in the namespace and its item format, as the worker component
//! (`components/work-queue-worker`) writes them, and the producers.
//!
//! - `/work-queue/items/item-<seq>`: an item; its data is `pending`, then
//!   `claimed <peer> <term>` (perhaps several times, as claims are cut short), then
//!   `done <peer> <term>`;
//! - `/work-queue/effects/effect-<seq>`: one completion's effect, `<item> <peer> <term>`;
//! - `/work-queue/workers/w-<seq>`: one worker instance's peer name (ephemeral).

use std::time::{Duration, Instant};

use anyhow::Context;
use ballot_core::command::Command;
use ballot_core::election::ElectionName;
use ballot_core::namespace::{CreateMode, Data, NodePath, Op, State};
use ballot_runtime::Runtime;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// The lease elector the workers compete in.
pub const ELECTOR: &str = "work-queue";
/// The queue's root.
pub const ROOT: &str = "/work-queue";
/// Where items are enqueued.
pub const ITEMS: &str = "/work-queue/items";
/// Where effects are appended.
pub const EFFECTS: &str = "/work-queue/effects";
/// Where worker instances take their peer names.
pub const WORKERS: &str = "/work-queue/workers";

/// The ballot election the worker deployments stand in (every candidate stands in one;
/// the queue itself is driven by the lease elector).
pub fn ballot_election() -> ElectionName {
    ElectionName::parse("work-queue-workers").expect("a valid name")
}

/// The lease elector's name.
pub fn elector() -> ElectionName {
    ElectionName::parse(ELECTOR).expect("a valid name")
}

/// An item's state, from its node's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// Enqueued, not yet claimed.
    Pending,
    /// Claimed by `peer` under `term`, not completed.
    Claimed {
        /// The claimer.
        peer: String,
        /// Its term.
        term: u64,
    },
    /// Completed by `peer` under `term`.
    Done {
        /// The completer.
        peer: String,
        /// Its term.
        term: u64,
    },
}

impl Item {
    /// Parses an item's data; `None` for anything the worker would not write.
    pub fn parse(data: &[u8]) -> Option<Item> {
        let text = std::str::from_utf8(data).ok()?;
        let words: Vec<&str> = text.split(' ').collect();
        match words.as_slice() {
            ["pending"] => Some(Item::Pending),
            ["claimed", peer, term] => Some(Item::Claimed {
                peer: peer.to_string(),
                term: term.parse().ok()?,
            }),
            ["done", peer, term] => Some(Item::Done {
                peer: peer.to_string(),
                term: term.parse().ok()?,
            }),
            _ => None,
        }
    }
}

/// One effect, from its node's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    /// The item's name (`item-<seq>`).
    pub item: String,
    /// The completer.
    pub peer: String,
    /// Its term.
    pub term: u64,
}

impl Effect {
    /// Parses an effect's data.
    pub fn parse(data: &[u8]) -> Option<Effect> {
        let text = std::str::from_utf8(data).ok()?;
        let words: Vec<&str> = text.split(' ').collect();
        match words.as_slice() {
            [item, peer, term] => Some(Effect {
                item: item.to_string(),
                peer: peer.to_string(),
                term: term.parse().ok()?,
            }),
            _ => None,
        }
    }
}

fn path(raw: &str) -> NodePath {
    NodePath::parse(raw).expect("a valid path")
}

/// Creates the queue's folders.
pub async fn create_tree(rt: &Runtime) -> anyhow::Result<()> {
    let ops: Vec<Op> = [ROOT, ITEMS, EFFECTS, WORKERS]
        .into_iter()
        .map(|p| Op::Create {
            path: path(p),
            data: Data::default(),
            mode: CreateMode::PERSISTENT,
        })
        .collect();
    let command = Command::Multi {
        guard: None,
        ops,
        quota: None,
    };
    rt.propose(command)
        .await?
        .map(drop)
        .map_err(|e| anyhow::anyhow!("creating the queue: {e}"))
}

/// Starts `producers` tasks enqueueing `items` items between them, each at its own
/// seeded pace (0 to 2 ms between items). Each enqueue is one durable create.
pub fn produce(
    rt: &std::sync::Arc<Runtime>,
    items: usize,
    producers: usize,
    seed: u64,
) -> Vec<tokio::task::JoinHandle<anyhow::Result<()>>> {
    let producers = producers.max(1);
    (0..producers)
        .map(|index| {
            let rt = rt.clone();
            let share = items / producers + usize::from(index < items % producers);
            tokio::spawn(async move {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ (index as u64 + 1) << 32);
                for _ in 0..share {
                    enqueue(&rt).await?;
                    let pause = rng.random_range(0..=2000u64);
                    tokio::time::sleep(Duration::from_micros(pause)).await;
                }
                Ok(())
            })
        })
        .collect()
}

/// Enqueues one pending item.
async fn enqueue(rt: &Runtime) -> anyhow::Result<()> {
    let op = Op::Create {
        path: path(&format!("{ITEMS}/item-")),
        data: Data::from("pending"),
        mode: CreateMode {
            sequential: true,
            ..CreateMode::PERSISTENT
        },
    };
    let command = Command::Multi {
        guard: None,
        ops: vec![op],
        quota: None,
    };
    rt.propose(command)
        .await
        .context("enqueueing")?
        .map(drop)
        .map_err(|e| anyhow::anyhow!("enqueueing: {e}"))
}

/// Items in `state`, by name, with their parsed states.
pub fn items(state: &State) -> Vec<(String, Option<Item>)> {
    let items = path(ITEMS);
    state
        .children(&items)
        .unwrap_or_default()
        .into_iter()
        .map(|name| {
            let item = items
                .child(&name)
                .ok()
                .and_then(|p| state.get(&p).ok())
                .and_then(|(data, _)| Item::parse(data.as_bytes()));
            (name, item)
        })
        .collect()
}

/// Whether every one of `expected` items has been enqueued and completed.
pub fn all_done(state: &State, expected: usize) -> bool {
    let items = items(state);
    items.len() == expected
        && items
            .iter()
            .all(|(_, item)| matches!(item, Some(Item::Done { .. })))
}

/// Waits until every item is done, or `until`; returns whether they all were.
pub async fn wait_until_done(rt: &Runtime, expected: usize, until: Instant) -> bool {
    let mut states = rt.subscribe();
    loop {
        if all_done(&states.borrow_and_update(), expected) {
            return true;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || tokio::time::timeout(left, states.changed()).await.is_err() {
            return all_done(&rt.state(), expected);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Effect, Item};

    #[test]
    fn items_and_effects_parse_as_the_worker_writes_them() {
        assert_eq!(Item::parse(b"pending"), Some(Item::Pending));
        assert_eq!(
            Item::parse(b"claimed w-0000000003 17"),
            Some(Item::Claimed {
                peer: "w-0000000003".into(),
                term: 17
            })
        );
        assert_eq!(
            Item::parse(b"done w-0000000003 17"),
            Some(Item::Done {
                peer: "w-0000000003".into(),
                term: 17
            })
        );
        for bad in [
            &b"done"[..],
            b"claimed w-1",
            b"done w-1 x",
            b"pending extra",
            b"\xff",
        ] {
            assert_eq!(Item::parse(bad), None, "{bad:?}");
        }
        assert_eq!(
            Effect::parse(b"item-0000000001 w-0000000003 17"),
            Some(Effect {
                item: "item-0000000001".into(),
                peer: "w-0000000003".into(),
                term: 17
            })
        );
        assert_eq!(Effect::parse(b"item-1 w-3"), None);
    }
}
