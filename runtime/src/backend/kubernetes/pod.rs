//! The Pod a hosting session runs in, and the Secret that carries its env
//! secrets: built here as objects, created by `start`.
//!
//! Every session Pod gets the docker backend's hardening in Kubernetes
//! terms: non-root (`runAsUser`/`runAsGroup`, `runAsNonRoot`), read-only
//! root with a small memory-backed `/tmp`, every capability dropped, no
//! privilege escalation, the `RuntimeDefault` seccomp profile, no service
//! account token, no service links, `restartPolicy: Never`, requests equal
//! to limits (memory and CPU from the deployment), and the server's
//! placement (runtime class, node selector, tolerations). Env secrets are
//! never in the Pod spec: it names keys of a per-Pod Secret, owned by the
//! Pod (deleted with it). Kubernetes has no per-Pod process limit; the
//! node's `podPidsLimit` stands in for the deployment's `pids`.
//!
//! May import: `kubernetes::labels`, `backend` shapes, `config`, `protocol`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    LocalObjectReference, Pod, PodSecurityContext, PodSpec, ResourceRequirements, SeccompProfile,
    Secret, SecretKeySelector, SecurityContext, Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use sha2::{Digest, Sha256};

use super::labels::{
    ANNOTATION_LEASE, LABEL_CONFIG, LABEL_EGRESS, LABEL_FOR_POD, LABEL_MANAGED, LABEL_OWNER,
    LABEL_SERVER, LABEL_SESSION, LABEL_STORE, LABEL_TENANT, LABEL_VERSION, label_value,
};
use crate::backend::ServerSpec;
use crate::config::{KubernetesConfig, Transport, parse_size};

/// The one container of a session Pod.
pub(crate) const CONTAINER: &str = "server";

/// Who a Pod is for: the runtime pod that starts it, its store scope, the
/// session label and (sessions that may fail over) the lease key.
pub(super) struct Owner<'a> {
    /// Runtime pod name.
    pub(super) pod: &'a str,
    /// The store scope ([`crate::backend::LeaseProbe::scope`]).
    pub(super) store: &'a str,
    /// Hosting session label, or `pool`.
    pub(super) session: &'a str,
    /// The session's lease key.
    pub(super) lease: Option<&'a str>,
}

/// A new Pod name for `spec`: `berth-TENANT-SERVER-xxxxxxxxxx`.
pub(super) fn pod_name(spec: &ServerSpec) -> String {
    let suffix: String = crate::protocol::random_id()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(10)
        .collect::<String>()
        .to_ascii_lowercase();
    let mut name = format!("berth-{}-{}", spec.tenant, spec.server);
    // Room for the suffix (and a Secret's `-env`) within a DNS label.
    name.truncate(63 - 1 - 10 - 4);
    format!("{}-{suffix}", name.trim_end_matches('-'))
}

/// The env Secret's name for Pod `pod`.
pub(super) fn secret_name(pod: &str) -> String {
    format!("{pod}-env")
}

/// The labels every object of `spec`'s Pods carries.
pub(super) fn labels(spec: &ServerSpec, owner: &Owner<'_>) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        (LABEL_MANAGED.to_owned(), "true".to_owned()),
        (LABEL_TENANT.to_owned(), label_value(&spec.tenant)),
        (LABEL_SERVER.to_owned(), label_value(&spec.server)),
        (LABEL_SESSION.to_owned(), label_value(owner.session)),
        (LABEL_OWNER.to_owned(), label_value(owner.pod)),
        (LABEL_STORE.to_owned(), label_value(owner.store)),
        (LABEL_CONFIG.to_owned(), config_hash(spec)),
    ]);
    if let Some(v) = spec.version {
        labels.insert(LABEL_VERSION.to_owned(), v.to_string());
    }
    if let Some(egress) = &spec.network {
        labels.insert(LABEL_EGRESS.to_owned(), label_value(egress));
    }
    labels
}

