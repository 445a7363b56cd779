//! `ballot bench peers`: ballot beside the systems a user would pick instead, on the same
//! work, each through its own network API, in one run on one machine.
//!
//! - ballot: a `ballot serve` process (embedded store), guarded multis over HTTP with
//!   keep-alive: each client sets its own node only if its data version is the one it
//!   last wrote.
//! - etcd: a single member started for the run, a Txn comparing a client's key's mod
//!   revision and then putting it (the `etcd-client` crate).
//! - ZooKeeper: a standalone server from Debian's `zookeeper` package, when it is
//!   installed (the run says it skipped it otherwise), a multi of check(version) and
//!   setData (the `zookeeper-client` crate).
//!
//! Failover on each side is a leader process killed with `kill -9`, timed until the
//! successor process knows it leads: for ballot an HTTP client holding a session of the
//! shortest TTL the API takes (100 ms), standing, acknowledging its term once it leads;
//! for etcd its election API with the shortest lease etcd grants; for ZooKeeper the
//! ephemeral-sequential recipe with the shortest session the server grants.
//!
//! Beside them, the ceiling: a bare HTTP handler driven by the same client, which says how
//! much of a throughput gap to a peer the machine itself leaves (the load generator shares
//! its two cores with every server).

use std::io::BufRead as _;
use std::process::{Child, ExitCode};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use etcd_client::Client;
use hdrhistogram::Histogram;

use ballot_etcd::local::LocalCluster;

use super::cluster::{self, BENCH_TOKEN, HostProcess, Run, agent};
use super::zookeeper::ZooKeeperServer;
use super::{Figure, histogram, micros, record, summarise};
use crate::serve::wire::{CandidateView, SessionView};

/// Arguments of `ballot bench peers`.
#[derive(Debug, clap::Args)]
pub struct PeersArgs {
    /// Length of each throughput and latency measurement.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Failover trials per system; 0 skips them.
    #[arg(long, default_value_t = 10)]
    trials: usize,
}

/// The shortest session TTL `POST /v1/sessions` accepts.
const BALLOT_MIN_TTL_MS: u64 = 100;

/// One system's figures.
struct Measured {
    /// Its name, as the table gives it.
    name: &'static str,
    /// Guarded writes with 1, 16 and 64 clients.
    writes: [Run; 3],
    /// Failovers after `kill -9`, and the session or lease TTL they ran with (ms).
    failovers: Option<(Histogram<u64>, String)>,
}

/// The client counts measured.
const CLIENTS: [usize; 3] = [1, 16, 64];

