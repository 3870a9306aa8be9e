//! URLs, domains and IP addresses embedded in code and resources.
//!
//! Heuristics (documented in `docs/appscan.md`):
//! - URLs: `scheme://…` for http(s), ws(s), ftp, anywhere in a string.
//! - Domains: hosts of those URLs, plus strings that are *entirely* a host
//!   name whose last label is a common TLD and whose first label is not a
//!   Java package root (`java.io`, `android.net` are not domains).
//! - IPs: IPv4 hosts of URLs and strings that are entirely `a.b.c.d[:port]`,
//!   excluding 0/8, 127/8, 255.255.255.255 and the app's own version string.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;

/// Network indicators of a package.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NetworkIndicators {
    /// Distinct URLs, sorted (at most [`MAX_KEPT`]).
    pub urls: Vec<String>,
    /// Distinct lower-case host names, sorted.
    pub domains: Vec<String>,
    /// Distinct IPv4 addresses, sorted.
    pub ips: Vec<String>,
    /// URLs with a plain `http://` or `ws://` scheme to a non-local host.
    pub cleartext_urls: Vec<String>,
}

/// Most entries kept per list.
pub const MAX_KEPT: usize = 10_000;

const TLDS: &[&str] = &[
    "com", "net", "org", "io", "cn", "ru", "de", "uk", "fr", "jp", "kr", "in", "br", "info", "biz", "co", "me", "tv",
    "cc", "us", "eu", "xyz", "app", "dev", "cloud", "top", "site", "online", "ai", "ly", "gl", "gd", "to", "sh", "be",
    "nl", "it", "es", "pl", "se", "ch", "at", "au", "ca", "tw", "hk", "sg", "vn", "id", "th", "tr", "ir", "ua", "kz",
    "my", "ph", "mx", "ar", "cl", "gov", "edu", "mobi", "link", "live", "tech", "store", "shop", "news", "games", "so",
    "im", "fm", "ms",
];

const PACKAGE_ROOTS: &[&str] = &[
    // Android system property prefixes (`ro.build.display.id`)
    "ro",
    "persist",
    "sys",
    "vendor",
    "debug",
    "gsm",
    "wifi",
    "init",
    "service",
    "log",
    "java",
    "javax",
    "android",
    "androidx",
    "dalvik",
    "kotlin",
    "kotlinx",
    "sun",
    "junit",
    "org",
    "com",
    "net",
    "io",
    "libcore",
    "jdk",
    "okhttp3",
    "retrofit2",
    "rx",
    "reactivex",
];

fn url_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r#"(?i)\b(?:https?|wss?|ftp)://[^\s"'<>\\^`{|}\x00-\x1f]{1,2048}"#)
            .unwrap_or_else(|_| unreachable_regex())
    })
}

fn host_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}$").unwrap_or_else(|_| unreachable_regex())
    })
}

/// A regex that never matches, used only if a constant pattern failed to
/// compile (it cannot; this keeps the code free of `unwrap`).
pub(crate) fn unreachable_regex() -> Regex {
    #[allow(clippy::unwrap_used)]
    Regex::new(r"[^\s\S]").unwrap()
}

/// Collects indicators from many strings.
#[derive(Debug, Default)]
pub struct NetworkCollector {
    urls: BTreeSet<String>,
    domains: BTreeSet<String>,
    ips: BTreeSet<String>,
    exclude: BTreeSet<String>,
}

impl NetworkCollector {
    /// A collector that ignores the given strings as IPs (e.g. the version name).
    pub fn new(exclude_as_ip: impl IntoIterator<Item = String>) -> Self {
        NetworkCollector {
            exclude: exclude_as_ip.into_iter().collect(),
            ..Default::default()
        }
    }

