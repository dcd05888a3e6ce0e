use super::*;

const SEC: Duration = Duration::from_secs(1);

fn k(s: &str) -> RecordKey {
    RecordKey::new(s)
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

/// Lets the purge task run after a clock change.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn put_get_delete() {
    let s = MemoryStore::new();
    assert_eq!(s.get(&k("a")).await.unwrap(), None);
    s.put(&k("a"), b"1".to_vec(), SEC).await.unwrap();
    assert_eq!(s.get(&k("a")).await.unwrap(), Some(b"1".to_vec()));
    s.put(&k("a"), b"2".to_vec(), SEC).await.unwrap();
    assert_eq!(s.get(&k("a")).await.unwrap(), Some(b"2".to_vec()));
    assert!(s.delete(&k("a")).await.unwrap());
    assert!(!s.delete(&k("a")).await.unwrap());
    assert_eq!(s.get(&k("a")).await.unwrap(), None);
    s.ping().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn ttl_expiry_and_background_purge() {
    let s = MemoryStore::new();
    s.put(&k("short"), b"x".to_vec(), SEC).await.unwrap();
    s.put(&k("long"), b"y".to_vec(), 10 * SEC).await.unwrap();

    tokio::time::advance(SEC - Duration::from_millis(1)).await;
    assert!(s.get(&k("short")).await.unwrap().is_some());

    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(s.get(&k("short")).await.unwrap(), None);
    assert!(s.get(&k("long")).await.unwrap().is_some());

    tokio::time::advance(10 * SEC).await;
    settle().await;
    assert_eq!(s.stored_entries(), 0, "purge task removes expired entries");
}

#[test]
fn expired_entries_are_invisible_before_the_purge() {
    // Created outside a runtime: no purge task, so nothing is purged behind
    // the test's back.
    let s = MemoryStore::new();
    paused_runtime().block_on(async {
        s.put(&k("a"), b"x".to_vec(), SEC).await.unwrap();
        s.put(&k("b"), b"x".to_vec(), SEC).await.unwrap();
        s.append_event(&k("log"), b"e".to_vec(), 5, SEC)
            .await
            .unwrap();
        tokio::time::advance(2 * SEC).await;
        assert_eq!(s.stored_entries(), 3);
        assert_eq!(s.get(&k("a")).await.unwrap(), None);
        assert!(s.events_after(&k("log"), 0).await.unwrap().is_empty());
        assert!(!s.touch(&k("b"), SEC).await.unwrap());
        assert!(!s.delete(&k("b")).await.unwrap());
        assert_eq!(s.stored_entries(), 0, "reads drop what they find expired");
    });
}

#[test]
fn without_a_runtime_writes_purge() {
    let s = MemoryStore::new();
    paused_runtime().block_on(async {
        s.put(&k("a"), b"x".to_vec(), SEC).await.unwrap();
        tokio::time::advance(2 * SEC).await;
        s.put(&k("b"), b"x".to_vec(), SEC).await.unwrap();
        assert_eq!(s.stored_entries(), 1);
    });
}

#[tokio::test(start_paused = true)]
async fn earlier_expiry_wakes_the_purge_task() {
    let s = MemoryStore::new();
    s.put(&k("late"), b"x".to_vec(), 100 * SEC).await.unwrap();
    settle().await;
    s.put(&k("early"), b"x".to_vec(), SEC).await.unwrap();
    settle().await;
    tokio::time::advance(2 * SEC).await;
    settle().await;
    assert_eq!(s.stored_entries(), 1);
}

#[tokio::test(start_paused = true)]
async fn put_new_is_set_nx() {
    let s = MemoryStore::new();
    assert!(s.put_new(&k("a"), b"1".to_vec(), SEC).await.unwrap());
    assert!(!s.put_new(&k("a"), b"2".to_vec(), SEC).await.unwrap());
    assert_eq!(s.get(&k("a")).await.unwrap(), Some(b"1".to_vec()));

    tokio::time::advance(2 * SEC).await;
    assert!(s.put_new(&k("a"), b"3".to_vec(), SEC).await.unwrap());
    assert_eq!(s.get(&k("a")).await.unwrap(), Some(b"3".to_vec()));
}

#[tokio::test(start_paused = true)]
async fn touch_slides_ttl() {
    let s = MemoryStore::new();
    assert!(!s.touch(&k("a"), SEC).await.unwrap());
    s.put(&k("a"), b"x".to_vec(), 2 * SEC).await.unwrap();
    for _ in 0..5 {
        tokio::time::advance(SEC).await;
        assert!(s.touch(&k("a"), 2 * SEC).await.unwrap());
        settle().await;
    }
    assert!(s.get(&k("a")).await.unwrap().is_some());
    tokio::time::advance(2 * SEC).await;
    assert_eq!(s.get(&k("a")).await.unwrap(), None);

    // A TTL can also shrink.
    s.put(&k("b"), b"x".to_vec(), 100 * SEC).await.unwrap();
    assert!(s.touch(&k("b"), SEC).await.unwrap());
    tokio::time::advance(SEC).await;
    settle().await;
    assert_eq!(s.stored_entries(), 0);
}

#[tokio::test(start_paused = true)]
async fn sub_millisecond_ttls_round_up() {
    let s = MemoryStore::new();
    s.put(&k("a"), b"x".to_vec(), Duration::ZERO).await.unwrap();
    assert!(s.get(&k("a")).await.unwrap().is_some());
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(s.get(&k("a")).await.unwrap(), None);
    assert_eq!(ttl_millis(Duration::from_micros(1500)), 2);
    assert_eq!(ttl_millis(Duration::MAX), u64::MAX);
    // Huge TTLs are clamped, not overflowing.
    s.put(&k("b"), b"x".to_vec(), Duration::MAX).await.unwrap();
    assert!(s.get(&k("b")).await.unwrap().is_some());
}

#[tokio::test(start_paused = true)]
async fn compare_and_put_swaps_only_unchanged_values() {
    let s = MemoryStore::new();
    assert!(
        !s.compare_and_put(&k("a"), b"1", b"2".to_vec(), None)
            .await
            .unwrap()
    );
    s.put(&k("a"), b"1".to_vec(), 2 * SEC).await.unwrap();
    assert!(
        !s.compare_and_put(&k("a"), b"0", b"2".to_vec(), None)
            .await
            .unwrap()
    );
    assert!(
        s.compare_and_put(&k("a"), b"1", b"2".to_vec(), None)
            .await
            .unwrap()
    );
    assert_eq!(s.get(&k("a")).await.unwrap(), Some(b"2".to_vec()));

    // `None` keeps the remaining TTL.
    tokio::time::advance(2 * SEC).await;
    assert_eq!(s.get(&k("a")).await.unwrap(), None);

    s.put(&k("b"), b"1".to_vec(), SEC).await.unwrap();
    assert!(
        s.compare_and_put(&k("b"), b"1", b"2".to_vec(), Some(5 * SEC))
            .await
            .unwrap()
    );
    tokio::time::advance(2 * SEC).await;
    assert!(s.get(&k("b")).await.unwrap().is_some());
}

#[tokio::test(start_paused = true)]
async fn event_log_caps_and_orders() {
    let s = MemoryStore::new();
    let log = k("log");
    assert!(s.events_after(&log, 0).await.unwrap().is_empty());
    for i in 1..=10u64 {
        let seq = s.append_event(&log, vec![i as u8], 4, SEC).await.unwrap();
        assert_eq!(seq, i);
    }
    let all = s.events_after(&log, 0).await.unwrap();
    assert_eq!(
        all,
        (7..=10u64).map(|i| (i, vec![i as u8])).collect::<Vec<_>>()
    );
    let tail = s.events_after(&log, 8).await.unwrap();
    assert_eq!(tail, vec![(9, vec![9]), (10, vec![10])]);
    assert!(s.events_after(&log, 10).await.unwrap().is_empty());
    assert!(s.events_after(&log, u64::MAX).await.unwrap().is_empty());

    // A cap of 0 keeps the newest event.
    let seq = s.append_event(&log, vec![11], 0, SEC).await.unwrap();
    assert_eq!(seq, 11);
    assert_eq!(s.events_after(&log, 0).await.unwrap(), vec![(11, vec![11])]);
}

#[tokio::test(start_paused = true)]
async fn event_log_ttl_slides_and_expiry_restarts_sequence() {
    let s = MemoryStore::new();
    let log = k("log");
    s.append_event(&log, b"a".to_vec(), 10, 2 * SEC)
        .await
        .unwrap();
    tokio::time::advance(SEC).await;
    s.append_event(&log, b"b".to_vec(), 10, 2 * SEC)
        .await
        .unwrap();
    tokio::time::advance(SEC).await;
    assert_eq!(s.events_after(&log, 0).await.unwrap().len(), 2);

    tokio::time::advance(2 * SEC).await;
    assert!(s.events_after(&log, 0).await.unwrap().is_empty());
    assert_eq!(
        s.append_event(&log, b"c".to_vec(), 10, SEC).await.unwrap(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn records_and_logs_do_not_mix() {
    let s = MemoryStore::new();
    s.put(&k("rec"), b"x".to_vec(), SEC).await.unwrap();
    s.append_event(&k("log"), b"e".to_vec(), 3, SEC)
        .await
        .unwrap();
    assert!(matches!(
        s.append_event(&k("rec"), b"e".to_vec(), 3, SEC).await,
        Err(Error::Corrupt(_))
    ));
    assert!(matches!(
        s.events_after(&k("rec"), 0).await,
        Err(Error::Corrupt(_))
    ));
    assert!(matches!(s.get(&k("log")).await, Err(Error::Corrupt(_))));
    // Like Redis: SET and DEL work on any type.
    assert!(s.delete(&k("log")).await.unwrap());
    s.put(&k("rec"), b"y".to_vec(), SEC).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn clones_share_data_and_the_task_stops_with_the_last_handle() {
    let s = MemoryStore::new();
    let clone = s.clone();
    clone.put(&k("a"), b"x".to_vec(), SEC).await.unwrap();
    assert!(s.get(&k("a")).await.unwrap().is_some());

    let wake = s.shared.wake.clone();
    settle().await;
    assert_eq!(Arc::strong_count(&wake), 3, "test, Shared and the task");
    drop(s);
    settle().await;
    assert_eq!(Arc::strong_count(&wake), 3, "a clone is still alive");
    drop(clone);
    settle().await;
    assert_eq!(Arc::strong_count(&wake), 1, "the purge task has exited");
}
