//! `ballot deploy/swap/undeploy/ls/leader/watch`: clients of a running `ballot serve`.
//! Human output by default, the API's JSON with `--json`.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use serde::de::DeserializeOwned;

use ballot_core::election::MAX_NAME_LEN;

use crate::serve::wire::{
    CommitView, DeploymentView, ElectionView, ErrorBody, EventView, LeaseView, LogsView, NodeView,
    SwapView, TxnFnView,
};

/// Where the server is and how to authenticate; shared by every client command.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// The server's base URL.
    #[arg(long, env = "BALLOT_SERVER", default_value = "http://127.0.0.1:7420")]
    server: String,
    /// File holding the bearer token (else `BALLOT_TOKEN`), sent with every call (reads
    /// need one too unless the host runs with `--public-reads`).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Print the API's JSON instead of a summary.
    #[arg(long)]
    json: bool,
}

/// Arguments of `ballot deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The component (.wasm).
    wasm: PathBuf,
    /// `candidate` or `observer`.
    #[arg(long, default_value = "candidate")]
    role: String,
    /// The election.
    #[arg(long)]
    election: String,
    /// A name for logs and the timeline.
    #[arg(long)]
    name: Option<String>,
    /// The candidate's ballot and ack data (text).
    #[arg(long)]
    data: Option<String>,
    /// The candidate also hears of every new leader.
    #[arg(long)]
    follow: bool,
    /// Session TTL.
    #[arg(long)]
    ttl_ms: Option<u64>,
    /// Period of the candidate's tick; without it, its `tick` export is never called.
    #[arg(long)]
    tick_ms: Option<u64>,
    /// Longest a callback may run.
    #[arg(long)]
    deadline_ms: Option<u64>,
    /// Depose the leader (as stalled) when it makes no import call for this long; the
    /// next candidate leads. Its work, not only its heartbeat, must go on.
    #[arg(long)]
    max_silence_ms: Option<u64>,
    /// Stand with this priority: the election (chosen by its first candidate) becomes a
    /// priority election, where the highest priority leads and outranking the leader
    /// takes over through a handoff. Refused in an election that uses the queue.
    #[arg(long, allow_negative_numbers = true)]
    priority: Option<i64>,
    /// With --priority: wait for the leader to go instead of taking over.
    #[arg(long, requires = "priority")]
    no_preempt: bool,
    /// Most linear memory, in MiB.
    #[arg(long)]
    memory_mib: Option<u64>,
    #[command(flatten)]
    connection: Connection,
}

/// Arguments of `ballot swap`.
#[derive(Debug, Args)]
pub struct SwapArgs {
    /// The deployment's id.
    id: u64,
    /// The new code (.wasm).
    wasm: PathBuf,
    #[command(flatten)]
    connection: Connection,
}

/// Arguments of `ballot undeploy`.
#[derive(Debug, Args)]
pub struct UndeployArgs {
    /// The deployment's id.
    id: u64,
    #[command(flatten)]
    connection: Connection,
}

/// Arguments of `ballot kill`.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// The deployment's id.
    id: u64,
    #[command(flatten)]
    connection: Connection,
}

/// Arguments of `ballot handoff`.
#[derive(Debug, Args)]
pub struct HandOffArgs {
    /// The election.
    election: String,
    /// The deployment to lead (default: the next in line).
    #[arg(long, conflicts_with = "candidate")]
    to: Option<u64>,
    /// Or a candidate, by its id (an HTTP client's).
    #[arg(long)]
    candidate: Option<u64>,
    #[command(flatten)]
    connection: Connection,
}

/// Arguments of `ballot ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    #[command(flatten)]
    connection: Connection,
}

/// Arguments of `ballot get` and `ballot ls-nodes`.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// The node's path, e.g. `/example/config`.
    path: String,
    /// First wait until the host has applied everything the cluster's log holds (hosts
    /// on etcd).
    #[arg(long)]
    consistent: bool,
    #[command(flatten)]
    connection: Connection,
}

/// Arguments of `ballot hosts`.
#[derive(Debug, Args)]
pub struct HostsArgs {
    #[command(flatten)]
    connection: Connection,
}

