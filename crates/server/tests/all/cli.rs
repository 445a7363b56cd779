//! The `ballot` binary as a user runs it: a real process, its output, its exit code.

use std::process::Command;

/// Runs the `ballot` binary: whether it succeeded, its stdout, its stderr.
pub(crate) fn ballot(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ballot"))
        .args(args)
        .output()
        .expect("the ballot binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_default_command_runs_components_and_prints_the_failover() {
    let (ok, stdout, stderr) = ballot(&[]);
    assert!(ok, "{stderr}");
    let position = |needle: &str| {
        stdout
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing from:\n{stdout}"))
    };
    let alpha_acks = position("alpha      ack asserted under term");
    let bravo_loses = position("bravo      <- on-losing-election(leader term");
    let undeployed = position("-- the leader is undeployed");
    let death = position("dashboard  <- on-leaders-death");
    let bravo_wins = position("bravo      <- on-winning-election");
    assert!(
        alpha_acks < bravo_loses && bravo_loses < undeployed,
        "{stdout}"
    );
    // The observer's death notice and the successor's win go to two actors that run
    // independently, so either may be recorded first; both follow the undeploy.
    assert!(undeployed < death && undeployed < bravo_wins, "{stdout}");
    let swapped = position("-- the leader is hot-swapped to v2");
    let activated = position("bravo      hot-swapped: activated");
    assert!(bravo_wins < swapped && swapped < activated, "{stdout}");
    assert!(
        !stdout[swapped..].contains("dashboard  <-"),
        "the observer hears nothing of the swap:\n{stdout}"
    );
    assert!(
        stdout.contains("example-candidate v1 leads under term"),
        "guest logs shown"
    );
    assert!(
        stdout.contains("Text(\"example-candidate-v2\")"),
        "v2 wrote the record"
    );
}

#[test]
fn the_native_demo_prints_the_election_timeline() {
    let (ok, stdout, stderr) = ballot(&["demo", "--native"]);
    assert!(ok, "{stderr}");
    let position = |needle: &str| {
        stdout
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing from:\n{stdout}"))
    };
    // The leader's death: deposed, then the observer hears, then the successor wins.
    let deposed = position("alpha     deposed: term 1");
    let death = position("dashboard <- on-leaders-death(term 1)");
    let bravo_wins = position("bravo     <- on-winning-election(term 3)");
    assert!(deposed < death && death < bravo_wins);
    // The middle candidate's death moved one watch and told nobody anything.
    let charlie_expiry = position("charlie   session s3 expired");
    let rewatch = position("delta     watches b-0000000001 (bravo)");
    assert!(charlie_expiry < rewatch && rewatch < deposed);
    assert!(stdout.contains(
        "bravo     guarded multi under term 3 refused: not the leader: the current term is 5"
    ));
    assert!(stdout.contains("leader now: delta (term 5"));
}

#[test]
fn bad_arguments_get_a_clear_error() {
    let (ok, _, stderr) = ballot(&["demo", "--native", "--ttl-ms", "10"]);
    assert!(!ok);
    assert!(stderr.contains("--ttl-ms must exceed"), "{stderr}");
    let (ok, _, stderr) = ballot(&["sim", "--shared-log", "3", "--planted", "ack-before-sync"]);
    assert!(!ok);
    assert!(stderr.contains("shared log do not use"), "{stderr}");
    let (ok, _, stderr) = ballot(&["no-such-command"]);
    assert!(!ok);
    assert!(stderr.contains("unrecognized subcommand"), "{stderr}");
}

#[test]
fn bench_runs_and_ends_with_one_summary_line_per_figure() {
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let dir = scratch.path().to_str().unwrap();
    let foundation = [
        "bench",
        "foundation",
        "--ops",
        "2000",
        "--candidates",
        "200",
        "--failovers",
        "50",
    ];
    check_summaries(&foundation, 7);
    let store = [
        "bench",
        "store",
        "--seconds",
        "0.2",
        "--dir",
        dir,
        "--restart-commits",
        "2000",
    ];
    check_summaries(&store, 11);
    check_summaries(&["bench", "handoff", "--rounds", "5"], 2);
}

/// `bench peers` measures ballot beside etcd and ZooKeeper on the same guarded writes and
/// failovers, and ends with one summary line per figure against the best peer, then the
/// bare HTTP handler's ceiling on the same machine. etcd and
/// ZooKeeper (Debian's `etcd-server` and `zookeeper`) are installed by `.ci/run`;
/// elsewhere a machine without them skips this test with the reason.
#[test]
fn bench_peers_puts_ballot_beside_etcd_and_zookeeper() {
    let installed = |tool: &str| {
        std::process::Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|out| out.status.success())
    };
    let missing: Vec<&str> = [
        (
            "zookeeper",
            std::path::Path::new("/usr/share/java/zookeeper.jar").exists(),
        ),
        ("etcd-server", installed("etcd")),
    ]
    .into_iter()
    .filter_map(|(package, present)| (!present).then_some(package))
    .collect();
    if !missing.is_empty() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install {missing:?} (.ci/run does)"
        );
        eprintln!("skipped: not installed: {missing:?} (apt-get install them)");
        return;
    }
    let args = ["bench", "peers", "--seconds", "0.3", "--trials", "1"];
    // Six figures against the best peer, and the bare HTTP ceiling at 16 and 64 clients.
    let stdout = check_summaries(&args, 8);
    assert!(
        stdout.contains("SUMMARY http_ceiling_64_clients "),
        "no ceiling line:\n{stdout}"
    );
    let header = stdout
        .lines()
        .find(|l| l.starts_with("| figure |"))
        .unwrap_or_else(|| panic!("no table:\n{stdout}"));
    assert_eq!(header, "| figure | ballot | etcd | zookeeper |");
    let failover = stdout
        .lines()
        .find(|l| l.starts_with("| failover after kill -9, p50"))
        .unwrap_or_else(|| panic!("no failover row:\n{stdout}"));
    let cells: Vec<&str> = failover.split('|').map(str::trim).collect();
    assert!(
        cells[2..5]
            .iter()
            .all(|c| c.parse::<f64>().is_ok_and(|ms| ms > 0.0)),
        "every system failed over: {failover}"
    );
}

