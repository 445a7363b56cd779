//! `ballot history`: placeholder until histories land (issue 4).

use std::process::ExitCode;

/// Arguments of `ballot history`.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {}

/// Runs `ballot history`.
pub fn run(_args: HistoryArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("histories are not built yet")
}
