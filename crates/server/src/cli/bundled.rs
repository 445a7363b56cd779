//! The components the binary runs itself, embedded at build time (see `build.rs`), so an
//! installed `ballot demo` and `ballot bench` work in any folder.

include!(concat!(env!("OUT_DIR"), "/bundled_components.rs"));
