//! Assembling Berth from a [`Config`]: keys, session store, token
//! validation, backend, sessions and the HTTP front.
//!
//! [`App::build`] does everything that can fail before a socket is bound;
//! [`App::run`] takes a bound listener and a shutdown future, so tests and the
//! load generator can run Berth in-process on `127.0.0.1:0`.

use std::future::Future;
use std::sync::Arc;

use berth_auth::{
    CachingValidator, ClaimMapping, DevIssuer, IntrospectionClient, JwtValidator, OidcOptions,
    OidcValidator, TokenValidator,
};
use berth_session_store::{MemoryStore, RedisOptions, RedisStore, SealedStore, SessionStore};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, BackendError, DockerBackend, ProcessBackend};
use crate::cluster::Cluster;
use crate::config::{AuthMode, BackendKind, Config};
use crate::hosting::Sessions;
use crate::http::{self, AppState};
use crate::secrets::Secrets;

/// Validated tokens kept per pod (a full cache starts over).
const TOKEN_CACHE_ENTRIES: usize = 50_000;

/// Longest a validated token is trusted without re-checking its signature
/// (never past its `exp`).
const TOKEN_CACHE_AGE: std::time::Duration = std::time::Duration::from_secs(300);

/// How long a token validated by introspection (or any token, when
/// introspection is on) is trusted before the issuer is asked again.
const INTROSPECTION_CACHE_AGE: std::time::Duration = std::time::Duration::from_secs(30);

