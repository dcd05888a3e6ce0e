//! Digest pinning through the control plane: a version runs the content
//! it was deployed with. A process-backend executable that changes after
//! deploy refuses to start; a docker image tag moved after deploy changes
//! nothing until a new version is deployed; an image the engine does not
//! have is refused at deploy time; decommissioning removes the
//! containers of its sessions.

use berth_tests::control::api;
use std::time::Duration;

use berth_tests::docker::{containers, docker};
use berth_tests::legacy::{init, session};
use berth_tests::pods::{modern, text};
use berth_tests::{Berth, berth_bin, eventually};
use reqwest::Method;
use serde_json::json;

/// Deploys `doc` as acme/pinned (alice), approves and activates it (bob).
async fn deploy_active(berth: &Berth, doc: serde_json::Value) -> serde_json::Value {
    let c = reqwest::Client::new();
    let alice = berth.token("alice", "acme", &["berth:admin"]);
    let bob = berth.token("bob", "acme", &["berth:admin"]);
    let server = format!("{}/v1/tenants/acme/servers/pinned", berth.base);
    let (status, created, _) = api(&c, Method::PUT, &server, &alice, Some(doc)).await;
    assert_eq!(status, 201, "{created}");
    let v = created["version"].as_u64().unwrap();
    for step in ["approve", "activate"] {
        let (status, body, _) = api(
            &c,
            Method::POST,
            &format!("{server}/versions/{v}/{step}"),
            &bob,
            None,
        )
        .await;
        assert_eq!(status, 200, "{step}: {body}");
    }
    created
}

#[tokio::test]
async fn a_changed_executable_refuses_to_start_until_a_new_version_is_deployed() {
    let berth = Berth::serve(
        "listen = \"127.0.0.1:0\"\nstate_dir = \"{state_dir}\"\n",
        &[],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("server.sh");
    let body = format!("#!/bin/sh\nexec {} example-server\n", berth_bin().display());
    std::fs::write(&script, &body).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let created = deploy_active(&berth, json!({"command": [script]})).await;
    let digest = created["digest"].as_str().unwrap().to_owned();
    assert!(digest.starts_with("sha256:"), "{created}");

    let c = reqwest::Client::new();
    let agent = berth.token("carol", "acme", &[]);
    let url = berth.url("acme", "pinned");
    session(&c, &url, &agent).await;

    // Someone rewrites the file behind the version's back.
    std::fs::write(&script, format!("{body}# changed after approval\n")).unwrap();
    let r = init(&c, &url, &agent).await;
    let said: serde_json::Value = r.json().await.unwrap();
    assert!(
        said.get("result").is_none(),
        "a changed executable started: {said}"
    );
    let message = said["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("changed since this version was deployed"),
        "{said}"
    );

    // A new version pins the new content and runs.
    let again = deploy_active(&berth, json!({"command": [script]})).await;
    assert_eq!(again["version"], 2);
    assert_ne!(again["digest"].as_str().unwrap(), digest);
    session(&c, &url, &agent).await;
}

#[tokio::test]
async fn a_moved_image_tag_changes_nothing_and_a_missing_image_is_refused() {
    let tag = "berth-test/pinned:v1";
    docker(&["tag", "berth/example-server", tag]);
    let berth = Berth::serve(
        "listen = \"127.0.0.1:0\"\nstate_dir = \"{state_dir}\"\nbackend = \"docker\"\n",
        &[],
    )
    .await;
    let created = deploy_active(&berth, json!({"image": tag})).await;
    let expected = docker(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        "berth/example-server",
    ]);
    assert_eq!(created["digest"].as_str().unwrap(), expected.trim());

    // The tag now names another server entirely (one without `echo`).
    docker(&["tag", "berth-test/python-sdk-server", tag]);
    let c = reqwest::Client::new();
    let agent = berth.token("carol", "acme", &[]);
    let url = berth.url("acme", "pinned");
    let r = modern(
        &c,
        &url,
        &agent,
        "tools/call",
        json!({"name": "echo", "arguments": {"text": "pinned"}}),
    )
    .await;
    assert_eq!(
        text(&r),
        "pinned",
        "the session ran the retagged image: {r}"
    );
    docker(&["rmi", tag]);

    // Decommissioning ends the server's sessions and removes their containers.
    session(&c, &url, &agent).await;
    let labels = ["berth.tenant=acme", "berth.server=pinned"];
    assert!(
        !containers(&labels).is_empty(),
        "the session has a container"
    );
    let alice = berth.token("alice", "acme", &["berth:admin"]);
    let server = format!("{}/v1/tenants/acme/servers/pinned", berth.base);
    assert_eq!(api(&c, Method::DELETE, &server, &alice, None).await.0, 200);
    assert!(
        eventually(Duration::from_secs(20), || containers(&labels).is_empty()).await,
        "containers of a decommissioned server remain: {:?}",
        containers(&labels)
    );

    let (status, body, _) = api(
        &c,
        Method::PUT,
        &format!("{}/v1/tenants/acme/servers/ghost", berth.base),
        &alice,
        Some(json!({"image": "berth-test/never-built:1"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["problems"][0]["pointer"], "/image");
    assert!(
        body["error"]["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not on the Docker host")
    );
}

#[tokio::test]
async fn a_server_json_from_the_mcp_registry_deploys_and_is_listed_back() {
    let berth = Berth::serve(
        "listen = \"127.0.0.1:0\"\nstate_dir = \"{state_dir}\"\nbackend = \"docker\"\n",
        &[],
    )
    .await;
    let server_json = json!({
        "$schema": "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json",
        "name": "io.github.berth/example-http",
        "description": "The example server, over Streamable HTTP",
        "version": "1.0.0",
        "packages": [{
            "registryType": "oci",
            "identifier": "berth/example-server-http",
            "transport": {"type": "streamable-http", "url": "http://localhost:8080/mcp"},
            "environmentVariables": [{"name": "RELEASE", "default": "from-registry"}]
        }]
    });
    deploy_active(&berth, server_json).await;
    let c = reqwest::Client::new();
    let agent = berth.token("carol", "acme", &[]);
    let url = berth.url("acme", "pinned");
    let r = modern(
        &c,
        &url,
        &agent,
        "tools/call",
        json!({"name": "env_get", "arguments": {"name": "RELEASE"}}),
    )
    .await;
    assert_eq!(text(&r), "from-registry", "{r}");

    let alice = berth.token("alice", "acme", &["berth:admin"]);
    let (status, listed, _) = api(
        &c,
        Method::GET,
        &format!("{}/v1/tenants/acme/registry/v0/servers", berth.base),
        &alice,
        None,
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["metadata"]["count"], 1);
    let entry = &listed["servers"][0];
    assert_eq!(entry["server"]["name"], "acme/pinned");
    assert_eq!(
        entry["server"]["description"],
        "The example server, over Streamable HTTP"
    );
    assert_eq!(entry["server"]["remotes"][0]["type"], "streamable-http");
    assert_eq!(entry["server"]["remotes"][0]["url"], url);
    let (status, body, _) = api(
        &c,
        Method::PUT,
        &format!("{}/v1/tenants/acme/servers/npm-only", berth.base),
        &alice,
        Some(json!({"packages": [{"registryType": "npm", "identifier": "@acme/x"}]})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["problems"][0]["pointer"], "/packages");
}
