//! The query path: a chain with explicit control flow.
//!
//! ```text
//! parse ─► group ─► name rules ─► block: answer here, stop
//!                        │        log-only: remember "would block", go on
//!                        │        allow rule: skip every later check
//!                        ▼
//!                  ANY ─► RFC 8482 answer, stop
//!                        ▼
//!                  cache ─► hit: CNAME-chain / answer-IP check ─► answer, stop
//!                        ▼ miss
//!                  upstream (async) ─► cache ─► CNAME-chain / answer-IP check ─► answer
//! ```
//!
//! [`Resolver::begin`] runs synchronously on the receiving thread and
//! answers everything that needs no upstream; [`Resolver::finish`] is the
//! async tail for cache misses. Every query ends in exactly one
//! [`QueryEvent`].

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use arc_swap::ArcSwap;
use rustc_hash::FxHashMap;
use store::{EventSink, MatchReason, QueryDecision, QueryEvent, Transport};

use crate::cache::{Cache, CacheKey, Facts, Freshness, KeyRef, Wanted};
use crate::matcher::{Matcher, Verdict};
use crate::upstream::Upstreams;
use crate::wire::{self, BlockedAnswer, Query, Unusual, rcode, rtype};

/// What the resolver enforces right now; swapped whole on reload.
pub struct State {
    /// The compiled rules.
    pub matcher: Matcher,
    /// Increases on every reload (cache verdict memos are per generation).
    pub generation: u64,
    /// Where the rules came from (plan stamp), for logs and the API.
    pub source: String,
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    /// Queries by transport: udp, tcp, tls, https.
    pub queries: [AtomicU64; 4],
    /// Answered with a blocked answer.
    pub blocked: AtomicU64,
    /// Log-only hits.
    pub would_block: AtomicU64,
    /// Of the blocked, bypass-prevention hits.
    pub bypass: AtomicU64,
    /// Cache hits.
    pub cache_hits: AtomicU64,
    /// Cache misses (forwarded).
    pub cache_misses: AtomicU64,
    /// Upstream failures answered with SERVFAIL.
    pub servfail: AtomicU64,
    /// Packets that were not readable queries.
    pub malformed: AtomicU64,
    /// Queries refused by the rate limit.
    pub rate_limited: AtomicU64,
    /// Upstream latency histogram (≤1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000 ms, +Inf) and sum in µs.
    pub upstream_latency: [AtomicU64; 12],
    /// Sum of upstream latencies, µs.
    pub upstream_latency_sum_us: AtomicU64,
    /// List downloads that succeeded (new content, unchanged, or 304).
    pub list_downloads: AtomicU64,
    /// List downloads that failed (the previous copy stays).
    pub list_download_failures: AtomicU64,
    /// Blocked queries per (app, category); bounded by the catalog's size.
    pub blocked_by_app: std::sync::Mutex<BlockedByApp>,
}

/// Blocked-query counts by (app, category).
pub type BlockedByApp = FxHashMap<(Arc<str>, Arc<str>), u64>;

/// Upper bounds of the upstream latency buckets, ms.
pub const LATENCY_BUCKETS_MS: [u64; 11] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000];

impl Metrics {
    fn count_upstream(&self, us: u64) {
        let ms = us / 1000;
        let i = LATENCY_BUCKETS_MS.iter().position(|&b| ms < b).unwrap_or(11);
        self.upstream_latency[i].fetch_add(1, Ordering::Relaxed);
        self.upstream_latency_sum_us.fetch_add(us, Ordering::Relaxed);
    }
}

/// A cache miss waiting for an upstream.
pub struct Pending {
    packet: Vec<u8>,
    key: CacheKey,
    group: usize,
    qname: String,
    qtype: u16,
    log: Option<(u32, String)>,
    allowed_by_rule: bool,
    client: IpAddr,
    transport: Transport,
    started: Instant,
    state: Arc<State>,
    udp_limit: Option<usize>,
    refresh_only: bool,
}

