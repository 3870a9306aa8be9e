//! appwarden's persistence. For now: the query log, where every
//! [`QueryEvent`] from the resolver lands, written in batches by a
//! background thread from a bounded queue so the query path never waits
//! (when the queue is full, events are dropped and counted).
//!
//! SQLite by default; the schema is versioned and migrated on open.

#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, params};

pub mod alerts;
pub mod batch;
pub mod scans;

use batch::{BatchEncoder, EncodedBatch};
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
    // 1: the query log, stored as encoded batches (batch.rs) indexed by time, client and app
    "CREATE TABLE query_batches (
        id INTEGER PRIMARY KEY,
        first_ms INTEGER NOT NULL,
        last_ms INTEGER NOT NULL,
        events INTEGER NOT NULL,
        data BLOB NOT NULL
     );
     CREATE INDEX query_batches_time ON query_batches(last_ms, first_ms);
     CREATE TABLE query_batch_clients (
        client TEXT NOT NULL, batch INTEGER NOT NULL, events INTEGER NOT NULL,
        PRIMARY KEY (client, batch)
     ) WITHOUT ROWID;
     CREATE TABLE query_batch_apps (
        app TEXT NOT NULL, batch INTEGER NOT NULL, events INTEGER NOT NULL,
        PRIMARY KEY (app, batch)
     ) WITHOUT ROWID;",
    // 2: uploaded package scans (scans.rs): the report JSON by the package's sha256
    "CREATE TABLE scan_results (
        sha256 TEXT PRIMARY KEY,
        file_name TEXT,
        package TEXT,
        decided TEXT,
        stored_ms INTEGER,
        report TEXT
     );
     CREATE INDEX scan_results_time ON scan_results(stored_ms);",
    // 3: alerts (alerts.rs): alerts by fingerprint, the engine's groups, the outbox of notifications
    "CREATE TABLE alerts (
        fingerprint TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        app TEXT,
        grp TEXT,
        labels TEXT NOT NULL,
        annotations TEXT,
        starts_ms INTEGER NOT NULL,
        ends_ms INTEGER,
        last_seen_ms INTEGER NOT NULL,
        total INTEGER NOT NULL DEFAULT 0,
        blocked INTEGER NOT NULL DEFAULT 0,
        got_through INTEGER NOT NULL DEFAULT 0,
        unknown INTEGER NOT NULL DEFAULT 0,
        evidence TEXT,
        bypass_indicators TEXT,
        active INTEGER NOT NULL DEFAULT 1,
        acked_by TEXT,
        acked_ms INTEGER,
        ack_comment TEXT,
        updated_ms INTEGER NOT NULL
     );
     CREATE INDEX alerts_seen ON alerts(last_seen_ms);
     CREATE INDEX alerts_active ON alerts(active);
     CREATE TABLE alert_groups (
        id TEXT PRIMARY KEY,
        receiver TEXT NOT NULL,
        group_key TEXT NOT NULL,
        state TEXT NOT NULL,
        updated_ms INTEGER NOT NULL
     );
     CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        notification_id TEXT NOT NULL,
        receiver TEXT NOT NULL,
        sink TEXT NOT NULL,
        group_key TEXT NOT NULL,
        status TEXT NOT NULL,
        notification TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        next_attempt_ms INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        state TEXT NOT NULL DEFAULT 'pending',
        done_ms INTEGER,
        UNIQUE (notification_id, receiver, sink)
     );
     CREATE INDEX outbox_due ON outbox(state, next_attempt_ms);
     CREATE TABLE outbox_alerts (
        fingerprint TEXT NOT NULL, outbox_id INTEGER NOT NULL,
        PRIMARY KEY (fingerprint, outbox_id)
     ) WITHOUT ROWID;",
];

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
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;")
            .map_err(sqlite(&path))?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sqlite(&path))?;
        if (version.max(0) as usize) < MIGRATIONS.len() {
            // another process (serve, `alerts ack`) may open the file at the same time: migrate
            // under the write lock, reading the version again once it is held
            conn.execute_batch("BEGIN IMMEDIATE;").map_err(sqlite(&path))?;
            let migrate = || -> rusqlite::Result<()> {
                let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                for (i, m) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
                    conn.execute_batch(&format!("{m}; PRAGMA user_version = {};", i + 1))?;
                }
                conn.execute_batch("COMMIT;")
            };
            if let Err(e) = migrate() {
                let _ = conn.execute_batch("ROLLBACK;");
                return Err(sqlite(&path)(e));
            }
        }
        Ok(QueryLog { conn, path })
    }

    /// Stores events as one batch.
    pub fn insert(&mut self, events: &[QueryEvent]) -> Result<(), StoreError> {
        let mut enc = BatchEncoder::default();
        for e in events {
            enc.push(e);
        }
        if enc.is_empty() {
            return Ok(());
        }
        self.insert_batch(&enc.finish())
    }

    /// Stores an encoded batch and its index rows in one transaction.
    pub fn insert_batch(&mut self, b: &EncodedBatch) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(sqlite(&path))?;
        tx.execute(
            "INSERT INTO query_batches (first_ms, last_ms, events, data) VALUES (?1, ?2, ?3, ?4)",
            params![b.first_ms as i64, b.last_ms as i64, b.count, b.blob],
        )
        .map_err(sqlite(&path))?;
        let id = tx.last_insert_rowid();
        {
            let mut st = tx
                .prepare_cached("INSERT INTO query_batch_clients (client, batch, events) VALUES (?1, ?2, ?3)")
                .map_err(sqlite(&path))?;
            for (c, n) in &b.clients {
                st.execute(params![c.to_string(), id, n]).map_err(sqlite(&path))?;
            }
            let mut st = tx
                .prepare_cached("INSERT INTO query_batch_apps (app, batch, events) VALUES (?1, ?2, ?3)")
                .map_err(sqlite(&path))?;
            for (a, n) in &b.apps {
                st.execute(params![&**a, id, n]).map_err(sqlite(&path))?;
            }
        }
        tx.commit().map_err(sqlite(&path))
    }

    /// Events matching `f`, newest first (at most `f.limit`).
    pub fn query(&self, f: &QueryFilter) -> Result<Vec<QueryEvent>, StoreError> {
        let from = f.from_ms.unwrap_or(0) as i64;
        let to = f.to_ms.map_or(i64::MAX, |t| t as i64);
        let (sql, key): (&str, Option<String>) = match (&f.client, &f.app) {
            (Some(c), _) => (
                "SELECT b.data, b.last_ms FROM query_batches b JOIN query_batch_clients c ON c.batch = b.id
                 WHERE c.client = ?3 AND b.last_ms >= ?1 AND b.first_ms <= ?2 ORDER BY b.last_ms DESC",
                Some(c.to_string()),
            ),
            (None, Some(a)) => (
                "SELECT b.data, b.last_ms FROM query_batches b JOIN query_batch_apps a ON a.batch = b.id
                 WHERE a.app = ?3 AND b.last_ms >= ?1 AND b.first_ms <= ?2 ORDER BY b.last_ms DESC",
                Some(a.clone()),
            ),
            (None, None) => (
                "SELECT data, last_ms FROM query_batches WHERE last_ms >= ?1 AND first_ms <= ?2 AND ?3 IS NULL
                 ORDER BY last_ms DESC",
                None,
            ),
        };
        let mut st = self.conn.prepare(sql).map_err(sqlite(&self.path))?;
        let mut rows = st.query(params![from, to, key]).map_err(sqlite(&self.path))?;
        let mut out = Vec::new();
        let limit = f.limit.unwrap_or(usize::MAX);
        // rows overlap in time (each UDP worker writes its own), so they are read by their newest
        // event, newest first, until no unread row can hold one of the `limit` newest so far
        while let Some(row) = rows.next().map_err(sqlite(&self.path))? {
            let last = row.get::<_, i64>(1).map_err(sqlite(&self.path))? as u64;
            if out.len() >= limit {
                // the `limit` newest first, the oldest of them at `limit - 1`
                out.select_nth_unstable_by_key(limit - 1, |e: &QueryEvent| std::cmp::Reverse(e.time_ms));
                out.truncate(limit);
                if last < out[limit - 1].time_ms {
                    break;
                }
            }
            let blob: Vec<u8> = row.get(0).map_err(sqlite(&self.path))?;
            let Some(events) = batch::decode(&blob) else {
                tracing::warn!("a damaged query-log batch was skipped");
                continue;
            };
            out.extend(events.into_iter().filter(|e| f.matches(e)));
        }
        // newest first (events of one millisecond in no set order)
        out.sort_by_key(|e| std::cmp::Reverse(e.time_ms));
        out.truncate(limit);
        Ok(out)
    }

    /// Deletes batches whose newest event is older than `days`; returns how many batches.
    pub fn apply_retention(&self, days: u32) -> Result<usize, StoreError> {
        let cutoff = now_ms().saturating_sub(u64::from(days) * 86_400_000) as i64;
        let n = self
            .conn
            .execute("DELETE FROM query_batches WHERE last_ms < ?1", params![cutoff])
            .map_err(sqlite(&self.path))?;
        if n > 0 {
            self.conn
                .execute_batch(
                    "DELETE FROM query_batch_clients WHERE batch NOT IN (SELECT id FROM query_batches);
                     DELETE FROM query_batch_apps WHERE batch NOT IN (SELECT id FROM query_batches);",
                )
                .map_err(sqlite(&self.path))?;
        }
        Ok(n)
    }

    /// Number of events stored.
    pub fn count(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT COALESCE(SUM(events), 0) FROM query_batches", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(sqlite(&self.path))
    }

    /// The most recent events, newest first.
    pub fn recent(&self, limit: usize) -> Result<Vec<QueryEvent>, StoreError> {
        self.query(&QueryFilter {
            limit: Some(limit),
            ..QueryFilter::default()
        })
    }
}

