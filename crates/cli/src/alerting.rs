//! The alert pipeline as `serve` and `monitor follow` run it: `[alerts]` of
//! the policy (or, without one, a pipeline that only stores alerts, so
//! `appwarden alerts list` shows them), its sinks, and a small runtime of its
//! own for delivery, so shutting the resolver down never strands the outbox.

use std::path::Path;
use std::time::Duration;

use alert::{AlertsConfig, IngestHandle, Pipeline};
use anyhow::{Context as _, Result};

/// A running pipeline and the runtime its dispatcher runs on.
pub struct Alerting {
    pipeline: Pipeline,
    rt: tokio::runtime::Runtime,
    /// Receivers with at least one sink.
    pub receivers: Vec<String>,
}

/// `[alerts]` when the policy has none: one receiver without sinks; alerts are kept in the store.
const STORE_ONLY: &str = "[alerts]\n[[alerts.receiver]]\nname = \"store\"\n";

impl Alerting {
    /// Starts the pipeline of `policy` with its store in `data_dir`.
    pub fn start(policy: &policy::Policy, base: Option<&Path>, data_dir: &Path) -> Result<Alerting> {
        let cfg = match AlertsConfig::from_policy(&policy.file).map_err(|e| anyhow::anyhow!("{}: {e}", policy.name))? {
            Some(c) => c,
            None => AlertsConfig::from_toml_str(STORE_ONLY)
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .context("built-in [alerts]")?,
        };
        let sinks = alert::sinks_for(&cfg, base.unwrap_or(Path::new(".")))
            .map_err(|e| anyhow::anyhow!("{}: {e}", policy.name))?;
        let mut receivers: Vec<String> = sinks
            .iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(n, _)| n.clone())
            .collect();
        receivers.sort();
        std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("alerts")
            .enable_all()
            .build()
            .context("starting the alert runtime")?;
        let pipeline = Pipeline::start(cfg, data_dir, sinks, rt.handle()).context("starting the alert pipeline")?;
        Ok(Alerting {
            pipeline,
            rt,
            receivers,
        })
    }

    /// A handle to feed it from any thread.
    pub fn handle(&self) -> IngestHandle {
        self.pipeline.handle()
    }

    /// Commits what is queued, makes a last delivery round (at most `grace`), stops.
    /// What was not delivered stays in the outbox for the next start.
    pub fn shutdown(self, grace: Duration) {
        let dropped = self.pipeline.dropped();
        if dropped > 0 {
            tracing::warn!(dropped, "observations dropped by the alert pipeline (queue full)");
        }
        self.pipeline.shutdown(grace);
        self.rt.shutdown_timeout(Duration::from_secs(1));
    }
}
