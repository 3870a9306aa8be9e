//! The plan's RPZ zones served to secondaries: one zone per policy group
//! (`rpz.appwarden.<group>`, the same records as `appwarden export bind-rpz`),
//! answered for SOA queries, transferred whole by AXFR (and IXFR, answered
//! with a full transfer as RFC 1995 allows) over TCP to allowed clients, and
//! announced with NOTIFY after a reload. Serials only ever increase.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use policy::EnforcementPlan;

use crate::wire::{self, Query, rtype};

/// AXFR query type.
pub const AXFR: u16 = 252;
/// IXFR query type.
pub const IXFR: u16 = 251;

/// One zone, ready to serve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    /// Apex, lowercase, no trailing dot.
    pub name: String,
    /// SOA serial.
    pub serial: u32,
    /// The SOA record (wire form, uncompressed owner).
    pub soa: Vec<u8>,
    /// Every other record (wire form).
    pub records: Vec<Vec<u8>>,
}

/// The zones of every group.
#[derive(Clone, Debug, Default)]
pub struct Zones {
    /// Zones by apex.
    pub zones: Vec<Zone>,
    /// Who may transfer them.
    pub allow: Vec<IpNet>,
}

fn encode_abs(name: &str, out: &mut Vec<u8>) -> Option<()> {
    wire::encode_name(name.trim_end_matches('.'), out)
}

fn absolute(owner: &str, origin: &str) -> String {
    if owner == "@" {
        origin.to_string()
    } else if let Some(abs) = owner.strip_suffix('.') {
        abs.to_string()
    } else {
        format!("{owner}.{origin}")
    }
}

fn record(owner: &str, rtype: u16, ttl: u32, rdata: &[u8]) -> Option<Vec<u8>> {
    let mut r = Vec::with_capacity(owner.len() + 12 + rdata.len());
    encode_abs(owner, &mut r)?;
    r.extend_from_slice(&rtype.to_be_bytes());
    r.extend_from_slice(&1u16.to_be_bytes());
    r.extend_from_slice(&ttl.to_be_bytes());
    r.extend_from_slice(&u16::try_from(rdata.len()).ok()?.to_be_bytes());
    r.extend_from_slice(rdata);
    Some(r)
}

/// Reads the zone text the RPZ exporter writes (`$ORIGIN`, `$TTL`, SOA, NS,
/// CNAME, A, AAAA records). Lines it cannot read are skipped and counted.
pub fn parse_zone(text: &str) -> Option<(Zone, usize)> {
    let mut origin = String::new();
    let mut ttl: u32 = 300;
    let mut soa = None;
    let mut serial = 0;
    let mut records = Vec::new();
    let mut skipped = 0;
    for line in text.lines() {
        let line = line.split(';').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut t: Vec<&str> = line.split_whitespace().collect();
        match t.first().copied() {
            Some("$ORIGIN") => {
                origin = t
                    .get(1)
                    .map(|o| o.trim_end_matches('.').to_ascii_lowercase())
                    .unwrap_or_default();
                continue;
            }
            Some("$TTL") => {
                ttl = t.get(1).and_then(|v| v.parse().ok()).unwrap_or(ttl);
                continue;
            }
            _ => {}
        }
        let owner = absolute(t.remove(0), &origin);
        let mut rttl = ttl;
        if let Some(v) = t.first().and_then(|v| v.parse::<u32>().ok()) {
            rttl = v;
            t.remove(0);
        }
        if t.first() == Some(&"IN") {
            t.remove(0);
        }
        let Some(kind) = t.first().copied() else {
            skipped += 1;
            continue;
        };
        let mut rdata = Vec::new();
        let ok = match kind {
            "CNAME" | "NS" => t
                .get(1)
                .and_then(|n| encode_abs(&absolute(n, &origin), &mut rdata))
                .is_some(),
            "A" => t
                .get(1)
                .and_then(|a| a.parse::<std::net::Ipv4Addr>().ok())
                .map(|a| rdata.extend(a.octets()))
                .is_some(),
            "AAAA" => t
                .get(1)
                .and_then(|a| a.parse::<std::net::Ipv6Addr>().ok())
                .map(|a| rdata.extend(a.octets()))
                .is_some(),
            "SOA" if t.len() >= 8 => {
                let nums: Vec<u32> = t[3..8].iter().filter_map(|n| n.parse().ok()).collect();
                nums.len() == 5
                    && encode_abs(&absolute(t[1], &origin), &mut rdata).is_some()
                    && encode_abs(&absolute(t[2], &origin), &mut rdata).is_some()
                    && {
                        serial = nums[0];
                        nums.iter().for_each(|n| rdata.extend(n.to_be_bytes()));
                        true
                    }
            }
            _ => false,
        };
        let code = match kind {
            "CNAME" => rtype::CNAME,
            "NS" => rtype::NS,
            "A" => rtype::A,
            "AAAA" => rtype::AAAA,
            "SOA" => rtype::SOA,
            _ => 0,
        };
        match (ok, record(&owner, code, rttl, &rdata)) {
            (true, Some(r)) if code == rtype::SOA => soa = Some(r),
            (true, Some(r)) => records.push(r),
            _ => skipped += 1,
        }
    }
    Some((
        Zone {
            name: origin,
            serial,
            soa: soa?,
            records,
        },
        skipped,
    ))
}

