//! `GET /v1/timeline`: what happened to the deployments (deployed, won, acked, deposed,
//! killed, swapped, crashed, restarted, undeployed), as server-sent events, one per
//! runtime timeline line, whose id is the line's number. The dashboard draws its live
//! timeline from it; a client that reconnects with `Last-Event-ID` (or `?since=`) gets
//! every line after that number that the host still keeps (its newest
//! [`ballot_runtime::TIMELINE_CAP`]), none twice.
//!
//! The stream wakes on each new line, never on a timer.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use ballot_runtime::{Delivered, TimelineEntry, TimelineEvent};

use super::error::ApiResult;
use super::host::Host;

/// One timeline line as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TimelineView {
    /// Its number: resume after it.
    pub seq: u64,
    /// When, in milliseconds since the Unix epoch (read off this host's clock).
    pub wall_ms: u64,
    /// When, in microseconds since this host's runtime started, on its monotonic clock:
    /// to time what happened between two lines (a kill and the successor's ack), which
    /// `wall_ms` cannot when the wall clock is set or slews.
    #[serde(default)]
    pub uptime_us: u64,
    /// The deployment's name.
    pub deployment: String,
    /// What happened: `deployed`, `won`, `lost`, `new-leader`, `leaders-death`,
    /// `win-refused`, `stands-again`, `acked`, `deposed`, `trapped`, `revoked`, `swapped`, `overflow`,
    /// `restarting`, `failed` or `undeployed`.
    pub kind: String,
    /// The term it concerns, when it concerns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<u64>,
    /// More, in words.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl TimelineView {
    /// The API's form of `entry`; `started_ms` is when the runtime started, on the wall
    /// clock.
    pub fn of(entry: &TimelineEntry, started_ms: u64) -> Self {
        let words = |kind: &str, detail: &str| (kind.to_string(), None, detail.to_string());
        let term = |kind: &str, term: u64| (kind.to_string(), Some(term), String::new());
        let (kind, term, detail) = match &entry.event {
            TimelineEvent::Deployed(how) => words("deployed", how),
            TimelineEvent::Callback(Delivered::WinningElection { term: t }) => term("won", *t),
            TimelineEvent::Callback(Delivered::LosingElection { leader_term }) => {
                term("lost", *leader_term)
            }
            TimelineEvent::Callback(Delivered::NewLeader { term: t }) => term("new-leader", *t),
            TimelineEvent::Callback(Delivered::LeadersDeath { term: t }) => {
                term("leaders-death", *t)
            }
            TimelineEvent::WinRefused(why) => words("win-refused", why),
            TimelineEvent::StandsAgain(refusals) => words(
                "stands-again",
                &format!("votes again after {refusals} refused win(s)"),
            ),
            TimelineEvent::Acked(t) => term("acked", *t),
            TimelineEvent::Deposed(t) => term("deposed", *t),
            TimelineEvent::Trapped(why) => words("trapped", why),
            TimelineEvent::Revoked(why) => words("revoked", why),
            TimelineEvent::Swapped(how) => words("swapped", how),
            TimelineEvent::Overflow(what) => words("overflow", what),
            TimelineEvent::Restarting(wait) => {
                words("restarting", &format!("in {} ms", wait.as_millis()))
            }
            TimelineEvent::Failed(why) => words("failed", why),
            TimelineEvent::Undeployed => words("undeployed", ""),
        };
        TimelineView {
            seq: entry.seq,
            wall_ms: started_ms.saturating_add(millis(entry.at)),
            uptime_us: u64::try_from(entry.at.as_micros()).unwrap_or(u64::MAX),
            deployment: entry.deployment.clone(),
            kind,
            term,
            detail,
        }
    }
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Query of `GET /v1/timeline`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineQuery {
    /// Resume after this line (like `Last-Event-ID`, for clients that cannot set it).
    since: Option<u64>,
}

/// `GET /v1/timeline`: the kept lines after `since` (all kept lines without it), then
/// each new one as it comes.
pub async fn stream(
    State(host): State<Arc<Host>>,
    headers: HeaderMap,
    query: Result<Query<TimelineQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let Query(query) = query?;
    let resumed = super::events::last_event_id(&headers, "a line number")?.or(query.since);
    let from = resumed.map_or(0, |last| last.saturating_add(1));
    let started_ms = super::wall_clock_ms().saturating_sub(millis(host.runtime.uptime()));
    let guard = super::memory::StreamGuard::new();
    let lines = futures_util::stream::unfold(
        (host.clone(), host.runtime.timeline_changes(), from),
        move |(host, mut changes, mut from)| async move {
            loop {
                // Marked before the read: a line added after it wakes the wait below.
                changes.mark_unchanged();
                let batch = host.runtime.timeline_from(from);
                if let Some(last) = batch.last() {
                    from = last.seq + 1;
                    let views: Vec<TimelineView> = batch
                        .iter()
                        .map(|entry| TimelineView::of(entry, started_ms))
                        .collect();
                    return Some((futures_util::stream::iter(views), (host, changes, from)));
                }
                changes.changed().await.ok()?;
            }
        },
    )
    .flatten()
    .take_until(host.stopped())
    .map(move |view| {
        let _held_until_the_stream_closes = &guard;
        let json = serde_json::to_string(&view).expect("a timeline line is always serialisable");
        Ok(Event::default()
            .id(view.seq.to_string())
            .event("timeline")
            .data(json))
    });
    Ok(Sse::new(lines).keep_alive(KeepAlive::default()))
}
