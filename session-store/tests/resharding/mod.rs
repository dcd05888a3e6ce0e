//! A session's slot migrating to another primary while the session is in
//! use, step by step as `redis-cli --cluster reshard` moves a slot
//! (`CLUSTER SETSLOT … IMPORTING` and `MIGRATING`, `MIGRATE` of its keys a
//! few at a time, `CLUSTER SETSLOT … NODE` on every primary). Every
//! operation succeeds throughout: keys that already left are reached on the
//! importing node (`ASK`), new keys are created there, the append script
//! waits while its two keys are split (`TRYAGAIN`), and once the slot has
//! moved the old node's `MOVED` is followed.

use std::sync::Arc;
use std::time::Duration;

use berth_session_store::{
    RecordKey, RedisOptions, RedisStore, SealedStore, SecretKey, SessionStore,
};

use crate::cluster_nodes::RedisCluster;
use crate::conformance::LONG;
use crate::{lease_key, ring, stored_keys};

/// `CLUSTER MYID` of the node on `port`.
fn node_id(cluster: &RedisCluster, port: u16) -> String {
    cluster
        .cli_on(port, &["CLUSTER", "MYID"])
        .trim()
        .to_string()
}

/// Runs `args` on the node on `port`, which must answer `OK`.
fn ok(cluster: &RedisCluster, port: u16, args: &[&str]) {
    let out = cluster.cli_on(port, args);
    assert_eq!(out.trim(), "OK", "{args:?} on {port}: {out}");
}

/// Moves `keys` from the node on `from` to the one on `to`, as
/// `redis-cli --cluster reshard` does (`MIGRATE … KEYS`).
fn migrate(cluster: &RedisCluster, from: u16, to: u16, keys: &[&str]) {
    let to = to.to_string();
    let mut args = vec!["MIGRATE", "127.0.0.1", &to, "", "0", "5000", "KEYS"];
    args.extend_from_slice(keys);
    ok(cluster, from, &args);
}

/// Whether the node on `port` holds `key`, of `slot` (`CLUSTER
/// GETKEYSINSLOT`: an importing node answers `MOVED` to a plain `EXISTS`).
fn holds(cluster: &RedisCluster, port: u16, slot: &str, key: &str) -> bool {
    let keys = cluster.cli_on(port, &["CLUSTER", "GETKEYSINSLOT", slot, "100"]);
    keys.lines().any(|k| k == key)
}

