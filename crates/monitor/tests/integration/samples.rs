//! Hand-written records in shapes the corpus lacks (Pi-hole, Blocky, EVE v2/v3
//! and tls, BIND RPZ), per each tool's documented format, plus their checks.

use crate::support::parse_text;
use monitor::{Action, DnsType, Format};

pub const PIHOLE: &str = "\
Jan 10 10:00:01 dnsmasq[812]: query[A] v16m.tiktokcdn.com from 192.0.2.23
Jan 10 10:00:01 dnsmasq[812]: gravity blocked v16m.tiktokcdn.com is 0.0.0.0
Jan 10 10:00:02 dnsmasq[812]: query[AAAA] www.tiktok.com from 192.0.2.23
Jan 10 10:00:02 dnsmasq[812]: exactly blacklisted www.tiktok.com is ::
Jan 10 10:00:03 dnsmasq[812]: query[A] api.tiktokv.com from 192.0.2.24
Jan 10 10:00:03 dnsmasq[812]: regex blacklisted api.tiktokv.com is 0.0.0.0
Jan 10 10:00:04 dnsmasq[812]: query[A] use-application-dns.net from 192.0.2.24
Jan 10 10:00:04 dnsmasq[812]: special domain use-application-dns.net is NXDOMAIN
Jan 10 10:00:05 dnsmasq[812]: query[A] example.org from 192.0.2.25
Jan 10 10:00:05 dnsmasq[812]: forwarded example.org to 1.1.1.1
Jan 10 10:00:05 dnsmasq[812]: reply example.org is 93.184.215.14
";

pub const BLOCKY: &str = "2026-11-22 02:54:39\t192.0.2.23\tphone-anna; phone-anna.lan\t0\tBLOCKED (tiktok)\twww.tiktok.com\t\tNXDOMAIN\tBLOCKED\tA\tblocky-1
2026-11-22 02:54:40\t192.0.2.24\tlaptop\t12\tRESOLVED (tcp+udp:1.1.1.1)\texample.org\tCNAME (edge.example.net.), A (93.184.215.14)\tNOERROR\tRESOLVED\tA\tblocky-1
2026-11-22 02:54:41\t192.0.2.24\tlaptop\t0\tCACHED\t\"we\"\"ird.example\"\tA (203.0.113.1)\tNOERROR\tCACHED\tA
";

pub const EVE: &str = r#"{"timestamp":"2024-05-01T10:00:00.000001+0000","flow_id":1,"event_type":"dns","src_ip":"203.0.113.5","src_port":51000,"dest_ip":"203.0.113.1","dest_port":53,"proto":"UDP","dns":{"version":2,"type":"query","id":7,"rrname":"www.TikTok.com","rrtype":"A","tx_id":0,"opcode":0}}
{"timestamp":"2024-05-01T10:00:00.010000+0000","flow_id":1,"event_type":"dns","src_ip":"203.0.113.5","src_port":51000,"dest_ip":"203.0.113.1","dest_port":53,"proto":"UDP","dns":{"version":2,"type":"answer","id":7,"flags":"8180","qr":true,"rd":true,"ra":true,"opcode":0,"rrname":"www.tiktok.com","rrtype":"A","rcode":"NOERROR","answers":[{"rrname":"www.tiktok.com","rrtype":"CNAME","ttl":300,"rdata":"www.tiktok.com.edgesuite.net"},{"rrname":"a.edgesuite.net","rrtype":"A","ttl":20,"rdata":"23.45.67.89"}]}}
{"timestamp":"2024-05-01T10:00:00.020000+0000","flow_id":2,"event_type":"dns","src_ip":"203.0.113.1","src_port":53,"dest_ip":"203.0.113.6","dest_port":40000,"proto":"UDP","dns":{"version":2,"type":"answer","id":8,"rrname":"m.tiktok.com","rrtype":"A","rcode":"NOERROR","grouped":{"A":["1.2.3.4","1.2.3.5"],"SOA":[{"mname":"ns"}]}}}
{"timestamp":"2024-05-01T10:00:01.000000+0000","flow_id":3,"event_type":"dns","src_ip":"203.0.113.7","src_port":52000,"dest_ip":"203.0.113.1","dest_port":53,"proto":"UDP","dns":{"version":3,"type":"response","id":9,"flags":"8183","qr":true,"rcode":"NXDOMAIN","queries":[{"rrname":"api.tiktokv.com","rrtype":"AAAA"}],"authorities":[{"rrname":"tiktokv.com","rrtype":"SOA","ttl":60,"soa":{"mname":"ns1"}}]}}
{"timestamp":"2024-05-01T10:00:01.000000+0000","flow_id":3,"event_type":"dns","src_ip":"203.0.113.7","src_port":52000,"dest_ip":"203.0.113.1","dest_port":53,"proto":"UDP","dns":{"version":3,"type":"request","id":9,"queries":[{"rrname":"api.tiktokv.com","rrtype":"AAAA"}]}}
{"timestamp":"2024-05-01T10:00:02.000000+0000","flow_id":4,"event_type":"tls","src_ip":"203.0.113.8","src_port":55555,"dest_ip":"23.45.67.89","dest_port":443,"proto":"TCP","tls":{"subject":"CN=*.tiktok.com","sni":"www.tiktok.com","version":"TLS 1.3"}}
{"timestamp":"2024-05-01T10:00:03.000000+0000","flow_id":5,"event_type":"flow","src_ip":"203.0.113.8","src_port":55555,"dest_ip":"23.45.67.89","dest_port":443,"proto":"TCP","flow":{"pkts_toserver":3}}
"#;

