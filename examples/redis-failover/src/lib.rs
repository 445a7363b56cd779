//! # redis-failover
//!
//! Seed 001, the Knossos model of Redis replication with coordinator-driven failover,
//! reproduced and explored exhaustively: every schedule of steps up to a depth, every
//! history those schedules produce checked for linearizability by ballot's own checker.
//! Run once with the seed's coordinator, it finds the anomalies the model exists to show;
//! run again with ballot as the coordinator, it finds none.
//!
//! # Layout
//!
//! - [`system`]: the state (nodes, clients, coordinator, history) and the seed's steps,
//!   with the original and the ballot rules ([`Coordinator`]).
//! - [`explore`](mod@explore): the breadth-first exploration, the checking of each distinct history,
//!   and the classification of the anomalies found ([`Anomaly`]).
//! - [`history_of`]: the events of a path as a Jepsen-shaped [`History`] for the checker.
//!
//! # The seed's bugs, and where each is fixed
//!
//! The seed is a draft that does not run as written (beyond the list below, its `defn`s
//! lack argument vectors and some forms are cut short). Each fix is documented next to the
//! code it concerns:
//!
//! | seed | fix | where |
//! |------|-----|-------|
//! | the coordinator starts in `:selecting`, which no step handles | starts `Normal` with primary `a` | [`System::initial`] |
//! | every node has `:primary nil`, so all three are primaries | `b` and `c` replicate from `a` | [`System::initial`] |
//! | clients have `:node nil`, so no client is valid | both clients use `a` | [`System::initial`] |
//! | `failover-4` sets the clients' `:primary`, but they send to `:node` | it moves `:node` | `System::failover` |
//! | `nodes` returns `(:clients system)`; nodes are built as a list, not a map by name, so `get-node` finds nothing | nodes are an array indexed by name | [`System::nodes`] |
//! | `valid-client?` calls `reachable-primary-node`, which does not exist | the predicate `reachable-primary-node?` is used | `System::valid_client` |
//! | the global `write-state` atom: values depend on earlier, unrelated paths | a per-path counter in the state | [`System::next_value`] |
//! | `failover-2` takes `max-key` over no node once all are isolated (throws) | no step is enabled | `System::failover` |
//! | `failover` returns `(nil)` when no stage applies | no step | `System::failover` |
//! | `replicate-from-primary` and `ack-offset-to-primary` also run on primaries, whose `:primary` is nil, so a primary would copy a nil register | only replicas take these steps | `System::replicate_from_primary` |
//! | `ack-offset-to-primary` writes the offset beside the primary's fields, not into its `:offsets`, so no acknowledgement ever counts | it goes into the primary's `acked` | `System::ack_offset_to_primary` |
//! | `majority-acked-offset` calls `values` (Clojure's is `vals`) | the median of the node's offset and its `acked` | [`System::majority_acked_offset`] |
//! | `primary-names` walks the system map, not its nodes | dropped: nothing uses it ([`system::Node::is_primary`] is `primary-node?`) | [`system::Node::is_primary`] |
//!
//! Two choices the seed leaves open: `failover-2`'s ties (several reachable nodes with
//! the highest offset) are explored every way, and `client-write-complete` answers from
//! the client's current node, which failover 4 may have changed since the write, as the
//! seed does.
//!
//! # History
//!
//! Each client is a process (`a` is 0, `b` is 1). A write of the path's n-th value is an
//! `invoke` of `write` n, answered `ok`, `fail` (original, wait not met) or `info`
//! (ballot, wait not met), or still in flight when the path ends. A read is one step, as
//! in the seed: an `invoke` of `read` and its `ok` with the value read (`null` before any
//! write). Histories are checked against the `register` model.

#![deny(missing_docs)]

pub mod explore;
pub mod system;

use ballot_check::history::{History, Op, OpType};
use serde_json::{Value, json};

pub use explore::{Anomaly, Explorer, Summary, explore, schedule_of};
pub use system::{Coordinator, Event, Outcome, Rule, Step, System};

/// The events of a path as history lines, one `time` unit apart, in order.
pub fn history_of(events: &[Event]) -> anyhow::Result<History> {
    let mut ops = Vec::with_capacity(events.len() * 2);
    let mut push = |kind: OpType, process: u8, f: &str, value: Value| {
        ops.push(Op {
            kind,
            process: u64::from(process),
            f: f.to_string(),
            value,
            time: ops.len() as u64 + 1,
            extra: Default::default(),
        });
    };
    for event in events {
        match *event {
            Event::WriteInvoke { process, value } => {
                push(OpType::Invoke, process, "write", json!(value));
            }
            Event::WriteDone {
                process,
                value,
                outcome,
            } => {
                let kind = match outcome {
                    Outcome::Ok => OpType::Ok,
                    Outcome::Fail => OpType::Fail,
                    Outcome::Info => OpType::Info,
                };
                push(kind, process, "write", json!(value));
            }
            Event::Read { process, value, .. } => {
                push(OpType::Invoke, process, "read", Value::Null);
                push(OpType::Ok, process, "read", json!(value));
            }
        }
    }
    Ok(History::from_ops(ops)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_is_an_invoke_and_an_ok() -> anyhow::Result<()> {
        let history = history_of(&[
            Event::WriteInvoke {
                process: 0,
                value: 1,
            },
            Event::Read {
                process: 1,
                value: Some(1),
                replicated: false,
            },
        ])?;
        let text = history.to_jsonl();
        assert_eq!(
            text,
            concat!(
                r#"{"type":"invoke","process":0,"f":"write","value":1,"time":1}"#,
                "\n",
                r#"{"type":"invoke","process":1,"f":"read","value":null,"time":2}"#,
                "\n",
                r#"{"type":"ok","process":1,"f":"read","value":1,"time":3}"#,
                "\n",
            )
        );
        Ok(())
    }
}
