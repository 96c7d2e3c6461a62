//! Parsing Twilio's inbound-message webhook and status callback.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests and benchmarks may panic on a broken setup.

use jiff::Timestamp;
use textdesk_channels::twilio::{EMPTY_TWIML, parse_inbound, parse_status};
use textdesk_channels::{ConsentSignal, InboundEvent, MediaRef};
use textdesk_core::DeliveryStatus;

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const SID: &str = "SM0123456789abcdef0123456789abcdef";

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// What Twilio posts for a plain SMS (field names from its webhook docs).
fn sms() -> Vec<(String, String)> {
    pairs(&[
        ("ToCountry", "US"),
        ("ToState", "CA"),
        ("SmsMessageSid", SID),
        ("NumMedia", "0"),
        ("ToCity", "SAN FRANCISCO"),
        ("FromZip", "94105"),
        ("SmsSid", SID),
        ("FromState", "CA"),
        ("SmsStatus", "received"),
        ("FromCity", "SAN FRANCISCO"),
        ("Body", "Is the shop open today?"),
        ("FromCountry", "US"),
        ("To", "+14155550100"),
        ("MessagingServiceSid", "MG0123456789abcdef0123456789abcdef"),
        ("ToZip", "94105"),
        ("NumSegments", "1"),
        ("MessageSid", SID),
        ("AccountSid", ACCOUNT),
        ("From", "+14155552671"),
        ("ApiVersion", "2010-04-01"),
    ])
}

fn with(mut params: Vec<(String, String)>, name: &str, value: &str) -> Vec<(String, String)> {
    params.retain(|(n, _)| n != name);
    params.push((name.to_owned(), value.to_owned()));
    params
}

fn without(mut params: Vec<(String, String)>, name: &str) -> Vec<(String, String)> {
    params.retain(|(n, _)| n != name);
    params
}

fn now() -> Timestamp {
    "2026-01-02T03:04:05Z".parse().unwrap()
}

#[test]
fn a_plain_sms_parses() {
    let inbound = parse_inbound(&sms(), now()).unwrap();
    assert_eq!(inbound.account_sid, ACCOUNT);
    assert_eq!(inbound.to, "+14155550100");
    assert_eq!(inbound.messaging_service_sid.as_deref(), Some("MG0123456789abcdef0123456789abcdef"));
    assert_eq!(inbound.num_segments, Some(1));
    assert_eq!(inbound.from_city.as_deref(), Some("SAN FRANCISCO"));
    assert_eq!(inbound.from_state.as_deref(), Some("CA"));
    assert_eq!(inbound.from_zip.as_deref(), Some("94105"));
    assert_eq!(inbound.from_country.as_deref(), Some("US"));
    let InboundEvent::Message { from, provider_id, body, media, received_at, consent_signal } = inbound.event else {
        panic!("not a message");
    };
    assert_eq!(from.value(), "+14155552671");
    assert_eq!(provider_id, SID);
    assert_eq!(body, "Is the shop open today?");
    assert!(media.is_empty());
    assert_eq!(received_at, now());
    assert_eq!(consent_signal, None);
}

#[test]
fn optional_fields_may_be_missing_and_unknown_ones_are_ignored() {
    let mut p =
        pairs(&[("MessageSid", SID), ("AccountSid", ACCOUNT), ("From", "+14155552671"), ("To", "+14155550100")]);
    p.push(("Body".into(), "hi".into()));
    p.push(("SomethingNew".into(), "whatever".into()));
    p.push(("SomethingNew".into(), "twice".into()));
    let inbound = parse_inbound(&p, now()).unwrap();
    assert_eq!(inbound.messaging_service_sid, None);
    assert_eq!(inbound.num_segments, None);
    assert_eq!(inbound.from_city, None);
}

