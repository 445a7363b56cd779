//! The checker's slowest generated case: one register, 20 processes, 100k calls, 5% of
//! them with unknown outcome. Prints the time, the search's configurations and the peak
//! cache estimate: `cargo run --release -p ballot-check --example slow_register [CALLS]`.

use ballot_check::history::generate::{GenConfig, generate};
use ballot_check::{Budget, ModelKind, check};

fn main() {
    let calls = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let history = generate(&GenConfig {
        processes: 20,
        calls,
        keys: None,
        info_share: 0.05,
        cas: false,
        value_domain: None,
        seed: 0x5eed ^ calls as u64 ^ (20u64 << 32),
    });
    let started = std::time::Instant::now();
    let report = check(&history, ModelKind::Register, &Budget::default()).expect("readable");
    let s = &report.stats;
    println!(
        "{:?} in {:.2?}: {} calls, {} configurations, peak ~{:.1} MiB (pruned {}, promoted {}, open {})",
        report.verdict.exit_code(),
        started.elapsed(),
        s.calls,
        s.configurations,
        s.peak_bytes as f64 / 1048576.0,
        s.pruned,
        s.promoted,
        s.open
    );
}
