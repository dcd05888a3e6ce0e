//! Configuration: one TOML document, every key overridable from `BERTH_*`
//! environment variables, validated before anything binds.
//!
//! Env keys map to TOML paths with `__` between levels, lowercased:
//! `BERTH_LIMITS__MAX_BODY_BYTES=1048576` sets `limits.max_body_bytes`,
//! `BERTH_SERVERS__DEMO__EVERYTHING__IDLE_TIMEOUT=5m` sets
//! `servers.demo.everything.idle_timeout`. Values are parsed as TOML when they
//! parse (numbers, booleans, arrays) and as strings otherwise.
//!
//! Errors name the key (and the env variable, when it came from one).
//!
//! May import: `protocol` (header names) and external crates. A leaf:
//! everything above may read the configuration.
//!
//! # Layout
//! - `root`: [`Config`] and its defaults; `limits`, `auth`, `store`,
//!   `backend`, `control`, `server`, `vault`: its sections.
//! - `load`: file + environment (`env`) + validation (`validate`).
//! - `values`: sizes and names; `cidr`: address blocks (trusted proxies);
//!   `image_ref`: the image reference grammar; `error`: [`ConfigError`].

mod auth;
mod backend;
mod cidr;
mod control;
mod env;
mod error;
mod image_ref;
mod limits;
mod load;
mod root;
mod server;
mod store;
mod validate;
mod values;
mod vault;

pub(crate) use self::auth::AuthMode;
pub(crate) use self::backend::{BackendKind, DockerConfig, KubernetesConfig};
pub(crate) use self::cidr::Cidr;
pub(crate) use self::control::ControlConfig;
pub use self::error::ConfigError;
pub(crate) use self::limits::Limits;
pub use self::root::Config;
pub(crate) use self::server::Placement;
pub use self::server::ServerConfig;
pub(crate) use self::server::Transport;
pub(crate) use self::store::StoreConfig;
pub(crate) use self::validate::Problem;
pub(crate) use self::values::{check_name, parse_size};
pub(crate) use self::vault::{SecretRef, VaultAuthMethod, VaultConfig};

#[cfg(test)]
mod tests;
