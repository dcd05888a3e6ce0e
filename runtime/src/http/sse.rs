//! SSE bodies fed from an [`EventStream`]: event ids `{stream}_{seq}`, an
//! optional priming event, SEP-1699 idle closing, and the end of the body
//! when Berth shuts down.
//!
//! May import: `http::reply`, `hosting` (event streams), `jsonrpc`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use tokio_util::sync::CancellationToken;

use super::reply::{put_sse_data, sse_response};
use crate::hosting::{EventStream, Next};
use crate::jsonrpc::{ErrorCode, RpcError};

/// How an SSE body starts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SseStart {
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
pub(crate) type Delivered = Box<dyn Fn(u64) + Send + Sync>;

/// An SSE response streaming `stream` until it ends or Berth shuts down.
pub(crate) fn sse(
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
