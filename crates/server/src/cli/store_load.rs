//! `ballot store-load` (hidden): commit load against an embedded store, printing each
//! acknowledgement as it arrives. The crash tests run it as a child process, kill it with
//! SIGKILL at a random moment, and check that every printed acknowledgement survived.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use ballot_core::namespace::{CreateMode, Data, NodePath, Op};
use ballot_store::clock::SystemClock;
use ballot_store::{EmbeddedStore, Options, Store, StoreError};

/// Arguments of `ballot store-load`.
#[derive(Debug, clap::Args)]
pub struct StoreLoadArgs {
    /// The data folder.
    #[arg(long)]
    dir: PathBuf,
    /// Concurrent committers.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Prefix of every node name, so runs into one folder do not collide.
    #[arg(long)]
    prefix: String,
    /// Commits per client, at most.
    #[arg(long, default_value_t = 100_000)]
    max_commits: u64,
    /// Records between snapshots.
    #[arg(long, default_value_t = 2_000)]
    snapshot_every: u64,
}

/// The folder every load run writes under.
pub const LOAD_ROOT: &str = "/load";

/// Runs the load until `max_commits` per client, printing `ack <name>` per commit. Each
/// commit is a multi creating `<name>-a` and `<name>-b`: a partly visible multi shows.
pub fn run(args: StoreLoadArgs) -> anyhow::Result<ExitCode> {
    let options = Options {
        snapshot_every: args.snapshot_every,
        segment_bytes: 256 << 10,
        ..Options::default()
    };
    let store: Arc<EmbeddedStore> = Arc::new(EmbeddedStore::open(
        &args.dir,
        Arc::new(SystemClock::new()),
        options,
    )?);
    let root = NodePath::parse(LOAD_ROOT)?;
    match store.multi(
        None,
        vec![Op::Create {
            path: root.clone(),
            data: Data::default(),
            mode: CreateMode::PERSISTENT,
        }],
    ) {
        Ok(_) | Err(StoreError::MultiRefused(_)) => {}
        Err(other) => return Err(other.into()),
    }
    let stdout = Arc::new(Mutex::new(std::io::stdout()));
    let workers: Vec<_> = (0..args.clients)
        .map(|client| {
            let (store, stdout, root, prefix) = (
                store.clone(),
                stdout.clone(),
                root.clone(),
                args.prefix.clone(),
            );
            std::thread::spawn(move || -> anyhow::Result<()> {
                for seq in 0..args.max_commits {
                    let name = format!("{prefix}-{client}-{seq}");
                    let ops = ["a", "b"]
                        .map(|half| Op::Create {
                            path: root.child(&format!("{name}-{half}")).expect("valid name"),
                            data: Data::from(name.as_str()),
                            mode: CreateMode::PERSISTENT,
                        })
                        .to_vec();
                    store.multi(None, ops)?;
                    let mut out = stdout.lock().unwrap_or_else(|p| p.into_inner());
                    writeln!(out, "ack {name}")?;
                    out.flush()?;
                }
                Ok(())
            })
        })
        .collect();
    for worker in workers {
        worker
            .join()
            .map_err(|_| anyhow::anyhow!("a client panicked"))??;
    }
    Ok(ExitCode::SUCCESS)
}
