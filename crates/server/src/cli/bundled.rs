//! The components the binary runs itself, embedded at build time (see `build.rs`), so an
//! installed `ballot demo` and `ballot bench` work in any folder.

include!(concat!(env!("OUT_DIR"), "/bundled_components.rs"));

/// The Python and JavaScript example candidates, as paths in the build folder (too large
/// to embed): for `ballot bench languages` when it is not given others.
pub mod polyglot {
    include!(concat!(env!("OUT_DIR"), "/polyglot_paths.rs"));
}
