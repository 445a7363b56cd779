//! `ballot new candidate|observer|txn-fn NAME`: a ready component crate, from the same
//! templates the README shows, that builds with plain
//! `cargo build --target wasm32-wasip2` and deploys as it is. Nothing is overwritten: a
//! folder that exists already is refused.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

/// Arguments of `ballot new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// What to make.
    kind: Kind,
    /// The crate's name (and its folder's): lowercase letters, digits, `-` and `_`,
    /// starting with a letter.
    name: String,
    /// Where to create the folder.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// The guest SDK (`guest-sdk` of a ballot checkout) the crate depends on by path
    /// (default: the one this binary was built from, if it is still there).
    #[arg(long)]
    sdk: Option<PathBuf>,
}

/// The kinds of component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    /// Stands in an election; does leader-only work, fenced by its term.
    Candidate,
    /// Follows an election's leaders.
    Observer,
    /// Computes the operations of one commit from a snapshot (`POST /v1/txn-fns`).
    TxnFn,
}

impl Kind {
    /// The template's `src/lib.rs`. The candidate's is the README's, which a test keeps
    /// equal to a component the tests build and deploy.
    fn source(self) -> &'static str {
        match self {
            Kind::Candidate => {
                include_str!("../../../../components/readme-candidate/src/lib.rs")
            }
            Kind::Observer => include_str!("new/observer.rs.txt"),
            Kind::TxnFn => include_str!("new/txn_fn.rs.txt"),
        }
    }
}

/// The SDK this binary was built beside.
const BUILT_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../guest-sdk");

/// Runs `ballot new`.
pub fn run(args: NewArgs) -> anyhow::Result<ExitCode> {
    validate_name(&args.name)?;
    let sdk = match &args.sdk {
        Some(sdk) => sdk.clone(),
        None => PathBuf::from(BUILT_SDK),
    };
    let sdk = std::fs::canonicalize(&sdk)
        .ok()
        .filter(|sdk| sdk.join("Cargo.toml").is_file())
        .with_context(|| {
            format!(
                "no guest SDK at {}: pass --sdk PATH (the guest-sdk folder of a ballot checkout)",
                sdk.display()
            )
        })?;
    let root = args.dir.join(&args.name);
    if root.exists() {
        bail!("{} exists already; nothing was written", root.display());
    }
    write_crate(&root, &args.name, args.kind, &sdk)?;
    let artifact = args.name.replace('-', "_");
    let deploy = match args.kind {
        Kind::Candidate => format!(
            "ballot deploy target/wasm32-wasip2/debug/{artifact}.wasm --election app --name {}",
            args.name
        ),
        Kind::Observer => format!(
            "ballot deploy target/wasm32-wasip2/debug/{artifact}.wasm --role observer --election app --name {}",
            args.name
        ),
        Kind::TxnFn => format!(
            "curl -H \"Authorization: Bearer $BALLOT_TOKEN\" --data-binary @target/wasm32-wasip2/debug/{artifact}.wasm http://127.0.0.1:7420/v1/txn-fns"
        ),
    };
    println!(
        "created {} (a {}); next:\n  cd {}\n  cargo build --target wasm32-wasip2\n  {deploy}",
        root.display(),
        args.kind
            .to_possible_value()
            .map_or("component".into(), |v| v.get_name().to_string()),
        root.display(),
    );
    Ok(ExitCode::SUCCESS)
}

/// Refuses a name cargo would refuse, before anything is written.
fn validate_name(name: &str) -> anyhow::Result<()> {
    let valid = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        bail!(
            "{name:?} is not a crate name: use lowercase letters, digits, '-' and '_', starting with a letter (at most 64)"
        );
    }
    Ok(())
}

/// Writes the crate into `root`; on failure removes what it wrote.
fn write_crate(root: &Path, name: &str, kind: Kind, sdk: &Path) -> anyhow::Result<()> {
    let manifest = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

[lib]
crate-type = ["cdylib"]

[dependencies]
ballot-guest = {{ path = {sdk:?} }}
serde = {{ version = "1", features = ["derive"] }}

# A crate of its own, wherever it is created (even inside another workspace).
[workspace]
"#,
        sdk = sdk.display().to_string(),
    );
    let written = (|| -> std::io::Result<()> {
        std::fs::create_dir_all(root.join("src"))?;
        std::fs::write(root.join("Cargo.toml"), manifest)?;
        std::fs::write(root.join("src/lib.rs"), kind.source())?;
        std::fs::write(root.join(".gitignore"), "/target\n")?;
        Ok(())
    })();
    if let Err(error) = written {
        let _ = std::fs::remove_dir_all(root);
        return Err(error).with_context(|| format!("writing {}", root.display()));
    }
    Ok(())
}
