//! JSON request bodies read whatever their `Content-Type` says: `curl -d '{...}'` sends
//! `application/x-www-form-urlencoded`, and a body that parses as the JSON a call takes
//! is what the caller meant. A body that does not parse is refused as `bad-json`, with
//! serde's account of where and why.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A request body parsed as JSON into `T`, whatever its `Content-Type` header says.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state).await?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|error| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad-json",
                    format!("the body is not the JSON this call takes: {error}"),
                )
            })
    }
}
