//! Name lookups per second in the resolver's matcher: the built-in policy
//! plus a block list, asked for names under listed domains (blocked) and
//! names nothing lists (allowed).
//!
//! The list is `APPWARDEN_BENCH_LIST` (one domain per line, e.g. the
//! harness's `/tmp/appwarden-bench/lists/hagezi/domains.txt`) or, without
//! it, 200,000 generated domains.
//!
//! `CARGO_BUILD_JOBS=1 cargo bench -p appwarden-dns --bench matcher`
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dns::matcher::{MatcherBuilder, Rule, RuleSource, Verdict};

/// Small deterministic generator so runs are comparable.
fn lcg(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *state >> 33
}

fn word(s: &mut u64, len: usize) -> String {
    (0..len).map(|_| char::from(b'a' + (lcg(s) % 26) as u8)).collect()
}

fn list() -> Vec<String> {
    if let Ok(path) = std::env::var("APPWARDEN_BENCH_LIST") {
        let text = std::fs::read_to_string(&path).expect("APPWARDEN_BENCH_LIST readable");
        return text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect();
    }
    let tlds = ["com", "net", "org", "de", "io", "vn", "co.uk"];
    let mut s = 7;
    (0..200_000)
        .map(|i| {
            let len = 6 + (lcg(&mut s) % 8) as usize;
            let base = format!("{}.{}", word(&mut s, len), tlds[i % tlds.len()]);
            match lcg(&mut s) % 3 {
                0 => base,
                1 => format!("ads.{base}"),
                _ => format!("{}.cdn.{base}", word(&mut s, 4)),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let plan = policy::Policy::builtin(None)
        .expect("builtin policy")
        .plan(catalog::Day::new(2026, 11, 22).expect("day"));
    let domains = list();
    let mut b = MatcherBuilder::new(&plan);
    let mask = b.group_mask(&[]);
    b.add_domains(
        domains.iter().map(String::as_str),
        mask,
        0,
        0,
        Rule {
            source: RuleSource::List("bench".into()),
            answer: None,
        },
    );
    let m = b.build();
    let mut s = 11;
    let blocked: Vec<String> = (0..10_000)
        .map(|_| {
            let d = &domains[(lcg(&mut s) as usize) % domains.len()];
            format!("{}.{d}", word(&mut s, 8))
        })
        .collect();
    let allowed: Vec<String> = (0..10_000)
        .map(|i| {
            let tld = ["com", "net", "org", "de"][i % 4];
            format!("www.{}.{tld}", word(&mut s, 9))
        })
        .collect();
    assert!(blocked.iter().all(|n| matches!(m.check_name(n, 0), Verdict::Block(..))));
    let mut g = c.benchmark_group("matcher");
    g.throughput(Throughput::Elements(10_000));
    for (label, names) in [("blocked", &blocked), ("allowed", &allowed)] {
        g.bench_function(label, |bench| {
            bench.iter(|| {
                for n in names {
                    black_box(m.check_name(black_box(n), 0));
                }
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