/// Arguments of `ballot leader`.
#[derive(Debug, Args)]
pub struct LeaderArgs {
    /// The election.
    election: String,
    /// On a host sharing an etcd cluster: first wait until this host has applied
    /// everything the cluster's log holds, so the answer is no older than the call.
    #[arg(long)]
    consistent: bool,
    #[command(flatten)]
    connection: Connection,
}

/// Arguments of `ballot watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Only node changes under this path (leader changes always show).
    #[arg(long)]
    prefix: Option<String>,
    /// Start after this revision instead of now.
    #[arg(long)]
    since: Option<u64>,
    /// Stop after this many events.
    #[arg(long)]
    count: Option<u64>,
    #[command(flatten)]
    connection: Connection,
}

/// Arguments of `ballot elector`.
#[derive(Debug, Args)]
pub struct ElectorArgs {
    #[command(subcommand)]
    action: ElectorAction,
    #[command(flatten)]
    connection: Connection,
}

#[derive(Debug, clap::Subcommand)]
enum ElectorAction {
    /// Add a peer to an elector (creating it with the lease duration).
    Reset {
        /// The elector.
        name: String,
        /// The peer.
        #[arg(long)]
        peer: String,
        /// The lease duration; every peer must give the same.
        #[arg(long)]
        duration_ms: u64,
    },
    /// Become master if the lease lapsed, renew it if master, else show the master.
    Elect {
        /// The elector.
        name: String,
        /// The calling peer.
        #[arg(long)]
        peer: String,
    },
    /// Show the live lease.
    Show {
        /// The elector.
        name: String,
    },
}

/// Arguments of `ballot commit`.
#[derive(Debug, Args)]
pub struct CommitArgs {
    /// The lease elector that fences the commit.
    elector: String,
    /// The committing peer.
    #[arg(long)]
    peer: String,
    /// A transaction function (.wasm) to compute the operations; uploaded first.
    #[arg(long, conflicts_with = "ops")]
    txn_fn: Option<PathBuf>,
    /// Its arguments (text).
    #[arg(long, requires = "txn_fn")]
    args: Option<String>,
    /// Plain operations, as the API's JSON list (`[{"op": "create", "path": "/a"}]`).
    #[arg(long)]
    ops: Option<String>,
    /// Commit under this term without an election (speculative-commit).
    #[arg(long, conflicts_with = "preview")]
    speculative: Option<u64>,
    /// Show what the commit would do, writing nothing.
    #[arg(long)]
    preview: bool,
    #[command(flatten)]
    connection: Connection,
}

impl Connection {
    /// The HTTP client: it sends the token (when there is one) with every request, since
    /// a host's reads need one too unless it runs with `--public-reads`.
    fn agent(&self) -> ureq::Agent {
        let bearer = self
            .bearer()
            .ok()
            .and_then(|bearer| ureq::http::HeaderValue::from_str(&bearer).ok());
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .middleware(
                move |mut request: ureq::http::Request<ureq::SendBody>,
                      next: ureq::middleware::MiddlewareNext| {
                    if let Some(bearer) = &bearer {
                        request
                            .headers_mut()
                            .entry(ureq::http::header::AUTHORIZATION)
                            .or_insert_with(|| bearer.clone());
                    }
                    next.handle(request)
                },
            )
            .build()
            .into()
    }

