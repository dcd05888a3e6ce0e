use serde::Deserialize;

use super::*;
use crate::keys::SecretKey;
use crate::memory::MemoryStore;

const TTL: Duration = Duration::from_secs(60);

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Rec {
    backend: String,
    token: String,
}

fn rec() -> Rec {
    Rec {
        backend: "container-1".into(),
        token: "vault-token-xyz".into(),
    }
}

fn ring(master_id: &str, byte: u8) -> KeyRing {
    KeyRing::new(
        SecretKey::new(master_id, [byte; 32]).unwrap(),
        SecretKey::new("b1", [7; 32]).unwrap(),
    )
}

fn sealed_store(mem: &MemoryStore, keys: KeyRing) -> SealedStore {
    SealedStore::new(Arc::new(mem.clone()), keys)
}

#[tokio::test(start_paused = true)]
async fn save_load_remove() {
    let mem = MemoryStore::new();
    let s = sealed_store(&mem, ring("m1", 1));
    let b = s.keys().bind("acme", "srv", "alice", "sess");
    assert_eq!(s.load::<Rec>(&b, None).await.unwrap(), None);

    s.save(&b, &rec(), TTL).await.unwrap();
    assert_eq!(s.load::<Rec>(&b, None).await.unwrap(), Some(rec()));

    // The store only holds ciphertext under a hashed key.
    let raw = mem.get(b.record_key()).await.unwrap().unwrap();
    let raw_text = String::from_utf8_lossy(&raw);
    assert!(!raw_text.contains("vault-token") && !raw_text.contains("container-1"));
    assert!(!b.record_key().as_str().contains("alice"));
    assert!(!b.record_key().as_str().contains("sess"));

    assert!(s.remove(&b).await.unwrap());
    assert!(!s.remove(&b).await.unwrap());
    assert_eq!(s.load::<Rec>(&b, None).await.unwrap(), None);
    s.store().ping().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn create_does_not_overwrite() {
    let s = sealed_store(&MemoryStore::new(), ring("m1", 1));
    let b = s.keys().bind("acme", "srv", "alice", "sess");
    assert!(s.create(&b, &rec(), TTL).await.unwrap());
    let other = Rec {
        backend: "container-2".into(),
        token: String::new(),
    };
    assert!(!s.create(&b, &other, TTL).await.unwrap());
    assert_eq!(s.load::<Rec>(&b, None).await.unwrap(), Some(rec()));
}

#[tokio::test(start_paused = true)]
async fn load_slides_ttl() {
    let s = sealed_store(&MemoryStore::new(), ring("m1", 1));
    let b = s.keys().bind("acme", "srv", "alice", "sess");
    s.save(&b, &rec(), TTL).await.unwrap();
    for _ in 0..3 {
        tokio::time::advance(TTL / 2).await;
        assert!(s.load::<Rec>(&b, Some(TTL)).await.unwrap().is_some());
    }
    tokio::time::advance(TTL / 2).await;
    assert!(s.load::<Rec>(&b, None).await.unwrap().is_some(), "no slide");
    tokio::time::advance(TTL / 2).await;
    assert_eq!(s.load::<Rec>(&b, None).await.unwrap(), None);
}

/// A stolen session id gets another user nothing: a different store key,
/// and even the right store key does not open.
#[tokio::test(start_paused = true)]
async fn other_subject_cannot_load() {
    let mem = MemoryStore::new();
    let s = sealed_store(&mem, ring("m1", 1));
    let alice = s.keys().bind("acme", "srv", "alice", "sess");
    let mallory = s.keys().bind("acme", "srv", "mallory", "sess");
    s.save(&alice, &rec(), TTL).await.unwrap();
    assert_eq!(s.load::<Rec>(&mallory, None).await.unwrap(), None);

    let copied = mem.get(alice.record_key()).await.unwrap().unwrap();
    mem.put(mallory.record_key(), copied, TTL).await.unwrap();
    let err = s.load::<Rec>(&mallory, None).await.unwrap_err();
    assert!(matches!(err, Error::Crypto), "{err}");
}

#[tokio::test(start_paused = true)]
async fn load_reseals_after_master_rotation() {
    let mem = MemoryStore::new();
    let old = sealed_store(&mem, ring("m1", 1));
    let b = old.keys().bind("acme", "srv", "alice", "sess");
    old.save(&b, &rec(), TTL).await.unwrap();

    let rotated_keys = ring("m2", 2).with_previous_master(SecretKey::new("m1", [1; 32]).unwrap());
    let new = sealed_store(&mem, rotated_keys);
    let b = new.keys().bind("acme", "srv", "alice", "sess");
    let before = mem.get(b.record_key()).await.unwrap().unwrap();
    assert!(new.keys().open(&b, &before).unwrap().needs_reseal);

    assert_eq!(new.load::<Rec>(&b, None).await.unwrap(), Some(rec()));
    let after = mem.get(b.record_key()).await.unwrap().unwrap();
    assert_ne!(after, before);
    let opened = new.keys().open(&b, &after).unwrap();
    assert!(!opened.needs_reseal, "resealed under the current key");

    // Resealing kept the original TTL (no slide was asked for).
    tokio::time::advance(TTL).await;
    assert_eq!(new.load::<Rec>(&b, None).await.unwrap(), None);
}

#[tokio::test(start_paused = true)]
async fn serde_errors_do_not_leak_plaintext() {
    let s = sealed_store(&MemoryStore::new(), ring("m1", 1));
    let b = s.keys().bind("acme", "srv", "alice", "sess");
    s.save(&b, &rec(), TTL).await.unwrap();
    let err = s.load::<u64>(&b, None).await.unwrap_err();
    assert!(matches!(err, Error::Serde(_)), "{err}");
    assert!(!err.to_string().contains("vault-token"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn typed_event_log() {
    let s = sealed_store(&MemoryStore::new(), ring("m1", 1));
    let b = s.keys().bind("acme", "srv", "alice", "sess");
    for i in 0..5u32 {
        let seq = s
            .append_event(&b, &format!("event {i}"), 3, TTL)
            .await
            .unwrap();
        assert_eq!(seq, u64::from(i) + 1);
    }
    let events: Vec<(u64, String)> = s.events_after(&b, 3).await.unwrap();
    assert_eq!(events, vec![(4, "event 3".into()), (5, "event 4".into())]);

    let mallory = s.keys().bind("acme", "srv", "mallory", "sess");
    assert!(
        s.events_after::<String>(&mallory, 0)
            .await
            .unwrap()
            .is_empty()
    );

    s.save(&b, &rec(), TTL).await.unwrap();
    s.remove(&b).await.unwrap();
    assert!(s.events_after::<String>(&b, 0).await.unwrap().is_empty());
}
