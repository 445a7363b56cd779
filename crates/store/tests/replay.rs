//! Recovery is the log's commands applied again: a reopened store holds the very
//! elections it held, byte for byte, whether it replays the whole log or a snapshot and
//! the commands after it.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use ballot_core::command::{Command, Entrant, Outcome};
use ballot_core::election::{ElectionName, Elections, Recipient};
use ballot_core::namespace::{CreateMode, Data, NodePath, Op};
use ballot_store::clock::ManualClock;
use ballot_store::embedded::{EmbeddedStore, Options, SimFs, thread_spawner};

fn open(fs: &SimFs, clock: &ManualClock) -> EmbeddedStore {
    EmbeddedStore::open_with(
        Path::new("/data"),
        Arc::new(fs.clone()),
        Arc::new(clock.clone()),
        Options::default(),
        thread_spawner(),
    )
    .expect("open")
}

/// The writer's elections, encoded whole.
fn head(store: &EmbeddedStore) -> Vec<u8> {
    let (tx, rx) = mpsc::channel();
    store
        .submit_inspection(
            |el: &Elections, _| el.encode(),
            move |encoded| {
                let _ = tx.send(encoded);
            },
        )
        .unwrap();
    rx.recv().unwrap().unwrap()
}

fn run(store: &EmbeddedStore, command: Command) -> Outcome {
    let kind = command.kind();
    store
        .propose_blocking(command)
        .unwrap()
        .unwrap_or_else(|refusal| panic!("{kind}: {refusal}"))
}

fn enter(store: &EmbeddedStore, name: &str) -> Recipient {
    let role = Entrant::Candidate {
        election: ElectionName::parse("db").unwrap(),
        data: Data::from(name),
        follow_leader: false,
        name: None,
        priority: None,
    };
    match run(
        store,
        Command::Enter {
            ttl: Duration::from_secs(5),
            role,
        },
    ) {
        Outcome::Entered { recipient, .. } => recipient,
        other => panic!("{other:?}"),
    }
}

fn candidate(recipient: Recipient) -> ballot_core::election::CandidateId {
    match recipient {
        Recipient::Candidate(id) => id,
        Recipient::Observer(_) => panic!("an observer"),
    }
}

#[test]
fn a_reopened_store_holds_the_elections_it_held_byte_for_byte() {
    let (fs, clock) = (SimFs::new(), ManualClock::new());
    let store = open(&fs, &clock);
    let first = candidate(enter(&store, "a"));
    let second = candidate(enter(&store, "b"));
    enter(&store, "c");
    run(
        &store,
        Command::Acknowledge {
            candidate: first,
            term: None,
            data: None,
        },
    );
    let create = Op::Create {
        path: NodePath::parse("/jobs").unwrap(),
        data: Data::from("x"),
        mode: CreateMode::PERSISTENT,
    };
    run(
        &store,
        Command::Multi {
            guard: None,
            ops: vec![create],
            quota: None,
        },
    );
    // Half the history goes into a snapshot, the rest stays in the log after it.
    store.snapshot_now().unwrap();
    run(&store, Command::Resign { candidate: first });
    run(
        &store,
        Command::Acknowledge {
            candidate: second,
            term: None,
            data: Some(Data::from("b2")),
        },
    );
    run(&store, Command::Leave { candidate: first });
    let elector = ElectionName::parse("jobs").unwrap();
    run(
        &store,
        Command::ResetElector {
            elector: elector.clone(),
            duration: Duration::from_secs(5),
            peer: "p".into(),
        },
    );
    run(
        &store,
        Command::HoldLease {
            elector,
            peer: "p".into(),
        },
    );
    let before = head(&store);
    drop(store);

    let reopened = open(&fs, &clock);
    assert!(
        reopened.recovery().replayed >= 5,
        "{:?}",
        reopened.recovery()
    );
    assert_eq!(head(&reopened), before, "the elections after replay differ");
    drop(reopened);

    // And after a crash that kept only what was synced, this reopen's restart included.
    let crashed = open(
        &fs.crashed(ballot_store::embedded::CrashMode::DropUnsynced),
        &clock,
    );
    assert_eq!(head(&crashed), before);
}

/// Heartbeats move only the owner's deadline, so the log keeps none of them; what it
/// keeps is the expiry the owner decided on its clock, naming the session, and a
/// reopened store ends exactly that session again, whatever the time when it reopens.
#[test]
fn the_log_keeps_expiries_that_name_their_sessions_and_no_heartbeats() {
    let (fs, clock) = (SimFs::new(), ManualClock::new());
    let store = open(&fs, &clock);
    let Outcome::Opened(kept) = run(
        &store,
        Command::OpenSession {
            ttl: Duration::from_secs(5),
        },
    ) else {
        panic!("opened")
    };
    let Outcome::Opened(dropped) = run(
        &store,
        Command::OpenSession {
            ttl: Duration::from_secs(5),
        },
    ) else {
        panic!("opened")
    };
    for _ in 0..100 {
        clock.advance(Duration::from_secs(1));
        run(&store, Command::Heartbeat { session: kept });
    }
    // `dropped` ran out five seconds in: the first command after that found it overdue
    // and the store expired it first.
    assert!(store.published().session(dropped).is_none());
    assert!(store.published().session(kept).is_some());
    let before = head(&store);
    drop(store);

    let store = open(&fs, &clock);
    // Restart, two opens and the expiry: not one of the 100 heartbeats.
    assert_eq!(store.recovery().replayed, 4);
    assert_eq!(head(&store), before);
}
