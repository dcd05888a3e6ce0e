//! The default transport: one MCP connection on stdin/stdout, optionally
//! limited to the 2025 session era.
//!
//! Imports: `server`, `state`, `shutdown`. Must not import `lib.rs`, `args` or `misbehave` (the
//! fork-bomb mode ends by calling [`serve`]).

use std::sync::Arc;

use rmcp::ServiceExt;
use serde_json::{Value, json};
use std::os::fd::AsFd;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;
use tokio::sync::mpsc;

use crate::server::ExampleServer;
use crate::shutdown::shutdown_signal;
use crate::state::Instance;

/// Buffer between the connection and the server, in bytes.
const PIPE_BYTES: usize = 1 << 20;

/// Serves one connection on stdin/stdout until the client closes it or a signal arrives.
/// `sessions_only` answers `server/discover` with -32601, as a server of the session era
/// does, so clients (and Berth) speak the 2025 handshake to it.
pub(crate) async fn serve(sessions_only: bool) -> anyhow::Result<()> {
    let instance = Arc::new(Instance::new(None)?);
    let server = ExampleServer::new(instance);
    let running = if sessions_only {
        server.serve(sessions_only_pipe()).await?
    } else {
        server.serve((stdin_stream(), stdout_stream())).await?
    };
    tokio::select! {
        quit = running.waiting() => {
            tracing::info!(reason = ?quit?, "stdio connection closed");
        }
        () = shutdown_signal() => tracing::info!("signal received, exiting"),
    }
    Ok(())
}

/// The server's end of a pipe to stdin/stdout that answers `server/discover` itself and
/// passes every other line through.
fn sessions_only_pipe() -> (
    tokio::io::ReadHalf<tokio::io::DuplexStream>,
    tokio::io::WriteHalf<tokio::io::DuplexStream>,
) {
    let (ours, theirs) = tokio::io::duplex(PIPE_BYTES);
    let (from_server, mut to_server) = tokio::io::split(ours);
    let (lines_tx, mut lines_rx) = mpsc::channel::<String>(64);
    // stdin → server, except discovery.
    let refusals = lines_tx.clone();
    tokio::spawn(async move {
        let mut stdin = BufReader::new(stdin_stream()).lines();
        while let Ok(Some(line)) = stdin.next_line().await {
            if let Some(refusal) = refuse_discovery(&line) {
                if refusals.send(refusal).await.is_err() {
                    break;
                }
                continue;
            }
            let written = async {
                to_server.write_all(line.as_bytes()).await?;
                to_server.write_all(b"\n").await
            };
            if written.await.is_err() {
                break;
            }
        }
        // The client closed stdin: the server's read side ends too.
        let _ = to_server.shutdown().await;
    });
    // server → stdout.
    tokio::spawn(async move {
        let mut out = BufReader::new(from_server).lines();
        while let Ok(Some(line)) = out.next_line().await {
            if lines_tx.send(line).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let mut stdout = stdout_stream();
        while let Some(mut line) = lines_rx.recv().await {
            line.push('\n');
            if stdout.write_all(line.as_bytes()).await.is_err() || stdout.flush().await.is_err() {
                break;
            }
        }
    });
    tokio::io::split(theirs)
}

/// Reads stdin.
type Input = Box<dyn AsyncRead + Send + Unpin>;
/// Writes stdout.
type Output = Box<dyn AsyncWrite + Send + Unpin>;

/// stdin for the transport. Where it is a pipe (under Berth's process backend or a container
/// runtime) it becomes a non-blocking pipe end driven by the runtime's reactor, so a message
/// costs one `read` and no hand-off to a blocking thread (tokio's `stdin()`/`stdout()` run every
/// read and write on the blocking pool, which cost this server about three times its HTTP
/// transport's CPU per call). Anything else (a terminal, a file) keeps tokio's thread-backed
/// stream.
fn stdin_stream() -> Input {
    match std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .and_then(pipe::Receiver::from_owned_fd)
    {
        Ok(receiver) => Box::new(receiver),
        Err(_) => Box::new(tokio::io::stdin()),
    }
}

/// stdout for the transport, chosen as [`stdin_stream`] chooses stdin.
fn stdout_stream() -> Output {
    match std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .and_then(pipe::Sender::from_owned_fd)
    {
        Ok(sender) => Box::new(sender),
        Err(_) => Box::new(tokio::io::stdout()),
    }
}

/// The -32601 answer to a `server/discover` request line; `None` for any other line.
fn refuse_discovery(line: &str) -> Option<String> {
    let message: Value = serde_json::from_str(line).ok()?;
    if message.get("method")?.as_str()? != "server/discover" {
        return None;
    }
    let id = message.get("id")?.clone();
    Some(
        json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "Method not found: server/discover"}})
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::refuse_discovery;

    #[test]
    fn only_discovery_requests_are_refused() {
        let refusal = refuse_discovery(r#"{"jsonrpc":"2.0","id":7,"method":"server/discover"}"#)
            .expect("refused");
        assert!(refusal.contains(r#""id":7"#) && refusal.contains("-32601"));
        assert!(refuse_discovery(r#"{"jsonrpc":"2.0","id":1,"method":"initialize"}"#).is_none());
        assert!(refuse_discovery(r#"{"jsonrpc":"2.0","method":"server/discover"}"#).is_none());
        assert!(refuse_discovery("not json").is_none());
    }
}
