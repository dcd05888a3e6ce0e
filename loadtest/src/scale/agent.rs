//! What one simulated agent does to Berth, over plain HTTP: open a legacy
//! (2025-11-25) session (`initialize`, `notifications/initialized`, one
//! `echo`), optionally hold its standalone GET stream, close it with
//! `DELETE`; or, as a 2026-07-28 principal, make one `echo` call and go
//! quiet. Tokens come from the dev issuer in Berth's state dir, minted
//! here (thousands of `berth token` runs would dominate the run).
//!
//! May import: `startup` (the `initialize` body), external crates.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use berth_auth::{DevIssuer, TokenRequest};

use crate::startup::INIT;

/// How long one request may take (a cold container start included).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Text every `echo` sends and expects back.
const ECHO_TEXT: &str = "berth-loadtest scale";

/// An open legacy session.
pub(crate) struct Session {
    /// Its `Mcp-Session-Id`.
    pub(crate) id: String,
    /// The principal's token.
    pub(crate) token: String,
    /// The task holding its GET stream open, if any.
    pub(crate) stream: Option<tokio::task::JoinHandle<()>>,
}

/// Mints tokens for the demo tenant from the dev issuer of `state_dir`.
pub(crate) struct Tokens {
    issuer: DevIssuer,
}

// === impl Tokens ===

impl Tokens {
    /// The issuer Berth (started on `state_dir`) created.
    pub(crate) fn new(state_dir: &Path) -> anyhow::Result<Self> {
        let issuer = DevIssuer::load_or_create(state_dir)
            .with_context(|| format!("loading the dev issuer in {}", state_dir.display()))?;
        Ok(Tokens { issuer })
    }

    /// A day-long token for `subject` in tenant `demo`.
    pub(crate) fn mint(&self, subject: &str) -> anyhow::Result<String> {
        let mut req = TokenRequest::new(subject, "demo");
        req.ttl = Duration::from_secs(24 * 3600);
        Ok(self.issuer.mint(&req)?)
    }
}

/// The HTTP client every agent shares (keep-alive, so opening thousands of
/// sessions does not cost thousands of TCP connections).
pub(crate) fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()?)
}

/// Opens a legacy session as `token`'s principal; returns it and how long
/// `initialize` took (the session start: a new instance behind it).
pub(crate) async fn open_session(
    http: &reqwest::Client,
    url: &str,
    token: String,
) -> anyhow::Result<(Session, Duration)> {
    let started = Instant::now();
    let resp = post(http, url, &token, None)
        .body(INIT)
        .send()
        .await
        .context("initialize")?;
    let sid = resp
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let status = resp.status();
    let body = resp.text().await.context("reading the initialize answer")?;
    let start = started.elapsed();
    let id =
        sid.with_context(|| format!("initialize answered {status} without a session: {body}"))?;
    let initialized = post(http, url, &token, Some(&id))
        .body(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .send()
        .await
        .context("notifications/initialized")?;
    anyhow::ensure!(
        initialized.status().is_success(),
        "notifications/initialized answered {}",
        initialized.status()
    );
    let call = format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"{ECHO_TEXT}"}}}}}}"#
    );
    let reply = post(http, url, &token, Some(&id))
        .body(call)
        .send()
        .await
        .context("tools/call")?
        .text()
        .await?;
    anyhow::ensure!(reply.contains(ECHO_TEXT), "unexpected echo answer: {reply}");
    let session = Session {
        id,
        token,
        stream: None,
    };
    Ok((session, start))
}

/// Opens the session's standalone GET stream and keeps reading it in a
/// task (until the session ends or the task is aborted).
pub(crate) async fn hold_stream(
    http: &reqwest::Client,
    url: &str,
    session: &mut Session,
) -> anyhow::Result<()> {
    let mut resp = http
        .get(url)
        .bearer_auth(&session.token)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session.id)
        .header("mcp-protocol-version", "2025-11-25")
        .timeout(Duration::from_secs(24 * 3600))
        .send()
        .await
        .context("GET stream")?;
    anyhow::ensure!(
        resp.status().is_success(),
        "the GET stream answered {}",
        resp.status()
    );
    session.stream = Some(tokio::spawn(async move {
        while let Ok(Some(_)) = resp.chunk().await {}
    }));
    Ok(())
}

/// Ends a legacy session (`DELETE`), and its GET stream.
pub(crate) async fn close_session(
    http: &reqwest::Client,
    url: &str,
    session: Session,
) -> anyhow::Result<()> {
    if let Some(stream) = session.stream {
        stream.abort();
    }
    let resp = http
        .delete(url)
        .bearer_auth(&session.token)
        .header("mcp-session-id", &session.id)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .context("DELETE")?;
    anyhow::ensure!(
        resp.status().is_success(),
        "DELETE answered {}",
        resp.status()
    );
    Ok(())
}

/// One 2026-07-28 `echo` call as `token`'s principal (no session id);
/// returns how long it took.
pub(crate) async fn stateless_call(
    http: &reqwest::Client,
    url: &str,
    token: &str,
) -> anyhow::Result<Duration> {
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"{ECHO_TEXT}"}},"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{{}}}}}}}}"#
    );
    let started = Instant::now();
    let reply = http
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "echo")
        .body(body)
        .send()
        .await
        .context("tools/call")?
        .text()
        .await?;
    let took = started.elapsed();
    anyhow::ensure!(reply.contains(ECHO_TEXT), "unexpected echo answer: {reply}");
    Ok(took)
}

fn post(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    session: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut req = http
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(id) = session {
        req = req
            .header("mcp-session-id", id)
            .header("mcp-protocol-version", "2025-11-25");
    }
    req
}
