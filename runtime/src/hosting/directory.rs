//! The sessions directory: which hosting sessions each pod runs, for the
//! control plane (`/v1/tenants/{t}/sessions`). Each pod lists its own
//! from its table; with a shared store it also publishes that list every
//! [`PUBLISH_EVERY`] as one sealed record (the store never sees tenants or
//! subjects in the clear), and names itself in a small index, so any pod
//! can list every pod's sessions. The cost is per pod, not per session.
//! Each publication also lets the cluster look at the other pods named in
//! the index (`Cluster::check_peers`).
//!
//! May import: `hosting::{sessions, table, session}`, external crates.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use berth_session_store::RecordKey;
use serde::{Deserialize, Serialize};

use super::sessions::Sessions;
use super::table::Entry;

/// How often a pod publishes its directory (and how stale another pod's
/// listing may be).
pub(crate) const PUBLISH_EVERY: Duration = Duration::from_secs(2);

/// A published directory lives this long without a refresh (its pod died).
const DIRECTORY_TTL: Duration = Duration::from_secs(10);

/// Store key of the index of pods that publish a directory.
const PODS_KEY: &str = "berth:pods:index";

/// One hosting session as the control plane shows it.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub(crate) struct SessionEntry {
    /// Opaque id (a hash; never the agent's session id).
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// Server.
    pub server: String,
    /// The registry version it runs (`null`: a config-file server).
    pub version: Option<u32>,
    /// Whom it serves.
    pub subject: String,
    /// The backend instance (pid or container id).
    pub instance: Option<String>,
    /// The pod that owns it.
    pub pod: String,
    /// Where that pod is reached (control-plane requests are forwarded
    /// there).
    pub pod_url: String,
    /// When it started, RFC 3339.
    pub started: String,
    /// When it was last used, RFC 3339.
    pub last_used: String,
}

// === impl Sessions (directory) ===

impl Sessions {
    /// This pod's sessions.
    pub(crate) fn local_directory(&self) -> Vec<SessionEntry> {
        let now = SystemTime::now();
        self.shared
            .table
            .snapshot()
            .iter()
            .map(|(key, entry)| self.entry_of(key, entry, now))
            .collect()
    }

    /// What the control plane shows of one session.
    fn entry_of(&self, key: &RecordKey, entry: &Entry, now: SystemTime) -> SessionEntry {
        let at = |ago: Duration| {
            humantime::format_rfc3339_seconds(now.checked_sub(ago).unwrap_or(now)).to_string()
        };
        let cluster = self.cluster();
        let s = &entry.session;
        let id = s.identity();
        SessionEntry {
            id: entry_id(key),
            tenant: id.tenant.clone(),
            server: id.server.clone(),
            version: id.version,
            subject: id.subject.clone(),
            instance: s.instance_id().map(str::to_owned),
            pod: cluster.pod().to_owned(),
            pod_url: cluster.url().to_owned(),
            started: at(s.age()),
            last_used: at(s.idle_for()),
        }
    }

    /// Every pod's sessions: this pod's, and (shared store) what the
    /// others published.
    pub(crate) async fn cluster_directory(&self) -> Result<Vec<SessionEntry>, String> {
        let mut all = self.local_directory();
        if !self.shared.settings.shared_store {
            return Ok(all);
        }
        let me = self.cluster().pod().to_owned();
        for pod in self.pods().await?.into_keys().filter(|p| *p != me) {
            let binding = self.directory_binding(&pod);
            let sealed = self
                .store()
                .store()
                .get(&directory_key(&pod))
                .await
                .map_err(|e| e.to_string())?;
            let Some(sealed) = sealed else { continue };
            let opened = self
                .keys()
                .open(&binding, &sealed)
                .map_err(|e| e.to_string())?;
            let listed: Vec<SessionEntry> =
                serde_json::from_slice(&opened.plaintext).map_err(|e| e.to_string())?;
            all.extend(listed);
        }
        Ok(all)
    }

