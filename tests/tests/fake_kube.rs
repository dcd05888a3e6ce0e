//! The FAKE Kubernetes API server + kubelet (`berth_tests::fake_kube`, a
//! test double for kube-apiserver + kubelet, which cannot be installed on
//! these machines), driven by the real `kube` client against the test
//! dockerd: hardened pods with secret env, watches, attach round trips
//! and re-attach, selectors, patches, deletion with garbage collection.
//! Refusals, an outage, ErrImagePull, held pods and exits are in the
//! `faults` module (`fake_kube/faults.rs`).

#[path = "fake_kube/faults.rs"]
mod faults;
#[path = "fake_kube/support.rs"]
mod support;

use std::time::Duration;

use berth_tests::docker::{containers, inspect};
use berth_tests::fake_kube::{FakeKube, NETWORK};
use futures::TryStreamExt;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::ResourceExt;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use serde_json::json;

use support::{
    INIT, LIMIT, api_error, attach, client, image_id, json_of, phase, pod, secret_json,
    waiting_reason, watch_until,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardened_pod_with_secret_env_attach_list_patch_delete() {
    let fake = FakeKube::start().await;
    let c = client(&fake);
    let ns = "fk-one";
    let pods: Api<Pod> = Api::namespaced(c.clone(), ns);
    let secrets: Api<Secret> = Api::namespaced(c.clone(), ns);
    // Pinned by image id, as Berth pins images.
    let pinned = format!("berth/example-server@{}", image_id("berth/example-server"));
    let env = json!([
        {"name": "PLAIN", "value": "plain"},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "one-env", "key": "token"}}}
    ]);
    let created = pods
        .create(&PostParams::default(), &pod("one", &pinned, "a", env))
        .await
        .expect("create pod");
    let created = json_of(&created);
    assert_eq!(phase(&created), "Pending");
    let uid = created["metadata"]["uid"].as_str().unwrap().to_owned();
    assert!(!uid.is_empty());
    assert!(created["metadata"]["resourceVersion"].is_string());
    assert!(created["metadata"]["creationTimestamp"].is_string());

    // The Secret does not exist yet: the kubelet waits and says why.
    let p = watch_until(&fake, &pods, ns, "one", "CreateContainerConfigError", |p| {
        waiting_reason(p) == "CreateContainerConfigError"
    })
    .await;
    assert_eq!(
        p["status"]["containerStatuses"][0]["state"]["waiting"]["message"],
        "secret \"one-env\" not found"
    );
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "one-env", "labels": {"app": "fake-test"},
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "one", "uid": uid}]},
        "type": "Opaque",
        "stringData": {"token": "s3cret"}
    }))
    .unwrap();
    let stored = secret_json(
        &secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap(),
    );
    assert_eq!(stored["data"]["token"], "czNjcmV0");
    assert!(stored.get("stringData").is_none());
    let duplicate = secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap_err();
    let status = api_error(duplicate);
    assert_eq!(
        (status.code, status.reason.as_str()),
        (409, "AlreadyExists")
    );
    assert_eq!(status.message, "secrets \"one-env\" already exists");

    let running = watch_until(&fake, &pods, ns, "one", "Running", |p| {
        phase(p) == "Running"
    })
    .await;
    let cs = &running["status"]["containerStatuses"][0];
    assert_eq!(cs["ready"], true);
    assert_eq!(cs["started"], true);
    assert_eq!(cs["restartCount"], 0);
    assert_eq!(cs["name"], "server");
    assert_eq!(cs["image"], pinned.as_str());
    assert_eq!(cs["imageID"], image_id("berth/example-server").as_str());
    assert!(cs["state"]["running"]["startedAt"].is_string());
    let ready = running["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .cloned()
        .unwrap();
    assert_eq!(ready["status"], "True");
    let id = fake.container_of(ns, "one").expect("a container");
    assert_eq!(cs["containerID"], format!("docker://{id}").as_str());

    // The container is what the pod asked for.
    let info = inspect(&id);
    assert_eq!(info["Config"]["User"], "65534:65534");
    assert_eq!(info["HostConfig"]["ReadonlyRootfs"], true);
    assert_eq!(info["HostConfig"]["CapDrop"], json!(["ALL"]));
    assert_eq!(info["HostConfig"]["Memory"], 268_435_456);
    assert_eq!(info["HostConfig"]["NanoCpus"], 500_000_000);
    assert_eq!(
        info["HostConfig"]["SecurityOpt"],
        json!(["no-new-privileges:true"])
    );
    assert!(
        info["HostConfig"]["Tmpfs"]["/tmp"]
            .as_str()
            .unwrap()
            .contains("size=16777216")
    );
    assert_eq!(info["Config"]["OpenStdin"], true);
    assert_eq!(info["Config"]["StdinOnce"], false);
    assert_eq!(info["Config"]["Tty"], false);
    let env: Vec<String> = serde_json::from_value(info["Config"]["Env"].clone()).unwrap();
    assert!(env.contains(&"TOKEN=s3cret".to_owned()), "{env:?}");
    assert!(env.contains(&"PLAIN=plain".to_owned()), "{env:?}");
    assert_eq!(info["Config"]["Labels"]["fake-kube.pod"], "fk-one/one");
    assert_eq!(
        info["NetworkSettings"]["Networks"][NETWORK]["IPAddress"],
        running["status"]["podIP"]
    );
    assert!(!phase(&running).is_empty());

    // Attach: an MCP round trip over the pod's stdio, the env from the Secret.
    let mut s = attach(&pods, "one").await;
    let init = s.call(INIT).await;
    assert!(init["result"]["serverInfo"]["name"].is_string(), "{init}");
    s.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .await;
    assert_eq!(
        s.tool(2, "env_get", json!({"name": "TOKEN"})).await,
        "s3cret"
    );
    assert_eq!(s.tool(3, "counter_increment", json!({})).await, "1");
    // Detach; the container keeps running; a second attach reaches the
    // same process.
    drop(s);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(inspect(&id)["State"]["Running"], true);
    let mut s = attach(&pods, "one").await;
    assert_eq!(s.tool(4, "counter_get", json!({})).await, "1");
    assert_eq!(fake.container_of(ns, "one").as_deref(), Some(id.as_str()));
    drop(s);

    // Selectors.
    pods.create(
        &PostParams::default(),
        &pod("two", "berth/example-server", "b", json!([])),
    )
    .await
    .unwrap();
    let names = |l: kube::core::ObjectList<Pod>| {
        let mut n: Vec<String> = l.items.iter().map(|p| p.name_any()).collect();
        n.sort();
        n
    };
    let lp = |s: &str| ListParams::default().labels(s);
    assert_eq!(
        names(pods.list(&lp("app=fake-test")).await.unwrap()),
        ["one", "two"]
    );
    assert_eq!(
        names(pods.list(&lp("app=fake-test,tier==a")).await.unwrap()),
        ["one"]
    );
    assert_eq!(names(pods.list(&lp("tier!=a")).await.unwrap()), ["two"]);
    assert_eq!(
        names(pods.list(&lp("!tier")).await.unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(
        names(
            pods.list(&ListParams::default().fields("metadata.name=two"))
                .await
                .unwrap()
        ),
        ["two"]
    );
    let other_ns: Api<Pod> = Api::namespaced(c.clone(), "fk-elsewhere");
    assert!(
        other_ns
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // Patches: a Secret's data and labels, a Pod's labels.
    let patched = secrets
        .patch(
            "one-env",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"extra": "yes"}},
                                 "stringData": {"more": "x"}})),
        )
        .await
        .unwrap();
    let patched = secret_json(&patched);
    assert_eq!(patched["data"]["more"], "eA==");
    assert_eq!(patched["data"]["token"], "czNjcmV0");
    assert_eq!(patched["metadata"]["labels"]["extra"], "yes");
    let labelled = pods
        .patch(
            "two",
            &PatchParams::default(),
            &Patch::Strategic(json!({"metadata": {"labels": {"tier": "c"}}})),
        )
        .await
        .unwrap();
    assert_eq!(labelled.labels()["tier"], "c");
    let spec_change = pods
        .patch(
            "two",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"containers": [{"name": "server", "image": "x"}]}})),
        )
        .await
        .unwrap_err();
    assert_eq!(api_error(spec_change).code, 422);

    // Delete: the pod answers with a deletionTimestamp, the watch sees it
    // go, the container is removed and the owned Secret collected.
    let rv = pods.get("one").await.unwrap().resource_version().unwrap();
    let wp = WatchParams::default()
        .fields("metadata.name=one")
        .timeout(30);
    let mut events = Box::pin(pods.watch(&wp, &rv).await.unwrap());
    let dp = DeleteParams {
        grace_period_seconds: Some(1),
        ..DeleteParams::default()
    };
    let answer = pods.delete("one", &dp).await.unwrap();
    let deleted = answer.left().expect("the pod, not a Status");
    assert!(deleted.metadata.deletion_timestamp.is_some());
    let gone = tokio::time::timeout(LIMIT, async {
        while let Some(e) = events.try_next().await.unwrap() {
            if let WatchEvent::Deleted(p) = e {
                return p;
            }
        }
        panic!("the watch ended before DELETED");
    })
    .await
    .expect("DELETED in time");
    assert_eq!(gone.uid().as_deref(), Some(uid.as_str()));
    assert!(containers(&["fake-kube.pod=fk-one/one"]).is_empty());
    let missing = api_error(secrets.get("one-env").await.unwrap_err());
    assert_eq!(missing.code, 404);
    assert_eq!(missing.message, "secrets \"one-env\" not found");
    let missing = api_error(pods.get("one").await.unwrap_err());
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
    assert_eq!(missing.message, "pods \"one\" not found");

    fake.shutdown().await;
    assert!(containers(&["fake-kube.pod=fk-one/two"]).is_empty());
}
