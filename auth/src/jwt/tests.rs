use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm,
    OctetKeyPairParameters, OctetKeyPairType, OctetKeyParameters, OctetKeyType, PublicKeyUse,
    RSAKeyParameters, RSAKeyType,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::{JwtValidator, MAX_LEEWAY_SECS};
use crate::{ClaimMapping, Error, TokenValidator};

const ISSUER: &str = "https://idp.example.com/";
const RESOURCE: &str = "http://127.0.0.1:8080/mcp/demo/everything";

struct TestKey {
    enc: EncodingKey,
    jwk: Jwk,
    alg: Algorithm,
    /// Bytes of the public key, for the HS256 confusion attack.
    public: Vec<u8>,
}

fn with_kid(mut jwk: Jwk, kid: &str) -> Jwk {
    jwk.common.key_id = Some(kid.to_owned());
    jwk
}

fn ed_key(kid: &str) -> TestKey {
    let sk = SigningKey::generate(&mut rand::rngs::OsRng);
    let public = sk.verifying_key().to_bytes().to_vec();
    let jwk = Jwk {
        common: CommonParameters {
            key_algorithm: Some(KeyAlgorithm::EdDSA),
            public_key_use: Some(PublicKeyUse::Signature),
            ..CommonParameters::default()
        },
        algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
            key_type: OctetKeyPairType::OctetKeyPair,
            curve: EllipticCurve::Ed25519,
            x: URL_SAFE_NO_PAD.encode(&public),
        }),
    };
    TestKey {
        enc: EncodingKey::from_ed_der(sk.to_pkcs8_der().unwrap().as_bytes()),
        jwk: with_kid(jwk, kid),
        alg: Algorithm::EdDSA,
        public,
    }
}

fn rsa_key(kid: &str) -> TestKey {
    let pem = include_bytes!("../../testdata/rsa2048.pem");
    let enc = EncodingKey::from_rsa_pem(pem).unwrap();
    let jwk = Jwk::from_encoding_key(&enc, Algorithm::RS256).unwrap();
    TestKey {
        public: pem.to_vec(),
        enc,
        jwk: with_kid(jwk, kid),
        alg: Algorithm::RS256,
    }
}

fn ec_key(kid: &str) -> TestKey {
    let pem = include_bytes!("../../testdata/p256.pem");
    let enc = EncodingKey::from_ec_pem(pem).unwrap();
    let jwk = Jwk::from_encoding_key(&enc, Algorithm::ES256).unwrap();
    TestKey {
        public: pem.to_vec(),
        enc,
        jwk: with_kid(jwk, kid),
        alg: Algorithm::ES256,
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": "alice",
        "aud": RESOURCE,
        "exp": now() + 600,
        "iat": now(),
        "berth_tenant": "acme",
        "scope": "mcp:tools mcp:read",
        "client_id": "cli",
        "groups": ["ops"],
    })
}

fn sign(key: &TestKey, claims: &Value) -> String {
    let mut header = Header::new(key.alg);
    header.kid = key.jwk.common.key_id.clone();
    jsonwebtoken::encode(&header, claims, &key.enc).unwrap()
}

