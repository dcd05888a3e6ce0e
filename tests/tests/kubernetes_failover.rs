//! The kubernetes backend across runtime pods sharing one Redis (against
//! the FAKE API server + kubelet of `berth_tests::fake_kube`): after a
//! `kill -9` of the runtime pod that owns a session, another runtime pod
//! re-attaches the very same session Pod (the server's in-process state
//! survives), and a graceful stop hands it over the same way; the Pods of
//! a killed runtime pod that no agent comes back for (an expired session,
//! a warm Pod) are deleted by the other pods' sweepers.

use std::time::Duration;

use berth_tests::fake_kube::FakeKube;
use berth_tests::kube::{NS, config, name, pods_labelled, pods_of};
use berth_tests::legacy::{end, session};
use berth_tests::pods::{counter, kill_9};
use berth_tests::redis::RedisServer;
use berth_tests::{Berth, eventually, tool};

/// The runtime pod that owns Pod `pod` (its label).
fn owner(fake: &FakeKube, pod: &str) -> String {
    fake.pod(NS, pod).expect("the Pod")["metadata"]["labels"]["berth.dev/runtime-pod"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_session_pod_outlives_its_runtime_pod_and_is_reattached() {
    let _ = tool("DOCKER_HOST");
    let redis = RedisServer::start();
    let fake = FakeKube::start().await;
    let text = config(
        &fake,
        &redis.url(),
        "[cluster]\nhandoff_on_shutdown = true\n",
    );
    let a = Berth::serve(&text, &[]).await;
    let b = Berth::serve_like(&a, &text, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let (on_a, on_b) = (a.url("demo", "everything"), b.url("demo", "everything"));
    let sid = session(&c, &on_a, &token).await;
    assert_eq!(counter(&c, &on_a, &token, &sid).await, "1");
    let pods = pods_of(&fake, "everything");
    assert_eq!(pods.len(), 1, "{pods:?}");
    let pod = name(&pods[0]);
    let owner_a = owner(&fake, &pod);

    // kill -9 the owner: pod B takes the session over and re-attaches the
    // very same Pod (the counter goes on).
    kill_9(a.pid());
    assert_eq!(counter(&c, &on_b, &token, &sid).await, "2");
    assert_eq!(
        pods_of(&fake, "everything").len(),
        1,
        "a second Pod was started"
    );
    assert!(fake.pod(NS, &pod).is_some(), "the session's Pod is gone");
    let owner_b = owner(&fake, &pod);
    assert_ne!(owner_b, owner_a, "the Pod still names the dead runtime pod");
    assert!(
        b.log()
            .contains("re-attaching to a running Pod after failover")
    );

    // A graceful stop hands it over too: a third pod re-attaches it.
    let third = Berth::serve_like(&b, &text, &[]).await;
    assert_eq!(b.stop().await, Some(0));
    let on_third = third.url("demo", "everything");
    assert_eq!(counter(&c, &on_third, &token, &sid).await, "3");
    assert!(
        fake.pod(NS, &pod).is_some(),
        "the handed-over Pod was deleted"
    );
    assert_eq!(pods_of(&fake, "everything").len(), 1);

    // Ending the session deletes the Pod.
    let r = end(&c, &on_third, &token, &sid).await;
    assert!(r.status().is_success());
    assert!(
        eventually(Duration::from_secs(15), || fake.pod(NS, &pod).is_none()).await,
        "the ended session's Pod kept running"
    );
    drop(third);
    drop(a);
    fake.shutdown().await;
}

#[tokio::test]
async fn the_pods_of_a_killed_runtime_pod_are_swept_by_the_others() {
    let _ = tool("DOCKER_HOST");
    let redis = RedisServer::start();
    let fake = FakeKube::start().await;
    let extra = "warm_pool = 1\n[servers.demo.brief]\nimage = \"berth/example-server\"\nidle_timeout = \"2s\"\n";
    let text = config(&fake, &redis.url(), extra);
    let a = Berth::serve(&text, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let brief = a.url("demo", "brief");
    let sid = session(&c, &brief, &token).await;
    assert_eq!(counter(&c, &brief, &token, &sid).await, "1");
    let session_pod = name(&pods_of(&fake, "brief")[0]);
    let owner_a = owner(&fake, &session_pod);
    assert!(
        eventually(Duration::from_secs(20), || pods_labelled(
            &fake,
            "berth.dev/runtime-pod",
            &owner_a
        )
        .iter()
        .any(|p| p["metadata"]["labels"]["berth.dev/session"] == "pool"))
        .await,
        "pod A never filled its warm pool"
    );

    // A dies; B runs (and sweeps every second). Nobody comes back for the
    // session: once its lease and record lapse, B deletes its Pod; A's
    // warm Pod goes once A's heartbeat is stale.
    kill_9(a.pid());
    let b = Berth::serve_like(&a, &text, &[]).await;
    assert!(
        eventually(Duration::from_secs(45), || pods_labelled(
            &fake,
            "berth.dev/runtime-pod",
            &owner_a
        )
        .is_empty())
        .await,
        "Pods of the killed runtime pod were left running: {:?}",
        pods_labelled(&fake, "berth.dev/runtime-pod", &owner_a)
    );
    assert!(b.log().contains("deleting an orphaned session Pod"));
    drop(b);
    drop(a);
    fake.shutdown().await;
}
