//! Version 2 of the example candidate, for hot-swap: the same leader-only work as
//! `example-candidate` (same election, same nodes, same guards), but `/example/leader`
//! reads `{name: "example-candidate-v2", term: T, version: 2}`.

#[path = "../../example-candidate/src/worker.rs"]
mod worker;

/// The name this build writes into `/example/leader`.
const NAME: &str = "example-candidate-v2";

/// The version this build writes into `/example/leader`.
const VERSION: u32 = 2;

ballot_guest::export_candidate!(worker::Example);