/// Why Berth could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Session keys could not be loaded or created.
    #[error("session keys")]
    Keys(#[from] berth_session_store::Error),
    /// The token validator could not be set up.
    #[error("auth")]
    Auth(#[from] berth_auth::Error),
    /// The backend could not be set up.
    #[error("backend")]
    Backend(#[from] BackendError),
    /// A config value is unusable.
    #[error("config key `{key}`: {message}")]
    Config {
        /// Config key.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A file named in the config could not be read.
    #[error("config key `{key}`: cannot read {path}: {message}")]
    File {
        /// Config key.
        key: &'static str,
        /// Path.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// A built Berth, ready to serve.
pub struct App {
    config: Config,
    state: AppState,
    sessions: Sessions,
    shutdown: CancellationToken,
}

// === impl App ===

impl App {
    /// Builds every component; must be called inside a Tokio runtime.
    pub async fn build(config: Config) -> Result<App, StartError> {
        let vault = crate::secrets::connect(&config.vault)?;
        let keys = crate::keys::load(&config, vault.as_ref()).await?;
        let (validator, jwks): (Arc<dyn TokenValidator>, _) = match config.auth.mode {
            AuthMode::Dev => {
                let issuer = DevIssuer::load_or_create(&config.state_dir)?;
                let v = issuer
                    .validator(ClaimMapping::default())?
                    .with_extra_audiences(config.auth.extra_audiences.clone())
                    .with_leeway(config.auth.leeway_secs);
                let jwks = serde_json::to_value(issuer.jwks()).ok();
                (
                    Arc::new(CachingValidator::new(
                        v,
                        TOKEN_CACHE_ENTRIES,
                        TOKEN_CACHE_AGE,
                    )),
                    jwks,
                )
            }
            AuthMode::Jwt => {
                let path = config.auth.jwks_file.clone().unwrap_or_default();
                let text = std::fs::read_to_string(&path).map_err(|e| StartError::File {
                    key: "auth.jwks_file",
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
                let set = serde_json::from_str(&text).map_err(|e| StartError::File {
                    key: "auth.jwks_file",
                    path: path.display().to_string(),
                    message: format!("not a JWKS document: {e}"),
                })?;
                let issuer = config.auth.issuer.clone().unwrap_or_default();
                let v = JwtValidator::new(issuer, set, config.auth.claims.clone())?
                    .with_extra_audiences(config.auth.extra_audiences.clone())
                    .with_leeway(config.auth.leeway_secs);
                (
                    Arc::new(CachingValidator::new(
                        v,
                        TOKEN_CACHE_ENTRIES,
                        TOKEN_CACHE_AGE,
                    )),
                    None,
                )
            }
            AuthMode::Oidc => {
                let issuer = config.auth.issuer.clone().unwrap_or_default();
                let options = OidcOptions {
                    claims: config.auth.claims.clone(),
                    extra_audiences: config.auth.extra_audiences.clone(),
                    leeway_secs: config.auth.leeway_secs,
                    refresh_every: config.auth.jwks_refresh,
                    introspection: config.auth.introspection.as_ref().map(|i| {
                        IntrospectionClient {
                            client_id: i.client_id.clone(),
                            client_secret: i.client_secret.clone(),
                            endpoint: i.endpoint.clone(),
                        }
                    }),
                };
                let v = OidcValidator::discover(&issuer, options).await?;
                // Introspected tokens are asked about again soon, so a
                // revocation takes effect within INTROSPECTION_CACHE_AGE.
                let age = if config.auth.introspection.is_some() {
                    INTROSPECTION_CACHE_AGE
                } else {
                    TOKEN_CACHE_AGE
                };
                (
                    Arc::new(CachingValidator::new(v, TOKEN_CACHE_ENTRIES, age)),
                    None,
                )
            }
        };
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
        let store = SealedStore::new(open_store(&config)?, keys.clone());
        let pod = config.pod_name.clone().unwrap_or_else(default_pod_name);
        let cluster = Cluster::new(
            pod.clone(),
            store.store().clone(),
            &config.store.url,
            config.cluster.advertise_url.clone(),
        );
        let backend: Arc<dyn Backend> = match config.backend {
            BackendKind::Process => Arc::new(ProcessBackend),
            BackendKind::Docker => Arc::new(DockerBackend::connect(
                config.docker.clone(),
                pod,
                Arc::new(cluster.clone()),
                shutdown.clone(),
            )?),
        };
        let sessions = Sessions::new(
            &config,
            backend.clone(),
            keys,
            store,
            cluster,
            Arc::new(secrets),
            shutdown.clone(),
        );
        let specs: Vec<_> = config
            .servers
            .iter()
            .flat_map(|(t, list)| list.iter().map(move |(n, c)| (t, n, c)))
            .map(|(t, n, c)| sessions.spec(t, n, c))
            .collect();
        backend.prepare(&specs).await;
        let state = AppState::new(
            config.clone(),
            validator,
            sessions.clone(),
            jwks,
            shutdown.clone(),
        );
        tokio::spawn(sweep_continuations(state.clone(), shutdown.clone()));
        Ok(App {
            config,
            state,
            sessions,
            shutdown,
        })
    }

    /// The HTTP state (for in-process tests).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves on `listener` until `shutdown` completes, then drains
    /// connections and stops every server instance.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) {
        if let Ok(addr) = listener.local_addr() {
            self.sessions.cluster().bound(addr);
        }
        let token = self.shutdown.clone();
        tokio::spawn(async move {
            shutdown.await;
            token.cancel();
        });
        let router = http::router(self.state.clone());
        crate::server::serve(listener, router, &self.config.limits, self.shutdown.clone()).await;
        self.sessions.shutdown_all().await;
        self.sessions.backend().drain().await;
    }
}

/// Cancels parked 2026-07-28 calls whose agent never came back.
async fn sweep_continuations(state: AppState, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = tick.tick() => state.mrtr.sweep().await,
            _ = shutdown.cancelled() => return,
        }
    }
}

/// The configured session store.
fn open_store(config: &Config) -> Result<Arc<dyn SessionStore>, StartError> {
    if config.store.url == "memory" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    let options = RedisOptions {
        timeout: config.store.timeout,
        min_replicas_acked: config.store.min_replicas_acked,
    };
    let store =
        RedisStore::connect_with(&config.store.url, options).map_err(|e| StartError::Config {
            key: "store.url",
            message: e.to_string(),
        })?;
    Ok(Arc::new(store))
}

fn default_pod_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "berth".into());
    format!("{host}-{}", std::process::id())
}
