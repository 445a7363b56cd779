//! `ballot demo`.

use std::process::ExitCode;

/// Arguments of `ballot demo`.
#[derive(Debug, Default, clap::Args)]
pub struct DemoArgs {}

/// Runs the demo.
pub fn run(_args: DemoArgs) -> anyhow::Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}
