//! What Meta posts to a WhatsApp webhook: `entry[].changes[].value`, with
//! `messages[]` from customers (each with its `type`), `statuses[]` about
//! messages we sent, and the customers' `contacts[]` (`wa_id`, profile
//! name). Verify the signature first (`verify_signature`), then parse here.
//!
//! Meta retries anything but a 200 for days, so what this version does not
//! carry (an order, a call, a kind Meta adds later) is ignored, named by its
//! type only, and never refused; only a body that is not Meta's shape at all
//! is refused.

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::Value;
use textdesk_core::{Address, DeliveryStatus, Medium};

use super::errors::provider_error;
use crate::{InboundEvent, MediaRef, ParseError};

/// The longest text kept from one message (WhatsApp's own limit is 4,096).
pub const MAX_BODY_CHARS: usize = 4096;
/// Bounds what one request can make us store.
const MAX_ITEMS: usize = 1000;
/// A short field (ids, names, emoji, mime types).
const MAX_FIELD: usize = 512;

/// A verified request's content.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub events: Vec<InboundEvent>,
    /// What was left out, by kind only (`order`, `statuses:deleted`,
    /// `another number`), for a log line without customer data.
    pub ignored: Vec<String>,
}

#[derive(Deserialize)]
struct Envelope {
    object: String,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    #[serde(default)]
    field: String,
    #[serde(default)]
    value: Value,
}

/// Where a message's media is described: `{graph}/{version}/{media id}`,
/// fetched (with the token) by `WhatsAppClient::download_media`.
pub fn media_url(graph_api: &str, media_id: &str) -> String {
    format!("{}/{media_id}", graph_api.trim_end_matches('/'))
}

/// Parses a webhook body for the phone number `phone_number_id`. `graph_api`
/// is the Graph API's base with its version (`https://graph.facebook.com/v21.0`),
/// where media ids are looked up.
pub fn parse_webhook(
    body: &[u8],
    phone_number_id: &str,
    graph_api: &str,
    now: Timestamp,
) -> Result<Parsed, ParseError> {
    let env: Envelope = serde_json::from_slice(body)
        .map_err(|_| ParseError("the body is not a WhatsApp webhook (JSON with object and entry)".into()))?;
    if env.object != "whatsapp_business_account" {
        return Err(ParseError("the webhook's object is not whatsapp_business_account".into()));
    }
    let mut out = Parsed { events: Vec::new(), ignored: Vec::new() };
    for change in env.entry.iter().flat_map(|e| &e.changes) {
        if change.field != "messages" {
            out.ignored.push(format!("field {}", short(&change.field)));
            continue;
        }
        let v = &change.value;
        if v.get("messaging_product").and_then(Value::as_str).is_some_and(|p| p != "whatsapp") {
            out.ignored.push("another product".into());
            continue;
        }
        let number = v.pointer("/metadata/phone_number_id").and_then(Value::as_str).unwrap_or_default();
        if number != phone_number_id {
            // One Meta app may post every number's traffic to one address: another
            // number's is not this inbox's to store, nor a reason for Meta to retry.
            out.ignored.push("another number".into());
            continue;
        }
        let names = profile_names(v);
        for m in list(v, "messages")? {
            match message(m, graph_api, now)? {
                Ok(event) => {
                    if let InboundEvent::Message { from, .. } = &event
                        && let Some(name) =
                            names.iter().find(|(wa, _)| format!("+{wa}") == from.value()).map(|(_, n)| n)
                    {
                        out.events.push(event.clone());
                        out.events.push(InboundEvent::Profile { from: from.clone(), name: name.clone() });
                        continue;
                    }
                    out.events.push(event);
                }
                Err(kind) => out.ignored.push(kind),
            }
        }
        for s in list(v, "statuses")? {
            match status(s)? {
                Ok(event) => out.events.push(event),
                Err(kind) => out.ignored.push(kind),
            }
        }
        if !list(v, "errors")?.is_empty() {
            out.ignored.push("errors".into());
        }
        if out.events.len() > MAX_ITEMS {
            return Err(ParseError(format!("more than {MAX_ITEMS} events in one request")));
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

fn profile_names(v: &Value) -> Vec<(String, String)> {
    let Some(contacts) = v.get("contacts").and_then(Value::as_array) else { return Vec::new() };
    contacts
        .iter()
        .filter_map(|c| {
            let wa = c.get("wa_id")?.as_str()?;
            let name = c.pointer("/profile/name")?.as_str()?.trim();
            let clean: String = name.chars().filter(|c| !c.is_control()).take(100).collect();
            (!clean.is_empty()).then(|| (wa.to_owned(), clean))
        })
        .collect()
}

fn text<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    v.pointer(path).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

fn short(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(40).collect()
}

/// A `wa_id` (country code and number, digits only) as an E.164 address.
fn customer(raw: &str) -> Result<Address, ParseError> {
    let digits = raw.trim().trim_start_matches('+');
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError("from is not a WhatsApp id (the number's digits)".into()));
    }
    Address::parse(Medium::Whatsapp, &format!("+{digits}"))
        .map_err(|e| ParseError(format!("from is not a phone number: {}", e.0)))
}

fn id_of(v: &Value, what: &str) -> Result<String, ParseError> {
    match v.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() && id.len() <= MAX_FIELD && id.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(id.to_owned())
        }
        _ => Err(ParseError(format!("a {what} has no id"))),
    }
}

