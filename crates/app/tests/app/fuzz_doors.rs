//! Fuzzing (proptest, on stable) of the public doors whose parsers live in the
//! application rather than in a channel: the inbound-email webhook's multipart
//! form (with the account's real secret, so the parser and the mail's checks
//! are reached) and the web chat widget's JSON bodies (a visitor's message and
//! "continue by text" with the code typed back). Real HTTP against the running app, both doors open
//! to anyone; what is sent is a valid request bent in every way. Properties:
//! nothing answers 5xx, every refusal is a 4xx problem, the server stays up.
//! `TEXTDESK_FUZZ_CASES=5000 cargo test -p textdesk --test app fuzz_doors`
//! runs longer (docs/limits.md, "Fuzzing").

use std::sync::LazyLock;

use proptest::prelude::*;
use serde_json::{Value, json};
use textdesk_core::Role;

use crate::common::{self, Db, TestApp};

fn config(ci_cases: u32) -> ProptestConfig {
    let cases = std::env::var("TEXTDESK_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(ci_cases);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// One app for every case, on a runtime of its own that outlives the cases.
struct Door {
    rt: tokio::runtime::Runtime,
    t: TestApp,
    email_path: String,
    chat: i64,
    visitor: String,
    /// A connection per request: a pooled one the server has just closed would fail the send, which must
    /// mean only that the server dropped a request.
    http: reqwest::Client,
}

static DOOR: LazyLock<Door> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (t, email_path, chat, visitor) = rt.block_on(async {
        let t = common::app(Db::Sqlite).start().await;
        let admin = t.token_for("owner@example.com", Role::Admin).await;
        let email_path = t.services.inbound_email_path(t.account_id).await.unwrap();
        let sms = t.simulator_inbox().await;
        let chat = json!({ "name": "Chat", "channel_kind": "webchat", "sender": "Test Dental",
                           "webchat": { "sms_inbox": sms } });
        let chat = common::json(t.post(&admin, "/api/v1/inboxes", chat).await).await["id"].as_i64().unwrap();
        let r = t.client.post(t.url(&format!("/widget/{chat}/visitors"))).send().await.unwrap();
        let visitor = common::json(r).await["token"].as_str().unwrap().to_owned();
        (t, email_path, chat, visitor)
    });
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    Door { rt, t, email_path, chat, visitor, http }
});

/// Sends a request to the shared app and checks the answer is a refusal or a success, never a failure.
fn answered(req: impl FnOnce(&reqwest::Client, &TestApp) -> reqwest::RequestBuilder) -> u16 {
    let d = &*DOOR;
    d.rt.block_on(async {
        let r = req(&d.http, &d.t).send().await.unwrap_or_else(|e| panic!("the server answers: {e:?}"));
        let status = r.status().as_u16();
        let problem = r.headers().get("content-type").is_some_and(|c| c == "application/problem+json");
        let text = r.text().await.unwrap_or_default();
        assert!(status < 500, "{status}: {text}");
        assert!(status < 400 || problem || !text.is_empty(), "{status} says why: {text}");
        status
    })
}

/// Text with the pieces parsers trip on.
fn text(max: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just(String::new()),
        Just("\r\n".to_owned()),
        Just("--".to_owned()),
        Just("\"".to_owned()),
        Just("<".to_owned()),
        Just("reply+".to_owned()),
        Just("@".to_owned()),
        Just("\u{0}".to_owned()),
        Just("😀".to_owned()),
        Just("+14155550123".to_owned()),
        Just("x".repeat(5000)),
        "\\PC{0,12}",
    ];
    proptest::collection::vec(piece, 0..max).prop_map(|v| v.concat())
}

