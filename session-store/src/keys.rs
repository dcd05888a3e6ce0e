//! Secret keys, the key ring, and the per-session binding derivation.
//!
//! Two secrets drive everything: `K_bind` turns (tenant, server, subject,
//! session id) into the session-scoped bearer `T`, from which the store key is
//! hashed; `K_master` (together with `T`) yields the AES key of the record.
//! A user who steals someone else's session id derives a different `T`, hence
//! a different store key (the record is simply not found) and a different AES
//! key (even a guessed store key does not open).
//!
//! Both keys carry ids so they rotate without dropping sessions: the ring
//! holds a current key and older keys by id. Older master keys still open
//! records (which are then resealed); older bind keys still re-derive the
//! bindings of sessions created under them ([`KeyRing::bind_with`]).
//!
//! Imports: only `error`. Must not import `seal`, `key_file` or a store
//! (they build on the key ring).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::error::Error;

/// Longest accepted key id. Ids are stored in every sealed record, so they
/// stay short; the on-disk format allows up to 255 bytes.
pub const MAX_KEY_ID_LEN: usize = 64;

/// A 32-byte secret with an id. The bytes are zeroized on drop and never
/// printed by `Debug`.
#[derive(Clone)]
pub struct SecretKey {
    id: String,
    bytes: [u8; 32],
}

/// Master and binding keys with rotation: a current key of each kind plus
/// older keys by id. Older keys only open (master) or re-derive (bind).
///
/// Cloning is cheap: keys are shared behind `Arc`s.
#[derive(Clone)]
pub struct KeyRing {
    pub(crate) master: KeySet,
    pub(crate) bind: KeySet,
}

/// Everything derived for one session: its store keys and its bearer `T`.
///
/// Derived by [`KeyRing::bind`] from (tenant, server, subject, session id);
/// none of those inputs except the tenant is kept. The bearer is zeroized on
/// drop and never printed by `Debug`.
#[derive(Clone)]
pub struct SessionBinding {
    /// Where the sealed session record lives:
    /// `berth:{tenant}:s:` + hex(SHA-256(session id ‖ T)).
    pub record_key: RecordKey,
    events_key: RecordKey,
    tenant: String,
    bind_key_id: String,
    bearer: [u8; 32],
}

/// A key in the session store (a Redis key). Session keys come from
/// [`KeyRing::bind`]; they reveal the tenant and nothing else.
///
/// The keys of one session are its record key `berth:TENANT:s:HASH`, its
/// event log `berth:TENANT:e:HASH` and any key made by appending
/// `:SUFFIX` to either (a lease `…:lease`, a log's counter `…:seq`). A
/// Redis Cluster stores them all in one hash slot: see
/// [`RecordKey::cluster_key`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordKey(String);

/// A current key plus previous keys, looked up by id.
#[derive(Clone)]
pub(crate) struct KeySet {
    pub(crate) current: Arc<SecretKey>,
    pub(crate) previous: Vec<Arc<SecretKey>>,
}

// === impl SecretKey ===

impl SecretKey {
    /// Wraps key bytes under `id`. Ids are 1 to [`MAX_KEY_ID_LEN`] characters
    /// of `[A-Za-z0-9._-]` (they end up in sealed records and log lines).
    pub fn new(id: impl Into<String>, bytes: [u8; 32]) -> Result<Self, Error> {
        let id = id.into();
        validate_key_id(&id)?;
        Ok(SecretKey { id, bytes })
    }

    /// A fresh key from the OS random number generator.
    pub fn generate(id: impl Into<String>) -> Result<Self, Error> {
        let mut bytes = [0u8; 32];
        fill_random(&mut bytes)?;
        let key = SecretKey::new(id, bytes);
        bytes.zeroize();
        key
    }