/// What [`Resolver::begin`] decided.
pub enum Step {
    /// The answer is in the output buffer; `refresh` asks for a background
    /// upstream refresh (prefetch, or a stale answer served).
    Answered {
        /// A refresh to run in the background.
        refresh: Option<Box<Pending>>,
    },
    /// Forward with [`Resolver::finish`].
    Forward(Box<Pending>),
    /// A zone transfer: send these messages in order (TCP only).
    Transfer(Vec<Vec<u8>>),
    /// Send nothing (a response, or too short to answer).
    Drop,
}

/// A simple per-client token bucket.
struct RateLimiter {
    qps: u32,
    buckets: std::sync::Mutex<FxHashMap<IpAddr, (Instant, f64)>>,
}

impl RateLimiter {
    fn allow(&self, ip: IpAddr) -> bool {
        let Ok(mut b) = self.buckets.lock() else {
            return true;
        };
        let now = Instant::now();
        if b.len() > 100_000 {
            b.retain(|_, (t, _)| now.duration_since(*t).as_secs() < 10);
        }
        let qps = f64::from(self.qps);
        let (t, tokens) = b.entry(ip).or_insert((now, qps));
        let refill = now.duration_since(*t).as_secs_f64() * qps;
        *tokens = (*tokens + refill).min(qps);
        *t = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Resolver settings that do not change on reload.
#[derive(Clone, Copy, Debug)]
pub struct ResolverOptions {
    /// Blocked answer style.
    pub blocked: BlockedAnswer,
    /// TTL of blocked answers.
    pub blocked_ttl: u32,
    /// Largest UDP payload offered.
    pub edns_udp_size: u16,
    /// Per-client rate limit (0 = off).
    pub rate_limit_qps: u32,
}

/// The resolver.
pub struct Resolver {
    state: ArcSwap<State>,
    zones: ArcSwap<crate::transfer::Zones>,
    cache: Cache,
    upstreams: Upstreams,
    events: EventSink,
    opts: ResolverOptions,
    rate: Option<RateLimiter>,
    /// Counters.
    pub metrics: Metrics,
}

/// Counters a query adds to [`Metrics`], added up before they are.
#[derive(Default)]
struct Counts {
    queries: [u64; 4],
    cache_hits: u64,
}

/// A UDP worker's view of the resolver across batches of datagrams (see
/// [`Resolver::begin_batched`]).
pub struct Batch<'r> {
    state: arc_swap::Cache<&'r ArcSwap<State>, Arc<State>>,
    counts: Counts,
}

/// Outcome of checking an answer's CNAME targets and addresses.
enum Inspect {
    Pass,
    Block {
        rule: u32,
        reason: MatchReason,
        what: String,
    },
    Log {
        rule: u32,
        what: String,
    },
}

thread_local! {
    /// Whether this thread batches its events (a UDP worker, which flushes when idle).
    static BATCHING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// On a batching thread, when its current batch of datagrams arrived
    /// (monotonic, and Unix milliseconds): the clock is read once per batch,
    /// not several times per query.
    static BATCH_CLOCK: std::cell::Cell<Option<(Instant, u64)>> = const { std::cell::Cell::new(None) };
}

/// Reads the clock for the batch of datagrams the calling batching thread
/// has just received; its queries count their latency and take their event
/// time from here.
pub fn start_batch() {
    BATCH_CLOCK.with(|c| c.set(Some((Instant::now(), store::now_ms()))));
}

/// Microseconds, saturating at `u32::MAX`.
fn micros(d: std::time::Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX)) as u32
}

/// Time since the current batch of datagrams was received (see
/// [`start_batch`]), in microseconds: the latency of every answer sent with
/// this batch.
pub fn batch_latency_us() -> u32 {
    BATCH_CLOCK
        .with(std::cell::Cell::get)
        .map_or(0, |(t, _)| micros(t.elapsed()))
}

/// When the query being handled arrived: the batch's time on a batching thread, else now.
fn arrival() -> Instant {
    BATCH_CLOCK
        .with(std::cell::Cell::get)
        .map_or_else(Instant::now, |(t, _)| t)
}

/// Marks the calling thread as one that batches query events and calls
/// [`store::EventSink::flush_local`] when idle (the UDP workers).
pub fn mark_batching_thread() {
    BATCHING.with(|b| b.set(true));
}

