//! The `berth` binary: parse the command line, set up logging, run.
//! Everything else lives in the library (`berth::App`).

use std::process::ExitCode;

use berth::cli::{Cli, Command, demo_banner};
use berth::{App, Config};
use clap::Parser;
use tokio::net::TcpListener;

/// mimalloc: allocation is a visible share of the per-call CPU with the
/// system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// sysexits `EX_USAGE`: bad configuration or arguments.
const EX_USAGE: u8 = 64;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::CheckConfig(args) = &cli.command {
        return match args.check() {
            Ok(summary) => {
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("berth check-config: {e:#}");
                ExitCode::from(EX_USAGE)
            }
        };
    }
    if let Command::Token(args) = &cli.command {
        return match args.mint() {
            Ok(token) => {
                println!("{token}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("berth token: {e:#}");
                ExitCode::from(EX_USAGE)
            }
        };
    }
    // The example server on stdio serves one connection: one thread is
    // enough and spares a hand-off between threads per message.
    let mut runtime = match &cli.command {
        Command::ExampleServer { args } if berth_example_server::serves_stdio(args) => {
            tokio::runtime::Builder::new_current_thread()
        }
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = runtime
        .enable_all()
        .build()
        .expect("cannot start the Tokio runtime");
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::ExampleServer { args } => {
            berth_example_server::init_logging();
            let code = berth_example_server::run(args).await;
            // See images/example-server/src/main.rs: don't wait for stdin.
            std::process::exit(if code == ExitCode::SUCCESS { 0 } else { 1 })
        }
        Command::Demo(args) => {
            init_logging(false);
            let config = match args.config() {
                Ok(c) => c,
                Err(e) => return usage(e),
            };
            let token_args = berth::cli::TokenArgs {
                subject: "demo-user".into(),
                tenant: "demo".into(),
                scopes: Vec::new(),
                audience: None,
                ttl: "24h".into(),
                state_dir: args.state_dir.clone(),
            };
            let token = match token_args.mint() {
                Ok(t) => t,
                Err(e) => return usage(e),
            };
            let admin_args = berth::cli::TokenArgs {
                subject: "demo-admin".into(),
                scopes: vec![config.control.admin_scope.clone()],
                ..token_args
            };
            let admin = match admin_args.mint() {
                Ok(t) => t,
                Err(e) => return usage(e),
            };
            let deployment = match args.deployment() {
                Ok(d) => d,
                Err(e) => return usage(e),
            };
            let state_dir = args.state_dir.clone();
            let register = Register {
                tenant: "demo",
                name: "everything",
                deployment,
                actor: "demo-admin",
            };
            serve(config, Some(register), move |c: &Config| {
                let url = format!("{}/mcp/demo/everything", c.public_base());
                demo_banner(&url, &token, &admin, &state_dir)
            })
            .await
        }
        Command::Serve(args) => {
            init_logging(true);
            match Config::load(args.config.as_deref(), std::env::vars()) {
                Ok(c) => {
                    serve(c, None, |c: &Config| {
                        format!("berth listening on {}", c.public_base())
                    })
                    .await
                }
                Err(e) => usage(e.into()),
            }
        }
        Command::Server(args) => match args.run().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("berth server: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Sessions(args) => match args.run().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("berth sessions: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Token(_) | Command::CheckConfig(_) => {
            unreachable!("handled before the runtime starts")
        }
    }
}

/// Binds first (so `--listen 127.0.0.1:0` works and the banner shows the
/// real port), then builds and runs Berth.
/// A server the demo registers through the registry as it starts.
struct Register {
    tenant: &'static str,
    name: &'static str,
    deployment: serde_json::Value,
    actor: &'static str,
}

async fn serve(
    mut config: Config,
    register: Option<Register>,
    banner: impl FnOnce(&Config) -> String,
) -> ExitCode {
    let listen = config.listen;
    let listener = match TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("berth: cannot listen on {listen}: {e} (config key `listen`, or --listen)");
            return ExitCode::from(EX_USAGE);
        }
    };
    if let Ok(addr) = listener.local_addr() {
        config.listen = addr;
    }
    let text = banner(&config);
    let app = match App::build(config).await {
        Ok(app) => app,
        Err(e) => return usage(e.into()),
    };
    if let Some(r) = register
        && let Err(e) = app
            .ensure_server(r.tenant, r.name, r.deployment, r.actor)
            .await
    {
        return usage(e.into());
    }
    tracing::info!(listen = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "berth listening");
    println!("{text}");
    app.run(listener, shutdown_signal()).await;
    tracing::info!("berth stopped");
    ExitCode::SUCCESS
}

fn usage(e: anyhow::Error) -> ExitCode {
    eprintln!("berth: {e:#}");
    ExitCode::from(EX_USAGE)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("cannot install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn init_logging(json_default: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BERTH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = std::env::var("BERTH_LOG_FORMAT")
        .map(|f| f == "json")
        .unwrap_or(json_default);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.compact().init();
    }
}
