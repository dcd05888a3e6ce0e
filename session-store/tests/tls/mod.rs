//! [`RedisStore`] over TLS (`rediss://`) against a real `redis-server`
//! with `--tls-port`: the store conformance suite with a private CA, and
//! the checks that make TLS worth having: a server certificate from another
//! CA, or for another name, is refused; a server that requires client
//! certificates gets one; a plain URL at a TLS port, and a TLS URL at a
//! plain port, say what is wrong; `rediss+sentinel://`, TLS to a
//! Sentinel and to the primary it names; and certificates rotated while
//! the store runs ([`RedisStore::reload_tls`]).

use std::sync::Arc;

use berth_session_store::{
    RecordKey, RedisClientCert, RedisOptions, RedisStore, RedisTls, RedisTlsPart, SessionStore,
};

use crate::conformance::{LONG, conformance_tests};
use crate::redis_server::{RedisServer, free_port};
use crate::unavailable_message;

// The black-box tests' PKI recipe (berth-tests is not a dependency here).
#[allow(unreachable_pub)]
#[path = "../../../tests/src/pki.rs"]
mod pki;

use self::pki::{Pki, plain_and_tls_ports};

/// A `redis-server` serving TLS on `tls_port` (and plain on its own port,
/// for the helper's readiness check), with the PKI behind it.
struct TlsRedis {
    server: RedisServer,
    tls_port: u16,
    pki: Pki,
}

impl TlsRedis {
    fn start(cert: &str, require_client_cert: bool) -> TlsRedis {
        let pki = Pki::new();
        let (plain_port, tls_port) = plain_and_tls_ports();
        let args = pki.server_args(tls_port, cert, require_client_cert);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let server = RedisServer::start_on(plain_port, &args);
        TlsRedis {
            server,
            tls_port,
            pki,
        }
    }

    /// `rediss://127.0.0.1:TLS_PORT`.
    fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.tls_port)
    }

    /// Options trusting `ca` (a file of the PKI), with the client
    /// certificate if `client`.
    fn options(&self, ca: Option<&str>, client: bool) -> RedisOptions {
        RedisOptions {
            tls: RedisTls {
                ca_pem: ca.map(|ca| self.pki.read(ca)),
                client: client.then(|| RedisClientCert {
                    cert_pem: self.pki.read("client.pem"),
                    key_pem: self.pki.read("client.key"),
                }),
            },
            ..RedisOptions::default()
        }
    }

    fn store(&self, url: &str, ca: Option<&str>, client: bool) -> RedisStore {
        RedisStore::connect_with(url, self.options(ca, client)).unwrap()
    }
}

async fn tls_store() -> (TlsRedis, Arc<dyn SessionStore>) {
    let redis = TlsRedis::start("server", false);
    let store = redis.store(&redis.url(), Some("ca.pem"), false);
    (redis, Arc::new(store))
}

conformance_tests!(crate::tls::tls_store());

#[tokio::test]
async fn a_server_certificate_the_store_cannot_trust_is_refused() {
    let redis = TlsRedis::start("server", false);
    let key = RecordKey::new("berth:t:k");
    // Signed by a CA the store was not given, or (no CA given) checked
    // against the system's roots, which do not know the test CA.
    for ca in [Some("other-ca.pem"), None] {
        let store = redis.store(&redis.url(), ca, false);
        let msg = unavailable_message(store.put(&key, b"v".to_vec(), LONG).await);
        assert!(msg.contains("TLS"), "{ca:?}: {msg}");
        assert!(msg.contains("store.tls_ca_file"), "{ca:?}: {msg}");
    }
    // Nothing reached the server.
    let mut con = redis.server.connection();
    let exists: i64 = redis::cmd("EXISTS")
        .arg("berth:t:k")
        .query(&mut con)
        .unwrap();
    assert_eq!(exists, 0);
    // The right CA works.
    let store = redis.store(&redis.url(), Some("ca.pem"), false);
    store.put(&key, b"v".to_vec(), LONG).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), Some(b"v".to_vec()));
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused_even_from_the_trusted_ca() {
    // What a man in the middle holding any certificate of the same CA
    // could present.
    let redis = TlsRedis::start("elsewhere", false);
    let store = redis.store(&redis.url(), Some("ca.pem"), false);
    let msg = unavailable_message(store.get(&RecordKey::new("berth:t:k")).await);
    assert!(msg.contains("TLS"), "{msg}");
    assert!(msg.contains("127.0.0.1"), "{msg}");
}

#[tokio::test]
async fn a_server_that_requires_client_certificates_gets_one() {
    let redis = TlsRedis::start("server", true);
    let key = RecordKey::new("berth:t:k");
    let without = redis.store(&redis.url(), Some("ca.pem"), false);
    let msg = unavailable_message(without.put(&key, b"v".to_vec(), LONG).await);
    assert!(msg.contains("store.tls_cert_file"), "{msg}");
    let with = redis.store(&redis.url(), Some("ca.pem"), true);
    with.put(&key, b"v".to_vec(), LONG).await.unwrap();
    assert_eq!(with.get(&key).await.unwrap(), Some(b"v".to_vec()));
}

