//! Log-safe descriptions of vaultrs errors, for login (`login.rs`) and
//! reads and renewals (`connection.rs`).
//!
//! Imports: only vaultrs. Must not import any other module of `vault`.

use vaultrs::error::ClientError;

/// A vaultrs error with its causes (they say whether Vault was unreachable,
/// timed out or refused), never a response body.
pub(super) fn describe(e: &ClientError) -> String {
    match e {
        ClientError::APIError { code, errors } => {
            let said = errors.join("; ");
            // Vault's messages are multi-line lists ("1 error occurred:\n\t* …").
            let said: Vec<&str> = said.split_whitespace().filter(|w| *w != "*").collect();
            format!("Vault answered {code}: {}", said.join(" "))
        }
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            format!("{text} (is Vault reachable?)")
        }
    }
}
