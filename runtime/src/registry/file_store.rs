//! [`FileStore`]: registry records in one embedded database file under the
//! state dir (`registry.redb`), for `berth demo` and single-pod `berth
//! serve`: a restart loses nothing. Writes are transactions (committed
//! with fsync); compare-and-set happens inside one.
//!
//! May import: `registry::store`, external crates (`redb`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::store::RegistryStore;

const RECORDS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("records");

/// File name of the database inside the state dir.
pub(crate) const REGISTRY_FILE: &str = "registry.redb";

/// Registry records in an embedded database file.
pub(crate) struct FileStore {
    db: Arc<Database>,
    path: PathBuf,
}

impl FileStore {
    /// Opens (or creates) `state_dir/registry.redb`.
    pub(crate) fn open(state_dir: &Path) -> Result<Self, String> {
        let path = state_dir.join(REGISTRY_FILE);
        std::fs::create_dir_all(state_dir)
            .map_err(|e| format!("cannot create {}: {e}", state_dir.display()))?;
        let db = Database::create(&path).map_err(|e| {
            format!(
                "cannot open the registry file {}: {e} (is another berth using this state dir? \
                 give each pod its own state_dir, or share a Redis store)",
                path.display()
            )
        })?;
        Ok(FileStore {
            db: Arc::new(db),
            path,
        })
    }

    fn fail(&self, what: &str, e: impl std::fmt::Display) -> String {
        format!("{what} {}: {e}", self.path.display())
    }
}

#[async_trait::async_trait]
impl RegistryStore for FileStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        let read = self
            .db
            .begin_read()
            .map_err(|e| self.fail("cannot read", e))?;
        let table = match read.open_table(RECORDS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(self.fail("cannot read", e)),
        };
        let value = table.get(key).map_err(|e| self.fail("cannot read", e))?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    async fn swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        value: Vec<u8>,
    ) -> Result<bool, String> {
        let db = self.db.clone();
        let key = key.to_owned();
        let expected = expected.map(<[u8]>::to_vec);
        let result = tokio::task::spawn_blocking(move || -> Result<bool, redb::Error> {
            let write = db.begin_write()?;
            let swapped = {
                let mut table = write.open_table(RECORDS)?;
                let current = table.get(key.as_str())?.map(|v| v.value().to_vec());
                if current != expected {
                    false
                } else {
                    table.insert(key.as_str(), value.as_slice())?;
                    true
                }
            };
            if swapped {
                write.commit()?;
            } else {
                write.abort()?;
            }
            Ok(swapped)
        })
        .await
        .map_err(|e| self.fail("cannot write", e))?;
        result.map_err(|e| self.fail("cannot write", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn swaps_compare_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = FileStore::open(dir.path()).unwrap();
            assert_eq!(store.get("k").await.unwrap(), None);
            assert!(store.swap("k", None, b"v1".to_vec()).await.unwrap());
            assert!(
                !store.swap("k", None, b"x".to_vec()).await.unwrap(),
                "exists"
            );
            assert!(!store.swap("k", Some(b"v0"), b"x".to_vec()).await.unwrap());
            assert!(store.swap("k", Some(b"v1"), b"v2".to_vec()).await.unwrap());
        }
        let reopened = FileStore::open(dir.path()).unwrap();
        assert_eq!(
            reopened.get("k").await.unwrap().as_deref(),
            Some(&b"v2"[..])
        );
    }
}
