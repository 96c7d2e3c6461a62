//! Fuzzing, on stable Rust, of what providers send us: Twilio's webhooks
//! (forms and JSON, through the channel's own `verify` with a valid signature
//! so the parsers are reached), SMPP frames, their text encodings, delivery
//! receipts and reassembly, the simulator's texts, WhatsApp's webhooks
//! (Meta's example bodies with any value anywhere, signed with the app secret),
//! LINE's (the SDK's example webhook, signed), Telegram's (updates made by
//! python-telegram-bot, with the inbox's secret), Messenger's bodies and
//! WeChat's XML and ciphertexts, Twilio Voice's call reports (`fuzz/calls.rs`).
//! Properties: nothing
//! panics, what decodes encodes back, oversized input is refused.
//! `TEXTDESK_FUZZ_CASES=100000 cargo test -p textdesk-channels --test fuzz`
//! runs longer (docs/limits.md, "Fuzzing").

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use proptest::prelude::*;
use textdesk_channels::provider::{Context, InboundRequest, StoredSetup};
use textdesk_channels::smpp::coding::{self, Reassembler};
use textdesk_channels::smpp::pdu::{self, Body, Pdu, Sm, SmAddr, Tlv, cmd};
use textdesk_channels::smpp::receipt;
use textdesk_channels::twilio::{self, compute_signature, json_url};
use textdesk_channels::{Channel, InboundEvent, registry, simulator};

