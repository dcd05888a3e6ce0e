//! The servers this pod hosts: one table of [`HostedServer`]s, read on
//! every request and changeable while Berth runs.
//!
//! Config-file servers are loaded at start; [`ServerTable::insert`] and
//! [`ServerTable::remove`] add, replace and remove servers later (the
//! control plane's deploys) without a restart. Readers never lock: the
//! table is an immutable map behind an [`ArcSwap`], replaced whole on each
//! change (changes are rare, reads are per request). Every change is also
//! announced on a broadcast channel, so backends can fill or drain warm
//! pools ([`ServerTable::changes`]).
//!
//! May import: `config`, `backend` (a server's [`ServerSpec`]), `protocol`
//! (eras) and external crates. Must not import `hosting`, `http`, `mcp` or `app`.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use tokio::sync::{OnceCell, broadcast};

use crate::backend::{Pinned, SecretEnv, ServerSpec};
use crate::config::{Config, ServerConfig, parse_size};
use crate::protocol::{ApprovedSet, Era};

/// A notice added to the `_meta` of every answer of a server (its
/// deprecation), shared by every definition and session of the server so
/// a change reaches sessions already running.
pub(crate) type Notice = Arc<arc_swap::ArcSwapOption<serde_json::Value>>;

/// Where the table finds a version it does not host (the registry): a
/// session taken over after a rollout goes on with the version it
/// started on.
#[async_trait::async_trait]
pub(crate) trait VersionSource: Send + Sync {
    /// Version `version` of `tenant/name`, if it is known.
    async fn version(&self, tenant: &str, name: &str, version: u32) -> Option<VersionDefinition>;
}

/// What a [`VersionSource`] knows of one version.
pub(crate) struct VersionDefinition {
    /// Its deployment.
    pub config: ServerConfig,
    /// What it was pinned to when deployed.
    pub pinned: Pinned,
    /// What was approved for it.
    pub approved: Option<Arc<ApprovedSet>>,
}

/// A drift a session saw, for the registry to record.
#[derive(Clone, Debug)]
pub(crate) struct DriftReport {
    /// Tenant.
    pub tenant: String,
    /// Server.
    pub server: String,
    /// The version the session runs.
    pub version: u32,
    /// What was seen.
    pub drift: crate::protocol::Drift,
}

/// The next [`HostedServer::definition`].
static NEXT_DEFINITION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Changes a slow subscriber may fall behind by before it misses some.
const CHANGE_BACKLOG: usize = 256;

/// A hosted server: its deployment, its public URLs and what the backend
/// runs for it.
#[derive(Debug)]
pub struct HostedServer {
    /// Tenant.
    pub tenant: String,
    /// Server name.
    pub name: String,
    /// Deployment configuration.
    pub config: ServerConfig,
    /// Canonical resource URL (the token audience).
    pub resource: String,
    /// RFC 9728 metadata URL.
    pub metadata_url: String,
    /// Scopes required for this server (Berth-wide ones included).
    pub scopes: Vec<String>,
    /// What the backend runs for it, independent of any caller (warm
    /// pools start from it; sessions add the caller's secrets).
    pub(crate) spec: ServerSpec,
    /// What was approved for this version (tools, prompts, resources with
    /// fingerprints); listings and calls are held to it. `None`: not
    /// held (config-file servers).
    pub(crate) approved: Option<Arc<ApprovedSet>>,
    /// The server's deprecation notice, if it is deprecated.
    pub(crate) notice: Notice,
    /// Where its sessions report drift from `approved`.
    pub(crate) drift: tokio::sync::mpsc::UnboundedSender<DriftReport>,
    /// Unique per definition (each insert makes a new one): a failure of
    /// one definition says nothing about the next.
    pub(crate) definition: u64,
    /// The registry version this definition is (`None`: from the config
    /// file).
    pub version: Option<u32>,
    /// Which era the server speaks to stateless agents' sessions: found
    /// out once per definition (a redeploy asks again), by the first
    /// session that needs to know.
    pub(crate) backend_era: OnceCell<Era>,
}

