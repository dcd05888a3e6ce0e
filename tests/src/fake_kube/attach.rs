//! `pods/attach` over WebSocket (`v5.channel.k8s.io` or
//! `v4.channel.k8s.io`): the upgrade is done with hyper (the accept key
//! computed here), then frames are bridged to a docker attach of the
//! pod's container — `[0]+data` to its stdin, its stdout as `[1]+data`,
//! stderr as `[2]+data`; v5 `[255,0]` closes stdin (forwarding stops, the
//! container keeps running). When the container's output ends (it
//! exited) a Status goes on channel 3 and the socket closes. When the
//! client goes away the fake detaches and the container keeps running, so
//! a later attach works. An outage cuts the socket.
//!
//! Imports `state`, `status`, `request`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine;
use bollard::container::{
    AttachContainerOptions, AttachContainerResults, LogOutput, WaitContainerOptions,
};
use futures::{SinkExt, StreamExt};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use serde_json::json;
use sha1::{Digest, Sha1};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::request::{RawParams, facts, params};
use super::state::Fake;
use super::status::{ApiError, ApiResult};

const V5: &str = "v5.channel.k8s.io";
const V4: &str = "v4.channel.k8s.io";

/// RFC 6455 `Sec-WebSocket-Accept` for a client key.
pub(crate) fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// The channel protocol to speak: the first of the client's list the fake
/// knows (v5, v4).
fn negotiate(headers: &HeaderMap) -> Option<&'static str> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find_map(|p| match p {
            V5 => Some(V5),
            V4 => Some(V4),
            _ => None,
        })
}

/// Which streams the client asked for.
#[derive(Debug, Clone, Copy)]
struct Streams {
    stdin: bool,
    stdout: bool,
    stderr: bool,
}

/// `GET|POST …/pods/{name}/attach`.
pub(crate) async fn attach(
    State(fake): State<Arc<Fake>>,
    Path((ns, name)): Path<(String, String)>,
    q: RawParams,
    mut req: Request,
) -> ApiResult {
    let q = params(q)?;
    let method = req.method().as_str().to_owned();
    fake.check(&facts(&method, "create", "pods/attach", &ns, Some(&name)))?;
    let pod = fake
        .store
        .pod(&ns, &name)
        .ok_or_else(|| ApiError::not_found("pods", &name))?;
    let cname = pod["spec"]["containers"][0]["name"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    if let Some(asked) = q.get("container").filter(|c| !c.is_empty())
        && asked != cname
    {
        return Err(ApiError::bad_request(format!(
            "container {asked} is not valid for pod {name}"
        )));
    }
    let streams = Streams {
        stdin: q.flag("stdin"),
        stdout: q.flag("stdout"),
        stderr: q.flag("stderr"),
    };
    if !(streams.stdin || streams.stdout || streams.stderr) {
        return Err(ApiError::bad_request(
            "you must specify at least 1 of stdin, stdout, stderr",
        ));
    }
    let headers = req.headers();
    let upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let key = headers.get(header::SEC_WEBSOCKET_KEY).cloned();
    let (true, Some(key)) = (upgrade, key) else {
        return Err(ApiError::bad_request(
            "Upgrade request required (fake kube-apiserver serves attach over WebSocket only, not SPDY)",
        ));
    };
    let Some(protocol) = negotiate(headers) else {
        return Err(ApiError::bad_request(format!(
            "requested protocol(s) are not supported: the fake serves {V5} and {V4}"
        )));
    };
    if pod["spec"]["nodeName"].as_str().is_none() {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    let running = pod["status"]["phase"] == "Running";
    let container = fake.store.container_of(&ns, &name).filter(|_| running);
    let Some(container) = container else {
        return Err(ApiError::bad_request(format!(
            "container \"{cname}\" in pod \"{name}\" is not running"
        )));
    };
    let attached = fake
        .docker
        .attach_container(
            &container,
            Some(AttachContainerOptions::<String> {
                stdin: Some(streams.stdin),
                stdout: Some(streams.stdout),
                stderr: Some(streams.stderr),
                stream: Some(true),
                logs: Some(false),
                detach_keys: None,
            }),
        )
        .await
        .map_err(|e| {
            ApiError::bad_request(format!(
                "container \"{cname}\" in pod \"{name}\" is not running ({e})"
            ))
        })?;
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(bridge(
        fake.clone(),
        on_upgrade,
        attached,
        streams,
        protocol == V5,
        container,
    ));
    let mut res = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let h = res.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(protocol),
    );
    if let Ok(v) = HeaderValue::from_str(&accept_key(key.as_bytes())) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    Ok(res)
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut v = Vec::with_capacity(data.len() + 1);
    v.push(channel);
    v.extend_from_slice(data);
    Message::binary(v)
}

/// The channel-3 Status for the container's exit.
async fn exit_status(fake: &Fake, id: &str) -> Vec<u8> {
    let mut code = None;
    for _ in 0..2 {
        let state = fake
            .docker
            .inspect_container(id, None)
            .await
            .ok()
            .and_then(|i| i.state);
        match state {
            Some(s) if s.running == Some(true) => {
                // The output can end a moment before the engine records
                // the exit.
                let mut wait = fake.docker.wait_container(
                    id,
                    Some(WaitContainerOptions {
                        condition: "not-running",
                    }),
                );
                let _ = tokio::time::timeout(Duration::from_secs(2), wait.next()).await;
            }
            Some(s) => {
                code = s.exit_code;
                break;
            }
            None => break,
        }
    }
    let status = match code {
        Some(0) => json!({"metadata": {}, "status": "Success"}),
        Some(n) => json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("command terminated with non-zero exit code: exit status {n}"),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": n.to_string()}]},
        }),
        None => json!({
            "metadata": {},
            "status": "Failure",
            "message": "container is gone",
            "reason": "InternalError",
        }),
    };
    status.to_string().into_bytes()
}