fn config(ci_cases: u32) -> ProptestConfig {
    // CI runs fourteen times the listed cases: about a minute for both fuzz binaries on two cores (docs/limits.md).
    let cases = std::env::var("TEXTDESK_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(ci_cases * 14);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

const PIECES: &[&str] = &[
    "",
    " ",
    "\0",
    "\n",
    "%",
    "%zz",
    "%00",
    "&",
    "=",
    "+",
    "whatsapp:",
    "+14155552671",
    "+1415555",
    "AC",
    "SM",
    "MM",
    "MG",
    "0123456789abcdef0123456789abcdef",
    "http://",
    "https://example.com/m/1",
    "image/png",
    "STOP",
    "received",
    "delivered",
    "undelivered",
    "failed",
    "30007",
    "-1",
    "99999999999",
    "é",
    "😀",
    "\u{feff}",
];

fn text(max_pieces: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => proptest::sample::select(PIECES).prop_map(str::to_owned),
        2 => any::<char>().prop_map(String::from),
        1 => "[ -~]{0,12}",
    ];
    proptest::collection::vec(piece, 0..max_pieces).prop_map(|p| p.concat())
}

// ------------------------------------------------------------------ Twilio

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "fuzz-auth-token";
const PUBLIC: &str = "https://desk.example.com";

static TWILIO: LazyLock<Arc<dyn Channel>> = LazyLock::new(|| {
    textdesk_channels::ensure_tls_provider();
    let mut stored = StoredSetup::default();
    stored.settings.insert("account_sid".into(), ACCOUNT.into());
    stored.secrets.insert("auth_token".into(), TOKEN.into());
    let resources = http::Extensions::new();
    let policy = textdesk_channels::net::FetchPolicy::public_only();
    let ctx = Context { inbox_id: 1, public_url: PUBLIC, resources: &resources, media_policy: &policy };
    registry::find("twilio").unwrap().open(&ctx, &stored).unwrap()
});

/// The names Twilio posts, each with a value worth trying.
const NAMES: &[&str] = &[
    "AccountSid",
    "MessageSid",
    "SmsSid",
    "From",
    "To",
    "Body",
    "NumMedia",
    "MediaUrl0",
    "MediaContentType0",
    "MediaUrl1",
    "MediaUrl9",
    "MediaUrl10",
    "NumSegments",
    "MessagingServiceSid",
    "OptOutType",
    "FromCity",
    "FromZip",
    "MessageStatus",
    "SmsStatus",
    "ErrorCode",
    "ErrorMessage",
];

fn params() -> impl Strategy<Value = Vec<(String, String)>> {
    let good = vec![
        ("AccountSid".to_owned(), ACCOUNT.to_owned()),
        ("MessageSid".to_owned(), "SM0123456789abcdef0123456789abcdef".to_owned()),
        ("From".to_owned(), "+14155552671".to_owned()),
        ("To".to_owned(), "+14155550100".to_owned()),
        ("Body".to_owned(), "Hello".to_owned()),
        ("MessageStatus".to_owned(), "delivered".to_owned()),
    ];
    let change = (proptest::sample::select(NAMES), text(6), any::<bool>());
    (proptest::collection::vec(change, 0..6), Just(good)).prop_map(|(changes, mut p)| {
        for (name, value, replace) in changes {
            if replace {
                p.retain(|(k, _)| k != name);
            }
            p.push((name.to_owned(), value));
        }
        p
    })
}

fn verify(hook: &str, url: &str, signature: &str, body: &[u8]) -> Result<Vec<InboundEvent>, String> {
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(signature) {
        headers.insert(twilio::SIGNATURE_HEADER, v);
    }
    let req = InboundRequest { hook, url, headers: &headers, body, now: Timestamp::now() };
    TWILIO.verify(&req).map(|i| i.events).map_err(|e| format!("{e:?}"))
}

fn check_event(e: &InboundEvent) {
    match e {
        InboundEvent::Message { body, media, provider_id, .. } => {
            assert!(body.chars().count() <= twilio::webhook::MAX_BODY_CHARS);
            assert!(media.len() <= twilio::webhook::MAX_MEDIA as usize);
            assert!(!provider_id.is_empty() && provider_id.len() <= 64, "{provider_id:?}");
        }
        InboundEvent::Status { provider_id, .. } => assert!(!provider_id.is_empty() && provider_id.len() <= 64),
        InboundEvent::Profile { name, .. } => assert!(!name.is_empty() && name.chars().count() <= 100),
        InboundEvent::PhoneShared { phone, .. } => assert!(phone.as_str().starts_with('+')),
        InboundEvent::StatusUpTo { to, .. } => assert!(!to.value().is_empty()),
    }
}

proptest! {
    #![proptest_config(config(6000))]

    /// A signed form post, as Twilio sends one.
    #[test]
    fn twilio_forms_are_read_or_refused(p in params(), hook in proptest::sample::select(vec!["inbound", "status", "other"])) {
        let url = format!("{PUBLIC}/webhooks/twilio/1/{hook}");
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&p).finish();
        let signature = compute_signature(TOKEN, &url, &p);
        if let Ok(events) = verify(hook, &url, &signature, body.as_bytes()) {
            events.iter().for_each(check_event);
        }
        // The same post unsigned is refused whatever it holds.
        prop_assert!(verify(hook, &url, "", body.as_bytes()).is_err());
    }

    /// A signed JSON body, as Twilio sends for some products.
    #[test]
    fn twilio_json_bodies_are_read_or_refused(p in params(), raw in proptest::collection::vec(any::<u8>(), 0..40), use_raw in any::<bool>()) {
        let body = if use_raw {
            raw
        } else {
            let m: serde_json::Map<String, serde_json::Value> = p.into_iter().map(|(k, v)| (k, v.into())).collect();
            serde_json::to_vec(&m).unwrap()
        };
        let url = json_url(&format!("{PUBLIC}/webhooks/twilio/1/inbound"), &body);
        let signature = compute_signature(TOKEN, &url, &[]);
        if let Ok(events) = verify("inbound", &url, &signature, &body) {
            events.iter().for_each(check_event);
        }
    }

    /// Raw bytes as the form body, and any signature header at all.
    #[test]
    fn twilio_garbage_never_panics(body in proptest::collection::vec(any::<u8>(), 0..200), signature in text(3), url in text(4)) {
        let _ = verify("inbound", &url, &signature, &body);
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
        let _ = twilio::parse_inbound(&pairs, Timestamp::now());
        let _ = twilio::parse_status(&pairs);
        let _ = twilio::validate_form(TOKEN, &url, &pairs, &signature);
        let _ = twilio::validate_json(TOKEN, &url, &body, &signature);
        let _ = twilio::explain(&signature);
    }
}

