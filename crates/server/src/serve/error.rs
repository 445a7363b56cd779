//! Errors of the HTTP API: every refusal is JSON with a stable code, and the status a
//! client can act on (4xx: fix the request; 409: the state moved; 5xx: the host).

use axum::Json;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use ballot_core::command::Refusal;
use ballot_core::commit::CommitError;
use ballot_core::election::{ElectionError, ElectorError};
use ballot_core::namespace::Error as NsError;
use ballot_runtime::{DeployError, SwapError};
use ballot_store::StoreError;

use super::wire::{ErrorBody, ErrorDetail};

/// A refused or failed API call.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
}

impl ApiError {
    /// This error, worded with deployment `id` as the API numbers it: the runtime's
    /// refusals name its own deployment numbers, which a client never sees.
    pub fn for_deployment(self, id: u64) -> Self {
        let message = match self.code {
            "not-found" => return ApiError::no_deployment(id),
            "not-running" => format!(
                "deployment {id} has no running instance (it is restarting, or it failed): \
                 see GET /v1/components/{id}"
            ),
            _ => return self,
        };
        ApiError { message, ..self }
    }

    /// 404 for deployment `id` (as the API numbers it), which does not exist.
    pub fn no_deployment(id: u64) -> Self {
        Self::not_found(format!("no deployment {id}"))
    }

    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", message)
    }

    /// 413: the body is over the host's limit.
    pub fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!(
                "the body is larger than this host accepts ({} MiB; see --max-body-mib)",
                super::max_body_bytes() >> 20
            ),
        )
    }

    /// 404: nothing by that name.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", message)
    }

    /// 500: the host broke one of its own invariants; the message says which.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// What a handler answers.
pub type ApiResult<T> = Result<T, ApiError>;

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large()
        } else {
            ApiError::bad_request(format!(
                "could not read the body: {}",
                rejection.body_text()
            ))
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad-query", rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad-path", rejection.body_text())
    }
}

impl From<DeployError> for ApiError {
    fn from(error: DeployError) -> Self {
        let (status, code) = match &error {
            DeployError::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed-component"),
            DeployError::Refused(_) => (StatusCode::FORBIDDEN, "import-not-granted"),
            DeployError::WrongWorld { .. } => (StatusCode::BAD_REQUEST, "wrong-world"),
            DeployError::Instantiate(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "instantiation-failed")
            }
            DeployError::TooLittleMemory { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "memory-limit-too-small")
            }
            DeployError::Unknown(_) => (StatusCode::NOT_FOUND, "not-found"),
            DeployError::NotRunning(_) => (StatusCode::CONFLICT, "not-running"),
            DeployError::Store(error) => return error.clone().into(),
            DeployError::Election(error) => return error.clone().into(),
            DeployError::Linker(_) | DeployError::Panicked(_) | DeployError::StoreInUse => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        ApiError::new(status, code, error.to_string())
    }
}

impl From<SwapError> for ApiError {
    fn from(error: SwapError) -> Self {
        match error {
            SwapError::Refused(refused) => {
                let mut api = ApiError::from(refused);
                api.message = format!("the old code keeps running: {}", api.message);
                api
            }
            SwapError::NotRunning(_) | SwapError::Ended => {
                ApiError::new(StatusCode::CONFLICT, "not-running", error.to_string())
            }
        }
    }
}

impl From<CommitError> for ApiError {
    fn from(error: CommitError) -> Self {
        match error {
            CommitError::NotLeader { .. } => {
                ApiError::new(StatusCode::CONFLICT, "not-leader", error.to_string())
            }
            CommitError::Conflict { .. } => {
                ApiError::new(StatusCode::CONFLICT, "conflict", error.to_string())
            }
            CommitError::TxnAborted(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "txn-aborted",
                error.to_string(),
            ),
            CommitError::Refused(error) => error.into(),
            CommitError::Election(error) => error.into(),
            CommitError::QuotaExceeded(_) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "quota-exceeded",
                error.to_string(),
            ),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        if let StoreError::Overloaded { .. } = error {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                error.to_string(),
            );
        }
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store-unavailable",
            error.to_string(),
        )
    }
}

