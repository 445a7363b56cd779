//! `ballot serve` as a user runs it: a real process on 127.0.0.1, driven over HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ballot::serve::wire::{
    CandidateView, DeploymentView, ElectionView, ErrorBody, EventView, LeaderView, LeaseView,
    LogsView, MultiView, SessionView, SwapView,
};
use ballot_check::history::History;
use serde_json::{Value, json};

pub(crate) const TOKEN: &str = "test-token-5c1e";

/// A `ballot serve` child process, killed with SIGKILL if the test did not stop it.
pub(crate) struct Server {
    pub(crate) child: Child,
    base: String,
    history: PathBuf,
}

impl Server {
    pub(crate) fn start(data_dir: &Path, extra: &[&str]) -> Server {
        Self::start_with_env(data_dir, extra, &[])
    }

    pub(crate) fn start_with_env(
        data_dir: &Path,
        extra: &[&str],
        env: &[(&str, String)],
    ) -> Server {
        Self::start_with(data_dir, extra, env, Stdio::null())
    }

    /// Starts the server with its log (stderr) going to `log`.
    pub(crate) fn start_logging(data_dir: &Path, extra: &[&str], log: &Path) -> Server {
        let file = std::fs::File::create(log).expect("creating the log file");
        Self::start_with(
            data_dir,
            extra,
            &[("RUST_LOG", "info".into())],
            Stdio::from(file),
        )
    }

    /// Starts the server with its log (stderr) going to `log`, and no `RUST_LOG`: the
    /// log a user gets by default.
    pub(crate) fn start_logging_by_default(data_dir: &Path, log: &Path) -> Server {
        let file = std::fs::File::create(log).expect("creating the log file");
        Self::start_with(
            data_dir,
            &[],
            &[("RUST_LOG", String::new())],
            Stdio::from(file),
        )
    }

