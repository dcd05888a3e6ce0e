//! Deployment secrets from Vault, resolved when a call needs them.
//!
//! A server's `secrets` refs name a KV v2 field under the tenant's prefix
//! (`vault.tenant_prefix`, `berth/tenants/{tenant}` by default), maybe
//! templated with `{subject}`. [`Secrets::env`] reads the env-delivered
//! ones when an instance starts for a caller; [`Secrets::headers`] gives
//! the HTTP bridge a source it asks before *every* request, so a value
//! rotated in Vault is used by the next call. Nothing here caches,
//! stores, logs or prints a value: Redis records, logs, audit events and
//! error messages carry paths and key names at most.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use berth_auth::Error as AuthError;
use berth_auth::vault::{Vault, VaultLogin, VaultOptions};
use http::{HeaderMap, HeaderName, HeaderValue};
use zeroize::Zeroizing;

use crate::app::StartError;
use crate::backend::{CallHeaders, HeaderSource, SecretEnv};
use crate::config::{SecretRef, ServerConfig, VaultAuthMethod, VaultConfig};
use crate::jsonrpc::{ErrorCode, RpcError};

/// The pod's access to deployment secrets.
#[derive(Debug)]
pub struct Secrets {
    vault: Option<Vault>,
    prefix: String,
}

impl Secrets {
    /// Secrets read through `vault`, under `prefix` (with `{tenant}`).
    pub fn new(vault: Option<Vault>, prefix: impl Into<String>) -> Self {
        Secrets {
            vault,
            prefix: prefix.into(),
        }
    }

    /// No Vault: deployments with secret refs are refused at config load.
    pub fn none() -> Self {
        Secrets::new(None, "")
    }

    /// The env-delivered secrets of `config` for `subject`, read now.
    pub async fn env(
        &self,
        tenant: &str,
        server: &str,
        config: &ServerConfig,
        subject: &str,
    ) -> Result<SecretEnv, RpcError> {
        let refs: Vec<&SecretRef> = config.secrets.iter().filter(|s| s.env.is_some()).collect();
        if refs.is_empty() {
            return Ok(SecretEnv::default());
        }
        let values = self
            .fetch(tenant, &refs, subject)
            .await
            .map_err(|e| refused(tenant, server, &e))?;
        let vars = refs
            .iter()
            .zip(values)
            .filter_map(|(r, v)| Some((r.env.clone()?, v)))
            .collect();
        Ok(SecretEnv::new(vars))
    }

    /// A source of the header-delivered secrets of `config` for
    /// `subject`, or `None` when it has none.
    pub fn headers(
        self: &Arc<Self>,
        tenant: &str,
        config: &ServerConfig,
        subject: &str,
    ) -> Option<HeaderSource> {
        // Header names were checked when the config was loaded.
        let (names, refs): (Vec<HeaderName>, Vec<SecretRef>) = config
            .secrets
            .iter()
            .filter_map(|s| {
                let name = s.header.as_deref()?.to_ascii_lowercase();
                Some((HeaderName::from_bytes(name.as_bytes()).ok()?, s.clone()))
            })
            .unzip();
        (!refs.is_empty()).then(|| {
            HeaderSource(Arc::new(SessionHeaders {
                secrets: self.clone(),
                tenant: tenant.to_owned(),
                subject: subject.to_owned(),
                names,
                refs,
            }))
        })
    }

    /// Reads `refs` (each secret path once), in order.
    async fn fetch(
        &self,
        tenant: &str,
        refs: &[&SecretRef],
        subject: &str,
    ) -> Result<Vec<Zeroizing<String>>, AuthError> {
        let vault = self
            .vault
            .as_ref()
            .ok_or_else(|| AuthError::Vault("no Vault is configured (`vault.address`)".into()))?;
        let mut read: BTreeMap<String, BTreeMap<String, Zeroizing<String>>> = BTreeMap::new();
        let mut values = Vec::with_capacity(refs.len());
        for r in refs {
            let path = berth_auth::vault::resolve(&self.prefix, tenant, &r.path, subject)?;
            if !read.contains_key(&path) {
                let fields = vault.read(&path).await?;
                read.insert(path.clone(), fields);
            }
            let value = read[&path].get(&r.key).cloned().ok_or_else(|| {
                AuthError::Vault(format!(
                    "the secret at `{path}` has no key `{}`; add it, or fix the deployment's secret ref",
                    r.key
                ))
            })?;
            values.push(value);
        }
        Ok(values)
    }
}