/// A token with an arbitrary header, signed (or not) as given.
fn raw_token(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

fn validator(keys: &[&TestKey]) -> JwtValidator {
    let jwks = JwkSet {
        keys: keys.iter().map(|k| k.jwk.clone()).collect(),
    };
    JwtValidator::new(ISSUER, jwks, ClaimMapping::default()).unwrap()
}

/// Validates, and checks that a failure's message does not leak the token.
fn check(v: &JwtValidator, token: &str) -> Result<crate::Principal, Error> {
    let result = v.validate_sync(token, RESOURCE);
    if let Err(e) = &result {
        let msg = e.to_string();
        let signature = token.rsplit('.').next().unwrap_or(token);
        if token.len() > 8 {
            assert!(!msg.contains(token), "message leaks the token: {msg}");
        }
        if signature.len() > 8 {
            assert!(
                !msg.contains(signature),
                "message leaks the signature: {msg}"
            );
        }
    }
    result
}

#[test]
fn accepts_eddsa_rs256_and_es256() {
    let (ed, rsa, ec) = (ed_key("ed"), rsa_key("rsa"), ec_key("ec"));
    let v = validator(&[&ed, &rsa, &ec]);
    for key in [&ed, &rsa, &ec] {
        let p = check(&v, &sign(key, &claims())).unwrap();
        assert_eq!(p.tenant, "acme");
        assert_eq!(p.subject, "alice");
        assert_eq!(p.client_id.as_deref(), Some("cli"));
        assert_eq!(p.scopes, ["mcp:tools", "mcp:read"]);
        assert_eq!(p.groups, ["ops"]);
    }
}

#[test]
fn audience_must_name_the_resource_or_an_extra_audience() {
    let key = ed_key("k");
    let v = validator(&[&key]);
    let with_aud = |aud: Value| {
        let mut c = claims();
        c["aud"] = aud;
        sign(&key, &c)
    };
    check(&v, &with_aud(json!([RESOURCE, "other"]))).unwrap();
    check(&v, &with_aud(json!(format!("{RESOURCE}/")))).unwrap();
    for wrong in [
        json!("http://127.0.0.1:8080/mcp/demo/other"),
        json!(["a", "b"]),
    ] {
        assert!(matches!(
            check(&v, &with_aud(wrong)),
            Err(Error::WrongAudience)
        ));
    }
    assert!(matches!(
        check(&v, &with_aud(json!("urn:x"))),
        Err(Error::WrongAudience)
    ));
    let v = v.with_extra_audiences(vec!["urn:x".into()]);
    check(&v, &with_aud(json!("urn:x"))).unwrap();

    let mut c = claims();
    c.as_object_mut().unwrap().remove("aud");
    assert!(matches!(check(&v, &sign(&key, &c)), Err(Error::MissingClaim(n)) if n == "aud"));
}

#[test]
fn expiry_and_not_before_respect_the_leeway() {
    let key = ed_key("k");
    let strict = validator(&[&key]).with_leeway(0);
    let lenient = validator(&[&key]);
    let at = |exp: u64, nbf: Option<u64>| {
        let mut c = claims();
        c["exp"] = json!(exp);
        if let Some(nbf) = nbf {
            c["nbf"] = json!(nbf);
        }
        sign(&key, &c)
    };
    // RFC 7519: rejected on or after `exp`.
    assert!(matches!(
        check(&strict, &at(now(), None)),
        Err(Error::Expired)
    ));
    assert!(matches!(
        check(&strict, &at(now() - 30, None)),
        Err(Error::Expired)
    ));
    check(&lenient, &at(now() - 30, None)).unwrap();
    assert!(matches!(
        check(&lenient, &at(now() - 120, None)),
        Err(Error::Expired)
    ));

    let soon = now() + 30;
    assert!(matches!(
        check(&strict, &at(now() + 600, Some(soon))),
        Err(Error::NotYetValid)
    ));
    check(&lenient, &at(now() + 600, Some(soon))).unwrap();

    let mut c = claims();
    c.as_object_mut().unwrap().remove("exp");
    assert!(matches!(check(&lenient, &sign(&key, &c)), Err(Error::MissingClaim(n)) if n == "exp"));
}

#[test]
fn leeway_is_clamped() {
    let key = ed_key("k");
    let v = validator(&[&key]).with_leeway(86_400);
    let mut c = claims();
    c["exp"] = json!(now() - MAX_LEEWAY_SECS - 10);
    assert!(matches!(check(&v, &sign(&key, &c)), Err(Error::Expired)));
}

#[test]
fn issuer_must_match_exactly() {
    let key = ed_key("k");
    let v = validator(&[&key]);
    for iss in ["https://idp.example.com", "https://evil.example.com/", ""] {
        let mut c = claims();
        c["iss"] = json!(iss);
        assert!(
            matches!(check(&v, &sign(&key, &c)), Err(Error::WrongIssuer)),
            "{iss}"
        );
    }
    let mut c = claims();
    c.as_object_mut().unwrap().remove("iss");
    assert!(matches!(check(&v, &sign(&key, &c)), Err(Error::MissingClaim(n)) if n == "iss"));
}

#[test]
fn tenant_claim_is_required() {
    let key = ed_key("k");
    let v = validator(&[&key]);
    let mut c = claims();
    c.as_object_mut().unwrap().remove("berth_tenant");
    let err = check(&v, &sign(&key, &c)).unwrap_err();
    assert!(
        matches!(&err, Error::MissingClaim(n) if n == "berth_tenant"),
        "{err:?}"
    );
    assert_eq!(err.www_authenticate_error(), "invalid_token");
    assert_eq!(err.http_status(), 401);
}

#[test]
fn custom_claim_mapping() {
    let key = ed_key("k");
    let jwks = JwkSet {
        keys: vec![key.jwk.clone()],
    };
    let mapping = ClaimMapping {
        tenant: "org".into(),
        subject: "email".into(),
        groups: "roles".into(),
        ..ClaimMapping::default()
    };
    let v = JwtValidator::new(ISSUER, jwks, mapping).unwrap();
    let token = sign(
        &key,
        &json!({
            "iss": ISSUER, "aud": RESOURCE, "exp": now() + 60,
            "org": "acme", "email": "a@example.com", "azp": "app",
            "scp": ["x", "y"], "roles": ["admin"],
        }),
    );
    let p = check(&v, &token).unwrap();
    assert_eq!(
        (p.tenant.as_str(), p.subject.as_str()),
        ("acme", "a@example.com")
    );
    assert_eq!(p.client_id.as_deref(), Some("app"));
    assert_eq!(p.scopes, ["x", "y"]);
    assert_eq!(p.groups, ["admin"]);
}

#[test]
fn tampering_breaks_the_signature() {
    let key = ed_key("k");
    let v = validator(&[&key]);
    let token = sign(&key, &claims());
    let parts: Vec<&str> = token.split('.').collect();

    let mut c = claims();
    c["berth_tenant"] = json!("other-tenant");
    let forged_payload = URL_SAFE_NO_PAD.encode(c.to_string());
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert!(matches!(check(&v, &tampered), Err(Error::BadSignature)));

    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[0] ^= 1;
    let tampered = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
    assert!(matches!(check(&v, &tampered), Err(Error::BadSignature)));

    // Signed by another key under our kid.
    let mut impostor = ed_key("k");
    impostor.jwk = key.jwk.clone();
    assert!(matches!(
        check(&v, &sign(&impostor, &claims())),
        Err(Error::BadSignature)
    ));
}

#[test]
fn unknown_or_missing_kid() {
    let (a, b) = (ed_key("a"), ed_key("b"));
    let only_a = validator(&[&a]);
    match check(&only_a, &sign(&b, &claims())) {
        Err(Error::UnknownKey { kid }) => assert_eq!(kid, "b"),
        other => panic!("unexpected {other:?}"),
    }
    let no_kid =
        |key: &TestKey| jsonwebtoken::encode(&Header::new(key.alg), &claims(), &key.enc).unwrap();
    check(&only_a, &no_kid(&a)).unwrap();
    let both = validator(&[&a, &b]);
    assert!(matches!(
        check(&both, &no_kid(&a)),
        Err(Error::MalformedToken(_))
    ));
    check(&both, &sign(&b, &claims())).unwrap();
}

#[test]
fn alg_none_and_algorithm_confusion_are_rejected() {
    let (ed, rsa) = (ed_key("ed"), rsa_key("rsa"));
    let v = validator(&[&ed, &rsa]);

    for alg in ["none", "None", "NONE"] {
        let token = raw_token(&json!({"alg": alg, "kid": "ed"}), &claims(), b"");
        assert!(
            matches!(check(&v, &token), Err(Error::MalformedToken(_))),
            "{alg}"
        );
    }

    // HS256 "signed" with the public key as the HMAC secret.
    for key in [&ed, &rsa] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = key.jwk.common.key_id.clone();
        let secret = EncodingKey::from_secret(&key.public);
        let token = jsonwebtoken::encode(&header, &claims(), &secret).unwrap();
        match check(&v, &token) {
            Err(Error::WrongAlgorithm { alg }) => assert_eq!(alg, "HS256"),
            other => panic!("unexpected {other:?}"),
        }
    }

    // An EdDSA header pointed at the RSA key.
    let mut misdirected = ed_key("rsa");
    misdirected.jwk = rsa.jwk.clone();
    assert!(matches!(
        check(&v, &sign(&misdirected, &claims())),
        Err(Error::WrongAlgorithm { .. })
    ));
}

