//! The open-files limit. Every session holds file descriptors (a process
//! session four: its stdin, stdout and stderr pipes and a pidfd; a
//! container or Pod session one attach connection; each agent connection
//! one more), and a service manager's default soft limit (1024 under
//! systemd) holds only a couple of hundred sessions. So Berth raises its
//! soft limit to the hard limit as it starts, and warns when even that
//! cannot hold `limits.max_sessions`: past it, new sessions fail with a
//! retryable "out of open files" error naming the setting to raise.
//!
//! May import: `config`.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

use crate::config::{BackendKind, Config};

/// Descriptors Berth holds besides its sessions: the listener, the
/// store's and the engine's connections, logs, the registry file.
const BASE_FDS: u64 = 256;

/// Raises the soft open-files limit to the hard one (capped by the
/// kernel's `fs.nr_open`); warns if the result cannot hold the configured
/// sessions.
pub(super) fn raise(config: &Config) {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    let ceiling = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map_or(hard, |nr_open| hard.min(nr_open));
    let limit = if soft < ceiling && setrlimit(Resource::RLIMIT_NOFILE, ceiling, hard).is_ok() {
        ceiling
    } else {
        soft
    };
    let holds = sessions_within(limit, config.backend);
    let wanted = config.limits.max_sessions as u64;
    if holds < wanted {
        tracing::warn!(
            open_files = limit,
            sessions = holds,
            max_sessions = wanted,
            "the open-files limit holds about {holds} sessions of this backend, fewer than \
             limits.max_sessions ({wanted}); raise Berth's hard open-files limit (LimitNOFILE= \
             for systemd, --ulimit nofile= for docker run, `ulimit -Hn`) to at least {}, or \
             lower limits.max_sessions",
            needed(wanted, config.backend)
        );
    } else {
        tracing::debug!(open_files = limit, sessions = holds, "open-files limit");
    }
}

/// File descriptors one session holds in Berth, its agent's connection
/// included.
fn per_session(backend: BackendKind) -> u64 {
    let instance = match backend {
        BackendKind::Process => 4,
        BackendKind::Docker | BackendKind::Kubernetes => 1,
    };
    instance + 1
}

/// How many sessions `limit` open files hold.
fn sessions_within(limit: u64, backend: BackendKind) -> u64 {
    limit.saturating_sub(BASE_FDS) / per_session(backend)
}

/// The open-files limit `sessions` sessions need.
fn needed(sessions: u64, backend: BackendKind) -> u64 {
    sessions.saturating_mul(per_session(backend)) + BASE_FDS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_systemd_default_holds_about_150_process_sessions() {
        assert_eq!(sessions_within(1024, BackendKind::Process), 153);
        assert_eq!(sessions_within(1024, BackendKind::Docker), 384);
        assert_eq!(sessions_within(100, BackendKind::Process), 0);
        assert_eq!(needed(2000, BackendKind::Process), 10_256);
        assert!(sessions_within(needed(2000, BackendKind::Process), BackendKind::Process) >= 2000);
    }
}
