use super::*;

const HEX_A: &str = "0101010101010101010101010101010101010101010101010101010101010101";
const HEX_B: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

fn ring() -> KeyRing {
    KeyRing::new(
        SecretKey::from_hex("m1", HEX_A).unwrap(),
        SecretKey::from_hex("b1", HEX_B).unwrap(),
    )
}

#[test]
fn debug_never_prints_key_bytes() {
    let key = SecretKey::from_hex("m1", HEX_B).unwrap();
    let dbg = format!("{key:?}");
    assert!(dbg.contains("m1") && dbg.contains("redacted"), "{dbg}");
    assert!(!dbg.contains("a1b2") && !dbg.contains("161"), "{dbg}");

    let b = ring().bind("acme", "srv", "alice", "sess");
    let dbg = format!("{b:?}");
    assert!(!dbg.contains("alice") && !dbg.contains("sess\""), "{dbg}");
    assert!(!dbg.contains(&hex::encode(b.bearer())), "{dbg}");
    assert!(!format!("{:?}", ring()).contains("0101"));
}

#[test]
fn key_ids_are_validated() {
    for bad in ["", "has space", "a:b", "ü", &"x".repeat(MAX_KEY_ID_LEN + 1)] {
        assert!(
            matches!(SecretKey::new(bad, [1; 32]), Err(Error::InvalidKey(_))),
            "{bad:?}"
        );
    }
    for good in ["m1", "master-2024.01_a", &"x".repeat(MAX_KEY_ID_LEN)] {
        assert_eq!(SecretKey::new(good, [1; 32]).unwrap().id(), good);
    }
}

#[test]
fn from_hex_rejects_bad_input_without_echoing_it() {
    let cases = [
        &HEX_A[..62],
        "zz01010101010101010101010101010101010101010101010101010101010101",
        &"00".repeat(32),
    ];
    for bad in cases {
        let err = SecretKey::from_hex("k", bad).unwrap_err();
        assert!(matches!(err, Error::InvalidKey(_)), "{err}");
        assert!(!err.to_string().contains("0101010101"), "{err}");
    }
    // Surrounding whitespace (e.g. from a file or env var) is fine.
    assert!(SecretKey::from_hex("k", &format!(" {HEX_A}\n")).is_ok());
}

#[test]
fn generate_gives_distinct_keys() {
    let a = SecretKey::generate("a").unwrap();
    let b = SecretKey::generate("a").unwrap();
    assert_ne!(a.bytes(), b.bytes());
}

#[test]
fn bind_is_deterministic_and_shaped() {
    let a = ring().bind("acme", "srv", "alice", "sess-1");
    let again = ring().bind("acme", "srv", "alice", "sess-1");
    assert_eq!(a.record_key(), again.record_key());
    assert_eq!(a.bearer(), again.bearer());
    assert_eq!(a.tenant(), "acme");
    assert_eq!(a.bind_key_id(), "b1");

    let key = a.record_key().as_str();
    let hash = key.strip_prefix("berth:acme:s:").expect(key);
    assert_eq!(hash.len(), 64);
    assert!(hash.bytes().all(|c| c.is_ascii_hexdigit()));
    assert!(a.events_key().as_str().starts_with("berth:acme:e:"));
    assert_ne!(a.events_key(), a.record_key());
    assert_eq!(a.record_key().to_string(), key);

    // The record key is SHA-256(session_id ‖ T) as documented.
    let expected = Sha256::new()
        .chain_update(b"sess-1")
        .chain_update(a.bearer())
        .finalize();
    assert_eq!(hash, hex::encode(expected));
}

#[test]
fn different_subject_gives_different_key_and_bearer() {
    let r = ring();
    let alice = r.bind("acme", "srv", "alice", "sess-1");
    let mallory = r.bind("acme", "srv", "mallory", "sess-1");
    assert_ne!(alice.record_key(), mallory.record_key());
    assert_ne!(alice.events_key(), mallory.events_key());
    assert_ne!(alice.bearer(), mallory.bearer());
    assert!(alice.bearer_matches(alice.bearer()));
    assert!(!alice.bearer_matches(mallory.bearer()));
    assert!(!alice.bearer_matches(&alice.bearer()[..31]));

    // Every input matters.
    let others = [
        r.bind("acme2", "srv", "alice", "sess-1"),
        r.bind("acme", "srv2", "alice", "sess-1"),
        r.bind("acme", "srv", "alice", "sess-2"),
    ];
    for other in &others {
        assert_ne!(alice.record_key(), other.record_key());
        assert_ne!(alice.bearer(), other.bearer());
    }
}

#[test]
fn fields_are_length_prefixed() {
    let r = ring();
    let pairs = [
        (("t", "ab", "c", "s"), ("t", "a", "bc", "s")),
        (("t", "s", "ab", "c"), ("t", "s", "a", "bc")),
        (("ta", "b", "c", "s"), ("t", "ab", "c", "s")),
        (("t", "s", "u", ""), ("t", "s", "", "u")),
    ];
    for ((a1, a2, a3, a4), (b1, b2, b3, b4)) in pairs {
        let a = r.bind(a1, a2, a3, a4);
        let b = r.bind(b1, b2, b3, b4);
        assert_ne!(a.bearer(), b.bearer(), "{a1:?} {a2:?} {a3:?} {a4:?}");
    }
}

