//! Domain names, wildcard patterns and IP prefixes as the catalog and the
//! policy accept them, and the names that must never be a block rule on their
//! own (generic CDN, cloud and DNS-provider apexes, public suffixes).

use ipnet::IpNet;

/// Apexes shared by many unrelated customers of a CDN, cloud or DNS
/// provider. Blocking one of them blocks large parts of the web, so only
/// names *below* them that belong to one app may be listed.
pub const GENERIC_APEXES: &[&str] = &[
    "akadns.net",
    "akamai.net",
    "akamaiedge.net",
    "akamaihd.net",
    "akamaized.net",
    "akamaitechnologies.com",
    "edgekey.net",
    "edgesuite.net",
    "fastly.net",
    "fastlylb.net",
    "map.fastly.net",
    "global.fastly.net",
    "cloudflare.net",
    "cdn.cloudflare.net",
    "cloudflare.com",
    "cloudfront.net",
    "amazonaws.com",
    "awsglobalaccelerator.com",
    "azureedge.net",
    "azurefd.net",
    "trafficmanager.net",
    "cloudapp.net",
    "windows.net",
    "googleusercontent.com",
    "googlehosted.com",
    "gvt1.com",
    "1e100.net",
    "llnwd.net",
    "llnwi.net",
    "edgecastcdn.net",
    "systemcdn.net",
    "cdn77.org",
    "cdn77.net",
    "b-cdn.net",
    "jsdelivr.net",
    "myqcloud.com",
    "tencent-cloud.net",
    "cdn20.com",
    "wsdvs.com",
    "wscdns.com",
    "chinanetcenter.com",
    "swiftserve.com",
    "qlivecdn.com",
    "ecdnx.com",
    "alicdn.com",
    "alikunlun.com",
    "kunlunca.com",
    "aliyuncs.com",
    "mncdn.com",
    "rocket-cdn.com",
    "tlivepush.com",
    "queniuaa.com",
    "worldfcdn.com",
    "worldfcdn2.com",
    "atomile.com",
    "ttdns2.com",
    "ttdns3.com",
    "herokuapp.com",
    "github.io",
    "netlify.app",
    "vercel.app",
    "pages.dev",
    "workers.dev",
    "appspot.com",
    "firebaseapp.com",
    "web.app",
];

/// Multi-label public suffixes (registrable names sit one label below).
/// Any single-label name is treated as a public suffix too.
const PUBLIC_SUFFIXES: &[&str] = &[
    "co.uk", "org.uk", "gov.uk", "ac.uk", "me.uk", "com.au", "net.au", "org.au", "gov.au", "edu.au", "co.nz", "org.nz",
    "co.jp", "ne.jp", "or.jp", "co.kr", "or.kr", "com.cn", "net.cn", "org.cn", "gov.cn", "com.hk", "com.tw", "com.sg",
    "com.my", "co.in", "net.in", "org.in", "com.br", "com.mx", "com.ar", "com.tr", "co.za", "com.sa", "co.id",
    "com.vn", "com.ph", "co.th", "in.th", "com.ua", "com.ru", "eu.org", "co.il",
];

/// Why a name was refused.
pub type Refusal = String;

/// Checks a domain name in the catalog's canonical form: lowercase, no
/// trailing dot, labels of letters, digits, `-` and `_`, at most 63 octets a
/// label, 253 a name, and at least two labels.
pub fn check_domain(name: &str) -> Result<(), Refusal> {
    check_name(name, false)
}

/// Whether `name` is a valid domain: the same answer as
/// [`check_domain`]`(..).is_ok()`, in one pass over the bytes and without
/// the reason (a list load checks a million names this way).
pub fn is_valid_domain(name: &[u8]) -> bool {
    plainly_valid(name, false)
}

