//! Berth's own Vault client, from `[vault]`: how it logs in (AppRole,
//! Kubernetes or a token). Nothing is contacted here; the login is lazy.
//!
//! May import: `secrets::error`, `config`.

use berth_auth::vault::{Vault, VaultLogin, VaultOptions};
use zeroize::Zeroizing;

use super::error::SetupError;
use crate::config::{ConfigError, VaultAuthMethod, VaultConfig};

/// Berth's Vault client for `[vault]`, or `None` when `vault.address` is
/// unset. Does not contact Vault (see [`Vault::keep_alive`]).
pub(crate) fn connect(config: &VaultConfig) -> Result<Option<Vault>, SetupError> {
    let Some(address) = &config.address else {
        return Ok(None);
    };
    let read = |key: &'static str, path: &std::path::Path| {
        std::fs::read_to_string(path)
            .map(|s| Zeroizing::new(s.trim().to_owned()))
            .map_err(|e| ConfigError::File {
                key,
                path: path.display().to_string(),
                message: e.to_string(),
            })
    };
    let given =
        |key: &'static str, value: &Option<String>, file: &Option<std::path::PathBuf>| match (
            value, file,
        ) {
            (Some(v), _) => Ok(Zeroizing::new(v.clone())),
            (None, Some(path)) => read(key, path),
            (None, None) => Err(ConfigError::Key {
                key: key.to_owned(),
                message: "required by vault.auth".into(),
            }),
        };
    let mount = |default: &str| config.auth_mount.clone().unwrap_or_else(|| default.into());
    let login = match config.auth {
        VaultAuthMethod::Token => VaultLogin::Token {
            token: given("vault.token", &config.token, &config.token_file)?,
        },
        VaultAuthMethod::Approle => VaultLogin::AppRole {
            mount: mount("approle"),
            role_id: config.role_id.clone().unwrap_or_default(),
            secret_id: given("vault.secret_id", &config.secret_id, &config.secret_id_file)?,
        },
        VaultAuthMethod::Kubernetes => VaultLogin::Kubernetes {
            mount: mount("kubernetes"),
            role: config.role.clone().unwrap_or_default(),
            jwt_file: config.jwt_file.clone(),
        },
    };
    let vault = Vault::new(VaultOptions {
        address: address.clone(),
        login,
        kv_mount: config.kv_mount.clone(),
        timeout: config.timeout,
    })
    .map_err(SetupError::Vault)?;
    Ok(Some(vault))
}
