//! A minimal 2025-11-25 client over raw HTTP: open a legacy session, call a
//! tool in it.

use serde_json::{Value, json};

use crate::{mcp_post, messages};

/// The `initialize` request the helpers send.
pub const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"berth-tests","version":"1"}}}"#;

/// Sends `initialize`; returns the raw response.
pub async fn init(c: &reqwest::Client, url: &str, token: &str) -> reqwest::Response {
    mcp_post(c, url, token, INIT).send().await.unwrap()
}

/// Sends `initialize`; returns the one message that answered it (e.g. the
/// error of a session that could not start).
pub async fn init_reply(c: &reqwest::Client, url: &str, token: &str) -> Value {
    let r = init(c, url, token).await;
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let body = r.text().await.unwrap();
    messages(&ct, &body)
        .pop()
        .unwrap_or_else(|| panic!("no message in {body:?}"))
}

/// Opens a session (initialize + initialized); returns its id.
pub async fn session(c: &reqwest::Client, url: &str, token: &str) -> String {
    let r = init(c, url, token).await;
    assert_eq!(r.status(), 200, "initialize: {}", r.text().await.unwrap());
    let sid = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let n = mcp_post(
        c,
        url,
        token,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    )
    .header("mcp-session-id", &sid)
    .send()
    .await
    .unwrap();
    assert_eq!(n.status(), 202);
    sid
}

/// Ends session `sid` (`DELETE`, as an agent does); returns the answer.
pub async fn end(c: &reqwest::Client, url: &str, token: &str, sid: &str) -> reqwest::Response {
    c.delete(url)
        .bearer_auth(token)
        .header("mcp-session-id", sid)
        .send()
        .await
        .unwrap()
}

/// Calls `tool` in session `sid`; returns the last message of the answer.
pub async fn call(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    sid: &str,
    tool: &str,
    args: Value,
) -> Value {
    request(
        c,
        url,
        token,
        sid,
        "tools/call",
        json!({"name": tool, "arguments": args}),
    )
    .await
}

/// Sends `method` with `params` in session `sid`; returns the last message
/// of the answer.
pub async fn request(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    sid: &str,
    method: &str,
    params: Value,
) -> Value {
    let body = json!({"jsonrpc":"2.0","id":7,"method":method,"params":params}).to_string();
    let r = mcp_post(c, url, token, &body)
        .header("mcp-session-id", sid)
        .send()
        .await
        .unwrap();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    messages(&ct, &r.text().await.unwrap()).pop().unwrap()
}

/// `GET` with `Last-Event-ID`: resume a stream.
pub async fn resume(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    sid: &str,
    last_event_id: &str,
) -> reqwest::Response {
    c.get(url)
        .bearer_auth(token)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", sid)
        .header("last-event-id", last_event_id)
        .send()
        .await
        .unwrap()
}