/// Runs `ballot bench peers`.
pub fn run(args: PeersArgs) -> anyhow::Result<ExitCode> {
    let until = Duration::from_secs_f64(args.seconds);
    let dir = tempfile::tempdir()?;
    let etcd = LocalCluster::start(1, dir.path())?;
    let host = HostProcess::start_with(dir.path(), "ballot", &[])?;
    let bare = BareServer::start()?;
    let zookeeper = match ZooKeeperServer::start(dir.path()) {
        Some(started) => Some(started?),
        None => {
            println!(
                "ZooKeeper: skipped, it is not installed (`apt-get install zookeeper` to \
                 include it)"
            );
            None
        }
    };
    println!(
        "ballot: `ballot serve` at {} (embedded store); etcd: one member at {}{}",
        host.base,
        etcd.endpoints().join(","),
        zookeeper.as_ref().map_or(String::new(), |z| format!(
            "; ZooKeeper: standalone at {}",
            z.address
        ))
    );
    let endpoints = etcd.endpoints();
    let base = host.base.clone();
    let bare_base = bare.base.clone();
    let trials = args.trials;
    let ran = super::on_tokio(async move {
        let client = Client::connect(&endpoints, None).await?;
        let (mut ballot, mut etcd, mut zk) = (Vec::new(), Vec::new(), Vec::new());
        let mut ceilings = Vec::new();
        for clients in CLIENTS {
            ballot.push(http_multis(&base, clients, until).await?);
            ceilings.push(http_multis(&bare_base, clients, until).await?);
            etcd.push(cluster::etcd_txns(&client, clients, until).await?);
            if let Some(server) = &zookeeper {
                zk.push(super::zookeeper::guarded_writes(&server.address, clients, until).await?);
            }
        }
        let mut systems = vec![
            Measured {
                name: "ballot",
                writes: three(ballot),
                failovers: None,
            },
            Measured {
                name: "etcd",
                writes: three(etcd),
                failovers: None,
            },
        ];
        if trials > 0 {
            systems[0].failovers = Some(tokio::task::block_in_place(|| {
                failovers(trials, |value| {
                    Campaigner::spawn(&[
                        "http-campaign",
                        "--base",
                        &base,
                        "--election",
                        "bench-peers",
                        "--value",
                        value,
                    ])
                })
            })?);
            let etcd_endpoints = endpoints.join(",");
            let (recipe, granted) =
                tokio::task::block_in_place(|| cluster::etcd_failovers(&etcd_endpoints, trials))?;
            systems[1].failovers = Some((recipe, (granted * 1000).to_string()));
        }
        if let Some(server) = &zookeeper {
            let mut zookeeper = Measured {
                name: "zookeeper",
                writes: three(zk),
                failovers: None,
            };
            if trials > 0 {
                let address = server.address.clone();
                zookeeper.failovers = Some(tokio::task::block_in_place(|| {
                    failovers(trials, |value| {
                        Campaigner::spawn(&[
                            "zk-campaign",
                            "--server",
                            &address,
                            "--election",
                            "/bench-peers",
                            "--value",
                            value,
                        ])
                    })
                })?);
            }
            systems.push(zookeeper);
        }
        report(&systems);
        report_ceiling(&systems, &three(ceilings));
        Ok(ExitCode::SUCCESS)
    });
    // The hosts serve until every measurement is done.
    drop(host);
    drop(bare);
    ran
}

/// A bare axum server answering every `POST /v1/multi` with 200 and a constant, on a
/// runtime of its own (two workers on this machine, as `ballot serve`'s API has): what the
/// same client and HTTP alone reach on this machine, with no store, JSON parsing or
/// commit behind them. ballot's figures cannot pass it here; it says how much of a gap to
/// a peer is the machine's and how much ballot's.
struct BareServer {
    base: String,
    runtime: Option<tokio::runtime::Runtime>,
}

/// What the bare server answers: about the size of ballot's answer to one set.
const BARE_ANSWER: &str = r#"{"revision":12345,"results":[{"op":"set","stat":{"version":1}}]}"#;

impl BareServer {
    fn start() -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("bench-bare-http")
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let base = format!("http://{}", listener.local_addr()?);
        let app = axum::Router::new().route(
            "/v1/multi",
            axum::routing::post(|_body: String| async {
                ([("content-type", "application/json")], BARE_ANSWER)
            }),
        );
        runtime.spawn(async move { axum::serve(listener, app).await });
        Ok(BareServer {
            base,
            runtime: Some(runtime),
        })
    }
}

