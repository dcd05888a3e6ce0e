//! From a Pod to a docker container: what the fake accepts at create time
//! (one container, emptyDir volumes only, valid quantities) and the
//! container config the fake kubelet creates — image, command/args,
//! environment, user, read-only root, capabilities, no-new-privileges,
//! seccomp, memory/CPU limits, tmpfs for emptyDirs, stdin, labels, network.
//!
//! Imports `env`, `quantity`, `engine` (label names).

use std::collections::{BTreeMap, HashMap};

use bollard::container::Config;
use bollard::models::HostConfig;
use serde_json::Value;

use super::engine::{LABEL_INSTANCE, LABEL_POD, LABEL_UID};
use super::env;
use super::quantity;

/// What the kubelet learned of the image from the engine.
#[derive(Debug, Clone)]
pub(crate) struct ImageFacts {
    /// The image id (`sha256:…`), used to create the container.
    pub(crate) id: String,
    /// The image's `USER` (may be empty).
    pub(crate) user: String,
}

/// The engine reference for a pod's `image`. Fake simplification: images
/// built locally for tests have no registry digest, so `name@sha256:HEX`
/// is taken to mean the local image whose ID is `sha256:HEX`; a plain
/// reference (tag) is used as is.
pub(crate) fn engine_ref(image: &str) -> String {
    match image.rsplit_once("@sha256:") {
        Some((_, hex)) => format!("sha256:{hex}"),
        None => image.to_owned(),
    }
}

/// Checks a new pod's spec; the error is the `Invalid` detail
/// (`field: reason`).
pub(crate) fn validate(pod: &Value) -> Result<(), String> {
    let spec = &pod["spec"];
    if !spec.is_object() {
        return Err("spec: Required value".into());
    }
    let containers = spec["containers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    match containers.len() {
        0 => return Err("spec.containers: Required value".into()),
        1 => {}
        n => {
            return Err(format!(
                "spec.containers: Too many: {n}: fake kube-apiserver runs one container per pod"
            ));
        }
    }
    for list in ["initContainers", "ephemeralContainers"] {
        if spec[list].as_array().is_some_and(|l| !l.is_empty()) {
            return Err(format!(
                "spec.{list}: Forbidden: fake kube-apiserver does not run {list}"
            ));
        }
    }
    let c = &containers[0];
    let at = "spec.containers[0]";
    if c["name"].as_str().is_none_or(str::is_empty) {
        return Err(format!("{at}.name: Required value"));
    }
    if c["image"].as_str().is_none_or(str::is_empty) {
        return Err(format!("{at}.image: Required value"));
    }
    for kind in ["limits", "requests"] {
        for (res, q) in c["resources"][kind].as_object().into_iter().flatten() {
            if res == "memory" || res == "cpu" || res == "ephemeral-storage" {
                quantity::parse(q)
                    .map_err(|e| format!("{at}.resources.{kind}[{res}]: Invalid value: {e}"))?;
            }
        }
    }
    let mut volumes = Vec::new();
    for (i, v) in spec["volumes"].as_array().into_iter().flatten().enumerate() {
        let name = v["name"].as_str().unwrap_or("");
        if name.is_empty() {
            return Err(format!("spec.volumes[{i}].name: Required value"));
        }
        let Some(dir) = v.get("emptyDir") else {
            return Err(format!(
                "spec.volumes[{i}]: Forbidden: fake kube-apiserver implements emptyDir volumes only"
            ));
        };
        if let Some(size) = dir.get("sizeLimit") {
            quantity::parse(size)
                .map_err(|e| format!("spec.volumes[{i}].emptyDir.sizeLimit: Invalid value: {e}"))?;
        }
        volumes.push(name);
    }
    for (i, m) in c["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = m["name"].as_str().unwrap_or("");
        if !volumes.contains(&name) {
            return Err(format!(
                "{at}.volumeMounts[{i}].name: Not found: \"{name}\""
            ));
        }
        if m["mountPath"].as_str().is_none_or(str::is_empty) {
            return Err(format!("{at}.volumeMounts[{i}].mountPath: Required value"));
        }
        if m.get("subPath").is_some() {
            return Err(format!(
                "{at}.volumeMounts[{i}].subPath: Forbidden: fake kube-apiserver does not implement subPath"
            ));
        }
    }
    Ok(())
}

/// A security setting: the container's, else the pod's.
fn security<'a>(pod: &'a Value, c: &'a Value, key: &str) -> &'a Value {
    let own = &c["securityContext"][key];
    if own.is_null() {
        &pod["spec"]["securityContext"][key]
    } else {
        own
    }
}

