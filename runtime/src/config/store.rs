//! `[store]` (where session records live), `[cluster]` (how pods reach
//! each other) and `[keys]` (the session sealing keys).
//!
//! May import: nothing else in the crate; the session store crate (its
//! URL check).

use std::path::PathBuf;
use std::time::Duration;

use berth_session_store::{Error as StoreError, RedisStore};
use serde::Deserialize;

/// Where session records live.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `memory` (embedded default, one pod), `redis://HOST[:PORT][/DB]`,
    /// `redis+sentinel://HOST[:PORT][,HOST[:PORT]...]/MASTER` or
    /// `redis+cluster://HOST[:PORT][,HOST[:PORT]...]` (Redis Cluster seeds);
    /// `rediss…` for each over TLS.
    pub url: String,
    /// Replicas that must acknowledge a new session before it is handed
    /// to the agent (Redis `WAIT`); set >= 1 with replicas and Sentinel so
    /// a primary failover loses no acknowledged session.
    pub min_replicas_acked: usize,
    /// Upper bound for one store operation.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Password of the Redis nodes, when it is not in `url` (set it with
    /// `BERTH_STORE__PASSWORD`, e.g. from a Kubernetes Secret).
    pub password: Option<String>,
    /// With a `rediss` URL: PEM file of the CAs that sign the servers'
    /// certificates (default: the compiled-in public roots).
    pub tls_ca_file: Option<PathBuf>,
    /// With a `rediss` URL: PEM client certificate (chain) for servers that
    /// require one; needs `tls_key_file`.
    pub tls_cert_file: Option<PathBuf>,
    /// The PEM private key of `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
    /// How often the `tls_*_file`s are read again: changed files that pass
    /// the start checks are used for the connections made from then on (a
    /// cert-manager renewal needs no restart).
    #[serde(with = "humantime_serde")]
    pub tls_reload_interval: Duration,
}

/// How pods find each other.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// URL other pods reach this pod at, for forwarding requests of
    /// sessions it owns (e.g. `http://10.0.3.7:8080`); default: the bound
    /// listen address.
    pub advertise_url: Option<String>,
    /// At SIGTERM, hand legacy docker sessions to the other pods (their
    /// containers keep running and are re-attached) instead of stopping
    /// them: for rolling updates. If no pod of the deployment runs again,
    /// those containers stay until a pod returns and their records expire.
    pub handoff_on_shutdown: bool,
}

/// Session sealing keys: from Vault (`vault_path`), from `master`/`bind`
/// (e.g. `BERTH_KEYS__MASTER`), or kept in `state_dir/session-keys.json`.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// Master key as `id:hex64`; after a rotation `new:hex64,old:hex64`
    /// (the first seals, the others still open older records).
    pub master: Option<String>,
    /// Binding key as `id:hex64`, or `new:hex64,old:hex64` likewise.
    pub bind: Option<String>,
    /// KV v2 path (under `vault.kv_mount`) of a secret with fields
    /// `master` and `bind` (same forms as above); read once at start.
    /// Needs `[vault]`.
    pub vault_path: Option<String>,
}

impl std::fmt::Debug for KeysConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeysConfig")
            .field("vault_path", &self.vault_path)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password too: only its scheme is shown.
        let scheme = self
            .url
            .split_once("://")
            .map_or(self.url.as_str(), |(s, _)| s);
        f.debug_struct("StoreConfig")
            .field("scheme", &scheme)
            .field("min_replicas_acked", &self.min_replicas_acked)
            .field("timeout", &self.timeout)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("tls_cert_file", &self.tls_cert_file)
            .field("tls_reload_interval", &self.tls_reload_interval)
            .finish_non_exhaustive()
    }
}

// === impl StoreConfig ===

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: "memory".into(),
            min_replicas_acked: 0,
            timeout: Duration::from_secs(2),
            password: None,
            tls_ca_file: None,
            tls_cert_file: None,
            tls_key_file: None,
            tls_reload_interval: Duration::from_secs(60),
        }
    }
}

impl StoreConfig {
    /// Whether `url` asks for TLS (`rediss://`, `rediss+sentinel://`,
    /// `rediss+cluster://`).
    pub fn is_tls(&self) -> bool {
        self.url
            .split_once("://")
            .is_some_and(|(scheme, _)| scheme.to_ascii_lowercase().starts_with("rediss"))
    }

    /// What is wrong with `[store]`, as (key, problem): a URL the store
    /// would refuse at start (read by the store's own parser), a zero
    /// timeout, or a problem of the `tls_*` keys.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.url != "memory"
            && let Err(e) = RedisStore::check_url(&self.url)
        {
            let detail = match e {
                StoreError::InvalidUrl(detail) => detail,
                other => other.to_string(),
            };
            return Err((
                "store.url",
                format!("must be `memory` or a Redis URL: {detail}"),
            ));
        }
        if let Some((name, problem)) = self.tls_problem() {
            return Err((name, problem.to_owned()));
        }
        if self.timeout.is_zero() {
            return Err(("store.timeout", "must be greater than zero".to_owned()));
        }
        Ok(())
    }

    /// What is wrong with the `tls_*` keys, as (key, problem): files set
    /// without a `rediss` URL, a client certificate without its key (or
    /// the reverse), a zero reload interval.
    fn tls_problem(&self) -> Option<(&'static str, &'static str)> {
        if self.tls_reload_interval.is_zero() {
            return Some(("store.tls_reload_interval", "must be greater than zero"));
        }
        let files = [
            ("store.tls_ca_file", &self.tls_ca_file),
            ("store.tls_cert_file", &self.tls_cert_file),
            ("store.tls_key_file", &self.tls_key_file),
        ];
        if let Some((name, _)) = files.iter().find(|(_, f)| f.is_some())
            && !self.is_tls()
        {
            return Some((
                name,
                "is only used with TLS: make store.url a rediss://, rediss+sentinel:// or \
                 rediss+cluster:// URL, or remove it",
            ));
        }
        match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(_), None) => Some((
                "store.tls_key_file",
                "is needed with store.tls_cert_file (the client certificate's private key)",
            )),
            (None, Some(_)) => Some((
                "store.tls_cert_file",
                "is needed with store.tls_key_file (the client certificate it is the key of)",
            )),
            _ => None,
        }
    }

    /// `url` with `password` put in (percent-encoded), when one is set and
    /// the URL carries none.
    pub fn url_with_password(&self) -> String {
        let Some(password) = self.password.as_deref().filter(|p| !p.is_empty()) else {
            return self.url.clone();
        };
        let Some((scheme, rest)) = self.url.split_once("://") else {
            return self.url.clone();
        };
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.contains('@') {
            return self.url.clone();
        }
        let mut encoded = String::new();
        for b in password.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                encoded.push(b as char);
            } else {
                encoded.push_str(&format!("%{b:02X}"));
            }
        }
        format!("{scheme}://:{encoded}@{rest}")
    }
}
