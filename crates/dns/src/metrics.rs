//! The resolver's counters in the Prometheus text exposition format
//! (version 0.0.4), for `GET /metrics`.
//!
//! Every series is bounded: transports are fixed, per-app counters are keyed
//! by catalog apps and their categories (or bypass methods), and the latency
//! histogram has the fixed buckets of [`LATENCY_BUCKETS_MS`].

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::resolver::{LATENCY_BUCKETS_MS, Resolver};

/// The content type of [`render_prometheus`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Transport label values, in the order of [`crate::resolver::Metrics::queries`].
const TRANSPORTS: [&str; 4] = ["udp", "tcp", "tls", "https"];

/// Escapes a label value (backslash, double quote, newline).
fn label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn single(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    header(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// The resolver's counters, cache and query-log figures and the loaded rules
/// as Prometheus text.
pub fn render_prometheus(resolver: &Resolver) -> String {
    let m = &resolver.metrics;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let mut out = String::with_capacity(4096);

    header(
        &mut out,
        "appwarden_dns_queries_total",
        "counter",
        "DNS queries received, by transport.",
    );
    for (t, c) in TRANSPORTS.iter().zip(&m.queries) {
        let _ = writeln!(out, "appwarden_dns_queries_total{{transport=\"{t}\"}} {}", load(c));
    }
    for (name, help, value) in [
        (
            "appwarden_dns_blocked_total",
            "Queries answered with a blocked answer.",
            &m.blocked,
        ),
        (
            "appwarden_dns_would_block_total",
            "Queries a log-only rule would have blocked.",
            &m.would_block,
        ),
        (
            "appwarden_dns_bypass_total",
            "Queries matching a bypass-prevention rule.",
            &m.bypass,
        ),
        (
            "appwarden_dns_cache_hits_total",
            "Queries answered from the cache.",
            &m.cache_hits,
        ),
        (
            "appwarden_dns_cache_misses_total",
            "Queries forwarded to an upstream.",
            &m.cache_misses,
        ),
        (
            "appwarden_dns_servfail_total",
            "Upstream failures answered with SERVFAIL.",
            &m.servfail,
        ),
        (
            "appwarden_dns_malformed_total",
            "Packets that were not readable queries.",
            &m.malformed,
        ),
        (
            "appwarden_dns_rate_limited_total",
            "Queries refused by the per-client rate limit.",
            &m.rate_limited,
        ),
        (
            "appwarden_list_downloads_total",
            "List downloads that succeeded (new content, unchanged or not modified).",
            &m.list_downloads,
        ),
        (
            "appwarden_list_download_failures_total",
            "List downloads that failed; the previous copy stays in force.",
            &m.list_download_failures,
        ),
    ] {
        single(&mut out, name, "counter", help, load(value));
    }

    header(
        &mut out,
        "appwarden_dns_blocked_by_app_total",
        "counter",
        "Blocked queries by catalog app and category (or bypass method).",
    );
    let mut by_app: Vec<(String, String, u64)> = match m.blocked_by_app.lock() {
        Ok(map) => map
            .iter()
            .map(|((a, c), n)| (a.to_string(), c.to_string(), *n))
            .collect(),
        Err(_) => Vec::new(),
    };
    by_app.sort();
    for (app, category, n) in &by_app {
        let _ = writeln!(
            out,
            "appwarden_dns_blocked_by_app_total{{app=\"{}\",category=\"{}\"}} {n}",
            label(app),
            label(category)
        );
    }

    header(
        &mut out,
        "appwarden_dns_upstream_latency_seconds",
        "histogram",
        "Latency of answered upstream queries.",
    );
    let mut cumulative = 0u64;
    for (i, bound) in LATENCY_BUCKETS_MS.iter().enumerate() {
        cumulative += m.upstream_latency.get(i).map_or(0, load);
        let le = *bound as f64 / 1000.0;
        let _ = writeln!(
            out,
            "appwarden_dns_upstream_latency_seconds_bucket{{le=\"{le}\"}} {cumulative}"
        );
    }
    cumulative += m.upstream_latency.get(LATENCY_BUCKETS_MS.len()).map_or(0, load);
    let _ = writeln!(
        out,
        "appwarden_dns_upstream_latency_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
    );
    let sum = load(&m.upstream_latency_sum_us) as f64 / 1_000_000.0;
    let _ = writeln!(out, "appwarden_dns_upstream_latency_seconds_sum {sum}");
    let _ = writeln!(out, "appwarden_dns_upstream_latency_seconds_count {cumulative}");

    header(
        &mut out,
        "appwarden_dns_upstream_info",
        "gauge",
        "Configured upstream resolvers (always 1).",
    );
    for u in resolver.upstreams().list() {
        let _ = writeln!(out, "appwarden_dns_upstream_info{{upstream=\"{}\"}} 1", label(&u.name));
    }
    header(
        &mut out,
        "appwarden_upstream_up",
        "gauge",
        "Whether an upstream is used (1) or skipped as down (0) after failed queries or health probes.",
    );
    for (i, u) in resolver.upstreams().list().iter().enumerate() {
        let up = u8::from(resolver.upstreams().is_up(i));
        let _ = writeln!(out, "appwarden_upstream_up{{upstream=\"{}\"}} {up}", label(&u.name));
    }

    let events = resolver.events();
    single(
        &mut out,
        "appwarden_querylog_events_total",
        "counter",
        "Query events handed to the query-log writer.",
        events.sent(),
    );
    single(
        &mut out,
        "appwarden_querylog_dropped_total",
        "counter",
        "Query events dropped because the query-log queue was full.",
        events.dropped(),
    );

    let cache = resolver.cache().stats();
    single(
        &mut out,
        "appwarden_dns_cache_entries",
        "gauge",
        "Answers in the cache.",
        cache.entries as u64,
    );
    single(
        &mut out,
        "appwarden_dns_cache_bytes",
        "gauge",
        "Bytes used by cached answers.",
        cache.bytes as u64,
    );

    let state = resolver.state();
    let stats = state.matcher.stats();
    single(
        &mut out,
        "appwarden_rules_generation",
        "gauge",
        "Generation of the loaded rules (1 at start, +1 per reload).",
        state.generation,
    );
    single(
        &mut out,
        "appwarden_rules_domains",
        "gauge",
        "Domain rules loaded (with subdomains).",
        stats.domains as u64,
    );
    single(
        &mut out,
        "appwarden_rules_patterns",
        "gauge",
        "Pattern rules loaded.",
        stats.patterns as u64,
    );
    single(
        &mut out,
        "appwarden_rules_groups",
        "gauge",
        "Policy groups loaded.",
        stats.groups as u64,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::label;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(label("tiktok"), "tiktok");
    }
}
