//! What Meta posts to a Messenger webhook: `{"object":"page","entry":[…]}`,
//! each entry a Page's `messaging[]` events, each from one person (a
//! page-scoped id, PSID): a `message` (text, attachments, a quick reply), a
//! `postback` (a button pressed), a `delivery` or a `read` (watermarks: every
//! message before that moment). Verify the signature first, then parse here.
//!
//! As for WhatsApp, Meta retries anything but a 200 for days: what this version
//! does not carry (echoes of our own messages, reactions, another Page's
//! events, kinds added later) is ignored, named by kind only; only a body that
//! is not Meta's shape is refused.

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use textdesk_core::{Address, DeliveryStatus, Medium};

use crate::{InboundEvent, MediaRef, ParseError};

/// The longest text kept from one message (Messenger's own limit is 2,000).
pub const MAX_BODY_CHARS: usize = 2000;
/// Bounds what one request can make us store.
const MAX_ITEMS: usize = 1000;
/// At most this many attachments are kept from one message.
const MAX_ATTACHMENTS: usize = 10;

/// A verified request's content.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub events: Vec<InboundEvent>,
    /// What was left out, by kind only, for a log line without customer data.
    pub ignored: Vec<String>,
}

/// Parses a webhook body for the Page `page_id`.
pub fn parse_webhook(body: &[u8], page_id: &str, now: Timestamp) -> Result<Parsed, ParseError> {
    let env: Value = serde_json::from_slice(body)
        .map_err(|_| ParseError("the body is not a Messenger webhook (JSON with object and entry)".into()))?;
    if env.get("object").and_then(Value::as_str) != Some("page") {
        return Err(ParseError("the webhook's object is not page".into()));
    }
    let mut out = Parsed { events: Vec::new(), ignored: Vec::new() };
    for entry in list(&env, "entry")? {
        if entry.get("id").and_then(Value::as_str) != Some(page_id) {
            // One app may serve several Pages: another Page's traffic is not this inbox's.
            out.ignored.push("another page".into());
            continue;
        }
        if entry.get("changes").is_some() {
            out.ignored.push("changes".into());
        }
        for m in list(entry, "messaging")? {
            match event(m, now)? {
                Ok(e) => out.events.push(e),
                Err(kind) => out.ignored.push(kind),
            }
            if out.events.len() > MAX_ITEMS {
                return Err(ParseError(format!("more than {MAX_ITEMS} events in one request")));
            }
        }
    }
    Ok(out)
}

fn list<'a>(v: &'a Value, name: &str) -> Result<&'a [Value], ParseError> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) if a.len() <= MAX_ITEMS => Ok(a),
        Some(_) => Err(ParseError(format!("{name} is not a list"))),
    }
}

fn text<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    v.pointer(path).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// A page-scoped id: digits, as Meta gives them.
fn psid(raw: Option<&str>, what: &str) -> Result<Address, ParseError> {
    let id = raw.unwrap_or_default();
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError(format!("the {what} is not a page-scoped id")));
    }
    Address::parse(Medium::Messenger, id).map_err(|e| ParseError(e.0))
}

/// A moment Meta gives in milliseconds.
fn millis(v: Option<&Value>) -> Option<Timestamp> {
    let ms = match v? {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    Timestamp::from_millisecond(ms).ok()
}

/// When the person wrote, kept within the last week and never in the future
/// (the 24 hours count from it).
fn sent_at(m: &Value, now: Timestamp) -> Timestamp {
    millis(m.get("timestamp")).unwrap_or(now).clamp(now - SignedDuration::from_hours(24 * 7), now)
}

fn mid(v: &Value, what: &str) -> Result<String, ParseError> {
    match v.get("mid").and_then(Value::as_str) {
        Some(id) if !id.is_empty() && id.len() <= 512 && id.bytes().all(|b| b.is_ascii_graphic()) => Ok(id.to_owned()),
        _ => Err(ParseError(format!("a {what} has no mid"))),
    }
}

/// One `messaging[]` item: an event, or the kind it was when it is not one we keep.
fn event(m: &Value, now: Timestamp) -> Result<Result<InboundEvent, String>, ParseError> {
    if let Some(msg) = m.get("message") {
        if msg.get("is_echo").and_then(Value::as_bool) == Some(true) {
            // Our own message (or one sent from the Page's inbox) coming back.
            return Ok(Err("echo".into()));
        }
        let from = psid(m.pointer("/sender/id").and_then(Value::as_str), "sender")?;
        return message(msg, from, sent_at(m, now)).map(Ok);
    }
    if let Some(p) = m.get("postback") {
        let from = psid(m.pointer("/sender/id").and_then(Value::as_str), "sender")?;
        // A postback's mid is not always given; the moment and payload name it then.
        let provider_id = match mid(p, "postback") {
            Ok(id) => id,
            Err(_) => format!(
                "postback:{}:{}",
                from.value(),
                millis(m.get("timestamp")).map(|t| t.as_millisecond()).unwrap_or_default()
            ),
        };
        let body = text(p, "/title").or_else(|| text(p, "/payload")).unwrap_or("Pressed a button");
        return Ok(Ok(InboundEvent::Message {
            from,
            provider_id,
            body: clip(body)?,
            media: Vec::new(),
            received_at: sent_at(m, now),
            consent_signal: None,
        }));
    }
    for (key, status) in [("delivery", DeliveryStatus::Delivered), ("read", DeliveryStatus::Read)] {
        if let Some(r) = m.get(key) {
            let to = psid(m.pointer("/sender/id").and_then(Value::as_str), "sender")?;
            let until = millis(r.get("watermark")).ok_or_else(|| ParseError(format!("a {key} has no watermark")))?;
            return Ok(Ok(InboundEvent::StatusUpTo { to, status, until }));
        }
    }
    let kind = m
        .as_object()
        .and_then(|o| o.keys().find(|k| !matches!(k.as_str(), "sender" | "recipient" | "timestamp")))
        .map(|k| k.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(40).collect())
        .unwrap_or_else(|| "empty".to_owned());
    Ok(Err(kind))
}

fn clip(body: &str) -> Result<String, ParseError> {
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(ParseError(format!("a message is longer than {MAX_BODY_CHARS} characters")));
    }
    Ok(body.to_owned())
}

