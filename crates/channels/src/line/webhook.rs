//! What LINE posts to a webhook: `{ destination, events: [...] }`, each event
//! with its `type`, `source`, `timestamp` (ms), `webhookEventId`,
//! `deliveryContext.isRedelivery` and, for most, a `replyToken`. Verify the
//! signature first (`verify_signature`), then parse here.
//!
//! LINE records anything but a 200 as a failed delivery and (with redelivery
//! on) sends it again, so what this version does not keep (a group, a beacon,
//! an unsend, a kind added later) is ignored, named by its type only; only a
//! body that is not LINE's shape is refused. The console's "Verify" button
//! posts an empty `events` list, which is answered 200.

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use textdesk_core::{Address, Medium};

use crate::{ConsentSignal, InboundEvent, MediaRef, ParseError};

/// LINE's own limit on a text message.
pub const MAX_BODY_CHARS: usize = 5000;
/// Bounds what one request can make us store.
const MAX_EVENTS: usize = 1000;

/// A reply token a customer's event came with, to answer by reply while it lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyToken {
    pub user_id: String,
    pub token: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub events: Vec<InboundEvent>,
    /// Reply tokens of events delivered for the first time (a redelivered
    /// event's token is likely spent or expired).
    pub reply_tokens: Vec<ReplyToken>,
    /// What was left out, by kind only, for a log line without customer data.
    pub ignored: Vec<String>,
}

/// Where a message's content is: LINE's content API, asked with the token by
/// `LineClient::download_content`.
pub fn content_url(data_base: &str, message_id: &str) -> String {
    format!("{}/v2/bot/message/{message_id}/content", data_base.trim_end_matches('/'))
}

fn short(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(40).collect()
}

fn text<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    v.pointer(path).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

fn sent_at(e: &Value, now: Timestamp) -> Timestamp {
    let at =
        e.get("timestamp").and_then(Value::as_i64).and_then(|ms| Timestamp::from_millisecond(ms).ok()).unwrap_or(now);
    at.clamp(now - SignedDuration::from_hours(24 * 7), now)
}

/// An id LINE makes (message ids are digits, event ids ULIDs): printable, short.
fn id_at(v: &Value, path: &str, what: &str) -> Result<String, ParseError> {
    match v.pointer(path).and_then(Value::as_str) {
        Some(id)
            if !id.is_empty()
                && id.len() <= 128
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Ok(id.to_owned())
        }
        _ => Err(ParseError(format!("{what} has no id"))),
    }
}

pub fn parse_webhook(body: &[u8], data_base: &str, now: Timestamp) -> Result<Parsed, ParseError> {
    let env: Value = serde_json::from_slice(body)
        .map_err(|_| ParseError("the body is not a LINE webhook (JSON with events)".into()))?;
    let events = match env.get("events") {
        Some(Value::Array(a)) if a.len() <= MAX_EVENTS => a,
        Some(Value::Array(_)) => return Err(ParseError(format!("more than {MAX_EVENTS} events in one request"))),
        _ => return Err(ParseError("the body is not a LINE webhook (JSON with events)".into())),
    };
    let mut out = Parsed { events: Vec::new(), reply_tokens: Vec::new(), ignored: Vec::new() };
    for e in events {
        let kind = e.get("type").and_then(Value::as_str).unwrap_or_default();
        if e.get("mode").and_then(Value::as_str) == Some("standby") {
            // Another channel answers this chat (module mode).
            out.ignored.push(format!("{} in standby", short(kind)));
            continue;
        }
        match e.pointer("/source/type").and_then(Value::as_str) {
            Some("user") => {}
            // A group or room is not one customer: refused by design (docs/decisions.md, "Group chats").
            Some(place @ ("group" | "room")) => {
                out.ignored.push(format!("{} in a {place}", short(kind)));
                continue;
            }
            _ => {
                out.ignored.push(format!("{} from an unknown source", short(kind)));
                continue;
            }
        }
        let user = text(e, "/source/userId").ok_or_else(|| ParseError("an event has no source.userId".into()))?;
        let from = Address::parse(Medium::Line, user).map_err(|err| ParseError(format!("userId: {}", err.0)))?;
        let redelivered = e.pointer("/deliveryContext/isRedelivery").and_then(Value::as_bool).unwrap_or(false);
        let event_id = || id_at(e, "/webhookEventId", "an event").map(|id| format!("event:{id}"));
        let (provider_id, body, media, signal) = match kind {
            "message" => {
                let m = &e["message"];
                match message(m, data_base)? {
                    Some((body, media)) => (id_at(m, "/id", "a message")?, body, media, None),
                    None => {
                        out.ignored.push(format!(
                            "message {}",
                            short(m.get("type").and_then(Value::as_str).unwrap_or("untyped"))
                        ));
                        continue;
                    }
                }
            }
            "follow" => {
                let unblocked = e.pointer("/follow/isUnblocked").and_then(Value::as_bool).unwrap_or(false);
                let body =
                    if unblocked { "Unblocked the business on LINE" } else { "Added the business as a friend on LINE" };
                (event_id()?, body.to_owned(), Vec::new(), Some(ConsentSignal::OptIn))
            }
            "unfollow" => {
                (event_id()?, "Blocked the business on LINE".to_owned(), Vec::new(), Some(ConsentSignal::OptOut))
            }
            "postback" => {
                let data = text(e, "/postback/data").unwrap_or_default();
                let picked: Vec<&str> = ["date", "time", "datetime"]
                    .iter()
                    .filter_map(|k| e.pointer(&format!("/postback/params/{k}")).and_then(Value::as_str))
                    .collect();
                let mut body = format!("Chose: {}", data.chars().take(300).collect::<String>());
                if !picked.is_empty() {
                    body.push_str(&format!(" ({})", picked.join(", ")));
                }
                (event_id()?, body, Vec::new(), None)
            }
            other => {
                out.ignored.push(short(if other.is_empty() { "untyped" } else { other }));
                continue;
            }
        };
        if body.chars().count() > MAX_BODY_CHARS {
            return Err(ParseError(format!("a message is longer than {MAX_BODY_CHARS} characters")));
        }
        if let (false, Some(token)) = (redelivered, text(e, "/replyToken")) {
            out.reply_tokens.push(ReplyToken { user_id: user.to_owned(), token: token.chars().take(256).collect() });
        }
        out.events.push(InboundEvent::Message {
            from,
            provider_id,
            body,
            media,
            received_at: sent_at(e, now),
            consent_signal: signal,
        });
    }
    Ok(out)
}

