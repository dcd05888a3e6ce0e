//! [`KeyRing::sign`] / [`KeyRing::verify`]: authenticating what pods tell
//! each other through the store or over HTTP (owner records, liveness
//! records, forwarded requests), so that a party who can write to Redis,
//! or reach a pod's port, but holds no key cannot forge them.
//!
//! The MAC key is derived from the master key, separately for each purpose
//! (`domain`): `K = HMAC-SHA256(K_master, "berth mac v1" ‖ domain)`, and a
//! tag is `HMAC-SHA256(K, len ‖ part ‖ len ‖ part …)`. A signature names
//! the master key's id, `<key id>.<hex tag>`, so records signed before a
//! rotation still verify while the old key is in the ring.
//!
//! Imports: `keys`. Must not import `seal` or a store.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::keys::{KeyRing, SecretKey};

/// Longest accepted signature (`<64-byte id>.<64 hex>` and the dot).
const MAX_SIGNATURE_LEN: usize = crate::keys::MAX_KEY_ID_LEN + 1 + 64;

// === impl KeyRing (signing) ===

impl KeyRing {
    /// Signs `parts` for `domain` under the current master key:
    /// `<key id>.<hex tag>`.
    pub fn sign(&self, domain: &str, parts: &[&[u8]]) -> String {
        let key = &self.master.current;
        format!("{}.{}", key.id(), hex::encode(tag(key, domain, parts)))
    }

    /// Whether `signature` is a valid [`KeyRing::sign`] of `parts` for
    /// `domain` under any master key in the ring (constant-time compare).
    pub fn verify(&self, domain: &str, parts: &[&[u8]], signature: &str) -> bool {
        if signature.len() > MAX_SIGNATURE_LEN {
            return false;
        }
        let Some((id, hex_tag)) = signature.rsplit_once('.') else {
            return false;
        };
        let Some(key) = self.master.find(id) else {
            return false;
        };
        let Ok(given) = hex::decode(hex_tag) else {
            return false;
        };
        given.len() == 32 && bool::from(tag(key, domain, parts).ct_eq(&given))
    }
}

/// The tag of `parts` under the `domain` key derived from `master`.
fn tag(master: &SecretKey, domain: &str, parts: &[&[u8]]) -> [u8; 32] {
    let mut derive = <Hmac<Sha256> as Mac>::new_from_slice(master.bytes())
        .expect("HMAC accepts keys of any length");
    derive.update(b"berth mac v1");
    derive.update(domain.as_bytes());
    let key: [u8; 32] = derive.finalize().into_bytes().into();
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(id: &str, byte: u8) -> KeyRing {
        KeyRing::new(
            SecretKey::new(id, [byte; 32]).unwrap(),
            SecretKey::new("b", [9; 32]).unwrap(),
        )
    }

    #[test]
    fn a_signature_verifies_only_for_its_parts_and_domain() {
        let keys = ring("m1", 1);
        let sig = keys.sign("owner", &[b"pod-a", b"http://a"]);
        assert!(keys.verify("owner", &[b"pod-a", b"http://a"], &sig));
        assert!(!keys.verify("owner", &[b"pod-a", b"http://evil"], &sig));
        assert!(!keys.verify("forward", &[b"pod-a", b"http://a"], &sig));
        // Field boundaries are part of what is signed.
        assert!(!keys.verify("owner", &[b"pod-ah", b"ttp://a"], &sig));
    }

    #[test]
    fn another_key_set_cannot_forge_and_rotation_keeps_old_signatures() {
        let old = ring("m1", 1);
        let sig = old.sign("owner", &[b"x"]);
        assert!(
            !ring("m1", 2).verify("owner", &[b"x"], &sig),
            "same id, other bytes"
        );
        let rotated = KeyRing::new(
            SecretKey::new("m2", [2; 32]).unwrap(),
            SecretKey::new("b", [9; 32]).unwrap(),
        )
        .with_previous_master(SecretKey::new("m1", [1; 32]).unwrap());
        assert!(rotated.verify("owner", &[b"x"], &sig));
        assert!(rotated.sign("owner", &[b"x"]).starts_with("m2."));
    }

    #[test]
    fn malformed_signatures_are_refused() {
        let keys = ring("m1", 1);
        for bad in ["", "m1", "m1.", "m1.zz", "nope.00", &"a".repeat(500)] {
            assert!(!keys.verify("owner", &[b"x"], bad), "{bad:?}");
        }
        let sig = keys.sign("owner", &[b"x"]);
        let short = &sig[..sig.len() - 2];
        assert!(!keys.verify("owner", &[b"x"], short));
    }
}
