use jiff::{SignedDuration, Timestamp};

use crate::Invalid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    Open,
    Pending,
    Snoozed,
    Resolved,
}

impl ConversationStatus {
    pub const ALL: [ConversationStatus; 4] = [Self::Open, Self::Pending, Self::Snoozed, Self::Resolved];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Pending => "pending",
            Self::Snoozed => "snoozed",
            Self::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Invalid::new(format!("status must be one of open, pending, snoozed, resolved (got {s:?})")))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    None,
    Low,
    Medium,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 5] = [Self::None, Self::Low, Self::Medium, Self::High, Self::Urgent];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Invalid::new(format!("priority must be one of none, low, medium, high, urgent (got {s:?})")))
    }
}

/// How long after resolution a customer's new message reopens the old
/// conversation instead of starting a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReopenWindow(SignedDuration);

impl ReopenWindow {
    pub const DEFAULT_HOURS: i64 = 72;

    pub fn hours(h: i64) -> Result<Self, Invalid> {
        if !(0..=24 * 365).contains(&h) {
            return Err(Invalid::new("the reopen window is 0 to 8760 hours"));
        }
        Ok(ReopenWindow(SignedDuration::from_hours(h)))
    }

    pub fn duration(self) -> SignedDuration {
        self.0
    }
}

impl Default for ReopenWindow {
    fn default() -> Self {
        ReopenWindow(SignedDuration::from_hours(Self::DEFAULT_HOURS))
    }
}

/// What ingest knows about the contact's most recent conversation in an inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatestConversation {
    pub id: i64,
    pub status: ConversationStatus,
    pub resolved_at: Option<Timestamp>,
}

/// Where an inbound customer message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundPlacement {
    /// The conversation is live (open, pending or snoozed): append, and wake it.
    Append(i64),
    /// Resolved recently: the customer is continuing the same matter.
    Reopen(i64),
    /// No conversation, or resolved long ago: a new matter.
    New,
}

impl InboundPlacement {
    pub fn decide(latest: Option<LatestConversation>, now: Timestamp, window: ReopenWindow) -> Self {
        let Some(c) = latest else { return InboundPlacement::New };
        match c.status {
            ConversationStatus::Open | ConversationStatus::Pending | ConversationStatus::Snoozed => {
                InboundPlacement::Append(c.id)
            }
            ConversationStatus::Resolved => match c.resolved_at {
                Some(at) if now.duration_since(at) <= window.duration() => InboundPlacement::Reopen(c.id),
                // A resolved conversation with no time is legacy data: treat it as old.
                _ => InboundPlacement::New,
            },
        }
    }

    /// The status a conversation has after a customer message lands in it: a
    /// customer writing always needs a person again.
    pub fn status_after(self) -> ConversationStatus {
        ConversationStatus::Open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn statuses_round_trip_and_reject_unknown() {
        for s in ConversationStatus::ALL {
            assert_eq!(ConversationStatus::parse(s.as_str()).unwrap(), s);
        }
        assert!(ConversationStatus::parse("closed").is_err());
        assert!(Priority::parse("urgent").is_ok());
        assert!(Priority::parse("critical").is_err());
    }

    #[test]
    fn live_conversations_take_the_message() {
        let now = ts("2026-05-01T12:00:00Z");
        for status in [ConversationStatus::Open, ConversationStatus::Pending, ConversationStatus::Snoozed] {
            let c = LatestConversation { id: 7, status, resolved_at: None };
            assert_eq!(InboundPlacement::decide(Some(c), now, ReopenWindow::default()), InboundPlacement::Append(7));
        }
        assert_eq!(InboundPlacement::decide(None, now, ReopenWindow::default()), InboundPlacement::New);
    }

    #[test]
    fn resolved_reopens_inside_the_window_only() {
        let window = ReopenWindow::hours(24).unwrap();
        let resolved =
            |at: &str| LatestConversation { id: 3, status: ConversationStatus::Resolved, resolved_at: Some(ts(at)) };
        let now = ts("2026-05-02T12:00:00Z");
        assert_eq!(
            InboundPlacement::decide(Some(resolved("2026-05-01T12:00:00Z")), now, window),
            InboundPlacement::Reopen(3)
        );
        assert_eq!(
            InboundPlacement::decide(Some(resolved("2026-05-01T11:59:59Z")), now, window),
            InboundPlacement::New
        );
        let zero = ReopenWindow::hours(0).unwrap();
        assert_eq!(InboundPlacement::decide(Some(resolved("2026-05-02T11:00:00Z")), now, zero), InboundPlacement::New);
        assert!(ReopenWindow::hours(-1).is_err());
    }
}
