//! Hand-written bad lines per format: each is a located, counted error and the
//! good lines around it are still parsed.

use crate::support::{parse_text, Parsed};
use monitor::{ErrorKind, Format};

/// Asserts the errors are exactly `want` = [(line_no, kind, field)].
fn check(p: &Parsed, events: usize, want: &[(u64, ErrorKind, &str)]) {
    let got: Vec<(u64, ErrorKind, &str)> = p.errors.iter().map(|e| (e.line_no, e.kind, e.field)).collect();
    assert_eq!(got, want, "errors: {:#?}", p.errors);
    assert_eq!(p.events.len(), events, "events: {:#?}", p.events);
    assert_eq!(p.stats.error_count(), want.len() as u64);
    for (kind, n) in count_kinds(want) {
        assert_eq!(p.stats.errors_of(kind), n, "{kind:?}");
    }
}

fn count_kinds(want: &[(u64, ErrorKind, &str)]) -> Vec<(ErrorKind, u64)> {
    let mut v: Vec<(ErrorKind, u64)> = Vec::new();
    for (_, k, _) in want {
        match v.iter_mut().find(|(x, _)| x == k) {
            Some((_, n)) => *n += 1,
            None => v.push((*k, 1)),
        }
    }
    v
}

fn cat(lines: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}

const BIND_OK: &[u8] = b"22-Nov-2026 02:54:51.317 queries: info: client @0x7fe8 127.0.0.1#59579 (www.tiktok.com): query: www.tiktok.com IN A +E(0)K (127.0.0.1)";

#[test]
fn bind_bad_lines() {
    let text = cat(&[
        BIND_OK,
        b"22-Nov-2026 02:54:51.317 queries: info: client @0x7fe8 127.0.0.1#59579 (www.tiktok.com): query: www.tiktok.com",
        b"32-Nov-2026 02:54:51.317 queries: info: client @0x7fe8 127.0.0.1#59579 (a.b): query: a.b IN A + (127.0.0.1)",
        b"22-Nov-2026 02:54:51.317 queries: info: client @0x7fe8 327.0.0.1#59579 (a.b): query: a.b IN A + (127.0.0.1)",
        b"22-Nov-2026 02:54:51.317 queries: info: client @0x7fe8 127.0.0.1#99999 (a.b): query: a.b IN A + (127.0.0.1)",
        b"22-Nov-2026 02:54:51.317 queries: info: client @0x7fe8 127.0.0.1#5 (\xff\xfe): query: x IN A + (127.0.0.1)",
        b"22-Nov-2026 02:54:51.317 queries: info: client @0x7fe8 127.0.0.1#59579",
        BIND_OK,
    ]);
    let p = parse_text(Format::BindQuery, &text);
    check(
        &p,
        2,
        &[
            (2, ErrorKind::Truncated, "dns.question.type"),
            (3, ErrorKind::Timestamp, "timestamp"),
            (4, ErrorKind::Ip, "source.ip"),
            (5, ErrorKind::Number, "source.ip"),
            (6, ErrorKind::Utf8, "line"),
            (7, ErrorKind::Truncated, "source.ip"),
        ],
    );
    assert_eq!(p.events[1].original.line, 8);
    assert_eq!(p.errors[0].byte_offset, (BIND_OK.len() + 1) as u64);
}

#[test]
fn unbound_bad_lines() {
    let text = cat(&[
        b"[1795316078] unbound[29014:0] info: 127.0.0.1 www.tiktok.com. A IN",
        b"[17953x6078] unbound[29014:0] info: 127.0.0.1 www.tiktok.com. A IN",
        b"[1795316078] unbound[29014:0] info: 127.0.0.1 www.tiktok.com. A IN NOERROR",
        b"[1795316078] unbound[29014:0] info: 127.0.0.1 www.tiktok.com. A IN NOERROR x 0 59",
        b"[1795316078] unbound[29014:0]",
        b"[1795316078] unbound[29014:0] info: 127.0.0.1 www.tiktok.com. A IN NOERROR 0.000350 0 59",
    ]);
    let p = parse_text(Format::Unbound, &text);
    check(
        &p,
        2,
        &[
            (2, ErrorKind::Timestamp, "timestamp"),
            (3, ErrorKind::FieldCount, "message"),
            (4, ErrorKind::Number, "message"),
            (5, ErrorKind::Syntax, "log.level"),
        ],
    );
}

