//! The durable outbox and its dispatcher.
//!
//! A notification becomes one outbox row per sink of its receiver
//! ([`rows_for`]), committed to the store together with the engine state
//! that produced it, before anything is sent. The [`Dispatcher`] (a tokio
//! task) delivers due rows:
//!
//! - per sink in row order; the first retryable failure stops that sink's
//!   round, and its later rows wait with it (a sink that is down is probed
//!   once per backoff, and it receives the notifications in order when back);
//! - success → `sent`; retryable failure (or a send that takes longer than
//!   `send_timeout`) → retried after `initial_backoff · 2^(attempts−1)`, at
//!   most `max_backoff`, with jitter (50–100 % of that, derived from the row
//!   id, so it is reproducible); a permanent failure, or a retryable one
//!   after `max_age` → `dead` (logged);
//! - on start it picks up every pending row, so rows of a run that crashed
//!   are delivered too.
//!
//! Every retry of a row sends the same notification, with the same
//! [`Notification::id`]: a sink crash between the receiver accepting it and
//! the row being marked sent re-sends it once more with that id, which the
//! receiver can use to drop the duplicate (at-least-once delivery with
//! idempotency keys).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use store::alerts::{AlertStore, NewOutboxRow, OutboxRow};
use tokio::sync::{Notify, watch};

use crate::config::DeliveryConfig;
use crate::model::{Notification, Sink};

/// Sinks by receiver name.
pub type SinkMap = HashMap<String, Vec<Arc<dyn Sink>>>;

/// The outbox rows of a notification: one per sink of its receiver (none if the receiver has no sinks).
pub fn rows_for(n: &Notification, sinks: &SinkMap) -> Vec<NewOutboxRow> {
    let Some(list) = sinks.get(&n.receiver) else {
        return Vec::new();
    };
    let json = match serde_json::to_string(n) {
        Ok(j) => j,
        Err(e) => {
            tracing::error!(error = %e, id = %n.id, "a notification could not be serialised; dropped");
            return Vec::new();
        }
    };
    let mut seen = std::collections::HashSet::new();
    list.iter()
        .map(|s| s.describe())
        .filter(|d| seen.insert(d.clone()))
        .map(|sink| NewOutboxRow {
            notification_id: n.id.clone(),
            receiver: n.receiver.clone(),
            sink,
            group_key: n.group_key.clone(),
            status: n.status.as_str().to_string(),
            notification: json.clone(),
            fingerprints: n.alerts.iter().map(|a| a.fingerprint.clone()).collect(),
            created_ms: n.created_ms,
        })
        .collect()
}

/// Delay before attempt `attempts + 1` of row `id` (after `attempts` failures).
pub fn backoff_ms(cfg: &DeliveryConfig, id: i64, attempts: u32) -> u64 {
    let exp = attempts.saturating_sub(1).min(40);
    let base = cfg
        .initial_backoff_ms
        .saturating_mul(1u64 << exp)
        .min(cfg.max_backoff_ms)
        .max(1);
    let mut h = Sha256::new();
    h.update(id.to_le_bytes());
    h.update(attempts.to_le_bytes());
    let d = h.finalize();
    let r = u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]);
    let half = base / 2;
    half + r % (base - half + 1)
}

/// A clock returning Unix ms.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Delivers outbox rows.
pub struct Dispatcher {
    store: Arc<Mutex<AlertStore>>,
    sinks: Arc<HashMap<(String, String), Arc<dyn Sink>>>,
    cfg: DeliveryConfig,
    wake: Arc<Notify>,
    clock: Clock,
}

enum Step {
    Sent,
    Retry(String),
    Dead(String),
}

