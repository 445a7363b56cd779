//! Benchmark of the linearizability checker on generated histories.
//!
//! For 1k, 10k and 100k calls, 5 and 20 processes, 5% info calls, the register and kv
//! models: the time and peak heap of checking, against the baseline of parsing the same
//! file in the same run. Then an info-share sweep (0%, 5%, 20%) at 10k calls, and the
//! growth factors between sizes. Every check must give a definite verdict within the
//! default budget, or the bench fails. Then Porcupine-style `kv-append` histories (get,
//! put and short appends on 10 keys; 1k, 10k, 100k calls; 5, 20 and 50 processes) on 1
//! and 2 worker threads, within 30 s and 1 GiB each, reported as unknown when they do not
//! fit. The register and kv cases run on one thread; then the largest kv
//! history (20 processes) is checked on 1 and on 2 worker threads, its keys' parts
//! searched side by side.
//!
//! Ends with one summary line per figure: `name value unit ratio-to-baseline`, where the
//! baseline is the parse of the same history (time for times, peak heap for memory;
//! growth lines compare with the smaller size).
//!
//! Run: `cargo bench -p ballot-check --bench checker` (release; about a minute on 2 cores).
//! `BENCH_QUICK=1` stops at 10k calls.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ballot_check::history::generate::{GenConfig, generate};
use ballot_check::history::parse_str;
use ballot_check::{Budget, ModelKind, Verdict, check};

/// Counts live heap bytes and their high-water mark.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the counters only
// observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's arguments.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            let live = LIVE.fetch_add(new_size, Ordering::Relaxed) + new_size;
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result, wall time and peak heap above what was live before.
fn measure<T>(f: impl FnOnce() -> T) -> (T, Duration, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let start = Instant::now();
    let out = f();
    let elapsed = start.elapsed();
    (
        out,
        elapsed,
        PEAK.load(Ordering::Relaxed).saturating_sub(base),
    )
}

struct Case {
    name: String,
    model: ModelKind,
    config: GenConfig,
    /// Porcupine-style get/put/append histories instead of the generator's registers.
    append: bool,
    /// Worker threads for the parts of a keyed history.
    threads: usize,
}

struct Figures {
    name: String,
    parse: Duration,
    parse_peak: usize,
    check: Duration,
    check_peak: usize,
}

fn run(case: &Case) -> Figures {
    let history = if case.append {
        append_history(&case.config)
    } else {
        generate(&case.config)
    };
    let text = history.to_jsonl();
    drop(history);
    // Best of three for the parse baseline: it is short and noisy.
    let mut parse = Duration::MAX;
    let mut parse_peak = 0;
    let mut parsed = None;
    for _ in 0..3 {
        let (history, time, peak) =
            measure(|| parse_str(&text).expect("generated histories parse"));
        parse = parse.min(time);
        parse_peak = peak;
        parsed = Some(history);
    }
    let history = parsed.expect("parsed");
    let (report, check_time, check_peak) = measure(|| {
        // Append histories with many unknown-outcome appends can outgrow any budget
        // (they cannot be pruned): those get 30 s and 1 GiB, and may end unknown.
        let budget = if case.append {
            Budget {
                time: Duration::from_secs(30),
                memory: 1 << 30,
                threads: case.threads,
            }
        } else {
            Budget {
                threads: case.threads,
                ..Budget::default()
            }
        };
        check(&history, case.model, &budget).expect("readable")
    });
    let s = &report.stats;
    eprintln!(
        "{:<32} {:>7} lines  parse {:>9.2?}  check {:>9.2?}  peak {:>7.1} MiB  ({} parts, {} configurations; info: {} pruned, {} promoted, {} open)",
        case.name,
        history.ops.len(),
        parse,
        check_time,
        check_peak as f64 / 1048576.0,
        s.partitions,
        s.configurations,
        s.pruned,
        s.promoted,
        s.open
    );
    match report.verdict {
        Verdict::Linearizable => {}
        Verdict::Unknown(why) if case.append => {
            eprintln!("{}: unknown within the budget ({why:?})", case.name);
            println!("{}/unknown 1 verdict 1.00", case.name);
        }
        other => panic!("{}: expected linearizable, got {other:?}", case.name),
    }
    Figures {
        name: case.name.clone(),
        parse,
        parse_peak,
        check: check_time,
        check_peak,
    }
}