#[test]
fn dnsmasq_bad_lines() {
    let text = cat(&[
        b"Nov 22 02:54:39 dnsmasq[29019]: query[A] www.tiktok.com from 127.0.0.1",
        b"Nov 22 02:54:39 dnsmasq[29019]: query[A] www.tiktok.com from 127.0.0.300",
        b"Nox 22 02:54:39 dnsmasq[29019]: query[A] www.tiktok.com from 127.0.0.1",
        b"Nov 22 02:54:39 dnsmasq[29019]: query[A www.tiktok.com",
        b"Nov 22 02:54:39 no tag here at all",
        b"Nov 22 02:54:39 dnsmasq[29032]: 99999999999999999999999 127.0.0.1/5 query[A] x from 127.0.0.1",
        b"Nov 22 02:54:39 dnsmasq[29019]: config www.tiktok.com is 0.0.0.0",
    ]);
    let p = parse_text(Format::Dnsmasq, &text);
    check(
        &p,
        2,
        &[
            (2, ErrorKind::Ip, "source.ip"),
            (3, ErrorKind::Timestamp, "timestamp"),
            (4, ErrorKind::Truncated, "dns.question.type"),
            (5, ErrorKind::Syntax, "process"),
            (6, ErrorKind::Number, "serial"),
        ],
    );
    assert_eq!(
        p.events[1].source_ip,
        "127.0.0.1".parse().ok(),
        "correlation survives bad lines"
    );
}

#[test]
fn adguard_bad_lines() {
    let good = br#"{"IP":"127.0.0.1","T":"2020-11-25T18:55:56.519796+03:00","QH":"an.yandex.ru","QT":"A","QC":"IN","CP":"","Answer":"Qz+BgAABAAEAAAAAAmFuBnlhbmRleAJydQAAAQABwAwAAQABAAAACgAEAAAAAA==","Result":{"IsFiltered":true,"Reason":3,"Rule":"||an.yandex.","FilterID":1},"Elapsed":837429}"#;
    let text = cat(&[
        good,
        br#"{"IP":"127.0.0.1","T":"2020-11-25T18:55:56.519796+03:00","QH":"x.ru","QT":"A","Answer":"!!!notbase64"}"#,
        br#"{"IP":"127.0.0.1","T":"2020-11-25T18:55:56.519796+03:00","QH":"x.ru","QT":"A","Answer":"AAAA"}"#,
        br#"{"IP":"127.0.0.1","T":"2020-13-25T18:55:56+03:00","QH":"x.ru"}"#,
        br#"{"IP":"1.2.3","T":"2020-11-25T18:55:56+03:00","QH":"x.ru"}"#,
        br#"{"IP":"127.0.0.1","T":"2020-11-25T18:5"#,
        br#"{"IP":"127.0.0.1","T":"2020-11-25T18:55:56+03:00"}"#,
        good,
    ]);
    let p = parse_text(Format::AdGuard, &text);
    check(
        &p,
        2,
        &[
            (2, ErrorKind::Base64, "Answer"),
            (3, ErrorKind::DnsWire, "Answer"),
            (4, ErrorKind::Timestamp, "T"),
            (5, ErrorKind::Ip, "IP"),
            (6, ErrorKind::Json, "json"),
            (7, ErrorKind::Truncated, "QH"),
        ],
    );
}

#[test]
fn blocky_bad_lines() {
    let good = b"2026-11-22 02:54:39\t192.0.2.23\tphone\t0\tBLOCKED (tiktok)\twww.tiktok.com\t\tNXDOMAIN\tBLOCKED\tA";
    let text = cat(&[
        good,
        b"2026-11-22 02:54:39\t192.0.2.23\tphone\t0",
        b"2026-11-22 25:54:39\t192.0.2.23\tphone\t0\tx\twww.tiktok.com\t\tNXDOMAIN\tBLOCKED\tA",
        b"2026-11-22 02:54:39\t192.0.2\tphone\t0\tx\twww.tiktok.com\t\tNXDOMAIN\tBLOCKED\tA",
        b"2026-11-22 02:54:39\t192.0.2.23\t\"unterminated\t0\tx\twww.tiktok.com\t\tNXDOMAIN\tBLOCKED\tA",
        good,
    ]);
    let p = parse_text(Format::Blocky, &text);
    check(
        &p,
        2,
        &[
            (2, ErrorKind::FieldCount, "csv"),
            (3, ErrorKind::Timestamp, "time"),
            (4, ErrorKind::Ip, "client.ip"),
            (5, ErrorKind::Syntax, "csv"),
        ],
    );
}