/// A change to the table.
#[derive(Clone, Debug)]
pub enum ServerChange {
    /// A server was added, or replaced by a new definition.
    Added(Arc<HostedServer>),
    /// A server was removed.
    Removed(Arc<HostedServer>),
}

/// The servers this pod hosts; a cheap `Clone` handle.
#[derive(Clone)]
pub struct ServerTable {
    inner: Arc<Inner>,
}

type Map = HashMap<String, HashMap<String, Arc<HostedServer>>>;

struct Inner {
    current: ArcSwap<Map>,
    /// Serializes writers (read-copy-update); readers never take it.
    write: Mutex<()>,
    changes: broadcast::Sender<ServerChange>,
    urls: Urls,
    spec_limits: SpecLimits,
    /// Why a server that is not hosted cannot be called (no active
    /// version, decommissioned), for the error agents get.
    unavailable: parking_lot::RwLock<HashMap<(String, String), String>>,
    /// Each server's notice handle (see [`Notice`]).
    notices: parking_lot::RwLock<HashMap<(String, String), Notice>>,
    /// Drift reports from sessions, and their one reader.
    drift_tx: tokio::sync::mpsc::UnboundedSender<DriftReport>,
    drift_rx: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<DriftReport>>>,
    /// Where versions the table does not host are found.
    versions: OnceLock<Arc<dyn VersionSource>>,
}

/// How a server's public URLs and scopes are made.
struct Urls {
    public_base: String,
    required_scopes: Vec<String>,
}

/// Berth-wide limits that go into every [`ServerSpec`].
#[derive(Clone, Copy)]
struct SpecLimits {
    max_message_bytes: usize,
    shutdown_grace: Duration,
}

// === impl ServerTable ===

impl ServerTable {
    /// A table holding the servers of `config`.
    pub fn from_config(config: &Config) -> Self {
        let (changes, _) = broadcast::channel(CHANGE_BACKLOG);
        let (drift_tx, drift_rx) = tokio::sync::mpsc::unbounded_channel();
        let table = ServerTable {
            inner: Arc::new(Inner {
                current: ArcSwap::from_pointee(Map::new()),
                write: Mutex::new(()),
                changes,
                urls: Urls {
                    public_base: config.public_base(),
                    required_scopes: config.auth.required_scopes.clone(),
                },
                spec_limits: SpecLimits {
                    max_message_bytes: config.limits.max_message_bytes,
                    // Each step of an instance's stop ladder; a pod's own
                    // drain bounds the total.
                    shutdown_grace: config.limits.shutdown_grace.min(Duration::from_secs(5)),
                },
                unavailable: parking_lot::RwLock::default(),
                notices: parking_lot::RwLock::default(),
                drift_tx,
                drift_rx: Mutex::new(Some(drift_rx)),
                versions: OnceLock::new(),
            }),
        };
        for (tenant, list) in &config.servers {
            for (name, server) in list {
                table.insert(tenant, name, server.clone());
            }
        }
        table
    }

    /// The server `tenant/name`, if hosted.
    pub fn get(&self, tenant: &str, name: &str) -> Option<Arc<HostedServer>> {
        self.inner.current.load().get(tenant)?.get(name).cloned()
    }

    /// Every hosted server.
    pub fn list(&self) -> Vec<Arc<HostedServer>> {
        let map = self.inner.current.load();
        let mut all: Vec<_> = map.values().flat_map(|m| m.values().cloned()).collect();
        all.sort_by(|a, b| (&a.tenant, &a.name).cmp(&(&b.tenant, &b.name)));
        all
    }

    /// Adds `tenant/name`, or replaces its definition: requests read the
    /// new one from now on; sessions already running keep the instance
    /// they started with.
    pub fn insert(&self, tenant: &str, name: &str, config: ServerConfig) -> Arc<HostedServer> {
        self.put(self.hosted(tenant, name, config, None))
    }

