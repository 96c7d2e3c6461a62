//! line-bot-sdk (LINE's own SDK, from PyPI, installed by
//! scripts/test-deps.d/74-python-line-bot-sdk.sh) as an independent peer of
//! the LINE channel: its validator accepts our signatures and refuses
//! tampered ones, its WebhookParser reads the SDK's own example webhook as we
//! do, its request models accept every reply and push our client sends, and
//! its MessagingApi sends through our fake as our client does. Skipped when
//! the peer is not installed, unless TEXTDESK_REQUIRE_PEERS=1.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on a broken setup.
#![cfg(feature = "fake")]

mod peers;

use std::path::PathBuf;

use serde_json::{Value, json};
use textdesk_channels::line::{FakeLine, LineClient, compute_signature, parse_webhook};
use textdesk_channels::{InboundEvent, Outgoing};

const USER: &str = "U206d25c2ea6bd87c17655609a1c37cb8";

fn fixture() -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/line/sdk_webhook.json"))
        .unwrap()
}

fn peer_python() -> Option<PathBuf> {
    peers::python("line", "linebot.v3", "line-bot-sdk")
}

async fn ask(python: PathBuf, request: Value) -> Value {
    peers::ask(python, "line/peer.py", request).await
}

#[tokio::test]
async fn the_sdk_accepts_our_signatures_and_refuses_tampered_ones() {
    let Some(python) = peer_python() else { return };
    let secret = "8c570fc3b2c3a1e1a3a2f2b1e0d9c8b7";
    let body = fixture();
    let signature = compute_signature(secret, body.as_bytes());
    let cases = json!([
        { "secret": secret, "body": body, "signature": signature },
        { "secret": secret, "body": body.replacen("Hello", "Jello", 1), "signature": signature },
        { "secret": "another-channel", "body": body, "signature": signature },
        // LINE's own published vector.
        { "secret": "channel_secret", "body": "bodybodybodybody", "signature": "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k=" },
    ]);
    let answer = ask(python, json!({ "op": "verify", "cases": cases })).await;
    assert_eq!(answer, json!([true, false, false, true]));
}

#[tokio::test]
async fn the_sdks_example_webhook_reads_alike() {
    let Some(python) = peer_python() else { return };
    let secret = "8c570fc3b2c3a1e1a3a2f2b1e0d9c8b7";
    let body = fixture();
    let theirs = ask(
        python,
        json!({ "op": "parse", "secret": secret, "body": body, "signature": compute_signature(secret, body.as_bytes()) }),
    )
    .await;
    let theirs = theirs.as_array().unwrap();
    // The ones we keep: a one-to-one chat's messages of the kinds we read, follow, unfollow, postbacks.
    let kept: Vec<&Value> = theirs
        .iter()
        .filter(|e| e["source"] == "user")
        .filter(|e| match e["type"].as_str() {
            Some("message") => ["text", "image", "video", "audio", "file", "location", "sticker"]
                .contains(&e["message_type"].as_str().unwrap_or_default()),
            Some(t) => ["follow", "unfollow", "postback"].contains(&t),
            None => false,
        })
        .collect();
    let now = jiff::Timestamp::now();
    let ours = parse_webhook(body.as_bytes(), "https://api-data.line.me", now).unwrap();
    assert_eq!(ours.events.len(), kept.len(), "ours: {:?}\ntheirs: {kept:?}", ours.events);
    for (event, peer) in ours.events.iter().zip(&kept) {
        let InboundEvent::Message { from, provider_id, body, .. } = event else { panic!("{event:?}") };
        assert_eq!(from.value(), peer["user_id"].as_str().unwrap());
        match peer["type"].as_str() {
            Some("message") => {
                assert_eq!(provider_id, peer["message_id"].as_str().unwrap());
                if peer["message_type"] == "text" {
                    assert_eq!(body, peer["text"].as_str().unwrap());
                }
                if peer["message_type"] == "file" {
                    assert_eq!(body, peer["file_name"].as_str().unwrap());
                }
            }
            _ => assert_eq!(provider_id, &format!("event:{}", peer["event_id"].as_str().unwrap())),
        }
    }
    // A redelivered event's reply token is not kept; a first delivery's is.
    let redelivered_tokens = kept.iter().filter(|e| e["redelivery"] == true && !e["reply_token"].is_null()).count();
    let fresh_tokens = kept.iter().filter(|e| e["redelivery"] == false && !e["reply_token"].is_null()).count();
    assert!(redelivered_tokens > 0);
    assert_eq!(ours.reply_tokens.len(), fresh_tokens);
}

#[tokio::test]
async fn the_sdk_takes_what_we_send_and_sends_what_we_do() {
    let Some(python) = peer_python() else { return };
    let fake = FakeLine::start().await.unwrap();
    let client = LineClient::new(fake.config()).unwrap();
    let image = "https://desk.example.com/media/7?exp=1&sig=x";
    let msg = Outgoing {
        to: USER.into(),
        body: "Your crown is ready.".into(),
        media_urls: vec![image.into(), "https://desk.example.com/media/8?exp=1&sig=y".into()],
        media_types: vec!["image/png".into(), "application/pdf".into()],
        ..Default::default()
    };
    client.send(&msg, None).await.unwrap();
    let reply_token = fake.event(USER, "message", json!({}))["replyToken"].as_str().unwrap().to_owned();
    client
        .send(&Outgoing { media_urls: vec![], media_types: vec![], ..msg.clone() }, Some(&reply_token))
        .await
        .unwrap();
    let ours = fake.sent();
    assert_eq!(ours.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), ["push", "reply"]);
    let requests: Vec<Value> = ours.iter().map(|(kind, body, _)| json!({ "kind": kind, "body": body })).collect();
    let checked = ask(python.clone(), json!({ "op": "validate", "requests": requests })).await;
    for (c, (_, body, _)) in checked.as_array().unwrap().iter().zip(&ours) {
        assert_eq!(c["ok"], true, "{c}");
        assert_eq!(without_defaults(&c["written"]), *body, "the SDK writes back what we sent");
    }
    // The SDK's own push to the fake is the request we make.
    let theirs = ask(
        python,
        json!({ "op": "push", "host": fake.api_url(), "token": fake.access_token(), "to": USER,
                "text": "Your crown is ready.\nAttachment: https://desk.example.com/media/8?exp=1&sig=y", "image": image }),
    )
    .await;
    assert_eq!(theirs["ids"].as_array().unwrap().len(), 2);
    let sent = fake.sent();
    assert_eq!(without_defaults(&sent[2].1), sent[0].1, "SDK: {} ours: {}", sent[2].1, sent[0].1);
}

/// The SDK writes `notificationDisabled: false`, LINE's default, which we leave out.
fn without_defaults(v: &Value) -> Value {
    let mut v = v.clone();
    if v.get("notificationDisabled") == Some(&json!(false)) {
        v.as_object_mut().unwrap().remove("notificationDisabled");
    }
    v
}
