//! The header-delivered secrets of one hosting session: asked for before
//! every request to an HTTP-transport server, so a value rotated in Vault
//! is used by the next call.
//!
//! May import: `secrets::deployment`, `backend` (the [`CallHeaders`]
//! trait), `config`.

use std::sync::Arc;

use async_trait::async_trait;
use http::{HeaderMap, HeaderName, HeaderValue};
use zeroize::Zeroizing;

use super::deployment::Secrets;
use crate::backend::{CallHeaders, HeaderSource};
use crate::config::{SecretRef, ServerConfig};

// === impl Secrets (header delivery) ===

impl Secrets {
    /// A source of the header-delivered secrets of `config` for
    /// `subject`, or `None` when it has none.
    pub(crate) fn headers(
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
