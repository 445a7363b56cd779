//! Who and where this component is (`ballot:election/deployment`): its deployment's id,
//! name, election, ballot data and host. Read the election from here instead of writing
//! it into the code, so the same build works in any election it is deployed into.
//!
//! ```no_run
//! use ballot_guest::deployment;
//!
//! let me = deployment::whoami();
//! ballot_guest::log::info(&format!("{} stands in {}", me.name, me.election));
//! ```

use crate::bindings::candidate::ballot::election::deployment as wit;

/// What the deployment says about this component.
pub use wit::About;
/// Candidate or observer.
pub use wit::Role;

/// Who and where this component is. The answer changes only when the instance restarts
/// (a new session), so a component may read it once per callback or keep it.
pub fn whoami() -> About {
    wit::whoami()
}
