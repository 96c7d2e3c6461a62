use std::fmt;

use crate::{E164, Invalid};

/// The kinds of channel a conversation can run over. Only the simulator is
/// wired in the foundation; the others are named so data and APIs are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Simulator,
    Twilio,
    Smpp,
    Whatsapp,
    Messenger,
    Telegram,
    Line,
    Wechat,
    Webchat,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 9] = [
        ChannelKind::Simulator,
        ChannelKind::Twilio,
        ChannelKind::Smpp,
        ChannelKind::Whatsapp,
        ChannelKind::Messenger,
        ChannelKind::Telegram,
        ChannelKind::Line,
        ChannelKind::Wechat,
        ChannelKind::Webchat,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Simulator => "simulator",
            ChannelKind::Twilio => "twilio",
            ChannelKind::Smpp => "smpp",
            ChannelKind::Whatsapp => "whatsapp",
            ChannelKind::Messenger => "messenger",
            ChannelKind::Telegram => "telegram",
            ChannelKind::Line => "line",
            ChannelKind::Wechat => "wechat",
            ChannelKind::Webchat => "webchat",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Invalid::new(format!("unknown channel kind {s:?}")))
    }

    /// Channels whose customer address is a phone number.
    /// Whether a message on this channel can carry pictures and files (SMPP carries text only).
    pub fn carries_media(self) -> bool {
        !matches!(self, ChannelKind::Smpp)
    }

    pub fn uses_phone_numbers(self) -> bool {
        matches!(self, ChannelKind::Simulator | ChannelKind::Twilio | ChannelKind::Smpp | ChannelKind::Whatsapp)
    }

    /// The identity namespace: SMS over any provider reaches the same phone, so
    /// a customer texting two SMS inboxes is one identity.
    pub fn identity_namespace(self) -> &'static str {
        match self {
            ChannelKind::Simulator | ChannelKind::Twilio | ChannelKind::Smpp => "phone",
            other => other.as_str(),
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A customer's address on a channel: a phone number for SMS-like channels, an
/// opaque provider id (bounded, printable) for the chat apps.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    kind: ChannelKind,
    value: String,
}

impl Address {
    pub fn parse(kind: ChannelKind, raw: &str) -> Result<Self, Invalid> {
        Self::parse_in(kind, raw, None)
    }

    /// As `parse`, reading a phone number typed without its country code
    /// ("(415) 555-0199") in `default_region` (an ISO 3166 code such as "US").
    pub fn parse_in(kind: ChannelKind, raw: &str, default_region: Option<&str>) -> Result<Self, Invalid> {
        if kind.uses_phone_numbers() {
            let n = E164::parse(raw, default_region)?;
            return Ok(Address { kind, value: n.as_str().to_owned() });
        }
        let v = raw.trim();
        if v.is_empty() || v.len() > 200 || v.chars().any(char::is_control) {
            return Err(Invalid::new("an address is 1 to 200 printable characters"));
        }
        Ok(Address { kind, value: v.to_owned() })
    }

    pub fn kind(&self) -> ChannelKind {
        self.kind
    }
    pub fn namespace(&self) -> &'static str {
        self.kind.identity_namespace()
    }
    pub fn value(&self) -> &str {
        &self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for k in ChannelKind::ALL {
            assert_eq!(ChannelKind::parse(k.as_str()).unwrap(), k);
        }
        assert!(ChannelKind::parse("fax").is_err());
    }

    #[test]
    fn sms_like_addresses_share_the_phone_namespace() {
        let a = Address::parse(ChannelKind::Simulator, "+1 415 555 2671").unwrap();
        let b = Address::parse(ChannelKind::Twilio, "+14155552671").unwrap();
        assert_eq!((a.namespace(), a.value()), (b.namespace(), b.value()));
        assert!(Address::parse(ChannelKind::Telegram, "").is_err());
        assert!(Address::parse(ChannelKind::Telegram, "a\u{0}b").is_err());
        assert_eq!(Address::parse(ChannelKind::Telegram, " 12345 ").unwrap().value(), "12345");
    }
}
