//! Request guards: Host/Origin validation (DNS-rebinding protection),
//! `Accept`/`Content-Type` negotiation and bearer-token authentication.

use axum::response::Response;
use berth_auth::{Principal, TokenValidator};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::reply;
use crate::jsonrpc::ErrorCode;

/// Host and Origin policy, built once from the config.
#[derive(Clone, Debug)]
pub struct HostPolicy {
    allow_loopback: bool,
    hosts: Vec<String>,
    origins: Vec<String>,
    check_hosts: bool,
}

/// Which media types an `Accept` header allows.
#[derive(Clone, Copy, Debug, Default)]
pub struct Accepts {
    /// `application/json` is acceptable.
    pub json: bool,
    /// `text/event-stream` is acceptable.
    pub sse: bool,
}

// === impl HostPolicy ===

impl HostPolicy {
    /// Builds the policy. Loopback names are allowed when Berth listens on
    /// loopback; otherwise only the public URL's host and configured hosts.
    pub fn new(
        listen_loopback: bool,
        public_base: &str,
        hosts: &[String],
        origins: &[String],
    ) -> Self {
        let public = url::Url::parse(public_base).ok();
        let mut allowed_hosts: Vec<String> = hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
        let mut allowed_origins: Vec<String> = origins
            .iter()
            .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
            .collect();
        if let Some(u) = &public {
            if let Some(h) = u.host_str() {
                allowed_hosts.push(h.to_ascii_lowercase());
            }
            allowed_origins.push(u.origin().ascii_serialization().to_ascii_lowercase());
        }
        let public_is_loopback = public
            .as_ref()
            .and_then(|u| u.host_str().map(is_loopback_name))
            .unwrap_or(false);
        HostPolicy {
            allow_loopback: listen_loopback || public_is_loopback,
            hosts: allowed_hosts,
            origins: allowed_origins,
            // Behind a load balancer with no public_url set, Host varies; the
            // check is on whenever we can know the right answer.
            check_hosts: listen_loopback || public.is_some(),
        }
    }

    /// 403 unless Host and Origin are acceptable.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), Response> {
        if self.check_hosts {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(strip_port)
                .unwrap_or("");
            let host = host.to_ascii_lowercase();
            let ok = (self.allow_loopback && is_loopback_name(&host)) || self.hosts.contains(&host);
            if !ok {
                return Err(reply::error(
                    StatusCode::FORBIDDEN,
                    ErrorCode::InvalidRequest,
                    "Forbidden: Host header is not allowed (DNS-rebinding protection); add it to security.allowed_hosts if this is intended",
                ));
            }
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin
                .to_str()
                .unwrap_or("")
                .trim_end_matches('/')
                .to_ascii_lowercase();
            let origin_host = url::Url::parse(&origin)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned));
            let ok = self.origins.contains(&origin)
                || (self.allow_loopback && origin_host.as_deref().is_some_and(is_loopback_name));
            if !ok {
                return Err(reply::error(
                    StatusCode::FORBIDDEN,
                    ErrorCode::InvalidRequest,
                    "Forbidden: Origin is not allowed; add it to security.allowed_origins if this is intended",
                ));
            }
        }
        Ok(())
    }
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        // [::1]:8080
        return rest.split(']').next().unwrap_or("");
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

fn is_loopback_name(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

// === impl Accepts ===

impl Accepts {
    /// Parses an `Accept` header (absent means nothing is acceptable).
    pub fn parse(headers: &HeaderMap) -> Accepts {
        let mut a = Accepts::default();
        for value in headers.get_all(header::ACCEPT) {
            for part in value.to_str().unwrap_or("").split(',') {
                let media = part
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                match media.as_str() {
                    "application/json" | "application/*" => a.json = true,
                    "text/event-stream" | "text/*" => a.sse = true,
                    "*/*" => {
                        a.json = true;
                        a.sse = true;
                    }
                    _ => {}
                }
            }
        }
        a
    }
}

/// The media checks every MCP POST passes, in either era: 406 unless the
/// `Accept` header allows both JSON and SSE, 415 unless the body is JSON.
pub fn check_post_media(headers: &HeaderMap) -> Result<Accepts, Response> {
    let accepts = Accepts::parse(headers);
    if !(accepts.json && accepts.sse) {
        return Err(reply::error(
            StatusCode::NOT_ACCEPTABLE,
            ErrorCode::InvalidRequest,
            "Not Acceptable: the Accept header must allow both application/json and text/event-stream",
        ));
    }
    check_json_content_type(headers)?;
    Ok(accepts)
}

/// 415 unless the body is declared as JSON.
pub fn check_json_content_type(headers: &HeaderMap) -> Result<(), Response> {
    let ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        })
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(reply::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::InvalidRequest,
            "Unsupported Media Type: send the JSON-RPC message with Content-Type: application/json",
        ))
    }
}