fn message(msg: &Value, from: Address, received_at: Timestamp) -> Result<InboundEvent, ParseError> {
    let provider_id = mid(msg, "message")?;
    let mut body = text(msg, "/text").unwrap_or_default().to_owned();
    let mut media = Vec::new();
    let attachments = list(msg, "attachments")?;
    for a in attachments.iter().take(MAX_ATTACHMENTS) {
        let kind = a.get("type").and_then(Value::as_str).unwrap_or_default();
        match kind {
            "image" | "video" | "audio" | "file" => {
                let url = text(a, "/payload/url").ok_or_else(|| ParseError(format!("the {kind} has no url")))?;
                let parsed = url::Url::parse(url).ok().filter(|u| matches!(u.scheme(), "http" | "https"));
                if url.len() > 2048 || parsed.is_none() {
                    return Err(ParseError(format!("the {kind}'s url is not an http(s) URL")));
                }
                media.push(MediaRef { url: url.to_owned(), content_type: None });
            }
            "location" => {
                let (lat, lon) = (
                    a.pointer("/payload/coordinates/lat").and_then(Value::as_f64),
                    a.pointer("/payload/coordinates/long").and_then(Value::as_f64),
                );
                if let (Some(lat), Some(lon)) = (lat, lon)
                    && (-90.0..=90.0).contains(&lat)
                    && (-180.0..=180.0).contains(&lon)
                {
                    body = format!("Shared a location — https://www.openstreetmap.org/?mlat={lat:.6}&mlon={lon:.6}");
                }
            }
            _ => {
                // A shared post or a template card: said in words, not kept.
                if body.is_empty() {
                    body =
                        text(a, "/title").map(|t| format!("Shared: {t}")).unwrap_or_else(|| "Shared something".into());
                }
            }
        }
    }
    if let Some(payload) = text(msg, "/quick_reply/payload")
        && body.is_empty()
    {
        body = payload.to_owned();
    }
    if body.trim().is_empty() && media.is_empty() {
        return Err(ParseError("a message has neither text nor attachments".into()));
    }
    Ok(InboundEvent::Message { from, provider_id, body: clip(&body)?, media, received_at, consent_signal: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrap(page: &str, messaging: Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "object": "page",
            "entry": [{ "id": page, "time": 1458692752478u64, "messaging": [messaging] }] }))
        .unwrap()
    }

    #[test]
    fn echoes_other_pages_and_unknown_kinds_are_ignored_not_refused() {
        let now = Timestamp::now();
        let echo = wrap(
            "1",
            serde_json::json!({ "sender": { "id": "1" }, "recipient": { "id": "2" },
            "message": { "is_echo": true, "mid": "m_1", "text": "ours" } }),
        );
        assert_eq!(parse_webhook(&echo, "1", now).unwrap().ignored, ["echo"]);
        let other =
            wrap("9", serde_json::json!({ "sender": { "id": "2" }, "message": { "mid": "m_2", "text": "hi" } }));
        assert_eq!(parse_webhook(&other, "1", now).unwrap().ignored, ["another page"]);
        let reaction = wrap("1", serde_json::json!({ "sender": { "id": "2" }, "reaction": { "emoji": "x" } }));
        assert_eq!(parse_webhook(&reaction, "1", now).unwrap().ignored, ["reaction"]);
        assert!(parse_webhook(br#"{"object":"whatsapp_business_account","entry":[]}"#, "1", now).is_err());
        assert!(parse_webhook(b"[", "1", now).is_err());
        let no_text = wrap("1", serde_json::json!({ "sender": { "id": "2" }, "message": { "mid": "m_3" } }));
        assert!(parse_webhook(&no_text, "1", now).is_err());
        let bad_sender =
            wrap("1", serde_json::json!({ "sender": { "id": "../x" }, "message": { "mid": "m_4", "text": "x" } }));
        assert!(parse_webhook(&bad_sender, "1", now).is_err());
    }
}
