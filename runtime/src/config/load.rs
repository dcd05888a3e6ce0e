//! Reading a configuration: the TOML file, then `BERTH_*` overrides,
//! then validation.
//!
//! May import: the other `config` files.

use std::path::Path;

use super::env;
use super::error::ConfigError;
use super::root::Config;

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