impl Zones {
    /// Builds every group's zone from `plan`; serials stay above `previous`'s.
    pub fn build(plan: &EnforcementPlan, previous: &Zones, allow: Vec<IpNet>) -> Zones {
        let mut zones = Vec::new();
        for g in &plan.groups {
            let zone_name = format!("rpz.appwarden.{}", g.id);
            let before = previous.zones.iter().find(|z| z.name == zone_name);
            let opts = export::Options {
                previous_serial: before.map(|z| z.serial),
                ..export::Options::default()
            };
            let Ok(bytes) = export::render(plan, export::Format::BindRpz, &g.id, &opts) else {
                continue;
            };
            let Some((zone, skipped)) = parse_zone(&String::from_utf8_lossy(&bytes)) else {
                continue;
            };
            if skipped > 0 {
                tracing::warn!(zone = %zone.name, skipped, "RPZ lines not served");
            }
            // unchanged content keeps its serial (secondaries need not transfer again)
            match before {
                Some(b) if b.records == zone.records => zones.push(b.clone()),
                _ => zones.push(zone),
            }
        }
        Zones { zones, allow }
    }

    /// The zone whose apex is `name`.
    pub fn find(&self, name: &str) -> Option<&Zone> {
        self.zones.iter().find(|z| z.name == name)
    }

    /// Whether `ip` may transfer.
    pub fn allowed(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        self.allow.iter().any(|n| n.contains(&ip))
    }
}

fn header(q: &Query<'_>, an: u16, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&q.id.to_be_bytes());
    out.extend_from_slice(&(0x8400u16 | if q.rd { 0x0100 } else { 0 }).to_be_bytes()); // QR AA
    out.extend_from_slice(&[0, 1]);
    out.extend_from_slice(&an.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&q.packet[12..q.question_end]);
}

/// The answer to an SOA query for the apex.
pub fn soa_answer(q: &Query<'_>, z: &Zone, out: &mut Vec<u8>) {
    header(q, 1, out);
    out.extend_from_slice(&z.soa);
}

/// The messages of a full transfer: SOA, every record, SOA, in messages of at most ~60 KB.
pub fn axfr_messages(q: &Query<'_>, z: &Zone) -> Vec<Vec<u8>> {
    let mut all: Vec<&[u8]> = Vec::with_capacity(z.records.len() + 2);
    all.push(&z.soa);
    all.extend(z.records.iter().map(Vec::as_slice));
    all.push(&z.soa);
    let mut msgs = Vec::new();
    let mut cur = Vec::new();
    let mut n: u16 = 0;
    for r in all {
        if n > 0 && (cur.len() + r.len() > 60_000 || n == u16::MAX) {
            cur[6..8].copy_from_slice(&n.to_be_bytes());
            msgs.push(std::mem::take(&mut cur));
            n = 0;
        }
        if n == 0 {
            header(q, 0, &mut cur);
        }
        cur.extend_from_slice(r);
        n += 1;
    }
    if n > 0 {
        cur[6..8].copy_from_slice(&n.to_be_bytes());
        msgs.push(cur);
    }
    msgs
}