    /// [`ServerTable::insert`] for version `version` of a registry server,
    /// running exactly what it was pinned to when it was deployed.
    pub(crate) fn insert_version(
        &self,
        tenant: &str,
        name: &str,
        config: ServerConfig,
        version: u32,
        pinned: &Pinned,
        approved: Option<Arc<ApprovedSet>>,
    ) -> Arc<HostedServer> {
        self.put(self.versioned(tenant, name, config, version, pinned, approved))
    }

    /// Sets where versions the table does not host are found (once).
    pub(crate) fn set_version_source(&self, source: Arc<dyn VersionSource>) {
        let _ = self.inner.versions.set(source);
    }

    /// Version `version` of `tenant/name` for a session that started on
    /// it: the hosted definition when it is that version, else one made
    /// from the [`VersionSource`] (never hosted: new sessions do not get
    /// it). `None` when neither knows the version.
    pub(crate) async fn version_of(
        &self,
        tenant: &str,
        name: &str,
        version: u32,
    ) -> Option<Arc<HostedServer>> {
        if let Some(hosted) = self
            .get(tenant, name)
            .filter(|s| s.version == Some(version))
        {
            return Some(hosted);
        }
        let source = self.inner.versions.get()?.clone();
        let found = source.version(tenant, name, version).await?;
        let hosted = self.versioned(
            tenant,
            name,
            found.config,
            version,
            &found.pinned,
            found.approved,
        );
        Some(Arc::new(hosted))
    }

    /// A definition of version `version`, pinned and held to `approved`.
    fn versioned(
        &self,
        tenant: &str,
        name: &str,
        config: ServerConfig,
        version: u32,
        pinned: &Pinned,
        approved: Option<Arc<ApprovedSet>>,
    ) -> HostedServer {
        let mut hosted = self.hosted(tenant, name, config, Some(version));
        hosted.approved = approved;
        pin(&mut hosted.spec, pinned);
        hosted
    }

    /// What the backend would run for `config` as `tenant/name`: as is (to
    /// pin it at deploy time), or as `pinned` when it was deployed.
    pub(crate) fn spec_for(
        &self,
        tenant: &str,
        name: &str,
        config: &ServerConfig,
        pinned: Option<&Pinned>,
    ) -> ServerSpec {
        let mut spec = spec(tenant, name, config, self.inner.spec_limits);
        if let Some(pinned) = pinned {
            pin(&mut spec, pinned);
        }
        spec
    }

