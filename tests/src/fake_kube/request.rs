//! Request plumbing shared by the pod and secret handlers: query
//! parameters, refusal facts, patch content types, names of new objects
//! (`metadata.name` / `generateName`), the fields only the server sets,
//! and list bodies.
//!
//! Imports `meta`, `refusal`, `status`.

use std::collections::HashMap;

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::meta;
use super::refusal::RequestFacts;
use super::status::ApiError;

/// A request's query parameters.
#[derive(Debug, Default)]
pub(crate) struct Params(HashMap<String, String>);

/// The query extractor the handlers take (its rejection becomes a 400
/// Status in [`params`]).
pub(crate) type RawParams = Result<Query<HashMap<String, String>>, QueryRejection>;

/// The parameters, or a 400 Status when the query is malformed.
pub(crate) fn params(q: RawParams) -> Result<Params, ApiError> {
    q.map(|Query(m)| Params(m))
        .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))
}

impl Params {
    /// A parameter.
    pub(crate) fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    /// A boolean parameter (`true` or `1`).
    pub(crate) fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true" | "1"))
    }

    /// `dryRun=All`.
    pub(crate) fn dry_run(&self) -> bool {
        self.get("dryRun") == Some("All")
    }
}

/// Facts about a request for refusal rules.
pub(crate) fn facts(
    method: &str,
    verb: &'static str,
    resource: &'static str,
    ns: &str,
    name: Option<&str>,
) -> RequestFacts {
    RequestFacts {
        method: method.to_owned(),
        verb,
        resource,
        namespace: ns.to_owned(),
        name: name.map(str::to_owned),
        new_name: None,
    }
}

/// PATCH bodies the fake applies: JSON merge patches (strategic merge
/// patches are applied as merge patches). Others are 415.
pub(crate) fn check_patch_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    match mime {
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => Ok(()),
        _ => Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json (fake kube-apiserver; got \"{ct}\")"
            ),
        )),
    }
}

/// Checks `kind`/`apiVersion` (if given) and sets them.
pub(crate) fn check_kind(object: &mut Value, kind: &str) -> Result<(), ApiError> {
    if let Some(k) = object.get("kind").and_then(Value::as_str)
        && k != kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind of the provided object ({k}) does not match the resource ({kind})"
        )));
    }
    if let Some(v) = object.get("apiVersion").and_then(Value::as_str)
        && v != "v1"
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({v}) does not match the expected API version (v1)"
        )));
    }
    object["kind"] = json!(kind);
    object["apiVersion"] = json!("v1");
    Ok(())
}

/// Names a new object in namespace `ns` (its `metadata.name`, or its
/// `generateName` plus 5 random characters), checks the name, and stamps
/// the fields the server sets (namespace, uid, creationTimestamp).
pub(crate) fn prepare_new(
    object: &mut Value,
    ns: &str,
    kind: &str,
    plural: &str,
) -> Result<String, ApiError> {
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    let meta_obj = &mut object["metadata"];
    if let Some(given) = meta_obj.get("namespace").and_then(Value::as_str)
        && !given.is_empty()
        && given != ns
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let name = match (
        meta_obj["name"].as_str().filter(|n| !n.is_empty()),
        meta_obj["generateName"].as_str().filter(|n| !n.is_empty()),
    ) {
        (Some(n), _) => n.to_owned(),
        (None, Some(prefix)) => meta::generate_name(prefix),
        (None, None) => {
            return Err(ApiError::invalid(
                kind,
                plural,
                "",
                "metadata.name: Required value: name or generateName is required",
            ));
        }
    };
    meta::check_name(&name).map_err(|e| ApiError::invalid(kind, plural, &name, &e))?;
    if let Some(m) = meta_obj.as_object_mut() {
        for server_set in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            m.remove(server_set);
        }
    }
    meta_obj["name"] = json!(name);
    meta_obj["namespace"] = json!(ns);
    meta_obj["uid"] = json!(meta::uid());
    meta_obj["creationTimestamp"] = json!(meta::now());
    Ok(name)
}

/// After a patch: puts back what only the server may change
/// (identity, timestamps, kind) from `old`.
pub(crate) fn keep_server_fields(new: &mut Value, old: &Value) {
    for k in ["kind", "apiVersion"] {
        new[k] = old[k].clone();
    }
    if !new["metadata"].is_object() {
        new["metadata"] = json!({});
    }
    for k in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generateName",
    ] {
        match old["metadata"].get(k) {
            Some(v) => new["metadata"][k] = v.clone(),
            None => {
                if let Some(m) = new["metadata"].as_object_mut() {
                    m.remove(k);
                }
            }
        }
    }
}

/// A patch's `metadata.resourceVersion` precondition: 409 if it is not
/// the object's.
pub(crate) fn check_version(
    patch: &Value,
    current: &Value,
    plural: &str,
    name: &str,
) -> Result<(), ApiError> {
    match patch["metadata"]["resourceVersion"].as_str() {
        Some(rv) if Some(rv) != current["metadata"]["resourceVersion"].as_str() => {
            Err(ApiError::conflict(plural, name))
        }
        _ => Ok(()),
    }
}

/// A `<Kind>List` body.
pub(crate) fn list_body(kind: &str, rv: u64, items: Vec<Value>) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": format!("{kind}List"),
        "metadata": {"resourceVersion": rv.to_string()},
        "items": items,
    })
}
