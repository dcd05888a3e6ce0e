//! Real `redis-server` processes for integration tests: one per test, on a
//! free loopback port, without persistence, killed (SIGKILL) on drop. Also
//! starts replicas and Sentinels (`redis-server CONF --sentinel`).
//!
//! A missing `redis-server` is a test failure, not a skip: these tests are
//! the only evidence that the Redis store works.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a server may take to answer its first `PING`.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// One running `redis-server` (or Sentinel).
pub(crate) struct RedisServer {
    child: Child,
    port: u16,
    dir: TempDir,
}

// === impl RedisServer ===

impl RedisServer {
    /// A standalone server on a free port.
    pub(crate) fn start() -> RedisServer {
        RedisServer::start_on(free_port(), &[])
    }

    /// A server on `port` with extra command-line arguments (e.g.
    /// `--replicaof 127.0.0.1 PORT`).
    pub(crate) fn start_on(port: u16, extra: &[&str]) -> RedisServer {
        let dir = tempfile::tempdir().expect("create a temp dir for redis-server");
        let port_arg = port.to_string();
        let dir_arg = dir.path().to_string_lossy().into_owned();
        let log_arg = dir.path().join("redis.log").to_string_lossy().into_owned();
        let mut args = vec![
            "--port",
            &port_arg,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            &dir_arg,
            "--logfile",
            &log_arg,
        ];
        args.extend_from_slice(extra);
        RedisServer::spawn(port, dir, &args)
    }

    /// A replica of `primary` on a free port, once its link to the primary
    /// is up.
    pub(crate) fn start_replica_of(primary: &RedisServer) -> RedisServer {
        let primary_port = primary.port.to_string();
        let replica =
            RedisServer::start_on(free_port(), &["--replicaof", "127.0.0.1", &primary_port]);
        replica.wait_for("replica link up", |con| {
            info(con, "replication").contains("master_link_status:up")
        });
        replica
    }

    /// A Sentinel monitoring `primary` as `master` (quorum 1, down after
    /// 1 s, failover timeout 5 s), once it knows `replicas` healthy replicas.
    pub(crate) fn start_sentinel(
        primary: &RedisServer,
        master: &str,
        replicas: usize,
    ) -> RedisServer {
        RedisServer::start_sentinel_at(primary.port, master, replicas, "")
    }

    /// A Sentinel as [`RedisServer::start_sentinel`] makes, monitoring the
    /// primary at `primary_port`, with `extra` lines of configuration (e.g.
    /// TLS).
    pub(crate) fn start_sentinel_at(
        primary_port: u16,
        master: &str,
        replicas: usize,
        extra: &str,
    ) -> RedisServer {
        let dir = tempfile::tempdir().expect("create a temp dir for redis-sentinel");
        let port = free_port();
        let conf = dir.path().join("sentinel.conf");
        let text = format!(
            "port {port}\nbind 127.0.0.1\ndir {dir}\nlogfile {log}\n{extra}\
             sentinel monitor {master} 127.0.0.1 {primary_port} 1\n\
             sentinel down-after-milliseconds {master} 1000\n\
             sentinel failover-timeout {master} 5000\n",
            dir = dir.path().display(),
            log = dir.path().join("sentinel.log").display(),
        );
        std::fs::write(&conf, text).expect("write sentinel.conf");
        let conf = conf.to_string_lossy().into_owned();
        let sentinel = RedisServer::spawn(port, dir, &[&conf, "--sentinel"]);
        sentinel.wait_for("Sentinel to see the replicas", |con| {
            let reply: redis::Value = match redis::cmd("SENTINEL")
                .arg("REPLICAS")
                .arg(master)
                .query(con)
            {
                Ok(reply) => reply,
                Err(_) => return false,
            };
            healthy_replicas(&reply) >= replicas
        });
        sentinel
    }

    fn spawn(port: u16, dir: TempDir, args: &[&str]) -> RedisServer {
        let bin = redis_server_binary();
        let child = Command::new(&bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
        let mut server = RedisServer { child, port, dir };
        server.wait_for_ping();
        server
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A plain (blocking) connection for inspecting the server directly.
    pub(crate) fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
            .unwrap_or_else(|e| panic!("connect to redis-server on {}: {e}", self.port))
    }

    /// SIGKILL, as a crash would.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn wait_for_ping(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "redis-server on port {} exited with {status} before answering PING; \
                     its log:\n{}",
                    self.port,
                    self.log()
                );
            }
            if ping(self.port) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not answer PING within {START_TIMEOUT:?}; its log:\n{}",
                self.port,
                self.log()
            );
            // A synchronous helper polling a child process: nothing to yield to.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Polls `ready` on a fresh connection until it holds.
    fn wait_for(&self, what: &str, mut ready: impl FnMut(&mut redis::Connection) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut con = self.connection();
        while !ready(&mut con) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what} on port {}; log:\n{}",
                self.port,
                self.log()
            );
            // A synchronous helper polling a blocking connection: nothing to yield to.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's log file (for failure messages).
    pub(crate) fn log(&self) -> String {
        let logs: Vec<PathBuf> = ["redis.log", "sentinel.log"]
            .iter()
            .map(|name| self.dir.path().join(name))
            .collect();
        logs.iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

// === helpers ===

/// A loopback port nobody listens on now, drawn at random from below the
/// kernel's ephemeral range: no other process's `bind(0)` or outgoing
/// connection takes it between this pick and `redis-server`'s bind.
pub(crate) fn free_port() -> u16 {
    use rand::Rng;
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .filter(|low: &u16| *low > 12_000)
        .unwrap_or(32_768);
    let mut rng = rand::thread_rng();
    for _ in 0..1_000 {
        let port = rng.gen_range(10_000..low);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// `INFO section` as text.
pub(crate) fn info(con: &mut redis::Connection, section: &str) -> String {
    redis::cmd("INFO")
        .arg(section)
        .query(con)
        .unwrap_or_default()
}

/// `redis-server` from `PATH`; fails the test with instructions if absent.
fn redis_server_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| is_executable(candidate))
        .unwrap_or_else(|| {
            panic!(
                "redis-server is not on PATH. The Redis store tests need a real Redis 6.2+ \
                 server: install it (Debian/Ubuntu: `apt-get install redis-server`; \
                 scripts/test installs it) and run the tests again"
            )
        })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `PING` over a raw socket: true once the server answers `+PONG`.
fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("+PONG")
}

/// Replicas in a `SENTINEL REPLICAS` reply whose flags are exactly `slave`
/// (connected, not down).
fn healthy_replicas(reply: &redis::Value) -> usize {
    let redis::Value::Array(replicas) = reply else {
        return 0;
    };
    replicas
        .iter()
        .filter(|replica| {
            let fields: Vec<String> = match replica {
                redis::Value::Array(fields) => fields
                    .iter()
                    .map(|f| match f {
                        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                        _ => String::new(),
                    })
                    .collect(),
                _ => return false,
            };
            fields
                .chunks(2)
                .any(|pair| pair.len() == 2 && pair[0] == "flags" && pair[1] == "slave")
        })
        .count()
}
