#!/usr/bin/env python3
"""Generate the bypass entries of the bundled catalog (crates/catalog/data/bypass/*.toml).

Reads the sourced lists in ../shared/data/domains (relative to the repository root):

  chromium-doh-providers.tsv              Chromium's DoH provider table (BSD-3-Clause)
  nextdns-dns-bypass-methods.txt          NextDNS "Block Bypass Methods" lists (MIT), per section
  dibdot-doh-domains.txt                  dibdot DoH hostnames (GPL-3.0, names used as facts)
  bypass-canaries.txt                     canary / DDR names with their primary sources

and writes one TOML file per bypass method, each with a header naming the
sources, their commits and licences. The output is deterministic: names are
lowercased, validated against the catalog's domain rules (docs/catalog.md),
deduplicated, names already covered by a listed parent domain are dropped, and
everything is sorted. Invalid lines are skipped and reported on stderr.

Deliberately NOT used: dibdot's doh-ipv4.txt / doh-ipv6.txt. Many of those
addresses are shared CDN or hosting addresses (Cloudflare, Google, Fastly,
Akamai, cloud VMs); blocking them at the firewall would block ordinary
websites. Only the Chromium table's own resolver service IPs become
ip_prefixes. See crates/catalog/data/README.md.

Usage:  python3 scripts/gen-bypass-catalog.py [--check]
        --check   do not write; exit 1 if the committed files differ
"""

from __future__ import annotations

import ipaddress
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SRC = (ROOT / ".." / "shared" / "data" / "domains").resolve()
OUT = ROOT / "crates" / "catalog" / "data" / "bypass"

# Kept in step with crates/catalog/src/domain.rs (GENERIC_APEXES, PUBLIC_SUFFIXES).
GENERIC_APEXES = {
    "akadns.net", "akamai.net", "akamaiedge.net", "akamaihd.net", "akamaized.net",
    "akamaitechnologies.com", "edgekey.net", "edgesuite.net", "fastly.net", "fastlylb.net",
    "map.fastly.net", "global.fastly.net", "cloudflare.net", "cdn.cloudflare.net",
    "cloudflare.com", "cloudfront.net", "amazonaws.com", "awsglobalaccelerator.com",
    "azureedge.net", "azurefd.net", "trafficmanager.net", "cloudapp.net", "windows.net",
    "googleusercontent.com", "googlehosted.com", "gvt1.com", "1e100.net", "llnwd.net",
    "llnwi.net", "edgecastcdn.net", "systemcdn.net", "cdn77.org", "cdn77.net", "b-cdn.net",
    "jsdelivr.net", "myqcloud.com", "tencent-cloud.net", "cdn20.com", "wsdvs.com",
    "wscdns.com", "chinanetcenter.com", "swiftserve.com", "qlivecdn.com", "ecdnx.com",
    "alicdn.com", "alikunlun.com", "kunlunca.com", "aliyuncs.com", "mncdn.com",
    "rocket-cdn.com", "tlivepush.com", "queniuaa.com", "worldfcdn.com", "worldfcdn2.com",
    "atomile.com", "ttdns2.com", "ttdns3.com", "herokuapp.com", "github.io", "netlify.app",
    "vercel.app", "pages.dev", "workers.dev", "appspot.com", "firebaseapp.com", "web.app",
}
PUBLIC_SUFFIXES = {
    "co.uk", "org.uk", "gov.uk", "ac.uk", "me.uk", "com.au", "net.au", "org.au", "gov.au",
    "edu.au", "co.nz", "org.nz", "co.jp", "ne.jp", "or.jp", "co.kr", "or.kr", "com.cn", "net.cn",
    "org.cn", "gov.cn", "com.hk", "com.tw", "com.sg", "com.my", "co.in", "net.in", "org.in",
    "com.br", "com.mx", "com.ar", "com.tr", "co.za", "com.sa", "co.id", "com.vn", "com.ph",
    "co.th", "in.th", "com.ua", "com.ru", "eu.org", "co.il",
}
LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")

# Names with their own dedicated entry (and answer); kept out of the catch-all lists.
RESERVED = {"use-application-dns.net", "mask.icloud.com", "mask-h2.icloud.com",
            "mask-canary.icloud.com", "_dns.resolver.arpa"}

PROBLEMS: list[str] = []


def problem(where: str, line: str, why: str) -> None:
    PROBLEMS.append(f"{where}: skipped {line!r}: {why}")