/// Any JSON value, small.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text(4).prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(text(2), inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid body's fields, each kept, dropped or replaced by any value.
fn bent(valid: Value, names: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    let edit = (proptest::sample::select(names), proptest::option::of(json_value()));
    let raw = proptest::collection::vec(any::<u8>(), 0..60);
    (proptest::collection::vec(edit, 0..4), raw, 0u8..10).prop_map(move |(edits, raw, pick)| {
        if pick == 0 {
            return raw;
        }
        let mut v = valid.clone();
        for (name, value) in edits {
            match value {
                Some(x) => v[name] = x,
                None => {
                    if let Some(o) = v.as_object_mut() {
                        o.remove(name);
                    }
                }
            }
        }
        serde_json::to_vec(&v).unwrap()
    })
}

const FIELDS: &[&str] = &["from", "to", "subject", "text", "html", "attachments", "attachment-info", "envelope"];
const TYPES: &[&str] = &["image/png", "image/jpeg", "text/html", "application/pdf", "image/png, text/html", "", "x"];

proptest! {
    #![proptest_config(config(1000))]

    /// The inbound-parse webhook with its secret: fields and files of any kind, or bytes that are not a form at all.
    #[test]
    fn inbound_email_forms_are_read_or_refused(
        fields in proptest::collection::vec((proptest::sample::select(FIELDS), text(5)), 0..8),
        files in proptest::collection::vec((text(2), proptest::sample::select(TYPES), proptest::collection::vec(any::<u8>(), 0..64)), 0..12),
        raw in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
        boundary in proptest::option::of("[ -~]{0,80}"),
    ) {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let files: Vec<(&str, &str, &str, &[u8])> =
            files.iter().map(|(name, kind, bytes)| ("attachment1", name.as_str(), *kind, bytes.as_slice())).collect();
        let (mut ctype, mut body) = common::multipart(&fields, &files);
        if let Some(raw) = raw {
            body = raw;
        }
        if let Some(b) = boundary {
            ctype = format!("multipart/form-data; boundary={b}");
        }
        let path = DOOR.email_path.clone();
        let status = answered(|c, t| c.post(t.url(&path)).header("content-type", ctype).body(body));
        // No escalation gave out a reply address, so nothing can be taken in.
        prop_assert!(status >= 400, "{status}");
    }

    /// A visitor's message: the widget's JSON bent anywhere.
    #[test]
    fn widget_messages_are_read_or_refused(body in bent(json!({ "body": "Are you open?", "client_id": "m1" }), &["body", "client_id"])) {
        let d = &*DOOR;
        let path = format!("/widget/{}/messages", d.chat);
        answered(|c, t| c.post(t.url(&path)).bearer_auth(&d.visitor).header("content-type", "application/json").body(body));
    }

    /// "Continue by text": a number, the page and the box ticked, bent anywhere.
    #[test]
    fn continue_by_text_is_read_or_refused(body in bent(json!({ "phone": "+14155550123", "page": "https://clinic.example/", "agreed": true }), &["phone", "page", "agreed"])) {
        let d = &*DOOR;
        let path = format!("/widget/{}/continue-by-text", d.chat);
        answered(|c, t| c.post(t.url(&path)).bearer_auth(&d.visitor).header("content-type", "application/json").body(body));
    }

    /// The code texted to prove the number, as typed back, bent anywhere.
    #[test]
    fn a_typed_code_is_read_or_refused(body in bent(json!({ "code": "123 456" }), &["code"])) {
        let d = &*DOOR;
        let path = format!("/widget/{}/continue-by-text/confirm", d.chat);
        answered(|c, t| c.post(t.url(&path)).bearer_auth(&d.visitor).header("content-type", "application/json").body(body));
    }
}

#[test]
fn the_doors_still_answer_after_the_fuzzing() {
    // Run after (or alone): the shared server is healthy and still refuses a forged secret.
    let forged = format!("/webhooks/email/{}/not-the-secret", DOOR.t.account_id);
    let (ctype, body) = common::multipart(&[("from", "a@b.example"), ("to", "c@d.example"), ("text", "x")], &[]);
    assert_eq!(answered(|c, t| c.post(t.url(&forged)).header("content-type", ctype).body(body)), 403);
    assert_eq!(answered(|c, t| c.get(t.url("/healthz"))), 200);
}
