//! `ballot check`: placeholder until the checker lands (issue 4).

use std::process::ExitCode;

/// Arguments of `ballot check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {}

/// Runs `ballot check`.
pub fn run(_args: CheckArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the checker is not built yet")
}
