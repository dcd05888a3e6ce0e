//! Attaching a session to its container: for stdio servers, pump stdout
//! lines to the session, log stderr and write messages to stdin; for
//! HTTP-transport servers, log both streams and speak MCP to the
//! container's port on the internal network ([`http_bridge`]). Either way,
//! stop and remove the container when the session ends or it dies (the
//! attach stream ending is how its exit shows).
//!
//! May import: `docker::{host, network}`, `backend` shapes,
//! `backend::{framing, http_bridge, to_server}`, `config`.
//!
//! [`http_bridge`]: crate::backend::http_bridge

use std::sync::Arc;
use std::time::Duration;

use bollard::container::{AttachContainerOptions, LogOutput, StopContainerOptions};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::host::{DockerHost, Slot, engine};
use super::network;
use crate::backend::ExitNotice;
use crate::backend::framing::{LogLines, read_lines};
use crate::backend::to_server::ToServer;
use crate::backend::{
    BackendError, InboundSink, Instance, InstanceLabels, ServerSpec, StopControl, http_bridge,
};
use crate::config::Transport;

/// Outbound messages buffered per container before callers wait.
const OUTBOUND_QUEUE: usize = 256;

/// Attaches to a created container, then starts it (no output is missed).
pub(super) async fn attach_and_start(
    host: &DockerHost,
    id: &str,
    spec: &ServerSpec,
    labels: &InstanceLabels,
    sink: Arc<dyn InboundSink>,
    slot: Slot,
) -> Result<Instance, BackendError> {
    let instance = attach(host, id, spec, labels, sink, slot).await?;
    if let Err(e) = host.client()?.start_container::<String>(id, None).await {
        instance.control.shutdown().await;
        return Err(engine("start the container", e));
    }
    Ok(instance)
}

/// Attaches to a container's output (and, for stdio servers, its input)
/// and connects the session to it.
pub(super) async fn attach(
    host: &DockerHost,
    id: &str,
    spec: &ServerSpec,
    labels: &InstanceLabels,
    sink: Arc<dyn InboundSink>,
    slot: Slot,
) -> Result<Instance, BackendError> {
    let docker = host.client()?;
    let http = spec.transport == Transport::Http;
    let attached = match docker
        .attach_container(
            id,
            Some(AttachContainerOptions::<String> {
                stdin: Some(!http),
                stdout: Some(true),
                stderr: Some(true),
                stream: Some(true),
                logs: Some(false),
                detach_keys: None,
            }),
        )
        .await
    {
        Ok(a) => a,
        Err(e) => {
            host.remove(id).await;
            return Err(engine("attach to the container", e));
        }
    };
    let notice = host
        .shared
        .live
        .entry(id.to_owned())
        .or_insert_with(|| ExitNotice::new(None))
        .clone();
    notice.set_sink(sink.clone());
    let stop = CancellationToken::new();
    let detach = CancellationToken::new();
    let (done_tx, done_rx) = watch::channel(false);
    let (outbound, reader) = if http {
        let (tx, rx) = mpsc::channel::<Bytes>(OUTBOUND_QUEUE);
        // The output is only logs; it ends when the container does.
        let reader = tokio::spawn(demux(attached.output, None, labels.session.clone()));
        let resolve = network::endpoint(host.clone(), id.to_owned(), spec.clone(), notice.clone());
        let setup = http_bridge::BridgeSetup {
            client: host.shared.http.clone(),
            sink,
            limit: spec.max_message_bytes,
            secrets: spec.call_headers.clone(),
            declared: spec.param_headers.clone(),
        };
        http_bridge::spawn(setup, resolve, rx, stop.clone());
        (ToServer::queue(tx), reader)
    } else {
        // Callers write the attach connection themselves (one `write` per
        // message, no hand-off to a writer task).
        let outbound = ToServer::stream(attached.input, OUTBOUND_QUEUE, stop.clone());
        let (stdout_tx, stdout_rx) = mpsc::channel::<std::io::Result<Bytes>>(64);
        tokio::spawn(demux(
            attached.output,
            Some(stdout_tx),
            labels.session.clone(),
        ));
        let reader = tokio::spawn(read_loop(stdout_rx, spec.max_message_bytes, sink));
        (outbound, reader)
    };
    tokio::spawn(supervise(
        host.clone(),
        id.to_owned(),
        spec.shutdown_grace,
        Stops {
            stop: stop.clone(),
            detach: detach.clone(),
        },
        reader,
        notice,
        done_tx,
        slot,
    ));
    Ok(Instance {
        resume: Some(id.to_owned()),
        id: format!("container:{}", &id[..id.len().min(12)]),
        outbound,
        control: Box::new(StopControl {
            stop,
            done: done_rx,
            // An HTTP server's protocol session lives in this pod's bridge:
            // it cannot be handed over, so it is stopped.
            detach: (!http).then_some(detach),
        }),
    })
}