    fn start_with(
        data_dir: &Path,
        extra: &[&str],
        env: &[(&str, String)],
        stderr: Stdio,
    ) -> Server {
        let history = data_dir.with_extension(format!("history-{}.jsonl", now_nanos()));
        // A test that restarts a server on the same address passes its own --listen.
        let listen = if extra.contains(&"--listen") {
            &[][..]
        } else {
            &["--listen", "127.0.0.1:0"][..]
        };
        // Reads are open in tests that do not test tokens (those pass a --token-file).
        let public_reads = if extra.contains(&"--token-file") {
            &[][..]
        } else {
            &["--public-reads"][..]
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_ballot"))
            .arg("serve")
            .args(listen)
            .args(public_reads)
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--history")
            .arg(&history)
            .args(extra)
            .env("BALLOT_TOKEN", TOKEN)
            // An empty value in `env` means: not set at all.
            .env_remove(
                env.iter()
                    .find(|(_, v)| v.is_empty())
                    .map_or("BALLOT_UNSET", |(k, _)| *k),
            )
            .envs(
                env.iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| (*k, v.as_str())),
            )
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("ballot serve starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("reading its address");
        let base = first
            .trim()
            .rsplit(' ')
            .next()
            .expect("an address")
            .to_string();
        assert!(base.starts_with("http://127.0.0.1:"), "{first:?}");
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Server {
            child,
            base,
            history,
        }
    }

    /// The history file of this run.
    pub(crate) fn history_path(&self) -> PathBuf {
        self.history.clone()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub(crate) fn terminate(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting") {
                assert!(status.success(), "serve exited with {status}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Status and JSON body of an answer.
pub(crate) fn read(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> (u16, Value) {
    let response = response.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.into_body().read_to_string().expect("a body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, body)
}

/// Sends `head` on a fresh connection and reads the answer until the server closes it
/// or 2 s pass.
fn raw_request(server: &Server, head: &str) -> String {
    use std::io::{Read, Write};
    let address = server.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buffer) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buffer[..n]);
        if String::from_utf8_lossy(&answer).contains("}}") {
            break;
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// The message of an API error body.
pub(crate) fn code_message(body: &Value) -> String {
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub(crate) fn code(body: &Value) -> String {
    serde_json::from_value::<ErrorBody>(body.clone())
        .unwrap_or_else(|e| panic!("not an error body ({e}): {body}"))
        .error
        .code
}

pub(crate) fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

pub(crate) fn deploy(server: &Server, wasm: &[u8], query: &str) -> (u16, Value) {
    read(
        agent()
            .post(server.url(&format!("/v1/components?{query}")))
            .header("authorization", bearer())
            .send(wasm),
    )
}

pub(crate) fn post_json(server: &Server, path: &str, body: Value) -> (u16, Value) {
    read(
        agent()
            .post(server.url(path))
            .header("authorization", bearer())
            .send_json(body),
    )
}

pub(crate) fn get(server: &Server, path: &str) -> (u16, Value) {
    read(agent().get(server.url(path)).call())
}

pub(crate) fn wasm(path: &str) -> Vec<u8> {
    std::fs::read(path).expect("a built component")
}

pub(crate) fn components(server: &Server) -> Vec<DeploymentView> {
    let (status, body) = get(server, "/v1/components");
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

pub(crate) fn election(server: &Server, name: &str) -> ElectionView {
    let (status, body) = get(server, &format!("/v1/elections/{name}"));
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

pub(crate) fn revision(server: &Server) -> u64 {
    get(server, "/healthz").1["revision"].as_u64().unwrap()
}

/// Polls `f` until it gives `Some`, for at most 10 s.
pub(crate) fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = f() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn calls_without_the_right_token_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let before = revision(&server);
    let candidate = wasm(ballot_artifacts::EXAMPLE_CANDIDATE);
    let query = "role=candidate&election=example";
    for authorization in [None, Some("Bearer wrong"), Some("Basic dGVzdA==")] {
        let mut request = agent().post(server.url(&format!("/v1/components?{query}")));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let (status, body) = read(request.send(&candidate[..]));
        assert_eq!((status, code(&body).as_str()), (401, "unauthorized"));
        // Every route that changes anything, with a well-formed body.
        let json_routes = [
            ("POST", "/v1/sessions", json!({"ttl_ms": 1000})),
            ("POST", "/v1/sessions/1/heartbeat", json!({})),
            ("POST", "/v1/elections/e/candidates", json!({"session": 1})),
            ("POST", "/v1/candidates/1/ack", json!({"term": 1})),
            ("POST", "/v1/candidates/1/resign", json!({})),
            (
                "POST",
                "/v1/multi",
                json!({"ops": [{"op": "create", "path": "/x"}]}),
            ),
            (
                "POST",
                "/v1/electors/e/peers",
                json!({"peer": "a", "duration_ms": 1000}),
            ),
            ("POST", "/v1/electors/e/elect", json!({"peer": "a"})),
            ("POST", "/v1/components/1/kill", json!({})),
            ("PUT", "/v1/components/1", json!({})),
        ];
        for (method, path, body) in json_routes {
            let mut request = match method {
                "POST" => agent().post(server.url(path)),
                _ => agent().put(server.url(path)),
            };
            if let Some(value) = authorization {
                request = request.header("authorization", value);
            }
            let (status, answer) = read(request.send_json(body));
            assert_eq!(
                (status, code(&answer).as_str()),
                (401, "unauthorized"),
                "{path}"
            );
        }
        for path in ["/v1/components/1", "/v1/sessions/1", "/v1/candidates/1"] {
            let mut request = agent().delete(server.url(path));
            if let Some(value) = authorization {
                request = request.header("authorization", value);
            }
            let (status, answer) = read(request.call());
            assert_eq!(
                (status, code(&answer).as_str()),
                (401, "unauthorized"),
                "{path}"
            );
        }
    }
    assert!(components(&server).is_empty());
    assert_eq!(revision(&server), before, "nothing was written");
    // Reads need no token.
    assert_eq!(get(&server, "/healthz").0, 200);
}

#[test]
fn bad_requests_get_a_4xx_with_a_stable_code_and_deploy_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &["--max-body-mib", "8"]);
    let candidate = wasm(ballot_artifacts::EXAMPLE_CANDIDATE);
    let ok_query = "role=candidate&election=example";
    let cases: Vec<(Vec<u8>, &str, u16, &str)> = vec![
        (b"not wasm".to_vec(), ok_query, 400, "malformed-component"),
        (Vec::new(), ok_query, 400, "malformed-component"),
        (
            candidate.clone(),
            "role=leader&election=example",
            400,
            "unknown-role",
        ),
        (candidate.clone(), "role=candidate", 400, "bad-query"),
        (
            candidate.clone(),
            "role=candidate&election=example&ttl_ms=soon",
            400,
            "bad-query",
        ),
        (
            candidate.clone(),
            "role=candidate&election=example&colour=red",
            400,
            "bad-query",
        ),
        (
            candidate.clone(),
            "role=candidate&election=bad/name",
            400,
            "bad-query",
        ),
        // A deployment's name follows the rule of every name, as the election's does.
        (
            candidate.clone(),
            "role=candidate&election=example&name=bad/name",
            400,
            "bad-query",
        ),
        (
            candidate.clone(),
            "role=candidate&election=example&name=..",
            400,
            "bad-query",
        ),
        (
            candidate.clone(),
            "role=candidate&election=example&ttl_ms=50",
            400,
            "bad-query",
        ),
        (
            candidate.clone(),
            "role=candidate&election=example&grants=network",
            403,
            "grant-refused",
        ),
        (
            wasm(ballot_artifacts::FIXTURE_UNKNOWN_IMPORT),
            ok_query,
            403,
            "import-not-granted",
        ),
        (
            wasm(ballot_artifacts::EXAMPLE_OBSERVER),
            ok_query,
            400,
            "wrong-world",
        ),
    ];
    for (body, query, status, expected) in cases {
        let (got, answer) = deploy(&server, &body, query);
        assert_eq!(
            (got, code(&answer).as_str()),
            (status, expected),
            "{query}: {answer}"
        );
        assert!(!answer["error"]["message"].as_str().unwrap().is_empty());
    }
    // Above the body limit: refused from the declared length, before the body is sent.
    let answer = raw_request(
        &server,
        &format!(
            "POST /v1/components?{ok_query} HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n",
            bearer(),
            9 << 20
        ),
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("\"too-large\"") && answer.contains("8 MiB"),
        "{answer}"
    );
    let (status, body) = read(
        agent()
            .post(server.url("/v1/sessions"))
            .header("authorization", bearer())
            .header("content-type", "application/json")
            .send("{\"ttl_ms\":"),
    );
    assert_eq!((status, code(&body).as_str()), (400, "bad-json"));
    assert!(code_message(&body).contains("EOF"), "{body}");
    let (status, body) = read(
        agent()
            .get(server.url("/v1/events"))
            .header("last-event-id", "yesterday")
            .call(),
    );
    assert_eq!((status, code(&body).as_str()), (400, "bad-request"));
    let (status, body) = read(
        agent()
            .delete(server.url("/v1/components/first"))
            .header("authorization", bearer())
            .call(),
    );
    assert_eq!((status, code(&body).as_str()), (400, "bad-path"));
    let (status, body) = get(&server, "/v1/nowhere");
    assert_eq!((status, code(&body).as_str()), (404, "not-found"));
    assert!(components(&server).is_empty(), "nothing was deployed");
    assert_eq!(election(&server, "example").queue.len(), 0);
}

#[test]
fn a_client_holds_a_term_only_while_its_session_lives() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let open = |ttl_ms: u64| -> SessionView {
        let (status, body) = post_json(&server, "/v1/sessions", json!({"ttl_ms": ttl_ms}));
        assert_eq!(status, 201, "{body}");
        serde_json::from_value(body).unwrap()
    };
    let stand = |session: u64, data: &str| -> CandidateView {
        let (status, body) = post_json(
            &server,
            "/v1/elections/jobs/candidates",
            json!({"session": session, "data": data}),
        );
        assert_eq!(status, 201, "{body}");
        serde_json::from_value(body).unwrap()
    };
    let first = open(2_000);
    let leader = stand(first.session, "worker-1");
    let term = leader.term.expect("the first ballot leads");
    let (status, body) = post_json(
        &server,
        &format!("/v1/candidates/{}/ack", leader.candidate),
        json!({"term": term}),
    );
    assert_eq!(status, 204, "{body}");
    let shown = election(&server, "jobs").leader.expect("an acked leader");
    assert_eq!(
        (shown.term, shown.payload.data.as_deref()),
        (term, Some("worker-1"))
    );

    let guarded = |value: &str| {
        post_json(
            &server,
            "/v1/multi",
            json!({
                "session": first.session,
                "guard": {"election": "jobs", "term": term},
                "ops": [{"op": "create", "path": format!("/work-{value}"), "data": value}],
            }),
        )
    };
    let (status, body) = guarded("a");
    assert_eq!(status, 200, "{body}");
    let committed: MultiView = serde_json::from_value(body).unwrap();
    assert_eq!(committed.paths, ["/work-a"]);
    // The election's own nodes are written only through the election calls: a multi may
    // check them but not forge the ack, even under the leader's own term.
    let before = revision(&server);
    let (status, body) = post_json(
        &server,
        "/v1/multi",
        json!({
            "session": first.session,
            "guard": {"election": "jobs", "term": term},
            "ops": [
                {"op": "check", "path": "/elections/jobs/ack"},
                {"op": "set", "path": "/elections/jobs/ack", "data": "forged"},
            ],
        }),
    );
    assert_eq!((status, code(&body).as_str()), (403, "host-kept"), "{body}");
    assert_eq!(revision(&server), before, "nothing applied");

    // A second client waits behind the first.
    let second = open(5_000);
    let follower = stand(second.session, "worker-2");
    assert_eq!(follower.term, None);
    // The first stops heartbeating: its session lapses and so does its term; the second
    // (which keeps heartbeating) is promoted.
    let promoted: CandidateView = eventually("the first session to lapse", || {
        let (status, body) = post_json(
            &server,
            &format!("/v1/sessions/{}/heartbeat", second.session),
            json!({}),
        );
        assert_eq!(status, 204, "{body}");
        let (status, body) = get(&server, &format!("/v1/candidates/{}", follower.candidate));
        assert_eq!(status, 200, "{body}");
        let view: CandidateView = serde_json::from_value(body).unwrap();
        view.term.is_some().then_some(view)
    });
    assert!(promoted.term.is_some_and(|t| t > term), "{promoted:?}");
    let (status, body) = post_json(
        &server,
        &format!("/v1/sessions/{}/heartbeat", first.session),
        json!({}),
    );
    assert_eq!((status, code(&body).as_str()), (410, "session-expired"));
    // Its guarded write is refused: its session, and with it the term, is gone ...
    let (status, body) = guarded("b");
    assert_eq!(
        (status, code(&body).as_str()),
        (410, "session-expired"),
        "{body}"
    );
    // ... and the stale term is no fencing token for anyone else either.
    let (status, body) = post_json(
        &server,
        "/v1/multi",
        json!({
            "session": second.session,
            "guard": {"election": "jobs", "term": term},
            "ops": [{"op": "create", "path": "/work-b"}],
        }),
    );
    assert_eq!(
        (status, code(&body).as_str()),
        (409, "not-leader"),
        "{body}"
    );
    assert_eq!(get(&server, "/v1/nodes/work-b").0, 404, "nothing applied");
    assert_eq!(get(&server, "/v1/nodes/work-a").0, 200);
}

/// Reads SSE events from `reader` until `stop` says so; returns them with their ids.
fn read_events(
    reader: &mut impl BufRead,
    mut stop: impl FnMut(&[(u64, EventView)]) -> bool,
) -> Vec<(u64, EventView)> {
    let mut events = Vec::new();
    let mut id = None;
    let mut line = String::new();
    while !stop(&events) {
        line.clear();
        if reader.read_line(&mut line).expect("reading the stream") == 0 {
            break;
        }
        if let Some(value) = line.strip_prefix("id:") {
            id = Some(value.trim().parse::<u64>().expect("a numeric id"));
        } else if let Some(data) = line.strip_prefix("data:") {
            let event: EventView = serde_json::from_str(data.trim()).expect("an event");
            assert_eq!(id.take(), Some(event.revision), "the id is the revision");
            events.push((event.revision, event));
        }
    }
    events
}

fn create(server: &Server, path: &str) {
    let (status, body) = post_json(
        server,
        "/v1/multi",
        json!({"ops": [{"op": "create", "path": path}]}),
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn an_event_stream_resumes_after_a_disconnect_with_nothing_lost_or_repeated() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    create(&server, "/q");
    let start = revision(&server);
    let open = |last: u64| {
        let response = agent()
            .get(server.url("/v1/events?prefix=/q"))
            .header("last-event-id", last.to_string())
            .call()
            .expect("the stream opens");
        assert_eq!(response.status().as_u16(), 200);
        BufReader::new(response.into_body().into_reader())
    };
    let mut stream = open(start);
    for i in 0..10 {
        create(&server, &format!("/q/a{i}"));
    }
    let first = read_events(&mut stream, |events| events.len() >= 3);
    drop(stream);
    // Written while no one listens.
    for i in 0..10 {
        create(&server, &format!("/q/b{i}"));
    }
    let resume_from = first.last().unwrap().0;
    let mut stream = open(resume_from);
    let created_everything = |events: &[(u64, EventView)]| {
        let seen: Vec<_> = first
            .iter()
            .chain(events)
            .flat_map(|(_, e)| e.nodes.iter())
            .filter(|n| n.change == "created")
            .collect();
        seen.len() >= 20
    };
    let second = read_events(&mut stream, created_everything);
    let all: Vec<_> = first.iter().chain(&second).collect();
    let revisions: Vec<u64> = all.iter().map(|(r, _)| *r).collect();
    assert!(
        revisions.windows(2).all(|w| w[0] < w[1]),
        "ids strictly increase, none repeated: {revisions:?}"
    );
    assert!(revisions[0] > start);
    let mut created: Vec<String> = all
        .iter()
        .flat_map(|(_, e)| e.nodes.iter())
        .filter(|n| n.change == "created")
        .map(|n| n.path.clone())
        .collect();
    created.sort();
    let mut expected: Vec<String> = (0..10)
        .flat_map(|i| [format!("/q/a{i}"), format!("/q/b{i}")])
        .collect();
    expected.sort();
    assert_eq!(created, expected, "every create exactly once");
    for (_, event) in &all {
        assert!(event.nodes.iter().all(|n| n.path.starts_with("/q")));
    }
}

/// Deploys example candidates alpha and bravo (10 s TTLs) with data `<name>-addr`, waiting
/// until alpha leads; returns alpha's deployment and its leadership.
fn alpha_leading_bravo_waiting(server: &Server) -> (DeploymentView, LeaderView) {
    let candidate = wasm(ballot_artifacts::EXAMPLE_CANDIDATE);
    let query = |name: &str| {
        format!("role=candidate&election=example&name={name}&data={name}-addr&ttl_ms=10000")
    };
    let (status, alpha) = deploy(server, &candidate, &query("alpha"));
    assert_eq!(status, 201, "{alpha}");
    let alpha: DeploymentView = serde_json::from_value(alpha).unwrap();
    let leader = eventually("alpha to lead", || election(server, "example").leader);
    assert_eq!(leader.payload.data.as_deref(), Some("alpha-addr"));
    let (status, bravo) = deploy(server, &candidate, &query("bravo"));
    assert_eq!(status, 201, "{bravo}");
    (alpha, leader)
}

#[test]
fn deployments_come_back_after_sigterm_and_no_stopping_successor_is_promoted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let (alpha, leader) = alpha_leading_bravo_waiting(&server);

    // Hot-swap the leader over HTTP: a bad component is refused and the old code stays;
    // the new one keeps the term.
    let (status, body) = read(
        agent()
            .put(server.url(&format!("/v1/components/{}", alpha.id)))
            .header("authorization", bearer())
            .send(&b"garbage"[..]),
    );
    assert_eq!((status, code(&body).as_str()), (400, "malformed-component"));
    assert_eq!(
        components(&server)[0].sha256,
        alpha.sha256,
        "the old code runs"
    );
    let v2 = wasm(ballot_artifacts::EXAMPLE_CANDIDATE_V2);
    let (status, body) = read(
        agent()
            .put(server.url(&format!("/v1/components/{}", alpha.id)))
            .header("authorization", bearer())
            .send(&v2[..]),
    );
    assert_eq!(status, 200, "{body}");
    let swapped: SwapView = serde_json::from_value(body).unwrap();
    assert_eq!(
        (swapped.outcome.as_str(), swapped.term),
        ("activated", Some(leader.term))
    );
    let before: Vec<DeploymentView> = components(&server);
    let old_sessions: Vec<u64> = before.iter().filter_map(|d| d.session).collect();
    assert_eq!(old_sessions.len(), 2);

    // An open event stream must not hold the shutdown up: it ends when the host stops.
    let stream = agent()
        .get(server.url("/v1/events"))
        .call()
        .expect("the stream opens");
    let follower = std::thread::spawn(move || {
        let mut reader = BufReader::new(stream.into_body().into_reader());
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            line.clear();
        }
    });
    let history_path = server.history_path();
    server.terminate();
    follower.join().expect("the stream ended with the host");
    let history = History::read_file(&history_path).expect("the history parses");
    let at = |f: &str, kind: &str, name: &str| {
        history
            .ops
            .iter()
            .position(|op| op.f == f && op.kind.as_str() == kind && op.value[0] == name)
            .unwrap_or_else(|| panic!("no {kind} {f} by {name} in\n{}", history.to_jsonl()))
    };
    at("resign", "ok", "alpha");
    // bravo stops too: it is taken out before alpha resigns, so it is never promoted on
    // the way out (one leader change for one stop, not a leader that lives milliseconds).
    assert!(
        !history
            .ops
            .iter()
            .any(|op| op.f == "elected" && op.value[0] == "bravo"),
        "bravo was promoted while stopping:\n{}",
        history.to_jsonl()
    );

    let checked = Command::new(env!("CARGO_BIN_EXE_ballot"))
        .args(["check", "--model", "leadership-exclusive"])
        .arg(&history_path)
        .output()
        .expect("ballot check runs");
    assert!(
        checked.status.success(),
        "the served history is linearizable: {}",
        String::from_utf8_lossy(&checked.stdout)
    );

    let server = Server::start(&data, &[]);
    let after = components(&server);
    let names: Vec<_> = after.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["alpha", "bravo"]);
    assert_eq!(
        after[0].sha256, swapped.sha256,
        "the swapped-in code came back"
    );
    for deployment in &after {
        assert_eq!(deployment.status, "running", "{deployment:?}");
        let session = deployment.session.unwrap();
        assert!(
            !old_sessions.contains(&session),
            "a new session: {deployment:?}"
        );
    }
    let leader = eventually("a leader after the restart", || {
        election(&server, "example").leader
    });
    assert!(leader.term > swapped.term.unwrap());
    assert_eq!(
        election(&server, "example").queue.len(),
        2,
        "no stale ballots"
    );
    // Events from before the restart are gone: resuming there is refused clearly.
    let (status, body) = read(
        agent()
            .get(server.url("/v1/events"))
            .header("last-event-id", "1")
            .call(),
    );
    assert_eq!((status, code(&body).as_str()), (410, "compacted"));
    // Undeploy is durable too.
    let (status, _) = read(
        agent()
            .delete(server.url(&format!("/v1/components/{}", alpha.id)))
            .header("authorization", bearer())
            .call(),
    );
    assert_eq!(status, 204);
    drop(server);
    let server = Server::start(&data, &[]);
    let names: Vec<_> = components(&server).into_iter().map(|d| d.name).collect();
    assert_eq!(names, ["bravo"]);
}

/// Adds `peers` to the elector `jobs`, with leases of `duration_ms`.
fn join_elector(server: &Server, peers: &[&str], duration_ms: u64) {
    for peer in peers {
        let (status, body) = post_json(
            server,
            "/v1/electors/jobs/peers",
            json!({"peer": peer, "duration_ms": duration_ms}),
        );
        assert_eq!(status, 204, "{body}");
    }
}

/// `peer` elects itself in `jobs` (wins, renews or learns the master).
fn elect(server: &Server, peer: &str) -> LeaseView {
    let (status, body) = post_json(server, "/v1/electors/jobs/elect", json!({"peer": peer}));
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

#[test]
fn a_lease_master_is_fenced_once_its_lease_lapses_and_another_wins() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    join_elector(&server, &["a", "b"], 1500);
    let elect = |peer: &str| elect(&server, peer);
    let won = elect("a");
    assert_eq!(
        (won.outcome.as_str(), won.master.as_deref()),
        ("won", Some("a"))
    );
    let term = won.term.unwrap();
    let held = elect("b");
    assert_eq!(
        (held.outcome.as_str(), held.master.as_deref()),
        ("held", Some("a"))
    );
    let write = |peer: &str, term: u64, path: &str| {
        post_json(
            &server,
            "/v1/multi",
            json!({
                "guard": {"elector": "jobs", "peer": peer, "term": term},
                "ops": [{"op": "create", "path": path}],
            }),
        )
    };
    assert_eq!(write("a", term, "/done-1").0, 200);
    // a stops renewing; once its lease lapses b wins a new term, and a's writes under
    // its old term are refused with nothing written.
    let taken = eventually("b to win", || {
        let view = elect("b");
        (view.outcome == "won").then_some(view)
    });
    assert!(taken.term.unwrap() > term);
    let (status, body) = write("a", term, "/done-2");
    assert_eq!(
        (status, code(&body).as_str()),
        (409, "not-leader"),
        "{body}"
    );
    assert_eq!(get(&server, "/v1/nodes/done-2").0, 404);
    assert_eq!(write("b", taken.term.unwrap(), "/done-2").0, 200);
    let (status, body) = get(&server, "/v1/electors/jobs");
    assert_eq!(status, 200);
    let shown: LeaseView = serde_json::from_value(body).unwrap();
    assert_eq!(shown.master.as_deref(), Some("b"));
}

/// libfaketime's multi-threaded preload library, if installed (`.ci/run` installs it).
fn libfaketime() -> Option<PathBuf> {
    std::fs::read_dir("/usr/lib")
        .ok()?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path().join("faketime/libfaketimeMT.so.1"))
        .find(|path| path.exists())
}

fn wall_clock_offset_hours(server: &Server) -> f64 {
    let served = get(server, "/healthz").1["wall_clock_ms"].as_u64().unwrap() as f64;
    let real = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64;
    (served - real) / 3_600_000.0
}

#[test]
fn wall_clock_jumps_change_no_lease() {
    let Some(library) = libfaketime() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have libfaketime (.ci/run installs the faketime package)"
        );
        eprintln!("skipped: libfaketime is not installed (apt-get install faketime)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let offset = dir.path().join("faketime");
    std::fs::write(&offset, "+0").unwrap();
    let env = [
        ("LD_PRELOAD", library.display().to_string()),
        ("FAKETIME_TIMESTAMP_FILE", offset.display().to_string()),
        ("FAKETIME_NO_CACHE", "1".to_string()),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1".to_string()),
    ];
    let server = Server::start_with_env(&dir.path().join("data"), &[], &env);
    join_elector(&server, &["a", "b"], 1000);
    let elect = |peer: &str| elect(&server, peer);
    let won = elect("a");
    assert_eq!(won.outcome, "won");
    let term = won.term.unwrap();
    // a renews every 100 ms while the wall clock jumps a day forward, then a day back.
    let mut jumps_seen = [false, false];
    for (round, jump) in ["+0", "+1d", "-1d", "+0"].iter().enumerate() {
        std::fs::write(&offset, jump).unwrap();
        let hours = wall_clock_offset_hours(&server);
        match *jump {
            "+1d" => jumps_seen[0] = (23.0..25.0).contains(&hours),
            "-1d" => jumps_seen[1] = (-25.0..-23.0).contains(&hours),
            _ => assert!(hours.abs() < 1.0, "round {round}: {hours} h"),
        }
        for _ in 0..6 {
            let renewed = elect("a");
            assert_eq!(
                (renewed.outcome.as_str(), renewed.term),
                ("renewed", Some(term)),
                "after the wall clock moved {jump}"
            );
            let held = elect("b");
            assert_eq!(
                (held.outcome.as_str(), held.master.as_deref()),
                ("held", Some("a")),
                "after the wall clock moved {jump}"
            );
            assert!(held.left_ms <= 1000, "{held:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    assert_eq!(
        jumps_seen,
        [true, true],
        "the host's wall clock really jumped"
    );
    // Once a stops renewing, its lease lapses on the monotonic clock and b wins.
    assert_eq!(elect("a").outcome, "renewed");
    let started = Instant::now();
    let taken = eventually("b to win", || {
        let view = elect("b");
        (view.outcome == "won").then_some(view)
    });
    assert!(taken.term.unwrap() > term);
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "not before the lease lapsed"
    );
}

#[test]
fn transaction_functions_commit_over_http_and_a_stale_term_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let upload = |wasm: &[u8]| {
        read(
            agent()
                .post(server.url("/v1/txn-fns"))
                .header("authorization", bearer())
                .send(wasm),
        )
    };
    let (status, body) = upload(b"not wasm");
    assert_eq!((status, code(&body).as_str()), (400, "malformed-component"));
    let (status, body) = upload(&wasm(ballot_artifacts::EXAMPLE_CANDIDATE));
    assert_eq!(
        (status, code(&body).as_str()),
        (400, "wrong-world"),
        "{body}"
    );
    let (status, body) = upload(&wasm(ballot_artifacts::FIXTURE_TXN));
    assert_eq!(status, 201, "{body}");
    let sha = body["sha256"].as_str().unwrap().to_string();
    join_elector(&server, &["a", "b"], 1000);
    let commit = |peer: &str, extra: Value| {
        let mut body = json!({"peer": peer, "txn_fn": sha, "args": "count /c"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        post_json(&server, "/v1/electors/jobs/commit", body)
    };
    let (status, body) = commit("a", json!({}));
    assert_eq!(status, 200, "{body}");
    let term = body["term"].as_u64().unwrap();
    assert_eq!(body["attempts"], 1);
    assert_eq!(body["paths"], json!(["/c"]));
    let (status, body) = commit("a", json!({"args": "trap"}));
    assert_eq!(
        (status, code(&body).as_str()),
        (422, "txn-aborted"),
        "{body}"
    );
    let (status, body) = commit("b", json!({}));
    assert_eq!(
        (status, code(&body).as_str()),
        (409, "not-leader"),
        "{body}"
    );
    let (status, body) = commit("a", json!({"mode": "preview"}));
    assert_eq!(
        (status, body["preview"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    // b takes over once a's lease lapses; a's speculative commit under its old term is
    // refused and writes nothing.
    let taken = eventually("b to win", || {
        let (status, body) = commit("b", json!({}));
        (status == 200).then_some(body)
    });
    assert!(taken["term"].as_u64().unwrap() > term);
    let before = get(&server, "/v1/nodes/c").1["modified"].clone();
    let (status, body) = commit("a", json!({"mode": "speculative", "term": term}));
    assert_eq!(
        (status, code(&body).as_str()),
        (409, "not-leader"),
        "{body}"
    );
    assert_eq!(
        get(&server, "/v1/nodes/c").1["modified"],
        before,
        "nothing written"
    );
    let (status, body) = post_json(
        &server,
        "/v1/electors/jobs/commit",
        json!({"peer": "b", "ops": [{"op": "create", "path": "/plain", "data": "x"}]}),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = post_json(
        &server,
        "/v1/electors/jobs/commit",
        json!({"peer": "b", "mode": "speculative"}),
    );
    assert_eq!(
        (status, code(&body).as_str()),
        (400, "bad-request"),
        "{body}"
    );
}

#[test]
fn killing_the_leader_over_http_promotes_its_successor_and_restarts_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let (alpha, first) = alpha_leading_bravo_waiting(&server);

    let kill = |id: u64| {
        read(
            agent()
                .post(server.url(&format!("/v1/components/{id}/kill")))
                .header("authorization", bearer())
                .send_empty(),
        )
    };
    assert_eq!(kill(alpha.id).0, 202);
    // Long before alpha's 10 s TTL could lapse: the kill ended its session at once.
    let next = eventually("bravo to lead", || {
        election(&server, "example")
            .leader
            .filter(|l| l.payload.data.as_deref() == Some("bravo-addr"))
    });
    assert!(next.term > first.term);
    let restarted = eventually("alpha to restart on a new session", || {
        components(&server)
            .into_iter()
            .find(|d| d.id == alpha.id && d.status == "running" && d.session != alpha.session)
    });
    assert!(restarted.term.is_none(), "alpha came back as a loser");
    let (status, body) = kill(99);
    assert_eq!((status, code(&body).as_str()), (404, "not-found"));
}

#[test]
fn a_deployments_log_lines_are_read_and_followed_over_http_and_with_ballot_logs() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let (alpha, _) = alpha_leading_bravo_waiting(&server);
    let logs = |after: u64, wait_ms: u64| -> LogsView {
        let (status, body) = get(
            &server,
            &format!(
                "/v1/components/{}/logs?after={after}&wait_ms={wait_ms}",
                alpha.id
            ),
        );
        assert_eq!(status, 200, "{body}");
        serde_json::from_value(body).unwrap()
    };
    let first = eventually("alpha's first log line", || {
        Some(logs(0, 0)).filter(|view| !view.lines.is_empty())
    });
    assert_eq!(first.name, "alpha");
    assert!(
        first
            .lines
            .iter()
            .any(|l| l.line.contains("leads under term")),
        "{:?}",
        first.lines
    );

    // A follower asks from `next` and waits: nothing new yet, so the answer comes when
    // alpha writes again, after its kill (its fresh instance loses and says who leads).
    let follow = {
        let (base, id, next) = (server.url(""), alpha.id, first.next);
        std::thread::spawn(move || {
            let url = format!("{base}/v1/components/{id}/logs?after={next}&wait_ms=20000");
            let mut answer = agent().get(url).call().unwrap();
            answer.body_mut().read_json::<LogsView>().unwrap()
        })
    };
    let killed = read(
        agent()
            .post(server.url(&format!("/v1/components/{}/kill", alpha.id)))
            .header("authorization", bearer())
            .send_empty(),
    );
    assert_eq!(killed.0, 202);
    let followed = follow.join().unwrap();
    assert!(!followed.lines.is_empty(), "the wait ended with a line");
    assert!(followed.lines.iter().all(|l| l.seq >= first.next));

    // The CLI prints the same lines.
    let id = alpha.id.to_string();
    let (ok, printed, stderr) = crate::cli::ballot(&["logs", &id, "--server", &server.url("")]);
    assert!(ok, "{stderr}");
    assert!(printed.contains("leads under term"), "{printed}");

    // An unknown deployment is a clear 404; a malformed query changes nothing.
    let (status, body) = get(&server, "/v1/components/999/logs");
    assert_eq!((status, code(&body).as_str()), (404, "not-found"));
    let (status, _) = get(
        &server,
        &format!("/v1/components/{}/logs?after=soon", alpha.id),
    );
    assert_eq!(status, 400);
}

#[test]
fn a_hosts_log_shows_its_components_lines_by_default_without_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    let server = Server::start_logging_by_default(&dir.path().join("data"), &log);
    alpha_leading_bravo_waiting(&server);
    let text = eventually("a component's line in the host's log", || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.contains("leads under term").then_some(text)
    });
    assert!(
        !text.contains('\u{1b}'),
        "no ANSI escapes in a file: {text}"
    );
}

#[test]
fn json_bodies_are_taken_whatever_their_content_type_says() {
    // What `curl -d '{"ttl_ms":5000}'` sends: form encoding, or no type at all.
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    for content_type in [
        None,
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
    ] {
        let mut request = agent()
            .post(server.url("/v1/sessions"))
            .header("authorization", bearer());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let (status, body) = read(request.send("{\"ttl_ms\":5000}"));
        assert_eq!(status, 201, "{content_type:?}: {body}");
        let session: SessionView = serde_json::from_value(body).unwrap();
        assert_eq!(session.ttl_ms, 5000);
    }
}

#[test]
fn deploy_errors_say_what_to_do_instead() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let refused = |wasm: &[u8], role: &str| {
        let (status, body) = deploy(&server, wasm, &format!("role={role}&election=errors"));
        (status, code(&body), code_message(&body))
    };
    let (status, code_, message) = refused(b"hello, I am a text file\n", "candidate");
    assert_eq!((status, code_.as_str()), (400, "malformed-component"));
    assert!(message.contains("not a WebAssembly file"), "{message}");
    assert!(!message.contains('\n'), "one line, no byte dump: {message}");
    let core_module = b"\0asm\x01\0\0\0";
    let (_, code_, message) = refused(core_module, "candidate");
    assert_eq!(code_, "malformed-component");
    assert!(
        message.contains("core WebAssembly module") && message.contains("wasm32-wasip2"),
        "{message}"
    );
    let observer = wasm(ballot_artifacts::EXAMPLE_OBSERVER);
    let (_, code_, message) = refused(&observer, "candidate");
    assert_eq!(code_, "wrong-world");
    assert!(
        message.contains("deploy it with role observer"),
        "{message}"
    );
    let candidate = wasm(ballot_artifacts::EXAMPLE_CANDIDATE);
    let (_, code_, message) = refused(&candidate, "observer");
    assert_eq!(code_, "wrong-world");
    assert!(
        message.contains("deploy it with role candidate"),
        "{message}"
    );
    let txn_fn = wasm(ballot_artifacts::FIXTURE_TXN);
    let (_, code_, message) = refused(&txn_fn, "candidate");
    assert_eq!(code_, "wrong-world");
    assert!(message.contains("POST /v1/txn-fns"), "{message}");
    let form = |parts: &str| {
        read(
            agent()
                .post(server.url("/v1/components?role=candidate&election=errors"))
                .header("authorization", bearer())
                .header("content-type", "multipart/form-data; boundary=XyZ")
                .send(parts),
        )
    };
    let only_data =
        "--XyZ\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\nabc\r\n--XyZ--\r\n";
    let (status, body) = form(only_data);
    assert_eq!(status, 400, "{body}");
    assert!(code_message(&body).contains("no `wasm` part"), "{body}");
    let unknown =
        "--XyZ\r\nContent-Disposition: form-data; name=\"extra\"\r\n\r\nabc\r\n--XyZ--\r\n";
    let (status, body) = form(unknown);
    assert_eq!(status, 400, "{body}");
    assert!(code_message(&body).contains("unknown part"), "{body}");
    assert!(components(&server).is_empty(), "nothing was deployed");

    // A client pointed at no server names the URL it tried.
    let (ok, _, stderr) = crate::cli::ballot(&["ls", "--server", "http://127.0.0.1:9"]);
    assert!(!ok);
    assert!(
        stderr.contains("cannot reach the ballot server at http://127.0.0.1:9"),
        "{stderr}"
    );
}

#[test]
fn every_election_is_listed_with_its_leader_and_queue() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let (status, body) = get(&server, "/v1/elections");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!([]), "a fresh host has none");
    alpha_leading_bravo_waiting(&server);
    let listed = eventually("both ballots in the list", || {
        let (_, body) = get(&server, "/v1/elections");
        let views: Vec<ElectionView> = serde_json::from_value(body).unwrap();
        views
            .into_iter()
            .find(|v| v.election == "example" && v.queue.len() == 2)
    });
    let leader = listed.leader.expect("alpha leads");
    assert_eq!(leader.payload.data.as_deref(), Some("alpha-addr"));
}

#[test]
fn ballot_get_and_ls_nodes_show_data_stat_and_children() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let mut cbor = Vec::new();
    ciborium::into_writer(&json!({"replicas": 3}), &mut cbor).unwrap();
    use base64::Engine as _;
    let (status, body) = post_json(
        &server,
        "/v1/multi",
        json!({"ops": [
            {"op": "create", "path": "/app", "data": "hello"},
            {"op": "create", "path": "/app/config",
             "data_base64": base64::engine::general_purpose::STANDARD.encode(&cbor)},
            {"op": "create", "path": "/app/raw", "data_base64": "/wD+"},
        ]}),
    );
    assert_eq!(status, 200, "{body}");
    let url = server.url("");
    let ballot = |args: &[&str]| crate::cli::ballot(&[args, &["--server", url.as_str()]].concat());
    let (ok, out, err) = ballot(&["get", "/app"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("hello\n"), "{out}");
    assert!(
        out.contains("version 0") && out.contains("2 child(ren)"),
        "{out}"
    );
    let (ok, out, _) = ballot(&["get", "/app/config"]);
    assert!(ok);
    assert!(out.contains("\"replicas\": 3"), "CBOR shown as JSON: {out}");
    let (ok, out, _) = ballot(&["get", "/app/raw"]);
    assert!(ok);
    assert!(out.contains("3 bytes of binary"), "{out}");
    let (ok, out, _) = ballot(&["ls-nodes", "/app"]);
    assert!(ok);
    assert_eq!(out, "config\nraw\n");
    let (ok, _, err) = ballot(&["get", "/nowhere"]);
    assert!(!ok && err.contains("no-node"), "{err}");
    let (ok, _, err) = ballot(&["get", "app"]);
    assert!(!ok && err.contains("starts with '/'"), "{err}");
}

/// A deployment that runs but has no ballot says so: `ballot ls` and the API show
/// `out-of-election` with the callback's own reason and when it stands again, not
/// `running` beside an election without a leader.
#[test]
fn a_deployment_out_of_its_election_says_so_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let (status, body) = deploy(
        &server,
        &wasm(ballot_artifacts::FIXTURE_REFUSE_WIN),
        "role=candidate&election=jobs&name=shy&data=refuse%3Dalways",
    );
    assert_eq!(status, 201, "{body}");
    let listed = eventually("shy out of its election", || {
        components(&server)
            .into_iter()
            .find(|d| d.name == "shy" && d.status == "out-of-election")
    });
    let reason = listed.reason.unwrap_or_default();
    assert!(
        reason.contains("on-winning-election failed") && reason.contains("not ready to lead"),
        "{reason}"
    );
    assert!(reason.contains("stands again in"), "{reason}");
    assert!(election(&server, "jobs").leader.is_none());
    let url = server.url("");
    let (ok, out, err) = crate::cli::ballot(&["ls", "--server", url.as_str()]);
    assert!(ok, "{err}");
    assert!(out.contains("out-of-election"), "{out}");
}

/// An observer is told who leads by deployment, with the id `ballot ls` shows: after a
/// restart of the host, it names the deployment that really leads.
#[test]
fn observers_hear_the_leading_deployment_by_name_and_id() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let (status, body) = deploy(
        &server,
        &wasm(ballot_artifacts::EXAMPLE_OBSERVER),
        "role=observer&election=example&name=watcher",
    );
    assert_eq!(status, 201, "{body}");
    let watcher = body["id"].as_u64().unwrap();
    let (status, body) = deploy(
        &server,
        &wasm(ballot_artifacts::EXAMPLE_CANDIDATE),
        "role=candidate&election=example&name=alpha",
    );
    assert_eq!(status, 201, "{body}");
    let alpha = body["id"].as_u64().unwrap();
    let heard = |server: &Server| {
        let (_, logs) = get(server, &format!("/v1/components/{watcher}/logs"));
        logs["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|line| line["line"].as_str().map(str::to_string))
            .find(|line| line.contains(&format!("alpha (deployment {alpha}) leads")))
    };
    eventually("the observer to name alpha", || heard(&server));
    server.terminate();
    let server = Server::start(&data, &[]);
    eventually("the observer to name alpha after a restart", || {
        heard(&server)
    });
}

/// `ballot watch` outlives a restart of the server: it reconnects, says that the server no
/// longer holds what it missed, shows the current leaders, and goes on with new changes.
#[test]
fn ballot_watch_resumes_across_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let server = Server::start(&data, &["--listen", &listen]);
    let url = server.url("");
    let mut watch = Command::new(env!("CARGO_BIN_EXE_ballot"))
        .args(["watch", "--server", url.as_str()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ballot watch starts");
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let (lines, stdout) = std::sync::mpsc::channel();
    let out = watch.stdout.take().unwrap();
    let err = watch.stderr.take().unwrap();
    let _watch = Killed(watch);
    for (pipe, tag) in [
        (Box::new(out) as Box<dyn std::io::Read + Send>, "out"),
        (Box::new(err), "err"),
    ] {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = lines.send(format!("{tag}: {line}"));
            }
        });
    }
    let mut seen = Vec::new();
    let mut until = |what: &str, pick: &dyn Fn(&str) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match stdout.recv_timeout(left) {
                Ok(line) => {
                    let found = pick(&line);
                    seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => panic!("ballot watch never printed {what}:\n{}", seen.join("\n")),
            }
        }
    };
    let candidate = wasm(ballot_artifacts::EXAMPLE_CANDIDATE);
    let (status, body) = deploy(
        &server,
        &candidate,
        "role=candidate&election=example&name=a",
    );
    assert_eq!(status, 201, "{body}");
    until("the first leader", &|line| {
        line.contains("leader of example: term")
    });
    server.terminate();
    let server = Server::start(&data, &["--listen", &listen]);
    // Its notice (stderr) and the leaders it shows (stdout) come on two pipes, in either
    // order: wait for both.
    let (resumed, led) = (std::cell::Cell::new(false), std::cell::Cell::new(false));
    until(
        "that it resumed, and the leader after the restart",
        &|line| {
            if line.starts_with("err: watch: the server no longer holds the events after revision")
            {
                resumed.set(true);
            }
            if line.contains("leader of example: term") {
                led.set(true);
            }
            resumed.get() && led.get()
        },
    );
    let anywhere = wasm(ballot_artifacts::README_CANDIDATE);
    let (status, body) = deploy(&server, &anywhere, "role=candidate&election=other&name=b");
    assert_eq!(status, 201, "{body}");
    until("a change after the restart", &|line| {
        line.contains("leader of other: term")
    });
    assert!(
        !seen.iter().any(|line| line.contains("Some(")),
        "{}",
        seen.join("\n")
    );
}

