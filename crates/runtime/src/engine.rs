//! The one wasmtime `Engine` every actor shares, configured once: component model, a
//! pooling allocator sized explicitly so the host's worst case is known, and epoch
//! interruption driven by a ticker thread so no guest can keep a thread for itself.

use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How many component instances (actors plus in-flight instantiations) one engine holds.
pub const MAX_INSTANCES: u32 = 256;

/// The largest linear memory any component may grow to; a deployment's own limit
/// ([`super::Limits::memory_bytes`], 32 MiB by default) is at most this. Each pool slot
/// reserves address space, not memory, so room for an interpreter that needs more
/// (a Python app with many modules) costs the Rust deployments nothing: what an instance
/// may really use is its deployment's limit.
pub const MAX_MEMORY_BYTES: usize = 256 << 20;

/// The epoch period. Running wasm checks the epoch at loop heads and function entries;
/// every tick it yields to tokio once and its deadline and revocation are looked at, so
/// this is both the scheduling quantum of a busy guest and the precision of deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Builds the shared engine and starts its epoch ticker.
///
/// Pooling gives every instance a pre-reserved slot: starting an actor never maps fresh
/// memory, and the total a host can use is bounded up front. The ticker is a plain OS
/// thread, not a tokio task: guests that loop could occupy every tokio worker, and the
/// clock that interrupts them must not depend on those workers. It holds the engine
/// weakly and ends when the last clone of the engine is dropped.
pub fn new_engine() -> wasmtime::Result<Engine> {
    let engine = build(true)?;
    start_ticker(&engine)?;
    Ok(engine)
}

/// An engine without epoch interruption: only for measuring what the interruption
/// checks cost a compute-bound guest. Actors never run on it.
pub fn new_engine_without_epochs() -> wasmtime::Result<Engine> {
    build(false)
}

/// Bytes of each linear memory and table that stay mapped when their instance goes, reset
/// in place (only the pages it dirtied, found with the `PAGEMAP_SCAN` ioctl where the
/// kernel has it, 6.7 on) instead of handed back with `madvise`. Every `madvise` of a
/// mapped range makes the kernel flush the other cores' TLBs with an interrupt; with a
/// fresh instance per transaction function run, those interrupts took a quarter of the
/// host's CPU, and keeping this much resident raised function commits from about 9,000 to
/// 27,000-41,000/s at 64 clients here (`bench commit`). The cost is at most this much per
/// idle warm slot (wasmtime keeps up to 100); peak RSS of that run did not move (51 MB
/// against 52 MB). 256 KiB did as well as 1 MiB.
const KEEP_RESIDENT: usize = 256 << 10;

fn build(epochs: bool) -> wasmtime::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(MAX_INSTANCES)
        // A Rust wasip2 component is a few core instances (program, adapters, shims).
        .total_core_instances(MAX_INSTANCES * 8)
        .max_core_instances_per_component(16)
        .total_memories(MAX_INSTANCES * 2)
        .max_memories_per_component(2)
        .total_tables(MAX_INSTANCES * 4)
        .max_tables_per_component(4)
        .total_stacks(MAX_INSTANCES)
        .max_memory_size(MAX_MEMORY_BYTES)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT)
        .pagemap_scan(wasmtime::Enabled::Auto);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(epochs)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config)
}

fn start_ticker(engine: &Engine) -> wasmtime::Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("ballot-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })?;
    Ok(())
}
