//! Bindings of the component worlds, generated once each. The observer and txn-fn
//! worlds' shared imports are the candidate world's, mapped with `with:`, so one host
//! implementation (`host_impl`) serves them all.

/// The `candidate` world.
#[allow(missing_docs)] // generated from the WIT, whose docs it carries
pub mod candidate {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "ballot:election/candidate",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

/// The `observer` world.
#[allow(missing_docs)] // generated from the WIT, whose docs it carries
pub mod observer {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "ballot:election/observer",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "ballot:election/types": super::candidate::ballot::election::types,
            "ballot:election/namespace": super::candidate::ballot::election::namespace,
            "ballot:election/log": super::candidate::ballot::election::log,
            "ballot:election/deployment": super::candidate::ballot::election::deployment,
        },
    });
}

/// The `txn-fn` world.
#[allow(missing_docs)] // generated from the WIT, whose docs it carries
pub mod txn_fn {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "ballot:election/txn-fn",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "ballot:election/types": super::candidate::ballot::election::types,
            "ballot:election/log": super::candidate::ballot::election::log,
        },
    });
}

pub use txn_fn::ballot::election::snapshot as snapshot_api;

pub use candidate::ballot::election::{
    commit as commit_api, deployment as deployment_api, election as election_api,
    elector as elector_api, log as log_api, namespace as namespace_api, types as wit,
};
