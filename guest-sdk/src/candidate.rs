//! Candidates: workers that stand in an election and do leader-only work while they lead.
//!
//! The host casts a candidate's ballot when it deploys the component (the election and the
//! ballot data come with the deployment), then tells the worker how the vote went through
//! [`Candidate::on_winning_election`] or [`Candidate::on_losing_election`].

use crate::types::{Leader, Term, WatchEvent};

/// A worker of the `candidate` world. Export it with [`export_candidate!`](crate::export_candidate).
///
/// Every method mirrors one export of the world; the ones with a default body do nothing.
///
/// ```
/// use ballot_guest::{Candidate, Leader, Term};
///
/// /// Remembers the term it leads under.
/// #[derive(Default)]
/// struct Worker {
///     leading: Option<Term>,
/// }
///
/// impl Candidate for Worker {
///     fn on_winning_election(&mut self, term: Term) -> Result<(), String> {
///         self.leading = Some(term);
///         Ok(())
///     }
///
///     fn on_losing_election(&mut self, _leader: Leader) {
///         self.leading = None;
///     }
/// }
///
/// // Pure worker logic can be tested natively, without a host.
/// let mut worker = Worker::default();
/// worker.on_winning_election(7).unwrap();
/// assert_eq!(worker.leading, Some(7));
/// ```
pub trait Candidate {
    /// This candidate's ballot is now the lowest: it leads under `term`.
    ///
    /// Returning `Ok` makes the host write the ack, announcing the leader to observers and
    /// losers; returning `Err` resigns (the message lands in the host's log). Every effect
    /// of the leader should carry `term`, e.g. as a [`TermGuard`](crate::TermGuard) of a
    /// [`namespace::multi`](crate::namespace::multi).
    fn on_winning_election(&mut self, term: Term) -> Result<(), String>;

    /// This candidate lost: `leader` leads (told once per vote, after the leader acked).
    fn on_losing_election(&mut self, leader: Leader);

    /// A new leader acknowledged. Only called for candidates deployed to follow the
    /// leader; does nothing by default.
    fn on_new_leader(&mut self, leader: Leader) {
        let _ = leader;
    }

    /// A watch this candidate registered with [`namespace::watch`](crate::namespace::watch)
    /// fired. Does nothing by default.
    fn on_event(&mut self, event: WatchEvent) {
        let _ = event;
    }

    /// Called periodically by the host, for work that is not a reaction to an event. Does
    /// nothing by default.
    fn tick(&mut self) {}
}

/// Exports a [`Candidate`] as the component's implementation of the `candidate` world.
///
/// The type must implement [`Candidate`] and `Default`. The macro keeps one worker per
/// component instance, created with `Default::default()` before the first callback, and
/// hands every export to it. Use it once per component crate, at item level.
///
/// ```no_run,standalone_crate
/// use ballot_guest::{Candidate, Leader, Term};
///
/// #[derive(Default)]
/// struct Worker;
///
/// impl Candidate for Worker {
///     fn on_winning_election(&mut self, _term: Term) -> Result<(), String> {
///         Ok(())
///     }
///
///     fn on_losing_election(&mut self, _leader: Leader) {}
/// }
///
/// ballot_guest::export_candidate!(Worker);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! export_candidate {
    ($worker:ty) => {
        const _: () = {
            ::std::thread_local! {
                static __BALLOT_WORKER: $crate::__private::Slot<$worker> =
                    const { ::core::cell::RefCell::new(::core::option::Option::None) };
            }

            struct __BallotCandidate;

            impl $crate::bindings::candidate::Guest for __BallotCandidate {
                fn on_winning_election(
                    term: $crate::Term,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::__private::with_worker(&__BALLOT_WORKER, |worker| {
                        $crate::Candidate::on_winning_election(worker, term)
                    })
                }

                fn on_losing_election(leader: $crate::Leader) {
                    $crate::__private::with_worker(&__BALLOT_WORKER, |worker| {
                        $crate::Candidate::on_losing_election(worker, leader)
                    })
                }

                fn on_new_leader(leader: $crate::Leader) {
                    $crate::__private::with_worker(&__BALLOT_WORKER, |worker| {
                        $crate::Candidate::on_new_leader(worker, leader)
                    })
                }

                fn on_event(event: $crate::WatchEvent) {
                    $crate::__private::with_worker(&__BALLOT_WORKER, |worker| {
                        $crate::Candidate::on_event(worker, event)
                    })
                }

                fn tick() {
                    $crate::__private::with_worker(&__BALLOT_WORKER, |worker| {
                        $crate::Candidate::tick(worker)
                    })
                }
            }

            $crate::bindings::candidate::__export_candidate_world!(
                __BallotCandidate with_types_in $crate::bindings::candidate
            );
        };
    };
}

/// The same macro as [`export_candidate!`](crate::export_candidate), by its path in this
/// module: `ballot_guest::candidate::export!(Worker)`.
pub use crate::export_candidate as export;
