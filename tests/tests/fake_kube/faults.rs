//! The FAKE Kubernetes API server + kubelet when things go wrong:
//! refusals, an outage, ErrImagePull, held pods, exits. A module of the
//! `fake_kube` test binary (one binary: the kube client's generic code is
//! compiled once for both halves).

use std::time::Duration;

use berth_tests::docker::{docker, inspect};
use berth_tests::fake_kube::{FakeKube, Refusal};
use futures::TryStreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, AttachParams, DeleteParams, PostParams, WatchEvent, WatchParams};
use serde_json::{Value, json};

use crate::support::{
    INIT, LIMIT, api_error, attach, client, json_of, phase, pod, waiting_reason, watch_until,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_an_outage() {
    let fake = FakeKube::start().await;
    let ns = "fk-two";
    let pods: Api<Pod> = Api::namespaced(client(&fake), ns);

    fake.refuse(Refusal::rbac("create", "pods"));
    let err = api_error(
        pods.create(
            &PostParams::default(),
            &pod("p", "berth/example-server", "a", json!([])),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        err.message,
        "pods is forbidden: User \"system:serviceaccount:berth:berth\" cannot create resource \"pods\" in API group \"\" in the namespace \"fk-two\""
    );
    fake.clear_refusals();

    fake.refuse(Refusal::quota().times(1));
    let mut generated = pod("ignored", "berth/example-server", "a", json!([]));
    generated.metadata.name = None;
    generated.metadata.generate_name = Some("berth-".into());
    let err = api_error(
        pods.create(&PostParams::default(), &generated)
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 403);
    assert!(
        err.message.starts_with("pods \"berth-")
            && err.message.ends_with(
                "\" is forbidden: exceeded quota: berth-sessions, requested: pods=1, used: pods=2, limited: pods=2"
            ),
        "{}",
        err.message
    );
    // Used up: the next create goes through, with a generated name.
    let p = pods
        .create(&PostParams::default(), &generated)
        .await
        .unwrap();
    let name = p.name_any();
    assert!(name.starts_with("berth-") && name.len() == 11, "{name}");
    watch_until(&fake, &pods, ns, &name, "Running", |p| {
        phase(p) == "Running"
    })
    .await;

    fake.refuse(Refusal::rbac("create", "pods/attach"));
    let ap = AttachParams::default().stdin(true).stderr(false);
    let err = api_error(pods.attach(&name, &ap).await.err().expect("refused"));
    assert_eq!(err.code, 403);
    assert_eq!(
        err.message,
        format!(
            "pods \"{name}\" is forbidden: User \"system:serviceaccount:berth:berth\" cannot create resource \"pods/attach\" in API group \"\" in the namespace \"fk-two\""
        )
    );
    fake.clear_refusals();
    // kube retries 503 (and 429, 504) by itself: two refusals go unseen.
    fake.refuse(Refusal::unavailable("get", "pods").times(2));
    pods.get(&name).await.expect("retried through two 503s");
    let gets = fake
        .requests()
        .iter()
        .filter(|r| **r == format!("GET /api/v1/namespaces/fk-two/pods/{name}"))
        .count();
    assert_eq!(gets, 3);
    fake.refuse(
        Refusal::status(
            "GET",
            "pods",
            500,
            "InternalError",
            "etcd lost {name} in {ns}",
        )
        .times(1),
    );
    let err = api_error(pods.get(&name).await.unwrap_err());
    assert_eq!(
        (err.code, err.reason.as_str(), err.message.as_str()),
        (
            500,
            "InternalError",
            format!("etcd lost {name} in fk-two").as_str()
        )
    );
    fake.refuse(Refusal::conflict("delete", "pods").times(1));
    let err = api_error(
        pods.delete(&name, &DeleteParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 409);
    assert_eq!(
        err.message,
        format!(
            "Operation cannot be fulfilled on pods \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
        )
    );
    assert!(fake.pod(ns, &name).is_some());

    // An outage cuts the open watch and attach socket; the container runs on.
    let mut s = attach(&pods, &name).await;
    assert!(s.call(INIT).await["result"].is_object());
    let wp = WatchParams::default().fields(&format!("metadata.name={name}"));
    let mut events = Box::pin(pods.watch(&wp, "0").await.unwrap());
    assert!(matches!(
        events.try_next().await,
        Ok(Some(WatchEvent::Added(_)))
    ));
    let status = s.process.take_status().expect("the status future");
    fake.set_down(true);
    let watch_end = tokio::time::timeout(LIMIT, events.try_next()).await;
    assert!(
        matches!(watch_end, Ok(Ok(None) | Err(_))),
        "the watch was not cut"
    );
    // kube ends its attach task on the broken socket (the stdout reader
    // is not closed then: kube shuts it down only on a clean close), and
    // drops the status sender.
    let ended = tokio::time::timeout(LIMIT, status).await;
    assert!(
        matches!(ended, Ok(None)),
        "the attach socket was not cut: {ended:?}"
    );
    match pods.get(&name).await {
        Err(kube::Error::Api(s)) => panic!("an answer during the outage: {s:?}"),
        Err(_) => {}
        Ok(_) => panic!("an answer during the outage"),
    }
    let id = fake.container_of(ns, &name).unwrap();
    assert_eq!(inspect(&id)["State"]["Running"], true);
    fake.set_down(false);
    let back = pods.get(&name).await.expect("the API is back");
    assert_eq!(json_of(&back)["status"]["phase"], "Running");
    let mut s = attach(&pods, &name).await;
    let pong = s.call(r#"{"jsonrpc":"2.0","id":9,"method":"ping"}"#).await;
    assert!(pong["result"].is_object(), "{pong}");
    assert!(fake.requests().iter().any(|r| r.starts_with(&format!(
        "GET /api/v1/namespaces/fk-two/pods/{name}/attach?"
    ))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_the_engine_lacks_and_held_pods() {
    let fake = FakeKube::start().await;
    let ns = "fk-three";
    let pods: Api<Pod> = Api::namespaced(client(&fake), ns);

    pods.create(
        &PostParams::default(),
        &pod("noimage", "berth/never-built:nope", "a", json!([])),
    )
    .await
    .unwrap();
    let p = watch_until(&fake, &pods, ns, "noimage", "ErrImagePull", |p| {
        waiting_reason(p) == "ErrImagePull"
    })
    .await;
    let message = p["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("berth/never-built:nope"), "{message}");
    assert_eq!(phase(&p), "Pending");
    let p = watch_until(&fake, &pods, ns, "noimage", "ImagePullBackOff", |p| {
        waiting_reason(p) == "ImagePullBackOff"
    })
    .await;
    assert_eq!(
        p["status"]["containerStatuses"][0]["state"]["waiting"]["message"],
        "Back-off pulling image \"berth/never-built:nope\""
    );
    assert_eq!(fake.container_of(ns, "noimage"), None);

    fake.hold_pending(true);
    pods.create(
        &PostParams::default(),
        &pod("held", "berth/example-server-http", "a", json!([])),
    )
    .await
    .unwrap();
    let p = watch_until(&fake, &pods, ns, "held", "Unschedulable", |p| {
        p["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["reason"] == "Unschedulable"))
    })
    .await;
    assert_eq!(phase(&p), "Pending");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let p = fake.pod(ns, "held").unwrap();
    assert_eq!(phase(&p), "Pending");
    assert!(p["spec"]["nodeName"].is_null());
    assert_eq!(fake.container_of(ns, "held"), None);
    let err = api_error(
        pods.attach("held", &AttachParams::default().stdin(true).stderr(false))
            .await
            .err()
            .expect("not running"),
    );
    assert_eq!((err.code, err.reason.as_str()), (400, "BadRequest"));
    // Released, it runs, and its IP is reachable from the host.
    fake.hold_pending(false);
    let p = watch_until(&fake, &pods, ns, "held", "Running", |p| {
        phase(p) == "Running"
    })
    .await;
    let ip = p["status"]["podIP"].as_str().unwrap().to_owned();
    let http = reqwest::Client::new();
    let url = format!("http://{ip}:8080/mcp");
    let answered = tokio::time::timeout(LIMIT, async {
        loop {
            let r = http
                .post(&url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .body(INIT)
                .send()
                .await;
            if let Ok(r) = r {
                return r.status();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the pod's server answers at its IP");
    assert_eq!(answered, 200);

    // A streaming list: an ADDED per pod, then the bookmark that ends them.
    let mut events = Box::pin(
        pods.watch(&WatchParams::streaming_lists(), "")
            .await
            .unwrap(),
    );
    let mut added = Vec::new();
    let bookmark = loop {
        match tokio::time::timeout(LIMIT, events.try_next()).await {
            Ok(Ok(Some(WatchEvent::Added(p)))) => added.push(p.name_any()),
            Ok(Ok(Some(WatchEvent::Bookmark(b)))) => break b,
            other => panic!("unexpected {other:?}"),
        }
    };
    added.sort();
    assert_eq!(added, ["held", "noimage"]);
    assert_eq!(
        bookmark
            .metadata
            .annotations
            .get("k8s.io/initial-events-end"),
        Some(&"true".to_owned())
    );
    assert!(bookmark.metadata.resource_version.parse::<u64>().is_ok());

    // Errors are Status objects with the real shapes.
    let dup = api_error(
        pods.create(
            &PostParams::default(),
            &pod("held", "berth/example-server", "a", json!([])),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!((dup.code, dup.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(dup.message, "pods \"held\" already exists");
    let err = api_error(
        pods.attach("nope", &AttachParams::default().stdin(true).stderr(false))
            .await
            .err()
            .expect("no such pod"),
    );
    assert_eq!(err.code, 404);
    let raw = reqwest::Client::new();
    let bad = raw
        .post(format!("{}/api/v1/namespaces/{ns}/pods", fake.url()))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(
        (
            body["kind"].as_str(),
            body["reason"].as_str(),
            body["code"].as_u64()
        ),
        (Some("Status"), Some("BadRequest"), Some(400))
    );
    let unknown = raw
        .get(format!("{}/api/v1/namespaces/{ns}/configmaps", fake.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let json_patch = raw
        .patch(format!("{}/api/v1/namespaces/{ns}/pods/held", fake.url()))
        .header("content-type", "application/json-patch+json")
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(json_patch.status(), 415);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exits_are_reported_on_the_pod_and_the_attach() {
    let fake = FakeKube::start().await;
    let ns = "fk-four";
    let pods: Api<Pod> = Api::namespaced(client(&fake), ns);

    // Killed while attached: the attach gets a Failure Status with the
    // exit code, the pod fails.
    pods.create(
        &PostParams::default(),
        &pod("killed", "berth/example-server", "a", json!([])),
    )
    .await
    .unwrap();
    watch_until(&fake, &pods, ns, "killed", "Running", |p| {
        phase(p) == "Running"
    })
    .await;
    let ap = AttachParams::default().stdin(true).stderr(false);
    let mut process = pods.attach("killed", &ap).await.unwrap();
    let status = process.take_status().unwrap();
    let id = fake.container_of(ns, "killed").unwrap();
    docker(&["kill", &id]);
    let status = tokio::time::timeout(LIMIT, status)
        .await
        .expect("a status in time")
        .expect("a status");
    assert_eq!(status.status.as_deref(), Some("Failure"));
    assert_eq!(status.reason.as_deref(), Some("NonZeroExitCode"));
    let causes = status.details.unwrap().causes.unwrap();
    assert_eq!(causes[0].reason.as_deref(), Some("ExitCode"));
    assert_eq!(causes[0].message.as_deref(), Some("137"));
    let p = watch_until(&fake, &pods, ns, "killed", "Failed", |p| {
        phase(p) == "Failed"
    })
    .await;
    let t = &p["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(
        (t["exitCode"].as_i64(), t["reason"].as_str()),
        (Some(137), Some("Error"))
    );
    assert_eq!(p["status"]["containerStatuses"][0]["ready"], false);

    // stdinOnce: the first attach closing its stdin ends the server's
    // input; it exits 0 and the pod succeeds.
    let mut once = pod("once", "berth/example-server", "a", json!([]));
    let mut v = json_of(&once);
    v["spec"]["containers"][0]["stdinOnce"] = json!(true);
    once = serde_json::from_value(v).unwrap();
    pods.create(&PostParams::default(), &once).await.unwrap();
    watch_until(&fake, &pods, ns, "once", "Running", |p| {
        phase(p) == "Running"
    })
    .await;
    let mut s = attach(&pods, "once").await;
    assert!(s.call(INIT).await["result"].is_object());
    drop(s);
    let p = watch_until(&fake, &pods, ns, "once", "Succeeded", |p| {
        matches!(phase(p), "Succeeded" | "Failed")
    })
    .await;
    let t = &p["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(
        (phase(&p), t["exitCode"].as_i64(), t["reason"].as_str()),
        ("Succeeded", Some(0), Some("Completed"))
    );
    let err = api_error(pods.attach("once", &ap).await.err().expect("not running"));
    assert_eq!(err.code, 400);
    assert_eq!(
        err.message,
        "container \"server\" in pod \"once\" is not running"
    );
}
