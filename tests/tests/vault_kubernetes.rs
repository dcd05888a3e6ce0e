//! Berth's Kubernetes login at a real OpenBao. No Kubernetes API server can
//! run here, so OpenBao's TokenReview calls go to `mock_kube_apiserver`, a
//! named mock that answers `POST /apis/authentication.k8s.io/v1/tokenreviews`
//! for one service-account token. Everything on Berth's side is real: it
//! reads the projected token file, logs in at `auth/kubernetes/login`, and
//! reads the secret with the token it got.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use base64::Engine;
use berth_tests::Berth;
use berth_tests::legacy::{call, init_reply, session};
use berth_tests::pods::text;
use berth_tests::vault::Bao;
use serde_json::{Value, json};

/// A service-account JWT as the kubelet projects it (OpenBao reads its
/// claims; the signature is the API server's business, checked through
/// TokenReview).
fn service_account_jwt(name: &str) -> String {
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        b64(json!({"alg": "RS256", "kid": "k1"})),
        b64(json!({
            "iss": "kubernetes/serviceaccount",
            "sub": format!("system:serviceaccount:berth:{name}"),
            "kubernetes.io/serviceaccount/namespace": "berth",
            "kubernetes.io/serviceaccount/service-account.name": name,
            "kubernetes.io/serviceaccount/service-account.uid": format!("uid-{name}"),
        })),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b"signature")
    )
}

/// The mock API server: authenticates exactly `valid`.
async fn mock_kube_apiserver(valid: String) -> String {
    async fn review(State(valid): State<Arc<String>>, Json(body): Json<Value>) -> Json<Value> {
        let token = body["spec"]["token"].as_str().unwrap_or_default();
        let status = if token == valid.as_str() {
            json!({"authenticated": true, "user": {
                "username": "system:serviceaccount:berth:berth",
                "uid": "uid-berth",
                "groups": ["system:serviceaccounts", "system:serviceaccounts:berth"],
            }})
        } else {
            json!({"authenticated": false, "error": "invalid bearer token"})
        };
        Json(json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "status": status,
        }))
    }
    let app = axum::Router::new()
        .route("/apis/authentication.k8s.io/v1/tokenreviews", post(review))
        .with_state(Arc::new(valid));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn berth_logs_in_with_its_kubernetes_service_account() {
    let bao = Bao::start().await;
    let good = service_account_jwt("berth");
    let kube = mock_kube_apiserver(good.clone()).await;
    bao.api(
        "POST",
        "sys/auth/kubernetes",
        Some(json!({"type": "kubernetes"})),
    )
    .await;
    bao.api(
        "POST",
        "auth/kubernetes/config",
        // The CA is required by OpenBao but unused: the mock speaks http.
        Some(json!({
            "kubernetes_host": kube,
            "disable_local_ca_jwt": true,
            "kubernetes_ca_cert": std::fs::read_to_string(
                berth_tests::workspace_root().join("tests/fixtures/mock-kube-ca.pem"),
            )
            .unwrap(),
        })),
    )
    .await;
    bao.read_policy("berth/tenants").await;
    bao.api(
        "POST",
        "auth/kubernetes/role/berth",
        Some(json!({
            "bound_service_account_names": ["berth"],
            "bound_service_account_namespaces": ["berth"],
            "token_policies": ["berth-read"],
            "token_ttl": "1h",
        })),
    )
    .await;
    bao.put("berth/tenants/acme/api", json!({"key": "k8s-read-2b9e"}))
        .await;

    let dir = tempfile::tempdir().unwrap();
    let serve = |name: &str, token: &str| {
        let file = dir.path().join(name);
        std::fs::write(&file, token).unwrap();
        format!(
            r#"
listen = "127.0.0.1:0"
state_dir = "{{state_dir}}"
[vault]
address = "{address}"
auth = "kubernetes"
role = "berth"
jwt_file = "{file}"
timeout = "2s"
[servers.acme.shared]
command = ["{{berth_bin}}", "example-server"]
[[servers.acme.shared.secrets]]
path = "api"
key = "key"
env = "API_KEY"
"#,
            address = bao.address,
            file = file.display()
        )
    };
    let berth = Berth::serve(&serve("berth", &good), &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("acme", "shared");
    let alice = berth.token("alice", "acme", &[]);
    let sid = session(&c, &url, &alice).await;
    let got = call(
        &c,
        &url,
        &alice,
        &sid,
        "env_get",
        json!({"name": "API_KEY"}),
    )
    .await;
    assert_eq!(text(&got), "k8s-read-2b9e");
    let log = berth.log();
    let login = log.lines().find(|l| l.contains("logged in to Vault"));
    assert!(login.is_some_and(|l| l.contains("kubernetes")), "{log}");

    // Another service account (the API server does not vouch for it):
    // no login, so calls needing a secret fail with a clear error.
    let stranger = Berth::serve(&serve("intruder", &service_account_jwt("intruder")), &[]).await;
    let url = stranger.url("acme", "shared");
    let token = stranger.token("alice", "acme", &[]);
    let reply = init_reply(&c, &url, &token).await;
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("kubernetes login failed"), "{reply}");
    assert!(!message.contains("k8s-read-2b9e"));
}
