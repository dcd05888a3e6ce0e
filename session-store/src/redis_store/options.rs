//! [`RedisOptions`]: the tuning of a [`RedisStore`](super::RedisStore)
//! (operation timeout, replica acknowledgements, the certificates of
//! `rediss://` connections).
//!
//! Imports: nothing from this crate. Must not import any other module of
//! `redis_store` (they all read it).

use std::fmt;
use std::time::Duration;

use rustls::InconsistentKeys;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

/// Tuning of a [`RedisStore`](super::RedisStore); [`Default`] gives the documented defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisOptions {
    /// Upper bound for one operation, connecting (and a Sentinel lookup)
    /// included; past it the operation fails with [`Error::Unavailable`](crate::Error::Unavailable).
    /// Default: [`RedisOptions::DEFAULT_TIMEOUT`].
    pub timeout: Duration,
    /// Replicas that must acknowledge a new session (`put_new`, via Redis
    /// `WAIT`) before it is reported created; `0` (the default) does not
    /// wait. Set it to 1 or more when running replicas (with Sentinel) so an
    /// acknowledged session survives a failover. `WAIT` gets half of
    /// [`RedisOptions::timeout`].
    pub min_replicas_acked: usize,
    /// Certificates for `rediss://`, `rediss+sentinel://` and
    /// `rediss+cluster://` URLs (ignored by the plain forms).
    pub tls: RedisTls,
}

/// The certificates of TLS connections to Redis. [`Default`]: the servers'
/// certificates are checked against the Mozilla roots compiled into Berth
/// (as for its other outbound TLS; the runtime image has no system store),
/// and no client certificate is presented.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RedisTls {
    /// PEM certificates of the CAs that sign the servers' certificates
    /// (instead of the compiled-in roots), e.g. a private CA's.
    pub ca_pem: Option<Vec<u8>>,
    /// A PEM client certificate chain and its PEM private key, for servers
    /// that require client certificates (`tls-auth-clients yes`).
    pub client: Option<RedisClientCert>,
}

/// A client certificate chain and its private key, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisClientCert {
    /// The certificate, then any intermediates.
    pub cert_pem: Vec<u8>,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: Vec<u8>,
}

impl fmt::Debug for RedisTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Certificates are public, the key is not: only what is set is shown.
        f.debug_struct("RedisTls")
            .field("ca", &self.ca_pem.is_some())
            .field("client_cert", &self.client.is_some())
            .finish()
    }
}

impl RedisOptions {
    /// The default [`RedisOptions::timeout`]: 2 s.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            timeout: Self::DEFAULT_TIMEOUT,
            min_replicas_acked: 0,
            tls: RedisTls::default(),
        }
    }
}

/// Which part of a [`RedisTls`] [`RedisTls::check`] found wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedisTlsPart {
    /// [`RedisTls::ca_pem`].
    Ca,
    /// [`RedisClientCert::cert_pem`].
    ClientCert,
    /// [`RedisClientCert::key_pem`].
    ClientKey,
}

impl RedisTls {
    /// Checks that each PEM holds what it must (at least one certificate;
    /// one private key, that of the client certificate), so a wrong file is
    /// named at start rather than at the first connection.
    pub fn check(&self) -> Result<(), (RedisTlsPart, String)> {
        let certificates = |pem: &[u8], part| {
            let certs = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| (part, format!("is not valid PEM: {e}")))?;
            if certs.is_empty() {
                return Err((
                    part,
                    "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
                ));
            }
            Ok(certs)
        };
        if let Some(ca) = &self.ca_pem {
            certificates(ca, RedisTlsPart::Ca)?;
        }
        if let Some(client) = &self.client {
            let chain = certificates(&client.cert_pem, RedisTlsPart::ClientCert)?;
            let key = PrivateKeyDer::from_pem_slice(&client.key_pem).map_err(|e| {
                (
                    RedisTlsPart::ClientKey,
                    format!("holds no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {e}"),
                )
            })?;
            // A certificate renewed without its key (or the reverse) would
            // only fail at the next handshake.
            let provider = rustls::crypto::aws_lc_rs::default_provider();
            CertifiedKey::from_der(chain, key, &provider).map_err(|e| {
                let problem = match e {
                    rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch) => {
                        "is not the private key of the client certificate: their public keys \
                         differ (renew the certificate and its key together)"
                            .to_owned()
                    }
                    other => format!("cannot sign for the client certificate: {other}"),
                };
                (RedisTlsPart::ClientKey, problem)
            })?;
        }
        Ok(())
    }

    /// As the Redis client takes them. Makes aws-lc-rs the process's rustls
    /// provider unless one was chosen (the Redis client builds its TLS
    /// configuration with the process default).
    pub(super) fn certificates(&self) -> redis::TlsCertificates {
        let _already_chosen = rustls::crypto::aws_lc_rs::default_provider().install_default();
        redis::TlsCertificates {
            client_tls: self.client.as_ref().map(|c| redis::ClientTlsConfig {
                client_cert: c.cert_pem.clone(),
                client_key: c.key_pem.clone(),
            }),
            root_cert: self.ca_pem.clone(),
        }
    }
}
