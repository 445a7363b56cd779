//! The bearer token every mutating call must carry.

use std::path::Path;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// The token, kept as its SHA-256 so that comparing takes the same time whatever the
/// presented token's length or first differing byte.
#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
}

impl Token {
    /// A token from its text, which must not be empty (surrounding whitespace, such as a
    /// file's final newline, is not part of it).
    pub fn new(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("the token is empty".into());
        }
        Ok(Token {
            digest: Sha256::digest(text.as_bytes()).into(),
        })
    }

    /// The token from `--token-file`, or else `BALLOT_TOKEN`. A host without one does not
    /// start: an open control plane would let anyone deploy code into it.
    pub fn load(file: Option<&Path>) -> Result<Self, String> {
        let text = match file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("reading the token file {}: {e}", path.display()))?,
            None => std::env::var("BALLOT_TOKEN").map_err(|_| {
                "no token: set BALLOT_TOKEN or pass --token-file (mutating calls require it)"
                    .to_string()
            })?,
        };
        Token::new(&text)
    }

    /// Whether `presented` is the token, in time independent of where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        let other: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let difference = self
            .digest
            .iter()
            .zip(other.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(difference) == 0
    }
}

/// Middleware: a call that can change anything (any method but GET and HEAD) needs
/// `Authorization: Bearer <token>`; without it the call is answered 401 and not run.
pub async fn require_token(State(token): State<Token>, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let why = match presented {
        Some(presented) if token.matches(presented.trim()) => return next.run(request).await,
        Some(_) => "the bearer token is wrong",
        None => "this call changes state: send Authorization: Bearer <token>",
    };
    // Read and drop the body first (chunk by chunk, never holding it, up to the body
    // limit): a client still sending a component would otherwise see a broken pipe
    // instead of this answer.
    let mut body = request.into_body().into_data_stream();
    let mut read = 0;
    while read <= super::max_body_bytes() {
        match body.next().await {
            Some(Ok(chunk)) => read += chunk.len(),
            _ => break,
        }
    }
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", why).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_token_matches() {
        let token = Token::new("s3cret\n").unwrap();
        assert!(token.matches("s3cret"));
        assert!(!token.matches("s3cre"));
        assert!(!token.matches("s3cret2"));
        assert!(!token.matches(""));
        assert!(Token::new("  \n").is_err());
    }
}
