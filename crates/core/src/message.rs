use crate::Invalid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "inbound" => Ok(Direction::Inbound),
            "outbound" => Ok(Direction::Outbound),
            _ => Err(Invalid::new(format!("unknown direction {s:?}"))),
        }
    }
}

/// The life of a message. Outbound: queued → sending → sent → delivered → read,
/// or failed / undelivered / blocked. Inbound messages are `received`; private
/// notes are `note`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Received,
    Note,
    Scheduled,
    Queued,
    Sending,
    Sent,
    Delivered,
    Read,
    Undelivered,
    Failed,
    Blocked,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 11] = [
        Self::Received,
        Self::Note,
        Self::Scheduled,
        Self::Queued,
        Self::Sending,
        Self::Sent,
        Self::Delivered,
        Self::Read,
        Self::Undelivered,
        Self::Failed,
        Self::Blocked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Note => "note",
            Self::Scheduled => "scheduled",
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Undelivered => "undelivered",
            Self::Failed => "failed",
            Self::Blocked => "blocked",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Invalid::new(format!("unknown delivery status {s:?}")))
    }

    /// How far along an outbound message is. Provider callbacks arrive out of
    /// order; a status only replaces one of lower rank, so a late `sent` never
    /// overwrites `delivered`. Terminal failures outrank everything but `read`
    /// is still accepted after `delivered`.
    fn rank(self) -> u8 {
        match self {
            Self::Received | Self::Note | Self::Blocked => 0,
            Self::Scheduled => 1,
            Self::Queued => 2,
            Self::Sending => 3,
            Self::Sent => 4,
            Self::Undelivered | Self::Failed => 5,
            Self::Delivered => 6,
            Self::Read => 7,
        }
    }

    /// Whether a status report `next` may replace `self`.
    pub fn may_become(self, next: DeliveryStatus) -> bool {
        next.rank() > self.rank()
    }

    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::Undelivered | Self::Blocked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_reports_never_move_a_message_backwards() {
        use DeliveryStatus::*;
        assert!(Queued.may_become(Sending));
        assert!(Sending.may_become(Sent));
        assert!(Sent.may_become(Delivered));
        assert!(Delivered.may_become(Read));
        assert!(!Delivered.may_become(Sent));
        assert!(!Read.may_become(Delivered));
        assert!(!Delivered.may_become(Sending));
        assert!(Sent.may_become(Failed));
        assert!(!Failed.may_become(Sent));
    }

    #[test]
    fn statuses_round_trip() {
        for s in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(s.as_str()).unwrap(), s);
        }
        assert!(DeliveryStatus::parse("lost").is_err());
        assert_eq!(Direction::parse("inbound").unwrap(), Direction::Inbound);
    }
}

/// The text of a message an agent writes: not blank, and no longer than the
/// 1,600 characters that SMS providers accept in one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body(String);

impl Body {
    pub const MAX_CHARS: usize = 1600;

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let t = s.trim_end();
        if t.trim().is_empty() {
            return Err(Invalid::new("the message is empty"));
        }
        let n = t.chars().count();
        if n > Self::MAX_CHARS {
            return Err(Invalid::new(format!(
                "the message has {n} characters; the most a text can carry is {}",
                Self::MAX_CHARS
            )));
        }
        Ok(Body(t.to_owned()))
    }

    /// A message's text when it carries `attachments` files: it may then be
    /// empty (a picture alone).
    pub fn parse_with(s: &str, attachments: usize) -> Result<Self, Invalid> {
        if attachments > 0 && s.trim().is_empty() {
            return Ok(Body(String::new()));
        }
        Self::parse(s)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod body_tests {
    use super::*;

    #[test]
    fn bodies_are_bounded() {
        assert!(Body::parse("  \n ").is_err());
        assert_eq!(Body::parse("Hi there  \n").unwrap().as_str(), "Hi there");
        assert!(Body::parse(&"a".repeat(1600)).is_ok());
        assert!(Body::parse(&"a".repeat(1601)).is_err());
        assert!(Body::parse_with("  ", 1).unwrap().is_empty(), "a picture alone");
        assert!(Body::parse_with("  ", 0).is_err());
        assert!(Body::parse_with(&"a".repeat(1601), 1).is_err());
    }
}
