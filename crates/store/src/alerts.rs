//! The alert store (migration 3), in `DATA_DIR/querylog.sqlite3` beside the
//! query log:
//!
//! - `alerts`: one row per fingerprint (the latest episode of that label set):
//!   labels, counts, window, evidence, acknowledgement;
//! - `alert_groups`: the alert engine's aggregation groups (opaque JSON), so
//!   grouping and timers survive a restart;
//! - `outbox`: one row per (notification, sink), written in the same
//!   transaction as the engine state that produced it and *before* anything
//!   is sent; `pending` → `sent` or `dead`;
//! - `outbox_alerts`: which alerts each outbox row carries (for `alerts show`).
//!
//! This connection runs with `synchronous=FULL`: a committed outbox row
//! survives a crash of the process (`kill -9`) and of the machine.
//!
//! The store knows nothing of the alert crate's types: labels are maps,
//! engine state and notifications are JSON text.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::{QueryLog, StoreError, sqlite};

/// Who acknowledged an alert, when, why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ack {
    /// Name given with `alerts ack --by`.
    pub by: String,
    /// When (Unix ms).
    pub at_ms: u64,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// One stored alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlertRecord {
    /// Fingerprint (primary key).
    pub fingerprint: String,
    /// `firing` or `resolved`.
    pub status: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// First detection (Unix ms).
    pub starts_ms: u64,
    /// When it resolved.
    pub ends_ms: Option<u64>,
    /// Latest detection.
    pub last_seen_ms: u64,
    /// Detections.
    pub total: u64,
    /// Of which blocked.
    pub blocked: u64,
    /// Of which got through.
    pub got_through: u64,
    /// Of which the log does not say.
    pub unknown: u64,
    /// References to the raw events, newest last.
    pub evidence: Vec<String>,
    /// Bypass indicators seen.
    pub bypass_indicators: Vec<String>,
    /// Held by the alert engine (firing, or resolved but not yet notified).
    pub active: bool,
    /// Acknowledgement, if any. Never written by [`AlertStore::commit`]'s upserts.
    pub ack: Option<Ack>,
    /// The engine's last change (latest detection received, Unix ms): the resolve timer runs from it.
    pub updated_ms: u64,
}

/// One aggregation group of the engine, as opaque JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRecord {
    /// Group id (primary key).
    pub id: String,
    /// Receiver name.
    pub receiver: String,
    /// The group's key (its `group_by` values).
    pub group_key: String,
    /// The engine's state of the group, JSON.
    pub state: String,
    /// Last write (Unix ms).
    pub updated_ms: u64,
}

/// A notification to queue for one sink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOutboxRow {
    /// The notification's id (unique together with `sink`).
    pub notification_id: String,
    /// Receiver name.
    pub receiver: String,
    /// The sink's `describe()`.
    pub sink: String,
    /// The group's key.
    pub group_key: String,
    /// `firing` or `resolved`.
    pub status: String,
    /// The notification, JSON.
    pub notification: String,
    /// Fingerprints of the alerts it carries.
    pub fingerprints: Vec<String>,
    /// When it was made (Unix ms).
    pub created_ms: u64,
}

/// Delivery state of an outbox row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboxState {
    /// Not delivered yet.
    Pending,
    /// The sink accepted it.
    Sent,
    /// Given up (permanent failure, or too old).
    Dead,
}

impl OutboxState {
    /// `pending` / `sent` / `dead`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sent => "sent",
            OutboxState::Dead => "dead",
        }
    }

    fn parse(s: &str) -> OutboxState {
        match s {
            "sent" => OutboxState::Sent,
            "dead" => OutboxState::Dead,
            _ => OutboxState::Pending,
        }
    }
}

