//! # ballot-host
//!
//! The host runtime of ballot: it owns the election state and a ZooKeeper-style namespace,
//! and (in later layers) runs candidates, observers and transaction functions as sandboxed
//! WebAssembly components that reach that state only through host imports.
//!
//! # Layout
//!
//! - [`namespace`]: the tree of persistent, ephemeral and sequential nodes, sessions,
//!   watches and all-or-nothing multis. Pure and deterministic: no I/O, no clock.
//! - [`election`]: the ballot-queue election recipe on top of the namespace: ballots,
//!   predecessor watches, leader acks, terms as fencing tokens, callbacks as events.
//! - [`store`]: where the namespace lives: the `Store` trait, its conformance suite, and
//!   the embedded store (memory plus a write-ahead log with group commit and snapshots).
//! - [`clock`]: monotonic clocks, injected.
//! - [`runtime`]: the wasmtime engine, deploy/undeploy, and one actor per component.
//! - [`host_impl`]: the host side of each WIT interface.
//! - [`history`]: operation histories in Jepsen's shape, recorded by tests, the simulator
//!   and a running host.
//! - [`check`]: the linearizability checker and the models it checks histories against.
//! - [`sim`]: deterministic simulation: the real store, elections and commits under a
//!   seeded schedule of crashes, pauses, message faults and clock jumps, checked by
//!   [`check`].
//! - [`cli`]: the `ballot` command.
//!
//! Dependencies point one way: `namespace <- election <- (commit, runtime, api) <- cli`;
//! `check` reads histories and nothing else.
#![deny(missing_docs)]

pub mod check;
pub mod cli;
pub mod clock;
pub mod commit;
pub mod election;
pub mod history;
pub mod host_impl;
pub mod namespace;
pub mod runtime;
pub mod serve;
pub mod sim;
pub mod store;