    /// Looks at one string (a DEX string, a line of a text asset, a C string).
    pub fn add(&mut self, s: &str) {
        if s.len() < 4 {
            return;
        }
        if s.contains("://") {
            for m in url_re().find_iter(s) {
                let url = m.as_str().trim_end_matches(['.', ',', ')', ';', ']']);
                if let Some(host) = url_host(url) {
                    let accepted = if let Ok(ip) = host.parse::<Ipv4Addr>() {
                        if interesting_ip(ip) {
                            self.ips.insert(ip.to_string());
                        }
                        true
                    } else if host.contains('.') && host_re().is_match(&host) && plausible_tld(&host) {
                        self.domains.insert(host);
                        true
                    } else {
                        host == "localhost"
                    };
                    if accepted && self.urls.len() < MAX_KEPT {
                        self.urls.insert(url.to_string());
                    }
                }
            }
            return;
        }
        if s.len() > 253 || !s.contains('.') {
            return;
        }
        let (host_part, _) = s.split_once(':').unwrap_or((s, ""));
        if let Ok(ip) = host_part.parse::<Ipv4Addr>() {
            // Bare dotted quads that are X.509/ASN.1 OIDs (2.5.29.14, 1.2.840.x) are not IPs.
            let oid_like = ["0.", "1.2.", "1.3.", "2.5.", "2.16."].iter().any(|p| s.starts_with(p));
            if interesting_ip(ip) && !oid_like && !self.exclude.contains(s) && self.ips.len() < MAX_KEPT {
                self.ips.insert(ip.to_string());
            }
            return;
        }
        let lower = s.to_ascii_lowercase();
        if !host_re().is_match(&lower) {
            return;
        }
        let first = lower.split('.').next().unwrap_or("");
        let tld = lower.rsplit('.').next().unwrap_or("");
        if TLDS.contains(&tld)
            && !PACKAGE_ROOTS.contains(&first)
            && s.chars().all(|c| !c.is_ascii_uppercase())
            && self.domains.len() < MAX_KEPT
        {
            self.domains.insert(lower);
        }
    }

    /// The sorted indicators.
    pub fn finish(self) -> NetworkIndicators {
        let cleartext_urls = self
            .urls
            .iter()
            .filter(|u| {
                let l = u.to_ascii_lowercase();
                (l.starts_with("http://") || l.starts_with("ws://"))
                    && url_host(u).is_some_and(|h| {
                        h != "localhost"
                            && !h.starts_with("127.")
                            && h != "schemas.android.com"
                            && !h.ends_with("w3.org")
                            && h != "ns.adobe.com"
                            && h != "xml.org"
                            && h != "apache.org"
                            && h != "www.apache.org"
                    })
            })
            .cloned()
            .collect();
        NetworkIndicators {
            urls: self.urls.into_iter().collect(),
            domains: self.domains.into_iter().collect(),
            ips: self.ips.into_iter().collect(),
            cleartext_urls,
        }
    }
}

/// A URL host counts as a domain when its last label is a known TLD or a
/// two-letter country code (`http://javax.xml.transform.dom.DOMResult/feature`
/// is a JAXP feature name, not a host).
fn plausible_tld(host: &str) -> bool {
    let tld = host.rsplit('.').next().unwrap_or("");
    TLDS.contains(&tld) || tld.len() == 2
}

/// The lower-case host of a URL (no user info, port or path).
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split(']').next()?.trim_start_matches('[')
    } else {
        host.split(':').next()?
    };
    if host.is_empty() {
        None
    } else {
        Some(host.to_ascii_lowercase())
    }
}

fn interesting_ip(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(o[0] == 0 || o[0] == 127 || ip.is_broadcast())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_urls_domains_ips() {
        let mut c = NetworkCollector::new(["1.0.0.68".to_string()]);
        for s in [
            "see https://api.example.com/v1?x=1 now",
            "http://198.51.100.3:8080/x",
            "tracker.appsflyer.com",
            "java.io",
            "android.intent.action.MAIN",
            "com.example.Foo",
            "1.0.0.68",
            "8.8.8.8",
            "127.0.0.1",
            "2.5.29.14",
            "http://javax.xml.transform.dom.DOMResult/feature",
            "ro.build.display.id",
        ] {
            c.add(s);
        }
        let n = c.finish();
        assert_eq!(n.domains, vec!["api.example.com", "tracker.appsflyer.com"]);
        assert_eq!(n.ips, vec!["198.51.100.3", "8.8.8.8"]);
        assert_eq!(n.cleartext_urls, vec!["http://198.51.100.3:8080/x"]);
    }
}
