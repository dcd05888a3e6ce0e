//! Looking at what the docker backend did, through the `docker` CLI against
//! the engine `scripts/test` started (`DOCKER_HOST`).

use serde_json::Value;

use crate::{Berth, tool};

/// Runs the docker CLI; panics with its stderr on failure.
pub fn docker(args: &[&str]) -> String {
    let _ = tool("DOCKER_HOST");
    let out = std::process::Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Container ids with all `labels` (`key=value`).
pub fn containers(labels: &[&str]) -> Vec<String> {
    let mut args = vec!["ps", "-aq", "--no-trunc"];
    let filters: Vec<String> = labels.iter().map(|l| format!("label={l}")).collect();
    for f in &filters {
        args.push("--filter");
        args.push(f);
    }
    docker(&args).lines().map(str::to_owned).collect()
}

/// `docker inspect` of one object (container, network, image).
pub fn inspect(id: &str) -> Value {
    let v: Value = serde_json::from_str(&docker(&["inspect", id])).unwrap();
    v[0].clone()
}

/// The `berth.pod` label value of a Berth process (hostname-pid).
pub fn pod_of(berth: &Berth) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    format!("{}-{}", host.trim(), berth.pid())
}
