use std::sync::Arc;
use std::time::Duration;

use berth_session_store::{KeyRing, MemoryStore, SealedStore};
use bytes::Bytes;
use serde_json::value::RawValue;

use super::continuation::PARK_FOR;
use super::{
    Continuation, ContinuationError, Continuations, PendingInput, Retry, STATE_PREFIX, parked,
};
use crate::backend::InboundSink;
use crate::hosting::route::Route;
use crate::hosting::session::HostingSession;
use crate::hosting::stream::Next;
use crate::hosting::testing::{keys, route, session};

fn parked_call(session: Arc<HostingSession>) -> Continuation {
    let stream = session.open_stream();
    let mut cont = Continuation::new(session, 7, stream, None);
    cont.round = 1;
    cont
}

/// A session whose instance another pod could re-attach as `handle`.
fn session_on(handle: Option<&str>) -> Arc<HostingSession> {
    let session = session();
    let (mut instance, _rx) = crate::backend::testing::pipe();
    instance.resume = handle.map(str::to_owned);
    session.attach(instance);
    session
}

fn retry<'a>(
    route: &'a Route,
    session: &'a Arc<HostingSession>,
    state: &'a str,
    digest: &'a str,
) -> Retry<'a> {
    Retry {
        route,
        session,
        state,
        digest,
        request_id: Box::leak(RawValue::from_string("\"retry-1\"".into()).unwrap()),
    }
}

fn refused(r: Result<Continuation, ContinuationError>) -> String {
    match r {
        Err(ContinuationError::Refused(why)) => format!("{why:?}"),
        Err(e) => panic!("expected a refusal, got {e}"),
        Ok(_) => panic!("expected a refusal, got the continuation"),
    }
}

/// Two pods' continuations over one store.
fn two_pods(keys: &KeyRing) -> (Continuations, Continuations, SealedStore) {
    let store = SealedStore::new(Arc::new(MemoryStore::new()), keys.clone());
    (
        Continuations::new(Some(store.clone())),
        Continuations::new(Some(store.clone())),
        store,
    )
}

#[tokio::test]
async fn a_state_opens_once_for_its_principal_and_call() {
    let keys = keys();
    let alice = route(&keys, "alice", "~stateless");
    let parked = Continuations::default();
    let s = session();
    let state = parked
        .park(&keys, &alice, "d1", parked_call(s.clone()))
        .await
        .unwrap();
    assert!(state.starts_with(STATE_PREFIX));
    let cont = parked
        .take(&keys, retry(&alice, &s, &state, "d1"))
        .await
        .expect("its owner, its call");
    assert_eq!(cont.backend_id, 7);
    assert_eq!(
        refused(parked.take(&keys, retry(&alice, &s, &state, "d1")).await),
        "Unknown",
        "single use"
    );
}

