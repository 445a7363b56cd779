//! Shrinking a failing schedule: cut steps out while the run still fails the same way,
//! so what is left shows the bug in a few steps.

use super::{Config, Sim, Step};

/// The most runs one shrink may spend.
const MAX_RUNS: usize = 3000;

/// A shorter schedule that fails like `steps` (same [`super::Failure::kind`]), by delta
/// debugging: try dropping chunks, halving their size down to single steps, until no
/// single step can go. Returns `steps` unchanged if they do not fail.
pub fn shrink(seed: u64, steps: &[Step], config: &Config) -> Vec<Step> {
    let Some(kind) = Sim::run_schedule(seed, steps, config)
        .failure
        .map(|f| f.kind())
    else {
        return steps.to_vec();
    };
    let mut runs = 1;
    let fails = |candidate: &[Step]| {
        Sim::run_schedule(seed, candidate, config)
            .failure
            .is_some_and(|f| f.kind() == kind)
    };
    let mut current = steps.to_vec();
    // A run stops at its failure: whatever comes after it can go at once.
    let mut chunk = current.len().div_ceil(2).max(1);
    loop {
        let mut removed_any = false;
        let mut start = 0;
        while start < current.len() {
            if runs >= MAX_RUNS {
                return current;
            }
            let end = (start + chunk).min(current.len());
            let mut candidate = current[..start].to_vec();
            candidate.extend_from_slice(&current[end..]);
            runs += 1;
            if fails(&candidate) {
                current = candidate;
                removed_any = true;
            } else {
                start = end;
            }
        }
        if chunk == 1 && !removed_any {
            return current;
        }
        if !removed_any {
            chunk = (chunk / 2).max(1);
        }
    }
}
