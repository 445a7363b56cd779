//! `ballot bench languages`: the same candidate written in Rust, Python (componentize-py)
//! and JavaScript (componentize-js), in one run: component size, cold compile time, load
//! time from the on-disk cache, deploy to first callback, the latency of the same
//! one-import callback (on-losing-election, which logs one line in all three), and memory
//! per instance. Every figure of Python and JavaScript is reported against Rust's.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use ballot_check::history::Recorder;
use ballot_core::election::ElectionName;
use ballot_runtime::bindings::wit;
use ballot_runtime::{Code, ComponentCache, DiskCache, Loaded, Runtime, TimelineEvent, new_engine};
use ballot_store::clock::SystemClock;
use ballot_store::{EmbeddedStore, Options};
use sha2::{Digest as _, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::{
    Figure, blocking, candidate, histogram, micros, next_entry, on_tokio, record, started_winning,
    summarise,
};

/// Arguments of `ballot bench languages`.
#[derive(Debug, clap::Args)]
pub struct LanguagesArgs {
    /// Callbacks measured per language.
    #[arg(long, default_value_t = 2_000)]
    calls: usize,
    /// Deploys measured per language.
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// Loads from the disk cache measured per language.
    #[arg(long, default_value_t = 5)]
    loads: usize,
    /// The Python candidate (default: the one this build made from
    /// examples/python-candidate).
    #[arg(long)]
    python: Option<PathBuf>,
    /// The JavaScript candidate (default: the one this build made from
    /// examples/js-candidate).
    #[arg(long)]
    js: Option<PathBuf>,
}

/// One language's figures.
struct Measured {
    language: &'static str,
    size_mb: f64,
    compile_ms: f64,
    load_ms: f64,
    deploy: Histogram<u64>,
    callback: Histogram<u64>,
    memory_mb: f64,
}

/// The candidate's bytes: given, or the build's, or an error saying how to get them.
fn component(
    language: &str,
    given: Option<PathBuf>,
    built: Result<&str, &str>,
) -> anyhow::Result<Vec<u8>> {
    let path = match (given, built) {
        (Some(path), _) => path,
        (None, Ok(path)) => PathBuf::from(path),
        (None, Err(why)) => anyhow::bail!(
            "no {language} candidate: this build did not make one ({why}); pass its path"
        ),
    };
    std::fs::read(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Compiles `wasm` once on a blocking thread; returns the component and the time taken.
async fn compile_cold(
    engine: &Engine,
    wasm: &Arc<Vec<u8>>,
) -> anyhow::Result<(Component, Duration)> {
    let (engine, wasm) = (engine.clone(), wasm.clone());
    blocking(move || {
        let start = Instant::now();
        let component =
            Component::new(&engine, wasm.as_slice()).map_err(|e| anyhow::anyhow!("{e:#}"))?;
        Ok((component, start.elapsed()))
    })
    .await
}

/// Keeps `component` in `disk` and returns the median of `loads` loads of it. The
/// runtime's cache reads the same folder, so its first deploy loads this entry instead of
/// compiling the component a second time.
async fn load_from_disk(
    engine: &Engine,
    disk: &DiskCache,
    wasm: &[u8],
    component: &Component,
    loads: usize,
) -> anyhow::Result<Duration> {
    let digest: [u8; 32] = Sha256::digest(wasm).into();
    let (engine, disk, component) = (engine.clone(), disk.clone(), component.clone());
    blocking(move || {
        disk.save(&engine, &digest, &component)?;
        let mut times = Vec::new();
        for _ in 0..loads.max(1) {
            let start = Instant::now();
            let loaded = disk.load(&engine, &digest);
            times.push(start.elapsed());
            anyhow::ensure!(matches!(loaded, Loaded::Hit(_)), "the entry did not load");
        }
        times.sort();
        Ok(times[times.len() / 2])
    })
    .await
}

async fn measure_one(
    rt: &Runtime,
    engine: &Engine,
    disk: &DiskCache,
    language: &'static str,
    wasm: Vec<u8>,
    args: &LanguagesArgs,
) -> anyhow::Result<Measured> {
    let wasm = Arc::new(wasm);
    let (component, compile) = compile_cold(engine, &wasm).await?;
    let load = load_from_disk(engine, disk, &wasm, &component, args.loads).await?;
    let code = Code::from(wasm.as_slice());

    // Deploy (component cached after the first) until on-winning-election starts, alone in
    // the election `example` (the Rust example fences its writes there), undeployed before
    // the next; the first deploy's instance gives the memory figure.
    let election = ElectionName::parse("example")?;
    let mut deploys = histogram();
    let mut memory = 0;
    for round in 0..=args.rounds {
        let name = format!("{language}-{round}");
        let from = rt.timeline_cursor();
        let start = rt.uptime();
        let id = rt
            .deploy(candidate(name.clone(), &election, code.clone()))
            .await?;
        let at = started_winning(rt, &name, from).await?;
        if round == 0 {
            // Loaded from disk in this deploy: not counted. Its settled instance gives the
            // memory.
            next_entry(rt, from, |who, e| {
                who == name && matches!(e, TimelineEvent::Acked(_))
            })
            .await?;
            memory = rt.memory_bytes(id).unwrap_or(0);
        } else {
            record(&mut deploys, at.saturating_sub(start));
        }
        rt.undeploy(id).await?;
    }

    let (mut store, guest) = rt.bare_candidate(wasm.as_slice(), true).await?;
    let leader = wit::Leader {
        candidate: 1,
        term: 1,
        data: b"x".to_vec(),
        deployment: None,
    };
    let mut callback = histogram();
    for _ in 0..args.calls {
        let t = Instant::now();
        guest
            .call_on_losing_election(&mut store, &leader)
            .await
            .map_err(|e| anyhow::anyhow!("{language}: {e:#}"))?;
        record(&mut callback, t.elapsed());
    }
    Ok(Measured {
        language,
        size_mb: wasm.len() as f64 / 1e6,
        compile_ms: compile.as_secs_f64() * 1e3,
        load_ms: load.as_secs_f64() * 1e3,
        deploy: deploys,
        callback,
        memory_mb: memory as f64 / 1e6,
    })
}

async fn measure(args: LanguagesArgs) -> anyhow::Result<ExitCode> {
    let python = component(
        "Python",
        args.python.clone(),
        crate::cli::bundled::polyglot::PYTHON_CANDIDATE,
    )?;
    let js = component(
        "JavaScript",
        args.js.clone(),
        crate::cli::bundled::polyglot::JS_CANDIDATE,
    )?;
    let dir = tempfile::tempdir_in(std::env::temp_dir())?;
    let store: EmbeddedStore =
        EmbeddedStore::open(dir.path(), Arc::new(SystemClock::new()), Options::default())?;
    let engine = new_engine().map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let compiled = tempfile::tempdir_in(std::env::temp_dir())?;
    let disk = DiskCache::open(compiled.path())?;
    let components = ComponentCache::default().with_disk(disk.clone());
    let rt = Runtime::with_component_cache(engine.clone(), store, Recorder::off(), components)?;
    let rust = crate::cli::bundled::EXAMPLE_CANDIDATE.to_vec();

    let mut measured = Vec::new();
    for (language, wasm) in [("rust", rust), ("python", python), ("js", js)] {
        measured.push(measure_one(&rt, &engine, &disk, language, wasm, &args).await?);
    }

    println!(
        "{:<8} {:>9} {:>11} {:>9} {:>12} {:>12} {:>12} {:>10}",
        "",
        "size MB",
        "compile ms",
        "load ms",
        "deploy p50",
        "callback p50",
        "callback p99",
        "memory MB"
    );
    for m in &measured {
        println!(
            "{:<8} {:>9.2} {:>11.1} {:>9.2} {:>9.1} us {:>9.1} us {:>9.1} us {:>10.2}",
            m.language,
            m.size_mb,
            m.compile_ms,
            m.load_ms,
            micros(&m.deploy, 0.5),
            micros(&m.callback, 0.5),
            micros(&m.callback, 0.99),
            m.memory_mb
        );
    }

    let rust = &measured[0];
    let mut figures = Vec::new();
    for m in &measured[1..] {
        let python = m.language == "python";
        let name = |py: &'static str, js: &'static str| if python { py } else { js };
        figures.extend([
            Figure {
                name: name("python_size", "js_size"),
                value: m.size_mb,
                unit: "MB",
                baseline: "rust_size",
                baseline_value: rust.size_mb,
            },
            Figure {
                name: name("python_compile", "js_compile"),
                value: m.compile_ms,
                unit: "ms",
                baseline: "rust_compile",
                baseline_value: rust.compile_ms,
            },
            Figure {
                name: name("python_disk_load", "js_disk_load"),
                value: m.load_ms,
                unit: "ms",
                baseline: "rust_disk_load",
                baseline_value: rust.load_ms,
            },
            Figure {
                name: name(
                    "python_deploy_to_first_callback_p50",
                    "js_deploy_to_first_callback_p50",
                ),
                value: micros(&m.deploy, 0.5),
                unit: "us",
                baseline: "rust_deploy_to_first_callback_p50",
                baseline_value: micros(&rust.deploy, 0.5),
            },
            Figure {
                name: name("python_callback_p50", "js_callback_p50"),
                value: micros(&m.callback, 0.5),
                unit: "us",
                baseline: "rust_callback_p50",
                baseline_value: micros(&rust.callback, 0.5),
            },
            Figure {
                name: name("python_callback_p99", "js_callback_p99"),
                value: micros(&m.callback, 0.99),
                unit: "us",
                baseline: "rust_callback_p99",
                baseline_value: micros(&rust.callback, 0.99),
            },
            Figure {
                name: name("python_memory", "js_memory"),
                value: m.memory_mb,
                unit: "MB",
                baseline: "rust_memory",
                baseline_value: rust.memory_mb,
            },
        ]);
    }
    // And the disk cache's point: loading against compiling, per language.
    for m in &measured {
        figures.push(Figure {
            name: match m.language {
                "rust" => "rust_load_vs_compile",
                "python" => "python_load_vs_compile",
                _ => "js_load_vs_compile",
            },
            value: m.load_ms,
            unit: "ms",
            baseline: match m.language {
                "rust" => "rust_compile",
                "python" => "python_compile",
                _ => "js_compile",
            },
            baseline_value: m.compile_ms,
        });
    }
    summarise(&figures);
    Ok(ExitCode::SUCCESS)
}

/// Runs the languages benchmark.
pub fn run(args: LanguagesArgs) -> anyhow::Result<ExitCode> {
    on_tokio(measure(args))
}
