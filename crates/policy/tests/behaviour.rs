//! Runs the behaviour tests written as data in `tests/data/behaviour/`
//! (format in that folder's README): policy + profile + catalog → expected
//! decisions and per-group plan actions.

use std::path::{Path, PathBuf};

use catalog::Day;
use policy::{Action, Policy};
use risk::{DecidedBy, Decision};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    as_of: Day,
    #[serde(default)]
    profiles: Vec<String>,
    #[serde(default)]
    overlay: Option<String>,
    policy: String,
    expect: Vec<Expect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    app: String,
    decision: Decision,
    #[serde(default)]
    decided_by: Option<DecidedBy>,
    #[serde(default)]
    as_of: Option<Day>,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    action: Option<String>,
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/behaviour")
}

fn run_case(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("read case");
    let case: Case = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let dir = path.parent().expect("case dir");
    let overlay = case.overlay.as_ref().map(|o| dir.join(o));
    let profiles = if case.profiles.is_empty() {
        vec![String::new()]
    } else {
        case.profiles.clone()
    };
    let mut failures = Vec::new();
    for profile in &profiles {
        let policy_text = case.policy.replace("{profile}", profile);
        let name = format!("{} [{profile}]", path.display());
        let policy = match Policy::parse(&policy_text, &name, Some(dir), overlay.as_deref()) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{name}: policy does not load: {e}"));
                continue;
            }
        };
        for (i, ex) in case.expect.iter().enumerate() {
            if ex.profile.as_ref().is_some_and(|p| p != profile) {
                continue;
            }
            let day = ex.as_of.unwrap_or(case.as_of);
            let where_ = format!(
                "{} expect[{i}] profile {profile} app {} as of {day}",
                path.display(),
                ex.app
            );
            let register = match policy.register(std::slice::from_ref(&ex.app), day) {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!("{where_}: {e}"));
                    continue;
                }
            };
            let a = &register[0];
            if a.decision != ex.decision {
                failures.push(format!(
                    "{where_}: decision {} (score {}, decided by {:?}), expected {}",
                    a.decision, a.score, a.decided_by, ex.decision
                ));
            }
            if let Some(by) = ex.decided_by
                && a.decided_by != by
            {
                failures.push(format!("{where_}: decided by {:?}, expected {:?}", a.decided_by, by));
            }
            if let Some(group) = &ex.group {
                let plan = policy.plan(day);
                let action = plan.rule(group, &a.app).map(|r| match r.action {
                    Action::Block => "block",
                    Action::LogOnly => "log_only",
                });
                let got = action.unwrap_or("none");
                let want = ex.action.as_deref().unwrap_or("block");
                if plan.group(group).is_none() {
                    failures.push(format!("{where_}: no group `{group}` in the plan"));
                } else if got != want {
                    failures.push(format!("{where_}: group {group} action {got}, expected {want}"));
                }
            }
        }
    }
    let _ = case.name;
    failures
}

#[test]
fn behaviour_cases() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("tests/data/behaviour exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 6, "expected the behaviour cases, found {}", paths.len());
    let failures: Vec<String> = paths.iter().flat_map(|p| run_case(p)).collect();
    assert!(
        failures.is_empty(),
        "{} failing expectation(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
