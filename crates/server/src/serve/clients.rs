//! The API for processes that are not components: sessions, candidacy (vote, ack,
//! resign), namespace reads, and guarded multis. They take part in the same elections,
//! under the same rules, as deployed components: a term is held through a live session,
//! and a multi guarded by a term is refused once that term is lost.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use ballot_core::command::{CandidateStatus, Command, Outcome, Refusal};
use ballot_core::election::{
    CandidateId, ElectionError, ElectionName, Elections, Priority, read_leader,
};
use ballot_core::namespace::{
    CreateMode, Data, Guard, Lifetime, NodePath, Op, OpResult, SessionId,
};

use super::error::{ApiError, ApiResult};
use super::events::leader_view;
use super::host::Host;
use super::json_body::JsonBody;
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
    body: Result<JsonBody<OpenSession>, ApiError>,
) -> ApiResult<(StatusCode, Json<SessionView>)> {
    let JsonBody(body) = body?;
    if !(100..=600_000).contains(&body.ttl_ms) {
        return Err(ApiError::bad_request("ttl_ms must be 100..=600000"));
    }
    let ttl = Duration::from_millis(body.ttl_ms);
    let Outcome::Opened(session) = host.runtime.propose(Command::OpenSession { ttl }).await??
    else {
        return Err(ApiError::internal("opening a session opened none"));
    };
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
    let session = SessionId(session);
    host.runtime
        .propose(Command::Heartbeat { session })
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
    let session = SessionId(session);
    host.runtime
        .propose(Command::CloseSession { session })
        .await??;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /v1/elections/{name}/candidates`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stand {
    /// The session the ballot belongs to.
    session: u64,
    /// A priority makes (or requires) a priority election: the highest leads.
    priority: Option<i64>,
    /// With a priority: whether outranking the leader takes over at once (the default).
    preempt: Option<bool>,
    /// Ballot data.
    #[serde(flatten)]
    payload: Payload,
}

/// `POST /v1/elections/{name}/candidates`: registers a candidate and casts its ballot.
pub async fn stand(
    State(host): State<Arc<Host>>,
    name: Result<Path<String>, PathRejection>,
    body: Result<JsonBody<Stand>, ApiError>,
) -> ApiResult<(StatusCode, Json<CandidateView>)> {
    let Path(name) = name?;
    let JsonBody(body) = body?;
    let election = ElectionName::parse(&name)?;
    let data = Data::from(body.payload.bytes().map_err(ApiError::bad_request)?);
    let session = SessionId(body.session);
    let priority = match (body.priority, body.preempt) {
        (None, Some(_)) => {
            return Err(ApiError::bad_request(
                "preempt applies only with a priority",
            ));
        }
        (None, None) => None,
        (Some(level), preempt) => Some(Priority {
            level,
            preempt: preempt.unwrap_or(true),
        }),
    };
    let command = Command::Stand {
        election,
        session,
        data,
        priority,
    };
    let Outcome::Stood(status) = host.runtime.propose(command).await?? else {
        return Err(ApiError::internal("standing returned no candidate"));
    };
    let view = candidate_view(&status);
    Ok((StatusCode::CREATED, Json(view)))
}

/// Body of `POST /v1/drain`: the host to drain, by its `--host-id`; this host without it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drain {
    /// Another host sharing the namespace.
    host: Option<String>,
}

/// `POST /v1/drain`: every leadership held on the host goes to the first in line that
/// another host runs (fenced, in one step each). Draining this host then stops it, as
/// SIGTERM does; another host's leaderships are handed over from here and that host keeps
/// running (stop it yourself: its own drain then finds nothing left to hand over).
pub async fn drain(
    State(host): State<Arc<Host>>,
    body: Result<JsonBody<Drain>, ApiError>,
) -> ApiResult<Json<super::wire::DrainView>> {
    let JsonBody(body) = body?;
    let me = host.name();
    let view = match body.host {
        None => host.drain(host.epoch(), me, true).await,
        Some(name) if name == me => host.drain(host.epoch(), me, true).await,
        Some(name) => {
            let Some(peer) = host.hosts().into_iter().find(|peer| peer.id == name) else {
                return Err(ApiError::new(
                    axum::http::StatusCode::NOT_FOUND,
                    "no-host",
                    format!("no host {name:?} shares this namespace (see GET /v1/hosts)"),
                ));
            };
            host.drain(peer.epoch, name, false).await
        }
    };
    if view.stopping {
        host.begin_stopping();
    }
    Ok(Json(view))
}

/// Body of `POST /v1/elections/{name}/handoff`: whom the leadership goes to, named once;
/// the next in line when neither is given.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandOff {
    /// A deployment of this host, by its id.
    deployment: Option<u64>,
    /// A candidate, by its id (an HTTP client's candidate, say).
    candidate: Option<u64>,
}

/// `POST /v1/elections/{name}/handoff`: the leader is deposed (revoked before anyone
/// hears) and the named candidate, or the next in line, leads under a higher term.
pub async fn hand_off(
    State(host): State<Arc<Host>>,
    name: Result<Path<String>, PathRejection>,
    body: Result<JsonBody<HandOff>, ApiError>,
) -> ApiResult<Json<super::wire::HandOffView>> {
    let Path(name) = name?;
    let JsonBody(body) = body?;
    let election = ElectionName::parse(&name)?;
    let to = match (body.deployment, body.candidate) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "name the new leader once: a deployment or a candidate, not both",
            ));
        }
        (Some(id), None) => {
            let runtime_id = host.runtime_id(id)?;
            let candidate = host
                .runtime
                .candidate_of(runtime_id)
                .map_err(|e| ApiError::from(e).for_deployment(id))?;
            Some(candidate)
        }
        (None, Some(candidate)) => Some(ballot_core::election::CandidateId(candidate)),
        (None, None) => None,
    };
    let command = Command::HandOff {
        election,
        to,
        drain: false,
        from: None,
    };
    let Outcome::HandedOff(leader) = host.runtime.propose(command).await?? else {
        return Err(ApiError::internal("the handoff named no leader"));
    };
    let deployment = host
        .runtime
        .deployment_of(leader)
        .and_then(|runtime_id| host.api_id(runtime_id));
    Ok(Json(super::wire::HandOffView {
        election: name,
        candidate: leader.0,
        deployment,
    }))
}

fn candidate_view(status: &CandidateStatus) -> CandidateView {
    CandidateView {
        candidate: status.id.0,
        election: status.election.to_string(),
        session: status.session.0,
        ballot: status.ballot.as_ref().map(|b| b.name().to_string()),
        term: status.term.map(|t| t.0),
    }
}

/// Proposes the command `command` builds for candidate `id`, answering 404 if there is
/// no such candidate.
async fn for_candidate(
    host: &Host,
    id: u64,
    command: impl FnOnce(CandidateId) -> Command,
) -> ApiResult<()> {
    let id = CandidateId(id);
    match host.runtime.propose(command(id)).await? {
        Err(Refusal::Election(ElectionError::UnknownCandidate(_))) => {
            Err(ApiError::not_found(format!("no candidate {}", id.0)))
        }
        applied => applied.map(drop).map_err(ApiError::from),
    }
}

/// `GET /v1/candidates/{id}`: where a candidate stands (its term, if it leads).
pub async fn candidate(
    State(host): State<Arc<Host>>,
    id: Result<Path<u64>, PathRejection>,
) -> ApiResult<Json<CandidateView>> {
    let Path(id) = id?;
    let status = host
        .runtime
        .inspect(move |el: &Elections, _| el.status(CandidateId(id)))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no candidate {id}")))?;
    Ok(Json(candidate_view(&status)))
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
    body: Result<JsonBody<Ack>, ApiError>,
) -> ApiResult<StatusCode> {
    let Path(id) = id?;
    let JsonBody(body) = body?;
    let data = match (&body.payload.data, &body.payload.data_base64) {
        (None, None) => None,
        _ => Some(Data::from(
            body.payload.bytes().map_err(ApiError::bad_request)?,
        )),
    };
    let term = Some(ballot_core::namespace::Revision(body.term));
    for_candidate(&host, id, move |candidate| Command::Acknowledge {
        candidate,
        term,
        data,
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
    for_candidate(&host, id, |candidate| Command::Resign { candidate }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/candidates/{id}`: resigns and leaves the election.
pub async fn leave(
    State(host): State<Arc<Host>>,
    id: Result<Path<u64>, PathRejection>,
) -> ApiResult<StatusCode> {
    let Path(id) = id?;
    for_candidate(&host, id, |candidate| Command::Leave { candidate }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/elections/{name}`: leader, term, ack data and queue, from the durable state.
pub async fn election(
    State(host): State<Arc<Host>>,
    name: Result<Path<String>, PathRejection>,
    read: Result<Query<ReadQuery>, QueryRejection>,
) -> ApiResult<Json<ElectionView>> {
    let Path(name) = name?;
    let election = ElectionName::parse(&name)?;
    host.read_consistently(read?.consistent).await?;
    Ok(Json(election_view(&host.runtime.state(), &election)))
}

/// `GET /v1/elections`: every election the namespace holds, each as
/// `GET /v1/elections/{name}` shows it, by name.
pub async fn elections(
    State(host): State<Arc<Host>>,
    read: Result<Query<ReadQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<ElectionView>>> {
    host.read_consistently(read?.consistent).await?;
    let state = host.runtime.state();
    let root = ballot_core::namespace::NodePath::parse(ballot_core::election::ELECTIONS_ROOT)
        .expect("the elections' root is a valid path");
    let names = state.children(&root).unwrap_or_default();
    Ok(Json(
        names
            .iter()
            .filter_map(|name| ElectionName::parse(name).ok())
            .map(|election| election_view(&state, &election))
            .collect(),
    ))
}

/// The query of a read: `?consistent=true` waits until this host's replica has applied
/// everything etcd's log holds (see [`Host::read_consistently`]).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadQuery {
    /// Whether to wait for the replica to catch up with the cluster first.
    #[serde(default)]
    pub consistent: bool,
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
    read: Result<Query<ReadQuery>, QueryRejection>,
) -> ApiResult<Json<NodeView>> {
    let raw = path.map_or_else(String::new, |Path(p)| p);
    let path = NodePath::parse(&format!("/{raw}"))?;
    host.read_consistently(read?.consistent).await?;
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
    body: Result<JsonBody<MultiRequest>, ApiError>,
) -> ApiResult<Json<MultiView>> {
    let JsonBody(request) = body?;
    let session = request.session.map(SessionId);
    let ops = request
        .ops
        .into_iter()
        .map(|op| to_op(op, session))
        .collect::<ApiResult<Vec<_>>>()?;
    if ops.is_empty() {
        return Err(ApiError::bad_request("a multi needs at least one op"));
    }
    let asked = ops.clone();
    let committed = match request
        .guard
        .map(|guard| to_guard(guard, session))
        .transpose()?
    {
        None => match host
            .runtime
            .propose(Command::Multi {
                guard: None,
                ops,
                quota: None,
            })
            .await??
        {
            Outcome::Committed(committed) => committed,
            other => return Err(ApiError::internal(format!("a multi applied as {other:?}"))),
        },
        Some(Fence::Term(guard)) => {
            let command = Command::Multi {
                guard: Some(guard),
                ops,
                quota: None,
            };
            match host.runtime.propose(command).await?? {
                Outcome::Committed(committed) => committed,
                other => return Err(ApiError::internal(format!("a multi applied as {other:?}"))),
            }
        }
        Some(Fence::Lease {
            elector,
            peer,
            term,
        }) => {
            let command = Command::Commit {
                elector,
                peer,
                term: Some(term),
                reads: Default::default(),
                ops,
            };
            match host.runtime.propose(command).await?? {
                Outcome::LeaseCommitted { committed, .. } => committed,
                other => return Err(ApiError::internal(format!("a multi applied as {other:?}"))),
            }
        }
    };
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

/// What a request's fencing token stands for: a term of an election, held by the
/// multi's session, or a lease elector's term, held by a peer (checked where the multi
/// applies, against the live lease).
enum Fence {
    Term(Guard),
    Lease {
        elector: ElectionName,
        peer: String,
        term: ballot_core::election::Term,
    },
}

fn to_guard(guard: TermGuard, session: Option<SessionId>) -> ApiResult<Fence> {
    let term = ballot_core::namespace::Revision(guard.term);
    match (guard.election, guard.elector, guard.peer) {
        (Some(election), None, None) => {
            let session = session.ok_or_else(|| {
                ApiError::bad_request("an election guard needs the session that holds the term")
            })?;
            Ok(Fence::Term(Elections::term_guard(
                &ElectionName::parse(&election)?,
                session,
                term,
            )))
        }
        (None, Some(elector), Some(peer)) => Ok(Fence::Lease {
            elector: ElectionName::parse(&elector)?,
            peer,
            term,
        }),
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
