//! Taking part in elections (`ballot:election/election`); candidates only.
//!
//! The host casts a candidate's ballot when it deploys the component. Outcomes arrive
//! later as callbacks ([`Candidate::on_winning_election`](crate::Candidate::on_winning_election),
//! [`Candidate::on_losing_election`](crate::Candidate::on_losing_election), ...), never
//! inside these calls. The `observer` world does not import this interface: an observer
//! component that calls these functions fails to deploy.

use crate::bindings::candidate::ballot::election::election as wit;
use crate::types::{Error, Leader};

/// Casts a new ballot with `data` in the deployment's election, after a [`resign`].
///
/// Errors: invalid (already voted), session-expired.
///
/// ```no_run
/// use ballot_guest::election;
///
/// election::resign()?;
/// // ... later, stand again:
/// election::vote(b"10.0.0.7:8080")?;
/// # Ok::<(), ballot_guest::Error>(())
/// ```
pub fn vote(data: &[u8]) -> Result<(), Error> {
    wit::vote(data)
}

/// Withdraws the ballot (and the ack, if leading) in one step. Errors: session-expired.
///
/// ```no_run
/// ballot_guest::election::resign()?;
/// # Ok::<(), ballot_guest::Error>(())
/// ```
pub fn resign() -> Result<(), Error> {
    wit::resign()
}

/// The acknowledged leader of `election`, if any. Errors: invalid (bad name).
///
/// ```no_run
/// use ballot_guest::election;
///
/// if let Some(leader) = election::leader("example")? {
///     println!("{} leads under term {}", leader.who(), leader.term);
/// }
/// # Ok::<(), ballot_guest::Error>(())
/// ```
pub fn leader(election: &str) -> Result<Option<Leader>, Error> {
    wit::leader(election)
}

/// As leader, replaces the ack data observers see (the host writes the ack itself when
/// `on_winning_election` returns `Ok`). Errors: not-leader.
///
/// ```no_run
/// ballot_guest::election::ack(b"10.0.0.7:8081")?;
/// # Ok::<(), ballot_guest::Error>(())
/// ```
pub fn ack(data: &[u8]) -> Result<(), Error> {
    wit::ack(data)
}

/// As leader, gives the leadership to the candidate deployed as `to` (a deployment id,
/// as [`crate::deployment::whoami`] tells it, standing in the same election on this
/// host) or, with `None`, to the next in line, in one step. This instance is revoked in
/// that step, before the new leader hears it won: nothing it does afterwards takes
/// effect, so hand off last, once the work in hand is written. Its deployment stands
/// again in a fresh instance, at the back of the queue.
///
/// Errors: not-leader; invalid (no such candidate, or no one behind).
///
/// ```no_run
/// // A leader about to be upgraded hands over to whoever is next.
/// ballot_guest::election::hand_off(None)?;
/// # Ok::<(), ballot_guest::Error>(())
/// ```
pub fn hand_off(to: Option<u64>) -> Result<(), Error> {
    wit::hand_off(to)
}
