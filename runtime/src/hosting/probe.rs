//! Listing what a server offers, for an approval: one instance of the
//! version starts, is initialized (declaring no client capabilities),
//! lists its tools, prompts, resources and resource templates (every
//! page), and stops. Each item comes back with its fingerprint.
//!
//! May import: `backend` (starting the instance), `protocol` (the
//! handshake, fingerprints), external crates.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::backend::{Backend, InboundSink, InstanceLabels, ServerSpec, ToServer};
use crate::protocol::{
    Approved, INITIALIZED, KINDS, client_initialize_params, fingerprint, item_id,
};

/// How long the whole listing may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

/// Pages of one list read before giving up on a server that never ends.
const MAX_PAGES: usize = 100;

/// Messages from the probed instance.
struct Collect(mpsc::UnboundedSender<Result<Bytes, String>>);

impl InboundSink for Collect {
    fn on_message(&self, line: Bytes) {
        let _ = self.0.send(Ok(line));
    }
    fn on_garbage(&self, reason: &str) {
        tracing::debug!(reason, "probed server wrote garbage");
    }
    fn on_oversized(&self, answers: Option<u64>, reason: &str) {
        // The listing cannot be had whole: fail it now, not at the timeout.
        if answers.is_some() {
            let _ = self.0.send(Err(reason.to_owned()));
        }
    }
    fn on_exit(&self, reason: String) {
        let _ = self.0.send(Err(format!("the server exited ({reason})")));
    }
}

/// Starts one instance of `spec` and lists everything it offers.
pub(crate) async fn list_capabilities(
    backend: &dyn Backend,
    spec: &ServerSpec,
) -> Result<Vec<Approved>, String> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let labels = InstanceLabels {
        session: "approval".into(),
        lease: None,
    };
    let instance = backend
        .start(spec, &labels, Arc::new(Collect(tx)))
        .await
        .map_err(|e| format!("the version did not start: {e}"))?;
    let listed = tokio::time::timeout(PROBE_TIMEOUT, async {
        let mut next_id = 0u64;
        let mut ask = |method: &str, params: Value| {
            next_id += 1;
            (
                next_id,
                json!({"jsonrpc": "2.0", "id": next_id, "method": method, "params": params}),
            )
        };
        let params: Value =
            serde_json::from_str(&client_initialize_params(None, json!({}))).unwrap_or_default();
        let (id, init) = ask("initialize", params);
        let reply = request(&instance.outbound, &mut rx, id, &init).await?;
        let capabilities = reply["capabilities"].clone();
        send(&instance.outbound, Bytes::from_static(INITIALIZED)).await?;
        let mut all = Vec::new();
        for kind in KINDS {
            if capabilities.get(kind.server_capability()).is_none() {
                continue;
            }
            let mut cursor: Option<String> = None;
            for _ in 0..MAX_PAGES {
                let params = match &cursor {
                    Some(c) => json!({"cursor": c}),
                    None => json!({}),
                };
                let (id, msg) = ask(kind.list_method(), params);
                let page = request(&instance.outbound, &mut rx, id, &msg).await?;
                for item in page[kind.result_key()].as_array().into_iter().flatten() {
                    if let Some(name) = item_id(kind, item) {
                        all.push(Approved {
                            kind,
                            name: name.to_owned(),
                            fingerprint: fingerprint(item),
                        });
                    }
                }
                cursor = page["nextCursor"].as_str().map(str::to_owned);
                if cursor.is_none() {
                    break;
                }
            }
        }
        Ok::<_, String>(all)
    })
    .await
    .unwrap_or_else(|_| {
        Err(format!(
            "the server did not list its capabilities within {PROBE_TIMEOUT:?}"
        ))
    });
    instance.control.shutdown().await;
    listed
}

async fn send(outbound: &ToServer, msg: Bytes) -> Result<(), String> {
    let mut line = msg.to_vec();
    line.push(b'\n');
    outbound
        .send(Bytes::from(line))
        .await
        .map_err(|_| "the server went away".to_owned())
}

/// Sends `msg` and waits for the answer with `id`; its `result`.
async fn request(
    outbound: &ToServer,
    rx: &mut mpsc::UnboundedReceiver<Result<Bytes, String>>,
    id: u64,
    msg: &Value,
) -> Result<Value, String> {
    send(outbound, Bytes::from(msg.to_string())).await?;
    let method = msg["method"].as_str().unwrap_or_default().to_owned();
    while let Some(next) = rx.recv().await {
        let line = next.map_err(|reason| format!("{method} failed: {reason}"))?;
        let Ok(reply) = serde_json::from_slice::<Value>(&line) else {
            continue;
        };
        if reply.get("method").is_some() || reply["id"].as_u64() != Some(id) {
            continue;
        }
        if let Some(error) = reply.get("error") {
            return Err(format!("{method} failed: {error}"));
        }
        return Ok(reply["result"].clone());
    }
    Err(format!("the server went away during {method}"))
}
