//! `subscriptions/listen`: a long-lived SSE stream of the server-wide
//! notifications an agent asked for, taken from the hosting session's
//! standalone stream and tagged with the subscription id.
//!
//! May import: `mcp::stateless::{validate, reply}`, `http`, `hosting`,
//! `protocol`, `jsonrpc`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::StatusCode;
use serde_json::{Map, Value};

use super::reply::sse_frame;
use super::validate::StatelessRequest;
use crate::hosting::{EventStream, HostingSession, Next};
use crate::http::{AppState, rpc_error, sse_response};
use crate::jsonrpc::{ErrorCode, RpcError};
use crate::protocol::{META_SUBSCRIPTION_ID, random_id};

/// Keep-alive comment interval; also keeps the hosting session from being
/// reaped while someone listens.
const KEEPALIVE: Duration = Duration::from_secs(15);

struct Filter {
    tools: bool,
    prompts: bool,
    resources: bool,
    uris: Vec<String>,
}

/// Serves a `subscriptions/listen` request.
pub(super) async fn listen(
    app: &AppState,
    session: Arc<HostingSession>,
    req: StatelessRequest,
) -> Response {
    let Some(Value::Object(asked)) = req.params.get("notifications") else {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            Some(&req.id),
            RpcError::new(
                ErrorCode::InvalidParams,
                "Invalid params: `notifications` (an object) is required",
            ),
        );
    };
    let caps = session
        .backend_init()
        .and_then(|i| i.get("capabilities").cloned())
        .unwrap_or_default();
    let flag = |cap: &str, field: &str| {
        caps.get(cap)
            .and_then(|c| c.get(field))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let wants = |k: &str| asked.get(k).and_then(Value::as_bool).unwrap_or(false);
    let uris: Vec<String> = if flag("resources", "subscribe") {
        asked
            .get("resourceSubscriptions")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|u| u.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let filter = Filter {
        tools: wants("toolsListChanged") && flag("tools", "listChanged"),
        prompts: wants("promptsListChanged") && flag("prompts", "listChanged"),
        resources: wants("resourcesListChanged") && flag("resources", "listChanged"),
        uris,
    };
    for uri in &filter.uris {
        let msg = serde_json::json!({"jsonrpc":"2.0","id":format!("berth-sub-{}", &random_id()[..12]),"method":"resources/subscribe","params":{"uri":uri}});
        let _ = session.send(Bytes::from(msg.to_string())).await;
    }
    let mut honoured = Map::new();
    if filter.tools {
        honoured.insert("toolsListChanged".into(), true.into());
    }
    if filter.prompts {
        honoured.insert("promptsListChanged".into(), true.into());
    }
    if filter.resources {
        honoured.insert("resourcesListChanged".into(), true.into());
    }
    if !filter.uris.is_empty() {
        honoured.insert("resourceSubscriptions".into(), filter.uris.clone().into());
    }
    let sub_id: Value = serde_json::from_str(req.id.get()).unwrap_or(Value::Null);
    let ack = serde_json::json!({
        "jsonrpc": "2.0",
        "method": "notifications/subscriptions/acknowledged",
        "params": {"notifications": honoured, "_meta": {META_SUBSCRIPTION_ID: sub_id}},
    });
    let (stream, _) = session.standalone();
    let start = stream.last_seq();
    struct St {
        session: Arc<HostingSession>,
        stream: Arc<EventStream>,
        after: u64,
        filter: Filter,
        sub_id: Value,
        shutdown: tokio_util::sync::CancellationToken,
    }
    let st = St {
        session: session.clone(),
        stream,
        after: start,
        filter,
        sub_id,
        shutdown: app.shutdown().clone(),
    };
    let head =
        futures::stream::once(
            async move { Ok::<_, Infallible>(sse_frame(ack.to_string().as_bytes())) },
        );
    let rest = futures::stream::unfold(st, |mut st| async move {
        loop {
            let next = tokio::select! {
                n = st.stream.next_after(st.after) => n,
                _ = tokio::time::sleep(KEEPALIVE) => {
                    st.session.touch();
                    return Some((Ok::<_, Infallible>(Bytes::from_static(b": keep-alive\n\n")), st));
                }
                _ = st.shutdown.cancelled() => return None,
            };
            let Next::Event(e) = next else { return None };
            st.after = e.seq;
            if let Some(frame) = tag(&e.data, &st.filter, &st.sub_id) {
                return Some((Ok(sse_frame(&frame)), st));
            }
        }
    });
    sse_response(Body::from_stream(futures::StreamExt::chain(head, rest)))
}

/// The notification tagged with the subscription id, if the filter wants it.
fn tag(data: &[u8], f: &Filter, sub_id: &Value) -> Option<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(data).ok()?;
    let method = v.get("method")?.as_str()?;
    let wanted = match method {
        "notifications/tools/list_changed" => f.tools,
        "notifications/prompts/list_changed" => f.prompts,
        "notifications/resources/list_changed" => f.resources,
        "notifications/resources/updated" => v
            .pointer("/params/uri")
            .and_then(Value::as_str)
            .is_some_and(|u| f.uris.iter().any(|x| x == u)),
        _ => false,
    };
    if !wanted {
        return None;
    }
    let params = v
        .as_object_mut()?
        .entry("params")
        .or_insert_with(|| Value::Object(Map::new()));
    let meta = params
        .as_object_mut()?
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()));
    meta.as_object_mut()?
        .insert(META_SUBSCRIPTION_ID.into(), sub_id.clone());
    serde_json::to_vec(&v).ok()
}
