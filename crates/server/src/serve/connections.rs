//! The server's connections, with bounds a client cannot talk it out of.
//!
//! `axum::serve` takes every connection and waits on each for ever. Here:
//! - at most [`Bounds::max_connections`] are open; one more is answered 503
//!   `too-many-connections` and closed, so a crowd of idle sockets costs a bounded amount;
//! - a client must send a request's headers within [`Bounds::header_timeout`] of
//!   connecting (or of its last response), or its connection is closed;
//! - a write that makes no progress for [`Bounds::write_timeout`] (a client that stopped
//!   reading, or reads a byte a second) closes the connection, so a stuck event-stream
//!   reader does not hold its socket and buffers for ever;
//! - bodies are read within the request timeout of the router (see `serve::router`).
//!
//! On shutdown the server stops accepting and lets each connection finish its request.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// What one client may cost the server.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Open connections, at most.
    pub max_connections: usize,
    /// From a connection's start (or its last response) to its next request's headers.
    pub header_timeout: Duration,
    /// The longest a write may stall.
    pub write_timeout: Duration,
}

/// The answer to a connection over the cap, written before it is closed.
const TOO_MANY: &str = "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\nretry-after: 1\r\ncontent-length: ";

/// Serves `app` on `listener` within `bounds` until `shutdown` completes, then waits for
/// the open connections to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    bounds: Bounds,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(bounds.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(bounds.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a little, do not spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream, bounds.max_connections));
            continue;
        };
        let mut io = tokio_io_timeout::TimeoutStream::new(stream);
        io.set_write_timeout(Some(bounds.write_timeout));
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = http.serve_connection(TokioIo::new(Box::pin(io)), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "a connection ended with an error");
            }
            drop(slot);
        });
    }
    graceful.shutdown().await;
    Ok(())
}

/// Answers a connection over the cap with a 503 and closes it; gives up on a client that
/// does not take the answer within a second.
async fn refuse(mut stream: TcpStream, cap: usize) {
    let body = format!(
        r#"{{"error":{{"code":"too-many-connections","message":"this host holds {cap} connections, its most; try again in a moment"}}}}"#
    );
    let answer = format!("{TOO_MANY}{}\r\n\r\n{body}", body.len());
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}