/// When the customer wrote, as Meta says (seconds), kept within the last
/// week and never in the future: the 24 hours count from it.
fn sent_at(v: &Value, now: Timestamp) -> Timestamp {
    let secs = match v.get("timestamp") {
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    };
    let at = secs.and_then(|s| Timestamp::from_second(s).ok()).unwrap_or(now);
    at.clamp(now - SignedDuration::from_hours(24 * 7), now)
}

/// One customer message: an event, or the kind it was when it is not one we keep.
fn message(m: &Value, graph_api: &str, now: Timestamp) -> Result<Result<InboundEvent, String>, ParseError> {
    let kind = m.get("type").and_then(Value::as_str).unwrap_or_default();
    let keep = |body: String, media: Vec<MediaRef>| -> Result<Result<InboundEvent, String>, ParseError> {
        // A customer who uses a WhatsApp username may come with only a
        // business-scoped user id (`from_user_id`) and no number: this version
        // keeps customers by number, so that message is left out (and logged).
        let Some(raw_from) = m.get("from").and_then(Value::as_str).filter(|f| !f.trim().is_empty()) else {
            return Ok(Err("message without a phone number".into()));
        };
        let from = customer(raw_from)?;
        let provider_id = id_of(m, "message")?;
        if body.chars().count() > MAX_BODY_CHARS {
            return Err(ParseError(format!("a message is longer than {MAX_BODY_CHARS} characters")));
        }
        if body.trim().is_empty() && media.is_empty() {
            return Err(ParseError("a message has neither text nor media".into()));
        }
        Ok(Ok(InboundEvent::Message {
            from,
            provider_id,
            body,
            media,
            received_at: sent_at(m, now),
            consent_signal: None,
        }))
    };
    match kind {
        "text" => keep(text(m, "/text/body").unwrap_or_default().to_owned(), Vec::new()),
        "image" | "video" | "audio" | "document" | "sticker" => {
            let media = &m[kind];
            let id = text(media, "/id").ok_or_else(|| ParseError(format!("the {kind} has no id")))?;
            if id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.') {
                return Err(ParseError(format!("the {kind}'s id is not a media id")));
            }
            let content_type = text(media, "/mime_type")
                .filter(|t| t.len() <= 255 && t.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
                .map(str::to_owned);
            let caption = text(media, "/caption").map(str::to_owned);
            // A document without a caption is at least named.
            let body =
                caption.or_else(|| (kind == "document").then(|| text(media, "/filename").map(str::to_owned)).flatten());
            keep(body.unwrap_or_default(), vec![MediaRef { url: media_url(graph_api, id), content_type }])
        }
        "location" => {
            let l = &m["location"];
            let (Some(lat), Some(lon)) =
                (l.get("latitude").and_then(Value::as_f64), l.get("longitude").and_then(Value::as_f64))
            else {
                return Err(ParseError("a location has no latitude and longitude".into()));
            };
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                return Err(ParseError("a location is off the globe".into()));
            }
            let place: Vec<&str> = [text(l, "/name"), text(l, "/address")].into_iter().flatten().collect();
            let mut body = String::from("Shared a location");
            if !place.is_empty() {
                body.push_str(&format!(": {}", place.join(", ")));
            }
            body.push_str(&format!(
                " — https://www.openstreetmap.org/?mlat={lat:.6}&mlon={lon:.6}#map=17/{lat:.6}/{lon:.6}"
            ));
            keep(body, Vec::new())
        }
        "contacts" => {
            let shared = m.get("contacts").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            let cards: Vec<String> = shared
                .iter()
                .take(10)
                .map(|c| {
                    let name =
                        text(c, "/name/formatted_name").or_else(|| text(c, "/name/first_name")).unwrap_or("(no name)");
                    let phones: Vec<&str> = c
                        .get("phones")
                        .and_then(Value::as_array)
                        .map(|p| p.iter().filter_map(|p| text(p, "/phone")).take(3).collect())
                        .unwrap_or_default();
                    if phones.is_empty() { name.to_owned() } else { format!("{name}, {}", phones.join(", ")) }
                })
                .collect();
            if cards.is_empty() {
                return Err(ParseError("a contacts message shares no contact".into()));
            }
            let more = shared.len().saturating_sub(cards.len());
            let mut body = format!("Shared a contact: {}", cards.join("; "));
            if more > 0 {
                body.push_str(&format!(" (and {more} more)"));
            }
            keep(body, Vec::new())
        }
        "button" => keep(
            text(m, "/button/text").or_else(|| text(m, "/button/payload")).unwrap_or_default().to_owned(),
            Vec::new(),
        ),
        "interactive" => {
            let i = &m["interactive"];
            match i.get("type").and_then(Value::as_str) {
                Some("button_reply") => keep(text(i, "/button_reply/title").unwrap_or_default().to_owned(), Vec::new()),
                Some("list_reply") => {
                    let title = text(i, "/list_reply/title").unwrap_or_default();
                    let body = match text(i, "/list_reply/description") {
                        Some(d) => format!("{title} — {d}"),
                        None => title.to_owned(),
                    };
                    keep(body, Vec::new())
                }
                other => Ok(Err(format!("interactive {}", short(other.unwrap_or_default())))),
            }
        }
        "reaction" => {
            let emoji = text(m, "/reaction/emoji").unwrap_or_default();
            let body = if emoji.is_empty() {
                "Removed a reaction".to_owned()
            } else {
                format!("Reacted {} to a message", emoji.chars().take(8).collect::<String>())
            };
            keep(body, Vec::new())
        }
        other => Ok(Err(short(if other.is_empty() { "untyped" } else { other }))),
    }
}

