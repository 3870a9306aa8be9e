//! Squid `access.log`: the native `squid` logformat and the emulated
//! `common` / `combined` formats (Squid appends `CODE:HIERARCHY` to the latter).
//!
//! ```text
//! 1795316102.232      0 127.0.0.1 TCP_DENIED/403 3416 CONNECT www.tiktok.com:443 - HIER_NONE/- text/html
//! 127.0.0.1 - - [22/Nov/2026:02:55:02 +0000] "CONNECT www.tiktok.com:443 HTTP/1.1" 403 3416 "-" "curl/7.88.1" TCP_DENIED:HIER_NONE
//! ```
//!
//! `TCP_DENIED` (any `*_DENIED*` code) is `blocked`; a `NONE*/000` entry (the
//! client gave up or the request never completed) is `unknown`; everything
//! else is `allowed`.

use crate::error::{snippet, ErrorKind, LineError};
use crate::event::{Action, Event};
use crate::parse::{lower, parse_ip, Ctx, Outcome};
use crate::time::{month_from_abbr, parse_2, parse_hms, parse_offset, parse_u64, Civil, Timestamp};
use std::borrow::Cow;
use std::net::IpAddr;

pub(crate) fn parse_native<'a>(line: &'a str) -> Result<Outcome<'a>, LineError> {
    let mut f: [&str; 10] = [""; 10];
    let mut n = 0;
    for t in line.split_ascii_whitespace() {
        if n < f.len() {
            f[n] = t;
        }
        n += 1;
    }
    if n < 7 {
        return Err(LineError::new(
            "message",
            ErrorKind::FieldCount,
            format!("{n} fields, want at least 7"),
        ));
    }
    let ts = Timestamp::parse_epoch(f[0]).ok_or_else(|| {
        LineError::new(
            "timestamp",
            ErrorKind::Timestamp,
            format!("bad epoch {}", snippet(f[0])),
        )
    })?;
    if f[1].parse::<i64>().is_err() {
        return Err(LineError::new(
            "event.duration",
            ErrorKind::Number,
            format!("bad elapsed {}", snippet(f[1])),
        ));
    }
    let mut ev = Event::new("squid.access", "proxy", "squid");
    ev.timestamp = Some(ts);
    ev.source_ip = Some(parse_ip("source.ip", f[2])?);
    let (code, status) = f[3].split_once('/').ok_or_else(|| {
        LineError::new(
            "squid.code",
            ErrorKind::Syntax,
            format!("want CODE/STATUS, got {}", snippet(f[3])),
        )
    })?;
    ev.http_status = Some(status.parse().map_err(|_| {
        LineError::new(
            "http.response.status_code",
            ErrorKind::Number,
            format!("bad status {}", snippet(status)),
        )
    })?);
    f[4].parse::<u64>().map_err(|_| {
        LineError::new(
            "http.response.bytes",
            ErrorKind::Number,
            format!("bad size {}", snippet(f[4])),
        )
    })?;
    request(&mut ev, f[5], f[6])?;
    if n > 7 && f[7] != "-" {
        ev.user_name = Some(Cow::Borrowed(f[7]));
    }
    if n > 8 {
        if let Some((_, peer)) = f[8].split_once('/') {
            if let Ok(ip) = peer.parse::<IpAddr>() {
                ev.destination_ip = Some(ip);
            }
        }
    }
    let status = ev.http_status.unwrap_or(0);
    set_action(&mut ev, code, status);
    Ok(Outcome::Event(ev))
}

