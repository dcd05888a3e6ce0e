use proptest::prelude::{ProptestConfig, any, prop_assert, prop_assert_eq, proptest};

use super::*;

fn key(id: &str, byte: u8) -> SecretKey {
    SecretKey::new(id, [byte; 32]).unwrap()
}

fn ring() -> KeyRing {
    KeyRing::new(key("m1", 1), key("b1", 2))
}

fn alice(r: &KeyRing) -> SessionBinding {
    r.bind("acme", "srv", "alice", "sess-1")
}

#[test]
fn round_trip() {
    let r = ring();
    let b = alice(&r);
    let sealed = r.seal(&b, b"hello").unwrap();
    assert_eq!(sealed[0], SEAL_VERSION);
    assert_eq!(usize::from(sealed[1]), 2);
    assert_eq!(&sealed[2..4], b"m1");
    assert_eq!(sealed.len(), 2 + 2 + NONCE_LEN + 5 + TAG_LEN);
    let opened = r.open(&b, &sealed).unwrap();
    assert_eq!(opened.plaintext, b"hello");
    assert!(!opened.needs_reseal);
    assert!(!format!("{opened:?}").contains("hello"));

    // Random nonces: sealing twice differs.
    assert_ne!(sealed, r.seal(&b, b"hello").unwrap());
}

/// The hijack test: another user with the same session id (and even the
/// right store key) cannot open the record.
#[test]
fn other_subject_cannot_open() {
    let r = ring();
    let sealed = r.seal(&alice(&r), b"secret state").unwrap();
    let mallory = r.bind("acme", "srv", "mallory", "sess-1");
    let err = r.open(&mallory, &sealed).unwrap_err();
    assert!(matches!(err, Error::Crypto), "{err}");
    assert!(!err.to_string().contains("secret"));
}

#[test]
fn records_and_events_do_not_substitute() {
    let r = ring();
    let b = alice(&r);
    let record = r.seal(&b, b"r").unwrap();
    let event = r.seal_event(&b, b"e").unwrap();
    assert!(matches!(r.open_event(&b, &record), Err(Error::Crypto)));
    assert!(matches!(r.open(&b, &event), Err(Error::Crypto)));
    assert_eq!(r.open_event(&b, &event).unwrap().plaintext, b"e");
}

#[test]
fn same_id_different_key_bytes_is_crypto_error() {
    let sealed = ring().seal(&alice(&ring()), b"x").unwrap();
    let impostor = KeyRing::new(key("m1", 9), key("b1", 2));
    assert!(matches!(
        impostor.open(&alice(&impostor), &sealed),
        Err(Error::Crypto)
    ));
}

#[test]
fn unknown_key_id_is_typed() {
    let sealed = ring().seal(&alice(&ring()), b"x").unwrap();
    let other = KeyRing::new(key("m9", 1), key("b1", 2));
    let err = other.open(&alice(&other), &sealed).unwrap_err();
    assert!(
        matches!(err, Error::UnknownKeyId { ref id } if id == "m1"),
        "{err}"
    );
}

#[test]
fn every_truncation_is_an_error() {
    let r = ring();
    let b = alice(&r);
    let sealed = r.seal(&b, b"some plaintext").unwrap();
    for len in 0..sealed.len() {
        let err = r.open(&b, &sealed[..len]).unwrap_err();
        assert!(
            matches!(err, Error::Corrupt(_) | Error::Crypto),
            "len {len}: {err}"
        );
    }
    assert!(matches!(r.open(&b, &[]), Err(Error::Corrupt(_))));
    assert!(matches!(r.open(&b, &sealed[..3]), Err(Error::Corrupt(_))));
}

#[test]
fn every_bit_flip_is_an_error() {
    let r = ring();
    let b = alice(&r);
    let sealed = r.seal(&b, b"flip me").unwrap();
    for byte in 0..sealed.len() {
        for bit in 0..8 {
            let mut bad = sealed.clone();
            bad[byte] ^= 1 << bit;
            let err = r.open(&b, &bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Corrupt(_) | Error::Crypto | Error::UnknownKeyId { .. }
                ),
                "byte {byte} bit {bit}: {err}"
            );
        }
    }
}