/// One outbox row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutboxRow {
    /// Row id (never reused).
    pub id: i64,
    /// The notification's id.
    pub notification_id: String,
    /// Receiver name.
    pub receiver: String,
    /// The sink's `describe()`.
    pub sink: String,
    /// The group's key.
    pub group_key: String,
    /// `firing` or `resolved`.
    pub status: String,
    /// The notification, JSON.
    #[serde(skip)]
    pub notification: String,
    /// When it was queued (Unix ms).
    pub created_ms: u64,
    /// Next delivery attempt (Unix ms).
    pub next_attempt_ms: u64,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// The last failure.
    pub last_error: Option<String>,
    /// Pending, sent or dead.
    pub state: OutboxState,
    /// When it was delivered (or given up).
    pub done_ms: Option<u64>,
}

/// Everything one engine step writes, in one transaction.
#[derive(Clone, Debug, Default)]
pub struct EngineCommit {
    /// Alerts to insert or update (acknowledgements are left alone).
    pub alerts: Vec<AlertRecord>,
    /// Alerts whose acknowledgement ends (they changed).
    pub clear_acks: Vec<String>,
    /// Groups to insert or update.
    pub groups: Vec<GroupRecord>,
    /// Groups that ended.
    pub removed_groups: Vec<String>,
    /// Notifications to queue.
    pub outbox: Vec<NewOutboxRow>,
}

impl EngineCommit {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
            && self.clear_acks.is_empty()
            && self.groups.is_empty()
            && self.removed_groups.is_empty()
            && self.outbox.is_empty()
    }
}

/// What `alerts list` reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertFilter {
    /// `firing` or `resolved`; `None` for both.
    pub status: Option<String>,
    /// Only this app (label `app`).
    pub app: Option<String>,
    /// Only this plan group (label `group`).
    pub group: Option<String>,
    /// Only alerts seen at or after this time (Unix ms).
    pub since_ms: Option<u64>,
    /// At most this many.
    pub limit: Option<usize>,
}

/// The alert tables.
pub struct AlertStore {
    conn: Connection,
    path: PathBuf,
}

const ALERT_COLUMNS: &str =
    "fingerprint, status, labels, annotations, starts_ms, ends_ms, last_seen_ms, total, blocked,
    got_through, unknown, evidence, bypass_indicators, active, acked_by, acked_ms, ack_comment, updated_ms";

const OUTBOX_COLUMNS: &str = "id, notification_id, receiver, sink, group_key, status, notification, created_ms,
    next_attempt_ms, attempts, last_error, state, done_ms";

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    v.max(0) as u64
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn from_json<T: serde::de::DeserializeOwned + Default>(s: Option<String>) -> T {
    s.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default()
}

fn alert_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AlertRecord> {
    let ack = match r.get::<_, Option<String>>(14)? {
        Some(by) => Some(Ack {
            by,
            at_ms: to_u64(r.get::<_, Option<i64>>(15)?.unwrap_or(0)),
            comment: r.get(16)?,
        }),
        None => None,
    };
    Ok(AlertRecord {
        fingerprint: r.get(0)?,
        status: r.get(1)?,
        labels: from_json(r.get(2)?),
        annotations: from_json(r.get(3)?),
        starts_ms: to_u64(r.get(4)?),
        ends_ms: r.get::<_, Option<i64>>(5)?.map(to_u64),
        last_seen_ms: to_u64(r.get(6)?),
        total: to_u64(r.get(7)?),
        blocked: to_u64(r.get(8)?),
        got_through: to_u64(r.get(9)?),
        unknown: to_u64(r.get(10)?),
        evidence: from_json(r.get(11)?),
        bypass_indicators: from_json(r.get(12)?),
        active: r.get::<_, i64>(13)? != 0,
        ack,
        updated_ms: to_u64(r.get(17)?),
    })
}

fn outbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.get(0)?,
        notification_id: r.get(1)?,
        receiver: r.get(2)?,
        sink: r.get(3)?,
        group_key: r.get(4)?,
        status: r.get(5)?,
        notification: r.get(6)?,
        created_ms: to_u64(r.get(7)?),
        next_attempt_ms: to_u64(r.get(8)?),
        attempts: r.get::<_, i64>(9)?.clamp(0, i64::from(u32::MAX)) as u32,
        last_error: r.get(10)?,
        state: OutboxState::parse(&r.get::<_, String>(11)?),
        done_ms: r.get::<_, Option<i64>>(12)?.map(to_u64),
    })
}

