//! Paths of the wasm components under `components/`, for host tests and benchmarks.
//!
//! The build script compiles every component crate for wasm32-wasip2 (adding the target
//! with rustup when it is missing) and generates one `&str` constant per component, named
//! after its package in upper snake case, plus [`ALL`] and [`foreach_component!`].
//!
//! ```
//! let bytes = std::fs::read(ballot_artifacts::EXAMPLE_CANDIDATE).unwrap();
//! // A component, not a core module: version 0x0d, layer 1.
//! assert_eq!(&bytes[..8], b"\0asm\x0d\0\x01\0");
//! ```
//!
//! A host test module can make sure every component has a test, wasmtime-style: the
//! macro names each component, so a component without a test function fails to compile.
//!
//! ```
//! macro_rules! assert_test_exists {
//!     ($name:ident) => {
//!         #[allow(unused_imports)]
//!         use self::$name as _;
//!     };
//! }
//! # mod tests {
//! # fn empty_export() {}
//! # fn example_candidate() {}
//! # fn example_candidate_v2() {}
//! # fn example_observer() {}
//! # fn fixture_committer() {}
//! # fn fixture_compute() {}
//! # fn fixture_crash_loop() {}
//! # fn fixture_fenced_writer() {}
//! # fn fixture_hand_off() {}
//! # fn fixture_import_flood() {}
//! # fn fixture_lease_peers() {}
//! # fn fixture_log_flood() {}
//! # fn fixture_loop_forever() {}
//! # fn fixture_memory_hog() {}
//! # fn fixture_refuse_win() {}
//! # fn fixture_sleep_in_host() {}
//! # fn fixture_slow_watcher() {}
//! # fn fixture_sockets() {}
//! # fn fixture_trap_on_event() {}
//! # fn fixture_trap_on_win() {}
//! # fn fixture_txn() {}
//! # fn fixture_unknown_import() {}
//! # fn readme_candidate() {}
//! # fn work_queue_worker() {}
//! ballot_artifacts::foreach_component!(assert_test_exists);
//! # }
//! ```

#![deny(missing_docs)]

include!(concat!(env!("OUT_DIR"), "/components.rs"));

/// A component written in Python or JavaScript: built when the build found its toolchain
/// (componentize-py, or Node.js with the JS SDK's packages), else the reason it did not,
/// so a test can skip with that reason on a machine without it (and fail under CI, which
/// installs both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polyglot {
    /// Built: the path of the `.wasm` file.
    Built(&'static str),
    /// Not built: why, and how to install what is missing.
    Missing(&'static str),
}

impl Polyglot {
    /// The path of the built component, or why there is none.
    pub fn path(self) -> Result<&'static str, &'static str> {
        match self {
            Polyglot::Built(path) => Ok(path),
            Polyglot::Missing(why) => Err(why),
        }
    }
}

/// Writes `include_bytes!` statics for the named components (package names) to
/// `$OUT_DIR/<file>`, for the build script of a crate that ships components inside its
/// binary: with `ballot-artifacts` as a build-dependency, the binary embeds the `.wasm`
/// files at build time and never reads the build folder at run time, so it still runs
/// after `cargo install`. Each static is named after its package in upper snake case.
///
/// Panics (failing the build) on a name that is not a component under `components/`.
pub fn embed(names: &[&str], file: &str) {
    use std::fmt::Write as _;
    let out_dir = std::env::var_os("OUT_DIR").expect("embed runs in a build script");
    let mut code = String::new();
    for name in names {
        let (_, path) = ALL
            .iter()
            .find(|(package, _)| package == name)
            .unwrap_or_else(|| panic!("no component named {name} under components/"));
        let constant = name.to_uppercase().replace('-', "_");
        writeln!(
            code,
            "/// The `{name}` component, built from `components/{name}`."
        )
        .unwrap();
        writeln!(
            code,
            "pub static {constant}: &[u8] = include_bytes!({path:?});"
        )
        .unwrap();
        println!("cargo:rerun-if-changed={path}");
    }
    let out = std::path::Path::new(&out_dir).join(file);
    std::fs::write(&out, code).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_artifact_is_a_component() {
        assert!(super::ALL.len() >= 4);
        for (name, path) in super::ALL {
            let bytes = std::fs::read(path).unwrap();
            assert_eq!(&bytes[..8], b"\0asm\x0d\0\x01\0", "{name} at {path}");
        }
    }
}