def check_name(name: str) -> str | None:
    """Why `name` cannot be a block rule, or None if it can."""
    if not name or len(name) > 253:
        return "empty or longer than 253 octets"
    if name.endswith("."):
        return "trailing dot"
    labels = name.split(".")
    if len(labels) < 2:
        return "single label (a top-level domain)"
    for label in labels:
        if not LABEL.match(label):
            return f"label {label!r} is not letters, digits, '-', '_' (at most 63)"
    if name in GENERIC_APEXES:
        return "generic CDN/cloud/DNS-provider apex"
    if name in PUBLIC_SUFFIXES:
        return "public suffix"
    return None


def clean(raw: list[tuple[str, str]], where: str, reserved_ok: bool = False) -> list[str]:
    """Lowercase, validate, deduplicate, drop names covered by a listed parent, sort."""
    names = set()
    for line, name in raw:
        name = name.strip().lower()
        why = check_name(name)
        if why:
            problem(where, line, why)
            continue
        if name in RESERVED and not reserved_ok:
            problem(where, line, "has its own dedicated entry (see canary.toml / private-relay.toml)")
            continue
        names.add(name)
    return sorted(n for n in names if not any(n.endswith("." + p) for p in names if p != n))


def clean_exact(raw: list[tuple[str, str]], where: str) -> list[str]:
    names = set()
    for line, name in raw:
        name = name.strip().lower()
        why = check_name(name)
        if why:
            problem(where, line, why)
        elif name in RESERVED:
            problem(where, line, "has its own dedicated entry (see canary.toml / private-relay.toml)")
        else:
            names.add(name)
    return sorted(names)


def header_fields(path: Path) -> dict[str, str]:
    """`# Key: value` lines at the top of a shared list."""
    fields = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        m = re.match(r"#\s*([A-Za-z ]+?):\s*(.*)$", line)
        if m:
            fields[m.group(1).strip().lower()] = m.group(2).strip()
    return fields


