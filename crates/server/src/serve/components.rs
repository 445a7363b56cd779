//! `/v1/components`: deploy, hot-swap, undeploy and list components.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use ballot_runtime::{MAX_MEMORY_BYTES, SwapError, SwapOutcome};

use super::error::{ApiError, ApiResult};
use super::host::{Host, spec_of};
use super::registry::{Record, digest};
use super::wire::{DeploymentView, LogLineView, LogsView, Payload, SwapView};

/// Query of a deploy. Everything but `role` and `election` has a default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployQuery {
    /// `candidate` or `observer`.
    role: String,
    /// The election.
    election: String,
    /// For logs and the timeline; `deployment-<id>` if not given.
    name: Option<String>,
    /// A candidate's ballot and ack data, as text.
    data: Option<String>,
    /// ... or as base64.
    data_base64: Option<String>,
    /// A candidate also hears of every new leader.
    #[serde(default)]
    follow: bool,
    /// Session TTL (default 3000).
    ttl_ms: Option<u64>,
    /// Period of the candidate's `tick`.
    tick_ms: Option<u64>,
    /// Longest a callback may run (default 1000; under the TTL).
    deadline_ms: Option<u64>,
    /// Most linear memory (default 32).
    memory_mib: Option<u64>,
    /// A leader making no import call for this long is deposed as stalled.
    max_silence_ms: Option<u64>,
    /// A priority, which makes (or requires) a priority election: the highest leads.
    priority: Option<i64>,
    /// With a priority: `false` waits for the leader to go instead of taking over.
    preempt: Option<bool>,
    /// Extra grants, comma-separated. This host grants none beyond its default set, so
    /// any name here is refused rather than silently ignored.
    grants: Option<String>,
}

impl DeployQuery {
    /// The record of a deploy with `id` of `wasm`; `body_data` is ballot data sent in a
    /// multipart body instead of the query.
    fn validate(self, id: u64, wasm: &[u8], body_data: Option<Vec<u8>>) -> ApiResult<Record> {
        if let Some(grants) = self.grants.as_deref().filter(|g| !g.trim().is_empty()) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "grant-refused",
                format!(
                    "this host grants nothing beyond its default imports (asked: {grants}); the network is not granted"
                ),
            ));
        }
        if !matches!(self.role.as_str(), "candidate" | "observer") {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "unknown-role",
                format!("unknown role {:?}: candidate or observer", self.role),
            ));
        }
        let ttl_ms = self.ttl_ms.unwrap_or(3000);
        let deadline_ms = self.deadline_ms.unwrap_or(1000);
        let memory_mib = self.memory_mib.unwrap_or(32);
        let bad = |message: String| ApiError::new(StatusCode::BAD_REQUEST, "bad-query", message);
        if !(300..=600_000).contains(&ttl_ms) {
            return Err(bad(format!("ttl_ms {ttl_ms}: must be 300..=600000")));
        }
        if !(10..=60_000).contains(&deadline_ms) || deadline_ms >= ttl_ms {
            return Err(bad(format!(
                "deadline_ms {deadline_ms}: must be 10..=60000 and under ttl_ms"
            )));
        }
        if self.tick_ms.is_some_and(|t| !(10..=3_600_000).contains(&t)) {
            return Err(bad("tick_ms: must be 10..=3600000".into()));
        }
        let max_mib = (MAX_MEMORY_BYTES >> 20) as u64;
        if !(1..=max_mib).contains(&memory_mib) {
            return Err(bad(format!(
                "memory_mib {memory_mib}: must be 1..={max_mib}"
            )));
        }
        let in_query = self.data.is_some() || self.data_base64.is_some();
        let data = match body_data {
            Some(_) if in_query => {
                return Err(bad(
                    "ballot data both in the query and in the body: send it once".into(),
                ));
            }
            Some(data) => data,
            None => Payload {
                data: self.data,
                data_base64: self.data_base64,
            }
            .bytes()
            .map_err(bad)?,
        };
        if self.role == "observer" && !data.is_empty() {
            return Err(bad("an observer has no ballot data".into()));
        }
        if let Some(silence) = self.max_silence_ms {
            if self.role == "observer" {
                return Err(bad("max_silence_ms: an observer never leads".into()));
            }
            if !(10..=3_600_000).contains(&silence) {
                return Err(bad(format!(
                    "max_silence_ms {silence}: must be 10..=3600000"
                )));
            }
        }
        if self.priority.is_some() && self.role == "observer" {
            return Err(bad("priority: an observer does not stand".into()));
        }
        if self.preempt.is_some() && self.priority.is_none() {
            return Err(bad("preempt applies only with a priority".into()));
        }
        let name = self.name.unwrap_or_else(|| format!("deployment-{id}"));
        ballot_core::name::check("deployment", &name).map_err(|e| bad(e.to_string()))?;
        Ok(Record {
            id,
            name,
            role: self.role,
            election: self.election,
            data,
            follow_leader: self.follow,
            ttl_ms,
            tick_ms: self.tick_ms,
            deadline_ms,
            memory_mib,
            max_silence_ms: self.max_silence_ms,
            priority: self.priority,
            no_preempt: self.preempt == Some(false),
            sha256: digest(wasm),
        })
    }
}