pub const BIND_RPZ: &str = "\
22-Nov-2026 03:00:00.001 rpz: info: client @0x7f00 198.18.2.3#50000 (www.tiktok.com): rpz QNAME NXDOMAIN rewrite www.tiktok.com/A/IN via www.tiktok.com.rpz.appwarden
22-Nov-2026 03:00:00.002 rpz: info: client @0x7f00 198.18.2.3#50001 (ok.example): rpz QNAME PASSTHRU rewrite ok.example/AAAA/IN via ok.example.rpz.appwarden
22-Nov-2026 03:00:00.003 security: info: client @0x7f00 198.18.2.4#50002 (x.example): query (cache) 'x.example/A/IN' denied
22-Nov-2026 03:00:00.004 queries: info: client @0x7f00 198.18.2.5#50003 (www.example): view internal: query: WWW.Example. IN A + (198.18.0.1)
";

#[test]
fn pihole_gravity_and_blacklists_are_blocked() {
    let p = parse_text(Format::Pihole, PIHOLE.as_bytes());
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.events.len(), 10);
    let blocked: Vec<_> = p.events.iter().filter(|e| e.action == Action::Blocked).collect();
    assert_eq!(blocked.len(), 4);
    assert_eq!(blocked[0].rule_name.as_deref(), Some("gravity blocked"));
    assert_eq!(blocked[0].dns_question_name.as_deref(), Some("v16m.tiktokcdn.com"));
    assert_eq!(blocked[0].source_ip, "192.0.2.23".parse().ok());
    assert_eq!(blocked[1].rule_name.as_deref(), Some("exactly blacklisted"));
    assert_eq!(blocked[1].dns_question_type.as_deref(), Some("AAAA"));
    assert_eq!(blocked[2].rule_name.as_deref(), Some("regex blacklisted"));
    assert_eq!(blocked[3].dns_response_code.as_deref(), Some("NXDOMAIN"));
    assert!(p.events.iter().all(|e| e.observer_product == "pihole"));
    let reply = p.events.last().expect("reply");
    assert_eq!(reply.action, Action::Allowed);
    assert_eq!(reply.source_ip, "192.0.2.25".parse().ok());
}

#[test]
fn blocky_csv() {
    let p = parse_text(Format::Blocky, BLOCKY.as_bytes());
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.events.len(), 3);
    let b = &p.events[0];
    assert_eq!(b.action, Action::Blocked);
    assert_eq!(b.rule_name.as_deref(), Some("BLOCKED (tiktok)"));
    assert_eq!(b.host_name.as_deref(), Some("phone-anna"));
    assert_eq!(b.dns_response_code.as_deref(), Some("NXDOMAIN"));
    let r = &p.events[1];
    assert_eq!(r.action, Action::Allowed);
    assert_eq!(r.dns_answers.len(), 2);
    assert_eq!(r.dns_answers[0].data, "edge.example.net");
    assert_eq!(r.dns_answers[0].rtype.as_deref(), Some("CNAME"));
    assert_eq!(r.dns_answers[1].data, "93.184.215.14");
    assert_eq!(p.events[2].dns_question_name.as_deref(), Some("we\"ird.example"));
}

#[test]
fn suricata_eve_v2_v3_and_tls() {
    let p = parse_text(Format::SuricataEve, EVE.as_bytes());
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.events.len(), 6);
    assert_eq!(p.stats.skipped.get("suricata.flow"), Some(&1));
    assert_eq!(p.events[0].dns_question_name.as_deref(), Some("www.tiktok.com"));
    assert_eq!(p.events[0].dns_type, Some(DnsType::Query));
    let v2 = &p.events[1];
    assert_eq!(v2.dns_answers.len(), 2);
    assert_eq!(v2.dns_answers[0].rtype.as_deref(), Some("CNAME"));
    assert_eq!(v2.dns_answers[1].data, "23.45.67.89");
    let grouped = &p.events[2];
    assert_eq!(grouped.dns_answers.len(), 2, "SOA objects are not addresses");
    assert_eq!(
        grouped.source_ip,
        "203.0.113.6".parse().ok(),
        "reply direction swapped to client"
    );
    let v3 = &p.events[3];
    assert_eq!(v3.dns_type, Some(DnsType::Answer));
    assert_eq!(v3.dns_question_name.as_deref(), Some("api.tiktokv.com"));
    assert_eq!(v3.dns_question_type.as_deref(), Some("AAAA"));
    assert_eq!(v3.dns_response_code.as_deref(), Some("NXDOMAIN"));
    assert_eq!(p.events[4].dns_type, Some(DnsType::Query));
    assert_eq!(p.events[5].tls_server_name.as_deref(), Some("www.tiktok.com"));
    assert_eq!(p.events[5].dataset, "suricata.tls");
}

#[test]
fn bind_rpz_security_and_views() {
    let p = parse_text(Format::BindQuery, BIND_RPZ.as_bytes());
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.events.len(), 4);
    let rpz = &p.events[0];
    assert_eq!(rpz.action, Action::Blocked);
    assert_eq!(rpz.dataset, "bind.rpz");
    assert_eq!(rpz.dns_question_name.as_deref(), Some("www.tiktok.com"));
    assert_eq!(rpz.dns_response_code.as_deref(), Some("NXDOMAIN"));
    assert_eq!(rpz.rule_name.as_deref(), Some("www.tiktok.com.rpz.appwarden"));
    assert_eq!(p.events[1].action, Action::Allowed);
    assert_eq!(p.events[1].dns_question_type.as_deref(), Some("AAAA"));
    assert_eq!(p.events[2].action, Action::Blocked);
    assert_eq!(p.events[2].rule_name.as_deref(), Some("acl"));
    let v = &p.events[3];
    assert_eq!(v.dns_question_name.as_deref(), Some("www.example"));
    assert_eq!(v.destination_ip, "198.18.0.1".parse().ok());
}
