//! `ballot demo --native`: the ballot-queue election on the bare namespace, on a simulated
//! clock, printed as a timeline of ballots, watches, acks and terms.
//!
//! Four candidates and an observer. A middle candidate's process dies (its heartbeats
//! stop, its session expires, its successor re-watches and nobody else hears a thing);
//! the leader's process dies (it is deposed, the observer hears of the death, the next
//! ballot wins and acks); the new leader resigns; the first leader, deposed, tries to
//! write under its old term and is fenced.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use ballot_core::election::{
    Callback, CandidateId, Effects, ElectionName, Elections, Leader, Recipient, Term,
};
use ballot_core::namespace::{CreateMode, Data, MonoTime, Namespace, NodePath, Op, SessionId};

const STEP: Duration = Duration::from_millis(250);

struct Participant {
    name: &'static str,
    session: SessionId,
    alive: bool,
}

/// The demo's little runtime: a simulated clock, heartbeats for live processes, and
/// callbacks that print and, for a win, acknowledge.
struct Demo {
    el: Elections,
    election: ElectionName,
    now: MonoTime,
    candidates: BTreeMap<CandidateId, Participant>,
    watching: BTreeMap<CandidateId, Option<NodePath>>,
    terms: Vec<(&'static str, Term)>,
}

impl Demo {
    fn line(&self, who: &str, what: impl AsRef<str>) {
        println!(
            "{:>7.3}s  rev {:>3}  {:<9} {}",
            self.now.0 as f64 / 1e9,
            self.el.namespace().revision().0,
            who,
            what.as_ref()
        );
    }

    fn name(&self, id: CandidateId) -> &'static str {
        self.candidates[&id].name
    }

    fn describe(&self, leader: &Leader) -> String {
        format!(
            "{} (term {}, ack data {:?})",
            self.name(leader.candidate),
            leader.term,
            leader.data
        )
    }

    /// Delivers notifications in order; a won election is acknowledged with the
    /// candidate's data, as a component's on-winning-election returning ok would be.
    fn deliver(&mut self, effects: Effects) -> anyhow::Result<()> {
        for n in effects.notifications {
            let who = match n.to {
                Recipient::Candidate(id) => self.name(id).to_string(),
                Recipient::Observer(_) => "dashboard".to_string(),
            };
            match &n.callback {
                Callback::WinningElection { term } => {
                    self.line(&who, format!("<- on-winning-election(term {term})"));
                    let Recipient::Candidate(id) = n.to else {
                        unreachable!()
                    };
                    self.terms.push((self.name(id), *term));
                    let more = self.el.acknowledge(id, *term, None)?;
                    self.line(&who, format!("acks: ack node written under term {term}"));
                    self.deliver(more)?;
                }
                Callback::LosingElection { leader } => {
                    let text = format!("<- on-losing-election(leader {})", self.describe(leader));
                    self.line(&who, text)
                }
                Callback::NewLeader { leader } => {
                    let text = format!("<- on-new-leader({})", self.describe(leader));
                    self.line(&who, text)
                }
                Callback::LeadersDeath { term } => {
                    self.line(&who, format!("<- on-leaders-death(term {term})"))
                }
                Callback::Deposed { term, .. } => self.line(
                    &who,
                    format!("deposed: term {term} revoked before anyone else is told"),
                ),
            }
        }
        self.show_watches();
        Ok(())
    }

    fn show_watches(&mut self) {
        let ids: Vec<CandidateId> = self.candidates.keys().copied().collect();
        for id in ids {
            let now = self.el.predecessor(id).cloned();
            if self.watching.get(&id) != Some(&now) {
                if let Some(path) = &now {
                    let owner = self
                        .candidates
                        .keys()
                        .find(|&&c| self.el.ballot(c) == Some(path))
                        .map_or("?", |&c| self.name(c));
                    self.line(self.name(id), format!("watches {} ({owner})", path.name()));
                }
                self.watching.insert(id, now);
            }
        }
    }

    /// Moves the clock on to `until`, heartbeating live processes and expiring the rest.
    fn run_until(&mut self, until: Duration) -> anyhow::Result<()> {
        let until = MonoTime(0).after(until);
        while self.now < until {
            self.now = self.now.after(STEP);
            let live: Vec<SessionId> = self
                .candidates
                .values()
                .filter(|p| p.alive)
                .map(|p| p.session)
                .collect();
            for session in live {
                self.el.heartbeat(session, self.now)?;
            }
            let (expired, effects) = self.el.tick(self.now);
            for session in expired {
                let name = self
                    .candidates
                    .values()
                    .find(|p| p.session == session)
                    .map_or("?", |p| p.name);
                self.line(
                    name,
                    format!(
                        "session {session} expired: all its ephemeral nodes deleted in one step"
                    ),
                );
            }
            self.deliver(effects)?;
        }
        Ok(())
    }