#[test]
fn an_oversized_twilio_body_is_refused() {
    let p = vec![
        ("AccountSid".to_owned(), ACCOUNT.to_owned()),
        ("MessageSid".to_owned(), "SM0123456789abcdef0123456789abcdef".to_owned()),
        ("From".to_owned(), "+14155552671".to_owned()),
        ("To".to_owned(), "+14155550100".to_owned()),
        ("Body".to_owned(), "x".repeat(twilio::webhook::MAX_BODY_CHARS + 1)),
    ];
    let url = format!("{PUBLIC}/webhooks/twilio/1/inbound");
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&p).finish();
    let e = verify("inbound", &url, &compute_signature(TOKEN, &url, &p), body.as_bytes()).unwrap_err();
    assert!(e.contains("longer than"), "{e}");
}

// -------------------------------------------------------------------- SMPP

fn sm() -> impl Strategy<Value = Sm> {
    let cstr = |max: usize| proptest::collection::vec(1u8..=0x7f, 0..max).prop_map(|b| String::from_utf8(b).unwrap());
    let tlv = (
        proptest::sample::select(vec![0x001E, 0x020C, 0x020E, 0x020F, 0x0424, 0x0427, 0x0423, 0x1234]),
        proptest::collection::vec(any::<u8>(), 0..8),
    )
        .prop_map(|(tag, value)| Tlv { tag, value });
    (
        (cstr(6), cstr(21), cstr(21), any::<u8>(), any::<u8>()),
        (
            proptest::sample::select(vec![0u8, 1, 3, 8, 0xF0, 0xF4, 0x02]),
            proptest::collection::vec(any::<u8>(), 0..160),
        ),
        proptest::collection::vec(tlv, 0..4),
    )
        .prop_map(|((service_type, source, dest, esm_class, ton), (data_coding, short_message), tlvs)| Sm {
            service_type,
            source: SmAddr { ton, npi: 1, addr: source },
            dest: SmAddr { ton: 1, npi: 1, addr: dest },
            esm_class,
            data_coding,
            short_message,
            tlvs,
            ..Sm::default()
        })
}

fn frame() -> impl Strategy<Value = Vec<u8>> {
    // A well-formed deliver_sm, then a few bytes changed or cut.
    let edits = proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 0..4);
    (sm(), any::<u32>(), edits).prop_map(|(sm, seq, edits)| {
        let mut bytes = Pdu::new(cmd::DELIVER_SM, seq, Body::DeliverSm(Box::new(sm))).encode();
        for (at, byte, how) in edits {
            let at = at % bytes.len();
            match how {
                0 => bytes[at] = byte,
                1 => bytes.truncate(at.max(pdu::HEADER_LEN)),
                _ => bytes.insert(at, byte),
            }
        }
        bytes
    })
}

/// What the session does with a frame from the SMSC: decode, then read its text and receipt.
fn read_frame(bytes: &[u8]) -> Option<Pdu> {
    let pdu = Pdu::decode(bytes).ok()?;
    prop_assert_eq_pdu(&pdu);
    if let Body::DeliverSm(sm) = &pdu.body {
        for packed in [false, true] {
            if let Ok(part) = coding::decode_part(sm, packed) {
                let text = part.kind.decode(&part.units);
                let _ = receipt::parse(sm, &text);
                let mut r = Reassembler::new(Duration::from_secs(60), 16);
                let _ = r.push(&sm.source.addr, part, Instant::now());
            }
        }
    }
    Some(pdu)
}

/// Whatever decodes encodes to a frame that decodes to the same thing.
fn prop_assert_eq_pdu(pdu: &Pdu) {
    let again = Pdu::decode(&pdu.encode()).expect("an encoded PDU decodes");
    assert_eq!(&again, pdu);
}

