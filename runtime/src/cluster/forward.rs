//! Forwarding a request to the pod that owns its session: the same method,
//! path, headers (the agent's own token authenticates it there again) and
//! body; the answer, SSE included, is streamed back as it comes.
//!
//! A forwarded request carries [`FORWARDED_HEADER`] (the forwarding pod) and
//! [`SIGNATURE_HEADER`]: `<unix ms>.<signature>` over the pod, the time, the
//! method, the path, the agent's `Authorization` and `Mcp-Session-Id` and
//! the body's SHA-256, under a key derived from the session key set. The
//! receiving pod checks it ([`verify_forwarded`]) and refuses a forged,
//! altered or stale one; a verified one is never forwarded again, so two
//! pods that disagree about an owner cannot loop.
//!
//! May import: `cluster::{inner, records}`.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures::TryStreamExt;
use http::{HeaderMap, Method, header};
use sha2::{Digest, Sha256};

use super::inner::Cluster;
use super::records::Lease;

/// Header naming the pod that forwarded a request.
pub(crate) const FORWARDED_HEADER: &str = "berth-forwarded-by";

/// Header carrying a forwarded request's signature.
pub(crate) const SIGNATURE_HEADER: &str = "berth-forward-signature";

/// Signature domain of forwarded requests.
const FORWARD_DOMAIN: &str = "cluster forwarded request";

/// How far a forwarded request's time may be from the receiver's clock.
const MAX_SKEW_MS: u64 = 60_000;

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
    /// Nothing listens at the owner's address: its process is gone
    /// (proof enough to take its sessions over, if its record allows).
    Refused(String),
    /// The owner does not answer (it may have just died, or the network
    /// between the pods failed).
    Unreachable(String),
}

/// What a request's forwarding headers say.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ForwardVerdict {
    /// Not forwarded: an agent's own request.
    Direct,
    /// Forwarded by a pod holding this key set.
    Forwarded,
    /// Claims to be forwarded but does not verify: refuse it.
    Forged(&'static str),
}

/// Whether `headers` claim the request was forwarded by another pod (only
/// meaningful once [`verify_forwarded`] accepted it).
pub(crate) fn was_forwarded(headers: &HeaderMap) -> bool {
    headers.contains_key(FORWARDED_HEADER)
}

/// Checks a request's forwarding headers against its content.
pub(crate) fn verify_forwarded(
    cluster: &Cluster,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> ForwardVerdict {
    let Some(pod) = headers.get(FORWARDED_HEADER) else {
        return ForwardVerdict::Direct;
    };
    let Some(signature) = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()) else {
        return ForwardVerdict::Forged("it carries no forwarding signature");
    };
    let Some((millis, sig)) = signature.split_once('.') else {
        return ForwardVerdict::Forged("its forwarding signature is malformed");
    };
    let Ok(at) = millis.parse::<u64>() else {
        return ForwardVerdict::Forged("its forwarding signature is malformed");
    };
    if now_millis().abs_diff(at) > MAX_SKEW_MS {
        return ForwardVerdict::Forged(
            "its forwarding signature is stale (or the pods' clocks disagree by over a minute)",
        );
    }
    let digest = content_digest(pod.as_bytes(), millis, method, path, headers, body);
    if cluster.keys().verify(FORWARD_DOMAIN, &[&digest], sig) {
        ForwardVerdict::Forwarded
    } else {
        ForwardVerdict::Forged("its forwarding signature does not verify")
    }
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
    let mut outbound = HeaderMap::with_capacity(headers.len() + 2);
    for (name, value) in headers {
        if !HOP_BY_HOP.contains(name) && name != FORWARDED_HEADER && name != SIGNATURE_HEADER {
            outbound.append(name.clone(), value.clone());
        }
    }
    sign_forward(cluster, now_millis(), &method, path, &mut outbound, &body);
    let answer = cluster
        .client()
        .request(method, &url)
        .headers(outbound)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            let why = format!("pod {} at {url}: {e}", owner.pod);
            if refused(&e) {
                ForwardError::Refused(why)
            } else {
                ForwardError::Unreachable(why)
            }
        })?;
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

/// Adds this pod's name and the signature (made at `millis`) to the
/// headers of a request to forward.
fn sign_forward(
    cluster: &Cluster,
    millis: u64,
    method: &Method,
    path: &str,
    headers: &mut HeaderMap,
    body: &[u8],
) {
    let Ok(me) = http::HeaderValue::from_str(cluster.pod()) else {
        return;
    };
    let millis = millis.to_string();
    let digest = content_digest(me.as_bytes(), &millis, method, path, headers, body);
    let sig = cluster.keys().sign(FORWARD_DOMAIN, &[&digest]);
    if let Ok(value) = http::HeaderValue::from_str(&format!("{millis}.{sig}")) {
        headers.insert(SIGNATURE_HEADER, value);
    }
    headers.insert(FORWARDED_HEADER, me);
}

/// Whether nothing listens at `owner`'s URL now: a new connection to its
/// `/healthz` is refused. Asked after a forward failed some other way (a
/// pooled connection reset as the owner died).
///
/// Never on a pooled connection: the pool may hold other connections to
/// the dead process, which fail with a reset, not a refusal. And a new
/// connection reset before any answer is asked again shortly: a process
/// killed a moment ago may still hold its listener while the kernel closes
/// its files, so the connection is accepted, then reset. Either would
/// otherwise make the caller wait for the owner's liveness record to lapse.
pub(crate) async fn refuses(cluster: &Cluster, owner: &Lease) -> bool {
    let url = format!("{}/healthz", owner.url);
    for _ in 0..PROBES {
        let probe = cluster
            .probe_client()
            .get(&url)
            .timeout(std::time::Duration::from_secs(1))
            .send()
            .await;
        match probe {
            Err(e) if refused(&e) => return true,
            Err(e) if cut_short(&e) => tokio::time::sleep(PROBE_AGAIN).await,
            // An answer, or none in time: something is there.
            _ => return false,
        }
    }
    false
}

