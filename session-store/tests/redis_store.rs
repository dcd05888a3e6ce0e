//! [`RedisStore`] against real `redis-server` processes (one per test): the
//! store conformance suite, the Redis encoding (verbatim keys, exact stream
//! caps, the sequence counter), `SealedStore` on top, outages, timeouts,
//! replica acknowledgements and a Sentinel failover; and (`tls`) all of it
//! over TLS.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_session_store::{
    Error, KeyRing, RecordKey, RedisOptions, RedisStore, SealedStore, SecretKey, SessionStore,
};

mod conformance;
mod redis_server;
mod tls;

use self::conformance::{LONG, conformance_tests, k};
use self::redis_server::{RedisServer, free_port};

async fn redis_store() -> (RedisServer, Arc<dyn SessionStore>) {
    let server = RedisServer::start();
    let store = RedisStore::connect(&server.url()).unwrap();
    (server, Arc::new(store))
}

conformance_tests!(crate::redis_store());

fn query<T: redis::FromRedisValue>(con: &mut redis::Connection, args: &[&[u8]]) -> T {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(con).unwrap()
}

fn unavailable_message(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Err(e @ Error::Unavailable(_)) => e.to_string(),
        other => panic!("expected Error::Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn keys_values_and_logs_are_stored_as_documented() {
    let server = RedisServer::start();
    let store = RedisStore::connect(&server.url()).unwrap();
    let mut con = server.connection();

    // Keys as is, values as raw bytes.
    let key = RecordKey::new("berth:{acme}:s:00ff");
    let value: Vec<u8> = (0..=255u8).rev().collect();
    store.put(&key, value.clone(), LONG).await.unwrap();
    let raw: Vec<u8> = query(&mut con, &[b"GET", key.as_str().as_bytes()]);
    assert_eq!(raw, value);
    let pttl: i64 = query(&mut con, &[b"PTTL", key.as_str().as_bytes()]);
    assert!(pttl > 59_000 && pttl <= 60_000, "PX ttl: {pttl}");

    // The cap is exact (MAXLEN n, not ~ n: approximate trimming would keep
    // whole 100-entry nodes).
    let log = RecordKey::new("berth:{acme}:e:00ff");
    for i in 1..=150u64 {
        let seq = store.append_event(&log, vec![1], 7, LONG).await.unwrap();
        assert_eq!(seq, i);
    }
    let len: i64 = query(&mut con, &[b"XLEN", log.as_str().as_bytes()]);
    assert_eq!(len, 7);
    let first = store.events_after(&log, 0).await.unwrap()[0].0;
    assert_eq!(first, 144);

    // The counter sits next to the log and expires with it.
    let seq_key = format!("{}:seq", log.as_str());
    let seq: i64 = query(&mut con, &[b"GET", seq_key.as_bytes()]);
    assert_eq!(seq, 150);
    store
        .append_event(&log, vec![2], 7, Duration::from_secs(5))
        .await
        .unwrap();
    for k in [log.as_str(), seq_key.as_str()] {
        let pttl: i64 = query(&mut con, &[b"PTTL", k.as_bytes()]);
        assert!(pttl > 4_000 && pttl <= 5_000, "{k}: {pttl}");
    }

    // A lost counter resumes after the newest event instead of failing XADD.
    let _: i64 = query(&mut con, &[b"DEL", seq_key.as_bytes()]);
    assert_eq!(
        store.append_event(&log, vec![3], 7, LONG).await.unwrap(),
        152
    );
    assert_eq!(
        store.append_event(&log, vec![4], 7, LONG).await.unwrap(),
        153
    );
}

#[tokio::test]
async fn sealed_store_round_trip_and_reseal_keeps_ttl() {
    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Rec {
        backend: String,
        token: String,
    }
    let rec = || Rec {
        backend: "container-1".into(),
        token: "vault-token-xyz".into(),
    };
    let server = RedisServer::start();
    let store: Arc<dyn SessionStore> = Arc::new(RedisStore::connect(&server.url()).unwrap());
    let old_master = SecretKey::new("m1", [1; 32]).unwrap();
    let bind = || SecretKey::new("b1", [7; 32]).unwrap();
    let sealed = SealedStore::new(store.clone(), KeyRing::new(old_master.clone(), bind()));
    let b = sealed.keys().bind("acme", "srv", "alice", "sess");

    assert!(sealed.create(&b, &rec(), LONG).await.unwrap());
    assert!(!sealed.create(&b, &rec(), LONG).await.unwrap());
    assert_eq!(
        sealed.load::<Rec>(&b, Some(LONG)).await.unwrap(),
        Some(rec())
    );
    for i in 1..=3u64 {
        let seq = sealed
            .append_event(&b, &format!("event {i}"), 10, LONG)
            .await;
        assert_eq!(seq.unwrap(), i);
    }
    let events: Vec<(u64, String)> = sealed.events_after(&b, 1).await.unwrap();
    assert_eq!(
        events,
        vec![(2, "event 2".to_string()), (3, "event 3".to_string())]
    );

    // Redis holds ciphertext only, under a key that hides user and session.
    let mut con = server.connection();
    let raw: Vec<u8> = query(&mut con, &[b"GET", b.record_key().as_str().as_bytes()]);
    let text = String::from_utf8_lossy(&raw);
    assert!(!text.contains("vault-token") && !text.contains("container-1"));
    assert!(!b.record_key().as_str().contains("alice"));

    // After a master key rotation, a load reseals in place (compare_and_put
    // with KEEPTTL: the TTL is not reset, and not removed).
    let rotated = SealedStore::new(
        store.clone(),
        KeyRing::new(SecretKey::new("m2", [2; 32]).unwrap(), bind())
            .with_previous_master(old_master),
    );
    let _: i64 = query(
        &mut con,
        &[b"PEXPIRE", b.record_key().as_str().as_bytes(), b"30000"],
    );
    assert_eq!(rotated.load::<Rec>(&b, None).await.unwrap(), Some(rec()));
    let resealed: Vec<u8> = query(&mut con, &[b"GET", b.record_key().as_str().as_bytes()]);
    assert_ne!(resealed, raw, "resealed under m2");
    let pttl: i64 = query(&mut con, &[b"PTTL", b.record_key().as_str().as_bytes()]);
    assert!(pttl > 0 && pttl <= 30_000, "KEEPTTL: {pttl}");
    assert_eq!(rotated.load::<Rec>(&b, None).await.unwrap(), Some(rec()));

    assert!(rotated.remove(&b).await.unwrap());
    assert!(!rotated.remove(&b).await.unwrap());
    assert_eq!(rotated.load::<Rec>(&b, None).await.unwrap(), None);
    assert!(
        rotated
            .events_after::<String>(&b, 0)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn redis_down_fails_fast_and_recovers() {
    let port = free_port();
    // Connecting does not need Redis.
    let store = RedisStore::connect(&format!("redis://127.0.0.1:{port}")).unwrap();

    for _ in 0..3 {
        let started = Instant::now();
        let msg = unavailable_message(store.ping().await);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        assert!(
            msg.contains(&format!("Redis at 127.0.0.1:{port} is unreachable"))
                && msg.contains("store.url"),
            "{msg}"
        );
    }
    unavailable_message(store.put(&k("a"), b"x".to_vec(), LONG).await);
    unavailable_message(store.get(&k("a")).await);

    // Redis comes up: the next operation succeeds (the refused connection is
    // retried once on a fresh one).
    let mut server = RedisServer::start_on(port, &[]);
    store.ping().await.unwrap();
    store.put(&k("a"), b"x".to_vec(), LONG).await.unwrap();
    assert_eq!(store.get(&k("a")).await.unwrap(), Some(b"x".to_vec()));

    // A crash while connected, then a restart on the same port.
    server.kill();
    let started = Instant::now();
    unavailable_message(store.get(&k("a")).await);
    unavailable_message(store.ping().await);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let _server = RedisServer::start_on(port, &[]);
    store.ping().await.unwrap();
    assert_eq!(store.get(&k("a")).await.unwrap(), None, "no persistence");
    store.put(&k("a"), b"y".to_vec(), LONG).await.unwrap();
}

#[tokio::test]
async fn unresponsive_server_times_out() {
    // Accepts connections (the kernel's backlog) but never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let options = RedisOptions {
        timeout: Duration::from_millis(300),
        ..RedisOptions::default()
    };
    let store = RedisStore::connect_with(&format!("redis://127.0.0.1:{port}"), options).unwrap();
    for _ in 0..2 {
        let started = Instant::now();
        let msg = unavailable_message(store.get(&k("a")).await);
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(250) && elapsed < Duration::from_millis(1500),
            "{elapsed:?}"
        );
        assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    }
    drop(listener);
}

#[tokio::test]
async fn put_new_reports_missing_replica_acknowledgements() {
    let server = RedisServer::start();
    let options = RedisOptions {
        timeout: Duration::from_secs(1),
        min_replicas_acked: 1,
        ..RedisOptions::default()
    };
    let store = RedisStore::connect_with(&server.url(), options).unwrap();
    let started = Instant::now();
    let msg = unavailable_message(store.put_new(&k("a"), b"x".to_vec(), LONG).await);
    let elapsed = started.elapsed();
    // WAIT got half the timeout.
    assert!(
        elapsed >= Duration::from_millis(450) && elapsed < Duration::from_secs(1),
        "{elapsed:?}"
    );
    assert!(
        msg.contains("only 0 of the 1 required replicas acknowledged"),
        "{msg}"
    );
    // WAIT blocks its connection; other operations do not queue behind it.
    let slow = tokio::spawn({
        let store = store.clone();
        async move { store.put_new(&k("c"), b"x".to_vec(), LONG).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    store.ping().await.unwrap();
    assert_eq!(store.get(&k("c")).await.unwrap(), Some(b"x".to_vec()));
    assert!(
        started.elapsed() < Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
    unavailable_message(slow.await.unwrap());

    // The write itself happened on the primary; NX still holds.
    assert_eq!(store.get(&k("a")).await.unwrap(), Some(b"x".to_vec()));
    assert!(!store.put_new(&k("a"), b"y".to_vec(), LONG).await.unwrap());
    // Other writes do not wait.
    store.put(&k("b"), b"x".to_vec(), LONG).await.unwrap();
}

#[tokio::test]
async fn replica_acknowledged_put_new_and_read_only_replica() {
    let primary = RedisServer::start();
    let replica = RedisServer::start_replica_of(&primary);
    let options = RedisOptions {
        min_replicas_acked: 1,
        ..RedisOptions::default()
    };
    let store = RedisStore::connect_with(&primary.url(), options).unwrap();
    assert!(store.put_new(&k("a"), b"x".to_vec(), LONG).await.unwrap());

    // Pointing store.url at a replica: reads work, writes say what is wrong.
    let on_replica = RedisStore::connect(&replica.url()).unwrap();
    assert_eq!(on_replica.get(&k("a")).await.unwrap(), Some(b"x".to_vec()));
    let msg = unavailable_message(on_replica.put(&k("b"), b"x".to_vec(), LONG).await);
    assert!(msg.contains("read-only replica"), "{msg}");
}

#[tokio::test]
async fn sentinel_failover_keeps_acknowledged_sessions() {
    let mut primary = RedisServer::start();
    let replica = RedisServer::start_replica_of(&primary);
    let sentinel = RedisServer::start_sentinel(&primary, "berth", 1);
    let options = RedisOptions {
        min_replicas_acked: 1,
        ..RedisOptions::default()
    };
    let url = format!("redis+sentinel://127.0.0.1:{}/berth", sentinel.port());
    let store = RedisStore::connect_with(&url, options).unwrap();

    // `WAIT` after the new session also covers the earlier append (same
    // connection).
    store
        .append_event(&k("log"), b"e1".to_vec(), 10, LONG)
        .await
        .unwrap();
    let value: Vec<u8> = (0..=255u8).collect();
    assert!(
        store
            .put_new(&k("session"), value.clone(), LONG)
            .await
            .unwrap()
    );

    primary.kill();
    let started = Instant::now();
    let mut errors = 0;
    let read = loop {
        match store.get(&k("session")).await {
            Ok(read) => break read,
            Err(e) => {
                assert!(e.is_unavailable(), "{e}");
                errors += 1;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no failover within 30 s; Sentinel log:\n{}",
            sentinel.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(read, Some(value), "the acknowledged session survived");
    assert!(errors > 0, "the primary was down for a while");

    // The store follows the new primary (the former replica) for writes too.
    let mut con = sentinel.connection();
    let addr: Vec<String> = query(
        &mut con,
        &[b"SENTINEL", b"GET-MASTER-ADDR-BY-NAME", b"berth"],
    );
    assert_eq!(
        addr,
        vec!["127.0.0.1".to_string(), replica.port().to_string()]
    );
    store.put(&k("after"), b"y".to_vec(), LONG).await.unwrap();
    assert_eq!(store.get(&k("after")).await.unwrap(), Some(b"y".to_vec()));
    let seq = store
        .append_event(&k("log"), b"e2".to_vec(), 10, LONG)
        .await;
    assert_eq!(seq.unwrap(), 2, "the replicated log continues");
    // No replica is left to acknowledge new sessions.
    let msg = unavailable_message(store.put_new(&k("new"), b"z".to_vec(), LONG).await);
    assert!(msg.contains("replicas acknowledged"), "{msg}");
}
