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
//! Each request is handled in a task of its own, not in its connection's
//! task. hyper's HTTP/1 request body is a channel between the two, and
//! reading it from inside the connection's task wakes that task during its
//! own poll (the reader signals "want", then takes each chunk); Tokio
//! reschedules a task woken that way as a yield and wakes an idle worker
//! thread to steal it: two futex calls and a thread wake-up per request,
//! about a fifth of Berth's CPU per call at one session. Between two tasks
//! the same wakes are ordinary hand-offs on one worker. The handler task is
//! aborted when hyper drops the request (the agent went away), as the
//! handler future itself was dropped before.
//!
//! May import: `config` (the limits), `http::forwarded`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use hyper::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinError;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
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
        let router = router.clone();
        let service = service_fn(move |mut req: Request<Incoming>| {
            arrived.notify_one();
            req.extensions_mut().insert(PeerAddr(peer));
            let handling =
                AbortOnDropHandle::new(tokio::spawn(router.clone().oneshot(req.map(Body::new))));
            async move {
                Ok::<Response, Infallible>(match handling.await {
                    Ok(Ok(response)) => response,
                    Ok(Err(never)) => match never {},
                    Err(e) => handler_failed(e),
                })
            }
        });
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

/// The answer when a request's handler task panicked (a bug): the agent
/// gets a 500 and the log says what happened; the connection stays usable.
fn handler_failed(e: JoinError) -> Response {
    tracing::error!(error = %e, "request handler failed");
    (
        http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal error in Berth while handling this request; it is logged, retry or report it",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use axum::routing::post;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    /// Sets its flag when dropped: shows a handler's future was dropped.
    struct Dropped(Arc<AtomicBool>);

    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    async fn started(router: Router) -> (std::net::SocketAddr, CancellationToken) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            serve(
                listener,
                router,
                &Limits::default(),
                TrustedProxies::default(),
                stop,
            )
            .await;
        });
        (addr, shutdown)
    }

    fn post_request(path: &str, body: &str) -> String {
        format!(
            "POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    /// Sends one POST on `conn` and reads its response.
    async fn exchange(conn: &mut TcpStream, path: &str, body: &str) -> String {
        conn.write_all(post_request(path, body).as_bytes())
            .await
            .unwrap();
        response(conn).await
    }

    /// Reads one response whose body is `Content-Length` bytes long.
    async fn response(conn: &mut TcpStream) -> String {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "the connection closed mid-response: {got:?}");
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_owned)
                    })
                    .and_then(|l| l.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if body.len() >= length {
                    return text;
                }
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_handler_answers_500_and_the_connection_goes_on() {
        let router = Router::new().route(
            "/echo",
            post(|body: String| async move {
                assert_ne!(body, "panic", "a bug in a handler");
                body
            }),
        );
        let (addr, shutdown) = started(router).await;
        let mut conn = TcpStream::connect(addr).await.unwrap();
        let first = exchange(&mut conn, "/echo", "panic").await;
        assert!(first.starts_with("HTTP/1.1 500"), "{first}");
        assert!(first.contains("internal error in Berth"), "{first}");
        let second = exchange(&mut conn, "/echo", "still here").await;
        assert!(second.starts_with("HTTP/1.1 200"), "{second}");
        assert!(second.ends_with("still here"), "{second}");
        shutdown.cancel();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_agent_that_hangs_up_mid_request_has_its_handler_dropped() {
        let dropped = Arc::new(AtomicBool::new(false));
        let entered = Arc::new(Notify::new());
        let (flag, seen) = (dropped.clone(), entered.clone());
        let router = Router::new().route(
            "/slow",
            post(move |_body: String| {
                let guard = Dropped(flag.clone());
                let seen = seen.clone();
                async move {
                    let _guard = guard;
                    seen.notify_one();
                    std::future::pending::<()>().await;
                }
            }),
        );
        let (addr, shutdown) = started(router).await;
        let mut conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(post_request("/slow", "{}").as_bytes())
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), entered.notified())
            .await
            .expect("the handler runs");
        assert!(
            !dropped.load(Ordering::SeqCst),
            "still running while the agent waits"
        );
        drop(conn);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !dropped.load(Ordering::SeqCst) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the handler of a request whose agent hung up was not dropped"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        shutdown.cancel();
    }
}