/// What to read from the query log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryFilter {
    /// From this time (ms, inclusive).
    pub from_ms: Option<u64>,
    /// Until this time (ms, inclusive).
    pub to_ms: Option<u64>,
    /// Only this client.
    pub client: Option<IpAddr>,
    /// Only this app.
    pub app: Option<String>,
    /// At most this many events.
    pub limit: Option<usize>,
}

impl QueryFilter {
    fn matches(&self, e: &QueryEvent) -> bool {
        self.from_ms.is_none_or(|f| e.time_ms >= f)
            && self.to_ms.is_none_or(|t| e.time_ms <= t)
            && self.client.is_none_or(|c| e.client == c)
            && self.app.as_deref().is_none_or(|a| e.app.as_deref() == Some(a))
    }
}

/// The sending side of the query log: cheap to clone, never blocks.
///
/// Events travel in batches: [`EventSink::emit_batched`] collects them in a
/// per-thread buffer and sends a batch every [`LOCAL_BATCH`] events or
/// [`LOCAL_FLUSH`], so a busy receiving thread does not wake the writer (a
/// futex and a context switch) once per query. [`EventSink::emit`] sends at once.
///
/// The query-log writer hands emptied batches back (see
/// [`EventSink::recycled_string`]): the receiving thread reuses their buffers
/// and query-name strings, so an event costs no allocation on the query path
/// and no cross-thread free on the writer.
#[derive(Clone)]
pub struct EventSink {
    tx: Option<Tx>,
    dropped: Arc<AtomicU64>,
    sent: Arc<AtomicU64>,
    id: u64,
    /// Batches the consumer has finished with (only the query-log writer fills it).
    spare: Spare,
}

