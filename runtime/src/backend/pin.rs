//! Pinning what a deployment runs to its content, so a version means the
//! same bytes for its whole life: an executable by the SHA-256 of its file
//! (process backend), an image by its content digest (docker, in
//! `docker::container`).
//!
//! Hashing a large executable costs tens of milliseconds, so the hash of
//! each file is kept with the file's identity (device, inode, size, change
//! time) and computed again only when that changes.
//!
//! May import: `backend::error`, external crates.

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use super::error::BackendError;

/// What a deployment was pinned to when a version was deployed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pinned {
    /// The image's content digest (`sha256:…`, docker).
    pub image: Option<String>,
    /// The executable's path and `sha256:…` (process backend).
    pub executable: Option<(String, String)>,
}

/// A file's identity: hashes are reused while it is unchanged.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    ctime: i64,
    ctime_nsec: i64,
}

static HASHES: LazyLock<Mutex<HashMap<PathBuf, (Identity, String)>>> =
    LazyLock::new(Mutex::default);

/// The executable `program` names: a path as is, a bare name on `PATH`.
pub(crate) fn resolve(program: &str) -> Result<PathBuf, BackendError> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .ok_or_else(|| BackendError::Executable(format!("`{program}` is not on PATH")))
}

/// `sha256:…` of the file at `path` (cached while the file is unchanged).
pub(crate) fn executable_digest(path: &Path) -> Result<String, BackendError> {
    let fail = |e: std::io::Error| {
        BackendError::Executable(format!("cannot read {}: {e}", path.display()))
    };
    let meta = std::fs::metadata(path).map_err(fail)?;
    if !meta.is_file() {
        return Err(BackendError::Executable(format!(
            "{} is not a file",
            path.display()
        )));
    }
    let id = Identity {
        dev: meta.dev(),
        ino: meta.ino(),
        size: meta.size(),
        ctime: meta.ctime(),
        ctime_nsec: meta.ctime_nsec(),
    };
    if let Some((seen, digest)) = HASHES.lock().get(path)
        && *seen == id
    {
        return Ok(digest.clone());
    }
    let mut file = std::fs::File::open(path).map_err(fail)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(fail)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
    HASHES.lock().insert(path.to_owned(), (id, digest.clone()));
    Ok(digest)
}

/// Refuses to run `program` unless it still hashes to `expected`.
pub(crate) fn check_executable(program: &str, expected: &str) -> Result<(), BackendError> {
    let path = resolve(program)?;
    let now = executable_digest(&path)?;
    if now == expected {
        return Ok(());
    }
    Err(BackendError::Executable(format!(
        "{} changed since this version was deployed (it was {expected}, it is {now} now); \
         deploy a new version to run the new executable",
        path.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_executable_is_pinned_and_a_changed_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("server");
        std::fs::write(&exe, b"#!/bin/sh\necho one\n").unwrap();
        let program = exe.to_str().unwrap();
        let pinned = executable_digest(&exe).unwrap();
        assert!(pinned.starts_with("sha256:") && pinned.len() == 71);
        check_executable(program, &pinned).unwrap();
        std::fs::write(&exe, b"#!/bin/sh\necho two, a rug pull\n").unwrap();
        let e = check_executable(program, &pinned).unwrap_err().to_string();
        assert!(e.contains("changed since this version was deployed"), "{e}");
        assert!(
            resolve("sh").unwrap().is_absolute(),
            "bare names are looked up on PATH"
        );
        assert!(resolve("no-such-program-here").is_err());
    }
}
