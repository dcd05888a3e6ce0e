//! Typed configuration with the embedded defaults.
//!
//! Every default here is what `berth demo` runs with; the comments say why.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;
use super::vault::{SecretRef, VaultConfig};

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the data plane (MCP + well-known endpoints) listens on.
    pub listen: SocketAddr,
    /// Public base URL agents use (scheme://host[:port]); the canonical
    /// resource URL of a server is `{public_url}/mcp/{tenant}/{server}`.
    /// Defaults to `http://{listen}`.
    pub public_url: Option<String>,
    /// Directory for the dev issuer key and the embedded session keys.
    pub state_dir: PathBuf,
    /// Name of this runtime pod (labels, leases). Defaults to hostname-pid.
    pub pod_name: Option<String>,
    /// Request and resource limits.
    pub limits: Limits,
    /// Origin and Host checks.
    pub security: Security,
    /// Token validation.
    pub auth: AuthConfig,
    /// Session record storage.
    pub store: StoreConfig,
    /// How pods reach each other.
    pub cluster: ClusterConfig,
    /// Session sealing keys.
    pub keys: KeysConfig,
    /// Vault (or OpenBao): deployments' secrets and, optionally, the
    /// session keys.
    pub vault: VaultConfig,
    /// Where server instances run.
    pub backend: BackendKind,
    /// The Docker backend's engine connection and limits.
    pub docker: DockerConfig,
    /// Hosted servers: `servers.<tenant>.<server>`.
    pub servers: BTreeMap<String, BTreeMap<String, ServerConfig>>,
}

/// Limits that protect Berth from clients and servers.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body (HTTP 413 above). MCP messages are small; 4 MiB
    /// leaves room for inline images while bounding memory per request.
    pub max_body_bytes: usize,
    /// Largest total size of request headers (HTTP 431 above).
    pub max_header_bytes: usize,
    /// Time a client has to send its request headers (slow-loris guard).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Default time a server has to answer a request.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Largest single message accepted from a server.
    pub max_message_bytes: usize,
    /// Events kept per SSE stream for `Last-Event-ID` replay.
    pub stream_events: usize,
    /// Hosting sessions this pod runs at once (HTTP 503 above).
    pub max_sessions: usize,
    /// A legacy (2025-11-25) request not answered within this long is
    /// switched to SSE with a priming event, so the agent can resume it
    /// with `Last-Event-ID` if its connection drops.
    #[serde(with = "humantime_serde")]
    pub sse_prime_after: Duration,
    /// When set, a primed request stream with no event for this long is
    /// closed and the agent polls with `Last-Event-ID` (SEP-1699); frees
    /// connections held by long calls. Off by default.
    #[serde(with = "humantime_serde::option")]
    pub sse_poll_close: Option<Duration>,
    /// Time allowed for draining connections on shutdown.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

/// Origin validation and DNS-rebinding protection.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Security {
    /// Origins allowed in the `Origin` header besides the public URL's own
    /// origin (and loopback origins when listening on loopback).
    pub allowed_origins: Vec<String>,
    /// Host header values allowed besides the public URL's host (and
    /// loopback names when listening on loopback).
    pub allowed_hosts: Vec<String>,
}

/// How bearer tokens are validated.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// `dev` (built-in issuer, key in the state dir) or `jwt` (external issuer).
    pub mode: AuthMode,
    /// Expected `iss` (mode `jwt`).
    pub issuer: Option<String>,
    /// JWKS file with the issuer's public keys (mode `jwt`).
    pub jwks_file: Option<PathBuf>,
    /// Audiences accepted besides each endpoint's canonical URL.
    pub extra_audiences: Vec<String>,
    /// Allowed clock skew when checking `exp`/`nbf`, in seconds.
    pub leeway_secs: u64,
    /// Scopes every MCP request needs (per-server scopes add to these).
    pub required_scopes: Vec<String>,
    /// How often the issuer's JWKS is refetched (mode `oidc`); a token
    /// naming an unknown key id also triggers a refetch.
    #[serde(with = "humantime_serde")]
    pub jwks_refresh: Duration,
    /// Which token claims hold tenant, subject, client id, scopes and
    /// groups (modes `jwt` and `oidc`).
    pub claims: berth_auth::ClaimMapping,
    /// Berth's client at the issuer for RFC 7662 introspection of opaque
    /// tokens (mode `oidc`); absent: opaque tokens are refused.
    pub introspection: Option<IntrospectionConfig>,
}

/// `[auth.introspection]`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionConfig {
    /// Berth's client id at the issuer.
    pub client_id: String,
    /// Its secret (set it through the environment in production).
    pub client_secret: String,
    /// The endpoint; default: the discovery document's
    /// `introspection_endpoint`.
    #[serde(default)]
    pub endpoint: Option<String>,
}

impl std::fmt::Debug for IntrospectionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionConfig")
            .field("client_id", &self.client_id)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// Token validation mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// The built-in dev issuer (embedded default).
    #[default]
    Dev,
    /// An external OAuth 2.1 authorization server issuing JWTs, keys from
    /// a JWKS file.
    Jwt,
    /// An external OpenID provider: keys discovered from `auth.issuer`
    /// and kept fresh over HTTP.
    Oidc,
}