/// Events collected per thread before a batch is sent.
pub const LOCAL_BATCH: usize = 256;
/// Longest an event waits in a thread's buffer while more events arrive.
pub const LOCAL_FLUSH: Duration = Duration::from_millis(50);
/// Emptied batches kept for reuse at most.
const SPARE_BATCHES: usize = 16;
/// Query-name strings a thread keeps for reuse at most.
const SPARE_STRINGS: usize = 2 * LOCAL_BATCH;

static SINK_IDS: AtomicU64 = AtomicU64::new(1);

/// Batches handed back by the consumer for reuse.
type Spare = Arc<Mutex<Vec<Vec<QueryEvent>>>>;

/// Where a sink's events go.
#[derive(Clone)]
enum Tx {
    /// Batches of events to an in-process receiver ([`EventSink::channel`]).
    Events(SyncSender<Vec<QueryEvent>>),
    /// The query-log writer: a thread that batches ([`EventSink::open_local_batch`])
    /// encodes its own rows; other threads' events go as they are.
    Log(SyncSender<LogMsg>, Arc<LocalRows>),
}

/// What the query-log writer receives.
enum LogMsg {
    /// Events for the writer to encode (TCP, DoH, forwarded answers, idle flushes).
    Events(Vec<QueryEvent>),
    /// A row a UDP worker encoded itself.
    Encoded(EncodedBatch),
}

/// How a batching thread builds query-log rows itself: the writer then only
/// stores them, so events never cross threads one by one and the writer
/// thread does not compete with the resolver for the core while it is busy.
struct LocalRows {
    /// Events per row at most.
    batch: usize,
    /// A row is sent once its first event is this old (by the events' times).
    flush_ms: u64,
    /// The tap, called on the batching thread after the batch's answers went out.
    tap: Option<EventTap>,
    /// Events in encoded rows not yet stored; more than `limit` are dropped.
    queued: AtomicU64,
    limit: u64,
}

/// The consumer's side of batch reuse: hands batches it has finished with
/// back to the threads that emit them. It does not keep the channel open.
#[derive(Clone)]
pub struct Recycler(Spare);

impl Recycler {
    /// Gives a batch back (a small one, or one beyond the few kept, is dropped).
    pub fn give_back(&self, batch: Vec<QueryEvent>) {
        if batch.capacity() < LOCAL_BATCH {
            return;
        }
        if let Ok(mut s) = self.0.lock()
            && s.len() < SPARE_BATCHES
        {
            s.push(batch);
        }
    }
}

/// A thread's events not yet sent.
struct Local {
    /// The sink they belong to.
    sink: u64,
    events: Vec<QueryEvent>,
    /// `time_ms` of the first event.
    first_ms: Option<u64>,
    /// Start of the open receive batch in `events` (see [`EventSink::open_local_batch`]).
    mark: Option<usize>,
    /// Strings from recycled events.
    strings: Vec<String>,
    /// The query-log row this thread is building (see [`LocalRows`]).
    row: Option<BatchEncoder>,
    /// `time_ms` of the row's first event.
    row_first_ms: Option<u64>,
}

thread_local! {
    static LOCAL: std::cell::RefCell<Local> = const {
        std::cell::RefCell::new(Local {
            sink: 0,
            events: Vec::new(),
            first_ms: None,
            mark: None,
            strings: Vec::new(),
            row: None,
            row_first_ms: None,
        })
    };
}

/// Takes `e`'s query-name string (emptied) into `strings` for reuse, while
/// fewer than [`SPARE_STRINGS`] are kept.
fn keep_name(strings: &mut Vec<String>, e: &mut QueryEvent) {
    if strings.len() < SPARE_STRINGS {
        let mut q = std::mem::take(&mut e.qname);
        q.clear();
        strings.push(q);
    }
}

