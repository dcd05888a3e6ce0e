//! [`RedisStore`] against a real Redis Cluster (`redis+cluster://`, three
//! primaries started per test by `cluster_nodes`): the store conformance
//! suite, sessions spread over every shard with all of a session's keys in
//! one slot, one seed finding the whole cluster, clear errors for a URL
//! naming nodes that are not a cluster (and for `redis://` at a cluster
//! node), a shard going down and coming back, a primary failover that
//! keeps acknowledged sessions, a cluster over TLS (`rediss+cluster://`),
//! and (`resharding`) a session's slot migrating to another primary while
//! the session is in use.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_session_store::{
    Error, KeyRing, RecordKey, RedisOptions, RedisStore, SealedStore, SecretKey, SessionBinding,
    SessionStore,
};

mod cluster_nodes;
mod conformance;
// The black-box tests' PKI recipe (berth-tests is not a dependency here);
// this file uses only part of it.
#[allow(unreachable_pub, dead_code)]
#[path = "../../tests/src/pki.rs"]
mod pki;
// Shared with redis_store.rs; this file uses only part of it.
#[allow(dead_code)]
mod redis_server;
mod resharding;

use self::cluster_nodes::RedisCluster;
use self::conformance::{LONG, conformance_tests};
use self::redis_server::{RedisServer, free_port};

async fn cluster_store() -> (RedisCluster, Arc<dyn SessionStore>) {
    let cluster = RedisCluster::start(3, 0);
    let store = RedisStore::connect(&cluster.url()).unwrap();
    (cluster, Arc::new(store))
}

conformance_tests!(crate::cluster_store());

fn unavailable_message(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Err(e @ Error::Unavailable(_)) => e.to_string(),
        other => panic!("expected Error::Unavailable, got {other:?}"),
    }
}

fn ring(master: &str) -> KeyRing {
    KeyRing::new(
        SecretKey::new(master, [3; 32]).unwrap(),
        SecretKey::new("b1", [9; 32]).unwrap(),
    )
}

fn lease_key(b: &SessionBinding) -> RecordKey {
    // As runtime/src/cluster/lease.rs derives it.
    RecordKey::new(format!("{}:lease", b.record_key()))
}

/// Every key one session uses, as the cluster stores them.
fn stored_keys(b: &SessionBinding) -> Vec<String> {
    let events = b.events_key().cluster_key().into_owned();
    vec![
        b.record_key().cluster_key().into_owned(),
        lease_key(b).cluster_key().into_owned(),
        format!("{events}:seq"),
        events,
    ]
}

/// The port of the primary holding `b`'s keys.
fn primary_of(cluster: &RedisCluster, b: &SessionBinding) -> u16 {
    cluster.port_of_slot(cluster.keyslot(&stored_keys(b)[0]))
}