/// A message's words and attachment; None for a kind this version does not keep.
fn message(m: &Value, data_base: &str) -> Result<Option<(String, Vec<MediaRef>)>, ParseError> {
    let kind = m.get("type").and_then(Value::as_str).unwrap_or_default();
    Ok(Some(match kind {
        "text" => (text(m, "/text").unwrap_or_default().to_owned(), Vec::new()),
        "image" | "video" | "audio" | "file" => {
            let id = id_at(m, "/id", "a message")?;
            // Content the sender's app keeps elsewhere (`external`) is at its own address, fetched without the token.
            let url = match (text(m, "/contentProvider/type"), text(m, "/contentProvider/originalContentUrl")) {
                (Some("external"), Some(u)) if u.starts_with("https://") && u.len() <= 2000 => u.to_owned(),
                (Some("external"), _) => return Err(ParseError("external content without an https address".into())),
                _ => content_url(data_base, &id),
            };
            let body = if kind == "file" {
                text(m, "/fileName").unwrap_or_default().chars().take(255).collect()
            } else {
                String::new()
            };
            (body, vec![MediaRef { url, content_type: None }])
        }
        "location" => {
            let (Some(lat), Some(lon)) =
                (m.get("latitude").and_then(Value::as_f64), m.get("longitude").and_then(Value::as_f64))
            else {
                return Err(ParseError("a location has no latitude and longitude".into()));
            };
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                return Err(ParseError("a location is off the globe".into()));
            }
            let place: Vec<&str> = [text(m, "/title"), text(m, "/address")].into_iter().flatten().collect();
            let mut body = String::from("Shared a location");
            if !place.is_empty() {
                body.push_str(&format!(": {}", place.join(", ")));
            }
            body.push_str(&format!(
                " — https://www.openstreetmap.org/?mlat={lat:.6}&mlon={lon:.6}#map=17/{lat:.6}/{lon:.6}"
            ));
            (body, Vec::new())
        }
        "sticker" => {
            // Stickers cannot be downloaded; their words say what they show.
            let words = text(m, "/text").map(str::to_owned).or_else(|| {
                let k: Vec<&str> = m
                    .get("keywords")
                    .and_then(Value::as_array)
                    .map(|k| k.iter().filter_map(Value::as_str).take(3).collect())
                    .unwrap_or_default();
                (!k.is_empty()).then(|| k.join(", "))
            });
            let body = match words {
                Some(w) => format!("Sent a sticker: {}", w.chars().take(200).collect::<String>()),
                None => "Sent a sticker".to_owned(),
            };
            (body, Vec::new())
        }
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DATA: &str = "https://api-data.line.me";

    #[test]
    fn an_empty_verify_request_is_fine_and_garbage_is_refused() {
        let now = Timestamp::now();
        let p = parse_webhook(br#"{"destination":"U1","events":[]}"#, DATA, now).unwrap();
        assert!(p.events.is_empty() && p.ignored.is_empty());
        assert!(parse_webhook(b"{}", DATA, now).is_err());
        assert!(parse_webhook(b"[]", DATA, now).is_err());
        assert!(parse_webhook(b"{\"events\":", DATA, now).is_err());
        let unknown = json!({ "events": [{ "type": "beaconish", "source": { "type": "user", "userId": "U1" } }] });
        let p = parse_webhook(&serde_json::to_vec(&unknown).unwrap(), DATA, now).unwrap();
        assert_eq!(p.ignored, ["beaconish"]);
    }

    #[test]
    fn a_redelivered_events_token_is_not_kept() {
        let e = |redelivery: bool| {
            json!({ "events": [{ "type": "message", "replyToken": "tok", "timestamp": 1,
            "source": { "type": "user", "userId": "U1" }, "webhookEventId": "01H", "deliveryContext": { "isRedelivery": redelivery },
            "message": { "id": "1", "type": "text", "text": "hi" } }] })
        };
        let now = Timestamp::now();
        assert_eq!(parse_webhook(&serde_json::to_vec(&e(false)).unwrap(), DATA, now).unwrap().reply_tokens.len(), 1);
        assert!(parse_webhook(&serde_json::to_vec(&e(true)).unwrap(), DATA, now).unwrap().reply_tokens.is_empty());
    }
}
