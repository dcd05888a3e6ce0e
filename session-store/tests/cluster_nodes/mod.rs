//! A real Redis Cluster for integration tests: `redis-server
//! --cluster-enabled yes` nodes on free loopback ports, joined by
//! `redis-cli --cluster create` (3 primaries, optionally a replica each),
//! ready once every node reports `cluster_state:ok`. Nodes can be killed
//! (SIGKILL) and started again with their `nodes.conf`; all are killed on
//! drop.
//!
//! Missing `redis-server` or `redis-cli` is a test failure, not a skip
//! (Debian: `apt-get install redis-server redis-tools`; scripts/test
//! installs both).

use std::collections::HashSet;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::redis_server::free_port;

/// How long creating the cluster, or a failover, may take.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(60);

/// How many sets of ports a node may try before the test fails.
const START_ATTEMPTS: usize = 5;

/// A cluster node's bus listens on its port + 10000 (Redis refuses ports
/// above 55535 for that reason).
const BUS_PORT_OFFSET: u16 = 10000;

/// The nodes of one cluster.
pub(crate) struct RedisCluster {
    nodes: Vec<ClusterNode>,
}

/// One `redis-server` in cluster mode; its directory (with `nodes.conf`)
/// outlives restarts.
struct ClusterNode {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
    /// The TLS port and the arguments that serve it, for a cluster over TLS.
    tls: Option<(u16, Vec<String>)>,
}

// === impl RedisCluster ===

impl RedisCluster {
    /// `primaries` primaries with `replicas` replicas each, slots spread
    /// evenly, every node agreeing the cluster is ok.
    pub(crate) fn start(primaries: usize, replicas: usize) -> RedisCluster {
        RedisCluster::start_with(primaries, replicas, |_| None)
    }

    /// As [`RedisCluster::start`], each node also serving TLS on a port of
    /// its own with `tls(port)`'s arguments (its plain port stays, for the
    /// helpers here).
    pub(crate) fn start_with(
        primaries: usize,
        replicas: usize,
        tls: impl Fn(u16) -> Option<Vec<String>>,
    ) -> RedisCluster {
        let total = primaries * (replicas + 1);
        // Ports are picked free, but another process (another test's
        // cluster) can bind one before its node does, or hold the node's
        // bus port (port + 10000): a node that cannot start gets other ports.
        let mut taken = HashSet::new();
        let mut nodes: Vec<ClusterNode> = Vec::with_capacity(total);
        while nodes.len() < total {
            let mut node = ClusterNode::on_free_ports(&mut taken, &tls);
            let mut attempt = 1;
            while let Err(why) = node.spawn() {
                assert!(attempt < START_ATTEMPTS, "{why}");
                attempt += 1;
                node = ClusterNode::on_free_ports(&mut taken, &tls);
            }
            nodes.push(node);
        }
        let cluster = RedisCluster { nodes };
        let addrs: Vec<String> = cluster
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run redis-cli (Debian package redis-tools): {e}"));
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.wait_until("every node reports cluster_state:ok", |c| {
            c.live_ports().iter().all(|p| cluster_ok(*p))
        });
        cluster.wait_until("the replicas to be linked", |c| {
            c.primary_ports().len() == primaries
                && c.live_ports()
                    .iter()
                    .filter(|p| !c.primary_ports().contains(p))
                    .all(|p| cli(*p, &["INFO", "replication"]).contains("master_link_status:up"))
        });
        cluster
    }

    /// `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,…` (every node a seed).
    pub(crate) fn url(&self) -> String {
        let seeds: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", seeds.join(","))
    }

    /// `rediss+cluster://127.0.0.1:T1,…` (every node's TLS port a seed).
    pub(crate) fn tls_url(&self) -> String {
        let seeds: Vec<String> = self
            .nodes
            .iter()
            .filter_map(|n| n.tls.as_ref())
            .map(|(port, _)| format!("127.0.0.1:{port}"))
            .collect();
        format!("rediss+cluster://{}", seeds.join(","))
    }

    /// The URL naming only the first node as seed.
    pub(crate) fn url_one_seed(&self) -> String {
        format!("redis+cluster://127.0.0.1:{}", self.nodes[0].port)
    }

