//! [`StartError`]: why Berth could not start, over each module's own
//! error. `berth serve` prints it (with its causes) and exits 64.
//!
//! May import: the error types of `config`, `secrets`, `backend`.

use crate::backend::BackendError;
use crate::config::ConfigError;
use crate::secrets::SetupError;

/// Why Berth could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A config value, or a file it names, is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Vault or the session keys could not be set up.
    #[error(transparent)]
    Secrets(#[from] SetupError),
    /// The token validator could not be set up.
    #[error("auth")]
    Auth(#[from] berth_auth::Error),
    /// The backend could not be set up.
    #[error("backend")]
    Backend(#[from] BackendError),
    /// The server registry could not be opened or read.
    #[error("cannot open the server registry: {0}")]
    Registry(String),
}