/// Sends a NOTIFY (RFC 1996) for every zone to every address, in the
/// background: each is sent again (after 1, 2, 4 and 8 s) until that
/// secondary answers it (§3.6), at most five times.
pub fn notify(zones: &Zones, to: &[SocketAddr]) {
    let Ok(sock) = std::net::UdpSocket::bind("0.0.0.0:0") else {
        return;
    };
    // ids differ per reload so a late answer to an earlier round is not taken for this one
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u16);
    let mut pending: Vec<(SocketAddr, u16, Vec<u8>)> = Vec::new();
    for (i, z) in zones.zones.iter().enumerate() {
        let id = base.wrapping_add(i as u16);
        let mut m = vec![0, 0, 0x24, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]; // opcode NOTIFY, AA
        m[..2].copy_from_slice(&id.to_be_bytes());
        if encode_abs(&z.name, &mut m).is_none() {
            continue;
        }
        m.extend_from_slice(&rtype::SOA.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        for addr in to {
            pending.push((*addr, id, m.clone()));
        }
    }
    if pending.is_empty() {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("notify".into())
        .spawn(move || notify_until_answered(&sock, pending));
}

fn notify_until_answered(sock: &std::net::UdpSocket, mut pending: Vec<(SocketAddr, u16, Vec<u8>)>) {
    let mut wait = std::time::Duration::from_secs(1);
    for _ in 0..5 {
        for (addr, _, m) in &pending {
            let _ = sock.send_to(m, addr);
        }
        let until = std::time::Instant::now() + wait;
        let mut buf = [0u8; 512];
        while !pending.is_empty() {
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() || sock.set_read_timeout(Some(left)).is_err() {
                break;
            }
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                break;
            };
            // an answer: QR set, opcode NOTIFY, our id, from the address we sent to
            if n >= 12 && buf[2] & 0x80 != 0 && (buf[2] >> 3) & 0x0f == 4 {
                let id = u16::from_be_bytes([buf[0], buf[1]]);
                pending.retain(|(a, i, _)| !(*i == id && *a == from));
            }
        }
        if pending.is_empty() {
            return;
        }
        wait *= 2;
    }
    for (addr, _, _) in &pending {
        tracing::warn!(%addr, "NOTIFY not answered after 5 tries");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_is_sent_again_until_the_secondary_answers() {
        let plan = policy::Policy::builtin(None)
            .expect("policy")
            .plan(catalog::Day::new(2026, 11, 22).expect("day"));
        let zones = Zones::build(&plan, &Zones::default(), Vec::new());
        let secondary = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        secondary
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("timeout");
        let n = zones.zones.len();
        notify(&zones, &[secondary.local_addr().expect("addr")]);
        let mut buf = [0u8; 512];
        // the first round is not answered (a secondary that is busy, or a lost datagram)
        for _ in 0..n {
            let (len, _) = secondary.recv_from(&mut buf).expect("first NOTIFY");
            assert_eq!((buf[2] >> 3) & 0x0f, 4, "opcode NOTIFY");
            assert!(len > 12);
        }
        // the second round is, each message with its own id
        for _ in 0..n {
            let (len, from) = secondary.recv_from(&mut buf).expect("NOTIFY sent again");
            buf[2] |= 0x80;
            secondary.send_to(&buf[..len], from).expect("answer");
        }
        secondary
            .set_read_timeout(Some(std::time::Duration::from_millis(2500)))
            .expect("timeout");
        assert!(
            secondary.recv_from(&mut buf).is_err(),
            "answered NOTIFYs are not sent again"
        );
    }

    #[test]
    fn reads_the_exporters_zone_and_keeps_serials_rising() {
        let plan = policy::Policy::builtin(None)
            .expect("policy")
            .plan(catalog::Day::new(2026, 11, 22).expect("day"));
        let z1 = Zones::build(&plan, &Zones::default(), vec!["127.0.0.0/8".parse().expect("net")]);
        let corp = z1.find("rpz.appwarden.corporate").expect("corporate zone");
        assert!(corp.records.len() > 1000);
        assert!(corp.serial > 2_026_112_200, "serial YYYYMMDDnn of the as-of day");
        // same content: same serial
        let z2 = Zones::build(&plan, &z1, z1.allow.clone());
        assert_eq!(z2.find("rpz.appwarden.corporate").map(|z| z.serial), Some(corp.serial));
        // a bad line is skipped, not fatal
        let (z, skipped) =
            parse_zone("$ORIGIN rpz.t.\n@ IN SOA a. b. 7 1 1 1 1\nx CNAME .\nbad line here\n").expect("zone");
        assert_eq!((z.serial, z.records.len(), skipped), (7, 1, 1));
        assert!(z1.allowed("127.0.0.1".parse().expect("ip")));
        assert!(!z1.allowed("192.0.2.1".parse().expect("ip")));
    }
}
