//! What Telegram posts to a bot's webhook: one `Update` per request, with
//! `update_id` and one of `message`, `edited_message`, `my_chat_member`…
//! Check the secret header first (`secret_matches`), then parse here.
//!
//! Telegram retries a failed delivery for a while and holds back every later
//! update of the bot meanwhile, so what this version does not keep (a group
//! chat, an edited message, a poll, a kind added later) is answered 200 and
//! named by its kind only; only a body that is not an update at all is refused.

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use textdesk_core::{Address, E164, Medium};

use crate::{ConsentSignal, InboundEvent, MediaRef, ParseError};

/// Telegram's own limit on a text message.
pub const MAX_BODY_CHARS: usize = 4096;

/// A verified update's content.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub events: Vec<InboundEvent>,
    /// What was left out, by kind only, for a log line without customer data.
    pub ignored: Vec<String>,
}

/// Where a customer's file is described: `{api}/getFile?file_id=…`, asked
/// (with the token, which is never stored) by `TelegramClient::download_file`.
pub fn media_url(api_base: &str, file_id: &str) -> String {
    format!("{}/getFile?file_id={file_id}", api_base.trim_end_matches('/'))
}

/// Parses one update. `api_base` is the Bot API's address without the
/// token (`https://api.telegram.org`), where files are looked up.
pub fn parse_update(body: &[u8], api_base: &str, now: Timestamp) -> Result<Parsed, ParseError> {
    let update: Value =
        serde_json::from_slice(body).map_err(|_| ParseError("the body is not a Telegram update (JSON)".into()))?;
    let Some(update_id) = update.get("update_id").and_then(Value::as_i64) else {
        return Err(ParseError("the body is not a Telegram update (no update_id)".into()));
    };
    let mut out = Parsed { events: Vec::new(), ignored: Vec::new() };
    if let Some(m) = update.get("message") {
        message(m, api_base, now, &mut out)?;
    } else if let Some(m) = update.get("my_chat_member") {
        membership(m, update_id, now, &mut out)?;
    } else {
        let kind = update.as_object().and_then(|o| o.keys().find(|k| *k != "update_id")).map(String::as_str);
        out.ignored.push(short(kind.unwrap_or("empty update")));
    }
    Ok(out)
}

fn short(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ' ').take(40).collect()
}

fn text<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    v.pointer(path).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// When the customer wrote, as Telegram says (seconds), kept within the last
/// week and never in the future.
fn sent_at(v: &Value, now: Timestamp) -> Timestamp {
    let at = v.get("date").and_then(Value::as_i64).and_then(|s| Timestamp::from_second(s).ok()).unwrap_or(now);
    at.clamp(now - SignedDuration::from_hours(24 * 7), now)
}

/// The private chat a message came from: the customer's address (a chat id).
/// None for groups and channels, which are not one customer.
fn private_chat(m: &Value) -> Result<Option<(i64, Address)>, ParseError> {
    let chat_type = m.pointer("/chat/type").and_then(Value::as_str);
    let Some(chat_id) = m.pointer("/chat/id").and_then(Value::as_i64) else {
        return Err(ParseError("a message has no chat id".into()));
    };
    if chat_type != Some("private") {
        return Ok(None);
    }
    let address =
        Address::parse(Medium::Telegram, &chat_id.to_string()).map_err(|e| ParseError(format!("chat id: {}", e.0)))?;
    Ok(Some((chat_id, address)))
}

/// A file id as Telegram makes them (letters, digits, `-` and `_`).
fn file_id(v: &Value, what: &str) -> Result<String, ParseError> {
    match v.get("file_id").and_then(Value::as_str) {
        Some(id)
            if !id.is_empty()
                && id.len() <= 256
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Ok(id.to_owned())
        }
        _ => Err(ParseError(format!("the {what} has no file id"))),
    }
}

fn mime(v: &Value) -> Option<String> {
    text(v, "/mime_type").filter(|t| t.len() <= 255 && t.bytes().all(|b| b.is_ascii_graphic())).map(str::to_owned)
}

