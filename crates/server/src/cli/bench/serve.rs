//! `ballot bench serve`: the HTTP API, in one run.
//!
//! - Leader query latency: `GET /v1/elections/{name}` on a served host with a leader,
//!   against a bare axum handler answering a constant of the same shape over the same
//!   kind of connection (keep-alive, one request at a time), in alternating rounds.
//! - Guarded multi latency: `POST /v1/multi` setting a node guarded by its version (auth,
//!   JSON, the commit, the answer), against a bare axum handler that makes the same
//!   guarded commit through the same host's store and answers a constant, in
//!   alternating rounds: the API's own cost on top of the commit.
//! - Hot-swap blackout over HTTP: `PUT /v1/components/{id}` on a leader that ticks (a
//!   guarded write every 10 ms), alternating v1 and v2; the blackout each answer reports
//!   (the old code's last host call to the new code's first callback), against the whole
//!   swap request as the client waits for it.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use hdrhistogram::Histogram;

use ballot_core::command::{Command, Outcome};
use ballot_core::namespace::{CreateMode, Data, NodePath, Op};

use crate::serve::wire::{DeploymentView, SwapView};
use crate::serve::{Host, Token, router};
use ballot_check::history::Recorder;

use super::{Figure, blocking, histogram, micros, on_tokio, record, summarise};

/// Arguments of `ballot bench serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Leader queries measured, for each of the two servers.
    #[arg(long, default_value_t = 5_000)]
    queries: usize,
    /// Guarded multis measured, for each of the two servers.
    #[arg(long, default_value_t = 2_000)]
    multis: usize,
    /// Hot-swaps measured.
    #[arg(long, default_value_t = 60)]
    swaps: usize,
}

const TOKEN: &str = "bench";

/// Runs the benchmark.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    on_tokio(measure(args))
}

async fn listen(app: Router) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{address}"))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

