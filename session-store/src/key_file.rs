//! The demo key file: `session-keys.json` in the state dir.
//!
//! Several `berth demo` pods started with the same `--state-dir` must end up
//! with the same keys, so the first one to start creates the file and the
//! others read it. Creation writes a private temp file (mode 0600), syncs it,
//! then publishes it with `hard_link`, which fails instead of overwriting: a
//! concurrent creator never clobbers the winner's keys, and readers never see
//! a half-written file. Operators can rotate by editing the file: put the new
//! key in `master`/`bind` and move the old one to `previous_master` /
//! `previous_bind`.
//!
//! ```json
//! {
//!   "version": 1,
//!   "master": { "id": "m-1a2b3c4d", "key": "<64 hex>" },
//!   "bind": { "id": "b-5e6f7a8b", "key": "<64 hex>" },
//!   "previous_master": [],
//!   "previous_bind": []
//! }
//! ```
//!
//! Imports: `keys`, `error`. Must not import `seal` or a store.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, redacted_json_error};
use crate::keys::{KeyRing, SecretKey, fill_random};

/// Name of the key file inside the state dir.
pub const KEY_FILE_NAME: &str = "session-keys.json";

const KEY_FILE_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    version: u32,
    master: KeyEntry,
    bind: KeyEntry,
    #[serde(default)]
    previous_master: Vec<KeyEntry>,
    #[serde(default)]
    previous_bind: Vec<KeyEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    id: String,
    key: String,
}

// === impl KeyRing ===

impl KeyRing {
    /// Loads `dir/session-keys.json`, creating the dir and the file (mode
    /// 0600, fresh random keys) if missing. Safe to call concurrently from
    /// several processes: all of them end up with the same keys. Used by
    /// `berth demo --state-dir`.
    pub fn load_or_create(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(KEY_FILE_NAME);
        match read_key_file(&path) {
            Ok(ring) => return Ok(ring),
            Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        create_dir_private(dir)?;
        create_key_file(dir, &path)?;
        read_key_file(&path)
    }
}

// === impl KeyFile ===

impl KeyFile {
    fn generate() -> Result<Self, Error> {
        let mut tag = [0u8; 4];
        fill_random(&mut tag)?;
        let tag = hex::encode(tag);
        let master = SecretKey::generate(format!("m-{tag}"))?;
        let bind = SecretKey::generate(format!("b-{tag}"))?;
        Ok(KeyFile {
            version: KEY_FILE_VERSION,
            master: KeyEntry::from_key(&master),
            bind: KeyEntry::from_key(&bind),
            previous_master: Vec::new(),
            previous_bind: Vec::new(),
        })
    }

    fn into_ring(self, path: &Path) -> Result<KeyRing, Error> {
        if self.version != KEY_FILE_VERSION {
            return Err(Error::InvalidKey(format!(
                "{}: unsupported version {} (expected {KEY_FILE_VERSION})",
                path.display(),
                self.version
            )));
        }
        let in_file = |e: Error| match e {
            Error::InvalidKey(msg) => Error::InvalidKey(format!("{}: {msg}", path.display())),
            other => other,
        };
        let ring = KeyRing::new(
            self.master.to_key().map_err(in_file)?,
            self.bind.to_key().map_err(in_file)?,
        );
        let ring = self.previous_master.iter().try_fold(ring, |ring, e| {
            Ok::<_, Error>(ring.with_previous_master(e.to_key().map_err(in_file)?))
        })?;
        self.previous_bind.iter().try_fold(ring, |ring, e| {
            Ok(ring.with_previous_bind(e.to_key().map_err(in_file)?))
        })
    }
}

// === impl KeyEntry ===

impl KeyEntry {
    fn from_key(key: &SecretKey) -> Self {
        KeyEntry {
            id: key.id().to_string(),
            key: key.to_hex(),
        }
    }

    fn to_key(&self) -> Result<SecretKey, Error> {
        SecretKey::from_hex(self.id.clone(), &self.key)
    }
}

impl Drop for KeyEntry {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

// === helpers ===

fn read_key_file(path: &Path) -> Result<KeyRing, Error> {
    let mut file = File::open(path).map_err(|e| Error::io_at("opening key file", path, e))?;
    warn_if_not_private(&file, path);
    let mut text = Zeroizing::new(String::new());
    file.read_to_string(&mut text)
        .map_err(|e| Error::io_at("reading key file", path, e))?;
    let parsed: KeyFile = serde_json::from_str(&text).map_err(|e| {
        Error::InvalidKey(format!(
            "{}: not a valid key file ({})",
            path.display(),
            redacted_json_error(&e)
        ))
    })?;
    parsed.into_ring(path)
}

/// Writes fresh keys to a private temp file and publishes it under `path`
/// unless another process already did.
fn create_key_file(dir: &Path, path: &Path) -> Result<(), Error> {
    let mut suffix = [0u8; 8];
    fill_random(&mut suffix)?;
    let tmp = dir.join(format!(".{KEY_FILE_NAME}.{}.tmp", hex::encode(suffix)));
    let written = write_private(&tmp, &KeyFile::generate()?);
    let published = written.and_then(|()| match fs::hard_link(&tmp, path) {
        Ok(()) => Ok(()),
        // Another process won the race: use its keys.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io_at("publishing key file", path, e)),
    });
    // The temp file is ours alone; failing to remove it leaves a stray
    // private file, which is harmless.
    let _ = fs::remove_file(&tmp);
    published?;
    if let Ok(d) = File::open(dir) {
        // Persist the new directory entry; best effort.
        let _ = d.sync_all();
    }
    Ok(())
}

fn write_private(path: &Path, keys: &KeyFile) -> Result<(), Error> {
    let json = serde_json::to_vec_pretty(keys).map_err(|e| Error::serde(&e))?;
    let json = Zeroizing::new(json);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| Error::io_at("creating key file", path, e))?;
    file.write_all(&json)
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io_at("writing key file", path, e))
}

fn create_dir_private(dir: &Path) -> Result<(), Error> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| Error::io_at("creating state dir", dir, e))
}

#[cfg(unix)]
fn warn_if_not_private(file: &File, path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = file.metadata() {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format_args!("{mode:o}"),
                "session key file is readable by other users; run `chmod 600` on it"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_not_private(_file: &File, _path: &Path) {}

#[cfg(test)]
mod tests;
