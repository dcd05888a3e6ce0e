//! The rules a parsed [`Config`] must meet before Berth starts; every
//! error names the key to fix.
//!
//! May import: the other `config` files and `protocol` (the header names a
//! secret may not replace).
//! Must not import anything above the leaves.

use std::time::Duration;

use super::auth::AuthMode;
use super::backend::BackendKind;
use super::cidr::Cidr;
use super::error::ConfigError;
use super::image_ref::check_image_reference;
use super::root::Config;
use super::server::{ServerConfig, Transport};
use super::values::{check_name, parse_size};
use super::vault::{SecretRef, VaultAuthMethod};
use crate::protocol::{LAST_EVENT_ID, MCP_PROTOCOL_VERSION, MCP_SESSION_ID};

// === impl Config ===

impl Config {
    /// Checks cross-field rules; errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_front()?;
        self.check_store()?;
        self.check_docker()?;
        self.check_kubernetes()?;
        check_vault(self).map_err(|(k, m)| key(k, &m))?;
        self.check_auth()?;
        for (tenant, servers) in &self.servers {
            check_name(tenant).map_err(|m| key(&format!("servers.{tenant}"), &m))?;
            for (name, server) in servers {
                self.check_server(tenant, name, server)?;
            }
        }
        Ok(())
    }

    fn check_front(&self) -> Result<(), ConfigError> {
        if let Some(u) = &self.public_url {
            let parsed = url::Url::parse(u).map_err(|e| {
                key(
                    "public_url",
                    &format!("not a URL ({e}); use e.g. https://mcp.example.com"),
                )
            })?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                return Err(key("public_url", "must be an http(s) URL with a host"));
            }
        }
        for block in &self.security.trusted_proxies {
            Cidr::parse(block).map_err(|m| key("security.trusted_proxies", &m))?;
        }
        if self.limits.max_body_bytes < 1024 {
            return Err(key("limits.max_body_bytes", "must be at least 1024"));
        }
        if self.limits.max_message_bytes < 1024 {
            return Err(key("limits.max_message_bytes", "must be at least 1024"));
        }
        if self.limits.max_header_bytes < 8192 {
            return Err(key(
                "limits.max_header_bytes",
                "must be at least 8192 (hyper's minimum)",
            ));
        }
        if self.limits.request_timeout.is_zero() {
            return Err(key("limits.request_timeout", "must be greater than zero"));
        }
        if self.limits.max_sessions == 0 {
            return Err(key("limits.max_sessions", "must be at least 1"));
        }
        if self.limits.sse_retry > Duration::from_secs(60) {
            return Err(key(
                "limits.sse_retry",
                "must be at most 60s (agents wait this long to resume a broken stream)",
            ));
        }
        Ok(())
    }

    fn check_store(&self) -> Result<(), ConfigError> {
        if let Some(u) = &self.cluster.advertise_url
            && !url::Url::parse(u).is_ok_and(|p| p.scheme() == "http" || p.scheme() == "https")
        {
            return Err(key(
                "cluster.advertise_url",
                "must be an http(s) URL other pods can reach, e.g. http://10.0.3.7:8080",
            ));
        }
        self.store.check().map_err(|(k, m)| key(k, &m))
    }

    fn check_docker(&self) -> Result<(), ConfigError> {
        if self.docker.max_containers == 0 {
            return Err(key("docker.max_containers", "must be at least 1"));
        }
        if self.docker.max_containers_per_tenant == 0 {
            return Err(key(
                "docker.max_containers_per_tenant",
                "must be at least 1",
            ));
        }
        parse_size(&self.docker.tmpfs_size).map_err(|m| key("docker.tmpfs_size", &m))?;
        check_name(&self.docker.internal_network)
            .map_err(|m| key("docker.internal_network", &m))?;
        Ok(())
    }

    fn check_kubernetes(&self) -> Result<(), ConfigError> {
        let k = &self.kubernetes;
        if self.backend == BackendKind::Kubernetes {
            match k.namespace.as_deref() {
                None | Some("") => {
                    return Err(key(
                        "kubernetes.namespace",
                        "required with backend = \"kubernetes\": the namespace session Pods run in, e.g. \"berth-sessions\"",
                    ));
                }
                Some(ns) => check_name(ns).map_err(|m| key("kubernetes.namespace", &m))?,
            }
        }
        if let Some(u) = &k.api_url
            && !url::Url::parse(u).is_ok_and(|p| p.scheme() == "http" || p.scheme() == "https")
        {
            return Err(key(
                "kubernetes.api_url",
                "must be an http(s) URL of the API server, e.g. https://kubernetes.default.svc",
            ));
        }
        if k.max_pods == 0 {
            return Err(key("kubernetes.max_pods", "must be at least 1"));
        }
        if k.max_pods_per_tenant == 0 {
            return Err(key("kubernetes.max_pods_per_tenant", "must be at least 1"));
        }
        if k.run_as_user <= 0 {
            return Err(key(
                "kubernetes.run_as_user",
                "must be a non-root UID (1 or more), e.g. 65534",
            ));
        }
        parse_size(&k.tmpfs_size).map_err(|m| key("kubernetes.tmpfs_size", &m))?;
        if k.start_timeout.is_zero() {
            return Err(key("kubernetes.start_timeout", "must be greater than zero"));
        }
        if !matches!(
            k.image_pull_policy.as_str(),
            "Always" | "IfNotPresent" | "Never"
        ) {
            return Err(key(
                "kubernetes.image_pull_policy",
                "must be `Always`, `IfNotPresent` or `Never`",
            ));
        }
        for (i, name) in k.image_pull_secrets.iter().enumerate() {
            check_name(name)
                .map_err(|m| key(&format!("kubernetes.image_pull_secrets[{i}]"), &m))?;
        }
        if let Some(class) = &k.runtime_class_name {
            check_name(class).map_err(|m| key("kubernetes.runtime_class_name", &m))?;
        }
        Ok(())
    }

    fn check_auth(&self) -> Result<(), ConfigError> {
        if self.auth.mode == AuthMode::Oidc && self.auth.issuer.is_none() {
            return Err(key("auth.issuer", "required when auth.mode = \"oidc\""));
        }
        if self.auth.mode == AuthMode::Jwt {
            if self.auth.issuer.is_none() {
                return Err(key("auth.issuer", "required when auth.mode = \"jwt\""));
            }
            if self.auth.jwks_file.is_none() {
                return Err(key("auth.jwks_file", "required when auth.mode = \"jwt\""));
            }
        }
        Ok(())
    }

    /// Checks one `[servers.TENANT.NAME]` deployment; the first problem
    /// found names its key.
    pub(crate) fn check_server(
        &self,
        tenant: &str,
        name: &str,
        s: &ServerConfig,
    ) -> Result<(), ConfigError> {
        let k = format!("servers.{tenant}.{name}");
        check_name(name).map_err(|m| key(&k, &m))?;
        match self.server_problems(s).into_iter().next() {
            Some(p) => Err(key(&format!("{k}{}", p.dotted()), &p.message)),
            None => Ok(()),
        }
    }

    /// Every problem of one deployment under this configuration (backend,
    /// Vault), each at its JSON pointer within the deployment; empty when
    /// it is valid. The control plane lists them all at once.
    pub(crate) fn server_problems(&self, s: &ServerConfig) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut problem = |at: &str, m: &str| out.push(Problem::new(at, m));
        let docker = self.backend.runs_images();
        if docker && s.image.as_deref().is_none_or(str::is_empty) {
            problem(
                "/image",
                "required with backend = \"docker\" or \"kubernetes\", e.g. \"berth/example-server\"",
            );
        }
        if let Some(image) = s.image.as_deref().filter(|i| !i.is_empty())
            && let Err(m) = check_image_reference(image)
        {
            problem("/image", &m);
        }
        if s.transport == Transport::Http && !docker {
            problem(
                "/transport",
                "\"http\" needs backend = \"docker\" or \"kubernetes\" (Berth reaches the server's port on its internal network or Pod IP)",
            );
        }
        if s.transport == Transport::Http && s.port == 0 {
            problem(
                "/port",
                "an HTTP-transport server needs a port (1-65535), e.g. port = 8080",
            );
        }
        if s.transport == Transport::Http && !s.path.starts_with('/') {
            problem(
                "/path",
                "an HTTP-transport server needs a path starting with `/`, e.g. path = \"/mcp\"",
            );
        }
        if !docker && (s.command.is_empty() || s.command[0].is_empty()) {
            problem(
                "/command",
                "must name a program, e.g. [\"npx\", \"-y\", \"@modelcontextprotocol/server-everything\"]",
            );
        }
        if let Err(m) = parse_size(&s.memory) {
            problem("/memory", &m);
        }
        if !(s.cpus > 0.0 && s.cpus <= 64.0) {
            problem("/cpus", "must be between 0 and 64");
        }
        if s.pids < 8 {
            problem("/pids", "must be at least 8");
        }
        if s.idle_timeout.is_zero() {
            problem("/idle_timeout", "must be greater than zero");
        }
        out.extend(check_refs(self, s));
        out.extend(check_placement(&s.kubernetes));
        out
    }
}

