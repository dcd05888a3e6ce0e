//! Behaviour every [`SessionStore`] shows, run against each store by
//! [`conformance_tests!`] (see `memory_store.rs` and `redis_store.rs`).
//!
//! Time is real (Redis keeps its own clock), so TTLs are short but real:
//! [`TTL`] and sleeps that leave generous margins. These are semantic
//! checks, not performance ones.

use std::time::Duration;

use berth_session_store::{Error, RecordKey, SessionStore};

/// A short TTL for expiry checks.
pub(crate) const TTL: Duration = Duration::from_millis(300);
/// A TTL that never runs out during a test.
pub(crate) const LONG: Duration = Duration::from_secs(60);

/// Generates one `#[tokio::test]` per conformance check, each calling
/// `$setup.await` for a fresh `(guard, Arc<dyn SessionStore>)`.
macro_rules! conformance_tests {
    ($setup:expr) => {
        conformance_tests!(@each $setup;
            put_get_overwrite_delete,
            put_new_is_set_nx,
            ttl_expiry,
            touch_slides_ttl,
            sub_millisecond_and_huge_ttls,
            compare_and_put_swaps_only_unchanged_values,
            event_log_caps_and_orders,
            event_log_ttl_slides_and_expiry_restarts_sequence,
            deleting_a_log_restarts_its_sequence,
            records_and_logs_do_not_mix,
            binary_values_round_trip,
        );
    };
    (@each $setup:expr; $($name:ident),* $(,)?) => {
        mod conformance_suite {
            $(
                #[tokio::test]
                async fn $name() {
                    let (_guard, store) = $setup.await;
                    crate::conformance::$name(&*store).await;
                }
            )*
        }
    };
}

pub(crate) use conformance_tests;

pub(crate) fn k(name: &str) -> RecordKey {
    RecordKey::new(format!("berth:{{conformance}}:{name}"))
}

async fn sleep(d: Duration) {
    tokio::time::sleep(d).await;
}

pub(crate) async fn put_get_overwrite_delete(s: &dyn SessionStore) {
    assert_eq!(s.get(&k("a")).await.unwrap(), None);
    s.put(&k("a"), b"1".to_vec(), LONG).await.unwrap();
    assert_eq!(s.get(&k("a")).await.unwrap(), Some(b"1".to_vec()));
    s.put(&k("a"), b"2".to_vec(), LONG).await.unwrap();
    assert_eq!(s.get(&k("a")).await.unwrap(), Some(b"2".to_vec()));
    s.put(&k("empty"), Vec::new(), LONG).await.unwrap();
    assert_eq!(s.get(&k("empty")).await.unwrap(), Some(Vec::new()));
    assert!(s.delete(&k("a")).await.unwrap());
    assert!(!s.delete(&k("a")).await.unwrap());
    assert_eq!(s.get(&k("a")).await.unwrap(), None);
    s.ping().await.unwrap();
}

pub(crate) async fn put_new_is_set_nx(s: &dyn SessionStore) {
    assert!(s.put_new(&k("a"), b"1".to_vec(), TTL).await.unwrap());
    assert!(!s.put_new(&k("a"), b"2".to_vec(), TTL).await.unwrap());
    assert_eq!(s.get(&k("a")).await.unwrap(), Some(b"1".to_vec()));

    sleep(TTL * 2).await;
    assert!(s.put_new(&k("a"), b"3".to_vec(), LONG).await.unwrap());
    assert_eq!(s.get(&k("a")).await.unwrap(), Some(b"3".to_vec()));
}

pub(crate) async fn ttl_expiry(s: &dyn SessionStore) {
    s.put(&k("short"), b"x".to_vec(), TTL).await.unwrap();
    s.put(&k("long"), b"y".to_vec(), LONG).await.unwrap();
    sleep(TTL / 3).await;
    assert!(s.get(&k("short")).await.unwrap().is_some());
    sleep(TTL).await;
    assert_eq!(s.get(&k("short")).await.unwrap(), None);
    assert!(!s.touch(&k("short"), LONG).await.unwrap());
    assert!(!s.delete(&k("short")).await.unwrap());
    assert!(s.get(&k("long")).await.unwrap().is_some());
}

pub(crate) async fn touch_slides_ttl(s: &dyn SessionStore) {
    assert!(!s.touch(&k("a"), TTL).await.unwrap());
    s.put(&k("a"), b"x".to_vec(), TTL * 2).await.unwrap();
    for _ in 0..4 {
        sleep(TTL).await;
        assert!(s.touch(&k("a"), TTL * 2).await.unwrap());
    }
    // 4 × TTL have passed, twice the original TTL: only sliding kept it.
    assert!(s.get(&k("a")).await.unwrap().is_some());
    sleep(TTL * 3).await;
    assert_eq!(s.get(&k("a")).await.unwrap(), None);

    // A TTL can also shrink.
    s.put(&k("b"), b"x".to_vec(), LONG).await.unwrap();
    assert!(s.touch(&k("b"), TTL).await.unwrap());
    sleep(TTL * 2).await;
    assert_eq!(s.get(&k("b")).await.unwrap(), None);
}

