//! Secrets from a real OpenBao (Vault API) at call time: env secrets read
//! when an instance starts, per-user paths, rotation, Berth's own AppRole
//! login and its renewal, tenant-prefix confinement, Vault down, and
//! that no value leaks into Redis, logs or error messages. Header
//! delivery to HTTP backends is in `vault_headers.rs` (needs dockerd).

use std::time::Duration;

use berth_tests::Berth;
use berth_tests::legacy::{call, init_reply, session};
use berth_tests::pods::{signal, text};
use berth_tests::redis::RedisServer;
use berth_tests::vault::{AppRole, Bao};
use serde_json::{Value, json};

/// Tenant `acme`: `shared` reads one API key, `personal` each user's own
/// token, `plain` needs no secret; all run the example server.
fn config(bao: &Bao, role: &AppRole, store: &str) -> String {
    format!(
        r#"
listen = "127.0.0.1:0"
state_dir = "{{state_dir}}"
[store]
url = "{store}"
{vault}
[servers.acme.shared]
command = ["{{berth_bin}}", "example-server"]
[[servers.acme.shared.secrets]]
path = "api"
key = "key"
env = "API_KEY"
[servers.acme.personal]
command = ["{{berth_bin}}", "example-server"]
[[servers.acme.personal.secrets]]
path = "github/{{subject}}"
key = "token"
env = "GITHUB_TOKEN"
[servers.acme.plain]
command = ["{{berth_bin}}", "example-server"]
"#,
        vault = bao.config(role),
    )
}

async fn env_of(c: &reqwest::Client, url: &str, token: &str, sid: &str, name: &str) -> String {
    text(&call(c, url, token, sid, "env_get", json!({ "name": name })).await)
}

/// The JSON-RPC error of a failed `initialize`.
async fn init_error(c: &reqwest::Client, url: &str, token: &str) -> Value {
    let reply = init_reply(c, url, token).await;
    assert!(reply.get("error").is_some(), "expected an error: {reply}");
    reply["error"].clone()
}

#[tokio::test]
async fn env_secrets_are_read_at_instance_start_per_user_and_never_leak() {
    let bao = Bao::start().await;
    let role = bao.approle("berth/tenants", "1h", "4h").await;
    bao.put("berth/tenants/acme/api", json!({"key": "api-v1-6b1f"}))
        .await;
    bao.put(
        "berth/tenants/acme/github/alice",
        json!({"token": "gh-alice-93ad"}),
    )
    .await;
    bao.put(
        "berth/tenants/acme/github/bob",
        json!({"token": "gh-bob-1c70"}),
    )
    .await;
    let redis = RedisServer::start();
    let berth = Berth::serve(&config(&bao, &role, &redis.url()), &[]).await;
    let c = reqwest::Client::new();
    let alice = berth.token("alice", "acme", &[]);
    let bob = berth.token("bob", "acme", &[]);

    let shared = berth.url("acme", "shared");
    let first = session(&c, &shared, &alice).await;
    assert_eq!(
        env_of(&c, &shared, &alice, &first, "API_KEY").await,
        "api-v1-6b1f"
    );

    // Per-user paths: each subject gets its own token, nobody else's.
    let personal = berth.url("acme", "personal");
    let a = session(&c, &personal, &alice).await;
    let b = session(&c, &personal, &bob).await;
    assert_eq!(
        env_of(&c, &personal, &alice, &a, "GITHUB_TOKEN").await,
        "gh-alice-93ad"
    );
    assert_eq!(
        env_of(&c, &personal, &bob, &b, "GITHUB_TOKEN").await,
        "gh-bob-1c70"
    );
    // Carol has no secret: a clear error, naming the path, not a value.
    let carol = berth.token("carol", "acme", &[]);
    let err = init_error(&c, &personal, &carol).await;
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("berth/tenants/acme/github/carol") && message.contains("no secret"),
        "{err}"
    );

    // Rotation: the running instance keeps what it started with; the next
    // new instance gets the new value.
    bao.put("berth/tenants/acme/api", json!({"key": "api-v2-d24e"}))
        .await;
    assert_eq!(
        env_of(&c, &shared, &alice, &first, "API_KEY").await,
        "api-v1-6b1f"
    );
    let second = session(&c, &shared, &bob).await;
    assert_eq!(
        env_of(&c, &shared, &bob, &second, "API_KEY").await,
        "api-v2-d24e"
    );

    // No value anywhere but inside the instances.
    let dump = redis.dump_everything();
    let log = berth.log();
    for value in [
        "api-v1-6b1f",
        "api-v2-d24e",
        "gh-alice-93ad",
        "gh-bob-1c70",
        &role.secret_id,
    ] {
        assert!(!dump.contains(value), "Redis holds {value}");
        assert!(!log.contains(value), "the log holds {value}");
        assert!(!err.to_string().contains(value));
    }
    assert!(log.contains("logged in to Vault"), "{log}");
}