/// Checks a server's `kubernetes` placement: names and toleration values
/// Kubernetes would refuse.
fn check_placement(p: &super::server::Placement) -> Vec<Problem> {
    let mut out = Vec::new();
    if let Some(class) = &p.runtime_class_name
        && let Err(m) = check_name(class)
    {
        out.push(Problem::new("/kubernetes/runtime_class_name", &m));
    }
    for (label, value) in &p.node_selector {
        if label.is_empty() || label.len() > 253 || value.len() > 63 {
            out.push(Problem::new(
                "/kubernetes/node_selector",
                &format!(
                    "`{label}`: a node label key (1-253 characters) with a value of at most 63"
                ),
            ));
        }
    }
    for (i, t) in p.tolerations.iter().enumerate() {
        let at = format!("/kubernetes/tolerations/{i}");
        match t.operator.as_deref() {
            None | Some("Equal") => {}
            Some("Exists") if t.value.as_deref().is_some_and(|v| !v.is_empty()) => {
                out.push(Problem::new(
                    &format!("{at}/value"),
                    "must be empty with operator = \"Exists\"",
                ))
            }
            Some("Exists") => {}
            Some(_) => out.push(Problem::new(
                &format!("{at}/operator"),
                "must be `Equal` or `Exists`",
            )),
        }
        if let Some(effect) = t.effect.as_deref()
            && !matches!(effect, "" | "NoSchedule" | "PreferNoSchedule" | "NoExecute")
        {
            out.push(Problem::new(
                &format!("{at}/effect"),
                "must be `NoSchedule`, `PreferNoSchedule` or `NoExecute` (empty: all)",
            ));
        }
        if t.key.as_deref().is_none_or(str::is_empty) && t.operator.as_deref() != Some("Exists") {
            out.push(Problem::new(
                &format!("{at}/key"),
                "required unless operator = \"Exists\"",
            ));
        }
    }
    out
}

