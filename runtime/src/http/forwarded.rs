//! The host a request was sent to, when it came through a proxy Berth
//! trusts (`security.trusted_proxies`): [`forwarded_host`] puts it in
//! `Host`, before anything reads that header (the Host check, a forward to
//! another pod).
//!
//! A proxy that rewrites `Host` records the original in `Forwarded: host=`
//! (RFC 7239) or `X-Forwarded-Host`. Those headers are believed only from
//! a trusted TCP peer ([`PeerAddr`]); from any other peer they are left
//! alone and never read, so nobody can use them to get past the check.
//!
//! Which host, when there are several: proxies append, and what a client
//! sent itself comes first. So `Forwarded` is walked from the right (the
//! element the nearest proxy added) to the left for as long as an
//! element's `for=` names another trusted proxy; the host of the element
//! where the walk stops is the one the outermost trusted proxy received.
//! `X-Forwarded-Host` carries no `for=`: its last value (the one the
//! nearest proxy set) is used. A malformed header from a trusted peer is
//! an error (400), never a guess.
//!
//! Pod-to-pod forwarding needs nothing more: the pod a request reached
//! forwards it with the `Host` this put there, which the owner checks as
//! it would any `Host`.
//!
//! May import: `http::reply`, `config` (address blocks), `jsonrpc`,
//! external crates.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::reply;
use crate::config::Cidr;
use crate::jsonrpc::ErrorCode;

/// `X-Forwarded-Host`.
const X_FORWARDED_HOST: &str = "x-forwarded-host";

/// The proxies Berth trusts.
#[derive(Clone, Debug, Default)]
pub(crate) struct TrustedProxies(Vec<Cidr>);

/// The TCP peer of the connection a request came on (a request
/// extension the listener adds).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PeerAddr(pub(crate) SocketAddr);

/// Middleware: from a trusted peer, the host its forwarding headers name
/// replaces `Host`; a malformed one is a 400.
pub(crate) async fn forwarded_host(
    State(proxies): State<TrustedProxies>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req.extensions().get::<PeerAddr>().map(|p| p.0.ip());
    match proxies.host_of(req.headers(), peer) {
        Ok(None) => {}
        Ok(Some(host)) => match HeaderValue::from_str(&host) {
            Ok(value) => {
                req.headers_mut().insert(header::HOST, value);
            }
            // Unreachable: a forwarded host is checked to be host[:port].
            Err(_) => return malformed("the forwarded host is not a header value"),
        },
        Err(e) => return malformed(&e),
    }
    next.run(req).await
}

/// The 400 for a malformed forwarding header from a trusted proxy.
fn malformed(e: &str) -> Response {
    reply::error(
        StatusCode::BAD_REQUEST,
        ErrorCode::InvalidRequest,
        format!(
            "Bad Request: {e}; it came through a trusted proxy (security.trusted_proxies), whose configuration should be fixed"
        ),
    )
}

/// One `Forwarded` element's parameters of interest.
#[derive(Debug, Default, PartialEq, Eq)]
struct Element {
    host: Option<String>,
    for_: Option<String>,
}

// === impl TrustedProxies ===

impl TrustedProxies {
    /// Parses `security.trusted_proxies` (already validated; a bad block
    /// is skipped).
    pub(crate) fn new(blocks: &[String]) -> Self {
        TrustedProxies(blocks.iter().filter_map(|b| Cidr::parse(b).ok()).collect())
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|b| b.contains(ip))
    }

    /// Whether no proxy is trusted (the middleware is not needed).
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The host a request from `peer` was sent to, when `peer` is a
    /// trusted proxy that forwarded one; `Err` says how a forwarding
    /// header from a trusted peer is malformed.
    pub(crate) fn host_of(
        &self,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
    ) -> Result<Option<String>, String> {
        if !peer.is_some_and(|p| self.trusts(p)) {
            return Ok(None);
        }
        if let Some(host) = self.forwarded_host_of(headers)? {
            return Ok(Some(host));
        }
        last_forwarded_host(headers)
    }

    /// The host of the `Forwarded` element the walk stops at.
    fn forwarded_host_of(&self, headers: &HeaderMap) -> Result<Option<String>, String> {
        let mut elements = Vec::new();
        for value in headers.get_all(http::header::FORWARDED) {
            let text = value
                .to_str()
                .map_err(|_| "the Forwarded header is not ASCII".to_owned())?;
            elements.extend(parse_forwarded(text)?);
        }
        let mut chosen = None;
        for element in elements.iter().rev() {
            chosen = Some(element);
            let by_trusted = element
                .for_
                .as_deref()
                .and_then(node_ip)
                .is_some_and(|ip| self.trusts(ip));
            if !by_trusted {
                break;
            }
        }
        let Some(host) = chosen.and_then(|e| e.host.clone()) else {
            return Ok(None);
        };
        check_host(&host, "Forwarded host=")?;
        Ok(Some(host))
    }
}