/// Where session records live.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `memory` (embedded default, one pod), `redis://HOST[:PORT][/DB]` or
    /// `redis+sentinel://HOST[:PORT][,HOST[:PORT]...]/MASTER`.
    pub url: String,
    /// Replicas that must acknowledge a new session before it is handed
    /// to the agent (Redis `WAIT`); set >= 1 with replicas and Sentinel so
    /// a primary failover loses no acknowledged session.
    pub min_replicas_acked: usize,
    /// Upper bound for one store operation.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
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

/// Which backend runs server instances.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Child processes over stdio (embedded default).
    #[default]
    Process,
    /// One container per hosting session.
    Docker,
}

/// The Docker engine and the limits of the docker backend.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DockerConfig {
    /// Engine socket (`unix:///path`); default `$DOCKER_HOST` or
    /// `unix:///var/run/docker.sock`.
    pub host: Option<String>,
    /// Containers this pod runs at once, warm pools included (HTTP 503 above).
    pub max_containers: usize,
    /// Containers one tenant may run on this pod at once.
    pub max_containers_per_tenant: usize,
    /// User the server process runs as inside the container.
    pub user: String,
    /// Size of the writable `/tmp` tmpfs.
    pub tmpfs_size: String,
    /// How often orphaned containers are looked for.
    #[serde(with = "humantime_serde")]
    pub sweep_every: Duration,
    /// Internal (no route out) network Berth creates to reach servers with
    /// `transport = "http"`.
    pub internal_network: String,
}

/// How Berth speaks MCP to a server instance.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Newline-delimited JSON-RPC over the instance's stdin/stdout.
    #[default]
    Stdio,
    /// Streamable HTTP to `http://{instance address}:{port}{path}`.
    Http,
}

/// One hosted MCP server.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// How Berth speaks MCP to the server: over its stdio, or over
    /// Streamable HTTP to the port it listens on (docker backend).
    pub transport: Transport,
    /// Port an HTTP-transport server listens on inside its container.
    pub port: u16,
    /// Path of an HTTP-transport server's MCP endpoint.
    pub path: String,
    /// Program and arguments (the container's command with docker).
    pub command: Vec<String>,
    /// Environment for each instance.
    pub env: BTreeMap<String, String>,
    /// Working directory of each instance (process backend).
    pub cwd: Option<PathBuf>,
    /// Close hosting sessions unused for this long.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Time the server has to answer a request (default: `limits.request_timeout`).
    #[serde(with = "humantime_serde::option")]
    pub request_timeout: Option<Duration>,
    /// Scopes a principal needs to use this server.
    pub required_scopes: Vec<String>,
    /// Image to run (docker backend), e.g. `berth/example-server`; pinned
    /// to its digest when an instance starts.
    pub image: Option<String>,
    /// Memory limit per instance (docker), e.g. `256m`, `1g`.
    pub memory: String,
    /// CPU limit per instance (docker), in cores.
    pub cpus: f64,
    /// Process/thread limit per instance (docker).
    pub pids: i64,
    /// Docker network granting egress (docker); none when unset.
    pub network: Option<String>,
    /// Started, unclaimed instances kept ready (docker).
    pub warm_pool: usize,
    /// Secrets from Vault, resolved when a call needs them.
    pub secrets: Vec<SecretRef>,
}

// === impl Config ===

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            state_dir: PathBuf::from(".berth"),
            pod_name: None,
            limits: Limits::default(),
            security: Security::default(),
            auth: AuthConfig::default(),
            store: StoreConfig::default(),
            cluster: ClusterConfig::default(),
            keys: KeysConfig::default(),
            vault: VaultConfig::default(),
            backend: BackendKind::default(),
            docker: DockerConfig::default(),
            servers: BTreeMap::new(),
        }
    }
}

