//! A real OpenID provider for tests: npm `oidc-provider` run by
//! `tests/oidc/provider.mjs` on a free loopback port (installed by
//! `scripts/test`'s `ensure_oidc_provider`), with the clients of
//! `tests/oidc/clients.example.json`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::{tool, workspace_root};

/// A running provider; stopped on drop.
pub struct OidcProvider {
    child: Child,
    /// The issuer URL (`http://127.0.0.1:PORT`).
    pub issuer: String,
    _dir: tempfile::TempDir,
}

impl OidcProvider {
    /// Starts the provider and waits until it listens.
    pub fn start() -> OidcProvider {
        Self::start_with(|_| {})
    }

    /// Like [`Self::start`], with the clients file changed by `edit` first
    /// (e.g. `opaque_resources`).
    pub fn start_with(edit: impl FnOnce(&mut serde_json::Value)) -> OidcProvider {
        let example = workspace_root().join("tests/oidc/clients.example.json");
        let mut config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(example).expect("clients file"))
                .expect("clients JSON");
        edit(&mut config);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("clients.json");
        std::fs::write(&path, config.to_string()).expect("write clients file");
        let mut child = Command::new(tool("BERTH_TEST_NODE"))
            .arg(tool("BERTH_TEST_OIDC_PROVIDER"))
            .args(["--port", "0", "--config"])
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node tests/oidc/provider.mjs");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the provider's READY line");
        let issuer = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("the provider did not start: {line:?}"))
            .to_owned();
        OidcProvider {
            child,
            issuer,
            _dir: dir,
        }
    }

    /// Revokes `token` (RFC 7009) as `client`.
    pub async fn revoke(&self, client: &str, token: &str) {
        let r = reqwest::Client::new()
            .post(format!("{}/token/revocation", self.issuer))
            .basic_auth(client, Some(format!("{client}-secret")))
            .form(&[("token", token)])
            .send()
            .await
            .expect("revocation");
        assert!(r.status().is_success(), "revoke: {}", r.status());
    }

    /// An access token for `client` (secret `<client>-secret`) by the
    /// client-credentials grant, for the RFC 8707 `resource`; `scope`
    /// `None` asks for all of the client's scopes.
    pub async fn token(&self, client: &str, resource: &str, scope: Option<&str>) -> String {
        let mut form = vec![("grant_type", "client_credentials"), ("resource", resource)];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let r = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .basic_auth(client, Some(format!("{client}-secret")))
            .form(&form)
            .send()
            .await
            .expect("token request");
        let status = r.status();
        let body: serde_json::Value = r.json().await.expect("token response JSON");
        assert!(status.is_success(), "token for {client}: {status} {body}");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// Adds a new signing key and signs new tokens with it (the old key
    /// stays published).
    pub async fn rotate(&self) {
        let r = reqwest::Client::new()
            .post(format!("{}/admin/rotate", self.issuer))
            .send()
            .await
            .expect("rotate");
        assert!(r.status().is_success(), "rotate: {}", r.status());
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
