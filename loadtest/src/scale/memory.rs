//! What a process holds, read from `/proc` (Linux): resident memory
//! (`VmRSS`, its anonymous part, `Pss` and `Private_Dirty` from
//! `smaps_rollup`), open file descriptors and threads; the same summed over
//! its direct children (the process backend's server instances); the
//! memory of a set of containers (`docker stats`); and the file-descriptor
//! limit, raised to its hard maximum for the processes this tool starts.
//!
//! May import: external crates only.

use std::collections::HashMap;

use anyhow::Context;
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use serde::Serialize;

/// One process at one instant (KiB, counts).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub(crate) struct ProcMemory {
    /// `VmRSS`: resident set (anonymous + file-backed + shared memory).
    pub(crate) rss_kib: u64,
    /// `RssAnon`: the heap, stacks and other anonymous pages.
    pub(crate) anon_kib: u64,
    /// `Pss` of `smaps_rollup`: shared pages divided among their users.
    pub(crate) pss_kib: u64,
    /// `Private_Dirty` of `smaps_rollup`: what only this process holds.
    pub(crate) private_dirty_kib: u64,
    /// Open file descriptors.
    pub(crate) fds: u64,
    /// Threads.
    pub(crate) threads: u64,
}

/// The direct children of a process, summed.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub(crate) struct ChildrenMemory {
    /// How many there are.
    pub(crate) count: u64,
    /// Sum of their `Pss` (shared pages counted once overall).
    pub(crate) pss_kib: u64,
    /// Sum of their `Private_Dirty`.
    pub(crate) private_dirty_kib: u64,
    /// Sum of their threads.
    pub(crate) threads: u64,
}

/// Reads `pid`'s memory, descriptors and threads now.
pub(crate) fn of_process(pid: u32) -> anyhow::Result<ProcMemory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    Ok(ProcMemory {
        rss_kib: field_kib(&status, "VmRSS:"),
        anon_kib: field_kib(&status, "RssAnon:"),
        pss_kib: field_kib(&rollup, "Pss:"),
        private_dirty_kib: field_kib(&rollup, "Private_Dirty:"),
        fds,
        threads: field_kib(&status, "Threads:"),
    })
}

/// Sums the direct children of `parent` (Berth's server processes).
pub(crate) fn of_children(parent: u32) -> ChildrenMemory {
    let mut total = ChildrenMemory::default();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return total;
    };
    for pid in dir
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
    {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        if field_kib(&status, "PPid:") != u64::from(parent) {
            continue;
        }
        let rollup =
            std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        total.count += 1;
        total.pss_kib += field_kib(&rollup, "Pss:");
        total.private_dirty_kib += field_kib(&rollup, "Private_Dirty:");
        total.threads += field_kib(&status, "Threads:");
    }
    total
}

/// Total memory use (KiB) of the containers labelled `berth.pod={pod}`,
/// and how many there are, from `docker stats --no-stream`.
pub(crate) fn of_containers(pod: &str) -> anyhow::Result<(u64, u64)> {
    let ids = container_ids(pod)?;
    if ids.is_empty() {
        return Ok((0, 0));
    }
    let out = std::process::Command::new("docker")
        .args(["stats", "--no-stream", "--format", "{{.MemUsage}}"])
        .args(&ids)
        .output()
        .context("running docker stats")?;
    anyhow::ensure!(
        out.status.success(),
        "docker stats failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let total = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| parse_size_kib(l.split('/').next()?.trim()))
        .sum();
    Ok((ids.len() as u64, total))
}

/// Ids of every container (running or not) labelled `berth.pod={pod}`.
pub(crate) fn container_ids(pod: &str) -> anyhow::Result<Vec<String>> {
    let out = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label=berth.pod={pod}")])
        .output()
        .context("running docker ps (is DOCKER_HOST set?)")?;
    anyhow::ensure!(
        out.status.success(),
        "docker ps failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// The `berth.pod` label of the Berth process `pid` on this host.
pub(crate) fn pod_label(pid: u32) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}-{pid}", host.trim())
}

/// Raises this process's soft limit on open files to its hard limit (the
/// Berth it starts inherits it); returns the limit now in force.
pub(crate) fn raise_fd_limit() -> anyhow::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit(RLIMIT_NOFILE)")?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).context("setrlimit(RLIMIT_NOFILE)")?;
    }
    Ok(hard)
}

/// Least-squares slope of `y` over `x` (units of y per unit of x).
pub(crate) fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// The number after `name` on its line of a `/proc` file (0 if absent).
fn field_kib(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// `12.5MiB`, `980KiB`, `1.2GiB`, `512B` (docker's sizes) in KiB.
fn parse_size_kib(s: &str) -> Option<u64> {
    let units: HashMap<&str, f64> = [
        ("B", 1.0 / 1024.0),
        ("KiB", 1.0),
        ("kB", 1000.0 / 1024.0),
        ("MiB", 1024.0),
        ("MB", 1e6 / 1024.0),
        ("GiB", 1024.0 * 1024.0),
        ("GB", 1e9 / 1024.0),
    ]
    .into_iter()
    .collect();
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = s.split_at(split);
    let factor = units.get(unit.trim())?;
    Some((number.trim().parse::<f64>().ok()? * factor).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_docker_sizes() {
        let status = "Name:\tberth\nVmRSS:\t   31020 kB\nThreads:\t4\n";
        assert_eq!(field_kib(status, "VmRSS:"), 31020);
        assert_eq!(field_kib(status, "Threads:"), 4);
        assert_eq!(field_kib(status, "RssAnon:"), 0);
        assert_eq!(parse_size_kib("12.5MiB"), Some(12800));
        assert_eq!(parse_size_kib("980KiB"), Some(980));
        assert_eq!(parse_size_kib("2048B"), Some(2));
        assert_eq!(parse_size_kib("junk"), None);
    }

    #[test]
    fn fits_a_line() {
        let pts = [(0.0, 100.0), (10.0, 150.0), (20.0, 200.0)];
        assert!((slope(&pts).unwrap() - 5.0).abs() < 1e-9);
        assert_eq!(slope(&pts[..1]), None);
    }

    #[test]
    fn reads_its_own_memory() {
        let m = of_process(std::process::id()).unwrap();
        assert!(m.rss_kib > 0 && m.fds > 0 && m.threads > 0);
    }
}
