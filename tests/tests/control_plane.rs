//! The control plane (`/v1` and `berth server`): a tenant deploys,
//! approves, activates, rolls back, deprecates and decommissions servers;
//! the rules on who may do what; bad input; two pods sharing one registry
//! in Redis; the file store surviving a restart.

use std::path::Path;
use std::time::{Duration, Instant};

use berth_tests::control::{api, cli, example, ok, release, token_in};
use berth_tests::legacy::{call, session};
use berth_tests::pods::{modern, registry_pods};
use berth_tests::redis::RedisServer;
use berth_tests::{Berth, berth_bin, eventually};
use serde_json::{Value, json};

#[tokio::test]
async fn a_tenant_goes_from_a_deployment_file_to_a_called_server_with_the_cli_alone() {
    let berth = Berth::demo(&[]).await;
    let admin = berth.token("demo-admin", "demo", &["berth:admin"]);
    let agent = berth.token("alice", "demo", &[]);
    let c = reqwest::Client::new();
    let base = berth.base.as_str();

    // The demo's own server came through the registry: version 1, active.
    let listed = ok(base, &admin, &["list", "demo"]).await;
    assert!(
        listed.contains("everything") && listed.contains("active"),
        "{listed}"
    );

    let dir = tempfile::tempdir().unwrap();
    let v1 = dir.path().join("echo-v1.toml");
    std::fs::write(&v1, example("one")).unwrap();
    let out = ok(
        base,
        &admin,
        &["deploy", "demo/echo", "-f", v1.to_str().unwrap()],
    )
    .await;
    assert!(
        out.contains("version 1") && out.contains("proposed"),
        "{out}"
    );

    // Not callable before it is approved and activated; the error says why.
    let url = berth.url("demo", "echo");
    let r = modern(
        &c,
        &url,
        &agent,
        "tools/call",
        json!({"name": "echo", "arguments": {"text": "x"}}),
    )
    .await;
    let message = r["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("no active version") && message.contains("version 1 is proposed"),
        "{r}"
    );
    let (code, _, err) = cli(base, &admin, &["activate", "demo/echo", "1"]).await;
    assert_ne!(code, Some(0));
    assert!(
        err.contains("409") && err.contains("approve it first"),
        "{err}"
    );

    ok(base, &admin, &["approve", "demo/echo", "1"]).await;
    ok(base, &admin, &["activate", "demo/echo", "1"]).await;
    let old = session(&c, &url, &agent).await;
    assert_eq!(release(&c, &url, &agent, &old).await, "one");

    // Version 2 rolls out to new sessions; the open one keeps version 1.
    let v2 = dir.path().join("echo-v2.json");
    let doc = json!({
        "command": [berth_bin(), "example-server"], "env": {"RELEASE": "two"},
        "owner": "team-echo", "description": "echo, second release",
    });
    std::fs::write(&v2, doc.to_string()).unwrap();
    ok(
        base,
        &admin,
        &["deploy", "demo/echo", "-f", v2.to_str().unwrap()],
    )
    .await;
    ok(base, &admin, &["approve", "demo/echo", "2"]).await;
    ok(base, &admin, &["activate", "demo/echo", "2"]).await;
    let new = session(&c, &url, &agent).await;
    assert_eq!(release(&c, &url, &agent, &new).await, "two");
    assert_eq!(
        release(&c, &url, &agent, &old).await,
        "one",
        "a running session keeps its version"
    );

    let versions = ok(base, &admin, &["versions", "demo/echo"]).await;
    assert!(
        versions.contains("retired") && versions.contains("active"),
        "{versions}"
    );
    let shown: Value =
        serde_json::from_str(&ok(base, &admin, &["show", "demo/echo", "--json"]).await).unwrap();
    assert_eq!(shown["active_version"], 2);
    assert_eq!(
        shown["versions"][1]["metadata"]["description"],
        "echo, second release"
    );
    assert_eq!(
        shown["versions"][0]["approved_by"], "demo-admin",
        "the demo allows self-approval"
    );

    // Rollback: new sessions get version 1 again.
    ok(base, &admin, &["rollback", "demo/echo"]).await;
    let back = session(&c, &url, &agent).await;
    assert_eq!(release(&c, &url, &agent, &back).await, "one");

    // Deprecated servers stay callable; decommissioned ones do not.
    let out = ok(
        base,
        &admin,
        &["deprecate", "demo/echo", "--sunset", "2027-01-31"],
    )
    .await;
    assert!(
        out.contains("deprecated") && out.contains("2027-01-31"),
        "{out}"
    );
    let fresh = session(&c, &url, &agent).await;
    assert_eq!(release(&c, &url, &agent, &fresh).await, "one");
    // Every answer now carries the notice, in sessions that started before
    // the deprecation too, and in both eras; each request is audited.
    let key = "io.berth/deprecation";
    for sid in [&fresh, &old] {
        let r = call(&c, &url, &agent, sid, "echo", json!({"text": "x"})).await;
        assert_eq!(r["result"]["_meta"][key]["sunset"], "2027-01-31", "{r}");
    }
    let r = modern(
        &c,
        &url,
        &agent,
        "tools/call",
        json!({"name": "echo", "arguments": {"text": "x"}}),
    )
    .await;
    assert_eq!(r["result"]["_meta"][key]["deprecated"], true, "{r}");
    assert!(berth.log().contains("server.deprecated_used"));
    ok(base, &admin, &["decommission", "demo/echo"]).await;
    let r = modern(
        &c,
        &url,
        &agent,
        "tools/call",
        json!({"name": "echo", "arguments": {"text": "x"}}),
    )
    .await;
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("decommissioned"),
        "{r}"
    );
    let (code, _, err) = cli(
        base,
        &admin,
        &["deploy", "demo/echo", "-f", v1.to_str().unwrap()],
    )
    .await;
    assert_ne!(code, Some(0));
    assert!(err.contains("decommissioned"), "{err}");
    let log = berth.log();
    for event in [
        "server.deployed",
        "version.approved",
        "version.activated",
        "server.deprecated",
        "server.decommissioned",
    ] {
        assert!(log.contains(event), "audit event {event} missing");
    }
}