/// The docker user for the pod's runAsUser/runAsGroup, and the uid the
/// process will run as (for runAsNonRoot).
fn user(
    pod: &Value,
    c: &Value,
    image: &ImageFacts,
) -> Result<(Option<String>, Option<u64>), String> {
    let uid = security(pod, c, "runAsUser").as_u64();
    let gid = security(pod, c, "runAsGroup").as_u64();
    let image_uid = image.user.split(':').next().unwrap_or("");
    let effective = match uid {
        Some(u) => Some(u),
        None if image_uid.is_empty() => Some(0),
        None => image_uid.parse().ok(),
    };
    if security(pod, c, "runAsNonRoot").as_bool() == Some(true) {
        match effective {
            Some(0) => {
                return Err("container has runAsNonRoot and image will run as root".into());
            }
            None => {
                return Err(format!(
                    "container has runAsNonRoot and image has non-numeric user ({image_uid}), cannot verify user is non-root"
                ));
            }
            Some(_) => {}
        }
    }
    let docker_user = match (uid, gid) {
        (Some(u), Some(g)) => Some(format!("{u}:{g}")),
        (Some(u), None) => Some(u.to_string()),
        (None, Some(g)) => Some(format!(
            "{}:{g}",
            if image_uid.is_empty() { "0" } else { image_uid }
        )),
        (None, None) => None,
    };
    Ok((docker_user, effective))
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| {
        a.iter()
            .map(|s| s.as_str().unwrap_or("").to_owned())
            .collect()
    })
}

/// Everything the container config needs besides the pod.
pub(crate) struct Placement<'a> {
    /// The image as the engine knows it.
    pub(crate) image: &'a ImageFacts,
    /// The pods' docker network id.
    pub(crate) network: &'a str,
    /// The `FakeKube` instance id (a container label).
    pub(crate) instance: &'a str,
    /// The namespace's Secrets by name.
    pub(crate) secrets: &'a BTreeMap<String, Value>,
}

