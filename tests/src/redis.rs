//! A real `redis-server` on a free loopback port for one test (killed on
//! drop), and a raw look at everything it holds.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::free_port;

/// A running `redis-server`.
pub struct RedisServer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts one; panics with a hint when `redis-server` is missing.
    pub fn start() -> RedisServer {
        Self::start_on(free_port())
    }

    /// Starts one on `port` with extra `redis-server` arguments (e.g.
    /// `--tls-port`).
    pub fn start_with(port: u16, extra: &[&str]) -> RedisServer {
        Self::spawn(port, extra)
    }

    /// Starts one on `port` (e.g. again after [`RedisServer::kill`]).
    pub fn start_on(port: u16) -> RedisServer {
        Self::spawn(port, &[])
    }

    /// A replica of `primary`, once its replication link is up.
    pub fn replica_of(primary: &RedisServer) -> RedisServer {
        let port = free_port();
        let p = primary.port.to_string();
        let replica = Self::spawn(port, &["--replicaof", "127.0.0.1", &p]);
        for _ in 0..400 {
            if replica
                .cli(&["INFO", "replication"])
                .contains("master_link_status:up")
            {
                return replica;
            }
            // A synchronous helper polling a child process: nothing to yield to.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("the replica on port {port} never linked to its primary");
    }

    /// A Sentinel (`redis-server --sentinel`) watching `primary` as
    /// `master` (quorum 1, down after 1 s), once it sees `replicas` replicas.
    pub fn sentinel(primary: &RedisServer, master: &str, replicas: usize) -> RedisServer {
        let port = free_port();
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\n\
                 sentinel monitor {master} 127.0.0.1 {} 1\n\
                 sentinel down-after-milliseconds {master} 1000\n\
                 sentinel failover-timeout {master} 5000\n",
                dir.path().display(),
                primary.port
            ),
        )
        .expect("write sentinel.conf");
        let child = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server --sentinel");
        let sentinel = RedisServer {
            child,
            port,
            _dir: dir,
        };
        for _ in 0..400 {
            let seen = sentinel
                .cli(&["SENTINEL", "REPLICAS", master])
                .matches("flags\nslave\n")
                .count();
            if seen >= replicas {
                return sentinel;
            }
            // A synchronous helper polling a child process: nothing to yield to.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("the Sentinel on port {port} never saw {replicas} replica(s)");
    }

    /// The port of the primary a Sentinel currently names for `master`.
    pub fn primary_port(&self, master: &str) -> Option<u16> {
        let out = self.cli(&["SENTINEL", "get-master-addr-by-name", master]);
        out.lines().nth(1)?.trim().parse().ok()
    }

    fn spawn(port: u16, extra: &[&str]) -> RedisServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(extra)
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server; scripts/test installs it)");
        let server = RedisServer {
            child,
            port,
            _dir: dir,
        };
        for _ in 0..200 {
            if server.cli(&["PING"]).trim() == "PONG" {
                return server;
            }
            // A synchronous helper polling a child process: nothing to yield to.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("redis-server on port {port} did not answer PING");
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs `redis-cli` against it; returns stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Every key with its raw value (strings, and stream entries' fields),
    /// as one lossy text blob for "is this plaintext in there" checks.
    pub fn dump_everything(&self) -> String {
        let mut blob = String::new();
        for key in self.cli(&["--scan"]).lines() {
            blob.push_str(key);
            blob.push('\n');
            let kind = self.cli(&["TYPE", key]);
            match kind.trim() {
                "string" => blob.push_str(&self.cli(&["--no-raw", "GET", key])),
                "stream" => blob.push_str(&self.cli(&["--no-raw", "XRANGE", key, "-", "+"])),
                other => blob.push_str(&format!("<{other}>")),
            }
            blob.push('\n');
        }
        blob
    }

    /// Number of keys.
    pub fn key_count(&self) -> usize {
        self.cli(&["--scan"]).lines().count()
    }

    /// SIGKILLs the server.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
