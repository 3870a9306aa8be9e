//! Identity: static map, dnsmasq and dhcpd leases, and the resolver's intervals.

use monitor::identity::{dhcpd_leases, dnsmasq_leases, static_map, IdentitySource};
use monitor::{ErrorKind, Format, IdentityResolver, Parser, Timestamp};

const STATIC: &str = "ip_or_mac,device,user
# fixed addresses
192.0.2.10,reception-pc,alice
aa:bb:cc:dd:ee:01,phone-bob,bob
not-an-ip,x,y
192.0.2.11
";

const DNSMASQ_LEASES: &str = "1795320000 aa:bb:cc:dd:ee:01 192.0.2.50 bobs-phone 01:aa:bb:cc:dd:ee:01
1795320000 zz:bb:cc:dd:ee:02 192.0.2.51 * *
0 aa:bb:cc:dd:ee:03 192.0.2.52 printer *
duid 00:01:00:01:2c:aa:bb:cc:dd:ee:ff:00:11
1795320000 1234567 2001:db8::50 laptop 00:01:00:01
17953x0000 aa:bb:cc:dd:ee:04 192.0.2.53 y *
";

const DHCPD_LEASES: &str = r#"# The format of this file is documented in the dhcpd.leases(5) manual page.
authoring-byte-order little-endian;
server-duid "\000\001\000\001";

lease 192.0.2.60 {
  starts 0 2026/11/22 00:00:00;
  ends 0 2026/11/22 12:00:00;
  cltt 0 2026/11/22 00:00:00;
  binding state active;
  next binding state free;
  hardware ethernet aa:bb:cc:dd:ee:01;
  uid "\001\252\273\314\335\356\001";
  client-hostname "bobs-phone";
}
lease 192.0.2.60 {
  starts 0 2026/11/22 12:00:00;
  ends never;
  binding state active;
  hardware ethernet aa:bb:cc:dd:ee:09;
  client-hostname "guest-laptop";
}
lease 192.0.2.61 {
  starts 0 2026/11/22 00:00:00;
  ends 0 2026/11/22 12:00:00;
  binding state free;
  hardware ethernet aa:bb:cc:dd:ee:0a;
}
lease 192.0.2.62 {
  starts epoch 1795312800; # Sun Nov 22 00:00:00 2026
  ends 0 2026/13/22 12:00:00;
  hardware ethernet aa:bb:cc:dd:ee:0b;
}
lease 192.0.2.63 {
  starts epoch 1795312800;
  ends epoch 1795356000;
  hardware ethernet aa:bb:cc:dd:ee:0c;
}
failover peer "dhcp-failover" state {
  my state normal at 1 2026/11/20 10:00:00;
}
lease 192.0.2.999 {
  starts 0 2026/11/22 00:00:00;
}
lease 192.0.2.64 {
  starts 0 2026/11/22 00:00:00;
"#;

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s, 0).expect("test time")
}

#[test]
fn static_map_rows_and_errors() {
    let r = static_map::read(STATIC.as_bytes());
    assert_eq!(r.records.len(), 2);
    let errs: Vec<_> = r.errors.iter().map(|e| (e.line_no, e.kind, e.format)).collect();
    assert_eq!(
        errs,
        [
            (5, ErrorKind::Ip, Format::StaticMap),
            (6, ErrorKind::FieldCount, Format::StaticMap)
        ]
    );
}

#[test]
fn dnsmasq_leases_with_errors() {
    let r = dnsmasq_leases::read(DNSMASQ_LEASES.as_bytes(), 3600);
    assert_eq!(r.records.len(), 3);
    let errs: Vec<_> = r.errors.iter().map(|e| (e.line_no, e.kind)).collect();
    assert_eq!(errs, [(2, ErrorKind::Syntax), (6, ErrorKind::Timestamp)]);
    assert_eq!(r.records[0].ends.map(|t| t.unix_secs()), Some(1_795_320_000));
    assert_eq!(r.records[0].starts.map(|t| t.unix_secs()), Some(1_795_316_400));
    assert_eq!(r.records[1].ends, None, "expiry 0 = infinite");
    assert_eq!(r.records[2].mac, None, "DHCPv6 IAID is not a MAC");
    assert_eq!(r.records[2].hostname.as_deref(), Some("laptop"));
}