#[test]
fn header_errors_are_corrupt() {
    let r = ring();
    let b = alice(&r);
    let mut sealed = r.seal(&b, b"x").unwrap();
    sealed[0] = 2;
    assert!(matches!(r.open(&b, &sealed), Err(Error::Corrupt(_))));
    sealed[0] = SEAL_VERSION;
    sealed[2] = b':';
    assert!(matches!(r.open(&b, &sealed), Err(Error::Corrupt(_))));
    sealed[1] = 0;
    assert!(matches!(r.open(&b, &sealed), Err(Error::Corrupt(_))));
}

#[test]
fn rotation_opens_old_records_with_needs_reseal() {
    let old = ring();
    let sealed = old.seal(&alice(&old), b"before rotation").unwrap();

    let rotated = KeyRing::new(key("m2", 3), key("b1", 2)).with_previous_master(key("m1", 1));
    assert_eq!(rotated.current_master_id(), "m2");
    let b = alice(&rotated);
    let opened = rotated.open(&b, &sealed).unwrap();
    assert_eq!(opened.plaintext, b"before rotation");
    assert!(opened.needs_reseal);

    let resealed = rotated.seal(&b, &opened.plaintext).unwrap();
    assert_eq!(&resealed[2..4], b"m2");
    assert!(!rotated.open(&b, &resealed).unwrap().needs_reseal);
    // The old ring cannot read records sealed under the new key.
    assert!(matches!(
        old.open(&alice(&old), &resealed),
        Err(Error::UnknownKeyId { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn prop_round_trip(
        plaintext in proptest::collection::vec(any::<u8>(), 0..2048),
        master_id in "[A-Za-z0-9._-]{1,64}",
        bind_id in "[A-Za-z0-9._-]{1,64}",
        master in any::<[u8; 32]>(),
        bind in any::<[u8; 32]>(),
        tenant in "[a-z0-9-]{1,20}",
        server in ".{0,20}",
        subject in ".{0,40}",
        session in ".{0,40}",
    ) {
        let r = KeyRing::new(
            SecretKey::new(master_id, master).unwrap(),
            SecretKey::new(bind_id, bind).unwrap(),
        );
        let b = r.bind(&tenant, &server, &subject, &session);
        let sealed = r.seal(&b, &plaintext).unwrap();
        let opened = r.open(&b, &sealed).unwrap();
        prop_assert_eq!(opened.plaintext, plaintext);
        prop_assert!(!opened.needs_reseal);

        let other = r.bind(&tenant, &server, &format!("{subject}x"), &session);
        prop_assert!(matches!(r.open(&other, &sealed), Err(Error::Crypto)));
    }

    #[test]
    fn prop_open_never_panics_on_arbitrary_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let r = ring();
        prop_assert!(r.open(&alice(&r), &bytes).is_err());
    }

    #[test]
    fn prop_open_never_panics_on_plausible_headers(
        id_len in any::<u8>(),
        id in proptest::collection::vec(any::<u8>(), 0..70),
        tail in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let r = ring();
        let mut bytes = vec![SEAL_VERSION, id_len];
        bytes.extend_from_slice(&id);
        bytes.extend_from_slice(&tail);
        prop_assert!(r.open(&alice(&r), &bytes).is_err());
    }

    #[test]
    fn prop_mutations_of_valid_records_fail(
        plaintext in proptest::collection::vec(any::<u8>(), 0..64),
        pos in any::<usize>(),
        mask in 1u8..=255,
    ) {
        let r = ring();
        let b = alice(&r);
        let mut sealed = r.seal(&b, &plaintext).unwrap();
        let pos = pos % sealed.len();
        sealed[pos] ^= mask;
        prop_assert!(r.open(&b, &sealed).is_err());
    }
}
