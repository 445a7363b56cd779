//! Structured log lines that land in the host's tracing output, tagged with the deployment
//! (`ballot:election/log`).
//!
//! ```no_run
//! use ballot_guest::log;
//!
//! let term = 3;
//! log::info(&format!("leading under term {term}"));
//! log::warn("ticks node was missing; recreated it");
//! ```

use crate::bindings::candidate::ballot::election::log as wit;

/// Severity of a log line.
pub use wit::Level;

/// Writes one line at `level`.
///
/// ```no_run
/// use ballot_guest::log::{self, Level};
///
/// log::log(Level::Trace, "entering tick");
/// ```
pub fn log(level: Level, message: &str) {
    wit::log(level, message)
}

/// Writes one line at [`Level::Trace`]: very detailed.
///
/// ```no_run
/// ballot_guest::log::trace("tick");
/// ```
pub fn trace(message: &str) {
    log(Level::Trace, message)
}

/// Writes one line at [`Level::Debug`]: diagnostics.
///
/// ```no_run
/// ballot_guest::log::debug("read /app/config at version 3");
/// ```
pub fn debug(message: &str) {
    log(Level::Debug, message)
}

/// Writes one line at [`Level::Info`]: normal operation.
///
/// ```no_run
/// ballot_guest::log::info("won the election");
/// ```
pub fn info(message: &str) {
    log(Level::Info, message)
}

/// Writes one line at [`Level::Warn`]: something unexpected but handled.
///
/// ```no_run
/// ballot_guest::log::warn("stale term; stopping leader work");
/// ```
pub fn warn(message: &str) {
    log(Level::Warn, message)
}

/// Writes one line at [`Level::Error`]: something failed.
///
/// ```no_run
/// ballot_guest::log::error("could not write /app/leader");
/// ```
pub fn error(message: &str) {
    log(Level::Error, message)
}
