//! External block and allow lists: hosts files, plain domain lists and
//! adblock-style DNS rules (`||example.com^`, `@@||example.com^`). A bad
//! line is counted with its line number and skipped; it never stops a load.

use std::io::BufRead;

use catalog::domain::check_domain;

/// List syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ListFormat {
    /// Decide from the content.
    Auto,
    /// `0.0.0.0 name [name…]` / `127.0.0.1 name`.
    Hosts,
    /// One domain per line.
    Domains,
    /// `||name^` blocks, `@@||name^` allows; other syntax is skipped and counted.
    Adblock,
}

/// What one line of a list says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListRule<'a> {
    /// Block the name and its subdomains.
    Block(&'a str),
    /// Allow the name and its subdomains (adblock `@@`).
    Allow(&'a str),
}

/// A line that could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListError {
    /// 1-based line.
    pub line: usize,
    /// Why.
    pub message: String,
}

/// The result of reading a list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedList {
    /// The rules' names back to back: one allocation for a whole list, not
    /// one per name (see [`ParsedList::rules`]).
    names: String,
    /// Per rule in file order: where its name ends in `names`, and whether it allows.
    ends: Vec<(u32, bool)>,
    /// Lines skipped as unusable (the first 100 kept; `skipped` counts all).
    pub errors: Vec<ListError>,
    /// Number of unusable lines.
    pub skipped: usize,
    /// The format used.
    pub format: Option<ListFormat>,
}

impl ParsedList {
    /// The rules, in file order.
    pub fn rules(&self) -> impl ExactSizeIterator<Item = ListRule<'_>> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&(end, allow)| {
            let name = self.names.get(start..end as usize).unwrap_or("");
            start = end as usize;
            if allow {
                ListRule::Allow(name)
            } else {
                ListRule::Block(name)
            }
        })
    }

    /// A list that could not be read at all: no rule, one error at line 0.
    pub fn unreadable(message: String) -> ParsedList {
        ParsedList {
            skipped: 1,
            errors: vec![ListError { line: 0, message }],
            ..ParsedList::default()
        }
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether it holds no rule.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Adds a rule. A list beyond 4 GiB of names (far past any `list_max_mib`)
    /// is cut there, counted as skipped.
    fn push(&mut self, name: &str, allow: bool) {
        let Ok(end) = u32::try_from(self.names.len() + name.len()) else {
            self.skipped += 1;
            return;
        };
        self.names.push_str(name);
        self.ends.push((end, allow));
    }
}

const HOSTS_SINKS: &[&str] = &["0.0.0.0", "127.0.0.1", "::", "::1", "0:0:0:0:0:0:0:0"];
const HOSTS_LOCAL: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "local",
    "broadcasthost",
    "ip6-localhost",
    "ip6-loopback",
    "0.0.0.0",
];

fn detect(line: &str) -> Option<ListFormat> {
    let l = line.trim();
    if l.is_empty() || l.starts_with('#') || l.starts_with('!') || l.starts_with('[') {
        return None;
    }
    if l.starts_with("||") || l.starts_with("@@") || l.ends_with('^') {
        return Some(ListFormat::Adblock);
    }
    let first = l.split_whitespace().next().unwrap_or("");
    if first.parse::<std::net::IpAddr>().is_ok() {
        return Some(ListFormat::Hosts);
    }
    Some(ListFormat::Domains)
}

fn normalise(name: &str) -> Result<String, String> {
    let n = name.trim().trim_end_matches('.');
    let n = n.strip_prefix("*.").unwrap_or(n);
    let n = if n.bytes().any(|b| b.is_ascii_uppercase()) {
        n.to_ascii_lowercase()
    } else {
        n.to_string()
    };
    check_domain(&n)?;
    Ok(n)
}

/// Reads a list from any reader. `format` may be `Auto`.
pub fn parse(reader: impl BufRead, format: ListFormat) -> ParsedList {
    parse_with(reader, format, true)
}

