//! Meta's own example bodies for Messenger (tests/fixtures/messenger), read
//! by the parser, and the whole channel's check of Meta's signature: the
//! same HMAC-SHA256 pywa verifies for WhatsApp, over each fixture, with the
//! pass, tamper and wrong-secret cases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use jiff::Timestamp;
use textdesk_channels::messenger::parse_webhook;
use textdesk_channels::meta::{compute_signature, verify_signature};
use textdesk_channels::{InboundEvent, MediaRef};
use textdesk_core::DeliveryStatus;

const PAGE: &str = "682498302938465";
const PSID: &str = "1254459154682919";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/messenger/{name}.json")))
        .unwrap()
}

fn one(name: &str) -> InboundEvent {
    let now = Timestamp::from_millisecond(1_527_459_900_000).unwrap();
    let parsed = parse_webhook(&fixture(name), PAGE, now).unwrap();
    assert_eq!(parsed.events.len(), 1, "{name}: {parsed:?}");
    parsed.events.into_iter().next().unwrap()
}

#[test]
fn metas_examples_read_as_messages_and_statuses() {
    let InboundEvent::Message { from, provider_id, body, media, .. } = one("text") else { panic!() };
    assert_eq!(
        (from.value(), provider_id.as_str(), body.as_str()),
        (PSID, "mid.1457764197618:41d102a3e1ae206a38", "hello, world!")
    );
    assert!(media.is_empty());
    let InboundEvent::Message { body, .. } = one("reply") else { panic!() };
    assert_eq!(body, "hello, world!");
    let InboundEvent::Message { body, media, .. } = one("attachment") else { panic!() };
    assert_eq!(body, "");
    assert_eq!(
        media,
        [MediaRef { url: "https://scontent.xx.fbcdn.net/v/t1.15752-9/photo.jpg".into(), content_type: None }]
    );
    let InboundEvent::Message { body, provider_id, .. } = one("postback") else { panic!() };
    assert_eq!(body, "TITLE-FOR-THE-CTA");
    assert!(provider_id.starts_with("m_AG5Hz2Uq7"));
    let InboundEvent::StatusUpTo { to, status, until } = one("delivery") else { panic!() };
    assert_eq!((to.value(), status, until.as_millisecond()), (PSID, DeliveryStatus::Delivered, 1_458_668_856_253));
    let InboundEvent::StatusUpTo { status, .. } = one("read") else { panic!() };
    assert_eq!(status, DeliveryStatus::Read);
    // Our own message coming back is not the customer's.
    let echo = parse_webhook(&fixture("echo"), PAGE, Timestamp::now()).unwrap();
    assert!(echo.events.is_empty() && echo.ignored == ["echo"]);
    // Another Page's traffic is not this inbox's.
    assert!(parse_webhook(&fixture("text"), "1", Timestamp::now()).unwrap().events.is_empty());
}

#[test]
fn metas_signature_passes_and_tampering_or_another_secret_fails() {
    let secret = "e3b0c44298fc1c149afbf4c8996fb924";
    for name in ["text", "attachment", "postback", "delivery", "read"] {
        let body = fixture(name);
        let sig = compute_signature(secret, &body);
        assert!(verify_signature(secret, &body, &sig), "{name}");
        let mut tampered = body.clone();
        tampered[20] ^= 1;
        assert!(!verify_signature(secret, &tampered, &sig), "{name} tampered");
        assert!(!verify_signature("another-app-secret", &body, &sig), "{name} with another secret");
    }
}
