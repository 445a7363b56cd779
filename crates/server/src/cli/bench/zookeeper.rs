//! ZooKeeper for `ballot bench peers`: a standalone server started for the run from
//! Debian's `zookeeper` package, its guarded writes (a multi of check(version) and
//! setData), and the hidden `ballot zk-campaign`, a process holding ZooKeeper's
//! ephemeral-sequential election recipe.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zookeeper_client::{Acls, Client, CreateMode, Error as ZkError};

use super::cluster::{Run, load};

/// The server's jar, as Debian's `zookeeper` package installs it.
const JAR: &str = "/usr/share/java/zookeeper.jar";
/// ZooKeeper's default tick.
const TICK_MS: u64 = 2000;
/// ZooKeeper's minimum session timeout: two ticks.
const MIN_SESSION_MS: u64 = 2 * TICK_MS;

/// A standalone ZooKeeper server on loopback, stopped when dropped.
pub(crate) struct ZooKeeperServer {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub(crate) address: String,
}

impl ZooKeeperServer {
    /// Starts a server with its data in `dir`; `None` when ZooKeeper is not installed.
    pub(crate) fn start(dir: &Path) -> Option<anyhow::Result<Self>> {
        if !Path::new(JAR).exists() {
            return None;
        }
        Some(Self::start_installed(dir))
    }

    fn start_installed(dir: &Path) -> anyhow::Result<Self> {
        let data = dir.join("zookeeper");
        std::fs::create_dir_all(&data)?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let config = data.join("zoo.cfg");
        // The admin server would listen on 8080 on every interface: off.
        std::fs::write(
            &config,
            format!(
                "tickTime={TICK_MS}\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 admin.enableServer=false\nmaxClientCnxns=0\n",
                data.display()
            ),
        )?;
        let child = std::process::Command::new("java")
            .args([
                "-cp",
                &classpath(),
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            ])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(data.join("server.log"))?)
            .spawn()?;
        let server = ZooKeeperServer {
            child,
            address: format!("127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(&server.address).is_err() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "ZooKeeper did not listen within 60 s (see {})",
                data.join("server.log").display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }
}

impl Drop for ZooKeeperServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The jar and the logging configuration beside it.
fn classpath() -> String {
    let mut parts: Vec<PathBuf> = vec!["/etc/zookeeper/conf".into(), JAR.into()];
    parts.retain(|p| p.exists());
    parts
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// ZooKeeper's guarded write: `clients` loops on one session, each a multi that checks
/// its own node's version and sets its data, for `until`.
pub(crate) async fn guarded_writes(
    address: &str,
    clients: usize,
    until: Duration,
) -> anyhow::Result<Run> {
    let client = Arc::new(Client::connect(address).await?);
    let root = format!("/peers{clients}");
    let persistent = CreateMode::Persistent.with_acls(Acls::anyone_all());
    create_if_missing(&client, &root, &persistent).await?;
    // Each client's node and its version before the run: its n-th write expects that
    // plus n.
    let mut versions = Vec::new();
    for who in 0..clients {
        let path = format!("{root}/c{who}");
        create_if_missing(&client, &path, &persistent).await?;
        let (_, stat) = client.get_data(&path).await?;
        versions.push((path, stat.version));
    }
    let versions = Arc::new(versions);
    load(clients, until, move |who, n| {
        let (client, versions) = (client.clone(), versions.clone());
        async move {
            let (path, first) = &versions[who];
            let seen = first + i32::try_from(n)?;
            let mut multi = client.new_multi_writer();
            multi.add_check_version(path, seen)?;
            multi.add_set_data(path, seen.to_string().as_bytes(), None)?;
            multi.commit().await.map_err(|e| {
                anyhow::anyhow!("the guard failed: a client's own node moved: {e:?}")
            })?;
            Ok(())
        }
    })
    .await
}

async fn create_if_missing(
    client: &Client,
    path: &str,
    options: &zookeeper_client::CreateOptions<'_>,
) -> anyhow::Result<()> {
    match client.create(path, b"", options).await {
        Ok(_) | Err(ZkError::NodeExists) => Ok(()),
        Err(error) => Err(anyhow::anyhow!("create {path}: {error}")),
    }
}

/// Arguments of the hidden `ballot zk-campaign`.
#[derive(Debug, clap::Args)]
pub struct ZkCampaignArgs {
    /// The server, `HOST:PORT`.
    #[arg(long)]
    server: String,
    /// The election's folder.
    #[arg(long)]
    election: String,
    /// The ballot's data.
    #[arg(long)]
    value: String,
}

/// `ballot zk-campaign`: ZooKeeper's election recipe. Opens the shortest session the
/// server grants, creates an ephemeral-sequential ballot, prints `standing`, watches only
/// its predecessor until its ballot is the lowest, prints `leading`, and holds on until
/// killed.
pub fn zk_campaign(args: ZkCampaignArgs) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            // The server's minimum session timeout, asked for outright: a shorter ask is
            // raised to it anyway, but the client would also shorten its connection
            // timeout to match and give up on a loaded machine.
            let client = Client::connector()
                .with_session_timeout(Duration::from_millis(MIN_SESSION_MS))
                .with_connection_timeout(Duration::from_secs(5))
                .connect(&args.server)
                .await?;
            let folder = args.election.trim_end_matches('/');
            let persistent = CreateMode::Persistent.with_acls(Acls::anyone_all());
            create_if_missing(&client, folder, &persistent).await?;
            let ballot_mode = CreateMode::EphemeralSequential.with_acls(Acls::anyone_all());
            let prefix = format!("{folder}/n-");
            let (_, sequence) = client
                .create(&prefix, args.value.as_bytes(), &ballot_mode)
                .await?;
            let mine = format!("n-{sequence}");
            println!("standing {}", client.session_timeout().as_millis());
            loop {
                let mut ballots = client.list_children(folder).await?;
                ballots.sort();
                let at = ballots.iter().position(|b| *b == mine);
                let Some(at) = at else {
                    anyhow::bail!("my ballot {mine} is gone: the session expired");
                };
                if at == 0 {
                    break;
                }
                let predecessor = format!("{folder}/{}", ballots[at - 1]);
                let (stat, watcher) = client.check_and_watch_stat(&predecessor).await?;
                if stat.is_some() {
                    watcher.changed().await;
                }
            }
            println!("leading");
            std::future::pending::<()>().await;
            Ok(ExitCode::SUCCESS)
        })
}