impl Local {
    /// Makes the buffer `sink`'s. Another sink's leftovers on this thread
    /// are discarded rather than misfiled.
    fn adopt(&mut self, sink: u64) {
        if self.sink != sink {
            self.events.clear();
            self.first_ms = None;
            self.mark = None;
            self.row = None;
            self.row_first_ms = None;
            self.sink = sink;
        }
    }

    /// Moves the buffered events into this thread's row (after the tap has
    /// seen them; their names are kept for reuse) and hands the row out when
    /// it is full, its first event is `rows.flush_ms` older than `now_ms`, or
    /// `always`. The open receive batch, if any, stays buffered.
    fn encode(&mut self, rows: &LocalRows, now_ms: u64, always: bool) -> Option<EncodedBatch> {
        let upto = self.mark.unwrap_or(self.events.len());
        if upto > 0 {
            let first = self.events[0].time_ms;
            if let Some(tap) = &rows.tap {
                (tap.0)(&self.events[..upto]);
            }
            let row = self.row.get_or_insert_with(BatchEncoder::default);
            for mut e in self.events.drain(..upto) {
                row.push(&e);
                keep_name(&mut self.strings, &mut e);
            }
            self.mark = self.mark.map(|m| m - upto);
            if self.events.is_empty() {
                self.first_ms = None;
            }
            self.row_first_ms.get_or_insert(first);
        }
        let row = self.row.as_mut().filter(|r| !r.is_empty())?;
        let old = self
            .row_first_ms
            .is_some_and(|f| now_ms.saturating_sub(f) >= rows.flush_ms);
        if always || old || row.len() as usize >= rows.batch {
            self.row_first_ms = None;
            return Some(row.finish());
        }
        None
    }

    /// Takes the events out for sending if the buffer is full or old (by
    /// `now_ms`), or `always`, and puts an empty buffer (a recycled one if
    /// the writer returned any) in their place.
    fn take_if_due(&mut self, now_ms: u64, always: bool, spare: &Spare) -> Option<Vec<QueryEvent>> {
        let old = self
            .first_ms
            .is_some_and(|f| now_ms.saturating_sub(f) >= LOCAL_FLUSH.as_millis() as u64);
        if self.events.is_empty() || (!always && self.events.len() < LOCAL_BATCH && !old) {
            return None;
        }
        self.first_ms = None;
        self.mark = None;
        let next = spare.lock().ok().and_then(|mut s| s.pop());
        let next = match next {
            Some(mut v) => {
                // take the names out in place (moving whole events would copy them)
                for e in &mut v {
                    keep_name(&mut self.strings, e);
                }
                v.clear();
                v
            }
            None => Vec::with_capacity(LOCAL_BATCH),
        };
        Some(std::mem::replace(&mut self.events, next))
    }
}