/// The JSON pointers of a 422's problems, sorted.
fn sorted_pointers(body: &Value) -> Vec<&str> {
    let mut pointers: Vec<&str> = body["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pointer"].as_str().unwrap())
        .collect();
    pointers.sort();
    pointers
}

fn acme_config() -> String {
    format!(
        r#"
listen = "127.0.0.1:0"
state_dir = "{{state_dir}}"
[control]
max_body_bytes = 4096
[servers.acme.pinned]
command = ["{}", "example-server"]
"#,
        berth_bin().display()
    )
}

#[tokio::test]
async fn who_may_do_what_and_bad_input_get_clear_refusals() {
    let berth = Berth::serve(&acme_config(), &[]).await;
    let alice = berth.token("alice", "acme", &["berth:admin"]);
    let bob = berth.token("bob", "acme", &["berth:admin"]);
    let agent = berth.token("carol", "acme", &[]);
    let other = berth.token("eve", "globex", &["berth:admin"]);
    let operator = berth.token("ops", "platform", &["berth:operator"]);
    let c = reqwest::Client::new();
    let servers = format!("{}/v1/tenants/acme/servers", berth.base);
    let files = format!("{servers}/files");
    let doc = json!({"command": [berth_bin(), "example-server"], "owner": "team-files"});
    use reqwest::Method;

    // Deploy answers 201 with the version, its digest and state.
    let (status, body, headers) = api(&c, Method::PUT, &files, &alice, Some(doc.clone())).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["version"], 1);
    assert_eq!(body["state"], "proposed");
    assert!(body["digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(
        headers["location"],
        "/v1/tenants/acme/servers/files/versions/1"
    );

    // Self-approval is refused (acme does not allow it); another admin approves.
    let (status, body, _) = api(
        &c,
        Method::POST,
        &format!("{files}/versions/1/approve"),
        &alice,
        None,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("another admin"),
        "{body}"
    );
    let (status, _, _) = api(
        &c,
        Method::POST,
        &format!("{files}/versions/1/approve"),
        &bob,
        None,
    )
    .await;
    assert_eq!(status, 200);

    // An agent token: 403 insufficient_scope. Another tenant's admin: 404.
    // An operator reaches every tenant.
    let (status, body, headers) = api(&c, Method::GET, &servers, &agent, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("insufficient_scope"))
    );
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    let (status, _, _) = api(&c, Method::GET, &files, &other, None).await;
    assert_eq!(status, 404);
    let (status, _, _) = api(
        &c,
        Method::PUT,
        &format!("{}/v1/tenants/acme/servers/evil", berth.base),
        &other,
        Some(doc.clone()),
    )
    .await;
    assert_eq!(status, 404, "another tenant's admin cannot deploy here");
    let (status, body, _) = api(&c, Method::GET, &servers, &operator, None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["files", "pinned"]);
    assert_eq!(body["servers"][1]["managed_by"], "config");
    let r = c.get(&servers).send().await.unwrap();
    assert_eq!(r.status(), 401, "no token");

    // Servers written in the config file are read-only here.
    let (status, body, _) = api(
        &c,
        Method::PUT,
        &format!("{servers}/pinned"),
        &alice,
        Some(doc.clone()),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("managed by the config file")
    );

    // Every problem of an invalid deployment at once, each with its pointer.
    let bad = json!({"command": "cat", "cpus": 0, "pids": "x", "colour": "red", "risk_tier": "extreme",
        "secrets": [{"path": "p", "key": "k", "env": "K"}]});
    let (status, body, _) = api(&c, Method::PUT, &files, &alice, Some(bad)).await;
    assert_eq!(status, 422, "{body}");
    let pointers = sorted_pointers(&body);
    assert_eq!(pointers, ["/colour", "/command", "/pids", "/risk_tier"]);
    let (status, body, _) = api(
        &c,
        Method::PUT,
        &format!("{servers}/Bad_Name!"),
        &alice,
        Some(doc.clone()),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let semantic = json!({"command": [], "cpus": 0, "image": "Not/A Valid::ref",
        "secrets": [{"path": "p", "key": "k", "env": "K"}]});
    let (status, body, _) = api(&c, Method::PUT, &files, &alice, Some(semantic)).await;
    assert_eq!(status, 422, "{body}");
    let pointers = sorted_pointers(&body);
    assert_eq!(pointers, ["/command", "/cpus", "/image", "/secrets/0"]);
    let big = json!({"command": ["x"], "description": "d".repeat(8192)});
    let (status, _, _) = api(&c, Method::PUT, &files, &alice, Some(big)).await;
    assert_eq!(status, 413);
    let r = c
        .put(&files)
        .bearer_auth(&alice)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (status, _, _) = api(
        &c,
        Method::POST,
        &format!("{files}/versions/abc/approve"),
        &bob,
        None,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _, _) = api(&c, Method::GET, &format!("{files}/versions/99"), &bob, None).await;
    assert_eq!(status, 404);
    let (status, _, _) = api(&c, Method::GET, &format!("{servers}/nothing"), &bob, None).await;
    assert_eq!(status, 404);

    // If-Match: a stale ETag loses with 412; concurrent changes without
    // one are serialised by compare-and-set (both land, as versions 2 and 3).
    let (_, _, headers) = api(&c, Method::GET, &files, &alice, None).await;
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let r = c
        .put(&files)
        .bearer_auth(&alice)
        .header("if-match", &etag)
        .json(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = c
        .post(format!("{files}/versions/2/approve"))
        .bearer_auth(&bob)
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412, "stale ETag {etag}");
    let (a, b) = tokio::join!(
        api(&c, Method::PUT, &files, &alice, Some(doc.clone())),
        api(&c, Method::PUT, &files, &bob, Some(doc.clone())),
    );
    let mut got = vec![
        a.1["version"].as_u64().unwrap(),
        b.1["version"].as_u64().unwrap(),
    ];
    got.sort();
    assert_eq!(got, [3, 4]);
}