#[test]
fn media_is_collected_and_body_may_be_empty_then() {
    let p = with(sms(), "NumMedia", "2");
    let p = with(p, "Body", "");
    let p = with(p, "MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1");
    let p = with(p, "MediaContentType0", "image/jpeg");
    let p = with(p, "MediaUrl1", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2");
    let InboundEvent::Message { media, body, .. } = parse_inbound(&p, now()).unwrap().event else { panic!() };
    assert_eq!(body, "");
    assert_eq!(
        media,
        vec![
            MediaRef {
                url: "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1".into(),
                content_type: Some("image/jpeg".into())
            },
            MediaRef {
                url: "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2".into(),
                content_type: None
            },
        ]
    );
}

#[test]
fn media_must_match_num_media_and_be_http() {
    let one = with(with(sms(), "NumMedia", "1"), "MediaUrl0", "https://a.example/x");
    assert!(parse_inbound(&one, now()).is_ok());
    let missing = with(sms(), "NumMedia", "1");
    assert!(parse_inbound(&missing, now()).unwrap_err().0.contains("MediaUrl0"));
    let extra = with(one.clone(), "MediaUrl1", "https://a.example/y");
    assert!(parse_inbound(&extra, now()).is_err());
    let zero_with_url = with(sms(), "MediaUrl0", "https://a.example/x");
    assert!(parse_inbound(&zero_with_url, now()).is_err());
    for bad in ["file:///etc/passwd", "javascript:alert(1)", "not a url", "ftp://a.example/x", ""] {
        assert!(parse_inbound(&with(one.clone(), "MediaUrl0", bad), now()).is_err(), "{bad}");
    }
    for n in ["11", "-1", "x", "99999999999"] {
        assert!(parse_inbound(&with(sms(), "NumMedia", n), now()).is_err(), "{n}");
    }
    let mut ten = with(sms(), "NumMedia", "10");
    for i in 0..10 {
        ten.push((format!("MediaUrl{i}"), format!("https://a.example/{i}")));
    }
    assert!(parse_inbound(&ten, now()).is_ok());
}

#[test]
fn an_empty_message_without_media_is_refused() {
    assert!(parse_inbound(&with(sms(), "Body", "  "), now()).is_err());
    assert!(parse_inbound(&without(sms(), "Body"), now()).is_err());
}

#[test]
fn long_bodies_are_capped() {
    let long = "a".repeat(4800);
    assert!(parse_inbound(&with(sms(), "Body", &long), now()).is_ok());
    let err = parse_inbound(&with(sms(), "Body", &format!("{long}a")), now()).unwrap_err();
    assert!(err.0.contains("4800"));
}

#[test]
fn sids_and_numbers_are_checked() {
    for bad in [
        "",
        "SM123",
        "sm0123456789abcdef0123456789abcdef",
        "SM0123456789abcdef0123456789abcdeg",
        "SM0123456789abcdef0123456789abcdef0",
    ] {
        assert!(parse_inbound(&with(sms(), "MessageSid", bad), now()).is_err(), "{bad}");
    }
    assert!(parse_inbound(&with(sms(), "MessageSid", "MM0123456789ABCDEF0123456789ABCDEF"), now()).is_ok());
    assert!(parse_inbound(&with(sms(), "AccountSid", SID), now()).is_err());
    assert!(parse_inbound(&without(sms(), "AccountSid"), now()).is_err());
    assert!(parse_inbound(&with(sms(), "From", "not a number"), now()).is_err());
    assert!(parse_inbound(&without(sms(), "From"), now()).is_err());
    assert!(parse_inbound(&without(sms(), "To"), now()).is_err());
    assert!(parse_inbound(&with(sms(), "MessagingServiceSid", "MGnope"), now()).is_err());
    assert!(parse_inbound(&with(sms(), "NumSegments", "many"), now()).is_err());
    // Two different MessageSids: which one was meant is unknowable.
    let mut twice = sms();
    twice.push(("MessageSid".into(), "SM99999999999999999999999999999999".into()));
    assert!(parse_inbound(&twice, now()).is_err());
}

#[test]
fn whatsapp_senders_are_phone_numbers_too() {
    let p = with(with(sms(), "From", "whatsapp:+14155552671"), "To", "whatsapp:+14155550100");
    let inbound = parse_inbound(&p, now()).unwrap();
    assert_eq!(inbound.to, "whatsapp:+14155550100");
    let InboundEvent::Message { from, .. } = inbound.event else { panic!() };
    assert_eq!(from.value(), "+14155552671");
}

#[test]
fn advanced_opt_out_becomes_a_consent_signal() {
    for (raw, signal) in [
        ("STOP", Some(ConsentSignal::OptOut)),
        ("START", Some(ConsentSignal::OptIn)),
        ("HELP", Some(ConsentSignal::Help)),
        ("help", Some(ConsentSignal::Help)),
        ("SOMETHINGNEW", None),
        ("", None),
    ] {
        let InboundEvent::Message { consent_signal, .. } =
            parse_inbound(&with(sms(), "OptOutType", raw), now()).unwrap().event
        else {
            panic!()
        };
        assert_eq!(consent_signal, signal, "{raw}");
    }
}

fn status(value: &str, error: Option<&str>) -> Vec<(String, String)> {
    let mut p = pairs(&[
        ("SmsSid", SID),
        ("SmsStatus", value),
        ("MessageStatus", value),
        ("To", "+14155552671"),
        ("MessageSid", SID),
        ("AccountSid", ACCOUNT),
        ("From", "+14155550100"),
        ("ApiVersion", "2010-04-01"),
    ]);
    if let Some(code) = error {
        p.push(("ErrorCode".into(), code.into()));
    }
    p
}

#[test]
fn statuses_map_to_delivery_statuses() {
    for (raw, expected) in [
        ("accepted", DeliveryStatus::Queued),
        ("queued", DeliveryStatus::Queued),
        ("scheduled", DeliveryStatus::Queued),
        ("sending", DeliveryStatus::Sending),
        ("sent", DeliveryStatus::Sent),
        ("delivered", DeliveryStatus::Delivered),
        ("read", DeliveryStatus::Read),
        ("undelivered", DeliveryStatus::Undelivered),
        ("failed", DeliveryStatus::Failed),
        ("canceled", DeliveryStatus::Failed),
    ] {
        let parsed = parse_status(&status(raw, None)).unwrap();
        assert_eq!(parsed.account_sid, ACCOUNT);
        assert_eq!(
            parsed.event,
            InboundEvent::Status { provider_id: SID.into(), status: expected, error: None },
            "{raw}"
        );
    }
    assert!(parse_status(&status("exploded", None)).is_err());
    assert!(parse_status(&status("received", None)).is_err());
    // Old callbacks carry only SmsStatus.
    assert!(parse_status(&without(status("sent", None), "MessageStatus")).is_ok());
    assert!(parse_status(&without(without(status("sent", None), "MessageStatus"), "SmsStatus")).is_err());
    assert!(parse_status(&without(status("sent", None), "MessageSid")).is_err());
}

#[test]
fn error_codes_are_explained() {
    let parsed = parse_status(&status("undelivered", Some("30007"))).unwrap();
    let InboundEvent::Status { error: Some(error), status: delivery, .. } = parsed.event else { panic!() };
    assert_eq!(delivery, DeliveryStatus::Undelivered);
    assert_eq!(error.code.as_deref(), Some("30007"));
    assert!(error.explanation.contains("filtered"));
    assert!(!error.recipient_opted_out);

    let parsed = parse_status(&status("failed", Some("21610"))).unwrap();
    let InboundEvent::Status { error: Some(error), .. } = parsed.event else { panic!() };
    assert!(error.recipient_opted_out);

    let parsed = parse_status(&status("failed", Some("12345678"))).unwrap();
    let InboundEvent::Status { error: Some(error), .. } = parsed.event else { panic!() };
    assert!(error.explanation.contains("12345678"));

    let parsed = parse_status(&status("delivered", Some(""))).unwrap();
    assert!(matches!(parsed.event, InboundEvent::Status { error: None, .. }));
    assert!(parse_status(&status("failed", Some("<b>x</b>"))).is_err());
}

#[test]
fn empty_twiml_is_a_response_element() {
    assert!(EMPTY_TWIML.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert!(EMPTY_TWIML.ends_with("<Response></Response>"));
}

/// Nothing built from network input may panic: random subsets of real field
/// names with hostile values.
#[test]
fn garbage_never_panics() {
    let names = [
        "MessageSid",
        "AccountSid",
        "From",
        "To",
        "Body",
        "NumMedia",
        "MediaUrl0",
        "MediaUrl1",
        "MediaUrl10",
        "MediaUrl",
        "MediaUrl-1",
        "MediaContentType0",
        "NumSegments",
        "OptOutType",
        "MessagingServiceSid",
        "FromCity",
        "MessageStatus",
        "SmsStatus",
        "ErrorCode",
        "",
    ];
    let values = [
        "",
        " ",
        "0",
        "1",
        "10",
        "4294967296",
        "-1",
        "+14155552671",
        SID,
        ACCOUNT,
        "https://x.example/",
        "http://",
        "\u{0}",
        "\u{202e}",
        "😀",
        "STOP",
        "delivered",
        "30007",
        "MG0123456789abcdef0123456789abcdef",
        "é",
        "SMéééééééééééééééééééééééééééééééé",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..5000 {
        let n = (next() % 12) as usize;
        let params: Vec<(String, String)> = (0..n)
            .map(|_| {
                let name = names[(next() % names.len() as u64) as usize];
                let value = values[(next() % values.len() as u64) as usize];
                (name.to_owned(), value.to_owned())
            })
            .collect();
        let _ = parse_inbound(&params, now());
        let _ = parse_status(&params);
    }
}
