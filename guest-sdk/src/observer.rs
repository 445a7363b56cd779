//! Observers: workers that follow an election's leaders without standing in it.
//!
//! An observer has no ballot and no session for ephemeral nodes; it may read the
//! namespace, write persistent nodes and log.

use crate::types::{Leader, Term};

/// A worker of the `observer` world. Export it with [`export_observer!`](crate::export_observer).
///
/// ```
/// use ballot_guest::{Leader, Observer, Term};
///
/// /// Counts the leaders it has seen.
/// #[derive(Default)]
/// struct Follower {
///     leaders: u32,
///     current: Option<Term>,
/// }
///
/// impl Observer for Follower {
///     fn on_new_leader(&mut self, leader: Leader) {
///         self.leaders += 1;
///         self.current = Some(leader.term);
///     }
///
///     fn on_leaders_death(&mut self, _term: Term) {
///         self.current = None;
///     }
/// }
///
/// let mut follower = Follower::default();
/// follower.on_new_leader(Leader { candidate: 1, term: 4, data: vec![], deployment: None });
/// follower.on_leaders_death(4);
/// assert_eq!((follower.leaders, follower.current), (1, None));
/// ```
pub trait Observer {
    /// A leader acknowledged, or re-acknowledged with new data.
    fn on_new_leader(&mut self, leader: Leader);

    /// The acknowledged leader of `term` is gone (died, expired or resigned).
    fn on_leaders_death(&mut self, term: Term);
}

/// Exports an [`Observer`] as the component's implementation of the `observer` world.
///
/// The type must implement [`Observer`] and `Default`. The macro keeps one worker per
/// component instance, created with `Default::default()` before the first callback, and
/// hands every export to it. Use it once per component crate, at item level.
///
/// ```no_run,standalone_crate
/// use ballot_guest::{Leader, Observer, Term, log};
///
/// #[derive(Default)]
/// struct Follower;
///
/// impl Observer for Follower {
///     fn on_new_leader(&mut self, leader: Leader) {
///         log::info(&format!("new leader, term {}", leader.term));
///     }
///
///     fn on_leaders_death(&mut self, term: Term) {
///         log::warn(&format!("leader of term {term} is gone"));
///     }
/// }
///
/// ballot_guest::export_observer!(Follower);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! export_observer {
    ($worker:ty) => {
        const _: () = {
            ::std::thread_local! {
                static __BALLOT_WORKER: $crate::__private::Slot<$worker> =
                    const { ::core::cell::RefCell::new(::core::option::Option::None) };
            }

            struct __BallotObserver;

            impl $crate::bindings::observer::Guest for __BallotObserver {
                fn on_new_leader(leader: $crate::Leader) {
                    $crate::__private::with_worker(&__BALLOT_WORKER, |worker| {
                        $crate::Observer::on_new_leader(worker, leader)
                    })
                }

                fn on_leaders_death(term: $crate::Term) {
                    $crate::__private::with_worker(&__BALLOT_WORKER, |worker| {
                        $crate::Observer::on_leaders_death(worker, term)
                    })
                }
            }

            $crate::bindings::observer::__export_observer_world!(
                __BallotObserver with_types_in $crate::bindings::observer
            );
        };
    };
}

/// The same macro as [`export_observer!`](crate::export_observer), by its path in this
/// module: `ballot_guest::observer::export!(Follower)`.
pub use crate::export_observer as export;
