use super::commands::{MAX_TTL_MS, has_hash_tag};
use super::endpoint::{ClusterEndpoint, SentinelEndpoint};
use super::*;

fn sentinel(url: &str) -> SentinelEndpoint {
    match Endpoint::parse(url) {
        Ok(Endpoint::Sentinel(s)) => s,
        Ok(other) => panic!("{url} parsed as {other:?}"),
        Err(e) => panic!("{url}: {e}"),
    }
}

fn cluster(url: &str) -> ClusterEndpoint {
    match Endpoint::parse(url) {
        Ok(Endpoint::Cluster(c)) => c,
        Ok(other) => panic!("{url} parsed as {other:?}"),
        Err(e) => panic!("{url}: {e}"),
    }
}

fn parse_error(url: &str) -> String {
    match Endpoint::parse(url) {
        Ok(e) => panic!("{url} parsed as {e:?}"),
        Err(e) => {
            assert!(matches!(e, Error::InvalidUrl(_)), "{e:?}");
            e.to_string()
        }
    }
}

#[test]
fn direct_urls() {
    for (url, addr, db) in [
        ("redis://127.0.0.1:6380", "127.0.0.1:6380", 0),
        ("redis://localhost", "localhost:6379", 0),
        ("redis://redis.svc:6379/3", "redis.svc:6379", 3),
        ("redis://:s3cret@redis.svc:6379/1", "redis.svc:6379", 1),
        ("REDIS://h:1", "h:1", 0),
    ] {
        match Endpoint::parse(url) {
            Ok(Endpoint::Direct(info)) => {
                assert_eq!(info.addr().to_string(), addr, "{url}");
                assert_eq!(info.redis_settings().db(), db, "{url}");
            }
            other => panic!("{url}: {other:?}"),
        }
    }
    let info = match Endpoint::parse("redis://user:p%40ss@h:1") {
        Ok(Endpoint::Direct(info)) => info,
        other => panic!("{other:?}"),
    };
    assert_eq!(info.redis_settings().username(), Some("user"));
    assert_eq!(info.redis_settings().password(), Some("p@ss"));
}

#[test]
fn sentinel_urls() {
    let s = sentinel("redis+sentinel://10.0.0.1:26379,10.0.0.2:26380/berth");
    assert_eq!(
        s.sentinels,
        vec![
            ("10.0.0.1".to_string(), 26379),
            ("10.0.0.2".to_string(), 26380)
        ]
    );
    assert_eq!((s.master.as_str(), s.db), ("berth", 0));
    assert_eq!((s.username, s.password), (None, None));

    let s = sentinel("redis+sentinel://app:p%2Fw@s1,[::1]:5000/my%20master/2");
    assert_eq!(
        s.sentinels,
        vec![("s1".to_string(), 26379), ("::1".to_string(), 5000)]
    );
    assert_eq!((s.master.as_str(), s.db), ("my master", 2));
    assert_eq!(s.username.as_deref(), Some("app"));
    assert_eq!(s.password.as_deref(), Some("p/w"));

    let s = sentinel("redis+sentinel://:pw@s1:1/m/");
    assert_eq!((s.username, s.password.as_deref()), (None, Some("pw")));

    let e = Endpoint::parse("redis+sentinel://a:1,[::1]:2/m").unwrap();
    assert_eq!(e.describe(), "primary `m` via Sentinel at a:1,[::1]:2");
}

#[test]
fn cluster_urls() {
    let c = cluster("redis+cluster://10.0.0.1:7000,10.0.0.2:7001,redis-2");
    assert_eq!(
        c.nodes,
        vec![
            ("10.0.0.1".to_string(), 7000),
            ("10.0.0.2".to_string(), 7001),
            ("redis-2".to_string(), 6379),
        ]
    );
    assert_eq!((c.username, c.password), (None, None));

    let c = cluster("REDIS+CLUSTER://app:p%2Fw%40x@[::1]:7000,h/");
    assert_eq!(
        c.nodes,
        vec![("::1".to_string(), 7000), ("h".to_string(), 6379)]
    );
    assert_eq!(c.username.as_deref(), Some("app"));
    assert_eq!(c.password.as_deref(), Some("p/w@x"));

    let c = cluster("redis+cluster://:pw@h:1/0");
    assert_eq!((c.username, c.password.as_deref()), (None, Some("pw")));

    let e = Endpoint::parse("redis+cluster://a:1,[::1]:2").unwrap();
    assert_eq!(e.describe(), "Cluster at a:1,[::1]:2");
    let store = RedisStore::connect("redis+cluster://:hunter2@127.0.0.1:7000").unwrap();
    let debug = format!("{store:?}");
    assert!(debug.contains("Cluster at 127.0.0.1:7000"), "{debug}");
    assert!(!debug.contains("hunter2"), "{debug}");
}

