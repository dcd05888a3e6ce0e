//! The server registry: deployed servers and their immutable versions,
//! stored durably and shared by every pod, and kept in the pod's
//! [`ServerTable`] so the data plane never asks the store on a request.
//!
//! Every change is read–change–compare-and-set on one [`ServerRecord`]
//! (its `revision` is the API's `ETag`), then its revision is raised in
//! an index record that every pod polls (`sync`; `watch`: the marker that
//! tells whether the index moved): a change made on one pod is live on
//! every pod within [`POLL`]. Records live in Redis
//! when the session store is Redis ([`SharedStore`]), in `registry.redb`
//! under the state dir otherwise ([`FileStore`]). Servers written in
//! `berth.toml` are "managed by config": listed, but never changed here.
//!
//! May import: `registry::*`, `servers` (the table it fills), `backend`
//! (pinning a deployment to its content), `config`, `audit`, external
//! crates. Must not import `http`, `mcp`, `control` or
//! `app`.
//!
//! # Layout
//! - `model`: the records; `lifecycle`: the state rules, as pure changes;
//! - `deployment`: reading a deployment document, every problem at once;
//! - `server_json`: the MCP Registry's `server.json`, in and out;
//! - `store`, `file_store`: where records live; `sync`: polling and
//!   applying records to the server table; `watch`: the change marker;
//!   `error`: [`RegistryError`].

mod deployment;
mod error;
mod file_store;
mod lifecycle;
mod model;
mod server_json;
mod store;
mod sync;
mod watch;

pub(crate) use self::error::RegistryError;
pub(crate) use self::model::{
    DataClassification, Metadata, RiskTier, ServerRecord, ServerState, VersionRecord,
};

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use berth_session_store::SessionStore;
use parking_lot::Mutex;

use self::file_store::FileStore;
use self::lifecycle::Act;
pub(crate) use self::model::DriftRecord;
use self::model::{ExecutablePin, NewVersion};
use self::store::{RegistryStore, SharedStore};
use crate::backend::{Backend, BackendError};
use crate::config::{Config, ControlConfig, Problem, check_name};
use crate::protocol::Approved;
use crate::servers::ServerTable;

/// How often every pod reads the index for changes made elsewhere.
pub(crate) const POLL: Duration = Duration::from_millis(250);

/// Store key of the index: every server's current revision.
const INDEX_KEY: &str = "berth:registry:index";

/// Attempts of one change against concurrent writers before giving up.
const ATTEMPTS: usize = 16;

/// The registry; a cheap `Clone` handle.
#[derive(Clone)]
pub(crate) struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    store: Box<dyn RegistryStore>,
    table: ServerTable,
    /// Pins deployments to their content.
    backend: Arc<dyn Backend>,
    /// The rules deployments are checked against (backend, Vault).
    config: Config,
    /// `tenant/name` of servers written in the config file.
    managed: HashSet<String>,
    /// What this pod applied to its table: `tenant/name` -> (revision,
    /// active version).
    applied: Mutex<BTreeMap<String, sync::Applied>>,
}

/// The index record: `tenant/name` -> revision.
type Index = BTreeMap<String, u64>;

/// Which change to make to a server, with who asks.
pub(crate) enum Change {
    /// A new version from a deployment document.
    Deploy(serde_json::Value),
    /// Approve version `v`, with what it offers (listed by starting it).
    Approve(u32, Option<Vec<Approved>>),
    /// Record what version `v` offers, if not recorded yet.
    SetCapabilities(u32, Vec<Approved>),
    /// Record a drift seen at run time on version `v`.
    RecordDrift(u32, DriftRecord),
    /// Activate version `v`.
    Activate(u32),
    /// Activate the previous approved version.
    Rollback,
    /// Deprecate, with an optional sunset date.
    Deprecate(Option<String>),
    /// Decommission.
    Decommission,
    /// Make a deployment the active version in one change (deploying and
    /// approving it if needed); nothing if it is active already.
    Ensure(serde_json::Value),
}

/// What a change did: the version it concerned, and the record after it.
pub(crate) struct Changed {
    /// The version deployed, approved, activated or rolled back to.
    pub version: Option<u32>,
    /// The record after the change.
    pub record: ServerRecord,
}

// === impl Registry ===

