//! Integration tests of the exporters: syntax accepted by the real tools,
//! behaviour in the real servers, hostile input, round trips.

#![allow(missing_docs, clippy::unwrap_used, clippy::field_reassign_with_default)]

mod support;

use export::{Format, Options, render, render_all};

#[test]
fn every_format_renders_the_sample_plan_deterministically() {
    let plan = support::sample_plan();
    for g in ["corporate", "byod"] {
        for &f in Format::ALL {
            let a = render(&plan, f, g, &Options::default()).unwrap();
            let b = render(&plan, f, g, &Options::default()).unwrap();
            assert_eq!(a, b, "{f} not deterministic");
            assert!(!a.is_empty());
            if let Ok(dir) = std::env::var("APPWARDEN_DUMP") {
                let p = std::path::Path::new(&dir).join(g);
                std::fs::create_dir_all(&p).unwrap();
                std::fs::write(p.join(format!("{}.{}", f.name(), f.file_extension())), &a).unwrap();
            }
        }
    }
    let m = render_all(&plan, &Options::default()).unwrap();
    assert_eq!(m.files.len(), 2 * (Format::ALL.len() + 2));
}
mod syntax;
mod tools;

#[test]
fn dump_real_plan_when_asked() {
    let Ok(dir) = std::env::var("APPWARDEN_DUMP_REAL") else {
        return;
    };
    let Some(plan) = support::real_plan() else {
        return;
    };
    std::fs::write(format!("{dir}/plan.json"), serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
    for g in &plan.groups {
        let p = std::path::Path::new(&dir).join(&g.id);
        std::fs::create_dir_all(&p).unwrap();
        for &f in Format::ALL {
            let a = render(&plan, f, &g.id, &Options::default()).unwrap();
            std::fs::write(p.join(format!("{}.{}", f.name(), f.file_extension())), &a).unwrap();
        }
    }
}
mod behaviour;
mod hostile;
mod roundtrip;
