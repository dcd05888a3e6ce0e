use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sha2::{Digest, Sha256};

use super::{DEV_ISSUER_KEY_FILE, DevIssuer, TokenRequest};
use crate::{ClaimMapping, Error, JwtValidator, require_scopes};

const RESOURCE: &str = "http://127.0.0.1:8080/mcp/demo/everything";

fn issuer() -> (tempfile::TempDir, DevIssuer) {
    let dir = tempfile::tempdir().unwrap();
    let issuer = DevIssuer::load_or_create(dir.path()).unwrap();
    (dir, issuer)
}

fn request() -> TokenRequest {
    TokenRequest {
        scopes: vec!["mcp:tools".into(), "mcp:read".into()],
        client_id: Some("berth-cli".into()),
        groups: vec!["dev".into()],
        ..TokenRequest::new("alice", "demo")
    }
}

fn validator(issuer: &DevIssuer) -> JwtValidator {
    issuer.validator(ClaimMapping::default()).unwrap()
}

#[test]
fn mint_then_validate_round_trip() {
    let (_dir, dev) = issuer();
    let token = dev.mint(&request()).unwrap();
    let p = validator(&dev).validate_sync(&token, RESOURCE).unwrap();
    assert_eq!(p.tenant, "demo");
    assert_eq!(p.subject, "alice");
    assert_eq!(p.client_id.as_deref(), Some("berth-cli"));
    assert_eq!(p.scopes, ["mcp:tools", "mcp:read"]);
    assert_eq!(p.groups, ["dev"]);

    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), Some(dev.kid()));
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));

    // The default audience works on any port.
    let v = validator(&dev);
    v.validate_sync(&token, "http://localhost:9999/mcp/x/y")
        .unwrap();
}

#[test]
fn audience_is_enforced() {
    let (_dir, dev) = issuer();
    let v = validator(&dev);
    let for_resource = dev
        .mint(&TokenRequest {
            audience: Some(RESOURCE.into()),
            ..request()
        })
        .unwrap();
    v.validate_sync(&for_resource, RESOURCE).unwrap();
    let err = v
        .validate_sync(&for_resource, "http://127.0.0.1:8080/mcp/demo/other")
        .unwrap_err();
    assert!(matches!(err, Error::WrongAudience), "{err:?}");

    let elsewhere = dev
        .mint(&TokenRequest {
            audience: Some("https://elsewhere.example.com/mcp".into()),
            ..request()
        })
        .unwrap();
    assert!(matches!(
        v.validate_sync(&elsewhere, RESOURCE),
        Err(Error::WrongAudience)
    ));
}

#[test]
fn zero_ttl_is_expired_without_leeway() {
    let (_dir, dev) = issuer();
    let token = dev
        .mint(&TokenRequest {
            ttl: Duration::ZERO,
            ..request()
        })
        .unwrap();
    let strict = validator(&dev).with_leeway(0);
    assert!(matches!(
        strict.validate_sync(&token, RESOURCE),
        Err(Error::Expired)
    ));
    // Within the default leeway it still passes.
    validator(&dev).validate_sync(&token, RESOURCE).unwrap();
}

#[test]
fn another_dev_issuers_token_is_rejected() {
    let (_a_dir, a) = issuer();
    let (_b_dir, b) = issuer();
    assert_ne!(a.kid(), b.kid());
    let token = b.mint(&request()).unwrap();
    match validator(&a).validate_sync(&token, RESOURCE) {
        Err(Error::UnknownKey { kid }) => assert_eq!(kid, b.kid()),
        other => panic!("unexpected {other:?}"),
    }

    // Same kid, other key: the signature decides.
    let other = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let der = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_der(&other).unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(a.kid().to_owned());
    let payload = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(&token)
        .unwrap()
        .claims;
    let forged =
        jsonwebtoken::encode(&header, &payload, &EncodingKey::from_ed_der(der.as_bytes())).unwrap();
    assert!(matches!(
        validator(&a).validate_sync(&forged, RESOURCE),
        Err(Error::BadSignature)
    ));
}