    /// Parses 64 hex characters (surrounding whitespace ignored). Errors name
    /// the key id, never the input.
    pub fn from_hex(id: impl Into<String>, hex: &str) -> Result<Self, Error> {
        let id = id.into();
        validate_key_id(&id)?;
        let hex = hex.trim();
        let mut bytes = [0u8; 32];
        if hex.len() != 64 || hex::decode_to_slice(hex, &mut bytes).is_err() {
            bytes.zeroize();
            return Err(Error::InvalidKey(format!(
                "key {id:?}: expected exactly 64 hex characters (32 bytes)"
            )));
        }
        if bytes == [0u8; 32] {
            return Err(Error::InvalidKey(format!(
                "key {id:?} is all zeros; generate one with `openssl rand -hex 32`"
            )));
        }
        Ok(SecretKey { id, bytes })
    }

    /// The key id (safe to log).
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    pub(crate) fn to_hex(&self) -> String {
        hex::encode(self.bytes)
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("id", &self.id)
            .field("bytes", &"<redacted>")
            .finish()
    }
}

// === impl KeyRing ===

impl KeyRing {
    /// A ring with one current master key and one current bind key.
    pub fn new(current_master: SecretKey, current_bind: SecretKey) -> Self {
        KeyRing {
            master: KeySet::new(current_master),
            bind: KeySet::new(current_bind),
        }
    }

    /// Adds an older master key: records sealed under it still open (with
    /// `needs_reseal`). A key whose id is already in the ring is ignored.
    pub fn with_previous_master(mut self, key: SecretKey) -> Self {
        self.master.push_previous(key);
        self
    }

    /// Adds an older bind key, usable through [`KeyRing::bind_with`]. A key
    /// whose id is already in the ring is ignored.
    pub fn with_previous_bind(mut self, key: SecretKey) -> Self {
        self.bind.push_previous(key);
        self
    }

    /// From env-style specs `id:hex64` (`BERTH_MASTER_KEY`, `BERTH_BIND_KEY`
    /// in embedded mode). A comma-separated list names the current key first
    /// and previous keys after it: `m2:<hex>,m1:<hex>`.
    pub fn from_specs(master: &str, bind: &str) -> Result<Self, Error> {
        let mut masters = parse_spec_list("master", master)?.into_iter();
        let mut binds = parse_spec_list("bind", bind)?.into_iter();
        let (Some(current_master), Some(current_bind)) = (masters.next(), binds.next()) else {
            // parse_spec_list never returns an empty list.
            return Err(Error::InvalidKey("empty key spec".into()));
        };
        let ring = masters.fold(KeyRing::new(current_master, current_bind), |ring, key| {
            ring.with_previous_master(key)
        });
        Ok(binds.fold(ring, |ring, key| ring.with_previous_bind(key)))
    }

    /// Id of the master key new records are sealed with.
    pub fn current_master_id(&self) -> &str {
        self.master.current.id()
    }

    /// Id of the bind key [`KeyRing::bind`] uses. Sessions should remember it
    /// so that after a rotation [`KeyRing::bind_with`] re-derives the same
    /// binding (rotating `K_bind` changes `T` and thus the record key).
    pub fn current_bind_id(&self) -> &str {
        self.bind.current.id()
    }

    /// Derives the binding of a session under the current bind key:
    /// `T = HMAC-SHA256(K_bind, tenant ‖ server ‖ subject ‖ session_id)` with
    /// each field length-prefixed (so `("ab", "c")` and `("a", "bc")`
    /// differ), and the record key `berth:{tenant}:s:` + hex(SHA-256(session_id ‖ T)).
    ///
    /// `tenant` appears verbatim in store keys; callers pass validated tenant
    /// names.
    pub fn bind(
        &self,
        tenant: &str,
        server: &str,
        subject: &str,
        session_id: &str,
    ) -> SessionBinding {
        SessionBinding::derive(&self.bind.current, tenant, server, subject, session_id)
    }

