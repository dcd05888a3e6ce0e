//! Process CPU time from `/proc` (Linux).
//!
//! `/proc/PID/stat` gives `utime + stime` of all threads of a process in
//! clock ticks (`sysconf(_SC_CLK_TCK)`, 100 on Linux). That is coarse (10 ms)
//! but exact over a window of seconds, and it costs the measured process
//! nothing. Children are found by scanning `/proc` for a matching parent pid:
//! Berth's backends are its direct children.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use nix::unistd::{SysconfVar, sysconf};

/// Samples the CPU time of one process, its children and this process.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Probe {
    pid: u32,
    ticks_per_sec: f64,
}

/// CPU counters at one instant, in clock ticks.
#[derive(Clone, Debug)]
pub(crate) struct Sample {
    process: u64,
    children: HashMap<u32, u64>,
    client: u64,
}

/// CPU used between two samples.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Usage {
    /// The probed process (all threads).
    pub(crate) process: Duration,
    /// Its children (for Berth: the backend instances).
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
    /// A probe for `pid`.
    pub(crate) fn new(pid: u32) -> anyhow::Result<Self> {
        let tck = sysconf(SysconfVar::CLK_TCK)
            .context("sysconf(_SC_CLK_TCK)")?
            .filter(|t| *t > 0)
            .unwrap_or(100);
        let probe = Probe {
            pid,
            ticks_per_sec: tck as f64,
        };
        probe
            .sample()
            .context("cannot read process CPU time from /proc")?;
        Ok(probe)
    }

    /// Reads the counters now.
    pub(crate) fn sample(&self) -> anyhow::Result<Sample> {
        let process = read_stat(&format!("/proc/{}/stat", self.pid))?.ticks;
        let client = read_stat("/proc/self/stat")?.ticks;
        Ok(Sample {
            process,
            children: children_of(self.pid),
            client,
        })
    }

    /// CPU used from `before` to `after`.
    pub(crate) fn usage(&self, before: &Sample, after: &Sample) -> Usage {
        // A child that started inside the window counts from zero; one that
        // ended inside it is lost (rare: sessions are opened before the window).
        let children: u64 = after
            .children
            .iter()
            .map(|(pid, t)| t.saturating_sub(before.children.get(pid).copied().unwrap_or(0)))
            .sum();
        Usage {
            process: self.time(after.process.saturating_sub(before.process)),
            children: self.time(children),
            client: self.time(after.client.saturating_sub(before.client)),
        }
    }

    fn time(&self, ticks: u64) -> Duration {
        Duration::from_secs_f64(ticks as f64 / self.ticks_per_sec)
    }
}

/// CPU ticks of every direct child of `parent`.
fn children_of(parent: u32) -> HashMap<u32, u64> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, read_stat(&format!("/proc/{pid}/stat")).ok()?)))
        .filter(|(_, stat)| stat.ppid == parent)
        .map(|(pid, stat)| (pid, stat.ticks))
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
        let probe = Probe::new(std::process::id()).unwrap();
        let before = probe.sample().unwrap();
        let after = probe.sample().unwrap();
        assert!(after.process >= before.process);
    }
}
