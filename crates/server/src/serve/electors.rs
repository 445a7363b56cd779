//! `/v1/electors`: the lease elector (the Datomic gist's, fixed and fenced) for processes
//! that are not components. A peer joins with a reset, then calls elect to become master
//! when the lease has lapsed or to renew it while it is master; each new mastership gets
//! a term, which a lease-guarded multi carries as its fencing token. Commits through an
//! elector (`guarded-commit`, `speculative-commit`, preview) take plain operations or a
//! transaction function uploaded to `/v1/txn-fns`.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use ballot_core::command::{Command, Outcome};
use ballot_core::election::{ElectionName, Elections, LeaseOutcome};
use ballot_runtime::{CommitMode, CommitRequest, DEFAULT_TXN_DEADLINE, Limits, TxnSource};

use super::error::{ApiError, ApiResult};
use super::host::Host;
use super::json_body::JsonBody;
use super::wire::{CommitBody, CommitView, LeaseView, Payload, TxnFnView};

/// Body of `POST /v1/electors/{name}/peers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reset {
    /// The joining peer's name.
    peer: String,
    /// The elector's lease duration (every peer must give the same).
    duration_ms: u64,
}

/// Body of `POST /v1/electors/{name}/elect`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Elect {
    /// The calling peer.
    peer: String,
}

/// The elector a path names.
fn elector(name: Result<Path<String>, PathRejection>) -> ApiResult<ElectionName> {
    let Path(name) = name?;
    Ok(ElectionName::parse(&name)?)
}