#[test]
fn malformed_tokens() {
    let key = ed_key("k");
    let v = validator(&[&key]);
    let good = sign(&key, &claims());
    let too_long = format!("{good}{}", "A".repeat(17 * 1024));
    for token in [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "!!.??.**",
        "e30.e30.",
        &too_long,
        &good.replacen('.', "", 1),
    ] {
        let err = check(&v, token).unwrap_err();
        assert!(
            matches!(err, Error::MalformedToken(_)),
            "{token:.40}: {err:?}"
        );
        assert_eq!(err.www_authenticate_error(), "invalid_token");
    }
    let crit = raw_token(
        &json!({"alg": "EdDSA", "kid": "k", "crit": ["b64"], "b64": "x"}),
        &claims(),
        b"sig",
    );
    assert!(matches!(check(&v, &crit), Err(Error::MalformedToken(_))));

    // A header that embeds its own key is not trusted: the kid decides.
    let mut attacker = ed_key("k");
    attacker.jwk.common.key_id = Some("k".into());
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("k".into());
    header.jwk = Some(attacker.jwk.clone());
    let token = jsonwebtoken::encode(&header, &claims(), &attacker.enc).unwrap();
    assert!(matches!(check(&v, &token), Err(Error::BadSignature)));
}

#[test]
fn key_set_keeps_only_usable_signature_keys() {
    let ed = ed_key("ed");
    let oct = Jwk {
        common: CommonParameters {
            key_id: Some("oct".into()),
            ..CommonParameters::default()
        },
        algorithm: AlgorithmParameters::OctetKey(OctetKeyParameters {
            key_type: OctetKeyType::Octet,
            value: URL_SAFE_NO_PAD.encode(b"secret"),
        }),
    };
    let mut enc = ed_key("enc").jwk;
    enc.common.public_key_use = Some(PublicKeyUse::Encryption);
    let mut short_x = ed_key("short").jwk;
    if let AlgorithmParameters::OctetKeyPair(p) = &mut short_x.algorithm {
        p.x = URL_SAFE_NO_PAD.encode([1u8; 8]);
    }
    let weak_rsa = Jwk {
        common: CommonParameters {
            key_id: Some("weak".into()),
            ..CommonParameters::default()
        },
        algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
            key_type: RSAKeyType::RSA,
            n: URL_SAFE_NO_PAD.encode([0xffu8; 128]),
            e: "AQAB".into(),
        }),
    };
    let mut mislabelled = rsa_key("mislabelled").jwk;
    mislabelled.common.key_algorithm = Some(KeyAlgorithm::ES256);
    let mut duplicate = ed_key("ed").jwk;
    duplicate.common.key_id = Some("ed".into());

    let unusable = vec![oct, enc, short_x, weak_rsa, mislabelled];
    let err = JwtValidator::new(
        ISSUER,
        JwkSet {
            keys: unusable.clone(),
        },
        ClaimMapping::default(),
    )
    .unwrap_err();
    assert!(matches!(&err, Error::Key(msg) if msg.contains("oct") && msg.contains("2048")));
    assert_eq!(err.http_status(), 500);

    let mut keys = unusable;
    keys.push(ed.jwk.clone());
    keys.push(duplicate);
    let v = JwtValidator::new(ISSUER, JwkSet { keys }, ClaimMapping::default()).unwrap();
    check(&v, &sign(&ed, &claims())).unwrap();
    assert!(matches!(
        check(&v, &sign(&ed_key("short"), &claims())),
        Err(Error::UnknownKey { .. })
    ));

    let empty = JwtValidator::new(ISSUER, JwkSet { keys: vec![] }, ClaimMapping::default());
    assert!(matches!(empty, Err(Error::Key(_))));
    let no_issuer = JwtValidator::new(" ", JwkSet { keys: vec![ed.jwk] }, ClaimMapping::default());
    assert!(matches!(no_issuer, Err(Error::Malformed(_))));
}

#[tokio::test]
async fn usable_as_a_shared_trait_object() {
    let key = ed_key("k");
    let v: Arc<dyn TokenValidator> = Arc::new(validator(&[&key]));
    let p = v.validate(&sign(&key, &claims()), RESOURCE).await.unwrap();
    assert_eq!(p.tenant, "acme");
    let err = v.validate("nope", RESOURCE).await.unwrap_err();
    assert_eq!(err.http_status(), 401);
}