/// New connections [`refuses`] tries while each is reset before answering.
const PROBES: usize = 8;

/// The pause between them.
const PROBE_AGAIN: std::time::Duration = std::time::Duration::from_millis(25);

/// What a forwarding signature covers, hashed: the forwarding pod, the
/// time, the method, the path, the agent's credentials and session, and
/// the body.
fn content_digest(
    pod: &[u8],
    millis: &str,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> [u8; 32] {
    let mut h = Sha256::new();
    let header = |name: header::HeaderName| {
        headers
            .get(name)
            .map(|v| v.as_bytes().to_vec())
            .unwrap_or_default()
    };
    let session = headers
        .get("mcp-session-id")
        .map(|v| v.as_bytes().to_vec())
        .unwrap_or_default();
    for part in [
        pod,
        millis.as_bytes(),
        method.as_str().as_bytes(),
        path.as_bytes(),
        &header(header::AUTHORIZATION),
        &session,
        &Sha256::digest(body),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// Whether a failed request never reached a listener (connection refused).
fn refused(e: &reqwest::Error) -> bool {
    caused_by(e, |err| {
        err.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    })
}

/// Whether a request's connection was reset or closed before any answer
/// (not refused, not timed out).
fn cut_short(e: &reqwest::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    caused_by(e, |err| {
        err.downcast_ref::<std::io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
            )
        }) || err
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message)
    })
}

/// Whether `e` or any error in its chain of sources is `what`.
fn caused_by(
    e: &reqwest::Error,
    what: impl Fn(&(dyn std::error::Error + 'static)) -> bool,
) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if what(err) {
            return true;
        }
        source = err.source();
    }
    false
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use berth_session_store::{KeyRing, MemoryStore, SecretKey};

    use super::*;

    fn pod(master: u8) -> Cluster {
        let keys = KeyRing::new(
            SecretKey::new("m", [master; 32]).unwrap(),
            SecretKey::new("b", [2; 32]).unwrap(),
        );
        Cluster::new(
            "pod-a".into(),
            Arc::new(MemoryStore::new()),
            "redis://x",
            None,
            keys,
        )
    }

    fn signed(cluster: &Cluster, millis: u64, body: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Bearer t".parse().unwrap());
        headers.insert("mcp-session-id", "s1".parse().unwrap());
        sign_forward(
            cluster,
            millis,
            &Method::POST,
            "/mcp/t/s",
            &mut headers,
            body,
        );
        headers
    }

    #[test]
    fn a_signed_forward_verifies_and_any_change_breaks_it() {
        let a = pod(1);
        let h = signed(&a, now_millis(), b"{}");
        let check = |h: &HeaderMap, path: &str, body: &[u8]| {
            verify_forwarded(&a, &Method::POST, path, h, body)
        };
        assert_eq!(check(&h, "/mcp/t/s", b"{}"), ForwardVerdict::Forwarded);
        assert!(matches!(
            check(&h, "/mcp/t/s", b"{\"x\":1}"),
            ForwardVerdict::Forged(_)
        ));
        assert!(matches!(
            check(&h, "/mcp/t/other", b"{}"),
            ForwardVerdict::Forged(_)
        ));
        let mut other_token = h.clone();
        other_token.insert(header::AUTHORIZATION, "Bearer u".parse().unwrap());
        assert!(matches!(
            check(&other_token, "/mcp/t/s", b"{}"),
            ForwardVerdict::Forged(_)
        ));
        let mut other_session = h.clone();
        other_session.insert("mcp-session-id", "s2".parse().unwrap());
        assert!(matches!(
            check(&other_session, "/mcp/t/s", b"{}"),
            ForwardVerdict::Forged(_)
        ));
        let mut renamed = h.clone();
        renamed.insert(FORWARDED_HEADER, "pod-b".parse().unwrap());
        assert!(matches!(
            check(&renamed, "/mcp/t/s", b"{}"),
            ForwardVerdict::Forged(_)
        ));
    }

    #[test]
    fn stale_unsigned_or_foreign_forwards_are_forged() {
        let a = pod(1);
        let verdict = |h: &HeaderMap| verify_forwarded(&a, &Method::POST, "/mcp/t/s", h, b"{}");
        let stale = signed(&a, now_millis() - 120_000, b"{}");
        assert_eq!(
            verdict(&stale),
            ForwardVerdict::Forged(
                "its forwarding signature is stale (or the pods' clocks disagree by over a minute)"
            )
        );
        let foreign = signed(&pod(9), now_millis(), b"{}");
        assert_eq!(
            verdict(&foreign),
            ForwardVerdict::Forged("its forwarding signature does not verify")
        );
        let mut unsigned = HeaderMap::new();
        unsigned.insert(FORWARDED_HEADER, "pod-b".parse().unwrap());
        assert_eq!(
            verdict(&unsigned),
            ForwardVerdict::Forged("it carries no forwarding signature")
        );
        assert_eq!(verdict(&HeaderMap::new()), ForwardVerdict::Direct);
    }
}
