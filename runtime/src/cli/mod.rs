//! The `berth` command line: `demo`, `serve`, `token`, the control-plane
//! client (`server`), and the bundled `example-server`.
//!
//! May import: `config`, `cli::*`, external crates. Nothing in the library
//! imports it but the binary.
//!
//! # Layout
//! - `server`: `berth server …`, a client of `/v1` (tables or `--json`);
//!   `sessions`: `berth sessions …`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use berth_auth::{DevIssuer, TokenRequest};
use clap::{Args, Parser, Subcommand};

use crate::config::{BackendKind, Config};

mod server;
mod sessions;

pub use self::server::ServerArgs;
pub use self::sessions::SessionsArgs;

/// Berth: MCP Server-as-a-Service runtime.
#[derive(Debug, Parser)]
#[command(name = "berth", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run Berth with embedded defaults, hosting the example server as demo/everything.
    Demo(DemoArgs),
    /// Run Berth from a config file (every key overridable by BERTH_* env vars).
    Serve(ServeArgs),
    /// Mint a token from the dev issuer of the demo using the same state dir.
    Token(TokenArgs),
    /// Check a config file (and BERTH_* overrides) the way `serve` reads it, without starting.
    CheckConfig(CheckConfigArgs),
    /// Deploy, approve, activate and retire servers (the /v1 control plane).
    Server(ServerArgs),
    /// List and end hosting sessions (the /v1 control plane).
    Sessions(SessionsArgs),
    /// Run the bundled example MCP server (stdio, or --http ADDR; --help for more).
    #[command(hide = true, disable_help_flag = true)]
    ExampleServer {
        /// Arguments for the example server.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// `berth demo` options.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Keeps the dev issuer key and session keys (share it to form a cluster).
    #[arg(long, default_value = ".berth")]
    pub state_dir: PathBuf,
    /// Where instances run: process or docker.
    #[arg(long, default_value = "process")]
    pub backend: String,
    /// Session store: memory or redis://HOST:PORT.
    #[arg(long, default_value = "memory")]
    pub store: String,
    /// Image for the docker backend.
    #[arg(long)]
    pub image: Option<String>,
    /// Set an environment variable for the hosted server (repeatable):
    /// `KEY=VALUE`, or `KEY` to pass Berth's own value on. The server gets
    /// only a minimal environment otherwise.
    #[arg(long = "env", short = 'e', value_name = "KEY[=VALUE]")]
    pub env: Vec<String>,
    /// Read environment variables for the hosted server from a file: one
    /// `KEY=VALUE` (or `KEY`) per line, `#` comments and blank lines
    /// skipped, values taken literally (as `docker run --env-file`).
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// Host this stdio MCP server instead of the example (after `--`).
    #[arg(last = true)]
    pub command: Vec<String>,
}

/// `berth serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The TOML config file.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
}

/// `berth check-config` options.
#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The TOML config file.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Ignore BERTH_* environment overrides (check the file alone).
    #[arg(long)]
    pub no_env: bool,
}

/// `berth token` options.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The token's subject (user).
    #[arg(long)]
    pub subject: String,
    /// The tenant claim.
    #[arg(long, default_value = "demo")]
    pub tenant: String,
    /// Scopes (repeatable).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Audience (default: one every demo on this state dir accepts).
    #[arg(long)]
    pub audience: Option<String>,
    /// Lifetime, e.g. 15m, 1h, 2d.
    #[arg(long, default_value = "1h")]
    pub ttl: String,
    /// State dir of the demo.
    #[arg(long, default_value = ".berth")]
    pub state_dir: PathBuf,
}

// === impl CheckConfigArgs ===

