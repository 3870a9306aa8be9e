//! Stored results of uploaded package scans (`POST /api/scan`): one row per
//! package sha256 in `DATA_DIR/querylog.sqlite3`, table `scan_results`
//! (migration 2). The report is kept as the JSON the API returned.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::{QueryLog, StoreError, sqlite};

/// One stored scan without its report (for listings).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScanSummary {
    /// SHA-256 of the package, lowercase hex.
    pub sha256: String,
    /// The file name given with the upload, if any.
    pub file_name: Option<String>,
    /// Android package or iOS bundle id, if the package has one.
    pub package: Option<String>,
    /// The decision of the assessment (`block`, `allow`, …).
    pub decided: Option<String>,
    /// When it was stored, ms since the Unix epoch.
    pub stored_ms: u64,
}

/// A stored scan with its report JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredScan {
    /// The listing fields.
    pub summary: ScanSummary,
    /// The report, as JSON text.
    pub report: String,
}

/// The scan results table.
pub struct ScanStore {
    conn: Connection,
    path: PathBuf,
}

impl ScanStore {
    /// Opens (creating and migrating) `dir/querylog.sqlite3`, the query log's database.
    pub fn open(dir: &Path) -> Result<ScanStore, StoreError> {
        let log = QueryLog::open(dir)?;
        Ok(ScanStore {
            conn: log.conn,
            path: log.path,
        })
    }

    /// Stores (or replaces) the scan of `summary.sha256`.
    pub fn put(&self, summary: &ScanSummary, report: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO scan_results (sha256, file_name, package, decided, stored_ms, report)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    summary.sha256,
                    summary.file_name,
                    summary.package,
                    summary.decided,
                    summary.stored_ms as i64,
                    report
                ],
            )
            .map(|_| ())
            .map_err(sqlite(&self.path))
    }

    /// The scan of the package with this sha256, if stored.
    pub fn get(&self, sha256: &str) -> Result<Option<StoredScan>, StoreError> {
        self.conn
            .query_row(
                "SELECT sha256, file_name, package, decided, stored_ms, report FROM scan_results WHERE sha256 = ?1",
                params![sha256],
                |r| {
                    Ok(StoredScan {
                        summary: summary(r)?,
                        report: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                    })
                },
            )
            .optional()
            .map_err(sqlite(&self.path))
    }

    /// Stored scans, newest first (at most `limit`).
    pub fn list(&self, limit: usize) -> Result<Vec<ScanSummary>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT sha256, file_name, package, decided, stored_ms FROM scan_results
                 ORDER BY stored_ms DESC, sha256 LIMIT ?1",
            )
            .map_err(sqlite(&self.path))?;
        let rows = st
            .query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], summary)
            .map_err(sqlite(&self.path))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(sqlite(&self.path))
    }
}

fn summary(r: &rusqlite::Row<'_>) -> rusqlite::Result<ScanSummary> {
    Ok(ScanSummary {
        sha256: r.get(0)?,
        file_name: r.get(1)?,
        package: r.get(2)?,
        decided: r.get(3)?,
        stored_ms: r.get::<_, Option<i64>>(4)?.unwrap_or(0).max(0) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("appwarden-scans-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn s(sha: &str, ms: u64) -> ScanSummary {
        ScanSummary {
            sha256: sha.into(),
            file_name: Some(format!("{sha}.apk")),
            package: Some("com.example".into()),
            decided: Some("block".into()),
            stored_ms: ms,
        }
    }

    #[test]
    fn put_get_list_replace() -> Result<(), StoreError> {
        let dir = tmp("roundtrip");
        let store = ScanStore::open(&dir)?;
        assert!(store.get("aa")?.is_none());
        store.put(&s("aa", 1), "{\"a\":1}")?;
        store.put(&s("bb", 2), "{\"b\":2}")?;
        let got = store.get("aa")?;
        assert_eq!(got.as_ref().map(|g| g.report.as_str()), Some("{\"a\":1}"));
        assert_eq!(got.map(|g| g.summary), Some(s("aa", 1)));
        let list = store.list(10)?;
        assert_eq!(list.iter().map(|x| x.sha256.as_str()).collect::<Vec<_>>(), ["bb", "aa"]);
        store.put(&s("aa", 3), "{\"a\":3}")?;
        assert_eq!(store.list(1)?.first().map(|x| x.sha256.clone()), Some("aa".into()));
        assert_eq!(store.list(10)?.len(), 2);
        // the query log and the scans share the database and both open
        let log = QueryLog::open(&dir)?;
        assert_eq!(log.count()?, 0);
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }

    #[test]
    fn a_version_1_database_is_migrated() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tmp("migrate");
        std::fs::create_dir_all(&dir)?;
        {
            let conn = Connection::open(dir.join("querylog.sqlite3"))?;
            conn.execute_batch(&format!(
                "BEGIN; {}; PRAGMA user_version = 1; COMMIT;",
                crate::MIGRATIONS[0]
            ))?;
        }
        let store = ScanStore::open(&dir)?;
        store.put(&s("cc", 5), "{}")?;
        let v: i64 = store.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        assert_eq!(v, crate::MIGRATIONS.len() as i64);
        assert_eq!(store.list(5)?.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}
