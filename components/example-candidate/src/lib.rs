//! The example candidate: does leader-only work, every write fenced by its term.
//!
//! It stands in the election `example` (the host casts its ballot on deploy) and takes no
//! configuration. When it wins under term `T` it writes, in one multi guarded by
//! "holds `T` of `example`":
//!
//! - `/example/leader`: CBOR map `{name: "example-candidate", term: T, version: 1}`
//!   (created, or set at the version it just read; `/example` is created if missing).
//!
//! On every tick while it leads it bumps `/example/ticks`, CBOR `{count, term}`, with a
//! set at the expected data version under the same guard (created with count 1 if
//! missing). A refused guard (not-leader) makes it stop leader work until it wins again.

mod worker;

/// The name this build writes into `/example/leader`.
const NAME: &str = "example-candidate";

/// The version this build writes into `/example/leader`.
const VERSION: u32 = 1;

ballot_guest::export_candidate!(worker::Example);
