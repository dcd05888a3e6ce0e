//! Process CPU time from `/proc` (Linux).
//!
//! `/proc/PID/stat` gives `utime + stime` of all threads of a process in
//! clock ticks (`sysconf(_SC_CLK_TCK)`, 100 on Linux). That is coarse (10 ms)
//! but exact over a window of seconds, and it costs the measured process
//! nothing. Two ways to split a target's processes into "its own" and "the
//! MCP server's":
//! - [`Probe::new`] (`bench`): the process itself is its own; its direct
//!   children are the servers (Berth's backends are its direct children).
//! - [`Probe::tree`] (`peers`): the process and every descendant are its own,
//!   except descendants whose command line says they are the example server
//!   (and anything below those), which are the servers. A proxy that runs
//!   its server through a shell or a worker process is still split right.
//!
//! May import: nothing else in the crate.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use nix::unistd::{SysconfVar, sysconf};

/// Samples the CPU time of one process, its children and this process.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Probe {
    pid: u32,
    ticks_per_sec: f64,
    split: Split,
}

/// How a probe splits the processes under its root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Split {
    /// Root is own; direct children are servers.
    DirectChildren,
    /// Root and descendants are own, except example servers and their subtrees.
    Tree,
}

/// CPU counters at one instant, in clock ticks, per process.
#[derive(Clone, Debug)]
pub(crate) struct Sample {
    own: HashMap<u32, u64>,
    servers: HashMap<u32, u64>,
    client: u64,
}

/// CPU used between two samples.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Usage {
    /// The probed process (all threads) and, for [`Probe::tree`], its
    /// descendants that are not the server.
    pub(crate) process: Duration,
    /// The servers (for Berth: the backend instances).
    pub(crate) children: Duration,
    /// This load generator.
    pub(crate) client: Duration,
}

struct Stat {
    ppid: u32,
    ticks: u64,
}

// === impl Probe ===

impl Probe {
    /// A probe for `pid`: it is its own; its direct children are the servers.
    pub(crate) fn new(pid: u32) -> anyhow::Result<Self> {
        Self::with_split(pid, Split::DirectChildren)
    }

    /// A probe for the process tree under `pid`: everything is its own except
    /// the example server (a process with an `example-server` argument, or
    /// the `berth-example-server` binary) and what runs below it.
    pub(crate) fn tree(pid: u32) -> anyhow::Result<Self> {
        Self::with_split(pid, Split::Tree)
    }

    fn with_split(pid: u32, split: Split) -> anyhow::Result<Self> {
        let tck = sysconf(SysconfVar::CLK_TCK)
            .context("sysconf(_SC_CLK_TCK)")?
            .filter(|t| *t > 0)
            .unwrap_or(100);
        let probe = Probe {
            pid,
            ticks_per_sec: tck as f64,
            split,
        };
        probe
            .sample()
            .context("cannot read process CPU time from /proc")?;
        Ok(probe)
    }

    /// Reads the counters now.
    pub(crate) fn sample(&self) -> anyhow::Result<Sample> {
        let root = read_stat(&format!("/proc/{}/stat", self.pid))?.ticks;
        let client = read_stat("/proc/self/stat")?.ticks;
        let all = all_processes();
        let mut own = HashMap::from([(self.pid, root)]);
        let mut servers = HashMap::new();
        match self.split {
            Split::DirectChildren => {
                servers.extend(
                    all.iter()
                        .filter(|(_, stat)| stat.ppid == self.pid)
                        .map(|(pid, stat)| (*pid, stat.ticks)),
                );
            }
            Split::Tree => walk(self.pid, &all, &mut own, &mut servers),
        }
        Ok(Sample {
            own,
            servers,
            client,
        })
    }

    /// CPU used from `before` to `after`.
    pub(crate) fn usage(&self, before: &Sample, after: &Sample) -> Usage {
        // A process that started inside the window counts from zero; one that
        // ended inside it is lost (rare: sessions are opened before the window).
        let delta = |b: &HashMap<u32, u64>, a: &HashMap<u32, u64>| -> u64 {
            a.iter()
                .map(|(pid, t)| t.saturating_sub(b.get(pid).copied().unwrap_or(0)))
                .sum()
        };
        Usage {
            process: self.time(delta(&before.own, &after.own)),
            children: self.time(delta(&before.servers, &after.servers)),
            client: self.time(after.client.saturating_sub(before.client)),
        }
    }

