//! ContextForge (PyPI `mcp-contextforge-gateway`) in front of the example
//! server, set up the way its quick start does.
//!
//! `mcpgateway` (its CLI: one uvicorn worker) runs with a SQLite database in
//! this run's directory, the admin UI off, fresh random secrets, logs at
//! WARNING, the in-process cache, and its rate limiter off (on by default at
//! 100 MCP requests per minute per user, which would measure the limiter).
//! Then, over its REST API with an admin JWT from its own
//! `mcpgateway.utils.create_jwt_token`: the example server's Streamable HTTP
//! endpoint is registered as a gateway (`POST /gateways`, so its tools appear
//! as `example-echo` and so on), a virtual server is made of its `echo`
//! (`POST /servers`), and clients call that server's MCP endpoint
//! `/servers/ID/mcp` with the same JWT. Every other setting is the default.
//!
//! May import: `procs`, `peers::install`.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};
use tokio::process::Command;

use super::install::{Installed, Package};
use crate::procs::{self, Ready, Target};

/// Migrations on a fresh database take ~20 s on a busy 2-core machine.
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// The platform admin (its default e-mail).
const ADMIN: &str = "admin@example.com";

/// A running gateway ready for clients.
pub(crate) struct Gateway {
    /// The `mcpgateway` process (its MCP endpoint as URL).
    pub(crate) target: Target,
    /// The bearer token clients send.
    pub(crate) token: String,
    /// In front of a tool's own name (`example-`).
    pub(crate) tool_prefix: String,
}

/// Starts the gateway from `installed` with state in `dir`, and puts the
/// server at `upstream` (a Streamable HTTP URL) behind it.
pub(crate) async fn start(
    installed: &Installed,
    dir: &Path,
    upstream: &str,
) -> anyhow::Result<Gateway> {
    let home = dir.join("contextforge");
    std::fs::create_dir_all(&home)?;
    let secret = random_hex()?;
    let addr = procs::free_port()?;
    let base = format!("http://{addr}");
    let mut cmd = Command::new(Package::ContextForge.program(&installed.dir));
    cmd.args(["--host", "127.0.0.1", "--port", &addr.port().to_string()]);
    configure(&mut cmd, &home, &secret)?;
    let target = procs::start_serving(
        cmd,
        dir.join("contextforge.log"),
        String::new(),
        Ready::Http(format!("{base}/health")),
        START_TIMEOUT,
    )
    .await
    .context("starting mcpgateway")?;
    match register(installed, &home, &secret, &base, upstream).await {
        Ok((token, server, tool_prefix)) => {
            let mut target = target;
            target.url = format!("{base}/servers/{server}/mcp");
            Ok(Gateway {
                target,
                token,
                tool_prefix,
            })
        }
        Err(e) => {
            let log = procs::tail(target.log());
            target.stop().await;
            Err(e.context(format!(
                "setting up ContextForge; the end of its log:\n{log}"
            )))
        }
    }
}

/// The environment of `mcpgateway` and of its token tool.
fn configure(cmd: &mut Command, home: &Path, secret: &str) -> anyhow::Result<()> {
    let db = home.join("mcp.db");
    let db = db
        .to_str()
        .context("the temporary directory is not UTF-8")?;
    cmd.current_dir(home)
        .env("JWT_SECRET_KEY", format!("jwt-{secret}"))
        .env("AUTH_ENCRYPTION_SECRET", format!("enc-{secret}"))
        .env("PLATFORM_ADMIN_EMAIL", ADMIN)
        .env("PLATFORM_ADMIN_PASSWORD", format!("Pw1!{secret}"))
        .env("BASIC_AUTH_PASSWORD", format!("Pw2!{secret}"))
        .env("DATABASE_URL", format!("sqlite:///{db}"))
        .env("MCPGATEWAY_UI_ENABLED", "false")
        .env("MCPGATEWAY_ADMIN_API_ENABLED", "false")
        .env("RATE_LIMITING_ENABLED", "false")
        .env("USE_STATEFUL_SESSIONS", "true")
        .env("CACHE_TYPE", "memory")
        .env("SSRF_ALLOW_LOCALHOST", "true")
        .env("LOG_LEVEL", "WARNING");
    Ok(())
}

/// Mints the admin token, registers `upstream`, builds the virtual server;
/// returns (token, server id, tool prefix).
async fn register(
    installed: &Installed,
    home: &Path,
    secret: &str,
    base: &str,
    upstream: &str,
) -> anyhow::Result<(String, String, String)> {
    let token = mint_token(installed, home, secret).await?;
    let http = reqwest::Client::new();
    let gateway = json!({"name": "example", "url": upstream, "transport": "STREAMABLEHTTP"});
    post(&http, &format!("{base}/gateways"), &token, &gateway)
        .await
        .context("registering the example server (POST /gateways)")?;
    let tools = http
        .get(format!("{base}/tools"))
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()
        .context("GET /tools")?
        .json::<Value>()
        .await?;
    let echo = tools
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| {
            t.get("originalName").and_then(Value::as_str) == Some("echo")
                || t.get("name").and_then(Value::as_str) == Some("example-echo")
        })
        .with_context(|| format!("no `echo` among the gateway's tools: {tools}"))?;
    let (Some(id), Some(name)) = (
        echo.get("id").and_then(Value::as_str),
        echo.get("name").and_then(Value::as_str),
    ) else {
        anyhow::bail!("a tool without id or name: {echo}");
    };
    let prefix = name
        .strip_suffix("echo")
        .with_context(|| format!("tool `{name}` does not end in `echo`"))?
        .to_owned();
    let server = json!({
        "server": {"name": "berth-loadtest", "associated_tools": [id]},
        "visibility": "public",
    });
    let made = post(&http, &format!("{base}/servers"), &token, &server)
        .await
        .context("creating the virtual server (POST /servers)")?;
    let server = made
        .get("id")
        .and_then(Value::as_str)
        .with_context(|| format!("POST /servers answered without an id: {made}"))?
        .to_owned();
    Ok((token, server, prefix))
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let resp = http.post(url).bearer_auth(token).json(body).send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        anyhow::bail!("{status}: {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

/// `python -m mcpgateway.utils.create_jwt_token --admin` with the gateway's secret.
async fn mint_token(installed: &Installed, home: &Path, secret: &str) -> anyhow::Result<String> {
    let mut cmd = Command::new(Package::python(&installed.dir));
    cmd.args(["-m", "mcpgateway.utils.create_jwt_token"])
        .args(["--username", ADMIN, "--admin", "--exp", "600"])
        .arg("--secret")
        .arg(format!("jwt-{secret}"))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    configure(&mut cmd, home, secret)?;
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .context("create_jwt_token timed out")?
        .context("running mcpgateway.utils.create_jwt_token")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .map(str::trim)
        .find(|l| l.split('.').count() == 3 && !l.contains(' '))
        .map(str::to_owned)
        .with_context(|| {
            format!(
                "create_jwt_token printed no token ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })
}

/// 24 random bytes as hex, for this run's secrets.
fn random_hex() -> anyhow::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
