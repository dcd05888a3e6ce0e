//! The runtime image `berth/runtime` (built by `images/build`) runs the
//! configuration the Helm chart renders, as hardened as the chart's pod:
//! the chart is rendered with `helm/berth/ci/process-values.yaml` (process
//! backend, dev issuer, the example server as `demo/echo`) and this test's
//! own Redis; the ConfigMap's `berth.toml` is mounted at /etc/berth; the
//! container runs read-only, as 65534, with no capabilities; an agent
//! opens a session and calls `echo` through it, and the session lands in
//! Redis.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use berth_tests::chart::{chart_dir, config_toml, deployment_image, render};
use berth_tests::docker::{docker, inspect};
use berth_tests::legacy::{call, session};
use berth_tests::redis::RedisServer;
use berth_tests::{berth_bin, free_port, tool};
use serde_json::json;

/// A container removed when the test ends, however it ends; its log is
/// printed when the test failed.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let logs = std::process::Command::new("docker")
                .args(["logs", &self.0])
                .output();
            if let Ok(out) = logs {
                eprintln!(
                    "--- log of the runtime container ---\n{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", &self.0])
            .output();
    }
}

#[tokio::test]
async fn runtime_image_serves_the_config_the_chart_renders() {
    let _ = tool("DOCKER_HOST");
    let redis = RedisServer::start();
    let store = format!("redis://127.0.0.1:{}", redis.port);
    let values = chart_dir().join("ci/process-values.yaml");
    let manifests = render(&[&values], &[("config.store.url", &store)]);
    let toml = config_toml(&manifests);
    assert!(
        toml.contains(&format!("url = \"{store}\"")) && toml.contains("[servers.demo.echo]"),
        "the rendered berth.toml lacks the store or the server:\n{toml}"
    );
    let image = deployment_image(&manifests);
    assert_eq!(image, "berth/runtime:latest", "the chart's image");

    // The ConfigMap's mount, and the pod's emptyDir for state_dir.
    let config_dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(config_dir.path().join("berth.toml"), &toml).expect("write berth.toml");
    let state_dir = tempfile::tempdir().expect("tempdir");
    for (dir, mode) in [(config_dir.path(), 0o755), (state_dir.path(), 0o777)] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    std::fs::set_permissions(
        config_dir.path().join("berth.toml"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");

    let port = free_port();
    let name = format!("berth-runtime-image-{}-{port}", std::process::id());
    let config_mount = format!("{}:/etc/berth:ro", config_dir.path().display());
    let state_mount = format!("{}:/var/lib/berth", state_dir.path().display());
    let listen = format!("BERTH_LISTEN=127.0.0.1:{port}");
    let advertise = format!("BERTH_CLUSTER__ADVERTISE_URL=http://127.0.0.1:{port}");
    let id = docker(&[
        "run",
        "--detach",
        "--name",
        &name,
        "--network",
        "host",
        "--read-only",
        "--user",
        "65534:65534",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--tmpfs",
        "/tmp",
        "--volume",
        &config_mount,
        "--volume",
        &state_mount,
        "--env",
        &listen,
        "--env",
        "BERTH_POD_NAME=runtime-image-test",
        "--env",
        &advertise,
        &image,
    ])
    .trim()
    .to_owned();
    let _container = Container(id.clone());

    let base = format!("http://127.0.0.1:{port}");
    let c = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..300 {
        if let Ok(r) = c.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            ready = true;
            break;
        }
        let state = inspect(&id)["State"]["Status"].clone();
        assert_eq!(state, "running", "the runtime container stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "{base}/readyz did not answer 200 within 30 s");

    // Runs as the chart's pod does: uid 65534, read-only, no capabilities.
    let info = inspect(&id);
    assert_eq!(info["Config"]["User"], "65534:65534");
    assert_eq!(info["HostConfig"]["ReadonlyRootfs"], true);
    assert_eq!(info["HostConfig"]["CapDrop"], json!(["ALL"]));
    let pid = info["State"]["Pid"].as_u64().expect("the container's pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let uids = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .expect("a Uid line");
    assert_eq!(
        uids.split_whitespace().collect::<Vec<_>>(),
        ["65534"; 4],
        "berth in the container runs as {uids}"
    );

    // A dev-issuer token from the key the container wrote to its state dir.
    let out = std::process::Command::new(berth_bin())
        .args(["token", "--subject", "alice", "--tenant", "demo"])
        .arg("--state-dir")
        .arg(state_dir.path())
        .output()
        .expect("run berth token");
    assert!(
        out.status.success(),
        "berth token: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();

    let url = format!("{base}/mcp/demo/echo");
    let sid = session(&c, &url, &token).await;
    let reply = call(
        &c,
        &url,
        &token,
        &sid,
        "echo",
        json!({"text": "hello from berth/runtime"}),
    )
    .await;
    assert_eq!(
        reply["result"]["content"][0]["text"], "hello from berth/runtime",
        "{reply}"
    );
    let keys = redis.cli(&["KEYS", "berth:demo:s:*"]);
    assert!(
        !keys.trim().is_empty(),
        "no session record in the Redis the chart configured"
    );
}