/// `POST /v1/components`: deploys the component in the body: the wasm itself, or a
/// `multipart/form-data` body with a `wasm` part and a `data` part (ballot data too large
/// for a query string).
pub async fn deploy(
    State(host): State<Arc<Host>>,
    query: Result<Query<DeployQuery>, QueryRejection>,
    request: axum::extract::Request,
) -> ApiResult<(StatusCode, Json<DeploymentView>)> {
    // The body is read first, even when the query is refused: answering before it is
    // read would close the connection under a client still sending it.
    let (wasm, body_data) = deploy_body(request).await?;
    let Query(query) = query?;
    if wasm.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed-component",
            "the body is empty: send the component's bytes",
        ));
    }
    let view = detach(async move {
        let _guard = host.changes.lock().await;
        let record = query.validate(host.registry.next_id(), &wasm, body_data)?;
        // Role and election are checked before anything is compiled.
        spec_of(&record, Vec::new())?;
        host.deploy(record, wasm).await
    })
    .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// A deploy's body: the wasm, and ballot data when the body is multipart.
async fn deploy_body(request: axum::extract::Request) -> ApiResult<(Vec<u8>, Option<Vec<u8>>)> {
    use axum::extract::FromRequest as _;
    let multipart = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        let body: Result<Bytes, BytesRejection> = Bytes::from_request(request, &()).await;
        return Ok((body?.to_vec(), None));
    }
    let mut form = axum::extract::Multipart::from_request(request, &())
        .await
        .map_err(|e| unreadable(e.status(), format!("a multipart body: {}", e.body_text())))?;
    let (mut wasm, mut data) = (None, None);
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| unreadable(e.status(), format!("a multipart body: {}", e.body_text())))?
    {
        let name = field.name().unwrap_or_default().to_string();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| unreadable(e.status(), format!("part {name:?}: {}", e.body_text())))?;
        let slot = match name.as_str() {
            "wasm" => &mut wasm,
            "data" => &mut data,
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown part {other:?} in the multipart body: send `wasm` and optionally `data`"
                )));
            }
        };
        if slot.replace(bytes.to_vec()).is_some() {
            return Err(ApiError::bad_request(format!("part {name:?} sent twice")));
        }
    }
    let wasm =
        wasm.ok_or_else(|| ApiError::bad_request("the multipart body has no `wasm` part"))?;
    Ok((wasm, data))
}

/// A body that could not be read, as a plain body's is answered (see
/// `From<BytesRejection>`): `too-large` over the host's limit, else `bad-request`.
fn unreadable(status: StatusCode, what: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large()
    } else {
        ApiError::bad_request(format!("could not read {what}"))
    }
}

/// Runs a change to the end even if the client that asked goes away meanwhile (hyper
/// drops a handler's future when its connection closes): a deploy, swap or undeploy cut
/// off halfway would leave the runtime and the persisted records disagreeing.
async fn detach<T: Send + 'static>(
    change: impl Future<Output = ApiResult<T>> + Send + 'static,
) -> ApiResult<T> {
    tokio::spawn(change).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the change failed: {e}"),
        )
    })?
}

