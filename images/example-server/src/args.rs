//! Command-line arguments (a handful of flags, parsed by hand).
//!
//! Imports: `http` (its [`HostPolicy`]) and `misbehave` (its modes). Must not import `lib.rs`,
//! which runs what this module parses.

use std::net::SocketAddr;

use crate::http::HostPolicy;
use crate::misbehave::Misbehavior;

pub(crate) const USAGE: &str = "\
usage: berth-example-server [--http ADDR [--allowed-host HOST]... [--any-host]]

  (no flags)           serve MCP over stdio (newline-delimited JSON-RPC; logs on stderr)
  --http ADDR          serve MCP over Streamable HTTP at http://ADDR/mcp (e.g. 127.0.0.1:0)
  --allowed-host HOST  also accept this Host header (default: loopback names only)
  --any-host           accept any Host header (no DNS-rebinding protection)
  --sessions-only      stdio: speak only the 2025 session era, as servers written
                       before 2026-07-28 do (server/discover is -32601)
  --misbehave MODE     a broken stdio server for fault tests: exit-now, flood,
                       big-lines, silent, fork-bomb
  -h, --help           print this help";

/// What to serve.
#[derive(Debug)]
pub(crate) enum Mode {
    /// Stdio; `sessions_only` hides the 2026-07-28 era.
    Stdio {
        sessions_only: bool,
    },
    Http {
        addr: SocketAddr,
        hosts: HostPolicy,
    },
    /// A deliberately broken server, for Berth's fault tests.
    Misbehave(Misbehavior),
}

/// The result of parsing: run, or print help.
#[derive(Debug)]
pub(crate) enum Command {
    Run(Mode),
    Help,
}

/// Parses the arguments after the program name.
pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut args = args.into_iter();
    let mut addr = None;
    let mut hosts = HostPolicy::default();
    let mut sessions_only = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--http" => {
                let value = args.next().ok_or("--http needs an address")?;
                let parsed = value.parse().map_err(|_| {
                    format!("--http: `{value}` is not an address like 127.0.0.1:3001")
                })?;
                addr = Some(parsed);
            }
            "--allowed-host" => {
                hosts
                    .extra_hosts
                    .push(args.next().ok_or("--allowed-host needs a host")?);
            }
            "--any-host" => hosts.any_host = true,
            "--sessions-only" => sessions_only = true,
            "--misbehave" => {
                let value = args.next().ok_or("--misbehave needs a mode")?;
                let mode = Misbehavior::parse(&value)?;
                return Ok(Command::Run(Mode::Misbehave(mode)));
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    match addr {
        Some(_) if sessions_only => Err("--sessions-only applies to stdio only".into()),
        Some(addr) => Ok(Command::Run(Mode::Http { addr, hosts })),
        None if hosts.any_host || !hosts.extra_hosts.is_empty() => {
            Err("--allowed-host and --any-host only apply with --http".into())
        }
        None => Ok(Command::Run(Mode::Stdio { sessions_only })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(|arg| (*arg).to_owned()))
    }

    #[test]
    fn no_arguments_is_stdio() {
        assert!(matches!(
            parse_str(&[]),
            Ok(Command::Run(Mode::Stdio {
                sessions_only: false
            }))
        ));
        assert!(matches!(
            parse_str(&["--sessions-only"]),
            Ok(Command::Run(Mode::Stdio {
                sessions_only: true
            }))
        ));
        assert!(parse_str(&["--sessions-only", "--http", "127.0.0.1:0"]).is_err());
    }

    #[test]
    fn http_takes_an_address_and_hosts() {
        let Ok(Command::Run(Mode::Http { addr, hosts })) =
            parse_str(&["--http", "127.0.0.1:0", "--allowed-host", "mcp"])
        else {
            panic!("expected http mode");
        };
        assert_eq!(addr.port(), 0);
        assert_eq!(hosts.extra_hosts, vec!["mcp".to_owned()]);
        assert!(!hosts.any_host);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(parse_str(&["--http"]).is_err());
        assert!(parse_str(&["--http", "nope"]).is_err());
        assert!(parse_str(&["--any-host"]).is_err());
        assert!(parse_str(&["--bogus"]).is_err());
    }
}
