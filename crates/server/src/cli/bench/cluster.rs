//! `ballot bench cluster`: ballot's guarded commits through the etcd log against etcd's
//! own put and Txn-guarded put, on one 3-member etcd cluster started on loopback for the
//! run (Debian's `etcd`), with the Rust `etcd-client` for etcd's figures.
//!
//! A guarded write on each side is the same thing: etcd's is a Txn that puts a client's
//! key only if its mod revision is the one the client last saw; ballot's is a multi that
//! sets a client's node only if its data version is the one the client last saw. Each
//! client writes its own key, so no guard fails.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Client, Compare, CompareOp, Txn, TxnOp};
use hdrhistogram::Histogram;

use ballot_core::command::{Command, Outcome};
use ballot_core::namespace::{CreateMode, Data, NodePath, Op};
use ballot_etcd::local::LocalCluster;
use ballot_etcd::{HostOptions, Settings};
use ballot_store::EmbeddedStore;
use ballot_store::clock::SystemClock;

use super::{Figure, histogram, micros, record, summarise};

/// Arguments of `ballot bench cluster`.
#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// Length of each measurement.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Failover trials per TTL (and for etcd's own recipe); 0 skips them.
    #[arg(long, default_value_t = 20)]
    trials: usize,
    /// Slices each measurement is split into, etcd's and ballot's taking turns, so a
    /// disk that speeds up or slows down during the run weighs on both alike.
    #[arg(long, default_value_t = 6)]
    slices: u32,
}

/// What one measurement gave: the latency of each completed write, and the time taken.
pub(crate) struct Run {
    pub(crate) latencies: Histogram<u64>,
    elapsed: Duration,
}

impl Run {
    /// Nothing measured yet: what slices are added to.
    fn empty() -> Run {
        Run {
            latencies: histogram(),
            elapsed: Duration::ZERO,
        }
    }

    /// Adds a slice measured the same way: its latencies, and its time.
    fn add(&mut self, slice: Run) -> anyhow::Result<()> {
        self.latencies.add(&slice.latencies)?;
        self.elapsed += slice.elapsed;
        Ok(())
    }

    /// Completed writes per second.
    pub(crate) fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `clients` loops of `write` for `until`; each loop gets its client number.
pub(crate) async fn load<F, Fut>(clients: usize, until: Duration, write: F) -> anyhow::Result<Run>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let write = Arc::new(write);
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let write = write.clone();
            tokio::spawn(async move {
                let mut latencies = histogram();
                let mut n = 0u64;
                while start.elapsed() < until {
                    let t = Instant::now();
                    write(client, n).await?;
                    record(&mut latencies, t.elapsed());
                    n += 1;
                }
                Ok::<_, anyhow::Error>(latencies)
            })
        })
        .collect();
    let mut all = histogram();
    for task in tasks {
        all.add(task.await??)?;
    }
    Ok(Run {
        latencies: all,
        elapsed: start.elapsed(),
    })
}

async fn etcd_puts(client: &Client, clients: usize, until: Duration) -> anyhow::Result<Run> {
    let client = client.clone();
    load(clients, until, move |who, n| {
        let mut client = client.clone();
        async move {
            client
                .put(format!("/bench/put/{who}"), n.to_string(), None)
                .await?;
            Ok(())
        }
    })
    .await
}

