//! What a component may import. Checked once at deploy, before anything is instantiated,
//! so a refused component names every offending import at once instead of failing on the
//! first one the linker happens to look up.
//!
//! Granted: ballot's own interfaces, and the WASI interfaces a Rust program needs to run
//! at all (clocks, random, I/O streams, cli environment and exit, and a filesystem linked
//! with no preopened directories, so it can open nothing). Refused: `wasi:sockets` and
//! `wasi:http` (the network is not granted; granting outgoing HTTP is a later issue), and
//! anything the host does not know.

use wasmtime::Engine;
use wasmtime::component::Component;

/// Interfaces every component may import, by package prefix.
const GRANTED: [&str; 6] = [
    "ballot:election/",
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:filesystem/",
    "wasi:io/",
    "wasi:random/",
];

/// Interfaces that exist but are not granted.
const FORBIDDEN: [&str; 2] = ["wasi:sockets/", "wasi:http/"];

/// The imports of `component` that are not granted, each with why, in import order.
pub(crate) fn refused_imports(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .imports(engine)
        .filter_map(|(name, _)| {
            if GRANTED.iter().any(|prefix| name.starts_with(prefix)) {
                None
            } else if FORBIDDEN.iter().any(|prefix| name.starts_with(prefix)) {
                Some(format!("{name} (forbidden: the network is not granted)"))
            } else {
                Some(format!("{name} (unknown to this host)"))
            }
        })
        .collect()
}
