//! Embeds the components the binary itself runs (the demo's candidates and observer, and
//! the benchmarks' fixtures), so an installed `ballot` needs no build folder.
//!
//! `ballot-artifacts` is a build-dependency here, not a normal one: its build script
//! compiles every component for wasm32-wasip2 (into one folder per profile shared by every
//! unit, so this is no second build) and [`ballot_artifacts::embed`] writes the
//! `include_bytes!` statics that `src/cli/bundled.rs` includes, and the paths of the
//! Python and JavaScript example candidates, when built, for `ballot bench languages`.

fn main() {
    ballot_artifacts::embed(
        &[
            "example-candidate",
            "example-candidate-v2",
            "example-observer",
            "empty-export",
            "fixture-compute",
            "fixture-trap-on-event",
            "fixture-txn",
        ],
        "bundled_components.rs",
    );
    // The Python and JavaScript example candidates are 12-18 MB each: `ballot bench
    // languages` reads them from the build folder (when this build made them) rather than
    // carrying them in every binary; an installed binary is given them with --python/--js.
    let out = std::path::Path::new(&std::env::var_os("OUT_DIR").unwrap()).join("polyglot_paths.rs");
    let constant = |name: &str, component: ballot_artifacts::Polyglot| {
        format!(
            "/// {name}: the path this build made it at, or why it did not.\npub const {name}: Result<&str, &str> = {:?};\n",
            component.path()
        )
    };
    let code = constant("PYTHON_CANDIDATE", ballot_artifacts::PYTHON_CANDIDATE)
        + &constant("JS_CANDIDATE", ballot_artifacts::JS_CANDIDATE);
    std::fs::write(&out, code).unwrap();
}