fn event_time() -> u64 {
    BATCH_CLOCK
        .with(std::cell::Cell::get)
        .map_or_else(store::now_ms, |(_, ms)| ms)
}

impl Resolver {
    /// A resolver with rules `state`, cache, upstreams and event sink.
    pub fn new(state: State, cache: Cache, upstreams: Upstreams, events: EventSink, opts: ResolverOptions) -> Resolver {
        Resolver {
            state: ArcSwap::from_pointee(state),
            zones: ArcSwap::from_pointee(crate::transfer::Zones::default()),
            cache,
            upstreams,
            events,
            rate: (opts.rate_limit_qps > 0).then(|| RateLimiter {
                qps: opts.rate_limit_qps,
                buckets: std::sync::Mutex::new(FxHashMap::default()),
            }),
            opts,
            metrics: Metrics::default(),
        }
    }

    /// Replaces the rules atomically; queries in flight finish with the old ones.
    pub fn reload(&self, state: State) {
        self.state.store(Arc::new(state));
    }

    /// Replaces the RPZ zones served to secondaries.
    pub fn set_zones(&self, zones: crate::transfer::Zones) {
        self.zones.store(Arc::new(zones));
    }

    /// The RPZ zones served to secondaries.
    pub fn zones(&self) -> Arc<crate::transfer::Zones> {
        self.zones.load_full()
    }

    /// The current rules.
    pub fn state(&self) -> Arc<State> {
        self.state.load_full()
    }

    /// The cache.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// The upstreams.
    pub fn upstreams(&self) -> &Upstreams {
        &self.upstreams
    }

    /// The event sink.
    pub fn events(&self) -> &EventSink {
        &self.events
    }

    fn transport_index(t: Transport) -> usize {
        match t {
            Transport::Udp => 0,
            Transport::Tcp => 1,
            Transport::Tls => 2,
            Transport::Https => 3,
        }
    }