proptest! {
    #![proptest_config(config(12000))]

    #[test]
    fn smpp_frames_near_valid_ones_never_panic(bytes in frame()) {
        let _ = read_frame(&bytes);
    }

    #[test]
    fn smpp_random_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..120), id in proptest::sample::select(vec![cmd::DELIVER_SM, cmd::SUBMIT_SM, cmd::BIND_TRANSCEIVER, cmd::BIND_TRANSCEIVER_RESP, cmd::SUBMIT_SM_RESP, cmd::DELIVER_SM_RESP, cmd::ENQUIRE_LINK, cmd::GENERIC_NACK, 0x8000_0001, 0x0000_0103])) {
        // A header that agrees with the length, so the body parsers are reached.
        if bytes.len() >= pdu::HEADER_LEN {
            let len = bytes.len() as u32;
            bytes[0..4].copy_from_slice(&len.to_be_bytes());
            bytes[4..8].copy_from_slice(&id.to_be_bytes());
        }
        let _ = read_frame(&bytes);
        if bytes.len() >= 4 {
            let _ = pdu::frame_len(&bytes[0..4]);
        }
    }

    /// A text we send arrives whole at a phone that joins the parts.
    #[test]
    fn smpp_text_round_trips_through_parts(t in text(40).prop_filter("texts are not empty", |t| !t.is_empty()), packed in any::<bool>(), reference in any::<u8>()) {
        let Ok(enc) = coding::encode_text(&t, packed, reference) else { return Ok(()) };
        prop_assert!(enc.parts.len() <= coding::MAX_PARTS);
        let mut r = Reassembler::new(Duration::from_secs(60), 16);
        let mut whole = None;
        for part in &enc.parts {
            let sm = Sm { data_coding: enc.data_coding, esm_class: enc.esm_class, short_message: part.clone(), ..Sm::default() };
            let bytes = Pdu::new(cmd::DELIVER_SM, 1, Body::DeliverSm(Box::new(sm))).encode();
            let Some(Pdu { body: Body::DeliverSm(sm), .. }) = read_frame(&bytes) else { panic!("our own frame decodes") };
            let decoded = coding::decode_part(&sm, packed).unwrap();
            whole = match decoded.concat {
                None => Some(decoded.kind.decode(&decoded.units)),
                Some(_) => r.push("+14155552671", decoded, Instant::now()),
            };
        }
        let whole = whole.expect("the last part completes the text");
        // Trailing '@' (septet 0) is the padding packed GSM cannot tell from text.
        if packed { prop_assert_eq!(whole.trim_end_matches('@'), t.trim_end_matches('@')); } else { prop_assert_eq!(whole, t); }
    }

    #[test]
    fn septets_pack_and_unpack(septets in proptest::collection::vec(0u8..0x80, 0..200), fill in 0usize..7) {
        let packed = coding::pack_septets(&septets, fill);
        let back = coding::unpack_septets(&packed, fill);
        // A last '@' (septet 0) that exactly fills the octets reads as padding (GSM 03.38's ambiguity).
        let ambiguous = septets.last() == Some(&0) && packed.len() * 8 - fill == 7 * septets.len();
        let expected = if ambiguous { &septets[..septets.len() - 1] } else { &septets[..] };
        prop_assert_eq!(&back[..], expected);
    }
}

/// Found by `smpp_frames_near_valid_ones_never_panic`: an address with a byte
/// past ASCII was read as Latin-1 but written back as UTF-8 (two bytes).
#[test]
fn a_latin1_address_survives_a_round_trip() {
    let sm = Sm { source: SmAddr { ton: 5, npi: 0, addr: "Caf\u{e9}".into() }, ..Sm::default() };
    let bytes = Pdu::new(cmd::DELIVER_SM, 7, Body::DeliverSm(Box::new(sm))).encode();
    assert!(bytes.windows(5).any(|w| w == b"Caf\xe9\0"), "one byte for \u{e9}");
    let Body::DeliverSm(back) = Pdu::decode(&bytes).unwrap().body else { panic!("a deliver_sm") };
    assert_eq!(back.source.addr, "Caf\u{e9}");
    let wide = Sm { source: SmAddr { addr: "\u{263a}x".into(), ..SmAddr::default() }, ..Sm::default() };
    let bytes = Pdu::new(cmd::SUBMIT_SM, 8, Body::SubmitSm(Box::new(wide))).encode();
    let Body::SubmitSm(back) = Pdu::decode(&bytes).unwrap().body else { panic!("a submit_sm") };
    assert_eq!(back.source.addr, "?x", "no byte for it: a question mark, not two bytes of UTF-8");
}

