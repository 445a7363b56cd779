//! The API for processes that are not components: sessions, candidacy (vote, ack,
//! resign), namespace reads, and guarded multis. They take part in the same elections,
//! under the same rules, as deployed components: a term is held through a live session,
//! and a multi guarded by a term is refused once that term is lost.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use ballot_core::election::{CandidateId, Effects, ElectionName, Elections, read_leader};
use ballot_core::namespace::{
    CreateMode, Data, Guard, Lifetime, NodePath, Op, OpResult, SessionId,
};

use super::error::{ApiError, ApiResult};
use super::events::leader_view;
use super::host::Host;
use super::wire::{
    BallotView, CandidateView, ElectionView, MultiRequest, MultiView, NodeView, OpRequest, Payload,
    SessionView, TermGuard,
};

/// Body of `POST /v1/sessions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenSession {
    /// How long the session lives without a heartbeat.
    ttl_ms: u64,
}

/// `POST /v1/sessions`: opens a session.
pub async fn open_session(
    State(host): State<Arc<Host>>,
    body: Result<Json<OpenSession>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<SessionView>)> {
    let Json(body) = body?;
    if !(100..=600_000).contains(&body.ttl_ms) {
        return Err(ApiError::bad_request("ttl_ms must be 100..=600000"));
    }
    let ttl = Duration::from_millis(body.ttl_ms);
    let session = host
        .runtime
        .with_elections(move |el: &mut Elections, now| {
            (el.open_session(ttl, now), Effects::default())
        })
        .await??;
    Ok((
        StatusCode::CREATED,
        Json(SessionView {
            session: session.0,
            ttl_ms: body.ttl_ms,
        }),
    ))
}

/// `POST /v1/sessions/{id}/heartbeat`: keeps a session alive for another TTL.
pub async fn heartbeat(
    State(host): State<Arc<Host>>,
    session: Result<Path<u64>, PathRejection>,
) -> ApiResult<StatusCode> {
    let Path(session) = session?;
    host.runtime
        .with_elections(move |el: &mut Elections, now| {
            (el.heartbeat(SessionId(session), now), Effects::default())
        })
        .await??;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/sessions/{id}`: closes a session: its ephemerals and ballots go, and a
/// term it held ends at once.
pub async fn close_session(
    State(host): State<Arc<Host>>,
    session: Result<Path<u64>, PathRejection>,
) -> ApiResult<StatusCode> {
    let Path(session) = session?;
    host.runtime
        .with_elections(
            move |el: &mut Elections, _| match el.close_session(SessionId(session)) {
                Ok(effects) => (Ok(()), effects),
                Err(error) => (Err(error), Effects::default()),
            },
        )
        .await??;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /v1/elections/{name}/candidates`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stand {
    /// The session the ballot belongs to.
    session: u64,
    /// Ballot data.
    #[serde(flatten)]
    payload: Payload,
}

/// `POST /v1/elections/{name}/candidates`: registers a candidate and casts its ballot.
pub async fn stand(
    State(host): State<Arc<Host>>,
    name: Result<Path<String>, PathRejection>,
    body: Result<Json<Stand>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<CandidateView>)> {
    let Path(name) = name?;
    let Json(body) = body?;
    let election = ElectionName::parse(&name)?;
    let data = Data::from(body.payload.bytes().map_err(ApiError::bad_request)?);
    let session = SessionId(body.session);
    let view = host
        .runtime
        .with_elections(move |el: &mut Elections, now| {
            if !el.namespace().is_live(session, now) {
                let error = ballot_core::namespace::Error::SessionExpired { session };
                return (Err(ApiError::from(error)), Effects::default());
            }
            let id = el.join(&election, session, data, false);
            match el.vote(id, now) {
                Ok(effects) => (Ok(candidate_view(el, id, &election)), effects),
                Err(error) => {
                    let _ = el.leave(id, now);
                    (Err(ApiError::from(error)), Effects::default())
                }
            }
        })
        .await??;
    Ok((StatusCode::CREATED, Json(view)))
}

fn candidate_view(el: &Elections, id: CandidateId, election: &ElectionName) -> CandidateView {
    CandidateView {
        candidate: id.0,
        election: election.to_string(),
        session: el.session_of(id).map_or(0, |s| s.0),
        ballot: el.ballot(id).map(|b| b.name().to_string()),
        term: el.leading_term(id).map(|t| t.0),
    }
}

/// Runs `f` on candidate `id`'s election, answering 404 if there is no such candidate.
async fn with_candidate<T: Send + 'static>(
    host: &Host,
    id: u64,
    f: impl FnOnce(
        &mut Elections,
        CandidateId,
        ballot_core::namespace::MonoTime,
    ) -> ApiResult<(T, Effects)>
    + Send
    + 'static,
) -> ApiResult<T> {
    host.runtime
        .with_elections(move |el: &mut Elections, now| {
            let id = CandidateId(id);
            if el.session_of(id).is_none() {
                return (
                    Err(ApiError::not_found(format!("no candidate {}", id.0))),
                    Effects::default(),
                );
            }
            match f(el, id, now) {
                Ok((value, effects)) => (Ok(value), effects),
                Err(error) => (Err(error), Effects::default()),
            }
        })
        .await?
}