/// Runs `ballot ARGS`, checks that it ends with `figures` well-formed summary lines,
/// and returns what it printed.
fn check_summaries(args: &[&str], figures: usize) -> String {
    let (ok, stdout, stderr) = ballot(args);
    assert!(ok, "{stderr}");
    let summaries: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("SUMMARY "))
        .collect();
    assert_eq!(summaries.len(), figures, "{stdout}");
    for line in summaries {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields.len(), 6, "{line}");
        assert!(fields[2].parse::<f64>().unwrap() > 0.0, "{line}");
        assert!(fields[4].parse::<f64>().unwrap() > 0.0, "{line}");
    }
    stdout
}

#[test]
fn no_subcommand_panics_on_oversized_or_malformed_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let server = crate::serve::Server::start(&dir.path().join("data"), &[]);
    let url = server.url("");
    let wasm = dir.path().join("candidate.wasm");
    std::fs::copy(ballot_artifacts::EXAMPLE_CANDIDATE, &wasm).unwrap();
    let wasm = wasm.to_str().unwrap();
    let big = "x".repeat(100 << 10);
    let big_number = "9".repeat(40);
    let missing = "/nonexistent/file.wasm";
    let cases: Vec<Vec<&str>> = vec![
        vec!["deploy", wasm, "--election", "e", "--data", &big],
        vec!["deploy", wasm, "--election", &big],
        vec!["deploy", wasm, "--election", "e", "--name", &big],
        vec!["deploy", wasm, "--election", "a/b"],
        vec!["deploy", wasm, "--election", "e", "--ttl-ms", "0"],
        vec![
            "deploy",
            wasm,
            "--election",
            "e",
            "--memory-mib",
            &big_number,
        ],
        vec!["deploy", missing, "--election", "e"],
        vec!["deploy", &big, "--election", "e"],
        vec!["swap", "1", missing],
        vec!["swap", &big_number, wasm],
        vec!["undeploy", &big_number],
        vec!["undeploy", "123456"],
        vec!["kill", "-1"],
        vec!["logs", "123456"],
        vec!["leader", &big],
        vec!["leader", "a/b"],
        vec!["leader", ""],
        vec![
            "elector",
            "reset",
            &big,
            "--peer",
            &big,
            "--duration-ms",
            "5",
        ],
        vec!["elector", "elect", "j", "--peer", ""],
        vec!["elector", "show", &big],
        vec!["commit", "j", "--peer", "a", "--ops", "{not json"],
        vec!["commit", &big, "--peer", &big, "--ops", "[]"],
        vec!["commit", "j", "--peer", "a", "--txn-fn", missing],
        vec!["check", &big],
        vec!["check", missing, "--model", "nonsense"],
        vec!["history", missing],
        vec!["sim", "--seeds", &big_number],
        vec!["serve", "--listen", &big, "--data-dir", missing],
    ];
    for case in &cases {
        let mut args = case.clone();
        if !matches!(args[0], "check" | "history" | "sim" | "serve") {
            args.extend(["--server", url.as_str()]);
        }
        let out = Command::new(env!("CARGO_BIN_EXE_ballot"))
            .args(&args)
            .env("BALLOT_TOKEN", crate::serve::TOKEN)
            .output()
            .expect("the ballot binary runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let shown: Vec<String> = case.iter().map(|a| a.chars().take(24).collect()).collect();
        assert_ne!(out.status.code(), Some(101), "{shown:?} panicked: {stderr}");
        assert!(!stderr.contains("panicked"), "{shown:?}: {stderr}");
    }

    // Large ballot data travels in the body: the deploy succeeds and the leader's data is
    // all of it.
    let data = "d".repeat(100 << 10);
    let out = Command::new(env!("CARGO_BIN_EXE_ballot"))
        .args(["deploy", wasm, "--election", "example", "--data", &data])
        .args(["--server", url.as_str()])
        .env("BALLOT_TOKEN", crate::serve::TOKEN)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let leader = crate::serve::eventually("the deployment to lead", || {
        crate::serve::election(&server, "example").leader
    });
    assert_eq!(leader.payload.data.as_deref(), Some(data.as_str()));
}

