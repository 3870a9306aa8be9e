//! appwarden's persistence. For now: the query log, where every
//! [`QueryEvent`] from the resolver lands, written in batches by a
//! background thread from a bounded queue so the query path never waits
//! (when the queue is full, events are dropped and counted).
//!
//! SQLite by default; the schema is versioned and migrated on open.

#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, params};
use serde::Serialize;

/// What the resolver did with a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryDecision {
    /// Answered normally.
    Allowed,
    /// Answered with the blocked answer.
    Blocked,
    /// Answered normally, but the group would block it (log-only mode).
    WouldBlock,
}

impl QueryDecision {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryDecision::Allowed => "allowed",
            QueryDecision::Blocked => "blocked",
            QueryDecision::WouldBlock => "would_block",
        }
    }
}

/// What matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchReason {
    /// The query name matched a rule.
    Name,
    /// A CNAME target in the answer matched a rule.
    Cname,
    /// An address in the answer matched an IP rule.
    Ip,
    /// A bypass-prevention rule (canary, Private Relay, DDR, encrypted DNS, VPN, proxy, Tor).
    Bypass,
    /// An allow rule (custom allow or carve-out) let it through.
    AllowRule,
}

impl MatchReason {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchReason::Name => "name",
            MatchReason::Cname => "cname",
            MatchReason::Ip => "ip",
            MatchReason::Bypass => "bypass",
            MatchReason::AllowRule => "allow_rule",
        }
    }
}

/// How the query arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// Plain UDP.
    Udp,
    /// Plain TCP.
    Tcp,
    /// DNS over TLS.
    Tls,
    /// DNS over HTTPS.
    Https,
}

impl Transport {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Https => "https",
        }
    }
}

/// One query, as the resolver saw and answered it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueryEvent {
    /// Unix time in milliseconds.
    pub time_ms: u64,
    /// Client address.
    pub client: IpAddr,
    /// Client group.
    pub group: Arc<str>,
    /// Query name (lowercase, no trailing dot).
    pub qname: String,
    /// Query type number.
    pub qtype: u16,
    /// What was done.
    pub decision: QueryDecision,
    /// What matched, if anything.
    pub reason: Option<MatchReason>,
    /// The rule's name (`tiktok.com`, `cname:x.edgesuite.net`, `ip:192.0.2.1`).
    pub rule: Option<String>,
    /// App (catalog id) the rule belongs to.
    pub app: Option<Arc<str>>,
    /// The app's category.
    pub category: Option<Arc<str>>,
    /// Response code sent.
    pub rcode: u8,
    /// Upstream that answered (None: answered locally or from cache).
    pub upstream: Option<Arc<str>>,
    /// Time from receipt to answer, microseconds.
    pub latency_us: u32,
    /// Answered from the cache.
    pub cache_hit: bool,
    /// Transport.
    pub transport: Transport,
}

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Errors at this crate's boundary.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed.
    #[error("query log database {path}: {source}")]
    Sqlite {
        /// Database file.
        path: PathBuf,
        /// Error.
        #[source]
        source: rusqlite::Error,
    },
    /// A directory could not be created.
    #[error("creating {path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Error.
        #[source]
        source: std::io::Error,
    },
}

const MIGRATIONS: &[&str] = &[
    // 1: the query log
    "CREATE TABLE query_log (
        id INTEGER PRIMARY KEY,
        time_ms INTEGER NOT NULL,
        client TEXT NOT NULL,
        client_group TEXT NOT NULL,
        qname TEXT NOT NULL,
        qtype INTEGER NOT NULL,
        decision TEXT NOT NULL,
        reason TEXT,
        rule TEXT,
        app TEXT,
        category TEXT,
        rcode INTEGER NOT NULL,
        upstream TEXT,
        latency_us INTEGER NOT NULL,
        cache_hit INTEGER NOT NULL,
        transport TEXT NOT NULL
     );
     CREATE INDEX query_log_time ON query_log(time_ms);
     CREATE INDEX query_log_client ON query_log(client, time_ms);
     CREATE INDEX query_log_app ON query_log(app, time_ms) WHERE app IS NOT NULL;",
];

/// Rows written by one INSERT statement.
pub const ROWS_PER_STATEMENT: usize = 64;
const COLUMNS: usize = 15;

fn insert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO query_log (time_ms, client, client_group, qname, qtype, decision, reason, rule, app, category, rcode, upstream, latency_us, cache_hit, transport) VALUES ",
    );
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    }
    sql
}

