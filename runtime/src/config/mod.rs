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

mod env;
mod types;
mod vault;

pub use self::types::{
    AuthConfig, AuthMode, BackendKind, ClusterConfig, Config, DockerConfig, KeysConfig, Limits,
    Security, ServerConfig, StoreConfig, Transport, check_name, parse_size,
};
pub use self::vault::{SecretRef, VaultAuthMethod, VaultConfig};

use std::path::Path;

/// A configuration problem, naming the offending key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// File path.
        path: String,
        /// OS error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax {
        /// File path.
        path: String,
        /// Parser message (with line and column).
        message: String,
    },
    /// A key has a bad value or is unknown.
    #[error("config key `{key}`: {message}")]
    Key {
        /// Dotted key path.
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// An environment override is malformed.
    #[error("environment variable {var}: {message}")]
    Env {
        /// Variable name.
        var: String,
        /// What is wrong.
        message: String,
    },
}

// === impl Config ===

impl Config {
    /// Loads a TOML file (if given), applies `env` overrides, validates.
    pub fn load<I>(path: Option<&Path>, env: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut doc = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.display().to_string(),
                    source,
                })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Syntax {
                        path: p.display().to_string(),
                        message: e.to_string(),
                    })?
            }
            None => toml::Table::new(),
        };
        env::apply_overrides(&mut doc, env)?;
        Self::from_table(doc)
    }

    /// Builds a config from a TOML table, then validates it.
    pub fn from_table(doc: toml::Table) -> Result<Config, ConfigError> {
        let de = toml::Value::Table(doc);
        let config: Config =
            serde_path_to_error::deserialize(de).map_err(|e| ConfigError::Key {
                key: e.path().to_string(),
                message: e.into_inner().to_string(),
            })?;
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests;
