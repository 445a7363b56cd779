//! The `ballot` command line: one module per subcommand, each with its clap arguments and
//! a `run` function.

mod bench;
mod check;
mod demo;
mod demo_native;
mod history;
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
    /// Commit load against an embedded store (a helper of the crash tests).
    #[command(hide = true)]
    StoreLoad(store_load::StoreLoadArgs),
}

/// Parses the command line, runs the subcommand and turns its outcome into an exit code.
pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let outcome = match cli.command {
        None => demo::run(demo::DemoArgs::default()),
        Some(Command::Demo(args)) => demo::run(args),
        Some(Command::Bench(args)) => bench::run(args),
        Some(Command::Check(args)) => check::run(args),
        Some(Command::History(args)) => history::run(args),
        Some(Command::StoreLoad(args)) => store_load::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