#[tokio::test]
async fn a_session_keeps_working_while_its_slot_migrates_to_another_primary() {
    let cluster = RedisCluster::start(3, 1);
    let options = RedisOptions {
        timeout: Duration::from_secs(2),
        min_replicas_acked: 1,
        ..RedisOptions::default()
    };
    let store: Arc<dyn SessionStore> =
        Arc::new(RedisStore::connect_with(&cluster.url(), options).unwrap());
    let sealed = SealedStore::new(store.clone(), ring("m1"));
    let b = sealed.keys().bind("acme", "srv", "alice", "s-1");
    assert!(sealed.create(&b, &"v1", LONG).await.unwrap());
    let lease = lease_key(&b);
    store.put(&lease, b"pod-a".to_vec(), LONG).await.unwrap();
    for n in 1..=2u64 {
        let seq = sealed.append_event(&b, &format!("e{n}"), 10, LONG).await;
        assert_eq!(seq.unwrap(), n);
    }
    let [record_at, lease_at, seq_at, events_at] =
        <[String; 4]>::try_from(stored_keys(&b)).unwrap();
    let slot = cluster.keyslot(&record_at);
    let from = cluster.port_of_slot(slot);
    let to = cluster
        .primary_ports()
        .into_iter()
        .find(|p| *p != from)
        .unwrap();
    let (from_id, to_id, slot) = (
        node_id(&cluster, from),
        node_id(&cluster, to),
        slot.to_string(),
    );
    ok(
        &cluster,
        to,
        &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &from_id],
    );
    ok(
        &cluster,
        from,
        &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &to_id],
    );

    // The record leaves first: reading it, and the compare-and-swap that
    // reseals it under a new master key, reach it on the importing node.
    migrate(&cluster, from, to, &[&record_at]);
    let read: Option<String> = sealed.load(&b, None).await.unwrap();
    assert_eq!(read.as_deref(), Some("v1"), "read through ASK");
    let rotated = SealedStore::new(
        store.clone(),
        ring("m2").with_previous_master(SecretKey::new("m1", [3; 32]).unwrap()),
    );
    let before = store.get(b.record_key()).await.unwrap().unwrap();
    let read: Option<String> = rotated.load(&b, Some(LONG)).await.unwrap();
    assert_eq!(read.as_deref(), Some("v1"));
    let after = store.get(b.record_key()).await.unwrap().unwrap();
    assert_ne!(before, after, "resealed (compare_and_put through ASK)");
    assert!(holds(&cluster, to, &slot, &record_at) && !holds(&cluster, from, &slot, &record_at));

    // A key new to the slot is created on the importing node, and its
    // replica acknowledges it (the write and its WAIT followed ASK).
    let fresh = RecordKey::new(format!("{}:fresh", b.record_key()));
    assert!(store.put_new(&fresh, b"new".to_vec(), LONG).await.unwrap());
    assert!(
        !store
            .put_new(&fresh, b"again".to_vec(), LONG)
            .await
            .unwrap(),
        "NX"
    );
    let fresh_at = fresh.cluster_key().into_owned();
    assert!(holds(&cluster, to, &slot, &fresh_at) && !holds(&cluster, from, &slot, &fresh_at));

    // The lease has not moved: the migrating node still serves it.
    assert_eq!(store.get(&lease).await.unwrap(), Some(b"pod-a".to_vec()));
    assert!(store.touch(&lease, LONG).await.unwrap());

    // The log leaves without its counter: the append (a script on both)
    // cannot run on either node until the counter follows, and then does.
    migrate(&cluster, from, to, &[&events_at]);
    // A store that cannot wait that long says why it gave up, and what
    // ends a migration that never finishes; nothing was appended.
    let impatient = RedisOptions {
        timeout: Duration::from_millis(300),
        ..RedisOptions::default()
    };
    let impatient = SealedStore::new(
        Arc::new(RedisStore::connect_with(&cluster.url(), impatient).unwrap()),
        ring("m2").with_previous_master(SecretKey::new("m1", [3; 32]).unwrap()),
    );
    let err = impatient
        .append_event(&b, &"never", 10, LONG)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("did not complete append_event script within 300ms")
            && err.contains("answered TRYAGAIN")
            && err.contains("redis-cli --cluster fix"),
        "{err}"
    );
    let appending = tokio::spawn({
        let (sealed, b) = (rotated.clone(), b.clone());
        async move { sealed.append_event(&b, &"e3", 10, LONG).await }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!appending.is_finished(), "the append waits (TRYAGAIN)");
    migrate(&cluster, from, to, &[&seq_at, &lease_at]);
    assert_eq!(appending.await.unwrap().unwrap(), 3);

    // The slot is the importing node's on every primary: the old node now
    // answers MOVED, and the store follows it.
    ok(&cluster, to, &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id]);
    ok(
        &cluster,
        from,
        &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id],
    );
    for port in cluster.primary_ports() {
        if port != from && port != to {
            ok(
                &cluster,
                port,
                &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id],
            );
        }
    }
    let read: Option<String> = rotated.load(&b, None).await.unwrap();
    assert_eq!(read.as_deref(), Some("v1"));
    let events: Vec<(u64, String)> = rotated.events_after(&b, 0).await.unwrap();
    let expected: Vec<(u64, String)> = (1..=3).map(|n| (n, format!("e{n}"))).collect();
    assert_eq!(events, expected);
    assert_eq!(store.get(&fresh).await.unwrap(), Some(b"new".to_vec()));
    assert!(store.delete(&lease).await.unwrap());
    assert!(rotated.remove(&b).await.unwrap());
    let left_behind: Vec<String> = cluster
        .keys_on(from)
        .into_iter()
        .filter(|k| k.contains(&record_at[record_at.find('{').unwrap()..]))
        .collect();
    assert_eq!(
        left_behind,
        Vec::<String>::new(),
        "nothing of the session on the old node"
    );
}
