//! Who may do what: bearer tokens with scopes.
//!
//! A token carries any of three scopes: `read` (every GET but the dashboard's page and
//! `/healthz`), `write` (sessions, candidates, multis, electors: taking part in
//! elections), and `deploy` (deploying, swapping, killing and undeploying components,
//! uploading transaction functions). Tokens come from `--token-file`, one per line as
//! `SCOPES TOKEN` (`read,write`, or `all`), a line holding only a token granting every
//! scope; or from `BALLOT_TOKEN`, which grants every scope. With `--public-reads`,
//! reads need no token.
//!
//! Reads also accept the token in the `ballot_token` cookie, so the dashboard's event
//! streams (a browser's `EventSource` cannot set headers) can be authorised; changes
//! accept only the `Authorization` header, so another site cannot make a browser send
//! them with the cookie.

use std::path::Path;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Read state, events, logs, metrics, the history.
    Read,
    /// Take part in elections: sessions, candidates, multis, electors.
    Write,
    /// Deploy, swap, kill and undeploy components; upload transaction functions.
    Deploy,
}

impl Scope {
    const ALL: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Deploy];

    fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Deploy => "deploy",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }

    fn parse(word: &str) -> Result<Vec<Scope>, String> {
        match word {
            "all" => Ok(Scope::ALL.to_vec()),
            "read" => Ok(vec![Scope::Read]),
            "write" => Ok(vec![Scope::Write]),
            "deploy" => Ok(vec![Scope::Deploy]),
            other => Err(format!(
                "unknown scope {other:?}: read, write, deploy or all"
            )),
        }
    }
}

/// A token, kept as its SHA-256 so that comparing takes the same time whatever the
/// presented token's length or first differing byte, with its scopes.
#[derive(Clone)]
struct Grant {
    digest: [u8; 32],
    scopes: u8,
}

/// The tokens a host accepts, and whether reads need one.
#[derive(Clone)]
pub struct Token {
    grants: Vec<Grant>,
    public_reads: bool,
}

impl Token {
    /// One token with every scope, from its text, which must not be empty (surrounding
    /// whitespace, such as a file's final newline, is not part of it).
    pub fn new(text: &str) -> Result<Self, String> {
        Ok(Token {
            grants: vec![grant(text, &Scope::ALL)?],
            public_reads: false,
        })
    }

    /// Tokens from a token file's text: one per line, `SCOPES TOKEN` or just `TOKEN`
    /// (every scope); blank lines and lines starting with `#` are skipped.
    pub fn parse_file(text: &str) -> Result<Self, String> {
        let mut grants = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = |why: String| format!("line {}: {why}", number + 1);
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (scopes, token) = match fields.as_slice() {
                [token] => (Scope::ALL.to_vec(), *token),
                [scopes, token] => {
                    let mut parsed = Vec::new();
                    for word in scopes.split(',') {
                        parsed.extend(Scope::parse(word).map_err(at)?);
                    }
                    (parsed, *token)
                }
                _ => return Err(at("expected `SCOPES TOKEN` or `TOKEN`".into())),
            };
            grants.push(grant(token, &scopes).map_err(at)?);
        }
        if grants.is_empty() {
            return Err("the token file holds no token".into());
        }
        Ok(Token {
            grants,
            public_reads: false,
        })
    }

    /// The tokens from `--token-file`, or else `BALLOT_TOKEN`. A host without one does not
    /// start: an open control plane would let anyone deploy code into it.
    pub fn load(file: Option<&Path>) -> Result<Self, String> {
        match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("reading the token file {}: {e}", path.display()))?;
                Token::parse_file(&text)
                    .map_err(|e| format!("the token file {}: {e}", path.display()))
            }
            None => {
                let text = std::env::var("BALLOT_TOKEN").map_err(|_| {
                    "no token: set BALLOT_TOKEN or pass --token-file (the API requires it)"
                        .to_string()
                })?;
                Token::new(&text)
            }
        }
    }

    /// Lets reads through without a token (`--public-reads`).
    pub fn with_public_reads(mut self, public: bool) -> Self {
        self.public_reads = public;
        self
    }

    /// The scopes `presented` carries; `None` for a token this host does not know. Every
    /// known token is compared, in time independent of where they differ.
    fn scopes_of(&self, presented: &str) -> Option<u8> {
        let other: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for grant in &self.grants {
            let difference = grant
                .digest
                .iter()
                .zip(other.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if std::hint::black_box(difference) == 0 {
                found = Some(grant.scopes);
            }
        }
        found
    }

    /// Whether `presented` is a token with every scope (for tests of the single token).
    pub fn matches(&self, presented: &str) -> bool {
        let all = Scope::ALL.iter().fold(0, |acc, scope| acc | scope.bit());
        self.scopes_of(presented) == Some(all)
    }
}

fn grant(text: &str, scopes: &[Scope]) -> Result<Grant, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the token is empty".into());
    }
    Ok(Grant {
        digest: Sha256::digest(text.as_bytes()).into(),
        scopes: scopes.iter().fold(0, |acc, scope| acc | scope.bit()),
    })
}