impl EventSink {
    fn with_tx(tx: Option<Tx>) -> EventSink {
        EventSink {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
            sent: Arc::new(AtomicU64::new(0)),
            id: SINK_IDS.fetch_add(1, Ordering::Relaxed),
            spare: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// A sink that discards everything (query log off).
    pub fn disabled() -> EventSink {
        Self::with_tx(None)
    }

    /// A sink feeding an in-process receiver (the monitor, tests); the queue holds `queue` batches.
    pub fn channel(queue: usize) -> (EventSink, Receiver<Vec<QueryEvent>>) {
        let (tx, rx) = std::sync::mpsc::sync_channel(queue.max(1));
        (Self::with_tx(Some(Tx::Events(tx))), rx)
    }

    /// For the receiver of [`EventSink::channel`]: where to give finished batches back.
    pub fn recycler(&self) -> Recycler {
        Recycler(Arc::clone(&self.spare))
    }

    /// An empty string with room for `len` bytes, reusing a query name the
    /// writer has finished with when this thread has one.
    pub fn recycled_string(len: usize) -> String {
        LOCAL.with(|l| l.borrow_mut().strings.pop()).map_or_else(
            || String::with_capacity(len),
            |mut s| {
                s.reserve(len);
                s
            },
        )
    }

    fn send(&self, v: Vec<QueryEvent>) {
        let n = v.len() as u64;
        if n == 0 {
            return;
        }
        let sent = match &self.tx {
            None => return,
            Some(Tx::Events(tx)) => tx.try_send(v).is_ok(),
            Some(Tx::Log(tx, _)) => tx.try_send(LogMsg::Events(v)).is_ok(),
        };
        self.count(sent, n);
    }

    fn count(&self, sent: bool, n: u64) {
        if sent {
            self.sent.fetch_add(n, Ordering::Relaxed);
        } else {
            self.dropped.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Hands a row this thread encoded to the writer, unless the rows
    /// waiting already hold the queue's worth of events (then it is dropped
    /// and counted, like events beyond a full queue).
    fn send_row(&self, row: EncodedBatch) {
        let Some(Tx::Log(tx, rows)) = &self.tx else { return };
        let n = u64::from(row.count);
        let waiting = rows.queued.fetch_add(n, Ordering::Relaxed);
        let sent = waiting + n <= rows.limit.max(n) && tx.try_send(LogMsg::Encoded(row)).is_ok();
        if !sent {
            rows.queued.fetch_sub(n, Ordering::Relaxed);
        }
        self.count(sent, n);
    }

    /// Sends one event now; when the queue is full it is dropped and counted.
    pub fn emit(&self, e: QueryEvent) {
        if self.tx.is_some() {
            self.send(vec![e]);
        }
    }

    /// Adds an event to this thread's batch; sends the batch when it is full
    /// or its first event is [`LOCAL_FLUSH`] older than this one (by their
    /// `time_ms`: no clock is read here), unless a receive batch is open.
    /// Call [`EventSink::flush_local`] when the thread goes idle.
    pub fn emit_batched(&self, e: QueryEvent) {
        self.emit_batched_with(|| e);
    }

    /// [`EventSink::emit_batched`] with the event built by `make`, in place
    /// in the thread's buffer where the compiler can (an event is ~150 bytes).
    #[inline]
    pub fn emit_batched_with(&self, make: impl FnOnce() -> QueryEvent) {
        if self.tx.is_none() {
            return;
        }
        let due = LOCAL.with(|l| {
            let mut l = l.borrow_mut();
            l.adopt(self.id);
            l.events.push(make());
            let t = l.events.last().map_or(0, |e| e.time_ms);
            l.first_ms.get_or_insert(t);
            if l.mark.is_some() {
                return None;
            }
            l.take_if_due(t, false, &self.spare)
        });
        if let Some(batch) = due {
            self.send(batch);
        }
    }

    /// Opens a receive batch on this thread: events emitted until
    /// [`EventSink::close_local_batch`] are held back and then all given
    /// that call's latency (one clock read per batch of datagrams instead of
    /// one per query).
    pub fn open_local_batch(&self) {
        if self.tx.is_none() {
            return;
        }
        LOCAL.with(|l| {
            let mut l = l.borrow_mut();
            l.adopt(self.id);
            let n = l.events.len();
            l.mark = Some(n);
        });
    }

    /// Closes the receive batch: its events get `latency_us`. For the query
    /// log they wait for [`EventSink::commit_local_batch`] (call it once the
    /// answers are sent); for a channel the buffer is sent if it is due.
    pub fn close_local_batch(&self, latency_us: u32) {
        if self.tx.is_none() {
            return;
        }
        let encodes = matches!(self.tx, Some(Tx::Log(..)));
        let due = LOCAL.with(|l| {
            let mut l = l.borrow_mut();
            let mark = l.mark.take()?;
            if l.sink != self.id {
                return None;
            }
            let last = l.events.last().map(|e| e.time_ms)?;
            for e in l.events.iter_mut().skip(mark) {
                e.latency_us = latency_us;
            }
            if encodes {
                return None;
            }
            l.take_if_due(last, false, &self.spare)
        });
        if let Some(batch) = due {
            self.send(batch);
        }
    }

    /// After a batch's answers are sent: for the query log, the tap sees the
    /// thread's closed events and they are encoded into the thread's row,
    /// which goes to the writer when it is full or old. Nothing for other sinks.
    pub fn commit_local_batch(&self) {
        self.encode_local(false, None);
    }

    fn encode_local(&self, always: bool, now_ms: Option<u64>) {
        let Some(Tx::Log(_, rows)) = &self.tx else { return };
        let row = LOCAL.with(|l| {
            let mut l = l.borrow_mut();
            if l.sink != self.id {
                return None;
            }
            let now = now_ms.or_else(|| l.events.last().map(|e| e.time_ms)).unwrap_or(0);
            l.encode(rows, now, always)
        });
        if let Some(row) = row {
            self.send_row(row);
        }
    }

    /// Sends whatever this thread has collected (a thread that stops calls it).
    pub fn flush_local(&self) {
        self.encode_local(true, None);
        self.flush_buffer();
    }

    /// For a batching thread with nothing to do: sends its buffered events,
    /// and its query-log row once the row's first event is older than the
    /// writer's flush interval (a quiet server writes a row per interval,
    /// not one per idle moment).
    pub fn flush_local_idle(&self) {
        self.encode_local(false, Some(now_ms()));
        self.flush_buffer();
    }

    fn flush_buffer(&self) {
        let batch = LOCAL.with(|l| {
            let mut l = l.borrow_mut();
            if l.sink != self.id {
                return None;
            }
            l.take_if_due(0, true, &self.spare)
        });
        if let Some(batch) = batch {
            self.send(batch);
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
    /// Sees every batch of events before it is written (the alert pipeline
    /// takes the blocked and bypass ones). Runs on the writer thread, or on
    /// a UDP worker after that batch's answers are sent; it must not block.
    pub tap: Option<EventTap>,
}

/// What an [`EventTap`] calls.
pub type TapFn = dyn Fn(&[QueryEvent]) + Send + Sync;

/// A function given every batch of query events the writer receives.
#[derive(Clone)]
pub struct EventTap(pub Arc<TapFn>);

impl std::fmt::Debug for EventTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventTap")
    }
}

/// Opens the query log and starts its writer thread. Returns the sink, and
/// the thread's handle (it ends when every sink is dropped, after a final flush).
pub fn start_query_log(cfg: WriterConfig) -> Result<(EventSink, std::thread::JoinHandle<()>), StoreError> {
    let mut log = QueryLog::open(&cfg.dir)?;
    if let Err(e) = log.apply_retention(cfg.retention_days) {
        tracing::warn!(error = %e, "query log retention failed");
    }
    // the queue is counted in batches of up to LOCAL_BATCH events; single events (TCP, cache
    // misses) take a slot each, so allow four times the batches the event budget needs
    let (tx, rx) = std::sync::mpsc::sync_channel(cfg.queue.div_ceil(LOCAL_BATCH).max(16) * 4);
    let rows = Arc::new(LocalRows {
        batch: cfg.batch.max(1),
        flush_ms: cfg.flush_every.as_millis() as u64,
        tap: cfg.tap.clone(),
        queued: AtomicU64::new(0),
        limit: cfg.queue as u64,
    });
    let sink = EventSink::with_tx(Some(Tx::Log(tx, rows.clone())));
    let handle = std::thread::Builder::new()
        .name("querylog".into())
        .spawn({
            let recycler = sink.recycler();
            move || writer(&mut log, &rx, &cfg, &recycler, &rows)
        })
        .map_err(|source| StoreError::Io {
            path: cfg_dir_placeholder(),
            source,
        })?;
    Ok((sink, handle))
}

fn cfg_dir_placeholder() -> PathBuf {
    PathBuf::from("<querylog thread>")
}

/// Lowers the calling thread's CPU priority (nice 10): when it and a
/// resolver thread want the same core, the resolver runs first, so writing a
/// batch never holds an answer back; under sustained overload the queue
/// fills and drops are counted instead.
fn yield_to_resolver() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 10) {
        tracing::debug!(error = %e, "query log writer priority unchanged");
    }
}

fn writer(log: &mut QueryLog, rx: &Receiver<LogMsg>, cfg: &WriterConfig, recycler: &Recycler, rows: &LocalRows) {
    yield_to_resolver();
    let mut enc = BatchEncoder::default();
    let mut last_retention = Instant::now();
    loop {
        let deadline = Instant::now() + cfg.flush_every;
        let mut closed = false;
        while (enc.len() as usize) < cfg.batch {
            let wait = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(LogMsg::Events(events)) => {
                    if let Some(tap) = &cfg.tap {
                        (tap.0)(&events);
                    }
                    events.iter().for_each(|e| enc.push(e));
                    recycler.give_back(events);
                }
                Ok(LogMsg::Encoded(b)) => {
                    rows.queued.fetch_sub(u64::from(b.count), Ordering::Relaxed);
                    if let Err(e) = log.insert_batch(&b) {
                        tracing::error!(error = %e, events = b.count, "query log write failed; events lost");
                    }
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        if !enc.is_empty() {
            let b = enc.finish();
            if let Err(e) = log.insert_batch(&b) {
                tracing::error!(error = %e, events = b.count, "query log write failed; events lost");
            }
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
        let tapped = Arc::new(AtomicU64::new(0));
        let t = tapped.clone();
        let (sink, handle) = start_query_log(WriterConfig {
            tap: Some(EventTap(Arc::new(move |evs: &[QueryEvent]| {
                t.fetch_add(evs.len() as u64, Ordering::Relaxed);
            }))),
            dir: dir.clone(),
            queue: 100_000,
            batch: 500,
            flush_every: Duration::from_millis(50),
            retention_days: 30,
        })
        .expect("open");
        for i in 0..2000 {
            sink.emit_batched(event(i));
        }
        sink.flush_local();
        assert_eq!(sink.sent(), 2000);
        drop(sink);
        handle.join().expect("writer ends after the last sink");
        assert_eq!(tapped.load(Ordering::Relaxed), 2000, "the tap sees every event");
        let log = QueryLog::open(&dir).expect("reopen");
        assert_eq!(log.count().expect("count"), 2000);
        let recent = log.recent(1).expect("recent");
        assert_eq!(recent[0].qname, "n1999.tiktok.com");
        assert_eq!(recent[0].app.as_deref(), Some("tiktok"));
        // by client and by app through the batch indexes
        let mine = log
            .query(&QueryFilter {
                client: Some("192.0.2.1".parse().expect("ip")),
                ..QueryFilter::default()
            })
            .expect("by client");
        assert_eq!(mine.len(), 2000);
        let none = log
            .query(&QueryFilter {
                client: Some("192.0.2.99".parse().expect("ip")),
                ..QueryFilter::default()
            })
            .expect("by client");
        assert!(none.is_empty());
        let tiktok = log
            .query(&QueryFilter {
                app: Some("tiktok".into()),
                limit: Some(10),
                ..QueryFilter::default()
            })
            .expect("by app");
        assert_eq!(tiktok.len(), 10);
        assert!(tiktok.windows(2).all(|w| w[0].time_ms >= w[1].time_ms), "newest first");

        // a full queue drops and counts instead of waiting
        let (tiny, rx) = EventSink::channel(1);
        for i in 0..10 {
            tiny.emit(event(i));
        }
        assert_eq!((tiny.sent(), tiny.dropped()), (1, 9));
        // batched: nothing is sent until the batch fills or is flushed
        drop(rx.try_recv());
        let at = |i: u64, ms: u64| QueryEvent {
            time_ms: ms,
            ..event(i)
        };
        let t0 = now_ms();
        for i in 0..(LOCAL_BATCH as u64 + 10) {
            tiny.emit_batched(at(i, t0));
        }
        assert_eq!(rx.try_recv().map(|b| b.len()).ok(), Some(LOCAL_BATCH));
        tiny.flush_local();
        assert_eq!(rx.try_recv().map(|b| b.len()).ok(), Some(10));
        // a slow trickle goes out once its first event is LOCAL_FLUSH older than the newest
        let step = LOCAL_FLUSH.as_millis() as u64 / 2;
        tiny.emit_batched(at(0, t0));
        tiny.emit_batched(at(1, t0 + step));
        assert!(rx.try_recv().is_err(), "young batch waits");
        tiny.emit_batched(at(2, t0 + 2 * step));
        assert_eq!(rx.try_recv().map(|b| b.len()).ok(), Some(3));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A receive batch holds its events back until it is closed, then they
    /// all carry the batch's latency; events from before it keep theirs.
    #[test]
    fn a_receive_batch_stamps_its_latency() {
        let (sink, rx) = EventSink::channel(64);
        let t0 = now_ms();
        let at = |i: u64, latency_us: u32| QueryEvent {
            time_ms: t0,
            latency_us,
            ..event(i)
        };
        sink.emit_batched(at(0, 7));
        sink.open_local_batch();
        // even a full buffer waits for the batch to close
        for i in 1..=(LOCAL_BATCH as u64) {
            sink.emit_batched(at(i, 0));
        }
        assert!(rx.try_recv().is_err(), "held back while the batch is open");
        sink.close_local_batch(1234);
        let got = rx.try_recv().expect("sent when closed: the buffer is full");
        assert_eq!(got.len(), LOCAL_BATCH + 1);
        assert_eq!(got[0].latency_us, 7, "emitted before the batch opened");
        assert!(got[1..].iter().all(|e| e.latency_us == 1234));
        // closing without an open batch changes nothing
        sink.emit_batched(at(99, 5));
        sink.close_local_batch(1);
        sink.flush_local();
        assert_eq!(rx.try_recv().expect("flushed")[0].latency_us, 5);
    }

    /// A thread that batches (a UDP worker) encodes its own query-log rows:
    /// the tap sees each closed batch on that thread once it is committed,
    /// a row goes to the writer when full, and an idle flush sends a row
    /// only once it is old; the writer stores the rows as they come.
    #[test]
    fn a_batching_thread_encodes_its_own_rows() {
        let dir = std::env::temp_dir().join(format!("appwarden-store-rows-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let taps = Arc::new(Mutex::new(Vec::new()));
        let t = taps.clone();
        let (sink, handle) = start_query_log(WriterConfig {
            tap: Some(EventTap(Arc::new(move |evs: &[QueryEvent]| {
                t.lock().expect("taps").push((std::thread::current().id(), evs.len()));
            }))),
            dir: dir.clone(),
            queue: 100_000,
            batch: 100,
            // a row never gets old in this test unless its events are dated back
            flush_every: Duration::from_secs(3600),
            retention_days: 30,
        })
        .expect("open");
        let s = sink.clone();
        let tapped = taps.clone();
        let tapped_events = move || tapped.lock().expect("taps").iter().map(|(_, n)| n).sum::<usize>();
        let worker = std::thread::spawn(move || {
            let t0 = now_ms();
            for b in 0..25u64 {
                s.open_local_batch();
                for i in 0..10 {
                    s.emit_batched(QueryEvent {
                        time_ms: t0,
                        ..event(b * 10 + i)
                    });
                }
                s.close_local_batch(7);
                assert_eq!(tapped_events(), b as usize * 10, "closed, not yet committed");
                s.commit_local_batch();
                assert_eq!(tapped_events(), b as usize * 10 + 10, "committed: tapped");
            }
            // 250 events: two full rows have gone, 50 wait in this thread's row
            assert_eq!(s.sent(), 200);
            s.flush_local_idle();
            assert_eq!(s.sent(), 200, "a young row stays when the thread is idle");
            s.flush_local();
            assert_eq!(s.sent(), 250, "a stopping thread sends its row");
            // an old row goes out at the next idle moment
            s.open_local_batch();
            s.emit_batched(QueryEvent {
                time_ms: t0 - 7_200_000,
                ..event(1000)
            });
            s.close_local_batch(7);
            s.commit_local_batch();
            assert_eq!(s.sent(), 250);
            s.flush_local_idle();
            assert_eq!(s.sent(), 251);
            std::thread::current().id()
        });
        let worker_id = worker.join().expect("worker");
        drop(sink);
        handle.join().expect("writer ends after the last sink");
        let taps = taps.lock().expect("taps");
        assert!(taps.iter().all(|(id, n)| *id == worker_id && (*n == 10 || *n == 1)));
        let log = QueryLog::open(&dir).expect("reopen");
        assert_eq!(log.count().expect("count"), 251);
        let rows: Vec<u32> = {
            let mut st = log
                .conn
                .prepare("SELECT events FROM query_batches ORDER BY id")
                .expect("prepare");
            st.query_map([], |r| r.get(0))
                .expect("rows")
                .collect::<Result<_, _>>()
                .expect("rows")
        };
        assert_eq!(rows, [100, 100, 50, 1], "one row per full or flushed local row");
        let recent = log.recent(300).expect("recent");
        assert!(
            recent.iter().all(|e| e.latency_us == 7),
            "latency stamped before encoding"
        );
        let mut names: Vec<_> = recent.iter().map(|e| e.qname.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 251, "every event once");
    }

    /// Rows overlap in time and are not stored in time order (each UDP
    /// worker sends its own when it is full or old): the newest events are
    /// found wherever they are.
    #[test]
    fn the_newest_events_are_found_in_rows_stored_out_of_order() {
        let dir = std::env::temp_dir().join(format!("appwarden-store-overlap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut log = QueryLog::open(&dir).expect("open");
        let row = |times: &[u64]| {
            let mut enc = BatchEncoder::default();
            for &t in times {
                enc.push(&QueryEvent { time_ms: t, ..event(t) });
            }
            enc.finish()
        };
        let base = now_ms();
        // written first, but holds the newest event; then a row of older events
        log.insert_batch(&row(&[base, base + 500, base + 900])).expect("insert");
        log.insert_batch(&row(&[base + 100, base + 200, base + 300]))
            .expect("insert");
        log.insert_batch(&row(&[base - 50])).expect("insert");
        let times = |n: usize| -> Vec<u64> {
            log.recent(n)
                .expect("recent")
                .iter()
                .map(|e| e.time_ms - (base - 50))
                .collect()
        };
        assert_eq!(times(1), [950]);
        assert_eq!(times(3), [950, 550, 350]);
        assert_eq!(times(10), [950, 550, 350, 250, 150, 50, 0]);
    }

    /// Rows waiting for the writer count against the queue: beyond it a row
    /// is dropped whole and counted, and the thread goes on.
    #[test]
    fn encoded_rows_beyond_the_queue_are_dropped_and_counted() {
        let (tx, rx) = std::sync::mpsc::sync_channel(16);
        let rows = Arc::new(LocalRows {
            batch: 100,
            flush_ms: 3_600_000,
            tap: None,
            queued: AtomicU64::new(0),
            limit: 150,
        });
        let sink = EventSink::with_tx(Some(Tx::Log(tx, rows.clone())));
        let t0 = now_ms();
        for i in 0..300 {
            sink.open_local_batch();
            sink.emit_batched(QueryEvent {
                time_ms: t0,
                ..event(i)
            });
            sink.close_local_batch(1);
            sink.commit_local_batch();
        }
        assert_eq!((sink.sent(), sink.dropped()), (100, 200));
        assert_eq!(rows.queued.load(Ordering::Relaxed), 100);
        match rx.try_recv() {
            Ok(LogMsg::Encoded(b)) => assert_eq!(b.count, 100),
            _ => panic!("expected one encoded row"),
        }
        assert!(rx.try_recv().is_err());
    }

    /// Batches given back by the consumer are reused: their query-name
    /// strings come back out of `recycled_string`, so the query path does
    /// not allocate them again.
    #[test]
    fn finished_batches_are_reused() {
        let (sink, rx) = EventSink::channel(64);
        let recycler = sink.recycler();
        let t0 = now_ms();
        let at = |i: u64| QueryEvent {
            time_ms: t0,
            ..event(i)
        };
        for i in 0..(LOCAL_BATCH as u64) {
            sink.emit_batched(at(i));
        }
        let first = rx.try_recv().expect("a full batch");
        let names: std::collections::HashSet<usize> = first.iter().map(|e| e.qname.as_ptr() as usize).collect();
        recycler.give_back(first);
        // the next full batch takes the given-back buffer and keeps its names
        for i in 0..(LOCAL_BATCH as u64) {
            sink.emit_batched(at(i));
        }
        let second = rx.try_recv().expect("a second batch");
        assert_eq!(second.len(), LOCAL_BATCH);
        let s = EventSink::recycled_string(8);
        assert!(s.is_empty());
        assert!(
            names.contains(&(s.as_ptr() as usize)),
            "a name buffer from the first batch"
        );
        // a small batch is not kept
        recycler.give_back(Vec::new());
        sink.flush_local();
    }

    /// The writer gives way to the resolver's threads on a shared core.
    #[cfg(target_os = "linux")]
    #[test]
    fn writer_runs_at_lower_priority() {
        let dir = std::env::temp_dir().join(format!("aw-store-nice-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (sink, handle) = start_query_log(WriterConfig {
            tap: None,
            dir: dir.clone(),
            queue: 1000,
            batch: 100,
            flush_every: Duration::from_millis(20),
            retention_days: 1,
        })
        .expect("open");
        let nice_of_writer = || {
            std::fs::read_dir("/proc/self/task").ok()?.flatten().find_map(|t| {
                let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
                // pid (comm) state … : fields after the ')' — nice is field 19, the 17th after it
                let (head, rest) = stat.rsplit_once(')')?;
                head.ends_with("(querylog")
                    .then(|| rest.split_whitespace().nth(16)?.parse::<i32>().ok())?
            })
        };
        let mut nice = None;
        for _ in 0..100 {
            nice = nice_of_writer();
            if nice == Some(10) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(sink);
        handle.join().expect("writer ends");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(nice, Some(10), "querylog thread nice value");
    }
}