/// `PUT /v1/components/{id}`: hot-swaps the deployment's code for the body.
pub async fn swap(
    State(host): State<Arc<Host>>,
    id: Result<Path<u64>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<SwapView>> {
    let Path(id) = id?;
    let wasm = body?.to_vec();
    detach(swap_detached(host, id, wasm)).await.map(Json)
}

async fn swap_detached(host: Arc<Host>, id: u64, wasm: Vec<u8>) -> ApiResult<SwapView> {
    let _guard = host.changes.lock().await;
    let runtime_id = host.runtime_id(id)?;
    let mut record = host
        .registry
        .get(id)
        .ok_or_else(|| ApiError::no_deployment(id))?;
    let report = host
        .runtime
        .swap(runtime_id, &wasm)
        .await
        .map_err(|e| match e {
            SwapError::NotRunning(_) => ApiError::from(e).for_deployment(id),
            other => ApiError::from(other),
        })?;
    let old = std::mem::replace(&mut record.sha256, digest(&wasm));
    let saved = record.clone();
    let persisted = host
        .on_disk(move |registry| {
            registry.store_code(&wasm)?;
            registry.put(saved)?;
            if let Err(e) = registry.collect_code(&old) {
                tracing::warn!(sha256 = %old, error = %e, "unused code not deleted");
            }
            Ok(())
        })
        .await;
    if let Err(e) = persisted {
        // The new code runs; only its persistence failed. Say so rather than pretend.
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "not-persisted",
            format!(
                "the swap was made but not persisted (a restart brings back the old code): {e}"
            ),
        ));
    }
    host.metrics.swaps.inc();
    host.publish(&record).await;
    let (outcome, trap) = match &report.outcome {
        SwapOutcome::Activated => ("activated", None),
        SwapOutcome::TrappedAfterActivation(why) => ("trapped-after-activation", Some(why.clone())),
    };
    Ok(SwapView {
        id,
        outcome: outcome.into(),
        trap,
        term: report.term.map(|t| t.0),
        told: report.told.clone(),
        blackout_us: report.blackout().as_micros() as u64,
        sha256: record.sha256,
    })
}

/// `DELETE /v1/components/{id}`: undeploys (a leader resigns first).
pub async fn undeploy(
    State(host): State<Arc<Host>>,
    id: Result<Path<u64>, PathRejection>,
) -> ApiResult<StatusCode> {
    let Path(id) = id?;
    detach(async move {
        let _guard = host.changes.lock().await;
        host.undeploy(id).await
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/components/{id}/kill`: kills the running instance, as `kill -9` a process;
/// its supervisor starts a fresh one at once on a new session. For chaos drills and for
/// unsticking a worker; the deployment itself stays.
pub async fn kill(
    State(host): State<Arc<Host>>,
    id: Result<Path<u64>, PathRejection>,
) -> ApiResult<StatusCode> {
    let Path(id) = id?;
    let runtime_id = host.runtime_id(id)?;
    host.runtime
        .kill(runtime_id)
        .map_err(|e| ApiError::from(e).for_deployment(id))?;
    host.metrics.kills.inc();
    Ok(StatusCode::ACCEPTED)
}

/// `GET /v1/components`: every deployment and where it stands.
pub async fn list(State(host): State<Arc<Host>>) -> Json<Vec<DeploymentView>> {
    Json(host.views())
}

/// The longest `GET /v1/components/{id}/logs` waits for a line (`wait_ms`).
const MOST_LOG_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Query of a logs read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    /// Only lines numbered this or later (the `next` of an earlier answer: follow).
    #[serde(default)]
    after: u64,
    /// When no such line is kept yet, wait this long for one (at most 30000): a follower
    /// asks again with the answer's `next` and sees each line once, as it comes.
    #[serde(default)]
    wait_ms: u64,
}

/// `GET /v1/components/{id}/logs`: the deployment's kept log lines (the newest 256 KiB
/// of what its instances wrote through the log import or to stderr), oldest first.
pub async fn logs(
    State(host): State<Arc<Host>>,
    id: Result<Path<u64>, PathRejection>,
    query: Result<Query<LogsQuery>, QueryRejection>,
) -> ApiResult<Json<LogsView>> {
    let Path(id) = id?;
    let Query(query) = query?;
    let record = host
        .registry
        .get(id)
        .ok_or_else(|| ApiError::no_deployment(id))?;
    let wait = std::time::Duration::from_millis(query.wait_ms).min(MOST_LOG_WAIT);
    let deadline = tokio::time::Instant::now() + wait;
    let mut changes = host.runtime.log_changes();
    let kept = loop {
        changes.mark_unchanged();
        let kept = host.runtime.log_lines(&record.name, query.after);
        if !kept.lines.is_empty() {
            break kept;
        }
        // A line written after the read above marks the channel changed, so none is
        // missed; a line that comes after the deadline is in the next ask's answer.
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => continue,
            // Timed out (at once when no wait was asked), or the runtime is going away:
            // answer with what there is.
            _ => break kept,
        }
    };
    Ok(Json(LogsView {
        id,
        name: record.name.clone(),
        lines: kept
            .lines
            .into_iter()
            .map(|(seq, line)| LogLineView { seq, line })
            .collect(),
        next: kept.next,
    }))
}
