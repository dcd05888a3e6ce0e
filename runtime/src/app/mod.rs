//! Assembling Berth from a [`Config`]: keys, session store, token
//! validation, backend, the server table, sessions and the HTTP front.
//!
//! [`App::build`] does everything that can fail before a socket is bound;
//! [`App::run`] takes a bound listener and a shutdown future, so tests and
//! the load generator can run Berth in-process on `127.0.0.1:0`.
//!
//! May import: every module below it (`mcp`, `control`, `http`, `hosting`,
//! `registry`, `secrets`, `cluster`, `servers`, `backend`, `config`). Must not import `cli`.
//!
//! # Layout
//! - `error`: [`StartError`]; `validator`: the token validator;
//!   `tasks`: what runs beside the server (continuation sweeps, server
//!   table changes reaching the backend); `fd_limit`: the open-files
//!   limit raised to what the sessions need; `store`: the session store,
//!   and its TLS files read again while Berth runs.

mod error;
mod fd_limit;
mod store;
mod tasks;
mod validator;

pub use self::error::StartError;

use std::future::Future;
use std::sync::Arc;

use berth_session_store::SealedStore;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, DockerBackend, KubernetesBackend, ProcessBackend};
use crate::cluster::Cluster;
use crate::config::{BackendKind, Config};
use crate::control::ControlState;
use crate::hosting::{Continuations, SessionDeps, Sessions};
use crate::http::{AppState, StateParts};
use crate::registry::{Change, Registry, RegistryError};
use crate::secrets::{Secrets, connect_vault, load_session_keys};
use crate::servers::ServerTable;

/// A built Berth, ready to serve.
pub struct App {
    config: Config,
    state: AppState,
    registry: Registry,
    shutdown: CancellationToken,
}

// === impl App ===

impl App {
    /// Builds every component; must be called inside a Tokio runtime.
    pub async fn build(config: Config) -> Result<App, StartError> {
        fd_limit::raise(&config);
        let vault = connect_vault(&config.vault)?;
        let keys = load_session_keys(&config, vault.as_ref()).await?;
        let (validator, jwks) = validator::build(&config).await?;
        let shutdown = CancellationToken::new();
        let secrets = match vault {
            Some(vault) => {
                let stop = shutdown.clone();
                let renewing = vault.clone();
                tokio::spawn(async move { renewing.keep_alive(stop.cancelled_owned()).await });
                Secrets::new(Some(vault), config.vault.tenant_prefix.clone())
            }
            None => Secrets::none(),
        };
        let store = SealedStore::new(store::open_store(&config, &shutdown).await?, keys.clone());
        let pod = config.pod_name.clone().unwrap_or_else(default_pod_name);
        let cluster = Cluster::new(
            pod.clone(),
            store.store().clone(),
            &config.store.url,
            config.cluster.advertise_url.clone(),
            keys.clone(),
        );
        let backend: Arc<dyn Backend> = match config.backend {
            BackendKind::Process => Arc::new(ProcessBackend),
            BackendKind::Kubernetes => Arc::new(
                KubernetesBackend::connect(
                    config.kubernetes.clone(),
                    pod,
                    Arc::new(cluster.clone()),
                    shutdown.clone(),
                )
                .await?,
            ),
            BackendKind::Docker => Arc::new(DockerBackend::connect(
                config.docker.clone(),
                pod,
                Arc::new(cluster.clone()),
                shutdown.clone(),
            )?),
        };
        let shared_store = store.store().clone();
        // Parked 2026-07-28 calls are sealed where other pods find them.
        let parked_calls = (config.store.url != "memory").then(|| store.clone());
        let servers = ServerTable::from_config(&config);
        let deps = SessionDeps {
            backend: backend.clone(),
            keys,
            store,
            cluster,
            secrets: Arc::new(secrets),
            servers: servers.clone(),
        };
        let sessions = Sessions::new(&config, deps, shutdown.clone());
        let registry = Registry::open(&config, shared_store, servers.clone(), backend.clone())
            .await
            .map_err(StartError::Registry)?;
        if let Some(reports) = servers.take_drift_reports() {
            tokio::spawn(tasks::record_drift(
                reports,
                registry.clone(),
                shutdown.clone(),
            ));
        }
        if config.store.url != "memory" {
            tokio::spawn(tasks::publish_directory(sessions.clone(), shutdown.clone()));
            // Changes made on other pods; the file store has one writer.
            tokio::spawn(registry.clone().follow(shutdown.clone()));
        }
        let specs: Vec<_> = servers.list().iter().map(|s| s.spec.clone()).collect();
        backend.prepare(&specs).await;
        tokio::spawn(tasks::follow_server_changes(
            servers.changes(),
            backend,
            sessions.clone(),
            shutdown.clone(),
        ));
        let continuations = Continuations::new(parked_calls);
        tokio::spawn(tasks::sweep_continuations(
            continuations.clone(),
            shutdown.clone(),
        ));
        let state = AppState::new(
            &config,
            StateParts {
                validator,
                servers,
                sessions,
                continuations,
                jwks,
                shutdown: shutdown.clone(),
            },
        );
        Ok(App {
            config,
            state,
            registry,
            shutdown,
        })
    }