async fn measure(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let host = Host::start(
        dir.path(),
        Recorder::off(),
        &crate::serve::Backend::Embedded,
    )
    .await?;
    let served = listen(router(
        host.clone(),
        Token::new(TOKEN)
            .map_err(anyhow::Error::msg)?
            .with_public_reads(true),
    ))
    .await?;
    let v1 = crate::cli::bundled::EXAMPLE_CANDIDATE.to_vec();
    let v2 = crate::cli::bundled::EXAMPLE_CANDIDATE_V2.to_vec();

    let (leader, answer) = {
        let (served, v1) = (served.clone(), v1.clone());
        blocking(move || {
            let agent = agent();
            let mut response = agent
                .post(format!(
                    "{served}/v1/components?role=candidate&election=example&name=busy&data=10.0.0.1&tick_ms=10"
                ))
                .header("authorization", format!("Bearer {TOKEN}"))
                .send(&v1[..])?;
            anyhow::ensure!(response.status() == 201, "deploy: {}", response.status());
            let leader: DeploymentView = response.body_mut().read_json()?;
            // Wait for the ack, then keep the answer as the baseline's constant.
            for _ in 0..1_000 {
                let text = agent
                    .get(format!("{served}/v1/elections/example"))
                    .call()?
                    .body_mut()
                    .read_to_string()?;
                if !text.contains("\"leader\":null") {
                    return Ok((leader, text));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            anyhow::bail!("the leader never acked")
        })
        .await?
    };
    let bare = listen(Router::new().route(
        "/v1/elections/{name}",
        get(move || {
            let answer = answer.clone();
            async move { ([("content-type", "application/json")], answer) }
        }),
    ))
    .await?;

    println!(
        "leader query: {} requests to each server, in alternating rounds of 100",
        args.queries
    );
    let (query, baseline) = {
        let (served, bare, queries) = (served.clone(), bare.clone(), args.queries);
        blocking(move || {
            let (served_agent, bare_agent) = (agent(), agent());
            let (mut query, mut baseline) = (histogram(), histogram());
            let time = |agent: &ureq::Agent, url: &str, into: &mut Histogram<u64>| {
                let started = Instant::now();
                let mut response = agent.get(url).call()?;
                response.body_mut().read_to_string()?;
                record(into, started.elapsed());
                anyhow::ensure!(response.status() == 200, "{url}: {}", response.status());
                Ok(())
            };
            let served_url = format!("{served}/v1/elections/example");
            let bare_url = format!("{bare}/v1/elections/example");
            // Warm both connections.
            for _ in 0..50 {
                time(&served_agent, &served_url, &mut histogram())?;
                time(&bare_agent, &bare_url, &mut histogram())?;
            }
            for _ in 0..queries.div_ceil(100) {
                for _ in 0..100 {
                    time(&served_agent, &served_url, &mut query)?;
                }
                for _ in 0..100 {
                    time(&bare_agent, &bare_url, &mut baseline)?;
                }
            }
            Ok((query, baseline))
        })
        .await?
    };

    println!(
        "guarded multi: {} requests to each server, in alternating rounds of 100",
        args.multis
    );
    let bare_commit = listen(bare_commit_handler(&host).await?).await?;
    let (multi, multi_baseline) = {
        let (served, bare, multis) = (served.clone(), bare_commit.clone(), args.multis);
        blocking(move || {
            let (served_agent, bare_agent) = (agent(), agent());
            let (mut multi, mut baseline) = (histogram(), histogram());
            let served_url = format!("{served}/v1/multi");
            let bare_url = format!("{bare}/v1/multi");
            let create = r#"{"ops":[{"op":"create","path":"/bench-multi","data":""}]}"#;
            time_post(&served_agent, &served_url, create, &mut histogram())?;
            let mut version = 0u64;
            let mut served_once = |into: &mut Histogram<u64>| {
                let body = format!(
                    r#"{{"ops":[{{"op":"set","path":"/bench-multi","data":"{version}","expected":{version}}}]}}"#
                );
                version += 1;
                time_post(&served_agent, &served_url, &body, into)
            };
            for _ in 0..50 {
                served_once(&mut histogram())?;
                time_post(&bare_agent, &bare_url, "", &mut histogram())?;
            }
            for _ in 0..multis.div_ceil(100) {
                for _ in 0..100 {
                    served_once(&mut multi)?;
                }
                for _ in 0..100 {
                    time_post(&bare_agent, &bare_url, "", &mut baseline)?;
                }
            }
            Ok((multi, baseline))
        })
        .await?
    };

    println!(
        "hot-swap: {} swaps of a leader ticking every 10 ms",
        args.swaps
    );
    let (blackouts, requests) = {
        let (served, swaps, id) = (served.clone(), args.swaps, leader.id);
        blocking(move || {
            let agent = agent();
            let (mut blackouts, mut requests) = (histogram(), histogram());
            for round in 0..swaps + 2 {
                std::thread::sleep(Duration::from_millis(20));
                let code = if round % 2 == 0 { &v2 } else { &v1 };
                let started = Instant::now();
                let mut response = agent
                    .put(format!("{served}/v1/components/{id}"))
                    .header("authorization", format!("Bearer {TOKEN}"))
                    .send(&code[..])?;
                let elapsed = started.elapsed();
                anyhow::ensure!(response.status() == 200, "swap: {}", response.status());
                let report: SwapView = response.body_mut().read_json()?;
                anyhow::ensure!(report.outcome == "activated", "swap: {report:?}");
                // The first two compile v2 and settle both versions.
                if round >= 2 {
                    record(&mut blackouts, Duration::from_micros(report.blackout_us));
                    record(&mut requests, elapsed);
                }
            }
            Ok((blackouts, requests))
        })
        .await?
    };
    host.shutdown().await;

    println!(
        "leader query (served): p50 {:.1} us, p99 {:.1} us; bare axum constant: p50 {:.1} us, p99 {:.1} us",
        micros(&query, 0.5),
        micros(&query, 0.99),
        micros(&baseline, 0.5),
        micros(&baseline, 0.99)
    );
    println!(
        "guarded multi (served): p50 {:.1} us, p99 {:.1} us; bare axum handler + the same commit: p50 {:.1} us, p99 {:.1} us",
        micros(&multi, 0.5),
        micros(&multi, 0.99),
        micros(&multi_baseline, 0.5),
        micros(&multi_baseline, 0.99)
    );
    println!(
        "swap blackout: p50 {:.0} us, p99 {:.0} us; the whole PUT: p50 {:.0} us, p99 {:.0} us",
        micros(&blackouts, 0.5),
        micros(&blackouts, 0.99),
        micros(&requests, 0.5),
        micros(&requests, 0.99)
    );
    summarise(&[
        Figure {
            name: "leader-query-p50",
            value: micros(&query, 0.5),
            unit: "us",
            baseline: "bare-axum-constant-p50",
            baseline_value: micros(&baseline, 0.5),
        },
        Figure {
            name: "leader-query-p99",
            value: micros(&query, 0.99),
            unit: "us",
            baseline: "bare-axum-constant-p99",
            baseline_value: micros(&baseline, 0.99),
        },
        Figure {
            name: "guarded-multi-p50",
            value: micros(&multi, 0.5),
            unit: "us",
            baseline: "bare-axum-commit-p50",
            baseline_value: micros(&multi_baseline, 0.5),
        },
        Figure {
            name: "guarded-multi-p99",
            value: micros(&multi, 0.99),
            unit: "us",
            baseline: "bare-axum-commit-p99",
            baseline_value: micros(&multi_baseline, 0.99),
        },
        Figure {
            name: "http-swap-blackout-p50",
            value: micros(&blackouts, 0.5),
            unit: "us",
            baseline: "http-swap-request-p50",
            baseline_value: micros(&requests, 0.5),
        },
        Figure {
            name: "http-swap-blackout-p99",
            value: micros(&blackouts, 0.99),
            unit: "us",
            baseline: "http-swap-request-p99",
            baseline_value: micros(&requests, 0.99),
        },
    ]);
    Ok(ExitCode::SUCCESS)
}

/// One POST of `body` to `url`, timed into `into`; anything but 200 stops the run.
fn time_post(
    agent: &ureq::Agent,
    url: &str,
    body: &str,
    into: &mut Histogram<u64>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut response = agent
        .post(url)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .send(body)?;
    let text = response.body_mut().read_to_string()?;
    record(into, started.elapsed());
    anyhow::ensure!(
        response.status() == 200,
        "{url}: {}: {text}",
        response.status()
    );
    Ok(())
}

/// The guarded multi's baseline: a bare axum handler (no auth, no JSON) that makes the
/// same guarded commit, a set of its own node under the version it last wrote, through
/// the host's store, and answers a constant of the API's shape.
async fn bare_commit_handler(host: &std::sync::Arc<Host>) -> anyhow::Result<Router> {
    let path = NodePath::parse("/bench-bare")?;
    let created = host
        .runtime
        .propose(Command::Multi {
            guard: None,
            ops: vec![Op::Create {
                path: path.clone(),
                data: Data::default(),
                mode: CreateMode::PERSISTENT,
            }],
            quota: None,
        })
        .await?;
    anyhow::ensure!(matches!(created, Ok(Outcome::Committed(_))), "{created:?}");
    let version = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let host = host.clone();
    Ok(Router::new().route(
        "/v1/multi",
        post(move || {
            let (host, path, version) = (host.clone(), path.clone(), version.clone());
            async move {
                let seen = version.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let command = Command::Multi {
                    guard: None,
                    ops: vec![Op::Set {
                        path,
                        data: Data::from(seen.to_string()),
                        expected: Some(seen),
                    }],
                    quota: None,
                };
                match host.runtime.propose(command).await {
                    Ok(Ok(Outcome::Committed(committed))) => (
                        axum::http::StatusCode::OK,
                        format!(r#"{{"revision":{},"paths":[]}}"#, committed.revision.0),
                    ),
                    other => (
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        format!("{other:?}"),
                    ),
                }
            }
        }),
    ))
}
