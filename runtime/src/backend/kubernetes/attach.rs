//! Connecting a session to its Pod: for stdio servers, the Pods attach
//! API (a WebSocket through the API server to the container's stdin,
//! stdout and stderr); for HTTP-transport servers, Streamable HTTP to the
//! server's port at the Pod IP ([`http_bridge`]). A supervisor deletes the
//! Pod when the session ends, lets go of it on a handover, and reports the
//! server's end. An attach stream that breaks while the Pod still runs
//! (an API server restart) is re-opened; the session fails only when the
//! Pod ended or the API stays away past `kubernetes.start_timeout`.
//!
//! May import: `kubernetes::{host, start, pod}`, `backend` shapes,
//! `backend::{framing, idle_reader, http_bridge}`, `config`.
//!
//! [`http_bridge`]: crate::backend::http_bridge

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{AttachParams, AttachedProcess};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::host::{KubeHost, is_not_found};
use super::pod::CONTAINER;
use super::start::ended_reason;
use crate::backend::framing::{LogLines, read_lines};
use crate::backend::idle_reader::IdleReader;
use crate::backend::to_server::ToServer;
use crate::backend::{
    BackendError, ExitNotice, InboundSink, Instance, InstanceLabels, ServerSpec, StopControl,
    http_bridge,
};
use crate::config::Transport;

/// Outbound messages buffered per Pod before callers wait.
const OUTBOUND_QUEUE: usize = 256;

/// Buffer of each attach stream (kube's default is 1 KiB).
const STREAM_BUFFER: usize = 64 * 1024;

/// How long the last output of an ended attach stream may take to arrive.
const DRAIN: Duration = Duration::from_millis(200);

/// How often an HTTP-transport Pod's state is checked.
const MONITOR_EVERY: Duration = Duration::from_secs(2);

/// How long a started Pod has to accept connections on its port.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(30);

/// Connects a session to running Pod `name`.
pub(super) async fn attach(
    host: &KubeHost,
    name: &str,
    spec: &ServerSpec,
    labels: &InstanceLabels,
    sink: Arc<dyn InboundSink>,
) -> Result<Instance, BackendError> {
    let http = spec.transport == Transport::Http;
    let notice = host
        .shared
        .live
        .entry(name.to_owned())
        .or_insert_with(|| ExitNotice::new(None))
        .clone();
    notice.set_sink(sink.clone());
    let (tx, rx) = mpsc::channel::<Bytes>(OUTBOUND_QUEUE);
    let stop = CancellationToken::new();
    let detach = CancellationToken::new();
    let (done_tx, done_rx) = watch::channel(false);
    let ended = if http {
        let setup = http_bridge::BridgeSetup {
            client: host.shared.http.clone(),
            sink,
            limit: spec.max_message_bytes,
            secrets: spec.call_headers.clone(),
            declared: spec.param_headers.clone(),
        };
        let resolve = endpoint(host.clone(), name.to_owned(), spec.port, spec.path.clone());
        http_bridge::spawn(setup, resolve, rx, stop.clone());
        tokio::spawn(monitor(host.clone(), name.to_owned()))
    } else {
        let attached = open(host, name).await?;
        let pump = Pump {
            host: host.clone(),
            name: name.to_owned(),
            sink,
            limit: spec.max_message_bytes,
            session: labels.session.clone(),
        };
        tokio::spawn(pump.run(attached, rx))
    };
    tokio::spawn(supervise(
        host.clone(),
        name.to_owned(),
        Stops {
            stop: stop.clone(),
            detach: detach.clone(),
        },
        ended,
        notice,
        done_tx,
    ));
    Ok(Instance {
        resume: Some(name.to_owned()),
        id: format!("pod:{name}"),
        outbound: ToServer::queue(tx),
        control: Box::new(StopControl {
            stop,
            done: done_rx,
            // An HTTP server's protocol session lives in this pod's bridge:
            // it cannot be handed over, so it is stopped.
            detach: (!http).then_some(detach),
        }),
    })
}

