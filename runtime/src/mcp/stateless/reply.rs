//! Sending frames to the agent: plain JSON when the answer is the only
//! one, SSE when notifications come first (no event ids, no priming: 2026
//! has no resumption).
//!
//! May import: `mcp::stateless::{driver, frame}`, `http`, `jsonrpc`.

use std::convert::Infallible;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::StatusCode;

use super::driver::Driver;
use super::frame::Frame;
use crate::http::{error, json, put_sse_data, sse_response};
use crate::jsonrpc::ErrorCode;

/// One frame as the whole answer.
pub(super) fn single(frame: Frame) -> Response {
    match frame {
        Frame::Final(b, status) => json(status, b),
        Frame::Mid(b) => json(StatusCode::OK, b),
        Frame::KeepAlive => error(StatusCode::OK, ErrorCode::InternalError, "no answer"),
    }
}

/// JSON when the answer is the first frame; SSE when notifications come
/// first.
pub(super) async fn respond(mut driver: Driver) -> Response {
    let first = driver.next().await;
    match first {
        Some(Frame::Final(b, status)) => json(status, b),
        Some(head @ (Frame::Mid(_) | Frame::KeepAlive)) => {
            let head = futures::stream::once(async move { Ok::<_, Infallible>(sse_bytes(head)) });
            let rest = futures::stream::unfold(driver, |mut d| async move {
                let f = d.next().await?;
                Some((Ok::<_, Infallible>(sse_bytes(f)), d))
            });
            sse_response(Body::from_stream(futures::StreamExt::chain(head, rest)))
        }
        None => error(StatusCode::OK, ErrorCode::InternalError, "no answer"),
    }
}

/// A frame on an SSE body.
fn sse_bytes(frame: Frame) -> Bytes {
    match frame {
        Frame::Mid(b) | Frame::Final(b, _) => sse_frame(&b),
        Frame::KeepAlive => Bytes::from_static(b": keep-alive\n\n"),
    }
}

/// One SSE event carrying one compact JSON message.
pub(super) fn sse_frame(data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 24);
    out.extend_from_slice(b"event: message\ndata: ");
    put_sse_data(&mut out, data);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_frame_is_plain_json() {
        let r = single(Frame::Mid(Bytes::from_static(b"{}")));
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[test]
    fn sse_frames_are_one_event() {
        assert_eq!(
            &sse_frame(b"{\"a\":\n1}")[..],
            b"event: message\ndata: {\"a\": 1}\n\n"
        );
    }
}