fn parse_with(reader: impl BufRead, format: ListFormat, fast: bool) -> ParsedList {
    let mut out = ParsedList::default();
    let mut fmt = if format == ListFormat::Auto { None } else { Some(format) };
    let err = |out: &mut ParsedList, line: usize, message: String| {
        out.skipped += 1;
        if out.errors.len() < 100 {
            out.errors.push(ListError { line, message });
        }
    };
    let mut reader = reader;
    let mut bytes = Vec::with_capacity(256);
    let mut n = 0;
    loop {
        bytes.clear();
        match reader.read_until(b'\n', &mut bytes) {
            Ok(0) => break,
            Ok(_) => {}
            Err(_) => {
                err(&mut out, n + 1, "read error".into());
                break;
            }
        }
        n += 1;
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
        }
        // most lines of a large domain list: one pass over the bytes, then the
        // name check; anything else (or a name the check refuses, for its
        // message) takes the general path
        if fast
            && fmt == Some(ListFormat::Domains)
            && catalog::domain::is_valid_domain(&bytes)
            && let Ok(text) = std::str::from_utf8(&bytes)
        {
            out.push(text, false);
            continue;
        }
        let Ok(text) = std::str::from_utf8(&bytes) else {
            err(&mut out, n, "not UTF-8".into());
            continue;
        };
        let text = text.trim_end_matches('\r');
        // comments: '#' anywhere in hosts/domains lines; '!' at the start for adblock
        let content = text.split('#').next().unwrap_or("").trim();
        if content.is_empty() || content.starts_with('!') || content.starts_with('[') {
            continue;
        }
        if fmt.is_none() {
            fmt = detect(content);
        }
        match fmt.unwrap_or(ListFormat::Domains) {
            ListFormat::Hosts | ListFormat::Auto => {
                let mut parts = content.split_whitespace();
                let ip = parts.next().unwrap_or("");
                if ip.parse::<std::net::IpAddr>().is_err() {
                    err(
                        &mut out,
                        n,
                        format!("`{ip}` is not an address (hosts format: ADDRESS NAME…)"),
                    );
                    continue;
                }
                if !HOSTS_SINKS.contains(&ip) {
                    err(
                        &mut out,
                        n,
                        format!("`{ip}` is not a sink address; only 0.0.0.0/127.0.0.1/::/::1 lines block"),
                    );
                    continue;
                }
                for name in parts {
                    if HOSTS_LOCAL.contains(&name) {
                        continue;
                    }
                    match normalise(name) {
                        Ok(d) => out.push(&d, false),
                        Err(m) => err(&mut out, n, format!("`{name}`: {m}")),
                    }
                }
            }
            ListFormat::Domains => {
                if content.split_whitespace().count() != 1 {
                    err(&mut out, n, "expected one domain per line".into());
                    continue;
                }
                match normalise(content) {
                    Ok(d) => out.push(&d, false),
                    Err(m) => err(&mut out, n, format!("`{content}`: {m}")),
                }
            }
            ListFormat::Adblock => {
                let (allow, rest) = match content.strip_prefix("@@") {
                    Some(r) => (true, r),
                    None => (false, content),
                };
                let Some(body) = rest.strip_prefix("||") else {
                    err(
                        &mut out,
                        n,
                        "unsupported adblock rule (only ||name^ and @@||name^)".into(),
                    );
                    continue;
                };
                let (name, modifiers) = match body.split_once('^') {
                    Some((name, tail)) => (name, tail),
                    None => (body, ""),
                };
                // modifiers that only narrow to other clients/types make the rule not plain: skip them
                let modifiers = modifiers.trim_start_matches('|');
                if !modifiers.is_empty() && modifiers != "$important" {
                    err(
                        &mut out,
                        n,
                        format!("modifier `{modifiers}` not supported; rule skipped"),
                    );
                    continue;
                }
                if name.contains('*') || name.contains('/') {
                    err(
                        &mut out,
                        n,
                        "wildcards and paths are not DNS rules; rule skipped".into(),
                    );
                    continue;
                }
                match normalise(name) {
                    Ok(d) => out.push(&d, allow),
                    Err(m) => err(&mut out, n, format!("`{name}`: {m}")),
                }
            }
        }
    }
    out.format = fmt;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The bare-name fast path changes nothing: rules, errors and their
        /// lines are what the general path gives, for lines of every kind.
        #[test]
        fn fast_path_agrees(
            lines in proptest::collection::vec(
                proptest::prop_oneof![
                    "[a-z0-9]{1,8}(\\.[a-z0-9_-]{1,8}){0,3}",
                    "[a-zA-Z0-9._*#! -]{0,14}",
                    "[a-z]{1,5}\\.[a-z]{2,3}\\.?",
                ],
                0..40,
            ),
            format in proptest::prop_oneof![
                proptest::strategy::Just(ListFormat::Domains),
                proptest::strategy::Just(ListFormat::Auto),
                proptest::strategy::Just(ListFormat::Hosts),
            ],
        ) {
            let text = lines.join("\n");
            let fast = parse_with(text.as_bytes(), format, true);
            let slow = parse_with(text.as_bytes(), format, false);
            proptest::prop_assert_eq!(fast, slow);
        }
    }

    #[test]
    fn hosts_domains_and_adblock() {
        let hosts = "# comment\n0.0.0.0 tiktok.com www.tiktok.com # trailing\n127.0.0.1 localhost\n10.0.0.1 intranet.example\n0.0.0.0 bad_name!\n";
        let p = parse(hosts.as_bytes(), ListFormat::Auto);
        assert_eq!(p.format, Some(ListFormat::Hosts));
        assert_eq!(
            p.rules().collect::<Vec<_>>(),
            [ListRule::Block("tiktok.com"), ListRule::Block("www.tiktok.com")]
        );
        assert_eq!(p.skipped, 2);
        assert_eq!(p.errors[0].line, 4);
        assert_eq!(p.errors[1].line, 5);

        let plain = "TikTok.com.\n\nsnssdk.com\n*.byteoversea.com\nnot a domain\n";
        let p = parse(plain.as_bytes(), ListFormat::Auto);
        assert_eq!(p.len(), 3);
        let rules: Vec<_> = p.rules().collect();
        assert_eq!(rules[0], ListRule::Block("tiktok.com"));
        assert_eq!(rules[2], ListRule::Block("byteoversea.com"));
        assert_eq!(p.errors[0].line, 5);

        let adb = "! Title: test\n[Adblock Plus 2.0]\n||tiktok.com^\n@@||ads.tiktok.com^\n||x.com^$client=1.2.3.4\n/regex/\n||a.b^|\n";
        let p = parse(adb.as_bytes(), ListFormat::Auto);
        assert_eq!(p.format, Some(ListFormat::Adblock));
        assert_eq!(
            p.rules().collect::<Vec<_>>(),
            [
                ListRule::Block("tiktok.com"),
                ListRule::Allow("ads.tiktok.com"),
                ListRule::Block("a.b")
            ]
        );
        assert_eq!(p.skipped, 2);
    }

    #[test]
    fn garbage_never_panics() {
        let junk: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for f in [
            ListFormat::Auto,
            ListFormat::Hosts,
            ListFormat::Domains,
            ListFormat::Adblock,
        ] {
            let _ = parse(&junk[..], f);
        }
    }
}
