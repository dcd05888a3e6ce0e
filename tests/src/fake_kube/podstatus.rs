//! The pod `status` the fake kubelet and scheduler write at each step:
//! unschedulable, scheduled, waiting (with a reason), running,
//! terminated — phase, conditions and `containerStatuses[0]`, shaped as a
//! real kubelet reports them.
//!
//! Imports `meta` (timestamps).

use serde_json::{Value, json};

use super::meta::now;

/// The node every scheduled pod is bound to.
pub const NODE: &str = "fake-kube-node";

/// Sets a condition, keeping its transition time when its status stays.
fn condition(
    pod: &mut Value,
    kind: &str,
    status: bool,
    reason: Option<&str>,
    message: Option<&str>,
) {
    let status = if status { "True" } else { "False" };
    if !pod["status"]["conditions"].is_array() {
        pod["status"]["conditions"] = json!([]);
    }
    let Some(list) = pod["status"]["conditions"].as_array_mut() else {
        return;
    };
    let mut cond = json!({"type": kind, "status": status, "lastProbeTime": null,
                          "lastTransitionTime": now()});
    if let Some(r) = reason {
        cond["reason"] = json!(r);
    }
    if let Some(m) = message {
        cond["message"] = json!(m);
    }
    match list.iter_mut().find(|c| c["type"] == kind) {
        Some(old) => {
            if old["status"] == status {
                cond["lastTransitionTime"] = old["lastTransitionTime"].clone();
            }
            *old = cond;
        }
        None => list.push(cond),
    }
}

/// `containerStatuses[0]` with `state`.
fn container_status(pod: &mut Value, state: Value, ready: bool, extra: &[(&str, Value)]) {
    let c = &pod["spec"]["containers"][0];
    let mut status = json!({
        "name": c["name"],
        "image": c["image"],
        "imageID": "",
        "ready": ready,
        "started": state.get("running").is_some(),
        "restartCount": 0,
        "state": state,
    });
    let old = &pod["status"]["containerStatuses"][0];
    for key in ["imageID", "containerID"] {
        if let Some(v) = old.get(key) {
            status[key] = v.clone();
        }
    }
    for (k, v) in extra {
        status[*k] = v.clone();
    }
    pod["status"]["containerStatuses"] = json!([status]);
}

/// The scheduler cannot place the pod (test control `hold_pending`).
pub(crate) fn unschedulable(pod: &mut Value) {
    pod["status"]["phase"] = json!("Pending");
    condition(
        pod,
        "PodScheduled",
        false,
        Some("Unschedulable"),
        Some(
            "0/1 nodes are available: 1 node(s) were held by the fake (hold_pending). preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
        ),
    );
}

/// Bound to the node; the kubelet starts on it.
pub(crate) fn scheduled(pod: &mut Value) {
    pod["spec"]["nodeName"] = json!(NODE);
    pod["status"]["phase"] = json!("Pending");
    pod["status"]["startTime"] = json!(now());
    condition(pod, "PodScheduled", true, None, None);
    condition(pod, "Initialized", true, None, None);
    not_ready(pod);
    container_status(
        pod,
        json!({"waiting": {"reason": "ContainerCreating"}}),
        false,
        &[],
    );
}

fn not_ready(pod: &mut Value) {
    let name = pod["spec"]["containers"][0]["name"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let msg = format!("containers with unready status: [{name}]");
    condition(
        pod,
        "ContainersReady",
        false,
        Some("ContainersNotReady"),
        Some(&msg),
    );
    condition(pod, "Ready", false, Some("ContainersNotReady"), Some(&msg));
}

/// The container waits: `ErrImagePull`, `ImagePullBackOff`,
/// `CreateContainerConfigError` … with a message.
pub(crate) fn waiting(pod: &mut Value, reason: &str, message: &str) {
    pod["status"]["phase"] = json!("Pending");
    container_status(
        pod,
        json!({"waiting": {"reason": reason, "message": message}}),
        false,
        &[],
    );
}

/// What the kubelet knows of a started container.
pub(crate) struct Started<'a> {
    /// The docker container id.
    pub(crate) container: &'a str,
    /// The image id (`sha256:…`).
    pub(crate) image_id: &'a str,
    /// The container's IP on the pods' network.
    pub(crate) ip: &'a str,
    /// When it started (RFC 3339).
    pub(crate) started_at: &'a str,
}

/// The container runs: phase Running, Ready, podIP.
pub(crate) fn running(pod: &mut Value, s: &Started<'_>) {
    pod["status"]["phase"] = json!("Running");
    pod["status"]["podIP"] = json!(s.ip);
    pod["status"]["podIPs"] = json!([{"ip": s.ip}]);
    condition(pod, "ContainersReady", true, None, None);
    condition(pod, "Ready", true, None, None);
    container_status(
        pod,
        json!({"running": {"startedAt": s.started_at}}),
        true,
        &[
            ("containerID", json!(format!("docker://{}", s.container))),
            ("imageID", json!(s.image_id)),
        ],
    );
}

/// How a container ended.
pub(crate) struct Ended<'a> {
    /// Its exit code.
    pub(crate) exit_code: i64,
    /// Whether the engine killed it for its memory limit.
    pub(crate) oom_killed: bool,
    /// When it started and finished (RFC 3339).
    pub(crate) started_at: &'a str,
    /// When it finished.
    pub(crate) finished_at: &'a str,
    /// Why it did not start (`StartError`), if so.
    pub(crate) start_error: Option<&'a str>,
}

/// The container ended: phase Succeeded (0) or Failed (restartPolicy
/// Never; the fake restarts nothing).
pub(crate) fn terminated(pod: &mut Value, e: &Ended<'_>) {
    let (reason, message) = match e.start_error {
        Some(m) => ("StartError", Some(m)),
        None if e.oom_killed => ("OOMKilled", None),
        None if e.exit_code == 0 => ("Completed", None),
        None => ("Error", None),
    };
    let mut state = json!({"exitCode": e.exit_code, "reason": reason,
                           "startedAt": e.started_at, "finishedAt": e.finished_at});
    if let Some(m) = message {
        state["message"] = json!(m);
    }
    if let Some(id) = pod["status"]["containerStatuses"][0].get("containerID") {
        state["containerID"] = id.clone();
    }
    pod["status"]["phase"] = json!(if e.exit_code == 0 && e.start_error.is_none() {
        "Succeeded"
    } else {
        "Failed"
    });
    condition(pod, "ContainersReady", false, Some("PodCompleted"), None);
    condition(pod, "Ready", false, Some("PodCompleted"), None);
    container_status(pod, json!({"terminated": state}), false, &[]);
}