fn message(m: &Value, api_base: &str, now: Timestamp, out: &mut Parsed) -> Result<(), ParseError> {
    let Some((chat_id, from)) = private_chat(m)? else {
        out.ignored.push("group chat".into());
        return Ok(());
    };
    let Some(message_id) = m.get("message_id").and_then(Value::as_i64) else {
        return Err(ParseError("a message has no message_id".into()));
    };
    let caption = text(m, "/caption").map(str::to_owned);
    let mut media = Vec::new();
    let mut shared_phone = None;
    let body: String = if let Some(t) = text(m, "/text") {
        t.to_owned()
    } else if let Some(sizes) = m.get("photo").and_then(Value::as_array) {
        // Telegram lists the same picture in several sizes, smallest first.
        let largest = sizes.last().ok_or_else(|| ParseError("a photo has no sizes".into()))?;
        media.push(MediaRef { url: media_url(api_base, &file_id(largest, "photo")?), content_type: None });
        caption.unwrap_or_default()
    } else if let Some((kind, f)) = ["document", "voice", "audio", "video", "video_note", "animation", "sticker"]
        .iter()
        .find_map(|k| m.get(*k).map(|f| (*k, f)))
    {
        media.push(MediaRef { url: media_url(api_base, &file_id(f, kind)?), content_type: mime(f) });
        let named = (kind == "document").then(|| text(f, "/file_name").map(str::to_owned)).flatten();
        caption.or(named).unwrap_or_default()
    } else if let Some(l) = m.get("location") {
        let (Some(lat), Some(lon)) =
            (l.get("latitude").and_then(Value::as_f64), l.get("longitude").and_then(Value::as_f64))
        else {
            return Err(ParseError("a location has no latitude and longitude".into()));
        };
        if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
            return Err(ParseError("a location is off the globe".into()));
        }
        format!(
            "Shared a location — https://www.openstreetmap.org/?mlat={lat:.6}&mlon={lon:.6}#map=17/{lat:.6}/{lon:.6}"
        )
    } else if let Some(c) = m.get("contact") {
        let phone = text(c, "/phone_number").ok_or_else(|| ParseError("a contact has no phone number".into()))?;
        let name: Vec<&str> = [text(c, "/first_name"), text(c, "/last_name")].into_iter().flatten().collect();
        // Their own number (the contact carries the sender's user id): one
        // customer with their SMS. Someone else's card is only a message.
        let sender = m.pointer("/from/id").and_then(Value::as_i64);
        if sender.is_some() && c.get("user_id").and_then(Value::as_i64) == sender {
            let digits = phone.trim_start_matches('+');
            shared_phone = E164::parse(&format!("+{digits}"), None).ok();
        }
        let who = if name.is_empty() { "(no name)".to_owned() } else { name.join(" ") };
        format!("Shared a contact: {}, {phone}", who.chars().take(100).collect::<String>())
    } else {
        let kind = m.as_object().and_then(|o| {
            // Telegram's serialisers add flags such as `group_chat_created: false`: the kind is what is set.
            o.iter()
                .find(|(k, v)| {
                    !["message_id", "from", "chat", "date", "message_thread_id"].contains(&k.as_str())
                        && !matches!(v, Value::Bool(false) | Value::Null)
                })
                .map(|(k, _)| k.as_str())
        });
        out.ignored.push(format!("message {}", short(kind.unwrap_or("empty"))));
        return Ok(());
    };
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(ParseError(format!("a message is longer than {MAX_BODY_CHARS} characters")));
    }
    out.events.push(InboundEvent::Message {
        from: from.clone(),
        provider_id: format!("{chat_id}:{message_id}"),
        body,
        media,
        received_at: sent_at(m, now),
        consent_signal: None,
    });
    let name: Vec<&str> = [text(m, "/from/first_name"), text(m, "/from/last_name")].into_iter().flatten().collect();
    let name: String = name.join(" ").chars().filter(|c| !c.is_control()).take(100).collect();
    if !name.is_empty() {
        out.events.push(InboundEvent::Profile { from: from.clone(), name });
    }
    if let Some(phone) = shared_phone {
        out.events.push(InboundEvent::PhoneShared { from, phone });
    }
    Ok(())
}

