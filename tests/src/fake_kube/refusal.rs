//! Test-provoked failures: a [`Refusal`] makes matching requests fail with
//! a given Status (RBAC 403, quota 403, 409, 503 …), for the next N
//! requests or until cleared.
//!
//! Imports `status`.

use super::status::ApiError;

/// What a request is, for matching refusals: its HTTP method, its RBAC
/// verb, its resource (`pods`, `pods/attach`, `pods/status`, `secrets`),
/// namespace, the name in its path and, for a create, the new object's name.
#[derive(Debug, Clone)]
pub(crate) struct RequestFacts {
    /// `GET`, `POST` …
    pub(crate) method: String,
    /// `create`, `get`, `list`, `watch`, `delete`, `patch`.
    pub(crate) verb: &'static str,
    /// `pods`, `pods/attach`, `pods/status`, `secrets`.
    pub(crate) resource: &'static str,
    /// The namespace.
    pub(crate) namespace: String,
    /// The name in the URL path (none for create/list/watch).
    pub(crate) name: Option<String>,
    /// The name of the object a create makes.
    pub(crate) new_name: Option<String>,
}

/// Which requests a refusal applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum On {
    /// An RBAC verb (`create`, `get`, `list`, `watch`, `delete`, `patch`, `*`).
    Verb(String),
    /// An HTTP method (`GET`, `POST` …).
    Method(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Message {
    /// The RBAC authorizer's wording, for this user.
    Rbac(String),
    /// The ResourceQuota admission's wording.
    Quota,
    /// Fixed text; `{ns}` and `{name}` are replaced.
    Text(String),
}

/// A rule making matching requests fail with a Status. Build one with a
/// constructor, optionally limit it with [`Refusal::times`], and install
/// it with `FakeKube::refuse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    on: On,
    resource: String,
    code: u16,
    reason: String,
    message: Message,
    remaining: Option<u32>,
}

/// The service account the Berth chart runs as.
const BERTH_USER: &str = "system:serviceaccount:berth:berth";

impl Refusal {
    /// RBAC denies `verb` on `resource` (e.g. `("create", "pods")`,
    /// `("create", "pods/attach")`) to Berth's service account: 403
    /// Forbidden, `pods is forbidden: User "system:serviceaccount:berth:berth"
    /// cannot create resource "pods" in API group "" in the namespace "NS"`.
    pub fn rbac(verb: &str, resource: &str) -> Refusal {
        Refusal {
            on: On::Verb(verb.to_owned()),
            resource: resource.to_owned(),
            code: 403,
            reason: "Forbidden".into(),
            message: Message::Rbac(BERTH_USER.into()),
            remaining: None,
        }
    }

    /// The same as [`Refusal::rbac`] for another user.
    pub fn as_user(mut self, user: &str) -> Refusal {
        if let Message::Rbac(u) = &mut self.message {
            *u = user.to_owned();
        }
        self
    }

    /// A ResourceQuota `berth-sessions` of 2 pods is used up: creating a
    /// pod gets 403 Forbidden, `pods "NAME" is forbidden: exceeded quota:
    /// berth-sessions, requested: pods=1, used: pods=2, limited: pods=2`.
    pub fn quota() -> Refusal {
        Refusal {
            on: On::Verb("create".into()),
            resource: "pods".into(),
            code: 403,
            reason: "Forbidden".into(),
            message: Message::Quota,
            remaining: None,
        }
    }

    /// 409 Conflict (`Operation cannot be fulfilled on …`) for `verb` on
    /// `resource`.
    pub fn conflict(verb: &str, resource: &str) -> Refusal {
        let plural = resource.split('/').next().unwrap_or(resource);
        Refusal {
            on: On::Verb(verb.to_owned()),
            resource: resource.to_owned(),
            code: 409,
            reason: "Conflict".into(),
            message: Message::Text(format!(
                "Operation cannot be fulfilled on {plural} \"{{name}}\": the object has been modified; please apply your changes to the latest version and try again"
            )),
            remaining: None,
        }
    }

    /// 503 ServiceUnavailable for `verb` on `resource` (an overloaded or
    /// restarting API server answering).
    pub fn unavailable(verb: &str, resource: &str) -> Refusal {
        Refusal {
            on: On::Verb(verb.to_owned()),
            resource: resource.to_owned(),
            code: 503,
            reason: "ServiceUnavailable".into(),
            message: Message::Text("the server is currently unable to handle the request".into()),
            remaining: None,
        }
    }