/// One problem of a deployment: where (a JSON pointer into it, RFC 6901)
/// and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    /// JSON pointer into the deployment, e.g. `/secrets/0/path`.
    pub pointer: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl Problem {
    /// A problem at `pointer`.
    pub(crate) fn new(pointer: &str, message: &str) -> Self {
        Problem {
            pointer: pointer.to_owned(),
            message: message.to_owned(),
        }
    }

    /// The pointer as a config key suffix: `/secrets/0/path` ->
    /// `.secrets[0].path`.
    fn dotted(&self) -> String {
        let mut out = String::new();
        for part in self.pointer.split('/').skip(1) {
            if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
                out.push_str(&format!("[{part}]"));
            } else {
                out.push('.');
                out.push_str(part);
            }
        }
        out
    }
}

fn key(k: &str, m: &str) -> ConfigError {
    ConfigError::Key {
        key: k.to_owned(),
        message: m.to_owned(),
    }
}

/// Headers Berth sets itself on requests to HTTP backends; a secret may
/// not replace them.
const RESERVED_HEADERS: &[&str] = &[
    "accept",
    "connection",
    "content-length",
    "content-type",
    "host",
    "te",
    "transfer-encoding",
    "upgrade",
];

/// Whether Berth sets the (lowercase) header `name` itself.
fn is_reserved_header(name: &str) -> bool {
    RESERVED_HEADERS.contains(&name)
        || [MCP_SESSION_ID, MCP_PROTOCOL_VERSION, LAST_EVENT_ID]
            .iter()
            .any(|h| h.as_str() == name)
}

