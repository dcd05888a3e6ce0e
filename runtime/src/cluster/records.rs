//! What pods write about themselves in the shared store, signed so that a
//! party who can write to Redis but holds no key cannot forge them:
//!
//! - a **pod record** (`berth:pods:<pod>:alive`, short TTL, rewritten every
//!   beat): the pod is alive, where it is reached, its incarnation (a random
//!   id per process, so a restarted pod with the same name is a new one),
//!   whether it is draining, and whether other pods may take a refused
//!   connection to it as proof that it is gone;
//! - an **owner record** (`<session record key>:lease`, as long-lived as the
//!   session record): which pod incarnation runs the session's instance,
//!   and an epoch that every change of hands (or re-claim after a gap in the
//!   owner's liveness) increments, so that compare-and-swap on the record
//!   decides every race between two pods.
//!
//! Each is JSON with a `sig` over its fields and the key it is stored
//! under (a record copied to another key does not verify).
//!
//! May import: external crates (the key ring).

use berth_session_store::{KeyRing, RecordKey};
use serde::{Deserialize, Serialize};

/// Signature domain of pod records.
const POD_DOMAIN: &str = "cluster pod record";
/// Signature domain of owner records.
const OWNER_DOMAIN: &str = "cluster owner record";

/// A session's owner, as its owner record names it (verified).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Lease {
    /// The owning pod's name.
    pub pod: String,
    /// Where other pods reach it (`http://10.0.0.5:8080`).
    pub url: String,
    /// The owning process (random per process start).
    #[serde(rename = "inc")]
    pub incarnation: String,
    /// Changes of hands so far (compare-and-swap token).
    pub epoch: u64,
}

/// A pod's liveness record (verified).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PodRecord {
    /// The pod's name.
    pub pod: String,
    /// Where other pods reach it.
    pub url: String,
    /// The process (random per process start).
    #[serde(rename = "inc")]
    pub incarnation: String,
    /// Shutting down: its listener may be closed while it still hands its
    /// sessions over, so a refused connection proves nothing.
    pub draining: bool,
    /// It checked that its advertised URL reaches it, so a refused
    /// connection to that URL means it is gone.
    pub evidence: bool,
}

/// A record as stored: the fields and their signature.
#[derive(Serialize, Deserialize)]
struct Signed<T> {
    #[serde(flatten)]
    body: T,
    sig: String,
}

/// Why a stored record was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Unverified {
    /// Not a record of this format (an older Berth's lease, garbage).
    Malformed,
    /// Well-formed, but its signature does not verify under this pod's
    /// key set (forged, or written by pods with other keys).
    BadSignature,
}

// === impl Lease ===

impl Lease {
    fn parts<'a>(&'a self, key: &'a RecordKey, epoch: &'a [u8; 8]) -> [&'a [u8]; 5] {
        [
            key.as_str().as_bytes(),
            self.pod.as_bytes(),
            self.url.as_bytes(),
            self.incarnation.as_bytes(),
            epoch,
        ]
    }

    /// The stored form under `key`, signed.
    pub(crate) fn seal(&self, keys: &KeyRing, key: &RecordKey) -> Vec<u8> {
        let epoch = self.epoch.to_be_bytes();
        let sig = keys.sign(OWNER_DOMAIN, &self.parts(key, &epoch));
        serde_json::to_vec(&Signed {
            body: self.clone(),
            sig,
        })
        .expect("an owner record serializes")
    }

    /// Reads and verifies the owner record stored under `key`.
    pub(crate) fn open(keys: &KeyRing, key: &RecordKey, raw: &[u8]) -> Result<Lease, Unverified> {
        let signed: Signed<Lease> =
            serde_json::from_slice(raw).map_err(|_| Unverified::Malformed)?;
        let epoch = signed.body.epoch.to_be_bytes();
        if keys.verify(OWNER_DOMAIN, &signed.body.parts(key, &epoch), &signed.sig) {
            Ok(signed.body)
        } else {
            Err(Unverified::BadSignature)
        }
    }
}

// === impl PodRecord ===

