//! The crate's one error type.
//!
//! Every message is safe to log: none of them carries key bytes, plaintext,
//! subjects or session ids. JSON errors are reduced to their category and
//! position for the same reason (serde_json quotes offending values).
//!
//! Imports: no module of this crate (every other module imports this one).

use std::io;
use std::path::Path;

/// Everything that can go wrong while deriving keys, sealing, opening or
/// storing session records.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The backing store cannot be reached. Callers should fail the request
    /// (and the readiness probe) rather than treat the session as missing.
    #[error(
        "session store unavailable: {0}; check that the store (e.g. Redis at the configured \
         `--store` URL) is running and reachable from this pod, then retry"
    )]
    Unavailable(String),

    /// `store.url` is not a URL the store can use. The message names the
    /// form expected and the offending part, never a password.
    #[error("invalid store.url: {0}")]
    InvalidUrl(String),

    /// A stored value is not a well-formed sealed record (bad version,
    /// truncated, malformed key id) or a key file is damaged.
    #[error("corrupt sealed session data: {0}")]
    Corrupt(&'static str),

    /// The record was sealed under a master key id this key ring does not
    /// hold (or a binding was requested for an unknown bind key id).
    #[error(
        "unknown session key id {id:?}; if keys were rotated, keep the old key configured as a \
         previous key until its records have expired, and make sure every pod shares the same keys"
    )]
    UnknownKeyId {
        /// The key id (ids are restricted to `[A-Za-z0-9._-]`, so this is log-safe).
        id: String,
    },

    /// AES-GCM refused the record: it was sealed for another binding (another
    /// user, server or session), under another key with the same id, or was
    /// tampered with.
    #[error(
        "session record does not authenticate under this binding (other owner, different key or \
         tampered data)"
    )]
    Crypto,

    /// A file-system operation on the key file failed, or the OS random
    /// number generator did.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, including the path.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A key or key id given by configuration is unusable. The message names
    /// the problem, never the key material.
    #[error("invalid session key: {0}")]
    InvalidKey(String),

    /// A record could not be (de)serialized. Only the error category and
    /// position are kept, never the offending value.
    #[error("session record serialization failed: {0}")]
    Serde(String),
}

// === impl Error ===

impl Error {
    /// `true` when the store itself is down, as opposed to a problem with one
    /// record; useful for readiness probes and for choosing 503 over 404.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Error::Unavailable(_))
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn io_at(action: &str, path: &Path, source: io::Error) -> Self {
        Error::io(format!("{action} {}", path.display()), source)
    }

    /// Reduces a serde_json error to category and position: its display form
    /// may quote plaintext values.
    pub(crate) fn serde(err: &serde_json::Error) -> Self {
        Error::Serde(redacted_json_error(err))
    }
}

/// A log-safe description of a serde_json error.
pub(crate) fn redacted_json_error(err: &serde_json::Error) -> String {
    let category = match err.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected data shape",
        serde_json::error::Category::Eof => "unexpected end of input",
    };
    if err.line() == 0 {
        category.to_string()
    } else {
        format!("{category} at line {} column {}", err.line(), err.column())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_errors_do_not_echo_values() {
        let err = serde_json::from_str::<u64>("\"top-secret-token\"").unwrap_err();
        let msg = Error::serde(&err).to_string();
        assert!(!msg.contains("top-secret-token"), "{msg}");
        assert!(msg.contains("unexpected data shape"), "{msg}");
    }
}
