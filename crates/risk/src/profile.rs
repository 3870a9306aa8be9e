//! Risk profiles: how much each factor weighs for a kind of organisation,
//! where its decision thresholds lie, and what it asks of exceptions.

use std::path::Path;

use catalog::FactorId;
use serde::{Deserialize, Serialize};

use crate::RiskError;

/// Weights of F1..F9 (any non-negative numbers; the score divides by their sum).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, missing_docs)]
pub struct Weights {
    pub F1: u32,
    pub F2: u32,
    pub F3: u32,
    pub F4: u32,
    pub F5: u32,
    pub F6: u32,
    pub F7: u32,
    pub F8: u32,
    pub F9: u32,
}

impl Weights {
    /// The weight of one factor.
    pub fn get(&self, f: FactorId) -> u32 {
        match f {
            FactorId::F1 => self.F1,
            FactorId::F2 => self.F2,
            FactorId::F3 => self.F3,
            FactorId::F4 => self.F4,
            FactorId::F5 => self.F5,
            FactorId::F6 => self.F6,
            FactorId::F7 => self.F7,
            FactorId::F8 => self.F8,
            FactorId::F9 => self.F9,
        }
    }

    /// Sum of all weights.
    pub fn sum(&self) -> u32 {
        FactorId::ALL.iter().map(|&f| self.get(f)).sum()
    }
}

/// A risk profile (`crates/risk/profiles/*.toml`, or a user's file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Identifier.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Version label; stamped on every result.
    pub version: String,
    /// Who it is for.
    #[serde(default)]
    pub description: String,
    /// Point estimate (0–4) for a factor with no evidence.
    pub unknown_default: u8,
    /// Scores below this are `allow`.
    pub allow_below: f64,
    /// Scores at or above this are `block`.
    pub block_at: f64,
    /// F6 = 4 when an operator is controlled from one of these.
    pub jurisdictions_of_concern: Vec<String>,
    /// F6 = 0 for operators controlled from these (or the organisation's own jurisdiction), else 2.
    pub adequate_jurisdictions: Vec<String>,
    /// Mitigations an exception must name.
    #[serde(default)]
    pub required_mitigations: Vec<String>,
    /// Longest allowed exception, in months (at most 12).
    #[serde(default = "twelve")]
    pub max_exception_months: u8,
    /// Factor weights.
    pub weights: Weights,
}

fn twelve() -> u8 {
    12
}

/// The bundled profiles, by id.
pub const BUNDLED: &[(&str, &str)] = &[
    (
        "defense-contractor",
        include_str!("../profiles/defense-contractor.toml"),
    ),
    ("government", include_str!("../profiles/government.toml")),
    ("bank", include_str!("../profiles/bank.toml")),
    ("hospital", include_str!("../profiles/hospital.toml")),
    ("school", include_str!("../profiles/school.toml")),
    ("retail", include_str!("../profiles/retail.toml")),
    ("media-agency", include_str!("../profiles/media-agency.toml")),
];