/// Scoped tokens from a token file: reads need a read token (no `--public-reads`), the
/// cookie works for reads only, taking part in elections needs write, deploying needs
/// deploy; each refusal says which scope is missing and changes nothing. The CLI sends
/// its token on reads too.
#[test]
fn each_token_scope_allows_its_calls_and_no_others() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(
        &tokens,
        "# scopes token\nread reader-1\nwrite writer-1\ndeploy deployer-1\nall admin-1\n",
    )
    .unwrap();
    let tokens_arg = tokens.to_str().unwrap();
    let server = Server::start(&dir.path().join("data"), &["--token-file", tokens_arg]);
    let as_who = |token: Option<&str>,
                  request: ureq::RequestBuilder<ureq::typestate::WithoutBody>| {
        let request = match token {
            Some(token) => request.header("authorization", format!("Bearer {token}")),
            None => request,
        };
        read(request.call())
    };
    // Reads.
    let list = |token| as_who(token, agent().get(server.url("/v1/components")));
    assert_eq!(list(None).0, 401, "{}", list(None).1);
    assert!(code_message(&list(None).1).contains("read scope"));
    assert_eq!(list(Some("wrong")).0, 401);
    assert_eq!(list(Some("reader-1")).0, 200);
    assert_eq!(list(Some("admin-1")).0, 200);
    let (status, body) = list(Some("writer-1"));
    assert_eq!(status, 403, "{body}");
    assert!(
        code_message(&body).contains("needs a token with the read scope"),
        "{body}"
    );
    let cookie = read(
        agent()
            .get(server.url("/v1/elections"))
            .header("cookie", "theme=dark; ballot_token=reader-1")
            .call(),
    );
    assert_eq!(cookie.0, 200, "{}", cookie.1);
    // Public without a token: the dashboard's page and health.
    assert_eq!(agent().get(server.url("/")).call().unwrap().status(), 200);
    assert_eq!(
        agent().get(server.url("/healthz")).call().unwrap().status(),
        200
    );

    // Deploying.
    let candidate = wasm(ballot_artifacts::EXAMPLE_CANDIDATE);
    let deploy_as = |token: &str| {
        read(
            agent()
                .post(server.url("/v1/components?role=candidate&election=example"))
                .header("authorization", format!("Bearer {token}"))
                .send(&candidate[..]),
        )
    };
    for token in ["reader-1", "writer-1"] {
        let (status, body) = deploy_as(token);
        assert_eq!((status, code(&body).as_str()), (403, "forbidden"), "{body}");
        assert!(code_message(&body).contains("deploy scope"), "{body}");
    }
    // The cookie never authorises a change.
    let (status, _) = read(
        agent()
            .post(server.url("/v1/components?role=candidate&election=example"))
            .header("cookie", "ballot_token=admin-1")
            .send(&candidate[..]),
    );
    assert_eq!(status, 401);
    let admin = |token: &str| {
        let (_, body) = read(
            agent()
                .get(server.url("/v1/components"))
                .header("authorization", format!("Bearer {token}"))
                .call(),
        );
        body.as_array().unwrap().len()
    };
    assert_eq!(admin("admin-1"), 0, "the refused deploys changed nothing");
    let (status, body) = deploy_as("deployer-1");
    assert_eq!(status, 201, "{body}");

    // Taking part in an election.
    let open_session = |token: &str| {
        read(
            agent()
                .post(server.url("/v1/sessions"))
                .header("authorization", format!("Bearer {token}"))
                .send_json(json!({"ttl_ms": 5000})),
        )
    };
    let (status, body) = open_session("deployer-1");
    assert_eq!(status, 403, "{body}");
    assert!(code_message(&body).contains("write scope"), "{body}");
    let (status, body) = open_session("writer-1");
    assert_eq!(status, 201, "{body}");

    // The CLI sends its token on reads.
    let token_file = dir.path().join("cli-token");
    std::fs::write(&token_file, "reader-1\n").unwrap();
    let url = server.url("");
    let (ok, out, err) = crate::cli::ballot(&[
        "ls",
        "--server",
        url.as_str(),
        "--token-file",
        token_file.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("example"), "{out}");
    let (ok, _, err) = crate::cli::ballot(&["ls", "--server", url.as_str()]);
    assert!(!ok);
    assert!(err.contains("read scope"), "{err}");
}