impl CheckConfigArgs {
    /// Reads and validates the configuration as `serve` would; a one-line
    /// summary of what it configures.
    pub fn check(&self) -> anyhow::Result<String> {
        let env: Vec<(String, String)> = if self.no_env {
            Vec::new()
        } else {
            std::env::vars().collect()
        };
        let c = Config::load(self.config.as_deref(), env)?;
        let store = c.store.url.split_once("://").map_or("memory", |(s, _)| s);
        let servers: usize = c.servers.values().map(|s| s.len()).sum();
        let source = self
            .config
            .as_deref()
            .map_or("the defaults".to_owned(), |p| p.display().to_string());
        let backend = format!("{:?}", c.backend).to_lowercase();
        let auth = format!("{:?}", c.auth.mode).to_lowercase();
        Ok(format!(
            "ok: {source} is a valid Berth configuration (backend {backend}, store {store}, auth {auth}, {servers} server(s) in the file)"
        ))
    }
}

// === impl DemoArgs ===

impl DemoArgs {
    /// The demo's configuration: embedded defaults plus these options.
    pub fn config(&self) -> anyhow::Result<Config> {
        let mut config = Config {
            listen: self.listen,
            state_dir: self.state_dir.clone(),
            ..Config::default()
        };
        config.backend = match self.backend.as_str() {
            "process" => BackendKind::Process,
            "docker" => BackendKind::Docker,
            other => anyhow::bail!("--backend {other}: use `process` or `docker`"),
        };
        config.store.url = self.store.clone();
        // The demo's one admin approves what it deploys.
        config.control.self_approval = vec!["demo".into()];
        config.validate()?;
        Ok(config)
    }

    /// The hosted server's deployment document (the shape of a
    /// `[servers.demo.everything]` entry): registered through the
    /// registry as the demo starts.
    pub fn deployment(&self) -> anyhow::Result<serde_json::Value> {
        let mut doc = serde_json::Map::new();
        let command = match (self.backend.as_str(), self.command.is_empty()) {
            ("docker", _) => {
                let image = self
                    .image
                    .clone()
                    .unwrap_or_else(|| "berth/example-server".into());
                doc.insert("image".into(), image.into());
                self.command.clone()
            }
            (_, true) => {
                let exe = std::env::current_exe()?;
                vec![exe.display().to_string(), "example-server".into()]
            }
            (_, false) => self.command.clone(),
        };
        if !command.is_empty() {
            doc.insert("command".into(), command.into());
        }
        let env = self.server_env(|k| std::env::var(k).ok())?;
        if !env.is_empty() {
            doc.insert("env".into(), serde_json::to_value(env)?);
        }
        Ok(serde_json::Value::Object(doc))
    }

    /// The hosted server's environment from `--env-file`, then `--env`
    /// (later settings win); `lookup` reads Berth's own environment for a
    /// bare `KEY`.
    fn server_env(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<BTreeMap<String, String>> {
        let mut env = BTreeMap::new();
        if let Some(path) = &self.env_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!("--env-file {}: cannot read it: {e}", path.display())
            })?;
            for (n, line) in text.lines().enumerate() {
                let line = line.trim_start();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let at = format!("--env-file {} line {}", path.display(), n + 1);
                set_env(&mut env, line, &at, &lookup)?;
            }
        }
        for item in &self.env {
            set_env(&mut env, item, &format!("--env {item}"), &lookup)?;
        }
        Ok(env)
    }
}

/// Applies one `KEY=VALUE` or `KEY` setting; `at` names where it came from.
fn set_env(
    env: &mut BTreeMap<String, String>,
    item: &str,
    at: &str,
    lookup: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let (key, value) = match item.split_once('=') {
        Some((k, v)) => (k, Some(v.to_owned())),
        None => (item.trim_end(), None),
    };
    let valid = !key.is_empty()
        && !key.as_bytes()[0].is_ascii_digit()
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid {
        anyhow::bail!(
            "{at}: `{key}` is not a variable name; use KEY=VALUE with A-Z, a-z, 0-9 and _"
        );
    }
    match value.or_else(|| lookup(key)) {
        Some(v) => {
            env.insert(key.to_owned(), v);
        }
        // `KEY` alone and unset here: nothing to pass, as with docker.
        None => {
            env.remove(key);
        }
    }
    Ok(())
}