/// The last value of the last `X-Forwarded-Host` header.
fn last_forwarded_host(headers: &HeaderMap) -> Result<Option<String>, String> {
    let Some(value) = headers.get_all(X_FORWARDED_HOST).iter().next_back() else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| "the X-Forwarded-Host header is not ASCII".to_owned())?;
    let host = text.rsplit(',').next().unwrap_or_default().trim();
    check_host(host, "X-Forwarded-Host")?;
    Ok(Some(host.to_owned()))
}

/// A forwarded host must look like a `Host` header: `name[:port]`,
/// `v4[:port]` or `[v6][:port]`.
fn check_host(host: &str, what: &str) -> Result<(), String> {
    let ok = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the {what} value is not a host[:port] (empty, too long, or with characters a host cannot have)"
        ))
    }
}

/// The address in a `for=` node (`192.0.2.1`, `192.0.2.1:80`,
/// `[2001:db8::1]:80`); `None` for `unknown` and obfuscated names.
fn node_ip(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    node.split(':').next()?.parse().ok()
}

/// RFC 7230 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses one `Forwarded` header value into its elements (RFC 7239 §4:
/// `1#( pair *( ";" pair ) )`, values tokens or quoted strings). Lenient
/// where it cannot mislead: spaces around `;` and `,`, empty list items,
/// and `:`/`[`/`]` in unquoted values (a host's port, an IPv6 node).
fn parse_forwarded(text: &str) -> Result<Vec<Element>, String> {
    let bytes = text.as_bytes();
    let mut at = 0;
    let mut elements = Vec::new();
    let bad =
        |at: usize, what: &str| format!("the Forwarded header is malformed at byte {at}: {what}");
    let skip_ows = |at: &mut usize| {
        while *at < bytes.len() && (bytes[*at] == b' ' || bytes[*at] == b'\t') {
            *at += 1;
        }
    };
    loop {
        let mut element = Element::default();
        let mut any = false;
        loop {
            skip_ows(&mut at);
            match bytes.get(at) {
                None | Some(b',') => break,
                Some(b';') => {
                    at += 1;
                    continue;
                }
                _ => {}
            }
            let start = at;
            while at < bytes.len() && is_tchar(bytes[at]) {
                at += 1;
            }
            if at == start {
                return Err(bad(at, "expected a parameter name"));
            }
            let name = text[start..at].to_ascii_lowercase();
            if bytes.get(at) != Some(&b'=') {
                return Err(bad(at, "expected `=` after a parameter name"));
            }
            at += 1;
            let value = if bytes.get(at) == Some(&b'"') {
                at += 1;
                let mut value = String::new();
                loop {
                    match bytes.get(at) {
                        None => return Err(bad(at, "a quoted value is not closed")),
                        Some(b'"') => {
                            at += 1;
                            break;
                        }
                        Some(b'\\') if at + 1 < bytes.len() => {
                            value.push(char::from(bytes[at + 1]));
                            at += 2;
                        }
                        Some(&b) => {
                            value.push(char::from(b));
                            at += 1;
                        }
                    }
                }
                value
            } else {
                let start = at;
                while at < bytes.len() && (is_tchar(bytes[at]) || b":[]".contains(&bytes[at])) {
                    at += 1;
                }
                if at == start {
                    return Err(bad(at, "a parameter has no value"));
                }
                text[start..at].to_owned()
            };
            let slot = match name.as_str() {
                "host" => Some(&mut element.host),
                "for" => Some(&mut element.for_),
                _ => None,
            };
            if let Some(slot) = slot {
                if slot.is_some() {
                    return Err(bad(at, "a parameter appears twice in one element"));
                }
                *slot = Some(value);
            }
            any = true;
            skip_ows(&mut at);
            match bytes.get(at) {
                None | Some(b',') | Some(b';') => {}
                Some(_) => return Err(bad(at, "expected `;` or `,` after a value")),
            }
        }
        if any {
            elements.push(element);
        }
        if at >= bytes.len() {
            return Ok(elements);
        }
        at += 1; // the `,`
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::testing::headers;

    fn proxies(blocks: &[&str]) -> TrustedProxies {
        TrustedProxies::new(&blocks.iter().map(|b| (*b).to_owned()).collect::<Vec<_>>())
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_peers() {
        let p = proxies(&["10.0.0.0/8"]);
        let h = headers(&[
            ("forwarded", "for=192.0.2.1;host=evil.example"),
            ("x-forwarded-host", "evil.example"),
        ]);
        assert_eq!(p.host_of(&h, ip("203.0.113.5")).unwrap(), None);
        assert_eq!(p.host_of(&h, None).unwrap(), None);
        assert_eq!(
            p.host_of(&h, ip("10.1.2.3")).unwrap(),
            Some("evil.example".into())
        );
        assert_eq!(
            p.host_of(&h, ip("::ffff:10.1.2.3")).unwrap(),
            Some("evil.example".into()),
            "an IPv4-mapped peer is its IPv4 address"
        );
        assert_eq!(
            proxies(&[]).host_of(&h, ip("10.1.2.3")).unwrap(),
            None,
            "no trusted proxies: nothing is believed"
        );
    }

    #[test]
    fn the_walk_stops_at_the_first_untrusted_hop_from_the_right() {
        let p = proxies(&["10.0.0.0/8"]);
        // What the client sent itself comes first; the proxy appended.
        let h = headers(&[(
            "forwarded",
            r#"host=mcp.example.com, for="198.51.100.7:4711";host=evil.example;proto=https"#,
        )]);
        assert_eq!(
            p.host_of(&h, ip("10.0.0.1")).unwrap(),
            Some("evil.example".into())
        );
        // Two trusted proxies: the outer one's element counts.
        let h = headers(&[
            ("forwarded", "for=198.51.100.7;host=evil.example"),
            ("forwarded", "for=10.9.9.9;host=internal.lb"),
        ]);
        assert_eq!(
            p.host_of(&h, ip("10.0.0.1")).unwrap(),
            Some("evil.example".into())
        );
        // An element without host= falls back to X-Forwarded-Host, then Host.
        let h = headers(&[
            ("forwarded", "for=unknown"),
            ("x-forwarded-host", "a, b:8443"),
        ]);
        assert_eq!(
            p.host_of(&h, ip("10.0.0.1")).unwrap(),
            Some("b:8443".into())
        );
        let h = headers(&[("forwarded", r#"for="[2001:db8::1]:80""#)]);
        assert_eq!(p.host_of(&h, ip("10.0.0.1")).unwrap(), None);
    }

    #[tokio::test]
    async fn the_middleware_puts_a_trusted_proxys_host_in_host() {
        use tower::ServiceExt;
        let app = axum::Router::new()
            .route(
                "/",
                axum::routing::get(|h: HeaderMap| async move {
                    h[header::HOST].to_str().unwrap().to_owned()
                }),
            )
            .layer(axum::middleware::from_fn_with_state(
                proxies(&["127.0.0.1/32"]),
                forwarded_host,
            ));
        let ask = |peer: &str, fwd: &str| {
            let mut req = http::Request::builder()
                .uri("/")
                .header("host", "berth.internal")
                .header("forwarded", fwd)
                .body(axum::body::Body::empty())
                .unwrap();
            req.extensions_mut()
                .insert(PeerAddr(SocketAddr::new(peer.parse().unwrap(), 4000)));
            let app = app.clone();
            async move {
                let r = app.oneshot(req).await.unwrap();
                let status = r.status();
                let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
                (status, String::from_utf8(body.to_vec()).unwrap())
            }
        };
        let (status, host) = ask("127.0.0.1", "host=mcp.example.com").await;
        assert_eq!((status, host.as_str()), (StatusCode::OK, "mcp.example.com"));
        let (status, host) = ask("192.0.2.1", "host=mcp.example.com").await;
        assert_eq!((status, host.as_str()), (StatusCode::OK, "berth.internal"));
        let (status, body) = ask("127.0.0.1", "host=\"open").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.contains("trusted proxy"), "{body}");
        let (status, _) = ask("192.0.2.1", "host=\"open").await;
        assert_eq!(status, StatusCode::OK, "ignored from others");
    }

    #[test]
    fn malformed_headers_from_trusted_peers_are_errors() {
        let p = proxies(&["127.0.0.1/32"]);
        for bad in [
            "host",
            "host=",
            "=x",
            "host=\"unterminated",
            "host=a;host=b",
            "host=a b",
            "host=\"a@b\"",
            "host=\"\"",
            "for=1.2.3.4 ; host=\"evil,example\"",
        ] {
            let h = headers(&[("forwarded", bad)]);
            let e = p.host_of(&h, ip("127.0.0.1")).unwrap_err();
            assert!(e.contains("Forwarded"), "{bad}: {e}");
        }
        for bad in ["", "a, ", "evil.example/path", "a@b"] {
            let h = headers(&[("x-forwarded-host", bad)]);
            let e = p.host_of(&h, ip("127.0.0.1")).unwrap_err();
            assert!(e.contains("X-Forwarded-Host"), "{bad:?}: {e}");
        }
        // Lenient where it cannot mislead.
        let h = headers(&[("forwarded", " , for=10.0.0.9 ; Host=\"a.example:8443\" ,")]);
        assert_eq!(
            p.host_of(&h, ip("127.0.0.1")).unwrap(),
            Some("a.example:8443".into())
        );
    }
}