    /// Why `tenant/name` cannot be called, when the registry knows it but
    /// it is not hosted.
    pub fn unavailable(&self, tenant: &str, name: &str) -> Option<String> {
        self.inner
            .unavailable
            .read()
            .get(&(tenant.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Records (or clears) why `tenant/name` cannot be called.
    pub(crate) fn set_unavailable(&self, tenant: &str, name: &str, reason: Option<String>) {
        let key = (tenant.to_owned(), name.to_owned());
        let mut map = self.inner.unavailable.write();
        match reason {
            Some(r) => map.insert(key, r),
            None => map.remove(&key),
        };
    }

    /// Sets (or clears) the deprecation notice of `tenant/name`: every
    /// answer of the server carries it in `_meta` from now on, sessions
    /// already running included.
    pub(crate) fn set_notice(&self, tenant: &str, name: &str, notice: Option<serde_json::Value>) {
        self.notice_of(tenant, name).store(notice.map(Arc::new));
    }

    /// The shared notice handle of `tenant/name`.
    fn notice_of(&self, tenant: &str, name: &str) -> Notice {
        let key = (tenant.to_owned(), name.to_owned());
        if let Some(n) = self.inner.notices.read().get(&key) {
            return n.clone();
        }
        self.inner.notices.write().entry(key).or_default().clone()
    }

    fn put(&self, hosted: HostedServer) -> Arc<HostedServer> {
        let hosted = Arc::new(hosted);
        self.set_unavailable(&hosted.tenant, &hosted.name, None);
        let _writer = self.inner.write.lock();
        let mut map = Map::clone(&self.inner.current.load());
        map.entry(hosted.tenant.clone())
            .or_default()
            .insert(hosted.name.clone(), hosted.clone());
        self.inner.current.store(Arc::new(map));
        let _ = self.inner.changes.send(ServerChange::Added(hosted.clone()));
        hosted
    }

    /// Removes `tenant/name`: new requests get 404 from now on.
    pub fn remove(&self, tenant: &str, name: &str) -> Option<Arc<HostedServer>> {
        let _writer = self.inner.write.lock();
        let mut map = Map::clone(&self.inner.current.load());
        let servers = map.get_mut(tenant)?;
        let removed = servers.remove(name)?;
        if servers.is_empty() {
            map.remove(tenant);
        }
        self.inner.current.store(Arc::new(map));
        let _ = self
            .inner
            .changes
            .send(ServerChange::Removed(removed.clone()));
        Some(removed)
    }

    /// The drift reports of every session (taken once, by whoever records
    /// them).
    pub(crate) fn take_drift_reports(
        &self,
    ) -> Option<tokio::sync::mpsc::UnboundedReceiver<DriftReport>> {
        self.inner.drift_rx.lock().take()
    }

    /// Every change from now on.
    pub fn changes(&self) -> broadcast::Receiver<ServerChange> {
        self.inner.changes.subscribe()
    }

    /// The canonical resource URL of `tenant/name` (hosted or not).
    pub fn resource_url(&self, tenant: &str, name: &str) -> String {
        format!("{}/mcp/{tenant}/{name}", self.inner.urls.public_base)
    }

    /// The RFC 9728 metadata URL of `tenant/name` (hosted or not).
    pub fn metadata_url(&self, tenant: &str, name: &str) -> String {
        format!(
            "{}/.well-known/oauth-protected-resource/mcp/{tenant}/{name}",
            self.inner.urls.public_base
        )
    }

    /// Scopes every server requires.
    pub fn required_scopes(&self) -> &[String] {
        &self.inner.urls.required_scopes
    }

    fn hosted(
        &self,
        tenant: &str,
        name: &str,
        config: ServerConfig,
        version: Option<u32>,
    ) -> HostedServer {
        let mut scopes = self.inner.urls.required_scopes.clone();
        scopes.extend(config.required_scopes.iter().cloned());
        HostedServer {
            tenant: tenant.to_owned(),
            name: name.to_owned(),
            resource: self.resource_url(tenant, name),
            metadata_url: self.metadata_url(tenant, name),
            scopes,
            spec: ServerSpec {
                version,
                ..spec(tenant, name, &config, self.inner.spec_limits)
            },
            backend_era: OnceCell::new(),
            approved: None,
            notice: self.notice_of(tenant, name),
            drift: self.inner.drift_tx.clone(),
            definition: NEXT_DEFINITION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            version,
            config,
        }
    }
}

/// Makes `spec` run exactly what a version was pinned to.
fn pin(spec: &mut ServerSpec, pinned: &Pinned) {
    if let Some(image) = &pinned.image {
        spec.image = Some(image.clone());
    }
    spec.executable_digest = pinned.executable.as_ref().map(|(_, d)| d.clone());
}

/// What the backend runs for `tenant/name`, caller-independent.
fn spec(tenant: &str, name: &str, config: &ServerConfig, limits: SpecLimits) -> ServerSpec {
    ServerSpec {
        tenant: tenant.to_owned(),
        server: name.to_owned(),
        version: None,
        transport: config.transport,
        port: config.port,
        path: config.path.clone(),
        command: config.command.clone(),
        env: config.env.clone(),
        secret_env: SecretEnv::default(),
        call_headers: None,
        param_headers: Arc::default(),
        cwd: config.cwd.clone(),
        max_message_bytes: limits.max_message_bytes,
        shutdown_grace: limits.shutdown_grace,
        image: config.image.clone(),
        executable_digest: None,
        // Validated at config load (or deploy) time.
        memory_bytes: parse_size(&config.memory).unwrap_or(256 << 20),
        nano_cpus: (config.cpus * 1e9) as i64,
        pids: config.pids,
        network: config.network.clone(),
        warm_pool: config.warm_pool,
        idle_timeout: config.idle_timeout,
        placement: config.kubernetes.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let mut c = Config {
            public_url: Some("https://mcp.example.com/".into()),
            ..Config::default()
        };
        c.auth.required_scopes = vec!["mcp".into()];
        let files = ServerConfig {
            command: vec!["/bin/cat".into()],
            required_scopes: vec!["files:read".into()],
            ..ServerConfig::default()
        };
        c.servers
            .entry("acme".into())
            .or_default()
            .insert("files".into(), files);
        c
    }

    #[test]
    fn config_servers_are_loaded_with_their_urls_scopes_and_spec() {
        let table = ServerTable::from_config(&config());
        let s = table.get("acme", "files").expect("loaded from config");
        assert_eq!(s.resource, "https://mcp.example.com/mcp/acme/files");
        assert_eq!(
            s.metadata_url,
            "https://mcp.example.com/.well-known/oauth-protected-resource/mcp/acme/files"
        );
        assert_eq!(s.scopes, ["mcp", "files:read"]);
        assert_eq!(s.spec.command, ["/bin/cat"]);
        assert_eq!(s.spec.memory_bytes, 256 << 20);
        assert!(table.get("acme", "other").is_none());
        assert!(table.get("globex", "files").is_none());
    }

    #[test]
    fn servers_are_added_replaced_and_removed_while_readers_keep_what_they_hold() {
        let table = ServerTable::from_config(&config());
        let mut changes = table.changes();
        let before = table.get("acme", "files").unwrap();
        let web = ServerConfig {
            command: vec!["/bin/web".into()],
            ..ServerConfig::default()
        };
        table.insert("globex", "web", web);
        assert_eq!(
            table.get("globex", "web").unwrap().spec.command,
            ["/bin/web"]
        );
        let replacement = ServerConfig {
            command: vec!["/bin/cat".into(), "-u".into()],
            ..ServerConfig::default()
        };
        table.insert("acme", "files", replacement);
        assert_eq!(
            table.get("acme", "files").unwrap().spec.command,
            ["/bin/cat", "-u"]
        );
        // A request that read the old definition keeps it.
        assert_eq!(before.spec.command, ["/bin/cat"]);
        assert_eq!(
            table
                .list()
                .iter()
                .map(|s| format!("{}/{}", s.tenant, s.name))
                .collect::<Vec<_>>(),
            ["acme/files", "globex/web"]
        );
        assert!(table.remove("globex", "web").is_some());
        assert!(table.get("globex", "web").is_none());
        assert!(table.remove("globex", "web").is_none(), "already gone");
        let seen: Vec<String> = std::iter::from_fn(|| changes.try_recv().ok())
            .map(|c| match c {
                ServerChange::Added(s) => format!("+{}/{}", s.tenant, s.name),
                ServerChange::Removed(s) => format!("-{}/{}", s.tenant, s.name),
            })
            .collect();
        assert_eq!(seen, ["+globex/web", "+acme/files", "-globex/web"]);
    }

    #[test]
    fn urls_of_unknown_servers_follow_the_same_scheme() {
        let table = ServerTable::from_config(&config());
        assert_eq!(
            table.resource_url("x", "y"),
            "https://mcp.example.com/mcp/x/y"
        );
        assert_eq!(table.required_scopes(), ["mcp"]);
    }
}
