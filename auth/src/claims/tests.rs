use serde_json::json;

use super::{Audiences, ClaimMapping, ClaimsSeed, ParsedClaims};
use crate::{Error, Principal};

const RESOURCE: &str = "http://127.0.0.1:8080/mcp/demo/everything";

fn parse_with(mapping: &ClaimMapping, payload: &serde_json::Value) -> Result<ParsedClaims, Error> {
    let extra = vec!["urn:extra".to_owned()];
    let seed = ClaimsSeed {
        mapping,
        audiences: Audiences {
            resource: RESOURCE,
            extra: &extra,
        },
    };
    ParsedClaims::parse(&payload.to_string(), &seed)
}

fn principal(payload: serde_json::Value) -> Result<Principal, Error> {
    let mapping = ClaimMapping::default();
    parse_with(&mapping, &payload)?.into_principal(&mapping)
}

fn malformed(payload: serde_json::Value) -> bool {
    matches!(principal(payload), Err(Error::MalformedToken(_)))
}

#[test]
fn scope_string_or_array_and_scp_fallback() {
    let p = principal(json!({"berth_tenant": "t", "sub": "s", "scope": "a  b c"})).unwrap();
    assert_eq!(p.scopes, ["a", "b", "c"]);
    let p = principal(json!({"berth_tenant": "t", "sub": "s", "scope": ["a", "b"]})).unwrap();
    assert_eq!(p.scopes, ["a", "b"]);
    let p = principal(json!({"berth_tenant": "t", "sub": "s", "scp": ["x"]})).unwrap();
    assert_eq!(p.scopes, ["x"]);
    let p = principal(json!({"berth_tenant": "t", "sub": "s", "scp": "x y"})).unwrap();
    assert_eq!(p.scopes, ["x", "y"]);
    let p = principal(json!({"berth_tenant": "t", "sub": "s", "scp": "x", "scope": "a"})).unwrap();
    assert_eq!(p.scopes, ["a"]);
    let p = principal(json!({"berth_tenant": "t", "sub": "s"})).unwrap();
    assert!(p.scopes.is_empty());
}

#[test]
fn client_id_falls_back_to_azp_and_groups_accept_a_string() {
    let p = principal(json!({"berth_tenant": "t", "sub": "s", "azp": "cli"})).unwrap();
    assert_eq!(p.client_id.as_deref(), Some("cli"));
    let p = principal(json!({"berth_tenant": "t", "sub": "s", "azp": "x", "client_id": "c"}));
    assert_eq!(p.unwrap().client_id.as_deref(), Some("c"));
    let p = principal(json!({"berth_tenant": "t", "sub": "s", "groups": "ops"})).unwrap();
    assert_eq!(p.groups, ["ops"]);
    let p = principal(json!({"berth_tenant": "t", "sub": "s", "groups": ["a", "b"]})).unwrap();
    assert_eq!(p.groups, ["a", "b"]);
}

#[test]
fn tenant_and_subject_must_be_non_empty_strings() {
    let missing = |v| match principal(v) {
        Err(Error::MissingClaim(c)) => c,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(missing(json!({"sub": "s"})), "berth_tenant");
    assert_eq!(
        missing(json!({"berth_tenant": "", "sub": "s"})),
        "berth_tenant"
    );
    assert_eq!(missing(json!({"berth_tenant": "t"})), "sub");
    assert!(malformed(json!({"berth_tenant": 7, "sub": "s"})));
    assert!(malformed(json!({"berth_tenant": ["t"], "sub": "s"})));
    assert!(malformed(json!({"berth_tenant": null, "sub": "s"})));
}

#[test]
fn wrong_shapes_and_duplicates_are_malformed() {
    assert!(malformed(
        json!({"berth_tenant": "t", "sub": "s", "scope": 3})
    ));
    assert!(malformed(
        json!({"berth_tenant": "t", "sub": "s", "scope": ["a", 1]})
    ));
    assert!(malformed(
        json!({"berth_tenant": "t", "sub": "s", "groups": {"a": 1}})
    ));
    assert!(malformed(
        json!({"berth_tenant": "t", "sub": "s", "exp": "soon"})
    ));
    assert!(malformed(
        json!({"berth_tenant": "t", "sub": "s", "aud": 5})
    ));
    let dup = r#"{"berth_tenant":"a","sub":"s","berth_tenant":"b"}"#;
    let mapping = ClaimMapping::default();
    let seed = ClaimsSeed {
        mapping: &mapping,
        audiences: Audiences {
            resource: RESOURCE,
            extra: &[],
        },
    };
    match ParsedClaims::parse(dup, &seed) {
        Err(Error::MalformedToken(msg)) => assert!(msg.contains("berth_tenant"), "{msg}"),
        other => panic!("unexpected {other:?}"),
    }
    for not_object in ["[]", "\"x\"", "1", "null"] {
        assert!(matches!(
            ParsedClaims::parse(not_object, &seed),
            Err(Error::MalformedToken(_))
        ));
    }
}

#[test]
fn unknown_claims_of_any_shape_are_skipped() {
    let p = principal(json!({
        "berth_tenant": "t", "sub": "s",
        "nested": {"scope": "admin", "deep": [[1, {"x": null}]]},
        "list": [1, "a", true], "flag": false, "n": -3.5,
    }))
    .unwrap();
    assert!(p.scopes.is_empty());
}

#[test]
fn audience_matching() {
    let mapping = ClaimMapping::default();
    let aud = |aud: serde_json::Value| {
        let parsed = parse_with(&mapping, &json!({ "aud": aud })).unwrap();
        (parsed.aud_present, parsed.aud_accepted)
    };
    assert_eq!(aud(json!(RESOURCE)), (true, true));
    assert_eq!(aud(json!(format!("{RESOURCE}/"))), (true, true));
    assert_eq!(aud(json!(["other", RESOURCE])), (true, true));
    assert_eq!(aud(json!("urn:extra")), (true, true));
    assert_eq!(aud(json!("http://127.0.0.1:8080/mcp/demo")), (true, false));
    assert_eq!(aud(json!(format!("{RESOURCE}x"))), (true, false));
    assert_eq!(aud(json!([])), (true, false));
    let parsed = parse_with(&mapping, &json!({})).unwrap();
    assert!(!parsed.aud_present);
}

#[test]
fn one_claim_may_fill_several_roles() {
    let mapping = ClaimMapping {
        tenant: "sub".into(),
        client_id: "sub".into(),
        ..ClaimMapping::default()
    };
    let parsed = parse_with(&mapping, &json!({"sub": "alice"})).unwrap();
    let p = parsed.into_principal(&mapping).unwrap();
    assert_eq!((p.tenant.as_str(), p.subject.as_str()), ("alice", "alice"));
    assert_eq!(p.client_id.as_deref(), Some("alice"));
}

#[test]
fn mapping_config_defaults_and_rejects_typos() {
    let m: ClaimMapping = serde_json::from_str(r#"{"tenant": "org"}"#).unwrap();
    assert_eq!(m.tenant, "org");
    assert_eq!(m.subject, "sub");
    assert_eq!(m.client_id, "client_id");
    assert_eq!(m.scope, "scope");
    assert_eq!(m.groups, "groups");
    assert!(serde_json::from_str::<ClaimMapping>(r#"{"tenent": "org"}"#).is_err());
    let empty = ClaimMapping {
        groups: " ".into(),
        ..ClaimMapping::default()
    };
    assert!(matches!(empty.check(), Err(Error::Malformed(_))));
    ClaimMapping::default().check().unwrap();
}