impl Profile {
    /// Ids of the bundled profiles.
    pub fn bundled_ids() -> impl Iterator<Item = &'static str> {
        BUNDLED.iter().map(|(id, _)| *id)
    }

    /// A bundled profile by id.
    pub fn bundled(id: &str) -> Result<Profile, RiskError> {
        let (_, text) = BUNDLED
            .iter()
            .find(|(i, _)| *i == id)
            .ok_or_else(|| RiskError::UnknownProfile {
                name: id.to_string(),
                known: Self::bundled_ids().collect::<Vec<_>>().join(", "),
            })?;
        Self::parse(text, &format!("bundled profile {id}"))
    }

    /// A bundled id, or a path to a profile TOML file.
    pub fn resolve(name_or_path: &str) -> Result<Profile, RiskError> {
        if BUNDLED.iter().any(|(i, _)| *i == name_or_path) {
            return Self::bundled(name_or_path);
        }
        let path = Path::new(name_or_path);
        if name_or_path.ends_with(".toml") || path.exists() {
            let text = std::fs::read_to_string(path).map_err(|e| RiskError::Io {
                path: name_or_path.to_string(),
                message: e.to_string(),
            })?;
            return Self::parse(&text, name_or_path);
        }
        Self::bundled(name_or_path)
    }

    /// Parses and validates a profile file's text; `name` is used in errors.
    pub fn parse(text: &str, name: &str) -> Result<Profile, RiskError> {
        let profile: Profile = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map_or(1, |s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            RiskError::InvalidProfile {
                name: name.to_string(),
                message: format!("line {line}: {}", e.message().trim()),
            }
        })?;
        profile.validate().map_err(|message| RiskError::InvalidProfile {
            name: name.to_string(),
            message,
        })?;
        Ok(profile)
    }

    /// Checks the profile's numbers.
    pub fn validate(&self) -> Result<(), String> {
        if self.weights.sum() == 0 {
            return Err("weights: at least one factor needs a weight above 0".into());
        }
        if self.unknown_default > 4 {
            return Err(format!("unknown_default: {} is outside 0–4", self.unknown_default));
        }
        if !(0.0..=100.0).contains(&self.allow_below) || !(0.0..=100.0).contains(&self.block_at) {
            return Err("allow_below and block_at are scores between 0 and 100".into());
        }
        if self.allow_below > self.block_at {
            return Err(format!(
                "allow_below ({}) must not exceed block_at ({})",
                self.allow_below, self.block_at
            ));
        }
        if self.max_exception_months == 0 || self.max_exception_months > 12 {
            return Err(format!(
                "max_exception_months: {} is outside 1–12",
                self.max_exception_months
            ));
        }
        for j in self.jurisdictions_of_concern.iter().chain(&self.adequate_jurisdictions) {
            if !catalog::is_jurisdiction(j) {
                return Err(format!("`{j}` is not a jurisdiction code"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_profiles_match_the_design_table() {
        // (id, weights F1..F9, unknown default, allow below, block at) from DESIGN.md
        let table: &[(&str, [u32; 9], u8, f64, f64)] = &[
            ("defense-contractor", [10, 10, 5, 10, 5, 25, 10, 15, 10], 3, 20.0, 40.0),
            ("government", [10, 10, 5, 10, 5, 20, 10, 20, 10], 3, 25.0, 45.0),
            ("bank", [15, 10, 10, 15, 15, 15, 10, 10, 0], 2, 35.0, 65.0),
            ("hospital", [20, 15, 15, 10, 15, 10, 10, 5, 0], 2, 35.0, 65.0),
            ("school", [25, 15, 20, 5, 5, 5, 20, 5, 0], 2, 30.0, 55.0),
            ("retail", [15, 10, 10, 15, 20, 10, 10, 10, 0], 2, 45.0, 80.0),
            ("media-agency", [15, 15, 10, 15, 15, 15, 10, 5, 0], 2, 50.0, 85.0),
        ];
        for (id, w, unk, allow, block) in table {
            let p = Profile::bundled(id).expect("bundled profile parses");
            let got: Vec<u32> = FactorId::ALL.iter().map(|&f| p.weights.get(f)).collect();
            assert_eq!(&got[..], &w[..], "{id} weights");
            assert_eq!(p.weights.sum(), 100, "{id}");
            assert_eq!(
                (p.unknown_default, p.allow_below, p.block_at),
                (*unk, *allow, *block),
                "{id}"
            );
        }
    }

    #[test]
    fn invalid_profiles_are_refused() {
        let good = BUNDLED[2].1;
        assert!(Profile::parse(&good.replace("block_at = 65", "block_at = 30"), "t").is_err());
        assert!(
            Profile::parse(
                &good.replace("max_exception_months = 12", "max_exception_months = 18"),
                "t"
            )
            .is_err()
        );
        let err = Profile::parse(
            &good.replace("unknown_default = 2", "unknown_default = 2\ncolour = 1"),
            "t",
        )
        .expect_err("unknown field");
        assert!(err.to_string().contains("colour"), "{err}");
        assert!(matches!(
            Profile::resolve("no-such-profile"),
            Err(RiskError::UnknownProfile { .. })
        ));
    }
}
