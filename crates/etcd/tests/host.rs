//! Hosts in this process on a real 3-member etcd cluster: catching up past a compaction
//! from the newest snapshot, replicas comparing digests, and the host key's lease.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ballot_core::command::{Command, Outcome};
use ballot_core::namespace::{CreateMode, Data, Lifetime, Limits, NodePath, Op};
use ballot_etcd::local::cluster_for_tests;
use ballot_etcd::{Connection, EtcdSnapshots, Host, HostOptions, Settings};
use ballot_store::clock::SystemClock;
use ballot_store::log::Snapshots;
use ballot_store::{EmbeddedStore, StoreError};

/// Generous: the machine may be loaded.
const CEILING: Duration = Duration::from_secs(60);

fn open(endpoints: Vec<String>, cluster: &str, options: HostOptions) -> (EmbeddedStore, Host) {
    Host::open(
        Settings::new(endpoints, cluster),
        options,
        Arc::new(SystemClock::new()),
    )
    .expect("joining the cluster")
}

fn create(store: &EmbeddedStore, path: &str) -> Result<(), String> {
    let command = Command::Multi {
        guard: None,
        ops: vec![Op::Create {
            path: NodePath::parse(path).unwrap(),
            data: Data::from(b"x".to_vec()),
            mode: CreateMode {
                lifetime: Lifetime::Persistent,
                sequential: false,
            },
        }],
        quota: None,
    };
    match store.propose_blocking(command) {
        Ok(Ok(Outcome::Committed(_))) => Ok(()),
        other => Err(format!("{other:?}")),
    }
}

/// Creates `path`, trying again while the outcome is unknown (an append that was not
/// confirmed, as when an etcd member dies under it) and the node is not there.
fn create_surely(store: &EmbeddedStore, path: &str) {
    loop {
        match create(store, path) {
            Ok(()) => return,
            Err(why) if why.contains("unknown") || why.contains("Unavailable") => {
                if has(store, path) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(why) => panic!("creating {path}: {why}"),
        }
    }
}

fn has(store: &EmbeddedStore, path: &str) -> bool {
    store
        .published()
        .exists(&NodePath::parse(path).unwrap())
        .is_some()
}

/// Waits (polling the replica's own state, with a generous ceiling) until `done`.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + CEILING;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_host_cut_off_past_a_compaction_catches_up_from_the_newest_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut etcd) = cluster_for_tests(3, dir.path()) else {
        return;
    };
    let options = |id: &str| HostOptions {
        snapshot_every: 5,
        ..HostOptions::new(id, Duration::from_millis(1000))
    };
    // A talks to members 0 and 1, B only to member 2: killing member 2 cuts B off while
    // the cluster keeps its quorum.
    let (a, a_host) = open(
        vec![etcd.endpoint(0), etcd.endpoint(1)],
        "compaction",
        options("a"),
    );
    let (b, b_host) = open(vec![etcd.endpoint(2)], "compaction", options("b"));
    let b_first_epoch = b_host.epoch();
    create(&b, "/before").unwrap();
    eventually("A sees B's node", || has(&a, "/before"));

    etcd.kill(2);
    for n in 0..30 {
        create_surely(&a, &format!("/while-away-{n}"));
    }
    let connection = Connection::open(Settings::new(
        vec![etcd.endpoint(0), etcd.endpoint(1)],
        "compaction",
    ))
    .unwrap();
    let snapshots = EtcdSnapshots::new(connection.clone());
    let written_up_to = a.applied_position();
    // The snapshot writer looks every few batches: write more until one covers the rest.
    let mut snapshot = 0;
    let mut filler = 0;
    eventually("the leading host writes a snapshot of the writes", || {
        snapshot = snapshots
            .load_newest(Limits::default())
            .unwrap()
            .map_or(0, |(position, _)| position);
        if snapshot < written_up_to {
            filler += 1;
            create_surely(&a, &format!("/filler-{filler}"));
            std::thread::sleep(Duration::from_millis(50));
        }
        snapshot >= written_up_to
    });
    assert!(snapshot > b.applied_position() + 1, "B must be behind it");
    // What an operator does (ballot never compacts etcd): everything before the snapshot.
    let mut client = connection.client();
    connection
        .block_on(client.compact(snapshot as i64, None))
        .expect("compacting");
    create_surely(&a, "/after-compaction");

    etcd.start_member(2).unwrap();
    etcd.wait_ready(CEILING).unwrap();
    eventually("B catches up from the snapshot and follows the log", || {
        has(&b, "/while-away-29") && has(&b, "/after-compaction")
    });
    // B missed what happened in between, so it fenced itself and came back as a new
    // epoch, which every replica knows.
    eventually("B rejoins under a new epoch", || {
        let epoch = b_host.epoch();
        epoch != b_first_epoch && a.published().is_live_host(epoch)
    });
    assert!(!a.published().is_live_host(b_first_epoch));
    create_surely(&b, "/b-back");
    eventually("A sees B's new node", || has(&a, "/b-back"));
    assert_eq!(a.published().encode(), {
        eventually("B applied what A did", || {
            b.applied_position() >= a.applied_position()
        });
        b.published().encode()
    });
    drop((a_host, b_host));
}