    /// Like [`KeyRing::bind`] but under the bind key with id `bind_key_id`
    /// (current or previous); `UnknownKeyId` if the ring does not hold it.
    pub fn bind_with(
        &self,
        bind_key_id: &str,
        tenant: &str,
        server: &str,
        subject: &str,
        session_id: &str,
    ) -> Result<SessionBinding, Error> {
        let key = self
            .bind
            .find(bind_key_id)
            .ok_or_else(|| unknown_id(bind_key_id))?;
        Ok(SessionBinding::derive(
            key, tenant, server, subject, session_id,
        ))
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("master", &self.master.ids())
            .field("bind", &self.bind.ids())
            .finish()
    }
}

// === impl KeySet ===

impl KeySet {
    fn new(current: SecretKey) -> Self {
        KeySet {
            current: Arc::new(current),
            previous: Vec::new(),
        }
    }

    fn push_previous(&mut self, key: SecretKey) {
        if self.find(key.id()).is_none() {
            self.previous.push(Arc::new(key));
        } else {
            tracing::warn!(key_id = key.id(), "duplicate session key id ignored");
        }
    }

    pub(crate) fn find(&self, id: &str) -> Option<&SecretKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .map(|k| &**k)
            .find(|k| k.id() == id)
    }

    fn ids(&self) -> Vec<&str> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .map(|k| k.id())
            .collect()
    }
}

// === impl SessionBinding ===

impl SessionBinding {
    fn derive(
        bind_key: &SecretKey,
        tenant: &str,
        server: &str,
        subject: &str,
        session_id: &str,
    ) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(bind_key.bytes())
            .expect("HMAC accepts keys of any length");
        for field in [tenant, server, subject, session_id] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        let bearer: [u8; 32] = mac.finalize().into_bytes().into();

        // T has a fixed length, so `session_id ‖ T` is unambiguous.
        let record_hash = hex::encode(
            Sha256::new()
                .chain_update(session_id.as_bytes())
                .chain_update(bearer)
                .finalize(),
        );

        // The event log gets its own key (and so its own AAD: a record can
        // never be replayed as an event or vice versa) with the same hash,
        // so a Redis Cluster keeps both on one slot (`cluster_key`).
        SessionBinding {
            record_key: RecordKey(format!("berth:{tenant}:s:{record_hash}")),
            events_key: RecordKey(format!("berth:{tenant}:e:{record_hash}")),
            tenant: tenant.to_string(),
            bind_key_id: bind_key.id().to_string(),
            bearer,
        }
    }

    /// Where the sealed session record lives.
    pub fn record_key(&self) -> &RecordKey {
        &self.record_key
    }

    /// Where the session's capped SSE event log lives:
    /// `berth:{tenant}:e:` + the hash of the record key. (Earlier releases
    /// hashed it separately; logs under those keys are not read, see the
    /// README's upgrade notes.)
    pub fn events_key(&self) -> &RecordKey {
        &self.events_key
    }

    /// The tenant the session belongs to.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// Id of the bind key this binding was derived with; store it with the
    /// session to re-derive the binding after a `K_bind` rotation.
    pub fn bind_key_id(&self) -> &str {
        &self.bind_key_id
    }

    /// The session-scoped internal bearer `T`. It grants access to the MCP
    /// layer only: never send it to the agent, never log it.
    pub fn bearer(&self) -> &[u8; 32] {
        &self.bearer
    }

    /// Constant-time comparison of `candidate` with the bearer.
    pub fn bearer_matches(&self, candidate: &[u8]) -> bool {
        self.bearer.as_slice().ct_eq(candidate).into()
    }
}

impl Drop for SessionBinding {
    fn drop(&mut self) {
        self.bearer.zeroize();
    }
}

impl fmt::Debug for SessionBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionBinding")
            .field("record_key", &self.record_key)
            .field("tenant", &self.tenant)
            .field("bind_key_id", &self.bind_key_id)
            .field("bearer", &"<redacted>")
            .finish()
    }
}