pub(crate) fn parse_combined<'a>(line: &'a str, ctx: &Ctx) -> Result<Outcome<'a>, LineError> {
    // client ident user [date] "METHOD URL PROTO" status bytes ["referer" "agent"] [CODE:HIER]
    let mut it = line.splitn(4, ' ');
    let client = it.next().unwrap_or("");
    let _ident = it.next().ok_or_else(|| LineError::truncated("user.name"))?;
    let user = it.next().ok_or_else(|| LineError::truncated("user.name"))?;
    let rest = it.next().ok_or_else(|| LineError::truncated("timestamp"))?;
    let mut ev = Event::new("squid.access", "proxy", "squid");
    ev.source_ip = Some(parse_ip("source.ip", client)?);
    if user != "-" {
        ev.user_name = Some(Cow::Borrowed(user));
    }
    let rest = rest
        .strip_prefix('[')
        .ok_or_else(|| LineError::new("timestamp", ErrorKind::Syntax, "want [date]"))?;
    let close = rest.find(']').ok_or_else(|| LineError::truncated("timestamp"))?;
    ev.timestamp = Some(clf_time(&rest[..close], ctx)?);
    let rest = rest[close + 1..]
        .strip_prefix(" \"")
        .ok_or_else(|| LineError::truncated("url.original"))?;
    let q = rest.find('"').ok_or_else(|| LineError::truncated("url.original"))?;
    let mut req = rest[..q].split(' ');
    let method = req.next().unwrap_or("");
    let url = req
        .next()
        .ok_or_else(|| LineError::new("url.original", ErrorKind::Syntax, "request line without URL"))?;
    request(&mut ev, method, url)?;
    let mut tail = rest[q + 1..].split_ascii_whitespace();
    let status = tail
        .next()
        .ok_or_else(|| LineError::truncated("http.response.status_code"))?;
    ev.http_status = Some(status.parse().map_err(|_| {
        LineError::new(
            "http.response.status_code",
            ErrorKind::Number,
            format!("bad status {}", snippet(status)),
        )
    })?);
    let last = line.rsplit(' ').next().unwrap_or("");
    let code = match last.split_once(':') {
        Some((c, _)) if c.contains('_') && !last.ends_with('"') => c,
        _ => "",
    };
    let status = ev.http_status.unwrap_or(0);
    set_action(&mut ev, code, status);
    Ok(Outcome::Event(ev))
}

fn request<'a>(ev: &mut Event<'a>, method: &'a str, url: &'a str) -> Result<(), LineError> {
    ev.url_original = Some(Cow::Borrowed(url));
    ev.transport = Some(Cow::Borrowed("tcp"));
    let authority = if method == "CONNECT" {
        url
    } else if let Some(i) = url.find("://") {
        let r = &url[i + 3..];
        let end = r.find(['/', '?', '#']).unwrap_or(r.len());
        let auth = &r[..end];
        auth.rsplit_once('@').map(|(_, h)| h).unwrap_or(auth)
    } else {
        // origin-form (transparent interception) or error entries like `error:…`
        return Ok(());
    };
    let (host, port) = split_host_port(authority);
    if host.is_empty() {
        return Err(LineError::new(
            "url.domain",
            ErrorKind::Syntax,
            format!("no host in {}", snippet(url)),
        ));
    }
    if let Some(p) = port {
        ev.destination_port = Some(p.parse().map_err(|_| {
            LineError::new(
                "destination.port",
                ErrorKind::Number,
                format!("bad port {}", snippet(p)),
            )
        })?);
    } else if url.starts_with("http://") {
        ev.destination_port = Some(80);
    } else if url.starts_with("https://") {
        ev.destination_port = Some(443);
    }
    match host.parse::<IpAddr>() {
        Ok(ip) => {
            ev.destination_ip = Some(ip);
            ev.url_domain = Some(Cow::Borrowed(host));
        }
        Err(_) => ev.url_domain = Some(lower(host.strip_suffix('.').unwrap_or(host))),
    }
    Ok(())
}

/// `host:port`, `[v6]:port`, `host` → (host, port)
fn split_host_port(s: &str) -> (&str, Option<&str>) {
    if let Some(r) = s.strip_prefix('[') {
        if let Some(end) = r.find(']') {
            let port = r[end + 1..].strip_prefix(':');
            return (&r[..end], port);
        }
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, Some(p)),
        _ => (s, None),
    }
}

fn set_action<'a>(ev: &mut Event<'a>, code: &'a str, status: u16) {
    ev.action = if code.contains("DENIED") {
        Action::Blocked
    } else if status == 0 {
        Action::Unknown
    } else {
        Action::Allowed
    };
    if !code.is_empty() {
        ev.rule_name = Some(Cow::Borrowed(code));
    }
}

/// `22/Nov/2026:02:55:02 +0000`
fn clf_time(s: &str, ctx: &Ctx) -> Result<Timestamp, LineError> {
    let bad = || LineError::new("timestamp", ErrorKind::Timestamp, format!("bad time {}", snippet(s)));
    let b = s.as_bytes();
    if b.len() < 20 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' {
        return Err(bad());
    }
    let day = parse_2(&b[0..2]).ok_or_else(bad)?;
    let month = month_from_abbr(&b[3..6]).ok_or_else(bad)?;
    let year = parse_u64(&s[7..11]).ok_or_else(bad)? as i32;
    let (hour, minute, second) = parse_hms(&b[12..20]).ok_or_else(bad)?;
    let offset = match s[20..].trim() {
        "" => ctx.utc_offset,
        o => parse_offset(o).ok_or_else(bad)?,
    };
    Timestamp::from_civil(
        Civil {
            year,
            month,
            day,
            hour,
            minute,
            second,
            nanos: 0,
        },
        offset,
    )
    .ok_or_else(bad)
}
