//! Exceptions: a named approver may move an app from block to
//! allow_outside_sandbox, for at most the profile's maximum period, with the
//! profile's mitigations. A gate yields only to an exception on a basis its
//! instrument allows; a malware verdict yields to none.

use catalog::Day;
use serde::{Deserialize, Serialize};

use crate::assess::{Decision, GateHit, GateKind};
use crate::profile::Profile;

/// A business-need exception, as written in `appwarden.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    /// App id.
    pub app: String,
    /// Policy groups it applies to; empty = every group.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Who approved it (name and role).
    pub approver: String,
    /// Day it was granted.
    pub granted: Day,
    /// Last day it applies (at most `max_exception_months` after `granted`).
    pub expires: Day,
    /// The business need.
    pub reason: String,
    /// Mitigations in place; must include the profile's required ones.
    #[serde(default)]
    pub mitigations: Vec<String>,
    /// For an app behind a binding-law gate: the ground the instrument allows
    /// exceptions on (e.g. `security-research`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
}

/// Whether an exception changed the decision, and why (not).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "detail")]
pub enum ExceptionStatus {
    /// It moved block to allow_outside_sandbox.
    Applied,
    /// The decision is not block: nothing to except.
    NotNeeded,
    /// Before its `granted` day.
    NotYetValid,
    /// After its `expires` day.
    Expired,
    /// It does not meet the profile's rules.
    Invalid(String),
    /// A gate fired that this exception cannot lift.
    GateNotExempted(String),
}

/// An exception with its outcome, as shown in a result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExceptionResult {
    /// Approver.
    pub approver: String,
    /// Granted.
    pub granted: Day,
    /// Expires.
    pub expires: Day,
    /// Groups.
    pub groups: Vec<String>,
    /// Basis for a gate exception.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// Outcome.
    pub outcome: ExceptionStatus,
}

impl Exception {
    /// Problems with the exception under `profile`'s rules, regardless of day.
    pub fn problems(&self, profile: &Profile) -> Vec<String> {
        let mut out = Vec::new();
        if self.approver.trim().is_empty() {
            out.push("no approver named".to_string());
        }
        if self.reason.trim().is_empty() {
            out.push("no reason given".to_string());
        }
        if self.expires < self.granted {
            out.push(format!(
                "expires ({}) before it is granted ({})",
                self.expires, self.granted
            ));
        }
        let limit = self.granted.plus_months(i32::from(profile.max_exception_months));
        if self.expires > limit {
            out.push(format!(
                "expires {} — more than {} months after it was granted ({}); the latest allowed is {limit}",
                self.expires, profile.max_exception_months, self.granted
            ));
        }
        let missing: Vec<&str> = profile
            .required_mitigations
            .iter()
            .filter(|m| !self.mitigations.contains(m))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            out.push(format!(
                "missing mitigations required by profile {}: {}",
                profile.id,
                missing.join(", ")
            ));
        }
        out
    }

    /// The outcome on `day` for an app whose decision before exceptions is `base`.
    pub fn evaluate(&self, profile: &Profile, day: Day, base: Decision, gates: &[GateHit]) -> ExceptionStatus {
        let problems = self.problems(profile);
        if !problems.is_empty() {
            return ExceptionStatus::Invalid(problems.join("; "));
        }
        if day < self.granted {
            return ExceptionStatus::NotYetValid;
        }
        if day > self.expires {
            return ExceptionStatus::Expired;
        }
        if base != Decision::Block {
            return ExceptionStatus::NotNeeded;
        }
        for g in gates {
            match g.kind {
                GateKind::Malware => {
                    return ExceptionStatus::GateNotExempted("a malware verdict admits no exception".into());
                }
                GateKind::BindingLaw => match &self.basis {
                    Some(b) if g.exception_bases.contains(b) => {}
                    Some(b) => {
                        return ExceptionStatus::GateNotExempted(format!(
                            "{} allows exceptions only for: {} (not `{b}`)",
                            g.id,
                            if g.exception_bases.is_empty() {
                                "nothing".to_string()
                            } else {
                                g.exception_bases.join(", ")
                            }
                        ));
                    }
                    None => {
                        return ExceptionStatus::GateNotExempted(format!(
                            "{} binds this organisation; a business need does not lift it{}",
                            g.id,
                            if g.exception_bases.is_empty() {
                                String::new()
                            } else {
                                format!(
                                    " (only an exception with basis one of: {})",
                                    g.exception_bases.join(", ")
                                )
                            }
                        ));
                    }
                },
            }
        }
        ExceptionStatus::Applied
    }

    pub(crate) fn result(&self, outcome: ExceptionStatus) -> ExceptionResult {
        ExceptionResult {
            approver: self.approver.clone(),
            granted: self.granted,
            expires: self.expires,
            groups: self.groups.clone(),
            basis: self.basis.clone(),
            outcome,
        }
    }
}
