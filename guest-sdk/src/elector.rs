//! The lease elector (`ballot:election/elector`); candidates only.
//!
//! One master at a time among a named set of peers: whoever calls [`elect_for_duration`]
//! while no lease is held becomes master under a new term for the elector's duration; the
//! master renews by calling again; anyone else learns who holds the lease and for how
//! long. Leases run on the host's monotonic clock.

use crate::bindings::candidate::ballot::election::elector as wit;
use crate::types::Error;

pub use wit::{LeaseHeld, LeaseOutcome};

/// Adds `peer` to the elector `name`, creating it with a lease of `duration_ms` if it does
/// not exist. Never shortens a live lease. Errors: invalid (a differing duration, a bad
/// name).
///
/// ```no_run
/// ballot_guest::elector::reset_elector("jobs", 30_000, "worker-1")?;
/// # Ok::<(), ballot_guest::Error>(())
/// ```
pub fn reset_elector(name: &str, duration_ms: u64, peer: &str) -> Result<(), Error> {
    wit::reset_elector(name, duration_ms, peer)
}

/// Becomes master if no lease is held, renews if already master, or reports the master.
/// Errors: invalid (no such elector, not a peer).
///
/// ```no_run
/// use ballot_guest::elector::{self, LeaseOutcome};
///
/// match elector::elect_for_duration("jobs", "worker-1")? {
///     LeaseOutcome::Won(term) | LeaseOutcome::Renewed(term) => { /* work under `term` */ }
///     LeaseOutcome::Held(held) => { /* `held.master` works; try again later */ }
/// }
/// # Ok::<(), ballot_guest::Error>(())
/// ```
pub fn elect_for_duration(name: &str, peer: &str) -> Result<LeaseOutcome, Error> {
    wit::elect_for_duration(name, peer)
}