/// One hosting session's header secrets.
struct SessionHeaders {
    secrets: Arc<Secrets>,
    tenant: String,
    subject: String,
    /// The header each of `refs` goes into.
    names: Vec<HeaderName>,
    refs: Vec<SecretRef>,
}

#[async_trait]
impl CallHeaders for SessionHeaders {
    async fn headers(&self) -> Result<HeaderMap, String> {
        let refs: Vec<&SecretRef> = self.refs.iter().collect();
        let values = self
            .secrets
            .fetch(&self.tenant, &refs, &self.subject)
            .await
            .map_err(|e| {
                format!("this server's secrets could not be read ({e}); retry once Vault is back")
            })?;
        let mut headers = HeaderMap::new();
        for ((r, name), value) in refs.iter().zip(&self.names).zip(values) {
            let text = Zeroizing::new(format!("{}{}", r.value_prefix, value.as_str()));
            let mut value = HeaderValue::from_str(&text).map_err(|_| {
                format!(
                    "the secret `{}` for header `{name}` is not a valid header value (control characters or non-ASCII)",
                    r.key
                )
            })?;
            value.set_sensitive(true);
            headers.insert(name.clone(), value);
        }
        Ok(headers)
    }
}

/// The agent-facing error for secrets that could not be had.
fn refused(tenant: &str, server: &str, e: &AuthError) -> RpcError {
    tracing::warn!(tenant, server, error = %e, "server instance not started: its secrets could not be read");
    match e {
        AuthError::SecretPath(_) => RpcError::new(
            ErrorCode::InvalidRequest,
            format!("server {tenant}/{server} cannot start for this caller: {e}"),
        ),
        _ => RpcError::new(
            ErrorCode::Overloaded,
            format!(
                "server {tenant}/{server} needs secrets that could not be read ({e}); retry once Vault is back"
            ),
        )
        .with_data(serde_json::json!({"retryable": true})),
    }
}

/// Berth's Vault client for `[vault]`, or `None` when `vault.address` is
/// unset. Does not contact Vault (see [`Vault::keep_alive`]).
pub fn connect(config: &VaultConfig) -> Result<Option<Vault>, StartError> {
    let Some(address) = &config.address else {
        return Ok(None);
    };
    let read = |key: &'static str, path: &std::path::Path| {
        std::fs::read_to_string(path)
            .map(|s| Zeroizing::new(s.trim().to_owned()))
            .map_err(|e| StartError::File {
                key,
                path: path.display().to_string(),
                message: e.to_string(),
            })
    };
    let given =
        |key: &'static str, value: &Option<String>, file: &Option<std::path::PathBuf>| match (
            value, file,
        ) {
            (Some(v), _) => Ok(Zeroizing::new(v.clone())),
            (None, Some(path)) => read(key, path),
            (None, None) => Err(StartError::Config {
                key,
                message: "required by vault.auth".into(),
            }),
        };
    let mount = |default: &str| config.auth_mount.clone().unwrap_or_else(|| default.into());
    let login = match config.auth {
        VaultAuthMethod::Token => VaultLogin::Token {
            token: given("vault.token", &config.token, &config.token_file)?,
        },
        VaultAuthMethod::Approle => VaultLogin::AppRole {
            mount: mount("approle"),
            role_id: config.role_id.clone().unwrap_or_default(),
            secret_id: given("vault.secret_id", &config.secret_id, &config.secret_id_file)?,
        },
        VaultAuthMethod::Kubernetes => VaultLogin::Kubernetes {
            mount: mount("kubernetes"),
            role: config.role.clone().unwrap_or_default(),
            jwt_file: config.jwt_file.clone(),
        },
    };
    let vault = Vault::new(VaultOptions {
        address: address.clone(),
        login,
        kv_mount: config.kv_mount.clone(),
        timeout: config.timeout,
    })?;
    Ok(Some(vault))
}