/// `ballot new` makes crates that build with plain cargo for wasm32-wasip2 and deploy
/// as they are: the candidate leads an election it never names, the observer hears it, the
/// transaction function commits. It never overwrites, and refuses names cargo would.
#[test]
fn ballot_new_makes_components_that_build_and_deploy() {
    let dir = tempfile::tempdir().unwrap();
    let parent = dir.path().to_str().unwrap();
    for (kind, name) in [
        ("candidate", "my-worker"),
        ("observer", "my-follower"),
        ("txn-fn", "my-counter"),
    ] {
        let (ok, out, err) = ballot(&["new", kind, name, "--dir", parent]);
        assert!(ok, "{err}");
        assert!(out.contains("cargo build --target wasm32-wasip2"), "{out}");
    }
    let lib = dir.path().join("my-worker/src/lib.rs");
    let before = std::fs::read(&lib).unwrap();
    let (ok, _, err) = ballot(&["new", "observer", "my-worker", "--dir", parent]);
    assert!(!ok && err.contains("exists already"), "{err}");
    assert_eq!(std::fs::read(&lib).unwrap(), before, "nothing overwritten");
    for bad in ["My-Worker", "1st", "a/b", "", "with space"] {
        let (ok, _, err) = ballot(&["new", "candidate", bad, "--dir", parent]);
        assert!(!ok && err.contains("not a crate name"), "{bad:?}: {err}");
        assert!(!dir.path().join(bad).exists() || bad.is_empty());
    }

    // Plain cargo, as a user runs it; one target folder for the three (and across runs).
    let target = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ballot-new");
    for name in ["my-worker", "my-follower", "my-counter"] {
        let built = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--target", "wasm32-wasip2"])
            .current_dir(dir.path().join(name))
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("RUSTC_WRAPPER")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .output()
            .expect("cargo runs");
        assert!(
            built.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&built.stderr)
        );
    }
    let wasm = |name: &str| {
        target.join(format!(
            "wasm32-wasip2/debug/{}.wasm",
            name.replace('-', "_")
        ))
    };

    let server = crate::serve::Server::start(&dir.path().join("data"), &[]);
    let url = server.url("");
    let deploy = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_ballot"))
            .arg("deploy")
            .args(args)
            .args(["--server", url.as_str()])
            .env("BALLOT_TOKEN", crate::serve::TOKEN)
            .output()
            .expect("ballot deploy runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let worker = wasm("my-worker");
    let follower = wasm("my-follower");
    deploy(&[
        follower.to_str().unwrap(),
        "--role",
        "observer",
        "--election",
        "app",
        "--name",
        "my-follower",
    ]);
    deploy(&[
        worker.to_str().unwrap(),
        "--election",
        "app",
        "--name",
        "my-worker",
    ]);
    let (ok, out, _) = crate::serve::eventually("my-worker to lead app", || {
        let run = ballot(&["get", "/app/owner", "--server", url.as_str()]);
        run.0.then_some(run)
    });
    assert!(ok && out.contains("\"name\": \"my-worker\""), "{out}");
    let components = crate::serve::components(&server);
    let follower_id = components
        .iter()
        .find(|d| d.name == "my-follower")
        .unwrap()
        .id;
    crate::serve::eventually("the follower to hear my-worker", || {
        let (ok, out, _) = ballot(&["logs", &follower_id.to_string(), "--server", url.as_str()]);
        (ok && out.contains("my-worker (deployment")).then_some(())
    });
    let counter = std::fs::read(wasm("my-counter")).unwrap();
    let (status, body) = crate::serve::read(
        crate::serve::agent()
            .post(server.url("/v1/txn-fns"))
            .header("authorization", crate::serve::bearer())
            .send(&counter[..]),
    );
    assert!(status == 200 || status == 201, "{body}");
}

