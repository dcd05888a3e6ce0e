//! TLS for Berth's outbound HTTPS (issuers, introspection, other pods):
//! rustls with the Mozilla root certificates compiled in (`webpki-roots`).
//!
//! Compiled-in roots make verification the same on every host and let
//! Berth start where there is no system CA store at all (the `FROM
//! scratch` runtime image); reqwest's own default would read the system
//! store and refuse to build a client without one.
//!
//! May import: nothing else in the crate.

use std::sync::Arc;

/// A rustls client configuration trusting the compiled-in Mozilla roots,
/// for `reqwest::ClientBuilder::tls_backend_preconfigured`.
pub fn client_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("the default protocol versions are supported by the default provider")
    .with_root_certificates(roots)
    .with_no_client_auth()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_builds_without_reading_the_system_store() {
        let config = client_config();
        assert!(config.alpn_protocols.is_empty());
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(config)
            .build();
        assert!(client.is_ok(), "{client:?}");
    }
}
