//! Forwarding a request to the pod that owns its session: the same method,
//! path, headers (the agent's own token authenticates it there again) and
//! body; the answer, SSE included, is streamed back as it comes.
//!
//! A forwarded request carries [`FORWARDED_HEADER`] and is never forwarded
//! again, so two pods that disagree about an owner cannot loop.
//!
//! May import: `cluster::lease`.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures::TryStreamExt;
use http::{HeaderMap, Method, header};

use super::lease::{Cluster, Lease};

/// Header marking a request another pod forwarded (never forwarded again).
pub(crate) const FORWARDED_HEADER: &str = "berth-forwarded-by";

/// Headers that describe one hop, not the message. `Host` is not one of
/// them: the owner checks the agent's Host (DNS-rebinding protection)
/// exactly as the first pod did, so it must see the same one.
const HOP_BY_HOP: &[header::HeaderName] = &[
    header::CONNECTION,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
];

/// Why a forward did not produce an answer.
#[derive(Debug)]
pub(crate) enum ForwardError {
    /// The owner does not answer (it may have just died; its lease lapses
    /// soon and the session can be taken over).
    Unreachable(String),
}

/// Whether `headers` mark a request already forwarded by another pod.
pub(crate) fn was_forwarded(headers: &HeaderMap) -> bool {
    headers.contains_key(FORWARDED_HEADER)
}

/// Sends the request to `owner` and streams its answer back.
pub(crate) async fn forward(
    cluster: &Cluster,
    owner: &Lease,
    method: Method,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ForwardError> {
    let url = format!("{}{path}", owner.url);
    let mut outbound = HeaderMap::with_capacity(headers.len() + 1);
    for (name, value) in headers {
        if !HOP_BY_HOP.contains(name) {
            outbound.append(name.clone(), value.clone());
        }
    }
    if let Ok(me) = http::HeaderValue::from_str(cluster.pod()) {
        outbound.insert(FORWARDED_HEADER, me);
    }
    let answer = cluster
        .client()
        .request(method, &url)
        .headers(outbound)
        .body(body)
        .send()
        .await
        .map_err(|e| ForwardError::Unreachable(format!("pod {} at {url}: {e}", owner.pod)))?;
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if !HOP_BY_HOP.contains(name) && name != header::HOST {
            response = response.header(name, value);
        }
    }
    let body = Body::from_stream(answer.bytes_stream().map_err(std::io::Error::other));
    Ok(response
        .body(body)
        .expect("a copied status and headers form a response"))
}
