//! Embeds the components the binary itself runs (the demo's candidates and observer, and
//! the benchmarks' fixtures), so an installed `ballot` needs no build folder.
//!
//! `ballot-artifacts` is a build-dependency here, not a normal one: its build script
//! compiles every component for wasm32-wasip2 (into one folder per profile shared by every
//! unit, so this is no second build) and [`ballot_artifacts::embed`] writes the
//! `include_bytes!` statics that `src/cli/bundled.rs` includes.

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
}
