//! Fetching issuer documents over HTTP with an SSRF guard: the client both
//! OIDC discovery (`oidc.rs`) and RFC 7662 introspection (`introspect.rs`)
//! use, and the size-capped body read.
//!
//! Every URL fetched must be `http(s)`, is fetched without proxies or
//! redirects, with a timeout and a size cap, and may not resolve to a
//! link-local or cloud-metadata address: an issuer that names
//! `http://169.254.169.254/…` as its `jwks_uri` gets an error, not a fetch.
//!
//! Imports: only `error`. Must not import `oidc` or `introspect` (they
//! import this module).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;

/// How long one discovery or JWKS request may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest discovery document or JWKS accepted.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// The HTTP client for issuer documents: no proxy, no redirects, bounded
/// time, and a resolver that refuses link-local and metadata addresses.
pub(crate) fn client() -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(crate::tls::client_config())
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(FETCH_TIMEOUT)
        .dns_resolver(Arc::new(GuardedResolver))
        .build()
        .map_err(|e| {
            Error::Key(format!(
                "could not build the HTTP client for the issuer: {e}"
            ))
        })
}

/// GETs `url` as JSON, refusing forbidden addresses, redirects, errors and
/// oversized bodies.
pub(crate) async fn fetch<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, Error> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| Error::Key(format!("the issuer's URL `{url}` is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::Key(format!(
            "the issuer's URL `{url}` is not http(s)"
        )));
    }
    if let Some(url::Host::Ipv4(ip)) = parsed.host() {
        refuse_forbidden(IpAddr::V4(ip), url)?;
    }
    if let Some(url::Host::Ipv6(ip)) = parsed.host() {
        refuse_forbidden(IpAddr::V6(ip), url)?;
    }
    let mut response = http
        .get(parsed)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| Error::Key(format!("could not fetch `{url}`: {e}")))?;
    if !response.status().is_success() {
        return Err(Error::Key(format!(
            "`{url}` answered {} (redirects are not followed)",
            response.status()
        )));
    }
    let body = read_capped(&mut response, MAX_DOCUMENT_BYTES)
        .await
        .map_err(|e| Error::Key(format!("could not read `{url}`: {e}")))?;
    serde_json::from_slice(&body)
        .map_err(|e| Error::Key(format!("`{url}` is not the JSON document expected: {e}")))
}

/// Reads a response body of at most `max` bytes.
pub(crate) async fn read_capped(
    response: &mut reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > max {
            return Err(format!("it is larger than {max} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses an issuer URL: `http(s)`, and not a forbidden address literal
/// (host names are checked as they resolve, by [`GuardedResolver`]).
pub(crate) fn check_url(url: &str) -> Result<reqwest::Url, Error> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| Error::Key(format!("the issuer's URL `{url}` is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::Key(format!(
            "the issuer's URL `{url}` is not http(s)"
        )));
    }
    match parsed.host() {
        Some(url::Host::Ipv4(ip)) => refuse_forbidden(IpAddr::V4(ip), url)?,
        Some(url::Host::Ipv6(ip)) => refuse_forbidden(IpAddr::V6(ip), url)?,
        _ => {}
    }
    Ok(parsed)
}

/// Link-local addresses (which include the cloud metadata services at
/// 169.254.169.254 and fd00:ec2::254's neighbours), unspecified, multicast
/// and broadcast addresses are never fetched from.
fn refuse_forbidden(ip: IpAddr, what: &str) -> Result<(), Error> {
    let forbidden = match ip {
        IpAddr::V4(v4) => {
            v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                // Alibaba Cloud's metadata service.
                || v4.octets() == [100, 100, 100, 200]
        }
        IpAddr::V6(v6) => {
            (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.segments() == [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254]
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| refuse_forbidden(IpAddr::V4(v4), what).is_err())
        }
    };
    if forbidden {
        return Err(Error::Key(format!(
            "`{what}` resolves to {ip}, a link-local or metadata address Berth never fetches from"
        )));
    }
    Ok(())
}

/// Resolves host names like the system does, then drops forbidden
/// addresses (a name that only has such addresses fails to resolve).
struct GuardedResolver;

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| refuse_forbidden(a.ip(), &host).is_ok())
                .collect();
            if addrs.is_empty() {
                return Err(format!(
                    "`{host}` resolves only to link-local or metadata addresses, which Berth never fetches from"
                )
                .into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_link_local_addresses_are_refused() {
        for ip in [
            "169.254.169.254",
            "169.254.0.1",
            "100.100.100.200",
            "0.0.0.0",
            "224.0.0.1",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(
                refuse_forbidden(ip, "test").is_err(),
                "{ip} must be refused"
            );
        }
        for ip in ["127.0.0.1", "10.0.0.5", "192.168.1.10", "::1", "8.8.8.8"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(refuse_forbidden(ip, "test").is_ok(), "{ip} is allowed");
        }
    }
}
