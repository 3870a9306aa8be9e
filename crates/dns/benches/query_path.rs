//! The user-space part of answering over UDP, without the kernel: batches of
//! 32 queries through [`Resolver::begin`] the way a UDP worker runs them
//! (batch clock, held-back events stamped at the end of the batch), with a
//! consumer thread taking the events. Two sets: 1,000 names answered from
//! the cache, and names under the built-in policy's blocked domains.
//!
//! This isolates what the resolver itself spends per query; the whole
//! server, kernel included, is measured with `../shared/bench/run.sh`.
//!
//! `CARGO_BUILD_JOBS=1 cargo bench -p appwarden-dns --bench query_path`
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dns::cache::{Cache, CacheConfig, CacheKey};
use dns::resolver::{Resolver, ResolverOptions, Step};
use dns::server::build_state;
use dns::upstream::{UpstreamSpec, Upstreams};
use dns::wire::{self, BlockedAnswer};
use hickory_proto::op::{Message, MessageType, OpCode};
use hickory_proto::rr::{Name, RData, Record, RecordType, rdata};
use store::EventSink;

const BATCH: usize = 32;

fn query(id: u16, name: &str) -> Vec<u8> {
    let mut p = vec![0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    p[..2].copy_from_slice(&id.to_be_bytes());
    wire::encode_name(name, &mut p).expect("name");
    p.extend_from_slice(&[0, 1, 0, 1]);
    p
}

fn answer(name: &str) -> Vec<u8> {
    let mut m = Message::new(0, MessageType::Response, OpCode::Query);
    let n = Name::from_ascii(format!("{name}.")).expect("name");
    m.add_query(hickory_proto::op::Query::query(n.clone(), RecordType::A));
    m.add_answer(Record::from_rdata(n, 3600, RData::A(rdata::A::new(192, 0, 2, 1))));
    m.to_vec().expect("encode")
}

fn bench(c: &mut Criterion) {
    let plan = policy::Policy::builtin(None)
        .expect("builtin policy")
        .plan(catalog::Day::new(2026, 11, 22).expect("day"));
    let state = build_state(&plan, &[], 1);
    let cache = Cache::new(CacheConfig::default());
    let cached: Vec<String> = (0..1000).map(|i| format!("h{i}.bench-{}.benchtld", i % 5)).collect();
    for name in &cached {
        let resp = answer(name);
        let shape = wire::walk_response(&resp).expect("walk");
        let q = query(1, name);
        cache.put(CacheKey::of(&wire::parse_query(&q).expect("query")), &resp, &shape);
    }
    let (sink, rx) = EventSink::channel(1 << 16);
    // a consumer like the query-log writer: takes every batch and hands it back
    let recycler = sink.recycler();
    let consumer = std::thread::spawn(move || {
        while let Ok(batch) = rx.recv() {
            recycler.give_back(batch);
        }
    });
    let upstream: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    let resolver = Resolver::new(
        state,
        cache,
        Upstreams::new(
            vec![UpstreamSpec::Plain(upstream)],
            Duration::from_millis(400),
            Duration::from_millis(900),
        ),
        sink,
        ResolverOptions {
            blocked: BlockedAnswer::Nxdomain,
            blocked_ttl: 60,
            edns_udp_size: 1232,
            rate_limit_qps: 0,
        },
    );
    dns::resolver::mark_batching_thread();
    let blocked: Vec<String> = (0..1000).map(|i| format!("v{i}.api.tiktokv.com")).collect();
    let client = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
    let mut g = c.benchmark_group("query_path");
    g.throughput(Throughput::Elements(BATCH as u64));
    for (set, names) in [("cached", &cached), ("blocked", &blocked)] {
        let packets: Vec<Vec<u8>> = names.iter().enumerate().map(|(i, n)| query(i as u16, n)).collect();
        let mut outs: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(1232)).collect();
        let mut at = 0;
        let mut batch = resolver.batch();
        g.bench_function(set, |b| {
            b.iter(|| {
                dns::resolver::start_batch();
                resolver.events().open_local_batch();
                for out in outs.iter_mut() {
                    let p = &packets[at % packets.len()];
                    at += 7;
                    match resolver.begin_batched(&mut batch, p, client, out) {
                        Step::Answered { .. } => {}
                        _ => panic!("{set}: not answered in place"),
                    }
                }
                resolver.end_batch(&mut batch);
                resolver.events().close_local_batch(dns::resolver::batch_latency_us());
            });
        });
    }
    g.finish();
    resolver.events().flush_local();
    drop(resolver);
    let _ = consumer.join();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
