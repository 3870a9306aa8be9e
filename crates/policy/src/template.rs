//! `appwarden policy init`: a commented `appwarden.toml` to start from.

use risk::Profile;

/// A commented policy file for `profile`, organisation `name` in `jurisdiction`.
pub fn init_template(
    profile: &Profile,
    name: &str,
    jurisdiction: &str,
    sectors: &[String],
    today: catalog::Day,
) -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let sectors = sectors.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ");
    let mitigations = profile
        .required_mitigations
        .iter()
        .map(|s| q(s))
        .collect::<Vec<_>>()
        .join(", ");
    let expires = today.plus_months(6);
    format!(
        r#"# appwarden policy — what this organisation decides about risky apps, and where it is enforced.
# Check it with `appwarden policy check`, see the result with `appwarden assess` and `appwarden policy plan`.
# Reference: docs/policy.md. Every key below shows its default unless marked "example".

version = 1                              # schema of this file
policy_version = "{today}.1"             # your own label; stamped on every plan and export

[organisation]
name = {name}
# Risk profile: defense-contractor | government | bank | hospital | school | retail | media-agency,
# or a path to your own profile file (see crates/risk/profiles/ for the format).
profile = {profile}
# Where the organisation is (ISO 3166: US, US-TX, DE, GB, AU, CA, …). Decides which laws bind it.
jurisdiction = {jurisdiction}
# Sectors decide which laws bind (gates): government, government-contractor, subnational-government,
# legislature, defence, critical-infrastructure, health, education, finance, retail, media.
sectors = [{sectors}]
# Factor F6 uses these lists; uncomment to replace the profile's defaults.
# jurisdictions_of_concern = ["CN", "HK", "MO", "RU", "IR", "KP", "CU", "VE"]
# adequate_jurisdictions = ["EU", "GB", "US", "CA", "AU", "NZ", "JP", "KR", "CH", "NO"]

[catalog]
# A directory of your own catalog entries, extending the bundled catalog (docs/catalog.md).
# overlay = "catalog.d"

# Groups of devices and networks. Clients matching no group fall into the default group.
# kind: corporate (managed devices, corporate network) | byod (personal devices with a work profile) | guest.
[[group]]
id = "corporate"
kind = "corporate"
default = true
clients = ["10.0.0.0/8"]                 # example: source addresses seen by the resolver
client_ids = []                          # DoH path /dns-query/ID or DoT SNI ID.dns.example
log_only = false                         # true: answer normally and record "would block" (rollout)
# allow_outside_sandbox = "block"        # block (default for corporate and byod) | log-only | allow (default for guest)
block_categories = []                    # e.g. ["vpn-proxy", "ai-assistant"]: block a whole category
log_only_categories = []
allow = []                               # your own allow rules (domain and subdomains); they win over blocks
deny = []                                # your own deny rules

[group.bypass]                           # bypass prevention; all on by default (vpn, proxy, tor off for guest)
firefox_canary = true                    # use-application-dns.net -> NXDOMAIN
private_relay = true                     # mask.icloud.com, mask-h2.icloud.com -> NXDOMAIN
ddr = true                               # _dns.resolver.arpa -> NODATA
encrypted_dns = true                     # public DoH/DoT resolvers blocked
vpn = true
proxy = true
tor = true

[[group]]
id = "byod"
kind = "byod"
clients = ["172.16.0.0/12"]              # example

[[group]]
id = "guest"
kind = "guest"
clients = ["192.168.0.0/16"]             # example

# Per-app overrides: only ever stricter than the assessment. To relax a decision, write an exception.
# [[override]]
# app = "telegram"
# decision = "block"                     # allow_outside_sandbox | block
# log_only = false                       # true: roll out as log-only first
# groups = []                            # default: every group
# reason = "Not needed for work; data-leak risk in group chats"

# Exceptions move an app from block to allow_outside_sandbox for the groups named — never past a gate
# (binding law) unless the instrument allows it (`basis`), never past a malware verdict.
# They need a named approver, an expiry at most {months} months after `granted`, and the mitigations
# your profile requires: [{mitigations}].
# [[exception]]
# app = "tiktok"
# groups = ["guest"]
# approver = "Jane Doe, CISO"
# granted = {today}
# expires = {expires}
# reason = "Marketing publishes the organisation's own videos"
# mitigations = [{mitigations}]
"#,
        name = q(name),
        profile = q(&profile.id),
        jurisdiction = q(jurisdiction),
        months = profile.max_exception_months,
    )
}
