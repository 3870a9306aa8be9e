//! [`Pipeline`]: the engine, the store and the dispatcher, running.
//!
//! ```text
//! ingest_* (any thread, never blocks) ─► bounded queue ─► engine thread:
//!     ingest; every tick (and when a group is due): read acks, Engine::tick,
//!     ONE transaction = alerts + groups + outbox rows (synchronous=FULL)
//!   ─► wake ─► dispatcher task (tokio): due rows → Sink::send → sent / retry / dead
//! ```
//!
//! Detections reach the store at the next tick (`tick_interval`, default 1 s);
//! a notification and the engine state that made it are committed together,
//! so after a crash a notification is either queued (and will be delivered)
//! or not yet decided (and the restored engine decides it again).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::Duration;

use monitor::Detection;
use store::QueryEvent;
use store::alerts::{AlertStore, EngineCommit};
use tokio::sync::{Notify, watch};

use crate::config::AlertsConfig;
use crate::engine::{Engine, EngineConfig, Observation};
use crate::outbox::{Clock, Dispatcher, SinkMap, rows_for};

/// Failures starting the pipeline.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// The alert store could not be opened or read.
    #[error("alert store: {0}")]
    Store(#[from] store::StoreError),
    /// A thread could not be started.
    #[error("starting the alert engine thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// Tuning; the defaults suit production.
#[derive(Clone)]
pub struct PipelineOptions {
    /// How often the engine looks at its timers, reads acknowledgements and commits (default 1 s).
    pub tick_interval: Duration,
    /// Observations queued before new ones are dropped (and counted) (default 65 536).
    pub queue: usize,
    /// Unix-ms clock (default the system clock); tests may move time by hand.
    pub clock: Clock,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            tick_interval: Duration::from_secs(1),
            queue: 65_536,
            clock: Arc::new(store::now_ms),
        }
    }
}

enum Msg {
    Obs(Box<Observation>),
    Flush(std::sync::mpsc::Sender<()>),
    Stop,
}

/// A cheap, cloneable way to feed the pipeline from other threads.
#[derive(Clone)]
pub struct IngestHandle {
    tx: SyncSender<Msg>,
    dropped: Arc<AtomicU64>,
}

impl IngestHandle {
    /// Queues an observation; drops (and counts) it when the queue is full.
    pub fn ingest(&self, o: Observation) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.tx.try_send(Msg::Obs(Box::new(o))) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Queues a monitor detection.
    pub fn ingest_detection(&self, d: &Detection) {
        self.ingest(Observation::from(d));
    }

    /// Queues a resolver event if it is one to alert on (blocked, would-block, bypass).
    pub fn ingest_query_event(&self, e: &QueryEvent) {
        if let Some(o) = Observation::from_query_event(e) {
            self.ingest(o);
        }
    }

    /// Observations dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The running alert pipeline.
pub struct Pipeline {
    handle: IngestHandle,
    engine: Option<std::thread::JoinHandle<()>>,
    stop: watch::Sender<bool>,
    dispatcher_done: Receiver<()>,
    store_dir: PathBuf,
}

impl Pipeline {
    /// Opens the alert store in `store_dir` (the data directory; the same
    /// `querylog.sqlite3` as the query log), restores the engine, applies
    /// retention, and starts the engine thread and the dispatcher task on `rt`.
    /// Pending outbox rows (of an earlier run, too) are delivered.
    pub fn start(
        cfg: AlertsConfig,
        store_dir: &Path,
        sinks: SinkMap,
        rt: &tokio::runtime::Handle,
    ) -> Result<Pipeline, PipelineError> {
        Self::start_with(cfg, store_dir, sinks, rt, PipelineOptions::default())
    }

    /// [`Pipeline::start`] with options.
    pub fn start_with(
        cfg: AlertsConfig,
        store_dir: &Path,
        sinks: SinkMap,
        rt: &tokio::runtime::Handle,
        opts: PipelineOptions,
    ) -> Result<Pipeline, PipelineError> {
        let now = (opts.clock)();
        let mut engine_store = AlertStore::open(store_dir)?;
        match engine_store.apply_retention(cfg.retention_days, now) {
            Ok((a, o)) if a + o > 0 => tracing::info!(alerts = a, outbox = o, "alert retention"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "alert retention failed"),
        }
        let (alerts, groups) = engine_store.load_engine()?;
        let restored = alerts.len();
        let (engine, problems) = Engine::restore(EngineConfig::from(&cfg), alerts, groups);
        for p in problems {
            tracing::warn!("{p}");
        }
        if restored > 0 {
            tracing::info!(alerts = restored, "alert engine restored");
        }
        let dispatcher_store = AlertStore::open(store_dir)?;
        let wake = Arc::new(Notify::new());
        let (stop, stop_rx) = watch::channel(false);
        let dispatcher = Dispatcher::new(
            dispatcher_store,
            &sinks,
            cfg.delivery.clone(),
            wake.clone(),
            opts.clock.clone(),
        );
        let (done_tx, dispatcher_done) = std::sync::mpsc::channel();
        rt.spawn(async move {
            dispatcher.run(stop_rx).await;
            let _ = done_tx.send(());
        });
        let (tx, rx) = std::sync::mpsc::sync_channel(opts.queue.max(1));
        let mut worker = Worker {
            engine,
            store: engine_store,
            sinks,
            wake,
            pending: None,
            clock: opts.clock.clone(),
            tick: opts.tick_interval.max(Duration::from_millis(1)),
        };
        let engine = std::thread::Builder::new()
            .name("alert-engine".into())
            .spawn(move || worker.run(&rx))?;
        Ok(Pipeline {
            handle: IngestHandle {
                tx,
                dropped: Arc::new(AtomicU64::new(0)),
            },
            engine: Some(engine),
            stop,
            dispatcher_done,
            store_dir: store_dir.to_path_buf(),
        })
    }