/// Checks a wildcard pattern: a domain in which `*` may stand inside labels.
/// The part after the last wildcard label must itself be more than a public
/// suffix or generic apex, so `*.com` and `*.akamaized.net` are refused.
pub fn check_pattern(pattern: &str) -> Result<(), Refusal> {
    if !pattern.contains('*') {
        return Err("a pattern needs a '*' (use `domains` or `exact` for plain names)".into());
    }
    check_name(pattern, true)?;
    let labels: Vec<&str> = pattern.split('.').collect();
    let last_wild = labels.iter().rposition(|l| l.contains('*')).unwrap_or(0);
    let fixed = labels[last_wild + 1..].join(".");
    if fixed.is_empty() || is_public_suffix(&fixed) || is_generic_apex(&fixed) {
        return Err(format!(
            "the pattern's fixed part `{fixed}` is a public suffix or a generic apex: it would match unrelated sites"
        ));
    }
    Ok(())
}

/// One pass over the bytes for the common case, a valid name (list loads
/// check a million of them); anything else takes the checks below, which
/// say what is wrong. Accepts exactly what they accept.
fn plainly_valid(name: &[u8], allow_star: bool) -> bool {
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let mut start = 0;
    let mut labels = 0;
    for i in 0..=name.len() {
        match name.get(i).copied().unwrap_or(b'.') {
            b'.' => {
                let len = i - start;
                if len == 0 || len > 63 || name[start] == b'-' || name[i - 1] == b'-' {
                    return false;
                }
                labels += 1;
                start = i + 1;
            }
            b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => {}
            b'*' if allow_star => {}
            _ => return false,
        }
    }
    labels >= 2
}

fn check_name(name: &str, allow_star: bool) -> Result<(), Refusal> {
    if plainly_valid(name.as_bytes(), allow_star) {
        return Ok(());
    }
    check_name_slowly(name, allow_star)
}

fn check_name_slowly(name: &str, allow_star: bool) -> Result<(), Refusal> {
    if name.is_empty() {
        return Err("empty name".into());
    }
    if name.len() > 253 {
        return Err(format!("name is {} octets long; at most 253", name.len()));
    }
    if name.ends_with('.') {
        return Err("no trailing dot".into());
    }
    let mut labels = 0;
    for label in name.split('.') {
        labels += 1;
        if label.is_empty() {
            return Err("empty label".into());
        }
        if label.len() > 63 {
            let head: String = label.chars().take(16).collect();
            return Err(format!("label `{head}…` is {} octets long; at most 63", label.len()));
        }
        for c in label.chars() {
            let ok = c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' || (allow_star && c == '*');
            if !ok {
                return Err(if c.is_ascii_uppercase() {
                    format!("`{c}`: names are lowercase")
                } else {
                    format!("character {c:?} is not allowed in a name")
                });
            }
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label `{label}` starts or ends with '-'"));
        }
    }
    if labels < 2 {
        return Err("a single label is a top-level domain".into());
    }
    Ok(())
}

/// Whether `name` is a public suffix (a TLD, or one of the multi-label suffixes).
pub fn is_public_suffix(name: &str) -> bool {
    !name.contains('.') || PUBLIC_SUFFIXES.contains(&name)
}

/// Whether `name` is exactly one of the generic apexes.
pub fn is_generic_apex(name: &str) -> bool {
    GENERIC_APEXES.contains(&name)
}

/// Checks a name used as a block rule (domain, exact name or CNAME target):
/// a valid name that is not a public suffix or generic apex on its own.
pub fn check_block_rule(name: &str) -> Result<(), Refusal> {
    check_domain(name)?;
    if is_generic_apex(name) {
        return Err(format!(
            "`{name}` is a generic CDN/cloud/DNS-provider apex shared by unrelated sites; list the app's own names below it instead"
        ));
    }
    if is_public_suffix(name) {
        return Err(format!("`{name}` is a public suffix"));
    }
    Ok(())
}

/// Parses an IP prefix and refuses host bits (`192.0.2.1/24`).
pub fn check_prefix(prefix: &str) -> Result<IpNet, Refusal> {
    let net: IpNet = prefix
        .parse()
        .map_err(|_| format!("`{prefix}` is not an IP prefix (ADDRESS/LENGTH)"))?;
    if net.trunc() != net {
        return Err(format!("`{prefix}` has host bits set; the network is {}", net.trunc()));
    }
    Ok(net)
}

