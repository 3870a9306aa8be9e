//! Fuzzes the dhcpd.leases reader and feeds the result to the resolver.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let r = monitor::identity::dhcpd_leases::read(data);
    let mut res = monitor::IdentityResolver::new();
    let ips: Vec<_> = r.records.iter().map(|l| (l.ip, l.starts)).collect();
    res.add_leases(r.records);
    for (ip, t) in ips {
        let _ = res.resolve(ip, t);
    }
});
