//! The log conformance suite, unchanged, on a real 3-member etcd cluster.

use std::sync::atomic::{AtomicU64, Ordering};

use ballot_etcd::local::cluster_for_tests;
use ballot_etcd::{Connection, EtcdLog, EtcdSnapshots, Settings};
use ballot_store::conformance::log::{LogBuilder, run_all};
use ballot_store::log::{Log, Snapshots};

/// One ballot cluster's keys on the shared etcd: each check gets its own name.
struct OnEtcd {
    connection: Connection,
}

impl LogBuilder for OnEtcd {
    fn open(&self) -> (Box<dyn Log>, Box<dyn Snapshots>) {
        let log = EtcdLog::open(self.connection.clone()).expect("opening the etcd log");
        (
            Box::new(log),
            Box::new(EtcdSnapshots::new(self.connection.clone())),
        )
    }

    /// A put returns once a quorum has it: a crash of this process loses nothing.
    fn crash(&self) {}
}

#[test]
fn the_etcd_log_passes_the_log_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cluster) = cluster_for_tests(3, dir.path()) else {
        return;
    };
    let next = AtomicU64::new(0);
    run_all(|| {
        let name = format!("conformance-{}", next.fetch_add(1, Ordering::Relaxed));
        OnEtcd {
            connection: Connection::open(Settings::new(cluster.endpoints(), &name))
                .expect("connecting"),
        }
    });
}

#[test]
fn an_unreachable_cluster_is_named_in_the_error() {
    let mut settings = Settings::new(vec!["http://127.0.0.1:1".into()], "nowhere");
    settings.connect_timeout = std::time::Duration::from_millis(300);
    settings.request_timeout = std::time::Duration::from_millis(300);
    let error = Connection::open(settings)
        .err()
        .expect("nothing listens on port 1");
    let message = error.to_string();
    assert!(message.contains("http://127.0.0.1:1"), "{message}");
}
