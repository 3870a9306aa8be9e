//! Slack and Teams sinks: a loopback receiver captures the body; its structure
//! (Block Kit block types, the Adaptive Card envelope) and content are checked.
#![allow(clippy::unwrap_used)]

mod support;

use alert::Status;
use serde_json::Value;
use support::{Receiver, TempDir, notification};

fn texts(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(a) => a.iter().for_each(|x| texts(x, out)),
        Value::Object(o) => o.values().for_each(|x| texts(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn slack_block_kit() {
    let rx = Receiver::start(|_| 200).await;
    let dir = TempDir::new("slack");
    dir.write("slack-url", rx.url("/services/T000/B000/XXXXSECRET\n"));
    let sinks = support::build("[[slack]]\nurl_file = \"slack-url\"\n", dir.path());
    assert_eq!(sinks[0].kind(), "slack");
    assert_eq!(sinks[0].describe(), "slack:127.0.0.1");

    sinks[0].send(&notification("ob-5", Status::Firing)).await.unwrap();
    let req = rx.taken().pop().unwrap();
    assert_eq!(req.path, "/services/T000/B000/XXXXSECRET");
    let b = req.json();
    let text = b["text"].as_str().unwrap();
    assert!(text.contains("[FIRING:2] TikTok use — corporate"), "{text}");
    assert!(text.contains("laptop-7 used TikTok"), "{text}");
    let blocks = b["blocks"].as_array().unwrap();
    let types: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(types[0], "header");
    assert_eq!(blocks[0]["text"]["type"], "plain_text");
    assert_eq!(blocks[0]["text"]["text"], "[FIRING:2] TikTok use — corporate");
    assert_eq!(types.iter().filter(|t| **t == "section").count(), 3, "{types:?}");
    assert_eq!(*types.last().unwrap(), "context");
    assert!(
        types
            .iter()
            .all(|t| ["header", "section", "divider", "context"].contains(t))
    );
    // The per-alert section: who / what / how many / window.
    let s = &blocks[3];
    assert_eq!(s["type"], "section");
    let fields: Vec<&str> = s["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    assert_eq!(fields[0], "*Who*\nlaptop-7 (192.0.2.7)");
    assert_eq!(fields[1], "*What*\nTikTok use");
    assert_eq!(fields[2], "*How many*\n7 detections (5 blocked, 2 got through)");
    assert_eq!(fields[3], "*Window*\n2024-06-01 12:00:00 UTC → 12:05:00 UTC (5m 0s)");
    assert!(fields.len() <= 10);
    let mut all = String::new();
    texts(&b, &mut all);
    assert!(all.contains("phone-3 (192.0.2.8)"));
    assert!(all.contains("`/var/log/dnsmasq.log:42`"));
    assert!(all.contains("<https://appwarden.example.net|Open appwarden>"));

    // Resolved.
    sinks[0].send(&notification("ob-6", Status::Resolved)).await.unwrap();
    let b = rx.taken().pop().unwrap().json();
    assert_eq!(b["blocks"][0]["text"]["text"], "[RESOLVED] TikTok use — corporate");
    assert!(b["text"].as_str().unwrap().starts_with(":white_check_mark:"));

    // Slack answers 404 "no_service" for a revoked URL: permanent, and the error shows no token.
    let rx404 = Receiver::start(|_| 404).await;
    let sinks = support::build(
        &format!("[[slack]]\nurl = \"{}\"\n", rx404.url("/services/T/B/SECRET")),
        dir.path(),
    );
    let e = sinks[0].send(&notification("ob-7", Status::Firing)).await.unwrap_err();
    assert!(!e.retryable);
    assert!(!e.message.contains("SECRET"), "{e}");
}

#[tokio::test]
async fn slack_escapes_mrkdwn() {
    let rx = Receiver::start(|_| 200).await;
    let dir = TempDir::new("slack-esc");
    let sinks = support::build(&format!("[[slack]]\nurl = \"{}\"\n", rx.url("/s")), dir.path());
    let mut n = notification("ob-8", Status::Firing);
    n.alerts[0].labels.insert("device".into(), "<script>&".into());
    sinks[0].send(&n).await.unwrap();
    let b = rx.taken().pop().unwrap().json();
    assert_eq!(
        b["blocks"][3]["fields"][0]["text"],
        "*Who*\n&lt;script&gt;&amp; (192.0.2.7)"
    );
}

#[tokio::test]
async fn teams_adaptive_card() {
    let rx = Receiver::start(|_| 202).await;
    let dir = TempDir::new("teams");
    let url = rx.url("/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=SIGSECRET");
    let sinks = support::build(&format!("[[teams]]\nurl = \"{url}\"\ntimeout = \"5s\"\n"), dir.path());
    assert_eq!(sinks[0].kind(), "teams");
    assert_eq!(sinks[0].describe(), "teams:127.0.0.1");

    sinks[0].send(&notification("ob-9", Status::Firing)).await.unwrap();
    let req = rx.taken().pop().unwrap();
    assert!(req.path.ends_with("sig=SIGSECRET"));
    let b = req.json();
    assert_eq!(b["type"], "message");
    let att = &b["attachments"].as_array().unwrap()[0];
    assert_eq!(att["contentType"], "application/vnd.microsoft.card.adaptive");
    let card = &att["content"];
    assert_eq!(card["$schema"], "http://adaptivecards.io/schemas/adaptive-card.json");
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    let body = card["body"].as_array().unwrap();
    // Header container coloured by severity (critical → attention).
    assert_eq!(body[0]["type"], "Container");
    assert_eq!(body[0]["style"], "attention");
    assert_eq!(body[0]["items"][0]["text"], "[FIRING:2] TikTok use — corporate");
    assert_eq!(body[0]["items"][0]["color"], "Attention");
    let factsets: Vec<&Value> = body.iter().filter(|e| e["type"] == "FactSet").collect();
    assert_eq!(factsets.len(), 2);
    let facts: Vec<(String, String)> = factsets[0]["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["title"].as_str().unwrap().to_string(),
                f["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let get = |k: &str| facts.iter().find(|(t, _)| t == k).map(|(_, v)| v.as_str()).unwrap();
    assert_eq!(get("Who"), "laptop-7 (192.0.2.7)");
    assert_eq!(get("What"), "TikTok use");
    assert_eq!(get("How many"), "7 detections (5 blocked, 2 got through)");
    assert_eq!(get("Group"), "corporate");
    assert!(get("Evidence").contains("/var/log/dnsmasq.log:42"));
    // Every element is a known Adaptive Card 1.4 element type.
    assert!(
        body.iter()
            .all(|e| ["Container", "TextBlock", "FactSet"].contains(&e["type"].as_str().unwrap()))
    );
    assert_eq!(card["actions"][0]["type"], "Action.OpenUrl");
    assert_eq!(card["actions"][0]["url"], "https://appwarden.example.net");

    // Warning severity → warning style; resolved → good.
    let mut n = notification("ob-10", Status::Firing);
    for a in &mut n.alerts {
        a.labels.insert("severity".into(), "warning".into());
    }
    sinks[0].send(&n).await.unwrap();
    assert_eq!(
        rx.taken().pop().unwrap().json()["attachments"][0]["content"]["body"][0]["style"],
        "warning"
    );
    sinks[0].send(&notification("ob-11", Status::Resolved)).await.unwrap();
    let b = rx.taken().pop().unwrap().json();
    assert_eq!(b["attachments"][0]["content"]["body"][0]["style"], "good");
    assert_eq!(
        b["attachments"][0]["content"]["body"][0]["items"][0]["text"],
        "[RESOLVED] TikTok use — corporate"
    );

    // 429 from the workflow service: retry later.
    let busy = Receiver::start(|_| 429).await;
    let sinks = support::build(&format!("[[teams]]\nurl = \"{}\"\n", busy.url("/w?sig=S")), dir.path());
    assert!(
        sinks[0]
            .send(&notification("ob-12", Status::Firing))
            .await
            .unwrap_err()
            .retryable
    );
}

#[test]
fn chat_urls_are_required_and_secret() {
    let dir = TempDir::new("chat-build");
    let e = support::build_err("[[slack]]\ntimeout = 3\n", dir.path());
    assert!(e.starts_with("slack[0]: url:"), "{e}");
    let e = support::build_err("[[teams]]\nurl = \"not a url SECRET\"\n", dir.path());
    assert!(e.starts_with("teams[0]: url:") && !e.contains("SECRET"), "{e}");
    let cfg: alert::sinks::SinkConfigs =
        toml::from_str("[[slack]]\nurl = \"https://hooks.example.net/T/B/SECRET\"\n").unwrap();
    assert!(!format!("{cfg:?}").contains("SECRET"));
}
