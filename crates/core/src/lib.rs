//! # ballot-core
//!
//! The pure core of ballot: everything that decides what a change does, and nothing that
//! touches a clock, a disk, a socket or a wasm engine. Time arrives as an argument
//! ([`namespace::MonoTime`]), durability is the store's job (`ballot-store`), and
//! components are the runtime's (`ballot-runtime`). Because nothing here reads the
//! environment, every replica, the simulator and the checker's tests run the same code and
//! reach the same state from the same inputs.
//!
//! # Layout
//!
//! - [`namespace`]: the tree of persistent, ephemeral and sequential nodes, sessions,
//!   watches and all-or-nothing multis, with the journal a store persists.
//! - [`election`]: the ballot-queue election recipe on top of the namespace (ballots,
//!   predecessor watches, leader acks, terms as fencing tokens, callbacks as
//!   notifications), the host-kept subtrees, and the Datomic-style lease elector.
//! - [`command`]: every change as plain data ([`command::Command`]) and the one
//!   deterministic [`command::apply`] that carries it out: the seam a log replicates.
//! - [`commit`]: guarded and speculative commits checked against the snapshot a
//!   transaction read.
#![deny(missing_docs)]

pub mod command;
pub mod commit;
pub mod election;
pub mod name;
pub mod namespace;
