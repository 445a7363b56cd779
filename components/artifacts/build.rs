//! Builds every component under `components/` for wasm32-wasip2 and generates constants
//! with the paths of the `.wasm` files (the way wasmtime's test-programs artifacts do).
//!
//! The components are one cargo workspace (`components/Cargo.toml`), built by one inner
//! `cargo build` into a target dir of its own (see [`inner_target_dir`]), so the inner
//! build never waits on the outer build's lock, and dependencies are built once for all
//! components.

use std::collections::BTreeSet;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[path = "polyglot.rs"]
mod polyglot;

const TARGET: &str = "wasm32-wasip2";

/// One component crate under `components/`.
struct Component {
    /// The package name, e.g. `example-candidate`.
    package: String,
    /// The package description, used as the constant's doc.
    description: String,
    /// Where the built component lands.
    wasm: PathBuf,
}

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let components_dir = manifest_dir.parent().unwrap().to_path_buf();
    let repo_dir = components_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let target_dir = inner_target_dir(&out_dir);

    ensure_target_installed();

    let components = discover(&components_dir, &target_dir);
    build(&components_dir, &target_dir);

    let mut deps = BTreeSet::new();
    for component in &components {
        if !component.wasm.is_file() {
            panic!(
                "components/{0} was not built: add \"{0}\" to the members of \
                 components/Cargo.toml",
                component.package
            );
        }
        check_is_component(&component.wasm);
        read_dep_info(&component.wasm.with_extension("d"), &mut deps);
    }

    // Sources come from the dep-info files; manifests, lock files and the WIT directory
    // (a new .wit file is not in any dep-info until something uses it) are added here.
    deps.insert(components_dir.join("Cargo.toml"));
    deps.insert(components_dir.join("Cargo.lock"));
    deps.insert(repo_dir.join("Cargo.toml"));
    deps.insert(repo_dir.join("guest-sdk/Cargo.toml"));
    deps.insert(repo_dir.join("wit"));
    for component in &components {
        deps.insert(components_dir.join(&component.package).join("Cargo.toml"));
    }
    for dep in &deps {
        println!("cargo:rerun-if-changed={}", dep.display());
    }
    println!("cargo:rerun-if-env-changed=RUSTFLAGS");

    let (foreign, watch) = polyglot::build_all(&repo_dir, &target_dir.join("polyglot"));
    for path in watch {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    for outcome in &foreign {
        if let polyglot::Outcome::Built(wasm) = outcome {
            check_is_component(wasm);
        }
    }

    let mut code = generate(&components);
    code.push_str(&generate_foreign(&foreign));
    fs::write(out_dir.join("components.rs"), code).unwrap();
}

/// Where the inner build puts its output: `<outer target>/<profile>/ballot-components`.
///
/// `OUT_DIR` differs between `cargo build`, `cargo test` and `cargo clippy` of this crate
/// (each runs the build script as its own unit), and a full components build costs
/// minutes and 300 MB, so every run for one outer target dir and profile shares this
/// directory (concurrent runs take turns on its lock). Falls back to `$OUT_DIR/target`
/// if `OUT_DIR` does not have cargo's usual `<profile>/build/<unit>/out` shape.
fn inner_target_dir(out_dir: &Path) -> PathBuf {
    let build_dir = out_dir.parent().and_then(Path::parent);
    match build_dir {
        Some(build) if build.file_name().is_some_and(|n| n == "build") => {
            build.parent().unwrap().join("ballot-components")
        }
        _ => out_dir.join("target"),
    }
}

/// Finds the component crates: every directory of `components/` with a Cargo.toml, except
/// this crate.
fn discover(components_dir: &Path, target_dir: &Path) -> Vec<Component> {
    let mut components = Vec::new();
    for entry in fs::read_dir(components_dir).unwrap() {
        let dir = entry.unwrap().path();
        let manifest = dir.join("Cargo.toml");
        if dir.file_name().is_some_and(|n| n == "artifacts") || !manifest.is_file() {
            continue;
        }
        let text = fs::read_to_string(&manifest).unwrap();
        let package = manifest_field(&text, "name")
            .unwrap_or_else(|| panic!("{} has no package name", manifest.display()));
        let description = manifest_field(&text, "description").unwrap_or_default();
        let wasm = target_dir
            .join(TARGET)
            .join("debug")
            .join(format!("{}.wasm", package.replace('-', "_")));
        components.push(Component {
            package,
            description,
            wasm,
        });
    }
    components.sort_by(|a, b| a.package.cmp(&b.package));
    components
}

