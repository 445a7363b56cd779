//! `/v1/history`: the leadership history this host has recorded since it started (every
//! election won, guarded commit and end of a term), and the checker's verdict on it, so
//! the claim "at most one leader per term, and a commit lands only under its leader's
//! term" can be checked on the running host, not only in tests.
//!
//! The host keeps the first [`KEPT`] lines in memory (a prefix, not a window: the
//! checker needs a history from its start). Past that bound the answers say the history
//! is incomplete; `ballot serve --history FILE` streams all of it for `ballot check`.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;

use ballot_check::history::{History, Outcome};
use ballot_check::{Budget, ModelKind, Verdict, render_svg};

use super::error::{ApiError, ApiResult};
use super::host::Host;

/// Lines of the leadership history a host keeps in memory.
pub const KEPT: usize = 100_000;

/// Calls an answer draws (the newest); the verdict covers every kept call.
pub const DRAWN: usize = 600;

/// The longest a check of the kept history may run before it answers `unknown`.
const CHECK_TIME: Duration = Duration::from_secs(10);

/// Memory a check's search may use.
const CHECK_MEMORY: usize = 512 << 20;

/// `GET /v1/history`: the kept history as JSON lines, the format `ballot check` reads.
pub async fn lines(State(host): State<Arc<Host>>) -> impl IntoResponse {
    let history = host.recorder.history();
    let complete = host.recorder.kept_all();
    (
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (
                header::HeaderName::from_static("x-ballot-history-complete"),
                if complete { "true" } else { "false" },
            ),
        ],
        history.to_jsonl(),
    )
}

/// The answer of `GET /v1/history/check`.
#[derive(Debug, Serialize)]
pub struct CheckView {
    /// The model checked against.
    pub model: &'static str,
    /// `linearizable`, `not-linearizable` or `unknown` (a budget ran out).
    pub verdict: &'static str,
    /// False once the host recorded more than it keeps: the verdict covers a prefix.
    pub complete: bool,
    /// Lines recorded since the host started.
    pub recorded: usize,
    /// Calls checked.
    pub calls: usize,
    /// How long the check took.
    pub elapsed_ms: u64,
    /// For a violation or an unknown verdict: the checker's account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    /// For a violation: the checker's picture of it (SVG).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub svg: Option<String>,
    /// The newest [`DRAWN`] calls, for a per-process timeline.
    pub drawn: Vec<CallView>,
}

/// One call, for drawing.
#[derive(Debug, Serialize)]
pub struct CallView {
    /// The recording process (each deployment records under a few; see the runtime).
    pub process: u64,
    /// Who the call is about: the candidate's name.
    pub candidate: String,
    /// `elected`, `commit`, `resign`, `revoke`, ...
    pub f: String,
    /// The term it names.
    pub term: Option<u64>,
    /// `ok`, `fail`, `info` or `pending`.
    pub outcome: &'static str,
    /// When it was invoked, in nanoseconds on the history's clock.
    pub start_ns: u64,
    /// When it completed; `None` while in flight.
    pub end_ns: Option<u64>,
}

/// `GET /v1/history/check`: runs the checker (on the blocking pool, under a budget) over
/// the kept history.
pub async fn check(State(host): State<Arc<Host>>) -> ApiResult<Json<CheckView>> {
    let recorder = host.recorder.clone();
    let view = tokio::task::spawn_blocking(move || {
        let complete = recorder.kept_all();
        let recorded = recorder.len();
        check_history(&recorder.history(), complete, recorded)
    })
    .await
    .map_err(|failed| ApiError::internal(format!("the check did not finish: {failed}")))?;
    view.map(Json)
}

fn check_history(history: &History, complete: bool, recorded: usize) -> ApiResult<CheckView> {
    let budget = Budget {
        time: CHECK_TIME,
        memory: CHECK_MEMORY,
        // The leadership history is checked election by election, on the blocking pool.
        threads: 1,
    };
    let report = ballot_check::check(history, ModelKind::Leadership, &budget).map_err(|error| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unreadable-history",
            format!("the host's own history does not fit the leadership model: {error}"),
        )
    })?;
    let (verdict, explanation, svg) = match &report.verdict {
        Verdict::Linearizable => ("linearizable", None, None),
        Verdict::NotLinearizable(violation) => (
            "not-linearizable",
            Some(violation.render_text()),
            Some(render_svg(violation)),
        ),
        Verdict::Unknown(why) => (
            "unknown",
            Some(format!(
                "the check gave up: its {} budget was spent",
                match why {
                    ballot_check::Exhausted::Time => "time (10 s)",
                    ballot_check::Exhausted::Memory => "memory (512 MiB)",
                }
            )),
            None,
        ),
    };
    let calls = history.calls();
    let drawn = calls
        .iter()
        .skip(calls.len().saturating_sub(DRAWN))
        .map(|call| {
            let (candidate, term) = match call.input.as_array().map(Vec::as_slice) {
                Some([candidate, term, ..]) => (
                    candidate.as_str().unwrap_or_default().to_string(),
                    term.as_u64(),
                ),
                _ => (String::new(), None),
            };
            CallView {
                process: call.process,
                candidate,
                f: call.f.clone(),
                term,
                outcome: match call.outcome {
                    Outcome::Ok(_) => "ok",
                    Outcome::Fail => "fail",
                    Outcome::Info => "info",
                    Outcome::Pending => "pending",
                },
                start_ns: history.ops[call.invoke].time,
                end_ns: call.complete.map(|at| history.ops[at].time),
            }
        })
        .collect();
    Ok(CheckView {
        model: report.model,
        verdict,
        complete,
        recorded,
        calls: calls.len(),
        elapsed_ms: u64::try_from(report.stats.elapsed.as_millis()).unwrap_or(u64::MAX),
        explanation,
        svg,
        drawn,
    })
}