#[tokio::test]
async fn another_principal_another_call_or_a_tampered_state_is_refused() {
    let keys = keys();
    let alice = route(&keys, "alice", "~stateless");
    let bob = route(&keys, "bob", "~stateless");
    let parked = Continuations::default();
    let s = session();
    let state = parked
        .park(&keys, &alice, "d1", parked_call(s.clone()))
        .await
        .unwrap();
    let take = |route, state, digest| parked.take(&keys, retry(route, &s, state, digest));
    assert_eq!(refused(take(&bob, &state, "d1").await), "Sealed");
    assert_eq!(refused(take(&alice, &state, "d2").await), "Mismatch");
    // Flip one character in the middle of the sealed part.
    let mut tampered = state.clone().into_bytes();
    let mid = tampered.len() - 20;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(refused(take(&alice, &tampered, "d1").await), "Sealed");
    assert_eq!(refused(take(&alice, "v2.x.y", "d1").await), "Malformed");
    // None of the refused attempts used it up.
    assert!(take(&alice, &state, "d1").await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn parked_calls_expire() {
    let keys = keys();
    let alice = route(&keys, "alice", "~stateless");
    let parked = Continuations::default();
    let s = session();
    let state = parked
        .park(&keys, &alice, "d1", parked_call(s.clone()))
        .await
        .unwrap();
    tokio::time::advance(PARK_FOR + Duration::from_secs(1)).await;
    parked.sweep().await;
    assert_eq!(
        refused(parked.take(&keys, retry(&alice, &s, &state, "d1")).await),
        "Unknown"
    );
}

#[tokio::test]
async fn a_call_parked_on_one_pod_is_resumed_on_another_that_runs_its_instance() {
    let keys = keys();
    let alice = route(&keys, "alice", "~stateless");
    let (pod_a, pod_b, store) = two_pods(&keys);
    let on_a = session_on(Some("container-1"));
    let mut cont = parked_call(on_a.clone());
    cont.pending.push(PendingInput {
        key: "user_name".into(),
        backend_request_id: RawValue::from_string("0".into()).unwrap(),
        method: "elicitation/create".into(),
        shown: serde_json::json!({"method": "elicitation/create", "params": {"message": "What is your name?"}}),
    });
    cont.progress = Some((
        "\"berth-3\"".into(),
        RawValue::from_string("5".into()).unwrap(),
    ));
    cont.key_seq = 2;
    let state = pod_a.park(&keys, &alice, "d1", cont).await.unwrap();
    // The store holds it sealed under a hashed key.
    let id = state[STATE_PREFIX.len()..].split('.').next().unwrap();
    let key = parked::binding(&keys, &alice, id).record_key().clone();
    let raw = store.store().get(&key).await.unwrap().expect("stored");
    let raw = String::from_utf8_lossy(&raw);
    assert!(!raw.contains("What is your name") && !raw.contains("alice"));
    assert!(!key.as_str().contains(id), "the key is a hash");

    // Pod A is gone; pod B re-attached the same container.
    let on_b = session_on(Some("container-1"));
    let cont = pod_b
        .take(&keys, retry(&alice, &on_b, &state, "d1"))
        .await
        .expect("resumed on pod B");
    assert!(Arc::ptr_eq(&cont.session, &on_b));
    assert_eq!((cont.backend_id, cont.round, cont.key_seq), (7, 1, 2));
    assert_eq!(cont.pending[0].key, "user_name");
    assert_eq!(cont.pending[0].backend_request_id.get(), "0");
    assert_eq!(cont.progress.as_ref().unwrap().1.get(), "5");
    // The backend's answer to the call reaches the retry's stream...
    on_b.on_message(Bytes::from_static(
        br#"{"jsonrpc":"2.0","id":7,"result":{"content":[]}}"#,
    ));
    let Next::Event(answer) = cont.stream.next_after(0).await else {
        panic!("the answer was routed to the retry");
    };
    assert!(answer.last);
    // ...and pod B numbers its own calls above it.
    assert!(on_b.reserve_unique() > 7);
    // Used once, on any pod (pod A would still have had it in memory).
    assert_eq!(
        refused(pod_b.take(&keys, retry(&alice, &on_b, &state, "d1")).await),
        "Unknown"
    );
    assert!(store.store().get(&key).await.unwrap().is_none());
}

#[tokio::test]
async fn a_state_taken_on_another_pod_is_refused_where_it_was_parked() {
    let keys = keys();
    let alice = route(&keys, "alice", "~stateless");
    let (pod_a, pod_b, _store) = two_pods(&keys);
    let on_a = session_on(Some("container-1"));
    let state = pod_a
        .park(&keys, &alice, "d1", parked_call(on_a.clone()))
        .await
        .unwrap();
    // Pod B took the session over (pod A stalled) and the retry there.
    let on_b = session_on(Some("container-1"));
    assert!(
        pod_b
            .take(&keys, retry(&alice, &on_b, &state, "d1"))
            .await
            .is_ok()
    );
    // Pod A still has it in memory, but the stored token is gone.
    assert_eq!(
        refused(pod_a.take(&keys, retry(&alice, &on_a, &state, "d1")).await),
        "Unknown"
    );
}

#[tokio::test]
async fn a_call_whose_instance_died_with_its_pod_is_lost_and_says_so() {
    let keys = keys();
    let alice = route(&keys, "alice", "~stateless");
    let (pod_a, pod_b, _store) = two_pods(&keys);
    // The process backend: nothing to re-attach.
    let on_a = session_on(None);
    let state = pod_a
        .park(&keys, &alice, "d1", parked_call(on_a))
        .await
        .unwrap();
    let on_b = session_on(None);
    let lost = pod_b.take(&keys, retry(&alice, &on_b, &state, "d1")).await;
    assert!(
        matches!(lost, Err(ContinuationError::Lost)),
        "{:?}",
        lost.err()
    );
    // A container another pod started afresh is not the call's either.
    let on_a = session_on(Some("container-1"));
    let state = pod_a
        .park(&keys, &alice, "d1", parked_call(on_a))
        .await
        .unwrap();
    let fresh = session_on(Some("container-2"));
    let lost = pod_b.take(&keys, retry(&alice, &fresh, &state, "d1")).await;
    assert!(
        matches!(lost, Err(ContinuationError::Lost)),
        "{:?}",
        lost.err()
    );
}

#[tokio::test]
async fn a_stored_call_is_taken_only_on_the_session_it_was_parked_on() {
    let keys = keys();
    let alice = route(&keys, "alice", "~stateless:s");
    let alice_other = route(&keys, "alice", "~stateless:-");
    let (pod_a, pod_b, _store) = two_pods(&keys);
    let state = pod_a
        .park(
            &keys,
            &alice,
            "d1",
            parked_call(session_on(Some("container-1"))),
        )
        .await
        .unwrap();
    let on_b = session_on(Some("container-1"));
    assert_eq!(
        refused(
            pod_b
                .take(&keys, retry(&alice_other, &on_b, &state, "d1"))
                .await
        ),
        "Mismatch"
    );
    assert_eq!(
        refused(pod_b.take(&keys, retry(&alice, &on_b, &state, "d2")).await),
        "Mismatch"
    );
    // Refusals did not use it up.
    assert!(
        pod_b
            .take(&keys, retry(&alice, &on_b, &state, "d1"))
            .await
            .is_ok()
    );
}
