//! The work queue under leader kills: every item's effect exactly once, kills landing
//! mid-claim, and a lease history the leadership model accepts.

use std::time::Duration;

use work_queue::{Config, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_effect_once_while_masters_are_killed_mid_claim() {
    let wasm = work_queue::bundled::WORK_QUEUE_WORKER;
    let config = Config {
        items: 60,
        kills: 10,
        seed: 7,
        deadline: Duration::from_secs(90),
        ..Config::default()
    };
    let report = run(&config, wasm).await.unwrap();
    let audit = &report.audit;
    assert!(audit.finished, "not every item was done: {audit:?}");
    assert!(audit.exactly_once(), "{audit:?}");
    assert_eq!(audit.effects, 60);
    assert!(report.kills.total >= 5, "{:?}", report.kills);
    assert!(report.kills.mid_claim > 0, "{:?}", report.kills);
    assert!(
        report.taken_over > 0,
        "a successor finished a cut-short claim: {report:?}"
    );
    assert!(
        report.terms > report.kills.total / 2,
        "masters changed: {report:?}"
    );
    report
        .history
        .as_ref()
        .expect("the lease history is linearizable");
}
