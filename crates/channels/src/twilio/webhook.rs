//! Twilio's webhooks: an incoming message, and a status callback about one we
//! sent. Both arrive as form posts; verify the signature first
//! (`validate_form`), then parse here. Unknown parameters are ignored because
//! Twilio adds new ones without notice.

use jiff::Timestamp;
use textdesk_core::{Address, DeliveryStatus, Medium};

use super::errors::provider_error;
use crate::{ConsentSignal, InboundEvent, MediaRef, ParseError};

/// What to answer a webhook with when textdesk replies (if at all) through
/// the API rather than in the response.
pub const EMPTY_TWIML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#;

/// The content type to send `EMPTY_TWIML` with.
pub const TWIML_CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// Twilio never delivers more than 10 attachments on one message.
pub const MAX_MEDIA: u32 = 10;

/// Twilio joins long texts up to 1600 characters; the cap leaves room for
/// carriers that join more, while bounding what one request can store.
pub const MAX_BODY_CHARS: usize = 4800;

/// Longest value kept from the free-text fields (numbers, locations, SIDs).
const MAX_FIELD_LEN: usize = 256;

/// An incoming message, with what Twilio says around it.
#[derive(Debug, Clone, PartialEq)]
pub struct TwilioInbound {
    pub account_sid: String,
    /// The number (or channel address, e.g. `whatsapp:+1…`) it was sent to: ours.
    pub to: String,
    pub messaging_service_sid: Option<String>,
    pub num_segments: Option<u32>,
    pub from_city: Option<String>,
    pub from_state: Option<String>,
    pub from_zip: Option<String>,
    pub from_country: Option<String>,
    /// Always `InboundEvent::Message`.
    pub event: InboundEvent,
}

/// A status callback for a message we sent.
#[derive(Debug, Clone, PartialEq)]
pub struct TwilioStatus {
    pub account_sid: String,
    /// Always `InboundEvent::Status`.
    pub event: InboundEvent,
}

pub fn parse_inbound(params: &[(String, String)], now: Timestamp) -> Result<TwilioInbound, ParseError> {
    let p = Params(params);
    let account_sid = p.sid("AccountSid", Some("AC"))?;
    let provider_id = p.sid("MessageSid", None)?;
    let raw_from = p.required("From")?;
    // WhatsApp-over-Twilio prefixes the number with the channel name.
    let (medium, from_number) = match raw_from.strip_prefix("whatsapp:") {
        Some(number) => (Medium::Whatsapp, number),
        None => (Medium::Sms, raw_from),
    };
    let from =
        Address::parse(medium, from_number).map_err(|e| ParseError(format!("From is not a phone number: {}", e.0)))?;
    let to = p.bounded("To")?.ok_or_else(|| missing("To"))?;
    let messaging_service_sid = match p.one("MessagingServiceSid")? {
        Some(v) if !v.is_empty() => Some(check_sid("MessagingServiceSid", v, Some("MG"))?),
        _ => None,
    };
    let num_segments = match p.one("NumSegments")? {
        Some(v) if !v.is_empty() => Some(parse_u32("NumSegments", v)?),
        _ => None,
    };
    let body = p.one("Body")?.unwrap_or_default();
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(ParseError(format!("the message body is longer than {MAX_BODY_CHARS} characters")));
    }
    let media = media(&p)?;
    if body.trim().is_empty() && media.is_empty() {
        return Err(ParseError("the message has neither text nor media".into()));
    }
    let consent_signal = match p.one("OptOutType")? {
        Some(v) if v.eq_ignore_ascii_case("STOP") => Some(ConsentSignal::OptOut),
        Some(v) if v.eq_ignore_ascii_case("START") => Some(ConsentSignal::OptIn),
        Some(v) if v.eq_ignore_ascii_case("HELP") => Some(ConsentSignal::Help),
        // A type Twilio adds later is not a reason to drop the message.
        _ => None,
    };
    Ok(TwilioInbound {
        account_sid,
        to,
        messaging_service_sid,
        num_segments,
        from_city: p.bounded("FromCity")?,
        from_state: p.bounded("FromState")?,
        from_zip: p.bounded("FromZip")?,
        from_country: p.bounded("FromCountry")?,
        event: InboundEvent::Message {
            from,
            provider_id,
            body: body.to_owned(),
            media,
            received_at: now,
            consent_signal,
        },
    })
}

pub fn parse_status(params: &[(String, String)]) -> Result<TwilioStatus, ParseError> {
    let p = Params(params);
    let account_sid = p.sid("AccountSid", Some("AC"))?;
    let provider_id = p.sid("MessageSid", None)?;
    // Older callbacks name it SmsStatus only.
    let raw = match p.one("MessageStatus")? {
        Some(v) => v,
        None => p.one("SmsStatus")?.ok_or_else(|| missing("MessageStatus"))?,
    };
    let status = map_status(raw)?;
    let error = match p.one("ErrorCode")? {
        Some(code) if !code.trim().is_empty() => {
            let code = code.trim();
            if code.len() > 10 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ParseError("ErrorCode is not a number".into()));
            }
            Some(provider_error(code))
        }
        _ => None,
    };
    Ok(TwilioStatus { account_sid, event: InboundEvent::Status { provider_id, status, error } })
}

