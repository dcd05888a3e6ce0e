//! The session sealing keys (`K_master`, `K_bind`), from one of three
//! places, in this order:
//!
//! 1. Vault: `keys.vault_path` names a KV v2 secret with fields `master`
//!    and `bind` (production; every pod reads the same keys at start);
//! 2. the configuration or environment: `keys.master`, `keys.bind`
//!    (`BERTH_KEYS__MASTER`, `BERTH_KEYS__BIND`);
//! 3. `state_dir/session-keys.json`, generated on first start (embedded).
//!
//! Each value is `id:hex64`, or after a rotation `new:hex64,old:hex64`:
//! the first key seals and binds new sessions, the others still open and
//! find the sessions made under them (README, "Rotating session keys").
//!
//! May import: `secrets::error`, `config`.

use berth_auth::vault::Vault;
use berth_session_store::KeyRing;

use super::error::SetupError;
use crate::config::{Config, ConfigError};

/// Loads the key ring `config` names.
pub(crate) async fn load(config: &Config, vault: Option<&Vault>) -> Result<KeyRing, SetupError> {
    if let Some(path) = &config.keys.vault_path {
        let vault = vault.ok_or_else(|| key_error("keys.vault_path", "needs `vault.address`"))?;
        let fields = vault.read(path).await.map_err(|e| {
            key_error(
                "keys.vault_path",
                &format!("cannot read the session keys: {e}"),
            )
        })?;
        let field = |name: &str| {
            fields.get(name).ok_or_else(|| {
                key_error(
                    "keys.vault_path",
                    &format!(
                        "the secret at `{path}` has no field `{name}`; write `master` and `bind` as id:hex64 (64 hex digits, e.g. from `openssl rand -hex 32`)"
                    ),
                )
            })
        };
        let ring = KeyRing::from_specs(field("master")?, field("bind")?)?;
        tracing::info!(
            master = ring.current_master_id(),
            bind = ring.current_bind_id(),
            "session keys read from Vault"
        );
        return Ok(ring);
    }
    Ok(match (&config.keys.master, &config.keys.bind) {
        (Some(m), Some(b)) => KeyRing::from_specs(m, b)?,
        (None, None) => KeyRing::load_or_create(&config.state_dir)?,
        _ => {
            return Err(key_error(
                "keys.master",
                "set both keys.master and keys.bind, or neither",
            ));
        }
    })
}

fn key_error(key: &str, message: &str) -> SetupError {
    SetupError::Config(ConfigError::Key {
        key: key.to_owned(),
        message: message.to_owned(),
    })
}
