//! Apple configuration profile (`.mobileconfig`, XML plist) with one
//! `com.apple.applicationaccess` payload: `blockedAppBundleIDs` (iOS, iPadOS,
//! tvOS 15+), or in allow-list mode `allowListedAppBundleIDs` from the
//! group's sandbox allow-list. Both need **supervised** devices; the
//! deprecated pre-15 keys (`blacklistedAppBundleIDs`,
//! `whitelistedAppBundleIDs`) are added with `AppleOptions::legacy_keys`.
//! PayloadUUIDs are derived from the identifier and the content, so the same
//! plan gives the same bytes.

use catalog::Platform;
use sha2::{Digest, Sha256};

use super::Ctx;
use crate::names::{self, Counts};
use crate::{ExportError, xml};

/// A plist value.
enum P {
    Str(String),
    Int(i64),
    Bool(bool),
    Arr(Vec<P>),
    Dict(Vec<(&'static str, P)>),
}

fn emit(out: &mut String, v: &P, depth: usize) {
    let ind = "\t".repeat(depth);
    match v {
        P::Str(s) => out.push_str(&format!("{ind}<string>{}</string>\n", xml::escape(s))),
        P::Int(i) => out.push_str(&format!("{ind}<integer>{i}</integer>\n")),
        P::Bool(b) => out.push_str(&format!("{ind}<{}/>\n", if *b { "true" } else { "false" })),
        P::Arr(items) if items.is_empty() => out.push_str(&format!("{ind}<array/>\n")),
        P::Arr(items) => {
            out.push_str(&format!("{ind}<array>\n"));
            for i in items {
                emit(out, i, depth + 1);
            }
            out.push_str(&format!("{ind}</array>\n"));
        }
        P::Dict(entries) => {
            out.push_str(&format!("{ind}<dict>\n"));
            let mut sorted: Vec<&(&str, P)> = entries.iter().collect();
            sorted.sort_by_key(|(k, _)| *k);
            for (k, v) in sorted {
                out.push_str(&format!("{ind}\t<key>{k}</key>\n"));
                emit(out, v, depth + 1);
            }
            out.push_str(&format!("{ind}</dict>\n"));
        }
    }
}

/// A UUID (RFC 9562 version 8, upper case) derived from `seed`.
pub(crate) fn uuid_from(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = crate::hex(&b).to_uppercase();
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

fn valid_reverse_dns(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

pub(crate) fn write(ctx: &Ctx<'_>, counts: &mut Counts) -> Result<Vec<u8>, ExportError> {
    let o = &ctx.opts.apple;
    if !valid_reverse_dns(&o.identifier_prefix) {
        return Err(ExportError::InvalidOption {
            option: "apple.identifier_prefix",
            reason: "a reverse-DNS identifier (letters, digits, '-', dots)".into(),
        });
    }
    let apps = names::device_apps(ctx.plan, ctx.group);
    counts.invalid += apps.invalid;
    counts.log_only_omitted += apps.log_only;
    let g = &ctx.group.id;
    let ident = format!("{}.{g}", o.identifier_prefix);
    let (key, legacy, list, what) = if o.allow_list {
        let mut ids = names::identifiers(&apps.allowed, Platform::IosBundleId);
        for extra in &o.extra_allowed {
            if catalog::check_identifier(Platform::IosBundleId, extra).is_ok() {
                ids.push(extra.clone());
            } else {
                counts.invalid += 1;
            }
        }
        ids.sort();
        ids.dedup();
        ("allowListedAppBundleIDs", "whitelistedAppBundleIDs", ids, "allowed")
    } else {
        (
            "blockedAppBundleIDs",
            "blacklistedAppBundleIDs",
            names::identifiers(&apps.blocked, Platform::IosBundleId),
            "blocked",
        )
    };
    counts.written += list.len();
    let seed = format!("{ident}|{key}|{}", list.join(","));
    let inner_uuid = uuid_from(&format!("inner|{seed}"));
    let outer_uuid = uuid_from(&format!("outer|{seed}"));
    let strs = |v: &[String]| P::Arr(v.iter().map(|s| P::Str(s.clone())).collect());
    let mut inner = vec![
        ("PayloadDisplayName", P::Str(format!("appwarden: apps {what} ({g})"))),
        ("PayloadIdentifier", P::Str(format!("{ident}.applicationaccess"))),
        ("PayloadType", P::Str("com.apple.applicationaccess".into())),
        ("PayloadUUID", P::Str(inner_uuid)),
        ("PayloadVersion", P::Int(1)),
        (key, strs(&list)),
    ];
    if o.legacy_keys {
        inner.push((legacy, strs(&list)));
    }
    let supervision = if o.allow_list {
        "Requires supervised iOS/iPadOS/tvOS 15+ devices. Allow-list mode: only the listed apps can be shown or launched; add the system apps you need."
    } else {
        "Requires supervised iOS/iPadOS/tvOS 15+ devices (unsupervised devices and User Enrollment ignore these keys)."
    };
    let notes = vec![supervision.to_string()];
    let description = ctx.header_text(counts, &notes);
    let top = P::Dict(vec![
        ("PayloadContent", P::Arr(vec![P::Dict(inner)])),
        ("PayloadDescription", P::Str(description)),
        ("PayloadDisplayName", P::Str(format!("appwarden: apps {what} ({g})"))),
        ("PayloadIdentifier", P::Str(ident.clone())),
        ("PayloadOrganization", P::Str(ctx.plan.stamp.organisation.clone())),
        ("PayloadRemovalDisallowed", P::Bool(o.removal_disallowed)),
        ("PayloadType", P::Str("Configuration".into())),
        ("PayloadUUID", P::Str(outer_uuid)),
        ("PayloadVersion", P::Int(1)),
    ]);
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n",
    );
    out.push_str("<!--\n");
    out.push_str(&ctx.header(counts, &notes, "  ").replace("--", "- -"));
    out.push_str("-->\n<plist version=\"1.0\">\n");
    emit(&mut out, &top, 0);
    out.push_str("</plist>\n");
    Ok(out.into_bytes())
}