impl From<ElectionError> for ApiError {
    fn from(error: ElectionError) -> Self {
        match error.clone() {
            ElectionError::Namespace(error) => error.into(),
            ElectionError::Elector(refusal) => {
                let (status, code) = match refusal {
                    ElectorError::UnknownElector { .. } => (StatusCode::NOT_FOUND, "no-elector"),
                    ElectorError::NotAPeer { .. } => (StatusCode::FORBIDDEN, "not-a-peer"),
                    ElectorError::DurationMismatch { .. } => {
                        (StatusCode::CONFLICT, "duration-mismatch")
                    }
                    ElectorError::ZeroDuration | ElectorError::BadPeerName { .. } => {
                        (StatusCode::BAD_REQUEST, "invalid")
                    }
                    ElectorError::NotAnElector { .. } => (StatusCode::CONFLICT, "not-an-elector"),
                };
                ApiError::new(status, code, error.to_string())
            }
            ElectionError::UnknownCandidate(_) | ElectionError::UnknownObserver(_) => {
                ApiError::not_found(error.to_string())
            }
            ElectionError::AlreadyVoted(_) => {
                ApiError::new(StatusCode::CONFLICT, "refused", error.to_string())
            }
            ElectionError::Policy { .. } => {
                ApiError::new(StatusCode::CONFLICT, "policy-mismatch", error.to_string())
            }
            ElectionError::Handoff { .. } => {
                ApiError::new(StatusCode::CONFLICT, "no-handoff", error.to_string())
            }
        }
    }
}

impl From<Refusal> for ApiError {
    /// What apply refused, with the code of its cause; a refused multi's message names
    /// the operation that failed.
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Namespace(error) => error.into(),
            Refusal::Multi(failed) => {
                let mut api = ApiError::from(failed.error.clone());
                api.message = failed.to_string();
                api
            }
            Refusal::Election(error) => error.into(),
            Refusal::Quota(_) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "quota-exceeded",
                refusal.to_string(),
            ),
            Refusal::Stale(_) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", refusal.to_string())
            }
            Refusal::HostExpired(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store-unavailable",
                refusal.to_string(),
            ),
        }
    }
}

impl From<NsError> for ApiError {
    fn from(error: NsError) -> Self {
        let (status, code) = match &error {
            NsError::NoNode { .. } => (StatusCode::NOT_FOUND, "no-node"),
            NsError::NodeExists { .. } => (StatusCode::CONFLICT, "node-exists"),
            NsError::BadVersion { .. } => (StatusCode::CONFLICT, "bad-version"),
            NsError::NotEmpty { .. } => (StatusCode::CONFLICT, "not-empty"),
            NsError::InvalidPath { .. } => (StatusCode::BAD_REQUEST, "invalid-path"),
            NsError::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid"),
            NsError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too-large"),
            NsError::SessionExpired { .. } => (StatusCode::GONE, "session-expired"),
            NsError::NotLeader { .. } => (StatusCode::CONFLICT, "not-leader"),
            NsError::HostKept { .. } => (StatusCode::FORBIDDEN, "host-kept"),
        };
        ApiError::new(status, code, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballot_runtime::DeploymentId;

    /// A client knows deployments by the API's numbers: a runtime refusal about one names
    /// it so, never by the runtime's own number or its Rust type.
    #[test]
    fn refusals_about_a_deployment_name_it_by_the_apis_number() {
        let cases = [
            ApiError::from(DeployError::Unknown(DeploymentId(7))),
            ApiError::from(DeployError::NotRunning(DeploymentId(7))),
            ApiError::from(SwapError::NotRunning(DeploymentId(7))),
        ];
        for error in cases {
            let worded = error.for_deployment(3);
            assert!(
                worded.message.contains("deployment 3"),
                "{}",
                worded.message
            );
            assert!(!worded.message.contains('7'), "{}", worded.message);
            assert!(
                !worded.message.contains("  "),
                "one line of words: {}",
                worded.message
            );
            assert!(
                !worded.message.contains("DeploymentId"),
                "{}",
                worded.message
            );
        }
        let other = ApiError::from(DeployError::Malformed("x".into())).for_deployment(3);
        assert_eq!(other.message, "not a valid component: x");
    }
}