    /// The body of a successful answer to a request sent to this server; a transport
    /// error names the server (see [`Connection::unreachable`]), an API error its code.
    fn answer<T: DeserializeOwned>(
        &self,
        sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> anyhow::Result<T> {
        answer(sent.map_err(|e| self.unreachable(e))?)
    }

    /// A transport error, with the server's URL named: "connection refused" alone does
    /// not say which server was tried, or how to point at another.
    fn unreachable(&self, error: ureq::Error) -> anyhow::Error {
        anyhow::anyhow!(
            "cannot reach the ballot server at {} ({error}); start it with `ballot serve`, or \
             point at another with --server URL or BALLOT_SERVER",
            self.server
        )
    }

    /// The URL of `path` on the server, refused (not panicked on later, as the HTTP
    /// client would) when it is not a valid URI: too long, or malformed.
    fn url(&self, path: &str) -> anyhow::Result<String> {
        let url = format!("{}{path}", self.server.trim_end_matches('/'));
        if url.len() > MAX_URL_BYTES {
            bail!(
                "the request's URL would be {} bytes, over the {MAX_URL_BYTES} a server takes: \
                 an argument is too long",
                url.len()
            );
        }
        ureq::http::Uri::try_from(url.as_str())
            .map_err(|e| anyhow::anyhow!("{url:?} is not a valid URL ({e}); check --server"))?;
        Ok(url)
    }

    fn bearer(&self) -> anyhow::Result<String> {
        let token = match &self.token_file {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?,
            None => std::env::var("BALLOT_TOKEN")
                .context("no token: set BALLOT_TOKEN or pass --token-file")?,
        };
        Ok(format!("Bearer {}", token.trim()))
    }

    /// Prints `value` as JSON or as `human` says.
    fn print<T: serde::Serialize>(&self, value: &T, human: impl FnOnce(&T) -> String) {
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(value).expect("API values serialise")
            );
        } else {
            println!("{}", human(value));
        }
    }
}

/// The body of a successful answer, or the API's error as an error.
fn answer<T: DeserializeOwned>(response: ureq::http::Response<ureq::Body>) -> anyhow::Result<T> {
    let status = response.status();
    let mut body = response.into_body();
    let text = body.read_to_string().context("reading the answer")?;
    if status.is_success() {
        let text = if text.is_empty() { "null" } else { &text };
        return serde_json::from_str(text).with_context(|| format!("an unexpected answer: {text}"));
    }
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(error) => bail!("{} ({}): {}", status, error.error.code, error.error.message),
        Err(_) => bail!("{status}: {text}"),
    }
}

fn read_wasm(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// `ballot deploy`.
pub fn deploy(args: DeployArgs) -> anyhow::Result<ExitCode> {
    let c = &args.connection;
    let wasm = read_wasm(&args.wasm)?;
    for (flag, value) in [
        ("--election", Some(&args.election)),
        ("--name", args.name.as_ref()),
    ] {
        if value.is_some_and(|v| v.len() > MAX_NAME_LEN) {
            bail!("{flag} is longer than {MAX_NAME_LEN} bytes");
        }
    }
    // Ballot data goes in the body (it may be large); the component beside it.
    let (content_type, body) = match &args.data {
        None => ("application/wasm".to_string(), wasm),
        Some(data) => {
            let form = Multipart::new(&[("data", data.as_bytes()), ("wasm", &wasm)]);
            (form.content_type(), form.body)
        }
    };
    let mut request = c
        .agent()
        .post(c.url("/v1/components")?)
        .header("authorization", c.bearer()?)
        .header("content-type", content_type)
        .query("role", &args.role)
        .query("election", &args.election);
    let optional = [
        ("name", args.name.clone()),
        ("ttl_ms", args.ttl_ms.map(|v| v.to_string())),
        ("tick_ms", args.tick_ms.map(|v| v.to_string())),
        ("max_silence_ms", args.max_silence_ms.map(|v| v.to_string())),
        ("deadline_ms", args.deadline_ms.map(|v| v.to_string())),
        ("memory_mib", args.memory_mib.map(|v| v.to_string())),
        ("follow", args.follow.then(|| "true".to_string())),
        ("priority", args.priority.map(|v| v.to_string())),
        ("preempt", args.no_preempt.then(|| "false".to_string())),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            request = request.query(key, value);
        }
    }
    let view: DeploymentView = c.answer(request.send(&body[..]))?;
    c.print(&view, |v| {
        format!(
            "deployed {} as id {} ({} in {}, {})",
            v.name, v.id, v.role, v.election, v.status
        )
    });
    Ok(ExitCode::SUCCESS)
}