pub(crate) async fn sub_millisecond_and_huge_ttls(s: &dyn SessionStore) {
    // Zero rounds up to 1 ms (Redis rejects `PX 0`); it must not error.
    s.put(&k("zero"), b"x".to_vec(), Duration::ZERO)
        .await
        .unwrap();
    sleep(Duration::from_millis(20)).await;
    assert_eq!(s.get(&k("zero")).await.unwrap(), None);
    // Huge TTLs are clamped, not rejected.
    s.put(&k("huge"), b"x".to_vec(), Duration::MAX)
        .await
        .unwrap();
    assert!(s.get(&k("huge")).await.unwrap().is_some());
    assert!(s.touch(&k("huge"), Duration::MAX).await.unwrap());
    assert!(
        s.put_new(&k("huge2"), b"x".to_vec(), Duration::MAX)
            .await
            .unwrap()
    );
    s.append_event(&k("huge-log"), b"e".to_vec(), 3, Duration::MAX)
        .await
        .unwrap();
    assert_eq!(s.events_after(&k("huge-log"), 0).await.unwrap().len(), 1);
}

pub(crate) async fn compare_and_put_swaps_only_unchanged_values(s: &dyn SessionStore) {
    assert!(
        !s.compare_and_put(&k("a"), b"1", b"2".to_vec(), None)
            .await
            .unwrap(),
        "missing key"
    );
    s.put(&k("a"), b"1".to_vec(), TTL * 2).await.unwrap();
    assert!(
        !s.compare_and_put(&k("a"), b"0", b"2".to_vec(), None)
            .await
            .unwrap(),
        "mismatch"
    );
    assert_eq!(s.get(&k("a")).await.unwrap(), Some(b"1".to_vec()));
    assert!(
        s.compare_and_put(&k("a"), b"1", b"2".to_vec(), None)
            .await
            .unwrap(),
        "match"
    );
    assert_eq!(s.get(&k("a")).await.unwrap(), Some(b"2".to_vec()));
    // `None` kept the remaining TTL (KEEPTTL): the key still expires.
    sleep(TTL * 3).await;
    assert_eq!(s.get(&k("a")).await.unwrap(), None);

    // `Some(ttl)` sets a new TTL.
    s.put(&k("b"), b"1".to_vec(), TTL).await.unwrap();
    assert!(
        s.compare_and_put(&k("b"), b"1", b"2".to_vec(), Some(LONG))
            .await
            .unwrap()
    );
    sleep(TTL * 2).await;
    assert_eq!(s.get(&k("b")).await.unwrap(), Some(b"2".to_vec()));

    // An empty expected value is not "missing".
    assert!(
        !s.compare_and_put(&k("c"), b"", b"x".to_vec(), None)
            .await
            .unwrap()
    );
    s.put(&k("c"), Vec::new(), LONG).await.unwrap();
    assert!(
        s.compare_and_put(&k("c"), b"", b"x".to_vec(), None)
            .await
            .unwrap()
    );
}

pub(crate) async fn event_log_caps_and_orders(s: &dyn SessionStore) {
    let log = k("log");
    assert!(s.events_after(&log, 0).await.unwrap().is_empty());
    for i in 1..=10u64 {
        let seq = s.append_event(&log, vec![i as u8], 4, LONG).await.unwrap();
        assert_eq!(seq, i);
    }
    let all = s.events_after(&log, 0).await.unwrap();
    assert_eq!(
        all,
        (7..=10u64).map(|i| (i, vec![i as u8])).collect::<Vec<_>>(),
        "the cap keeps the newest events"
    );
    let tail = s.events_after(&log, 8).await.unwrap();
    assert_eq!(
        tail,
        vec![(9, vec![9]), (10, vec![10])],
        "`after` is exclusive"
    );
    assert_eq!(s.events_after(&log, 2).await.unwrap(), all, "trimmed start");
    assert!(s.events_after(&log, 10).await.unwrap().is_empty());
    assert!(s.events_after(&log, u64::MAX).await.unwrap().is_empty());

    // A cap of 0 keeps the newest event.
    let seq = s.append_event(&log, vec![11], 0, LONG).await.unwrap();
    assert_eq!(seq, 11);
    assert_eq!(s.events_after(&log, 0).await.unwrap(), vec![(11, vec![11])]);

    // Logs are independent.
    assert_eq!(
        s.append_event(&k("other"), b"o".to_vec(), 4, LONG)
            .await
            .unwrap(),
        1
    );
}