    fn kill(&mut self, id: CandidateId) {
        self.candidates.get_mut(&id).expect("known").alive = false;
        self.line(self.name(id), "process killed: heartbeats stop");
    }
}

/// Runs the demo.
pub fn run(args: &super::demo::DemoArgs) -> anyhow::Result<ExitCode> {
    let ttl = Duration::from_millis(args.ttl_ms);
    anyhow::ensure!(
        ttl > STEP,
        "--ttl-ms must exceed the demo's 250 ms heartbeat step"
    );
    let election = ElectionName::parse("db")?;
    let mut demo = Demo {
        el: Elections::new(Namespace::default()),
        election: election.clone(),
        now: MonoTime(0),
        candidates: BTreeMap::new(),
        watching: BTreeMap::new(),
        terms: Vec::new(),
    };
    println!(
        "ballot demo: election {:?}, session TTL {} ms, heartbeats every {} ms\n",
        election.as_str(),
        args.ttl_ms,
        STEP.as_millis()
    );
    println!("{:>8}  {:>7}  {:<9} event", "time", "rev", "who");

    let (_, effects) = demo.el.observe(&election);
    demo.line("dashboard", "observes the election");
    demo.deliver(effects)?;

    let mut ids = Vec::new();
    for (name, address) in [
        ("alpha", "10.0.0.1:5432"),
        ("bravo", "10.0.0.2:5432"),
        ("charlie", "10.0.0.3:5432"),
        ("delta", "10.0.0.4:5432"),
    ] {
        let session = demo.el.open_session(ttl, demo.now)?;
        let id = demo.el.join(&election, session, Data::from(address), false);
        demo.candidates.insert(
            id,
            Participant {
                name,
                session,
                alive: true,
            },
        );
        let effects = demo.el.vote(id)?;
        let ballot = demo.el.ballot(id).expect("just voted").clone();
        let term = demo.el.namespace().exists(&ballot).expect("exists").created;
        demo.line(
            name,
            format!(
                "votes with session {session}: ballot {} created at revision {term}",
                ballot.name()
            ),
        );
        demo.deliver(effects)?;
        ids.push(id);
    }
    let [alpha, bravo, charlie, _delta] = ids[..] else {
        unreachable!()
    };

    println!("\n-- a middle candidate dies: only its successor notices --");
    demo.run_until(Duration::from_secs(1))?;
    demo.kill(charlie);
    demo.run_until(Duration::from_secs(4))?;

    println!("\n-- the leader dies: deposed, then the next ballot wins --");
    let alpha_term = demo.el.leading_term(alpha).expect("alpha leads");
    demo.kill(alpha);
    demo.run_until(Duration::from_secs(7))?;

    println!("\n-- the new leader resigns: ballot and ack go in one multi --");
    let effects = demo.el.resign(bravo)?;
    demo.line("bravo", "resigns");
    demo.deliver(effects)?;

    println!("\n-- deposed leaders write under their old terms: fenced --");
    let bravo_term = demo.terms[1].1;
    for (id, term) in [(alpha, alpha_term), (bravo, bravo_term)] {
        let write = [Op::Create {
            path: NodePath::parse("/primary")?,
            data: Data::from(demo.name(id)),
            mode: CreateMode::PERSISTENT,
        }];
        let guard = Elections::term_guard(&election, demo.candidates[&id].session, term);
        match demo.el.multi(Some(&guard), &write) {
            Ok(_) => anyhow::bail!("a deposed leader's write was applied"),
            Err(refused) => demo.line(
                demo.name(id),
                format!("guarded multi under term {term} refused: {}", refused.error),
            ),
        }
    }
    anyhow::ensure!(
        demo.el
            .namespace()
            .exists(&NodePath::parse("/primary")?)
            .is_none()
    );

    println!("\nterms, in order of winning:");
    for (name, term) in &demo.terms {
        println!("  {name:<8} term {term}");
    }
    let increasing = demo.terms.windows(2).all(|w| w[0].1 < w[1].1);
    anyhow::ensure!(increasing, "terms did not strictly increase");
    println!(
        "leader now: {}",
        demo.el
            .leader(&demo.election)
            .map_or("none".into(), |l| demo.describe(&l))
    );
    Ok(ExitCode::SUCCESS)
}