/// The event streams refuse what they do not know, as deploys do: a misspelt parameter
/// is a 400, not a silently wider stream.
#[test]
fn event_streams_refuse_unknown_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    for path in ["/v1/events?prefx=/a", "/v1/timeline?after=3"] {
        let (status, body) = get(&server, path);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            code_message(&body).contains("unknown field"),
            "{path}: {body}"
        );
    }
}

/// A peer name is one path segment: `a/b` is refused with a 400 naming the problem, not
/// nested under peer `a` (where it could win an election), and nothing is created.
#[test]
fn elector_peer_names_with_a_slash_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    for peer in ["a/b", "x/"] {
        let (status, body) = post_json(
            &server,
            "/v1/electors/jobs/peers",
            json!({"peer": peer, "duration_ms": 5000}),
        );
        assert_eq!(status, 400, "{peer}: {body}");
        assert!(code_message(&body).contains("peer name"), "{peer}: {body}");
    }
    let (status, _) = get(&server, "/v1/electors/jobs");
    assert_eq!(status, 404, "no elector was created");
    let (status, body) = post_json(
        &server,
        "/v1/electors/jobs/peers",
        json!({"peer": "a", "duration_ms": 5000}),
    );
    assert_eq!(status, 204, "{body}");
}

/// A deploy is acknowledged only once its record is on disk. When the data folder
/// refuses it (here its components folder was replaced by a file), the deploy is undone
/// and answered with a code that says the disk refused; nothing of it is left running.
#[test]
fn a_deploy_the_disk_refuses_is_undone_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let components_dir = data.join("components");
    std::fs::remove_dir_all(&components_dir).unwrap();
    std::fs::write(&components_dir, b"not a folder").unwrap();

    let candidate = wasm(ballot_artifacts::EXAMPLE_CANDIDATE);
    let (status, body) = deploy(&server, &candidate, "role=candidate&election=example");
    assert_eq!(
        (status, code(&body).as_str()),
        (500, "disk-refused"),
        "{body}"
    );
    assert!(code_message(&body).contains("undone"), "{body}");
    assert!(components(&server).is_empty(), "nothing of it is deployed");
    let (_, election) = get(&server, "/v1/elections/example");
    assert!(election["leader"].is_null(), "it leads nothing: {election}");
}

