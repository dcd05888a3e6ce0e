//! Berth session records: per-user key derivation, AES-256-GCM sealing and
//! the storage they live in.
//!
//! Any runtime pod can serve any session because the session record lives in
//! a shared [`SessionStore`] ([`RedisStore`] in production, [`MemoryStore`]
//! embedded).
//! The store never sees plaintext or identities: each session is bound to its
//! (tenant, server, subject, session id) by an HMAC under `K_bind`
//! ([`KeyRing::bind`]), the store key is a hash of that binding, and the record
//! is sealed under a key derived from `K_master` and the binding. Another user
//! holding a stolen session id derives another key and finds nothing.
//!
//! ```no_run
//! # async fn demo() -> Result<(), berth_session_store::Error> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use berth_session_store::{KeyRing, MemoryStore, SealedStore};
//!
//! let keys = KeyRing::load_or_create(".berth".as_ref())?;
//! let store = SealedStore::new(Arc::new(MemoryStore::new()), keys);
//! let b = store.keys().bind("demo", "everything", "alice", "session-1");
//! store.save(&b, &vec!["state"], Duration::from_secs(600)).await?;
//! let rec: Option<Vec<String>> = store.load(&b, Some(Duration::from_secs(600))).await?;
//! # let _ = rec; Ok(()) }
//! ```
//!
//! # Layout
//!
//! - `error`: [`Error`], the crate's one error type (log-safe messages).
//! - `keys`: [`SecretKey`], [`KeyRing`] (current + previous keys by id),
//!   [`SessionBinding`] and [`RecordKey`] derivation.
//! - `key_file`: [`KeyRing::load_or_create`], the demo's `session-keys.json`.
//! - `mac`: [`KeyRing::sign`] / [`KeyRing::verify`] (HMAC-SHA256 per purpose)
//!   for what pods tell each other: owner and liveness records, forwards.
//! - `seal`: [`KeyRing::seal`] / [`KeyRing::open`] (AES-256-GCM, HKDF), [`Opened`].
//! - `store`: the [`SessionStore`] trait (Redis-shaped operations, TTLs in ms).
//! - `memory`: [`MemoryStore`], the in-process store with background expiry.
//! - `sealed_store`: [`SealedStore`], typed serde records over any store.
//! - `redis_store`: [`RedisStore`] and [`RedisOptions`], the production store
//!   on Redis (`redis://`, `redis+sentinel://` or `redis+cluster://`, lazy
//!   connect, bounded timeouts, Sentinel and cluster failover, optional
//!   `WAIT` for replica acks).
//!
//! # Imports
//!
//! This file holds only module declarations and re-exports; no module
//! imports from it. The layers, lowest first: `error`; `keys`; `key_file`, `mac`,
//! `seal`, `store`; `memory`, `redis_store`, `sealed_store`. A module
//! imports only from layers below its own.

#![deny(missing_docs)]
#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

mod error;
mod key_file;
mod keys;
mod mac;
mod memory;
mod redis_store;
mod seal;
mod sealed_store;
mod store;

pub use self::{
    error::Error,
    key_file::KEY_FILE_NAME,
    keys::{KeyRing, MAX_KEY_ID_LEN, RecordKey, SecretKey, SessionBinding},
    memory::MemoryStore,
    redis_store::{RedisClientCert, RedisOptions, RedisStore, RedisTls, RedisTlsPart},
    seal::{Opened, SEAL_VERSION},
    sealed_store::SealedStore,
    store::{SessionStore, ttl_millis},
};
