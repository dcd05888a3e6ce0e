//! `--misbehave MODE`: deliberately broken stdio servers, so Berth's tests
//! can show each fault stays with its own session. They ship in the same
//! image as the real server (a scratch image has nothing else to run).
//!
//! - `exit-now`: exits with status 3 before reading anything.
//! - `flood`: answers nothing, writes garbage lines as fast as it can.
//! - `big-lines`: writes 2 MiB lines forever.
//! - `silent`: reads everything, never answers (not even `initialize`).
//! - `fork-bomb`: starts copies of itself until the pids limit stops it,
//!   then serves normally, so the session shows the limit held.
//!
//! Imports: `stdio` (to serve normally after the fork bomb). Must not import `lib.rs` or `args`
//! (which parses the modes named here).

use std::io::Write;
use std::time::Duration;

use crate::stdio;

/// A broken behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Misbehavior {
    ExitNow,
    Flood,
    BigLines,
    Silent,
    ForkBomb,
    /// What each fork-bomb child does: sleep.
    Sleep,
}

impl Misbehavior {
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "exit-now" => Misbehavior::ExitNow,
            "flood" => Misbehavior::Flood,
            "big-lines" => Misbehavior::BigLines,
            "silent" => Misbehavior::Silent,
            "fork-bomb" => Misbehavior::ForkBomb,
            "sleep" => Misbehavior::Sleep,
            other => return Err(format!("unknown --misbehave mode `{other}`")),
        })
    }
}

/// Runs the broken behaviour.
pub(crate) async fn run(mode: Misbehavior) -> anyhow::Result<()> {
    match mode {
        Misbehavior::ExitNow => std::process::exit(3),
        Misbehavior::Flood => {
            let mut out = std::io::stdout().lock();
            loop {
                out.write_all(b"garbage \x00\xff not json {{{\n")?;
            }
        }
        Misbehavior::BigLines => {
            let line = vec![b'x'; 2 << 20];
            let mut out = std::io::stdout().lock();
            loop {
                out.write_all(&line)?;
                out.write_all(b"\n")?;
            }
        }
        Misbehavior::Silent => {
            let mut sink = tokio::io::sink();
            tokio::io::copy(&mut tokio::io::stdin(), &mut sink).await?;
            Ok(())
        }
        Misbehavior::Sleep => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        }
        Misbehavior::ForkBomb => {
            let exe = std::env::current_exe()?;
            let mut children = Vec::new();
            // Bounded so the test machine is safe even without a pids limit.
            while children.len() < 4096 {
                match std::process::Command::new(&exe)
                    .args(["--misbehave", "sleep"])
                    .spawn()
                {
                    Ok(child) => children.push(child),
                    Err(e) => {
                        tracing::warn!("fork bomb stopped after {} processes: {e}", children.len());
                        break;
                    }
                }
            }
            // Free the pids again so the server can run its own threads.
            for mut child in children {
                let _ = child.kill();
                let _ = child.wait();
            }
            stdio::serve(false).await
        }
    }
}