def list_lines(path: Path) -> list[tuple[str, str]]:
    """(original line, name) for every non-comment line; inline '#' comments dropped."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        body = line.split("#", 1)[0].strip()
        if body:
            out.append((line, body.split()[0]))
    return out


def nextdns_sections(path: Path) -> dict[str, list[tuple[str, str]]]:
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^#{8}\s+(\S+)", line)
        if m:
            current = m.group(1)
            sections[current] = []
            continue
        body = line.split("#", 1)[0].strip()
        if body and current:
            sections[current].append((line, body.split()[0]))
    return sections


def q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def arr(items: list[str], indent: str = "") -> str:
    if not items:
        return "[]"
    if len(items) <= 3 and sum(len(i) for i in items) < 70:
        return "[" + ", ".join(q(i) for i in items) + "]"
    return "[\n" + "".join(f"{indent}  {q(i)},\n" for i in items) + f"{indent}]"


def app_block(id_: str, name: str, category: str, description: str, method: str,
              answer: str | None, networks: list[dict]) -> str:
    out = [
        "[[app]]",
        f"id = {q(id_)}",
        f"name = {q(name)}",
        'kind = "bypass"',
        f"categories = [{q(category)}]",
        f"description = {q(description)}",
        "",
        "[app.bypass]",
        f"method = {q(method)}",
    ]
    if answer:
        out.append(f"answer = {q(answer)}")
    for net in networks:
        out += ["", "[[app.network]]"]
        for field in ("domains", "exact", "ip_prefixes"):
            if net.get(field):
                out.append(f"{field} = {arr(net[field])}")
        if net.get("note"):
            out.append(f"note = {q(net['note'])}")
        out.append(f"sources = {arr(net['sources'])}")
    return "\n".join(out) + "\n"


def source_block(s: dict) -> str:
    out = ["[[source]]"]
    for key in ("id", "url", "title", "publisher"):
        if s.get(key):
            out.append(f"{key} = {q(s[key])}")
    out.append(f"date = {s['date']}")
    out.append(f"kind = {q(s['kind'])}")
    out.append(f"confidence = {q(s['confidence'])}")
    if s.get("license"):
        out.append(f"license = {q(s['license'])}")
    if s.get("note"):
        out.append(f"note = {q(s['note'])}")
    return "\n".join(out) + "\n"


def camel_words(s: str) -> list[str]:
    return re.findall(r"[A-Z]+(?![a-z])|[A-Z][a-z]*|[a-z]+|[0-9]+", s)


def slug(pid: str) -> str:
    """Readable id part for a Chromium provider id: CleanBrowsingAdult -> cleanbrowsing-adult."""
    s = pid
    for brand in ("CleanBrowsing", "OpenDNS", "NextDns", "DNS4EU", "Quad9", "Dns64", "Cznic", "Dnssb"):  # brand names kept whole
        s = s.replace(brand, "-" + brand.lower() + "-")
    parts = [w.lower() for w in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", s)]
    return "-".join(p for p in "-".join(parts).split("-") if p)


# Display names for Chromium provider ids whose CamelCase split is not what users know.
PROVIDER_NAMES = {
    "Cznic": "CZ.NIC ODVR", "Dnssb": "DNS.SB", "Iij": "IIJ Public DNS", "NextDns": "NextDNS",
    "OpenDNS": "OpenDNS", "OpenDNSFamily": "OpenDNS FamilyShield", "GoogleDns64": "Google Public DNS64",
    "DNS4EU": "DNS4EU (protective)", "Quad9Cdn": "Quad9 (ECS)", "Quad9Insecure": "Quad9 (unfiltered)",
    "Quad9Secure": "Quad9 (filtered)", "Google": "Google Public DNS", "Cloudflare": "Cloudflare 1.1.1.1",
    "CloudflareFamily": "Cloudflare 1.1.1.1 for Families (malware and adult)",
    "CloudflareSecurity": "Cloudflare 1.1.1.1 for Families (malware)",
    "CleanBrowsingAdult": "CleanBrowsing Adult Filter", "CleanBrowsingFamily": "CleanBrowsing Family Filter",
    "CleanBrowsingSecure": "CleanBrowsing Security Filter", "Comcast": "Comcast Xfinity DNS",
    "Cox": "Cox DNS", "Levonet": "Levonet", "Quickline": "Quickline", "Spectrum1": "Spectrum DNS (doh-01)",
    "Spectrum2": "Spectrum DNS (doh-02)",
}


def chromium(path: Path) -> tuple[list[str], dict]:
    fields = {}
    for line in path.read_text(encoding="utf-8").splitlines()[:4]:
        m = re.search(r"commit:\s*([0-9a-f]{40})", line)
        if m:
            fields["commit"] = m.group(1)
        m = re.search(r"source:\s*(\S+)", line)
        if m:
            fields["url"] = m.group(1)
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        cols = line.split("\t")
        cols += [""] * (5 - len(cols))
        pid, template, dot, ips, _state = cols[:5]
        where = f"chromium-doh-providers.tsv[{pid}]"
        host = urlsplit(template.replace("{?dns}", "")).hostname or ""
        names = [(line, host)] + [(line, h) for h in dot.split(",") if h.strip()]
        domains = clean(names, where)
        prefixes = set()
        ips = re.sub(r"^\([^)]*\)\s*", "", ips.strip())
        for ip in ips.split(","):
            ip = ip.strip()
            if not ip:
                continue
            try:
                addr = ipaddress.ip_address(ip)
            except ValueError:
                problem(where, ip, "not an IP address")
                continue
            prefixes.add(f"{addr.compressed}/{addr.max_prefixlen}")
        prefixes = sorted(prefixes, key=lambda p: (ipaddress.ip_network(p).version, ipaddress.ip_network(p)))
        slug_ = slug(pid)
        name = PROVIDER_NAMES.get(pid, " ".join(camel_words(pid)))
        net = {"domains": domains, "sources": ["chromium-doh-providers"],
               "note": f"DoH template host{' and DoT hostnames' if dot.strip() else ''}"
                       + (" and the resolver's own service addresses (/32, /128) from Chromium's table" if prefixes else "")}
        if prefixes:
            net["ip_prefixes"] = prefixes
        entries.append(app_block(
            f"doh-{slug_}", name, "encrypted-dns",
            f"Public encrypted-DNS resolver known to Chromium ({pid}); Chrome auto-upgrades its classic resolver addresses to this DoH endpoint.",
            "encrypted-dns", None, [net]))
    return entries, fields


def main() -> int:
    check = "--check" in sys.argv[1:]
    if not SRC.is_dir():
        print(f"error: {SRC} not found (expected ../shared/data/domains beside the repository)", file=sys.stderr)
        return 2

    nx_path = SRC / "nextdns-dns-bypass-methods.txt"
    nx = header_fields(nx_path)
    nx_commit = re.search(r"[0-9a-f]{40}", nx.get("source commit", "")).group(0)
    sections = nextdns_sections(nx_path)
    dib_path = SRC / "dibdot-doh-domains.txt"
    dib = header_fields(dib_path)
    dib_commit = re.search(r"[0-9a-f]{40}", dib.get("source commit", "")).group(0)
    chromium_entries, chrom = chromium(SRC / "chromium-doh-providers.tsv")

    sources = [
        {"id": "chromium-doh-providers",
         "url": f"https://github.com/chromium/chromium/blob/{chrom['commit']}/net/dns/public/doh_provider_entry.cc",
         "title": "Chromium DoH provider table (doh_provider_entry.cc)", "publisher": "The Chromium Authors",
         "date": "2026-11-22", "kind": "vendor", "confidence": "high", "license": "BSD-3-Clause",
         "note": f"Commit {chrom['commit']}. Provider ids, DoH templates, DoT hostnames and classic resolver IPs; via ../shared/data/domains/chromium-doh-providers.tsv."},
        {"id": "nextdns-dns-bypass-methods",
         "url": f"https://github.com/nextdns/dns-bypass-methods/tree/{nx_commit}",
         "title": "NextDNS 'Block Bypass Methods' lists (encrypted-dns, vpn, proxies, tor, browsers, linux, apple-private-relay)",
         "publisher": "NextDNS", "date": "2023-01-20", "kind": "community-list", "confidence": "medium",
         "license": "MIT",
         "note": f"Commit {nx_commit} (repository last updated January 2023). Each name blocks the name and all subdomains; via ../shared/data/domains/nextdns-dns-bypass-methods.txt."},
        {"id": "dibdot-doh-domains",
         "url": f"https://github.com/dibdot/DoH-IP-blocklists/blob/{dib_commit}/doh-domains.txt",
         "title": "DoH-IP-blocklists: doh-domains.txt (public DoH server hostnames)", "publisher": "dibdot",
         "date": "2026-08-22", "kind": "community-list", "confidence": "medium",
         "license": "GPL-3.0 (hostnames used as facts)",
         "note": f"Commit {dib_commit}. Hostnames of public DoH servers that resolved at the time; used as exact names. The project's IP lists are deliberately not used (shared CDN addresses)."},
        {"id": "mozilla-canary",
         "url": "https://support.mozilla.org/en-US/kb/canary-domain-use-application-dnsnet",
         "title": "Canary domain - use-application-dns.net", "publisher": "Mozilla", "date": "2026-11-22",
         "kind": "vendor", "confidence": "high",
         "note": "A resolver that answers NXDOMAIN (or no address) for use-application-dns.net keeps Firefox's default-on DoH disabled on that network."},
        {"id": "apple-private-relay-network",
         "url": "https://developer.apple.com/support/prepare-your-network-for-icloud-private-relay/",
         "title": "Prepare your network or web server for iCloud Private Relay", "publisher": "Apple",
         "date": "2026-11-22", "kind": "vendor", "confidence": "high",
         "note": "A fast negative answer (NXDOMAIN or no answer) for mask.icloud.com and mask-h2.icloud.com tells devices Private Relay is unavailable on the network."},
        {"id": "adguard-icloud-private-relay",
         "url": "https://github.com/AdguardTeam/AdGuardHome/blob/9800b51e60575ddfebb8ca9c5ede5a26421ed6f9/internal/filtering/servicelist.go",
         "title": "AdGuard Home blocked service 'icloud_private_relay'", "publisher": "AdGuard", "date": "2026-08-05",
         "kind": "community-list", "confidence": "medium", "license": "GPL-3.0 (names used as facts)",
         "note": "Commit 9800b51e60575ddfebb8ca9c5ede5a26421ed6f9; answers NXDOMAIN ($dnsrewrite) for mask.icloud.com, mask-h2.icloud.com and mask-canary.icloud.com."},
        {"id": "rfc9462",
         "url": "https://www.rfc-editor.org/rfc/rfc9462",
         "title": "RFC 9462: Discovery of Designated Resolvers", "publisher": "IETF", "date": "2023-11-01",
         "kind": "vendor", "confidence": "high",
         "note": "Clients query _dns.resolver.arpa (SVCB) to learn the network resolver's own encrypted endpoints; answering NODATA disables the upgrade."},
    ]

    files: dict[str, str] = {}
    gen_note = ("# GENERATED by scripts/gen-bypass-catalog.py from ../shared/data/domains - do not edit by hand.\n"
                "# Regenerate: python3 scripts/gen-bypass-catalog.py\n")

    files["sources.toml"] = (gen_note +
        "# Sources of the bypass entries (declared once; cited from every bypass/*.toml).\n"
        f"#   Chromium doh_provider_entry.cc @ {chrom['commit']} - BSD-3-Clause\n"
        f"#   nextdns/dns-bypass-methods @ {nx_commit} - MIT\n"
        f"#   dibdot/DoH-IP-blocklists doh-domains.txt @ {dib_commit} - GPL-3.0 (names used as facts)\n"
        "#   AdGuardHome servicelist.go @ 9800b51e60575ddfebb8ca9c5ede5a26421ed6f9 - GPL-3.0 (names used as facts)\n\n"
        + "\n".join(source_block(s) for s in sources))

    enc = [
        *chromium_entries,
        app_block("encrypted-dns-nextdns-list", "Encrypted DNS endpoints (NextDNS list)", "encrypted-dns",
                  "Catch-all: DoH/DoT/DNSCrypt endpoints listed by NextDNS's bypass-methods 'encrypted-dns' list.",
                  "encrypted-dns", None,
                  [{"domains": clean(sections.get("encrypted-dns", []), "nextdns encrypted-dns"),
                    "note": "Each name and its subdomains, as NextDNS blocks them.",
                    "sources": ["nextdns-dns-bypass-methods"]}]),
        app_block("encrypted-dns-dibdot-list", "Public DoH servers (dibdot list)", "encrypted-dns",
                  "Catch-all: hostnames of public DoH servers from dibdot's DoH-IP-blocklists (names only; its IP lists are not used).",
                  "encrypted-dns", None,
                  [{"exact": clean_exact(list_lines(dib_path), "dibdot doh-domains"),
                    "note": "Exact names: the list holds server hostnames, several of which are the apex of a domain that also hosts unrelated services, so subdomains are not blocked.",
                    "sources": ["dibdot-doh-domains"]}]),
    ]
    files["encrypted-dns.toml"] = (gen_note +
        f"# Sources: Chromium doh_provider_entry.cc @ {chrom['commit']} (BSD-3-Clause);\n"
        f"#          nextdns/dns-bypass-methods encrypted-dns @ {nx_commit} (MIT);\n"
        f"#          dibdot/DoH-IP-blocklists doh-domains.txt @ {dib_commit} (GPL-3.0, names used as facts).\n"
        "# dibdot's doh-ipv4.txt / doh-ipv6.txt are NOT used: many of those addresses are shared CDN or\n"
        "# hosting addresses and blocking them would block ordinary websites.\n\n"
        + "\n".join(enc))

    files["vpn.toml"] = (gen_note + f"# Source: nextdns/dns-bypass-methods 'vpn' @ {nx_commit} (MIT).\n\n" +
        app_block("vpn-services", "Commercial VPN services (NextDNS list)", "vpn-proxy",
                  "Websites, APIs and server domains of consumer VPN services, from NextDNS's bypass-methods 'vpn' list.",
                  "vpn", None,
                  [{"domains": clean(sections.get("vpn", []), "nextdns vpn"),
                    "note": "Each name and its subdomains. Vendor websites are included: an organisation that licenses one of these products for its own use must allow it explicitly.",
                    "sources": ["nextdns-dns-bypass-methods"]}]))

    files["proxy.toml"] = (gen_note + f"# Source: nextdns/dns-bypass-methods 'proxies' and 'browsers' @ {nx_commit} (MIT).\n\n" +
        app_block("web-proxies", "Web proxies and unblockers (NextDNS list)", "vpn-proxy",
                  "Web proxy and unblocker sites and proxy lists, from NextDNS's bypass-methods 'proxies' list.",
                  "proxy", None,
                  [{"domains": clean(sections.get("proxies", []), "nextdns proxies"),
                    "note": "Each name and its subdomains.",
                    "sources": ["nextdns-dns-bypass-methods"]}]) + "\n" +
        app_block("browsers-with-builtin-vpn", "Browsers with a built-in VPN or proxy (NextDNS list)", "vpn-proxy",
                  "Domains of browsers that ship a built-in VPN, proxy or encrypted DNS (Opera, Epic, Tenta, Brave's Tor window, UR), from NextDNS's bypass-methods 'browsers' list.",
                  "proxy", None,
                  [{"domains": clean(sections.get("browsers", []), "nextdns browsers"),
                    "note": "Each name and its subdomains; blocks the vendors' websites and update services too. use-application-dns.net is handled by the firefox-canary entry.",
                    "sources": ["nextdns-dns-bypass-methods"]}]))

    files["tor.toml"] = (gen_note + f"# Source: nextdns/dns-bypass-methods 'tor' and 'linux' @ {nx_commit} (MIT).\n\n" +
        app_block("tor-gateways", "Tor and I2P websites and gateways (NextDNS list)", "tor",
                  "Tor Project sites, onion-to-web gateways and I2P, from NextDNS's bypass-methods 'tor' list.",
                  "tor", None,
                  [{"domains": clean(sections.get("tor", []), "nextdns tor"),
                    "note": "Each name and its subdomains. Tor relays and bridges are reached by IP address; DNS blocking only stops downloads and gateways.",
                    "sources": ["nextdns-dns-bypass-methods"]}]) + "\n" +
        app_block("privacy-linux-distributions", "Privacy-oriented Linux distributions (NextDNS list)", "tor",
                  "Download sites of live Linux distributions built for anonymous browsing (Tails, Whonix, Parrot, ...), from NextDNS's bypass-methods 'linux' list.",
                  "tor", None,
                  [{"domains": clean(sections.get("linux", []), "nextdns linux"),
                    "note": "Each name and its subdomains.",
                    "sources": ["nextdns-dns-bypass-methods"]}]))

    relay_names = clean_exact_reserved(sections.get("apple-private-relay", []), "nextdns apple-private-relay")
    files["private-relay.toml"] = (gen_note +
        f"# Sources: Apple 'Prepare your network for iCloud Private Relay'; nextdns/dns-bypass-methods\n"
        f"# 'apple-private-relay' @ {nx_commit} (MIT); AdGuardHome icloud_private_relay service (GPL-3.0, names as facts).\n\n" +
        app_block("icloud-private-relay", "iCloud Private Relay", "private-relay",
                  "Apple's relay service; a negative answer for its bootstrap names makes Apple devices report that Private Relay is unavailable on this network instead of silently bypassing the resolver.",
                  "private-relay", "nxdomain",
                  [{"exact": relay_names,
                    "note": "Apple's two relay bootstrap names, exact.",
                    "sources": ["apple-private-relay-network", "nextdns-dns-bypass-methods"]},
                   {"exact": ["mask-canary.icloud.com"],
                    "note": "Canary name AdGuard also answers NXDOMAIN for.",
                    "sources": ["adguard-icloud-private-relay"]}]))

    files["canary.toml"] = (gen_note +
        "# Sources: Mozilla 'Canary domain - use-application-dns.net'; RFC 9462 (DDR).\n\n" +
        app_block("firefox-canary", "Firefox DoH canary", "dns-canary",
                  "Mozilla's canary name: if the network's resolver answers NXDOMAIN, Firefox keeps its default-on DNS-over-HTTPS off on that network.",
                  "canary", "nxdomain",
                  [{"exact": ["use-application-dns.net"], "sources": ["mozilla-canary", "nextdns-dns-bypass-methods"]}]) + "\n" +
        app_block("ddr-designated-resolvers", "Discovery of Designated Resolvers (DDR)", "dns-canary",
                  "RFC 9462 discovery name: answering NODATA stops clients from upgrading to the resolver's own encrypted endpoints that the filtering resolver may not control.",
                  "ddr", "nodata",
                  [{"exact": ["_dns.resolver.arpa"], "sources": ["rfc9462"]}]))

    OUT.mkdir(parents=True, exist_ok=True)
    differ = False
    for name, text in sorted(files.items()):
        path = OUT / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                print(f"differs: {path.relative_to(ROOT)}", file=sys.stderr)
                differ = True
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)
    for p in PROBLEMS:
        print(p, file=sys.stderr)
    print(f"{len(PROBLEMS)} line(s) skipped", file=sys.stderr)
    return 1 if differ else 0


def clean_exact_reserved(raw: list[tuple[str, str]], where: str) -> list[str]:
    """Exact names for the dedicated Private Relay entry (reserved names allowed)."""
    names = set()
    for line, name in raw:
        name = name.strip().lower()
        why = check_name(name)
        if why:
            problem(where, line, why)
        else:
            names.add(name)
    return sorted(names)


if __name__ == "__main__":
    sys.exit(main())
