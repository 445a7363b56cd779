//! `ballot history FILE`: print a recorded history, or the part of it one cares about.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use ballot_check::history::{Filter, History, Op, OpType};

/// Arguments of `ballot history`.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The history: JSON lines in Jepsen's op shape (`-` reads standard input).
    pub file: PathBuf,
    /// Only these processes (repeatable).
    #[arg(long = "process", short = 'p', value_name = "N")]
    pub processes: Vec<u64>,
    /// Only these operation names (repeatable).
    #[arg(long = "f", value_name = "F")]
    pub fs: Vec<String>,
    /// Only these line types: invoke, ok, fail, info (repeatable).
    #[arg(long = "type", short = 't', value_name = "TYPE", value_parser = parse_type)]
    pub types: Vec<OpType>,
    /// Only ops touching these keys (repeatable; JSON or a bare string).
    #[arg(long = "key", short = 'k', value_name = "KEY")]
    pub keys: Vec<String>,
    /// Print the selected lines as JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `ballot history`.
pub fn run(args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let history = read(&args.file)?;
    let filter = Filter {
        processes: args.processes,
        fs: args.fs,
        types: args.types,
        keys: args.keys,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if !args.json {
        writeln!(
            out,
            "{:>6}  {:>14}  {:>7}  {:<6}  {:<12}  VALUE",
            "LINE", "TIME(ms)", "PROCESS", "TYPE", "F"
        )?;
    }
    for (index, op) in history.ops.iter().enumerate() {
        if !filter.matches(op) {
            continue;
        }
        if args.json {
            writeln!(out, "{}", op.to_line())?;
        } else {
            writeln!(out, "{}", table_row(history.line_of(index), op))?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Reads a history file, or standard input for `-`, with the path in errors: ballot's
/// JSON lines, Jepsen's EDN or Jepsen's log lines, told apart by their content. Skipped
/// nemesis ops are counted on standard error.
pub(super) fn read(path: &Path) -> anyhow::Result<History> {
    let (text, name) = if path == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text)
            .context("reading standard input")?;
        (text, "standard input".to_string())
    } else {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        (text, path.display().to_string())
    };
    let read =
        ballot_check::history::edn::parse_any(&text).with_context(|| format!("reading {name}"))?;
    if read.nemesis_ops > 0 {
        eprintln!(
            "{name}: skipped {} nemesis ops (faults, not client calls)",
            read.nemesis_ops
        );
    }
    Ok(read.history)
}

fn table_row(line: usize, op: &Op) -> String {
    let mut row = format!(
        "{line:>6}  {:>14.3}  {:>7}  {:<6}  {:<12}  {}",
        op.time as f64 / 1e6,
        op.process,
        op.kind.as_str(),
        op.f,
        op.value
    );
    for (key, value) in &op.extra {
        row.push_str(&format!("  {key}={value}"));
    }
    row
}

fn parse_type(word: &str) -> Result<OpType, String> {
    OpType::parse(word).ok_or_else(|| format!("{word:?} is not one of invoke, ok, fail, info"))
}