#[test]
fn bind_key_rotation_keeps_old_bindings_derivable() {
    let old = ring();
    let old_binding = old.bind("acme", "srv", "alice", "sess");

    let new_bind = SecretKey::from_hex("b2", HEX_A).unwrap();
    let rotated = KeyRing::new(SecretKey::from_hex("m1", HEX_A).unwrap(), new_bind)
        .with_previous_bind(SecretKey::from_hex("b1", HEX_B).unwrap());
    assert_eq!(rotated.current_bind_id(), "b2");

    let fresh = rotated.bind("acme", "srv", "alice", "sess");
    assert_ne!(fresh.record_key(), old_binding.record_key());
    assert_eq!(fresh.bind_key_id(), "b2");

    let rederived = rotated
        .bind_with("b1", "acme", "srv", "alice", "sess")
        .unwrap();
    assert_eq!(rederived.record_key(), old_binding.record_key());
    assert_eq!(rederived.bearer(), old_binding.bearer());

    let err = rotated
        .bind_with("b0", "acme", "srv", "alice", "sess")
        .unwrap_err();
    assert!(
        matches!(err, Error::UnknownKeyId { ref id } if id == "b0"),
        "{err}"
    );
}

#[test]
fn duplicate_previous_ids_are_ignored() {
    let r = ring()
        .with_previous_master(SecretKey::from_hex("m1", HEX_B).unwrap())
        .with_previous_master(SecretKey::from_hex("m0", HEX_B).unwrap());
    assert_eq!(r.master.ids(), ["m1", "m0"]);
    assert_eq!(r.master.find("m1").unwrap().bytes(), &[1; 32]);
}

#[test]
fn from_specs_parses_current_and_previous() {
    let r =
        KeyRing::from_specs(&format!("m2:{HEX_A}, m1:{HEX_B}"), &format!("b1:{HEX_B}")).unwrap();
    assert_eq!(r.current_master_id(), "m2");
    assert_eq!(r.master.ids(), ["m2", "m1"]);
    assert_eq!(r.current_bind_id(), "b1");
    assert_eq!(
        r.bind("t", "s", "u", "x").record_key(),
        ring().bind("t", "s", "u", "x").record_key(),
    );
}

#[test]
fn from_specs_errors_do_not_echo_keys() {
    let good = format!("b1:{HEX_B}");
    for bad in [
        String::new(),
        " , ".to_string(),
        HEX_A.to_string(),
        format!("m1:{}", &HEX_A[..10]),
        format!("bad id:{HEX_A}"),
    ] {
        let err = KeyRing::from_specs(&bad, &good).unwrap_err();
        assert!(matches!(err, Error::InvalidKey(_)), "{err}");
        assert!(!err.to_string().contains("0101010101"), "{err}");
    }
}

#[test]
fn record_keys_stay_as_earlier_releases_made_them() {
    // Sessions in Redis during an upgrade are found by this exact key (and
    // it is the record's AAD): it must never change.
    let b = ring().bind("acme", "srv", "alice", "sess-1");
    let hash = "4835a4b418765931e6fccb3c0f045d216723f2da384e13522eef8bda3acf7c77";
    assert_eq!(b.record_key().as_str(), format!("berth:acme:s:{hash}"));
    // The event log shares the hash (its own kind letter keeps its AAD
    // apart from the record's).
    assert_eq!(b.events_key().as_str(), format!("berth:acme:e:{hash}"));
}

#[test]
fn a_sessions_keys_share_one_cluster_hash_tag() {
    let b = ring().bind("acme", "srv", "alice", "sess-1");
    let hash = &b.record_key().as_str()["berth:acme:s:".len()..];
    let tag = format!("{{{hash}}}");
    let record = b.record_key().cluster_key();
    assert_eq!(record, format!("berth:acme:s:{tag}"));
    assert_eq!(b.events_key().cluster_key(), format!("berth:acme:e:{tag}"));
    for suffix in [":lease", ":seq", ":owner:x"] {
        let derived = RecordKey::new(format!("{}{suffix}", b.record_key()));
        assert_eq!(derived.cluster_key(), format!("berth:acme:s:{tag}{suffix}"));
        let derived = RecordKey::new(format!("{}{suffix}", b.events_key()));
        assert_eq!(derived.cluster_key(), format!("berth:acme:e:{tag}{suffix}"));
    }
}

#[test]
fn other_keys_are_stored_in_a_cluster_as_they_are() {
    let hash = "4835a4b418765931e6fccb3c0f045d216723f2da384e13522eef8bda3acf7c77";
    for key in [
        "berth:registry:index".to_string(),
        "berth:registry:server:acme/echo".to_string(),
        "berth:pods:index".to_string(),
        "berth:pods:pod-1:sessions".to_string(),
        format!("berth:claims:scope:{hash}"),
        format!("berth:acme:x:{hash}"),
        format!("berth:acme:s:{}", &hash[1..]),
        format!("berth:acme:s:{}", hash.to_uppercase()),
        format!("berth:acme:s:{hash}0"),
        format!("berth:acme:s:{hash}-lease"),
        format!("berth:{{acme}}:s:{hash}"),
        format!("berth::s:{hash}"),
        format!("berth:acme:s:{{{hash}}}"),
        format!("other:acme:s:{hash}"),
        "berth:acme:s:ü".to_string(),
        String::new(),
    ] {
        assert_eq!(RecordKey::new(key.clone()).cluster_key(), key);
    }
}
