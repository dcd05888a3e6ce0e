use super::*;

fn parse(s: &str) -> Result<Envelope<'_>, ParseError> {
    Envelope::parse(s.as_bytes())
}

#[test]
fn classifies_requests_notifications_and_responses() {
    let r = parse(r#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{}}"#).unwrap();
    assert_eq!(r.kind, Kind::Request);
    assert_eq!(r.method_str(), "tools/list");
    assert_eq!(r.id.unwrap().get(), "7");
    let n = parse(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
    assert_eq!(n.kind, Kind::Notification);
    let ok = parse(r#"{"jsonrpc":"2.0","id":"a","result":{}}"#).unwrap();
    assert_eq!(ok.kind, Kind::Response);
    let err = parse(r#"{"jsonrpc":"2.0","id":"a","error":{"code":1,"message":"x"}}"#).unwrap();
    assert_eq!(err.kind, Kind::Response);
}

#[test]
fn rejects_bad_shapes_with_the_right_class() {
    assert!(matches!(parse("{nope"), Err(ParseError::NotJson(_))));
    assert!(matches!(parse(""), Err(ParseError::NotJson(_))));
    assert!(matches!(parse("[1,2]"), Err(ParseError::Batch)));
    assert!(matches!(parse("[1,"), Err(ParseError::NotJson(_))));
    assert!(matches!(parse("42"), Err(ParseError::Invalid { .. })));
    // Invalid UTF-8 in a member Berth does not read (found by fuzz/jsonrpc_envelope).
    let bad_utf8 = b"{\"jsonrpc\":\"2.0\",\"x\":\"\xff\",\"id\":1,\"result\":{}}";
    assert!(matches!(
        Envelope::parse(bad_utf8),
        Err(ParseError::NotJson(_))
    ));
    for bad in [
        r#"{"id":1,"method":"x"}"#,
        r#"{"jsonrpc":"1.0","id":1,"method":"x"}"#,
        r#"{"jsonrpc":"2.0","id":null,"method":"x"}"#,
        r#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#,
        r#"{"jsonrpc":"2.0","id":{},"method":"x"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":5}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"x","params":3}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{},"error":{}}"#,
        r#"{"jsonrpc":"2.0","id":1}"#,
        r#"{"jsonrpc":"2.0"}"#,
    ] {
        assert!(
            matches!(parse(bad), Err(ParseError::Invalid { .. })),
            "{bad} should be invalid"
        );
    }
}

#[test]
fn invalid_requests_echo_a_readable_id() {
    let Err(ParseError::Invalid { id, .. }) = parse(r#"{"jsonrpc":"1.0","id":"q","method":"x"}"#)
    else {
        panic!("expected invalid");
    };
    assert_eq!(id.unwrap().get(), r#""q""#);
}

#[test]
fn splice_replaces_only_the_id() {
    let msg =
        r#"{"jsonrpc":"2.0","id":"client-1","method":"tools/call","params":{"id":"client-1"}}"#;
    let env = Envelope::parse(msg.as_bytes()).unwrap();
    let out = splice_id(msg.as_bytes(), env.id.unwrap(), b"99");
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        r#"{"jsonrpc":"2.0","id":99,"method":"tools/call","params":{"id":"client-1"}}"#
    );
}

#[test]
fn escaped_method_names_are_decoded() {
    let env = parse(r#"{"jsonrpc":"2.0","id":1,"method":"tools\/list"}"#).unwrap();
    assert_eq!(env.method_str(), "tools/list");
}

#[test]
fn meta_and_param_lookup() {
    let msg = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":{"progressToken":"p1"}}}"#;
    let env = parse(msg).unwrap();
    assert_eq!(
        meta_field(env.params, "progressToken").unwrap().get(),
        r#""p1""#
    );
    assert_eq!(param_str(env.params, "name").as_deref(), Some("echo"));
}

#[test]
fn error_response_echoes_id_verbatim() {
    let raw = RawValue::from_string("\"abc\"".into()).unwrap();
    let out = RpcError::new(ErrorCode::MethodNotFound, "nope").to_response(Some(&raw));
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["id"], "abc");
    assert_eq!(v["error"]["code"], -32601);
    let out = RpcError::new(ErrorCode::ParseError, "bad").to_response(None);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(v["id"].is_null());
}

mod props {
    use super::super::*;
    use proptest::prelude::{any, proptest};

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = Envelope::parse(&bytes);
        }

        #[test]
        fn splice_round_trips(id in 0u64..u64::MAX, text in "[a-z0-9 ]{0,40}") {
            let msg = serde_json::json!({"jsonrpc":"2.0","id":format!("c-{text}"),"method":"m","params":{"t":text}}).to_string();
            let env = Envelope::parse(msg.as_bytes()).unwrap();
            let spliced = splice_id(msg.as_bytes(), env.id.unwrap(), id.to_string().as_bytes());
            let back = Envelope::parse(&spliced).unwrap();
            assert_eq!(id_as_u64(back.id.unwrap()), Some(id));
            let orig = splice_id(&spliced, back.id.unwrap(), env.id.unwrap().get().as_bytes());
            assert_eq!(orig, msg.as_bytes());
        }
    }
}

#[test]
fn a_notice_goes_into_the_result_meta_of_responses_only() {
    let notice = serde_json::json!({"deprecated": true});
    let out = with_result_meta(
        br#"{"jsonrpc":"2.0","id":1,"result":{"content":[],"_meta":{"a":1}}}"#,
        "io.berth/deprecation",
        &notice,
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["result"]["_meta"]["a"], 1, "existing _meta is kept");
    assert_eq!(v["result"]["_meta"]["io.berth/deprecation"], notice);
    let plain = with_result_meta(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#, "k", &notice).unwrap();
    assert!(
        String::from_utf8(plain)
            .unwrap()
            .contains(r#""_meta":{"k":{"deprecated":true}}"#)
    );
    assert!(
        with_result_meta(
            br#"{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m"}}"#,
            "k",
            &notice
        )
        .is_none()
    );
    assert!(with_result_meta(b"not json", "k", &notice).is_none());
}
