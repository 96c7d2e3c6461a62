//! What Meta posts to a WhatsApp inbox, from Meta's own example bodies
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on a broken setup.
//! (tests/fixtures/whatsapp): each inbound kind and status parsed into what
//! the inbox keeps; the X-Hub-Signature-256 check (pass, tampered body, wrong
//! secret, missing); the subscription handshake (right and wrong token); and
//! bad input refused with a reason, or ignored where Meta expects a 200.

use std::path::PathBuf;

use jiff::Timestamp;
use textdesk_channels::net::FetchPolicy;
use textdesk_channels::provider::{Context, InboundRequest, Refusal, StoredSetup};
use textdesk_channels::whatsapp::{SIGNATURE_HEADER, compute_signature, parse_webhook, verify_signature};
use textdesk_channels::{Channel, InboundEvent, Provider};
use textdesk_core::DeliveryStatus;

const PHONE_NUMBER_ID: &str = "106540352242922";
const GRAPH: &str = "https://graph.facebook.com/v21.0";
const SECRET: &str = "e3b0c44298fc1c149afbf4c8996fb924";
const VERIFY: &str = "meatyhamhock";

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/whatsapp").join(format!("{name}.json"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// When the fixtures' messages were written (1749416383): the parser keeps
/// Meta's time when it is within the last week.
fn now() -> Timestamp {
    Timestamp::from_second(1_749_416_400).unwrap()
}

fn one_message(name: &str) -> (String, String, Vec<(String, Option<String>)>, Timestamp) {
    let p = parse_webhook(&fixture(name), PHONE_NUMBER_ID, GRAPH, now()).unwrap();
    assert!(p.ignored.is_empty(), "{name}: {:?}", p.ignored);
    let mut messages = p.events.iter().filter_map(|e| match e {
        InboundEvent::Message { from, body, media, received_at, .. } => Some((
            from.value().to_owned(),
            body.clone(),
            media.iter().map(|m| (m.url.clone(), m.content_type.clone())).collect(),
            *received_at,
        )),
        _ => None,
    });
    let m = messages.next().unwrap_or_else(|| panic!("{name}: no message in {:?}", p.events));
    assert!(messages.next().is_none());
    // The customer's profile name comes along, for a contact nobody named yet.
    assert!(
        p.events.iter().any(|e| matches!(e, InboundEvent::Profile { name, .. } if name == "Kerry Fisher")),
        "{name}: {:?}",
        p.events
    );
    m
}

#[test]
fn every_kind_of_customer_message_is_kept_in_words_an_agent_reads() {
    let (from, body, media, at) = one_message("text");
    assert_eq!(from, "+16315551181", "the wa_id is the customer's number in E.164");
    assert_eq!(body, "Does it come in another color?");
    assert!(media.is_empty());
    assert_eq!(at, Timestamp::from_second(1_749_416_383).unwrap(), "the 24 hours count from when they wrote");

    let media_of = |name: &str| one_message(name);
    let (_, body, media, _) = media_of("image");
    assert_eq!(body, "This is the one that hurts");
    assert_eq!(media, [(format!("{GRAPH}/1003383421387256"), Some("image/jpeg".to_owned()))]);
    let (_, body, media, _) = media_of("document");
    assert_eq!(body, "lucky-shrub-invoice.pdf", "a document without a caption is named");
    assert_eq!(media[0].1.as_deref(), Some("application/pdf"));
    let (_, body, media, _) = media_of("audio");
    assert_eq!((body.as_str(), media[0].0.as_str()), ("", "https://graph.facebook.com/v21.0/1003383421387258"));
    assert_eq!(media[0].1.as_deref(), Some("audio/ogg; codecs=opus"));
    let (_, body, media, _) = media_of("video");
    assert_eq!((body.as_str(), media[0].1.as_deref()), ("The noise it makes", Some("video/mp4")));
    let (_, _, media, _) = media_of("sticker");
    assert_eq!(media[0].1.as_deref(), Some("image/webp"));

    let (_, body, _, _) = one_message("location");
    assert!(body.starts_with("Shared a location: Philz Coffee, 1 Hacker Way, Menlo Park, CA 94025 — https://www.openstreetmap.org/?mlat=37.483307&mlon=-122.148981"), "{body}");
    let (_, body, _, _) = one_message("contacts");
    assert_eq!(body, "Shared a contact: Barbara J. Johnson, +1 (940) 555-1234, +1 (650) 555-1234");
    let (_, body, _, _) = one_message("button");
    assert_eq!(body, "Yes, reschedule");
    let (_, body, _, _) = one_message("interactive_button_reply");
    assert_eq!(body, "Change");
    let (_, body, _, _) = one_message("interactive_list_reply");
    assert_eq!(body, "Priority Mail Express — Next Day to 2 Days");
    let (_, body, _, _) = one_message("reaction");
    assert_eq!(body, "Reacted 👍 to a message");
}

