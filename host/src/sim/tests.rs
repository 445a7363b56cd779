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
