//! The kubernetes backend when the cluster says no or goes away (against
//! the FAKE API server + kubelet of `berth_tests::fake_kube`): an RBAC
//! refusal and an exhausted ResourceQuota give the agent a clear JSON-RPC
//! error and the operator a log line naming the missing permission; an
//! API-server outage fails new sessions clearly while open sessions come
//! back when it returns; a Pod that is never scheduled fails its session
//! within the start timeout and is deleted; an image that cannot be pulled
//! fails at once. Also the session start time of the kubernetes backend
//! against the docker backend, measured in one run (printed, not asserted).

use std::time::{Duration, Instant};

use berth_tests::fake_kube::{FakeKube, Refusal};
use berth_tests::kube::{NS, config, pods_of};
use berth_tests::legacy::{end, init_reply, session};
use berth_tests::pods::counter;
use berth_tests::{Berth, eventually, results_dir, tool};
use serde_json::Value;

/// The error of a failed `initialize` (panics when it succeeded).
async fn refused(c: &reqwest::Client, url: &str, token: &str) -> Value {
    let reply = init_reply(c, url, token).await;
    assert!(reply.get("error").is_some(), "expected an error: {reply}");
    reply["error"].clone()
}

fn message(error: &Value) -> String {
    error["message"].as_str().unwrap_or_default().to_owned()
}

const SERVERS: &str = r#"
[servers.demo.missing]
image = "berth/no-such-image"
"#;