#[test]
fn statuses_move_the_message_on_and_a_failure_says_why() {
    let status = |name: &str| {
        let p = parse_webhook(&fixture(name), PHONE_NUMBER_ID, GRAPH, now()).unwrap();
        match p.events.as_slice() {
            [InboundEvent::Status { provider_id, status, error }] => {
                assert_eq!(provider_id, "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA");
                (*status, error.clone())
            }
            other => panic!("{name}: {other:?}"),
        }
    };
    assert_eq!(status("status_sent"), (DeliveryStatus::Sent, None));
    assert_eq!(status("status_delivered"), (DeliveryStatus::Delivered, None));
    assert_eq!(status("status_read"), (DeliveryStatus::Read, None));
    let (s, error) = status("status_failed");
    assert_eq!(s, DeliveryStatus::Failed);
    let error = error.unwrap();
    assert_eq!(error.code.as_deref(), Some("131047"));
    assert!(
        error.explanation.starts_with("More than 24 hours have passed since the customer last wrote"),
        "{}",
        error.explanation
    );
    assert!(error.explanation.contains("Re-engagement message: Message failed to send because more than 24 hours"));
}

#[test]
fn what_this_version_does_not_keep_is_ignored_so_meta_stops_retrying() {
    for (name, kind) in [("unsupported", "unsupported"), ("errors_only", "errors")] {
        let p = parse_webhook(&fixture(name), PHONE_NUMBER_ID, GRAPH, now()).unwrap();
        assert!(p.events.is_empty(), "{name}: {:?}", p.events);
        assert_eq!(p.ignored, [kind]);
    }
    // Another number's traffic through the same app is not this inbox's.
    let p = parse_webhook(&fixture("text"), "999", GRAPH, now()).unwrap();
    assert!(p.events.is_empty() && p.ignored == ["another number"]);
}