#[tokio::test]
async fn sessions_spread_over_every_shard_with_each_sessions_keys_in_one_slot() {
    let cluster = RedisCluster::start(3, 0);
    let store: Arc<dyn SessionStore> = Arc::new(RedisStore::connect(&cluster.url()).unwrap());
    let sealed = SealedStore::new(store.clone(), ring("m1"));
    let bindings: Vec<SessionBinding> = (0..48)
        .map(|i| {
            sealed
                .keys()
                .bind("acme", "srv", &format!("user-{}", i % 5), &format!("s-{i}"))
        })
        .collect();

    for (i, b) in bindings.iter().enumerate() {
        assert!(
            sealed
                .create(b, &format!("record {i}"), LONG)
                .await
                .unwrap()
        );
        assert!(!sealed.create(b, &"again", LONG).await.unwrap(), "NX");
        sealed
            .save(b, &format!("record {i} v2"), LONG)
            .await
            .unwrap();
        store
            .put(&lease_key(b), format!("pod-{i}").into_bytes(), LONG)
            .await
            .unwrap();
        assert!(store.touch(&lease_key(b), LONG).await.unwrap());
        for n in 1..=3u64 {
            let seq = sealed.append_event(b, &format!("{i}/{n}"), 2, LONG).await;
            assert_eq!(seq.unwrap(), n);
        }
    }

    // Every key of a session is in the slot of its hash; together they live
    // on the primary of that slot, and the sessions cover all three shards.
    let mut sessions_per_primary: BTreeMap<u16, usize> = BTreeMap::new();
    for b in &bindings {
        let keys = stored_keys(b);
        let slots: BTreeSet<u16> = keys.iter().map(|k| cluster.keyslot(k)).collect();
        assert_eq!(slots.len(), 1, "{keys:?} in slots {slots:?}");
        let hash = &b.record_key().as_str()["berth:acme:s:".len()..];
        let slot = cluster.keyslot(hash);
        assert_eq!(slots.into_iter().next(), Some(slot));
        let port = cluster.port_of_slot(slot);
        let mut exists = vec!["EXISTS"];
        exists.extend(keys.iter().map(String::as_str));
        assert_eq!(cluster.cli_on(port, &exists).trim(), "4", "{keys:?}");
        *sessions_per_primary.entry(port).or_default() += 1;
    }
    assert_eq!(
        sessions_per_primary.len(),
        3,
        "48 sessions on all three primaries: {sessions_per_primary:?}"
    );
    for port in cluster.primary_ports() {
        let keys = cluster.keys_on(port);
        assert!(
            keys.iter().all(|k| k.contains(":{")),
            "only hash-tagged session keys: {keys:?}"
        );
    }

    // Reads, TTL slides, the log, the compare-and-swap of a reseal after a
    // master key rotation and removal, on every shard.
    let rotated = SealedStore::new(
        store.clone(),
        ring("m2").with_previous_master(SecretKey::new("m1", [3; 32]).unwrap()),
    );
    for (i, b) in bindings.iter().enumerate() {
        let events: Vec<(u64, String)> = sealed.events_after(b, 1).await.unwrap();
        assert_eq!(
            events,
            vec![(2, format!("{i}/2")), (3, format!("{i}/3"))],
            "capped at 2, in order"
        );
        let before = store.get(b.record_key()).await.unwrap().unwrap();
        let read: Option<String> = rotated.load(b, Some(LONG)).await.unwrap();
        assert_eq!(read, Some(format!("record {i} v2")));
        let after = store.get(b.record_key()).await.unwrap().unwrap();
        assert_ne!(before, after, "resealed under m2 (compare_and_put)");
        assert!(
            !store
                .compare_and_put(b.record_key(), &before, b"stale".to_vec(), None)
                .await
                .unwrap(),
            "a stale compare-and-swap is refused"
        );
        assert_eq!(
            store.get(&lease_key(b)).await.unwrap(),
            Some(format!("pod-{i}").into_bytes())
        );
    }
    for b in &bindings {
        assert!(rotated.remove(b).await.unwrap());
        assert!(store.delete(&lease_key(b)).await.unwrap());
    }
    // Only the logs' counters are left, to expire with their TTL (as on one
    // server: a log deleted while its counter lives restarts at 1).
    for port in cluster.primary_ports() {
        let left = cluster.keys_on(port);
        assert!(left.iter().all(|k| k.ends_with("}:seq")), "{left:?}");
    }
}

#[tokio::test]
async fn one_seed_finds_the_whole_cluster_and_ping_reaches_every_node() {
    let mut cluster = RedisCluster::start(3, 0);
    let store = RedisStore::connect(&cluster.url_one_seed()).unwrap();
    store.check_cluster().await.unwrap();
    store.ping().await.unwrap();
    let keys: Vec<RecordKey> = (0..30)
        .map(|i| RecordKey::new(format!("berth:registry:server:t/n{i}")))
        .collect();
    for key in &keys {
        store.put(key, b"v".to_vec(), LONG).await.unwrap();
        assert_eq!(store.get(key).await.unwrap(), Some(b"v".to_vec()));
    }
    let shards: BTreeSet<u16> = keys
        .iter()
        .map(|k| cluster.port_of_slot(cluster.keyslot(k.as_str())))
        .collect();
    assert_eq!(shards.len(), 3, "plain keys spread too (hashed whole)");

    // A node down: PING (sent to every node) says the store is not ready.
    let down = cluster.primary_ports()[2];
    cluster.kill(down);
    let msg = unavailable_message(store.ping().await);
    assert!(msg.contains("Redis Cluster at"), "{msg}");
}

