//! The pods endpoints: create (then the kubelet task runs it), get,
//! get status, list (label and field selectors; `watch=true` goes to the
//! watch module), patch (labels/annotations: the spec is immutable), and
//! delete (graceful through the kubelet, or at once for grace 0 and
//! unscheduled pods).
//!
//! Imports `state`, `store` (through state), `status`, `request`,
//! `selector`, `merge`, `spec`, `kubelet`, `watch`, `meta`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use bytes::Bytes;
use serde_json::{Value, json};

use super::kubelet;
use super::merge::merge_patch;
use super::meta;
use super::request::{
    RawParams, check_kind, check_patch_type, check_version, facts, keep_server_fields, list_body,
    params, prepare_new,
};
use super::selector::{FieldSelector, LabelSelector, POD_FIELDS};
use super::spec;
use super::state::Fake;
use super::status::{ApiError, ApiResult, created, ok, parse_object};
use super::watch;

/// `POST /api/v1/namespaces/{ns}/pods`.
pub(crate) async fn create(
    State(fake): State<Arc<Fake>>,
    Path(ns): Path<String>,
    q: RawParams,
    body: Bytes,
) -> ApiResult {
    let q = params(q)?;
    let mut pod = parse_object(&body)?;
    check_kind(&mut pod, "Pod")?;
    let mut facts = facts("POST", "create", "pods", &ns, None);
    // RBAC answers before the body is read: its refusals name no pod.
    let name = match prepare_new(&mut pod, &ns, "Pod", "pods") {
        Ok(name) => name,
        Err(e) => {
            fake.check(&facts)?;
            return Err(e);
        }
    };
    facts.new_name = Some(name.clone());
    fake.check(&facts)?;
    spec::validate(&pod).map_err(|what| ApiError::invalid("Pod", "pods", &name, &what))?;
    let spec_obj = &mut pod["spec"];
    if spec_obj.get("restartPolicy").is_none() {
        spec_obj["restartPolicy"] = json!("Always");
    }
    if spec_obj.get("terminationGracePeriodSeconds").is_none() {
        spec_obj["terminationGracePeriodSeconds"] = json!(30);
    }
    if let Some(m) = spec_obj.as_object_mut() {
        m.remove("nodeName");
    }
    pod["status"] = json!({"phase": "Pending"});
    if q.dry_run() {
        return created(&pod);
    }
    let cancel = fake.closing.child_token();
    let stored = fake.store.create_pod(&ns, pod, cancel.clone())?;
    kubelet::spawn(fake.clone(), &stored, cancel);
    created(&stored)
}

