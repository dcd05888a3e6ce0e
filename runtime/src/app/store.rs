//! The session store a [`Config`] names: the in-memory one, or Redis with
//! the certificates of `store.tls_*_file` read and checked at start and
//! read again every `store.tls_reload_interval` while Berth runs (a
//! renewed client certificate or CA is used without a restart).
//!
//! May import: `config`, and `error` of this module.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_session_store::{
    MemoryStore, RedisClientCert, RedisOptions, RedisStore, RedisTls, RedisTlsPart, SessionStore,
};
use tokio_util::sync::CancellationToken;

use super::error::StartError;
use crate::config::{Config, ConfigError, StoreConfig};

/// The configured session store. With TLS files, a task reads them again
/// until `shutdown`.
pub(super) async fn open_store(
    config: &Config,
    shutdown: &CancellationToken,
) -> Result<Arc<dyn SessionStore>, StartError> {
    if config.store.url == "memory" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    let options = RedisOptions {
        timeout: config.store.timeout,
        min_replicas_acked: config.store.min_replicas_acked,
        tls: store_tls(&config.store)?,
    };
    let store_url_error = |e: berth_session_store::Error| ConfigError::Key {
        key: "store.url".into(),
        message: e.to_string(),
    };
    let store = RedisStore::connect_with(&config.store.url_with_password(), options)
        .map_err(store_url_error)?;
    // Nodes that are not a cluster are a mistake no retry fixes: say so now
    // rather than at the first session (unreachable nodes are fine here).
    store.check_cluster().await.map_err(store_url_error)?;
    // The config check refuses TLS files without a rediss URL.
    if config.store.tls_ca_file.is_some() || config.store.tls_cert_file.is_some() {
        tokio::spawn(reload_tls_files(
            store.clone(),
            Arc::new(config.store.clone()),
            shutdown.clone(),
        ));
    }
    Ok(Arc::new(store))
}

/// Reads the TLS files every `store.tls_reload_interval` and gives the
/// store the ones that changed and pass the start checks. Files that do
/// not (a rotation caught half-written, a key for another certificate)
/// are logged once and the certificates in use are kept.
async fn reload_tls_files(
    store: RedisStore,
    config: Arc<StoreConfig>,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(config.tls_reload_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut refused: Option<String> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        // Off the runtime's threads: a secret volume on a slow or stalled
        // file system must not hold up requests.
        let read = {
            let config = Arc::clone(&config);
            tokio::task::spawn_blocking(move || store_tls(&config)).await
        };
        let Ok(read) = read else {
            tracing::warn!(
                "reading the store's TLS files failed unexpectedly; trying again at the next interval"
            );
            continue;
        };
        let tls = match read {
            Ok(tls) => tls,
            Err(e) => {
                let problem = e.to_string();
                if refused.as_ref() != Some(&problem) {
                    tracing::warn!(
                        "the store's TLS files changed but cannot be used ({problem}); new \
                         Redis connections keep the certificates read before"
                    );
                    refused = Some(problem);
                }
                continue;
            }
        };
        refused = None;
        match store.reload_tls(tls) {
            Ok(true) => tracing::info!(
                ca = ?config.tls_ca_file,
                cert = ?config.tls_cert_file,
                "the store's TLS files changed: new Redis connections use them"
            ),
            Ok(false) => {}
            Err(e) => tracing::warn!("the store's new TLS files were not taken: {e}"),
        }
    }
}

/// The certificates named by `store.tls_*_file`, read and checked.
fn store_tls(store: &StoreConfig) -> Result<RedisTls, StartError> {
    let read = |name: &str, path: &Option<PathBuf>| {
        path.as_ref()
            .map(|path| {
                std::fs::read(path).map_err(|e| ConfigError::Key {
                    key: name.into(),
                    message: format!("cannot read {}: {e}", path.display()),
                })
            })
            .transpose()
    };
    let ca_pem = read("store.tls_ca_file", &store.tls_ca_file)?;
    let cert = read("store.tls_cert_file", &store.tls_cert_file)?;
    let key = read("store.tls_key_file", &store.tls_key_file)?;
    let tls = RedisTls {
        ca_pem,
        client: cert
            .zip(key)
            .map(|(cert_pem, key_pem)| RedisClientCert { cert_pem, key_pem }),
    };
    tls.check().map_err(|(part, problem)| {
        let (name, path) = match part {
            RedisTlsPart::Ca => ("store.tls_ca_file", &store.tls_ca_file),
            RedisTlsPart::ClientCert => ("store.tls_cert_file", &store.tls_cert_file),
            RedisTlsPart::ClientKey => ("store.tls_key_file", &store.tls_key_file),
        };
        let path = path.as_deref().unwrap_or(Path::new("")).display();
        ConfigError::Key {
            key: name.into(),
            message: format!("{path} {problem}"),
        }
    })?;
    Ok(tls)
}
