//! The `ballot` command line: one module per subcommand, each with its clap arguments and
//! a `run` function.

mod bench;
mod bundled;
mod check;
mod client;
mod demo;
mod demo_native;
mod history;
mod new;
mod sim;
mod soak;
pub mod store_load;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// ballot: a WebAssembly-hosted leader-election runtime.
#[derive(Debug, Parser)]
#[command(name = "ballot", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the election demo and print its timeline (the default command).
    Demo(demo::DemoArgs),
    /// Measure the host and print one summary line per figure.
    Bench(bench::BenchArgs),
    /// Check a recorded history for linearizability against a model.
    Check(check::CheckArgs),
    /// Print or filter a recorded history.
    History(history::HistoryArgs),
    /// Deterministic simulation with faults: run seeds, reproduce one, plant a bug.
    Sim(sim::SimArgs),
    /// Long fault runs: `soak crash` kills a real host under writers, round after round,
    /// and audits every acknowledged write.
    Soak(soak::SoakArgs),
    /// Run a host with the HTTP API on a data directory, until SIGTERM.
    Serve(crate::serve::ServeArgs),
    /// Create a component crate (candidate, observer or txn-fn) ready to build and deploy.
    New(new::NewArgs),
    /// Deploy a component into a running host.
    Deploy(client::DeployArgs),
    /// Hot-swap a deployment's code, keeping its session, ballot and term.
    Swap(client::SwapArgs),
    /// Undeploy a deployment (a leader resigns first).
    Undeploy(client::UndeployArgs),
    /// Kill a deployment's running instance, as kill -9 a process (it restarts).
    Kill(client::KillArgs),
    /// Hand an election's leadership to a deployment (or the next in line): the leader is
    /// deposed first, the new one leads under a higher term.
    Handoff(client::HandOffArgs),
    /// Hand every leadership held on a host to candidates of other hosts, then stop it.
    Drain(client::DrainArgs),
    /// List a host's deployments.
    Ls(client::LsArgs),
    /// Print a node's data (CBOR shown as JSON) and its stat.
    Get(client::NodeArgs),
    /// List a node's children.
    LsNodes(client::NodeArgs),
    /// Print a deployment's log lines; with -f, follow them.
    Logs(client::LogsArgs),
    /// Show an election's leader, term and queue.
    Leader(client::LeaderArgs),
    /// List the hosts sharing the namespace (hosts on etcd), with their heartbeats.
    Hosts(client::HostsArgs),
    /// Use a lease elector: reset (join), elect (win or renew), show.
    Elector(client::ElectorArgs),
    /// Commit through a lease elector: plain operations or a transaction function's.
    Commit(client::CommitArgs),
    /// Follow a host's events: node changes and leader changes, resuming after drops.
    Watch(client::WatchArgs),
    /// Holds etcd's own election recipe until killed (a helper of `bench cluster`).
    #[command(hide = true)]
    EtcdCampaign(bench::cluster::CampaignArgs),
    /// Holds ballot's election recipe over HTTP until killed (a helper of `bench peers`).
    #[command(hide = true)]
    HttpCampaign(bench::peers::HttpCampaignArgs),
    /// Holds ZooKeeper's election recipe until killed (a helper of `bench peers`).
    #[command(hide = true)]
    ZkCampaign(bench::zookeeper::ZkCampaignArgs),
    /// Commit load against an embedded store (a helper of the crash tests).
    #[command(hide = true)]
    StoreLoad(store_load::StoreLoadArgs),
}

/// Parses the command line, runs the subcommand and turns its outcome into an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // A simulation cuts torn tails and fails disks on purpose: only errors are news.
    let quiet = match &cli.command {
        Some(Command::Sim(_)) => true,
        Some(Command::Bench(args)) => args.simulates(),
        _ => false,
    };
    // A host's log is where its components' log lines go (at `info`), so `serve` shows
    // them unless RUST_LOG says otherwise; the other commands print their own output.
    let default_filter = match &cli.command {
        _ if quiet => "error",
        Some(Command::Serve(_)) => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal, not in a file or a pipe.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let outcome = match cli.command {
        None => demo::run(demo::DemoArgs::default()),
        Some(Command::Demo(args)) => demo::run(args),
        Some(Command::Bench(args)) => bench::run(args),
        Some(Command::Check(args)) => check::run(args),
        Some(Command::History(args)) => history::run(args),
        Some(Command::Sim(args)) => sim::run(args),
        Some(Command::Soak(args)) => soak::run(args),
        Some(Command::StoreLoad(args)) => store_load::run(args),
        Some(Command::Serve(args)) => crate::serve::run(args),
        Some(Command::New(args)) => new::run(args),
        Some(Command::Deploy(args)) => client::deploy(args),
        Some(Command::Swap(args)) => client::swap(args),
        Some(Command::Undeploy(args)) => client::undeploy(args),
        Some(Command::Kill(args)) => client::kill(args),
        Some(Command::Handoff(args)) => client::hand_off(args),
        Some(Command::Drain(args)) => client::drain(args),
        Some(Command::Ls(args)) => client::ls(args),
        Some(Command::Logs(args)) => client::logs(args),
        Some(Command::Get(args)) => client::get(args),
        Some(Command::LsNodes(args)) => client::ls_nodes(args),
        Some(Command::Leader(args)) => client::leader(args),
        Some(Command::Hosts(args)) => client::hosts(args),
        Some(Command::EtcdCampaign(args)) => bench::cluster::campaign(args),
        Some(Command::HttpCampaign(args)) => bench::peers::http_campaign(args),
        Some(Command::ZkCampaign(args)) => bench::zookeeper::zk_campaign(args),
        Some(Command::Watch(args)) => client::watch(args),
        Some(Command::Elector(args)) => client::elector(args),
        Some(Command::Commit(args)) => client::commit(args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
