//! `ballot bench events`: what open event streams cost a host, in one run.
//!
//! A `ballot serve` process of this binary, on the embedded store, with two example
//! candidates in election `example`; the leader ticks every 100 ms, a guarded write and so
//! an event each time.
//!
//! - Failover: the leading deployment is killed (`POST /v1/components/{id}/kill`) and the
//!   time from its revocation to its successor's ack is read off the host's timeline (its
//!   monotonic clock, `uptime_us`): first with no other stream open (the baseline), then
//!   with `--streams` streams open, each read as fast as events come. What the streams
//!   must not slow is this: the writer and the callbacks.
//! - Delivery: the time from the kill request until the bench's own event stream, one of
//!   the many, hears the new leader. This one includes the fan-out to every stream.
//! - Memory: the host's resident set, read from `/proc`, before the streams open, while
//!   they are open, and after they closed, against the one before.
//! - The disk: raw 4 KiB writes and fdatasyncs beside the host after each block, with
//!   the streams still open in a loaded one, so a run shows how much of a slower failover
//!   is the disk's own answer under the same traffic.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::cluster::{BENCH_TOKEN, HostProcess, agent, deploy_example, wait_until};
use super::{Figure, blocking, histogram, micros, on_tokio, record, summarise};
use crate::serve::timeline::TimelineView;
use crate::serve::wire::{DeploymentView, EventView};

/// Arguments of `ballot bench events`.
#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Event streams held open during the loaded failovers.
    #[arg(long, default_value_t = 2_000)]
    streams: usize,
    /// Failovers measured with no stream open, and as many with the streams.
    #[arg(long, default_value_t = 200)]
    trials: usize,
    /// Blocks the trials are split into, alternating without and with the streams.
    #[arg(long, default_value_t = 4)]
    blocks: usize,
}

/// Runs the benchmark.
pub fn run(args: EventsArgs) -> anyhow::Result<ExitCode> {
    on_tokio(measure(args))
}

async fn measure(args: EventsArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let host = HostProcess::start_with(dir.path(), "events", &[])?;
    let probe_dir = dir.path().to_path_buf();
    let base = host.base.clone();
    let address = base.trim_start_matches("http://").to_string();
    blocking(move || {
        for name in ["a", "b"] {
            deploy_example(&host, name, "ttl_ms=3000&tick_ms=100")?;
        }
        wait_until("two candidates with a leader", || {
            deployments(&host.base)
                .is_ok_and(|all| all.len() == 2 && all.iter().any(|d| d.term.is_some()))
        })?;
        Ok(host)
    })
    .await
    .map(|host| Bench {
        host,
        base,
        address,
        probe_dir,
    })?
    .run(args)
    .await
}

/// The host under measurement and how to reach it.
struct Bench {
    host: HostProcess,
    base: String,
    address: String,
    /// Where raw syncs are timed: beside the host's data folder, on its file system.
    probe_dir: std::path::PathBuf,
}

/// Raw syncs timed after each block's failovers, and the pause before each: a sync now and
/// then, as the host's are in a failover, not back to back (a thread that syncs in a
/// tight loop keeps its core awake and hides what a lone sync meets).
const RAW_SYNCS: usize = 200;
const RAW_SYNC_GAP: Duration = Duration::from_millis(2);

/// What the bench hears from the host: new leaders on its event stream (term, when heard)
/// and timeline lines.
struct Heard {
    leaders: mpsc::UnboundedReceiver<(u64, Instant)>,
    timeline: mpsc::UnboundedReceiver<TimelineView>,
}

/// One round of failovers: on the host's clock, and as the bench's event stream heard it.
struct Failovers {
    host: Histogram<u64>,
    /// The host's part split in two: the kill's revocation until the successor's
    /// on-winning-election starts (the retiring commit and the promotion), and from there
    /// to its ack (the callback and the ack's commit).
    to_win: Histogram<u64>,
    to_ack: Histogram<u64>,
    heard: Histogram<u64>,
    /// The slowest failover on the host's clock, and how much of it came before the
    /// successor's on-winning-election (the rest is the callback and the ack).
    slowest: (u64, u64),
}

impl Failovers {
    fn new() -> Self {
        Failovers {
            host: histogram(),
            to_win: histogram(),
            to_ack: histogram(),
            heard: histogram(),
            slowest: (0, 0),
        }
    }

