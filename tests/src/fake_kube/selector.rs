//! Label selectors (`a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`,
//! `a notin (x,y)`, comma = AND) and field selectors (`metadata.name=X`,
//! `!=`, on a few known fields), matched against stored JSON objects.
//!
//! Imports `status` (parse errors are 400 Status answers).

use serde_json::Value;

use super::status::ApiError;

/// One label requirement.
#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A parsed label selector (empty matches everything).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    /// Parses `labelSelector` (400 BadRequest when malformed).
    pub(crate) fn parse(text: Option<&str>) -> Result<LabelSelector, ApiError> {
        let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(LabelSelector::default());
        };
        let bad = |why: &str| {
            ApiError::bad_request(format!(
                "unable to parse requirement: {why} (in selector \"{text}\")"
            ))
        };
        let mut out = Vec::new();
        for term in split_top_level(text).map_err(|e| bad(&e))? {
            let term = term.trim();
            if term.is_empty() {
                return Err(bad("found '', expected: identifier"));
            }
            let req = if let Some(key) = term.strip_prefix('!') {
                Requirement::NotExists(key_of(key.trim()).map_err(|e| bad(&e))?)
            } else if let Some((k, v)) = term.split_once("!=") {
                let (k, v) = pair(k, v).map_err(|e| bad(&e))?;
                Requirement::NotEquals(k, v)
            } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                let (k, v) = pair(k, v).map_err(|e| bad(&e))?;
                Requirement::Equals(k, v)
            } else if let Some((k, set)) = split_set(term, " notin ") {
                Requirement::NotIn(
                    key_of(k).map_err(|e| bad(&e))?,
                    set_of(set).map_err(|e| bad(&e))?,
                )
            } else if let Some((k, set)) = split_set(term, " in ") {
                Requirement::In(
                    key_of(k).map_err(|e| bad(&e))?,
                    set_of(set).map_err(|e| bad(&e))?,
                )
            } else {
                Requirement::Exists(key_of(term).map_err(|e| bad(&e))?)
            };
            out.push(req);
        }
        Ok(LabelSelector(out))
    }

    /// Whether an object (its `metadata.labels`) matches.
    pub(crate) fn matches(&self, object: &Value) -> bool {
        let labels = &object["metadata"]["labels"];
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
            Requirement::In(k, set) => get(k).is_some_and(|v| set.iter().any(|s| s == v)),
            Requirement::NotIn(k, set) => get(k).is_none_or(|v| !set.iter().any(|s| s == v)),
        })
    }
}

/// Splits on commas outside parentheses.
fn split_top_level(text: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err("unbalanced ')'".into());
                }
            }
            ',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced '('".into());
    }
    out.push(&text[start..]);
    Ok(out)
}

/// `key op (a,b)` -> (key, "a,b").
fn split_set<'a>(term: &'a str, op: &str) -> Option<(&'a str, &'a str)> {
    let (k, rest) = term.split_once(op)?;
    let set = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some((k.trim(), set))
}

fn set_of(text: &str) -> Result<Vec<String>, String> {
    text.split(',').map(|v| value_of(v.trim())).collect()
}

/// `key`, `value` of an (in)equality term.
fn pair(k: &str, v: &str) -> Result<(String, String), String> {
    Ok((key_of(k.trim())?, value_of(v.trim())?))
}

/// A label key: `[prefix/]name`, name of alphanumerics, `-`, `_`, `.`.
fn key_of(k: &str) -> Result<String, String> {
    let name = k.rsplit('/').next().unwrap_or(k);
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && k.len() <= 316
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(k.to_owned())
    } else {
        Err(format!(
            "invalid label key \"{k}\": name part must consist of alphanumeric characters, '-', '_' or '.'"
        ))
    }
}

fn value_of(v: &str) -> Result<String, String> {
    let ok = v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(v.to_owned())
    } else {
        Err(format!("invalid label value: \"{v}\""))
    }
}

/// A parsed field selector over a kind's known fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FieldSelector(Vec<(String, bool, String)>);

/// Fields the fake can select pods on.
pub(crate) const POD_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "status.phase",
    "status.podIP",
];

/// Fields the fake can select secrets on.
pub(crate) const SECRET_FIELDS: &[&str] = &["metadata.name", "metadata.namespace", "type"];

impl FieldSelector {
    /// Parses `fieldSelector` against the kind's known `fields`.
    pub(crate) fn parse(text: Option<&str>, fields: &[&str]) -> Result<FieldSelector, ApiError> {
        let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(FieldSelector::default());
        };
        let mut out = Vec::new();
        for term in text.split(',') {
            let term = term.trim();
            let (field, equal, value) = if let Some((f, v)) = term.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{text}'; can't understand '{term}'"
                )));
            };
            let field = field.trim();
            if !fields.contains(&field) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            out.push((field.to_owned(), equal, value.trim().to_owned()));
        }
        Ok(FieldSelector(out))
    }

    /// Whether an object matches (a missing field reads as "").
    pub(crate) fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(field, equal, value)| {
            let mut v = object;
            for part in field.split('.') {
                v = &v[part];
            }
            let actual = v.as_str().unwrap_or("");
            (actual == value) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{FieldSelector, LabelSelector, POD_FIELDS};
    use serde_json::json;

    #[test]
    fn labels() {
        let pod = json!({"metadata":{"name":"p","labels":{"app":"berth","berth.dev/session":"s1","tier":"a"}}});
        let m = |s: &str| LabelSelector::parse(Some(s)).unwrap().matches(&pod);
        assert!(m("app=berth"));
        assert!(m("app==berth,tier"));
        assert!(m("app!=other"));
        assert!(m("berth.dev/session=s1"));
        assert!(m("!missing"));
        assert!(!m("missing"));
        assert!(!m("app=berth,!tier"));
        assert!(m("tier in (a,b)"));
        assert!(!m("tier notin (a,b)"));
        assert!(m("missing notin (a)"));
        assert!(m(""));
        assert!(LabelSelector::parse(Some("a=(")).is_err());
        assert!(LabelSelector::parse(Some("a b=c")).is_err());
    }

    #[test]
    fn fields() {
        let pod = json!({"metadata":{"name":"p"},"status":{"phase":"Running"}});
        let f = |s: &str| {
            FieldSelector::parse(Some(s), POD_FIELDS)
                .unwrap()
                .matches(&pod)
        };
        assert!(f("metadata.name=p"));
        assert!(!f("metadata.name=q"));
        assert!(f("metadata.name!=q,status.phase=Running"));
        assert!(FieldSelector::parse(Some("spec.foo=x"), POD_FIELDS).is_err());
    }
}
