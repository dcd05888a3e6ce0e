//! The kubernetes backend against the FAKE API server + kubelet
//! (`berth_tests::fake_kube`, real containers on the test dockerd): a
//! hardened Pod per hosting session, never shared between agents, labelled
//! for its tenant, server and owner, with the server's placement; HTTP
//! servers reached at the Pod IP; `DELETE` and idle reaping delete the
//! Pod; warm Pods are claimed and refilled; Vault env secrets reach the
//! server through a per-Pod Secret the Pod owns and never appear in the
//! Pod spec.

use std::collections::HashSet;
use std::time::Duration;

use berth_tests::docker::inspect;
use berth_tests::fake_kube::FakeKube;
use berth_tests::kube::{NS, config, name, pods_labelled, pods_of, running};
use berth_tests::legacy::{call, end, session};
use berth_tests::pods::{counter, text};
use berth_tests::vault::Bao;
use berth_tests::{Berth, eventually, tool};
use serde_json::{Value, json};

const PLACED: &str = r#"
[servers.demo.everything.kubernetes]
runtime_class_name = "gvisor"
node_selector = { pool = "sandboxed" }
tolerations = [{ key = "sandbox", operator = "Exists", effect = "NoSchedule" }]
[servers.demo.web]
image = "berth/example-server-http"
transport = "http"
[servers.acme.everything]
image = "berth/example-server"
idle_timeout = "3s"
"#;