/// `ballot swap`.
pub fn swap(args: SwapArgs) -> anyhow::Result<ExitCode> {
    let c = &args.connection;
    let wasm = read_wasm(&args.wasm)?;
    let view: SwapView = c.answer(
        c.agent()
            .put(c.url(&format!("/v1/components/{}", args.id))?)
            .header("authorization", c.bearer()?)
            .header("content-type", "application/wasm")
            .send(&wasm[..]),
    )?;
    c.print(&view, |v| {
        let term = v
            .term
            .map_or("not leading".into(), |t| format!("term {t} kept"));
        let trap = v
            .trap
            .as_deref()
            .map_or(String::new(), |t| format!(": {t}"));
        format!(
            "swapped {} ({term}, blackout {} us): {}{trap}",
            v.id, v.blackout_us, v.outcome
        )
    });
    Ok(if view.trap.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `ballot undeploy`.
pub fn undeploy(args: UndeployArgs) -> anyhow::Result<ExitCode> {
    let c = &args.connection;
    let _: Option<serde_json::Value> = c.answer(
        c.agent()
            .delete(c.url(&format!("/v1/components/{}", args.id))?)
            .header("authorization", c.bearer()?)
            .call(),
    )?;
    c.print(&serde_json::json!({ "undeployed": args.id }), |_| {
        format!("undeployed {}", args.id)
    });
    Ok(ExitCode::SUCCESS)
}

/// `ballot kill`.
pub fn kill(args: KillArgs) -> anyhow::Result<ExitCode> {
    let c = &args.connection;
    let _: Option<serde_json::Value> = c.answer(
        c.agent()
            .post(c.url(&format!("/v1/components/{}/kill", args.id))?)
            .header("authorization", c.bearer()?)
            .send_empty(),
    )?;
    c.print(&serde_json::json!({ "killed": args.id }), |_| {
        format!(
            "killed {}: a fresh instance starts on a new session",
            args.id
        )
    });
    Ok(ExitCode::SUCCESS)
}

/// `ballot handoff`.
pub fn hand_off(args: HandOffArgs) -> anyhow::Result<ExitCode> {
    let c = &args.connection;
    let mut body = serde_json::Map::new();
    if let Some(id) = args.to {
        body.insert("deployment".into(), id.into());
    }
    if let Some(id) = args.candidate {
        body.insert("candidate".into(), id.into());
    }
    let view: crate::serve::wire::HandOffView = c.answer(
        c.agent()
            .post(c.url(&format!("/v1/elections/{}/handoff", args.election))?)
            .header("authorization", c.bearer()?)
            .send_json(serde_json::Value::Object(body)),
    )?;
    c.print(&view, |view| match view.deployment {
        Some(id) => format!(
            "{}: deployment {id} (candidate {}) leads now",
            view.election, view.candidate
        ),
        None => format!("{}: candidate {} leads now", view.election, view.candidate),
    });
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `ballot drain`.
#[derive(Debug, Args)]
pub struct DrainArgs {
    /// Another host sharing the namespace, by its `--host-id` (default: the host the
    /// request goes to, which then stops).
    #[arg(long)]
    host: Option<String>,
    #[command(flatten)]
    connection: Connection,
}

/// `ballot drain`.
pub fn drain(args: DrainArgs) -> anyhow::Result<ExitCode> {
    let c = &args.connection;
    let mut body = serde_json::Map::new();
    if let Some(host) = &args.host {
        body.insert("host".into(), host.clone().into());
    }
    let view: crate::serve::wire::DrainView = c.answer(
        c.agent()
            .post(c.url("/v1/drain")?)
            .header("authorization", c.bearer()?)
            .send_json(serde_json::Value::Object(body)),
    )?;
    c.print(&view, |view| {
        let mut lines: Vec<String> = view
            .handed_off
            .iter()
            .map(|h| match h.deployment {
                Some(id) => format!(
                    "{}: handed to deployment {id} (candidate {})",
                    h.election, h.candidate
                ),
                None => format!("{}: handed to candidate {}", h.election, h.candidate),
            })
            .collect();
        lines.extend(view.kept.iter().map(|election| {
            format!(
                "{election}: kept (no candidate of another host stands; it resigns at the stop)"
            )
        }));
        lines.push(if view.stopping {
            format!("host {} drained; it stops now", view.host)
        } else {
            format!("host {} drained; stop it when you are ready", view.host)
        });
        lines.join("\n")
    });
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `ballot logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The deployment's id.
    id: u64,
    /// Keep printing lines as they come, until interrupted (a host restart is waited
    /// out: the lines kept before it are gone, the new ones follow).
    #[arg(long, short)]
    follow: bool,
    #[command(flatten)]
    connection: Connection,
}

/// A `multipart/form-data` body of named parts (RFC 7578), for a deploy whose ballot data
/// does not belong in a query string.
struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

impl Multipart {
    fn new(parts: &[(&str, &[u8])]) -> Self {
        // A boundary that occurs in no part: try counters until one does not.
        let boundary = (0u64..)
            .map(|n| format!("ballot-part-boundary-{n:016x}"))
            .find(|b| {
                parts
                    .iter()
                    .all(|(_, bytes)| !contains(bytes, b.as_bytes()))
            })
            .expect("some boundary occurs in no part");
        let mut body = Vec::new();
        for (name, bytes) in parts {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        Multipart { boundary, body }
    }

    fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The longest URL a client sends: servers (hyper's among them) refuse longer request
/// lines, and the HTTP client panics on some.
const MAX_URL_BYTES: usize = 8 << 10;

/// How long one follow request waits for a line before asking again.
const FOLLOW_WAIT_MS: u64 = 25_000;

/// `ballot logs`.
pub fn logs(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let c = &args.connection;
    let agent = c.agent();
    let fetch = |after: u64, wait_ms: u64| -> anyhow::Result<LogsView> {
        let url = c.url(&format!(
            "/v1/components/{}/logs?after={after}&wait_ms={wait_ms}",
            args.id
        ))?;
        c.answer(agent.get(&url).call())
    };
    let first = fetch(0, 0)?;
    let show = |view: &LogsView| {
        for line in &view.lines {
            if c.json {
                println!(
                    "{}",
                    serde_json::to_string(line).expect("API values serialise")
                );
            } else {
                println!("{}", line.line);
            }
        }
    };
    show(&first);
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    let mut next = first.next;
    let mut unreachable = false;
    loop {
        match fetch(next, FOLLOW_WAIT_MS) {
            Ok(view) => {
                if unreachable {
                    eprintln!("ballot logs: {} is back; following", c.server);
                    unreachable = false;
                }
                // A restarted host numbers its lines from 0 again: follow from its start.
                next = if view.next < next { 0 } else { view.next };
                show(&view);
            }
            Err(error) if !unreachable => {
                eprintln!("ballot logs: {error:#}; retrying every second");
                unreachable = true;
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(_) => std::thread::sleep(Duration::from_secs(1)),
        }
    }
}

/// Reads the node `args.path`.
fn read_node(args: &NodeArgs) -> anyhow::Result<NodeView> {
    let c = &args.connection;
    if !args.path.starts_with('/') {
        bail!("{:?}: a node path starts with '/'", args.path);
    }
    let query = if args.consistent {
        "?consistent=true"
    } else {
        ""
    };
    let url = c.url(&format!("/v1/nodes{}{query}", args.path))?;
    c.answer(c.agent().get(url).call())
}

/// `ballot get`: a node's data (text as is; CBOR shown as JSON when it decodes; other
/// binary as base64) and its stat.
pub fn get(args: NodeArgs) -> anyhow::Result<ExitCode> {
    let view = read_node(&args)?;
    args.connection.print(&view, |v| {
        let data = v.payload.bytes().unwrap_or_default();
        let shown = match &v.payload.data {
            Some(text) => text.clone(),
            None => cbor_as_json(&data).unwrap_or_else(|| {
                format!(
                    "({} bytes of binary, base64) {}",
                    data.len(),
                    v.payload.data_base64.clone().unwrap_or_default()
                )
            }),
        };
        format!(
            "{shown}\n-- {}: version {}, created at revision {}, modified at {}{}, {} child(ren)",
            v.path,
            v.version,
            v.created,
            v.modified,
            v.ephemeral_owner
                .map_or(String::new(), |s| format!(", ephemeral of session {s}")),
            v.children.len()
        )
    });
    Ok(ExitCode::SUCCESS)
}

/// `ballot ls-nodes`: a node's children, one per line.
pub fn ls_nodes(args: NodeArgs) -> anyhow::Result<ExitCode> {
    let view = read_node(&args)?;
    args.connection.print(&view, |v| v.children.join("\n"));
    Ok(ExitCode::SUCCESS)
}

/// `data` decoded as CBOR and written as JSON, when it is CBOR (all of it) that JSON can
/// hold.
fn cbor_as_json(data: &[u8]) -> Option<String> {
    let mut reader = data;
    let value: ciborium::Value = ciborium::from_reader(&mut reader).ok()?;
    if !reader.is_empty() {
        return None;
    }
    serde_json::to_string_pretty(&value).ok()
}

/// `ballot ls`.
pub fn ls(args: LsArgs) -> anyhow::Result<ExitCode> {
    let c = &args.connection;
    let views: Vec<DeploymentView> = c.answer(c.agent().get(c.url("/v1/components")?).call())?;
    c.print(&views, |views| {
        let mut out = format!(
            "{:>4}  {:<16} {:<9} {:<16} {:<12} {:>7}  {:>6}",
            "id", "name", "role", "election", "status", "session", "term"
        );
        for v in views {
            out.push_str(&format!(
                "\n{:>4}  {:<16} {:<9} {:<16} {:<12} {:>7}  {:>6}",
                v.id,
                v.name,
                v.role,
                v.election,
                v.status,
                v.session.map_or("-".into(), |s| s.to_string()),
                v.term.map_or("-".into(), |t| t.to_string()),
            ));
            if let Some(reason) = &v.reason {
                out.push_str(&format!("  ({reason})"));
            }
        }
        out
    });
    Ok(ExitCode::SUCCESS)
}

/// One shared deployment record, for `ballot hosts`.
fn deployment_line(d: &crate::serve::wire::SharedDeploymentView) -> String {
    format!(
        "deployment {} {} ({} in {})",
        d.id, d.name, d.role, d.election
    )
}

/// `ballot hosts`.
pub fn hosts(args: HostsArgs) -> anyhow::Result<ExitCode> {
    let c = &args.connection;
    let view: crate::serve::wire::HostsView =
        c.answer(c.agent().get(c.url("/v1/hosts")?).call())?;
    c.print(&view, |view| {
        if view.hosts.is_empty() {
            return "no hosts: this host keeps its namespace on its own (the embedded store)"
                .to_string();
        }
        let mut out = format!(
            "{:<20} {:>10} {:>14} {:>10}",
            "host", "epoch", "heartbeat (ms)", "applied"
        );
        for h in &view.hosts {
            out.push_str(&format!(
                "\n{:<20} {:>10} {:>14} {:>10}{}",
                h.id,
                h.epoch,
                h.since_heartbeat_ms.map_or("-".into(), |ms| ms.to_string()),
                h.applied,
                if h.this_host { "  (this host)" } else { "" }
            ));
            for d in &h.deployments {
                out.push_str(&format!("\n    {}", deployment_line(d)));
            }
        }
        if !view.unhosted.is_empty() {
            out.push_str("\nno live host runs:");
            for d in &view.unhosted {
                out.push_str(&format!("\n    {} (host {})", deployment_line(d), d.host));
            }
        }
        out
    });
    Ok(ExitCode::SUCCESS)
}

/// `ballot leader`.
pub fn leader(args: LeaderArgs) -> anyhow::Result<ExitCode> {
    let c = &args.connection;
    let mut path = format!("/v1/elections/{}", args.election);
    if args.consistent {
        path.push_str("?consistent=true");
    }
    let view: ElectionView = c.answer(c.agent().get(c.url(&path)?).call())?;
    c.print(&view, |v| match &v.leader {
        Some(leader) => format!(
            "{}: leader at term {}, data {:?} ({} ballot(s) queued)",
            v.election,
            leader.term,
            leader.payload.display(),
            v.queue.len()
        ),
        None => format!(
            "{}: no acknowledged leader ({} ballot(s) queued)",
            v.election,
            v.queue.len()
        ),
    });
    Ok(if view.leader.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `ballot elector reset/elect/show`.
pub fn elector(args: ElectorArgs) -> anyhow::Result<ExitCode> {
    let c = &args.connection;
    let agent = c.agent();
    let view: Option<LeaseView> = match &args.action {
        ElectorAction::Reset {
            name,
            peer,
            duration_ms,
        } => c.answer(
            agent
                .post(c.url(&format!("/v1/electors/{name}/peers"))?)
                .header("authorization", c.bearer()?)
                .send_json(serde_json::json!({"peer": peer, "duration_ms": duration_ms})),
        )?,
        ElectorAction::Elect { name, peer } => c.answer(
            agent
                .post(c.url(&format!("/v1/electors/{name}/elect"))?)
                .header("authorization", c.bearer()?)
                .send_json(serde_json::json!({ "peer": peer })),
        )?,
        ElectorAction::Show { name } => {
            c.answer(agent.get(c.url(&format!("/v1/electors/{name}"))?).call())?
        }
    };
    let Some(view) = view else {
        c.print(&serde_json::json!({"reset": true}), |_| "peer added".into());
        return Ok(ExitCode::SUCCESS);
    };
    c.print(&view, |v| match (&v.master, v.term) {
        (Some(master), Some(term)) => format!(
            "{}: {master} is master under term {term}, {} ms left",
            v.outcome, v.left_ms
        ),
        _ => format!("{}: no master", v.outcome),
    });
    Ok(ExitCode::SUCCESS)
}

/// `ballot commit`: a guarded (default), speculative or preview commit.
pub fn commit(args: CommitArgs) -> anyhow::Result<ExitCode> {
    let c = &args.connection;
    let agent = c.agent();
    let mut body = serde_json::json!({ "peer": args.peer });
    match (&args.txn_fn, &args.ops) {
        (Some(path), None) => {
            let uploaded: TxnFnView = c.answer(
                agent
                    .post(c.url("/v1/txn-fns")?)
                    .header("authorization", c.bearer()?)
                    .send(&read_wasm(path)?[..]),
            )?;
            body["txn_fn"] = uploaded.sha256.into();
            body["args"] = args.args.clone().unwrap_or_default().into();
        }
        (None, Some(ops)) => {
            body["ops"] = serde_json::from_str(ops).context("--ops is not JSON")?;
        }
        _ => bail!("give --txn-fn (with --args) or --ops"),
    }
    if let Some(term) = args.speculative {
        body["mode"] = "speculative".into();
        body["term"] = term.into();
    } else if args.preview {
        body["mode"] = "preview".into();
    }
    let view: CommitView = c.answer(
        agent
            .post(c.url(&format!("/v1/electors/{}/commit", args.elector))?)
            .header("authorization", c.bearer()?)
            .send_json(body),
    )?;
    c.print(&view, |v| {
        let what = if v.preview {
            "would commit"
        } else {
            "committed"
        };
        let term = v.term.map_or(String::new(), |t| format!(" under term {t}"));
        format!(
            "{what} at revision {}{term} ({} attempt(s)): {}",
            v.revision,
            v.attempts,
            v.paths.join(", ")
        )
    });
    Ok(ExitCode::SUCCESS)
}

/// `ballot watch`: follows `/v1/events`, reconnecting with `Last-Event-ID` when the
/// stream ends (the server drops clients that fall behind), so no event is missed or
/// shown twice.
pub fn watch(args: WatchArgs) -> anyhow::Result<ExitCode> {
    let c = &args.connection;
    let mut last = args.since;
    let mut seen = 0u64;
    let mut failures = 0u32;
    let stdout = std::io::stdout();
    loop {
        let mut request = c.agent().get(c.url("/v1/events")?);
        if let Some(prefix) = &args.prefix {
            request = request.query("prefix", prefix);
        }
        if let Some(last) = last {
            request = request.header("last-event-id", last.to_string());
        }
        let response = match request.call() {
            Ok(response) => response,
            // The server may be restarting: keep trying for about half a minute.
            Err(error) if failures < WATCH_RETRIES => {
                failures += 1;
                eprintln!("watch: cannot reach {} ({error}); reconnecting", c.server);
                std::thread::sleep(Duration::from_millis(200 * u64::from(failures.min(10))));
                continue;
            }
            Err(error) => return Err(c.unreachable(error)),
        };
        if response.status() == ureq::http::StatusCode::GONE {
            // The server no longer holds the events after `last` (it restarted, and
            // events are kept in memory, or this watch fell too far behind): say so,
            // show where things stand now, and follow from there.
            let now = current_leaders(c)?;
            eprintln!(
                "watch: the server no longer holds the events after revision {}; \
                 the current leaders follow, then the changes after revision {}",
                last.unwrap_or_default(),
                now.revision
            );
            let mut out = stdout.lock();
            if c.json {
                writeln!(out, "{}", serde_json::to_string(&now)?)?;
            } else {
                writeln!(out, "{}", describe(&now))?;
            }
            out.flush()?;
            last = Some(now.revision);
            continue;
        }
        if !response.status().is_success() {
            let _: serde_json::Value = answer(response)?;
            unreachable!("answer fails on an error status");
        }
        failures = 0;
        let reader = BufReader::new(response.into_body().into_reader());
        let mut kind = String::new();
        for line in reader.lines() {
            let Ok(line) = line else { break };
            if let Some(name) = line.strip_prefix("event:") {
                kind = name.trim().to_owned();
                continue;
            }
            let Some(data) = line.strip_prefix("data:") else {
                continue;
            };
            if std::mem::take(&mut kind) == "behind" {
                // The server ends a stream that fell behind with this; the reconnect
                // below resumes from the last event shown.
                eprintln!("watch: fell behind the server's events; catching up");
                continue;
            }
            let event: EventView = serde_json::from_str(data.trim())
                .with_context(|| format!("an unexpected event: {data}"))?;
            last = Some(event.revision);
            let mut out = stdout.lock();
            if c.json {
                writeln!(out, "{}", serde_json::to_string(&event)?)?;
            } else {
                writeln!(out, "{}", describe(&event))?;
            }
            out.flush()?;
            seen += 1;
            if args.count.is_some_and(|count| seen >= count) {
                return Ok(ExitCode::SUCCESS);
            }
        }
        match last {
            Some(last) => eprintln!("watch: the stream ended; resuming after revision {last}"),
            None => eprintln!("watch: the stream ended; resuming"),
        }
    }
}

/// Reconnection attempts of `ballot watch` in a row (about 30 s in all).
const WATCH_RETRIES: u32 = 20;

/// The leaders of every election now, as one event: what `ballot watch` shows when it
/// cannot replay what it missed. Its revision is read first, so following from it can
/// repeat a change the leaders already show but never miss one.
fn current_leaders(c: &Connection) -> anyhow::Result<EventView> {
    let health: serde_json::Value = c.answer(c.agent().get(c.url("/healthz")?).call())?;
    let revision = health["revision"]
        .as_u64()
        .context("the server's /healthz names no revision")?;
    let elections: Vec<ElectionView> = c.answer(c.agent().get(c.url("/v1/elections")?).call())?;
    Ok(EventView {
        revision,
        nodes: Vec::new(),
        leaders: elections
            .into_iter()
            .map(|election| crate::serve::wire::LeaderChange {
                election: election.election,
                leader: election.leader,
            })
            .collect(),
    })
}

fn describe(event: &EventView) -> String {
    let mut out = format!("revision {}", event.revision);
    for change in &event.leaders {
        match &change.leader {
            Some(leader) => out.push_str(&format!(
                "\n  leader of {}: term {}, data {:?}",
                change.election,
                leader.term,
                leader.payload.display()
            )),
            None => out.push_str(&format!("\n  leader of {}: none", change.election)),
        }
    }
    for node in &event.nodes {
        out.push_str(&format!("\n  {:<9} {}", node.change, node.path));
    }
    out
}