/// The value of the first `key = "value"` line of a manifest (enough for `[package]`
/// name and description, which come first in ours).
fn manifest_field(manifest: &str, key: &str) -> Option<String> {
    manifest.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Runs the inner `cargo build` of the components workspace.
fn build(components_dir: &Path, target_dir: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--workspace")
        .arg("--target")
        .arg(TARGET)
        .arg("--manifest-path")
        .arg(components_dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        // The component crates are small and rebuilt whole; incremental state would only
        // take disk space.
        .env("CARGO_INCREMENTAL", "0");
    // What the outer cargo (or the user, for the host) set must not reach the inner build:
    // host rustflags (coverage, target-cpu, ...) would break or rebuild the wasm code, a
    // clippy wrapper would turn it into a lint run, and a target dir would override ours.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "__CARGO_DEFAULT_LIB_METADATA",
    ] {
        cmd.env_remove(var);
    }
    // Keep a warnings-as-errors policy (CI may set it) for the components too.
    if env::var("RUSTFLAGS").is_ok_and(|f| f.contains("-D warnings") || f.contains("-Dwarnings")) {
        cmd.env("RUSTFLAGS", "-D warnings");
    }
    // Anything the inner cargo prints goes to stderr: a build script's stdout is read as
    // instructions to cargo.
    cmd.stdout(Stdio::from(std::io::stderr()));
    eprintln!("running: {cmd:?}");
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo for the components: {e}"));
    assert!(
        status.success(),
        "building the components for {TARGET} failed ({status}); see the output above"
    );
}

/// Makes sure the standard library for wasm32-wasip2 is installed, adding it with rustup
/// when missing: rustup's auto-install is off on our machines (RUSTUP_AUTO_INSTALL=0).
fn ensure_target_installed() {
    if target_installed() {
        return;
    }
    println!("cargo:warning=the {TARGET} target is missing; running `rustup target add {TARGET}`");
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", TARGET]);
    if let Ok(toolchain) = env::var("RUSTUP_TOOLCHAIN") {
        rustup.args(["--toolchain", &toolchain]);
    }
    rustup.stdout(Stdio::from(std::io::stderr()));
    let outcome = rustup.status();
    match outcome {
        Ok(status) if status.success() && target_installed() => {}
        Ok(status) => panic!(
            "the {TARGET} target is not installed and `rustup target add {TARGET}` failed \
             ({status}); install it by hand (`rustup target add {TARGET}`) and build again"
        ),
        Err(e) => panic!(
            "the {TARGET} target is not installed and rustup could not be run ({e}); \
             install the target for this toolchain by hand and build again"
        ),
    }
}

/// Whether the sysroot of the rustc cargo uses has a standard library for [`TARGET`].
fn target_installed() -> bool {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {rustc:?} --print sysroot: {e}"));
    assert!(output.status.success(), "{rustc:?} --print sysroot failed");
    let sysroot = String::from_utf8(output.stdout).unwrap();
    let lib = Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(TARGET)
        .join("lib");
    fs::read_dir(lib).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("libstd-") && name.ends_with(".rlib")
        })
    })
}

/// Panics unless `wasm` is a component (version 0x0d, layer 1), not a core module.
fn check_is_component(wasm: &Path) {
    let bytes = fs::read(wasm).unwrap();
    assert!(
        bytes.starts_with(b"\0asm\x0d\0\x01\0"),
        "{} is not a wasm component (header {:02x?})",
        wasm.display(),
        &bytes[..bytes.len().min(8)]
    );
}

/// Adds every file listed in a makefile-style dep-info file to `deps`.
fn read_dep_info(path: &Path, deps: &mut BTreeSet<PathBuf>) {
    let text = fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read dep-info {}: {e}", path.display()));
    for line in text.lines() {
        // `target: dep dep ...`; a space inside a path is escaped as `\ `.
        let Some((_, files)) = line.split_once(": ") else {
            continue;
        };
        let mut current = String::new();
        for word in files.split(' ') {
            if let Some(stem) = word.strip_suffix('\\') {
                current.push_str(stem);
                current.push(' ');
                continue;
            }
            current.push_str(word);
            if !current.is_empty() {
                deps.insert(PathBuf::from(std::mem::take(&mut current)));
            }
        }
    }
}

/// The generated module: one constant per component and `foreach_component!`.
fn generate(components: &[Component]) -> String {
    let mut code = String::new();
    for c in components {
        let constant = c.package.to_uppercase().replace('-', "_");
        writeln!(code, "/// `components/{}`: {}.", c.package, c.description).unwrap();
        writeln!(
            code,
            "pub const {constant}: &str = {:?};",
            c.wasm.display().to_string()
        )
        .unwrap();
    }
    writeln!(
        code,
        "/// Every component, as (package name, path of the .wasm file)."
    )
    .unwrap();
    writeln!(code, "pub const ALL: &[(&str, &str)] = &[").unwrap();
    for c in components {
        let constant = c.package.to_uppercase().replace('-', "_");
        writeln!(code, "    ({:?}, {constant}),", c.package).unwrap();
    }
    writeln!(code, "];").unwrap();
    writeln!(
        code,
        "/// Calls `$mac!(name)` once per component, with the package name in snake case \
         (e.g. `example_candidate`); the matching constant is its upper-case form."
    )
    .unwrap();
    writeln!(code, "#[macro_export]\nmacro_rules! foreach_component {{").unwrap();
    writeln!(code, "    ($mac:ident) => {{").unwrap();
    for c in components {
        writeln!(code, "        $mac!({});", c.package.replace('-', "_")).unwrap();
    }
    writeln!(code, "    }};\n}}").unwrap();
    code
}

/// One [`Polyglot`] constant per foreign-language component: its path, or why it was not
/// built.
fn generate_foreign(outcomes: &[polyglot::Outcome]) -> String {
    let mut code = String::new();
    for (foreign, outcome) in polyglot::FOREIGN.iter().zip(outcomes) {
        writeln!(code, "/// `{}`: {}.", foreign.source, foreign.description).unwrap();
        let value = match outcome {
            polyglot::Outcome::Built(wasm) => {
                format!("Polyglot::Built({:?})", wasm.display().to_string())
            }
            polyglot::Outcome::Missing(why) => format!("Polyglot::Missing({why:?})"),
        };
        writeln!(code, "pub const {}: Polyglot = {value};", foreign.constant).unwrap();
    }
    code
}