/// Twilio's outbound message statuses in textdesk's words.
pub fn map_status(raw: &str) -> Result<DeliveryStatus, ParseError> {
    Ok(match raw.trim().to_ascii_lowercase().as_str() {
        "accepted" | "queued" | "scheduled" => DeliveryStatus::Queued,
        "sending" => DeliveryStatus::Sending,
        "sent" => DeliveryStatus::Sent,
        "delivered" => DeliveryStatus::Delivered,
        "read" => DeliveryStatus::Read,
        "undelivered" => DeliveryStatus::Undelivered,
        // A canceled scheduled message never went out.
        "failed" | "canceled" => DeliveryStatus::Failed,
        _ => return Err(ParseError("MessageStatus is not a status of an outgoing message".into())),
    })
}

/// Whether `sid` looks like a Twilio SID: two capital letters (the `prefix`
/// when given) and 32 hex digits.
pub fn is_sid(sid: &str, prefix: Option<&str>) -> bool {
    let b = sid.as_bytes();
    b.len() == 34
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && prefix.is_none_or(|p| sid.starts_with(p))
        && b[2..].iter().all(u8::is_ascii_hexdigit)
}

fn check_sid(name: &str, v: &str, prefix: Option<&str>) -> Result<String, ParseError> {
    if is_sid(v, prefix) {
        Ok(v.to_owned())
    } else {
        let shape = prefix.unwrap_or("two letters");
        Err(ParseError(format!("{name} is not a Twilio id ({shape} and 32 hex digits)")))
    }
}

fn media(p: &Params<'_>) -> Result<Vec<MediaRef>, ParseError> {
    let count = match p.one("NumMedia")? {
        Some(v) if !v.trim().is_empty() => parse_u32("NumMedia", v)?,
        _ => 0,
    };
    if count > MAX_MEDIA {
        return Err(ParseError(format!("NumMedia is more than {MAX_MEDIA}")));
    }
    // A MediaUrlN beyond NumMedia means the two disagree; guessing which is
    // right could drop an attachment silently.
    for (name, _) in p.0 {
        if let Some(n) = name.strip_prefix("MediaUrl")
            && n.parse::<u32>().is_ok_and(|n| n >= count)
        {
            return Err(ParseError(format!("{name} is present but NumMedia is {count}")));
        }
    }
    let mut media = Vec::with_capacity(count as usize);
    for i in 0..count {
        let url_name = format!("MediaUrl{i}");
        let url =
            p.one(&url_name)?.ok_or_else(|| ParseError(format!("NumMedia is {count} but {url_name} is missing")))?;
        let parsed = url::Url::parse(url).map_err(|_| ParseError(format!("{url_name} is not a URL")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() || url.len() > 2048 {
            return Err(ParseError(format!("{url_name} is not an http(s) URL")));
        }
        let content_type = match p.one(&format!("MediaContentType{i}"))? {
            Some(t) if !t.is_empty() => {
                if t.len() > 255 || !t.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
                    return Err(ParseError(format!("MediaContentType{i} is not a content type")));
                }
                Some(t.to_owned())
            }
            _ => None,
        };
        media.push(MediaRef { url: url.to_owned(), content_type });
    }
    Ok(media)
}

fn parse_u32(name: &str, v: &str) -> Result<u32, ParseError> {
    v.trim().parse().map_err(|_| ParseError(format!("{name} is not a whole number")))
}

fn missing(name: &str) -> ParseError {
    ParseError(format!("{name} is missing"))
}

struct Params<'a>(&'a [(String, String)]);

impl<'a> Params<'a> {
    /// The value of a parameter Twilio sends once. Two values would leave us
    /// guessing which one the signature's author meant, so that is refused.
    fn one(&self, name: &str) -> Result<Option<&'a str>, ParseError> {
        let mut found = self.0.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let first = found.next();
        if found.next().is_some() {
            return Err(ParseError(format!("{name} appears more than once")));
        }
        Ok(first)
    }

    fn required(&self, name: &str) -> Result<&'a str, ParseError> {
        match self.one(name)? {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(missing(name)),
        }
    }

    fn sid(&self, name: &str, prefix: Option<&str>) -> Result<String, ParseError> {
        check_sid(name, self.required(name)?, prefix)
    }

    /// An optional short text field; empty counts as absent.
    fn bounded(&self, name: &str) -> Result<Option<String>, ParseError> {
        match self.one(name)? {
            Some(v) if !v.trim().is_empty() => {
                if v.len() > MAX_FIELD_LEN || v.chars().any(char::is_control) {
                    return Err(ParseError(format!("{name} is longer than {MAX_FIELD_LEN} bytes or not printable")));
                }
                Ok(Some(v.trim().to_owned()))
            }
            _ => Ok(None),
        }
    }
}
