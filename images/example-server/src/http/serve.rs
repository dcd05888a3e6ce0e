//! Serving Streamable HTTP: binding, the rmcp service behind axum with its `Host` policy, and
//! the graceful drain after SIGTERM/SIGINT.
//!
//! Imports: `endpoint`, `streams`, and the crate's `server`, `state` and `shutdown`. Must not
//! import `lib.rs` or `args` (which call it).

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::endpoint::{HostPolicy, MCP_PATH};
use super::streams::StreamTracker;
use crate::server::ExampleServer;
use crate::shutdown::shutdown_signal;
use crate::state::Instance;

/// How long open HTTP streams get to finish after SIGTERM/SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves Streamable HTTP until a signal arrives, then drains for at most [`SHUTDOWN_GRACE`].
pub(crate) async fn serve_until_signal(addr: SocketAddr, hosts: HostPolicy) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    println!("listening on http://{bound}{MCP_PATH}");
    std::io::stdout().flush()?;

    let stop = CancellationToken::new();
    tokio::spawn({
        let stop = stop.clone();
        async move {
            shutdown_signal().await;
            tracing::info!("signal received, draining");
            stop.cancel();
        }
    });
    let deadline = async {
        stop.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        served = serve(listener, hosts, stop.clone().cancelled_owned()) => served,
        () = deadline => {
            tracing::warn!("drain did not finish in {SHUTDOWN_GRACE:?}; exiting");
            Ok(())
        }
    }
}

/// Serves MCP on `listener` until `shutdown` completes, then stops accepting and closes streams.
async fn serve(
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