fn push_row(values: &mut Vec<rusqlite::types::Value>, e: &QueryEvent) {
    use rusqlite::types::Value;
    let text = |s: Option<&str>| s.map_or(Value::Null, |s| Value::Text(s.to_string()));
    values.extend([
        Value::Integer(e.time_ms as i64),
        Value::Text(e.client.to_string()),
        Value::Text(e.group.to_string()),
        Value::Text(e.qname.clone()),
        Value::Integer(i64::from(e.qtype)),
        Value::Text(e.decision.as_str().to_string()),
        text(e.reason.map(MatchReason::as_str)),
        text(e.rule.as_deref()),
        text(e.app.as_deref()),
        text(e.category.as_deref()),
        Value::Integer(i64::from(e.rcode)),
        text(e.upstream.as_deref()),
        Value::Integer(i64::from(e.latency_us)),
        Value::Integer(i64::from(e.cache_hit)),
        Value::Text(e.transport.as_str().to_string()),
    ]);
}

/// The query log database.
pub struct QueryLog {
    conn: Connection,
    path: PathBuf,
}

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

impl QueryLog {
    /// Opens (creating and migrating) `dir/querylog.sqlite3`.
    pub fn open(dir: &Path) -> Result<QueryLog, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join("querylog.sqlite3");
        let conn = Connection::open(&path).map_err(sqlite(&path))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
        )
        .map_err(sqlite(&path))?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sqlite(&path))?;
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            conn.execute_batch(&format!(
                "BEGIN; {m}; PRAGMA user_version = {}; COMMIT;",
                i + 1
            ))
            .map_err(sqlite(&path))?;
        }
        Ok(QueryLog { conn, path })
    }

    /// Inserts events in one transaction, [`ROWS_PER_STATEMENT`] rows per statement.
    pub fn insert(&mut self, events: &[QueryEvent]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(sqlite(&path))?;
        {
            let full = insert_sql(ROWS_PER_STATEMENT);
            let mut st = tx.prepare_cached(&full).map_err(sqlite(&path))?;
            let mut chunks = events.chunks_exact(ROWS_PER_STATEMENT);
            let mut values: Vec<rusqlite::types::Value> =
                Vec::with_capacity(ROWS_PER_STATEMENT * COLUMNS);
            for chunk in &mut chunks {
                values.clear();
                chunk.iter().for_each(|e| push_row(&mut values, e));
                st.execute(rusqlite::params_from_iter(values.drain(..)))
                    .map_err(sqlite(&path))?;
            }
            let rest = chunks.remainder();
            if !rest.is_empty() {
                let mut st = tx
                    .prepare_cached(&insert_sql(rest.len()))
                    .map_err(sqlite(&path))?;
                values.clear();
                rest.iter().for_each(|e| push_row(&mut values, e));
                st.execute(rusqlite::params_from_iter(values.drain(..)))
                    .map_err(sqlite(&path))?;
            }
        }
        tx.commit().map_err(sqlite(&path))
    }

    /// Deletes entries older than `days`; returns how many.
    pub fn apply_retention(&self, days: u32) -> Result<usize, StoreError> {
        let cutoff = now_ms().saturating_sub(u64::from(days) * 86_400_000) as i64;
        self.conn
            .execute("DELETE FROM query_log WHERE time_ms < ?1", params![cutoff])
            .map_err(sqlite(&self.path))
    }

    /// Number of rows.
    pub fn count(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM query_log", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(sqlite(&self.path))
    }

    /// The most recent rows, newest first.
    pub fn recent(&self, limit: u32) -> Result<Vec<RecentRow>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT time_ms, client, qname, decision, app FROM query_log ORDER BY time_ms DESC, id DESC LIMIT ?1")
            .map_err(sqlite(&self.path))?;
        let rows = st
            .query_map(params![limit], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                ))
            })
            .map_err(sqlite(&self.path))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(sqlite(&self.path))
    }
}

/// A query-log row in brief: (time_ms, client, qname, decision, app).
pub type RecentRow = (u64, String, String, String, Option<String>);

/// The sending side of the query log: cheap to clone, never blocks.
#[derive(Clone)]
pub struct EventSink {
    tx: Option<SyncSender<QueryEvent>>,
    dropped: Arc<AtomicU64>,
    sent: Arc<AtomicU64>,
}

