//! When it wins its election, commits through the lease elector `commits` as peer `p`,
//! and logs each outcome as `commit: <case> <outcome>` for the host test to read. The
//! transaction function's SHA-256 comes from the node `/committer/sha256`, which the test
//! writes after registering the function; what it does comes from `/committer/mode`:
//!
//! - `cases`: every way the `commit` interface allows (below);
//! - `slow`: deletes the mode node (so a restarted instance does nothing), logs
//!   `commit: slow-start`, then makes one guarded commit of the function's slow `copy`, for
//!   the test to kill the instance while the function runs;
//! - `forge`: tries to change what only the host's election machinery may write, while
//!   it leads `example`: set the ack, delete its own ballot, create a ballot, and (through
//!   a guarded commit) delete peer `q` of the elector; then a multi that only checks its
//!   ballot and writes elsewhere. Logs each as `commit: <case> <outcome>`;
//! - `big`: one guarded commit of the function's `copy /big /big-copy`, whose
//!   operations' data is charged to the bytes quota once the function has run;
//! - no mode node: nothing.
//!
//! Cases: a guarded commit of the function (`count /c`), a preview of it (writes
//! nothing), an unregistered hash, a malformed hash, an ephemeral create, a speculative
//! commit under a term `p` does not hold, one under the term it does hold, and a guarded
//! commit by peer `q` while `p` holds the lease.

use ballot_guest::commit::{self, Txn};
use ballot_guest::{Candidate, CreateMode, Error, Leader, Op, Term, elector, log, namespace};

#[derive(Default)]
struct Committer;

fn report<T>(case: &str, outcome: Result<T, Error>, ok: impl FnOnce(T) -> String) {
    let line = match outcome {
        Ok(value) => ok(value),
        Err(error) => format!("refused {error:?}"),
    };
    log::info(&format!("commit: {case} {line}"));
}

fn run() -> Result<(), Error> {
    let mode = match namespace::get("/committer/mode") {
        Ok(node) => node.data,
        Err(Error::NoNode(_)) => return Ok(()),
        Err(other) => return Err(other),
    };
    let sha = String::from_utf8_lossy(&namespace::get("/committer/sha256")?.data).into_owned();
    match &mode[..] {
        b"cases" => cases(&sha),
        b"slow" => slow(&sha),
        b"forge" => forge(),
        b"big" => big(&sha),
        _ => Err(Error::Invalid("unknown mode".into())),
    }
}

fn slow(sha: &str) -> Result<(), Error> {
    namespace::delete("/committer/mode", None)?;
    elector::reset_elector("commits", 60_000, "p")?;
    log::info("commit: slow-start");
    let copy = Txn::function(sha, b"copy /committer/sha256 /slow-copy".to_vec());
    report("slow", commit::guarded_commit("commits", "p", &copy), |c| {
        format!("ok term {}", c.term)
    });
    Ok(())
}

fn big(sha: &str) -> Result<(), Error> {
    elector::reset_elector("commits", 60_000, "p")?;
    let copy = Txn::function(sha, b"copy /big /big-copy".to_vec());
    report("big", commit::guarded_commit("commits", "p", &copy), |c| {
        format!("ok term {}", c.term)
    });
    Ok(())
}

fn forge() -> Result<(), Error> {
    const ACK: &str = "/elections/example/ack";
    const BALLOTS: &str = "/elections/example/ballots";
    report("forge-ack", namespace::set(ACK, b"forged", None), |_| {
        "ok".into()
    });
    let own = namespace::children(BALLOTS)?.into_iter().next().unwrap_or_default();
    let own_ballot = format!("{BALLOTS}/{own}");
    report("delete-ballot", namespace::delete(&own_ballot, None), |_| "ok".into());
    let ballot = format!("{BALLOTS}/b-");
    let created = namespace::create(&ballot, b"", CreateMode::EPHEMERAL_SEQUENTIAL);
    report("create-ballot", created, |_| "ok".into());
    for peer in ["p", "q"] {
        elector::reset_elector("commits", 60_000, peer)?;
    }
    let drop_q = Txn::Ops(vec![Op::delete("/electors/commits/peers/q", None)]);
    report(
        "drop-peer",
        commit::guarded_commit("commits", "p", &drop_q),
        |_| "ok".into(),
    );
    let checked = [
        Op::check(own_ballot, None),
        Op::create("/checked", b"y".to_vec(), CreateMode::PERSISTENT),
    ];
    report("check-ballot", namespace::multi(&checked, None), |_| {
        "ok".into()
    });
    Ok(())
}

fn cases(sha: &str) -> Result<(), Error> {
    let count = || Txn::function(sha, b"count /c".to_vec());
    for peer in ["p", "q"] {
        elector::reset_elector("commits", 60_000, peer)?;
    }

    let first = commit::guarded_commit("commits", "p", &count());
    let term = first.as_ref().map(|c| c.term).unwrap_or(0);
    report("guarded-function", first, |c| {
        format!("ok term {} attempts {}", c.term, c.attempts)
    });
    report("preview", commit::preview(&count()), |p| {
        format!("ok ops {} revision {}", p.ops.len(), p.revision)
    });
    let unknown = Txn::function(&"ab".repeat(32), Vec::new());
    report("unregistered", commit::guarded_commit("commits", "p", &unknown), |_| "ok".into());
    let malformed = Txn::function("not-a-hash", Vec::new());
    report("malformed", commit::guarded_commit("commits", "p", &malformed), |_| "ok".into());
    let ephemeral = Txn::Ops(vec![Op::create("/e", Vec::new(), CreateMode::EPHEMERAL)]);
    report("ephemeral", commit::guarded_commit("commits", "p", &ephemeral), |_| "ok".into());
    let d = || Txn::Ops(vec![Op::create("/d", b"x".to_vec(), CreateMode::PERSISTENT)]);
    report("stale-term", commit::speculative_commit("commits", "p", term + 1_000, &d()), |_| {
        "ok".into()
    });
    report("speculative", commit::speculative_commit("commits", "p", term, &d()), |c| {
        format!("ok term {}", c.term)
    });
    let e = Txn::Ops(vec![Op::create("/q", Vec::new(), CreateMode::PERSISTENT)]);
    report("other-peer", commit::guarded_commit("commits", "q", &e), |_| "ok".into());
    Ok(())
}

impl Candidate for Committer {
    fn on_winning_election(&mut self, _term: Term) -> Result<(), String> {
        run().map_err(|e| format!("{e:?}"))
    }

    fn on_losing_election(&mut self, _leader: Leader) {}
}

ballot_guest::export_candidate!(Committer);
