//! Builds the Python and JavaScript components (with componentize-py and componentize-js)
//! when their toolchains are present, and says why not when they are not.
//!
//! Each build takes 10-15 s of CPU, and the build script runs again whenever a Rust
//! component changes, so a component is rebuilt only when a stamp of its inputs (its
//! source, the SDK, the WIT, the tool's version) differs from the one it was built with.
//! The builds of one run go side by side, as separate processes.

use std::collections::BTreeSet;
use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The Python toolchain the README and `.ci/run` install.
const PYTHON_SETUP: &str = "pip install -r sdk/python/requirements.txt";
/// The JavaScript toolchain the README and `.ci/run` install.
const JS_SETUP: &str = "npm ci --prefix sdk/js";

/// A language's components.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Python,
    JavaScript,
}

/// One foreign-language component.
pub struct Foreign {
    /// The constant's name, e.g. `PYTHON_CANDIDATE`.
    pub constant: &'static str,
    /// What it is, for the constant's doc.
    pub description: &'static str,
    pub language: Language,
    /// The world it targets.
    pub world: &'static str,
    /// Its source module, relative to the repository.
    pub source: &'static str,
}

/// Every foreign-language component the tests and benchmarks use.
pub const FOREIGN: &[Foreign] = &[
    Foreign {
        constant: "PYTHON_CANDIDATE",
        description: "the example candidate in Python (examples/python-candidate)",
        language: Language::Python,
        world: "candidate",
        source: "examples/python-candidate/worker.py",
    },
    Foreign {
        constant: "PYTHON_MISBEHAVING",
        description: "a Python candidate that raises, loops forever or refuses in on_winning_election, as its ballot data says",
        language: Language::Python,
        world: "candidate",
        source: "components/polyglot/python/misbehaving.py",
    },
    Foreign {
        constant: "PYTHON_OBSERVER",
        description: "a Python observer that logs every leader and every death",
        language: Language::Python,
        world: "observer",
        source: "components/polyglot/python/observer.py",
    },
    Foreign {
        constant: "PYTHON_TXN",
        description: "a Python transaction function: `count PATH` increments a decimal counter",
        language: Language::Python,
        world: "txn-fn",
        source: "components/polyglot/python/counter.py",
    },
    Foreign {
        constant: "PYTHON_SURFACE",
        description: "a Python candidate that calls every kind of host import once when it wins and logs the answers",
        language: Language::Python,
        world: "candidate",
        source: "components/polyglot/python/surface.py",
    },
    Foreign {
        constant: "JS_CANDIDATE",
        description: "the example candidate in JavaScript (examples/js-candidate)",
        language: Language::JavaScript,
        world: "candidate",
        source: "examples/js-candidate/worker.js",
    },
    Foreign {
        constant: "JS_MISBEHAVING",
        description: "a JavaScript candidate that throws, loops forever or refuses in onWinningElection, as its ballot data says",
        language: Language::JavaScript,
        world: "candidate",
        source: "components/polyglot/js/misbehaving.js",
    },
    Foreign {
        constant: "JS_OBSERVER",
        description: "a JavaScript observer that logs every leader and every death",
        language: Language::JavaScript,
        world: "observer",
        source: "components/polyglot/js/observer.js",
    },
    Foreign {
        constant: "JS_TXN",
        description: "a JavaScript transaction function: `count PATH` increments a decimal counter",
        language: Language::JavaScript,
        world: "txn-fn",
        source: "components/polyglot/js/counter.js",
    },
    Foreign {
        constant: "JS_SURFACE",
        description: "a JavaScript candidate that calls every kind of host import once when it wins and logs the answers",
        language: Language::JavaScript,
        world: "candidate",
        source: "components/polyglot/js/surface.js",
    },
];

/// What became of one foreign component: built at this path, or why not.
pub enum Outcome {
    Built(PathBuf),
    Missing(String),
}

