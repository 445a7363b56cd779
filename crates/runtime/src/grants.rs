//! What a component may import. Checked once at deploy, before anything is instantiated,
//! so a refused component names every offending import at once instead of failing on the
//! first one the linker happens to look up.
//!
//! Granted: ballot's own interfaces, and the WASI interfaces a program needs to run at all
//! (clocks, random, I/O streams, cli environment and exit, and a filesystem linked with no
//! preopened directories, so it can open nothing).
//!
//! `wasi:sockets` may be imported but grants nothing: it is linked with TCP, UDP and name
//! lookup turned off, so every attempt to create a socket or resolve a name answers
//! `access-denied` (Python's `PermissionError`, Rust's `io::ErrorKind::PermissionDenied`).
//! It is accepted because interpreters import it whether or not the program uses the
//! network: CPython's libc (every componentize-py build) imports all of `wasi:sockets`,
//! and componentize-py cannot leave it out without stubbing every WASI import (clocks and
//! stdout included). Refusing it would refuse every Python component; linking it to
//! traps would crash one that merely probes for a network, where an error lets it carry on.
//!
//! Refused at deploy: `wasi:http` (outgoing requests would be a real grant; componentize-js
//! leaves it out when built with `-d http -d fetch-event`), and anything the host does not
//! know.

use wasmtime::Engine;
use wasmtime::component::Component;

/// Interfaces every component may import, by package prefix (`wasi:sockets` with every use
/// denied: see the module docs).
const GRANTED: [&str; 7] = [
    "ballot:election/",
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:filesystem/",
    "wasi:io/",
    "wasi:random/",
    "wasi:sockets/",
];

/// Interfaces that exist but are not granted.
const FORBIDDEN: [&str; 1] = ["wasi:http/"];

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

/// Turns off every use of `wasi:sockets` on `builder`: no TCP, no UDP, no name lookup, and
/// no address passes the check. Every WASI context of a guest goes through here, so the
/// interface is linked but opens nothing.
pub(crate) fn no_network(
    builder: &mut wasmtime_wasi::WasiCtxBuilder,
) -> &mut wasmtime_wasi::WasiCtxBuilder {
    builder
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_, _| Box::pin(async { false }))
}
