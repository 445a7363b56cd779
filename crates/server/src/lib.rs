//! # ballot
//!
//! The `ballot` command and the host it serves: the HTTP API, event stream and metrics of
//! `ballot serve`, the CLI clients that talk to it, and `demo`, `bench`, `check`,
//! `history` and `sim`.
//!
//! # Layout of the workspace
//!
//! Dependencies point one way: `ballot-core` (namespace, elections, commits; pure) <-
//! `ballot-store` (the durable log) <- `ballot-runtime` (wasmtime, actors, sandbox) <- this
//! crate. `ballot-check` (histories and the checker) depends on nothing of ours and is used
//! by the runtime (recording), `ballot-sim` and this crate; `ballot-sim` drives the core
//! and the store under faults.
//!
//! - [`serve`]: the long-running host (`ballot serve`).
//! - [`cli`]: the command line, every subcommand.
#![deny(missing_docs)]

pub mod cli;
pub mod serve;