/// `POST /v1/electors/{name}/peers`: adds a peer (creating the elector with the
/// duration). Idempotent; never shortens a live lease.
pub async fn reset(
    State(host): State<Arc<Host>>,
    name: Result<Path<String>, PathRejection>,
    body: Result<JsonBody<Reset>, ApiError>,
) -> ApiResult<StatusCode> {
    let JsonBody(body) = body?;
    if !(10..=3_600_000).contains(&body.duration_ms) {
        return Err(ApiError::bad_request("duration_ms must be 10..=3600000"));
    }
    let command = Command::ResetElector {
        elector: elector(name)?,
        duration: Duration::from_millis(body.duration_ms),
        peer: body.peer,
    };
    host.runtime.propose(command).await??;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/electors/{name}/elect`: master under a new term if the lease lapsed,
/// renewed if the caller is master, else who is master and for how long.
pub async fn elect(
    State(host): State<Arc<Host>>,
    name: Result<Path<String>, PathRejection>,
    body: Result<JsonBody<Elect>, ApiError>,
) -> ApiResult<Json<LeaseView>> {
    let JsonBody(body) = body?;
    let peer = body.peer;
    let command = Command::ElectForDuration {
        elector: elector(name)?,
        peer: peer.clone(),
    };
    let Outcome::Lease(outcome) = host.runtime.propose(command).await?? else {
        return Err(ApiError::internal(
            "an election for a lease returned no lease",
        ));
    };
    let view = match outcome {
        LeaseOutcome::Won { term, lease } => LeaseView {
            outcome: "won".into(),
            master: Some(peer),
            term: Some(term.0),
            left_ms: lease.as_millis() as u64,
        },
        LeaseOutcome::Renewed { term, lease } => LeaseView {
            outcome: "renewed".into(),
            master: Some(peer),
            term: Some(term.0),
            left_ms: lease.as_millis() as u64,
        },
        LeaseOutcome::Held { master, term, left } => LeaseView {
            outcome: "held".into(),
            master: Some(master),
            term: Some(term.0),
            left_ms: left.as_millis() as u64,
        },
    };
    Ok(Json(view))
}

/// `GET /v1/electors/{name}`: the live lease, if any.
pub async fn show(
    State(host): State<Arc<Host>>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<LeaseView>> {
    let name = elector(name)?;
    host.runtime
        .inspect(move |el: &Elections, now| {
            if el.elector_duration(&name).is_none() {
                return Err(ApiError::not_found(format!("no elector {name}")));
            }
            Ok(match el.lease_holder(&name, now) {
                Some(holder) => LeaseView {
                    outcome: "held".into(),
                    master: Some(holder.master),
                    term: Some(holder.term.0),
                    left_ms: holder.left.as_millis() as u64,
                },
                None => LeaseView {
                    outcome: "lapsed".into(),
                    master: None,
                    term: None,
                    left_ms: 0,
                },
            })
        })
        .await?
        .map(Json)
}

/// `POST /v1/txn-fns`: uploads a transaction function (the wasm body), checked against
/// the `txn-fn` world and kept by its SHA-256 in the data directory.
pub async fn upload(
    State(host): State<Arc<Host>>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<(StatusCode, Json<TxnFnView>)> {
    let wasm = body?.to_vec();
    // Registered with the runtime (compiled, checked against the txn-fn world), so that
    // components can commit with it by its hash too.
    let sha256 = host.runtime.register_txn_fn(&wasm).await?;
    host.store_txn_fn(&sha256, wasm)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    Ok((StatusCode::CREATED, Json(TxnFnView { sha256 })))
}

/// `POST /v1/electors/{name}/commit`: a guarded, speculative or preview commit of plain
/// operations or of an uploaded transaction function's.
pub async fn commit(
    State(host): State<Arc<Host>>,
    name: Result<Path<String>, PathRejection>,
    body: Result<JsonBody<CommitBody>, ApiError>,
) -> ApiResult<Json<CommitView>> {
    let Path(name) = name?;
    let JsonBody(body) = body?;
    let elector = ElectionName::parse(&name)?;
    let mode = match (body.mode.as_deref().unwrap_or("guarded"), body.term) {
        ("guarded", None) => CommitMode::Guarded,
        ("speculative", Some(term)) => {
            CommitMode::Speculative(ballot_core::namespace::Revision(term))
        }
        ("preview", None) => CommitMode::Preview,
        (mode, _) => {
            return Err(ApiError::bad_request(format!(
                "mode {mode:?}: guarded, preview, or speculative with the term it claims (and only then a term)"
            )));
        }
    };
    let txn = match (body.ops, body.txn_fn) {
        (Some(ops), None) => TxnSource::Ops(
            ops.into_iter()
                .map(|op| super::clients::to_op(op, None))
                .collect::<ApiResult<_>>()?,
        ),
        (None, Some(sha256)) => {
            let digest = host.txn_fn(&sha256).ok_or_else(|| {
                ApiError::not_found(format!(
                    "no transaction function {sha256}: upload it to /v1/txn-fns"
                ))
            })?;
            let args = Payload {
                data: body.args,
                data_base64: body.args_base64,
            }
            .bytes()
            .map_err(|e| ApiError::bad_request(e.replace("data", "args")))?;
            let deadline_ms = body
                .deadline_ms
                .unwrap_or(DEFAULT_TXN_DEADLINE.as_millis() as u64);
            if !(10..=60_000).contains(&deadline_ms) {
                return Err(ApiError::bad_request("deadline_ms must be 10..=60000"));
            }
            TxnSource::Registered {
                sha256: digest,
                args,
                limits: Limits {
                    callback_deadline: Duration::from_millis(deadline_ms),
                    ..Limits::default()
                },
            }
        }
        _ => {
            return Err(ApiError::bad_request(
                "give the operations (ops) or a transaction function (txn_fn), one of them",
            ));
        }
    };
    let preview = mode == CommitMode::Preview;
    let report = host
        .runtime
        .commit(CommitRequest {
            elector,
            peer: body.peer,
            mode,
            txn,
        })
        .await?;
    let paths = super::clients::touched_paths(&report.results, &report.ops);
    Ok(Json(CommitView {
        term: report.term.map(|t| t.0),
        revision: report.revision,
        attempts: report.attempts,
        paths,
        preview,
    }))
}
