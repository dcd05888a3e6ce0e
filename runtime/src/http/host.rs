//! Host and Origin validation: DNS-rebinding protection (403 for a Host
//! or Origin Berth does not serve). Behind a trusted proxy, `Host` already
//! holds the host it forwarded (`http::forwarded`).
//!
//! May import: `http::reply`, `jsonrpc`.

use axum::response::Response;
use http::{HeaderMap, StatusCode, header};

use super::reply;
use crate::jsonrpc::ErrorCode;

/// Host and Origin policy, built once from the config.
#[derive(Clone, Debug)]
pub(crate) struct HostPolicy {
    allow_loopback: bool,
    hosts: Vec<String>,
    origins: Vec<String>,
    check_hosts: bool,
}

// === impl HostPolicy ===

impl HostPolicy {
    /// Builds the policy. Loopback names are allowed when Berth listens on
    /// loopback; otherwise only the public URL's host and configured hosts.
    pub(crate) fn new(
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
    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<(), Response> {
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
                    "Forbidden: Host header (or the host a trusted proxy forwarded) is not allowed (DNS-rebinding protection); add it to security.allowed_hosts if this is intended",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::testing::headers;

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
}
