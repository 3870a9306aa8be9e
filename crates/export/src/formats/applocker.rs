//! Windows AppLocker packaged-app (Appx) rules: the default "all signed
//! packaged apps" allow rule (without it, enforcing the Appx collection
//! blocks every packaged app) and one deny rule per blocked package family
//! name. `ProductName` is the package name (the PFN before `_`);
//! `PublisherName` must be the signer's DN, which the PFN only hashes: it
//! comes from `Options::windows_publishers`, else a placeholder that matches
//! nothing (listed in the header).

use catalog::Platform;

use super::Ctx;
use super::apple::uuid_from;
use crate::names::{self, Counts};
use crate::{ExportError, xml};

pub(crate) fn write(ctx: &Ctx<'_>, counts: &mut Counts) -> Result<Vec<u8>, ExportError> {
    let apps = names::device_apps(ctx.plan, ctx.group);
    counts.invalid += apps.invalid;
    counts.log_only_omitted += apps.log_only;
    let g = &ctx.group.id;
    let mut rules = String::new();
    let mut placeholders = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut pfns: Vec<(&String, &str, &str)> = apps
        .blocked
        .iter()
        .flat_map(|a| {
            a.of(Platform::WindowsPfn)
                .iter()
                .map(move |p| (p, a.name.as_str(), a.id.as_str()))
        })
        .collect();
    pfns.sort();
    for (pfn, app_name, app_id) in pfns {
        if !seen.insert(pfn) {
            continue;
        }
        let package = pfn.rsplit_once('_').map(|(n, _)| n).unwrap_or(pfn);
        let publisher = match ctx.opts.windows_publishers.get(package) {
            Some(dn) => dn.clone(),
            None => {
                placeholders.push(package.to_string());
                format!("CN=REPLACE-WITH-SIGNER-OF-{package}")
            }
        };
        let id = uuid_from(&format!("applocker|{g}|{pfn}")).to_lowercase();
        rules.push_str(&format!(
            "    <FilePublisherRule Id=\"{id}\" Name=\"{}\" Description=\"{}\" UserOrGroupSid=\"S-1-1-0\" Action=\"Deny\">\n      <Conditions>\n        <FilePublisherCondition PublisherName=\"{}\" ProductName=\"{}\" BinaryName=\"*\">\n          <BinaryVersionRange LowSection=\"0.0.0.0\" HighSection=\"*\" />\n        </FilePublisherCondition>\n      </Conditions>\n    </FilePublisherRule>\n",
            xml::escape(&format!("appwarden {g}: deny {app_name}")),
            xml::escape(&format!("PFN {pfn}; catalog app {app_id}; decided by the appwarden policy")),
            xml::escape(&publisher),
            xml::escape(package),
        ));
        counts.written += 1;
    }
    let mut notes = vec![
        "import with  Set-AppLockerPolicy -XmlPolicy PATH -Merge  or the AppLocker CSP (Intune); run the Application Identity service".to_string(),
    ];
    if !placeholders.is_empty() {
        notes.push(format!(
            "signer DN unknown for {} package(s), rule matches nothing until set (Get-AppxPackage NAME | Select Publisher): {}",
            placeholders.len(),
            placeholders.join(", ")
        ));
    }
    let header = ctx.header(counts, &notes, "     ").replace("--", "- -");
    let out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!--\n{header}-->\n<AppLockerPolicy Version=\"1\">\n  <RuleCollection Type=\"Appx\" EnforcementMode=\"Enabled\">\n    <FilePublisherRule Id=\"a9e18c21-ff8f-43cf-b9fc-db40eed693ba\" Name=\"(Default Rule) All signed packaged apps\" Description=\"Allows members of the Everyone group to run packaged apps that are signed.\" UserOrGroupSid=\"S-1-1-0\" Action=\"Allow\">\n      <Conditions>\n        <FilePublisherCondition PublisherName=\"*\" ProductName=\"*\" BinaryName=\"*\">\n          <BinaryVersionRange LowSection=\"0.0.0.0\" HighSection=\"*\" />\n        </FilePublisherCondition>\n      </Conditions>\n    </FilePublisherRule>\n{rules}  </RuleCollection>\n</AppLockerPolicy>\n"
    );
    Ok(out.into_bytes())
}
