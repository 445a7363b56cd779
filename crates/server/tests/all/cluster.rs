//! Many hosts, one namespace: real `ballot serve` processes sharing a real 3-member etcd
//! cluster on loopback.

use std::path::Path;
use std::process::Command;

use ballot::serve::wire::{DeploymentView, HostView, HostsView};
use ballot_etcd::local::{LocalCluster, cluster_for_tests};

use super::serve::{Server, components, deploy, election, get, wasm};

/// Polls `f` until it gives `Some`, for at most 60 s: hosts, etcd members and the test
/// share two cores with the rest of the suite.
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(value) = f() {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Starts host `id` of cluster `name` on `etcd`.
fn host(dir: &Path, etcd: &LocalCluster, name: &str, id: &str, ttl_ms: u64) -> Server {
    host_with(dir, etcd, name, id, ttl_ms, &[])
}

/// Starts host `id` of cluster `name` on `etcd`, with more flags.
fn host_with(
    dir: &Path,
    etcd: &LocalCluster,
    name: &str,
    id: &str,
    ttl_ms: u64,
    extra: &[&str],
) -> Server {
    let endpoints = etcd.endpoints().join(",");
    let ttl = ttl_ms.to_string();
    let mut args = vec![
        "--etcd",
        &endpoints,
        "--cluster",
        name,
        "--host-id",
        id,
        "--host-ttl-ms",
        &ttl,
    ];
    args.extend_from_slice(extra);
    Server::start_logging(&dir.join(id), &args, &dir.join(format!("{id}.log")))
}

fn candidate(server: &Server, name: &str) -> DeploymentView {
    let query =
        format!("role=candidate&election=example&name={name}&data={name}-addr&ttl_ms=10000");
    let (status, body) = deploy(server, &wasm(ballot_artifacts::EXAMPLE_CANDIDATE), &query);
    assert_eq!(status, 201, "{body}");
    serde_json::from_value(body).unwrap()
}

fn leader_data(server: &Server) -> Option<(String, u64)> {
    election(server, "example")
        .leader
        .and_then(|l| Some((l.payload.data?, l.term)))
}

/// Runs `ballot check --model leadership-exclusive` on the hosts' histories, merged.
fn assert_merged_linearizable(histories: &[std::path::PathBuf]) {
    let checked = Command::new(env!("CARGO_BIN_EXE_ballot"))
        .args(["check", "--model", "leadership-exclusive"])
        .args(histories)
        .output()
        .expect("ballot check runs");
    assert!(
        checked.status.success(),
        "the merged history is linearizable: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

fn hosts(server: &Server) -> Vec<HostView> {
    let (status, body) = get(server, "/v1/hosts");
    assert_eq!(status, 200, "{body}");
    serde_json::from_value::<HostsView>(body).unwrap().hosts
}

#[test]
fn three_hosts_share_one_election_and_a_killed_hosts_leader_is_succeeded() {
    let dir = tempfile::tempdir().unwrap();
    let Some(etcd) = cluster_for_tests(3, &dir.path().join("etcd")) else {
        return;
    };
    // The replicas compare digests every 5 log positions: none may find another's differ.
    let servers: Vec<Server> = ["h0", "h1", "h2"]
        .iter()
        .map(|id| {
            host_with(
                dir.path(),
                &etcd,
                "seed",
                id,
                2000,
                &["--digest-every", "5"],
            )
        })
        .collect();
    eventually("every host to see all three", || {
        servers.iter().all(|s| hosts(s).len() == 3).then_some(())
    });

    // The first candidate, on h0, leads; every host says so.
    candidate(&servers[0], "alpha");
    let (_, first_term) = eventually("alpha to lead, seen from every host", || {
        let seen: Vec<_> = servers.iter().map(leader_data).collect();
        seen.iter()
            .all(|l| l.as_ref().is_some_and(|(data, _)| data == "alpha-addr"))
            .then(|| seen[0].clone().unwrap())
    });
    // Losers on the other hosts queue behind it: lowest ballot wins, wherever it was cast.
    candidate(&servers[1], "bravo");
    candidate(&servers[2], "charlie");
    let queued = eventually("three ballots, seen from h2", || {
        let view = election(&servers[2], "example");
        (view.queue.len() == 3).then_some(view)
    });
    assert_eq!(
        queued.leader.and_then(|l| l.payload.data).as_deref(),
        Some("alpha-addr")
    );
    // Any host lists every deployment and which host runs it.
    let listed = eventually("every deployment listed from h1", || {
        let hosts = hosts(&servers[1]);
        let names: Vec<(String, String)> = hosts
            .iter()
            .flat_map(|h| h.deployments.iter().map(|d| (h.id.clone(), d.name.clone())))
            .collect();
        (names.len() == 3).then_some(names)
    });
    for (host, name) in [("h0", "alpha"), ("h1", "bravo"), ("h2", "charlie")] {
        assert!(
            listed.contains(&(host.to_string(), name.to_string())),
            "{listed:?}"
        );
    }

    // kill -9 of the leader's host: a candidate on another host leads, with a higher
    // term, once the dead host's heartbeat is a TTL old.
    let mut servers = servers;
    let dead = servers.remove(0);
    let histories: Vec<_> = std::iter::once(dead.history_path())
        .chain(servers.iter().map(Server::history_path))
        .collect();
    drop(dead);
    let (data, term) = eventually("bravo to lead after h0 died", || {
        leader_data(&servers[0]).filter(|(data, _)| data == "bravo-addr")
    });
    assert_eq!(data, "bravo-addr");
    assert!(term > first_term, "{term} > {first_term}");
    eventually("h2 to agree", || {
        (leader_data(&servers[1]) == Some(("bravo-addr".into(), term))).then_some(())
    });
    // The dead host's sessions ended in one step: alpha's ballot is gone everywhere.
    let view = election(&servers[1], "example");
    assert_eq!(view.queue.len(), 2, "{view:?}");
    let left = hosts(&servers[1]);
    assert!(left.iter().all(|h| h.id != "h0"), "{left:?}");
    // The dead host's deployment is still recorded, with no live host to run it.
    let (_, body) = get(&servers[1], "/v1/hosts");
    let unhosted = serde_json::from_value::<HostsView>(body).unwrap().unhosted;
    assert!(
        unhosted.iter().any(|d| d.name == "alpha" && d.host == "h0"),
        "{unhosted:?}"
    );
    let listed = Command::new(env!("CARGO_BIN_EXE_ballot"))
        .args(["hosts", "--server", &servers[1].url("")])
        .output()
        .expect("ballot hosts runs");
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("h1") && listed.contains("h2") && listed.contains("(this host)"),
        "{listed}"
    );
    assert!(components(&servers[0]).iter().all(|d| d.name != "alpha"));

    // No replica found its state differing from the others'.
    for server in &servers {
        let (status, body) = get(server, "/healthz");
        assert_eq!(status, 200, "{body}");
    }
    let digests = etcdctl(
        &etcd,
        &["get", "--prefix", "--keys-only", "/ballot/seed/digests/"],
    );
    assert!(
        digests.lines().any(|l| !l.is_empty()),
        "digests were compared"
    );

    // The histories of all hosts, merged, are one linearizable leadership history.
    for server in servers {
        server.terminate();
    }
    assert_merged_linearizable(&histories);
}

fn signal(server: &Server, name: &str) {
    let status = Command::new("kill")
        .args([name, &server.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[test]
fn a_paused_leaders_host_is_expired_and_nothing_it_does_afterwards_takes_effect() {
    let dir = tempfile::tempdir().unwrap();
    let Some(etcd) = cluster_for_tests(3, &dir.path().join("etcd")) else {
        return;
    };
    let ttl_ms = 1000;
    let paused = host(dir.path(), &etcd, "pause", "p0", ttl_ms);
    let other = host(dir.path(), &etcd, "pause", "p1", ttl_ms);
    eventually("both hosts to see each other", || {
        (hosts(&paused).len() == 2 && hosts(&other).len() == 2).then_some(())
    });
    candidate(&paused, "alpha");
    let (_, first_term) = eventually("alpha to lead", || {
        leader_data(&other).filter(|(data, _)| data == "alpha-addr")
    });
    candidate(&other, "bravo");
    eventually("bravo to queue", || {
        (election(&other, "example").queue.len() == 2).then_some(())
    });

    // Paused for three TTLs: its peer expires it and promotes bravo meanwhile.
    signal(&paused, "-STOP");
    let started = std::time::Instant::now();
    let (_, term) = eventually("bravo to lead while alpha's host is paused", || {
        leader_data(&other).filter(|(data, _)| data == "bravo-addr")
    });
    assert!(term > first_term);
    let three_ttls = std::time::Duration::from_millis(3 * ttl_ms);
    std::thread::sleep(three_ttls.saturating_sub(started.elapsed()));
    signal(&paused, "-CONT");

    // The paused host learns it was expired, fences itself, rejoins under a new epoch,
    // and alpha comes back as a loser behind bravo, whose term stands.
    eventually("the paused host to rejoin and alpha to queue again", || {
        let view = election(&paused, "example");
        (view.queue.len() == 2
            && view.leader.as_ref().map(|l| l.term) == Some(term)
            && components(&paused)
                .iter()
                .any(|d| d.name == "alpha" && d.status == "running"))
        .then_some(())
    });
    assert_eq!(leader_data(&other), Some(("bravo-addr".into(), term)));

    // Merged, the histories show alpha revoked before bravo was promoted, and no commit of
    // alpha's term after it ended.
    let histories = [paused.history_path(), other.history_path()];
    paused.terminate();
    other.terminate();
    assert_merged_linearizable(&histories);
}

#[test]
fn with_all_of_etcd_down_no_leader_acts_and_elections_resume_with_higher_terms() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut etcd) = cluster_for_tests(3, &dir.path().join("etcd")) else {
        return;
    };
    let ttl_ms = 1000;
    let first = host(dir.path(), &etcd, "outage", "o0", ttl_ms);
    let second = host(dir.path(), &etcd, "outage", "o1", ttl_ms);
    eventually("both hosts to see each other", || {
        (hosts(&first).len() == 2 && hosts(&second).len() == 2).then_some(())
    });
    candidate(&first, "alpha");
    let (_, before) = eventually("alpha to lead", || {
        leader_data(&second).filter(|(data, _)| data == "alpha-addr")
    });
    candidate(&second, "bravo");
    eventually("bravo to queue", || {
        (election(&second, "example").queue.len() == 2).then_some(())
    });

    // All of etcd gone for 5 s: both hosts fence themselves within their TTL.
    for member in 0..etcd.size() {
        etcd.kill(member);
    }
    std::thread::sleep(std::time::Duration::from_secs(5));
    for member in 0..etcd.size() {
        etcd.start_member(member).unwrap();
    }
    etcd.wait_ready(std::time::Duration::from_secs(60)).unwrap();

    // Afterwards both rejoin, and the election resumes under a term above every earlier one.
    let (_, after) = eventually("a leader again, under a higher term", || {
        let seen = leader_data(&first)?;
        (seen.1 > before && leader_data(&second) == Some(seen.clone())).then_some(seen)
    });
    assert!(after > before);

    let histories = [first.history_path(), second.history_path()];
    first.terminate();
    second.terminate();
    assert_merged_linearizable(&histories);
    // The leader of the first term was revoked by its own host during the outage.
    let merged = std::fs::read_to_string(&histories[0]).unwrap();
    assert!(
        merged
            .lines()
            .any(|line| line.contains("\"revoke\"") && line.contains("alpha")),
        "alpha's host revoked it: {merged}"
    );
}

/// The index of the member that leads the etcd cluster now.
fn etcd_leader(etcd: &LocalCluster) -> usize {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for index in 0..etcd.size() {
            let Ok(mut client) = etcd_client::Client::connect([etcd.endpoint(index)], None).await
            else {
                continue;
            };
            if let Ok(status) = client.status().await
                && status.header().map(|h| h.member_id()) == Some(status.leader())
            {
                return index;
            }
        }
        panic!("no etcd member says it leads");
    })
}

#[test]
fn killing_the_etcd_leader_under_load_loses_no_acknowledged_commit() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut etcd) = cluster_for_tests(3, &dir.path().join("etcd")) else {
        return;
    };
    let servers: Vec<Server> = ["l0", "l1"]
        .iter()
        .map(|id| host(dir.path(), &etcd, "load", id, 2000))
        .collect();
    eventually("both hosts to see each other", || {
        servers.iter().all(|s| hosts(s).len() == 2).then_some(())
    });

    // Creates from every host, each client recording what was acknowledged, while the
    // etcd leader is killed with SIGKILL part-way.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let urls: Vec<String> = servers.iter().map(|s| s.url("/v1/multi")).collect();
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let url = urls[client % urls.len()].clone();
            let (stop, acknowledged) = (stop.clone(), acknowledged.clone());
            std::thread::spawn(move || {
                let agent = super::serve::agent();
                // Bounded: at most 2,000 creates per client.
                for n in 0..2000 {
                    if stop.load(std::sync::atomic::Ordering::Acquire) {
                        break;
                    }
                    let path = format!("/load-{client}-{n}");
                    let answer = agent
                        .post(&url)
                        .header("authorization", super::serve::bearer())
                        .send_json(serde_json::json!({"ops": [{"op": "create", "path": path}]}));
                    if let Ok(response) = answer
                        && response.status().as_u16() == 200
                    {
                        acknowledged.lock().unwrap().push(path);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(700));
    let leader = etcd_leader(&etcd);
    etcd.kill(leader);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    stop.store(true, std::sync::atomic::Ordering::Release);
    for client in clients {
        client.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(!acknowledged.is_empty(), "some commits were acknowledged");

    // Every acknowledged create is on every host, and both still take writes.
    for (index, server) in servers.iter().enumerate() {
        for path in &acknowledged {
            let (status, body) = get(server, &format!("/v1/nodes{path}"));
            if status != 200 {
                // The replica may still be catching up: wait for this one.
                eventually(&format!("{path} on every host"), || {
                    (get(server, &format!("/v1/nodes{path}")).0 == 200).then_some(())
                });
            } else {
                assert_eq!(status, 200, "{body}");
            }
        }
        // Each try bounded by its own short timeout: a try that meets the cluster still
        // settling (a new etcd leader, a watch reconnecting) is retried, and the assertion
        // is that the host takes writes again, not how fast the first try answers.
        let probe = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(5)))
            .build();
        let probe: ureq::Agent = probe.into();
        let mut n = 0;
        eventually("the host to take writes again", || {
            n += 1;
            let answer = probe
                .post(server.url("/v1/multi"))
                .header("authorization", super::serve::bearer())
                .send_json(serde_json::json!({
                    "ops": [{"op": "create", "path": format!("/after-{index}-{n}")}]
                }));
            answer.ok().filter(|r| r.status().as_u16() == 200).map(drop)
        });
    }
}

/// Runs `etcdctl` (API v3) against the cluster and returns its standard output.
fn etcdctl(etcd: &LocalCluster, args: &[&str]) -> String {
    let output = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", etcd.endpoints().join(",")))
        .args(args)
        .output()
        .expect("etcdctl runs (apt-get install etcd-client)");
    assert!(
        output.status.success(),
        "etcdctl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The positions of cluster `name`'s complete snapshots, read with etcdctl.
fn snapshot_positions(etcd: &LocalCluster, name: &str) -> Vec<u64> {
    let prefix = format!("/ballot/{name}/snapshots/");
    etcdctl(etcd, &["get", "--prefix", "--keys-only", &prefix])
        .lines()
        .filter_map(|key| {
            key.strip_prefix(&prefix)?
                .strip_suffix("/manifest")?
                .parse()
                .ok()
        })
        .collect()
}

fn create(server: &Server, path: &str) {
    let (status, body) = super::serve::post_json(
        server,
        "/v1/multi",
        serde_json::json!({"ops": [{"op": "create", "path": path}]}),
    );
    assert_eq!(status, 200, "{body}");
}

fn has(server: &Server, path: &str) -> bool {
    get(server, &format!("/v1/nodes{path}")).0 == 200
}

#[test]
fn a_host_restarted_after_the_log_was_compacted_catches_up_from_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let Some(etcd) = cluster_for_tests(3, &dir.path().join("etcd")) else {
        return;
    };
    let every = ["--snapshot-every", "5"];
    let c0 = host_with(dir.path(), &etcd, "compact", "c0", 1000, &every);
    let c1 = host_with(dir.path(), &etcd, "compact", "c1", 1000, &every);
    eventually("both hosts to see each other", || {
        [&c0, &c1].iter().all(|s| hosts(s).len() == 2).then_some(())
    });
    create(&c1, "/from-c1");

    // kill -9 of c1; the other host goes on writing, and its snapshots cover the writes.
    drop(c1);
    for n in 0..30 {
        create(&c0, &format!("/while-down-{n}"));
    }
    let written = hosts(&c0)
        .iter()
        .find(|h| h.id == "c0")
        .map(|h| h.applied)
        .unwrap();
    let mut filler = 0;
    let snapshot = eventually("a snapshot covering the writes", || {
        let newest = snapshot_positions(&etcd, "compact").into_iter().max();
        if newest.is_none_or(|p| p < written) {
            filler += 1;
            create(&c0, &format!("/filler-{filler}"));
        }
        newest.filter(|p| *p >= written)
    });
    // The operator compacts etcd up to the snapshot: the log before it is gone.
    etcdctl(&etcd, &["compact", &snapshot.to_string()]);
    create(&c0, "/after-compaction");

    // c1 starts again on its old data folder: it can only come back from the snapshot.
    let c1 = host_with(dir.path(), &etcd, "compact", "c1", 1000, &every);
    eventually("c1 to have everything", || {
        (has(&c1, "/from-c1") && has(&c1, "/while-down-29") && has(&c1, "/after-compaction"))
            .then_some(())
    });
    create(&c1, "/c1-again");
    // A consistent read on the other host sees the acknowledged write at once.
    let (status, body) = get(&c0, "/v1/nodes/c1-again?consistent=true");
    assert_eq!(status, 200, "{body}");
    let log = std::fs::read_to_string(dir.path().join("c1.log")).unwrap();
    assert!(log.contains("joined the cluster's log"), "{log}");
}

/// Host `i` of `servers`, which must be running.
fn live(servers: &[Option<Server>], i: usize) -> &Server {
    servers[i].as_ref().expect("running")
}

/// Each election's acknowledged leader as `(data, term)`, seen from `server`, once every
/// election has one and three ballots (the candidates of all three hosts standing).
fn settled_leaders(server: &Server, elections: &[String]) -> Option<Vec<(String, u64)>> {
    elections
        .iter()
        .map(|name| {
            let view = election(server, name);
            let leader = view.leader?;
            (view.queue.len() == 3).then_some((leader.payload.data?, leader.term))
        })
        .collect()
}

/// The rolling restart: three hosts, ten elections with a candidate on each host,
/// the hosts restarted one at a time with SIGTERM. A stopping host drains: each election it
/// leads is handed, fenced and in one step, to a candidate of another host; so every
/// election changes leader at most once per restart of its leader's host and never for
/// another host's, and none is without an acknowledged leader for longer than a handoff
/// (a session or host expiry would take seconds).
#[test]
fn a_rolling_restart_changes_each_leader_at_most_once_per_restart_of_its_host() {
    let dir = tempfile::tempdir().unwrap();
    let Some(etcd) = cluster_for_tests(3, &dir.path().join("etcd")) else {
        return;
    };
    // A host TTL of 5 s: a leader lost to its host's expiry would leave its election
    // without a leader for seconds, which the test would see.
    let ids = ["h0", "h1", "h2"];
    let start = |id: &str| host(dir.path(), &etcd, "roll", id, 5000);
    let mut servers: Vec<Option<Server>> = ids.iter().map(|id| Some(start(id))).collect();
    eventually("every host to see all three", || {
        (0..3)
            .all(|i| hosts(live(&servers, i)).len() == 3)
            .then_some(())
    });
    let elections: Vec<String> = (0..10).map(|i| format!("roll-{i}")).collect();
    let wasm = wasm(ballot_artifacts::README_CANDIDATE);
    for (i, name) in elections.iter().enumerate() {
        // Election i's first candidate, its leader, runs on host i % 3.
        for k in 0..3 {
            let h = (i + k) % 3;
            let query = format!(
                "role=candidate&election={name}&name={name}-{host}&data={host}&ttl_ms=10000",
                host = ids[h]
            );
            let (status, body) = deploy(live(&servers, h), &wasm, &query);
            assert_eq!(status, 201, "{body}");
        }
    }
    let mut leaders = eventually(
        "every election to have its leader and three ballots",
        || settled_leaders(live(&servers, 0), &elections),
    );
    let mut histories: Vec<std::path::PathBuf> = servers
        .iter()
        .map(|s| s.as_ref().unwrap().history_path())
        .collect();
    let mut expected_terms = vec![1usize; elections.len()];

    for (h, id) in ids.iter().enumerate() {
        let watcher = (h + 1) % 3;
        for (i, (data, _)) in leaders.iter().enumerate() {
            if data == id {
                expected_terms[i] += 1;
            }
        }
        // Stop host h with SIGTERM, and watch every election from another host while
        // it stops: the longest time any election is seen without an acknowledged leader.
        let stopping = servers[h].take().unwrap();
        let stopped = std::thread::spawn(move || stopping.terminate());
        let mut longest_gap = std::time::Duration::ZERO;
        let mut since: Vec<Option<std::time::Instant>> = vec![None; elections.len()];
        while !stopped.is_finished() {
            for (i, name) in elections.iter().enumerate() {
                let led = election(live(&servers, watcher), name).leader.is_some();
                match (led, since[i]) {
                    (false, None) => since[i] = Some(std::time::Instant::now()),
                    (true, Some(at)) => {
                        longest_gap = longest_gap.max(at.elapsed());
                        since[i] = None;
                    }
                    _ => {}
                }
            }
        }
        stopped.join().unwrap();
        eprintln!(
            "{id} stopped: the longest time an election was seen without a leader: {longest_gap:?}"
        );
        for at in since.into_iter().flatten() {
            longest_gap = longest_gap.max(at.elapsed());
        }
        assert!(
            longest_gap < std::time::Duration::from_millis(2500),
            "an election went {longest_gap:?} without a leader while {id} stopped"
        );
        // Every election led from h is led from another host now, under a higher term;
        // the others kept their leader and term.
        let during = eventually("the drained elections to have new leaders", || {
            let seen: Option<Vec<(String, u64)>> = elections
                .iter()
                .map(|name| {
                    let leader = election(live(&servers, watcher), name).leader?;
                    Some((leader.payload.data?, leader.term))
                })
                .collect();
            seen
        });
        for (i, (before, now)) in leaders.iter().zip(&during).enumerate() {
            if before.0 == *id {
                assert!(
                    now.0 != *id && now.1 > before.1,
                    "{}: {before:?} -> {now:?}",
                    elections[i]
                );
            } else {
                assert_eq!(
                    before, now,
                    "{}: another host's restart moved it",
                    elections[i]
                );
            }
        }
        // Host h starts again; its deployments come back and stand at the back.
        let restarted = start(id);
        histories.push(restarted.history_path());
        servers[h] = Some(restarted);
        leaders = eventually("every election settled after the restart", || {
            settled_leaders(live(&servers, watcher), &elections)
        });
        assert_eq!(leaders, during, "a host coming back changes no leader");
    }

    for server in servers.into_iter().flatten() {
        server.terminate();
    }
    // Merged (the final stops included), the hosts' histories are one linearizable leadership history; each
    // election had exactly one term more per restart of its leader's host, and the
    // drains are recorded as such.
    assert_merged_linearizable(&histories);
    let ops: Vec<ballot_check::history::Op> = histories
        .iter()
        .flat_map(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            ballot_check::history::parse_str(&text).unwrap().ops
        })
        .collect();
    for (i, name) in elections.iter().enumerate() {
        let terms: std::collections::BTreeSet<u64> = ops
            .iter()
            .filter(|op| {
                op.f == "elected"
                    && op.kind == ballot_check::history::OpType::Invoke
                    && op
                        .extra
                        .get(ballot_check::history::ELECTION_FIELD)
                        .and_then(|e| e.as_str())
                        == Some(name)
            })
            .filter_map(|op| op.value.get(1)?.as_u64())
            // The final stops drain too; count up to the rolling restart's last term.
            .filter(|term| *term <= leaders[i].1)
            .collect();
        assert!(
            !terms.is_empty() && terms.len() <= expected_terms[i],
            "{name}: {} terms for {} expected: {terms:?}",
            terms.len(),
            expected_terms[i]
        );
    }
    assert!(
        ops.iter().any(|op| op.f == "revoke"
            && op.extra.get(ballot_check::history::CAUSE_FIELD)
                == Some(&serde_json::json!("drain"))),
        "the drains are in the history"
    );
}