/// `GET /v1/candidates/{id}`: where a candidate stands (its term, if it leads).
pub async fn candidate(
    State(host): State<Arc<Host>>,
    id: Result<Path<u64>, PathRejection>,
) -> ApiResult<Json<CandidateView>> {
    let Path(id) = id?;
    with_candidate(&host, id, |el, id, _| {
        let election = el.election_of(id).expect("a registered candidate");
        Ok((candidate_view(el, id, &election), Effects::default()))
    })
    .await
    .map(Json)
}

/// Body of `POST /v1/candidates/{id}/ack`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ack {
    /// The term being acknowledged: the one the candidate leads under.
    term: u64,
    /// Ack data (the ballot's data if not given).
    #[serde(flatten)]
    payload: Payload,
}

/// `POST /v1/candidates/{id}/ack`: the leader acknowledges its term, so observers and
/// losers hear of it.
pub async fn ack(
    State(host): State<Arc<Host>>,
    id: Result<Path<u64>, PathRejection>,
    body: Result<Json<Ack>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let Path(id) = id?;
    let Json(body) = body?;
    let data = match (&body.payload.data, &body.payload.data_base64) {
        (None, None) => None,
        _ => Some(Data::from(
            body.payload.bytes().map_err(ApiError::bad_request)?,
        )),
    };
    with_candidate(&host, id, move |el, id, now| {
        let effects = el.acknowledge(id, ballot_core::namespace::Revision(body.term), data, now)?;
        Ok(((), effects))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/candidates/{id}/resign`: gives up the ballot (and the term, if leading);
/// the next ballot's owner is promoted at once.
pub async fn resign(
    State(host): State<Arc<Host>>,
    id: Result<Path<u64>, PathRejection>,
) -> ApiResult<StatusCode> {
    let Path(id) = id?;
    with_candidate(&host, id, |el, id, now| Ok(((), el.resign(id, now)?))).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/candidates/{id}`: resigns and leaves the election.
pub async fn leave(
    State(host): State<Arc<Host>>,
    id: Result<Path<u64>, PathRejection>,
) -> ApiResult<StatusCode> {
    let Path(id) = id?;
    with_candidate(&host, id, |el, id, now| Ok(((), el.leave(id, now)?))).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/elections/{name}`: leader, term, ack data and queue, from the durable state.
pub async fn election(
    State(host): State<Arc<Host>>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<ElectionView>> {
    let Path(name) = name?;
    let election = ElectionName::parse(&name)?;
    Ok(Json(election_view(&host.runtime.state(), &election)))
}

/// An election as read from `state`.
pub fn election_view(
    state: &ballot_core::namespace::State,
    election: &ElectionName,
) -> ElectionView {
    let ballots = election.paths().ballots;
    let queue = state
        .children(&ballots)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|name| {
            let (data, stat) = state.get(&ballots.child(&name).ok()?).ok()?;
            Some(BallotView {
                ballot: name,
                session: stat.ephemeral_owner.map(|s| s.0),
                created: stat.created.0,
                payload: Payload::of(data.as_bytes()),
            })
        })
        .collect();
    ElectionView {
        election: election.to_string(),
        leader: read_leader(state, election).map(|leader| leader_view(&leader)),
        queue,
        revision: state.revision().0,
    }
}

/// `GET /v1/nodes/{*path}`: a node's data, metadata and children.
pub async fn node(
    State(host): State<Arc<Host>>,
    path: Option<Path<String>>,
) -> ApiResult<Json<NodeView>> {
    let raw = path.map_or_else(String::new, |Path(p)| p);
    let path = NodePath::parse(&format!("/{raw}"))?;
    let state = host.runtime.state();
    let (data, stat) = state.get(&path)?;
    Ok(Json(NodeView {
        children: state.children(&path)?,
        path: path.to_string(),
        payload: Payload::of(data.as_bytes()),
        created: stat.created.0,
        modified: stat.modified.0,
        version: stat.data_version,
        ephemeral_owner: stat.ephemeral_owner.map(|s| s.0),
        revision: state.revision().0,
    }))
}

/// `POST /v1/multi`: every operation or none; with a guard, only while the session holds
/// the term (a deposed leader's write is refused with `not-leader`, nothing applied).
pub async fn multi(
    State(host): State<Arc<Host>>,
    body: Result<Json<MultiRequest>, JsonRejection>,
) -> ApiResult<Json<MultiView>> {
    let Json(request) = body?;
    let session = request.session.map(SessionId);
    let ops = request
        .ops
        .into_iter()
        .map(|op| to_op(op, session))
        .collect::<ApiResult<Vec<_>>>()?;
    if ops.is_empty() {
        return Err(ApiError::bad_request("a multi needs at least one op"));
    }
    ballot_core::election::refuse_host_kept(&ops)?;
    let guard = request.guard;
    let asked = ops.clone();
    let committed = host
        .runtime
        .with_elections(move |el: &mut Elections, now| {
            let guard = match guard.map(|g| to_guard(el, g, session, now)).transpose() {
                Ok(guard) => guard,
                Err(error) => return (Err(error), Effects::default()),
            };
            match el.multi(guard.as_ref(), &ops, now) {
                Ok((committed, effects)) => (Ok(committed), effects),
                Err(failed) => {
                    let mut error = ApiError::from(failed.error.clone());
                    error.message = failed.to_string();
                    (Err(error), Effects::default())
                }
            }
        })
        .await??;
    Ok(Json(MultiView {
        revision: committed.revision.0,
        paths: touched_paths(&committed.results, &asked),
    }))
}

/// The path each operation of a committed multi touched: a sequential create's full
/// name, else the path the operation named.
pub(super) fn touched_paths(results: &[OpResult], ops: &[Op]) -> Vec<String> {
    results
        .iter()
        .zip(ops)
        .map(|(result, op)| match (result, op) {
            (OpResult::Created { path, .. }, _) => path.to_string(),
            (
                _,
                Op::Create { path, .. }
                | Op::Set { path, .. }
                | Op::Delete { path, .. }
                | Op::Check { path, .. },
            ) => path.to_string(),
        })
        .collect()
}

/// The namespace guard a request's fencing token stands for, worked out in the commit's
/// own step (an elector guard needs the live lease's session).
fn to_guard(
    el: &Elections,
    guard: TermGuard,
    session: Option<SessionId>,
    now: ballot_core::namespace::MonoTime,
) -> ApiResult<Guard> {
    let term = ballot_core::namespace::Revision(guard.term);
    match (guard.election, guard.elector, guard.peer) {
        (Some(election), None, None) => {
            let session = session.ok_or_else(|| {
                ApiError::bad_request("an election guard needs the session that holds the term")
            })?;
            Ok(Elections::term_guard(
                &ElectionName::parse(&election)?,
                session,
                term,
            ))
        }
        (None, Some(elector), Some(peer)) => {
            Ok(el.lease_guard(&ElectionName::parse(&elector)?, &peer, term, now)?)
        }
        _ => Err(ApiError::bad_request(
            "a guard names an election (with the multi's session) or an elector and a peer",
        )),
    }
}

pub(super) fn to_op(op: OpRequest, session: Option<SessionId>) -> ApiResult<Op> {
    let parse = |raw: &str| NodePath::parse(raw).map_err(ApiError::from);
    let data = |payload: &Payload| {
        payload
            .bytes()
            .map(Data::from)
            .map_err(ApiError::bad_request)
    };
    Ok(match op {
        OpRequest::Create {
            path,
            payload,
            ephemeral,
            sequential,
        } => {
            let lifetime = if ephemeral {
                Lifetime::Ephemeral(session.ok_or_else(|| {
                    ApiError::bad_request("an ephemeral create needs the multi's session")
                })?)
            } else {
                Lifetime::Persistent
            };
            Op::Create {
                path: parse(&path)?,
                data: data(&payload)?,
                mode: CreateMode {
                    lifetime,
                    sequential,
                },
            }
        }
        OpRequest::Set {
            path,
            payload,
            expected,
        } => Op::Set {
            path: parse(&path)?,
            data: data(&payload)?,
            expected,
        },
        OpRequest::Delete { path, expected } => Op::Delete {
            path: parse(&path)?,
            expected,
        },
        OpRequest::Check { path, expected } => Op::Check {
            path: parse(&path)?,
            expected,
        },
    })
}