fn status(s: &Value) -> Result<Result<InboundEvent, String>, ParseError> {
    let raw = s.get("status").and_then(Value::as_str).unwrap_or_default();
    let status = match raw {
        "sent" => DeliveryStatus::Sent,
        "delivered" => DeliveryStatus::Delivered,
        "read" => DeliveryStatus::Read,
        "failed" => DeliveryStatus::Failed,
        other => return Ok(Err(format!("status {}", short(other)))),
    };
    let provider_id = id_of(s, "status")?;
    let error = match s.get("errors").and_then(Value::as_array).and_then(|e| e.first()) {
        Some(e) => Some(provider_error(
            e.get("code").and_then(Value::as_u64),
            text(e, "/title").or_else(|| text(e, "/message")),
            text(e, "/error_data/details"),
        )),
        None if status == DeliveryStatus::Failed => Some(provider_error(None, None, None)),
        None => None,
    };
    Ok(Ok(InboundEvent::Status { provider_id, status, error }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRAPH: &str = "https://graph.facebook.com/v21.0";

    fn wrap(value: Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{ "id": "WABA", "changes": [{ "field": "messages", "value": value }] }]
        }))
        .unwrap()
    }

    #[test]
    fn another_numbers_traffic_and_unknown_kinds_are_ignored_not_refused() {
        let now = Timestamp::now();
        let other = wrap(serde_json::json!({ "messaging_product": "whatsapp", "metadata": { "phone_number_id": "2" },
            "messages": [{ "from": "15551234567", "id": "wamid.1", "timestamp": "1", "type": "text", "text": { "body": "hi" } }] }));
        let p = parse_webhook(&other, "1", GRAPH, now).unwrap();
        assert!(p.events.is_empty() && p.ignored == ["another number"]);
        let odd = wrap(serde_json::json!({ "messaging_product": "whatsapp", "metadata": { "phone_number_id": "1" },
            "messages": [{ "from": "15551234567", "id": "wamid.2", "type": "order", "order": {} }],
            "statuses": [{ "id": "wamid.3", "status": "deleted" }] }));
        let p = parse_webhook(&odd, "1", GRAPH, now).unwrap();
        assert!(p.events.is_empty());
        assert_eq!(p.ignored, ["order", "status deleted"]);
        assert!(parse_webhook(b"{\"object\":\"page\",\"entry\":[]}", "1", GRAPH, now).is_err());
        assert!(parse_webhook(b"not json", "1", GRAPH, now).is_err());
    }
}
