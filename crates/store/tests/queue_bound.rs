//! The writer's request queue is bounded: past the bound a change is refused with
//! `Overloaded` at once (nothing queued, nothing changed), and accepted again once the
//! writer has drained the queue.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ballot_core::command::Command;
use ballot_store::StoreError;
use ballot_store::clock::ManualClock;
use ballot_store::embedded::{EmbeddedStore, Hooks, Options, SimFs};

#[test]
fn a_full_queue_refuses_with_overloaded_and_recovers_once_drained() {
    let options = Options {
        max_queued: 8,
        ..Options::default()
    };
    let (store, mut stepper) = EmbeddedStore::open_stepped(
        Path::new("/data"),
        Arc::new(SimFs::new()),
        Arc::new(ManualClock::new()),
        options,
        false,
    )
    .expect("open");
    let answered = Arc::new(AtomicUsize::new(0));
    let open = |answered: &Arc<AtomicUsize>| {
        let answered = answered.clone();
        store.submit(
            Command::OpenSession {
                ttl: Duration::from_secs(5),
            },
            Hooks::default(),
            move |outcome| {
                assert!(matches!(outcome, Ok(Ok(_))), "{outcome:?}");
                answered.fetch_add(1, Ordering::SeqCst);
            },
        )
    };
    // The writer is not stepped, so nothing drains: the bound is exact.
    for _ in 0..8 {
        open(&answered).expect("within the bound");
    }
    let refused = open(&answered).expect_err("past the bound");
    assert!(
        matches!(refused, StoreError::Overloaded { queued: 8 }),
        "{refused}"
    );
    assert!(refused.to_string().contains("overloaded"), "{refused}");

    // Drain: every queued request is applied and answered; the refused one never was.
    while stepper.write() | stepper.sync() {}
    assert_eq!(answered.load(Ordering::SeqCst), 8);
    assert_eq!(store.published().sessions().count(), 8);

    open(&answered).expect("accepted again once drained");
    while stepper.write() | stepper.sync() {}
    assert_eq!(answered.load(Ordering::SeqCst), 9);
}