    fn rule_fields(state: &State, rule: u32) -> (Option<Arc<str>>, Option<Arc<str>>, bool) {
        use crate::matcher::RuleSource;
        let category = Some(state.matcher.rule_category(rule).clone());
        match &state.matcher.rule(rule).source {
            RuleSource::App { app, .. } => (Some(app.clone()), category, false),
            RuleSource::Bypass { app, .. } => (Some(app.clone()), category, true),
            RuleSource::Custom | RuleSource::List(_) => (None, category, false),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &self,
        state: &State,
        group: usize,
        client: IpAddr,
        qname: String,
        qtype: u16,
        decision: QueryDecision,
        reason: Option<MatchReason>,
        rule: Option<(u32, String)>,
        rcode: u8,
        upstream: Option<Arc<str>>,
        started: Instant,
        cache_hit: bool,
        transport: Transport,
    ) {
        match decision {
            QueryDecision::Blocked => {
                self.metrics.blocked.fetch_add(1, Ordering::Relaxed);
            }
            QueryDecision::WouldBlock => {
                self.metrics.would_block.fetch_add(1, Ordering::Relaxed);
            }
            QueryDecision::Allowed => {}
        }
        let (app, category, bypass) = match &rule {
            Some((r, _)) => Self::rule_fields(state, *r),
            None => (None, None, false),
        };
        let reason = if bypass && decision != QueryDecision::Allowed {
            Some(MatchReason::Bypass)
        } else {
            reason
        };
        if reason == Some(MatchReason::Bypass) {
            self.metrics.bypass.fetch_add(1, Ordering::Relaxed);
        }
        if decision == QueryDecision::Blocked
            && let (Some(a), Some(c)) = (&app, &category)
            && let Ok(mut m) = self.metrics.blocked_by_app.lock()
        {
            *m.entry((a.clone(), c.clone())).or_insert(0) += 1;
        }
        if !self.events.enabled() {
            return;
        }
        let group = state
            .matcher
            .groups()
            .get(group)
            .map_or_else(|| Arc::from("?"), |g| g.id.clone());
        let batching = BATCHING.with(std::cell::Cell::get);
        let make = move || QueryEvent {
            time_ms: event_time(),
            client,
            group,
            qname,
            qtype,
            decision,
            reason,
            rule: rule.map(|(_, name)| name),
            app,
            category,
            rcode,
            upstream,
            // a UDP worker stamps its batch's latency when it sends the answers
            latency_us: if batching { 0 } else { micros(started.elapsed()) },
            cache_hit,
            transport,
        };
        if batching {
            self.events.emit_batched_with(make);
        } else {
            self.events.emit(make());
        }
    }

    fn inspect(&self, state: &State, facts: &Facts, group: usize) -> Inspect {
        let mut log = None;
        for c in &facts.cnames {
            match state.matcher.check_name(c, group) {
                Verdict::Block(rule, _) => {
                    return Inspect::Block {
                        rule,
                        reason: MatchReason::Cname,
                        what: format!("cname:{c}"),
                    };
                }
                Verdict::Log(rule, _) if log.is_none() => log = Some((rule, format!("cname:{c}"))),
                _ => {}
            }
        }
        if state.matcher.has_ip_rules(group) {
            for ip in &facts.ips {
                match state.matcher.check_ip(*ip, group) {
                    Verdict::Block(rule, _) => {
                        return Inspect::Block {
                            rule,
                            reason: MatchReason::Ip,
                            what: format!("ip:{ip}"),
                        };
                    }
                    Verdict::Log(rule, _) if log.is_none() => log = Some((rule, format!("ip:{ip}"))),
                    _ => {}
                }
            }
        }
        match log {
            Some((rule, what)) => Inspect::Log { rule, what },
            None => Inspect::Pass,
        }
    }

    fn labels_of(name: &str) -> usize {
        if name.is_empty() { 0 } else { name.split('.').count() }
    }

    /// Handles a packet as far as it can without an upstream. The answer
    /// (if any) is written to `out`. `udp` says whether to truncate for UDP.
    pub fn begin(
        &self,
        packet: &[u8],
        client: IpAddr,
        transport: Transport,
        client_id: Option<&str>,
        out: &mut Vec<u8>,
    ) -> Step {
        let state = self.state.load();
        let mut counts = Counts::default();
        let step = self.begin_in(&state, &mut counts, packet, client, transport, client_id, out);
        self.add_counts(&mut counts);
        step
    }

    /// What a UDP worker keeps from one batch of datagrams to the next.
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            state: arc_swap::Cache::new(&self.state),
            counts: Counts::default(),
        }
    }

    /// [`Resolver::begin`] for a UDP datagram of a worker's batch: the
    /// rules are re-read only when a reload has swapped them, and the query
    /// and cache-hit counters are added up in `batch` (see
    /// [`Resolver::end_batch`]). No atomic operation on the way to a cached
    /// answer but the cache's lock.
    pub fn begin_batched(&self, batch: &mut Batch<'_>, packet: &[u8], client: IpAddr, out: &mut Vec<u8>) -> Step {
        let state = batch.state.load();
        self.begin_in(state, &mut batch.counts, packet, client, Transport::Udp, None, out)
    }

    /// Adds the batch's counters to [`Resolver::metrics`]; a UDP worker calls
    /// it before it sends the batch's answers, so a client that has its
    /// answer finds its query counted.
    pub fn end_batch(&self, batch: &mut Batch<'_>) {
        self.add_counts(&mut batch.counts);
    }

    fn add_counts(&self, c: &mut Counts) {
        for (t, n) in c.queries.iter_mut().enumerate() {
            if *n > 0 {
                self.metrics.queries[t].fetch_add(std::mem::take(n), Ordering::Relaxed);
            }
        }
        if c.cache_hits > 0 {
            self.metrics
                .cache_hits
                .fetch_add(std::mem::take(&mut c.cache_hits), Ordering::Relaxed);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn begin_in(
        &self,
        state: &Arc<State>,
        counts: &mut Counts,
        packet: &[u8],
        client: IpAddr,
        transport: Transport,
        client_id: Option<&str>,
        out: &mut Vec<u8>,
    ) -> Step {
        let started = arrival();
        counts.queries[Self::transport_index(transport)] += 1;
        let q = match wire::parse_query(packet) {
            Ok(q) => q,
            Err(u) => {
                self.metrics.malformed.fetch_add(1, Ordering::Relaxed);
                return match u {
                    Unusual::Truncated | Unusual::NotAQuery => Step::Drop,
                    Unusual::Opcode(_) => {
                        if wire::formerr_for(packet, out).is_some() {
                            out[3] = (out[3] & 0xf0) | rcode::NOTIMP;
                            Step::Answered { refresh: None }
                        } else {
                            Step::Drop
                        }
                    }
                    _ => {
                        if wire::formerr_for(packet, out).is_some() {
                            Step::Answered { refresh: None }
                        } else {
                            Step::Drop
                        }
                    }
                };
            }
        };
        if let Some(r) = &self.rate
            && !r.allow(client)
        {
            self.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
            wire::error_response(&q, rcode::REFUSED, out);
            return Step::Answered { refresh: None };
        }
        // the RPZ zones we serve: SOA answers and transfers
        if q.qtype == rtype::SOA || q.qtype == crate::transfer::AXFR || q.qtype == crate::transfer::IXFR {
            let zones = self.zones.load();
            let mut apex = String::new();
            wire::dotted_lower(q.qname_wire, &mut apex);
            match zones.find(&apex) {
                Some(z) if q.qtype == rtype::SOA => {
                    crate::transfer::soa_answer(&q, z, out);
                    return Step::Answered { refresh: None };
                }
                Some(z) if transport == Transport::Tcp && zones.allowed(client) => {
                    return Step::Transfer(crate::transfer::axfr_messages(&q, z));
                }
                Some(_) => {
                    wire::error_response(&q, rcode::REFUSED, out);
                    return Step::Answered { refresh: None };
                }
                None if q.qtype != rtype::SOA => {
                    wire::error_response(&q, rcode::REFUSED, out);
                    return Step::Answered { refresh: None };
                }
                None => {}
            }
        }
        let udp_limit = (transport == Transport::Udp).then(|| wire::udp_limit(&q, self.opts.edns_udp_size));
        let group = client_id
            .and_then(|id| state.matcher.group_for_client_id(id))
            .unwrap_or_else(|| state.matcher.group_for(client));
        let mut name = store::EventSink::recycled_string(q.qname_wire.len());
        let mut key_buf = [0u8; wire::MAX_NAME];
        let (key_len, matchable) = wire::name_forms(q.qname_wire, &mut key_buf, &mut name);
        let verdict = if matchable && q.qclass == 1 {
            state.matcher.check_name(&name, group)
        } else {
            Verdict::Pass
        };
        let mut log = None;
        let mut allowed_by_rule = false;
        match verdict {
            Verdict::Block(rule, labels) => {
                let answer = state.matcher.rule(rule).answer.unwrap_or(self.opts.blocked);
                wire::blocked_response(&q, answer, usize::from(labels), self.opts.blocked_ttl, out);
                let rule_name = suffix(&name, usize::from(labels)).to_string();
                let rc = out.get(3).map_or(0, |b| b & 0x0f);
                self.emit(
                    state,
                    group,
                    client,
                    name,
                    q.qtype,
                    QueryDecision::Blocked,
                    Some(MatchReason::Name),
                    Some((rule, rule_name)),
                    rc,
                    None,
                    started,
                    false,
                    transport,
                );
                return Step::Answered { refresh: None };
            }
            Verdict::Log(rule, labels) => log = Some((rule, suffix(&name, usize::from(labels)).to_string())),
            Verdict::Allowed => allowed_by_rule = true,
            Verdict::Pass => {}
        }
        if q.qtype == rtype::ANY {
            wire::any_response(&q, 3600, out);
            self.finish_event(
                state,
                group,
                client,
                name,
                q.qtype,
                log,
                allowed_by_rule,
                rcode::NOERROR,
                None,
                started,
                false,
                transport,
            );
            return Step::Answered { refresh: None };
        }
        let key = KeyRef::lowered(&key_buf[..key_len], &q);
        let wanted = Wanted {
            inspect: !allowed_by_rule,
            ip_rules: state.matcher.has_ip_rules(group),
        };
        if let Some(hit) = self
            .cache
            .get_at(started, key, &q, state.generation, group, wanted, out)
        {
            counts.cache_hits += 1;
            let mut rc = hit.rcode;
            if let Some(facts) = &hit.facts {
                let blocked_memo = hit.memo;
                let verdict = match blocked_memo {
                    Some(false) => Inspect::Pass,
                    _ => self.inspect(state, facts, group),
                };
                if blocked_memo.is_none() {
                    self.cache
                        .memo(key, state.generation, group, matches!(verdict, Inspect::Block { .. }));
                }
                match verdict {
                    Inspect::Block { rule, reason, what } => {
                        let answer = state.matcher.rule(rule).answer.unwrap_or(self.opts.blocked);
                        wire::blocked_response(&q, answer, Self::labels_of(&name), self.opts.blocked_ttl, out);
                        let rc = out.get(3).map_or(0, |b| b & 0x0f);
                        self.emit(
                            state,
                            group,
                            client,
                            name,
                            q.qtype,
                            QueryDecision::Blocked,
                            Some(reason),
                            Some((rule, what)),
                            rc,
                            None,
                            started,
                            true,
                            transport,
                        );
                        return Step::Answered { refresh: None };
                    }
                    Inspect::Log { rule, what } if log.is_none() => log = Some((rule, what)),
                    _ => {}
                }
            }
            if let Some(limit) = udp_limit
                && wire::truncate_for_udp(out, &q, limit)
            {
                rc = out.get(3).map_or(rc, |b| b & 0x0f);
            }
            let refresh = matches!(hit.freshness, Freshness::Stale | Freshness::Prefetch).then(|| {
                Box::new(Pending {
                    packet: packet.to_vec(),
                    key: key.to_owned(),
                    group,
                    qname: name.clone(),
                    qtype: q.qtype,
                    log: None,
                    allowed_by_rule,
                    client,
                    transport,
                    started,
                    state: Arc::clone(state),
                    udp_limit: None,
                    refresh_only: true,
                })
            });
            self.finish_event(
                state,
                group,
                client,
                name,
                q.qtype,
                log,
                allowed_by_rule,
                rc,
                None,
                started,
                true,
                transport,
            );
            return Step::Answered { refresh };
        }
        self.metrics.cache_misses.fetch_add(1, Ordering::Relaxed);
        Step::Forward(Box::new(Pending {
            packet: packet.to_vec(),
            key: key.to_owned(),
            group,
            qname: name,
            qtype: q.qtype,
            log,
            allowed_by_rule,
            client,
            transport,
            started,
            state: Arc::clone(state),
            udp_limit,
            refresh_only: false,
        }))
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_event(
        &self,
        state: &State,
        group: usize,
        client: IpAddr,
        name: String,
        qtype: u16,
        log: Option<(u32, String)>,
        allowed_by_rule: bool,
        rc: u8,
        upstream: Option<Arc<str>>,
        started: Instant,
        cache_hit: bool,
        transport: Transport,
    ) {
        let (decision, reason, rule) = match log {
            Some((r, what)) => {
                let reason = if what.starts_with("cname:") {
                    MatchReason::Cname
                } else if what.starts_with("ip:") {
                    MatchReason::Ip
                } else {
                    MatchReason::Name
                };
                (QueryDecision::WouldBlock, Some(reason), Some((r, what)))
            }
            None if allowed_by_rule => (QueryDecision::Allowed, Some(MatchReason::AllowRule), None),
            None => (QueryDecision::Allowed, None, None),
        };
        self.emit(
            state, group, client, name, qtype, decision, reason, rule, rc, upstream, started, cache_hit, transport,
        );
    }

    /// Answers SERVFAIL for a miss whose upstream failed (nothing for a background refresh).
    fn servfail(&self, p: Pending, upstream: Option<Arc<str>>, out: &mut Vec<u8>) -> bool {
        if p.refresh_only {
            return false;
        }
        match wire::parse_query(&p.packet) {
            Ok(q) => wire::error_response(&q, rcode::SERVFAIL, out),
            Err(_) => return false,
        }
        self.metrics.servfail.fetch_add(1, Ordering::Relaxed);
        self.finish_event(
            &p.state,
            p.group,
            p.client,
            p.qname,
            p.qtype,
            p.log,
            p.allowed_by_rule,
            rcode::SERVFAIL,
            upstream,
            p.started,
            false,
            p.transport,
        );
        true
    }

    /// Forwards a cache miss and writes the answer to `out`. Returns false
    /// for a background refresh (nothing to send).
    pub async fn finish(&self, p: Box<Pending>, out: &mut Vec<u8>) -> bool {
        let p = *p;
        let Ok(q) = wire::parse_query(&p.packet) else {
            return false;
        };
        let t0 = Instant::now();
        let fwd = self.upstreams.forward(&p.packet).await;
        let (resp, upstream) = match fwd {
            Ok(f) => {
                self.metrics.count_upstream(t0.elapsed().as_micros() as u64);
                (f.response, Some(f.upstream))
            }
            Err(e) => {
                tracing::debug!(error = %e, qname = %p.qname, "upstream failed");
                return self.servfail(p, None, out);
            }
        };
        let Some(shape) = wire::walk_response(&resp) else {
            return self.servfail(p, upstream, out);
        };
        self.cache.put(p.key.clone(), &resp, &shape);
        if p.refresh_only {
            return false;
        }
        let mut log = p.log;
        if !p.allowed_by_rule {
            let facts = Facts::of(&resp, &shape);
            if !facts.cnames.is_empty() || (!facts.ips.is_empty() && p.state.matcher.has_ip_rules(p.group)) {
                let verdict = self.inspect(&p.state, &facts, p.group);
                self.cache.memo(
                    p.key.as_key_ref(),
                    p.state.generation,
                    p.group,
                    matches!(verdict, Inspect::Block { .. }),
                );
                match verdict {
                    Inspect::Block { rule, reason, what } => {
                        let answer = p.state.matcher.rule(rule).answer.unwrap_or(self.opts.blocked);
                        wire::blocked_response(&q, answer, Self::labels_of(&p.qname), self.opts.blocked_ttl, out);
                        let rc = out.get(3).map_or(0, |b| b & 0x0f);
                        self.emit(
                            &p.state,
                            p.group,
                            p.client,
                            p.qname,
                            p.qtype,
                            QueryDecision::Blocked,
                            Some(reason),
                            Some((rule, what)),
                            rc,
                            upstream,
                            p.started,
                            false,
                            p.transport,
                        );
                        return true;
                    }
                    Inspect::Log { rule, what } if log.is_none() => log = Some((rule, what)),
                    _ => {}
                }
            }
        }
        out.clear();
        out.extend_from_slice(&resp);
        // the client's question case (0x20) back
        let qlen = q.question_end.min(out.len());
        if out.len() >= qlen && shape.question_end == q.question_end {
            out[12..qlen].copy_from_slice(&p.packet[12..qlen]);
        }
        if let Some(limit) = p.udp_limit {
            wire::truncate_for_udp(out, &q, limit);
        }
        let rc = out.get(3).map_or(0, |b| b & 0x0f);
        self.finish_event(
            &p.state,
            p.group,
            p.client,
            p.qname,
            p.qtype,
            log,
            p.allowed_by_rule,
            rc,
            upstream,
            p.started,
            false,
            p.transport,
        );
        true
    }
}

/// The last `labels` labels of a dotted name.
fn suffix(name: &str, labels: usize) -> &str {
    if labels == 0 {
        return name;
    }
    let mut seen = 0;
    for (i, b) in name.bytes().enumerate().rev() {
        if b == b'.' {
            seen += 1;
            if seen == labels {
                return &name[i + 1..];
            }
        }
    }
    name
}

/// Whether the query is a plain IN question (for tests and tools).
pub fn is_plain(q: &Query<'_>) -> bool {
    q.qclass == 1
}

#[cfg(test)]
mod tests {
    use super::suffix;

    #[test]
    fn suffixes() {
        assert_eq!(suffix("a.b.tiktok.com", 2), "tiktok.com");
        assert_eq!(suffix("tiktok.com", 2), "tiktok.com");
        assert_eq!(suffix("tiktok.com", 5), "tiktok.com");
        assert_eq!(suffix("x.y", 0), "x.y");
    }
}