#[test]
fn an_oversized_smpp_frame_is_refused() {
    let len = (pdu::MAX_PDU_LEN as u32 + 1).to_be_bytes();
    assert!(pdu::frame_len(&len).is_err());
    let mut huge = vec![0u8; pdu::MAX_PDU_LEN + 1];
    let len = huge.len() as u32;
    huge[0..4].copy_from_slice(&len.to_be_bytes());
    assert!(Pdu::decode(&huge).is_err());
}

// --------------------------------------------------------------- simulator

proptest! {
    #![proptest_config(config(6000))]

    #[test]
    fn simulator_texts_are_read_or_refused(body in proptest::collection::vec(any::<u8>(), 0..80), from in text(3), said in text(8), id in proptest::option::of(text(3))) {
        if let Ok(t) = serde_json::from_slice::<simulator::PhoneText>(&body) {
            let _ = simulator::parse_inbound(t, Timestamp::now());
        }
        let t = simulator::PhoneText { from, body: said, id };
        if let Ok(InboundEvent::Message { body, provider_id, .. }) = simulator::parse_inbound(t, Timestamp::now()) {
            prop_assert!(body.chars().count() <= 1600 && provider_id.len() <= 64);
        }
    }
}

// ---------- WhatsApp ----------

const WA_SECRET: &str = "fuzz-app-secret";
const WA_NUMBER: &str = "106540352242922";

static WHATSAPP: LazyLock<Arc<dyn Channel>> = LazyLock::new(|| {
    let mut stored = StoredSetup::default();
    stored.settings.insert("phone_number_id".into(), WA_NUMBER.into());
    stored.settings.insert("waba_id".into(), "102290129340398".into());
    for (k, v) in [("access_token", "EAAG-fuzz"), ("app_secret", WA_SECRET), ("verify_token", "fuzz")] {
        stored.secrets.insert(k.into(), v.into());
    }
    let resources = http::Extensions::new();
    let policy = textdesk_channels::net::FetchPolicy::public_only();
    let ctx = Context { inbox_id: 1, public_url: PUBLIC, resources: &resources, media_policy: &policy };
    registry::find("whatsapp").unwrap().open(&ctx, &stored).unwrap()
});

/// Meta's example bodies (tests/fixtures/whatsapp), parsed once.
static WA_FIXTURES: LazyLock<Vec<serde_json::Value>> = LazyLock::new(|| {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/whatsapp");
    let mut all: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    all.sort();
    all.iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
});

fn wa_verify(body: &[u8], signature: &str) -> Result<Vec<InboundEvent>, String> {
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(signature) {
        headers.insert(textdesk_channels::whatsapp::SIGNATURE_HEADER, v);
    }
    let url = format!("{PUBLIC}/webhooks/whatsapp/1");
    let req = InboundRequest { hook: "inbound", url: &url, headers: &headers, body, now: Timestamp::now() };
    WHATSAPP.verify(&req).map(|i| i.events).map_err(|e| format!("{e:?}"))
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
        text(3).prop_map(Value::String),
        proptest::sample::select(vec![
            "text",
            "image",
            "location",
            "contacts",
            "interactive",
            "reaction",
            "failed",
            "read",
            "16315551181",
            WA_NUMBER,
            "messages",
            "whatsapp"
        ])
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(text(1), inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every string, number and object key path of `v`, as JSON pointers.
fn pointers(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => m.iter().for_each(|(k, x)| pointers(x, format!("{at}/{k}"), out)),
        serde_json::Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| pointers(x, format!("{at}/{i}"), out)),
        _ => {}
    }
    out.push(at);
}