/// The customer blocking the bot (or starting it again after a block): their
/// own opt-out and opt-in, kept as a line in the thread and in the ledger.
fn membership(m: &Value, update_id: i64, now: Timestamp, out: &mut Parsed) -> Result<(), ParseError> {
    let Some((_, from)) = private_chat(m)? else {
        out.ignored.push("group membership".into());
        return Ok(());
    };
    let old = m.pointer("/old_chat_member/status").and_then(Value::as_str);
    let new = m.pointer("/new_chat_member/status").and_then(Value::as_str);
    let (body, signal) = match (old, new) {
        (_, Some("kicked")) => ("Blocked the bot in Telegram", ConsentSignal::OptOut),
        (Some("kicked"), Some("member")) => ("Unblocked the bot in Telegram", ConsentSignal::OptIn),
        _ => {
            out.ignored.push("membership change".into());
            return Ok(());
        }
    };
    out.events.push(InboundEvent::Message {
        from,
        provider_id: format!("update:{update_id}"),
        body: body.into(),
        media: Vec::new(),
        received_at: sent_at(m, now),
        consent_signal: Some(signal),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const API: &str = "https://api.telegram.org";

    fn parse(v: Value) -> Parsed {
        parse_update(&serde_json::to_vec(&v).unwrap(), API, Timestamp::from_second(1_700_000_100).unwrap()).unwrap()
    }

    fn msg(extra: Value) -> Value {
        let mut m = json!({ "message_id": 7, "date": 1_700_000_000,
            "from": { "id": 111, "is_bot": false, "first_name": "Ana", "last_name": "Li" },
            "chat": { "id": 111, "type": "private", "first_name": "Ana" } });
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        json!({ "update_id": 10, "message": m })
    }

    #[test]
    fn a_contact_of_their_own_links_the_phone_and_someone_elses_does_not() {
        let own =
            parse(msg(json!({ "contact": { "phone_number": "14155550123", "first_name": "Ana", "user_id": 111 } })));
        assert!(matches!(&own.events[2], InboundEvent::PhoneShared { phone, .. } if phone.as_str() == "+14155550123"));
        let other =
            parse(msg(json!({ "contact": { "phone_number": "+14155550124", "first_name": "Bo", "user_id": 222 } })));
        assert_eq!(other.events.len(), 2, "a message and the profile, no link: {other:?}");
        let InboundEvent::Message { body, provider_id, received_at, .. } = &other.events[0] else { panic!() };
        assert_eq!((body.as_str(), provider_id.as_str()), ("Shared a contact: Bo, +14155550124", "111:7"));
        assert_eq!(received_at.as_second(), 1_700_000_000);
    }

    #[test]
    fn groups_edits_and_unknown_kinds_are_ignored_and_garbage_refused() {
        let mut group = msg(json!({ "text": "hi all" }));
        group["message"]["chat"] = json!({ "id": -100, "type": "group", "title": "Team" });
        assert_eq!(parse(group).ignored, ["group chat"]);
        assert_eq!(parse(json!({ "update_id": 1, "edited_message": {} })).ignored, ["edited_message"]);
        assert_eq!(parse(msg(json!({ "dice": { "emoji": "🎲", "value": 3 } }))).ignored, ["message dice"]);
        assert!(parse_update(b"{}", API, Timestamp::now()).is_err());
        assert!(parse_update(b"[1]", API, Timestamp::now()).is_err());
        let bad_file = serde_json::to_vec(&msg(json!({ "document": { "file_id": "../../x" } }))).unwrap();
        assert!(parse_update(&bad_file, API, Timestamp::now()).is_err());
    }
}