/// Matches a wildcard pattern against a name; `*` matches one or more
/// characters other than `.`.
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'*', rest)) => {
                // at least one non-dot character
                let mut i = 0;
                while i < n.len() && n[i] != b'.' {
                    i += 1;
                    if go(rest, &n[i..]) {
                        return true;
                    }
                }
                false
            }
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// Whether `name` is `domain` or one of its subdomains.
pub fn is_subdomain_or_self(name: &str, domain: &str) -> bool {
    name == domain
        || (name.len() > domain.len()
            && name.ends_with(domain)
            && name.as_bytes()[name.len() - domain.len() - 1] == b'.')
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        /// The one-pass check accepts exactly the names the full checks accept.
        #[test]
        fn fast_path_agrees(
            name in "[a-zA-Z0-9._*é -]{0,12}|([a-z0-9_*-]{1,4}\\.){0,3}[a-zA-Z0-9*-]{0,4}\\.?|[a-z]{60,66}\\.[a-z]{2}",
            star in proptest::bool::ANY,
        ) {
            proptest::prop_assert_eq!(
                super::plainly_valid(name.as_bytes(), star),
                super::check_name_slowly(&name, star).is_ok(),
                "{:?}", name
            );
        }
    }

    use super::*;

    #[test]
    fn accepts_ordinary_and_underscore_names() {
        assert!(check_domain("tiktokv.com").is_ok());
        assert!(check_domain("_dns.resolver.arpa").is_ok());
        assert!(check_domain("p16-tiktokcdn-com.akamaized.net").is_ok());
    }

    #[test]
    fn refuses_malformed_names() {
        for bad in [
            "",
            "com",
            "TikTok.com",
            "tiktok.com.",
            "a..b",
            "-a.com",
            "a-.com",
            "tik tok.com",
            "tiktok.com\nlocal-zone",
            "a\"b.com",
            "a;b.com",
            "tïktok.com",
        ] {
            assert!(check_domain(bad).is_err(), "{bad:?} accepted");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert!(check_domain(&long_label).is_err());
        let long_name = format!("{}com", "abcdefghi.".repeat(26));
        assert!(check_domain(&long_name).is_err());
    }

    #[test]
    fn generic_apexes_and_suffixes_are_not_block_rules() {
        for apex in [
            "akamaized.net",
            "edgesuite.net",
            "fastly.net",
            "cloudflare.net",
            "co.uk",
        ] {
            assert!(check_block_rule(apex).is_err(), "{apex} accepted");
        }
        assert!(check_block_rule("tiktokv.com.edgesuite.net").is_ok());
    }

    #[test]
    fn patterns() {
        assert!(check_pattern("p16-tiktok-*.ibyteimg.com").is_ok());
        assert!(check_pattern("v*.tiktokcdn-eu.com").is_ok());
        assert!(check_pattern("*.com").is_err());
        assert!(check_pattern("*.akamaized.net").is_err());
        assert!(check_pattern("tiktok.com").is_err());
        assert!(pattern_matches(
            "p16-tiktok-*.ibyteimg.com",
            "p16-tiktok-va.ibyteimg.com"
        ));
        assert!(!pattern_matches(
            "p16-tiktok-*.ibyteimg.com",
            "p16-tiktok-.ibyteimg.com"
        ));
        assert!(!pattern_matches(
            "p16-tiktok-*.ibyteimg.com",
            "p16-tiktok-a.b.ibyteimg.com"
        ));
        assert!(pattern_matches("v*.tiktokcdn-eu.com", "v16.tiktokcdn-eu.com"));
    }

    #[test]
    fn prefixes() {
        assert!(check_prefix("192.0.2.0/24").is_ok());
        assert!(check_prefix("2001:db8::/32").is_ok());
        assert!(check_prefix("192.0.2.1/24").is_err());
        assert!(check_prefix("192.0.2.0").is_err());
    }

    #[test]
    fn subdomains() {
        assert!(is_subdomain_or_self("www.tiktok.com", "tiktok.com"));
        assert!(is_subdomain_or_self("tiktok.com", "tiktok.com"));
        assert!(!is_subdomain_or_self("nottiktok.com", "tiktok.com"));
    }
}
