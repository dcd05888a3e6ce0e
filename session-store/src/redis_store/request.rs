//! What a [`RedisStore`](super::RedisStore) sends, and how: one command, a
//! call of one of its Lua scripts, or a write followed by `WAIT`; sent the
//! usual way, or again to the node a Redis Cluster node named in a `MOVED`
//! or `ASK` redirection (after `ASKING` for `ASK`).
//!
//! Imports: nothing from this crate. Must not import any other module of
//! `redis_store` (`connection` drives it).

use redis::aio::ConnectionLike;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::SingleNodeRoutingInfo;
use redis::{
    Arg, Cmd, ErrorKind, Pipeline, RedisError, RedisResult, Script, ServerErrorKind, Value,
};

/// What to send.
pub(super) enum Request<'a> {
    /// One command.
    Cmd(Cmd),
    /// One script call.
    Script(ScriptCall<'a>),
    /// A write then `WAIT`, sent together on the store's second connection
    /// (`WAIT` covers the writes of its own connection).
    Acked(Pipeline),
}

/// One of the store's Lua scripts: its SHA-1 (for `EVALSHA`) and its source
/// (for `EVAL` where the node may not have it loaded).
pub(super) struct LuaScript {
    script: Script,
    source: &'static str,
}

/// A call of a [`LuaScript`]: `EVALSHA sha numkeys KEY… ARG…`.
pub(super) struct ScriptCall<'a> {
    script: &'a LuaScript,
    evalsha: Cmd,
}

/// Where a cluster node sent a command it did not run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Redirect {
    /// The node to send it to.
    host: String,
    port: u16,
    /// `ASK` (the slot is migrating and the key is on, or goes to, the
    /// importing node: that one command, after `ASKING`), not `MOVED`
    /// (the slot lives there now).
    asking: bool,
}

// === impl LuaScript ===

impl LuaScript {
    pub(super) fn new(source: &'static str) -> LuaScript {
        LuaScript {
            script: Script::new(source),
            source,
        }
    }

    /// A call with these keys; add the arguments with [`ScriptCall::arg`].
    pub(super) fn call(&self, keys: &[&str]) -> ScriptCall<'_> {
        let mut evalsha = redis::cmd("EVALSHA");
        evalsha.arg(self.script.get_hash()).arg(keys.len());
        for key in keys {
            evalsha.arg(*key);
        }
        ScriptCall {
            script: self,
            evalsha,
        }
    }
}

// === impl ScriptCall ===

impl ScriptCall<'_> {
    /// Adds `ARGV[n]`.
    pub(super) fn arg(&mut self, arg: impl redis::ToRedisArgs) -> &mut Self {
        self.evalsha.arg(arg);
        self
    }

    /// `EVALSHA`, and on `NOSCRIPT` (a node that never saw the script, or
    /// restarted) `SCRIPT LOAD` then `EVALSHA` again.
    async fn invoke(&self, conn: &mut impl ConnectionLike) -> RedisResult<Value> {
        match self.evalsha.query_async::<Value>(conn).await {
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                self.script.script.load_async(conn).await?;
                self.evalsha.query_async::<Value>(conn).await
            }
            result => result,
        }
    }

    /// The same call as `EVAL source …`, for a node that may not have the
    /// script loaded (a redirection's target).
    fn eval(&self) -> Cmd {
        let mut eval = redis::cmd("EVAL");
        eval.arg(self.script.source);
        for arg in self.evalsha.args_iter().skip(2) {
            if let Arg::Simple(bytes) = arg {
                eval.arg(bytes);
            }
        }
        eval
    }
}

// === impl Redirect ===

impl Redirect {
    /// The redirection in a `MOVED` or `ASK` reply, if `err` is one with a
    /// usable address (`SLOT HOST:PORT`).
    pub(super) fn of(err: &RedisError) -> Option<Redirect> {
        let asking = match err.code()? {
            "ASK" => true,
            "MOVED" => false,
            _ => return None,
        };
        let (addr, _slot) = err.redirect_node()?;
        let (host, port) = addr.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Some(Redirect {
            host: host.to_string(),
            port: port.parse().ok()?,
            asking,
        })
    }
}