    /// The servers this pod hosts (add, replace and remove them while it
    /// runs).
    pub fn servers(&self) -> &ServerTable {
        self.state.servers()
    }

    /// Makes `deployment` the active version of `tenant/name` as `actor`
    /// (deploying, approving and activating it as one change), unless it
    /// is already; returns the active version. `berth demo` registers its
    /// server this way.
    pub async fn ensure_server(
        &self,
        tenant: &str,
        name: &str,
        deployment: serde_json::Value,
        actor: &str,
    ) -> Result<u32, StartError> {
        // The store may be coming up (or failing over) as Berth starts.
        let mut wait = std::time::Duration::from_millis(100);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            match self
                .registry
                .ensure(tenant, name, deployment.clone(), actor)
                .await
            {
                Err(RegistryError::Unavailable(m)) if tokio::time::Instant::now() < deadline => {
                    tracing::warn!(error = %m, "the registry store is unavailable; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(std::time::Duration::from_secs(2));
                }
                Err(e) => return Err(StartError::Registry(format!("{tenant}/{name}: {e}"))),
                Ok(v) => {
                    // A server that cannot start now still gets hosted (its
                    // agents get the start error, with its environment);
                    // it is just not held to an approved capability set.
                    if let Err(e) = self.record_capabilities(tenant, name, v).await {
                        tracing::warn!(error = %e, "could not list what the server offers; it is hosted without an approved capability set");
                    }
                    return Ok(v);
                }
            }
        }
    }

    /// Lists what version `v` offers and records it as approved, unless
    /// recorded already (a version [`App::ensure_server`] approved).
    async fn record_capabilities(
        &self,
        tenant: &str,
        name: &str,
        v: u32,
    ) -> Result<(), StartError> {
        let fail = |e: String| StartError::Registry(format!("{tenant}/{name} version {v}: {e}"));
        let record = self
            .registry
            .get(tenant, name)
            .await
            .map_err(|e| fail(e.to_string()))?;
        if record.version(v).is_some_and(|x| x.capabilities.is_some()) {
            return Ok(());
        }
        let spec = self
            .registry
            .spec_of(tenant, name, v)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let backend = self.state.sessions().backend().clone();
        let listed = crate::hosting::list_capabilities(&*backend, &spec)
            .await
            .map_err(|e| fail(format!("listing what it offers failed: {e}")))?;
        self.registry
            .change(
                tenant,
                name,
                "berth",
                None,
                Change::SetCapabilities(v, listed),
            )
            .await
            .map_err(|e| fail(e.to_string()))?;
        Ok(())
    }

    /// Serves on `listener` until `shutdown` completes, then drains
    /// connections and stops every server instance.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) {
        let sessions = self.state.sessions().clone();
        let cluster = sessions.cluster().clone();
        if let Ok(addr) = listener.local_addr() {
            cluster.bound(addr);
        }
        if self.config.store.url != "memory" {
            cluster.beat_soon(); // the first beat, now that the URL is known
            let probing = cluster.clone();
            tokio::spawn(async move { probing.check_own_url().await });
        }
        let token = self.shutdown.clone();
        let draining = cluster.clone();
        tokio::spawn(async move {
            shutdown.await;
            // Before the listener closes: from now on a refused connection
            // to this pod proves nothing (it still hands sessions over).
            draining.set_draining().await;
            token.cancel();
        });
        let control = ControlState {
            app: self.state.clone(),
            registry: self.registry.clone(),
        };
        let router = crate::mcp::router(self.state.clone()).merge(crate::control::router(
            control,
            self.config.control.max_body_bytes,
        ));
        let proxies = crate::http::TrustedProxies::new(&self.config.security.trusted_proxies);
        crate::http::serve(
            listener,
            router,
            &self.config.limits,
            proxies,
            self.shutdown.clone(),
        )
        .await;
        sessions.shutdown_all().await;
        sessions.backend().drain().await;
        cluster.retire().await;
    }
}

fn default_pod_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "berth".into());
    format!("{host}-{}", std::process::id())
}
