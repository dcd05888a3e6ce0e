//! The container a hosting session runs in: image pinned by digest, the
//! hardening every container gets, limits and labels.
//!
//! May import: `docker::{host, labels, network}`, `backend` shapes, `config`,
//! `protocol`.

use std::collections::HashMap;

use bollard::container::{Config, CreateContainerOptions};
use bollard::models::{EndpointSettings, HostConfig};
use bollard::network::ConnectNetworkOptions;
use sha2::{Digest, Sha256};

use super::host::{DockerHost, engine};
use super::labels::{
    LABEL_CONFIG, LABEL_LEASE, LABEL_MANAGED, LABEL_POD, LABEL_SERVER, LABEL_SESSION, LABEL_STORE,
    LABEL_TENANT,
};
use super::network;
use crate::backend::{BackendError, ServerSpec};
use crate::config::Transport;

/// The content digest (`sha256:…`) of `image` on the engine.
pub(super) async fn image_digest(host: &DockerHost, image: &str) -> Result<String, BackendError> {
    let docker = host.client()?;
    let inspected = docker.inspect_image(image).await.map_err(|e| match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        } => BackendError::MissingImage(image.to_owned()),
        other => engine("inspect the image", other),
    })?;
    inspected
        .id
        .ok_or_else(|| BackendError::MissingImage(image.to_owned()))
}

/// Creates (does not start) a container for `spec`; `session` labels it.
pub(super) async fn create(
    host: &DockerHost,
    spec: &ServerSpec,
    session: &str,
    lease: Option<&str>,
) -> Result<String, BackendError> {
    let shared = &host.shared;
    let image = spec.image()?.to_owned();
    // Pin the image to what it is *now*: a tag moved later cannot change
    // what this session runs. (A registry version's image is a digest
    // already, pinned when it was deployed.)
    let digest = image_digest(host, &image).await?;
    let docker = host.client()?;
    let mut labels = labels(&shared.pod, spec, session);
    labels.insert(
        LABEL_STORE.to_owned(),
        shared.lease_probe.scope().to_owned(),
    );
    if let Some(lease) = lease {
        labels.insert(LABEL_LEASE.to_owned(), lease.to_owned());
    }
    // stdio servers get no network at all unless granted egress; HTTP
    // servers join the internal network (no route out) and, if granted,
    // the egress network too.
    let http = spec.transport == Transport::Http;
    let network_mode = if http {
        network::ensure_internal(host).await?
    } else {
        spec.network.clone().unwrap_or_else(|| "none".into())
    };
    let tmpfs = HashMap::from([(
        "/tmp".to_owned(),
        format!("rw,noexec,nosuid,nodev,size={}", shared.config.tmpfs_size),
    )]);
    let host_config = HostConfig {
        readonly_rootfs: Some(true),
        tmpfs: Some(tmpfs),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(vec!["no-new-privileges:true".into()]),
        init: Some(true),
        memory: Some(spec.memory_bytes),
        memory_swap: Some(spec.memory_bytes),
        nano_cpus: Some(spec.nano_cpus),
        pids_limit: Some(spec.pids),
        network_mode: Some(network_mode),
        ..HostConfig::default()
    };
    // Env secrets are visible to whoever can inspect the container, like
    // any env; header-delivered secrets never enter the container config.
    let env: Vec<String> = spec
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(spec.secret_env.iter())
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let config = Config {
        image: Some(digest),
        cmd: (!spec.command.is_empty()).then(|| spec.command.clone()),
        env: Some(env),
        user: Some(shared.config.user.clone()),
        labels: Some(labels),
        attach_stdin: Some(!http),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        open_stdin: Some(!http),
        stdin_once: Some(false),
        tty: Some(false),
        network_disabled: Some(!http && spec.network.is_none()),
        host_config: Some(host_config),
        ..Config::default()
    };
    let name = format!(
        "berth-{}-{}-{}",
        spec.tenant,
        spec.server,
        crate::protocol::random_id()[..10]
            .to_ascii_lowercase()
            .replace(['-', '_'], "x")
    );
    let created = docker
        .create_container(
            Some(CreateContainerOptions {
                name,
                platform: None,
            }),
            config,
        )
        .await;
    let created = match created {
        Ok(created) => created,
        Err(e) => {
            if http {
                // The internal network may have been removed under us.
                network::forget_internal(host).await;
            }
            return Err(engine("create a container", e));
        }
    };
    if let (true, Some(egress)) = (http, &spec.network) {
        let joined = docker
            .connect_network(
                egress,
                ConnectNetworkOptions {
                    container: created.id.clone(),
                    endpoint_config: EndpointSettings::default(),
                },
            )
            .await;
        if let Err(e) = joined {
            host.remove(&created.id).await;
            return Err(engine(&format!("join network `{egress}`"), e));
        }
    }
    Ok(created.id)
}

fn labels(pod: &str, spec: &ServerSpec, session: &str) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_MANAGED.to_owned(), "true".to_owned()),
        (LABEL_TENANT.to_owned(), spec.tenant.clone()),
        (LABEL_SERVER.to_owned(), spec.server.clone()),
        (LABEL_SESSION.to_owned(), session.to_owned()),
        (LABEL_POD.to_owned(), pod.to_owned()),
        (LABEL_CONFIG.to_owned(), config_hash(spec)),
    ])
}

/// Identifies a container configuration: pools reuse only exact matches.
pub(super) fn config_hash(spec: &ServerSpec) -> String {
    let mut h = Sha256::new();
    let parts = [
        spec.image.clone().unwrap_or_default(),
        spec.command.join("\u{0}"),
        format!("{:?}", spec.env),
        spec.memory_bytes.to_string(),
        spec.nano_cpus.to_string(),
        spec.pids.to_string(),
        spec.network.clone().unwrap_or_default(),
        format!("{:?}:{}{}", spec.transport, spec.port, spec.path),
    ];
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(&h.finalize()[..8])
}