proptest! {
    #![proptest_config(config(500))]

    /// One of Meta's bodies with up to three values replaced by anything, signed: read or refused, never a panic.
    #[test]
    fn whatsapp_bodies_are_read_or_refused(which in any::<prop::sample::Index>(), edits in proptest::collection::vec((any::<prop::sample::Index>(), json_value()), 0..4)) {
        let mut body = which.get(&WA_FIXTURES).clone();
        for (at, value) in edits {
            let mut all = Vec::new();
            pointers(&body, String::new(), &mut all);
            let target = at.get(&all).clone();
            if target.is_empty() {
                body = value;
            } else if let Some(slot) = body.pointer_mut(&target) {
                *slot = value;
            }
        }
        let raw = serde_json::to_vec(&body).unwrap();
        let signature = textdesk_channels::whatsapp::compute_signature(WA_SECRET, &raw);
        if let Ok(events) = wa_verify(&raw, &signature) {
            events.iter().for_each(check_event);
        }
        prop_assert!(wa_verify(&raw, "").is_err(), "unsigned is refused");
    }

    /// Raw bytes, signed or not.
    #[test]
    fn whatsapp_garbage_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300), signature in text(3), sign in any::<bool>()) {
        let signature = if sign { textdesk_channels::whatsapp::compute_signature(WA_SECRET, &body) } else { signature };
        let _ = wa_verify(&body, &signature);
        let _ = WHATSAPP.handshake("inbound", &String::from_utf8_lossy(&body));
    }
}

const LINE_SECRET: &str = "fuzz-channel-secret";

fn open_chat_app(key: &str, settings: &[(&str, &str)], secrets: &[(&str, &str)]) -> Arc<dyn Channel> {
    let mut stored = StoredSetup::default();
    for (k, v) in settings {
        stored.settings.insert((*k).into(), (*v).into());
    }
    for (k, v) in secrets {
        stored.secrets.insert((*k).into(), (*v).into());
    }
    let resources = http::Extensions::new();
    let policy = textdesk_channels::net::FetchPolicy::public_only();
    let ctx = Context { inbox_id: 1, public_url: PUBLIC, resources: &resources, media_policy: &policy };
    registry::find(key).unwrap().open(&ctx, &stored).unwrap()
}

static LINE: LazyLock<Arc<dyn Channel>> = LazyLock::new(|| {
    open_chat_app("line", &[], &[("channel_secret", LINE_SECRET), ("channel_access_token", "fuzz-token")])
});

const TG_TOKEN: &str = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11";

static TELEGRAM: LazyLock<Arc<dyn Channel>> =
    LazyLock::new(|| open_chat_app("telegram", &[], &[("bot_token", TG_TOKEN)]));

/// Updates made by python-telegram-bot's models (tests/fixtures/telegram), parsed once.
static TG_FIXTURES: LazyLock<Vec<serde_json::Value>> = LazyLock::new(|| {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/telegram");
    let mut all: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    all.sort();
    all.iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
});

/// LINE's own example webhook (tests/fixtures/line), parsed once.
static LINE_FIXTURE: LazyLock<serde_json::Value> = LazyLock::new(|| {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/line/sdk_webhook.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
});

fn chat_verify(
    channel: &dyn Channel,
    provider: &str,
    header: &str,
    value: &str,
    body: &[u8],
) -> Result<Vec<InboundEvent>, String> {
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(value) {
        headers.insert(http::HeaderName::from_bytes(header.as_bytes()).unwrap(), v);
    }
    let url = format!("{PUBLIC}/webhooks/{provider}/1");
    let req = InboundRequest { hook: "inbound", url: &url, headers: &headers, body, now: Timestamp::now() };
    channel.verify(&req).map(|i| i.events).map_err(|e| format!("{e:?}"))
}

fn check_chat_event(e: &InboundEvent, max_chars: usize) {
    match e {
        InboundEvent::Message { body, media, provider_id, .. } => {
            assert!(body.chars().count() <= max_chars);
            assert!(media.len() <= 1);
            assert!(!provider_id.is_empty() && provider_id.len() <= 140, "{provider_id:?}");
        }
        other => check_event(other),
    }
}

