//! Berth's Vault (or OpenBao) client: its own login, token renewal, and
//! KV v2 reads of the secrets calls need.
//!
//! - [`Vault`] (`connection.rs`) holds one logged-in [`vaultrs`] client. It
//!   logs in lazily (Berth starts even while Vault is down; only calls that
//!   need a secret fail, with [`Error::Vault`](crate::Error::Vault)) and
//!   again whenever Vault refuses the token (403), so an expired or revoked
//!   token heals itself. [`Vault::keep_alive`] renews the token at two
//!   thirds of its lease and replaces it with a fresh login near its max TTL.
//! - [`VaultLogin`] (`login.rs`): the login methods and renewal timing.
//! - `path.rs` confines deployments' secret paths to their tenant's prefix.
//! - `client_error.rs` describes vaultrs errors without response bodies.
//!
//! Secret values are returned as [`Zeroizing`](zeroize::Zeroizing) strings,
//! never logged, and never part of an error message.
//!
//! Imports: this file holds only module declarations and re-exports, and no
//! module imports it. `connection` imports `login` and `client_error`;
//! `login` imports `client_error`; `path` and `client_error` import no
//! other module of `vault`.

mod client_error;
mod connection;
mod login;
mod path;

pub use self::connection::{Vault, VaultOptions};
pub use self::login::VaultLogin;
pub use self::path::{check_prefix, check_template, resolve};
