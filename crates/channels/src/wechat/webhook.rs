//! What WeChat posts to an Official Account's server address: one XML message
//! (text, image, voice, video, location, link) or event (subscribe,
//! unsubscribe; menu clicks and the rest are ignored), from a follower's
//! OpenID. The request's signature is checked and safe-mode messages
//! decrypted first (`channel`); this reads the XML.
//!
//! WeChat retries a request that gets no answer three times: anything this
//! version does not keep is acknowledged, named by kind only; a body that is
//! not WeChat's XML is refused.

use jiff::{SignedDuration, Timestamp};
use textdesk_core::{Address, Medium};

use super::xml::{self, Fields};
use crate::{ConsentSignal, InboundEvent, MediaRef, ParseError};

/// The longest text kept from one message.
pub const MAX_BODY_CHARS: usize = 4096;

/// A message's content, or the kind it was when it is not one we keep.
pub type Parsed = Result<InboundEvent, String>;

/// Where a message's media is fetched: WeChat's temporary media by id, with
/// the access token added by the client (never a customer's address).
pub fn media_url(api_base: &str, media_id: &str) -> String {
    format!("{}/cgi-bin/media/get?media_id={media_id}", api_base.trim_end_matches('/'))
}

pub fn parse_message(raw: &str, api_base: &str, now: Timestamp) -> Result<Parsed, ParseError> {
    let f = xml::parse(raw)?;
    let from = openid(f.get("FromUserName"))?;
    let kind = f.get("MsgType").unwrap_or_default();
    let received_at = f
        .get("CreateTime")
        .and_then(|t| t.parse::<i64>().ok())
        .and_then(|s| Timestamp::from_second(s).ok())
        .unwrap_or(now)
        .clamp(now - SignedDuration::from_hours(24 * 7), now);
    let msg_id = || match f.get("MsgId") {
        Some(id) if id.len() <= 64 && id.bytes().all(|b| b.is_ascii_digit()) => Ok(id.to_owned()),
        _ => Err(ParseError(format!("a {kind} message has no MsgId"))),
    };
    let media = |name: &str, content_type: &str| -> Result<MediaRef, ParseError> {
        let id = f.get(name).ok_or_else(|| ParseError(format!("a {kind} message has no {name}")))?;
        if id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return Err(ParseError(format!("the {name} is not a media id")));
        }
        Ok(MediaRef { url: media_url(api_base, id), content_type: Some(content_type.to_owned()) })
    };
    let message = |provider_id: String, body: String, media: Vec<MediaRef>, consent_signal| {
        if body.chars().count() > MAX_BODY_CHARS {
            return Err(ParseError(format!("a message is longer than {MAX_BODY_CHARS} characters")));
        }
        Ok(Ok(InboundEvent::Message { from: from.clone(), provider_id, body, media, received_at, consent_signal }))
    };
    match kind {
        "text" => {
            let body = f.get("Content").ok_or_else(|| ParseError("a text message has no Content".into()))?;
            message(msg_id()?, body.to_owned(), Vec::new(), None)
        }
        // The picture by its MediaId (PicUrl is a customer-independent CDN address, but the id is WeChat's own).
        "image" => message(msg_id()?, String::new(), vec![media("MediaId", "image/jpeg")?], None),
        "voice" => {
            // WeChat's own transcription, where the account has it switched on.
            let said = f.get("Recognition").unwrap_or_default().to_owned();
            let format = match f.get("Format").unwrap_or("amr").to_ascii_lowercase().as_str() {
                "speex" => "audio/speex",
                "mp3" => "audio/mpeg",
                _ => "audio/amr",
            };
            message(msg_id()?, said, vec![media("MediaId", format)?], None)
        }
        "video" | "shortvideo" => message(msg_id()?, String::new(), vec![media("MediaId", "video/mp4")?], None),
        "location" => {
            let (lat, lon) = (
                f.get("Location_X").and_then(|v| v.parse::<f64>().ok()),
                f.get("Location_Y").and_then(|v| v.parse::<f64>().ok()),
            );
            let (Some(lat), Some(lon)) = (lat, lon) else {
                return Err(ParseError("a location has no Location_X and Location_Y".into()));
            };
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                return Err(ParseError("a location is off the globe".into()));
            }
            let mut body = String::from("Shared a location");
            if let Some(label) = f.get("Label") {
                body.push_str(&format!(": {}", label.chars().take(200).collect::<String>()));
            }
            body.push_str(&format!(" — https://www.openstreetmap.org/?mlat={lat:.6}&mlon={lon:.6}"));
            message(msg_id()?, body, Vec::new(), None)
        }
        "link" => {
            let title = f.get("Title").unwrap_or("a link");
            let url = f.get("Url").unwrap_or_default();
            message(
                msg_id()?,
                format!("Shared {title}: {url}").trim_end_matches([':', ' ']).to_owned(),
                Vec::new(),
                None,
            )
        }
        "event" => {
            let event = f.get("Event").unwrap_or_default().to_ascii_lowercase();
            // Events carry no MsgId: the follower, moment and kind name one.
            let id = format!("event:{}:{}:{event}", from.value(), f.get("CreateTime").unwrap_or("0"));
            match event.as_str() {
                // Following the account is the customer's own opt-in; unfollowing, their opt-out.
                "subscribe" => {
                    message(id, "Followed the Official Account".into(), Vec::new(), Some(ConsentSignal::OptIn))
                }
                "unsubscribe" => {
                    message(id, "Unfollowed the Official Account".into(), Vec::new(), Some(ConsentSignal::OptOut))
                }
                other => Ok(Err(format!("event {}", short(other)))),
            }
        }
        other => Ok(Err(short(if other.is_empty() { "untyped" } else { other }))),
    }
}

fn short(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(40).collect()
}

/// A follower's OpenID: letters, digits, `-` and `_`.
fn openid(raw: Option<&str>) -> Result<Address, ParseError> {
    let id = raw.unwrap_or_default();
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(ParseError("FromUserName is not an OpenID".into()));
    }
    Address::parse(Medium::Wechat, id).map_err(|e| ParseError(e.0))
}

/// The `Encrypt` field of a safe-mode body.
pub fn encrypted_field(raw: &str) -> Result<String, ParseError> {
    let f: Fields = xml::parse(raw)?;
    f.get("Encrypt").map(str::to_owned).ok_or_else(|| ParseError("the body has no Encrypt field".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: &str = "https://api.weixin.qq.com";

    #[test]
    fn events_are_consent_and_unknown_kinds_are_named() {
        let now = Timestamp::now();
        let xml = |inner: &str| {
            format!(
                "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oUser_1]]></FromUserName><CreateTime>1700000000</CreateTime>{inner}</xml>"
            )
        };
        let sub = parse_message(&xml("<MsgType>event</MsgType><Event>subscribe</Event>"), API, now).unwrap().unwrap();
        assert!(matches!(sub, InboundEvent::Message { consent_signal: Some(ConsentSignal::OptIn), .. }));
        let click = parse_message(&xml("<MsgType>event</MsgType><Event>CLICK</Event>"), API, now).unwrap();
        assert_eq!(click, Err("event click".into()));
        assert_eq!(
            parse_message(&xml("<MsgType>miniprogrampage</MsgType>"), API, now).unwrap(),
            Err("miniprogrampage".into())
        );
        assert!(parse_message(&xml("<MsgType>text</MsgType><MsgId>1</MsgId>"), API, now).is_err(), "no Content");
        let voice = xml("<MsgType>voice</MsgType><MediaId>../../etc</MediaId><MsgId>2</MsgId>");
        assert!(parse_message(&voice, API, now).is_err());
    }
}