/// The Pod for `spec`, named `name`, in `config`'s namespace.
pub(super) fn build(
    spec: &ServerSpec,
    name: &str,
    owner: &Owner<'_>,
    config: &KubernetesConfig,
    image: &str,
) -> Pod {
    let http = spec.transport == Transport::Http;
    let secret = secret_name(name);
    let env = spec
        .env
        .iter()
        .map(|(k, v)| EnvVar {
            name: k.clone(),
            value: Some(v.clone()),
            value_from: None,
        })
        .chain(spec.secret_env.iter().map(|(k, _)| EnvVar {
            name: k.to_owned(),
            value: None,
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: secret.clone(),
                    key: k.to_owned(),
                    optional: Some(false),
                }),
                ..EnvVarSource::default()
            }),
        }))
        .collect();
    let limits = BTreeMap::from([
        ("memory".to_owned(), Quantity(spec.memory_bytes.to_string())),
        (
            "cpu".to_owned(),
            Quantity(format!("{}m", (spec.nano_cpus / 1_000_000).max(1))),
        ),
    ]);
    let tmp_bytes = parse_size(&config.tmpfs_size).unwrap_or(64 << 20);
    let seccomp = || SeccompProfile {
        type_: "RuntimeDefault".to_owned(),
        localhost_profile: None,
    };
    let container = Container {
        name: CONTAINER.to_owned(),
        image: Some(image.to_owned()),
        image_pull_policy: Some(config.image_pull_policy.clone()),
        // As with docker: the deployment's command replaces the image's
        // CMD; its ENTRYPOINT stays.
        args: (!spec.command.is_empty()).then(|| spec.command.clone()),
        env: Some(env),
        stdin: Some(!http),
        stdin_once: Some(false),
        tty: Some(false),
        ports: http.then(|| {
            vec![ContainerPort {
                container_port: i32::from(spec.port),
                name: Some("mcp".to_owned()),
                ..ContainerPort::default()
            }]
        }),
        resources: Some(ResourceRequirements {
            requests: Some(limits.clone()),
            limits: Some(limits),
            ..ResourceRequirements::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            privileged: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                add: None,
            }),
            seccomp_profile: Some(seccomp()),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(vec![VolumeMount {
            name: "tmp".to_owned(),
            mount_path: "/tmp".to_owned(),
            ..VolumeMount::default()
        }]),
        termination_message_policy: Some("FallbackToLogsOnError".to_owned()),
        ..Container::default()
    };
    let placement = &spec.placement;
    let tolerations: Vec<Toleration> = placement
        .tolerations
        .iter()
        .map(|t| Toleration {
            key: t.key.clone(),
            operator: t.operator.clone(),
            value: t.value.clone(),
            effect: t.effect.clone(),
            toleration_seconds: t.toleration_seconds,
        })
        .collect();
    let annotations = owner
        .lease
        .map(|lease| BTreeMap::from([(ANNOTATION_LEASE.to_owned(), lease.to_owned())]));
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: config.namespace.clone(),
            labels: Some(labels(spec, owner)),
            annotations,
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![container],
            restart_policy: Some("Never".to_owned()),
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            termination_grace_period_seconds: Some(
                i64::try_from(spec.shutdown_grace.as_secs().max(1)).unwrap_or(5),
            ),
            runtime_class_name: placement
                .runtime_class_name
                .clone()
                .or_else(|| config.runtime_class_name.clone()),
            node_selector: (!placement.node_selector.is_empty())
                .then(|| placement.node_selector.clone()),
            tolerations: (!tolerations.is_empty()).then_some(tolerations),
            image_pull_secrets: (!config.image_pull_secrets.is_empty()).then(|| {
                config
                    .image_pull_secrets
                    .iter()
                    .map(|n| LocalObjectReference { name: n.clone() })
                    .collect()
            }),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(config.run_as_user),
                run_as_group: Some(config.run_as_user),
                seccomp_profile: Some(seccomp()),
                ..PodSecurityContext::default()
            }),
            volumes: Some(vec![Volume {
                name: "tmp".to_owned(),
                empty_dir: Some(EmptyDirVolumeSource {
                    medium: Some("Memory".to_owned()),
                    size_limit: Some(Quantity(tmp_bytes.to_string())),
                }),
                ..Volume::default()
            }]),
            ..PodSpec::default()
        }),
        status: None,
    }
}

/// The Secret holding `spec`'s env secrets for Pod `pod` (created before
/// the Pod; [`owned_by`] ties it to the Pod once the Pod exists).
pub(super) fn env_secret(
    spec: &ServerSpec,
    pod: &str,
    owner: &Owner<'_>,
    namespace: &str,
) -> Secret {
    let mut labels = labels(spec, owner);
    labels.insert(LABEL_FOR_POD.to_owned(), pod.to_owned());
    Secret {
        metadata: ObjectMeta {
            name: Some(secret_name(pod)),
            namespace: Some(namespace.to_owned()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        string_data: Some(
            spec.secret_env
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        ),
        type_: Some("Opaque".to_owned()),
        immutable: Some(true),
        ..Secret::default()
    }
}

/// The merge patch that makes Pod `name` (uid `uid`) own an object: the
/// garbage collector deletes it with the Pod.
pub(super) fn owned_by(name: &str, uid: &str) -> serde_json::Value {
    let owner = OwnerReference {
        api_version: "v1".to_owned(),
        kind: "Pod".to_owned(),
        name: name.to_owned(),
        uid: uid.to_owned(),
        block_owner_deletion: Some(false),
        controller: Some(false),
    };
    serde_json::json!({"metadata": {"ownerReferences": [owner]}})
}

/// Identifies a Pod configuration: pools reuse only exact matches.
pub(super) fn config_hash(spec: &ServerSpec) -> String {
    let mut h = Sha256::new();
    let parts = [
        spec.image.clone().unwrap_or_default(),
        spec.command.join("\u{0}"),
        format!("{:?}", spec.env),
        spec.memory_bytes.to_string(),
        spec.nano_cpus.to_string(),
        spec.network.clone().unwrap_or_default(),
        format!("{:?}:{}{}", spec.transport, spec.port, spec.path),
        format!("{:?}", spec.placement),
        format!("{:?}", spec.version),
    ];
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(&h.finalize()[..8])
}
