//! Android Management API `Policy` JSON (the body of
//! `enterprises.policies.patch`). Block mode: `playStoreMode: BLACKLIST`
//! and the blocked packages `BLOCKED`; allow-list mode: `WHITELIST` with the
//! sandbox apps `AVAILABLE`. `personalUsagePolicies` blocks the packages on
//! the personal side of a company-owned work-profile device. The schema has
//! no comment field, so the provenance is in the manifest only.

use catalog::Platform;
use serde_json::{Value, json};

use super::Ctx;
use crate::ExportError;
use crate::names::{self, Counts};

pub(crate) fn write(ctx: &Ctx<'_>, counts: &mut Counts) -> Result<Vec<u8>, ExportError> {
    let o = &ctx.opts.amapi;
    let apps = names::device_apps(ctx.plan, ctx.group);
    counts.invalid += apps.invalid;
    counts.log_only_omitted += apps.log_only;
    let blocked = names::identifiers(&apps.blocked, Platform::Android);
    let mut applications: Vec<Value> = Vec::new();
    let allowed = if o.allow_list {
        names::identifiers(&apps.allowed, Platform::Android)
            .into_iter()
            .filter(|p| !blocked.contains(p))
            .collect()
    } else {
        Vec::new()
    };
    for p in &allowed {
        applications.push(json!({ "packageName": p, "installType": "AVAILABLE" }));
    }
    for p in &blocked {
        applications.push(json!({ "packageName": p, "installType": "BLOCKED" }));
    }
    applications.sort_by(|a, b| a["packageName"].as_str().cmp(&b["packageName"].as_str()));
    counts.written += applications.len();
    let mut policy = json!({
        "applications": applications,
        "playStoreMode": if o.allow_list { "WHITELIST" } else { "BLACKLIST" },
        "statusReportingSettings": {
            "applicationReportsEnabled": true,
            "applicationReportingSettings": { "includeRemovedApps": true }
        }
    });
    let personal = o.personal_usage.unwrap_or(ctx.group.kind == policy::GroupKind::Byod);
    if personal {
        let personal_apps: Vec<Value> = blocked
            .iter()
            .map(|p| json!({ "packageName": p, "installType": "BLOCKED" }))
            .collect();
        policy["personalUsagePolicies"] = json!({
            "personalPlayStoreMode": "BLOCKLIST",
            "personalApplications": personal_apps,
        });
    }
    let mut v = serde_json::to_vec_pretty(&policy)?;
    v.push(b'\n');
    Ok(v)
}
