//! `berth sessions …`: a tenant's hosting sessions on every pod, and
//! ending one (the `/v1/tenants/{tenant}/sessions` API).
//!
//! May import: `cli::server` (the `/v1` client and table helpers),
//! external crates.

use clap::{Args, Subcommand};
use serde_json::Value;

use super::server::{call, table, text};

/// `berth sessions` options.
#[derive(Debug, Args)]
pub struct SessionsArgs {
    /// Berth's base URL.
    #[arg(
        long,
        env = "BERTH_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// Bearer token with the admin (or operator) scope.
    #[arg(long, env = "BERTH_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub action: SessionsAction,
}

/// `berth sessions` subcommands.
#[derive(Debug, Subcommand)]
pub enum SessionsAction {
    /// List a tenant's hosting sessions on every pod.
    List {
        /// Tenant.
        tenant: String,
    },
    /// End a session: its instance stops; the agent gets 404 next time.
    End {
        /// Tenant.
        tenant: String,
        /// Session id (from `berth sessions list`).
        id: String,
    },
}

impl SessionsArgs {
    /// Runs the subcommand; `Err` holds what to print.
    pub async fn run(&self) -> anyhow::Result<()> {
        let (method, path) = match &self.action {
            SessionsAction::List { tenant } => (
                reqwest::Method::GET,
                format!("/v1/tenants/{tenant}/sessions"),
            ),
            SessionsAction::End { tenant, id } => (
                reqwest::Method::DELETE,
                format!("/v1/tenants/{tenant}/sessions/{id}"),
            ),
        };
        let json = call(&self.url, self.token.as_deref(), method, &path, None).await?;
        if self.json {
            println!("{}", serde_json::to_string_pretty(&json)?);
            return Ok(());
        }
        let mut t = table(&[
            "ID",
            "SERVER",
            "VERSION",
            "SUBJECT",
            "INSTANCE",
            "POD",
            "STARTED",
            "LAST USED",
        ]);
        let rows: Vec<&Value> = match &self.action {
            SessionsAction::List { .. } => {
                json["sessions"].as_array().into_iter().flatten().collect()
            }
            SessionsAction::End { .. } => vec![&json],
        };
        for s in rows {
            t.add_row(vec![
                text(&s["id"]).chars().take(16).collect(),
                text(&s["server"]),
                text(&s["version"]),
                text(&s["subject"]),
                text(&s["instance"]).chars().take(12).collect(),
                text(&s["pod"]),
                text(&s["started"]),
                text(&s["last_used"]),
            ]);
        }
        if matches!(self.action, SessionsAction::End { .. }) {
            println!("ended:");
        }
        println!("{t}");
        Ok(())
    }
}