impl Dispatcher {
    /// A dispatcher over `store` for `sinks`; `wake` is notified when rows are added.
    pub fn new(store: AlertStore, sinks: &SinkMap, cfg: DeliveryConfig, wake: Arc<Notify>, clock: Clock) -> Dispatcher {
        let mut by_name = HashMap::new();
        for (receiver, list) in sinks {
            for s in list {
                by_name
                    .entry((receiver.clone(), s.describe()))
                    .or_insert_with(|| s.clone());
            }
        }
        Dispatcher {
            store: Arc::new(Mutex::new(store)),
            sinks: Arc::new(by_name),
            cfg,
            wake,
            clock,
        }
    }

    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut AlertStore) -> Result<T, store::StoreError> + Send + 'static,
    ) -> Option<T> {
        let store = self.store.clone();
        let res = tokio::task::spawn_blocking(move || {
            let mut s = store.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut s)
        })
        .await;
        match res {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "alert outbox");
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "alert outbox task");
                None
            }
        }
    }

    /// Runs until `shutdown` turns true; then makes one last round of due rows and returns.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let stopping = *shutdown.borrow();
            let delivered = self.round().await;
            if stopping {
                return;
            }
            if delivered {
                continue;
            }
            let now = (self.clock)();
            let next = self.db(|s| s.outbox_next_due()).await.flatten();
            let wait = next.map_or(Duration::from_secs(30), |t| {
                Duration::from_millis(t.saturating_sub(now).clamp(1, 30_000))
            });
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Delivers the rows due now; whether any were attempted.
    async fn round(&self) -> bool {
        let now = (self.clock)();
        let Some(due) = self.db(move |s| s.outbox_due(now, 512)).await else {
            return false;
        };
        if due.is_empty() {
            return false;
        }
        let mut per_sink: Vec<((String, String), Vec<OutboxRow>)> = Vec::new();
        for row in due {
            let key = (row.receiver.clone(), row.sink.clone());
            match per_sink.iter_mut().find(|(k, _)| *k == key) {
                Some((_, rows)) => rows.push(row),
                None => per_sink.push((key, vec![row])),
            }
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (key, rows) in per_sink {
            let me = Dispatcher {
                store: self.store.clone(),
                sinks: self.sinks.clone(),
                cfg: self.cfg.clone(),
                wake: self.wake.clone(),
                clock: self.clock.clone(),
            };
            tasks.spawn(async move { me.deliver(key, rows).await });
        }
        while tasks.join_next().await.is_some() {}
        true
    }

    async fn deliver(&self, key: (String, String), rows: Vec<OutboxRow>) {
        let sink = self.sinks.get(&key).cloned();
        for row in rows {
            let attempts = row.attempts.saturating_add(1);
            let step = match (&sink, serde_json::from_str::<Notification>(&row.notification)) {
                (_, Err(e)) => Step::Dead(format!("unreadable notification: {e}")),
                (None, _) => Step::Retry(format!(
                    "no sink `{}` in receiver `{}` in the configuration",
                    row.sink, row.receiver
                )),
                (Some(s), Ok(n)) => {
                    let timeout = Duration::from_millis(self.cfg.send_timeout_ms);
                    match tokio::time::timeout(timeout, s.send(&n)).await {
                        Ok(Ok(())) => Step::Sent,
                        Ok(Err(e)) if e.retryable => Step::Retry(e.message),
                        Ok(Err(e)) => Step::Dead(e.message),
                        Err(_) => Step::Retry(format!("no answer within {} ms", self.cfg.send_timeout_ms)),
                    }
                }
            };
            let now = (self.clock)();
            let step = match step {
                Step::Retry(m) if now.saturating_sub(row.created_ms) >= self.cfg.max_age_ms => {
                    Step::Dead(format!("gave up after {attempts} attempts: {m}"))
                }
                s => s,
            };
            let id = row.id;
            match step {
                Step::Sent => {
                    tracing::debug!(id, sink = %row.sink, "alert notification delivered");
                    self.db(move |s| s.outbox_sent(id, attempts, now)).await;
                }
                Step::Dead(m) => {
                    tracing::error!(id, receiver = %row.receiver, sink = %row.sink, error = %m,
                        "alert notification not delivered; given up");
                    self.db(move |s| s.outbox_dead(id, attempts, &m, now)).await;
                }
                Step::Retry(m) => {
                    let next = now.saturating_add(backoff_ms(&self.cfg, id, attempts));
                    tracing::warn!(id, receiver = %row.receiver, sink = %row.sink, error = %m, attempts,
                        retry_in_ms = next - now, "alert notification not delivered; will retry");
                    self.db(move |s| s.outbox_retry(&row, attempts, next, &m)).await;
                    // later rows of this sink wait with this one
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_jitters_and_caps() {
        let cfg = DeliveryConfig {
            initial_backoff_ms: 1000,
            max_backoff_ms: 300_000,
            ..DeliveryConfig::default()
        };
        for id in 1..50 {
            let b1 = backoff_ms(&cfg, id, 1);
            assert!((500..=1000).contains(&b1), "{b1}");
            let b3 = backoff_ms(&cfg, id, 3);
            assert!((2000..=4000).contains(&b3), "{b3}");
            let b30 = backoff_ms(&cfg, id, 30);
            assert!((150_000..=300_000).contains(&b30), "{b30}");
            assert_eq!(backoff_ms(&cfg, id, 3), b3, "reproducible");
        }
        let spread: std::collections::BTreeSet<u64> = (1..50).map(|id| backoff_ms(&cfg, id, 5)).collect();
        assert!(spread.len() > 10, "jitter spreads retries");
    }
}
