//! Rendering the Helm chart `helm/berth` with the `helm` binary
//! `scripts/test` installs (`BERTH_HELM`), and reading what a test needs
//! out of the manifests: the `berth.toml` of the ConfigMap and the
//! Deployment's image.

use std::path::{Path, PathBuf};

use crate::{tool, workspace_root};

/// The chart's directory.
pub fn chart_dir() -> PathBuf {
    workspace_root().join("helm/berth")
}

/// `helm template berth helm/berth -f VALUES --set K=V…`: the manifests;
/// panics with helm's message when it refuses.
pub fn render(values: &[&Path], sets: &[(&str, &str)]) -> String {
    let helm = tool("BERTH_HELM");
    let mut cmd = std::process::Command::new(&helm);
    cmd.args(["template", "berth"])
        .arg(chart_dir())
        .args(["--namespace", "berth"]);
    // Keep helm's cache and config out of the user's home.
    let home = tempfile::tempdir().expect("tempdir");
    for var in ["HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"] {
        cmd.env(var, home.path());
    }
    for v in values {
        cmd.arg("-f").arg(v);
    }
    for (k, v) in sets {
        cmd.arg("--set").arg(format!("{k}={v}"));
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", helm.display()));
    assert!(
        out.status.success(),
        "helm template refused the values: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("helm prints UTF-8")
}

/// The `berth.toml` the ConfigMap in `manifests` carries (the chart writes
/// it as a literal block scalar, `berth.toml: |`).
pub fn config_toml(manifests: &str) -> String {
    let mut lines = manifests.lines();
    lines
        .by_ref()
        .find(|l| l.trim_start().starts_with("berth.toml: |"))
        .expect("no `berth.toml: |` in the rendered ConfigMap");
    let body: Vec<&str> = lines
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .collect();
    let mut text: String = body
        .iter()
        .map(|l| l.strip_prefix("    ").unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    text.push('\n');
    text
}

/// The image of the Deployment's container (`image: "REPO:TAG"`).
pub fn deployment_image(manifests: &str) -> String {
    let doc = manifests
        .split("\n---")
        .find(|d| d.contains("\nkind: Deployment"))
        .expect("no Deployment in the rendered chart");
    doc.lines()
        .find_map(|l| l.trim().strip_prefix("image: "))
        .expect("the Deployment names no image")
        .trim_matches('"')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_block_scalar_and_the_image() {
        let manifests = "---\nkind: ConfigMap\ndata:\n  berth.toml: |\n    a = 1\n\n    [b]\n    c = \"d\"\n---\nkind: Deployment\nspec:\n      containers:\n        - name: berth\n          image: \"berth/runtime:latest\"\n";
        assert_eq!(config_toml(manifests), "a = 1\n\n[b]\nc = \"d\"\n");
        assert_eq!(deployment_image(manifests), "berth/runtime:latest");
    }
}
