use std::fmt;

use jiff::SignedDuration;

use crate::{E164, Invalid};

/// What a conversation is carried over, as the customer sees it: the app on
/// their phone. Separate from the provider that connects an inbox to it
/// (Twilio can carry SMS now and WhatsApp later; SMPP carries SMS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Medium {
    Sms,
    Whatsapp,
    Messenger,
    Telegram,
    Line,
    Wechat,
    Webchat,
    Email,
    Voice,
}

impl Medium {
    pub const ALL: [Medium; 9] = [
        Medium::Sms,
        Medium::Whatsapp,
        Medium::Messenger,
        Medium::Telegram,
        Medium::Line,
        Medium::Wechat,
        Medium::Webchat,
        Medium::Email,
        Medium::Voice,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Medium::Sms => "sms",
            Medium::Whatsapp => "whatsapp",
            Medium::Messenger => "messenger",
            Medium::Telegram => "telegram",
            Medium::Line => "line",
            Medium::Wechat => "wechat",
            Medium::Webchat => "webchat",
            Medium::Email => "email",
            Medium::Voice => "voice",
        }
    }

    /// The name people know it by.
    pub fn label(self) -> &'static str {
        match self {
            Medium::Sms => "SMS",
            Medium::Whatsapp => "WhatsApp",
            Medium::Messenger => "Messenger",
            Medium::Telegram => "Telegram",
            Medium::Line => "LINE",
            Medium::Wechat => "WeChat",
            Medium::Webchat => "Web chat",
            Medium::Email => "Email",
            Medium::Voice => "Voice",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|m| m.as_str()).collect();
            Invalid::new(format!("unknown medium {s:?}: one of {}", known.join(", ")))
        })
    }

    /// Media whose customer address is a phone number.
    pub fn uses_phone_numbers(self) -> bool {
        matches!(self, Medium::Sms | Medium::Whatsapp | Medium::Voice)
    }

    /// The identity namespace: SMS over any provider (and a call to the same
    /// number) reaches the same phone, so a customer texting two SMS inboxes is
    /// one identity. WhatsApp and the chat apps keep their own.
    pub fn identity_namespace(self) -> &'static str {
        match self {
            Medium::Sms | Medium::Voice => "phone",
            // Every other medium is its own namespace, by rule.
            own => own.as_str(),
        }
    }

    /// How long after the customer's last message the business may write
    /// freely, where the medium's owner sets such a rule (WhatsApp's and
    /// Messenger's 24 hours, WeChat's 48 for customer-service messages). A
    /// provider on the medium reports it in its capabilities.
    pub fn reply_window(self) -> Option<SignedDuration> {
        match self {
            Medium::Whatsapp | Medium::Messenger => Some(SignedDuration::from_hours(24)),
            Medium::Wechat => Some(SignedDuration::from_hours(48)),
            _ => None,
        }
    }

    /// How long after the customer's last message a person (never an
    /// automation) may still answer once the reply window has closed, where
    /// the medium allows it: Messenger's `HUMAN_AGENT` tag, 7 days.
    pub fn human_agent_window(self) -> Option<SignedDuration> {
        match self {
            Medium::Messenger => Some(SignedDuration::from_hours(24 * 7)),
            _ => None,
        }
    }
}

impl fmt::Display for Medium {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a channel (a provider carrying a medium) can do. The gate reads the
/// reply window; sending reads media and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Pictures and files can go with a message.
    pub media: bool,
    /// The longest text, in characters, one message may carry.
    pub max_chars: usize,
    /// The business may only write this long after the customer's last message.
    pub reply_window: Option<SignedDuration>,
    /// After `reply_window`, a person's reply may still go this long after
    /// the customer's last message, marked as a human agent's (Messenger).
    pub human_agent_window: Option<SignedDuration>,
    /// The provider reports delivery.
    pub delivery_receipts: bool,
    /// The provider reports when the customer read a message.
    pub read_receipts: bool,
}

impl Capabilities {
    /// A text message whose length is within the channel's limit, in words an agent reads.
    pub fn check_length(&self, text: &str) -> Result<(), Invalid> {
        let n = text.chars().count();
        if n > self.max_chars {
            return Err(Invalid::new(format!(
                "This channel carries at most {} characters in a message; this one has {n}.",
                self.max_chars
            )));
        }
        Ok(())
    }
}

/// A customer's address on a medium: a phone number for SMS-like media, an
/// opaque provider id (bounded, printable) for the chat apps.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    medium: Medium,
    value: String,
}

impl Address {
    pub fn parse(medium: Medium, raw: &str) -> Result<Self, Invalid> {
        Self::parse_in(medium, raw, None)
    }

    /// As `parse`, reading a phone number typed without its country code
    /// ("(415) 555-0199") in `default_region` (an ISO 3166 code such as "US").
    pub fn parse_in(medium: Medium, raw: &str, default_region: Option<&str>) -> Result<Self, Invalid> {
        if medium.uses_phone_numbers() {
            let n = E164::parse(raw, default_region)?;
            return Ok(Address { medium, value: n.as_str().to_owned() });
        }
        let v = raw.trim();
        if v.is_empty() || v.len() > 200 || v.chars().any(char::is_control) {
            return Err(Invalid::new("an address is 1 to 200 printable characters"));
        }
        Ok(Address { medium, value: v.to_owned() })
    }

    pub fn medium(&self) -> Medium {
        self.medium
    }
    pub fn namespace(&self) -> &'static str {
        self.medium.identity_namespace()
    }
    pub fn value(&self) -> &str {
        &self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_round_trip() {
        for m in Medium::ALL {
            assert_eq!(Medium::parse(m.as_str()).unwrap(), m);
            assert!(!m.label().is_empty());
        }
        assert!(Medium::parse("fax").is_err());
        assert!(Medium::parse("twilio").is_err(), "a provider is not a medium");
    }

    #[test]
    fn sms_and_voice_share_the_phone_namespace_and_chat_apps_do_not() {
        let a = Address::parse(Medium::Sms, "+1 415 555 2671").unwrap();
        let b = Address::parse(Medium::Voice, "+14155552671").unwrap();
        assert_eq!((a.namespace(), a.value()), (b.namespace(), b.value()));
        let w = Address::parse(Medium::Whatsapp, "+14155552671").unwrap();
        assert_eq!((w.namespace(), w.value()), ("whatsapp", "+14155552671"));
        assert!(Address::parse(Medium::Telegram, "").is_err());
        assert!(Address::parse(Medium::Telegram, "a\u{0}b").is_err());
        assert_eq!(Address::parse(Medium::Telegram, " 12345 ").unwrap().value(), "12345");
    }

    #[test]
    fn only_whatsapp_messenger_and_wechat_have_a_reply_window() {
        for m in Medium::ALL {
            let expected = matches!(m, Medium::Whatsapp | Medium::Messenger | Medium::Wechat);
            assert_eq!(m.reply_window().is_some(), expected, "{m}");
            assert_eq!(m.human_agent_window().is_some(), m == Medium::Messenger, "{m}");
        }
        assert_eq!(Medium::Wechat.reply_window(), Some(SignedDuration::from_hours(48)));
        assert_eq!(Medium::Messenger.human_agent_window(), Some(SignedDuration::from_hours(168)));
    }

    #[test]
    fn length_is_checked_against_the_channel() {
        let caps = Capabilities {
            media: false,
            max_chars: 5,
            reply_window: None,
            human_agent_window: None,
            delivery_receipts: true,
            read_receipts: false,
        };
        assert!(caps.check_length("héllo").is_ok());
        assert!(caps.check_length("hello!").unwrap_err().0.contains("at most 5"));
    }
}