#[test]
fn rediss_schemes_are_the_tls_forms_of_each_url() {
    for (url, tls) in [
        ("redis://h:1", false),
        ("rediss://h:1", true),
        ("REDISS://:pw@h:1/3", true),
        ("redis+sentinel://s:1/m", false),
        ("rediss+sentinel://s:1/m", true),
        ("redis+cluster://h:1", false),
        ("rediss+cluster://h:1,h2:2", true),
    ] {
        let endpoint = Endpoint::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(endpoint.is_tls(), tls, "{url}");
    }
    let s = sentinel("rediss+sentinel://app:pw@s1:5000/mymaster/1");
    assert_eq!((s.master.as_str(), s.db, s.tls), ("mymaster", 1, true));
    let c = cluster("rediss+cluster://:pw@h:7000");
    assert_eq!(
        (c.nodes[0].1, c.password.as_deref(), c.tls),
        (7000, Some("pw"), true)
    );
    match Endpoint::parse("rediss://:pw@redis.svc:6380/2") {
        Ok(e @ Endpoint::Direct(_)) => assert_eq!(e.describe(), "redis.svc:6380"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cluster_seq_keys_share_the_slot_of_their_log() {
    assert_eq!(seq_key("berth:t:e:{ab}", true), "berth:t:e:{ab}:seq");
    assert_eq!(seq_key("log", true), "{log}:seq");
    // No tag can name the slot of a key holding `}`: left as is (such a log
    // fails with CROSSSLOT in a cluster; Berth makes none).
    assert_eq!(seq_key("a{}b", true), "a{}b:seq");
    // One server and Sentinel: as earlier releases named it.
    assert_eq!(seq_key("log", false), "log:seq");
    assert_eq!(seq_key("berth:t:e:abc", false), "berth:t:e:abc:seq");
    for (key, tagged) in [
        ("{a}", true),
        ("x{a}y", true),
        ("{}", false),
        ("{}{a}", false),
        ("a{", false),
        ("a}{", false),
        ("plain", false),
    ] {
        assert_eq!(has_hash_tag(key), tagged, "{key}");
    }
}

#[test]
fn bad_urls_say_what_to_fix_without_echoing_secrets() {
    let cases = [
        ("memory", "not a URL"),
        ("http://h:1", "unsupported scheme `http`"),
        ("rediss+cluster://h:1/2", "only database 0"),
        ("rediss+sentinel://h:1", "master name is missing"),
        ("rediss://", "could not parse"),
        ("redis+cluster://h:1/1", "only database 0"),
        ("redis+cluster://h:1/x", "only database 0"),
        ("redis+cluster://h:1?x=1", "query strings"),
        (
            "redis+cluster://h:1,",
            "cluster node address #2: the host is missing",
        ),
        (
            "redis+cluster://",
            "cluster node address #1: the host is missing",
        ),
        ("redis+cluster://h:0", "cluster node address #1"),
        (
            "redis+cluster://u:top/secret@h:1",
            "cluster node address #1",
        ),
        ("redis+cluster://:%zz@h:1", "invalid %-escape"),
        ("redis+unix:///tmp/r.sock", "unsupported scheme"),
        ("redis://:topsecret@h:notaport", "could not parse"),
        ("redis+sentinel://s1:1", "master name is missing"),
        ("redis+sentinel://s1:1/", "master name is missing"),
        ("redis+sentinel://s1:99999/m", "address #1"),
        (
            "redis+sentinel://s1:1,:2/m",
            "address #2: the host is missing",
        ),
        ("redis+sentinel://u:top/secret@s1:1/m", "address #1"),
        ("redis+sentinel://s1:1/m/x", "database"),
        ("redis+sentinel://s1:1/m/1/x", "unexpected path"),
        ("redis+sentinel://s1:1/m?db=1", "query strings"),
        ("redis+sentinel://:%zz@s1:1/m", "invalid %-escape"),
    ];
    for (url, expected) in cases {
        let msg = parse_error(url);
        assert!(msg.contains(expected), "{url}: {msg}");
        assert!(msg.contains("store.url"), "{url}: {msg}");
        assert!(
            !msg.contains("secret") && !msg.contains("top"),
            "{url}: {msg}"
        );
    }
}

#[test]
fn options_and_debug() {
    assert_eq!(RedisOptions::default().timeout, Duration::from_secs(2));
    assert_eq!(RedisOptions::default().min_replicas_acked, 0);
    let store = RedisStore::connect("redis://:hunter2@127.0.0.1:6399/0").unwrap();
    let debug = format!("{store:?}");
    assert!(debug.contains("127.0.0.1:6399"), "{debug}");
    assert!(!debug.contains("hunter2"), "{debug}");
    let zero = RedisOptions {
        timeout: Duration::ZERO,
        ..RedisOptions::default()
    };
    assert!(RedisStore::connect_with("redis://h", zero).is_err());
}

#[test]
fn ttls_are_clamped_for_px() {
    assert_eq!(px(Duration::ZERO), 1);
    assert_eq!(px(Duration::from_micros(1500)), 2);
    assert_eq!(px(Duration::MAX), MAX_TTL_MS);
}

#[test]
fn xrange_replies() {
    let entry = |id: &str, field: &[u8], value: &[u8]| {
        Value::Array(vec![
            Value::BulkString(id.as_bytes().to_vec()),
            Value::Array(vec![
                Value::BulkString(field.to_vec()),
                Value::BulkString(value.to_vec()),
            ]),
        ])
    };
    let ok = Value::Array(vec![
        entry("3-0", b"e", b"\x00\xff"),
        entry("4-0", b"e", b""),
    ]);
    assert_eq!(
        parse_xrange(ok).unwrap(),
        vec![(3, vec![0, 255]), (4, vec![])]
    );
    for bad in [
        Value::Nil,
        Value::Array(vec![entry("3-1", b"e", b"x")]),
        Value::Array(vec![entry("x-0", b"e", b"x")]),
        Value::Array(vec![entry("3-0", b"f", b"x")]),
        Value::Array(vec![Value::Int(1)]),
    ] {
        assert!(matches!(parse_xrange(bad), Err(Error::Corrupt(_))));
    }
}