#[tokio::test]
async fn plain_and_tls_urls_at_the_wrong_port_say_so() {
    let redis = TlsRedis::start("server", false);
    let key = RecordKey::new("berth:t:k");
    let plain_at_tls = format!("redis://127.0.0.1:{}", redis.tls_port);
    let store = redis.store(&plain_at_tls, None, false);
    let msg = unavailable_message(store.get(&key).await);
    assert!(msg.contains("rediss://"), "{msg}");
    // A plain server waits for the rest of what it takes for a command.
    let tls_at_plain = format!("rediss://127.0.0.1:{}", redis.server.port());
    let store = RedisStore::connect_with(
        &tls_at_plain,
        RedisOptions {
            timeout: std::time::Duration::from_millis(500),
            ..redis.options(Some("ca.pem"), false)
        },
    )
    .unwrap();
    let msg = unavailable_message(store.get(&key).await);
    assert!(msg.contains("serves TLS"), "{msg}");
}

#[tokio::test]
async fn a_sentinel_over_tls_names_a_primary_reached_over_tls() {
    let redis = TlsRedis::start("server", false);
    let file = |name: &str| redis.pki.path(name).display().to_string();
    let sentinel_tls_port = free_port();
    // The Sentinel serves TLS, and monitors the primary at its TLS port
    // (`tls-replication`: its own connections to Redis use TLS), so it
    // names that port: only a client speaking TLS to both gets through.
    let tls = format!(
        "tls-port {sentinel_tls_port}\ntls-cert-file {}\ntls-key-file {}\n\
         tls-ca-cert-file {}\ntls-auth-clients no\ntls-replication yes\n",
        file("server.pem"),
        file("server.key"),
        file("ca.pem"),
    );
    let _sentinel = RedisServer::start_sentinel_at(redis.tls_port, "berth", 0, &tls);
    let url = format!("rediss+sentinel://127.0.0.1:{sentinel_tls_port}/berth");
    let store = redis.store(&url, Some("ca.pem"), false);
    let key = RecordKey::new("berth:t:k");
    store
        .put(&key, b"via sentinel".to_vec(), LONG)
        .await
        .unwrap();
    assert_eq!(
        store.get(&key).await.unwrap(),
        Some(b"via sentinel".to_vec())
    );
    let mut con = redis.server.connection();
    let stored: Vec<u8> = redis::cmd("GET").arg("berth:t:k").query(&mut con).unwrap();
    assert_eq!(stored, b"via sentinel");
    // Without the CA, the Sentinel itself is refused.
    let untrusting = redis.store(&url, Some("other-ca.pem"), false);
    let msg = unavailable_message(untrusting.get(&key).await);
    assert!(msg.contains("Sentinel") || msg.contains("TLS"), "{msg}");
}

/// `ca` trusted, `client` (`client` or `other-client`) presented.
fn tls_of(pki: &Pki, ca: &str, client: &str, key: &str) -> RedisTls {
    RedisTls {
        ca_pem: Some(pki.read(ca)),
        client: Some(RedisClientCert {
            cert_pem: pki.read(&format!("{client}.pem")),
            key_pem: pki.read(&format!("{key}.key")),
        }),
    }
}

#[tokio::test]
async fn a_store_given_rotated_certificates_reconnects_with_them() {
    let redis = TlsRedis::start("server", true);
    let key = RecordKey::new("berth:t:k");
    let store = redis.store(&redis.url(), Some("ca.pem"), true);
    store.put(&key, b"v".to_vec(), LONG).await.unwrap();

    // The server moves to another CA: its own certificate, and the client
    // certificates it accepts. Existing connections are dropped.
    let mut con = redis.server.connection();
    let file = |name: &str| redis.pki.path(name).display().to_string();
    // One CONFIG SET: the certificate and its key change together.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("tls-cert-file")
        .arg(file("other-server.pem"))
        .arg("tls-key-file")
        .arg(file("other-server.key"))
        .arg("tls-ca-cert-file")
        .arg(file("other-ca.pem"))
        .query(&mut con)
        .unwrap();
    let _: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .query(&mut con)
        .unwrap();
    // With the old certificates the store cannot reconnect.
    for _ in 0..3 {
        assert!(store.get(&key).await.is_err(), "old certificates accepted");
    }

    let rotated = tls_of(&redis.pki, "other-ca.pem", "other-client", "other-client");
    assert_eq!(rotated.check(), Ok(()));
    assert!(store.reload_tls(rotated.clone()).unwrap());
    assert!(!store.reload_tls(rotated).unwrap(), "same files: no change");
    assert_eq!(store.get(&key).await.unwrap(), Some(b"v".to_vec()));
    store.put(&key, b"w".to_vec(), LONG).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), Some(b"w".to_vec()));
}

#[test]
fn a_client_key_that_is_not_the_certificates_own_is_named() {
    let pki = Pki::new();
    assert_eq!(tls_of(&pki, "ca.pem", "client", "client").check(), Ok(()));
    // A certificate renewed without its key, or the reverse.
    let (part, problem) = tls_of(&pki, "ca.pem", "client", "other-client")
        .check()
        .unwrap_err();
    assert_eq!(part, RedisTlsPart::ClientKey);
    assert!(problem.contains("not the private key"), "{problem}");
}