#[test]
fn insufficient_scope_lists_all_missing() {
    let (_dir, dev) = issuer();
    let token = dev.mint(&request()).unwrap();
    let p = validator(&dev).validate_sync(&token, RESOURCE).unwrap();
    let required: Vec<String> = ["mcp:read", "mcp:admin", "mcp:write"]
        .map(String::from)
        .to_vec();
    match require_scopes(&p, &required) {
        Err(Error::InsufficientScope { missing }) => {
            assert_eq!(missing, ["mcp:admin", "mcp:write"]);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn load_or_create_twice_returns_the_same_key() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("nested/state");
    let first = DevIssuer::load_or_create(&state).unwrap();
    let second = DevIssuer::load_or_create(&state).unwrap();
    assert_eq!(first.kid(), second.kid());
    assert_eq!(first.jwks(), second.jwks());
    let token = first.mint(&request()).unwrap();
    validator(&second).validate_sync(&token, RESOURCE).unwrap();
    assert_eq!(first.key_path(), state.join(DEV_ISSUER_KEY_FILE));
    // No temporary files are left behind.
    let names: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [DEV_ISSUER_KEY_FILE]);
    let pem = std::fs::read_to_string(first.key_path()).unwrap();
    assert!(
        pem.starts_with("-----BEGIN PRIVATE KEY-----"),
        "PKCS#8 PEM expected"
    );
}

#[cfg(unix)]
#[test]
fn key_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let dev = DevIssuer::load_or_create(&state).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(dev.key_path()), 0o600);
    assert_eq!(mode(&state), 0o700);
}

#[test]
fn concurrent_creators_agree_on_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let kids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| DevIssuer::load_or_create(&state).unwrap().kid().to_owned()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let on_disk = DevIssuer::load_or_create(&state).unwrap();
    assert!(kids.iter().all(|k| k == on_disk.kid()), "{kids:?}");
}

#[test]
fn corrupt_key_file_is_reported_with_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(DEV_ISSUER_KEY_FILE), "not a key").unwrap();
    match DevIssuer::load_or_create(dir.path()) {
        Err(Error::Key(msg)) => {
            assert!(
                msg.contains(DEV_ISSUER_KEY_FILE) && msg.contains("delete"),
                "{msg}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[cfg(unix)]
#[test]
fn unreadable_state_dir_is_an_io_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    match DevIssuer::load_or_create(&file.join("state")) {
        Err(Error::Io(e)) => assert!(e.to_string().contains("a-file"), "{e}"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn jwks_is_the_public_key_only() {
    let (_dir, dev) = issuer();
    let jwks = dev.jwks();
    assert_eq!(jwks.keys.len(), 1);
    let jwk = &jwks.keys[0];
    assert_eq!(jwk.common.key_id.as_deref(), Some(dev.kid()));
    assert_eq!(jwk.common.key_algorithm, Some(KeyAlgorithm::EdDSA));
    assert_eq!(jwk.common.public_key_use, Some(PublicKeyUse::Signature));
    let AlgorithmParameters::OctetKeyPair(okp) = &jwk.algorithm else {
        panic!("expected an OKP key, got {:?}", jwk.algorithm);
    };
    assert_eq!(okp.curve, EllipticCurve::Ed25519);
    let public = URL_SAFE_NO_PAD.decode(&okp.x).unwrap();
    assert_eq!(public.len(), 32);
    assert_eq!(dev.kid(), &hex::encode(Sha256::digest(&public))[..16]);

    let json = serde_json::to_value(&jwks).unwrap();
    let key = &json["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert!(
        key.get("d").is_none(),
        "private key material in JWKS: {key}"
    );
    assert!(!format!("{dev:?}").contains("PRIVATE"));
}

#[test]
fn bad_token_requests_are_refused() {
    let (_dir, dev) = issuer();
    for req in [
        TokenRequest::new("", "demo"),
        TokenRequest::new("alice", " "),
        TokenRequest {
            scopes: vec!["a b".into()],
            ..request()
        },
        TokenRequest {
            scopes: vec![String::new()],
            ..request()
        },
        TokenRequest {
            audience: Some(String::new()),
            ..request()
        },
    ] {
        assert!(
            matches!(dev.mint(&req), Err(Error::Malformed(_))),
            "{req:?}"
        );
    }
}
