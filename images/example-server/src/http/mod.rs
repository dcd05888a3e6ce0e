//! `--http ADDR`: rmcp's Streamable HTTP server at `/mcp`, behind axum.
//!
//! Legacy clients get sessions (`Mcp-Session-Id`, SSE, resumable streams); 2026-07-28 clients are
//! served statelessly by rmcp. `Host` is checked against loopback names (DNS-rebinding
//! protection) unless more hosts are allowed on the command line — a container reached by its
//! service name needs `--allowed-host NAME` or `--any-host`.
//!
//! Tools can see the HTTP request that carried their call ([`request_headers`]): Berth's tests
//! use it to check what a backend receives from Berth (never the agent's token or cookies).

use std::future::Future;
use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::service::RequestContext;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::server::ExampleServer;
use crate::state::Instance;

mod streams;

pub(crate) use self::streams::StreamTracker;

/// Path the MCP endpoint is served at.
pub(crate) const MCP_PATH: &str = "/mcp";

/// Which `Host` headers the endpoint accepts.
#[derive(Clone, Debug, Default)]
pub(crate) struct HostPolicy {
    /// Accepted in addition to `localhost`, `127.0.0.1` and `::1`.
    pub(crate) extra_hosts: Vec<String>,
    /// Accept any `Host` (for servers reached through a proxy that rewrites nothing).
    pub(crate) any_host: bool,
}

/// The headers of the HTTP request that carried the message `ctx` answers, as `(name, value)`
/// pairs in the order received (names lower-case, values decoded lossily); `None` when the
/// message did not arrive over HTTP (stdio mode).
///
/// rmcp's Streamable HTTP service puts the request's [`http::request::Parts`] into the message's
/// extensions, in both eras.
pub(crate) fn request_headers(ctx: &RequestContext<RoleServer>) -> Option<Vec<(String, String)>> {
    let parts = ctx.extensions.get::<http::request::Parts>()?;
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    Some(headers)
}

/// Serves MCP on `listener` until `shutdown` completes, then stops accepting and closes streams.
pub(crate) async fn serve(
    listener: TcpListener,
    hosts: HostPolicy,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let tracker = Arc::new(StreamTracker::default());
    let instance = Arc::new(Instance::new(Some(tracker.clone()))?);
    let cancel = CancellationToken::new();

    let mut config = StreamableHttpServerConfig::default().with_cancellation_token(cancel.clone());
    if hosts.any_host {
        config = config.disable_allowed_hosts();
    } else if !hosts.extra_hosts.is_empty() {
        let mut allowed = config.allowed_hosts.clone();
        allowed.extend(hosts.extra_hosts);
        config = config.with_allowed_hosts(allowed);
    }

    let service = StreamableHttpService::new(
        move || Ok(ExampleServer::new(instance.clone())),
        tracker,
        config,
    );
    let router = axum::Router::new().nest_service(MCP_PATH, service);
    // TCP_NODELAY: responses go out in several small writes (headers,
    // priming event, result); Nagle would hold the later ones for the
    // client's delayed ACK (~40 ms per call on keep-alive connections).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Ends open SSE streams and sessions so the graceful drain can finish.
            cancel.cancel();
        })
        .await?;
    Ok(())
}