    fn add(&mut self, block: Failovers) {
        self.host.add(&block.host).expect("same bounds");
        self.to_win.add(&block.to_win).expect("same bounds");
        self.to_ack.add(&block.to_ack).expect("same bounds");
        self.heard.add(&block.heard).expect("same bounds");
        self.slowest = self.slowest.max(block.slowest);
    }

    fn line(&self, what: &str) -> String {
        format!(
            "failover {what}: kill to successor's ack on the host p50 {:.0} us, p99 {:.0} us, max {:.0} us (of which {} us before its on-winning-election; to the on-winning-election p50 {:.0} us, p99 {:.0} us, from there to the ack p50 {:.0} us, p99 {:.0} us); kill request to an event stream hearing it p50 {:.0} us, p99 {:.0} us ({} trials)",
            micros(&self.host, 0.5),
            micros(&self.host, 0.99),
            micros(&self.host, 1.0),
            self.slowest.1,
            micros(&self.to_win, 0.5),
            micros(&self.to_win, 0.99),
            micros(&self.to_ack, 0.5),
            micros(&self.to_ack, 0.99),
            micros(&self.heard, 0.5),
            micros(&self.heard, 0.99),
            self.host.len()
        )
    }
}

impl Bench {
    async fn run(self, args: EventsArgs) -> anyhow::Result<ExitCode> {
        let (leaders_tx, leaders) = mpsc::unbounded_channel();
        let (timeline_tx, timeline) = mpsc::unbounded_channel();
        tokio::spawn(watch_leaders(self.address.clone(), leaders_tx));
        tokio::spawn(watch_timeline(self.address.clone(), timeline_tx));
        let mut heard = Heard { leaders, timeline };
        // Let the host settle (its first events, its allocator) before the first reading.
        self.failovers(&mut heard, 3).await?;
        let rss_before = rss_kib(self.host.pid())?;
        // Blocks without and with the streams alternate, so that a slow spell of the
        // machine (its disk's fdatasync above all) falls on both alike.
        let per_block = args.trials.div_ceil(args.blocks.max(1));
        let mut idle = Failovers::new();
        let mut loaded = Failovers::new();
        let mut rss_open = 0;
        let mut delivered = 0;
        // The disk's own answer under the same conditions: raw 4 KiB writes and fdatasyncs
        // on the data folder's file system after each block, the streams (and the leader's
        // ticks) still going in a loaded one. The host's syncs stand on these.
        let (mut idle_syncs, mut loaded_syncs) = (histogram(), histogram());
        for _ in 0..args.blocks.max(1) {
            idle.add(self.failovers(&mut heard, per_block).await?);
            idle_syncs.add(self.raw_syncs().await?)?;
            let streams = Streams::open(&self.address, args.streams).await?;
            rss_open = rss_open.max(rss_kib(self.host.pid())?);
            loaded.add(self.failovers(&mut heard, per_block).await?);
            loaded_syncs.add(self.raw_syncs().await?)?;
            delivered += streams.close().await?;
        }
        // A stream whose client left goes when the host next writes to it (the leader's
        // ticks write ten times a second), and the host gives memory back within seconds
        // after (see serve's `memory`): five seconds covers both.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let rss_after = rss_kib(self.host.pid())?;

        println!("{}", idle.line("with no stream open"));
        println!(
            "{}",
            loaded.line(&format!("with {} streams open", args.streams))
        );
        println!(
            "raw 4 KiB write + fdatasync beside the host, one every {RAW_SYNC_GAP:?}: p50 {:.0} us, p99 {:.0} us with no stream open; p50 {:.0} us, p99 {:.0} us with the streams open",
            micros(&idle_syncs, 0.5),
            micros(&idle_syncs, 0.99),
            micros(&loaded_syncs, 0.5),
            micros(&loaded_syncs, 0.99)
        );
        println!(
            "host resident set: {rss_before} KiB before the streams, {rss_open} KiB with them open, {rss_after} KiB after they closed ({delivered} bytes delivered to them)"
        );
        let mib = |kib: u64| kib as f64 / 1024.0;
        summarise(&[
            Figure {
                name: "failover_p99_with_streams",
                value: micros(&loaded.host, 0.99),
                unit: "us",
                baseline: "failover_p99_without_streams",
                baseline_value: micros(&idle.host, 0.99),
            },
            Figure {
                name: "failover_p50_with_streams",
                value: micros(&loaded.host, 0.5),
                unit: "us",
                baseline: "failover_p50_without_streams",
                baseline_value: micros(&idle.host, 0.5),
            },
            Figure {
                name: "stream_hears_failover_p99_with_streams",
                value: micros(&loaded.heard, 0.99),
                unit: "us",
                baseline: "stream_hears_failover_p99_without_streams",
                baseline_value: micros(&idle.heard, 0.99),
            },
            Figure {
                name: "raw_fdatasync_p99_with_streams",
                value: micros(&loaded_syncs, 0.99),
                unit: "us",
                baseline: "raw_fdatasync_p99_without_streams",
                baseline_value: micros(&idle_syncs, 0.99),
            },
            Figure {
                name: "rss_after_streams_closed",
                value: mib(rss_after),
                unit: "MiB",
                baseline: "rss_before_streams",
                baseline_value: mib(rss_before),
            },
            Figure {
                name: "rss_with_streams_open",
                value: mib(rss_open),
                unit: "MiB",
                baseline: "rss_before_streams",
                baseline_value: mib(rss_before),
            },
        ]);
        Ok(ExitCode::SUCCESS)
    }

