//! A container's environment as the kubelet builds it: `envFrom` secret
//! refs, then `env` entries (`value` with `$(VAR)` expansion,
//! `valueFrom.secretKeyRef`, `valueFrom.fieldRef` on metadata), resolved
//! against the namespace's Secrets. A missing Secret or key is the
//! kubelet's CreateContainerConfigError (the caller retries).
//!
//! Imports no sibling module.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::Value;

/// The environment of `container` in `pod`, in order (later wins).
/// `secrets` are the namespace's Secrets by name.
pub(crate) fn resolve(
    pod: &Value,
    container: &Value,
    secrets: &BTreeMap<String, Value>,
) -> Result<Vec<(String, String)>, String> {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
    let mut vars: Vec<(String, String)> = Vec::new();
    for from in container["envFrom"].as_array().into_iter().flatten() {
        let prefix = from["prefix"].as_str().unwrap_or("");
        if let Some(secret_ref) = from.get("secretRef") {
            let name = secret_ref["name"].as_str().unwrap_or("");
            let optional = secret_ref["optional"].as_bool().unwrap_or(false);
            match secrets.get(name) {
                Some(secret) => {
                    for (k, v) in secret["data"].as_object().into_iter().flatten() {
                        set(&mut vars, format!("{prefix}{k}"), decode(v));
                    }
                }
                None if optional => {}
                None => return Err(format!("secret \"{name}\" not found")),
            }
        } else if let Some(cm) = from.get("configMapRef")
            && !cm["optional"].as_bool().unwrap_or(false)
        {
            return Err(format!(
                "configmap \"{}\" not found",
                cm["name"].as_str().unwrap_or("")
            ));
        }
    }
    for entry in container["env"].as_array().into_iter().flatten() {
        let name = entry["name"].as_str().unwrap_or("").to_owned();
        if let Some(v) = entry["value"].as_str() {
            let value = expand(v, &vars);
            set(&mut vars, name, value);
            continue;
        }
        let from = &entry["valueFrom"];
        if let Some(r) = from.get("secretKeyRef") {
            let secret = r["name"].as_str().unwrap_or("");
            let key = r["key"].as_str().unwrap_or("");
            let optional = r["optional"].as_bool().unwrap_or(false);
            match secrets.get(secret).map(|s| &s["data"][key]) {
                Some(v) if !v.is_null() => set(&mut vars, name, decode(v)),
                _ if optional => {}
                Some(_) => {
                    return Err(format!("couldn't find key {key} in Secret {ns}/{secret}"));
                }
                None => return Err(format!("secret \"{secret}\" not found")),
            }
        } else if let Some(r) = from.get("fieldRef") {
            let path = r["fieldPath"].as_str().unwrap_or("");
            set(&mut vars, name, field(pod, path)?);
        } else if let Some(r) = from.get("configMapKeyRef") {
            if !r["optional"].as_bool().unwrap_or(false) {
                return Err(format!(
                    "configmap \"{}\" not found",
                    r["name"].as_str().unwrap_or("")
                ));
            }
        } else if from.is_object() {
            return Err(format!(
                "fake kubelet: env {name} uses a valueFrom source this fake does not implement: {from}"
            ));
        } else {
            set(&mut vars, name, String::new());
        }
    }
    Ok(vars)
}

/// Sets or replaces a variable.
fn set(vars: &mut Vec<(String, String)>, name: String, value: String) {
    vars.retain(|(k, _)| *k != name);
    vars.push((name, value));
}

/// A Secret `data` value (base64) as text.
fn decode(v: &Value) -> String {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap_or(""))
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A `fieldRef` the fake can answer before the container starts.
fn field(pod: &Value, path: &str) -> Result<String, String> {
    let meta = &pod["metadata"];
    let value = match path {
        "metadata.name" => meta["name"].clone(),
        "metadata.namespace" => meta["namespace"].clone(),
        "metadata.uid" => meta["uid"].clone(),
        "spec.nodeName" => pod["spec"]["nodeName"].clone(),
        "spec.serviceAccountName" => pod["spec"]["serviceAccountName"].clone(),
        p => {
            let label = p
                .strip_prefix("metadata.labels['")
                .and_then(|r| r.strip_suffix("']"))
                .map(|k| meta["labels"][k].clone());
            let annotation = p
                .strip_prefix("metadata.annotations['")
                .and_then(|r| r.strip_suffix("']"))
                .map(|k| meta["annotations"][k].clone());
            match label.or(annotation) {
                Some(v) => v,
                None => {
                    return Err(format!(
                        "fake kubelet: fieldRef {p} is not one this fake implements"
                    ));
                }
            }
        }
    };
    Ok(value.as_str().unwrap_or("").to_owned())
}

/// Kubernetes `$(VAR)` expansion: known variables are replaced, `$$`
/// becomes `$`, anything else stays as written.
pub(crate) fn expand(text: &str, vars: &[(String, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(end) = inner.find(')')
            && let Some((_, v)) = vars.iter().rev().find(|(k, _)| *k == inner[..end])
        {
            out.push_str(v);
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::{expand, resolve};
    use serde_json::json;
    use std::collections::BTreeMap;

    #[test]
    fn env_from_secrets() {
        let pod = json!({"metadata":{"name":"p","namespace":"ns"}});
        let container = json!({"env":[
            {"name":"A","value":"x"},
            {"name":"B","value":"$(A)-$$(A)-$(NOPE)"},
            {"name":"TOKEN","valueFrom":{"secretKeyRef":{"name":"s","key":"token"}}},
            {"name":"POD","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},
        ]});
        let mut secrets = BTreeMap::new();
        assert_eq!(
            resolve(&pod, &container, &secrets),
            Err("secret \"s\" not found".into())
        );
        secrets.insert("s".to_owned(), json!({"data":{"other":"eA=="}}));
        assert_eq!(
            resolve(&pod, &container, &secrets),
            Err("couldn't find key token in Secret ns/s".into())
        );
        secrets.insert("s".to_owned(), json!({"data":{"token":"c2VjcmV0"}}));
        let vars = resolve(&pod, &container, &secrets).unwrap();
        assert_eq!(
            vars,
            vec![
                ("A".into(), "x".into()),
                ("B".into(), "x-$(A)-$(NOPE)".into()),
                ("TOKEN".into(), "secret".into()),
                ("POD".into(), "p".into()),
            ]
        );
        assert_eq!(expand("a$b", &vars), "a$b");
    }
}