/// Opens the attach stream of Pod `name`'s server.
async fn open(host: &KubeHost, name: &str) -> Result<AttachedProcess, BackendError> {
    let params = AttachParams {
        container: Some(CONTAINER.to_owned()),
        stdin: true,
        stdout: true,
        stderr: true,
        tty: false,
        max_stdin_buf_size: Some(STREAM_BUFFER),
        max_stdout_buf_size: Some(STREAM_BUFFER),
        max_stderr_buf_size: Some(STREAM_BUFFER),
    };
    host.pods()
        .attach(name, &params)
        .await
        .map_err(|e| host.error("create pods/attach", e))
}

/// Moves a stdio session's messages over the attach stream, re-opening
/// it while the Pod runs.
struct Pump {
    host: KubeHost,
    name: String,
    sink: Arc<dyn InboundSink>,
    limit: usize,
    session: String,
}

impl Pump {
    /// Runs until the Pod's server ends; returns why.
    async fn run(self, mut attached: AttachedProcess, mut rx: mpsc::Receiver<Bytes>) -> String {
        loop {
            let lost = self.connected(&mut attached, &mut rx).await;
            drop(attached);
            if let Some(reason) = lost {
                return reason;
            }
            attached = match self.reopen().await {
                Ok(a) => a,
                Err(reason) => return reason,
            };
            tracing::info!(pod = %self.name, "re-attached to a session Pod after its attach stream broke");
        }
    }

    /// Pumps over one attach stream until it ends; `Some(reason)` when
    /// the session is over, `None` when only the stream broke.
    async fn connected(
        &self,
        attached: &mut AttachedProcess,
        rx: &mut mpsc::Receiver<Bytes>,
    ) -> Option<String> {
        let (Some(mut stdin), Some(stdout)) = (attached.stdin(), attached.stdout()) else {
            return Some("the attach stream carried no stdin/stdout".to_owned());
        };
        let mut reader = tokio::spawn(read_lines(
            IdleReader::new(stdout),
            self.limit,
            self.sink.clone(),
        ));
        let logger = attached.stderr().map(|mut stderr| {
            let session = self.session.clone();
            tokio::spawn(async move {
                let mut lines = LogLines::default();
                let mut stderr = IdleReader::new(&mut stderr);
                while let Ok(chunk) = stderr.fill_buf().await {
                    if chunk.is_empty() {
                        break;
                    }
                    let n = chunk.len();
                    lines.push(chunk, &session);
                    stderr.consume(n);
                }
            })
        });
        // The stream's end: the container's exit status, or the stream's
        // task ending without one (a broken connection ends it with an
        // error and never closes stdout, so stdout alone cannot tell).
        let status = attached.take_status();
        let mut ended = std::pin::pin!(async move {
            match status {
                Some(status) => {
                    status.await;
                }
                None => std::future::pending().await,
            }
        });
        let outcome = loop {
            tokio::select! {
                msg = rx.recv() => {
                    let Some(msg) = msg else {
                        break Some("the session let go of its server".to_owned());
                    };
                    let wrote = stdin.write_all(&msg).await.is_ok()
                        && (!rx.is_empty() || stdin.flush().await.is_ok());
                    if !wrote {
                        break None;
                    }
                }
                _ = &mut reader => break None,
                _ = &mut ended => {
                    // Let the last lines it printed reach the session.
                    let _ = tokio::time::timeout(DRAIN, &mut reader).await;
                    break None;
                }
            }
        };
        reader.abort();
        if let Some(logger) = logger {
            logger.abort();
        }
        match outcome {
            Some(reason) => Some(reason),
            None => self.state().await,
        }
    }