/// No refusal the API gives reads as Rust: every error message across the routes (not
/// found, bad bodies, stale terms, peers, names, sessions) is words and numbers, never a
/// `Debug` rendering such as `Some(..)`, `Revision(8)` or a type's name.
#[test]
fn every_refusal_reads_as_words_not_rust_debug_output() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    // A leader of `jobs` whose term then passes, for the stale-term refusals.
    let (_, session) = post_json(&server, "/v1/sessions", json!({"ttl_ms": 60_000}));
    let session = session["session"].as_u64().expect("a session id");
    let (_, stood) = post_json(
        &server,
        "/v1/elections/jobs/candidates",
        json!({"session": session, "data": "w"}),
    );
    let candidate = stood["candidate"].as_u64().expect("a candidate id");
    join_elector(&server, &["a", "b"], 60_000);
    elect(&server, "a");

    let requests: Vec<(&str, String, Value)> = vec![
        ("GET", "/v1/components/999/logs".into(), json!(null)),
        ("POST", "/v1/components/999/kill".into(), json!({})),
        ("DELETE", "/v1/components/999".into(), json!(null)),
        ("GET", "/v1/elections/nothing-here".into(), json!(null)),
        ("GET", "/v1/candidates/999".into(), json!(null)),
        ("POST", "/v1/candidates/999/ack".into(), json!({"term": 1})),
        (
            "POST",
            format!("/v1/candidates/{candidate}/ack"),
            json!({"term": 999}),
        ),
        ("POST", "/v1/candidates/999/resign".into(), json!({})),
        ("POST", "/v1/sessions".into(), json!({"ttl_ms": 0})),
        ("POST", "/v1/sessions/999/heartbeat".into(), json!({})),
        ("GET", "/v1/nodes/no/such/node".into(), json!(null)),
        (
            "POST",
            "/v1/multi".into(),
            json!({"ops": [{"op": "create", "path": "relative", "data": "x"}]}),
        ),
        (
            "POST",
            "/v1/multi".into(),
            json!({"session": session, "guard": {"election": "jobs", "term": 999},
                   "ops": [{"op": "create", "path": "/x", "data": "x"}]}),
        ),
        (
            "POST",
            "/v1/multi".into(),
            json!({"ops": [{"op": "set", "path": "/nothing", "data": "x", "version": 3}]}),
        ),
        ("GET", "/v1/electors/none".into(), json!(null)),
        (
            "POST",
            "/v1/electors/jobs/peers".into(),
            json!({"peer": "a/b", "duration_ms": 60_000}),
        ),
        (
            "POST",
            "/v1/electors/jobs/peers".into(),
            json!({"peer": "c", "duration_ms": 5}),
        ),
        (
            "POST",
            "/v1/electors/jobs/elect".into(),
            json!({"peer": "zz"}),
        ),
        (
            "POST",
            "/v1/electors/jobs/commit".into(),
            json!({"peer": "b", "term": 1, "ops": [{"op": "create", "path": "/y", "data": "y"}]}),
        ),
        (
            "POST",
            "/v1/elections/bad%2Fname/candidates".into(),
            json!({"session": session}),
        ),
        ("GET", "/v1/events?colour=red".into(), json!(null)),
        (
            "GET",
            "/v1/history/check?model=nonsense".into(),
            json!(null),
        ),
    ];
    let debug_marks = [
        "Some(",
        "None",
        "Revision(",
        "DeploymentId(",
        "SessionId(",
        "CandidateId(",
        "Error::",
        "Invalid(",
        "{ ",
        "Ok(",
        "Err(",
    ];
    let mut refusals = 0;
    for (method, path, body) in &requests {
        let url = server.url(path);
        let (status, answer) = match *method {
            "GET" => read(agent().get(url).header("authorization", bearer()).call()),
            "DELETE" => read(agent().delete(url).header("authorization", bearer()).call()),
            _ => read(
                agent()
                    .post(url)
                    .header("authorization", bearer())
                    .send_json(body),
            ),
        };
        if status < 400 {
            continue;
        }
        refusals += 1;
        let message = code_message(&answer);
        assert!(!message.is_empty(), "{method} {path}: {answer}");
        for mark in debug_marks {
            assert!(
                !message.contains(mark),
                "{method} {path} answered with Rust's Debug text ({mark}): {message}"
            );
        }
    }
    assert!(
        refusals >= 20,
        "only {refusals} of the requests were refused"
    );
}