    /// Any Status for requests with HTTP `method` (`GET`, `POST`, … or `*`)
    /// on `resource`; `{ns}` and `{name}` in `message` are replaced.
    pub fn status(method: &str, resource: &str, code: u16, reason: &str, message: &str) -> Refusal {
        Refusal {
            on: On::Method(method.to_ascii_uppercase()),
            resource: resource.to_owned(),
            code,
            reason: reason.to_owned(),
            message: Message::Text(message.to_owned()),
            remaining: None,
        }
    }

    /// Applies to the next `n` matching requests only (then it is gone).
    pub fn times(mut self, n: u32) -> Refusal {
        self.remaining = Some(n);
        self
    }

    /// Whether the rule applies to `req`.
    pub(crate) fn matches(&self, req: &RequestFacts) -> bool {
        let on = match &self.on {
            On::Verb(v) => v == "*" || v == req.verb,
            On::Method(m) => m == "*" || *m == req.method,
        };
        on && (self.resource == "*" || self.resource == req.resource) && self.remaining != Some(0)
    }

    /// Counts one use; whether the rule is used up.
    pub(crate) fn consume(&mut self) -> bool {
        if let Some(n) = &mut self.remaining {
            *n = n.saturating_sub(1);
            return *n == 0;
        }
        false
    }

    /// The Status failure for `req`.
    pub(crate) fn error(&self, req: &RequestFacts) -> ApiError {
        let plural = req.resource.split('/').next().unwrap_or(req.resource);
        let name = req
            .name
            .clone()
            .or_else(|| req.new_name.clone())
            .unwrap_or_default();
        let message = match &self.message {
            Message::Rbac(user) => {
                let subject = match &req.name {
                    Some(n) => format!("{plural} \"{n}\""),
                    None => plural.to_owned(),
                };
                format!(
                    "{subject} is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"\" in the namespace \"{ns}\"",
                    verb = req.verb,
                    resource = req.resource,
                    ns = req.namespace,
                )
            }
            Message::Quota => format!(
                "{plural} \"{name}\" is forbidden: exceeded quota: berth-sessions, requested: pods=1, used: pods=2, limited: pods=2"
            ),
            Message::Text(t) => t.replace("{ns}", &req.namespace).replace("{name}", &name),
        };
        let mut err = ApiError::new(self.code, &self.reason, message);
        if !name.is_empty() {
            err = err.about(plural, &name);
        } else {
            err.kind = Some(plural.to_owned());
        }
        err
    }
}

#[cfg(test)]
mod tests {
    use super::{Refusal, RequestFacts};

    fn facts(
        method: &str,
        verb: &'static str,
        resource: &'static str,
        name: Option<&str>,
    ) -> RequestFacts {
        RequestFacts {
            method: method.into(),
            verb,
            resource,
            namespace: "ns1".into(),
            name: name.map(str::to_owned),
            new_name: Some("berth-abcde".into()),
        }
    }

    #[test]
    fn messages() {
        let create = facts("POST", "create", "pods", None);
        let r = Refusal::rbac("create", "pods");
        assert!(r.matches(&create));
        assert_eq!(
            r.error(&create).message,
            "pods is forbidden: User \"system:serviceaccount:berth:berth\" cannot create resource \"pods\" in API group \"\" in the namespace \"ns1\""
        );
        let attach = facts("GET", "create", "pods/attach", Some("p1"));
        assert!(!r.matches(&attach));
        assert!(Refusal::rbac("create", "pods/attach").matches(&attach));
        assert!(
            Refusal::rbac("create", "pods/attach")
                .error(&attach)
                .message
                .starts_with("pods \"p1\" is forbidden: User")
        );
        let q = Refusal::quota().error(&create);
        assert_eq!(q.code, 403);
        assert_eq!(
            q.message,
            "pods \"berth-abcde\" is forbidden: exceeded quota: berth-sessions, requested: pods=1, used: pods=2, limited: pods=2"
        );
        let mut once =
            Refusal::status("post", "pods", 409, "AlreadyExists", "x {name} in {ns}").times(1);
        assert!(once.matches(&create));
        assert_eq!(once.error(&create).message, "x berth-abcde in ns1");
        assert!(once.consume());
        assert!(!once.matches(&create));
    }
}
