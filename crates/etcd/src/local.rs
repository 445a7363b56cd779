//! An etcd cluster of real `etcd` processes on loopback, for tests, benchmarks and
//! trying ballot out on one machine: members on free ports, data in a folder of the
//! caller's, each stopped by its pid.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Why a local cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// The `etcd` binary is not installed (Debian: `apt-get install etcd-server`).
    #[error("cannot run `{binary}` ({error}); install etcd (Debian: apt-get install etcd-server)")]
    Missing {
        /// The binary tried.
        binary: String,
        /// What running it said.
        error: std::io::Error,
    },
    /// Something else failed.
    #[error("{0}")]
    Failed(String),
}

/// One member.
struct Member {
    name: String,
    client: u16,
    peer: u16,
    data: PathBuf,
    log: PathBuf,
    process: Option<Child>,
}

/// A running local cluster. Dropping it kills every member.
pub struct LocalCluster {
    members: Vec<Member>,
    initial: String,
    binary: String,
}

/// A port for a member to listen on. Not one the kernel hands out for `bind(0)`: those
/// come from the ephemeral range, which outgoing connections (the tests make many) also
/// draw from, so such a port could be taken between this check and etcd's bind. Ports
/// below the ephemeral range are only taken by listeners, and a bind checks that none is.
fn free_port() -> Result<u16, LocalError> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768);
    let (low, high) = (10_000, ephemeral_start.max(12_000));
    // Processes running tests at once start at different places of the range.
    let start = std::process::id().wrapping_mul(7919);
    for _ in 0..1_000 {
        let offset = start.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed));
        let port = low + offset % (high - low);
        let port = u16::try_from(port).expect("below the ephemeral range");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(LocalError::Failed(
        "no free port below the ephemeral range".into(),
    ))
}

impl LocalCluster {
    /// Starts `size` members with data under `dir`, and waits until the cluster answers.
    /// The binary is `$BALLOT_ETCD` or `etcd` on the path.
    pub fn start(size: usize, dir: &Path) -> Result<Self, LocalError> {
        let binary = std::env::var("BALLOT_ETCD").unwrap_or_else(|_| "etcd".into());
        std::fs::create_dir_all(dir)
            .map_err(|e| LocalError::Failed(format!("creating {}: {e}", dir.display())))?;
        let mut members = Vec::new();
        for index in 0..size {
            members.push(Member {
                name: format!("m{index}"),
                client: free_port()?,
                peer: free_port()?,
                data: dir.join(format!("m{index}")),
                log: dir.join(format!("m{index}.log")),
                process: None,
            });
        }
        let initial = members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer))
            .collect::<Vec<_>>()
            .join(",");
        let mut cluster = LocalCluster {
            members,
            initial,
            binary,
        };
        for index in 0..size {
            cluster.start_member(index)?;
        }
        cluster.wait_ready(Duration::from_secs(30))?;
        Ok(cluster)
    }

    /// The members' client URLs, for `--etcd`.
    pub fn endpoints(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| format!("http://127.0.0.1:{}", m.client))
            .collect()
    }

    /// How many members the cluster has.
    pub fn size(&self) -> usize {
        self.members.len()
    }

    /// The client URL of member `index`.
    pub fn endpoint(&self, index: usize) -> String {
        format!("http://127.0.0.1:{}", self.members[index].client)
    }

    /// Starts member `index` again (after [`LocalCluster::kill`]), on its old data.
    pub fn start_member(&mut self, index: usize) -> Result<(), LocalError> {
        let initial = self.initial.clone();
        let binary = self.binary.clone();
        let member = &mut self.members[index];
        if member.process.is_some() {
            return Ok(());
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&member.log)
            .map_err(|e| LocalError::Failed(format!("{}: {e}", member.log.display())))?;
        let client = format!("http://127.0.0.1:{}", member.client);
        let peer = format!("http://127.0.0.1:{}", member.peer);
        let child = Command::new(&binary)
            .args(["--name", &member.name])
            .arg("--data-dir")
            .arg(&member.data)
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &initial])
            .args(["--initial-cluster-token", "ballot-local"])
            .args(["--initial-cluster-state", "new"])
            .args(["--heartbeat-interval", "100", "--election-timeout", "1000"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|error| LocalError::Missing {
                binary: binary.clone(),
                error,
            })?;
        member.process = Some(child);
        Ok(())
    }

    /// Kills member `index` with SIGKILL and reaps it.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.members[index].process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The process id of member `index`, while it runs.
    pub fn pid(&self, index: usize) -> Option<u32> {
        self.members[index].process.as_ref().map(Child::id)
    }

    /// Waits until every running member answers a health check.
    pub fn wait_ready(&self, within: Duration) -> Result<(), LocalError> {
        let deadline = Instant::now() + within;
        for (index, member) in self.members.iter().enumerate() {
            if member.process.is_none() {
                continue;
            }
            let url = format!("127.0.0.1:{}", member.client);
            loop {
                if healthy(&url) {
                    break;
                }
                if Instant::now() > deadline {
                    let log = std::fs::read_to_string(&member.log).unwrap_or_default();
                    let tail: String = log.lines().rev().take(20).collect::<Vec<_>>().join("\n");
                    return Err(LocalError::Failed(format!(
                        "etcd member {index} did not become healthy within {within:?}; its log ends:\n{tail}"
                    )));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }
}

/// Whether the member at `addr` says it is healthy (its `/health` over plain HTTP).
fn healthy(addr: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut body = String::new();
    let _ = stream.read_to_string(&mut body);
    body.contains("\"health\":\"true\"")
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for index in 0..self.members.len() {
            self.kill(index);
        }
    }
}

/// For tests: a started cluster, or `None` (with a note on stderr) when etcd is not
/// installed on a developer's machine. Under CI (`CI` set) a missing etcd is a failure:
/// `.ci/run` installs it.
pub fn cluster_for_tests(size: usize, dir: &Path) -> Option<LocalCluster> {
    match LocalCluster::start(size, dir) {
        Ok(cluster) => Some(cluster),
        Err(LocalError::Missing { binary, error }) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "skipped: `{binary}` cannot run ({error}); install etcd (apt-get install etcd-server)"
            );
            None
        }
        Err(error) => panic!("starting a local etcd cluster: {error}"),
    }
}
