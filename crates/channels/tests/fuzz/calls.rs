//! Twilio Voice's call status reports (`/webhooks/calls/{call_id}/status` and
//! the answer URL), through the channel's own `verify_call` with a valid
//! signature: every parameter Twilio sends, with any value, added, dropped or
//! repeated. A report read names a real CallSid, a known status and a whole
//! number of seconds; the same post unsigned is refused.

use super::*;
use textdesk_core::voice::CallStatus;

const CALL_NAMES: &[&str] = &[
    "CallSid",
    "CallStatus",
    "CallDuration",
    "AccountSid",
    "From",
    "To",
    "Direction",
    "Timestamp",
    "SequenceNumber",
    "CallbackSource",
];

fn call_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("CA0123456789abcdef0123456789abcdef".to_owned()),
        Just("CA0123456789ABCDEF0123456789abcdeX".to_owned()),
        proptest::sample::select(CallStatus::ALL.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>()),
        Just("65".to_owned()),
        Just("-1".to_owned()),
        Just("4294967296".to_owned()),
        Just(" 7 ".to_owned()),
        text(6),
    ]
}

fn call_params() -> impl Strategy<Value = Vec<(String, String)>> {
    let good = vec![
        ("AccountSid".to_owned(), ACCOUNT.to_owned()),
        ("CallSid".to_owned(), "CA0123456789abcdef0123456789abcdef".to_owned()),
        ("CallStatus".to_owned(), "completed".to_owned()),
        ("CallDuration".to_owned(), "65".to_owned()),
    ];
    let change = (proptest::sample::select(CALL_NAMES), call_value(), any::<bool>());
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

fn verify_call(url: &str, signature: &str, body: &[u8]) -> Result<textdesk_channels::voice::CallReport, String> {
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(signature) {
        headers.insert(twilio::SIGNATURE_HEADER, v);
    }
    let req = InboundRequest { hook: "status", url, headers: &headers, body, now: Timestamp::now() };
    let voice = TWILIO.voice().expect("Twilio places calls");
    voice.verify_call(&req).map_err(|e| format!("{e:?}"))
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn twilio_call_reports_are_read_or_refused(p in call_params(), raw in proptest::collection::vec(any::<u8>(), 0..120), use_raw in any::<bool>()) {
        let url = format!("{PUBLIC}/webhooks/calls/7/status");
        let body = if use_raw {
            raw
        } else {
            url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&p).finish().into_bytes()
        };
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
        let signature = compute_signature(TOKEN, &url, &pairs);
        if let Ok(report) = verify_call(&url, &signature, &body) {
            prop_assert!(report.provider_id.starts_with("CA") && report.provider_id.len() == 34, "{report:?}");
            let sent = pairs.iter().find(|(k, _)| k == "CallStatus").map(|(_, v)| v.trim());
            prop_assert_eq!(Some(report.status.as_str()), sent);
        }
        prop_assert!(verify_call(&url, "", &body).is_err(), "unsigned is refused");
        let _ = twilio::voice::parse_call_report(&pairs);
    }
}

#[test]
fn a_signed_report_is_read_so_the_property_reaches_the_parser() {
    let url = format!("{PUBLIC}/webhooks/calls/7/status");
    let p = [
        ("AccountSid", ACCOUNT),
        ("CallSid", "CA0123456789abcdef0123456789abcdef"),
        ("CallStatus", "completed"),
        ("CallDuration", "65"),
    ];
    let pairs: Vec<(String, String)> = p.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
    let report = verify_call(&url, &compute_signature(TOKEN, &url, &pairs), body.as_bytes()).unwrap();
    assert_eq!((report.status, report.duration_secs), (CallStatus::Completed, Some(65)));
}