/// Start-up errors name what the host was doing and the path or address: a data folder
/// that is a file, and a port in use (refused before the store is opened: the folder
/// stays empty).
#[test]
fn serve_start_up_errors_name_their_subject() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ballot"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&file)
        .env("BALLOT_TOKEN", "t")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("creating the data folder") && err.contains("a-file"),
        "{err}"
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let data = dir.path().join("data");
    let out = Command::new(env!("CARGO_BIN_EXE_ballot"))
        .args(["serve", "--listen", &address, "--data-dir"])
        .arg(&data)
        .env("BALLOT_TOKEN", "t")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&format!("listening on {address}")), "{err}");
    assert!(!data.exists(), "the store was not opened");
}

/// `ballot check` and `ballot history` read a Jepsen EDN history as they read JSON lines:
/// nemesis ops skipped and counted, `--json` converts, malformed EDN names its place.
#[test]
fn check_and_history_read_jepsen_edn() {
    let dir = tempfile::tempdir().unwrap();
    let edn = dir.path().join("history.edn");
    std::fs::write(
        &edn,
        "{:type :invoke, :f :write, :value 1, :process 0}\n\
         {:type :info, :f :partition, :value nil, :process :nemesis}\n\
         {:type :ok, :f :write, :value 1, :process 0}\n\
         {:type :invoke, :f :read, :value nil, :process 1}\n\
         {:type :ok, :f :read, :value 1, :process 1}\n",
    )
    .unwrap();
    let path = edn.to_str().unwrap();
    let (ok, out, err) = ballot(&["check", path, "--model", "cas-register"]);
    assert!(ok, "{out}{err}");
    assert!(err.contains("skipped 1 nemesis ops"), "{err}");
    let (ok, out, err) = ballot(&["history", "--json", path]);
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(lines[3]["f"], "read");
    assert_eq!(lines[3]["value"], 1);

    let bad = dir.path().join("bad.edn");
    std::fs::write(
        &bad,
        "{:type :invoke, :f :write, :value 1, :process 0}\n{:type :ok :f}\n",
    )
    .unwrap();
    let (ok, _, err) = ballot(&["check", bad.to_str().unwrap(), "--model", "register"]);
    assert!(!ok);
    assert!(err.contains("line 2, column"), "{err}");
}

/// `ballot check --model M DIR/` checks every file and exits with the worst verdict.
#[test]
fn check_a_folder_prints_a_table_and_exits_with_the_worst_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let good = "{:type :invoke, :f :write, :value 1, :process 0}\n{:type :ok, :f :write, :value 1, :process 0}\n{:type :invoke, :f :read, :value nil, :process 1}\n{:type :ok, :f :read, :value 1, :process 1}\n";
    let bad = good.replace(":ok, :f :read, :value 1", ":ok, :f :read, :value 2");
    std::fs::write(dir.path().join("a-good.edn"), good).unwrap();
    let folder = dir.path().to_str().unwrap();
    let (ok, out, err) = ballot(&["check", folder, "--model", "register"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("a-good.edn") && out.contains("linearizable"),
        "{out}"
    );
    std::fs::write(dir.path().join("b-bad.edn"), bad).unwrap();
    std::fs::write(dir.path().join("c-broken.edn"), "{:type").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ballot"))
        .args(["check", folder, "--model", "register"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{table}");
    assert!(table.contains("not linearizable"), "{table}");
    assert!(table.contains("unreadable"), "{table}");
    assert_eq!(table.lines().count(), 4, "{table}");
}