proptest! {
    #![proptest_config(config(500))]

    /// LINE's example webhook with up to three values replaced by anything, signed: read or refused, never a panic.
    #[test]
    fn line_bodies_are_read_or_refused(edits in proptest::collection::vec((any::<prop::sample::Index>(), json_value()), 0..4)) {
        let mut body = LINE_FIXTURE.clone();
        for (at, value) in edits {
            let mut all = Vec::new();
            pointers(&body, String::new(), &mut all);
            let target = at.get(&all).clone();
            if target.is_empty() {
                body = value;
            } else if let Some(slot) = body.pointer_mut(&target) {
                *slot = value;
            }
        }
        let raw = serde_json::to_vec(&body).unwrap();
        let signature = textdesk_channels::line::compute_signature(LINE_SECRET, &raw);
        let sig = textdesk_channels::line::SIGNATURE_HEADER;
        if let Ok(events) = chat_verify(LINE.as_ref(), "line", sig, &signature, &raw) {
            events.iter().for_each(|e| check_chat_event(e, textdesk_channels::line::webhook::MAX_BODY_CHARS));
        }
        prop_assert!(chat_verify(LINE.as_ref(), "line", sig, "", &raw).is_err(), "unsigned is refused");
    }

    /// An update python-telegram-bot made (tests/fixtures/telegram) with up to three values replaced by
    /// anything, or raw bytes, with the inbox's secret: read or refused, never a panic.
    #[test]
    fn telegram_updates_are_read_or_refused(which in any::<prop::sample::Index>(), edits in proptest::collection::vec((any::<prop::sample::Index>(), json_value()), 0..4), raw in proptest::collection::vec(any::<u8>(), 0..200), use_raw in any::<bool>()) {
        let secret = textdesk_channels::telegram::webhook_secret(TG_TOKEN, 1);
        let mut update = which.get(&TG_FIXTURES).clone();
        for (at, value) in edits {
            let mut all = Vec::new();
            pointers(&update, String::new(), &mut all);
            let target = at.get(&all).clone();
            if target.is_empty() {
                update = value;
            } else if let Some(slot) = update.pointer_mut(&target) {
                *slot = value;
            }
        }
        let body = if use_raw { raw } else { serde_json::to_vec(&update).unwrap() };
        let header = textdesk_channels::telegram::SECRET_HEADER;
        if let Ok(events) = chat_verify(TELEGRAM.as_ref(), "telegram", header, &secret, &body) {
            events.iter().for_each(|e| check_chat_event(e, textdesk_channels::telegram::webhook::MAX_BODY_CHARS));
        }
        prop_assert!(chat_verify(TELEGRAM.as_ref(), "telegram", header, "wrong", &body).is_err());
    }
}

proptest! {
    #![proptest_config(config(1000))]

    /// Messenger: raw bytes and Meta-shaped bodies with odd values, parsed; nothing panics.
    #[test]
    fn messenger_bodies_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..300),
        text in text(4),
        ts in any::<i64>(),
        kind in proptest::sample::select(vec!["message", "postback", "delivery", "read", "reaction"]),
    ) {
        let now = Timestamp::now();
        let _ = textdesk_channels::messenger::parse_webhook(&body, "1", now);
        let event = serde_json::json!({ "sender": { "id": text }, "timestamp": ts,
            kind: { "mid": text, "text": text, "title": text, "watermark": ts, "mids": [text],
                    "attachments": [{ "type": text, "payload": { "url": text } }] } });
        let raw = serde_json::to_vec(&serde_json::json!({ "object": "page", "entry": [{ "id": "1", "messaging": [event] }] })).unwrap();
        if let Ok(p) = textdesk_channels::messenger::parse_webhook(&raw, "1", now) {
            p.events.iter().for_each(|e| if let InboundEvent::Message { body, .. } = e { assert!(body.chars().count() <= 2000) });
        }
    }

    /// WeChat: raw text as XML, XML with any field values, and any ciphertext; nothing panics.
    #[test]
    fn wechat_bodies_never_panic(raw in text(6), value in text(3), field in proptest::sample::select(vec!["MsgType", "Content", "MediaId", "Event", "CreateTime", "Location_X", "FromUserName", "MsgId"])) {
        let now = Timestamp::now();
        let _ = textdesk_channels::wechat::webhook::parse_message(&raw, "https://api.weixin.qq.com", now);
        let xml = format!("<xml><FromUserName>oU1</FromUserName><MsgType>text</MsgType><MsgId>1</MsgId><{field}><![CDATA[{value}]]></{field}></xml>");
        let _ = textdesk_channels::wechat::webhook::parse_message(&xml, "https://api.weixin.qq.com", now);
        let key = textdesk_channels::wechat::AesKey::parse("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG").unwrap();
        let _ = key.decrypt(&raw, "wx1");
    }
}

// -------------------------------------------------------------------- Twilio Voice

#[path = "fuzz/calls.rs"]
mod calls;
