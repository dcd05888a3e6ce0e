//! [`RegistryError`]: why a registry operation was refused, with the HTTP
//! status the control API answers with.
//!
//! May import: `config` (a deployment's [`Problem`]s).

use crate::config::Problem;

/// Why a registry operation was refused; every message says what to do.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RegistryError {
    /// No such server or version (or another tenant's).
    #[error("{0}")]
    NotFound(String),
    /// The change does not fit the current state.
    #[error("{0}")]
    Conflict(String),
    /// The caller may not make this change.
    #[error("{0}")]
    Forbidden(String),
    /// `If-Match` named another revision than the current one.
    #[error(
        "the server changed since you read it (it is at revision {current}); read it again and retry"
    )]
    Stale {
        /// The record's current revision.
        current: u64,
    },
    /// The deployment is invalid; every problem is listed.
    #[error("the deployment is invalid ({}); each problem is listed with its JSON pointer", count(.0))]
    Invalid(Vec<Problem>),
    /// The registry's store cannot be reached or read.
    #[error("the registry store is unavailable: {0}; retry shortly")]
    Unavailable(String),
}

fn count(problems: &[Problem]) -> String {
    match problems.len() {
        1 => "1 problem".into(),
        n => format!("{n} problems"),
    }
}

impl RegistryError {
    /// The HTTP status the control API answers with.
    pub(crate) fn status(&self) -> u16 {
        match self {
            RegistryError::NotFound(_) => 404,
            RegistryError::Conflict(_) => 409,
            RegistryError::Forbidden(_) => 403,
            RegistryError::Stale { .. } => 412,
            RegistryError::Invalid(_) => 422,
            RegistryError::Unavailable(_) => 503,
        }
    }

    /// A stable machine-readable name of the error.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            RegistryError::NotFound(_) => "not_found",
            RegistryError::Conflict(_) => "conflict",
            RegistryError::Forbidden(_) => "forbidden",
            RegistryError::Stale { .. } => "precondition_failed",
            RegistryError::Invalid(_) => "invalid_deployment",
            RegistryError::Unavailable(_) => "unavailable",
        }
    }
}
