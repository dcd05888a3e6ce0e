//! Secrets delivered as headers to HTTP-transport servers in containers:
//! read from a real OpenBao before every request, so a rotation reaches
//! the very next call, and never part of the container (`docker
//! inspect`), Berth's log or its errors. Needs the dockerd and images
//! `scripts/test` provides.

use berth_tests::Berth;
use berth_tests::docker::{containers, inspect, pod_of};
use berth_tests::legacy::{call, init_reply, session};
use berth_tests::pods::signal;
use berth_tests::vault::Bao;
use serde_json::{Value, json};

/// The headers the server saw on the request that carried this call.
async fn seen(c: &reqwest::Client, url: &str, token: &str, sid: &str) -> Vec<(String, String)> {
    let reply = call(c, url, token, sid, "request_headers", json!({})).await;
    let headers = &reply["result"]["structuredContent"]["headers"];
    headers
        .as_array()
        .unwrap_or_else(|| panic!("no headers in {reply}"))
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap().to_ascii_lowercase(),
                pair[1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn a_header_secret_is_read_for_every_call_and_stays_out_of_the_container() {
    let bao = Bao::start().await;
    let role = bao.approle("berth/tenants", "1h", "4h").await;
    bao.put("berth/tenants/acme/weather", json!({"key": "wx-v1-8c1d"}))
        .await;
    bao.put(
        "berth/tenants/acme/crm/alice",
        json!({"token": "crm-alice-4e0b"}),
    )
    .await;
    let config = format!(
        r#"
listen = "127.0.0.1:0"
state_dir = "{{state_dir}}"
backend = "docker"
[docker]
internal_network = "berth-test-vault"
{vault}
[servers.acme.web]
image = "berth/example-server-http"
transport = "http"
[[servers.acme.web.secrets]]
path = "weather"
key = "key"
header = "X-Api-Key"
[[servers.acme.web.secrets]]
path = "crm/{{subject}}"
key = "token"
header = "Authorization"
value_prefix = "Bearer "
"#,
        vault = bao.config(&role)
    );
    let berth = Berth::serve(&config, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("acme", "web");
    let alice = berth.token("alice", "acme", &[]);
    let sid = session(&c, &url, &alice).await;

    let first = seen(&c, &url, &alice, &sid).await;
    assert_eq!(header(&first, "x-api-key"), Some("wx-v1-8c1d"));
    // The backend's Authorization is the deployment's per-user secret,
    // never the agent's token.
    assert_eq!(
        header(&first, "authorization"),
        Some("Bearer crm-alice-4e0b")
    );
    assert!(first.iter().all(|(_, v)| !v.contains(&alice)), "{first:?}");

    // Rotated in Vault between two calls: the second call carries it, in
    // the same container.
    bao.put("berth/tenants/acme/weather", json!({"key": "wx-v2-f7a3"}))
        .await;
    let second = seen(&c, &url, &alice, &sid).await;
    assert_eq!(header(&second, "x-api-key"), Some("wx-v2-f7a3"));

    // Bob has no CRM token: his very first request (initialize) needs the
    // headers and fails with a clear error naming the missing path.
    let bob = berth.token("bob", "acme", &[]);
    let reply = init_reply(&c, &url, &bob).await;
    let refused = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(refused.contains("berth/tenants/acme/crm/bob"), "{reply}");

    // Vault paused: calls that need the secret fail with an error naming
    // Vault, and work again once it is back.
    signal(bao.pid(), "-STOP");
    let reply = call(&c, &url, &alice, &sid, "request_headers", json!({})).await;
    signal(bao.pid(), "-CONT");
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("Vault"), "{reply}");
    let third = seen(&c, &url, &alice, &sid).await;
    assert_eq!(header(&third, "x-api-key"), Some("wx-v2-f7a3"));

    // Nothing of the secrets in the container's config or Berth's log.
    let pod = pod_of(&berth);
    let ids = containers(&[&format!("berth.pod={pod}"), "berth.server=web"]);
    assert!(!ids.is_empty());
    let log = berth.log();
    for id in &ids {
        let config: Value = inspect(id);
        let text = config.to_string();
        for value in ["wx-v1-8c1d", "wx-v2-f7a3", "crm-alice-4e0b"] {
            assert!(!text.contains(value), "docker inspect shows {value}");
            assert!(!log.contains(value), "the log shows {value}");
            assert!(!message.contains(value));
        }
    }
}