#[tokio::test]
async fn each_session_runs_in_its_own_hardened_pod() {
    let _ = tool("DOCKER_HOST");
    let fake = FakeKube::start().await;
    let berth = Berth::serve(&config(&fake, "memory", PLACED), &[]).await;
    let c = reqwest::Client::new();
    let demo = berth.url("demo", "everything");
    let alice = berth.token("alice", "demo", &[]);
    let bob = berth.token("bob", "demo", &[]);
    let a1 = session(&c, &demo, &alice).await;
    let a2 = session(&c, &demo, &alice).await;
    let b1 = session(&c, &demo, &bob).await;

    // Three sessions, three Pods, three processes: nothing is shared.
    let pods = pods_of(&fake, "everything");
    assert_eq!(pods.len(), 3, "{pods:?}");
    let mut seen = HashSet::new();
    for (tok, sid) in [(&alice, &a1), (&alice, &a2), (&bob, &b1)] {
        assert_eq!(counter(&c, &demo, tok, sid).await, "1");
        let info = call(&c, &demo, tok, sid, "instance_info", json!({})).await;
        assert!(seen.insert(text(&info)), "two sessions share a Pod");
    }

    // Labels name tenant, server, owner and a hashed session, never the
    // agent's session id.
    let pod = &pods[0];
    let labels = &pod["metadata"]["labels"];
    assert_eq!(labels["berth.dev/managed"], "true");
    assert_eq!(labels["berth.dev/tenant"], "demo");
    assert_eq!(labels["berth.dev/server"], "everything");
    assert!(
        labels["berth.dev/runtime-pod"]
            .as_str()
            .is_some_and(|p| !p.is_empty())
    );
    let session_label = labels["berth.dev/session"].as_str().unwrap();
    assert_eq!(session_label.len(), 12, "{labels}");
    let whole = pod.to_string();
    for sid in [&a1, &a2, &b1] {
        assert!(
            !whole.contains(sid.as_str()),
            "a session id in the Pod: {whole}"
        );
    }

    // The Pod spec carries the hardening and the server's placement.
    let spec = &pod["spec"];
    assert_eq!(spec["automountServiceAccountToken"], false);
    assert_eq!(spec["enableServiceLinks"], false);
    assert_eq!(spec["restartPolicy"], "Never");
    assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
    assert_eq!(spec["securityContext"]["runAsUser"], 65534);
    assert_eq!(
        spec["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(spec["runtimeClassName"], "gvisor");
    assert_eq!(spec["nodeSelector"]["pool"], "sandboxed");
    assert_eq!(spec["tolerations"][0]["key"], "sandbox");
    assert_eq!(spec["tolerations"][0]["operator"], "Exists");
    let container = &spec["containers"][0];
    let sc = &container["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["privileged"], false);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(container["resources"]["limits"]["memory"], "268435456");
    assert_eq!(container["resources"]["limits"]["cpu"], "1000m");
    assert_eq!(
        container["resources"]["requests"],
        container["resources"]["limits"]
    );
    assert_eq!(container["stdin"], true);
    assert_eq!(spec["volumes"][0]["emptyDir"]["medium"], "Memory");

    // The kubelet ran it that way.
    let id = fake.container_of(NS, &name(pod)).expect("a container");
    let host = &inspect(&id)["HostConfig"];
    assert_eq!(host["ReadonlyRootfs"], true);
    assert_eq!(host["CapDrop"], json!(["ALL"]));
    assert_eq!(host["Memory"], 268_435_456);
    assert_eq!(inspect(&id)["Config"]["User"], "65534:65534");

    // An HTTP-transport server is reached at its Pod IP.
    let web = berth.url("demo", "web");
    let w = session(&c, &web, &alice).await;
    assert_eq!(counter(&c, &web, &alice, &w).await, "1");
    let web_pod = &pods_of(&fake, "web")[0];
    assert!(
        web_pod["status"]["podIP"]
            .as_str()
            .is_some_and(|ip| !ip.is_empty())
    );
    assert!(web_pod["spec"]["containers"][0]["stdin"] == false);

    // DELETE ends the session and deletes its Pod.
    let r = end(&c, &demo, &alice, &a1).await;
    assert!(r.status().is_success());
    assert!(
        eventually(Duration::from_secs(15), || pods_of(&fake, "everything")
            .len()
            == 2)
        .await,
        "DELETE leaves the session's Pod running"
    );

    // An idle session (acme: idle_timeout 3s) is reaped with its Pod.
    let acme = berth.url("acme", "everything");
    let mallory = berth.token("mallory", "acme", &[]);
    session(&c, &acme, &mallory).await;
    assert_eq!(pods_labelled(&fake, "berth.dev/tenant", "acme").len(), 1);
    assert!(
        eventually(Duration::from_secs(20), || pods_labelled(
            &fake,
            "berth.dev/tenant",
            "acme"
        )
        .is_empty())
        .await,
        "an idle session kept its Pod"
    );
    drop(berth);
    fake.shutdown().await;
}

#[tokio::test]
async fn warm_pods_are_claimed_and_refilled() {
    let _ = tool("DOCKER_HOST");
    let fake = FakeKube::start().await;
    let berth = Berth::serve(&config(&fake, "memory", "warm_pool = 1\n"), &[]).await;
    let warm = || {
        pods_labelled(&fake, "berth.dev/session", "pool")
            .into_iter()
            .filter(|p| running(&fake, &name(p)))
            .map(|p| name(&p))
            .collect::<Vec<_>>()
    };
    assert!(
        eventually(Duration::from_secs(20), || warm().len() == 1).await,
        "no warm Pod: {:?}",
        fake.pods(NS)
    );
    let ready = warm()[0].clone();
    let c = reqwest::Client::new();
    let demo = berth.url("demo", "everything");
    let alice = berth.token("alice", "demo", &[]);
    let sid = session(&c, &demo, &alice).await;
    assert_eq!(counter(&c, &demo, &alice, &sid).await, "1");
    // The session got the warm Pod: relabelled for it, not a new one.
    let claimed = fake.pod(NS, &ready).expect("the warm Pod is still there");
    assert_ne!(claimed["metadata"]["labels"]["berth.dev/session"], "pool");
    assert!(
        eventually(Duration::from_secs(20), || warm()
            .iter()
            .any(|p| *p != ready))
        .await,
        "the pool was not refilled"
    );
    drop(berth);
    fake.shutdown().await;
}

#[tokio::test]
async fn env_secrets_reach_the_server_through_a_pod_owned_secret_never_the_spec() {
    let _ = tool("DOCKER_HOST");
    let bao = Bao::start().await;
    let role = bao.approle("berth/tenants", "1h", "4h").await;
    bao.put("berth/tenants/demo/api", json!({"key": "api-k8s-5d2e"}))
        .await;
    let fake = FakeKube::start().await;
    let extra = format!(
        "[[servers.demo.everything.secrets]]\npath = \"api\"\nkey = \"key\"\nenv = \"API_KEY\"\n{}",
        bao.config(&role)
    );
    let berth = Berth::serve(&config(&fake, "memory", &extra), &[]).await;
    let c = reqwest::Client::new();
    let demo = berth.url("demo", "everything");
    let alice = berth.token("alice", "demo", &[]);
    let sid = session(&c, &demo, &alice).await;
    let got = call(
        &c,
        &demo,
        &alice,
        &sid,
        "env_get",
        json!({"name": "API_KEY"}),
    )
    .await;
    assert_eq!(
        text(&got),
        "api-k8s-5d2e",
        "the server did not get its secret"
    );

    let pod = &pods_of(&fake, "everything")[0];
    let pod_name = name(pod);
    assert!(
        !pod.to_string().contains("api-k8s-5d2e"),
        "a secret value in the Pod object: {pod}"
    );
    let env: Vec<Value> = pod["spec"]["containers"][0]["env"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let api_key = env
        .iter()
        .find(|e| e["name"] == "API_KEY")
        .expect("API_KEY");
    let secret_name = format!("{pod_name}-env");
    assert_eq!(
        api_key["valueFrom"]["secretKeyRef"]["name"],
        secret_name.as_str()
    );
    assert!(api_key.get("value").is_none_or(Value::is_null), "{api_key}");

    // The Secret is the Pod's (deleted with it by the garbage collector).
    let secret = fake
        .secrets(NS)
        .into_iter()
        .find(|s| s["metadata"]["name"] == secret_name.as_str())
        .expect("the Pod's env Secret");
    let owner = &secret["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "Pod");
    assert_eq!(owner["name"], pod_name.as_str());
    assert_eq!(owner["uid"], pod["metadata"]["uid"]);

    // Ending the session deletes the Pod and its Secret.
    let r = end(&c, &demo, &alice, &sid).await;
    assert!(r.status().is_success());
    assert!(
        eventually(Duration::from_secs(15), || fake.secrets(NS).is_empty()
            && pods_of(&fake, "everything").is_empty())
        .await,
        "the Pod or its Secret outlived the session: {:?}",
        fake.secrets(NS)
    );
    assert!(
        !berth.log().contains("api-k8s-5d2e"),
        "the secret value was logged"
    );
    drop(berth);
    fake.shutdown().await;
}
