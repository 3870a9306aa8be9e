//! What the scanner reads from a decoded `AndroidManifest.xml`.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::android::axml::{AttrValue, XmlElement};
use crate::android::permissions::{self, PermissionInfo};

/// The kinds of application component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComponentKind {
    /// `<activity>`
    Activity,
    /// `<activity-alias>`
    ActivityAlias,
    /// `<service>`
    Service,
    /// `<receiver>`
    Receiver,
    /// `<provider>`
    Provider,
}

impl ComponentKind {
    fn tag(self) -> &'static str {
        match self {
            ComponentKind::Activity => "activity",
            ComponentKind::ActivityAlias => "activity-alias",
            ComponentKind::Service => "service",
            ComponentKind::Receiver => "receiver",
            ComponentKind::Provider => "provider",
        }
    }

    const ALL: [ComponentKind; 5] = [
        ComponentKind::Activity,
        ComponentKind::ActivityAlias,
        ComponentKind::Service,
        ComponentKind::Receiver,
        ComponentKind::Provider,
    ];
}

/// One declared component.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Component {
    /// Which kind.
    pub kind: ComponentKind,
    /// Fully qualified class name (`.Foo` expanded with the package).
    pub name: String,
    /// Whether other apps can start or bind it (explicit attribute, or
    /// Android's default: intent filter present; providers before API 17).
    pub exported: bool,
    /// Whether `android:exported` was written (false: the default applied).
    pub exported_explicit: bool,
    /// `android:permission` guarding it, if any.
    pub permission: Option<String>,
    /// Intent-filter actions, sorted.
    pub actions: Vec<String>,
}

/// Counts of declared components, the shape of androguard's ground truth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ComponentCounts {
    /// `<activity>` count.
    pub activities: usize,
    /// `<activity-alias>` count.
    pub activity_aliases: usize,
    /// `<service>` count.
    pub services: usize,
    /// `<receiver>` count.
    pub receivers: usize,
    /// `<provider>` count.
    pub providers: usize,
}

/// A `<uses-permission>` with its classification.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RequestedPermission {
    /// Permission name.
    pub name: String,
    /// Classification (protection level, dangerous flag, source).
    pub info: PermissionInfo,
}

/// What the manifest says.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Manifest {
    /// `package` attribute.
    pub package: Option<String>,
    /// Application label: `<application android:label>`, resolved through
    /// `resources.arsc` (default configuration) when it is a reference.
    pub app_name: Option<String>,
    /// `android:versionName`, resolved through `resources.arsc` when it is a reference.
    pub version_name: Option<String>,
    /// `android:versionCode`, in decimal.
    pub version_code: Option<String>,
    /// `<uses-sdk android:minSdkVersion>`.
    pub min_sdk: Option<String>,
    /// `<uses-sdk android:targetSdkVersion>`.
    pub target_sdk: Option<String>,
    /// `<uses-sdk android:maxSdkVersion>`.
    pub max_sdk: Option<String>,
    /// `<uses-permission>` names, sorted and de-duplicated.
    pub permissions: Vec<String>,
    /// `<uses-permission-sdk-23>` names, sorted and de-duplicated.
    pub permissions_sdk23: Vec<String>,
    /// Every requested permission (both tags) with its classification.
    pub requested_permissions: Vec<RequestedPermission>,
    /// `<permission>` names declared by the app, sorted.
    pub declared_permissions: Vec<String>,
    /// `<uses-feature>` names, sorted.
    pub features: Vec<String>,
    /// Component counts.
    pub counts: ComponentCounts,
    /// All components, sorted by kind then name.
    pub components: Vec<Component>,
    /// `<meta-data android:name>` values anywhere in the manifest, sorted.
    pub meta_data: Vec<String>,
    /// `android:debuggable` on `<application>`.
    pub debuggable: bool,
    /// `android:allowBackup` on `<application>` (Android's default is true).
    pub allow_backup: Option<bool>,
    /// `android:usesCleartextTraffic` on `<application>`, if written.
    pub uses_cleartext_traffic: Option<bool>,
    /// `android:networkSecurityConfig` reference, if written.
    pub network_security_config: Option<String>,
    /// `android:testOnly`.
    pub test_only: bool,
    /// `android:name` of `<application>` (custom Application class).
    pub application_class: Option<String>,
    /// Package-visibility declarations: `<queries>` children rendered as
    /// `package:NAME`, `intent:ACTION[ scheme]`, `provider:AUTHORITY`.
    pub queries: Vec<String>,
}

