//! The imports of a transaction function (`txn-fn` world): reads of its snapshot, and
//! log. Its WASI has fixed clocks and a seeded random source, so a run is a pure function
//! of the snapshot and the arguments.

use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use sha2::{Digest, Sha256};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use crate::Limits;
use crate::bindings::{log_api, snapshot_api, wit};
use crate::sandbox::{Confined, Confinement, Fence};
use ballot_core::commit::{ReadSet, Snapshot};
use ballot_core::namespace as ns;

use super::convert::{self, to_wit_error, to_wit_stat};

/// What a transaction function's wall clock always says: 2020-01-01T00:00:00Z.
const FIXED_WALL_CLOCK: Duration = Duration::from_secs(1_577_836_800);

/// Store data of one transaction-function run.
pub struct TxnState {
    snapshot: Snapshot,
    /// For log lines.
    name: String,
    confinement: Confinement,
    stderr: MemoryOutputPipe,
    wasi: WasiCtx,
    table: ResourceTable,
}

struct FixedWall;

impl HostWallClock for FixedWall {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }
    fn now(&self) -> Duration {
        FIXED_WALL_CLOCK
    }
}

struct FixedMonotonic;

impl HostMonotonicClock for FixedMonotonic {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        0
    }
}

impl TxnState {
    /// A run of `name` on `snapshot` with `args`, confined by `limits`. The random source
    /// is seeded from the snapshot's revision and the arguments: the same inputs give the
    /// same numbers, different commits different ones.
    pub(crate) fn new(name: &str, snapshot: Snapshot, args: &[u8], limits: &Limits) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(snapshot.revision().0.to_le_bytes());
        hasher.update(args);
        let seed: [u8; 32] = hasher.finalize().into();
        let stderr = MemoryOutputPipe::new(16 << 10);
        let wasi = crate::grants::no_network(WasiCtx::builder().stderr(stderr.clone()))
            .wall_clock(FixedWall)
            .monotonic_clock(FixedMonotonic)
            .secure_random(Xoshiro256PlusPlus::from_seed(seed))
            .insecure_random(Xoshiro256PlusPlus::from_seed(seed))
            .insecure_random_seed(u128::from_le_bytes(
                seed[..16].try_into().expect("16 bytes"),
            ))
            .build();
        TxnState {
            snapshot,
            name: name.to_string(),
            confinement: Confinement::new(Fence::new(), limits),
            stderr,
            wasi,
            table: ResourceTable::new(),
        }
    }

    /// What the run read.
    pub(crate) fn into_reads(self) -> ReadSet {
        self.snapshot.into_reads()
    }

    /// The last line the function wrote to stderr (a panic's message), if any.
    pub(crate) fn last_words(&self) -> Option<String> {
        super::last_words(&self.stderr)
    }
}

/// A commit's operations (as a transaction function returned them, or as a component
/// gave them), as the namespace's. Ephemeral creates are refused: a commit belongs to no
/// session that could own them.
pub(crate) fn to_ops(ops: Vec<wit::Op>) -> Result<Vec<ns::Op>, String> {
    ops.into_iter()
        .enumerate()
        .map(|(index, op)| {
            if let wit::Op::Create(create) = &op
                && create.mode.lifetime == wit::Lifetime::Ephemeral
            {
                return Err(format!(
                    "operation {index}: a commit cannot create ephemeral nodes (it belongs to no session)"
                ));
            }
            convert::op(op, ns::SessionId(0))
                .map_err(|error| match error {
                    wit::Error::Invalid(reason) => format!("operation {index} is invalid: {reason}"),
                    other => format!("operation {index} is invalid: {other:?}"),
                })
        })
        .collect()
}

impl Confined for TxnState {
    fn confinement(&self) -> &Confinement {
        &self.confinement
    }
    fn confinement_mut(&mut self) -> &mut Confinement {
        &mut self.confinement
    }
}

impl WasiView for TxnState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wit::Host for TxnState {}

impl snapshot_api::Host for TxnState {
    async fn revision(&mut self) -> wasmtime::Result<u64> {
        Ok(self.snapshot.revision().0)
    }

    async fn get(
        &mut self,
        path: String,
    ) -> wasmtime::Result<Result<(Vec<u8>, wit::Stat), wit::Error>> {
        let path = match convert::path(&path) {
            Ok(path) => path,
            Err(error) => return Ok(Err(error)),
        };
        Ok(self
            .snapshot
            .get(&path)
            .map(|(data, stat)| (data.as_bytes().to_vec(), to_wit_stat(stat)))
            .map_err(to_wit_error))
    }

    async fn children(
        &mut self,
        path: String,
    ) -> wasmtime::Result<Result<Vec<String>, wit::Error>> {
        let path = match convert::path(&path) {
            Ok(path) => path,
            Err(error) => return Ok(Err(error)),
        };
        Ok(self.snapshot.children(&path).map_err(to_wit_error))
    }
}

impl log_api::Host for TxnState {
    async fn log(&mut self, level: log_api::Level, message: String) -> wasmtime::Result<()> {
        let message = super::log::truncate(message);
        let name = &self.name;
        match level {
            log_api::Level::Trace | log_api::Level::Debug => {
                tracing::debug!(txn_fn = %name, "{message}")
            }
            log_api::Level::Info => tracing::info!(txn_fn = %name, "{message}"),
            log_api::Level::Warn => tracing::warn!(txn_fn = %name, "{message}"),
            log_api::Level::Error => tracing::error!(txn_fn = %name, "{message}"),
        }
        Ok(())
    }
}
