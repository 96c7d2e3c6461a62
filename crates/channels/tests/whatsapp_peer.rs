//! pywa (PyPI, installed by scripts/test-deps.d/70-python-pywa.sh) as an
//! independent peer of the WhatsApp channel: it accepts the signatures we
//! compute as Meta's and refuses tampered ones, reads every fixture as the
//! same kind of message or status our parser makes of it, and, sending
//! through our fake Graph API, makes the same text and template requests our
//! client makes. Skipped when the peer is not installed, unless
//! TEXTDESK_REQUIRE_PEERS=1.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on a broken setup.
#![cfg(feature = "fake")]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use textdesk_channels::whatsapp::{FakeWhatsApp, WhatsAppClient, compute_signature, parse_webhook};
use textdesk_channels::{InboundEvent, Outgoing, OutgoingTemplate};
use textdesk_core::channel_template::{ButtonParam, HeaderParam};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/whatsapp")
}

fn peer_python() -> Option<PathBuf> {
    let python = repo_root().join("target/peers/pywa/bin/python");
    let installed =
        python.exists() && Command::new(&python).args(["-c", "import pywa"]).status().is_ok_and(|s| s.success());
    if installed {
        return Some(python);
    }
    if std::env::var("TEXTDESK_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("python pywa peer not installed at {} (run scripts/test-deps)", python.display());
    }
    println!("skipped: python pywa peer not installed (run scripts/test-deps)");
    None
}