impl Registry {
    /// Opens the registry of `config`: in the shared session store when
    /// that is Redis, in the state dir's file otherwise; applies every
    /// record to `table`.
    pub(crate) async fn open(
        config: &Config,
        sessions: Arc<dyn SessionStore>,
        table: ServerTable,
        backend: Arc<dyn Backend>,
    ) -> Result<Registry, String> {
        let store: Box<dyn RegistryStore> = if config.store.url == "memory" {
            Box::new(FileStore::open(&config.state_dir)?)
        } else {
            Box::new(SharedStore::new(sessions))
        };
        let managed = config
            .servers
            .iter()
            .flat_map(|(t, list)| list.keys().map(move |n| format!("{t}/{n}")))
            .collect();
        let registry = Registry {
            inner: Arc::new(Inner {
                store,
                table,
                backend,
                config: config.clone(),
                managed,
                applied: Mutex::new(BTreeMap::new()),
            }),
        };
        let weak = Arc::downgrade(&registry.inner);
        registry
            .inner
            .table
            .set_version_source(Arc::new(sync::VersionLookup(move |tenant: String, name: String| {
                let weak = weak.clone();
                async move {
                    let registry = Registry { inner: weak.upgrade()? };
                    registry
                        .get(&tenant, &name)
                        .await
                        .inspect_err(|e| tracing::warn!(tenant, server = name, error = %e, "cannot read a server's record for a session's version"))
                        .ok()
                }
            })));
        // A store that cannot be read yet (Redis restarting, a Sentinel
        // failover) must not keep the pod down: config servers serve now,
        // and `follow` applies the registry as soon as the store answers.
        if let Err(e) = registry.refresh().await {
            tracing::warn!(error = %e, "cannot read the server registry yet; retrying in the background");
        }
        Ok(registry)
    }

    /// The control plane's settings (scopes, self-approval, body limit).
    pub(crate) fn control(&self) -> &ControlConfig {
        &self.inner.config.control
    }

    /// Whether `tenant/name` is written in the config file.
    pub(crate) fn is_managed(&self, tenant: &str, name: &str) -> bool {
        self.inner.managed.contains(&format!("{tenant}/{name}"))
    }