#[test]
fn dhcpd_leases_blocks_states_and_errors() {
    let r = dhcpd_leases::read(DHCPD_LEASES.as_bytes());
    let ips: Vec<String> = r.records.iter().map(|l| l.ip.to_string()).collect();
    assert_eq!(ips, ["192.0.2.60", "192.0.2.60", "192.0.2.63"]);
    let errs: Vec<_> = r.errors.iter().map(|e| (e.line_no, e.kind, e.field)).collect();
    assert_eq!(
        errs,
        [
            (30, ErrorKind::Timestamp, "ends"),
            (41, ErrorKind::Ip, "lease"),
            (45, ErrorKind::Truncated, "lease"),
        ]
    );
    assert_eq!(r.records[1].ends, None, "ends never");
    assert_eq!(r.records[2].ends.map(|t| t.unix_secs()), Some(1_795_356_000));
}

#[test]
fn resolver_answers_by_time_interval() {
    let mut res = IdentityResolver::new();
    res.add_static(static_map::read(STATIC.as_bytes()).records);
    res.add_leases(dhcpd_leases::read(DHCPD_LEASES.as_bytes()).records);
    res.add_leases(dnsmasq_leases::read(DNSMASQ_LEASES.as_bytes(), 3600).records);
    let ip = "192.0.2.60".parse().expect("ip");
    // Morning: Bob's phone (named through the static map by MAC).
    let id = res.resolve(ip, Some(ts("2026-11-22T06:00:00Z"))).expect("morning");
    assert_eq!(id.device.as_deref(), Some("phone-bob"));
    assert_eq!(id.user.as_deref(), Some("bob"));
    assert_eq!(id.source, IdentitySource::Lease);
    assert_eq!(id.valid_until, Some(ts("2026-11-22T12:00:00Z")));
    // Afternoon: the same IP is a guest laptop, no user.
    let id = res.resolve(ip, Some(ts("2026-11-22T15:00:00Z"))).expect("afternoon");
    assert_eq!(id.device.as_deref(), Some("guest-laptop"));
    assert_eq!(id.user, None);
    // Before any lease: nobody.
    assert!(res.resolve(ip, Some(ts("2026-11-21T15:00:00Z"))).is_none());
    // Static IP entries answer at any time.
    let id = res
        .resolve("192.0.2.10".parse().expect("ip"), Some(ts("2020-01-01T00:00:00Z")))
        .expect("static");
    assert_eq!(
        (id.device.as_deref(), id.user.as_deref()),
        (Some("reception-pc"), Some("alice"))
    );
    assert_eq!(id.source, IdentitySource::Static);
    // dnsmasq lease: valid for the assumed hour before expiry only.
    let ip50 = "192.0.2.50".parse().expect("ip");
    assert!(res
        .resolve(ip50, Some(Timestamp::from_unix_secs(1_795_317_000)))
        .is_some());
    assert!(res
        .resolve(ip50, Some(Timestamp::from_unix_secs(1_795_320_001)))
        .is_none());
}

#[test]
fn resolver_enriches_events() {
    let mut res = IdentityResolver::new();
    res.add_static(static_map::read(STATIC.as_bytes()).records);
    res.add_leases(dhcpd_leases::read(DHCPD_LEASES.as_bytes()).records);
    let line = b"22-Nov-2026 06:00:00.000 queries: info: client @0x1 192.0.2.60#5000 (www.tiktok.com): query: www.tiktok.com IN A + (192.0.2.1)";
    let mut p = Parser::new(Format::BindQuery, &crate::support::opts());
    let mut ev = p.parse_line(line, 1, 0).expect("some").expect("event");
    res.enrich(&mut ev);
    assert_eq!(ev.device_id.as_deref(), Some("phone-bob"));
    assert_eq!(ev.user_name.as_deref(), Some("bob"));
    assert_eq!(ev.host_name.as_deref(), Some("bobs-phone"));
}
