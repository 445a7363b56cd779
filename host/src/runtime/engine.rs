//! The one wasmtime `Engine` every actor shares, configured once: component model and a pooling allocator sized explicitly so the host's worst case is known.

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How many component instances (actors plus in-flight instantiations) one engine holds.
pub const MAX_INSTANCES: u32 = 256;

/// The largest linear memory a component may grow to.
pub const MAX_MEMORY_BYTES: usize = 64 << 20;

/// Builds the shared engine. Pooling gives every instance a pre-reserved slot: starting
/// an actor never maps fresh memory, and the total a host can use is bounded up front.
pub fn new_engine() -> wasmtime::Result<Engine> {
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
        .max_memory_size(MAX_MEMORY_BYTES);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config)
}
