//! `SealedStore`: typed session records on top of any [`SessionStore`].
//!
//! Serializes a record to JSON, seals it for the session's binding and stores
//! it under the binding's record key (and the reverse on load). Plaintext
//! buffers are zeroized once used. Records sealed under a previous master key
//! are resealed lazily on load, with a compare-and-swap so a concurrent save
//! is never overwritten by the older content.
//!
//! Imports: `store`, `seal`, `keys`, `error`. Must not import a concrete
//! store (`memory`, `redis_store`): it works over any `SessionStore`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::error::Error;
use crate::keys::{KeyRing, SessionBinding};
use crate::seal::Opened;
use crate::store::SessionStore;

/// Seal+put and get+open of serde records; a cheap `Clone` handle.
#[derive(Clone)]
pub struct SealedStore {
    store: Arc<dyn SessionStore>,
    keys: KeyRing,
}

// === impl SealedStore ===

impl SealedStore {
    /// Wraps `store` with the keys used to seal and open its records.
    pub fn new(store: Arc<dyn SessionStore>, keys: KeyRing) -> Self {
        SealedStore { store, keys }
    }

    /// The key ring (for binding sessions).
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// The underlying store (for leases, pings and raw access).
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    /// Seals `rec` and stores it under the binding's record key, replacing
    /// any previous record.
    pub async fn save<T: Serialize + ?Sized>(
        &self,
        b: &SessionBinding,
        rec: &T,
        ttl: Duration,
    ) -> Result<(), Error> {
        let sealed = self.seal_record(b, rec)?;
        self.store.put(b.record_key(), sealed, ttl).await
    }

    /// Like [`SealedStore::save`] but only if no record exists yet;
    /// `Ok(false)` if one did.
    pub async fn create<T: Serialize + ?Sized>(
        &self,
        b: &SessionBinding,
        rec: &T,
        ttl: Duration,
    ) -> Result<bool, Error> {
        let sealed = self.seal_record(b, rec)?;
        self.store.put_new(b.record_key(), sealed, ttl).await
    }

    /// Loads and opens the session's record; `Ok(None)` if there is none (or
    /// it vanished while its TTL was being slid). With `ttl_to_slide`, the
    /// record's TTL is reset. A record sealed under a previous master key is
    /// resealed under the current one (best effort: failures are logged).
    pub async fn load<T: DeserializeOwned>(
        &self,
        b: &SessionBinding,
        ttl_to_slide: Option<Duration>,
    ) -> Result<Option<T>, Error> {
        let key = b.record_key();
        let Some(sealed) = self.store.get(key).await? else {
            return Ok(None);
        };
        let Opened {
            plaintext,
            needs_reseal,
        } = self.keys.open(b, &sealed)?;
        let plaintext = Zeroizing::new(plaintext);
        let rec = serde_json::from_slice(&plaintext).map_err(|e| Error::serde(&e))?;

        if let Some(ttl) = ttl_to_slide
            && !self.store.touch(key, ttl).await?
        {
            return Ok(None);
        }
        if needs_reseal {
            self.reseal(b, &sealed, &plaintext).await;
        }
        Ok(Some(rec))
    }

    /// Deletes the session's record and its event log; `Ok(true)` if the
    /// record existed.
    pub async fn remove(&self, b: &SessionBinding) -> Result<bool, Error> {
        let existed = self.store.delete(b.record_key()).await?;
        self.store.delete(b.events_key()).await?;
        Ok(existed)
    }

    /// Seals `event` and appends it to the session's capped event log
    /// (see [`SessionStore::append_event`]); returns its sequence number.
    pub async fn append_event<T: Serialize + ?Sized>(
        &self,
        b: &SessionBinding,
        event: &T,
        cap: usize,
        ttl: Duration,
    ) -> Result<u64, Error> {
        let plaintext = to_json(event)?;
        let sealed = self.keys.seal_event(b, &plaintext)?;
        self.store
            .append_event(b.events_key(), sealed, cap, ttl)
            .await
    }

    /// The session's events with sequence > `after`, opened, in order.
    pub async fn events_after<T: DeserializeOwned>(
        &self,
        b: &SessionBinding,
        after: u64,
    ) -> Result<Vec<(u64, T)>, Error> {
        let sealed = self.store.events_after(b.events_key(), after).await?;
        sealed
            .into_iter()
            .map(|(seq, sealed)| {
                let plaintext = Zeroizing::new(self.keys.open_event(b, &sealed)?.plaintext);
                let event = serde_json::from_slice(&plaintext).map_err(|e| Error::serde(&e))?;
                Ok((seq, event))
            })
            .collect()
    }

    fn seal_record<T: Serialize + ?Sized>(
        &self,
        b: &SessionBinding,
        rec: &T,
    ) -> Result<Vec<u8>, Error> {
        let plaintext = to_json(rec)?;
        self.keys.seal(b, &plaintext)
    }

    /// Reseals under the current master key, only if nobody changed the
    /// record since it was read; keeps the remaining TTL.
    async fn reseal(&self, b: &SessionBinding, old: &[u8], plaintext: &[u8]) {
        let result = match self.keys.seal(b, plaintext) {
            Ok(sealed) => {
                self.store
                    .compare_and_put(b.record_key(), old, sealed, None)
                    .await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(resealed) => tracing::debug!(
                resealed,
                key_id = self.keys.current_master_id(),
                "session record reseal after master key rotation"
            ),
            Err(error) => tracing::warn!(%error, "could not reseal session record"),
        }
    }
}

impl fmt::Debug for SealedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedStore")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

// === helpers ===

fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Zeroizing<Vec<u8>>, Error> {
    serde_json::to_vec(value)
        .map(Zeroizing::new)
        .map_err(|e| Error::serde(&e))
}

#[cfg(test)]
mod tests;
