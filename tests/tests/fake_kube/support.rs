//! Helpers for the fake Kubernetes tests (`tests/tests/fake_kube.rs`):
//! a kube client for the fake, a hardened pod, watching a pod until a
//! condition holds, attached stdio sessions speaking JSON-RPC lines.

use std::time::Duration;

use berth_tests::docker::docker;
use berth_tests::fake_kube::FakeKube;
use futures::TryStreamExt;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::Client;
use kube::api::{Api, AttachParams, AttachedProcess, WatchEvent, WatchParams};
use serde_json::{Value, json};
use tokio::io::{
    AsyncBufReadExt, AsyncWriteExt, BufReader, Lines, ReadHalf, SimplexStream, WriteHalf,
};

/// An MCP initialize request line.
pub(crate) const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

/// How long any one wait may take.
pub(crate) const LIMIT: Duration = Duration::from_secs(20);

/// A kube client for the fake (plain HTTP, no auth).
pub(crate) fn client(fake: &FakeKube) -> Client {
    let config = kube::Config::new(fake.url().parse().expect("fake url"));
    Client::try_from(config).expect("kube client")
}

/// A Pod as JSON.
pub(crate) fn json_of(pod: &Pod) -> Value {
    serde_json::to_value(pod).expect("serializable")
}

/// A Secret as JSON.
pub(crate) fn secret_json(secret: &Secret) -> Value {
    serde_json::to_value(secret).expect("serializable")
}

/// A pod hardened as the Berth backend makes them, running `image`.
pub(crate) fn pod(name: &str, image: &str, tier: &str, env: Value) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "fake-test", "tier": tier}},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": false,
            "runtimeClassName": "gvisor",
            "nodeSelector": {"sandbox": "gvisor"},
            "tolerations": [{"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"}],
            "terminationGracePeriodSeconds": 2,
            "securityContext": {"runAsUser": 65534, "runAsGroup": 65534, "runAsNonRoot": true,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "volumes": [{"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}}],
            "containers": [{
                "name": "server",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "stdin": true, "stdinOnce": false, "tty": false,
                "env": env,
                "securityContext": {"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false,
                                    "capabilities": {"drop": ["ALL"]}},
                "resources": {"limits": {"memory": "256Mi", "cpu": "500m"}},
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]
            }]
        }
    }))
    .expect("a Pod")
}

/// Watches pod `name` until `cond` holds for it (panics after [`LIMIT`]).
pub(crate) async fn watch_until(
    fake: &FakeKube,
    api: &Api<Pod>,
    ns: &str,
    name: &str,
    what: &str,
    cond: impl Fn(&Value) -> bool,
) -> Value {
    let wp = WatchParams::default()
        .fields(&format!("metadata.name={name}"))
        .timeout(30);
    let stream = api.watch(&wp, "0").await.expect("watch");
    let mut stream = Box::pin(stream);
    let found = tokio::time::timeout(LIMIT, async {
        while let Some(event) = stream.try_next().await.expect("a watch event") {
            match event {
                WatchEvent::Added(p) | WatchEvent::Modified(p) if cond(&json_of(&p)) => {
                    return Some(json_of(&p));
                }
                WatchEvent::Error(e) => panic!("watch error {e:?}"),
                _ => {}
            }
        }
        None
    })
    .await;
    found.ok().flatten().unwrap_or_else(|| {
        panic!(
            "pod {name} never got {what}; it is {:#}",
            fake.pod(ns, name).unwrap_or(Value::Null)
        )
    })
}

/// `status.phase`.
pub(crate) fn phase(p: &Value) -> &str {
    p["status"]["phase"].as_str().unwrap_or("")
}

/// The container's `state.waiting.reason`.
pub(crate) fn waiting_reason(p: &Value) -> &str {
    p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
        .as_str()
        .unwrap_or("")
}

/// An attached stdio session.
pub(crate) struct Session {
    pub(crate) process: AttachedProcess,
    pub(crate) stdin: WriteHalf<SimplexStream>,
    pub(crate) stdout: Lines<BufReader<ReadHalf<SimplexStream>>>,
}

/// Attaches to the pod's stdin and stdout.
pub(crate) async fn attach(api: &Api<Pod>, name: &str) -> Session {
    let ap = AttachParams::default()
        .stdin(true)
        .stdout(true)
        .stderr(false);
    let mut process = api.attach(name, &ap).await.expect("attach");
    let stdin = process.stdin().expect("stdin");
    let stdout = BufReader::new(process.stdout().expect("stdout")).lines();
    Session {
        process,
        stdin,
        stdout,
    }
}

impl Session {
    pub(crate) async fn send(&mut self, line: &str) {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("write stdin");
    }

    /// Sends a request and reads lines up to its answer.
    pub(crate) async fn call(&mut self, line: &str) -> Value {
        self.send(line).await;
        let id = serde_json::from_str::<Value>(line).expect("json")["id"].clone();
        tokio::time::timeout(LIMIT, async {
            loop {
                let text = self
                    .stdout
                    .next_line()
                    .await
                    .expect("read stdout")
                    .expect("an answer before the stream ends");
                let msg: Value = serde_json::from_str(&text).expect("a JSON line");
                if msg["id"] == id {
                    return msg;
                }
            }
        })
        .await
        .expect("an answer in time")
    }

    pub(crate) async fn tool(&mut self, id: u32, name: &str, args: Value) -> String {
        let line = json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
                          "params":{"name":name,"arguments":args}});
        let answer = self.call(&line.to_string()).await;
        answer["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("tool {name} answered {answer}"))
            .to_owned()
    }
}

/// The image id of a local image (`sha256:…`).
pub(crate) fn image_id(image: &str) -> String {
    docker(&["image", "inspect", "--format", "{{.Id}}", image])
        .trim()
        .to_owned()
}

/// The Status of an API error (panics on any other error).
pub(crate) fn api_error(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected a Status error, got {other:?}"),
    }
}