/// Builds every component in [`FOREIGN`] whose toolchain is present into `out_dir`, and
/// says (as a cargo warning) which toolchain is missing and how to install it. Returns
/// one outcome per component, in [`FOREIGN`]'s order, and the paths to watch for changes.
pub fn build_all(repo: &Path, out_dir: &Path) -> (Vec<Outcome>, Vec<PathBuf>) {
    fs::create_dir_all(out_dir).unwrap();
    let python = python_toolchain(out_dir);
    let javascript = js_toolchain(repo);
    for (name, toolchain) in [("Python", &python), ("JavaScript", &javascript)] {
        if let Err(why) = toolchain {
            println!("cargo:warning={name} components are not built: {why}");
        }
    }
    // What to watch for changes: every component's inputs, file by file (cargo scans a
    // watched directory whole, `sdk/js/node_modules` holds hundreds of MB, and
    // componentize-py leaves a `__pycache__` beside the sources it bundles, whatever
    // PYTHONDONTWRITEBYTECODE says, which must not make the next build run again).
    let mut watch: BTreeSet<PathBuf> = FOREIGN
        .iter()
        .flat_map(|foreign| inputs_of(repo, foreign))
        .collect();
    // Installing a toolchain after a build without it makes the next build use it.
    let installed = repo.join("sdk/js/node_modules/@bytecodealliance/componentize-js/package.json");
    if installed.is_file() {
        watch.insert(installed);
    }

    let mut running: Vec<(usize, Child, PathBuf, String)> = Vec::new();
    let mut outcomes: Vec<Option<Outcome>> = FOREIGN.iter().map(|_| None).collect();
    for (index, foreign) in FOREIGN.iter().enumerate() {
        let toolchain = match foreign.language {
            Language::Python => &python,
            Language::JavaScript => &javascript,
        };
        let toolchain = match toolchain {
            Ok(toolchain) => toolchain,
            Err(why) => {
                outcomes[index] = Some(Outcome::Missing(why.clone()));
                continue;
            }
        };
        let wasm = out_dir.join(format!("{}.wasm", foreign.constant.to_lowercase()));
        let stamp = stamp(toolchain, foreign, &inputs_of(repo, foreign));
        let stamp_file = wasm.with_extension("stamp");
        if wasm.is_file() && fs::read_to_string(&stamp_file).is_ok_and(|s| s == stamp) {
            outcomes[index] = Some(Outcome::Built(wasm));
            continue;
        }
        let _ = fs::remove_file(&stamp_file);
        let mut command = toolchain.command(repo, foreign, &wasm, out_dir);
        command.stdout(Stdio::from(std::io::stderr()));
        eprintln!("running: {command:?}");
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run the build of {}: {e}", foreign.source));
        running.push((index, child, wasm, stamp));
    }
    for (index, mut child, wasm, stamp) in running {
        let status = child.wait().unwrap();
        let foreign = &FOREIGN[index];
        assert!(
            status.success() && wasm.is_file(),
            "building {} ({}) failed ({status}); see the output above",
            foreign.source,
            foreign.world
        );
        fs::write(wasm.with_extension("stamp"), stamp).unwrap();
        outcomes[index] = Some(Outcome::Built(wasm));
    }
    let outcomes = outcomes.into_iter().map(Option::unwrap).collect();
    (outcomes, watch.into_iter().collect())
}

/// A found toolchain: how to run it, and its version (part of every stamp).
pub struct Toolchain {
    language: Language,
    version: String,
}

impl Toolchain {
    fn command(&self, repo: &Path, foreign: &Foreign, wasm: &Path, out_dir: &Path) -> Command {
        let source = repo.join(foreign.source);
        match self.language {
            Language::Python => {
                let mut command = Command::new("componentize-py");
                let module = source.file_stem().unwrap().to_str().unwrap();
                command
                    .arg("-q")
                    .arg("-d")
                    .arg(repo.join("wit"))
                    .arg("-w")
                    .arg(foreign.world)
                    .arg("componentize")
                    .arg(module)
                    .arg("-p")
                    .arg(source.parent().unwrap())
                    .arg("-p")
                    .arg(repo.join("sdk/python"))
                    .arg("-p")
                    .arg(out_dir.join("pydeps"))
                    .arg("-o")
                    .arg(wasm)
                    // componentize-py adds the user's site-packages when it finds no
                    // virtual environment; an empty one keeps these paths all it sees.
                    .env("VIRTUAL_ENV", out_dir.join("no-venv"));
                command
            }
            Language::JavaScript => {
                let mut command = Command::new("node");
                command
                    .arg(repo.join("sdk/js/bin/componentize.mjs"))
                    .arg("--wit")
                    .arg(repo.join("wit"))
                    .arg("--world")
                    .arg(foreign.world)
                    .arg(&source)
                    .arg("-o")
                    .arg(wasm);
                command
            }
        }
    }
}