impl PodRecord {
    fn parts<'a>(&'a self, key: &'a RecordKey) -> [&'a [u8]; 6] {
        [
            key.as_str().as_bytes(),
            self.pod.as_bytes(),
            self.url.as_bytes(),
            self.incarnation.as_bytes(),
            if self.draining {
                b"draining"
            } else {
                b"serving"
            },
            if self.evidence {
                b"evidence"
            } else {
                b"no-evidence"
            },
        ]
    }

    /// The store key of `pod`'s record.
    pub(crate) fn key(pod: &str) -> RecordKey {
        RecordKey::new(format!("berth:pods:{pod}:alive"))
    }

    /// The stored form, signed.
    pub(crate) fn seal(&self, keys: &KeyRing) -> Vec<u8> {
        let key = Self::key(&self.pod);
        let sig = keys.sign(POD_DOMAIN, &self.parts(&key));
        serde_json::to_vec(&Signed {
            body: self.clone(),
            sig,
        })
        .expect("a pod record serializes")
    }

    /// Reads and verifies the record stored under `pod`'s key.
    pub(crate) fn open(keys: &KeyRing, pod: &str, raw: &[u8]) -> Result<PodRecord, Unverified> {
        let signed: Signed<PodRecord> =
            serde_json::from_slice(raw).map_err(|_| Unverified::Malformed)?;
        let key = Self::key(pod);
        if signed.body.pod == pod && keys.verify(POD_DOMAIN, &signed.body.parts(&key), &signed.sig)
        {
            Ok(signed.body)
        } else {
            Err(Unverified::BadSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    use berth_session_store::SecretKey;

    use super::*;

    fn keys(byte: u8) -> KeyRing {
        KeyRing::new(
            SecretKey::new("m", [byte; 32]).unwrap(),
            SecretKey::new("b", [7; 32]).unwrap(),
        )
    }

    fn lease() -> Lease {
        Lease {
            pod: "a".into(),
            url: "http://10.0.0.1:8080".into(),
            incarnation: "i1".into(),
            epoch: 3,
        }
    }

    #[test]
    fn an_owner_record_opens_only_under_its_key_and_key_set() {
        let (k, key) = (keys(1), RecordKey::new("berth:t:s:abc:lease"));
        let raw = lease().seal(&k, &key);
        assert_eq!(Lease::open(&k, &key, &raw), Ok(lease()));
        let other = RecordKey::new("berth:t:s:def:lease");
        assert_eq!(Lease::open(&k, &other, &raw), Err(Unverified::BadSignature));
        assert_eq!(
            Lease::open(&keys(2), &key, &raw),
            Err(Unverified::BadSignature)
        );
    }

    #[test]
    fn a_redirected_owner_record_does_not_verify() {
        let (k, key) = (keys(1), RecordKey::new("berth:t:s:abc:lease"));
        let mut v: serde_json::Value = serde_json::from_slice(&lease().seal(&k, &key)).unwrap();
        v["url"] = "http://attacker:80".into();
        let forged = serde_json::to_vec(&v).unwrap();
        assert_eq!(
            Lease::open(&k, &key, &forged),
            Err(Unverified::BadSignature)
        );
        let old_format = br#"{"pod":"a","url":"http://attacker:80"}"#;
        assert_eq!(
            Lease::open(&k, &key, old_format),
            Err(Unverified::Malformed)
        );
    }

    #[test]
    fn a_pod_record_is_bound_to_its_pod() {
        let k = keys(1);
        let rec = PodRecord {
            pod: "a".into(),
            url: "http://a".into(),
            incarnation: "i".into(),
            draining: false,
            evidence: true,
        };
        let raw = rec.seal(&k);
        assert_eq!(PodRecord::open(&k, "a", &raw), Ok(rec.clone()));
        assert_eq!(
            PodRecord::open(&k, "b", &raw),
            Err(Unverified::BadSignature)
        );
        let mut v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        v["draining"] = true.into();
        let flipped = serde_json::to_vec(&v).unwrap();
        assert_eq!(
            PodRecord::open(&k, "a", &flipped),
            Err(Unverified::BadSignature)
        );
    }
}
