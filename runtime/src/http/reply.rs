//! Building HTTP responses: JSON-RPC errors with the right status, JSON
//! bodies, and SSE bodies fed from an [`EventStream`].
//!
//! This is the one place that decides how failures look on the wire.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderValue, StatusCode, header};
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use crate::hosting::{EventStream, Next};
use crate::jsonrpc::{ErrorCode, RpcError};

/// The `Mcp-Session-Id` header.
pub const MCP_SESSION_ID: &str = "mcp-session-id";

/// A JSON-RPC error response with an HTTP status.
pub fn rpc_error(status: StatusCode, id: Option<&RawValue>, err: RpcError) -> Response {
    let mut resp = json(status, Bytes::from(err.to_response(id)));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

/// The HTTP status for a failure to start a hosting session: 503 (with
/// `Retry-After`) when capacity or the engine is the problem, else 200 with
/// the JSON-RPC error.
pub fn status_for_start(e: &RpcError) -> StatusCode {
    if e.code == ErrorCode::Overloaded {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

/// Shorthand for an error code and message.
pub fn error(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Response {
    rpc_error(status, None, RpcError::new(code, message))
}

/// A JSON body.
pub fn json(status: StatusCode, body: Bytes) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// 202 Accepted with no body (notifications and responses).
pub fn accepted() -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::ACCEPTED;
    resp
}

/// How an SSE body starts.
#[derive(Clone, Copy, Debug)]
pub struct SseStart {
    /// Deliver events with sequence greater than this.
    pub after: u64,
    /// Send a priming event (`id` + empty data) with this `retry` first
    /// (2025-11-25 clients only).
    pub priming: Option<Duration>,
    /// End the HTTP response (not the stream) when no event arrives for
    /// this long; the agent resumes with `Last-Event-ID` (SEP-1699 polling).
    pub close_idle: Option<Duration>,
}

/// Called with each delivered sequence number (standalone stream bookkeeping).
pub type Delivered = Box<dyn Fn(u64) + Send + Sync>;

/// An SSE response streaming `stream` until it ends or Berth shuts down.
pub fn sse(
    stream: Arc<EventStream>,
    start: SseStart,
    shutdown: CancellationToken,
    delivered: Option<Delivered>,
) -> Response {
    struct St {
        stream: Arc<EventStream>,
        after: u64,
        priming: Option<Duration>,
        close_idle: Option<Duration>,
        shutdown: CancellationToken,
        delivered: Option<Delivered>,
        done: bool,
    }
    let st = St {
        stream,
        after: start.after,
        priming: start.priming,
        close_idle: start.close_idle,
        shutdown,
        delivered,
        done: false,
    };
    let body = futures::stream::unfold(st, |mut st| async move {
        if st.done {
            return None;
        }
        if let Some(retry) = st.priming.take() {
            let frame = format!(
                "id: {}_0\nretry: {}\ndata: \n\n",
                st.stream.id(),
                retry.as_millis()
            );
            return Some((Ok::<_, Infallible>(Bytes::from(frame)), st));
        }
        let idle = async {
            match st.close_idle {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        let next = tokio::select! {
            n = st.stream.next_after(st.after) => n,
            _ = idle => return None,
            _ = st.shutdown.cancelled() => return None,
        };
        match next {
            Next::Event(e) => {
                st.after = e.seq;
                st.done = e.last;
                if let Some(f) = &st.delivered {
                    f(e.seq);
                }
                Some((Ok(event_frame(st.stream.id(), e.seq, &e.data)), st))
            }
            Next::Finished => None,
            Next::Gap => {
                // Events were dropped by the cap; say so and end the stream.
                let err = RpcError::new(
                    ErrorCode::InternalError,
                    "events after Last-Event-ID are no longer available; retry the request",
                );
                st.done = true;
                Some((
                    Ok(event_frame(
                        st.stream.id(),
                        st.after,
                        &err.to_response(None),
                    )),
                    st,
                ))
            }
        }
    });
    sse_response(Body::from_stream(body))
}

/// A `text/event-stream` response with the headers that keep proxies from
/// buffering or caching it.
pub fn sse_response(body: Body) -> Response {
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

fn event_frame(stream: u64, seq: u64, data: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(data.len() + 32);
    b.put_slice(b"id: ");
    b.put_slice(stream.to_string().as_bytes());
    b.put_u8(b'_');
    b.put_slice(seq.to_string().as_bytes());
    b.put_slice(b"\nevent: message\ndata: ");
    put_sse_data(&mut b, data);
    b.put_slice(b"\n\n");
    b.freeze()
}

/// Appends one JSON message as the value of an SSE `data:` line. CR and
/// LF can only be whitespace between JSON tokens (JSON strings cannot hold
/// them raw), but in SSE each ends a line: a server that writes them (a raw
/// CR from a stdio server, a pretty-printed body from an HTTP server) would
/// otherwise split the event and break the message, so they become spaces.
pub fn put_sse_data(out: &mut impl BufMut, data: &[u8]) {
    if memchr::memchr2(b'\n', b'\r', data).is_none() {
        out.put_slice(data);
        return;
    }
    for &b in data {
        out.put_u8(if b == b'\n' || b == b'\r' { b' ' } else { b });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_data_is_always_one_sse_line() {
        let frame = event_frame(3, 4, b"{\"a\":\r1,\n\"b\":\r\n[2]}");
        assert_eq!(
            &frame[..],
            b"id: 3_4\nevent: message\ndata: {\"a\": 1, \"b\":  [2]}\n\n"
        );
        let plain = event_frame(1, 1, br#"{"a":"x"}"#);
        assert_eq!(
            &plain[..],
            b"id: 1_1\nevent: message\ndata: {\"a\":\"x\"}\n\n"
        );
    }
}
