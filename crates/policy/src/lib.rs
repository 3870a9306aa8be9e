//! appwarden's organisation policy: `appwarden.toml` (organisation, groups,
//! overrides, exceptions) + catalog + risk profile → an [`EnforcementPlan`]
//! per group. Pure: reads files only when asked to load them.

#![forbid(unsafe_code)]

mod compile;
pub mod config;
pub mod plan;
mod template;

use std::path::{Path, PathBuf};

use catalog::{Catalog, Day, Diagnostic};
use risk::{Assessment, Context, OrgContext, Profile};

pub use config::{BypassSwitches, Group, GroupKind, Organisation, OutsideSandbox, Override, PolicyFile};
pub use plan::{Action, EnforcementPlan, PLAN_VERSION, PlanApp, PlanGroup, Rule, RuleReason};
pub use template::init_template;

/// Errors at this crate's boundary.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The policy file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Error.
        #[source]
        source: std::io::Error,
    },
    /// The policy has problems; each names file, line and field.
    #[error("{} problem(s) in the policy, first: {}", .0.len(), .0.first().map(ToString::to_string).unwrap_or_default())]
    Invalid(Vec<Diagnostic>),
    /// The catalog (with the policy's overlay) is invalid.
    #[error(transparent)]
    Catalog(#[from] catalog::LoadError),
    /// The profile is unknown or invalid.
    #[error(transparent)]
    Profile(#[from] risk::RiskError),
}

/// A loaded, validated policy with its catalog and profile.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The file's content.
    pub file: PolicyFile,
    /// Name used in messages (path or `<builtin default>`).
    pub name: String,
    /// The catalog (bundled + overlay).
    pub catalog: Catalog,
    /// The risk profile.
    pub profile: Profile,
    /// The organisation context for the risk engine.
    pub org: OrgContext,
    /// Groups after defaults.
    pub groups: Vec<Group>,
}

impl Policy {
    /// The built-in default policy on the bundled catalog (or `overlay`).
    pub fn builtin(overlay: Option<&Path>) -> Result<Policy, PolicyError> {
        Self::from_parts(
            PolicyFile::default_policy(),
            "<builtin default>".into(),
            "",
            None,
            overlay,
        )
    }

