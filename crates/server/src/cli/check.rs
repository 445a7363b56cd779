//! `ballot check FILE --model M`: is a recorded history linearizable?
//!
//! Exit code 0 when it is, 1 when it is not (with the longest linearizable prefix and
//! the ops that could not follow it), 2 when a budget ran out or the file is malformed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use ballot_check::{Budget, Exhausted, ModelKind, Report, Verdict, check, render_svg};

/// Arguments of `ballot check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The history: JSON lines in Jepsen's op shape, Jepsen's EDN, or Jepsen's log lines
    /// (`-` reads standard input). Several files (the histories of several hosts, timed
    /// by one clock) are merged by time. A folder checks every file in it, one by one,
    /// and prints a table.
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// The model: register, cas-register, kv, kv-append, multi, mutex, set, fifo-queue,
    /// unordered-queue, leadership or leadership-exclusive.
    #[arg(long, short)]
    pub model: ModelKind,
    /// Give up with "unknown" (exit 2) after this long, e.g. 30s, 2m, 500ms.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    pub time_limit: Duration,
    /// Give up with "unknown" (exit 2) when the search's cache outgrows this, e.g. 512MiB.
    #[arg(long, default_value = "2GiB", value_parser = parse_bytes)]
    pub memory_limit: usize,
    /// Worker threads for a history that splits by key (`kv`, `kv-append`): 0 for one
    /// per core. The verdict does not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// On a violation, also draw it as an SVG picture at this path.
    #[arg(long, value_name = "PATH")]
    pub svg: Option<PathBuf>,
}

/// Runs `ballot check`.
pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let budget = Budget {
        time: args.time_limit,
        memory: args.memory_limit,
        threads: args.threads,
    };
    if let [folder] = &args.files[..]
        && folder.is_dir()
    {
        return check_folder(folder, args.model, &budget);
    }
    let history = merged(&args.files)?;
    let report = check(&history, args.model, &budget)
        .with_context(|| format!("checking {}", names(&args.files)))?;
    print!("{}", render(&report, &budget));
    if let (Verdict::NotLinearizable(violation), Some(path)) = (&report.verdict, &args.svg) {
        std::fs::write(path, render_svg(violation))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("picture: {}", path.display());
    }
    Ok(ExitCode::from(report.verdict.exit_code()))
}

/// Checks every file in `folder` (sorted by name) against `model`, each with the whole
/// budget, and prints one row per file: its verdict, calls and time. The exit code is
/// the worst verdict's: a violation (1) over an unknown or unreadable file (2) over
/// linearizable (0).
fn check_folder(folder: &Path, model: ModelKind, budget: &Budget) -> anyhow::Result<ExitCode> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .with_context(|| format!("reading {}", folder.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    anyhow::ensure!(!files.is_empty(), "{} holds no files", folder.display());
    let width = files
        .iter()
        .map(|f| f.file_name().map_or(0, |n| n.to_string_lossy().len()))
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "{:<width$}  {:<18}  {:>9}  {:>9}",
        "file", "verdict", "calls", "seconds"
    );
    let mut worst = 0u8;
    for file in &files {
        let name = file
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let (verdict, calls, seconds, code) = match super::history::read(file)
            .map_err(|e| format!("{e:#}"))
            .and_then(|history| check(&history, model, budget).map_err(|e| e.to_string()))
        {
            Ok(report) => {
                let word = match report.verdict {
                    Verdict::Linearizable => "linearizable",
                    Verdict::NotLinearizable(_) => "not linearizable",
                    Verdict::Unknown(_) => "unknown",
                };
                (
                    word.to_string(),
                    report.stats.calls.to_string(),
                    format!("{:.3}", report.stats.elapsed.as_secs_f64()),
                    report.verdict.exit_code(),
                )
            }
            Err(why) => (format!("unreadable: {why}"), "-".into(), "-".into(), 2),
        };
        println!("{name:<width$}  {verdict:<18}  {calls:>9}  {seconds:>9}");
        worst = match (worst, code) {
            (1, _) | (_, 1) => 1,
            (a, b) => a.max(b),
        };
    }
    Ok(ExitCode::from(worst))
}

/// The histories in `files`, as one: every op of each, in time order (a file's own
/// order kept among equal times).
fn merged(files: &[PathBuf]) -> anyhow::Result<ballot_check::history::History> {
    if let [one] = files {
        return super::history::read(one);
    }
    let mut ops = Vec::new();
    for file in files {
        ops.extend(super::history::read(file)?.ops);
    }
    ops.sort_by_key(|op| op.time);
    ballot_check::history::History::from_ops(ops)
        .with_context(|| format!("merging {}", names(files)))
}

fn names(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The verdict line, the statistics line and, for a violation, its account.
fn render(report: &Report, budget: &Budget) -> String {
    let mut out = match &report.verdict {
        Verdict::Linearizable => "linearizable\n".to_string(),
        Verdict::NotLinearizable(_) => "not linearizable\n".to_string(),
        Verdict::Unknown(Exhausted::Time) => format!(
            "unknown: the time limit of {:?} ran out (raise --time-limit)\n",
            budget.time
        ),
        Verdict::Unknown(Exhausted::Memory) => format!(
            "unknown: the search outgrew the memory limit of {} bytes (raise --memory-limit)\n",
            budget.memory
        ),
    };
    let s = &report.stats;
    out.push_str(&format!(
        "model {}: {} calls ({} failed, unknown outcome: {} pruned, {} promoted, {} open), {} part(s), {} configurations, peak ~{:.1} MiB, {:.3} s\n",
        report.model,
        s.calls,
        s.failed,
        s.pruned,
        s.promoted,
        s.open,
        s.partitions,
        s.configurations,
        s.peak_bytes as f64 / f64::from(1u32 << 20),
        s.elapsed.as_secs_f64()
    ));
    if let Verdict::NotLinearizable(violation) = &report.verdict {
        out.push('\n');
        out.push_str(&violation.render_text());
    }
    out
}

/// Splits `12.5unit` into its number and its unit; `expected` describes a valid value.
fn number_and_unit<'a>(text: &'a str, expected: &str) -> Result<(f64, &'a str), String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number = number
        .parse()
        .map_err(|_| format!("{text:?} is not {expected}"))?;
    Ok((number, unit))
}

/// `500ms`, `30s`, `2m`, `1h`, or plain seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = number_and_unit(text, "a duration like 30s, 2m or 500ms")?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        other => return Err(format!("unknown time unit {other:?} (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

/// `512MiB`, `2GiB`, `100MB`, `64k`, or plain bytes.
fn parse_bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let (number, unit) = number_and_unit(text, "a size like 512MiB or 2GiB")?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown size unit {other:?} (use B, KiB, MiB, GiB)"
            ));
        }
    };
    Ok((number * scale) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_parse() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_bytes("2GiB"), Ok(2 << 30));
        assert_eq!(parse_bytes("100MB"), Ok(100_000_000));
        assert!(parse_bytes("lots").is_err());
    }
}