impl Drop for BareServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Prints the bare server's throughput beside ballot's and the best peer's, and one
/// summary line per client count: the ceiling against the best peer, so a run shows
/// whether a ratio we aim for fits under it on this machine at all.
fn report_ceiling(systems: &[Measured], ceilings: &[Run; 3]) {
    let (ballot, peers) = systems.split_first().expect("ballot is measured");
    let mut summary = Vec::new();
    for (index, (name, baseline_name)) in [
        (
            "http_ceiling_16_clients",
            ["etcd_16_clients", "zookeeper_16_clients"],
        ),
        (
            "http_ceiling_64_clients",
            ["etcd_64_clients", "zookeeper_64_clients"],
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let run = index + 1;
        let best = peers
            .iter()
            .zip(baseline_name)
            .map(|(peer, baseline)| (baseline, peer.writes[run].per_second()))
            .reduce(|best, next| if next.1 > best.1 { next } else { best });
        let ceiling = ceilings[run].per_second();
        println!(
            "{} clients: a bare HTTP handler answers {ceiling:.0} requests/s here with the same \
             client; ballot {:.0} guarded writes/s ({:.2}x of that ceiling)",
            CLIENTS[run],
            ballot.writes[run].per_second(),
            ballot.writes[run].per_second() / ceiling
        );
        if let Some((baseline, baseline_value)) = best {
            summary.push(Figure {
                name,
                value: ceiling,
                unit: "requests/s",
                baseline,
                baseline_value,
            });
        }
    }
    summarise(&summary);
}

fn three(runs: Vec<Run>) -> [Run; 3] {
    runs.try_into()
        .unwrap_or_else(|_| unreachable!("one run per client count"))
}

/// Reads one figure of a system, if it was measured.
type Reader = fn(&Measured) -> Option<f64>;

/// A figure of the comparison: its summary name, its baseline names (etcd's, then
/// ZooKeeper's), whether higher is better, its unit and label, and how to read it.
struct Compared {
    name: &'static str,
    baselines: [&'static str; 2],
    higher_is_better: bool,
    unit: &'static str,
    label: &'static str,
    read: Reader,
}

const COMPARED: [Compared; 6] = [
    Compared {
        name: "peers_guarded_write_p50",
        baselines: ["etcd_guarded_write_p50", "zookeeper_guarded_write_p50"],
        higher_is_better: false,
        unit: "us",
        label: "1 client, guarded write p50 (us)",
        read: |m| Some(micros(&m.writes[0].latencies, 0.5)),
    },
    Compared {
        name: "peers_guarded_write_p99",
        baselines: ["etcd_guarded_write_p99", "zookeeper_guarded_write_p99"],
        higher_is_better: false,
        unit: "us",
        label: "1 client, guarded write p99 (us)",
        read: |m| Some(micros(&m.writes[0].latencies, 0.99)),
    },
    Compared {
        name: "peers_guarded_writes_16_clients",
        baselines: ["etcd_16_clients", "zookeeper_16_clients"],
        higher_is_better: true,
        unit: "writes/s",
        label: "16 clients (guarded writes/s)",
        read: |m| Some(m.writes[1].per_second()),
    },
    Compared {
        name: "peers_guarded_writes_64_clients",
        baselines: ["etcd_64_clients", "zookeeper_64_clients"],
        higher_is_better: true,
        unit: "writes/s",
        label: "64 clients (guarded writes/s)",
        read: |m| Some(m.writes[2].per_second()),
    },
    Compared {
        name: "peers_failover_p50",
        baselines: ["etcd_failover_p50", "zookeeper_failover_p50"],
        higher_is_better: false,
        unit: "ms",
        label: "failover after kill -9, p50 (ms)",
        read: |m| m.failovers.as_ref().map(|(h, _)| micros(h, 0.5) / 1e3),
    },
    Compared {
        name: "peers_failover_p99",
        baselines: ["etcd_failover_p99", "zookeeper_failover_p99"],
        higher_is_better: false,
        unit: "ms",
        label: "failover after kill -9, p99 (ms)",
        read: |m| m.failovers.as_ref().map(|(h, _)| micros(h, 0.99) / 1e3),
    },
];

/// Prints the comparison table and one summary line per figure: ballot's against the
/// best peer's.
fn report(systems: &[Measured]) {
    let (ballot, peers) = systems.split_first().expect("ballot is measured");
    let names: Vec<&str> = systems.iter().map(|m| m.name).collect();
    println!("| figure | {} |", names.join(" | "));
    println!("|---|{}", "---|".repeat(names.len()));
    let cell = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0}"));
    for compared in &COMPARED {
        let cells: Vec<String> = systems.iter().map(|m| cell((compared.read)(m))).collect();
        println!("| {} | {} |", compared.label, cells.join(" | "));
    }
    let ttls: Vec<String> = systems
        .iter()
        .map(|m| {
            m.failovers
                .as_ref()
                .map_or("-".into(), |(_, ttl)| ttl.clone())
        })
        .collect();
    println!("| session or lease TTL (ms) | {} |", ttls.join(" | "));
    let mut summary = Vec::new();
    for compared in &COMPARED {
        let Some(value) = (compared.read)(ballot) else {
            continue;
        };
        let better = |a: f64, b: f64| {
            if compared.higher_is_better {
                a > b
            } else {
                a < b
            }
        };
        let best = peers
            .iter()
            .zip(compared.baselines)
            .filter_map(|(peer, baseline)| (compared.read)(peer).map(|v| (baseline, v)))
            .reduce(|best, next| if better(next.1, best.1) { next } else { best });
        if let Some((baseline, baseline_value)) = best {
            summary.push(Figure {
                name: compared.name,
                value,
                unit: compared.unit,
                baseline,
                baseline_value,
            });
        }
    }
    summarise(&summary);
}

/// `clients` tasks on one pooled HTTP/1.1 client (a keep-alive connection each), each
/// setting its own node `/peers{clients}/c{who}` over `POST /v1/multi`, guarded by the
/// data version it last wrote, for `until`. Async, like the etcd and ZooKeeper clients,
/// so the three load generators cost this machine's two cores alike.
async fn http_multis(base: &str, clients: usize, until: Duration) -> anyhow::Result<Run> {
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_max_idle_per_host(clients)
        .build_http::<String>();
    let url: hyper::Uri = format!("{base}/v1/multi").parse()?;
    let root = format!("/peers{clients}");
    let mut ops = vec![create_op(&root)];
    ops.extend((0..clients).map(|who| create_op(&format!("{root}/c{who}"))));
    post_multi(&http, &url, format!(r#"{{"ops":[{}]}}"#, ops.join(","))).await?;
    // A client's n-th write expects version n of its node, created just now.
    cluster::load(clients, until, move |who, version| {
        let (http, url) = (http.clone(), url.clone());
        let body = format!(
            r#"{{"ops":[{{"op":"set","path":"{root}/c{who}","data":"{version}","expected":{version}}}]}}"#
        );
        async move { post_multi(&http, &url, body).await }
    })
    .await
}

fn create_op(path: &str) -> String {
    format!(r#"{{"op":"create","path":"{path}","data":""}}"#)
}

type HttpClient =
    hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, String>;

/// One `POST /v1/multi`; anything but 200 (a failed guard included) stops the run.
async fn post_multi(http: &HttpClient, url: &hyper::Uri, body: String) -> anyhow::Result<()> {
    use http_body_util::BodyExt as _;
    let request = hyper::Request::post(url)
        .header("authorization", format!("Bearer {BENCH_TOKEN}"))
        .header("content-type", "application/json")
        .body(body)?;
    let answer = http.request(request).await?;
    let status = answer.status();
    // The whole body is read, so the connection goes back to the pool.
    let text = answer.into_body().collect().await?.to_bytes();
    anyhow::ensure!(
        status == hyper::StatusCode::OK,
        "POST /v1/multi: {status}: {}",
        String::from_utf8_lossy(&text)
    );
    Ok(())
}

/// Failover of campaigner processes (`spawn` starts one with the given ballot value):
/// two stand; the leader is killed with `kill -9` and the time until the other prints
/// that it leads is recorded; the killed one comes back and queues. Returns the
/// failovers and what the first campaigner said when it stood (its session's TTL).
fn failovers(
    trials: usize,
    spawn: impl Fn(&str) -> anyhow::Result<Campaigner>,
) -> anyhow::Result<(Histogram<u64>, String)> {
    let wait = Duration::from_secs(60);
    let mut first = spawn("a")?;
    let stood = first
        .standing
        .recv_timeout(wait)
        .map_err(|_| anyhow::anyhow!("the first campaigner never stood"))?;
    first
        .leading
        .recv_timeout(wait)
        .map_err(|_| anyhow::anyhow!("the first campaigner never led"))?;
    let mut second = spawn("b")?;
    second
        .standing
        .recv_timeout(wait)
        .map_err(|_| anyhow::anyhow!("the second campaigner never stood"))?;
    let mut failovers = histogram();
    for trial in 0..trials {
        let t0 = Instant::now();
        first.kill();
        second
            .leading
            .recv_timeout(wait)
            .map_err(|_| anyhow::anyhow!("the successor never led"))?;
        record(&mut failovers, t0.elapsed());
        std::mem::swap(&mut first, &mut second);
        second = spawn(&format!("c{trial}"))?;
        second
            .standing
            .recv_timeout(wait)
            .map_err(|_| anyhow::anyhow!("a restarted campaigner never stood"))?;
    }
    Ok((failovers, stood))
}

/// A running campaigner process (`ballot http-campaign` or `ballot zk-campaign`), and
/// what it has said: `standing [TTL]` once its ballot is cast, `leading` once it leads.
/// Killed with `kill -9` when dropped.
struct Campaigner {
    child: Child,
    standing: mpsc::Receiver<String>,
    leading: mpsc::Receiver<()>,
}

impl Campaigner {
    /// Starts this binary with `args`.
    fn spawn(args: &[&str]) -> anyhow::Result<Campaigner> {
        let mut child = std::process::Command::new(std::env::current_exe()?)
            .args(args)
            .env("BALLOT_TOKEN", BENCH_TOKEN)
            .stdout(std::process::Stdio::piped())
            // A campaigner says nothing there unless it fails: then the run shows why.
            .stderr(std::process::Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().expect("piped");
        let (standing_tx, standing) = mpsc::channel();
        let (leading_tx, leading) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let said = if let Some(rest) = line.strip_prefix("standing") {
                    standing_tx.send(rest.trim().to_owned()).is_ok()
                } else if line == "leading" {
                    leading_tx.send(()).is_ok()
                } else {
                    true
                };
                if !said {
                    return;
                }
            }
        });
        Ok(Campaigner {
            child,
            standing,
            leading,
        })
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Campaigner {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Arguments of the hidden `ballot http-campaign`: an HTTP client holding ballot's
/// election recipe, for the failover comparison.
#[derive(Debug, clap::Args)]
pub struct HttpCampaignArgs {
    /// The host's base URL.
    #[arg(long)]
    base: String,
    /// The election.
    #[arg(long)]
    election: String,
    /// The ballot data.
    #[arg(long)]
    value: String,
    /// The session's TTL.
    #[arg(long, default_value_t = BALLOT_MIN_TTL_MS)]
    ttl_ms: u64,
}

/// `ballot http-campaign`: opens a session (heartbeating it every third of its TTL),
/// stands, prints `standing`; once its ballot is the lowest, acknowledges its term and
/// prints `leading`; holds on until killed. It learns that it leads by asking for its
/// candidate every millisecond, as a client without an event stream would.
pub fn http_campaign(args: HttpCampaignArgs) -> anyhow::Result<ExitCode> {
    let token = std::env::var("BALLOT_TOKEN").unwrap_or_default();
    let bearer = format!("Bearer {token}");
    let agent = agent();
    let base = args.base.trim_end_matches('/');
    let session: SessionView = agent
        .post(format!("{base}/v1/sessions"))
        .header("authorization", &bearer)
        .send_json(serde_json::json!({ "ttl_ms": args.ttl_ms }))?
        .body_mut()
        .read_json()?;
    let beats = (agent.clone(), base.to_owned(), bearer.clone());
    std::thread::spawn(move || {
        let (agent, base, bearer) = beats;
        let every = Duration::from_millis(args.ttl_ms / 3);
        loop {
            let _ = agent
                .post(format!("{base}/v1/sessions/{}/heartbeat", session.session))
                .header("authorization", &bearer)
                .send_empty();
            std::thread::sleep(every);
        }
    });
    let mut candidate: CandidateView = agent
        .post(format!("{base}/v1/elections/{}/candidates", args.election))
        .header("authorization", &bearer)
        .send_json(serde_json::json!({ "session": session.session, "data": args.value }))?
        .body_mut()
        .read_json()?;
    println!("standing {}", args.ttl_ms);
    let term = loop {
        if let Some(term) = candidate.term {
            break term;
        }
        std::thread::sleep(Duration::from_millis(1));
        candidate = agent
            .get(format!("{base}/v1/candidates/{}", candidate.candidate))
            .header("authorization", &bearer)
            .call()?
            .body_mut()
            .read_json()?;
    };
    let mut acked = agent
        .post(format!("{base}/v1/candidates/{}/ack", candidate.candidate))
        .header("authorization", &bearer)
        .send_json(serde_json::json!({ "term": term }))?;
    anyhow::ensure!(
        acked.status().is_success(),
        "ack: {}: {}",
        acked.status(),
        acked.body_mut().read_to_string().unwrap_or_default()
    );
    println!("leading");
    loop {
        std::thread::park();
    }
}