/// A small tmpfs mounted for one test, unmounted when dropped; `None` where this
/// machine does not let the test mount one (not root, or no mount permission).
struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    fn mount(path: &Path, bytes: u64) -> Option<SmallDisk> {
        std::fs::create_dir_all(path).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}")])
            .arg("tmpfs")
            .arg(path)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then(|| SmallDisk {
            path: path.to_path_buf(),
        })
    }

    /// Fills the disk with one file until it refuses more; returns that file.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.path.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 4096];
        while file.write_all(&chunk).is_ok() {}
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// On a disk that fills up, the host refuses changes with a 503 that says so and
/// `/healthz` answers `degraded`; once space comes back it takes changes again by
/// itself, and a restart finds everything acknowledged and nothing refused.
#[test]
fn a_full_disk_degrades_the_host_until_space_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(&dir.path().join("disk"), 16 << 20) else {
        eprintln!("skipped: this machine does not let the test mount a tmpfs");
        return;
    };
    let data = disk.path.join("data");
    let server = Server::start(&data, &[]);
    create(&server, "/before");
    let filler = disk.fill();

    // The log keeps room written ahead of its end (up to 1 MiB), so the first writes may
    // still fit; every one that is acknowledged must be kept, and the first that needs
    // space the disk has not got is refused.
    let payload = "x".repeat(200_000);
    let mut kept = Vec::new();
    let (refused, status, body) = loop {
        let path = format!("/during{}", kept.len());
        let write = json!({"ops": [{"op": "create", "path": path, "data": payload}]});
        let (status, body) = post_json(&server, "/v1/multi", write);
        if status != 200 {
            break (path, status, body);
        }
        kept.push(path);
        assert!(
            kept.len() < 20,
            "a full disk took {} writes of 200 kB",
            kept.len()
        );
    };
    assert_eq!(
        (status, code(&body).as_str()),
        (503, "store-unavailable"),
        "{body}"
    );
    assert!(code_message(&body).contains("the disk is full"), "{body}");
    let (status, health) = get(&server, "/healthz");
    assert_eq!(status, 503, "{health}");
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(
        health["degraded"]
            .as_str()
            .is_some_and(|why| why.contains("No space left on device")),
        "{health}"
    );
    let (status, _) = get(&server, &format!("/v1/nodes{refused}"));
    assert_eq!(status, 404, "nothing refused shows");

    std::fs::remove_file(&filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(&server, "/healthz").0 != 200 {
        assert!(
            Instant::now() < deadline,
            "the host did not take changes again within 60 s of space coming back"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    create(&server, "/after");
    drop(server);

    let server = Server::start(&data, &[]);
    let expected = kept.iter().map(|path| (path.as_str(), 200)).chain([
        ("/before", 200),
        ("/after", 200),
        (refused.as_str(), 404),
    ]);
    for (path, expected) in expected {
        let (status, body) = get(&server, &format!("/v1/nodes{path}"));
        assert_eq!(status, expected, "{path}: {body}");
    }
    drop(server);
    drop(disk);
}

/// The host's API (requests and every event stream) runs on threads of its own, at a
/// lower priority than the actors' threads: thousands of streams slow the API, never a
/// failover. Read off the real process in `/proc`.
#[test]
fn the_api_runs_on_its_own_threads_below_the_actors_priority() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let tasks = std::fs::read_dir(format!("/proc/{}/task", server.child.id())).unwrap();
    let mut nice_by_name: std::collections::BTreeMap<String, std::collections::BTreeSet<i64>> =
        Default::default();
    for task in tasks {
        let task = task.unwrap().path();
        let name = std::fs::read_to_string(task.join("comm")).unwrap();
        let stat = std::fs::read_to_string(task.join("stat")).unwrap();
        // The fields after the parenthesised name; nice is the 19th field of the line.
        let after_name = stat.rsplit_once(") ").unwrap().1;
        let nice: i64 = after_name.split(' ').nth(16).unwrap().parse().unwrap();
        nice_by_name
            .entry(name.trim().to_string())
            .or_default()
            .insert(nice);
    }
    let api = nice_by_name
        .get("ballot-api")
        .unwrap_or_else(|| panic!("API threads: {nice_by_name:?}"));
    let actors = nice_by_name
        .get("ballot-actors")
        .unwrap_or_else(|| panic!("actor threads: {nice_by_name:?}"));
    assert!(
        api.iter().min() > actors.iter().max(),
        "the API's threads run below the actors': {nice_by_name:?}"
    );
}

/// Reads what the server sends on `stream` until it closes the connection, within
/// `ceiling`; `None` if the connection was still open at the ceiling.
fn until_closed(stream: &mut std::net::TcpStream, ceiling: Duration) -> Option<String> {
    use std::io::Read;
    let deadline = Instant::now() + ceiling;
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match stream.read(&mut buffer) {
            Ok(0) => return Some(String::from_utf8_lossy(&received).into_owned()),
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(String::from_utf8_lossy(&received).into_owned());
            }
            Err(_) => return None,
        }
    }
}