    /// Names of the config file's servers of `tenant`.
    pub(crate) fn managed_names(&self, tenant: &str) -> Vec<String> {
        self.inner
            .config
            .servers
            .get(tenant)
            .map(|list| list.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The record of `tenant/name`, read from the store.
    pub(crate) async fn get(
        &self,
        tenant: &str,
        name: &str,
    ) -> Result<ServerRecord, RegistryError> {
        match self.read(&record_key(tenant, name)).await? {
            Some((record, _)) => Ok(record),
            None => Err(not_found(tenant, name)),
        }
    }

    /// The tenant's active servers as MCP Registry API entries; `endpoint`
    /// gives a server's MCP URL.
    pub(crate) async fn registry_entries(
        &self,
        tenant: &str,
        endpoint: impl Fn(&str) -> String,
    ) -> Result<Vec<serde_json::Value>, RegistryError> {
        Ok(self
            .list(tenant)
            .await?
            .iter()
            .filter(|r| !r.is_decommissioned())
            .filter_map(|r| server_json::entry(r, &endpoint(&r.name)))
            .collect())
    }

    /// Every record of `tenant`, by name.
    pub(crate) async fn list(&self, tenant: &str) -> Result<Vec<ServerRecord>, RegistryError> {
        let (index, _) = self.index().await?;
        let prefix = format!("{tenant}/");
        let mut out = Vec::new();
        for key in index.keys().filter(|k| k.starts_with(&prefix)) {
            if let Some((record, _)) = self.read(&format!("berth:registry:server:{key}")).await? {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// Makes `change` to `tenant/name` as `actor`; with `if_match`, only if
    /// the record is still at that revision.
    pub(crate) async fn change(
        &self,
        tenant: &str,
        name: &str,
        actor: &str,
        if_match: Option<u64>,
        change: Change,
    ) -> Result<Changed, RegistryError> {
        check_name(tenant).map_err(|m| RegistryError::NotFound(format!("tenant: {m}")))?;
        check_name(name).map_err(|m| {
            RegistryError::Invalid(vec![crate::config::Problem::new(
                "",
                &format!("server name: {m}"),
            )])
        })?;
        if self.is_managed(tenant, name) {
            return Err(RegistryError::Conflict(format!(
                "{tenant}/{name} is managed by the config file (servers.{tenant}.{name}); change it there, \
                 or remove it from the file to manage it through /v1"
            )));
        }
        // A deployment is checked and pinned once, before any store round
        // trip.
        let deployment = match &change {
            Change::Deploy(body) | Change::Ensure(body) => {
                Some(self.prepare(tenant, name, body).await?)
            }
            _ => None,
        };
        let key = record_key(tenant, name);
        let self_approval = self
            .inner
            .config
            .control
            .self_approval
            .iter()
            .any(|t| t == tenant);
        for _ in 0..ATTEMPTS {
            let current = self.read(&key).await?;
            let (mut record, old_bytes) = match current {
                Some((record, bytes)) => (record, Some(bytes)),
                None if deployment.is_some() => (ServerRecord::new(tenant, name), None),
                None => return Err(not_found(tenant, name)),
            };
            if let Some(expected) = if_match
                && expected != record.revision
            {
                return Err(RegistryError::Stale {
                    current: record.revision,
                });
            }
            let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
            let act = Act { actor, now: &now };
            let version = match &change {
                Change::Deploy(_) => {
                    let new = deployment.as_ref().expect("checked above");
                    Some(lifecycle::deploy(&mut record, new, &act)?)
                }
                Change::Approve(v, caps) => {
                    lifecycle::approve(&mut record, *v, self_approval, caps.clone(), &act)
                        .map(|()| Some(*v))?
                }
                Change::SetCapabilities(v, caps) => {
                    let version = record.versions.iter_mut().find(|x| x.version == *v);
                    match version {
                        Some(x) if x.capabilities.is_none() => x.capabilities = Some(caps.clone()),
                        Some(_) => {
                            return Ok(Changed {
                                version: Some(*v),
                                record,
                            });
                        }
                        None => return Err(RegistryError::NotFound(format!("no version {v}"))),
                    }
                    Some(*v)
                }
                Change::RecordDrift(v, drift) => {
                    if !lifecycle::record_drift(&mut record, *v, drift.clone())? {
                        return Ok(Changed {
                            version: Some(*v),
                            record,
                        });
                    }
                    Some(*v)
                }
                Change::Activate(v) => {
                    lifecycle::activate(&mut record, *v, &act).map(|()| Some(*v))?
                }
                Change::Rollback => Some(lifecycle::rollback(&mut record, &act)?),
                Change::Deprecate(sunset) => {
                    lifecycle::deprecate(&mut record, sunset.clone(), &act)?;
                    None
                }
                Change::Decommission => {
                    lifecycle::decommission(&mut record, &act)?;
                    None
                }
                Change::Ensure(_) => {
                    let new = deployment.as_ref().expect("checked above");
                    match lifecycle::ensure(&mut record, new, &act)? {
                        (v, false) => {
                            return Ok(Changed {
                                version: Some(v),
                                record,
                            });
                        }
                        (v, true) => Some(v),
                    }
                }
            };
            record.revision += 1;
            let bytes = serde_json::to_vec(&record)
                .map_err(|e| RegistryError::Unavailable(e.to_string()))?;
            let swapped = self
                .inner
                .store
                .swap(&key, old_bytes.as_deref(), bytes)
                .await
                .map_err(RegistryError::Unavailable)?;
            if !swapped {
                if let Some(expected) = if_match {
                    // Someone else changed it between our read and write.
                    return Err(RegistryError::Stale {
                        current: expected + 1,
                    });
                }
                continue;
            }
            self.raise_index(tenant, name, record.revision).await?;
            self.apply(&record);
            return Ok(Changed { version, record });
        }
        Err(RegistryError::Unavailable(format!(
            "{tenant}/{name} changed {ATTEMPTS} times while this change was being made"
        )))
    }

    /// Checks a deployment document and pins what it runs (image digest,
    /// executable hash) through the backend.
    async fn prepare(
        &self,
        tenant: &str,
        name: &str,
        body: &serde_json::Value,
    ) -> Result<NewVersion, RegistryError> {
        let translated;
        let body = if server_json::is_server_json(body) {
            translated = server_json::to_deployment(body).map_err(RegistryError::Invalid)?;
            &translated
        } else {
            body
        };
        let checked = deployment::read(&self.inner.config, body).map_err(RegistryError::Invalid)?;
        let config = deployment::parse(&checked.document)
            .map_err(|m| RegistryError::Invalid(vec![Problem::new("", &m)]))?;
        let spec = self.inner.table.spec_for(tenant, name, &config, None);
        let pinned = self.inner.backend.pin(&spec).await.map_err(|e| match e {
            BackendError::MissingImage(_) => {
                RegistryError::Invalid(vec![Problem::new("/image", &e.to_string())])
            }
            BackendError::Executable(_) | BackendError::NoCommand { .. } => {
                RegistryError::Invalid(vec![Problem::new("/command", &e.to_string())])
            }
            other => RegistryError::Unavailable(format!("cannot pin the deployment: {other}")),
        })?;
        Ok(NewVersion {
            document: checked.document,
            deployment_digest: checked.digest,
            image_digest: pinned.image,
            executable: pinned
                .executable
                .map(|(path, sha256)| ExecutablePin { path, sha256 }),
            metadata: checked.metadata,
        })
    }

    /// What the backend runs for version `v` of `tenant/name`, pinned as
    /// deployed (to start it for an approval).
    pub(crate) async fn spec_of(
        &self,
        tenant: &str,
        name: &str,
        v: u32,
    ) -> Result<crate::backend::ServerSpec, RegistryError> {
        let record = self.get(tenant, name).await?;
        let version = record.version(v).ok_or_else(|| {
            RegistryError::NotFound(format!("{tenant}/{name} has no version {v}"))
        })?;
        let config = deployment::parse(&version.deployment).map_err(RegistryError::Unavailable)?;
        let mut spec =
            self.inner
                .table
                .spec_for(tenant, name, &config, Some(&sync::pinned(version)));
        // An approval probe is one short-lived instance: no warm pool.
        spec.warm_pool = 0;
        spec.version = Some(v);
        Ok(spec)
    }

    /// [`Change::Ensure`] with no `If-Match`; returns the active version.
    pub(crate) async fn ensure(
        &self,
        tenant: &str,
        name: &str,
        deployment: serde_json::Value,
        actor: &str,
    ) -> Result<u32, RegistryError> {
        let changed = self
            .change(tenant, name, actor, None, Change::Ensure(deployment))
            .await?;
        self.apply(&changed.record);
        Ok(changed.version.unwrap_or_default())
    }

    /// Reads the index and applies every record whose revision this pod
    /// has not applied yet.
    pub(crate) async fn refresh(&self) -> Result<(), String> {
        let (index, _) = self.index().await.map_err(|e| e.to_string())?;
        for (key, revision) in index {
            let seen = self.inner.applied.lock().get(&key).map(|(r, _)| *r);
            if seen.is_some_and(|r| r >= revision) {
                continue;
            }
            let record = self
                .read(&format!("berth:registry:server:{key}"))
                .await
                .map_err(|e| e.to_string())?;
            if let Some((record, _)) = record {
                self.apply(&record);
            }
        }
        Ok(())
    }

    /// Puts the record's active version in the table (or takes the server
    /// out of it, with the reason agents are told).
    fn apply(&self, record: &ServerRecord) {
        sync::apply(
            &self.inner.table,
            &self.inner.applied,
            record,
            &self.inner.managed,
        );
    }

    async fn index(&self) -> Result<(Index, Option<Vec<u8>>), RegistryError> {
        let bytes = self
            .inner
            .store
            .get(INDEX_KEY)
            .await
            .map_err(RegistryError::Unavailable)?;
        let index = match &bytes {
            Some(b) => serde_json::from_slice(b).map_err(|e| {
                RegistryError::Unavailable(format!("the registry index is unreadable: {e}"))
            })?,
            None => Index::new(),
        };
        Ok((index, bytes))
    }

    async fn raise_index(
        &self,
        tenant: &str,
        name: &str,
        revision: u64,
    ) -> Result<(), RegistryError> {
        let entry = format!("{tenant}/{name}");
        for _ in 0..ATTEMPTS * 4 {
            let (mut index, old) = self.index().await?;
            if index.get(&entry).is_some_and(|r| *r >= revision) {
                return Ok(());
            }
            index.insert(entry.clone(), revision);
            let bytes = serde_json::to_vec(&index)
                .map_err(|e| RegistryError::Unavailable(e.to_string()))?;
            if self
                .inner
                .store
                .swap(INDEX_KEY, old.as_deref(), bytes)
                .await
                .map_err(RegistryError::Unavailable)?
            {
                watch::mark_changed(&*self.inner.store).await;
                return Ok(());
            }
        }
        Err(RegistryError::Unavailable(
            "the registry index is changing too fast; the change is saved and reaches other pods with the next one".into(),
        ))
    }

    async fn read(&self, key: &str) -> Result<Option<(ServerRecord, Vec<u8>)>, RegistryError> {
        let Some(bytes) = self
            .inner
            .store
            .get(key)
            .await
            .map_err(RegistryError::Unavailable)?
        else {
            return Ok(None);
        };
        let record = serde_json::from_slice(&bytes)
            .map_err(|e| RegistryError::Unavailable(format!("record {key} is unreadable: {e}")))?;
        Ok(Some((record, bytes)))
    }

    /// Polls for changes made on other pods until `stop`.
    pub(crate) async fn follow(self, stop: tokio_util::sync::CancellationToken) {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut failing, mut watch) = (false, watch::Watch::default());
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let refreshed = match watch.poll(&*self.inner.store).await {
                Ok(Some(marker)) => self.refresh().await.map(|()| watch.index_read(marker)),
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            match refreshed {
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("the registry store answers again");
                }
                Ok(()) => {}
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "cannot read registry changes; servers stay as they are until the store answers");
                }
                Err(_) => {}
            }
        }
    }
}

fn record_key(tenant: &str, name: &str) -> String {
    format!("berth:registry:server:{tenant}/{name}")
}

fn not_found(tenant: &str, name: &str) -> RegistryError {
    RegistryError::NotFound(format!(
        "tenant `{tenant}` has no server `{name}` in the registry; deploy it with PUT /v1/tenants/{tenant}/servers/{name} \
         (berth server deploy {tenant}/{name} -f FILE)"
    ))
}