pub(crate) async fn event_log_ttl_slides_and_expiry_restarts_sequence(s: &dyn SessionStore) {
    let log = k("log");
    let ttl = TTL * 3;
    assert_eq!(
        s.append_event(&log, b"a".to_vec(), 10, ttl).await.unwrap(),
        1
    );
    sleep(TTL * 2).await;
    assert_eq!(
        s.append_event(&log, b"b".to_vec(), 10, ttl).await.unwrap(),
        2
    );
    sleep(TTL * 2).await;
    // 4 × TTL after the first append (its TTL was 3 × TTL): the second
    // append slid the TTL.
    assert_eq!(s.events_after(&log, 0).await.unwrap().len(), 2);

    sleep(TTL * 4).await;
    assert!(s.events_after(&log, 0).await.unwrap().is_empty());
    assert_eq!(
        s.append_event(&log, b"c".to_vec(), 10, LONG).await.unwrap(),
        1,
        "an expired log restarts at 1"
    );
}

pub(crate) async fn deleting_a_log_restarts_its_sequence(s: &dyn SessionStore) {
    let log = k("log");
    for i in 1..=3 {
        assert_eq!(
            s.append_event(&log, b"e".to_vec(), 10, LONG).await.unwrap(),
            i
        );
    }
    assert!(s.delete(&log).await.unwrap());
    assert!(s.events_after(&log, 0).await.unwrap().is_empty());
    assert_eq!(
        s.append_event(&log, b"e".to_vec(), 10, LONG).await.unwrap(),
        1
    );
}

pub(crate) async fn records_and_logs_do_not_mix(s: &dyn SessionStore) {
    s.put(&k("rec"), b"x".to_vec(), LONG).await.unwrap();
    s.append_event(&k("log"), b"e".to_vec(), 3, LONG)
        .await
        .unwrap();
    let corrupt = |r: Result<(), Error>, what: &str| match r {
        Err(Error::Corrupt(_)) => {}
        other => panic!("{what}: expected Error::Corrupt, got {other:?}"),
    };
    corrupt(
        s.append_event(&k("rec"), b"e".to_vec(), 3, LONG)
            .await
            .map(drop),
        "append to a record",
    );
    corrupt(
        s.events_after(&k("rec"), 0).await.map(drop),
        "events of a record",
    );
    corrupt(s.get(&k("log")).await.map(drop), "get of a log");
    corrupt(
        s.compare_and_put(&k("log"), b"e", b"x".to_vec(), None)
            .await
            .map(drop),
        "compare_and_put on a log",
    );
    // Failed appends wrote nothing.
    assert_eq!(s.get(&k("rec")).await.unwrap(), Some(b"x".to_vec()));
    // Like Redis: SET and DEL work on any type.
    assert!(s.delete(&k("log")).await.unwrap());
    s.put(&k("rec"), b"y".to_vec(), LONG).await.unwrap();
    s.append_event(&k("log"), b"e".to_vec(), 3, LONG)
        .await
        .unwrap();
    s.put(&k("log"), b"now a record".to_vec(), LONG)
        .await
        .unwrap();
    assert_eq!(
        s.get(&k("log")).await.unwrap(),
        Some(b"now a record".to_vec())
    );
}

pub(crate) async fn binary_values_round_trip(s: &dyn SessionStore) {
    let all: Vec<u8> = (0..=255u8).collect();
    let reversed: Vec<u8> = all.iter().rev().copied().collect();

    s.put(&k("bin"), all.clone(), LONG).await.unwrap();
    assert_eq!(s.get(&k("bin")).await.unwrap(), Some(all.clone()));
    assert!(
        s.put_new(&k("bin-new"), reversed.clone(), LONG)
            .await
            .unwrap()
    );
    assert_eq!(s.get(&k("bin-new")).await.unwrap(), Some(reversed.clone()));

    // Compare-and-swap compares bytes, not strings.
    let mut almost = all.clone();
    almost[200] ^= 1;
    assert!(
        !s.compare_and_put(&k("bin"), &almost, reversed.clone(), None)
            .await
            .unwrap()
    );
    assert!(
        s.compare_and_put(&k("bin"), &all, reversed.clone(), None)
            .await
            .unwrap()
    );
    assert_eq!(s.get(&k("bin")).await.unwrap(), Some(reversed.clone()));

    let log = k("bin-log");
    for byte in 0..=255u8 {
        s.append_event(&log, vec![byte, 0, 255 - byte], 300, LONG)
            .await
            .unwrap();
    }
    s.append_event(&log, all.clone(), 300, LONG).await.unwrap();
    let events = s.events_after(&log, 0).await.unwrap();
    assert_eq!(events.len(), 257);
    for (i, (seq, event)) in events[..256].iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1);
        assert_eq!(event, &vec![i as u8, 0, 255 - i as u8]);
    }
    assert_eq!(events[256], (257, all));
}