/// A client that opens a thousand connections and sends nothing holds at most the
/// connection cap, and each for at most the header timeout: the ones over the cap are
/// answered 503 at once, the rest are closed, and the host serves as before. A client
/// that sends headers and then no body gets a 408 within the request timeout.
#[test]
fn idle_and_slow_clients_cost_bounded_connections_and_time() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &[
            "--max-connections",
            "64",
            "--header-timeout-ms",
            "1000",
            "--request-timeout-ms",
            "1000",
        ],
    );
    let address = server.base.trim_start_matches("http://").to_string();
    let mut idle: Vec<std::net::TcpStream> = (0..1000)
        .map(|_| std::net::TcpStream::connect(&address).expect("connects"))
        .collect();
    // Each connection is either refused (over the cap) or closed unanswered once the
    // header timeout passes; a slot freed that way goes to a connection still waiting.
    let mut refused = 0;
    for stream in &mut idle {
        let answer = until_closed(stream, Duration::from_secs(60))
            .expect("every idle connection is closed within the header timeout");
        if answer.is_empty() {
            continue;
        }
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.contains("too-many-connections"), "{answer}");
        refused += 1;
    }
    assert!(refused > 0, "a thousand idle connections pass a cap of 64");
    let (status, health) = get(&server, "/healthz");
    assert_eq!(status, 200, "{health}");

    let mut slow = std::net::TcpStream::connect(&address).unwrap();
    write!(
        slow,
        "POST /v1/multi HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {TOKEN}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"ops\":"
    )
    .unwrap();
    let answer = until_closed(&mut slow, Duration::from_secs(60)).unwrap_or_default();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request-timeout"), "{answer}");
}

