//! Microsoft Intune restricted apps. Graph JSON: an `iosCompliancePolicy`
//! (or `androidCompliancePolicy`, device administrator) whose
//! `restrictedApps` marks a device noncompliant while a listed app is
//! installed — the body of `POST /beta/deviceManagement/deviceCompliancePolicies`
//! (`restrictedApps` exists in the beta API only). The provenance goes in
//! `description`. CSV: the admin center's import for the restricted-apps
//! list, one `app store URL,app name,publisher` row per app (no header
//! row, no comments: the format has none).

use catalog::Platform;
use serde_json::{Value, json};

use super::Ctx;
use crate::names::{self, Counts};
use crate::{DevicePlatform, ExportError};

pub(crate) fn write_graph(ctx: &Ctx<'_>, counts: &mut Counts) -> Result<Vec<u8>, ExportError> {
    let apps = names::device_apps(ctx.plan, ctx.group);
    counts.invalid += apps.invalid;
    counts.log_only_omitted += apps.log_only;
    let g = &ctx.group.id;
    let (odata, item_type, platform) = match ctx.opts.platform {
        DevicePlatform::Ios => (
            "#microsoft.graph.iosCompliancePolicy",
            "#microsoft.graph.appleAppListItem",
            Platform::IosBundleId,
        ),
        DevicePlatform::Android => (
            "#microsoft.graph.androidCompliancePolicy",
            "#microsoft.graph.appListItem",
            Platform::Android,
        ),
    };
    let mut items: Vec<Value> = Vec::new();
    for app in &apps.blocked {
        for id in app.of(platform) {
            let mut item = json!({
                "@odata.type": item_type,
                "name": app.name,
                "appId": id,
            });
            if platform == Platform::Android {
                item["appStoreUrl"] = json!(format!("https://play.google.com/store/apps/details?id={id}"));
            }
            items.push(item);
        }
    }
    items.sort_by(|a, b| a["appId"].as_str().cmp(&b["appId"].as_str()));
    items.dedup_by(|a, b| a["appId"] == b["appId"]);
    counts.written += items.len();
    let notes = vec![
        "Marks devices noncompliant while a listed app is installed; pair with Conditional Access. Graph beta API."
            .to_string(),
    ];
    let policy = json!({
        "@odata.type": odata,
        "displayName": format!("appwarden {g}: restricted apps"),
        "description": ctx.header_text(counts, &notes),
        "restrictedApps": items,
        "scheduledActionsForRule": [{
            "ruleName": "PasswordRequired",
            "scheduledActionConfigurations": [{
                "actionType": "block",
                "gracePeriodHours": 0,
                "notificationTemplateId": "",
                "notificationMessageCCList": []
            }]
        }]
    });
    let mut v = serde_json::to_vec_pretty(&policy)?;
    v.push(b'\n');
    Ok(v)
}

/// One CSV field: quoted, quotes doubled, line breaks removed, and a leading
/// `= + - @` neutralised so a spreadsheet does not run it as a formula.
fn csv_field(s: &str) -> String {
    let mut t: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if t.starts_with(['=', '+', '-', '@']) {
        t.insert(0, '\'');
    }
    format!("\"{}\"", t.replace('"', "\"\""))
}

pub(crate) fn write_csv(ctx: &Ctx<'_>, counts: &mut Counts) -> Result<Vec<u8>, ExportError> {
    let apps = names::device_apps(ctx.plan, ctx.group);
    counts.invalid += apps.invalid;
    counts.log_only_omitted += apps.log_only;
    let mut rows: Vec<String> = Vec::new();
    for app in &apps.blocked {
        let urls: Vec<String> = match ctx.opts.platform {
            DevicePlatform::Ios => app
                .of(Platform::IosAppStoreId)
                .iter()
                .map(|id| format!("https://apps.apple.com/app/id{id}"))
                .collect(),
            DevicePlatform::Android => app
                .of(Platform::Android)
                .iter()
                .map(|id| format!("https://play.google.com/store/apps/details?id={id}"))
                .collect(),
        };
        for u in urls {
            rows.push(format!(
                "{},{},{}\r\n",
                csv_field(&u),
                csv_field(&app.name),
                csv_field("")
            ));
        }
    }
    rows.sort();
    rows.dedup();
    counts.written += rows.len();
    Ok(rows.concat().into_bytes())
}
