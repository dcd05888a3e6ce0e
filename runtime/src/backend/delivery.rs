//! Secrets on their way into an instance: env vars at start, headers on
//! each request to an HTTP-transport server.
//!
//! Both are opaque to the backends: [`SecretEnv`] prints only its names,
//! and a [`HeaderSource`] is asked for fresh headers before every request
//! (so a secret rotated in Vault is used by the next call). Where they
//! come from is `crate::secrets`.
//!
//! May import: external crates only.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use zeroize::Zeroizing;

/// Secret environment variables for one instance; `Debug` shows names only.
#[derive(Clone, Default)]
pub(crate) struct SecretEnv(BTreeMap<String, Zeroizing<String>>);

impl SecretEnv {
    /// Wraps resolved values.
    pub(crate) fn new(vars: BTreeMap<String, Zeroizing<String>>) -> Self {
        SecretEnv(vars)
    }

    /// `NAME`, value pairs.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl std::fmt::Debug for SecretEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// Produces the secret headers of one hosting session's requests.
#[async_trait]
pub(crate) trait CallHeaders: Send + Sync {
    /// Headers to add to the next request (values marked sensitive), or
    /// why they cannot be had (no secret value in the message).
    async fn headers(&self) -> Result<http::HeaderMap, String>;
}

/// A shared [`CallHeaders`]; `Debug` shows nothing of it.
#[derive(Clone)]
pub(crate) struct HeaderSource(pub Arc<dyn CallHeaders>);

impl std::fmt::Debug for HeaderSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeaderSource")
    }
}