impl EventSink {
    /// A sink that discards everything (query log off).
    pub fn disabled() -> EventSink {
        EventSink {
            tx: None,
            dropped: Arc::new(AtomicU64::new(0)),
            sent: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A sink feeding an in-process receiver (the monitor, tests) with a queue of `queue` events.
    pub fn channel(queue: usize) -> (EventSink, Receiver<QueryEvent>) {
        let (tx, rx) = std::sync::mpsc::sync_channel(queue.max(1));
        (
            EventSink {
                tx: Some(tx),
                dropped: Arc::new(AtomicU64::new(0)),
                sent: Arc::new(AtomicU64::new(0)),
            },
            rx,
        )
    }

    /// Queues an event; when the queue is full the event is dropped and counted.
    pub fn emit(&self, e: QueryEvent) {
        if let Some(tx) = &self.tx {
            match tx.try_send(e) {
                Ok(()) => {
                    self.sent.fetch_add(1, Ordering::Relaxed);
                }
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Whether events are recorded at all.
    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Events queued.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

/// Query-log writer settings.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// Directory of the database.
    pub dir: PathBuf,
    /// Queue length before events are dropped.
    pub queue: usize,
    /// Rows per transaction at most.
    pub batch: usize,
    /// Longest wait before a partial batch is written.
    pub flush_every: Duration,
    /// Days to keep.
    pub retention_days: u32,
}

/// Opens the query log and starts its writer thread. Returns the sink, and
/// the thread's handle (it ends when every sink is dropped, after a final flush).
pub fn start_query_log(
    cfg: WriterConfig,
) -> Result<(EventSink, std::thread::JoinHandle<()>), StoreError> {
    let mut log = QueryLog::open(&cfg.dir)?;
    if let Err(e) = log.apply_retention(cfg.retention_days) {
        tracing::warn!(error = %e, "query log retention failed");
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(cfg.queue.max(1));
    let sink = EventSink {
        tx: Some(tx),
        dropped: Arc::new(AtomicU64::new(0)),
        sent: Arc::new(AtomicU64::new(0)),
    };
    let handle = std::thread::Builder::new()
        .name("querylog".into())
        .spawn(move || writer(&mut log, &rx, &cfg))
        .map_err(|source| StoreError::Io {
            path: cfg_dir_placeholder(),
            source,
        })?;
    Ok((sink, handle))
}

fn cfg_dir_placeholder() -> PathBuf {
    PathBuf::from("<querylog thread>")
}

fn writer(log: &mut QueryLog, rx: &Receiver<QueryEvent>, cfg: &WriterConfig) {
    let mut batch = Vec::with_capacity(cfg.batch);
    let mut last_retention = Instant::now();
    loop {
        let deadline = Instant::now() + cfg.flush_every;
        let mut closed = false;
        while batch.len() < cfg.batch {
            let wait = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(e) => batch.push(e),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        if !batch.is_empty() {
            if let Err(e) = log.insert(&batch) {
                tracing::error!(error = %e, rows = batch.len(), "query log write failed; rows lost");
            }
            batch.clear();
        }
        if last_retention.elapsed() > Duration::from_secs(3600) {
            let _ = log.apply_retention(cfg.retention_days);
            last_retention = Instant::now();
        }
        if closed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: u64) -> QueryEvent {
        QueryEvent {
            time_ms: now_ms() + i,
            client: "192.0.2.1".parse().expect("ip"),
            group: "corporate".into(),
            qname: format!("n{i}.tiktok.com"),
            qtype: 1,
            decision: QueryDecision::Blocked,
            reason: Some(MatchReason::Name),
            rule: Some("tiktok.com".into()),
            app: Some("tiktok".into()),
            category: Some("social-video".into()),
            rcode: 3,
            upstream: None,
            latency_us: 12,
            cache_hit: false,
            transport: Transport::Udp,
        }
    }

    #[test]
    fn writes_batches_and_counts_drops() {
        let dir = std::env::temp_dir().join(format!("appwarden-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (sink, handle) = start_query_log(WriterConfig {
            dir: dir.clone(),
            queue: 100_000,
            batch: 500,
            flush_every: Duration::from_millis(50),
            retention_days: 30,
        })
        .expect("open");
        for i in 0..2000 {
            sink.emit(event(i));
        }
        assert_eq!(sink.sent(), 2000);
        drop(sink);
        handle.join().expect("writer ends after the last sink");
        let log = QueryLog::open(&dir).expect("reopen");
        assert_eq!(log.count().expect("count"), 2000);
        let recent = log.recent(1).expect("recent");
        assert_eq!(recent[0].2, "n1999.tiktok.com");
        assert_eq!(recent[0].4.as_deref(), Some("tiktok"));

        // a full queue drops and counts instead of waiting
        let (tx, _rx) = std::sync::mpsc::sync_channel(1);
        let tiny = EventSink {
            tx: Some(tx),
            dropped: Arc::new(AtomicU64::new(0)),
            sent: Arc::new(AtomicU64::new(0)),
        };
        for i in 0..10 {
            tiny.emit(event(i));
        }
        assert_eq!((tiny.sent(), tiny.dropped()), (1, 9));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