#[tokio::test]
async fn a_subject_cannot_climb_out_of_its_tenants_prefix() {
    let bao = Bao::start().await;
    let role = bao.approle("berth/tenants", "1h", "4h").await;
    // Another tenant's credential, and one outside every prefix.
    bao.put(
        "berth/tenants/globex/github/ceo",
        json!({"token": "globex-ceo-77e2"}),
    )
    .await;
    bao.put("berth/tenants/acme/github/x", json!({"token": "acme-x"}))
        .await;
    let berth = Berth::serve(&config(&bao, &role, "memory"), &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("acme", "personal");
    for subject in [
        "../../globex/github/ceo",
        "..",
        "x/../../../globex/github/ceo",
        "x%2F..",
    ] {
        let token = berth.token(subject, "acme", &[]);
        let err = init_error(&c, &url, &token).await;
        let message = err["message"].as_str().unwrap();
        assert!(message.contains("secret path refused"), "{subject}: {err}");
        assert!(!err.to_string().contains("globex-ceo-77e2"));
    }
    assert!(!berth.log().contains("globex-ceo-77e2"));
}

#[tokio::test]
async fn a_deployment_cannot_name_a_path_outside_its_prefix() {
    let bao = Bao::start().await;
    let role = bao.approle("berth/tenants", "1h", "4h").await;
    for (path, why) in [
        ("../globex/api", "`..`"),
        ("/etc/api", "is empty"),
        ("api/../../globex/api", "`..`"),
        ("a%2F..", "contains `%`"),
    ] {
        let text = format!(
            "listen = \"127.0.0.1:0\"\nstate_dir = \"/tmp\"\n{}\n[servers.acme.x]\ncommand = [\"x\"]\n[[servers.acme.x.secrets]]\npath = \"{path}\"\nkey = \"k\"\nenv = \"K\"\n",
            bao.config(&role)
        );
        let (_, stderr) = berth_tests::serve_refused(&text).await;
        assert!(
            stderr.contains("servers.acme.x.secrets[0].path") && stderr.contains(why),
            "{path}: {stderr}"
        );
    }
}

#[tokio::test]
async fn vault_down_fails_only_calls_that_need_a_secret_and_recovers() {
    let bao = Bao::start().await;
    let role = bao.approle("berth/tenants", "1h", "4h").await;
    bao.put("berth/tenants/acme/api", json!({"key": "api-v1-0f3c"}))
        .await;
    let berth = Berth::serve(&config(&bao, &role, "memory"), &[]).await;
    let c = reqwest::Client::new();
    let alice = berth.token("alice", "acme", &[]);
    let shared = berth.url("acme", "shared");
    let plain = berth.url("acme", "plain");
    let running = session(&c, &shared, &alice).await;

    signal(bao.pid(), "-STOP");
    // A new instance that needs a secret: a retryable error naming Vault.
    let err = init_error(&c, &shared, &alice).await;
    assert_eq!(err["code"], -32003, "{err}");
    assert_eq!(err["data"]["retryable"], true, "{err}");
    assert!(err["message"].as_str().unwrap().contains("Vault"), "{err}");
    // Nothing else breaks: a running instance and a server without secrets.
    assert_eq!(
        env_of(&c, &shared, &alice, &running, "API_KEY").await,
        "api-v1-0f3c"
    );
    let p = session(&c, &plain, &alice).await;
    let said = call(
        &c,
        &plain,
        &alice,
        &p,
        "echo",
        json!({"text": "still here"}),
    )
    .await;
    assert_eq!(text(&said), "still here");

    signal(bao.pid(), "-CONT");
    let again = session(&c, &shared, &alice).await;
    assert_eq!(
        env_of(&c, &shared, &alice, &again, "API_KEY").await,
        "api-v1-0f3c"
    );
}

#[tokio::test]
async fn berth_renews_its_vault_token_and_logs_in_again_near_its_max_ttl() {
    let bao = Bao::start().await;
    // Tokens live 3 s, renewable up to 6 s: within 10 s Berth must renew
    // and then log in afresh, or its reads start failing with 403.
    let role = bao.approle("berth/tenants", "3s", "6s").await;
    bao.put("berth/tenants/acme/api", json!({"key": "api-v1-51aa"}))
        .await;
    let berth = Berth::serve(&config(&bao, &role, "memory"), &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("acme", "shared");
    for i in 0..10 {
        let token = berth.token(&format!("user{i}"), "acme", &[]);
        let sid = session(&c, &url, &token).await;
        assert_eq!(
            env_of(&c, &url, &token, &sid, "API_KEY").await,
            "api-v1-51aa"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let log = berth.log();
    assert!(log.contains("Vault token renewed"), "{log}");
    assert!(log.matches("logged in to Vault").count() >= 2, "{log}");
}
