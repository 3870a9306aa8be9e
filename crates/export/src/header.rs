//! The provenance header every file starts with (as its format allows), and
//! the sanitiser for free text (organisation, versions, app names) that ends
//! up in comments or descriptions.

use policy::plan::EnforcementPlan;

use crate::Format;
use crate::names::Counts;

/// Free text made safe for any comment or description: control characters,
/// line and paragraph separators, and the characters that end or escape a
/// comment or a quoted string in one of the formats (`\`, `"`, `'`, `<`, `>`,
/// `&`, `;`, `{`, `}`, `` ` ``, `$`, `]`, `[`) become `?`; non-ASCII letters
/// and digits are kept; the result is at most `max` characters.
pub(crate) fn sanitize(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| {
            let safe_ascii = c.is_ascii_graphic() || c == ' ';
            let special = matches!(
                c,
                '\\' | '"' | '\'' | '<' | '>' | '&' | ';' | '{' | '}' | '`' | '$' | '[' | ']'
            );
            if (safe_ascii && !special) || (!c.is_ascii() && c.is_alphanumeric()) {
                c
            } else {
                '?'
            }
        })
        .collect();
    // `--` would end an XML comment; `*/` a C comment.
    while out.contains("--") {
        out = out.replace("--", "-?");
    }
    out.replace("*/", "*?")
}

/// The header lines (without comment markers) for one file.
pub(crate) fn lines(
    plan: &EnforcementPlan,
    format: Format,
    group: &str,
    counts: &Counts,
    notes: &[String],
) -> Vec<String> {
    let s = &plan.stamp;
    let mut v = vec![
        format!(
            "appwarden export: {} for group {}",
            format.name(),
            sanitize(group, 63)
        ),
        format!(
            "organisation: {} ({})",
            sanitize(&s.organisation, 120),
            sanitize(&s.jurisdiction, 16)
        ),
        format!(
            "catalog snapshot: {}; model: {}",
            sanitize(&s.catalog_snapshot, 120),
            sanitize(&s.model_version, 60)
        ),
        format!(
            "profile: {} {}; policy version: {}; as of: {}; plan version: {}",
            sanitize(&s.profile, 60),
            sanitize(&s.profile_version, 60),
            sanitize(&s.policy_version, 60),
            s.as_of,
            plan.plan_version
        ),
        "decisions: appwarden risk register -> policy groups, overrides and exceptions -> EnforcementPlan (`appwarden policy plan`); do not edit, re-export".to_string(),
        format!(
            "written: {}; invalid entries refused: {}; removed by custom.allow: {}; allow exceptions: {}",
            counts.written, counts.invalid, counts.allowed, counts.exceptions
        ),
    ];
    let mut extra = Vec::new();
    if counts.patterns_unexpressed > 0 {
        extra.push(format!(
            "patterns not expressible in this format: {} (listed below as comments; the appwarden resolver enforces them)",
            counts.patterns_unexpressed
        ));
    }
    if counts.patterns_widened > 0 {
        extra.push(format!(
            "patterns widened to their fixed suffix (name and subdomains): {}",
            counts.patterns_widened
        ));
    }
    if counts.exact_widened > 0 {
        extra.push(format!(
            "exact names also blocking their subdomains (no exact-only match with this answer): {}",
            counts.exact_widened
        ));
    }
    if counts.log_only_omitted > 0 {
        extra.push(format!(
            "log-only rules left out (this format cannot log without blocking): {}",
            counts.log_only_omitted
        ));
    }
    if counts.exceptions_unexpressed > 0 {
        extra.push(format!(
            "allow exceptions this format cannot express: {} (listed below as comments)",
            counts.exceptions_unexpressed
        ));
    }
    v.extend(extra);
    // Notes are the writers' own text (with validated names only); keep them on one line.
    v.extend(notes.iter().map(|n| n.replace(['\n', '\r'], " ")));
    v
}

/// The header as comment lines with `prefix` (e.g. `# `, `; `, `-- `).
pub(crate) fn comment(
    plan: &EnforcementPlan,
    format: Format,
    group: &str,
    counts: &Counts,
    notes: &[String],
    prefix: &str,
) -> String {
    let mut s = String::new();
    for l in lines(plan, format, group, counts, notes) {
        s.push_str(prefix);
        s.push_str(&l);
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_removes_line_breaks_and_comment_enders() {
        let s = sanitize("Evil\nCorp --> \"x\"; $y \u{2028}ok é", 200);
        assert!(!s.contains('\n'));
        assert!(!s.contains("--"));
        assert!(!s.contains('"'));
        assert!(!s.contains('\u{2028}'));
        assert!(s.contains('é'));
    }
}
