//! The connection loop: hyper with header-size and header-read-time limits
//! (slow-loris protection), TCP_NODELAY, and a bounded graceful drain.
//!
//! hyper's `header_read_timeout` only runs once it knows the protocol, and
//! telling HTTP/1 from HTTP/2 waits for the client's first bytes without a
//! limit; so a connection gets `limits.header_read_timeout` from accept to
//! deliver its first request, or it is closed (idle sockets cannot pile up).
//! Every request carries its connection's [`PeerAddr`]; with trusted
//! proxies, [`forwarded_host`] runs before the router.
//!
//! May import: `config` (the limits), `http::forwarded`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::forwarded::{PeerAddr, TrustedProxies, forwarded_host};
use crate::config::Limits;

/// Serves `router` on `listener` until `shutdown` fires, then drains open
/// connections for at most `limits.shutdown_grace`. Requests from
/// `proxies` have the host they forwarded put in `Host` first.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &Limits,
    proxies: TrustedProxies,
    shutdown: CancellationToken,
) {
    let router = if proxies.is_empty() {
        router
    } else {
        router.layer(axum::middleware::from_fn_with_state(
            proxies,
            forwarded_host,
        ))
    };
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let first_request = Arc::new(Notify::new());
        let arrived = first_request.clone();
        let service =
            TowerToHyperService::new(router.clone().map_request(move |mut req: Request<_>| {
                arrived.notify_one();
                req.extensions_mut().insert(PeerAddr(peer));
                req
            }));
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        let first_request_within = limits.header_read_timeout;
        tokio::spawn(async move {
            tokio::pin!(conn);
            let ended = tokio::select! {
                ended = &mut conn => ended,
                arrived = tokio::time::timeout(first_request_within, first_request.notified()) => {
                    if arrived.is_err() {
                        tracing::debug!("closed a connection that sent no request within limits.header_read_timeout");
                        return;
                    }
                    conn.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("graceful drain timed out; closing remaining connections");
    }
}
