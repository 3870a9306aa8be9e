//! Fuzzes the dnsmasq.leases reader.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let r = monitor::identity::dnsmasq_leases::read(data, 3600);
    assert_eq!(r.stats.events, r.records.len() as u64);
});
