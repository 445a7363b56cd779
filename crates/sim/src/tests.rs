//! Unit tests of the simulator's parts (the seeds themselves run in `tests/all/sim.rs`).

use super::*;

#[test]
fn a_few_seeds_pass_and_inject_faults() {
    let config = Config::default();
    for seed in 0..5 {
        let report = Sim::run(seed, &config);
        assert!(report.passed(), "{}", report.line());
        assert!(report.faults.total() > 0);
        assert!(report.ops > 20, "{}", report.line());
    }
}

#[test]
fn a_run_without_faults_fails() {
    let config = Config::default();
    let calm: Vec<Step> = schedule::generate(3, &config)
        .into_iter()
        .filter(|step| !step.is_fault())
        .map(|step| match step {
            // Deliver in order: a reorder counts as a fault too.
            Step::Deliver { .. } => Step::Deliver { pick: 0 },
            other => other,
        })
        .collect();
    let report = Sim::run_schedule(3, &calm, &config);
    assert_eq!(report.faults.total(), 0);
    assert!(report.ops > 20, "{}", report.line());
    assert_eq!(report.failure, Some(Failure::NoFaults));
}

#[test]
fn the_stepped_writer_acknowledges_only_after_the_sync() {
    // The injection point itself: between `write` and `sync` nothing is released or
    // published, and a crash there loses the batch without anyone having seen it.
    let config = Config::default();
    let clock = ManualClock::new();
    let mut host = host::Host::new(&config, clock).expect("opens");
    let before = host.published().revision();
    host.handle(
        0,
        1,
        host::Request::Write {
            key: host::REG,
            value: 7,
        },
    );
    assert!(host.write());
    assert!(host.mid_flush());
    assert!(
        host.take_outbox().is_empty(),
        "nothing released before the sync"
    );
    assert_eq!(
        host.published().revision(),
        before,
        "nothing published either"
    );
    let (acked, recovered) = host.crash(0).expect("recovers");
    assert_eq!(recovered, before.0, "the unsynced batch is gone");
    assert!(acked <= recovered);
    host.handle(
        0,
        2,
        host::Request::Write {
            key: host::REG,
            value: 8,
        },
    );
    assert!(host.write() && host.sync());
    let released = host.take_outbox();
    assert_eq!(released, [(0, 2, host::Reply::Done)]);
    assert!(host.published().revision() > before);
}

#[test]
fn schedules_make_planned_changes_and_still_pass() {
    // Handoffs and drains come from the operator's requests; preemptions from the
    // priority election of odd seeds. Each kind happens within a few seeds, and every
    // run still checks.
    let config = Config::default();
    let mut planned = planned::PlannedCounts::default();
    for seed in 0..12 {
        let report = Sim::run(seed, &config);
        assert!(report.passed(), "{}", report.line());
        planned.add(&report.planned);
    }
    assert!(
        planned.handoffs > 0 && planned.drains > 0 && planned.preemptions > 0,
        "{planned}"
    );
}