/// The scope a request needs; `None` for what anyone may fetch (the dashboard's page and
/// assets, which hold no state, and `/healthz`, for load balancers).
fn needed(method: &Method, path: &str) -> Option<Scope> {
    let reading = matches!(*method, Method::GET | Method::HEAD);
    if reading {
        let public = path == "/" || path == "/healthz" || path.starts_with("/dashboard/");
        return (!public).then_some(Scope::Read);
    }
    let deploying = path == "/v1/components"
        || path == "/v1/txn-fns"
        || (path.starts_with("/v1/components/")
            && (*method == Method::PUT || *method == Method::DELETE || path.ends_with("/kill")))
        // Moving leadership by hand is an operator's act, like a kill.
        || (path.starts_with("/v1/elections/") && path.ends_with("/handoff"))
        || path == "/v1/drain";
    Some(if deploying {
        Scope::Deploy
    } else {
        Scope::Write
    })
}

/// The token a request presents: the `Authorization: Bearer` header, or for a read the
/// `ballot_token` cookie.
fn presented(request: &Request, reading: bool) -> Option<String> {
    let headers = request.headers();
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        return value
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(|token| token.trim().to_string())
            .or(Some(String::new()));
    }
    if !reading {
        return None;
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix("ballot_token="))
        .map(|token| {
            percent_encoding::percent_decode_str(token.trim())
                .decode_utf8_lossy()
                .into_owned()
        })
}

/// Middleware: a request runs only with a token that carries the scope it needs; else it
/// is answered 401 (no or an unknown token) or 403 (a token without that scope) and not
/// run.
pub async fn require_token(State(tokens): State<Token>, request: Request, next: Next) -> Response {
    let Some(scope) = needed(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    if scope == Scope::Read && tokens.public_reads {
        return next.run(request).await;
    }
    let (status, code, why) = match presented(&request, scope == Scope::Read) {
        Some(token) => match tokens.scopes_of(&token) {
            Some(scopes) if scopes & scope.bit() != 0 => return next.run(request).await,
            Some(scopes) => {
                let held: Vec<&str> = Scope::ALL
                    .iter()
                    .filter(|s| scopes & s.bit() != 0)
                    .map(|s| s.name())
                    .collect();
                (
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!(
                        "this call needs a token with the {} scope; this one has: {}",
                        scope.name(),
                        held.join(", ")
                    ),
                )
            }
            None => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the bearer token is wrong".to_string(),
            ),
        },
        None if scope == Scope::Read => (
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this host's reads need a token with the read scope: send Authorization: Bearer <token> (or start the host with --public-reads)".to_string(),
        ),
        None => (
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            format!(
                "this call changes state: send Authorization: Bearer <token> (a token with the {} scope)",
                scope.name()
            ),
        ),
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
    ApiError::new(status, code, why).into_response()
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

    #[test]
    fn a_token_file_gives_each_token_its_scopes() {
        let tokens = Token::parse_file(
            "# who may do what\nread r-token\nread,write rw-token\nall admin\nbare\n\n",
        )
        .unwrap();
        let read = Scope::Read.bit();
        let write = Scope::Write.bit();
        let deploy = Scope::Deploy.bit();
        assert_eq!(tokens.scopes_of("r-token"), Some(read));
        assert_eq!(tokens.scopes_of("rw-token"), Some(read | write));
        assert_eq!(tokens.scopes_of("admin"), Some(read | write | deploy));
        assert_eq!(tokens.scopes_of("bare"), Some(read | write | deploy));
        assert_eq!(tokens.scopes_of("other"), None);
        for bad in ["", "# nothing\n", "reed token\n", "read a b\n", "read, x\n"] {
            assert!(Token::parse_file(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn each_route_needs_its_scope() {
        let get = Method::GET;
        assert_eq!(needed(&get, "/"), None);
        assert_eq!(needed(&get, "/healthz"), None);
        assert_eq!(needed(&get, "/dashboard/app.js"), None);
        assert_eq!(needed(&get, "/v1/components"), Some(Scope::Read));
        assert_eq!(needed(&get, "/metrics"), Some(Scope::Read));
        assert_eq!(needed(&Method::POST, "/v1/components"), Some(Scope::Deploy));
        assert_eq!(
            needed(&Method::PUT, "/v1/components/3"),
            Some(Scope::Deploy)
        );
        assert_eq!(
            needed(&Method::DELETE, "/v1/components/3"),
            Some(Scope::Deploy)
        );
        assert_eq!(
            needed(&Method::POST, "/v1/components/3/kill"),
            Some(Scope::Deploy)
        );
        assert_eq!(needed(&Method::POST, "/v1/txn-fns"), Some(Scope::Deploy));
        assert_eq!(needed(&Method::POST, "/v1/multi"), Some(Scope::Write));
        assert_eq!(needed(&Method::POST, "/v1/sessions"), Some(Scope::Write));
        assert_eq!(
            needed(&Method::DELETE, "/v1/candidates/4"),
            Some(Scope::Write)
        );
    }
}