/// The docker config for the pod's container. An error is a
/// CreateContainerConfigError message (the kubelet retries).
pub(crate) fn container_config(pod: &Value, at: &Placement<'_>) -> Result<Config<String>, String> {
    let c = &pod["spec"]["containers"][0];
    let meta = &pod["metadata"];
    let ns = meta["namespace"].as_str().unwrap_or("");
    let name = meta["name"].as_str().unwrap_or("");
    let vars = env::resolve(pod, c, at.secrets)?;
    let (docker_user, _) = user(pod, c, at.image)?;
    let expand = |list: Option<Vec<String>>| {
        list.map(|l| l.iter().map(|s| env::expand(s, &vars)).collect::<Vec<_>>())
    };
    let entrypoint = expand(strings(&c["command"]));
    let cmd = expand(strings(&c["args"]));

    let caps = &security(pod, c, "capabilities");
    let cap_drop = strings(&caps["drop"]).map(|d| {
        if d.iter().any(|x| x == "ALL") {
            vec!["ALL".to_owned()]
        } else {
            d
        }
    });
    let cap_add = strings(&caps["add"]);
    let mut security_opt = Vec::new();
    if security(pod, c, "allowPrivilegeEscalation").as_bool() == Some(false) {
        security_opt.push("no-new-privileges:true".to_owned());
    }
    if security(pod, c, "seccompProfile")["type"] == "Unconfined" {
        security_opt.push("seccomp=unconfined".to_owned());
    }
    let limits = &c["resources"]["limits"];
    let memory = limits
        .get("memory")
        .map(quantity::memory_bytes)
        .transpose()?;
    let nano_cpus = limits.get("cpu").map(quantity::nano_cpus).transpose()?;

    let mut tmpfs = HashMap::new();
    let volumes = pod["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for m in c["volumeMounts"].as_array().into_iter().flatten() {
        let vname = m["name"].as_str().unwrap_or("");
        let Some(vol) = volumes.iter().find(|v| v["name"] == vname) else {
            continue;
        };
        let mut opts = vec![
            if m["readOnly"].as_bool() == Some(true) {
                "ro"
            } else {
                "rw"
            }
            .to_owned(),
            "nosuid".into(),
            "nodev".into(),
            "mode=1777".into(),
        ];
        if let Some(size) = vol["emptyDir"].get("sizeLimit") {
            opts.push(format!("size={}", quantity::memory_bytes(size)?));
        }
        let path = m["mountPath"].as_str().unwrap_or("").to_owned();
        tmpfs.insert(path, opts.join(","));
    }
    let mut group_add: Vec<String> = security(pod, c, "supplementalGroups")
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .map(|g| g.to_string())
        .collect();
    if let Some(g) = pod["spec"]["securityContext"]["fsGroup"].as_u64() {
        group_add.push(g.to_string());
    }
    let stdin = c["stdin"].as_bool().unwrap_or(false);
    let labels = HashMap::from([
        (LABEL_POD.to_owned(), format!("{ns}/{name}")),
        (LABEL_INSTANCE.to_owned(), at.instance.to_owned()),
        (
            LABEL_UID.to_owned(),
            meta["uid"].as_str().unwrap_or("").to_owned(),
        ),
    ]);
    Ok(Config {
        image: Some(at.image.id.clone()),
        entrypoint,
        cmd,
        env: Some(vars.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        user: docker_user,
        working_dir: c["workingDir"].as_str().map(str::to_owned),
        hostname: Some(name.chars().take(63).collect()),
        labels: Some(labels),
        open_stdin: Some(stdin),
        stdin_once: Some(c["stdinOnce"].as_bool().unwrap_or(false)),
        attach_stdin: Some(stdin),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(c["tty"].as_bool().unwrap_or(false)),
        host_config: Some(HostConfig {
            network_mode: Some(at.network.to_owned()),
            readonly_rootfs: security(pod, c, "readOnlyRootFilesystem").as_bool(),
            privileged: security(pod, c, "privileged").as_bool(),
            cap_drop,
            cap_add,
            security_opt: (!security_opt.is_empty()).then_some(security_opt),
            memory,
            // No swap beyond the limit, as on a Kubernetes node.
            memory_swap: memory,
            nano_cpus,
            tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
            group_add: (!group_add.is_empty()).then_some(group_add),
            ..HostConfig::default()
        }),
        ..Config::default()
    })
}

#[cfg(test)]
mod tests {
    use super::{ImageFacts, Placement, container_config, engine_ref, validate};
    use serde_json::json;
    use std::collections::BTreeMap;

    #[test]
    fn hardened_pod() {
        let pod = json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
            "spec": {
                "securityContext": {"runAsUser": 65534, "runAsGroup": 65534, "runAsNonRoot": true,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "volumes": [{"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}],
                "containers": [{
                    "name": "server", "image": "berth/example-server@sha256:abc",
                    "args": ["--x"], "stdin": true,
                    "securityContext": {"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false,
                                        "capabilities": {"drop": ["ALL"]}},
                    "resources": {"limits": {"memory": "256Mi", "cpu": "500m"}},
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]
                }]
            }
        });
        assert_eq!(validate(&pod), Ok(()));
        assert_eq!(engine_ref("berth/example-server@sha256:abc"), "sha256:abc");
        let image = ImageFacts {
            id: "sha256:abc".into(),
            user: "65534:65534".into(),
        };
        let secrets = BTreeMap::new();
        let at = Placement {
            image: &image,
            network: "net",
            instance: "i",
            secrets: &secrets,
        };
        let cfg = container_config(&pod, &at).unwrap();
        assert_eq!(cfg.user.as_deref(), Some("65534:65534"));
        assert_eq!(cfg.entrypoint, None);
        assert_eq!(cfg.cmd, Some(vec!["--x".to_owned()]));
        assert_eq!(cfg.open_stdin, Some(true));
        let host = cfg.host_config.unwrap();
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(
            host.security_opt,
            Some(vec!["no-new-privileges:true".to_owned()])
        );
        assert_eq!(host.memory, Some(268_435_456));
        assert_eq!(host.nano_cpus, Some(500_000_000));
        assert_eq!(
            host.tmpfs.unwrap()["/tmp"],
            "rw,nosuid,nodev,mode=1777,size=67108864"
        );
        let root = ImageFacts {
            id: "x".into(),
            user: String::new(),
        };
        let mut as_root = pod.clone();
        as_root["spec"]["securityContext"]["runAsUser"] = serde_json::Value::Null;
        let at = Placement {
            image: &root,
            network: "net",
            instance: "i",
            secrets: &secrets,
        };
        assert!(
            container_config(&as_root, &at)
                .unwrap_err()
                .contains("runAsNonRoot")
        );
    }

    #[test]
    fn refused_specs() {
        let two =
            json!({"spec": {"containers": [{"name":"a","image":"x"},{"name":"b","image":"y"}]}});
        assert!(validate(&two).unwrap_err().contains("Too many"));
        let hostpath = json!({"spec": {"volumes": [{"name": "h", "hostPath": {"path": "/"}}],
                                       "containers": [{"name":"a","image":"x"}]}});
        assert!(
            validate(&hostpath)
                .unwrap_err()
                .contains("emptyDir volumes only")
        );
        let bad = json!({"spec": {"containers": [{"name":"a","image":"x","resources":{"limits":{"memory":"lots"}}}]}});
        assert!(
            validate(&bad)
                .unwrap_err()
                .contains("resources.limits[memory]")
        );
    }
}