/// Checks `[vault]` and `keys.vault_path`; errors are (key, message).
fn check_vault(config: &Config) -> Result<(), (&'static str, String)> {
    let vault = &config.vault;
    let Some(address) = &vault.address else {
        if config.keys.vault_path.is_some() {
            return Err(("keys.vault_path", "needs `vault.address`".into()));
        }
        return Ok(());
    };
    if !url::Url::parse(address).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
        return Err((
            "vault.address",
            "must be an http(s) URL, e.g. https://vault.example.com:8200".into(),
        ));
    }
    berth_auth::vault::check_prefix(&vault.tenant_prefix)
        .map_err(|m| ("vault.tenant_prefix", m))?;
    if vault.timeout.is_zero() {
        return Err(("vault.timeout", "must be greater than zero".into()));
    }
    match vault.auth {
        VaultAuthMethod::Approle => {
            if vault.role_id.is_none() {
                return Err((
                    "vault.role_id",
                    "required with vault.auth = \"approle\"".into(),
                ));
            }
            if vault.secret_id.is_none() && vault.secret_id_file.is_none() {
                return Err((
                    "vault.secret_id",
                    "required with vault.auth = \"approle\" (or set vault.secret_id_file)".into(),
                ));
            }
        }
        VaultAuthMethod::Kubernetes if vault.role.is_none() => {
            return Err((
                "vault.role",
                "required with vault.auth = \"kubernetes\"".into(),
            ));
        }
        VaultAuthMethod::Token if vault.token.is_none() && vault.token_file.is_none() => {
            return Err((
                "vault.token",
                "required with vault.auth = \"token\" (or set vault.token_file)".into(),
            ));
        }
        _ => {}
    }
    Ok(())
}

/// Problems of one server's secret refs, at `/secrets/{i}[/field]`.
fn check_refs(config: &Config, server: &ServerConfig) -> Vec<Problem> {
    let mut out = Vec::new();
    for (i, secret) in server.secrets.iter().enumerate() {
        if let Err((field, m)) = check_ref(config, server, secret) {
            out.push(Problem::new(&format!("/secrets/{i}{field}"), &m));
        }
    }
    out
}

/// The first problem of one secret ref, as (`/field` or "", message).
fn check_ref(
    config: &Config,
    server: &ServerConfig,
    secret: &SecretRef,
) -> Result<(), (&'static str, String)> {
    {
        let at = |field: &'static str| field;
        if config.vault.address.is_none() {
            return Err((
                at(""),
                "secret refs need `vault.address` (and Berth's Vault login)".into(),
            ));
        }
        berth_auth::vault::check_template(&secret.path)
            .map_err(|m| (at("/path"), format!("path {m}")))?;
        if secret.key.is_empty() {
            return Err((at("/key"), "must name a field of the secret".into()));
        }
        match (&secret.env, &secret.header) {
            (Some(name), None) => {
                let ok = name
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
                if !ok {
                    return Err((
                        at("/env"),
                        format!("`{name}` is not an env var name; use A-Z, 0-9 and _"),
                    ));
                }
                if server.env.contains_key(name) {
                    return Err((
                        at("/env"),
                        format!("`{name}` is also set in `env`; keep one"),
                    ));
                }
                if server.warm_pool > 0 {
                    return Err((
                        at("/env"),
                        "env secrets are read when an instance starts for a caller, so they cannot go with `warm_pool` (pooled instances start before anyone calls); set warm_pool = 0 or deliver it as a header".into(),
                    ));
                }
            }
            (None, Some(name)) => {
                if server.transport != Transport::Http {
                    return Err((
                        at("/header"),
                        "headers need transport = \"http\"; use `env` for stdio servers".into(),
                    ));
                }
                let lower = name.to_ascii_lowercase();
                if http::HeaderName::from_bytes(lower.as_bytes()).is_err() {
                    return Err((at("/header"), format!("`{name}` is not a header name")));
                }
                if is_reserved_header(&lower) {
                    return Err((
                        at("/header"),
                        format!("`{name}` is set by Berth itself; choose another header"),
                    ));
                }
                if http::HeaderValue::from_str(&secret.value_prefix).is_err() {
                    return Err((at("/value_prefix"), "must be visible ASCII".into()));
                }
            }
            _ => {
                return Err((
                    at(""),
                    "set exactly one of `env` (instance start) or `header` (each request)".into(),
                ));
            }
        }
    }
    Ok(())
}
