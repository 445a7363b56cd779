//! ballot on an etcd cluster: many hosts, one namespace.
//!
//! The embedded store keeps the log of commands on local disk and dies with its host.
//! Here the log is the history of one etcd key, and every host that shares it holds a
//! replica of the same namespace: each applies every batch, its own and the others', in
//! the key's revision order, through the core's one `apply`. A host appends what its
//! components and clients propose (everything queued during one round trip is one put:
//! the group commit) and learns the outcome when the batch comes back in that order.
//!
//! # Layout
//!
//! - [`connection`]: one etcd client driven from plain threads, and the cluster's keys;
//! - [`envelope`]: a batch as the log key's value (format, proposer, commands);
//! - [`log`]: the [`ballot_store::Log`] and [`ballot_store::SharedLog`] on etcd;
//! - [`snapshots`]: snapshots of the state in chunked keys with a manifest;
//! - [`host`]: opening a host's replica and following the log into it (from the newest
//!   snapshot, when the log it needs was compacted);
//! - [`liveness`]: heartbeats, expiring silent peers, and fencing oneself;
//! - [`snapshotting`]: the host that leads the hosts writes the snapshots;
//! - [`digests`]: the replicas compare digests of their state at the same positions;
//! - [`local`]: a cluster of real etcd processes on loopback, for tests and trials.
//!
//! # Hosts, epochs and fencing: the safety argument
//!
//! A host joins under an *epoch*: the etcd revision of its registration, unique and
//! greater than any before. Every batch it appends carries the epoch; sessions its batches
//! open are owned by it. `ExpireHost(epoch)` ends all of them in one step and makes every
//! later batch of that epoch apply as a refusal ([`ballot_core::command::Refusal::HostExpired`]),
//! on every replica alike, because the refusal is decided by the log's order, not by a
//! clock. So the log alone guarantees: nothing a host proposes after its expiry takes
//! effect, however late its batch arrives.
//!
//! What the clocks must give is that a host stops *acting* (its leaders stop believing
//! they lead) before another host's leader can be elected in its place. Each host puts a
//! heartbeat every TTL/3 and notes, on its own monotonic clock, when it *sent* the last
//! heartbeat etcd acknowledged. A peer proposes `ExpireHost` only after seeing no
//! heartbeat of that host for a full TTL on the peer's monotonic clock. The host fences
//! itself (revokes every local component's powers, before telling them) once TTL minus a
//! margin has passed since the send time of its last acknowledged heartbeat. The send
//! time precedes the moment etcd applied the heartbeat, which precedes the moment any
//! peer saw it; so if both clocks run at rates within `margin / TTL` of each other, the
//! host has fenced itself before any peer's TTL ran out, and before the expiry can be in
//! the log. Assumed: monotonic clocks with bounded drift (not synchronized clocks), and a
//! margin larger than the drift over one TTL plus the host's scheduling delay. A host
//! paused longer than that (SIGSTOP) is still safe by the log: its pending batches land
//! after its expiry and are refused.
#![deny(missing_docs)]

pub mod connection;
pub mod digests;
pub mod envelope;
pub mod host;
pub mod liveness;
pub mod local;
pub mod log;
pub mod snapshots;
pub mod snapshotting;

pub use connection::{Connection, Settings};
pub use host::{Host, HostOptions};
pub use log::EtcdLog;
pub use snapshots::EtcdSnapshots;