impl Config {
    /// The public base URL without trailing slash.
    pub fn public_base(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// Checks cross-field rules; errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let key = |k: &str, m: &str| ConfigError::Key {
            key: k.to_owned(),
            message: m.to_owned(),
        };
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
        if let Some(u) = &self.cluster.advertise_url
            && !url::Url::parse(u).is_ok_and(|p| p.scheme() == "http" || p.scheme() == "https")
        {
            return Err(key(
                "cluster.advertise_url",
                "must be an http(s) URL other pods can reach, e.g. http://10.0.3.7:8080",
            ));
        }
        if self.store.url != "memory"
            && !self.store.url.starts_with("redis://")
            && !self.store.url.starts_with("redis+sentinel://")
        {
            return Err(key(
                "store.url",
                "must be `memory`, `redis://HOST:PORT` or `redis+sentinel://HOST:PORT/MASTER`",
            ));
        }
        if self.store.timeout.is_zero() {
            return Err(key("store.timeout", "must be greater than zero"));
        }
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
        super::vault::check_vault(self).map_err(|(k, m)| key(k, &m))?;
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
        for (tenant, servers) in &self.servers {
            check_name(tenant).map_err(|m| key(&format!("servers.{tenant}"), &m))?;
            for (name, s) in servers {
                let k = format!("servers.{tenant}.{name}");
                check_name(name).map_err(|m| key(&k, &m))?;
                let docker = self.backend == BackendKind::Docker;
                if docker && s.image.as_deref().is_none_or(str::is_empty) {
                    return Err(key(
                        &format!("{k}.image"),
                        "required with backend = \"docker\", e.g. \"berth/example-server\"",
                    ));
                }
                if s.transport == Transport::Http && !docker {
                    return Err(key(
                        &format!("{k}.transport"),
                        "\"http\" needs backend = \"docker\" (Berth reaches the server's port on its internal network)",
                    ));
                }
                if s.transport == Transport::Http && (s.port == 0 || !s.path.starts_with('/')) {
                    return Err(key(
                        &format!("{k}.path"),
                        "an HTTP-transport server needs a port (1-65535) and a path starting with `/`, e.g. port = 8080, path = \"/mcp\"",
                    ));
                }
                if !docker && (s.command.is_empty() || s.command[0].is_empty()) {
                    return Err(key(
                        &format!("{k}.command"),
                        "must name a program, e.g. [\"npx\", \"-y\", \"@modelcontextprotocol/server-everything\"]",
                    ));
                }
                parse_size(&s.memory).map_err(|m| key(&format!("{k}.memory"), &m))?;
                if !(s.cpus > 0.0 && s.cpus <= 64.0) {
                    return Err(key(&format!("{k}.cpus"), "must be between 0 and 64"));
                }
                if s.pids < 8 {
                    return Err(key(&format!("{k}.pids"), "must be at least 8"));
                }
                super::vault::check_refs(self, s)
                    .map_err(|(field, m)| key(&format!("{k}.secrets{field}"), &m))?;
                if s.idle_timeout.is_zero() {
                    return Err(key(
                        &format!("{k}.idle_timeout"),
                        "must be greater than zero",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Looks up a hosted server.
    pub fn server(&self, tenant: &str, server: &str) -> Option<&ServerConfig> {
        self.servers.get(tenant)?.get(server)
    }
}

/// Tenant and server names: 1–63 chars of `[a-z0-9-_]`, starting alphanumeric.
/// Keeps names safe in URLs, Redis keys, container labels and paths.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid name `{name}`: use 1-63 lowercase letters, digits, `-` or `_`, starting with a letter or digit"
        ))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 4 * 1024 * 1024,
            max_header_bytes: 64 * 1024,
            header_read_timeout: Duration::from_secs(10),
            // Long enough for tools that call out to slow APIs, short enough
            // that a hung server frees its agent within a minute.
            request_timeout: Duration::from_secs(60),
            max_message_bytes: 16 * 1024 * 1024,
            stream_events: 1024,
            max_sessions: 10_000,
            shutdown_grace: Duration::from_secs(10),
            // Long enough that quick answers stay plain JSON.
            sse_prime_after: Duration::from_millis(250),
            sse_poll_close: None,
        }
    }
}

impl Default for DockerConfig {
    fn default() -> Self {
        DockerConfig {
            host: None,
            max_containers: 500,
            max_containers_per_tenant: 100,
            // `nobody`: exists in every image, owns nothing.
            user: "65534:65534".into(),
            tmpfs_size: "64m".into(),
            sweep_every: Duration::from_secs(30),
            internal_network: "berth-internal".into(),
        }
    }
}

/// Parses a size like `256m`, `1g`, `512k` or plain bytes.
pub fn parse_size(s: &str) -> Result<i64, String> {
    let s = s.trim().to_ascii_lowercase();
    let (num, mult) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => {
            let mult = match &s[i..] {
                "k" | "kb" | "kib" => 1 << 10,
                "m" | "mb" | "mib" => 1 << 20,
                "g" | "gb" | "gib" => 1 << 30,
                "b" => 1,
                other => return Err(format!("unknown size unit `{other}`; use k, m or g")),
            };
            (&s[..i], mult)
        }
        None => (s.as_str(), 1),
    };
    let n: i64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a size like 256m"))?;
    n.checked_mul(mult)
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("`{s}` is out of range"))
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            mode: AuthMode::Dev,
            issuer: None,
            jwks_file: None,
            extra_audiences: Vec::new(),
            leeway_secs: 60,
            required_scopes: Vec::new(),
            jwks_refresh: Duration::from_secs(300),
            claims: berth_auth::ClaimMapping::default(),
            introspection: None,
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: "memory".into(),
            min_replicas_acked: 0,
            timeout: Duration::from_secs(2),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            transport: Transport::Stdio,
            port: 8080,
            path: "/mcp".into(),
            command: Vec::new(),
            env: BTreeMap::new(),
            cwd: None,
            // Ten minutes: agents pause between calls while the model thinks.
            idle_timeout: Duration::from_secs(600),
            request_timeout: None,
            required_scopes: Vec::new(),
            image: None,
            // Enough for typical Node/Python MCP servers.
            memory: "256m".into(),
            cpus: 1.0,
            pids: 128,
            network: None,
            warm_pool: 0,
            secrets: Vec::new(),
        }
    }
}