async fn bridge(
    fake: Arc<Fake>,
    on_upgrade: OnUpgrade,
    attached: AttachContainerResults,
    streams: Streams,
    v5: bool,
    container: String,
) {
    let Ok(upgraded) = on_upgrade.await else {
        return;
    };
    let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
    let (mut sink, mut source) = ws.split();
    let AttachContainerResults {
        mut output,
        mut input,
    } = attached;
    // As the kubelet does: an empty frame on the lowest writable channel
    // tells the client the stream is up.
    let first = if streams.stdout {
        1
    } else if streams.stderr {
        2
    } else {
        3
    };
    if sink.send(frame(first, &[])).await.is_err() {
        return;
    }
    // Ends when the client goes away (close frame, error, EOF).
    let to_container = async {
        let mut stdin_open = streams.stdin;
        while let Some(msg) = source.next().await {
            match msg {
                Ok(Message::Binary(b)) => match b.first() {
                    Some(0) if stdin_open => {
                        let sent =
                            input.write_all(&b[1..]).await.is_ok() && input.flush().await.is_ok();
                        // A container that exited takes no input; its
                        // output side reports the exit.
                        stdin_open = sent;
                    }
                    Some(255) if v5 && b.get(1) == Some(&0) => stdin_open = false,
                    _ => {}
                },
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    // Ends when the container's output does (it exited), after the
    // Status, or when the client cannot be written to.
    let from_container = async {
        while let Some(item) = output.next().await {
            let msg = match item {
                Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                    frame(1, &message)
                }
                Ok(LogOutput::StdErr { message }) => frame(2, &message),
                Ok(LogOutput::StdIn { .. }) => continue,
                Err(_) => break,
            };
            if sink.send(msg).await.is_err() {
                return;
            }
        }
        let status = exit_status(&fake, &container).await;
        let _ = sink.send(frame(3, &status)).await;
        let _ = sink.close().await;
    };
    tokio::select! {
        () = to_container => {}
        () = from_container => {}
        () = fake.cut() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::accept_key;

    #[test]
    fn rfc6455_example_key() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
