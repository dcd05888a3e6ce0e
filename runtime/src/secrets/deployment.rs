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
//!
//! May import: `secrets::error`, `backend` (the delivery shapes), `config`.

use std::collections::BTreeMap;

use berth_auth::Error as AuthError;
use berth_auth::vault::Vault;
use zeroize::Zeroizing;

use super::error::SecretsError;
use crate::backend::SecretEnv;
use crate::config::{SecretRef, ServerConfig};

/// The pod's access to deployment secrets.
#[derive(Debug)]
pub(crate) struct Secrets {
    vault: Option<Vault>,
    prefix: String,
}

// === impl Secrets ===

impl Secrets {
    /// Secrets read through `vault`, under `prefix` (with `{tenant}`).
    pub(crate) fn new(vault: Option<Vault>, prefix: impl Into<String>) -> Self {
        Secrets {
            vault,
            prefix: prefix.into(),
        }
    }

    /// No Vault: deployments with secret refs are refused at config load.
    pub(crate) fn none() -> Self {
        Secrets::new(None, "")
    }

    /// The env-delivered secrets of `config` for `subject`, read now.
    pub(crate) async fn env(
        &self,
        tenant: &str,
        server: &str,
        config: &ServerConfig,
        subject: &str,
    ) -> Result<SecretEnv, SecretsError> {
        let refs: Vec<&SecretRef> = config.secrets.iter().filter(|s| s.env.is_some()).collect();
        if refs.is_empty() {
            return Ok(SecretEnv::default());
        }
        let values = self
            .fetch(tenant, &refs, subject)
            .await
            .map_err(|source| SecretsError::new(tenant, server, source))?;
        let vars = refs
            .iter()
            .zip(values)
            .filter_map(|(r, v)| Some((r.env.clone()?, v)))
            .collect();
        Ok(SecretEnv::new(vars))
    }

    /// Reads `refs` (each secret path once), in order.
    pub(super) async fn fetch(
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