impl AlertStore {
    /// Opens (creating and migrating) `dir/querylog.sqlite3`, the query log's database.
    pub fn open(dir: &Path) -> Result<AlertStore, StoreError> {
        let log = QueryLog::open(dir)?;
        // an outbox row must outlive a crash once committed
        log.conn
            .execute_batch("PRAGMA synchronous=FULL;")
            .map_err(sqlite(&log.path))?;
        Ok(AlertStore {
            conn: log.conn,
            path: log.path,
        })
    }

    /// Writes one engine step in one transaction.
    pub fn commit(&mut self, c: &EngineCommit) -> Result<(), StoreError> {
        if c.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let err = sqlite(&path);
        let tx = self.conn.transaction().map_err(&err)?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO alerts (fingerprint, status, app, grp, labels, annotations, starts_ms, ends_ms,
                        last_seen_ms, total, blocked, got_through, unknown, evidence, bypass_indicators, active,
                        updated_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
                     ON CONFLICT(fingerprint) DO UPDATE SET status = excluded.status, app = excluded.app,
                        grp = excluded.grp, labels = excluded.labels, annotations = excluded.annotations,
                        starts_ms = excluded.starts_ms, ends_ms = excluded.ends_ms,
                        last_seen_ms = excluded.last_seen_ms, total = excluded.total, blocked = excluded.blocked,
                        got_through = excluded.got_through, unknown = excluded.unknown,
                        evidence = excluded.evidence, bypass_indicators = excluded.bypass_indicators,
                        active = excluded.active, updated_ms = excluded.updated_ms",
                )
                .map_err(&err)?;
            for a in &c.alerts {
                st.execute(params![
                    a.fingerprint,
                    a.status,
                    a.labels.get("app"),
                    a.labels.get("group"),
                    json(&a.labels),
                    json(&a.annotations),
                    to_i64(a.starts_ms),
                    a.ends_ms.map(to_i64),
                    to_i64(a.last_seen_ms),
                    to_i64(a.total),
                    to_i64(a.blocked),
                    to_i64(a.got_through),
                    to_i64(a.unknown),
                    json(&a.evidence),
                    json(&a.bypass_indicators),
                    i64::from(a.active),
                    to_i64(a.updated_ms),
                ])
                .map_err(&err)?;
            }
            let mut st = tx
                .prepare_cached(
                    "UPDATE alerts SET acked_by = NULL, acked_ms = NULL, ack_comment = NULL WHERE fingerprint = ?1",
                )
                .map_err(&err)?;
            for fp in &c.clear_acks {
                st.execute(params![fp]).map_err(&err)?;
            }
            let mut st = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO alert_groups (id, receiver, group_key, state, updated_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(&err)?;
            for g in &c.groups {
                st.execute(params![g.id, g.receiver, g.group_key, g.state, to_i64(g.updated_ms)])
                    .map_err(&err)?;
            }
            let mut st = tx
                .prepare_cached("DELETE FROM alert_groups WHERE id = ?1")
                .map_err(&err)?;
            for id in &c.removed_groups {
                st.execute(params![id]).map_err(&err)?;
            }
            let mut st = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO outbox (notification_id, receiver, sink, group_key, status, notification,
                        created_ms, next_attempt_ms, attempts, state)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 0, 'pending')",
                )
                .map_err(&err)?;
            let mut link = tx
                .prepare_cached("INSERT OR IGNORE INTO outbox_alerts (fingerprint, outbox_id) VALUES (?1, ?2)")
                .map_err(&err)?;
            for o in &c.outbox {
                let n = st
                    .execute(params![
                        o.notification_id,
                        o.receiver,
                        o.sink,
                        o.group_key,
                        o.status,
                        o.notification,
                        to_i64(o.created_ms),
                    ])
                    .map_err(&err)?;
                if n == 1 {
                    let id = tx.last_insert_rowid();
                    for fp in &o.fingerprints {
                        link.execute(params![fp, id]).map_err(&err)?;
                    }
                }
            }
        }
        tx.commit().map_err(&err)
    }

    /// The engine's state: active alerts and groups.
    pub fn load_engine(&self) -> Result<(Vec<AlertRecord>, Vec<GroupRecord>), StoreError> {
        let err = sqlite(&self.path);
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE active = 1 ORDER BY fingerprint"
            ))
            .map_err(&err)?;
        let alerts = st
            .query_map([], alert_row)
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        let mut st = self
            .conn
            .prepare("SELECT id, receiver, group_key, state, updated_ms FROM alert_groups ORDER BY id")
            .map_err(&err)?;
        let groups = st
            .query_map([], |r| {
                Ok(GroupRecord {
                    id: r.get(0)?,
                    receiver: r.get(1)?,
                    group_key: r.get(2)?,
                    state: r.get(3)?,
                    updated_ms: to_u64(r.get(4)?),
                })
            })
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        Ok((alerts, groups))
    }

    /// Fingerprints of active alerts that are acknowledged, with the time of the acknowledgement.
    pub fn active_acks(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let err = sqlite(&self.path);
        let mut st = self
            .conn
            .prepare_cached("SELECT fingerprint, acked_ms FROM alerts WHERE active = 1 AND acked_by IS NOT NULL")
            .map_err(&err)?;
        st.query_map([], |r| {
            Ok((r.get(0)?, to_u64(r.get::<_, Option<i64>>(1)?.unwrap_or(0))))
        })
        .map_err(&err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(&err)
    }

    /// Alerts matching `f`, most recently seen first.
    pub fn list(&self, f: &AlertFilter) -> Result<Vec<AlertRecord>, StoreError> {
        let err = sqlite(&self.path);
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts
                 WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR app = ?2) AND (?3 IS NULL OR grp = ?3)
                   AND last_seen_ms >= ?4
                 ORDER BY last_seen_ms DESC, fingerprint LIMIT ?5"
            ))
            .map_err(&err)?;
        st.query_map(
            params![
                f.status,
                f.app,
                f.group,
                to_i64(f.since_ms.unwrap_or(0)),
                f.limit.map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX)),
            ],
            alert_row,
        )
        .map_err(&err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(&err)
    }

    /// Alerts whose fingerprint starts with `prefix` (at most `limit`).
    pub fn find(&self, prefix: &str, limit: usize) -> Result<Vec<AlertRecord>, StoreError> {
        let err = sqlite(&self.path);
        let prefix = prefix.to_ascii_lowercase();
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Vec::new());
        }
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE substr(fingerprint, 1, ?2) = ?1 ORDER BY fingerprint LIMIT ?3"
            ))
            .map_err(&err)?;
        st.query_map(
            params![prefix, prefix.len() as i64, i64::try_from(limit).unwrap_or(i64::MAX)],
            alert_row,
        )
        .map_err(&err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(&err)
    }

    /// The alert with this exact fingerprint.
    pub fn get(&self, fingerprint: &str) -> Result<Option<AlertRecord>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE fingerprint = ?1"),
                params![fingerprint],
                alert_row,
            )
            .optional()
            .map_err(sqlite(&self.path))
    }

    /// Acknowledges an alert; `false` when there is no such fingerprint.
    pub fn ack(&self, fingerprint: &str, by: &str, comment: Option<&str>, now_ms: u64) -> Result<bool, StoreError> {
        self.conn
            .execute(
                "UPDATE alerts SET acked_by = ?2, acked_ms = ?3, ack_comment = ?4 WHERE fingerprint = ?1",
                params![fingerprint, by, to_i64(now_ms), comment],
            )
            .map(|n| n > 0)
            .map_err(sqlite(&self.path))
    }

    /// Pending rows due at `now_ms`, oldest first (at most `limit`).
    pub fn outbox_due(&self, now_ms: u64, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        let err = sqlite(&self.path);
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE state = 'pending' AND next_attempt_ms <= ?1
                 ORDER BY id LIMIT ?2"
            ))
            .map_err(&err)?;
        st.query_map(
            params![to_i64(now_ms), i64::try_from(limit).unwrap_or(i64::MAX)],
            outbox_row,
        )
        .map_err(&err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(&err)
    }

    /// The earliest next attempt of any pending row.
    pub fn outbox_next_due(&self) -> Result<Option<u64>, StoreError> {
        self.conn
            .query_row(
                "SELECT MIN(next_attempt_ms) FROM outbox WHERE state = 'pending'",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map(|v| v.map(to_u64))
            .map_err(sqlite(&self.path))
    }

    /// The row was delivered (after `attempts` attempts).
    pub fn outbox_sent(&self, id: i64, attempts: u32, now_ms: u64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE outbox SET state = 'sent', attempts = ?2, done_ms = ?3 WHERE id = ?1",
                params![id, i64::from(attempts), to_i64(now_ms)],
            )
            .map(|_| ())
            .map_err(sqlite(&self.path))
    }

    /// A retryable failure: try again at `next_ms`. Other pending rows for
    /// the same sink that were due earlier wait until then too (they keep
    /// their order, and a sink that is down is probed once per backoff).
    pub fn outbox_retry(
        &mut self,
        row: &OutboxRow,
        attempts: u32,
        next_ms: u64,
        error: &str,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = sqlite(&path);
        let tx = self.conn.transaction().map_err(&err)?;
        tx.execute(
            "UPDATE outbox SET attempts = ?2, next_attempt_ms = ?3, last_error = ?4 WHERE id = ?1",
            params![row.id, i64::from(attempts), to_i64(next_ms), error],
        )
        .map_err(&err)?;
        tx.execute(
            "UPDATE outbox SET next_attempt_ms = ?3
             WHERE state = 'pending' AND receiver = ?1 AND sink = ?2 AND next_attempt_ms < ?3",
            params![row.receiver, row.sink, to_i64(next_ms)],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)
    }

    /// Given up on the row.
    pub fn outbox_dead(&self, id: i64, attempts: u32, error: &str, now_ms: u64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE outbox SET state = 'dead', attempts = ?2, last_error = ?3, done_ms = ?4 WHERE id = ?1",
                params![id, i64::from(attempts), error, to_i64(now_ms)],
            )
            .map(|_| ())
            .map_err(sqlite(&self.path))
    }

    /// The outbox rows that carried the alert `fingerprint`, oldest first.
    pub fn outbox_for_alert(&self, fingerprint: &str) -> Result<Vec<OutboxRow>, StoreError> {
        let err = sqlite(&self.path);
        let cols = OUTBOX_COLUMNS
            .split(',')
            .map(|c| format!("o.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {cols} FROM outbox o JOIN outbox_alerts l ON l.outbox_id = o.id
                 WHERE l.fingerprint = ?1 ORDER BY o.id"
            ))
            .map_err(&err)?;
        st.query_map(params![fingerprint], outbox_row)
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)
    }

    /// Every outbox row, oldest first (for tests and diagnostics).
    pub fn outbox_all(&self) -> Result<Vec<OutboxRow>, StoreError> {
        let err = sqlite(&self.path);
        let mut st = self
            .conn
            .prepare(&format!("SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY id"))
            .map_err(&err)?;
        st.query_map([], outbox_row)
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)
    }

    /// Rows per state: (pending, sent, dead).
    pub fn outbox_counts(&self) -> Result<(u64, u64, u64), StoreError> {
        self.conn
            .query_row(
                "SELECT COALESCE(SUM(state = 'pending'), 0), COALESCE(SUM(state = 'sent'), 0),
                        COALESCE(SUM(state = 'dead'), 0) FROM outbox",
                [],
                |r| Ok((to_u64(r.get(0)?), to_u64(r.get(1)?), to_u64(r.get(2)?))),
            )
            .map_err(sqlite(&self.path))
    }

    /// Deletes resolved alerts that ended, and delivered or dead outbox rows
    /// that finished, more than `days` before `now_ms`. Firing alerts and
    /// pending rows are never deleted. Returns (alerts, outbox rows) deleted.
    pub fn apply_retention(&mut self, days: u32, now_ms: u64) -> Result<(usize, usize), StoreError> {
        let cutoff = to_i64(now_ms.saturating_sub(u64::from(days) * 86_400_000));
        let path = self.path.clone();
        let err = sqlite(&path);
        let tx = self.conn.transaction().map_err(&err)?;
        let alerts = tx
            .execute(
                "DELETE FROM alerts WHERE status = 'resolved' AND active = 0 AND COALESCE(ends_ms, last_seen_ms) < ?1",
                params![cutoff],
            )
            .map_err(&err)?;
        let outbox = tx
            .execute(
                "DELETE FROM outbox WHERE state IN ('sent', 'dead') AND COALESCE(done_ms, created_ms) < ?1",
                params![cutoff],
            )
            .map_err(&err)?;
        if outbox > 0 {
            tx.execute(
                "DELETE FROM outbox_alerts WHERE outbox_id NOT IN (SELECT id FROM outbox)",
                [],
            )
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)?;
        Ok((alerts, outbox))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("appwarden-alerts-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn alert(fp: &str, status: &str, last_seen: u64) -> AlertRecord {
        AlertRecord {
            fingerprint: fp.into(),
            status: status.into(),
            labels: [("app", "tiktok"), ("group", "staff"), ("alertname", "AppUse")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: BTreeMap::new(),
            starts_ms: 1000,
            ends_ms: (status == "resolved").then_some(last_seen + 10),
            last_seen_ms: last_seen,
            total: 3,
            blocked: 2,
            got_through: 1,
            unknown: 0,
            evidence: vec!["dns.log:7".into()],
            bypass_indicators: vec![],
            active: status == "firing",
            ack: None,
            updated_ms: last_seen,
        }
    }

    fn row(nid: &str, sink: &str, fps: &[&str], created: u64) -> NewOutboxRow {
        NewOutboxRow {
            notification_id: nid.into(),
            receiver: "secops".into(),
            sink: sink.into(),
            group_key: "{}".into(),
            status: "firing".into(),
            notification: "{\"id\":\"x\"}".into(),
            fingerprints: fps.iter().map(|s| s.to_string()).collect(),
            created_ms: created,
        }
    }

    #[test]
    fn commit_load_ack_and_list() -> Result<(), StoreError> {
        let dir = tmp("roundtrip");
        let mut s = AlertStore::open(&dir)?;
        s.commit(&EngineCommit {
            alerts: vec![alert("aa11", "firing", 5000), alert("bb22", "resolved", 4000)],
            groups: vec![GroupRecord {
                id: "g1".into(),
                receiver: "secops".into(),
                group_key: "{app=\"tiktok\"}".into(),
                state: "{}".into(),
                updated_ms: 5000,
            }],
            outbox: vec![row("n1", "webhook:a", &["aa11", "bb22"], 5000)],
            ..EngineCommit::default()
        })?;
        let (alerts, groups) = s.load_engine()?;
        assert_eq!(
            alerts.iter().map(|a| a.fingerprint.as_str()).collect::<Vec<_>>(),
            ["aa11"]
        );
        assert_eq!(groups.len(), 1);
        assert_eq!(s.list(&AlertFilter::default())?.len(), 2);
        let firing = s.list(&AlertFilter {
            status: Some("firing".into()),
            ..AlertFilter::default()
        })?;
        assert_eq!(firing.len(), 1);
        assert!(
            s.list(&AlertFilter {
                app: Some("signal".into()),
                ..AlertFilter::default()
            })?
            .is_empty()
        );
        assert_eq!(
            s.list(&AlertFilter {
                since_ms: Some(4500),
                ..AlertFilter::default()
            })?
            .len(),
            1
        );
        // prefix lookup
        assert_eq!(s.find("AA", 2)?.len(), 1);
        assert!(s.find("'; drop", 2)?.is_empty());
        // ack survives an engine upsert, and is cleared on request
        assert!(s.ack("aa11", "alice", Some("known"), 6000)?);
        assert!(!s.ack("zz", "alice", None, 6000)?);
        s.commit(&EngineCommit {
            alerts: vec![alert("aa11", "firing", 7000)],
            ..EngineCommit::default()
        })?;
        let a = s.get("aa11")?.expect("stored");
        assert_eq!(a.ack.as_ref().map(|k| k.by.as_str()), Some("alice"));
        assert_eq!(a.last_seen_ms, 7000);
        assert_eq!(s.active_acks()?, vec![("aa11".to_string(), 6000)]);
        s.commit(&EngineCommit {
            clear_acks: vec!["aa11".into()],
            removed_groups: vec!["g1".into()],
            ..EngineCommit::default()
        })?;
        assert!(s.get("aa11")?.expect("stored").ack.is_none());
        assert!(s.load_engine()?.1.is_empty());
        // the outbox row is linked to both alerts
        assert_eq!(s.outbox_for_alert("bb22")?.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }

    #[test]
    fn outbox_lifecycle_and_sink_backoff() -> Result<(), StoreError> {
        let dir = tmp("outbox");
        let mut s = AlertStore::open(&dir)?;
        s.commit(&EngineCommit {
            outbox: vec![
                row("n1", "webhook:a", &["aa"], 100),
                row("n1", "webhook:b", &["aa"], 100),
                row("n2", "webhook:a", &["aa"], 200),
                // the same (notification, sink) twice is stored once
                row("n2", "webhook:a", &["aa"], 200),
            ],
            ..EngineCommit::default()
        })?;
        assert_eq!(s.outbox_counts()?, (3, 0, 0));
        assert_eq!(s.outbox_due(150, 10)?.len(), 2);
        let due = s.outbox_due(1000, 10)?;
        assert_eq!(due.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 2, 3]);
        // sink a fails: its later row waits with it, sink b is unaffected
        s.outbox_retry(&due[0], 1, 5000, "connection refused")?;
        assert_eq!(s.outbox_due(1000, 10)?.iter().map(|r| r.id).collect::<Vec<_>>(), [2]);
        s.outbox_sent(2, 1, 1000)?;
        assert_eq!(s.outbox_next_due()?, Some(5000));
        let due = s.outbox_due(5000, 10)?;
        assert_eq!(due.len(), 2);
        assert_eq!(due[0].last_error.as_deref(), Some("connection refused"));
        s.outbox_sent(1, 2, 5000)?;
        s.outbox_dead(3, 1, "400 bad request", 5000)?;
        assert_eq!(s.outbox_counts()?, (0, 2, 1));
        assert_eq!(s.outbox_next_due()?, None);
        // retention: finished rows older than the cutoff go, recent ones stay
        // (row 2 finished at 1000, rows 1 and 3 at 5000)
        assert_eq!(s.apply_retention(1, 5000 + 86_400_000 - 1)?, (0, 1));
        assert_eq!(s.apply_retention(1, 5000 + 86_400_001)?, (0, 2));
        assert!(s.outbox_for_alert("aa")?.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }

    #[test]
    fn retention_keeps_firing_and_active_alerts() -> Result<(), StoreError> {
        let dir = tmp("retention");
        let mut s = AlertStore::open(&dir)?;
        let mut active_resolved = alert("cc", "resolved", 1000);
        active_resolved.active = true;
        s.commit(&EngineCommit {
            alerts: vec![
                alert("aa", "firing", 1000),
                alert("bb", "resolved", 1000),
                active_resolved,
            ],
            ..EngineCommit::default()
        })?;
        let (alerts, _) = s.apply_retention(1, 10 * 86_400_000)?;
        assert_eq!(alerts, 1);
        assert!(s.get("bb")?.is_none());
        assert!(s.get("aa")?.is_some() && s.get("cc")?.is_some());
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}