/// A handoff to a candidate in the middle of the queue, over HTTP and with `ballot
/// handoff`: it leads at a higher term at once, the old leader's guarded write under its
/// term is refused after, the candidate jumped waits behind, and a handoff with no one to
/// take over is refused with 409 and changes nothing.
#[test]
fn a_handoff_gives_the_leadership_to_a_named_candidate_under_a_higher_term() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let mut stood = Vec::new();
    for data in ["x", "y", "z"] {
        let (status, session) = post_json(&server, "/v1/sessions", json!({"ttl_ms": 60_000}));
        assert_eq!(status, 201, "{session}");
        let session = session["session"].as_u64().unwrap();
        let (status, body) = post_json(
            &server,
            "/v1/elections/jobs/candidates",
            json!({"session": session, "data": data}),
        );
        assert_eq!(status, 201, "{body}");
        let candidate: CandidateView = serde_json::from_value(body).unwrap();
        stood.push((session, candidate));
    }
    let (x_session, x) = &stood[0];
    let old_term = x.term.expect("x leads");
    let (status, body) = post_json(
        &server,
        &format!("/v1/candidates/{}/ack", x.candidate),
        json!({"term": old_term}),
    );
    assert_eq!(status, 204, "{body}");

    let z = &stood[2].1;
    let out = Command::new(env!("CARGO_BIN_EXE_ballot"))
        .args(["handoff", "jobs", "--candidate", &z.candidate.to_string()])
        .args(["--server", &server.base])
        .env("BALLOT_TOKEN", TOKEN)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains(&format!("candidate {} leads now", z.candidate)),
        "{said}"
    );
    let (status, body) = get(&server, &format!("/v1/candidates/{}", z.candidate));
    assert_eq!(status, 200, "{body}");
    let new_term = body["term"].as_u64().expect("z leads");
    assert!(new_term > old_term, "{new_term} > {old_term}");

    // The old leader's write under its old term is refused, and changes nothing.
    let before = revision(&server);
    let (status, body) = post_json(
        &server,
        "/v1/multi",
        json!({
            "session": x_session,
            "guard": {"election": "jobs", "term": old_term},
            "ops": [{"op": "create", "path": "/stale", "data": "x"}],
        }),
    );
    assert_eq!(
        (status, code(&body).as_str()),
        (409, "not-leader"),
        "{body}"
    );
    assert_eq!(revision(&server), before);
    // y, jumped, still stands and waits.
    let (_, y) = get(&server, &format!("/v1/candidates/{}", stood[1].1.candidate));
    assert!(y["term"].is_null() && y["ballot"].is_string(), "{y}");

    // No one to hand to in another election; an unknown candidate: 409, nothing changes.
    let before = revision(&server);
    for (route, body) in [
        ("/v1/elections/nobody/handoff", json!({})),
        ("/v1/elections/jobs/handoff", json!({"candidate": 999_999})),
    ] {
        let (status, answer) = post_json(&server, route, body);
        assert_eq!(
            (status, code(&answer).as_str()),
            (409, "no-handoff"),
            "{answer}"
        );
    }
    let (status, answer) = post_json(
        &server,
        "/v1/elections/jobs/handoff",
        json!({"candidate": 1, "deployment": 1}),
    );
    assert_eq!(status, 400, "{answer}");
    assert_eq!(revision(&server), before);
}

/// A priority election over HTTP and with `ballot deploy --priority`: a higher priority
/// takes over from the leader at once, under a higher term; `--no-preempt` waits; a
/// priority in an election that uses the queue is refused with 409 and changes nothing.
#[test]
fn a_priority_election_over_http_and_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let stand = |body: Value| {
        let (status, session) = post_json(&server, "/v1/sessions", json!({"ttl_ms": 60_000}));
        assert_eq!(status, 201, "{session}");
        let mut body = body;
        body["session"] = session["session"].clone();
        post_json(&server, "/v1/elections/ranked/candidates", body)
    };
    let (status, low) = stand(json!({"data": "low", "priority": 1}));
    assert_eq!(status, 201, "{low}");
    let low: CandidateView = serde_json::from_value(low).unwrap();
    let low_term = low.term.expect("low leads alone");
    let (status, high) = stand(json!({"data": "high", "priority": 9}));
    assert_eq!(status, 201, "{high}");
    let high: CandidateView = serde_json::from_value(high).unwrap();
    let high_term = high.term.expect("high took over in the step it stood");
    assert!(high_term > low_term);
    let (_, low_now) = get(&server, &format!("/v1/candidates/{}", low.candidate));
    assert!(low_now["term"].is_null(), "low was deposed: {low_now}");

    // The CLI: a deployment above high that waits for it.
    let wasm = dir.path().join("candidate.wasm");
    std::fs::copy(ballot_artifacts::EXAMPLE_CANDIDATE, &wasm).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ballot"))
        .args(["deploy", wasm.to_str().unwrap(), "--election", "ranked"])
        .args(["--priority", "50", "--no-preempt", "--name", "patient"])
        .args(["--server", &server.base])
        .env("BALLOT_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let patient = components(&server)
        .into_iter()
        .find(|d| d.name == "patient")
        .expect("listed");
    assert_eq!((patient.priority, patient.no_preempt), (Some(50), true));
    let (_, high_now) = get(&server, &format!("/v1/candidates/{}", high.candidate));
    assert_eq!(
        high_now["term"].as_u64(),
        Some(high_term),
        "high keeps it: {high_now}"
    );

    // Refusals change nothing.
    let before = revision(&server);
    let (status, session) = post_json(&server, "/v1/sessions", json!({"ttl_ms": 60_000}));
    assert_eq!(status, 201);
    let after_session = revision(&server);
    assert!(after_session >= before);
    let (status, queued) = post_json(
        &server,
        "/v1/elections/queued/candidates",
        json!({"session": session["session"], "data": "first"}),
    );
    assert_eq!(status, 201, "{queued}");
    let after_first = revision(&server);
    for (body, expected) in [
        (
            json!({"session": session["session"], "priority": 3}),
            (409, "policy-mismatch"),
        ),
        (
            json!({"session": session["session"], "preempt": false}),
            (400, "bad-request"),
        ),
    ] {
        let (status, answer) = post_json(&server, "/v1/elections/queued/candidates", body);
        assert_eq!((status, code(&answer).as_str()), expected, "{answer}");
    }
    assert_eq!(revision(&server), after_first);
}

/// `ballot drain` on one host: no other host's candidate can take over, so its leader is
/// kept (it resigns at the stop), the answer says so, and the host stops cleanly; an
/// unknown host is a 404 that changes nothing.
#[test]
fn draining_the_only_host_keeps_its_leaders_and_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&dir.path().join("data"), &[]);
    let (status, body) = deploy(
        &server,
        &wasm(ballot_artifacts::EXAMPLE_CANDIDATE),
        "role=candidate&election=example&name=alpha",
    );
    assert_eq!(status, 201, "{body}");
    eventually("alpha to lead", || election(&server, "example").leader);
    let before = revision(&server);
    let (status, answer) = post_json(&server, "/v1/drain", json!({"host": "elsewhere"}));
    assert_eq!(
        (status, code(&answer).as_str()),
        (404, "no-host"),
        "{answer}"
    );
    assert_eq!(revision(&server), before);

    let out = Command::new(env!("CARGO_BIN_EXE_ballot"))
        .args(["drain", "--server", &server.base])
        .env("BALLOT_TOKEN", TOKEN)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("example: kept"), "{said}");
    assert!(said.contains("it stops now"), "{said}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the drained host did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
}

/// The `ballot_<name>_total` counter of the host's `/metrics`.
fn metric(server: &Server, name: &str) -> u64 {
    let text = agent()
        .get(server.url("/metrics"))
        .call()
        .expect("metrics answer")
        .into_body()
        .read_to_string()
        .expect("metrics text");
    let prefix = format!("ballot_{name}_total ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix}in\n{text}"))
        .trim()
        .parse()
        .expect("a count")
}

/// A restarted host loads its deployments' compiled code from `DATA_DIR/compiled` instead
/// of compiling it again; an entry damaged on disk is found, deleted and compiled again.
#[test]
fn a_restarted_host_loads_compiled_components_instead_of_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let counts = |server: &Server| {
        (
            metric(server, "components_compiled"),
            metric(server, "components_loaded_from_disk"),
            metric(server, "components_discarded_from_disk"),
        )
    };
    let entries = || -> Vec<PathBuf> {
        std::fs::read_dir(data.join("compiled"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
            .collect()
    };
    let server = Server::start(&data, &[]);
    let (status, body) = deploy(
        &server,
        &wasm(ballot_artifacts::EXAMPLE_CANDIDATE),
        "role=candidate&election=example",
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(counts(&server), (1, 0, 0));
    assert_eq!(entries().len(), 1);
    server.terminate();

    // The deployment comes back from its record: its code is loaded, not compiled.
    let server = Server::start(&data, &[]);
    assert_eq!(components(&server).len(), 1);
    assert_eq!(counts(&server), (0, 1, 0));
    server.terminate();

    // A byte flipped in the entry: discarded, compiled again, and kept again.
    let entry = entries().pop().unwrap();
    let mut bytes = std::fs::read(&entry).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&entry, bytes).unwrap();
    let server = Server::start(&data, &[]);
    assert_eq!(components(&server).len(), 1);
    assert_eq!(counts(&server), (1, 0, 1));
    assert_eq!(entries().len(), 1);
}