/// `GET …/pods/{name}`.
pub(crate) async fn get(
    State(fake): State<Arc<Fake>>,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult {
    fake.check(&facts("GET", "get", "pods", &ns, Some(&name)))?;
    let pod = fake
        .store
        .pod(&ns, &name)
        .ok_or_else(|| ApiError::not_found("pods", &name))?;
    ok(&pod)
}

/// `GET …/pods/{name}/status`.
pub(crate) async fn get_status(
    State(fake): State<Arc<Fake>>,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult {
    fake.check(&facts("GET", "get", "pods/status", &ns, Some(&name)))?;
    let pod = fake
        .store
        .pod(&ns, &name)
        .ok_or_else(|| ApiError::not_found("pods", &name))?;
    ok(&pod)
}

/// `GET …/pods` (list, or watch with `watch=true`).
pub(crate) async fn list(
    State(fake): State<Arc<Fake>>,
    Path(ns): Path<String>,
    q: RawParams,
) -> ApiResult {
    let q = params(q)?;
    if q.flag("watch") {
        return watch::pods(fake, ns, q).await;
    }
    fake.check(&facts("GET", "list", "pods", &ns, None))?;
    let labels = LabelSelector::parse(q.get("labelSelector"))?;
    let fields = FieldSelector::parse(q.get("fieldSelector"), POD_FIELDS)?;
    let (rv, pods) = fake.store.pods(&ns);
    let items = pods
        .into_iter()
        .filter(|p| labels.matches(p) && fields.matches(p))
        .collect();
    ok(&list_body("Pod", rv, items))
}

/// `PATCH …/pods/{name}` (merge patch; labels, annotations and other
/// metadata — the spec of a pod cannot change, the status is ignored).
pub(crate) async fn patch(
    State(fake): State<Arc<Fake>>,
    Path((ns, name)): Path<(String, String)>,
    headers: HeaderMap,
    q: RawParams,
    body: Bytes,
) -> ApiResult {
    let q = params(q)?;
    fake.check(&facts("PATCH", "patch", "pods", &ns, Some(&name)))?;
    check_patch_type(&headers)?;
    let patch = parse_object(&body)?;
    let apply = |pod: &mut Value| -> Result<(), ApiError> {
        check_version(&patch, pod, "pods", &name)?;
        let mut new = pod.clone();
        merge_patch(&mut new, &patch);
        keep_server_fields(&mut new, pod);
        new["status"] = pod["status"].clone();
        if new["spec"] != pod["spec"] {
            return Err(ApiError::invalid(
                "Pod",
                "pods",
                &name,
                "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative) (fake kube-apiserver: no spec changes at all)",
            ));
        }
        *pod = new;
        Ok(())
    };
    if q.dry_run() {
        let mut pod = fake
            .store
            .pod(&ns, &name)
            .ok_or_else(|| ApiError::not_found("pods", &name))?;
        apply(&mut pod)?;
        return ok(&pod);
    }
    let pod = fake.store.modify_pod(&ns, &name, None, apply)?;
    ok(&pod)
}

/// `DELETE …/pods/{name}`: answers with the pod. A bound pod with a grace
/// period gets `deletionTimestamp` (MODIFIED) and the kubelet stops its
/// container (grace capped at 5 s), removes it, then the pod (DELETED);
/// grace 0 or an unbound pod goes at once.
pub(crate) async fn delete(
    State(fake): State<Arc<Fake>>,
    Path((ns, name)): Path<(String, String)>,
    q: RawParams,
    body: Bytes,
) -> ApiResult {
    let q = params(q)?;
    fake.check(&facts("DELETE", "delete", "pods", &ns, Some(&name)))?;
    let opts = if body.is_empty() {
        json!({})
    } else {
        parse_object(&body)?
    };
    let pod = fake
        .store
        .pod(&ns, &name)
        .ok_or_else(|| ApiError::not_found("pods", &name))?;
    check_preconditions(&opts["preconditions"], &pod, &name)?;
    let dry = q.dry_run()
        || opts["dryRun"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == "All"));
    if dry || pod["metadata"].get("deletionTimestamp").is_some() {
        return ok(&pod);
    }
    let grace = opts["gracePeriodSeconds"]
        .as_i64()
        .or_else(|| q.get("gracePeriodSeconds").and_then(|g| g.parse().ok()))
        .or_else(|| pod["spec"]["terminationGracePeriodSeconds"].as_i64())
        .unwrap_or(30)
        .max(0);
    let uid = pod["metadata"]["uid"].as_str().unwrap_or("").to_owned();
    let cancel = fake.store.cancel_of(&ns, &name);
    let unbound = pod["spec"]["nodeName"].as_str().is_none();
    let answer = if grace == 0 || unbound {
        let mut removed = fake
            .store
            .remove_pod(&ns, &name, Some(&uid))
            .ok_or_else(|| ApiError::not_found("pods", &name))?;
        removed["metadata"]["deletionTimestamp"] = json!(meta::now());
        removed["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        removed
    } else {
        fake.store.modify_pod(&ns, &name, Some(&uid), |p| {
            p["metadata"]["deletionTimestamp"] = json!(meta::now());
            p["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
            Ok(())
        })?
    };
    if let Some(c) = cancel {
        c.cancel();
    }
    ok(&answer)
}

/// `preconditions.uid` / `preconditions.resourceVersion` of a delete.
fn check_preconditions(pre: &Value, pod: &Value, name: &str) -> Result<(), ApiError> {
    for (field, label) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
        if let Some(want) = pre[field].as_str() {
            let have = pod["metadata"][field].as_str().unwrap_or("");
            if want != have {
                return Err(ApiError::new(
                    409,
                    "Conflict",
                    format!(
                        "Operation cannot be fulfilled on pods \"{name}\": Precondition failed: {label} in precondition: {want}, {label} in object meta: {have}"
                    ),
                )
                .about("pods", name));
            }
        }
    }
    Ok(())
}