#[test]
fn zeek_tsv_bad_lines() {
    let header = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\tquery\tqtype_name\trcode_name\tanswers\n";
    let mut text = header.as_bytes().to_vec();
    text.extend_from_slice(&cat(&[
        b"1591367999.305988\tC1\t198.18.0.1\t5353\t192.0.2.2\t53\tudp\t1\twww.TikTok.com\tA\tNOERROR\t1.2.3.4,5.6.7.8",
        b"1591367999.305988\tC1\t198.18.0.1\t5353\t192.0.2.2\t53\tudp\t1\twww.tiktok.com",
        b"15913x7999.305988\tC1\t198.18.0.1\t5353\t192.0.2.2\t53\tudp\t1\twww.tiktok.com\tA\tNOERROR\t-",
        b"1591367999.305988\tC1\t198.18.0\t5353\t192.0.2.2\t53\tudp\t1\twww.tiktok.com\tA\tNOERROR\t-",
        b"1591367999.305988\tC1\t198.18.0.1\t70000\t192.0.2.2\t53\tudp\t1\twww.tiktok.com\tA\tNOERROR\t-",
        b"1591367999.305988\tC1\t198.18.0.1\t5353\t192.0.2.2\t53\tudp\t1\twww.\xc3\x28.com\tA\tNOERROR\t-",
        b"XXXXXXXXXX.XXXXXX\tC1\t198.18.0.1\t5353\t192.0.2.2\t53\tudp\t1\tx\\x09y.com\tA\tNOERROR\t(empty)",
    ]));
    let p = parse_text(Format::ZeekTsv, &text);
    check(
        &p,
        2,
        &[
            (8, ErrorKind::FieldCount, "#fields"),
            (9, ErrorKind::Timestamp, "ts"),
            (10, ErrorKind::Ip, "id.orig_h"),
            (11, ErrorKind::Number, "id.orig_p"),
            (12, ErrorKind::Utf8, "line"),
        ],
    );
    assert_eq!(p.events[0].dns_question_name.as_deref(), Some("www.tiktok.com"));
    assert_eq!(p.events[0].dns_answers.len(), 2);
    assert_eq!(p.events[1].timestamp, None);
    assert_eq!(
        p.events[1].dns_question_name.as_deref(),
        Some("x\ty.com"),
        "\\x09 escape decoded"
    );
    assert!(p.events[1].dns_answers.is_empty(), "(empty) set");
    // a data line before any header
    let p = parse_text(Format::ZeekTsv, b"1591367999.3\tC1\n");
    check(&p, 0, &[(1, ErrorKind::Header, "#fields")]);
}

#[test]
fn zeek_json_bad_lines() {
    let text = cat(&[
        br#"{"ts":1591367999.305988,"uid":"C1","id.orig_h":"198.18.4.76","id.orig_p":36844,"id.resp_h":"192.0.2.1","id.resp_p":53,"proto":"udp","query":"a.example","qtype_name":"A"}"#,
        br#"{"ts":"yesterday","uid":"C1","query":"a.example"}"#,
        br#"{"ts":1591367999.3,"id.orig_h":"198.18.4","query":"a.example"}"#,
        br#"{"ts":1591367999.3,"id.orig_p":70000,"query":"a.example"}"#,
        br#"{"ts":1591367999.3,"#,
        br#"{"ts":1591367999.3,"uid":"C2","id.orig_h":"198.18.4.76","query":"B.example"}"#,
    ]);
    let p = parse_text(Format::ZeekJson, &text);
    check(
        &p,
        2,
        &[
            (2, ErrorKind::Json, "json"),
            (3, ErrorKind::Ip, "id.orig_h"),
            (4, ErrorKind::Json, "json"),
            (5, ErrorKind::Json, "json"),
        ],
    );
    assert_eq!(p.events[1].dns_question_name.as_deref(), Some("b.example"));
}

#[test]
fn suricata_bad_lines() {
    let good = br#"{"timestamp":"2017-01-30T16:12:26.985026+0100","event_type":"dns","src_ip":"172.17.0.2","src_port":55645,"dest_ip":"172.21.3.254","dest_port":53,"proto":"UDP","dns":{"type":"query","id":13786,"rrname":"a.example","rrtype":"SRV","tx_id":0}}"#;
    let text = cat(&[
        good,
        br#"{"timestamp":"2017-01-30T16:12:26","event_type":"dns","src_ip":"172.17.0.2","dns":{"type":"bogus"}}"#,
        br#"{"timestamp":"2017-01-32T16:12:26+0100","event_type":"dns","dns":{"type":"query"}}"#,
        br#"{"timestamp":"2017-01-30T16:12:26+0100","event_type":"dns","src_ip":"172.17.0","dns":{"type":"query"}}"#,
        br#"{"timestamp":"2017-01-30T16:12:26+0100","event_type":"dns"}"#,
        br#"{"timestamp":"2017-01-30T16:12:26+0100"}"#,
        b"not json at all",
        good,
    ]);
    let p = parse_text(Format::SuricataEve, &text);
    check(
        &p,
        2,
        &[
            (2, ErrorKind::Json, "dns.type"),
            (3, ErrorKind::Timestamp, "timestamp"),
            (4, ErrorKind::Ip, "src_ip"),
            (5, ErrorKind::Json, "dns"),
            (6, ErrorKind::Json, "event_type"),
            (7, ErrorKind::Json, "json"),
        ],
    );
}

