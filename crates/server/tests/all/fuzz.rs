//! Fuzzing on stable Rust: property tests feed random and mutated input to the component
//! loader and to every HTTP route that takes a body. Nothing may panic or take the host
//! down; every refusal is a clear 4xx (or a deploy error) and a refused input changes
//! nothing. Inputs that once broke something are kept in `tests/corpus/` and replayed
//! first, every run.
//!
//! The component inputs are byte mutations (flips, cuts, splices, inserted runs) of the
//! real example components, so they reach past the magic number into the component's
//! sections; valid core modules from wasm-smith, deployed bare (refused as core modules)
//! and wrapped in a component (compiled, then refused for exporting no world); and plain
//! random bytes.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::{Value, json};

use ballot_runtime::{DeployError, DeploymentId, Runtime};

use super::serve::{Server, TOKEN, agent, get, revision};
use super::support::{candidate, observer, runtime, wasm};

/// The corpus folder of one kind of input.
fn corpus(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind)
}

/// Every file kept in a corpus folder, with its name.
fn kept(kind: &str) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(corpus(kind))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|entry| entry.file_name() != "README.md")
                .map(|entry| {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    (name, std::fs::read(entry.path()).expect("a corpus file"))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// One change to a component's bytes.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(prop::sample::Index, u8),
    Cut(prop::sample::Index),
    Insert(prop::sample::Index, Vec<u8>),
    /// Copies a run of the input over another place in it (sections into sections).
    Splice(prop::sample::Index, prop::sample::Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<prop::sample::Index>(), 1..=255u8).prop_map(|(at, x)| Mutation::Flip(at, x)),
        1 => any::<prop::sample::Index>().prop_map(Mutation::Cut),
        2 => (any::<prop::sample::Index>(), proptest::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        2 => (any::<prop::sample::Index>(), any::<prop::sample::Index>(), 1..64usize)
            .prop_map(|(from, to, len)| Mutation::Splice(from, to, len)),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        if bytes.is_empty() {
            break;
        }
        match mutation {
            Mutation::Flip(at, x) => {
                let at = at.index(bytes.len());
                bytes[at] ^= x;
            }
            Mutation::Cut(at) => bytes.truncate(at.index(bytes.len())),
            Mutation::Insert(at, run) => {
                let at = at.index(bytes.len());
                bytes.splice(at..at, run.iter().copied());
            }
            Mutation::Splice(from, to, len) => {
                let from = from.index(bytes.len());
                let to = to.index(bytes.len());
                let len = (*len).min(bytes.len() - from).min(bytes.len() - to);
                let run = bytes[from..from + len].to_vec();
                bytes[to..to + len].copy_from_slice(&run);
            }
        }
    }
    bytes
}

/// Deploys `bytes` (as an observer, or as a candidate) on a fresh runtime and hands the
/// outcome, with the runtime, to `then`.
fn deploy_fresh<T>(
    bytes: Vec<u8>,
    as_observer: bool,
    then: impl AsyncFnOnce(&Runtime, Result<DeploymentId, DeployError>) -> T,
) -> T {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    tokio.block_on(async {
        let rt = runtime(ballot_check::history::Recorder::off());
        let mut spec = if as_observer {
            observer("fuzzed")
        } else {
            candidate("fuzzed", None)
        };
        spec.wasm = bytes.into();
        let deployed = rt.deploy(spec).await;
        then(&rt, deployed).await
    })
}

/// Deploys `bytes` on a fresh runtime: either it is refused with an error that says
/// something and nothing is deployed, or it runs (a mutation in a custom section leaves a
/// valid component) and undeploys cleanly.
fn deploy_is_refused_or_runs(bytes: Vec<u8>, as_observer: bool) -> Result<(), TestCaseError> {
    deploy_fresh(bytes, as_observer, async |rt, deployed| {
        match deployed {
            Ok(id) => {
                rt.undeploy(id).await.map_err(|e| {
                    TestCaseError::fail(format!("a deployed mutation did not undeploy: {e}"))
                })?;
            }
            Err(error) => {
                let text = error.to_string();
                prop_assert!(text.len() > 10, "a refusal says why: {text:?}");
                prop_assert!(
                    !matches!(error, DeployError::StoreInUse),
                    "an unrelated refusal: {text}"
                );
                prop_assert!(rt.deployments().is_empty(), "a refused deploy left {text}");
            }
        }
        Ok(())
    })
}

/// [`deploy_is_refused_or_runs`] for an input that cannot run: it must be refused, with
/// the words returned.
fn deploy_is_refused(bytes: Vec<u8>, as_observer: bool) -> Result<String, TestCaseError> {
    let refused = deploy_fresh(bytes, as_observer, async |rt, deployed| {
        (deployed.err(), rt.deployments().is_empty())
    });
    match refused {
        (Some(error), true) => {
            let text = error.to_string();
            prop_assert!(text.len() > 10, "a refusal says why: {text:?}");
            prop_assert!(!text.contains("panicked"), "a refusal from a panic: {text}");
            Ok(text)
        }
        (Some(error), false) => Err(TestCaseError::fail(format!(
            "a refused deploy left a deployment behind: {error}"
        ))),
        (None, _) => Err(TestCaseError::fail(
            "a component that exports no world was deployed",
        )),
    }
}

/// A valid core module generated by wasm-smith from `seed`, using the proposals the
/// host's engine enables (so most reach its compiler rather than its validator).
fn generated_module(seed: &[u8]) -> Vec<u8> {
    let config = wasm_smith::Config {
        gc_enabled: false,
        exceptions_enabled: false,
        threads_enabled: false,
        reference_types_enabled: false,
        max_memory32_bytes: 64 << 20,
        ..wasm_smith::Config::default()
    };
    let mut unstructured = arbitrary::Unstructured::new(seed);
    match wasm_smith::Module::new(config, &mut unstructured) {
        Ok(module) => module.to_bytes(),
        // Too few bytes for anything but the smallest module: the empty one.
        Err(_) => b"\0asm\x01\0\0\0".to_vec(),
    }
}

/// A component whose one part is `module`: the loader validates and compiles the module
/// inside it, and must then refuse the component, which exports nothing.
fn component_around(module: &[u8]) -> Vec<u8> {
    let mut component = wasm_encoder::Component::new();
    component.section(&wasm_encoder::RawSection {
        id: wasm_encoder::ComponentSectionId::CoreModule as u8,
        data: module,
    });
    component.finish()
}

/// A component that exports nothing fits no world, and the refusal must not send its
/// author to another role (it once said "it is an observer" to a candidate and "it is a
/// candidate" to an observer: both worlds import what it imports, which is nothing).
#[test]
fn a_component_that_exports_nothing_is_told_what_it_lacks() {
    let empty = wasm_encoder::Component::new().finish();
    for (as_observer, lacks) in [(false, "on-event"), (true, "on-leaders-death")] {
        let why = deploy_is_refused(empty.clone(), as_observer).unwrap();
        assert!(!why.contains("it fits the"), "{why}");
        assert!(why.contains(lacks), "{why}");
    }
}

#[test]
fn the_component_corpus_is_refused_or_runs() {
    for (name, bytes) in kept("components") {
        deploy_is_refused_or_runs(bytes, name.contains("observer"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn mutated_components_are_refused_or_run(
        which in 0..3usize,
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let (original, as_observer) = [
            (ballot_artifacts::EXAMPLE_CANDIDATE, false),
            (ballot_artifacts::FIXTURE_COMMITTER, false),
            (ballot_artifacts::EXAMPLE_OBSERVER, true),
        ][which];
        deploy_is_refused_or_runs(mutate(wasm(original), &mutations), as_observer)?;
    }

    #[test]
    fn generated_modules_are_refused_bare_and_in_a_component(
        seed in proptest::collection::vec(any::<u8>(), 64..4096),
        as_observer in any::<bool>(),
    ) {
        let module = generated_module(&seed);
        deploy_is_refused(module.clone(), as_observer)?;
        let why = deploy_is_refused(component_around(&module), as_observer)?;
        prop_assert!(!why.contains("it fits the"), "it fits no world, yet: {why}");
    }

    #[test]
    fn random_bytes_are_refused_as_a_component(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        deploy_is_refused_or_runs(bytes, false)?;
    }
}

/// Every route that takes a body, with a body it accepts: the seeds the body mutations
/// start from. Ids that do not exist are fine: the route still parses the body first.
fn routes() -> Vec<(&'static str, Value)> {
    vec![
        ("/v1/sessions", json!({"ttl_ms": 5000})),
        ("/v1/sessions/1/heartbeat", json!({})),
        (
            "/v1/elections/fuzz/candidates",
            json!({"session": 1, "data": "x"}),
        ),
        ("/v1/candidates/1/ack", json!({"data": "x"})),
        ("/v1/candidates/1/resign", json!({})),
        (
            "/v1/multi",
            json!({"ops": [{"op": "create", "path": "/fuzz", "data": "x"}]}),
        ),
        (
            "/v1/electors/fuzz/peers",
            json!({"peer": "a", "duration_ms": 5000}),
        ),
        ("/v1/electors/fuzz/elect", json!({"peer": "a"})),
        (
            "/v1/electors/fuzz/commit",
            json!({"peer": "a", "term": 1, "ops": [{"op": "create", "path": "/f"}]}),
        ),
        ("/v1/components/1/kill", json!({})),
    ]
}

/// Posts `body` to `route`: the answer must be a 2xx or a 4xx with an error code and
/// words, never a 5xx; after a 4xx the namespace's revision is what it was.
fn post_is_answered_cleanly(
    server: &Server,
    route: &str,
    body: &[u8],
) -> Result<(), TestCaseError> {
    let before = revision(server);
    let answer = agent()
        .post(server.url(route))
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .send(body);
    let mut answer = answer.map_err(|e| TestCaseError::fail(format!("{route}: no answer: {e}")))?;
    let status = answer.status().as_u16();
    let text = answer.body_mut().read_to_string().unwrap_or_default();
    prop_assert!(status < 500, "{route} answered {status}: {text}");
    if (400..500).contains(&status) {
        let error: Value = serde_json::from_str(&text).map_err(|e| {
            TestCaseError::fail(format!("{route} {status}: not JSON ({e}): {text}"))
        })?;
        prop_assert!(
            error["error"]["code"].is_string(),
            "{route} {status}: {text}"
        );
        prop_assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| m.len() > 5),
            "{route} {status}: {text}"
        );
        prop_assert_eq!(
            revision(server),
            before,
            "{} refused {} yet changed the state",
            route,
            status
        );
    }
    Ok(())
}

/// A JSON value of any shape, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (0..10_000u64).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("ops".to_string()),
                    Just("op".to_string()),
                    Just("path".to_string()),
                    Just("data".to_string()),
                    Just("session".to_string()),
                    Just("ttl_ms".to_string()),
                    Just("term".to_string()),
                    Just("peer".to_string()),
                    "[a-z_]{1,8}",
                ],
                inner,
                0..4
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Replaces the value at one place in `body` (found by walking `path`) with `with`.
fn replace_somewhere(body: &mut Value, path: &[prop::sample::Index], with: Value) {
    match (path.split_first(), body) {
        (Some((step, rest)), Value::Object(map)) if !map.is_empty() => {
            let key = map
                .keys()
                .nth(step.index(map.len()))
                .cloned()
                .expect("in range");
            replace_somewhere(map.get_mut(&key).expect("a key"), rest, with);
        }
        (Some((step, rest)), Value::Array(items)) if !items.is_empty() => {
            let i = step.index(items.len());
            replace_somewhere(&mut items[i], rest, with);
        }
        (_, body) => *body = with,
    }
}

#[test]
fn random_and_mutated_bodies_get_a_clean_answer_on_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    for (name, file) in kept("bodies") {
        // A corpus file names its route on its first line; the body's bytes follow.
        let split = file.iter().position(|b| *b == b'\n').unwrap_or(file.len());
        let route = String::from_utf8_lossy(&file[..split]).trim().to_string();
        let body = file.get(split + 1..).unwrap_or_default();
        post_is_answered_cleanly(&server, &route, body).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let routes = routes();
    // The seeds are bodies the routes take: what the mutations start from is accepted.
    for (route, body) in &routes {
        let (status, answer) = super::serve::post_json(&server, route, body.clone());
        assert!(status < 500, "{route}: {status} {answer}");
        if ["/v1/sessions", "/v1/multi", "/v1/electors/fuzz/peers"].contains(route) {
            assert!((200..300).contains(&status), "{route}: {status} {answer}");
        }
    }
    let config = ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let strategy = (
        0..routes.len(),
        prop_oneof![
            // A valid body with one value replaced by anything.
            2 => (proptest::collection::vec(any::<prop::sample::Index>(), 0..4), any_json())
                .prop_map(|(path, with)| (Some((path, with)), None)),
            // Any JSON at all.
            1 => any_json().prop_map(|value| (None, Some(value.to_string().into_bytes()))),
            // Bytes, JSON or not.
            1 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(|bytes| (None, Some(bytes))),
        ],
    );
    runner
        .run(&strategy, |(route, (replacement, raw))| {
            let (path, valid) = &routes[route];
            let body = match (replacement, raw) {
                (_, Some(raw)) => raw,
                (Some((at, with)), None) => {
                    let mut body = valid.clone();
                    replace_somewhere(&mut body, &at, with);
                    body.to_string().into_bytes()
                }
                (None, None) => valid.to_string().into_bytes(),
            };
            post_is_answered_cleanly(&server, path, &body)
        })
        .unwrap_or_else(|failure| {
            panic!("{failure}\n(keep the input as a file in tests/corpus/bodies: its route on the first line, the body after)")
        });
    let (status, health) = get(&server, "/healthz");
    assert_eq!(status, 200, "the host still serves: {health}");
}