#[tokio::test]
async fn refusals_and_outages_give_clear_errors_and_berth_recovers() {
    let _ = tool("DOCKER_HOST");
    let fake = FakeKube::start().await;
    let berth = Berth::serve(&config(&fake, "memory", SERVERS), &[]).await;
    let c = reqwest::Client::new();
    let demo = berth.url("demo", "everything");
    let alice = berth.token("alice", "demo", &[]);

    // RBAC: the agent learns the platform refused; the operator's log
    // names the permission to grant.
    fake.refuse(Refusal::rbac("create", "pods"));
    let e = refused(&c, &demo, &alice).await;
    let m = message(&e);
    assert!(m.contains("RBAC") && m.contains("create pods"), "{e}");
    assert!(
        berth.log().contains(
            "grant the runtime's service account `create pods` in namespace `berth-sessions`"
        ),
        "{}",
        berth.log()
    );
    assert!(pods_of(&fake, "everything").is_empty());

    // A conflict, and an API server that answers 503: retryable, at once
    // (not after minutes of client-side retries).
    for refusal in [
        Refusal::conflict("create", "pods"),
        Refusal::unavailable("create", "pods"),
    ] {
        fake.clear_refusals();
        fake.refuse(refusal);
        let started = Instant::now();
        let e = refused(&c, &demo, &alice).await;
        assert_eq!(e["data"]["retryable"], true, "{e}");
        assert!(message(&e).contains("create pods"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(10), "{e}");
    }

    // Quota: a retryable capacity error naming the quota.
    fake.clear_refusals();
    fake.refuse(Refusal::quota());
    let e = refused(&c, &demo, &alice).await;
    assert!(message(&e).contains("ResourceQuota"), "{e}");
    assert_eq!(e["data"]["retryable"], true, "{e}");
    fake.clear_refusals();

    // An open session, then the API server goes away.
    let sid = session(&c, &demo, &alice).await;
    assert_eq!(counter(&c, &demo, &alice, &sid).await, "1");
    fake.set_down(true);
    let e = refused(&c, &demo, &alice).await;
    assert!(message(&e).contains("unreachable"), "{e}");
    assert_eq!(e["data"]["retryable"], true, "{e}");
    // Back: the open session goes on in the same Pod (its attach stream
    // re-opened), and new sessions start again.
    fake.set_down(false);
    let mut next = String::new();
    for _ in 0..50 {
        next = counter(&c, &demo, &alice, &sid).await;
        if next == "2" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(next, "2", "the open session did not come back in its Pod");
    let fresh = session(&c, &demo, &alice).await;
    assert_eq!(counter(&c, &demo, &alice, &fresh).await, "1");

    // An image the node cannot pull fails at once, naming it; its Pod is
    // deleted.
    let started = Instant::now();
    let e = refused(&c, &berth.url("demo", "missing"), &alice).await;
    let m = message(&e);
    assert!(
        m.contains("ErrImagePull") && m.contains("berth/no-such-image"),
        "{e}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "an unpullable image waited for the start timeout"
    );
    assert!(
        eventually(Duration::from_secs(10), || pods_of(&fake, "missing")
            .is_empty())
        .await,
        "the unpullable Pod was left behind"
    );
    drop(berth);
    fake.shutdown().await;
}

#[tokio::test]
async fn a_pod_that_never_runs_fails_its_session_and_is_deleted() {
    let _ = tool("DOCKER_HOST");
    let fake = FakeKube::start().await;
    let text =
        config(&fake, "memory", "").replace("start_timeout = \"20s\"", "start_timeout = \"2s\"");
    let berth = Berth::serve(&text, &[]).await;
    let c = reqwest::Client::new();
    let demo = berth.url("demo", "everything");
    let alice = berth.token("alice", "demo", &[]);
    fake.hold_pending(true);
    let e = refused(&c, &demo, &alice).await;
    let m = message(&e);
    assert!(
        m.contains("within 2s")
            && m.contains("kubernetes.start_timeout")
            && m.contains("Unschedulable"),
        "{e}"
    );
    assert!(
        eventually(Duration::from_secs(10), || fake.pods(NS).is_empty()).await,
        "the Pod that never ran was not deleted: {:?}",
        fake.pods(NS)
    );
    fake.hold_pending(false);
    let sid = session(&c, &demo, &alice).await;
    assert_eq!(counter(&c, &demo, &alice, &sid).await, "1");
    drop(berth);
    fake.shutdown().await;
}

/// Milliseconds from `initialize` to the first tool answer of a new
/// session, `n` times in a row; sorted.
async fn start_times(berth: &Berth, n: usize) -> Vec<u128> {
    let c = reqwest::Client::new();
    let url = berth.url("demo", "everything");
    let token = berth.token("alice", "demo", &[]);
    let mut out = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let sid = session(&c, &url, &token).await;
        assert_eq!(counter(&c, &url, &token, &sid).await, "1");
        out.push(t.elapsed().as_millis());
        end(&c, &url, &token, &sid).await;
    }
    out.sort_unstable();
    out
}

#[tokio::test]
async fn session_start_time_kubernetes_against_docker() {
    let _ = tool("DOCKER_HOST");
    const N: usize = 8;
    let docker = Berth::serve(
        "listen = \"127.0.0.1:0\"\nstate_dir = \"{state_dir}\"\nbackend = \"docker\"\n[servers.demo.everything]\nimage = \"berth/example-server\"\n",
        &[],
    )
    .await;
    let on_docker = start_times(&docker, N).await;
    drop(docker);
    let fake = FakeKube::start().await;
    let kube = Berth::serve(&config(&fake, "memory", ""), &[]).await;
    let on_kube = start_times(&kube, N).await;
    drop(kube);
    fake.shutdown().await;
    let p50 = |v: &[u128]| v[v.len() / 2];
    let line = format!(
        "session start (initialize + first call, {N} sessions each): docker p50 {} ms (min {}, max {}); kubernetes (fake API server) p50 {} ms (min {}, max {}); ratio {:.2}",
        p50(&on_docker),
        on_docker[0],
        on_docker[N - 1],
        p50(&on_kube),
        on_kube[0],
        on_kube[N - 1],
        p50(&on_kube) as f64 / p50(&on_docker).max(1) as f64
    );
    println!("{line}");
    std::fs::write(
        results_dir().join("kubernetes.summary"),
        format!("{line}\n"),
    )
    .unwrap();
}