/// Sends `request` on `conn`.
pub(super) async fn send<C: ConnectionLike + Send>(
    conn: &mut C,
    request: &Request<'_>,
) -> RedisResult<Value> {
    match request {
        Request::Cmd(cmd) => cmd.query_async::<Value>(conn).await,
        Request::Script(call) => call.invoke(conn).await,
        Request::Acked(pipe) => pipe.query_async::<Value>(conn).await,
    }
}

/// Sends `request` to the node `to` names, each command after `ASKING` for
/// an `ASK` (the flag covers one command), scripts as `EVAL`; the reply is
/// what [`send`] would give.
pub(super) async fn send_redirected(
    conn: &mut ClusterConnection,
    to: &Redirect,
    request: &Request<'_>,
) -> RedisResult<Value> {
    let mut pipe = redis::pipe();
    let commands = match request {
        Request::Cmd(cmd) => vec![cmd.clone()],
        Request::Script(call) => vec![call.eval()],
        Request::Acked(acked) => acked.cmd_iter().cloned().collect(),
    };
    let count = commands.len();
    for cmd in commands {
        if to.asking {
            pipe.cmd("ASKING");
        }
        pipe.add_command(cmd);
    }
    let per_command = if to.asking { 2 } else { 1 };
    let route = SingleNodeRoutingInfo::ByAddress {
        host: to.host.clone(),
        port: to.port,
    };
    let replies = conn
        .route_pipeline(pipe, 0, count * per_command, route)
        .await?;
    let mut replies: Vec<Value> = replies
        .into_iter()
        .skip(per_command - 1)
        .step_by(per_command)
        .map(Value::extract_error)
        .collect::<RedisResult<_>>()?;
    match request {
        Request::Acked(_) => Ok(Value::Array(replies)),
        Request::Cmd(_) | Request::Script(_) => replies.pop().ok_or_else(|| {
            RedisError::from((ErrorKind::Client, "no reply to a redirected command"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error a node's reply `-TEXT` gives.
    fn reply_error(text: &str) -> RedisError {
        redis::parse_redis_value(format!("-{text}\r\n").as_bytes())
            .unwrap()
            .extract_error()
            .unwrap_err()
    }

    #[test]
    fn redirections_name_the_node_and_whether_to_ask() {
        assert_eq!(
            Redirect::of(&reply_error("ASK 3999 127.0.0.1:6381")),
            Some(Redirect {
                host: "127.0.0.1".into(),
                port: 6381,
                asking: true
            })
        );
        assert_eq!(
            Redirect::of(&reply_error("MOVED 12 redis-2.svc:7000")),
            Some(Redirect {
                host: "redis-2.svc".into(),
                port: 7000,
                asking: false
            })
        );
        assert_eq!(
            Redirect::of(&reply_error("MOVED 12 [::1]:7000")),
            Some(Redirect {
                host: "::1".into(),
                port: 7000,
                asking: false
            })
        );
        for not_one in [
            "TRYAGAIN Multiple keys request during rehashing of slot",
            "READONLY You can't write against a read only replica.",
            "ASK 3999",
            "MOVED x 127.0.0.1:1",
            "ERR unknown command",
        ] {
            assert_eq!(Redirect::of(&reply_error(not_one)), None, "{not_one}");
        }
    }

    #[test]
    fn a_redirected_script_call_carries_its_source_and_the_same_keys_and_arguments() {
        let script = LuaScript::new("return {KEYS[1], ARGV[1]}");
        let mut call = script.call(&["k1", "k2"]);
        call.arg(&b"v\0\xff"[..]).arg(7u64);
        let args = |cmd: &Cmd| -> Vec<Vec<u8>> {
            cmd.args_iter()
                .map(|a| match a {
                    Arg::Simple(b) => b.to_vec(),
                    _ => panic!("only plain arguments"),
                })
                .collect()
        };
        let tail: Vec<Vec<u8>> = vec![
            b"2".to_vec(),
            b"k1".to_vec(),
            b"k2".to_vec(),
            b"v\0\xff".to_vec(),
            b"7".to_vec(),
        ];
        let evalsha = args(&call.evalsha);
        assert_eq!(evalsha[0], b"EVALSHA");
        assert_eq!(evalsha[1], script.script.get_hash().as_bytes());
        assert_eq!(evalsha[2..], tail[..]);
        let eval = args(&call.eval());
        assert_eq!(eval[0], b"EVAL");
        assert_eq!(eval[1], b"return {KEYS[1], ARGV[1]}");
        assert_eq!(eval[2..], tail[..]);
    }
}