impl Manifest {
    /// Extracts the manifest facts from the decoded root element.
    pub fn from_root(root: &XmlElement) -> Manifest {
        let package = root.attr("package", false).map(AttrValue::render);
        let pkg = package.clone().unwrap_or_default();
        let mut m = Manifest {
            version_name: root.attr("versionName", true).map(AttrValue::render),
            version_code: root.attr("versionCode", true).map(AttrValue::render),
            package,
            ..Default::default()
        };
        let mut uses_sdk = Vec::new();
        root.descendants_named("uses-sdk", &mut uses_sdk);
        if let Some(sdk) = uses_sdk.first() {
            m.min_sdk = sdk.attr("minSdkVersion", true).map(AttrValue::render);
            m.target_sdk = sdk.attr("targetSdkVersion", true).map(AttrValue::render);
            m.max_sdk = sdk.attr("maxSdkVersion", true).map(AttrValue::render);
        }
        m.permissions = names_of(root, "uses-permission");
        m.permissions_sdk23 = names_of(root, "uses-permission-sdk-23");
        m.declared_permissions = names_of(root, "permission");
        m.features = names_of(root, "uses-feature");
        m.meta_data = names_of(root, "meta-data");

        let declared: BTreeSet<&str> = m.declared_permissions.iter().map(String::as_str).collect();
        let mut requested: BTreeSet<&str> = m.permissions.iter().map(String::as_str).collect();
        requested.extend(m.permissions_sdk23.iter().map(String::as_str));
        m.requested_permissions = requested
            .into_iter()
            .map(|name| RequestedPermission {
                name: name.to_string(),
                info: permissions::classify(name, declared.contains(name)),
            })
            .collect();

        let target: u32 = m
            .target_sdk
            .as_deref()
            .or(m.min_sdk.as_deref())
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        for kind in ComponentKind::ALL {
            let mut els = Vec::new();
            root.descendants_named(kind.tag(), &mut els);
            for el in els {
                let Some(raw) = el.attr("name", true).map(AttrValue::render) else {
                    continue;
                };
                let name = qualify(&pkg, &raw);
                let mut actions: Vec<String> = Vec::new();
                let mut has_filter = false;
                for f in el.children_named("intent-filter") {
                    has_filter = true;
                    for a in f.children_named("action") {
                        if let Some(n) = a.attr("name", true) {
                            actions.push(n.render());
                        }
                    }
                }
                actions.sort();
                actions.dedup();
                let explicit = el.attr("exported", true).and_then(AttrValue::as_bool);
                let exported = match explicit {
                    Some(e) => e,
                    None if kind == ComponentKind::Provider => target < 17,
                    None => has_filter,
                };
                m.components.push(Component {
                    kind,
                    name,
                    exported,
                    exported_explicit: explicit.is_some(),
                    permission: el.attr("permission", true).map(AttrValue::render),
                    actions,
                });
            }
        }
        let count = |k: ComponentKind| m.components.iter().filter(|c| c.kind == k).count();
        m.counts = ComponentCounts {
            activities: count(ComponentKind::Activity),
            activity_aliases: count(ComponentKind::ActivityAlias),
            services: count(ComponentKind::Service),
            receivers: count(ComponentKind::Receiver),
            providers: count(ComponentKind::Provider),
        };
        m.components.sort();

        if let Some(app) = root.children_named("application").next() {
            let flag = |n: &str| app.attr(n, true).and_then(AttrValue::as_bool);
            m.debuggable = flag("debuggable").unwrap_or(false);
            m.allow_backup = flag("allowBackup");
            m.uses_cleartext_traffic = flag("usesCleartextTraffic");
            m.test_only = flag("testOnly").unwrap_or(false);
            m.network_security_config = app.attr("networkSecurityConfig", true).map(AttrValue::render);
            m.application_class = app.attr("name", true).map(|v| qualify(&pkg, &v.render()));
            m.app_name = app.attr("label", true).map(AttrValue::render);
        }
        let mut queries = BTreeSet::new();
        for q in root.children_named("queries") {
            for c in &q.children {
                match c.name.as_str() {
                    "package" => {
                        if let Some(n) = c.attr_str("name") {
                            queries.insert(format!("package:{n}"));
                        }
                    }
                    "provider" => {
                        if let Some(a) = c.attr_str("authorities") {
                            queries.insert(format!("provider:{a}"));
                        }
                    }
                    "intent" => {
                        let action = c
                            .children_named("action")
                            .filter_map(|a| a.attr_str("name"))
                            .next()
                            .unwrap_or_default();
                        let scheme = c.children_named("data").filter_map(|d| d.attr_str("scheme")).next();
                        queries.insert(match scheme {
                            Some(s) => format!("intent:{action} {s}"),
                            None => format!("intent:{action}"),
                        });
                    }
                    _ => {}
                }
            }
        }
        m.queries = queries.into_iter().collect();
        m
    }
}

fn names_of(root: &XmlElement, tag: &str) -> Vec<String> {
    let mut els = Vec::new();
    root.descendants_named(tag, &mut els);
    let set: BTreeSet<String> = els
        .into_iter()
        .filter_map(|e| e.attr("name", true).map(AttrValue::render))
        .collect();
    set.into_iter().collect()
}

/// Expands a component name the way Android (and androguard) do:
/// `.Foo` and `Foo` become `package.Foo`.
pub fn qualify(package: &str, name: &str) -> String {
    if let Some(rest) = name.strip_prefix('.') {
        format!("{package}.{rest}")
    } else if !name.contains('.') && !package.is_empty() {
        format!("{package}.{name}")
    } else {
        name.to_string()
    }
}
