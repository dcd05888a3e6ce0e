//! Berth identity: who is calling, and may they.
//!
//! Berth is an OAuth 2.1 resource server (MCP authorization spec): every request to
//! an MCP endpoint carries `Authorization: Bearer <token>`, the token is validated for
//! that endpoint, and the result is a [`Principal`] (tenant, subject, client, scopes,
//! groups) that policy and audit work from. The token itself never goes further.
//!
//! # Layout
//!
//! - [`bearer_token`] (`bearer.rs`): the token from the `Authorization` header.
//! - [`TokenValidator`] (`validator.rs`): the trait the runtime calls per request;
//!   [`CachingValidator`] (`cache.rs`) skips re-verifying a token it saw, never past `exp`.
//! - [`JwtValidator`] (`jwt.rs`): JWT validation against an issuer's JWKS; keys are
//!   decoded once in `keys.rs`, claims read in one pass in `claims.rs` under a
//!   [`ClaimMapping`].
//! - [`OidcValidator`] (`oidc.rs`): JWTs of an OIDC issuer whose keys are
//!   discovered and refetched over HTTP (rotation without restarts); opaque
//!   tokens by RFC 7662 introspection (`introspect.rs`). Both fetch through
//!   `fetch.rs` (SSRF guard, timeouts, size caps).
//! - [`require_scopes`] (`scopes.rs`): `insufficient_scope` with every missing scope.
//! - [`DevIssuer`] (`dev_issuer.rs`): the local Ed25519 issuer for `berth demo` and
//!   `berth token`, validated through the same [`JwtValidator`]; [`parse_ttl`]
//!   (`ttl.rs`) reads its `--ttl`.
//! - [`vault`]: Berth's Vault client (AppRole, Kubernetes or token login,
//!   renewal, KV v2 reads) and the confinement of secret paths to their
//!   tenant's prefix.
//! - [`tls`]: the rustls configuration with compiled-in roots every outbound
//!   HTTPS client of Berth uses (no system CA store needed).
//! - [`Error`] (`error.rs`): the one error type, with its mapping to HTTP status and
//!   the `WWW-Authenticate` `error` code.
//!
//! # Imports
//!
//! This file holds only module declarations and re-exports; no module
//! imports from it except through those re-exports (which name the defining
//! file). The layers, lowest first: `error`, `principal`; `claims`, `keys`,
//! `bearer`, `scopes`, `ttl`, `validator`; `jwt`; `cache`, `dev_issuer`,
//! `fetch`; `introspect`; `oidc`. A module imports only from layers below
//! its own. `vault` stands apart and imports only `error`.

#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

mod bearer;
mod cache;
mod claims;
mod dev_issuer;
mod error;
mod fetch;
mod introspect;
mod jwt;
mod keys;
mod oidc;
mod principal;
mod scopes;
pub mod tls;
mod ttl;
mod validator;
pub mod vault;

pub use self::{
    bearer::bearer_token,
    cache::CachingValidator,
    claims::ClaimMapping,
    dev_issuer::{DEV_ISSUER_KEY_FILE, DevIssuer, TokenRequest},
    error::Error,
    jwt::{DEFAULT_LEEWAY_SECS, JwtValidator, MAX_LEEWAY_SECS},
    oidc::{IntrospectionClient, MIN_REFETCH, OidcOptions, OidcValidator},
    principal::Principal,
    scopes::require_scopes,
    ttl::parse_ttl,
    validator::TokenValidator,
};
