//! Fuzzing, on stable Rust, of every parser in `core` that reads what the
//! network sends: the segment counter, media types, phone numbers, consent
//! keywords, automation rules (JSON) and stored events (JSON). Properties:
//! nothing panics, what parses prints back to itself, oversized input is
//! refused. `TEXTDESK_FUZZ_CASES=100000 cargo test -p textdesk-core --test fuzz`
//! runs longer (docs/limits.md, "Fuzzing").

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use jiff::Timestamp;
use proptest::prelude::*;
use serde_json::{Value, json};
use textdesk_core::automation::{Facts, Moment, Rule, RuleSpec};
use textdesk_core::consent::{KeywordAction, Keywords, decide};
use textdesk_core::event::DomainEvent;
use textdesk_core::media::{self, MediaType};
use textdesk_core::segments::{self, Encoding};
use textdesk_core::survey::{self, SurveyKind};
use textdesk_core::{ConsentState, ConversationStatus, DeliveryStatus, E164, Priority};

/// Cases per property: a few hundred in CI, as many as asked on demand.
fn config(ci_cases: u32) -> ProptestConfig {
    // CI runs fourteen times the listed cases: about a minute for both fuzz binaries on two cores (docs/limits.md).
    let cases = std::env::var("TEXTDESK_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(ci_cases * 14);
    // Crashes become named tests below, not files written beside the source.
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Fragments that parsers treat specially, mixed with any character at all.
const PIECES: &[&str] = &[
    "",
    "⭐",
    "\u{fe0f}",
    "/5",
    " out of ",
    "five",
    "10",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\0",
    ";",
    "/",
    "=",
    "\"",
    "\\",
    ",",
    "+",
    "-",
    "(",
    ")",
    "#",
    "*",
    "{",
    "}",
    "[",
    "]",
    "€",
    "^",
    "|",
    "~",
    "@",
    "é",
    "ç",
    "Ω",
    "😀",
    "👍🏽",
    "\u{200b}",
    "\u{feff}",
    "\u{1b}",
    "STOP",
    "stop",
    "Opt Out",
    "!",
    "¿",
    "image/png",
    "text/html",
    "charset=utf-8",
    "+1",
    "415",
    "555",
    "0100",
    "00",
    "+44",
    "\u{ff11}",
    "ß",
    "İ",
];

fn text(max_pieces: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => proptest::sample::select(PIECES).prop_map(str::to_owned),
        2 => any::<char>().prop_map(String::from),
        1 => "[ -~]{0,12}",
    ];
    proptest::collection::vec(piece, 0..max_pieces).prop_map(|p| p.concat())
}

// ---------------------------------------------------------------- segments

proptest! {
    #![proptest_config(config(6000))]

    /// The count the composer shows, against the bytes the SMSC is given.
    #[test]
    fn segment_counts_agree_with_the_encoding(t in text(60)) {
        let c = segments::count(&t);
        prop_assert_eq!(c.characters, t.chars().count());
        prop_assert!(c.segments >= 1);
        let (single, multi) = match c.encoding { Encoding::Gsm7 => (160, 153), Encoding::Ucs2 => (70, 67) };
        let per_part = if c.segments == 1 { single } else { multi };
        prop_assert!(c.remaining_in_segment <= per_part);
        prop_assert!(c.units <= c.segments * per_part);
        match c.encoding {
            Encoding::Gsm7 => {
                let septets = segments::gsm7_encode(&t).expect("GSM-7 text encodes");
                prop_assert_eq!(septets.len(), c.units);
                prop_assert_eq!(segments::gsm7_decode(&septets), t);
            }
            Encoding::Ucs2 => {
                prop_assert!(segments::gsm7_encode(&t).is_none());
                prop_assert_eq!(c.units, t.encode_utf16().count());
            }
        }
    }

    /// Whatever septets a provider hands back decode to something.
    #[test]
    fn any_septets_decode(septets in proptest::collection::vec(any::<u8>(), 0..300)) {
        let text = segments::gsm7_decode(&septets);
        prop_assert!(text.chars().count() <= septets.len());
    }
}

// ------------------------------------------------------------------- media

proptest! {
    #![proptest_config(config(6000))]

    #[test]
    fn media_types_parse_strictly_and_print_back(declared in text(20), content in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = media::check(&declared, &content);
        let _ = media::served_kind(Some(&declared));
        if let Ok(t) = MediaType::parse(&declared) {
            prop_assert!(!t.essence().contains([';', ',', ' ']), "{:?} read as {:?}", declared, t.essence());
            prop_assert_eq!(t.essence().matches('/').count(), 1);
            prop_assert_eq!(MediaType::parse(t.essence()).unwrap(), t.clone());
            prop_assert!(t.essence().len() <= MediaType::MAX_CHARS);
        }
    }

    /// A file is kept as a kind only when its bytes say so too.
    #[test]
    fn a_kept_kind_matches_its_declared_type(essence in proptest::sample::select(media::KINDS).prop_map(|k| k.essence), content in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(kind) = media::check(essence, &content) {
            prop_assert_eq!(kind.essence, essence);
        }
    }
}

#[test]
fn an_oversized_media_type_is_refused() {
    let long = format!("image/png; name=\"{}\"", "a".repeat(10_000));
    assert!(MediaType::parse(&long).is_err());
    let long_subtype = format!("image/{}", "x".repeat(300));
    assert!(MediaType::parse(&long_subtype).is_err());
}

// ------------------------------------------------------------------- phone

/// Found by the fuzzer: letters were read as keypad digits, giving a "number" of more than 15 digits.
#[test]
fn letters_are_not_a_phone_number() {
    assert!(E164::parse("415STOPAOpt Out", Some("DE")).is_err());
    assert!(E164::parse("AMAZON", Some("US")).is_err());
    assert!(E164::parse("1-800-FLOWERS", Some("US")).is_err());
    assert_eq!(E164::parse("(415) 555-0199", Some("US")).unwrap().as_str(), "+14155550199");
}

proptest! {
    #![proptest_config(config(4000))]

    #[test]
    fn phone_numbers_parse_to_canonical_e164(input in text(12), region in proptest::sample::select(vec![None, Some("US"), Some("GB"), Some("DE"), Some("zz"), Some("")])) {
        if let Ok(n) = E164::parse(&input, region) {
            let s = n.as_str();
            prop_assert!(s.starts_with('+') && s[1..].bytes().all(|b| b.is_ascii_digit()), "{}", s);
            prop_assert!(s.len() <= 16);
            prop_assert_eq!(E164::parse(s, None).unwrap(), n.clone());
            let _ = n.region();
            let _ = n.nanp_area_code();
        }
    }

    #[test]
    fn digit_strings_never_panic(digits in "[+]?[0-9]{0,40}") {
        let _ = E164::parse(&digits, Some("US"));
    }
}

#[test]
fn an_oversized_phone_number_is_refused() {
    assert!(E164::parse(&format!("+1{}", "4".repeat(40)), None).is_err());
    assert!(E164::parse(&" ".repeat(100_000), None).is_err());
}

// ----------------------------------------------------------------- consent

proptest! {
    #![proptest_config(config(6000))]

    #[test]
    fn keywords_never_panic(t in text(20), state in proptest::sample::select(vec![ConsentState::Unknown, ConsentState::OptedIn, ConsentState::OptedOut])) {
        let k = Keywords::default();
        let _ = k.classify(&t);
        let _ = decide(&t, &k, state);
        let _ = textdesk_core::consent::asks_to_stop(&t);
    }

    /// The law's word: STOP however it is typed, and only alone.
    #[test]
    fn stop_in_any_dress_opts_out(before in "[ \t\n]{0,3}\"?", word in "[sS][tT][oO][pP]", after in "[ \t\n.!?]{0,4}") {
        let text = format!("{before}{word}{after}");
        prop_assert_eq!(Keywords::default().classify(&text), Some(KeywordAction::OptOut), "{:?}", text);
    }
}

#[test]
fn an_oversized_text_is_not_a_keyword() {
    let long = format!("STOP{}", " ".repeat(1_000_000));
    assert_eq!(Keywords::default().classify(&long), Some(KeywordAction::OptOut), "white space is not content");
    assert_eq!(Keywords::default().classify(&"STOP ".repeat(100_000)), None);
}

// -------------------------------------------------------------- JSON input

/// One edit of a JSON text or value.
#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, char),
    Delete(usize),
    /// Replaces the nth leaf of the value.
    Leaf(usize, Value),
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!(u64::MAX)),
        Just(json!(-1)),
        Just(json!(0)),
        text(6).prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
        Just(json!("2026-13-45T25:61:00Z")),
        Just(json!("9999-12-31T23:59:59Z")),
    ]
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (
            any::<usize>(),
            proptest::sample::select(vec!['{', '}', '[', ']', '"', ',', ':', '0', '-', 'e', '\\', 'x', 'é'])
        )
            .prop_map(|(i, c)| Edit::Insert(i, c)),
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), leaf()).prop_map(|(i, v)| Edit::Leaf(i, v)),
    ];
    proptest::collection::vec(edit, 0..4)
}