    fn time(&self, ticks: u64) -> Duration {
        Duration::from_secs_f64(ticks as f64 / self.ticks_per_sec)
    }
}

/// Sorts the descendants of `root` into `own` and `servers`.
fn walk(
    root: u32,
    all: &HashMap<u32, Stat>,
    own: &mut HashMap<u32, u64>,
    servers: &mut HashMap<u32, u64>,
) {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (pid, stat) in all {
        children.entry(stat.ppid).or_default().push(*pid);
    }
    // (pid, inside a server's subtree)
    let mut stack: Vec<(u32, bool)> = children
        .get(&root)
        .into_iter()
        .flatten()
        .map(|pid| (*pid, false))
        .collect();
    while let Some((pid, in_server)) = stack.pop() {
        let Some(stat) = all.get(&pid) else { continue };
        let server = in_server || is_example_server(pid);
        if server {
            servers.insert(pid, stat.ticks);
        } else {
            own.insert(pid, stat.ticks);
        }
        stack.extend(
            children
                .get(&pid)
                .into_iter()
                .flatten()
                .map(|child| (*child, server)),
        );
    }
}

/// Whether `pid` runs the example server (`berth example-server …` or the
/// `berth-example-server` binary).
fn is_example_server(pid: u32) -> bool {
    let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    raw.split(|b| *b == 0)
        .any(|arg| arg == b"example-server" || arg.ends_with(b"/berth-example-server"))
        || raw.starts_with(b"berth-example-server\0")
}

/// `ppid` and CPU ticks of every process.
fn all_processes() -> HashMap<u32, Stat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, read_stat(&format!("/proc/{pid}/stat")).ok()?)))
        .collect()
}

fn read_stat(path: &str) -> anyhow::Result<Stat> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    parse_stat(&text).with_context(|| format!("parsing {path}"))
}

/// Parses `ppid` (field 4) and `utime + stime` (fields 14 and 15). The
/// command name (field 2) may hold spaces and parentheses, so fields are
/// counted from the last `)`.
fn parse_stat(text: &str) -> anyhow::Result<Stat> {
    let rest = text
        .rfind(')')
        .map(|i| &text[i + 1..])
        .ok_or_else(|| anyhow::anyhow!("no `)` after the command name"))?;
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    let field = |n: usize| -> anyhow::Result<u64> {
        let raw = fields
            .get(n - 3)
            .ok_or_else(|| anyhow::anyhow!("field {n} is missing"))?;
        raw.parse()
            .with_context(|| format!("field {n} `{raw}` is not a number"))
    };
    Ok(Stat {
        ppid: u32::try_from(field(4)?)?,
        ticks: field(14)? + field(15)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stat_line_with_a_strange_name() {
        let line =
            "4242 (ber th) (x)) S 17 4242 4242 0 -1 4194560 900 0 0 0 123 45 0 0 20 0 9 0 100 0";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.ppid, 17);
        assert_eq!(stat.ticks, 168);
    }

    #[test]
    fn reads_its_own_cpu_time() {
        let me = std::process::id();
        let probe = Probe::new(me).unwrap();
        let before = probe.sample().unwrap();
        let after = probe.sample().unwrap();
        assert!(after.own[&me] >= before.own[&me]);
    }

    #[test]
    fn a_tree_probe_counts_the_example_server_apart() {
        use std::process::Command;
        let me = std::process::id();
        // `sh -c CMD NAME`: NAME is $0, so the shell's argv holds `example-server`
        // (`; :` keeps the shell from exec-ing `sleep` in its place).
        let mut server = Command::new("sh")
            .args(["-c", "sleep 30; :", "example-server"])
            .spawn()
            .unwrap();
        let mut helper = Command::new("sleep").arg("30").spawn().unwrap();
        let sample = Probe::tree(me).unwrap().sample().unwrap();
        let direct = Probe::new(me).unwrap().sample().unwrap();
        let _ = (server.kill(), helper.kill(), server.wait(), helper.wait());
        assert!(sample.servers.contains_key(&server.id()));
        assert!(!sample.own.contains_key(&server.id()));
        assert!(sample.own.contains_key(&helper.id()));
        assert!(sample.own.contains_key(&me));
        // The bench split: both children are "servers", only the root is its own.
        assert!(direct.servers.contains_key(&helper.id()));
        assert_eq!(direct.own.len(), 1);
    }
}