    /// Publishes this pod's directory (shared store only).
    pub(crate) async fn publish_directory(&self) -> Result<(), String> {
        if !self.shared.settings.shared_store {
            return Ok(());
        }
        let pod = self.cluster().pod().to_owned();
        let binding = self.directory_binding(&pod);
        let plaintext = serde_json::to_vec(&self.local_directory()).map_err(|e| e.to_string())?;
        let sealed = self
            .keys()
            .seal(&binding, &plaintext)
            .map_err(|e| e.to_string())?;
        self.store()
            .store()
            .put(&directory_key(&pod), sealed, DIRECTORY_TTL)
            .await
            .map_err(|e| e.to_string())?;
        let pods = self.pods().await?;
        if pods.get(&pod).is_none_or(|u| u != self.cluster().url()) {
            self.name_in_index(&pod).await?;
        }
        // What the other pods' URLs reach from here (what a refusal there
        // would prove).
        self.cluster().check_peers(&pods).await;
        Ok(())
    }

    /// Names this pod in the pods index (compare-and-set against other
    /// pods).
    async fn name_in_index(&self, pod: &str) -> Result<(), String> {
        let raw = self.store().store();
        let key = RecordKey::new(PODS_KEY);
        for _ in 0..16 {
            let old = raw.get(&key).await.map_err(|e| e.to_string())?;
            let mut pods: BTreeMap<String, String> = old
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or_default();
            pods.insert(pod.to_owned(), self.cluster().url().to_owned());
            let new = serde_json::to_vec(&pods).map_err(|e| e.to_string())?;
            let done = match old {
                Some(old) => {
                    raw.compare_and_put(&key, &old, new, Some(DIRECTORY_TTL * 360))
                        .await
                }
                None => raw.put_new(&key, new, DIRECTORY_TTL * 360).await,
            };
            if done.map_err(|e| e.to_string())? {
                return Ok(());
            }
        }
        Err("the pods index is changing too fast".into())
    }

    /// Ends this pod's session `id` of `tenant`; its entry if it was here.
    pub(crate) async fn end_by_id(
        &self,
        id: &str,
        tenant: &str,
        reason: &str,
    ) -> Option<SessionEntry> {
        let (key, entry) = self
            .shared
            .table
            .snapshot()
            .into_iter()
            .find(|(key, entry)| {
                entry_id(key) == id && entry.session.identity().tenant == tenant
            })?;
        let shown = self.entry_of(&key, &entry, SystemTime::now());
        let removed = self.shared.table.remove(&key)?;
        self.end_entries(vec![(key, removed)], reason).await;
        Some(shown)
    }

    /// Stops `entries` (already out of the table): instances, records,
    /// leases.
    pub(super) async fn end_entries(&self, entries: Vec<(RecordKey, Entry)>, reason: &str) {
        let ends = entries.into_iter().map(|(key, entry)| async move {
            entry.session.shutdown(reason).await;
            if let Err(e) = self.shared.deps.store.store().delete(&key).await {
                tracing::warn!(error = %e, "could not delete the record of an ended session");
            }
            if entry.leased {
                self.shared.deps.cluster.release(&key).await;
            }
        });
        futures::future::join_all(ends).await;
    }

    async fn pods(&self) -> Result<BTreeMap<String, String>, String> {
        let raw = self
            .store()
            .store()
            .get(&RecordKey::new(PODS_KEY))
            .await
            .map_err(|e| e.to_string())?;
        Ok(raw
            .as_deref()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default())
    }

    /// What a pod's directory is sealed for (never a store key itself).
    fn directory_binding(&self, pod: &str) -> berth_session_store::SessionBinding {
        self.keys().bind("~pods", "directory", pod, "sessions")
    }
}

/// Store key of `pod`'s sealed directory (outside every tenant's prefix,
/// and not shaped like a session record).
fn directory_key(pod: &str) -> RecordKey {
    RecordKey::new(format!("berth:pods:{pod}:sessions"))
}

/// A session's opaque id: the hash part of its record key.
fn entry_id(key: &RecordKey) -> String {
    key.as_str()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned()
}
