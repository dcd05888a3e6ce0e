//! `[limits]` (what protects Berth from clients and servers) and
//! `[security]` (Origin and Host checks, trusted proxies).
//!
//! May import: nothing else in the crate.

use std::time::Duration;

use serde::Deserialize;

/// Limits that protect Berth from clients and servers.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body (HTTP 413 above). MCP messages are small; 4 MiB
    /// leaves room for inline images while bounding memory per request.
    pub max_body_bytes: usize,
    /// Largest total size of request headers (HTTP 431 above).
    pub max_header_bytes: usize,
    /// Time a client has to send its request headers (slow-loris guard).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Default time a server has to answer a request.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Largest single message accepted from a server.
    pub max_message_bytes: usize,
    /// Events kept per SSE stream for `Last-Event-ID` replay.
    pub stream_events: usize,
    /// Hosting sessions this pod runs at once (HTTP 503 above).
    pub max_sessions: usize,
    /// A legacy (2025-11-25) request not answered within this long is
    /// switched to SSE with a priming event, so the agent can resume it
    /// with `Last-Event-ID` if its connection drops.
    #[serde(with = "humantime_serde")]
    pub sse_prime_after: Duration,
    /// The `retry` of priming events: how long an agent waits before it
    /// resumes a stream that broke (its pod died, a balancer cut it) with
    /// `Last-Event-ID`. Shorter resumes sooner after a failover; some
    /// clients give up after two resumes in a row that fail (the Python
    /// SDK), so it should leave the cluster time to take a dead pod's
    /// sessions over.
    #[serde(with = "humantime_serde")]
    pub sse_retry: Duration,
    /// When set, a primed request stream with no event for this long is
    /// closed and the agent polls with `Last-Event-ID` (SEP-1699); frees
    /// connections held by long calls. Off by default.
    #[serde(with = "humantime_serde::option")]
    pub sse_poll_close: Option<Duration>,
    /// Time allowed for draining connections on shutdown.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

/// Origin validation and DNS-rebinding protection.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Security {
    /// Origins allowed in the `Origin` header besides the public URL's own
    /// origin (and loopback origins when listening on loopback).
    pub allowed_origins: Vec<String>,
    /// Host header values allowed besides the public URL's host (and
    /// loopback names when listening on loopback).
    pub allowed_hosts: Vec<String>,
    /// Address blocks (`10.0.0.0/8`, `127.0.0.1/32`) of the proxies in
    /// front of Berth. A request whose TCP peer is in one has the host it
    /// was sent to read from `Forwarded: host=` (RFC 7239) or else
    /// `X-Forwarded-Host`; from any other peer those headers are ignored.
    pub trusted_proxies: Vec<String>,
}

// === impl Limits ===

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 4 * 1024 * 1024,
            max_header_bytes: 64 * 1024,
            header_read_timeout: Duration::from_secs(10),
            // Long enough for tools that call out to slow APIs, short enough
            // that a hung server frees its agent within a minute.
            request_timeout: Duration::from_secs(60),
            max_message_bytes: 16 * 1024 * 1024,
            stream_events: 1024,
            max_sessions: 10_000,
            shutdown_grace: Duration::from_secs(10),
            // Long enough that quick answers stay plain JSON.
            sse_prime_after: Duration::from_millis(250),
            // Well past a failover by refusal (tens of ms), so each of an
            // agent's resumes finds the session's new owner.
            sse_retry: Duration::from_millis(1000),
            sse_poll_close: None,
        }
    }
}