    /// Loads `path`; `overlay` replaces the file's `catalog.overlay`.
    pub fn load(path: &Path, overlay: Option<&Path>) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string(), path.parent(), overlay)
    }

    /// Parses policy text; `base` resolves relative paths (profile file, overlay).
    pub fn parse(text: &str, name: &str, base: Option<&Path>, overlay: Option<&Path>) -> Result<Policy, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| toml_error(text, name, &e))?;
        Self::from_parts(file, name.to_string(), text, base, overlay)
    }

    /// Builds a policy from an already parsed file (e.g. one with a profile
    /// replaced on the command line); `text` is the file's text for line numbers.
    pub fn from_parts(
        file: PolicyFile,
        name: String,
        text: &str,
        base: Option<&Path>,
        overlay: Option<&Path>,
    ) -> Result<Policy, PolicyError> {
        let overlay_path = overlay.map(Path::to_path_buf).or_else(|| {
            file.catalog.overlay.as_deref().map(|p| match base {
                Some(b) if Path::new(p).is_relative() => b.join(p),
                _ => PathBuf::from(p),
            })
        });
        let catalog = Catalog::load(overlay_path.as_deref())?;
        Self::with_catalog(file, name, text, base, catalog)
    }

    /// Parses policy text against an already loaded catalog (the policy's
    /// own `catalog.overlay` is not read).
    pub fn parse_with_catalog(text: &str, name: &str, catalog: Catalog) -> Result<Policy, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| toml_error(text, name, &e))?;
        Self::with_catalog(file, name.to_string(), text, None, catalog)
    }

    fn with_catalog(
        file: PolicyFile,
        name: String,
        text: &str,
        base: Option<&Path>,
        catalog: Catalog,
    ) -> Result<Policy, PolicyError> {
        let resolve = |p: &str| -> PathBuf {
            let path = PathBuf::from(p);
            match base {
                Some(b) if path.is_relative() => b.join(path),
                _ => path,
            }
        };
        let profile_ref = &file.organisation.profile;
        let profile = if Profile::bundled_ids().any(|i| i == profile_ref) {
            Profile::bundled(profile_ref)?
        } else {
            Profile::resolve(&resolve(profile_ref).display().to_string())?
        };
        let org = OrgContext {
            jurisdiction: file.organisation.jurisdiction.clone(),
            sectors: file.organisation.sectors.clone(),
            jurisdictions_of_concern: file
                .organisation
                .jurisdictions_of_concern
                .clone()
                .unwrap_or_else(|| profile.jurisdictions_of_concern.clone()),
            adequate_jurisdictions: file
                .organisation
                .adequate_jurisdictions
                .clone()
                .unwrap_or_else(|| profile.adequate_jurisdictions.clone()),
        };
        let groups = if file.groups.is_empty() {
            config::default_groups()
        } else {
            let mut gs: Vec<Group> = file.groups.iter().map(|g| g.get_ref().clone()).collect();
            if !gs.iter().any(|g| g.default)
                && let Some(first) = gs.first_mut()
            {
                first.default = true;
            }
            gs
        };
        let policy = Policy {
            file,
            name,
            catalog,
            profile,
            org,
            groups,
        };
        let diags = compile::check(&policy, text);
        if diags.is_empty() {
            Ok(policy)
        } else {
            Err(PolicyError::Invalid(diags))
        }
    }

    /// The risk context for `as_of`.
    pub fn context(&self, as_of: Day) -> Context<'_> {
        Context {
            catalog: &self.catalog,
            profile: &self.profile,
            org: &self.org,
            as_of,
        }
    }

    /// Exceptions that apply to `app` in `group` (`None`: organisation-wide ones only).
    pub fn exceptions_for(&self, app: &str, group: Option<&str>) -> Vec<&risk::Exception> {
        self.file
            .exceptions
            .iter()
            .map(|e| e.get_ref())
            .filter(|e| e.app == app)
            .filter(|e| match group {
                None => e.groups.is_empty(),
                Some(g) => e.groups.is_empty() || e.groups.iter().any(|x| x == g),
            })
            .collect()
    }

    /// The risk register: organisation-level assessments of `apps` (ids, names
    /// or identifiers), or of every `kind = "app"` entry when empty.
    pub fn register(&self, apps: &[String], as_of: Day) -> Result<Vec<Assessment>, String> {
        let ctx = self.context(as_of);
        let chosen: Vec<&catalog::App> = if apps.is_empty() {
            self.catalog
                .apps
                .values()
                .filter(|a| a.kind == catalog::AppKind::App)
                .collect()
        } else {
            apps.iter()
                .map(|k| {
                    self.catalog
                        .find(k)
                        .ok_or_else(|| format!("no app `{k}` in the catalog (try `appwarden catalog list`)"))
                })
                .collect::<Result<_, _>>()?
        };
        Ok(chosen
            .into_iter()
            .map(|a| ctx.assess(a, &self.register_exceptions(&a.id)))
            .collect())
    }

    /// The register's assessment of one app (from the catalog, or built ad hoc
    /// for a package the catalog does not know) with extra evidence, e.g. the
    /// static analysis of its package, merged into the rated factors.
    pub fn assess_with(&self, app: &catalog::App, as_of: Day, extra: &[risk::ExtraEvidence]) -> Assessment {
        self.context(as_of)
            .assess_with(app, &self.register_exceptions(&app.id), extra)
    }

    /// The register shows group-scoped exceptions too, evaluated as if for their groups.
    fn register_exceptions(&self, app: &str) -> Vec<&risk::Exception> {
        self.file
            .exceptions
            .iter()
            .map(|e| e.get_ref())
            .filter(|e| e.app == app)
            .collect()
    }

    /// Compiles the EnforcementPlan for `as_of`.
    pub fn plan(&self, as_of: Day) -> EnforcementPlan {
        compile::compile(self, as_of)
    }
}

fn toml_error(text: &str, name: &str, e: &toml::de::Error) -> PolicyError {
    let line = e.span().map_or(1, |s| line_of(text, s.start));
    let message = e.message().trim().to_string();
    let field = message.split('`').nth(1).unwrap_or("toml").to_string();
    PolicyError::Invalid(vec![Diagnostic {
        file: name.to_string(),
        line,
        field,
        message,
    }])
}

pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
