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
        let typed = env::apply_overrides(&mut doc, env)?;
        // A variable read as a number or boolean whose key wants text (a
        // password of digits) is set again as the text it was.
        let mut retries = typed.len();
        loop {
            match Self::from_table(doc.clone()) {
                Err(ConfigError::Key { key, message }) if retries > 0 => {
                    match typed.iter().find(|t| t.key == key) {
                        Some(t) => {
                            t.as_text(&mut doc);
                            retries -= 1;
                        }
                        None => return Err(ConfigError::Key { key, message }),
                    }
                }
                other => return other,
            }
        }
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