#[test]
fn squid_bad_lines() {
    let good =
        b"1795316102.232      0 127.0.0.1 TCP_DENIED/403 3416 CONNECT www.tiktok.com:443 - HIER_NONE/- text/html";
    let text = cat(&[
        good,
        b"1795316102.232      0 127.0.0.1 TCP_DENIED/403",
        b"17953x6102.232      0 127.0.0.1 TCP_DENIED/403 3416 CONNECT www.tiktok.com:443 - HIER_NONE/- text/html",
        b"1795316102.232      0 127.0.0 TCP_DENIED/403 3416 CONNECT www.tiktok.com:443 - HIER_NONE/- text/html",
        b"1795316102.232      0 127.0.0.1 TCP_DENIED/4x3 3416 CONNECT www.tiktok.com:443 - HIER_NONE/- text/html",
        b"1795316102.232      0 127.0.0.1 TCP_DENIED/403 3416 CONNECT www.tiktok.com:99999 - HIER_NONE/- text/html",
        good,
    ]);
    let p = parse_text(Format::SquidNative, &text);
    check(
        &p,
        2,
        &[
            (2, ErrorKind::FieldCount, "message"),
            (3, ErrorKind::Timestamp, "timestamp"),
            (4, ErrorKind::Ip, "source.ip"),
            (5, ErrorKind::Number, "http.response.status_code"),
            (6, ErrorKind::Number, "destination.port"),
        ],
    );
    let good = br#"127.0.0.1 - - [22/Nov/2026:02:55:02 +0000] "CONNECT www.tiktok.com:443 HTTP/1.1" 403 3416 "-" "curl/7.88.1" TCP_DENIED:HIER_NONE"#;
    let text = cat(&[
        good,
        br#"127.0.0.1 - - [22/Nov/2026:02:55:02 +0000]"#,
        br#"127.0.0.1 - - [22/Nox/2026:02:55:02 +0000] "GET http://a/ HTTP/1.1" 200 1 "-" "c" TCP_MISS:HIER_DIRECT"#,
        br#"127.0.0.1 - -"#,
        good,
    ]);
    let p = parse_text(Format::SquidCombined, &text);
    check(
        &p,
        2,
        &[
            (2, ErrorKind::Truncated, "url.original"),
            (3, ErrorKind::Timestamp, "timestamp"),
            (4, ErrorKind::Truncated, "timestamp"),
        ],
    );
}

#[test]
fn pihole_bad_lines_keep_correlation() {
    let text = cat(&[
        b"Jan 10 10:00:01 dnsmasq[812]: query[A] v16m.tiktokcdn.com from 192.0.2.23",
        b"Jan 10 10:00:01 dnsmasq[812]: query[A] broken from not-an-ip",
        b"Jan 10 10:00:01 dnsmasq[812]: gravity blocked v16m.tiktokcdn.com is 0.0.0.0",
    ]);
    let p = parse_text(Format::Pihole, &text);
    check(&p, 2, &[(2, ErrorKind::Ip, "source.ip")]);
    assert_eq!(p.events[1].source_ip, "192.0.2.23".parse().ok());
}

/// Regression (found by cargo fuzz, `parse_zeek_json`): a `ts` of 1e10 seconds
/// passed the range check and overflowed when converted to nanoseconds.
#[test]
fn zeek_json_huge_timestamp_is_an_error_not_a_panic() {
    let text = cat(&[
        br#"{"ts":1e10,"uid":"C1","id.orig_h":"192.0.2.1","id.orig_p":5353,"id.resp_h":"192.0.2.53","id.resp_p":53,"proto":"udp","query":"www.tiktok.com"}"#,
        br#"[1e10"#,
        br#"{"ts":1700000000.5,"uid":"C2","id.orig_h":"192.0.2.1","id.orig_p":5353,"id.resp_h":"192.0.2.53","id.resp_p":53,"proto":"udp","query":"example.org"}"#,
    ]);
    let p = parse_text(Format::ZeekJson, &text);
    assert_eq!(p.events.len(), 1, "the good line still parses: {:#?}", p.errors);
    assert_eq!(p.errors.len(), 2);
    assert!(p.errors.iter().all(|e| e.line_no == 1 || e.line_no == 2));
}