pub(crate) async fn etcd_txns(
    client: &Client,
    clients: usize,
    until: Duration,
) -> anyhow::Result<Run> {
    // Each client's key and the mod revision it last wrote there.
    let mut last = Vec::new();
    for who in 0..clients {
        let mut c = client.clone();
        let put = c.put(format!("/bench/txn/{who}"), "0", None).await?;
        let revision = put.header().map_or(0, |h| h.revision());
        last.push(Arc::new(std::sync::atomic::AtomicI64::new(revision)));
    }
    let last = Arc::new(last);
    let client = client.clone();
    load(clients, until, move |who, n| {
        let (mut client, last) = (client.clone(), last.clone());
        async move {
            let key = format!("/bench/txn/{who}");
            let seen = last[who].load(std::sync::atomic::Ordering::Relaxed);
            let txn = Txn::new()
                .when([Compare::mod_revision(key.clone(), CompareOp::Equal, seen)])
                .and_then([TxnOp::put(key, n.to_string(), None)]);
            let answer = client.txn(txn).await?;
            anyhow::ensure!(
                answer.succeeded(),
                "the guard failed: a client's own key moved"
            );
            let revision = answer.header().map_or(0, |h| h.revision());
            last[who].store(revision, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        }
    })
    .await
}

/// Clients that each make guarded sets of their own node through ballot's store on the
/// etcd log; their nodes are made once, so they can run slice after slice.
struct BallotWriters {
    store: Arc<EmbeddedStore>,
    nodes: Arc<Vec<NodePath>>,
    /// The data version each client last saw of its node.
    versions: Arc<Vec<std::sync::atomic::AtomicU64>>,
}

impl BallotWriters {
    /// Makes a node for each of `clients` under a folder of its own.
    async fn new(store: &Arc<EmbeddedStore>, clients: usize) -> anyhow::Result<BallotWriters> {
        let root = NodePath::parse(&format!("/bench{clients}"))?;
        let nodes = (0..clients)
            .map(|who| root.child(&format!("c{who}")))
            .collect::<Result<Vec<_>, _>>()?;
        let folder = Op::Create {
            path: root,
            data: Data::default(),
            mode: CreateMode::PERSISTENT,
        };
        let ops = std::iter::once(folder)
            .chain(nodes.iter().map(|path| Op::Create {
                path: path.clone(),
                data: Data::default(),
                mode: CreateMode::PERSISTENT,
            }))
            .collect();
        let created = store
            .propose(Command::Multi {
                guard: None,
                ops,
                quota: None,
            })
            .await?;
        anyhow::ensure!(matches!(created, Ok(Outcome::Committed(_))), "{created:?}");
        Ok(BallotWriters {
            store: store.clone(),
            versions: Arc::new((0..clients).map(|_| 0.into()).collect()),
            nodes: Arc::new(nodes),
        })
    }

    /// Every client writes its node, guarded by the version it last saw, for `until`.
    async fn run(&self, until: Duration) -> anyhow::Result<Run> {
        let (store, nodes, versions) = (
            self.store.clone(),
            self.nodes.clone(),
            self.versions.clone(),
        );
        load(nodes.len(), until, move |who, n| {
            let (store, nodes, versions) = (store.clone(), nodes.clone(), versions.clone());
            async move {
                let seen = versions[who].load(std::sync::atomic::Ordering::Relaxed);
                let command = Command::Multi {
                    guard: None,
                    ops: vec![Op::Set {
                        path: nodes[who].clone(),
                        data: Data::from(n.to_string().into_bytes()),
                        expected: Some(seen),
                    }],
                    quota: None,
                };
                let applied = store.propose(command).await?;
                anyhow::ensure!(
                    matches!(applied, Ok(Outcome::Committed(_))),
                    "the guard failed: {applied:?}"
                );
                versions[who].store(seen + 1, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
        })
        .await
    }
}

/// etcd's put, etcd's guarded Txn and ballot's guarded commit with `clients` clients each,
/// for `until` each in all, taking turns in `slices` slices.
async fn in_turns(
    client: &Client,
    store: &Arc<EmbeddedStore>,
    clients: usize,
    until: Duration,
    slices: u32,
) -> anyhow::Result<[Run; 3]> {
    let slices = slices.max(1);
    let slice = until / slices;
    let writers = BallotWriters::new(store, clients).await?;
    let [mut puts, mut txns, mut commits] = [Run::empty(), Run::empty(), Run::empty()];
    for _ in 0..slices {
        puts.add(etcd_puts(client, clients, slice).await?)?;
        txns.add(etcd_txns(client, clients, slice).await?)?;
        commits.add(writers.run(slice).await?)?;
    }
    Ok([puts, txns, commits])
}

/// Runs `ballot bench cluster`.
pub fn run(args: ClusterArgs) -> anyhow::Result<ExitCode> {
    let until = Duration::from_secs_f64(args.seconds);
    let dir = tempfile::tempdir()?;
    let etcd = LocalCluster::start(3, dir.path())?;
    println!(
        "etcd: 3 members on loopback ({})",
        etcd.endpoints().join(",")
    );
    let settings = Settings::new(etcd.endpoints(), "bench");
    let options = HostOptions::new("bench", Duration::from_secs(2));
    let (store, _host) = ballot_etcd::Host::open(settings, options, Arc::new(SystemClock::new()))?;
    let store = Arc::new(store);
    let endpoints = etcd.endpoints();
    let dir_path = dir.path().to_path_buf();
    super::on_tokio(async move {
        let client = Client::connect(&endpoints, None).await?;
        let [put1, txn1, ballot1] = in_turns(&client, &store, 1, until, args.slices).await?;
        println!(
            "1 client p50/p99 (us): etcd put {:.0}/{:.0}, etcd guarded Txn {:.0}/{:.0}, ballot guarded commit {:.0}/{:.0}",
            micros(&put1.latencies, 0.5),
            micros(&put1.latencies, 0.99),
            micros(&txn1.latencies, 0.5),
            micros(&txn1.latencies, 0.99),
            micros(&ballot1.latencies, 0.5),
            micros(&ballot1.latencies, 0.99),
        );
        let mut figures = vec![Figure {
            name: "cluster_guarded_commit_p50",
            value: micros(&ballot1.latencies, 0.5),
            unit: "us",
            baseline: "etcd_put_p50",
            baseline_value: micros(&put1.latencies, 0.5),
        }];
        for clients in [16, 64] {
            let [puts, txns, commits] =
                in_turns(&client, &store, clients, until, args.slices).await?;
            println!(
                "{clients} clients (writes/s): etcd put {:.0}, etcd guarded Txn {:.0}, ballot guarded commit {:.0} (p50 {:.0} us)",
                puts.per_second(),
                txns.per_second(),
                commits.per_second(),
                micros(&commits.latencies, 0.5),
            );
            figures.push(Figure {
                name: if clients == 16 {
                    "cluster_guarded_commits_16_clients"
                } else {
                    "cluster_guarded_commits_64_clients"
                },
                value: commits.per_second(),
                unit: "commits/s",
                baseline: if clients == 16 {
                    "etcd_guarded_txn_16_clients"
                } else {
                    "etcd_guarded_txn_64_clients"
                },
                baseline_value: txns.per_second(),
            });
        }
        if args.trials > 0 {
            let endpoints = endpoints.join(",");
            let (recipe, granted) =
                tokio::task::block_in_place(|| etcd_failovers(&endpoints, args.trials))?;
            println!(
                "etcd election recipe, lease TTL {granted} s (etcd's minimum here): failover p50 {:.0} ms, p99 {:.0} ms",
                micros(&recipe, 0.5) / 1e3,
                micros(&recipe, 0.99) / 1e3
            );
            for ttl_ms in [1000u64, 300] {
                let trials = args.trials;
                let failovers = match tokio::task::block_in_place(|| {
                    ballot_failovers(dir_path.as_path(), &endpoints, ttl_ms, trials)
                }) {
                    Ok(failovers) => failovers,
                    Err(error) => {
                        println!(
                            "ballot, --host-ttl-ms {ttl_ms}: failover trials stopped: {error}"
                        );
                        continue;
                    }
                };
                println!(
                    "ballot, kill -9 of the leader's host, --host-ttl-ms {ttl_ms}: failover p50 {:.0} ms, p99 {:.0} ms ({} trials)",
                    micros(&failovers, 0.5) / 1e3,
                    micros(&failovers, 0.99) / 1e3,
                    failovers.len()
                );
                let (p50, p99) = if ttl_ms == 1000 {
                    (
                        "cluster_failover_ttl1000_p50",
                        "cluster_failover_ttl1000_p99",
                    )
                } else {
                    ("cluster_failover_ttl300_p50", "cluster_failover_ttl300_p99")
                };
                figures.push(Figure {
                    name: p50,
                    value: micros(&failovers, 0.5) / 1e3,
                    unit: "ms",
                    baseline: "etcd_recipe_failover_p50",
                    baseline_value: micros(&recipe, 0.5) / 1e3,
                });
                figures.push(Figure {
                    name: p99,
                    value: micros(&failovers, 0.99) / 1e3,
                    unit: "ms",
                    baseline: "etcd_recipe_failover_p99",
                    baseline_value: micros(&recipe, 0.99) / 1e3,
                });
            }
        }
        let (batches, records) = store.batch_stats();
        println!(
            "ballot batches: {batches}, commands: {records} ({:.1} per batch)",
            records as f64 / batches.max(1) as f64
        );
        summarise(&figures);
        Ok(ExitCode::SUCCESS)
    })
}

/// A `ballot serve` host of this binary, started for a benchmark.
pub(crate) struct HostProcess {
    child: std::process::Child,
    pub(crate) base: String,
}

impl HostProcess {
    /// A host on the bench's etcd cluster.
    fn start(
        dir: &std::path::Path,
        endpoints: &str,
        cluster: &str,
        id: &str,
        ttl_ms: u64,
    ) -> anyhow::Result<HostProcess> {
        let ttl = ttl_ms.to_string();
        Self::start_with(
            dir,
            id,
            &[
                "--etcd",
                endpoints,
                "--cluster",
                cluster,
                "--host-id",
                id,
                "--host-ttl-ms",
                &ttl,
            ],
        )
    }

    /// A host named `id` with its data folder and log in `dir`, started with `args`
    /// beyond the address, the data folder and open reads.
    pub(crate) fn start_with(
        dir: &std::path::Path,
        id: &str,
        args: &[&str],
    ) -> anyhow::Result<HostProcess> {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(std::env::current_exe()?)
            .args([
                "serve",
                "--public-reads",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(dir.join(id))
            .args(args)
            .env("BALLOT_TOKEN", BENCH_TOKEN)
            .stdout(std::process::Stdio::piped())
            .stderr(
                std::fs::File::options()
                    .create(true)
                    .append(true)
                    .open(dir.join(format!("{id}.log")))?,
            )
            .spawn()?;
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("piped"));
        let mut first = String::new();
        stdout.read_line(&mut first)?;
        let base = first
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_owned();
        anyhow::ensure!(base.starts_with("http://"), "serve said {first:?}");
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Ok(HostProcess { child, base })
    }

    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The process id, to read its memory from `/proc`.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

pub(crate) const BENCH_TOKEN: &str = "bench-cluster-token";

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// The data of `election`'s acknowledged leader, as `host` reports it.
fn leader_of(host: &HostProcess) -> Option<String> {
    let mut answer = agent()
        .get(format!("{}/v1/elections/example", host.base))
        .call()
        .ok()?;
    let view: crate::serve::wire::ElectionView = answer.body_mut().read_json().ok()?;
    view.leader?.payload.data
}

fn queued(host: &HostProcess) -> usize {
    agent()
        .get(format!("{}/v1/elections/example", host.base))
        .call()
        .ok()
        .and_then(|mut a| {
            a.body_mut()
                .read_json::<crate::serve::wire::ElectionView>()
                .ok()
        })
        .map_or(0, |view| view.queue.len())
}

fn deploy_candidate(host: &HostProcess, name: &str) -> anyhow::Result<()> {
    deploy_example(host, name, "ttl_ms=10000")
}

/// Deploys the example candidate named `name` (its data too) in election `example`, with
/// `query` added to the deploy's parameters.
pub(crate) fn deploy_example(host: &HostProcess, name: &str, query: &str) -> anyhow::Result<()> {
    let url = format!(
        "{}/v1/components?role=candidate&election=example&name={name}&data={name}&{query}",
        host.base
    );
    let mut answer = agent()
        .post(url)
        .header("authorization", format!("Bearer {BENCH_TOKEN}"))
        .send(crate::cli::bundled::EXAMPLE_CANDIDATE)?;
    let status = answer.status().as_u16();
    if status != 201 {
        let body = answer.body_mut().read_to_string().unwrap_or_default();
        anyhow::bail!("deploy: {status}: {body}");
    }
    Ok(())
}

/// Waits (polling every 2 ms, at most 30 s) until `ready` holds.
pub(crate) fn wait_until(what: &str, mut ready: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        anyhow::ensure!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// Failover after `kill -9` of the leader's host, `trials` times: two hosts, a candidate
/// on each; the leader's host is killed, the time until the other host reports its own
/// candidate as the acknowledged leader is recorded, and the killed host comes back (its
/// deployment queues again).
pub(crate) fn ballot_failovers(
    dir: &std::path::Path,
    endpoints: &str,
    ttl_ms: u64,
    trials: usize,
) -> anyhow::Result<Histogram<u64>> {
    let cluster = format!("failover-{ttl_ms}");
    let dir = &dir.join(&cluster);
    std::fs::create_dir_all(dir)?;
    let ids = ["a", "b"];
    let mut hosts = Vec::new();
    for id in ids {
        let host = HostProcess::start(dir, endpoints, &cluster, id, ttl_ms)?;
        deploy_candidate(&host, id)?;
        hosts.push(host);
    }
    wait_until("two ballots", || {
        queued(&hosts[1]) == 2 && leader_of(&hosts[1]).is_some()
    })
    .map_err(|e| {
        let seen = agent()
            .get(format!("{}/v1/elections/example", hosts[1].base))
            .call()
            .ok()
            .and_then(|mut a| a.body_mut().read_to_string().ok());
        anyhow::anyhow!("{e}: the election as the second host saw it: {seen:?}")
    })?;
    let mut failovers = histogram();
    for _ in 0..trials {
        let leader = leader_of(&hosts[0]).unwrap_or_default();
        let dead = ids.iter().position(|id| *id == leader).unwrap_or(0);
        let survivor = 1 - dead;
        // A host gives a peer it has never heard from a full TTL from when it first saw
        // it (it cannot know how old the peer's last heartbeat is), so the survivor must
        // first hear the leader's host; then the kill lands at a random moment of that
        // host's heartbeat cycle.
        wait_until("the survivor hearing the leader's host", || {
            has_heard(&hosts[survivor], ids[dead])
        })?;
        std::thread::sleep(Duration::from_millis(random_below(ttl_ms)));
        let t0 = Instant::now();
        hosts[dead].kill();
        wait_until("the successor", || {
            leader_of(&hosts[survivor]).as_deref() == Some(ids[survivor])
        })?;
        record(&mut failovers, t0.elapsed());
        hosts[dead] = HostProcess::start(dir, endpoints, &cluster, ids[dead], ttl_ms)?;
        wait_until("the restarted host's ballot", || {
            queued(&hosts[survivor]) == 2
        })?;
    }
    Ok(failovers)
}

/// Whether `host` has received a heartbeat of the host named `peer`.
fn has_heard(host: &HostProcess, peer: &str) -> bool {
    agent()
        .get(format!("{}/v1/hosts", host.base))
        .call()
        .ok()
        .and_then(|mut a| {
            a.body_mut()
                .read_json::<crate::serve::wire::HostsView>()
                .ok()
        })
        .is_some_and(|view| {
            view.hosts
                .iter()
                .any(|h| h.id == peer && !h.this_host && h.since_heartbeat_ms.is_some())
        })
}

/// A number below `bound` that differs from call to call (seeded from the clock):
/// enough to spread the kills over the heartbeat cycle.
fn random_below(bound: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    ballot_sim::rng::Rng::new(nanos).below(bound.max(1))
}

/// Arguments of the hidden `ballot etcd-campaign`: a process holding etcd's own election
/// recipe, for the failover baseline.
#[derive(Debug, clap::Args)]
pub struct CampaignArgs {
    /// The etcd members' client URLs, comma-separated.
    #[arg(long)]
    etcd: String,
    /// The election's name.
    #[arg(long)]
    name: String,
    /// The value proclaimed when leading.
    #[arg(long)]
    value: String,
    /// The lease TTL asked for, in seconds (etcd raises it to its minimum).
    #[arg(long, default_value_t = 1)]
    ttl: i64,
}

/// `ballot etcd-campaign`: grants a lease, keeps it alive, campaigns, prints `leading
/// <granted TTL>` once elected, and holds the leadership until killed.
pub fn campaign(args: CampaignArgs) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let endpoints: Vec<&str> = args.etcd.split(',').collect();
            let mut client = Client::connect(&endpoints, None).await?;
            let lease = client.lease_grant(args.ttl, None).await?;
            let (mut keeper, _stream) = client.lease_keep_alive(lease.id()).await?;
            let every = Duration::from_millis((lease.ttl().max(1) as u64) * 1000 / 3);
            tokio::spawn(async move {
                loop {
                    if keeper.keep_alive().await.is_err() {
                        return;
                    }
                    tokio::time::sleep(every).await;
                }
            });
            client
                .campaign(args.name.as_str(), args.value.as_str(), lease.id())
                .await?;
            println!("leading {}", lease.ttl());
            std::future::pending::<()>().await;
            Ok(ExitCode::SUCCESS)
        })
}

/// The same trials with etcd's own election recipe: two campaigners, the leader killed
/// with `kill -9`, the time until the other prints that it leads.
pub(crate) fn etcd_failovers(
    endpoints: &str,
    trials: usize,
) -> anyhow::Result<(Histogram<u64>, i64)> {
    use std::io::BufRead as _;
    let spawn =
        |value: &str| -> anyhow::Result<(std::process::Child, std::sync::mpsc::Receiver<i64>)> {
            let mut child = std::process::Command::new(std::env::current_exe()?)
                .args([
                    "etcd-campaign",
                    "--etcd",
                    endpoints,
                    "--name",
                    "bench-recipe",
                    "--value",
                    value,
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()?;
            let stdout = child.stdout.take().expect("piped");
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stdout)
                    .lines()
                    .map_while(Result::ok)
                {
                    if let Some(ttl) = line.strip_prefix("leading ") {
                        let _ = tx.send(ttl.parse().unwrap_or(0));
                    }
                }
            });
            Ok((child, rx))
        };
    let mut first = spawn("a")?;
    let granted = first
        .1
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| anyhow::anyhow!("the first campaigner never led"))?;
    let mut second = spawn("b")?;
    std::thread::sleep(Duration::from_millis(300));
    let mut failovers = histogram();
    for _ in 0..trials {
        let t0 = Instant::now();
        let _ = first.0.kill();
        let _ = first.0.wait();
        second
            .1
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| anyhow::anyhow!("the successor never led"))?;
        record(&mut failovers, t0.elapsed());
        // The killed one comes back and queues; the leader is killed next.
        std::mem::swap(&mut first, &mut second);
        second = spawn("c")?;
        std::thread::sleep(Duration::from_millis(300));
    }
    let _ = first.0.kill();
    let _ = second.0.kill();
    let _ = first.0.wait();
    let _ = second.0.wait();
    Ok((failovers, granted))
}
