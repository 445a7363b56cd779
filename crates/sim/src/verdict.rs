//! What a run can find wrong, and the end-of-run checks of its histories.

use std::fmt;
use std::time::Duration;

use ballot_check::history::History;
use ballot_check::{Budget, ModelKind, Verdict};

/// Something a run found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The run injected no fault, so it proves nothing.
    NoFaults,
    /// A crash lost a revision the store had acknowledged as durable.
    LostAck {
        /// The highest revision a released reply had seen.
        acked: u64,
        /// The revision recovery found.
        recovered: u64,
    },
    /// After a crash, these sessions did not count a full TTL from the restart.
    SessionNotRestored(Vec<u64>),
    /// The published state showed a term not above one it showed before.
    TermWentBack {
        /// Which election: `ballot` or `lease`.
        election: &'static str,
        /// The earlier term.
        before: u64,
        /// Its leader.
        before_leader: String,
        /// The later term.
        after: u64,
        /// Its leader.
        after_leader: String,
    },
    /// On a shared log, two hosts that had applied the whole log held different states.
    Diverged {
        /// The log's last position.
        position: u64,
        /// One host (its index).
        first: usize,
        /// A host whose state differs from `first`'s.
        other: usize,
    },
    /// The real code panicked (the host would have died).
    Panic(String),
    /// Recovery refused the folder a crash left.
    Recovery(String),
    /// A history is not linearizable.
    NotLinearizable {
        /// Which history: `data`, `ballot` or `lease`.
        history: &'static str,
        /// The checker's account.
        detail: String,
    },
    /// The checker could not read a history (a simulator bug).
    Unreadable {
        /// Which history.
        history: &'static str,
        /// The checker's message.
        message: String,
    },
}

impl Failure {
    /// A short name for the kind of failure: the shrinker keeps a schedule only if it
    /// still fails this way.
    pub fn kind(&self) -> String {
        match self {
            Failure::NoFaults => "no-faults".into(),
            Failure::LostAck { .. } => "lost-ack".into(),
            Failure::SessionNotRestored(_) => "session-not-restored".into(),
            Failure::TermWentBack { election, .. } => format!("term-went-back:{election}"),
            Failure::Diverged { .. } => "diverged".into(),
            Failure::Panic(_) => "panic".into(),
            Failure::Recovery(_) => "recovery".into(),
            Failure::NotLinearizable { history, .. } => format!("not-linearizable:{history}"),
            Failure::Unreadable { history, .. } => format!("unreadable:{history}"),
        }
    }

    /// One line.
    pub fn summary(&self) -> String {
        match self {
            Failure::NoFaults => "no fault was injected".into(),
            Failure::LostAck { acked, recovered } => format!(
                "acknowledged revision {acked} lost in a crash (recovered revision {recovered})"
            ),
            Failure::SessionNotRestored(sessions) => format!(
                "after a restart, sessions {sessions:?} did not get a full TTL from the restart"
            ),
            Failure::TermWentBack {
                election,
                before,
                before_leader,
                after,
                after_leader,
            } => format!(
                "{election} term went from {before} ({before_leader}) to {after} ({after_leader})"
            ),
            Failure::Diverged {
                position,
                first,
                other,
            } => format!(
                "hosts {first} and {other} applied the log to position {position} and hold \
                 different states"
            ),
            Failure::Panic(message) => format!("the host panicked: {message}"),
            Failure::Recovery(why) => format!("recovery failed: {why}"),
            Failure::NotLinearizable { history, .. } => {
                format!("the {history} history is not linearizable")
            }
            Failure::Unreadable { history, message } => {
                format!("the {history} history is unreadable: {message}")
            }
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())?;
        if let Failure::NotLinearizable { detail, .. } = self {
            write!(f, "\n{detail}")?;
        }
        Ok(())
    }
}

/// The budget of one history's check: histories are short, so an unknown verdict means
/// something pathological and is reported as unreadable rather than passed.
const BUDGET: Budget = Budget {
    time: Duration::from_secs(20),
    memory: 256 << 20,
    // A simulation run checks many small histories; one thread each.
    threads: 1,
};

/// Checks the data history (`kv`) and the ballot and lease histories (`leadership`).
pub fn check_histories(histories: &[History; 3]) -> Option<Failure> {
    let checks = [
        ("data", ModelKind::Kv),
        ("ballot", ModelKind::Leadership),
        ("lease", ModelKind::Leadership),
    ];
    for ((history, kind), recorded) in checks.into_iter().zip(histories) {
        match ballot_check::check(recorded, kind, &BUDGET) {
            Err(error) => {
                return Some(Failure::Unreadable {
                    history,
                    message: error.to_string(),
                });
            }
            Ok(report) => match report.verdict {
                Verdict::Linearizable => {}
                Verdict::NotLinearizable(violation) => {
                    return Some(Failure::NotLinearizable {
                        history,
                        detail: violation.render_text(),
                    });
                }
                Verdict::Unknown(why) => {
                    return Some(Failure::Unreadable {
                        history,
                        message: format!("the check ran out of budget: {why:?}"),
                    });
                }
            },
        }
    }
    None
}
