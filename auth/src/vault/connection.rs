//! [`Vault`]: the logged-in client shared by the whole pod, its lazy login
//! and re-login, token renewal, and KV v2 reads.
//!
//! Imports: `login`, `client_error` and the crate's `error`. Must not import
//! `vault/mod.rs` (which only re-exports this module).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use vaultrs::client::{VaultClient, VaultClientSettingsBuilder};
use vaultrs::error::ClientError;
use zeroize::Zeroizing;

use super::client_error::describe;
use super::login::{Session, VaultLogin, nearly_spent, renew_after};
use crate::error::Error;

/// Pause between login attempts while Vault is unreachable.
const RETRY_LOGIN: Duration = Duration::from_secs(2);

/// Where Vault is and how Berth logs in.
#[derive(Clone, Debug)]
pub struct VaultOptions {
    /// `http(s)://host:port`.
    pub address: String,
    /// Berth's credentials.
    pub login: VaultLogin,
    /// Mount of the KV v2 engine secrets are read from.
    pub kv_mount: String,
    /// Upper bound for one Vault request.
    pub timeout: Duration,
}

/// A Vault connection shared by the whole pod (cheap to clone).
#[derive(Clone)]
pub struct Vault {
    inner: Arc<Inner>,
}

struct Inner {
    options: VaultOptions,
    /// A client without a token, for logging in.
    anonymous: VaultClient,
    /// The logged-in client and its token's lease.
    current: Mutex<Option<Current>>,
    /// One login at a time.
    login_gate: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
struct Current {
    client: Arc<VaultClient>,
    lease: Duration,
    first_lease: Duration,
    renewable: bool,
}

// === impl Vault ===

impl Vault {
    /// A client for `options`; does not contact Vault yet.
    pub fn new(options: VaultOptions) -> Result<Self, Error> {
        let anonymous = client(&options, "")?;
        Ok(Vault {
            inner: Arc::new(Inner {
                options,
                anonymous,
                current: Mutex::new(None),
                login_gate: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// Every field of the KV v2 secret at `path` (under the KV mount).
    pub async fn read(&self, path: &str) -> Result<BTreeMap<String, Zeroizing<String>>, Error> {
        let mount = &self.inner.options.kv_mount;
        let mut client = self.client().await?;
        let mut relogged = false;
        loop {
            let read: Result<BTreeMap<String, serde_json::Value>, _> =
                vaultrs::kv2::read(client.as_ref(), mount, path).await;
            match read {
                Ok(fields) => {
                    return Ok(fields
                        .into_iter()
                        .map(|(k, v)| {
                            let text = match v {
                                serde_json::Value::String(s) => s,
                                other => other.to_string(),
                            };
                            (k, Zeroizing::new(text))
                        })
                        .collect());
                }
                // The token expired or was revoked: log in again, once.
                Err(ClientError::APIError { code: 403, .. })
                    if !relogged && self.inner.options.login.can_relogin() =>
                {
                    relogged = true;
                    client = self.relogin(&client).await?;
                }
                Err(ClientError::APIError { code: 404, .. }) => {
                    return Err(Error::Vault(format!(
                        "there is no secret at `{mount}/{path}`; write it there, or fix the deployment's secret ref"
                    )));
                }
                Err(e) => {
                    return Err(Error::Vault(format!(
                        "reading `{mount}/{path}` failed: {}",
                        describe(&e)
                    )));
                }
            }
        }
    }

    /// Keeps Berth's token alive until `stop` completes: renews it at two
    /// thirds of its lease, logs in afresh when it can no longer be
    /// renewed far enough (or renewal fails), retries while Vault is down.
    pub async fn keep_alive(&self, stop: impl Future<Output = ()>) {
        tokio::select! {
            _ = stop => {}
            _ = self.renew_forever() => {}
        }
    }

    async fn renew_forever(&self) {
        loop {
            let current = self.inner.current.lock().clone();
            let Some(current) = current else {
                if let Err(e) = self.client().await {
                    tracing::warn!(error = %e, "Vault login failed; retrying");
                    tokio::time::sleep(RETRY_LOGIN).await;
                }
                continue;
            };
            if current.lease.is_zero() {
                // A token without expiry (e.g. a root token in dev).
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(renew_after(current.lease)).await;
            let login = &self.inner.options.login;
            let renewed = if current.renewable {
                vaultrs::token::renew_self(current.client.as_ref(), None).await
            } else {
                Err(ClientError::InvalidLoginMethodError)
            };
            match renewed {
                Ok(auth)
                    if !(login.can_relogin()
                        && nearly_spent(
                            Duration::from_secs(auth.lease_duration),
                            current.first_lease,
                        )) =>
                {
                    tracing::info!(lease_secs = auth.lease_duration, "Vault token renewed");
                    self.set_lease(&current.client, Duration::from_secs(auth.lease_duration));
                }
                outcome if login.can_relogin() => {
                    if let Err(e) = &outcome {
                        tracing::warn!(error = %describe(e), "Vault token renewal failed; logging in again");
                    }
                    if let Err(e) = self.relogin(&current.client).await {
                        tracing::warn!(error = %e, "Vault login failed; retrying");
                        tokio::time::sleep(RETRY_LOGIN).await;
                    }
                }
                outcome => {
                    if let Err(e) = outcome {
                        tracing::error!(
                            error = %describe(&e),
                            "the Vault token given to Berth could not be renewed; give Berth a renewable token or use AppRole or Kubernetes auth"
                        );
                    }
                    // Nothing more to do for a given token: check again later.
                    self.set_lease(&current.client, current.lease.max(RETRY_LOGIN));
                }
            }
        }
    }

    /// The logged-in client, logging in first if needed.
    async fn client(&self) -> Result<Arc<VaultClient>, Error> {
        if let Some(c) = self.inner.current.lock().as_ref() {
            return Ok(c.client.clone());
        }
        let _gate = self.inner.login_gate.lock().await;
        if let Some(c) = self.inner.current.lock().as_ref() {
            return Ok(c.client.clone());
        }
        self.login().await
    }

    /// Replaces `stale` with a fresh login (unless another task already did).
    async fn relogin(&self, stale: &Arc<VaultClient>) -> Result<Arc<VaultClient>, Error> {
        let _gate = self.inner.login_gate.lock().await;
        if let Some(c) = self.inner.current.lock().as_ref()
            && !Arc::ptr_eq(&c.client, stale)
        {
            return Ok(c.client.clone());
        }
        self.login().await
    }

    /// Logs in (the caller holds the login gate).
    async fn login(&self) -> Result<Arc<VaultClient>, Error> {
        let options = &self.inner.options;
        let Session {
            token,
            lease,
            renewable,
        } = options.login.login(&self.inner.anonymous).await?;
        let client = Arc::new(client(options, &token)?);
        tracing::info!(
            method = options.login.method(),
            lease_secs = lease.as_secs(),
            renewable,
            "logged in to Vault"
        );
        *self.inner.current.lock() = Some(Current {
            client: client.clone(),
            lease,
            first_lease: lease,
            renewable,
        });
        Ok(client)
    }

    fn set_lease(&self, client: &Arc<VaultClient>, lease: Duration) {
        if let Some(c) = self.inner.current.lock().as_mut()
            && Arc::ptr_eq(&c.client, client)
        {
            c.lease = lease;
        }
    }
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("address", &self.inner.options.address)
            .field("login", &self.inner.options.login)
            .finish_non_exhaustive()
    }
}

/// A vaultrs client for `options` carrying `token`.
fn client(options: &VaultOptions, token: &str) -> Result<VaultClient, Error> {
    let parsed = url::Url::parse(&options.address).map_err(|e| {
        Error::Vault(format!(
            "`{}` is not a Vault address ({e}); use e.g. https://vault.example.com:8200",
            options.address
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::Vault(format!(
            "`{}` is not an http(s) Vault address",
            options.address
        )));
    }
    let settings = VaultClientSettingsBuilder::default()
        .address(parsed.as_str())
        .token(token)
        .timeout(Some(options.timeout))
        .verify(true)
        .build()
        .map_err(|e| Error::Vault(format!("bad Vault client settings: {e}")))?;
    VaultClient::new(settings)
        .map_err(|e| Error::Vault(format!("cannot build a Vault client: {e}")))
}