#[tokio::test]
async fn the_file_store_keeps_the_registry_across_a_restart() {
    let state = tempfile::tempdir().unwrap();
    let config = acme_config().replace("{state_dir}", state.path().to_str().unwrap());
    let first = Berth::serve(&config, &[]).await;
    let admin = token_in(state.path(), "alice", "acme", &["berth:admin"]);
    let agent = token_in(state.path(), "carol", "acme", &[]);
    let c = reqwest::Client::new();
    let files = format!("{}/v1/tenants/acme/servers/files", first.base);
    let doc = json!({"command": [berth_bin(), "example-server"], "env": {"RELEASE": "kept"}});
    assert_eq!(
        api(&c, reqwest::Method::PUT, &files, &admin, Some(doc))
            .await
            .0,
        201
    );
    let bob = token_in(state.path(), "bob", "acme", &["berth:admin"]);
    assert_eq!(
        api(
            &c,
            reqwest::Method::POST,
            &format!("{files}/versions/1/approve"),
            &bob,
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        api(
            &c,
            reqwest::Method::POST,
            &format!("{files}/versions/1/activate"),
            &bob,
            None
        )
        .await
        .0,
        200
    );
    first.stop().await;
    assert!(state.path().join("registry.redb").exists());

    let second = Berth::serve(&config, &[]).await;
    let url = second.url("acme", "files");
    let sid = session(&c, &url, &agent).await;
    assert_eq!(release(&c, &url, &agent, &sid).await, "kept");
    let (_, body, _) = api(
        &c,
        reqwest::Method::GET,
        &format!("{}/v1/tenants/acme/servers/files", second.base),
        &admin,
        None,
    )
    .await;
    assert_eq!(body["versions"][0]["approved_by"], "bob");
    assert_eq!(body["active_version"], 1);
}

#[tokio::test]
async fn two_pods_on_one_redis_share_the_registry() {
    let redis = RedisServer::start();
    let (a, b) = registry_pods(&redis).await;
    let alice = a.token("alice", "acme", &["berth:admin"]);
    let bob = a.token("bob", "acme", &["berth:admin"]);
    let agent = a.token("carol", "acme", &[]);
    let c = reqwest::Client::new();
    let on_a = format!("{}/v1/tenants/acme/servers/files", a.base);
    let doc = json!({"command": [berth_bin(), "example-server"], "env": {"RELEASE": "shared"}});
    use reqwest::Method;
    assert_eq!(api(&c, Method::PUT, &on_a, &alice, Some(doc)).await.0, 201);
    assert_eq!(
        api(
            &c,
            Method::POST,
            &format!("{on_a}/versions/1/approve"),
            &bob,
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        api(
            &c,
            Method::POST,
            &format!("{on_a}/versions/1/activate"),
            &bob,
            None
        )
        .await
        .0,
        200
    );
    let activated = Instant::now();

    // Pod B hosts it as soon as it reads the change.
    let url_b = b.url("acme", "files");
    let mut seen = None;
    while activated.elapsed() < Duration::from_secs(10) {
        let r = modern(
            &c,
            &url_b,
            &agent,
            "tools/call",
            json!({"name": "echo", "arguments": {"text": "via B"}}),
        )
        .await;
        if r["result"]["content"][0]["text"] == "via B" {
            seen = Some(activated.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = seen.expect("pod B never served the server activated on pod A");
    println!("activation on pod A served by pod B after {seen:?}");
    let (_, listed, _) = api(
        &c,
        Method::GET,
        &format!("{}/v1/tenants/acme/servers", b.base),
        &alice,
        None,
    )
    .await;
    assert_eq!(listed["servers"][0]["active_version"], 1);

    // A session open on pod B, with its own instance (a process).
    let sid = session(&c, &url_b, &agent).await;
    let info = call(&c, &url_b, &agent, &sid, "instance_info", json!({})).await;
    let pid = info["result"]["structuredContent"]["pid"]
        .as_u64()
        .expect("a pid");
    assert!(Path::new(&format!("/proc/{pid}")).exists());

    // Decommission on A: B ends that session (its instance stops) and
    // refuses new calls.
    assert_eq!(api(&c, Method::DELETE, &on_a, &bob, None).await.0, 200);
    assert!(
        eventually(Duration::from_secs(10), || !Path::new(&format!(
            "/proc/{pid}"
        ))
        .exists())
        .await,
        "the instance of a decommissioned server kept running on pod B"
    );
    let after = call(&c, &url_b, &agent, &sid, "echo", json!({"text": "x"})).await;
    assert!(
        after["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("decommissioned")),
        "{after}"
    );
    let refused = async {
        loop {
            let r = modern(
                &c,
                &url_b,
                &agent,
                "tools/call",
                json!({"name": "echo", "arguments": {"text": "x"}}),
            )
            .await;
            if r["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("decommissioned"))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), refused)
        .await
        .expect("pod B kept serving a server decommissioned on pod A");
}