#[tokio::test]
async fn nodes_that_are_not_a_cluster_are_a_clear_error() {
    let plain = RedisServer::start();
    let url = format!("redis+cluster://127.0.0.1:{}", plain.port());
    let store = RedisStore::connect(&url).unwrap();
    let startup = store.check_cluster().await.unwrap_err().to_string();
    assert!(startup.contains("is not a Redis Cluster"), "{startup}");
    assert!(startup.contains("redis://"), "{startup}");
    let op = unavailable_message(store.get(&RecordKey::new("k")).await);
    assert!(op.contains("is not a Redis Cluster"), "{op}");

    // Seeds that cannot be reached are no startup error (pods may start
    // before Redis), but every operation says what is wrong.
    let nobody = format!("redis+cluster://127.0.0.1:{}", free_port());
    let store = RedisStore::connect(&nobody).unwrap();
    store.check_cluster().await.unwrap();
    let msg = unavailable_message(store.get(&RecordKey::new("k")).await);
    assert!(msg.contains("no seed node could be reached"), "{msg}");

    // `redis://` pointing at one node of a cluster: keys of other shards
    // are answered with MOVED, which names the right URL form.
    let cluster = RedisCluster::start(3, 0);
    let one = cluster.primary_ports()[0];
    let store = RedisStore::connect(&format!("redis://127.0.0.1:{one}")).unwrap();
    store.check_cluster().await.unwrap();
    let elsewhere = (0..100)
        .map(|i| RecordKey::new(format!("k{i}")))
        .find(|k| cluster.port_of_slot(cluster.keyslot(k.as_str())) != one)
        .unwrap();
    let msg = unavailable_message(store.get(&elsewhere).await);
    assert!(
        msg.contains("is a Redis Cluster node") && msg.contains("redis+cluster://"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_shard_that_goes_down_fails_its_operations_and_comes_back() {
    let mut cluster = RedisCluster::start(3, 0);
    let options = RedisOptions {
        timeout: Duration::from_secs(1),
        ..RedisOptions::default()
    };
    let store = RedisStore::connect_with(&cluster.url(), options).unwrap();
    let sealed = SealedStore::new(Arc::new(store.clone()), ring("m1"));
    let bindings: Vec<SessionBinding> = (0..12)
        .map(|i| {
            sealed
                .keys()
                .bind("acme", "srv", "alice", &format!("s-{i}"))
        })
        .collect();
    for b in &bindings {
        assert!(sealed.create(b, &"v", LONG).await.unwrap());
    }
    let ports: Vec<u16> = bindings.iter().map(|b| primary_of(&cluster, b)).collect();
    let down = ports[0];

    cluster.kill(down);
    let started = Instant::now();
    let err = sealed.load::<String>(&bindings[0], None).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    println!(
        "figure: first read on the dead shard failed after {:?}: {err}",
        started.elapsed()
    );

    // The node comes back (same nodes.conf, no persistence): the cluster
    // heals and the store reconnects by itself; the shard's sessions are
    // gone with its data, the others are intact.
    cluster.restart(down);
    let started = Instant::now();
    let mut failures = 0;
    loop {
        match sealed.create(&bindings[0], &"again", LONG).await {
            Ok(created) => {
                assert!(created, "the restarted shard lost its data");
                break;
            }
            Err(e) => {
                assert!(e.is_unavailable(), "{e}");
                failures += 1;
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "no recovery: {e}; logs:\n{}",
                    cluster.logs()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    println!(
        "figure: store usable again {:?} after the restart ({failures} failed attempts)",
        started.elapsed()
    );
    for (i, b) in bindings.iter().enumerate() {
        let read: Option<String> = sealed.load(b, None).await.unwrap();
        let expected = match (i, ports[i] == down) {
            (0, _) => Some("again"),
            (_, true) => None,
            (_, false) => Some("v"),
        };
        assert_eq!(read.as_deref(), expected, "session {i}");
    }
}

#[tokio::test]
async fn a_primary_failover_keeps_acknowledged_sessions() {
    let mut cluster = RedisCluster::start(3, 1);
    let options = RedisOptions {
        timeout: Duration::from_secs(1),
        min_replicas_acked: 1,
        ..RedisOptions::default()
    };
    let store = RedisStore::connect_with(&cluster.url(), options).unwrap();
    let sealed = SealedStore::new(Arc::new(store.clone()), ring("m1"));
    let bindings: Vec<SessionBinding> = (0..12)
        .map(|i| sealed.keys().bind("acme", "srv", "bob", &format!("s-{i}")))
        .collect();
    // Each creation waits for the replica of its own shard (WAIT goes with
    // the write to the slot's primary).
    for (i, b) in bindings.iter().enumerate() {
        assert!(sealed.create(b, &format!("v{i}"), LONG).await.unwrap());
        assert_eq!(sealed.append_event(b, &"e1", 10, LONG).await.unwrap(), 1);
    }
    let slot = cluster.keyslot(&stored_keys(&bindings[0])[0]);
    let old_primary = cluster.port_of_slot(slot);
    cluster.kill(old_primary);

    let started = Instant::now();
    let mut failures = 0;
    let read = loop {
        match sealed.load::<String>(&bindings[0], None).await {
            Ok(read) => break read,
            Err(e) => {
                assert!(e.is_unavailable(), "{e}");
                failures += 1;
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "no failover: {e}; logs:\n{}",
                    cluster.logs()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    println!(
        "figure: session readable {:?} after its primary was killed ({failures} failed attempts)",
        started.elapsed()
    );
    assert_eq!(
        read,
        Some("v0".to_string()),
        "the acknowledged session survived"
    );
    cluster.wait_until("every node to see the promoted replica", |c| {
        c.primary_ports().len() == 3 && !c.primary_ports().contains(&old_primary)
    });
    assert_ne!(
        cluster.port_of_slot(slot),
        old_primary,
        "a replica took over"
    );
    for (i, b) in bindings.iter().enumerate() {
        let read: Option<String> = sealed.load(b, None).await.unwrap();
        assert_eq!(read, Some(format!("v{i}")));
        // The log continues where the replicated counter left it.
        assert_eq!(sealed.append_event(b, &"e2", 10, LONG).await.unwrap(), 2);
    }
    // The promoted replica has no replica of its own: new sessions on its
    // shard cannot be acknowledged, and say so.
    let promoted = cluster.port_of_slot(slot);
    let orphan = (0..200)
        .map(|i| {
            sealed
                .keys()
                .bind("acme", "srv", "carol", &format!("n-{i}"))
        })
        .find(|b| primary_of(&cluster, b) == promoted)
        .unwrap();
    // (The acknowledging connection may first meet its broken link to the
    // dead primary: an operation in flight on a broken connection fails
    // rather than risk being applied twice.)
    let mut broken = 0;
    let msg = loop {
        let msg = unavailable_message(sealed.create(&orphan, &"x", LONG).await);
        if !msg.contains("unreachable") || broken == 3 {
            break msg;
        }
        broken += 1;
    };
    assert!(msg.contains("replicas acknowledged"), "{msg}");
    println!("figure: {broken} failed put_new before the acknowledging connection followed");
}

#[tokio::test]
async fn a_cluster_over_tls_serves_sessions_on_every_shard_acknowledged_by_replicas() {
    let pki = pki::Pki::new();
    // Every node serves TLS to clients, on its cluster bus and to its
    // replica; the slot map a TLS client reads names the nodes' TLS ports.
    let cluster = RedisCluster::start_with(3, 1, |port| {
        let mut args = pki.server_args(port, "server", false);
        args.extend(["--tls-cluster", "yes", "--tls-replication", "yes"].map(String::from));
        Some(args)
    });
    let tls = |ca: &str| RedisOptions {
        tls: berth_session_store::RedisTls {
            ca_pem: Some(pki.read(ca)),
            client: None,
        },
        // New sessions wait for the shard's replica (a second connection).
        min_replicas_acked: 1,
        ..RedisOptions::default()
    };
    let store = RedisStore::connect_with(&cluster.tls_url(), tls("ca.pem")).unwrap();
    store.check_cluster().await.unwrap();
    store.ping().await.unwrap();
    let sealed = SealedStore::new(Arc::new(store), ring("m1"));
    let bindings: Vec<SessionBinding> = (0..12)
        .map(|i| sealed.keys().bind("acme", "srv", "dana", &format!("s-{i}")))
        .collect();
    for (i, b) in bindings.iter().enumerate() {
        assert!(sealed.create(b, &format!("v{i}"), LONG).await.unwrap());
        assert_eq!(sealed.append_event(b, &"e1", 10, LONG).await.unwrap(), 1);
    }
    let shards: BTreeSet<u16> = bindings.iter().map(|b| primary_of(&cluster, b)).collect();
    assert_eq!(shards.len(), 3, "12 sessions over all three shards");
    for (i, b) in bindings.iter().enumerate() {
        let read: Option<String> = sealed.load(b, None).await.unwrap();
        assert_eq!(read, Some(format!("v{i}")));
    }
    // A store that does not trust the cluster's CA reads nothing.
    let untrusting = RedisStore::connect_with(&cluster.tls_url(), tls("other-ca.pem")).unwrap();
    let msg = unavailable_message(untrusting.get(bindings[0].record_key()).await);
    assert!(msg.contains("TLS") || msg.contains("certificate"), "{msg}");
}