    /// [`RAW_SYNCS`] raw 4 KiB writes, each followed by an fdatasync that is timed, in a
    /// preallocated file beside the host's data folder, on a thread of their own.
    async fn raw_syncs(&self) -> anyhow::Result<Histogram<u64>> {
        use std::os::unix::fs::FileExt as _;
        let path = self.probe_dir.join("raw-fdatasync");
        blocking(move || {
            let file = std::fs::File::create(&path)?;
            let page = [0x5a_u8; 4096];
            // Written and synced once first, so the timed syncs rewrite allocated blocks
            // (as the host's log does, which writes its segments ahead).
            for slot in 0..RAW_SYNCS as u64 {
                file.write_all_at(&page, slot * 4096)?;
            }
            file.sync_all()?;
            let mut latencies = histogram();
            for slot in 0..RAW_SYNCS as u64 {
                std::thread::sleep(RAW_SYNC_GAP);
                file.write_all_at(&page, slot * 4096)?;
                let t = Instant::now();
                file.sync_data()?;
                record(&mut latencies, t.elapsed());
            }
            std::fs::remove_file(&path)?;
            Ok(latencies)
        })
        .await
    }

    /// Kills the leading deployment `trials` times. Records the time from its revocation
    /// to the successor's ack on the host's timeline, and from the kill request until the
    /// event stream reports a leader under a higher term. Between trials, waits until the
    /// killed deployment stands again, so each kill meets a queue of two.
    async fn failovers(&self, heard: &mut Heard, trials: usize) -> anyhow::Result<Failovers> {
        let mut failovers = Failovers::new();
        for _ in 0..trials {
            let base = self.base.clone();
            let leading = blocking(move || {
                let mut found = None;
                wait_until("a leader with a candidate behind it", || {
                    found = deployments(&base).ok().and_then(|all| {
                        let standing = all.iter().filter(|d| d.status == "running").count();
                        let leader = all.into_iter().find(|d| d.term.is_some())?;
                        (standing == 2).then_some(leader)
                    });
                    found.is_some()
                })?;
                Ok(found.expect("found"))
            })
            .await?;
            let term = leading.term.expect("a leader");
            while heard.leaders.try_recv().is_ok() {}
            while heard.timeline.try_recv().is_ok() {}
            let base = self.base.clone();
            let started = Instant::now();
            blocking(move || kill(&base, leading.id)).await?;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            loop {
                let (new_term, at) = tokio::time::timeout_at(deadline, heard.leaders.recv())
                    .await
                    .context("no new leader within 30 s of the kill")?
                    .context("the bench's event stream ended")?;
                if new_term > term {
                    record(&mut failovers.heard, at.saturating_duration_since(started));
                    break;
                }
            }
            let mut revoked = None;
            let mut won = None;
            loop {
                let line = tokio::time::timeout_at(deadline, heard.timeline.recv())
                    .await
                    .context("the timeline showed no ack within 30 s of the kill")?
                    .context("the bench's timeline stream ended")?;
                match (line.kind.as_str(), revoked) {
                    ("revoked", None) if line.deployment == leading.name => {
                        revoked = Some(line.uptime_us);
                    }
                    ("won", Some(_)) if line.term.is_some_and(|t| t > term) => {
                        won = Some(line.uptime_us);
                    }
                    ("acked", Some(at)) if line.term.is_some_and(|t| t > term) => {
                        let micros = line.uptime_us.saturating_sub(at);
                        record(&mut failovers.host, Duration::from_micros(micros));
                        let to_win = won.map_or(micros, |w| w.saturating_sub(at));
                        record(&mut failovers.to_win, Duration::from_micros(to_win));
                        record(
                            &mut failovers.to_ack,
                            Duration::from_micros(micros - to_win),
                        );
                        if micros > failovers.slowest.0 {
                            failovers.slowest = (micros, to_win);
                        }
                        break;
                    }
                    _ => {}
                }
            }
        }
        Ok(failovers)
    }
}

