//! "What would change the decision": for every result, the nearest changes
//! of evidence, organisation or exception that would move it.

use crate::assess::{Assessment, Context, DecidedBy, Decision};
use crate::exception::ExceptionStatus;

fn fmt(x: f64) -> String {
    let r = (x * 100.0).round() / 100.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r}")
    }
}

/// For each known factor, the single change of its value that would push the
/// score across `threshold` (downwards when `down`).
fn single_factor_moves(ctx: &Context<'_>, a: &Assessment, raw: f64, threshold: f64, down: bool) -> Vec<String> {
    let wsum = f64::from(ctx.profile.weights.sum().max(1));
    let mut out = Vec::new();
    for f in &a.factors {
        let Some(v) = f.value else { continue };
        if f.weight == 0 {
            continue;
        }
        let per_step = 100.0 * f64::from(f.weight) / 4.0 / wsum;
        let candidates: Vec<u8> = if down {
            (0..v).rev().collect()
        } else {
            (v + 1..=4).collect()
        };
        let hit = candidates.into_iter().find(|&nv| {
            let s = raw + per_step * (f64::from(nv) - f64::from(v));
            if down { s < threshold } else { s >= threshold }
        });
        if let Some(nv) = hit {
            let how = if f.derived {
                match f.id {
                    catalog::FactorId::F6 => " (a different operator or list of jurisdictions of concern)",
                    catalog::FactorId::F7 => " (incidents ageing out of the five-year window)",
                    _ => " (restrictions lifted or added)",
                }
            } else {
                ""
            };
            let dir = if down { "≤" } else { "≥" };
            out.push(format!("{} from {v} to {dir} {nv}{how}", f.id));
        }
    }
    out
}

pub(crate) fn what_would_change(ctx: &Context<'_>, a: &Assessment, raw: f64) -> Vec<String> {
    let p = ctx.profile;
    let mut out = Vec::new();

    for g in &a.gates {
        out.push(match g.kind {
            crate::GateKind::BindingLaw => format!(
                "Gate {}: binding for an organisation in {} with sectors [{}]; blocked whatever the score. It stops applying only if the instrument is lifted or no longer binds the organisation{}.",
                g.id,
                ctx.org.jurisdiction,
                ctx.org.sectors.join(", "),
                if g.exception_bases.is_empty() {
                    String::new()
                } else {
                    format!(", or for an exception on a basis it allows ({})", g.exception_bases.join(", "))
                }
            ),
            crate::GateKind::Malware => {
                format!("Gate {}: a malware verdict blocks whatever the score; no exception applies.", g.id)
            }
        });
    }
    if !a.gates.is_empty() {
        out.push(format!(
            "Without the gate, the score {} would give {}.",
            fmt(a.score),
            ctx.decide_score(raw)
        ));
    }

    let score_decision = ctx.decide_score(raw);
    let mut thresholds = Vec::new();
    match score_decision {
        Decision::Block => thresholds.push((p.block_at, true, Decision::AllowOutsideSandbox)),
        Decision::AllowOutsideSandbox => {
            thresholds.push((p.block_at, false, Decision::Block));
            thresholds.push((p.allow_below, true, Decision::Allow));
        }
        Decision::Allow => thresholds.push((p.allow_below, false, Decision::AllowOutsideSandbox)),
    }
    for (t, down, target) in thresholds {
        let gap = if down { raw - t } else { t - raw };
        let moves = single_factor_moves(ctx, a, raw, t, down);
        let verb = if down { "fall below" } else { "reach" };
        if moves.is_empty() {
            out.push(format!(
                "For {target} the score would have to {verb} {} ({} points {}); no single factor change does that.",
                fmt(t),
                fmt(gap.max(0.0)),
                if down { "less" } else { "more" }
            ));
        } else {
            out.push(format!(
                "For {target} the score would have to {verb} {} ({} points {}), e.g. {}.",
                fmt(t),
                fmt(gap.max(0.0)),
                if down { "less" } else { "more" },
                moves.join(", or ")
            ));
        }
    }

    let unknown: Vec<String> = a
        .factors
        .iter()
        .filter(|f| f.value.is_none() && f.weight > 0)
        .map(|f| f.id.to_string())
        .collect();
    if !unknown.is_empty() {
        let [lo, hi] = a.score_range;
        let [dlo, dhi] = a.decision_range;
        let effect = if dlo == dhi {
            format!("the decision stays {dlo} across that range")
        } else {
            format!("the decision could be anything from {dlo} to {dhi}")
        };
        out.push(format!(
            "Unknown: {} (counted as {} of 4 each). Evidence could put the score anywhere from {} to {}; {effect}.",
            unknown.join(", "),
            p.unknown_default,
            fmt(lo),
            fmt(hi)
        ));
    }

    for e in &a.exceptions {
        if e.outcome == ExceptionStatus::Applied && !e.groups.is_empty() {
            out.push(format!(
                "In groups [{}] the exception approved by {} makes it allow_outside_sandbox until {}.",
                e.groups.join(", "),
                e.approver,
                e.expires
            ));
        }
    }
    if a.decision_before_exceptions == Decision::Block && a.gates.is_empty() {
        if a.decided_by == DecidedBy::Exception {
            for e in &a.exceptions {
                if e.outcome == ExceptionStatus::Applied && e.groups.is_empty() {
                    out.push(format!(
                        "The exception approved by {} makes it allow_outside_sandbox until {}; after that it is block again.",
                        e.approver, e.expires
                    ));
                }
            }
        } else {
            out.push(format!(
                "An exception with a named approver, an expiry within {} months and the mitigations [{}] would make it allow_outside_sandbox for the groups it names.",
                p.max_exception_months,
                p.required_mitigations.join(", ")
            ));
        }
    }
    out
}