    /// A handle for other threads (the resolver, the log followers).
    pub fn handle(&self) -> IngestHandle {
        self.handle.clone()
    }

    /// Queues a monitor detection.
    pub fn ingest_detection(&self, d: &Detection) {
        self.handle.ingest_detection(d);
    }

    /// Queues a resolver event (blocked, would-block and bypass events alert; others are ignored).
    pub fn ingest_query_event(&self, e: &QueryEvent) {
        self.handle.ingest_query_event(e);
    }

    /// Queues an observation.
    pub fn ingest(&self, o: Observation) {
        self.handle.ingest(o);
    }

    /// Observations dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.handle.dropped()
    }

    /// The data directory.
    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    /// Processes everything queued so far, ticks and commits; returns when done.
    pub fn flush(&self) {
        let (tx, rx) = std::sync::mpsc::channel();
        if self.handle.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.recv();
        }
    }

    /// Stops: the engine takes in what is queued, ticks and commits; the
    /// dispatcher makes one last round of due rows, waiting at most `grace`.
    /// Undelivered rows stay in the outbox for the next start. Blocks: call
    /// it outside async code (or in `spawn_blocking`).
    pub fn shutdown(mut self, grace: Duration) {
        self.stop_engine();
        let _ = self.stop.send(true);
        if self.dispatcher_done.recv_timeout(grace).is_err() {
            tracing::warn!("alert dispatcher still busy at shutdown; pending notifications stay queued");
        }
    }

    fn stop_engine(&mut self) {
        if let Some(t) = self.engine.take() {
            // the queue is bounded: wait for room rather than lose the stop
            if self.handle.tx.send(Msg::Stop).is_ok() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        if self.engine.is_some() {
            self.stop_engine();
            let _ = self.stop.send(true);
        }
    }
}

struct Worker {
    engine: Engine,
    store: AlertStore,
    sinks: SinkMap,
    wake: Arc<Notify>,
    pending: Option<EngineCommit>,
    clock: Clock,
    tick: Duration,
}

impl Worker {
    fn run(&mut self, rx: &Receiver<Msg>) {
        let mut next_tick = 0u64;
        loop {
            let now = (self.clock)();
            let wake_at = self.engine.next_due().map_or(next_tick, |d| d.min(next_tick));
            let wait = Duration::from_millis(wake_at.saturating_sub(now)).min(self.tick);
            let mut flushes = Vec::new();
            let mut closed = false;
            match rx.recv_timeout(wait) {
                Ok(m) => {
                    closed |= self.take(m, &mut flushes);
                    // take in whatever else is queued, within reason
                    for _ in 0..10_000 {
                        if closed {
                            break;
                        }
                        match rx.try_recv() {
                            Ok(m) => closed |= self.take(m, &mut flushes),
                            Err(_) => break,
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => closed = true,
            }
            let now = (self.clock)();
            if now >= next_tick || !flushes.is_empty() || closed || self.engine.next_due().is_some_and(|d| d <= now) {
                self.step(now);
                next_tick = now.saturating_add(self.tick.as_millis() as u64);
            }
            for f in flushes {
                let _ = f.send(());
            }
            if closed {
                return;
            }
        }
    }

    /// Takes one message; `true` for a stop.
    fn take(&mut self, m: Msg, flushes: &mut Vec<std::sync::mpsc::Sender<()>>) -> bool {
        match m {
            Msg::Obs(o) => {
                let now = (self.clock)();
                self.engine.ingest(&o, now);
                false
            }
            Msg::Flush(tx) => {
                flushes.push(tx);
                false
            }
            Msg::Stop => true,
        }
    }

    /// Acknowledgements in, timers, one commit.
    fn step(&mut self, now: u64) {
        match self.store.active_acks() {
            Ok(acks) => self.engine.set_acks(acks.iter().map(|(fp, _)| fp.as_str())),
            Err(e) => tracing::warn!(error = %e, "reading alert acknowledgements"),
        }
        let notes = self.engine.tick(now);
        let mut c = self.engine.take_commit(now);
        for n in &notes {
            c.outbox.extend(rows_for(n, &self.sinks));
        }
        if let Some(old) = self.pending.take() {
            c = merge(old, c);
        }
        if c.is_empty() {
            return;
        }
        let queued = !c.outbox.is_empty();
        match self.store.commit(&c) {
            Ok(()) => {
                if queued {
                    self.wake.notify_one();
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "writing alerts failed; will retry at the next tick");
                self.pending = Some(c);
            }
        }
    }
}

/// `a` then `b`: later records win.
fn merge(mut a: EngineCommit, b: EngineCommit) -> EngineCommit {
    let keep = |fps: &[String], x: &String| !fps.contains(x);
    let b_alerts: Vec<String> = b.alerts.iter().map(|r| r.fingerprint.clone()).collect();
    a.alerts.retain(|r| keep(&b_alerts, &r.fingerprint));
    a.alerts.extend(b.alerts);
    let b_groups: Vec<String> = b.groups.iter().map(|g| g.id.clone()).collect();
    a.groups
        .retain(|g| keep(&b_groups, &g.id) && keep(&b.removed_groups, &g.id));
    a.removed_groups.retain(|id| keep(&b_groups, id));
    a.groups.extend(b.groups);
    a.removed_groups.extend(b.removed_groups);
    a.clear_acks.extend(b.clear_acks);
    a.outbox.extend(b.outbox);
    a
}
