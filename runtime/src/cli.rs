//! The `berth` command line: `demo`, `serve`, `token`, and the bundled
//! `example-server`.
//!
//! May import: `config`, external crates. Nothing in the library imports it
//! but the binary.

use std::net::SocketAddr;
use std::path::PathBuf;

use berth_auth::{DevIssuer, TokenRequest};
use clap::{Args, Parser, Subcommand};

use crate::config::{BackendKind, Config, ServerConfig};

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
        let server = match config.backend {
            BackendKind::Docker => ServerConfig {
                image: Some(
                    self.image
                        .clone()
                        .unwrap_or_else(|| "berth/example-server".into()),
                ),
                command: self.command.clone(),
                ..ServerConfig::default()
            },
            BackendKind::Process if self.command.is_empty() => {
                let exe = std::env::current_exe()?;
                ServerConfig {
                    command: vec![exe.display().to_string(), "example-server".into()],
                    ..ServerConfig::default()
                }
            }
            BackendKind::Process => ServerConfig {
                command: self.command.clone(),
                ..ServerConfig::default()
            },
        };
        config
            .servers
            .entry("demo".into())
            .or_default()
            .insert("everything".into(), server);
        config.validate()?;
        Ok(config)
    }
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
pub fn demo_banner(url: &str, token: &str, state_dir: &std::path::Path) -> String {
    let curl = format!(
        "curl -s {url} \\\n    -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\\n    -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2026-07-28' \\\n    -H 'Mcp-Method: tools/call' -H 'Mcp-Name: echo' \\\n    -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{{\"name\":\"echo\",\"arguments\":{{\"text\":\"hello from Berth\"}},\"_meta\":{{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{{}}}}}}}}'"
    );
    format!(
        "\nBerth demo is running.\n\n  MCP endpoint : {url}\n  Bearer token : {token}\n\n\
         Call a tool (another shell):\n\n  TOKEN={token}\n  {curl}\n\n\
         More tokens (other users, scopes): berth token --subject alice --state-dir {}\n\
         Stop with Ctrl-C.\n",
        state_dir.display()
    )
}
