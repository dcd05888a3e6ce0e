//! Secrets: a deployment's secrets from Vault, read when a call needs them
//! (`deployment`, `headers`), Berth's own Vault login (`login`), and the
//! session sealing keys (`keys`).
//!
//! Nothing here caches, stores, logs or prints a secret value.
//!
//! May import: `backend` (how secrets are delivered to an instance),
//! `config`, and external crates (`berth-auth`'s Vault client, the session
//! store's key ring). Must not import `hosting`, `cluster`, `http`, `mcp`
//! or `app`.

mod deployment;
mod error;
mod headers;
mod keys;
mod login;

pub(crate) use self::deployment::Secrets;
pub(crate) use self::error::{SecretsError, SetupError};
pub(crate) use self::keys::load as load_session_keys;
pub(crate) use self::login::connect as connect_vault;