fn case(model: ModelKind, calls: usize, processes: usize, info_share: f64) -> Case {
    let keys = (model == ModelKind::Kv).then_some(10);
    let label = match calls {
        c if c >= 1000 && c % 1000 == 0 => format!("{}k", c / 1000),
        c => c.to_string(),
    };
    Case {
        name: format!(
            "check/{}/{label}/p{processes}/info{}",
            model.name(),
            (info_share * 100.0).round()
        ),
        model,
        config: GenConfig {
            processes,
            calls,
            keys,
            info_share,
            cas: model != ModelKind::Register,
            value_domain: None,
            seed: 0x5eed ^ calls as u64 ^ ((processes as u64) << 32),
        },
        append: false,
        threads: 1,
    }
}

/// A `kv-append` case: `calls` calls of `processes` processes on 10 keys.
fn append_case(calls: usize, processes: usize, threads: usize) -> Case {
    let mut case = case(ModelKind::KvAppend, calls, processes, 0.05);
    case.config.keys = Some(10);
    case.append = true;
    case.threads = threads;
    case.name = format!("{}/threads{threads}", case.name);
    case
}

/// A linearizable get/put/append history from a simulated execution: each call takes
/// effect at a random point between its invoke and its completion; `info_share` of the
/// calls that change something end with an unknown outcome. Appends add short suffixes
/// (`a;` to `e;`), puts reset a key to one letter, gets read it.
fn append_history(config: &GenConfig) -> ballot_check::history::History {
    use ballot_check::history::{History, Op, OpType};
    use serde_json::json;
    let mut x = config.seed | 1;
    let mut roll = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let keys = config.keys.unwrap_or(1);
    let mut state: Vec<String> = vec![String::new(); keys as usize];
    // Per process: (f, key, input, the result once it took effect).
    type InFlight = Option<(&'static str, u64, String, Option<String>)>;
    let mut flight: Vec<InFlight> = vec![None; config.processes];
    let mut ops = Vec::with_capacity(config.calls * 2);
    let (mut started, mut time) = (0, 0u64);
    let mut push = |ops: &mut Vec<Op>, process: usize, kind: OpType, f: &str, value| {
        time += 1;
        ops.push(Op {
            kind,
            process: process as u64,
            f: f.to_string(),
            value,
            time,
            extra: Default::default(),
        });
    };
    while started < config.calls || flight.iter().any(Option::is_some) {
        let p = roll(config.processes as u64) as usize;
        match flight[p].take() {
            None if started < config.calls => {
                started += 1;
                let key = roll(keys);
                let letter = ["a", "b", "c", "d", "e"][roll(5) as usize];
                let (f, input) = match roll(10) {
                    0..=3 => ("get", String::new()),
                    4 => ("put", letter.to_string()),
                    _ => ("append", format!("{letter};")),
                };
                let value = if f == "get" {
                    json!([key.to_string(), null])
                } else {
                    json!([key.to_string(), input])
                };
                push(&mut ops, p, OpType::Invoke, f, value);
                flight[p] = Some((f, key, input, None));
            }
            None => {}
            Some((f, key, input, None)) => {
                let current = &mut state[key as usize];
                let result = match f {
                    "get" => current.clone(),
                    "put" => {
                        *current = input.clone();
                        input.clone()
                    }
                    _ => {
                        current.push_str(&input);
                        input.clone()
                    }
                };
                flight[p] = Some((f, key, input, Some(result)));
            }
            Some((f, key, _, Some(result))) => {
                let unknown = f != "get" && (roll(1000) as f64) < config.info_share * 1000.0;
                let kind = if unknown { OpType::Info } else { OpType::Ok };
                push(&mut ops, p, kind, f, json!([key.to_string(), result]));
            }
        }
    }
    History::from_ops(ops).expect("a well-formed history")
}

fn main() {
    // `cargo bench` passes `--bench`; a plain `cargo test` of benches passes nothing.
    let quick = std::env::var_os("BENCH_QUICK").is_some();
    let sizes: &[usize] = if quick {
        &[1_000, 10_000]
    } else {
        &[1_000, 10_000, 100_000]
    };
    let mut figures = Vec::new();
    for model in [ModelKind::Register, ModelKind::Kv] {
        for processes in [5, 20] {
            for &calls in sizes {
                figures.push(run(&case(model, calls, processes, 0.05)));
            }
        }
    }
    // Threads: the largest kv history with 20 processes, on 1 and on 2 workers.
    let largest = *sizes.last().expect("sizes");
    let on = |threads| {
        let mut case = case(ModelKind::Kv, largest, 20, 0.05);
        case.name = format!("{}/threads{threads}", case.name);
        case.threads = threads;
        run(&case)
    };
    let (one, two) = (on(1), on(2));
    // Porcupine's get/put/append on 10 keys, 5, 20 and 50 processes, on 1 and 2 workers.
    let mut appends = Vec::new();
    for processes in [5, 20, 50] {
        for &calls in sizes {
            for threads in [1, 2] {
                appends.push(run(&append_case(calls, processes, threads)));
            }
        }
    }
    let mut sweep = Vec::new();
    for model in [ModelKind::Register, ModelKind::Kv] {
        for info in [0.0, 0.05, 0.20] {
            sweep.push(run(&case(model, 10_000, 5, info)));
        }
    }

    println!();
    for f in figures.iter().chain(&appends).chain(&sweep) {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let mib = |b: usize| b as f64 / 1048576.0;
        println!("{}/parse-time {:.3} ms 1.00", f.name, ms(f.parse));
        println!(
            "{}/time {:.3} ms {:.2}",
            f.name,
            ms(f.check),
            ms(f.check) / ms(f.parse)
        );
        println!(
            "{}/peak-heap {:.2} MiB {:.2}",
            f.name,
            mib(f.check_peak),
            f.check_peak as f64 / f.parse_peak.max(1) as f64
        );
    }
    println!(
        "{}/time-2-threads-vs-1 {:.3} ms {:.2}",
        two.name,
        two.check.as_secs_f64() * 1e3,
        two.check.as_secs_f64() / one.check.as_secs_f64()
    );
    println!(
        "{}/peak-heap-2-threads-vs-1 {:.2} MiB {:.2}",
        two.name,
        two.check_peak as f64 / 1048576.0,
        two.check_peak as f64 / one.check_peak.max(1) as f64
    );
    // Growth: each size against the one 10x smaller, same model and processes.
    for pair in figures.windows(2) {
        let (small, big) = (&pair[0], &pair[1]);
        if same_series(&small.name, &big.name) {
            println!(
                "growth/{}/time-x10-calls {:.2} x {:.2}",
                big.name,
                big.check.as_secs_f64() / small.check.as_secs_f64(),
                (big.check.as_secs_f64() / big.parse.as_secs_f64())
                    / (small.check.as_secs_f64() / small.parse.as_secs_f64())
            );
        }
    }
    // Processes: 20 against 5 at each size.
    for f20 in figures.iter().filter(|f| f.name.contains("/p20/")) {
        let twin = f20.name.replace("/p20/", "/p5/");
        if let Some(f5) = figures.iter().find(|f| f.name == twin) {
            println!(
                "growth/{}/time-p20-vs-p5 {:.2} x {:.2}",
                f20.name,
                f20.check.as_secs_f64() / f5.check.as_secs_f64(),
                (f20.check.as_secs_f64() / f20.parse.as_secs_f64())
                    / (f5.check.as_secs_f64() / f5.parse.as_secs_f64())
            );
        }
    }
    // Info share: 5% and 20% against 0%.
    for chunk in sweep.chunks(3) {
        for f in &chunk[1..] {
            println!(
                "growth/{}/time-vs-info0 {:.2} x {:.2}",
                f.name,
                f.check.as_secs_f64() / chunk[0].check.as_secs_f64(),
                (f.check.as_secs_f64() / f.parse.as_secs_f64())
                    / (chunk[0].check.as_secs_f64() / chunk[0].parse.as_secs_f64())
            );
        }
    }
}

/// Same model and process count (names differ only in size).
fn same_series(a: &str, b: &str) -> bool {
    let strip = |name: &str| {
        let parts: Vec<&str> = name.split('/').collect();
        format!("{}/{}/{}", parts[1], parts[3], parts[4])
    };
    strip(a) == strip(b)
}
