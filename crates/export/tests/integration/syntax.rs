//! Every format accepted by its real tool, for the sample plan under several
//! option sets and for the real bundled plan.

use std::net::{Ipv4Addr, Ipv6Addr};

use export::{BlockedAnswer, Format, LogOnlyMode, Options, PatternFallback, render};
use policy::plan::EnforcementPlan;

use crate::{support, tools};

/// Validates one export with its tool; `false` when no tool could run.
pub fn validate(plan: &EnforcementPlan, format: Format, group: &str, opts: &Options) -> bool {
    let bytes = render(plan, format, group, opts).unwrap();
    let zone = opts
        .rpz_zone
        .clone()
        .unwrap_or_else(|| format!("rpz.appwarden.{}", group.replace('_', "-")));
    match format {
        Format::UnboundLocalZone => tools::check_unbound(&bytes),
        Format::UnboundRpz => tools::check_unbound_rpz(&bytes, &zone),
        Format::BindRpz | Format::PowerdnsRpz => tools::check_bind_zone(&bytes, &zone),
        Format::Dnsmasq => tools::check_dnsmasq(&bytes),
        Format::Squid => tools::check_squid(&bytes),
        Format::Nftables => tools::check_nft(&bytes),
        Format::Iptables => tools::check_ipset(&bytes),
        Format::KnotPolicy => tools::check_kresd(&bytes).is_some(),
        Format::AppleMobileconfig => tools::check_plist(&bytes),
        Format::AmapiPolicy => tools::check_amapi(&bytes),
        Format::IntuneGraph => tools::check_graph(&bytes),
        Format::AppLocker => tools::check_applocker(&bytes),
        // No validator installable here (Suricata, Zeek) or plain lists: the
        // readers in `roundtrip` check them.
        _ => false,
    }
}

fn option_sets() -> Vec<(&'static str, Options)> {
    let mut v = vec![("default", Options::default())];
    v.push((
        "null-ip",
        Options {
            answer: BlockedAnswer::NullIp,
            ..Options::default()
        },
    ));
    v.push((
        "custom-ip",
        Options {
            answer: BlockedAnswer::Ip {
                v4: Ipv4Addr::new(192, 0, 2, 53),
                v6: Some(Ipv6Addr::LOCALHOST),
            },
            ..Options::default()
        },
    ));
    v.push((
        "nodata-enforce-widen",
        Options {
            answer: BlockedAnswer::Nodata,
            log_only: LogOnlyMode::Enforce,
            patterns: PatternFallback::Widen,
            ..Options::default()
        },
    ));
    let mut apple = Options::default();
    apple.apple.allow_list = true;
    apple.apple.legacy_keys = true;
    apple.amapi.allow_list = true;
    apple.amapi.personal_usage = Some(true);
    apple.platform = export::DevicePlatform::Android;
    apple.log_only = LogOnlyMode::Omit;
    v.push(("allow-list-legacy-android-omit", apple));
    v
}

#[test]
fn sample_plan_is_accepted_by_every_available_tool() {
    let plan = support::sample_plan();
    let mut ran = Vec::new();
    for (label, opts) in option_sets() {
        for g in ["corporate", "byod"] {
            for &f in Format::ALL {
                if validate(&plan, f, g, &opts) {
                    ran.push(format!("{f}/{g}/{label}"));
                }
            }
        }
    }
    eprintln!("validated with real tools: {}", ran.len());
}

#[test]
fn real_plan_is_accepted_by_every_available_tool() {
    let Some(plan) = support::real_plan() else {
        return;
    };
    for g in &plan.groups {
        for &f in Format::ALL {
            validate(&plan, f, &g.id, &Options::default());
        }
    }
}