/// Splits the engine's multiplexed output: stdout to the line reader (or,
/// without one, to the log like stderr), stderr to the log.
async fn demux(
    mut output: std::pin::Pin<
        Box<dyn futures::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>,
    >,
    stdout: Option<mpsc::Sender<std::io::Result<Bytes>>>,
    session: String,
) {
    let mut log = LogLines::default();
    while let Some(item) = output.next().await {
        match item {
            Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => match &stdout
            {
                Some(tx) => {
                    if tx.send(Ok(message)).await.is_err() {
                        break;
                    }
                }
                None => log.push(&message, &session),
            },
            Ok(LogOutput::StdErr { message }) => log.push(&message, &session),
            Ok(LogOutput::StdIn { .. }) => {}
            Err(e) => {
                if let Some(tx) = &stdout {
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                }
                break;
            }
        }
    }
}

async fn read_loop(
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    limit: usize,
    sink: Arc<dyn InboundSink>,
) {
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    // The stream's chunks are the buffer: nothing is copied or held
    // between messages (an idle session's reader holds no memory).
    read_lines(tokio_util::io::StreamReader::new(stream), limit, sink).await;
}

/// What can end a supervisor's watch.
struct Stops {
    /// Stop and remove the container.
    stop: CancellationToken,
    /// Let go of it, leaving it running for another pod.
    detach: CancellationToken,
}

#[allow(clippy::too_many_arguments)]
async fn supervise(
    host: DockerHost,
    id: String,
    grace: Duration,
    stops: Stops,
    reader: tokio::task::JoinHandle<()>,
    notice: Arc<ExitNotice>,
    done: watch::Sender<bool>,
    slot: Slot,
) {
    let mut reader = reader;
    let stopped_by_us = tokio::select! {
        _ = &mut reader => false,
        _ = stops.stop.cancelled() => true,
        _ = stops.detach.cancelled() => {
            // Handed over: the container runs on; this pod forgets it.
            tracing::info!(container = %id, "detached from a running container for another pod to re-attach");
            reader.abort();
            host.shared.live.remove(&id);
            drop(slot);
            let _ = done.send(true);
            return;
        }
    };
    let reason = match host.client() {
        Ok(docker) => {
            if stopped_by_us {
                // Polite first: stdin closes (writer), then SIGTERM with a
                // grace period, then SIGKILL (the engine's stop does both).
                let t = i64::try_from(grace.as_secs().max(1)).unwrap_or(5);
                let _ = docker
                    .stop_container(&id, Some(StopContainerOptions { t }))
                    .await;
                let _ = tokio::time::timeout(grace, reader).await;
            }
            match docker.inspect_container(&id, None).await {
                Ok(info) => {
                    let state = info.state.unwrap_or_default();
                    if state.oom_killed == Some(true) {
                        notice.mark_oom();
                    }
                    match state.exit_code {
                        Some(code) => format!("server container exited with status {code}"),
                        None => "server container exited".to_owned(),
                    }
                }
                Err(e) => format!("server container is gone ({e})"),
            }
        }
        Err(e) => format!("server container is unreachable: {e}"),
    };
    notice.fire(reason);
    host.remove(&id).await;
    drop(slot);
    let _ = done.send(true);
}
