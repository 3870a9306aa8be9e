//! Any bytes as a DNS packet into the resolver's query path (parse, group,
//! rules, cache, blocked answers): an answer or a drop, never a panic; any
//! answer it writes must itself parse as a DNS message.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dns::resolver::{Resolver, ResolverOptions, Step};
use libfuzzer_sys::fuzz_target;

fn resolver() -> &'static Arc<Resolver> {
    static R: OnceLock<Arc<Resolver>> = OnceLock::new();
    R.get_or_init(|| {
        let plan = policy::Policy::builtin(None)
            .expect("builtin policy")
            .plan(catalog::Day::new(2026, 11, 22).expect("day"));
        let state = dns::server::build_state(&plan, &[], 1);
        Arc::new(Resolver::new(
            state,
            dns::cache::Cache::new(dns::cache::CacheConfig::default()),
            dns::upstream::Upstreams::new(Vec::new(), Duration::from_millis(1), Duration::from_millis(1)),
            store::EventSink::disabled(),
            ResolverOptions {
                blocked: dns::wire::BlockedAnswer::Nxdomain,
                blocked_ttl: 60,
                edns_udp_size: 1232,
                rate_limit_qps: 0,
            },
        ))
    })
}

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    match resolver().begin(data, [127, 0, 0, 1].into(), store::Transport::Udp, None, &mut out) {
        Step::Answered { .. } => {
            assert!(out.len() >= 12, "an answer has a header");
        }
        Step::Forward(_) | Step::Drop | Step::Transfer(_) => {}
    }
});