// === impl TokenArgs ===

impl TokenArgs {
    /// Mints the token.
    pub fn mint(&self) -> anyhow::Result<String> {
        let issuer = DevIssuer::load_or_create(&self.state_dir)?;
        let req = TokenRequest {
            subject: self.subject.clone(),
            tenant: self.tenant.clone(),
            scopes: self.scopes.clone(),
            audience: self.audience.clone(),
            ttl: berth_auth::parse_ttl(&self.ttl)?,
            client_id: Some("berth-cli".into()),
            groups: Vec::new(),
        };
        Ok(issuer.mint(&req)?)
    }
}

/// What the demo prints once it listens.
pub fn demo_banner(url: &str, token: &str, admin: &str, state_dir: &std::path::Path) -> String {
    let curl = format!(
        "curl -s {url} \\\n    -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\\n    -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2026-07-28' \\\n    -H 'Mcp-Method: tools/call' -H 'Mcp-Name: echo' \\\n    -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{{\"name\":\"echo\",\"arguments\":{{\"text\":\"hello from Berth\"}},\"_meta\":{{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{{}}}}}}}}'"
    );
    format!(
        "\nBerth demo is running.\n\n  MCP endpoint : {url}\n  Bearer token : {token}\n\n\
         Call a tool (another shell):\n\n  TOKEN={token}\n  {curl}\n\n\
         More tokens (other users, scopes): berth token --subject alice --state-dir {dir}\n\n\
         Deploy servers (control plane, admin token):\n\n  export BERTH_URL={base} BERTH_TOKEN={admin}\n  berth server list demo\n\n\
         Stop with Ctrl-C.\n",
        dir = state_dir.display(),
        base = url.split("/mcp/").next().unwrap_or(url),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo(args: &[&str]) -> DemoArgs {
        let mut all = vec!["berth", "demo"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all).expect("valid arguments").command {
            Command::Demo(d) => d,
            other => panic!("not demo: {other:?}"),
        }
    }

    fn lookup(key: &str) -> Option<String> {
        (key == "FROM_BERTH").then(|| "inherited".to_owned())
    }

    #[test]
    fn env_flags_set_override_and_pass_through_like_docker() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            file.path(),
            "# a comment\n\nPYTHONPATH=/srv/lib\nTOKEN=from-file\nFROM_BERTH\nNOT_SET_ANYWHERE\nEMPTY=\nSPACES=a b = c\n",
        )
        .unwrap();
        let args = demo(&[
            "--env-file",
            file.path().to_str().unwrap(),
            "--env",
            "TOKEN=from-flag",
            "-e",
            "EXTRA=1",
        ]);
        let env = args.server_env(lookup).unwrap();
        assert_eq!(env["PYTHONPATH"], "/srv/lib");
        assert_eq!(env["TOKEN"], "from-flag", "--env wins over the file");
        assert_eq!(
            env["FROM_BERTH"], "inherited",
            "a bare KEY passes Berth's value"
        );
        assert!(
            !env.contains_key("NOT_SET_ANYWHERE"),
            "a bare unset KEY passes nothing"
        );
        assert_eq!(env["EMPTY"], "");
        assert_eq!(env["SPACES"], "a b = c", "values are literal");
        assert_eq!(env["EXTRA"], "1");
    }

    #[test]
    fn bad_env_settings_name_where_they_came_from() {
        let e = demo(&["--env", "1BAD=x"]).server_env(lookup).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--env 1BAD=x: `1BAD` is not a variable name"),
            "{e}"
        );
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "OK=1\nnot valid=2\n").unwrap();
        let e = demo(&["--env-file", file.path().to_str().unwrap()])
            .server_env(lookup)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("line 2: `not valid` is not a variable name"),
            "{e}"
        );
        let e = demo(&["--env-file", "/nonexistent/env"])
            .server_env(lookup)
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--env-file /nonexistent/env: cannot read it"),
            "{e}"
        );
    }
}