    /// Ports of the nodes currently running.
    pub(crate) fn live_ports(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| n.port)
            .collect()
    }

    /// Ports of the running nodes that serve slots as primaries.
    pub(crate) fn primary_ports(&self) -> Vec<u16> {
        self.live_ports()
            .into_iter()
            .filter(|p| {
                cli(*p, &["CLUSTER", "NODES"])
                    .lines()
                    .filter_map(NodeLine::parse)
                    .any(|n| n.myself && n.serves_slots())
            })
            .collect()
    }

    /// The port of the primary serving `slot`, as the first running node
    /// sees the map (waiting while it knows none: after a failover the
    /// news takes a moment to spread).
    pub(crate) fn port_of_slot(&self, slot: u16) -> u16 {
        let mut port = None;
        self.wait_until(&format!("a primary serving slot {slot}"), |c| {
            let nodes = cli(c.live_ports()[0], &["CLUSTER", "NODES"]);
            port = nodes
                .lines()
                .filter_map(NodeLine::parse)
                .find(|n| n.serves_slots() && n.slots.iter().any(|r| r.contains(&slot)))
                .map(|n| n.port);
            port.is_some()
        });
        port.unwrap_or_default()
    }

    /// `CLUSTER KEYSLOT key`.
    pub(crate) fn keyslot(&self, key: &str) -> u16 {
        let out = cli(self.live_ports()[0], &["CLUSTER", "KEYSLOT", key]);
        out.trim()
            .parse()
            .unwrap_or_else(|_| panic!("CLUSTER KEYSLOT {key}: {out}"))
    }

    /// Keys held by the node on `port` (`--scan`).
    pub(crate) fn keys_on(&self, port: u16) -> Vec<String> {
        cli(port, &["--scan"]).lines().map(str::to_owned).collect()
    }

    /// `redis-cli -p PORT ARGS…` on one node (no redirections followed).
    pub(crate) fn cli_on(&self, port: u16, args: &[&str]) -> String {
        cli(port, args)
    }

    /// SIGKILLs the node on `port`; its `nodes.conf` stays.
    pub(crate) fn kill(&mut self, port: u16) {
        self.node_mut(port).kill();
    }

    /// Starts the node on `port` again (same port, same `nodes.conf`; its
    /// data is gone: no persistence).
    pub(crate) fn restart(&mut self, port: u16) {
        if let Err(why) = self.node_mut(port).spawn() {
            panic!("{why}");
        }
    }

    /// Polls `ready` every 50 ms until it holds, or fails the test.
    pub(crate) fn wait_until(&self, what: &str, mut ready: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + CLUSTER_TIMEOUT;
        while !ready(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; node logs:\n{}",
                self.logs()
            );
            // A synchronous helper polling child processes: nothing to yield to.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every node's log (for failure messages).
    pub(crate) fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                let log =
                    std::fs::read_to_string(n.dir.path().join("redis.log")).unwrap_or_default();
                format!("--- node {} ---\n{log}", n.port)
            })
            .collect()
    }

    fn node_mut(&mut self, port: u16) -> &mut ClusterNode {
        self.nodes
            .iter_mut()
            .find(|n| n.port == port)
            .unwrap_or_else(|| panic!("no cluster node on port {port}"))
    }
}

// === impl ClusterNode ===

impl ClusterNode {
    /// A node (not started) on a port, bus port and TLS port that are free
    /// now and not in `taken`, which gets them.
    fn on_free_ports(
        taken: &mut HashSet<u16>,
        tls: &impl Fn(u16) -> Option<Vec<String>>,
    ) -> ClusterNode {
        let port = loop {
            let port = free_port();
            let Some(bus) = port.checked_add(BUS_PORT_OFFSET) else {
                continue;
            };
            if !taken.contains(&port)
                && !taken.contains(&bus)
                && TcpListener::bind(("127.0.0.1", bus)).is_ok()
            {
                break port;
            }
        };
        taken.extend([port, port + BUS_PORT_OFFSET]);
        let tls_port = loop {
            let tls_port = free_port();
            if !taken.contains(&tls_port) {
                break tls_port;
            }
        };
        taken.insert(tls_port);
        ClusterNode {
            child: None,
            port,
            dir: tempfile::tempdir().expect("create a temp dir for a cluster node"),
            tls: tls(tls_port).map(|args| (tls_port, args)),
        }
    }

    /// Starts `redis-server` and waits for its PING; an error (with the
    /// node's log) if it exits or stays silent.
    fn spawn(&mut self) -> Result<(), String> {
        let dir = self.dir.path();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args([
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
            ])
            .args(["--cluster-node-timeout", "1000"])
            .args(self.tls.iter().flat_map(|(_, args)| args))
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(dir.join("redis.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-server (Debian package redis-server): {e}")
            });
        let child = self.child.insert(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while cli(self.port, &["PING"]).trim() != "PONG" {
            let exited = child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() >= deadline {
                self.kill();
                let log =
                    std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
                let how = exited.map_or("did not answer PING in 15 s".to_owned(), |status| {
                    format!("exited ({status})")
                });
                return Err(format!(
                    "cluster node on port {} {how}; its log:\n{log}",
                    self.port
                ));
            }
            // A synchronous helper polling a child process: nothing to yield to.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ClusterNode {
    fn drop(&mut self) {
        self.kill();
    }
}

// === helpers ===

/// `redis-cli -p PORT ARGS…`; stdout (empty if the node is down).
fn cli(port: u16, args: &[&str]) -> String {
    Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default()
}

/// Whether the node on `port` says `cluster_state:ok`.
fn cluster_ok(port: u16) -> bool {
    cli(port, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
}

/// One line of `CLUSTER NODES`: `ID IP:PORT@BUS FLAGS PRIMARY PING PONG
/// EPOCH LINK SLOT…` (a slot is `N` or `N-M`; `[…]` marks a migration).
struct NodeLine {
    port: u16,
    myself: bool,
    primary: bool,
    failed: bool,
    slots: Vec<std::ops::RangeInclusive<u16>>,
}

impl NodeLine {
    fn parse(line: &str) -> Option<NodeLine> {
        let fields: Vec<&str> = line.split(' ').collect();
        let addr = fields.get(1)?.split('@').next()?;
        let port = addr.rsplit_once(':')?.1.parse().ok()?;
        let flags: Vec<&str> = fields.get(2)?.split(',').collect();
        let slots = fields
            .iter()
            .skip(8)
            .filter(|s| !s.starts_with('['))
            .filter_map(|s| match s.split_once('-') {
                Some((a, b)) => Some(a.parse().ok()?..=b.parse().ok()?),
                None => s.parse().ok().map(|n| n..=n),
            })
            .collect();
        Some(NodeLine {
            port,
            myself: flags.contains(&"myself"),
            primary: flags.contains(&"master"),
            failed: flags.iter().any(|f| f.starts_with("fail")),
            slots,
        })
    }

    fn serves_slots(&self) -> bool {
        self.primary && !self.failed && !self.slots.is_empty()
    }
}
