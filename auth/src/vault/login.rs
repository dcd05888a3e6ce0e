//! How Berth logs in to Vault, and keeps its token alive.
//!
//! Three methods: a token (`VAULT_TOKEN`-style, renewed if renewable),
//! AppRole (role id + secret id) and Kubernetes (the pod's service-account
//! JWT). A token that can no longer be renewed far enough is replaced by
//! a fresh login, so a long-running pod never ends up with an expired
//! token; a token refused at read time triggers the same re-login.
//!
//! Imports: `client_error` and the crate's `error`. Must not import
//! `connection` (which drives the login) or `vault/mod.rs`.

use std::path::PathBuf;
use std::time::Duration;

use vaultrs::api::AuthInfo;
use vaultrs::client::VaultClient;
use zeroize::Zeroizing;

use super::client_error::describe;
use crate::error::Error;

/// Berth's credentials at Vault.
#[derive(Clone)]
pub enum VaultLogin {
    /// A token given to Berth (renewed while renewable; cannot be replaced).
    Token {
        /// The token.
        token: Zeroizing<String>,
    },
    /// AppRole: `POST auth/{mount}/login` with role id and secret id.
    AppRole {
        /// Auth mount, usually `approle`.
        mount: String,
        /// The role id.
        role_id: String,
        /// The secret id.
        secret_id: Zeroizing<String>,
    },
    /// Kubernetes: `POST auth/{mount}/login` with the service-account JWT.
    Kubernetes {
        /// Auth mount, usually `kubernetes`.
        mount: String,
        /// The Vault role bound to Berth's service account.
        role: String,
        /// The projected service-account token (re-read at each login:
        /// the kubelet rotates it).
        jwt_file: PathBuf,
    },
}

impl std::fmt::Debug for VaultLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VaultLogin::Token { .. } => f.write_str("Token"),
            VaultLogin::AppRole { mount, role_id, .. } => f
                .debug_struct("AppRole")
                .field("mount", mount)
                .field("role_id", role_id)
                .finish_non_exhaustive(),
            VaultLogin::Kubernetes {
                mount,
                role,
                jwt_file,
            } => f
                .debug_struct("Kubernetes")
                .field("mount", mount)
                .field("role", role)
                .field("jwt_file", jwt_file)
                .finish(),
        }
    }
}

/// A token Berth holds, and how long it lives.
pub(super) struct Session {
    /// The token.
    pub(super) token: Zeroizing<String>,
    /// Its lease; zero for a token that never expires.
    pub(super) lease: Duration,
    /// Whether `renew-self` can extend it.
    pub(super) renewable: bool,
}

impl Session {
    fn from_auth(auth: AuthInfo) -> Self {
        Session {
            token: Zeroizing::new(auth.client_token),
            lease: Duration::from_secs(auth.lease_duration),
            renewable: auth.renewable,
        }
    }
}

impl VaultLogin {
    /// The method's name for logs and errors.
    pub(super) fn method(&self) -> &'static str {
        match self {
            VaultLogin::Token { .. } => "token",
            VaultLogin::AppRole { .. } => "approle",
            VaultLogin::Kubernetes { .. } => "kubernetes",
        }
    }

    /// Whether a fresh login can replace an expiring token.
    pub(super) fn can_relogin(&self) -> bool {
        !matches!(self, VaultLogin::Token { .. })
    }

    /// Logs in with `client` (which carries no token yet).
    pub(super) async fn login(&self, client: &VaultClient) -> Result<Session, Error> {
        let failed = |e: vaultrs::error::ClientError| {
            Error::Vault(format!(
                "{} login failed: {}; check Berth's Vault credentials and that Vault is reachable",
                self.method(),
                describe(&e)
            ))
        };
        match self {
            VaultLogin::Token { token } => {
                // Learn the lease of the token we were given.
                let mut settings = client.settings.clone();
                settings.token = token.to_string();
                let with_token = VaultClient::new(settings)
                    .map_err(|e| Error::Vault(format!("bad Vault settings: {e}")))?;
                let info = vaultrs::token::lookup_self(&with_token)
                    .await
                    .map_err(failed)?;
                Ok(Session {
                    token: token.clone(),
                    lease: Duration::from_secs(info.ttl),
                    renewable: info.renewable.unwrap_or(false),
                })
            }
            VaultLogin::AppRole {
                mount,
                role_id,
                secret_id,
            } => vaultrs::auth::approle::login(client, mount, role_id, secret_id)
                .await
                .map(Session::from_auth)
                .map_err(failed),
            VaultLogin::Kubernetes {
                mount,
                role,
                jwt_file,
            } => {
                let jwt = Zeroizing::new(std::fs::read_to_string(jwt_file).map_err(|e| {
                    Error::Vault(format!(
                        "kubernetes login: cannot read the service-account token {}: {e}",
                        jwt_file.display()
                    ))
                })?);
                vaultrs::auth::kubernetes::login(client, mount, role, jwt.trim())
                    .await
                    .map(Session::from_auth)
                    .map_err(failed)
            }
        }
    }
}

/// When to act on a token with `lease` left: at two thirds of it, so a
/// renewal has a third of the lease to succeed (and to be retried).
pub(super) fn renew_after(lease: Duration) -> Duration {
    (lease * 2 / 3).max(Duration::from_millis(500))
}

/// Whether a renewed lease is too short to be worth keeping: the token is
/// near its max TTL, and a fresh login gives a full one.
pub(super) fn nearly_spent(renewed: Duration, first: Duration) -> bool {
    renewed < first / 2
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{nearly_spent, renew_after};

    #[test]
    fn renewal_leaves_a_third_of_the_lease() {
        assert_eq!(
            renew_after(Duration::from_secs(30)),
            Duration::from_secs(20)
        );
        assert_eq!(renew_after(Duration::ZERO), Duration::from_millis(500));
        assert!(nearly_spent(
            Duration::from_secs(10),
            Duration::from_secs(30)
        ));
        assert!(!nearly_spent(
            Duration::from_secs(30),
            Duration::from_secs(30)
        ));
    }
}
