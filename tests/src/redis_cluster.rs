//! A real Redis Cluster for one test: three `redis-server --cluster-enabled
//! yes` primaries on free loopback ports, joined by `redis-cli --cluster
//! create` and ready once each reports `cluster_state:ok` (killed on drop),
//! and a look at which node holds which keys.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::free_port;

/// A running three-primary cluster.
pub struct RedisCluster {
    nodes: Vec<Node>,
}

struct Node {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    /// Starts three primaries and creates the cluster; panics with a hint
    /// when `redis-server` or `redis-cli` is missing.
    pub fn start() -> RedisCluster {
        let nodes: Vec<Node> = (0..3).map(|_| Node::spawn_on_free_ports()).collect();
        let cluster = RedisCluster { nodes };
        let addrs: Vec<String> = cluster
            .ports()
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli (Debian package redis-tools; scripts/test installs it)");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for _ in 0..1200 {
            if cluster
                .ports()
                .iter()
                .all(|p| cli(*p, &["CLUSTER", "INFO"]).contains("cluster_state:ok"))
            {
                return cluster;
            }
            // A synchronous helper polling child processes: nothing to yield to.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!(
            "the cluster on ports {:?} never reported cluster_state:ok",
            cluster.ports()
        );
    }

    /// The nodes' ports (all primaries).
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    /// `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`.
    pub fn url(&self) -> String {
        let seeds: Vec<String> = self
            .ports()
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        format!("redis+cluster://{}", seeds.join(","))
    }

    /// Runs `redis-cli` against the node on `port` (no redirections
    /// followed); returns stdout.
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        cli(port, args)
    }

    /// The keys each node holds, by port.
    pub fn keys_by_node(&self) -> Vec<(u16, Vec<String>)> {
        self.ports()
            .into_iter()
            .map(|p| (p, cli(p, &["--scan"]).lines().map(str::to_owned).collect()))
            .collect()
    }

    /// `CLUSTER KEYSLOT key`.
    pub fn keyslot(&self, key: &str) -> u16 {
        let out = cli(self.nodes[0].port, &["CLUSTER", "KEYSLOT", key]);
        out.trim()
            .parse()
            .unwrap_or_else(|_| panic!("CLUSTER KEYSLOT {key}: {out}"))
    }
}

impl Node {
    /// A node on a free port whose bus port (port + 10000) is free too;
    /// another process can take either between the pick and the bind, so a
    /// node that does not start is tried on other ports (5 times).
    fn spawn_on_free_ports() -> Node {
        let mut failures = Vec::new();
        while failures.len() < 5 {
            let port = free_port();
            let Some(bus) = port.checked_add(10000) else {
                continue;
            };
            if std::net::TcpListener::bind(("127.0.0.1", bus)).is_err() {
                continue;
            }
            match Node::spawn(port) {
                Ok(node) => return node,
                Err(why) => failures.push(why),
            }
        }
        panic!("no cluster node started:\n{}", failures.join("\n"));
    }

    fn spawn(port: u16) -> Result<Node, String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("redis.log");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args([
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
            ])
            .args(["--cluster-node-timeout", "1000"])
            .arg("--dir")
            .arg(dir.path())
            .arg("--logfile")
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server; scripts/test installs it)");
        let mut node = Node {
            child,
            port,
            _dir: dir,
        };
        for _ in 0..200 {
            if cli(port, &["PING"]).trim() == "PONG" {
                return Ok(node);
            }
            if node.child.try_wait().ok().flatten().is_some() {
                break;
            }
            // A synchronous helper polling a child process: nothing to yield to.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(Duration::from_millis(25));
        }
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        Err(format!(
            "cluster node on port {port} did not answer PING; its log:\n{log}"
        ))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
