//! The secrets endpoints: create (`data` base64, `stringData` merged into
//! `data`, `type` default Opaque, labels, ownerReferences), get, list
//! (label and field selectors), patch (merge patch; `type` immutable),
//! delete (a Success Status). Secrets owned by a pod go when it does (the
//! store does that).
//!
//! Imports `state`, `status`, `request`, `selector`, `merge`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use base64::Engine;
use bytes::Bytes;
use serde_json::{Value, json};

use super::merge::merge_patch;
use super::request::{
    RawParams, check_kind, check_patch_type, check_version, facts, keep_server_fields, list_body,
    params, prepare_new,
};
use super::selector::{FieldSelector, LabelSelector, SECRET_FIELDS};
use super::state::Fake;
use super::status::{ApiError, ApiResult, created, ok, parse_object};

/// Folds `stringData` into `data` (base64) and checks `data` is base64.
fn normalize(secret: &mut Value, name: &str) -> Result<(), ApiError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    if !secret["data"].is_object() {
        if !secret["data"].is_null() {
            return Err(ApiError::bad_request(
                "data: must be an object of base64 strings",
            ));
        }
        secret["data"] = json!({});
    }
    for (k, v) in secret["data"].as_object().into_iter().flatten() {
        let ok = v.as_str().is_some_and(|s| b64.decode(s).is_ok());
        if !ok {
            return Err(ApiError::bad_request(format!(
                "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data in data[{k}]"
            )));
        }
    }
    if let Some(Value::Object(plain)) = secret.as_object_mut().and_then(|m| m.remove("stringData"))
    {
        for (k, v) in plain {
            let Some(text) = v.as_str() else {
                return Err(ApiError::invalid(
                    "Secret",
                    "secrets",
                    name,
                    &format!("stringData[{k}]: Invalid value: must be a string"),
                ));
            };
            secret["data"][k] = json!(b64.encode(text));
        }
    }
    if secret["type"].as_str().is_none_or(str::is_empty) {
        secret["type"] = json!("Opaque");
    }
    Ok(())
}

/// `POST /api/v1/namespaces/{ns}/secrets`.
pub(crate) async fn create(
    State(fake): State<Arc<Fake>>,
    Path(ns): Path<String>,
    q: RawParams,
    body: Bytes,
) -> ApiResult {
    let q = params(q)?;
    let mut secret = parse_object(&body)?;
    check_kind(&mut secret, "Secret")?;
    let mut facts = facts("POST", "create", "secrets", &ns, None);
    let name = match prepare_new(&mut secret, &ns, "Secret", "secrets") {
        Ok(n) => n,
        Err(e) => {
            fake.check(&facts)?;
            return Err(e);
        }
    };
    facts.new_name = Some(name.clone());
    fake.check(&facts)?;
    normalize(&mut secret, &name)?;
    if q.dry_run() {
        return created(&secret);
    }
    created(&fake.store.create_secret(&ns, secret)?)
}

/// `GET …/secrets/{name}`.
pub(crate) async fn get(
    State(fake): State<Arc<Fake>>,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult {
    fake.check(&facts("GET", "get", "secrets", &ns, Some(&name)))?;
    let s = fake
        .store
        .secret(&ns, &name)
        .ok_or_else(|| ApiError::not_found("secrets", &name))?;
    ok(&s)
}

/// `GET …/secrets` (a SecretList; watches of secrets are not served).
pub(crate) async fn list(
    State(fake): State<Arc<Fake>>,
    Path(ns): Path<String>,
    q: RawParams,
) -> ApiResult {
    let q = params(q)?;
    if q.flag("watch") {
        return Err(ApiError::new(
            405,
            "MethodNotAllowed",
            "fake kube-apiserver: watching secrets is not implemented",
        ));
    }
    fake.check(&facts("GET", "list", "secrets", &ns, None))?;
    let labels = LabelSelector::parse(q.get("labelSelector"))?;
    let fields = FieldSelector::parse(q.get("fieldSelector"), SECRET_FIELDS)?;
    let (rv, all) = fake.store.secrets(&ns);
    let items = all
        .into_iter()
        .filter(|s| labels.matches(s) && fields.matches(s))
        .collect();
    ok(&list_body("Secret", rv, items))
}

/// `PATCH …/secrets/{name}` (merge patch).
pub(crate) async fn patch(
    State(fake): State<Arc<Fake>>,
    Path((ns, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    fake.check(&facts("PATCH", "patch", "secrets", &ns, Some(&name)))?;
    check_patch_type(&headers)?;
    let patch = parse_object(&body)?;
    let secret = fake.store.modify_secret(&ns, &name, |s| {
        check_version(&patch, s, "secrets", &name)?;
        let mut new = s.clone();
        merge_patch(&mut new, &patch);
        keep_server_fields(&mut new, s);
        normalize(&mut new, &name)?;
        if new["type"] != s["type"] {
            return Err(ApiError::invalid(
                "Secret",
                "secrets",
                &name,
                &format!("type: Invalid value: {}: field is immutable", new["type"]),
            ));
        }
        *s = new;
        Ok(())
    })?;
    ok(&secret)
}

/// `DELETE …/secrets/{name}`: a Success Status naming it.
pub(crate) async fn delete(
    State(fake): State<Arc<Fake>>,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult {
    fake.check(&facts("DELETE", "delete", "secrets", &ns, Some(&name)))?;
    let gone = fake
        .store
        .remove_secret(&ns, &name)
        .ok_or_else(|| ApiError::not_found("secrets", &name))?;
    ok(&json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": name, "kind": "secrets", "uid": gone["metadata"]["uid"]},
    }))
}