/// Authenticates the bearer token for `resource`; 401 with
/// `WWW-Authenticate` (RFC 9728 `resource_metadata`) when it fails.
pub async fn authenticate(
    validator: &dyn TokenValidator,
    headers: &HeaderMap,
    resource: &str,
    metadata_url: &str,
    scopes: &[String],
) -> Result<Principal, Response> {
    let raw = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .nth(1)
        .is_some()
    {
        // Which one would a proxy in front have checked? RFC 6750 §3.1:
        // a repeated credential is `invalid_request`.
        let e = berth_auth::Error::Malformed(
            "more than one Authorization header; send exactly one bearer token".into(),
        );
        let mut resp = unauthorized(metadata_url, scopes, Some(&e));
        *resp.status_mut() = StatusCode::BAD_REQUEST;
        return Err(resp);
    }
    let token = berth_auth::bearer_token(raw);
    let result = match token {
        Ok(t) => validator.validate(t, resource).await,
        Err(e) => Err(e),
    };
    let principal = match result {
        Ok(p) => p,
        Err(e) if e.http_status() >= 500 => {
            // Not the agent's fault: the issuer could not be asked.
            tracing::warn!(error = %e, resource, "could not validate a token");
            return Err(reply::rpc_error(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                crate::jsonrpc::RpcError::new(
                    ErrorCode::Overloaded,
                    format!("Service Unavailable: {e}"),
                )
                .with_data(serde_json::json!({"retryable": true})),
            ));
        }
        Err(e) => {
            tracing::info!(error = %e, resource, "rejected MCP request: authentication failed");
            let presented = raw.is_some();
            return Err(unauthorized(metadata_url, scopes, presented.then_some(&e)));
        }
    };
    if let Err(e) = berth_auth::require_scopes(&principal, scopes) {
        let scope = scopes.join(" ");
        let challenge = format!(
            "Bearer error=\"insufficient_scope\", scope=\"{scope}\", resource_metadata=\"{metadata_url}\", error_description=\"{}\"",
            e.to_string().replace('"', "'")
        );
        let mut resp = reply::error(
            StatusCode::FORBIDDEN,
            ErrorCode::InvalidRequest,
            e.to_string(),
        );
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        return Err(resp);
    }
    Ok(principal)
}

fn unauthorized(
    metadata_url: &str,
    scopes: &[String],
    err: Option<&berth_auth::Error>,
) -> Response {
    let mut challenge = format!("Bearer resource_metadata=\"{metadata_url}\"");
    if !scopes.is_empty() {
        challenge.push_str(&format!(", scope=\"{}\"", scopes.join(" ")));
    }
    let message = match err {
        Some(e) => {
            challenge.push_str(&format!(
                ", error=\"{}\", error_description=\"{}\"",
                e.www_authenticate_error(),
                e.to_string().replace('"', "'")
            ));
            format!("Unauthorized: {e}")
        }
        None => "Unauthorized: send an OAuth bearer token in the Authorization header (see WWW-Authenticate for where to get one)".to_owned(),
    };
    let mut resp = reply::error(StatusCode::UNAUTHORIZED, ErrorCode::InvalidRequest, message);
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn loopback_hosts_pass_and_foreign_hosts_fail() {
        let p = HostPolicy::new(true, "http://127.0.0.1:8080", &[], &[]);
        for ok in ["127.0.0.1:8080", "localhost", "[::1]:9", "localhost:3000"] {
            assert!(p.check(&headers(&[("host", ok)])).is_ok(), "{ok}");
        }
        for bad in [
            "evil.example.com",
            "evil.example.com:8080",
            "127.0.0.1.nip.io",
        ] {
            let r = p.check(&headers(&[("host", bad)])).unwrap_err();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{bad}");
        }
    }

    #[test]
    fn origins_are_checked() {
        let p = HostPolicy::new(
            true,
            "http://127.0.0.1:8080",
            &[],
            &["https://app.example".into()],
        );
        let ok = |o: &str| {
            p.check(&headers(&[("host", "localhost"), ("origin", o)]))
                .is_ok()
        };
        assert!(ok("http://localhost:5173"));
        assert!(ok("https://app.example"));
        assert!(!ok("https://evil.example"));
        assert!(!ok("null"));
    }

    #[test]
    fn public_hosts_when_not_on_loopback() {
        let p = HostPolicy::new(false, "https://mcp.example.com", &[], &[]);
        assert!(p.check(&headers(&[("host", "mcp.example.com")])).is_ok());
        assert!(p.check(&headers(&[("host", "localhost")])).is_err());
    }

    #[test]
    fn accept_parsing() {
        let a = Accepts::parse(&headers(&[(
            "accept",
            "application/json, text/event-stream",
        )]));
        assert!(a.json && a.sse);
        let a = Accepts::parse(&headers(&[("accept", "text/event-stream;q=1")]));
        assert!(!a.json && a.sse);
        let a = Accepts::parse(&headers(&[("accept", "*/*")]));
        assert!(a.json && a.sse);
        let a = Accepts::parse(&HeaderMap::new());
        assert!(!a.json && !a.sse);
    }
}