/// Event streams held open by stand-ins for clients on other machines: their readers
/// run on threads of their own at the API's low priority, so that on this one machine
/// they take the cores from the host no more than its own API threads do.
struct Streams {
    clients: tokio::runtime::Runtime,
    readers: Vec<tokio::task::JoinHandle<u64>>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Streams {
    async fn open(address: &str, count: usize) -> anyhow::Result<Streams> {
        let clients = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("bench-clients")
            .on_thread_start(crate::serve::lower_thread_priority)
            .build()?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut readers = Vec::with_capacity(count);
        for _ in 0..count {
            let stream = open_stream(address, "/v1/events").await?.into_std()?;
            let stopped = stopped.clone();
            readers.push(clients.spawn(async move {
                match TcpStream::from_std(stream) {
                    Ok(stream) => drain(stream, stopped).await,
                    Err(_) => 0,
                }
            }));
        }
        Ok(Streams {
            clients,
            readers,
            stop,
        })
    }

    /// Closes every stream; returns the bytes they were sent.
    async fn close(self) -> anyhow::Result<u64> {
        let _ = self.stop.send(true);
        let mut delivered = 0;
        for reader in self.readers {
            delivered += reader.await?;
        }
        self.clients.shutdown_background();
        Ok(delivered)
    }
}

fn deployments(base: &str) -> anyhow::Result<Vec<DeploymentView>> {
    Ok(agent()
        .get(format!("{base}/v1/components"))
        .call()?
        .body_mut()
        .read_json()?)
}

fn kill(base: &str, id: u64) -> anyhow::Result<()> {
    let answer = agent()
        .post(format!("{base}/v1/components/{id}/kill"))
        .header("authorization", format!("Bearer {BENCH_TOKEN}"))
        .send_empty()?;
    anyhow::ensure!(answer.status().as_u16() == 202, "kill: {}", answer.status());
    Ok(())
}

/// A server-sent-event stream's connection to `path`, its request sent.
async fn open_stream(address: &str, path: &str) -> anyhow::Result<TcpStream> {
    let mut stream = TcpStream::connect(address).await.with_context(|| {
        format!("connecting to {address} (is the open-files limit high enough?)")
    })?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nAccept: text/event-stream\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    Ok(stream)
}

/// Reads `stream` as fast as it comes until `stop`; returns the bytes read.
async fn drain(mut stream: TcpStream, mut stop: tokio::sync::watch::Receiver<bool>) -> u64 {
    let mut buffer = vec![0u8; 4096];
    let mut total = 0u64;
    loop {
        tokio::select! {
            read = stream.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return total,
                Ok(n) => total += n as u64,
            },
            _ = stop.changed() => return total,
        }
    }
}

/// Follows the event stream, sending each new leader's term of `example` with when it
/// was heard.
async fn watch_leaders(address: String, leaders: mpsc::UnboundedSender<(u64, Instant)>) {
    let Ok(stream) = open_stream(&address, "/v1/events").await else {
        return;
    };
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Some(json) = line.strip_prefix("data: ") else {
            continue;
        };
        let heard = Instant::now();
        let Ok(event) = serde_json::from_str::<EventView>(json) else {
            continue;
        };
        for change in event.leaders {
            if let (true, Some(leader)) = (change.election == "example", change.leader)
                && leaders.send((leader.term, heard)).is_err()
            {
                return;
            }
        }
    }
}

/// Follows the host's timeline, sending each line.
async fn watch_timeline(address: String, lines_tx: mpsc::UnboundedSender<TimelineView>) {
    let Ok(stream) = open_stream(&address, "/v1/timeline").await else {
        return;
    };
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(Ok(view)) = line
            .strip_prefix("data: ")
            .map(serde_json::from_str::<TimelineView>)
            && lines_tx.send(view).is_err()
        {
            return;
        }
    }
}

/// The resident set of process `pid`, in KiB, from `/proc/<pid>/status`.
fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("reading the host's memory from /proc (Linux only)")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line in /proc/<pid>/status")
}