/// Runs the peer with one request, without blocking the runtime's thread.
async fn ask(python: PathBuf, request: Value) -> Value {
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(python)
            .arg(repo_root().join("crates/channels/tests/peers/whatsapp/peer.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the python peer");
        child.stdin.take().unwrap().write_all(request.to_string().as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "the python peer failed");
        serde_json::from_slice(&out.stdout).unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn pywa_accepts_our_signatures_and_refuses_tampered_ones() {
    let Some(python) = peer_python() else { return };
    let secret = "e3b0c44298fc1c149afbf4c8996fb924";
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let body = std::fs::read_to_string(&path).unwrap();
        let signature = compute_signature(secret, body.as_bytes());
        cases.push(json!({ "secret": secret, "body": body, "signature": signature }));
        expected.push(true);
        cases.push(json!({ "secret": secret, "body": body.replacen('1', "2", 1), "signature": signature }));
        expected.push(false);
        cases.push(json!({ "secret": "another-app", "body": body, "signature": signature }));
        expected.push(false);
    }
    let answer = ask(python, json!({ "op": "verify", "cases": cases })).await;
    assert_eq!(answer, json!(expected));
}

#[tokio::test]
async fn pywa_reads_the_fixtures_as_we_do() {
    let Some(python) = peer_python() else { return };
    let theirs = ask(python, json!({ "op": "parse", "dir": fixtures() })).await;
    let now = jiff::Timestamp::from_second(1_749_416_400).unwrap();
    let mut compared = 0;
    for (name, peer) in theirs.as_object().unwrap() {
        let body = std::fs::read(fixtures().join(format!("{name}.json"))).unwrap();
        let ours = parse_webhook(&body, "106540352242922", "https://graph.facebook.com/v21.0", now).unwrap();
        match ours.events.first() {
            Some(InboundEvent::Message { from, provider_id, body, .. }) => {
                assert_eq!(from.value(), format!("+{}", peer["wa_id"].as_str().unwrap()), "{name}");
                assert_eq!(provider_id, peer["id"].as_str().unwrap(), "{name}");
                if let Some(text) = peer["text"].as_str().or(peer["caption"].as_str()) {
                    assert_eq!(body, text, "{name}");
                }
                let profile = ours.events.iter().find_map(|e| match e {
                    InboundEvent::Profile { name, .. } => Some(name.clone()),
                    _ => None,
                });
                assert_eq!(profile.as_deref(), peer["name"].as_str(), "{name}");
            }
            Some(InboundEvent::Status { provider_id, status, error }) => {
                assert_eq!(provider_id, peer["id"].as_str().unwrap(), "{name}");
                assert_eq!(status.as_str(), peer["status"].as_str().unwrap(), "{name}");
                assert_eq!(error.as_ref().and_then(|e| e.code.clone()), peer["error"].as_u64().map(|c| c.to_string()));
            }
            // pywa reads a message of a type we do not keep (unsupported): we ignore it, as Meta expects.
            None => assert_eq!(peer["type"], "unsupported", "{name}: {ours:?}"),
            other => panic!("{name}: {other:?}"),
        }
        compared += 1;
    }
    assert!(compared >= 17, "every fixture but the errors-only one: {compared}");
}

#[tokio::test]
async fn pywa_and_our_client_send_the_same_requests() {
    let Some(python) = peer_python() else { return };
    let fake = FakeWhatsApp::start().await.unwrap();
    let request = json!({ "op": "send", "api_base": fake.api_base(), "phone_id": fake.phone_number_id(), "token": fake.access_token(),
        "to": "16315551181", "text": "Your crown is ready.", "template": "visit_reminder", "language": "en_US", "values": ["Ana", "Tuesday"] });
    let sent_by_pywa = ask(python, request).await;
    assert!(
        sent_by_pywa["text"].as_str().unwrap().starts_with("wamid."),
        "the fake answered pywa as Meta does: {sent_by_pywa}"
    );
    let client = WhatsAppClient::new(fake.config()).unwrap();
    let text = Outgoing {
        from: "+14155550100".into(),
        to: "+16315551181".into(),
        body: "Your crown is ready.".into(),
        ..Default::default()
    };
    client.send(&text).await.unwrap();
    let template = OutgoingTemplate {
        name: "visit_reminder".into(),
        language: "en_US".into(),
        values: vec!["Ana".into(), "Tuesday".into()],
        header: None,
        buttons: vec![],
    };
    client.send(&Outgoing { template: Some(template), ..text }).await.unwrap();
    let sent = fake.sent();
    assert_eq!(sent.len(), 4);
    let pick = |v: &Value, keys: &[&str]| -> Value {
        keys.iter().map(|k| (k.to_string(), v[*k].clone())).collect::<serde_json::Map<_, _>>().into()
    };
    let keys = ["messaging_product", "to", "type"];
    assert_eq!(pick(&sent[0].1, &keys), pick(&sent[2].1, &keys));
    assert_eq!(sent[0].1["text"]["body"], sent[2].1["text"]["body"]);
    assert_eq!(pick(&sent[1].1, &keys), pick(&sent[3].1, &keys));
    // Meta takes the component type in either case (pywa writes BODY, we write body).
    let t = |v: &Value| {
        json!({ "name": v["template"]["name"], "language": v["template"]["language"]["code"],
                                "body": v["template"]["components"].as_array().unwrap().iter().find(|c| c["type"].as_str().is_some_and(|t| t.eq_ignore_ascii_case("body"))).unwrap()["parameters"] })
    };
    assert_eq!(t(&sent[1].1), t(&sent[3].1), "pywa: {} ours: {}", sent[1].1, sent[3].1);
}

/// pywa and our client fill a template's header and buttons the same way
/// (Meta's `components`: header, body, button with `sub_type` and `index`),
/// and the fake, holding the template, takes both as Meta would.
#[tokio::test]
async fn pywa_and_our_client_fill_headers_and_buttons_the_same_way() {
    let Some(python) = peer_python() else { return };
    let fake = FakeWhatsApp::start().await.unwrap();
    fake.add_template_with(
        "order_ready",
        "en_US",
        json!([
            { "type": "HEADER", "format": "DOCUMENT" },
            { "type": "BODY", "text": "Hi {{1}}, your order {{2}} is ready." },
            { "type": "BUTTONS", "buttons": [
                { "type": "QUICK_REPLY", "text": "Pick up today" },
                { "type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+14155550100" },
                { "type": "URL", "text": "Track", "url": "https://shop.example/t/{{1}}" } ] }
        ]),
    );
    let link = "https://files.example.com/orders/A-17.pdf";
    let request = json!({ "op": "send", "api_base": fake.api_base(), "phone_id": fake.phone_number_id(), "token": fake.access_token(),
        "to": "16315551181", "text": "Your order is ready.", "template": "order_ready", "language": "en_US", "values": ["Ana", "A-17"],
        "header": { "kind": "document", "value": link },
        "buttons": [{ "kind": "quick_reply", "index": 0, "value": "PICKUP-A-17" }, { "kind": "url", "index": 2, "value": "A-17" }] });
    let by_pywa = ask(python, request).await;
    assert!(by_pywa["template"].as_str().unwrap().starts_with("wamid."), "the fake took pywa's template: {by_pywa}");
    let client = WhatsAppClient::new(fake.config()).unwrap();
    let template = OutgoingTemplate {
        name: "order_ready".into(),
        language: "en_US".into(),
        values: vec!["Ana".into(), "A-17".into()],
        header: Some(HeaderParam::Document { link: link.into() }),
        buttons: vec![
            ButtonParam::QuickReply { index: 0, payload: "PICKUP-A-17".into() },
            ButtonParam::Url { index: 2, text: "A-17".into() },
        ],
    };
    let ours = Outgoing { to: "+16315551181".into(), template: Some(template), body: "x".into(), ..Default::default() };
    client.send(&ours).await.unwrap();
    let sent = fake.sent();
    // Meta reads types and sub-types in either case and the index as a string or a number (pywa: BUTTON, QUICK_REPLY, 0).
    let normal = |v: &Value| -> Vec<Value> {
        v["template"]["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let mut c = c.clone();
                for k in ["type", "sub_type"] {
                    if let Some(s) = c[k].as_str().map(str::to_lowercase) {
                        c[k] = json!(s);
                    }
                }
                if let Some(i) = c["index"].as_u64() {
                    c["index"] = json!(i.to_string());
                }
                c
            })
            .collect()
    };
    let pywa_template = &sent[1].1;
    let our_template = &sent[2].1;
    assert_eq!(normal(pywa_template), normal(our_template), "pywa: {pywa_template} ours: {our_template}");
    // The fake refuses what Meta would: the URL's ending left out.
    let wrong = OutgoingTemplate {
        buttons: vec![ButtonParam::QuickReply { index: 0, payload: "P".into() }],
        ..ours.template.clone().unwrap()
    };
    assert!(client.send(&Outgoing { template: Some(wrong), ..ours }).await.is_err());
}
