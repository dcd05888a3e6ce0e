//! A real OpenBao (Vault API) dev server for tests: `bao server -dev` on a
//! free loopback port (installed by `scripts/test`'s `ensure_openbao`,
//! binary in `BERTH_TEST_BAO`), in memory, root token `root`, KV v2 at
//! `secret/`. Set up over its HTTP API as an operator would with the CLI.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::{free_port, tool};

/// A running dev server; stopped on drop.
pub struct Bao {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    http: reqwest::Client,
}

/// An AppRole login Berth can use.
pub struct AppRole {
    /// The role id.
    pub role_id: String,
    /// A secret id.
    pub secret_id: String,
}

impl Bao {
    /// Starts the dev server and waits until it answers.
    pub async fn start() -> Bao {
        let port = free_port();
        let address = format!("http://127.0.0.1:{port}");
        let child = Command::new(tool("BERTH_TEST_BAO"))
            .args([
                "server",
                "-dev",
                "-dev-no-store-token",
                "-dev-root-token-id=root",
            ])
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("bao server -dev (BERTH_TEST_BAO)");
        let bao = Bao {
            child,
            address,
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client"),
        };
        for _ in 0..200 {
            if let Ok(r) = bao
                .http
                .get(format!("{}/v1/sys/health", bao.address))
                .send()
                .await
                && r.status().is_success()
            {
                return bao;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("bao did not start on {}", bao.address);
    }

    /// The server's pid (to pause it with SIGSTOP).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Calls the API as root; panics on an error status.
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/v1/{path}", self.address);
        let mut req = self
            .http
            .request(method.parse().expect("method"), url)
            .header("X-Vault-Token", "root");
        if let Some(body) = body {
            req = req.json(&body);
        }
        let r = req.send().await.expect("bao API");
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        assert!(status.is_success(), "bao {method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Writes a KV v2 secret at `secret/{path}` (a new version).
    pub async fn put(&self, path: &str, fields: Value) {
        self.api(
            "POST",
            &format!("secret/data/{path}"),
            Some(json!({"data": fields})),
        )
        .await;
    }

    /// Enables AppRole and creates role `berth` with read access to
    /// `secret/data/{readable}/*`, tokens living `ttl` (renewable up to
    /// `max_ttl`).
    pub async fn approle(&self, readable: &str, ttl: &str, max_ttl: &str) -> AppRole {
        self.api("POST", "sys/auth/approle", Some(json!({"type": "approle"})))
            .await;
        let policy = format!("path \"secret/data/{readable}/*\" {{ capabilities = [\"read\"] }}\n");
        self.api(
            "PUT",
            "sys/policies/acl/berth-read",
            Some(json!({"policy": policy})),
        )
        .await;
        self.api(
            "POST",
            "auth/approle/role/berth",
            Some(json!({
                "token_policies": ["berth-read"],
                "token_ttl": ttl,
                "token_max_ttl": max_ttl,
            })),
        )
        .await;
        let role = self
            .api("GET", "auth/approle/role/berth/role-id", None)
            .await;
        let secret = self
            .api("POST", "auth/approle/role/berth/secret-id", Some(json!({})))
            .await;
        AppRole {
            role_id: role["data"]["role_id"]
                .as_str()
                .expect("role_id")
                .to_owned(),
            secret_id: secret["data"]["secret_id"]
                .as_str()
                .expect("secret_id")
                .to_owned(),
        }
    }

    /// Policy `berth-read`: read access to `secret/data/{readable}/*`.
    pub async fn read_policy(&self, readable: &str) {
        let policy = format!("path \"secret/data/{readable}/*\" {{ capabilities = [\"read\"] }}\n");
        self.api(
            "PUT",
            "sys/policies/acl/berth-read",
            Some(json!({"policy": policy})),
        )
        .await;
    }

    /// The `[vault]` section for Berth logging in with `role`.
    pub fn config(&self, role: &AppRole) -> String {
        format!(
            "[vault]\naddress = \"{}\"\nauth = \"approle\"\nrole_id = \"{}\"\nsecret_id = \"{}\"\ntimeout = \"2s\"\n",
            self.address, role.role_id, role.secret_id
        )
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