/// componentize-py and a pure-Python cbor2 (copied alone into `out_dir/pydeps`, so the
/// component bundles it and nothing else of site-packages).
fn python_toolchain(out_dir: &Path) -> Result<Toolchain, String> {
    let version = run("componentize-py", &["--version"]).map_err(|e| {
        format!("componentize-py not found ({e}); install it with `{PYTHON_SETUP}`")
    })?;
    if !version.contains("0.25") {
        return Err(format!(
            "componentize-py 0.25 is needed, found {version}; `{PYTHON_SETUP}`"
        ));
    }
    let cbor2 = run(
        "python3",
        &[
            "-c",
            "import cbor2, os; print(os.path.dirname(cbor2.__file__))",
        ],
    )
    .map_err(|e| format!("the cbor2 package is not installed ({e}); `{PYTHON_SETUP}`"))?;
    let cbor2 = PathBuf::from(cbor2.trim());
    if !cbor2.join("_encoder.py").is_file() {
        return Err(format!(
            "the installed cbor2 ({}) has no pure-Python implementation (cbor2 6 is native \
             only); `{PYTHON_SETUP}` installs 5.6.5",
            cbor2.display()
        ));
    }
    let _ = fs::create_dir_all(out_dir.join("no-venv/lib/python3/site-packages"));
    let deps = out_dir.join("pydeps/cbor2");
    let _ = fs::remove_dir_all(&deps);
    fs::create_dir_all(&deps).unwrap();
    let mut cbor2_version = String::new();
    for entry in fs::read_dir(&cbor2).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "py" || e == "typed") {
            cbor2_version.push_str(&fs::read_to_string(&path).unwrap_or_default());
            fs::copy(&path, deps.join(entry.file_name())).unwrap();
        }
    }
    let mut hasher = DefaultHasher::new();
    cbor2_version.hash(&mut hasher);
    Ok(Toolchain {
        language: Language::Python,
        version: format!("{} cbor2:{:x}", version.trim(), hasher.finish()),
    })
}

/// Node.js and the SDK's installed packages (componentize-js, rolldown, cborg).
fn js_toolchain(repo: &Path) -> Result<Toolchain, String> {
    let node = run("node", &["--version"]).map_err(|e| {
        format!("node not found ({e}); install Node.js 20 or later, then `{JS_SETUP}`")
    })?;
    let installed = repo.join("sdk/js/node_modules/@bytecodealliance/componentize-js/package.json");
    let package = fs::read_to_string(&installed).map_err(|_| {
        format!("the JavaScript SDK's packages are not installed; run `{JS_SETUP}`")
    })?;
    let componentize_js = package
        .lines()
        .find(|line| line.trim_start().starts_with("\"version\""))
        .unwrap_or_default()
        .trim()
        .to_string();
    Ok(Toolchain {
        language: Language::JavaScript,
        version: format!("node {} componentize-js {componentize_js}", node.trim()),
    })
}

/// The files one component's build reads: what its stamp covers and the build watches.
fn inputs_of(repo: &Path, foreign: &Foreign) -> Vec<PathBuf> {
    let mut files = vec![repo.join(foreign.source)];
    files.extend(sdk_files(&repo.join("wit"), "wit"));
    match foreign.language {
        Language::Python => {
            files.extend(sdk_files(&repo.join("sdk/python/ballot"), "py"));
            files.push(repo.join("sdk/python/requirements.txt"));
        }
        Language::JavaScript => {
            files.extend(sdk_files(&repo.join("sdk/js"), "js"));
            files.extend(sdk_files(&repo.join("sdk/js/bin"), "mjs"));
            files.push(repo.join("sdk/js/package-lock.json"));
        }
    }
    files
}

/// What a build depends on, as one string: the tool's version, the world, and every
/// input file's name and contents.
fn stamp(toolchain: &Toolchain, foreign: &Foreign, inputs: &[PathBuf]) -> String {
    let mut hasher = DefaultHasher::new();
    toolchain.version.hash(&mut hasher);
    foreign.world.hash(&mut hasher);
    for input in inputs {
        input.hash(&mut hasher);
        fs::read(input).unwrap_or_default().hash(&mut hasher);
    }
    format!("{:016x}", hasher.finish())
}

/// The files with `extension` directly in `dir`, sorted.
fn sdk_files(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    files
}

/// Runs `program` with `args` and returns its stdout, or why it could not.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&output.stdout).to_string())
}