fn leaves(v: &mut Value) -> Vec<&mut Value> {
    match v {
        Value::Array(a) => a.iter_mut().flat_map(leaves).collect(),
        Value::Object(o) => o.values_mut().flat_map(leaves).collect(),
        other => vec![other],
    }
}

/// A seed changed by edits: at the value level first, then at the text level.
fn mutate(seed: &Value, edits: &[Edit]) -> String {
    let mut value = seed.clone();
    for e in edits {
        if let Edit::Leaf(i, new) = e {
            let mut l = leaves(&mut value);
            if !l.is_empty() {
                let n = i % l.len();
                *l[n] = new.clone();
            }
        }
    }
    let mut chars: Vec<char> = value.to_string().chars().collect();
    for e in edits {
        match e {
            Edit::Insert(i, c) => chars.insert(i % (chars.len() + 1), *c),
            Edit::Delete(i) if !chars.is_empty() => {
                chars.remove(i % chars.len());
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

fn rule_seeds() -> Vec<Value> {
    vec![
        json!({
            "name": "Invoices", "trigger": { "on": "message_received" },
            "conditions": [
                { "if": "text", "matches": { "regex": "invoice\\s*#?\\d+" } },
                { "if": "hours", "are": "open" },
                { "if": "attribute", "key": "plan", "is": { "equals": "gold" } },
                { "if": "assignee", "is": { "who": "nobody" } },
                { "if": "text", "matches": { "keyword": ["agent", "person"] } },
                { "if": "inbox", "any_of": [1, 2] },
                { "if": "channel", "any_of": ["twilio", "smpp"] },
                { "if": "lacks_label", "label": "Billing" }
            ],
            "actions": [ { "do": "add_label", "label": "billing" }, { "do": "set_priority", "priority": "high" },
                         { "do": "reply", "text": "Hi {contact.first_name|there}" }, { "do": "snooze", "minutes": 30 } ]
        }),
        json!({ "name": "Wait", "trigger": { "on": "waited", "business_minutes": 15 }, "once": "per_wait",
                "actions": [{ "do": "reply", "text": "We are on it" }] }),
        json!({ "name": "Monday", "enabled": false, "trigger": { "on": "scheduled", "days": ["mon", "fri"], "at": "09:30" },
                "conditions": [{ "if": "status", "is": "pending" }], "actions": [{ "do": "resolve" }] }),
    ]
}

fn event_seeds() -> Vec<Value> {
    let at = Timestamp::from_second(1_800_000_000).unwrap();
    [
        DomainEvent::MessageReceived { message_id: 1, keyword: false },
        DomainEvent::MessageReceived { message_id: 1, keyword: true },
        DomainEvent::AutomationFired {
            rule_id: 3,
            rule: "After hours".into(),
            did: vec!["replied".into()],
            silenced: Some("a person replied in the last 30 minutes".into()),
            webhooks: vec![4],
        },
        DomainEvent::MessageQueued { message_id: 2, automatic: true },
        DomainEvent::MessageScheduled { message_id: 3, send_at: at },
        DomainEvent::message_status(4, DeliveryStatus::Delivered),
        DomainEvent::StatusChanged {
            from: ConversationStatus::Open,
            to: ConversationStatus::Snoozed,
            until: Some(at),
            zone: Some("Europe/Paris".into()),
            reason: None,
        },
        DomainEvent::PriorityChanged { priority: Priority::High },
        DomainEvent::LabelsChanged { labels: vec!["vip".into(), "billing".into()] },
        DomainEvent::ConsentChanged {
            to: ConsentState::OptedOut,
            source: "keyword".into(),
            scope: Some("inbox:1".into()),
            message_id: Some(9),
        },
        DomainEvent::TeamChanged { team_id: Some(1), team_name: Some("Front".into()) },
    ]
    .iter()
    .map(|e| serde_json::from_str(&e.to_json()).unwrap())
    .collect()
}

proptest! {
    #![proptest_config(config(4000))]

    /// A rule as the API gives it: refused in words or accepted, and an
    /// accepted rule is stored and read back unchanged.
    #[test]
    fn rule_json_never_panics_and_round_trips(seed in proptest::sample::select(rule_seeds()), edits in edits(), text in text(10)) {
        let body = mutate(&seed, &edits);
        let Ok(spec) = serde_json::from_str::<RuleSpec>(&body) else { return Ok(()) };
        let Ok(rule) = Rule::parse(spec.clone()) else { return Ok(()) };
        let again: RuleSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
        prop_assert_eq!(Rule::parse(again).unwrap(), rule.clone());
        // A customer's text against the rule: a decision, never a panic.
        let attrs = BTreeMap::new();
        let facts = Facts {
            inbox_id: 1, channel: "twilio", medium: textdesk_core::Medium::Sms, text: Some(&text), open_now: false, attributes: &attrs, consent: ConsentState::Unknown,
            status: ConversationStatus::Open, priority: Priority::None, labels: &[], assignee_id: None, team_id: None,
            first_message: true, now: Timestamp::from_second(1_800_000_000).unwrap(),
        };
        let _ = rule.decide(Moment::MessageReceived, &facts);
    }

    #[test]
    fn event_json_never_panics_and_round_trips(seed in proptest::sample::select(event_seeds()), edits in edits()) {
        let body = mutate(&seed, &edits);
        if let Ok(event) = DomainEvent::from_json(&body) {
            prop_assert_eq!(DomainEvent::from_json(&event.to_json()).unwrap(), event.clone());
            let _ = (event.kind(), event.live(), event.on_timeline(), event.message_id());
        }
    }
}

#[test]
fn an_oversized_rule_is_refused() {
    let mut many = rule_seeds()[0].clone();
    many["actions"] = json!(vec![json!({ "do": "resolve" }); Rule::MAX_ACTIONS + 1]);
    assert!(Rule::parse(serde_json::from_value(many).unwrap()).is_err());
    let mut long = rule_seeds()[0].clone();
    long["name"] = json!("n".repeat(Rule::MAX_NAME_CHARS + 1));
    assert!(Rule::parse(serde_json::from_value(long).unwrap()).is_err());
    let mut regex = rule_seeds()[0].clone();
    regex["conditions"] = json!([{ "if": "text", "matches": { "regex": "a{1000}{1000}" } }]);
    // Patterns are compiled as the JSON is read.
    let e = serde_json::from_value::<RuleSpec>(regex).unwrap_err();
    assert!(e.to_string().contains("too complex"), "{e}");
}

proptest! {
    #![proptest_config(config(300))]

    /// Survey replies: any text is read without a panic, and what is read is in the question's range.
    #[test]
    fn survey_answers_never_panic_and_stay_in_range(t in text(12), kind in proptest::sample::select(SurveyKind::ALL.to_vec())) {
        if let Some(a) = survey::read_answer(kind, &t) {
            let (low, high) = kind.range();
            prop_assert!((low..=high).contains(&a.score), "{t:?} → {a:?}");
            prop_assert!(a.comment.as_ref().is_none_or(|c| !c.is_empty() && t.contains(c.as_str())));
        }
    }

    /// A score in range, dressed as people send it, is read as itself.
    #[test]
    fn a_plain_score_reads_as_itself(n in 0u8..=10, before in "[ \t]{0,2}", after in "[ !.]{0,3}") {
        let text = format!("{before}{n}{after}");
        prop_assert_eq!(survey::read_answer(SurveyKind::Nps, &text).map(|a| a.score), Some(n));
        let csat = survey::read_answer(SurveyKind::Csat, &text).map(|a| a.score);
        prop_assert_eq!(csat, (1..=5).contains(&n).then_some(n));
    }
}