    /// `Some(reason)` when the Pod's server ended, `None` while it runs
    /// (or the API cannot say).
    async fn state(&self) -> Option<String> {
        match self.host.pods().get(&self.name).await {
            Ok(pod) if running(&pod) => None,
            Ok(pod) => Some(ended_reason(&pod)),
            Err(e) if is_not_found(&e) => Some("server Pod was deleted".to_owned()),
            Err(_) => None,
        }
    }

    /// Re-opens the attach stream while the Pod runs, for up to
    /// `kubernetes.start_timeout`.
    async fn reopen(&self) -> Result<AttachedProcess, String> {
        let deadline = tokio::time::Instant::now() + self.host.shared.config.start_timeout;
        let mut pause = Duration::from_millis(100);
        loop {
            if let Some(reason) = self.state().await {
                return Err(reason);
            }
            match open(&self.host, &self.name).await {
                Ok(attached) => return Ok(attached),
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(format!(
                        "lost the attach stream of its server Pod and could not re-open it: {e}"
                    ));
                }
                Err(_) => {}
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }
}

/// Whether `pod` runs.
fn running(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
        && pod.metadata.deletion_timestamp.is_none()
}

/// Waits until an HTTP-transport Pod ends; returns why.
async fn monitor(host: KubeHost, name: String) -> String {
    loop {
        tokio::time::sleep(MONITOR_EVERY).await;
        match host.pods().get(&name).await {
            Ok(pod) if running(&pod) => {}
            Ok(pod) => return ended_reason(&pod),
            Err(e) if is_not_found(&e) => return "server Pod was deleted".to_owned(),
            Err(_) => {}
        }
    }
}

/// The server's MCP endpoint at the Pod IP, once it accepts connections.
async fn endpoint(
    host: KubeHost,
    name: String,
    port: u16,
    path: String,
) -> Result<url::Url, String> {
    let deadline = tokio::time::Instant::now() + LISTEN_TIMEOUT;
    let mut address: Option<String> = None;
    loop {
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "the server did not accept connections on port {port} within {}s; check the deployment's `port` and that the server listens on 0.0.0.0",
                LISTEN_TIMEOUT.as_secs()
            ));
        }
        if address.is_none() {
            match host.pods().get(&name).await {
                Ok(pod) if !running(&pod) => {
                    return Err(format!(
                        "the server Pod ended before it listened: {}",
                        ended_reason(&pod)
                    ));
                }
                Ok(pod) => {
                    address = pod
                        .status
                        .and_then(|s| s.pod_ip)
                        .filter(|ip| !ip.is_empty())
                }
                Err(e) if is_not_found(&e) => return Err("the server Pod was deleted".to_owned()),
                Err(_) => {}
            }
        }
        if let Some(ip) = &address {
            let target = format!("{ip}:{port}");
            if tokio::net::TcpStream::connect(&target).await.is_ok() {
                let url = format!("http://{target}{path}");
                return url::Url::parse(&url)
                    .map_err(|e| format!("`{url}` is not a usable endpoint URL: {e}"));
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What can end a supervisor's watch.
struct Stops {
    /// Delete the Pod.
    stop: CancellationToken,
    /// Let go of it, leaving it running for another pod.
    detach: CancellationToken,
}

async fn supervise(
    host: KubeHost,
    name: String,
    stops: Stops,
    mut ended: tokio::task::JoinHandle<String>,
    notice: Arc<ExitNotice>,
    done: watch::Sender<bool>,
) {
    let reason = tokio::select! {
        r = &mut ended => r.unwrap_or_else(|_| "server Pod supervision failed".to_owned()),
        _ = stops.stop.cancelled() => {
            ended.abort();
            "server Pod was stopped".to_owned()
        }
        _ = stops.detach.cancelled() => {
            // Handed over: the Pod runs on; this pod forgets it.
            tracing::info!(pod = %name, "detached from a running Pod for another pod to re-attach");
            ended.abort();
            host.shared.live.remove(&name);
            let _ = done.send(true);
            return;
        }
    };
    host.delete(&name).await;
    notice.fire(reason);
    let _ = done.send(true);
}
