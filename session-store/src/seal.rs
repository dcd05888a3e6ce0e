//! AES-256-GCM sealing of session records and events.
//!
//! The AES key of a session is `HKDF-SHA256(ikm = K_master, salt =
//! "berth-session-v1", info = T)`, so it differs per session and per user; the
//! store key is the associated data, so a sealed value moved to another key
//! does not open. The wire format is
//!
//! ```text
//! version (1 byte, = 1) ‖ key-id length (1 byte) ‖ key id ‖ nonce (12 bytes) ‖ ciphertext+tag
//! ```
//!
//! Nonces are random (96 bits); per-session keys keep the number of messages
//! under one key far below the birthday bound. Opening never panics: every
//! malformed input maps to a typed [`Error`].
//!
//! Imports: `keys`, `error`. Must not import `key_file` or a store.

use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::Error;
use crate::keys::{
    KeyRing, RecordKey, SecretKey, SessionBinding, fill_random, is_valid_key_id, unknown_id,
};

/// Format version written as the first byte of every sealed value.
pub const SEAL_VERSION: u8 = 1;

const HKDF_SALT: &[u8] = b"berth-session-v1";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// The result of [`KeyRing::open`].
pub struct Opened {
    /// The decrypted record.
    pub plaintext: Vec<u8>,
    /// `true` when the record was sealed under a previous master key: seal
    /// and store it again so the old key can be retired.
    pub needs_reseal: bool,
}

// === impl KeyRing ===

impl KeyRing {
    /// Seals a session record for `b` under the current master key, with the
    /// record key as associated data.
    pub fn seal(&self, b: &SessionBinding, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        seal_with(&self.master.current, b, b.record_key(), plaintext)
    }

    /// Opens a session record sealed for `b`. Unknown key ids, truncated or
    /// malformed input, another binding and tampering are typed errors.
    pub fn open(&self, b: &SessionBinding, sealed: &[u8]) -> Result<Opened, Error> {
        self.open_at(b, b.record_key(), sealed)
    }

    /// Seals an entry of the session's event log (associated data: the
    /// events key, so records and events cannot stand in for each other).
    pub fn seal_event(&self, b: &SessionBinding, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        seal_with(&self.master.current, b, b.events_key(), plaintext)
    }

    /// Opens an entry of the session's event log.
    pub fn open_event(&self, b: &SessionBinding, sealed: &[u8]) -> Result<Opened, Error> {
        self.open_at(b, b.events_key(), sealed)
    }

    fn open_at(&self, b: &SessionBinding, aad: &RecordKey, sealed: &[u8]) -> Result<Opened, Error> {
        let parsed = Parsed::parse(sealed)?;
        let key = self
            .master
            .find(parsed.key_id)
            .ok_or_else(|| unknown_id(parsed.key_id))?;
        let cipher = session_cipher(key, b)?;
        let plaintext = cipher
            .decrypt(
                Nonce::from_slice(parsed.nonce),
                Payload {
                    msg: parsed.ciphertext,
                    aad: aad.as_str().as_bytes(),
                },
            )
            .map_err(|_| Error::Crypto)?;
        Ok(Opened {
            plaintext,
            needs_reseal: parsed.key_id != self.current_master_id(),
        })
    }
}

// === impl Opened ===

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field(
                "plaintext",
                &format_args!("<{} bytes>", self.plaintext.len()),
            )
            .field("needs_reseal", &self.needs_reseal)
            .finish()
    }
}

// === helpers ===

/// A sealed value split into its parts (borrowed).
struct Parsed<'a> {
    key_id: &'a str,
    nonce: &'a [u8],
    ciphertext: &'a [u8],
}

impl<'a> Parsed<'a> {
    fn parse(sealed: &'a [u8]) -> Result<Self, Error> {
        let (&version, rest) = sealed.split_first().ok_or(Error::Corrupt("empty value"))?;
        if version != SEAL_VERSION {
            return Err(Error::Corrupt("unsupported seal format version"));
        }
        let (&id_len, rest) = rest
            .split_first()
            .ok_or(Error::Corrupt("truncated header"))?;
        let (id, rest) = rest
            .split_at_checked(usize::from(id_len))
            .ok_or(Error::Corrupt("truncated key id"))?;
        if !is_valid_key_id(id) {
            return Err(Error::Corrupt("malformed key id"));
        }
        // Valid ids are ASCII, so this cannot fail; map rather than unwrap.
        let key_id = std::str::from_utf8(id).map_err(|_| Error::Corrupt("malformed key id"))?;
        let (nonce, ciphertext) = rest
            .split_at_checked(NONCE_LEN)
            .ok_or(Error::Corrupt("truncated nonce"))?;
        if ciphertext.len() < TAG_LEN {
            return Err(Error::Corrupt("truncated ciphertext"));
        }
        Ok(Parsed {
            key_id,
            nonce,
            ciphertext,
        })
    }
}

fn seal_with(
    master: &SecretKey,
    b: &SessionBinding,
    aad: &RecordKey,
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let id = master.id().as_bytes();
    // Ids are validated at construction (<= 64 bytes).
    let id_len = u8::try_from(id.len()).map_err(|_| Error::InvalidKey("key id too long".into()))?;
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;
    let cipher = session_cipher(master, b)?;
    let ciphertext = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: aad.as_str().as_bytes(),
            },
        )
        .map_err(|_| Error::Crypto)?;

    let mut out = Vec::with_capacity(2 + id.len() + NONCE_LEN + ciphertext.len());
    out.push(SEAL_VERSION);
    out.push(id_len);
    out.extend_from_slice(id);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// `AES-256-GCM(HKDF-SHA256(ikm = K_master, salt, info = T))`.
fn session_cipher(master: &SecretKey, b: &SessionBinding) -> Result<Aes256Gcm, Error> {
    let hkdf = Hkdf::<Sha256>::new(Some(HKDF_SALT), master.bytes());
    let mut okm = Zeroizing::new([0u8; 32]);
    hkdf.expand(b.bearer(), okm.as_mut())
        .map_err(|_| Error::Crypto)?;
    Aes256Gcm::new_from_slice(okm.as_ref()).map_err(|_| Error::Crypto)
}

#[cfg(test)]
mod tests;