// === impl RecordKey ===

impl RecordKey {
    /// Wraps an arbitrary store key, for non-session keys (leases, indexes)
    /// and tests. Session keys come from [`KeyRing::bind`].
    pub fn new(key: impl Into<String>) -> Self {
        RecordKey(key.into())
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key as stored in a Redis Cluster: in a key of a session
    /// (`berth:TENANT:s:HASH[:SUFFIX]` or `berth:TENANT:e:HASH[:SUFFIX]`,
    /// HASH being 64 lowercase hex digits) the HASH becomes a hash tag,
    /// `berth:TENANT:s:{HASH}[:SUFFIX]`, so every key of the session maps to
    /// the slot of HASH and multi-key scripts stay on one shard. Any other
    /// key is stored as is (Redis hashes it whole, or by a `{…}` it holds).
    /// One server and Sentinel deployments store [`RecordKey::as_str`].
    pub fn cluster_key(&self) -> Cow<'_, str> {
        match session_hash_at(&self.0) {
            Some(at) => Cow::Owned(format!(
                "{}{{{}}}{}",
                &self.0[..at],
                &self.0[at..at + SESSION_HASH_LEN],
                &self.0[at + SESSION_HASH_LEN..]
            )),
            None => Cow::Borrowed(&self.0),
        }
    }
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RecordKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

// === helpers ===

/// Hex digits of the hash in a session key.
const SESSION_HASH_LEN: usize = 64;

/// Where the hash of a session key starts: `berth:TENANT:s:` or
/// `berth:TENANT:e:` (TENANT without `{`, `}` or `:`), then 64 lowercase hex
/// digits, then the end or `:`.
fn session_hash_at(key: &str) -> Option<usize> {
    let rest = key.strip_prefix("berth:")?;
    let (tenant, rest) = rest.split_once(':')?;
    if tenant.is_empty() || tenant.contains(['{', '}']) {
        return None;
    }
    let rest = rest
        .strip_prefix("s:")
        .or_else(|| rest.strip_prefix("e:"))?;
    let hash = rest.as_bytes().get(..SESSION_HASH_LEN)?;
    let is_hex = hash.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let ends = matches!(rest.as_bytes().get(SESSION_HASH_LEN), None | Some(b':'));
    (is_hex && ends).then(|| key.len() - rest.len())
}

/// Ids: 1..=64 characters of `[A-Za-z0-9._-]`.
pub(crate) fn validate_key_id(id: &str) -> Result<(), Error> {
    if is_valid_key_id(id.as_bytes()) {
        Ok(())
    } else {
        Err(Error::InvalidKey(format!(
            "key ids must be 1 to {MAX_KEY_ID_LEN} characters of [A-Za-z0-9._-] (got {} bytes)",
            id.len()
        )))
    }
}

pub(crate) fn is_valid_key_id(id: &[u8]) -> bool {
    (1..=MAX_KEY_ID_LEN).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

pub(crate) fn unknown_id(id: &str) -> Error {
    Error::UnknownKeyId { id: id.to_string() }
}

pub(crate) fn fill_random(buf: &mut [u8]) -> Result<(), Error> {
    OsRng
        .try_fill_bytes(buf)
        .map_err(|e| Error::io("reading OS randomness", e.into()))
}

/// Parses `id:hex[,id:hex…]`; never returns an empty list.
fn parse_spec_list(kind: &str, spec: &str) -> Result<Vec<SecretKey>, Error> {
    let keys = spec
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let (id, hex) = item.split_once(':').ok_or_else(|| {
                Error::InvalidKey(format!("{kind} key spec: expected `id:hex64`"))
            })?;
            SecretKey::from_hex(id.trim(), hex)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if keys.is_empty() {
        return Err(Error::InvalidKey(format!(
            "{kind} key spec is empty: expected `id:hex64`"
        )));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests;