#[test]
fn a_replica_whose_digest_differs_from_the_clusters_stops_serving() {
    let dir = tempfile::tempdir().unwrap();
    let Some(etcd) = cluster_for_tests(3, dir.path()) else {
        return;
    };
    let options = |id: &str| HostOptions {
        digest_every: 5,
        ..HostOptions::new(id, Duration::from_millis(1000))
    };
    let (a, a_host) = open(etcd.endpoints(), "digests", options("a"));
    let (b, b_host) = open(etcd.endpoints(), "digests", options("b"));
    // Replicas that apply the same log agree: every fifth position is compared, nobody
    // stops.
    for n in 0..20 {
        create(if n % 2 == 0 { &a } else { &b }, &format!("/agreed-{n}")).unwrap();
    }
    eventually("both applied everything", || {
        b.applied_position() == a.applied_position()
    });
    assert_eq!(a_host.halted(), None);
    assert_eq!(b_host.halted(), None);

    let connection = Connection::open(Settings::new(etcd.endpoints(), "digests")).unwrap();
    let mut client = connection.client();
    let forged = |host: &str| {
        let mut bytes = Vec::new();
        ciborium::into_writer(
            &ciborium::Value::Map(vec![
                ("host".into(), host.into()),
                ("sha256".into(), ciborium::Value::Bytes(vec![0; 32])),
            ]),
            &mut bytes,
        )
        .unwrap();
        bytes
    };
    let mut forge = |hosts: &[&str], from: u64| {
        for host in hosts {
            let ops: Vec<etcd_client::TxnOp> = (from + 1..from + 101)
                .map(|position| {
                    let key = format!("{}/{host}", connection.keys().digest(position));
                    etcd_client::TxnOp::put(key, forged(host), None)
                })
                .collect();
            connection
                .block_on(client.txn(etcd_client::Txn::new().and_then(ops)))
                .unwrap();
        }
    };
    // One other replica recorded different digests for the positions ahead: it is the
    // minority, and the two that agree go on.
    let from = a.applied_position();
    forge(&["elsewhere-0"], from);
    for n in 0..20 {
        create(if n % 2 == 0 { &a } else { &b }, &format!("/outvoted-{n}")).unwrap();
    }
    assert!(
        a.applied_position() < from + 100,
        "the writes stayed inside the forged range"
    );
    eventually("both hosts compared a few disputed checkpoints", || {
        let mut client = connection.client();
        let options = etcd_client::GetOptions::new()
            .with_prefix()
            .with_keys_only();
        let keys = connection
            .block_on(client.get(connection.keys().digests(), Some(options)))
            .unwrap();
        let mut per_position = std::collections::BTreeMap::<String, usize>::new();
        for kv in keys.kvs() {
            let key = kv.key_str().unwrap();
            if let Some((position, _)) = key.rsplit_once('/') {
                *per_position.entry(position.to_owned()).or_default() += 1;
            }
        }
        per_position.values().any(|n| *n == 3)
    });
    // A verdict against them would follow at once; give it a moment to show.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(a_host.halted(), None);
    assert_eq!(b_host.halted(), None);

    // Two others recorded a digest of their own: A's is held by half, not a majority.
    forge(&["elsewhere-1", "elsewhere-2"], a.applied_position());
    for n in 0..40 {
        if create(&a, &format!("/later-{n}")).is_err() {
            break;
        }
    }
    eventually("A stops serving", || a_host.halted().is_some());
    let why = a_host.halted().unwrap();
    assert!(
        why.contains("diverged") && why.contains("elsewhere"),
        "{why}"
    );
    let refused = create(&a, "/refused");
    assert!(refused.unwrap_err().contains("diverged"));
    drop((a_host, b_host));
}

#[test]
fn a_stopped_hosts_key_goes_with_its_lease() {
    let dir = tempfile::tempdir().unwrap();
    let Some(etcd) = cluster_for_tests(3, dir.path()) else {
        return;
    };
    let (store, host) = open(
        etcd.endpoints(),
        "leases",
        HostOptions::new("leased", Duration::from_millis(1000)),
    );
    let connection = Connection::open(Settings::new(etcd.endpoints(), "leases")).unwrap();
    let key = connection.keys().host("leased");
    let lease_of = || -> Result<Option<i64>, StoreError> {
        let mut client = connection.client();
        let response = connection
            .block_on(client.get(key.clone(), None))
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(response.kvs().first().map(|kv| kv.lease()))
    };
    let lease = lease_of().unwrap().expect("the host key exists");
    assert_ne!(lease, 0, "the host key is under a lease");
    // Beating keeps it well past the lease's TTL.
    std::thread::sleep(Duration::from_secs(3));
    assert!(lease_of().unwrap().is_some());
    drop(host);
    store.close();
    eventually("the key is gone with its lease", || {
        lease_of().unwrap().is_none()
    });
}