#[test]
fn malformed_bodies_are_refused_with_a_reason() {
    let refuse = |body: &[u8]| parse_webhook(body, PHONE_NUMBER_ID, GRAPH, now()).unwrap_err().0;
    assert!(refuse(b"").contains("not a WhatsApp webhook"));
    assert!(refuse(b"{\"object\":\"whatsapp_business_account\"").contains("not a WhatsApp webhook"));
    assert!(refuse(br#"{"object":"instagram","entry":[]}"#).contains("not whatsapp_business_account"));
    let changed = |name: &str, pointer: &str, v: serde_json::Value| {
        let mut body: serde_json::Value = serde_json::from_slice(&fixture(name)).unwrap();
        *body.pointer_mut(pointer).unwrap() = v;
        serde_json::to_vec(&body).unwrap()
    };
    let message = "/entry/0/changes/0/value/messages/0";
    assert!(refuse(&changed("text", &format!("{message}/from"), "not-a-number".into())).contains("from"));
    assert!(refuse(&changed("text", "/entry/0/changes/0/value/messages", 7.into())).contains("messages is not a list"));
    assert!(refuse(&changed("text", &format!("{message}/text/body"), "".into())).contains("neither text nor media"));
    assert!(refuse(&changed("text", &format!("{message}/text/body"), "x".repeat(5000).into())).contains("longer than"));
    assert!(
        refuse(&changed("image", &format!("{message}/image/id"), "../../me?fields=x".into()))
            .contains("not a media id")
    );
    assert!(
        refuse(&changed("location", &format!("{message}/location/latitude"), 137.5.into())).contains("off the globe")
    );
    assert!(refuse(&changed("status_read", "/entry/0/changes/0/value/statuses/0/id", "".into())).contains("no id"));
}

/// An inbox's channel as the app opens it.
fn channel() -> std::sync::Arc<dyn Channel> {
    let mut stored = StoredSetup::default();
    for (k, v) in [("phone_number_id", PHONE_NUMBER_ID), ("waba_id", "102290129340398")] {
        stored.settings.insert(k.into(), v.into());
    }
    for (k, v) in [("access_token", "EAAG-token"), ("app_secret", SECRET), ("verify_token", VERIFY)] {
        stored.secrets.insert(k.into(), v.into());
    }
    let resources = http::Extensions::new();
    let policy = FetchPolicy::public_only();
    let ctx =
        Context { inbox_id: 7, public_url: "https://desk.example.com", resources: &resources, media_policy: &policy };
    textdesk_channels::whatsapp::WhatsApp.open(&ctx, &stored).unwrap()
}

fn post(channel: &dyn Channel, body: &[u8], signature: Option<&str>) -> Result<Vec<InboundEvent>, Refusal> {
    let mut headers = http::HeaderMap::new();
    if let Some(sig) = signature {
        headers.insert(SIGNATURE_HEADER, sig.parse().unwrap());
    }
    let req = InboundRequest {
        hook: "inbound",
        url: "https://desk.example.com/webhooks/whatsapp/7",
        headers: &headers,
        body,
        now: now(),
    };
    channel.verify(&req).map(|i| {
        assert_eq!((i.answer.status, i.answer.body.as_ref()), (200, "ok"));
        i.events
    })
}

#[test]
fn only_what_meta_signed_with_the_app_secret_is_read() {
    let c = channel();
    let body = fixture("text");
    let good = compute_signature(SECRET, &body);
    assert!(verify_signature(SECRET, &body, &good));
    assert_eq!(post(c.as_ref(), &body, Some(&good)).unwrap().len(), 2);
    // A body changed on the way, even by a byte, is refused before it is parsed.
    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| *b == b'?').unwrap();
    tampered[at] = b'!';
    assert!(matches!(post(c.as_ref(), &tampered, Some(&good)), Err(Refusal::Forbidden(_))));
    // Signed with another app's secret, or not signed at all.
    let other = compute_signature("another-apps-secret", &body);
    assert!(matches!(post(c.as_ref(), &body, Some(&other)), Err(Refusal::Forbidden(_))));
    assert!(matches!(post(c.as_ref(), &body, None), Err(Refusal::Forbidden(w)) if w.contains("missing")));
    assert!(matches!(post(c.as_ref(), &body, Some(good.trim_start_matches("sha256="))), Err(Refusal::Forbidden(_))));
    // Signed but not a WhatsApp body: a clear 400.
    let junk = b"{\"hello\": 1}";
    assert!(matches!(post(c.as_ref(), junk, Some(&compute_signature(SECRET, junk))), Err(Refusal::BadRequest(_))));
}

#[test]
fn the_handshake_echoes_the_challenge_only_for_the_inbox_verify_token() {
    let c = channel();
    let q = |token: &str| format!("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={token}");
    let answer = c.handshake("inbound", &q(VERIFY)).unwrap();
    assert_eq!((answer.status, answer.body.as_ref()), (200, "1158201444"));
    assert_eq!(answer.content_type, Some("text/plain; charset=utf-8"));
    assert!(matches!(c.handshake("inbound", &q("meatyhamhocks")), Err(Refusal::Forbidden(_))));
    assert!(matches!(c.handshake("inbound", &q("")), Err(Refusal::Forbidden(_))));
    assert!(matches!(
        c.handshake("inbound", "hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=meatyhamhock"),
        Err(Refusal::BadRequest(_))
    ));
    // Nothing but Meta's challenge is echoed back.
    assert!(matches!(c.handshake("inbound", &format!("{}%3Cscript%3E", q(VERIFY))), Err(Refusal::Forbidden(_))));
    let script = format!("hub.mode=subscribe&hub.challenge=%3Cscript%3E&hub.verify_token={VERIFY}");
    assert!(matches!(c.handshake("inbound", &script), Err(Refusal::BadRequest(_))));
    assert!(matches!(c.handshake("status", &q(VERIFY)), Err(Refusal::NotFound(_))));
}
