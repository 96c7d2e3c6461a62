//! Outgoing webhooks, the pure parts: the event type names a subscription may
//! ask for, which logged event is which type, what a subscription's fields
//! may hold, and when a failed delivery is tried again.

use jiff::{SignedDuration, Timestamp};

use crate::event::DomainEvent;
use crate::{ConversationStatus, Invalid};

/// Every event type a subscription may name. `survey.answered` is sent by a
/// later feature; it is accepted now so a subscription can be set up ahead.
pub const EVENT_TYPES: [&str; 10] = [
    "message.received",
    "message.sent",
    "message.status",
    "conversation.created",
    "conversation.assigned",
    "conversation.resolved",
    "consent.changed",
    "survey.answered",
    "escalation.created",
    "report.monthly",
];

/// The monthly summary to managers, when email is not set up (not an event of
/// the log: the reports scheduler sends it once per account and month).
pub const REPORT_MONTHLY: &str = "report.monthly";

/// What a rule's "call a webhook" action delivers: not subscribed to, sent
/// to the subscriptions the rule names.
pub const AUTOMATION_FIRED: &str = "automation.fired";

/// How long a delivery is retried before it fails.
pub const RETRY_FOR: SignedDuration = SignedDuration::from_hours(24);

/// The longest description kept.
pub const MAX_DESCRIPTION: usize = 200;

/// The longest URL accepted.
pub const MAX_URL: usize = 2000;

/// The webhook type a logged event is delivered as, if any.
pub fn event_type(e: &DomainEvent) -> Option<&'static str> {
    Some(match e {
        DomainEvent::MessageReceived { .. } => "message.received",
        DomainEvent::MessageSent { .. } => "message.sent",
        DomainEvent::MessageDelivered { .. }
        | DomainEvent::MessageFailed { .. }
        | DomainEvent::MessageStatusChanged { .. } => "message.status",
        DomainEvent::ConversationCreated { .. } => "conversation.created",
        DomainEvent::Assigned { .. } | DomainEvent::Unassigned {} => "conversation.assigned",
        DomainEvent::StatusChanged { to: ConversationStatus::Resolved, .. } => "conversation.resolved",
        DomainEvent::ConsentChanged { .. } => "consent.changed",
        DomainEvent::Escalated { .. } => "escalation.created",
        DomainEvent::SurveyAnswered { .. } => "survey.answered",
        _ => return None,
    })
}

/// A subscription's event list, checked: known names, at least one, no repeats, in the order given.
pub fn parse_events<S: AsRef<str>>(names: &[S]) -> Result<Vec<String>, Invalid> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let n = n.as_ref().trim();
        if !EVENT_TYPES.contains(&n) {
            return Err(Invalid(format!("{n:?} is not an event type; use any of {}", EVENT_TYPES.join(", "))));
        }
        if !out.iter().any(|o| o == n) {
            out.push(n.to_owned());
        }
    }
    if out.is_empty() {
        return Err(Invalid("choose at least one event type".into()));
    }
    Ok(out)
}

/// A description: at most [`MAX_DESCRIPTION`] characters, one line.
pub fn parse_description(d: &str) -> Result<String, Invalid> {
    let d = d.trim();
    if d.chars().count() > MAX_DESCRIPTION || d.contains(['\n', '\r']) {
        return Err(Invalid(format!("the description must be one line of at most {MAX_DESCRIPTION} characters")));
    }
    Ok(d.to_owned())
}

/// When attempt `attempt` (1 for the first) failed at `now` and may be
/// retried: 10 s, 30 s, 90 s… tripling, at most 6 hours apart; or the
/// receiver's `Retry-After` when it asked for longer (at most a day).
pub fn next_attempt(now: Timestamp, attempt: u32, retry_after: Option<SignedDuration>) -> Timestamp {
    let step = 10i64.saturating_mul(3i64.saturating_pow(attempt.saturating_sub(1).min(20)));
    let backoff = SignedDuration::from_secs(step.min(6 * 3600));
    let wait = match retry_after {
        Some(r) if r > backoff => r.min(SignedDuration::from_hours(24)),
        _ => backoff,
    };
    now + wait
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_checked() {
        assert_eq!(parse_events(&["message.received", "message.received"]).unwrap(), ["message.received"]);
        assert!(parse_events(&["message.recieved"]).unwrap_err().0.contains("not an event type"));
        assert!(parse_events::<&str>(&[]).is_err());
        assert_eq!(parse_events(&["survey.answered"]).unwrap(), ["survey.answered"]);
    }

    #[test]
    fn backoff_grows_and_honours_retry_after() {
        let t = Timestamp::UNIX_EPOCH;
        assert_eq!(next_attempt(t, 1, None), t + SignedDuration::from_secs(10));
        assert_eq!(next_attempt(t, 2, None), t + SignedDuration::from_secs(30));
        assert_eq!(next_attempt(t, 30, None), t + SignedDuration::from_hours(6));
        let ra = SignedDuration::from_secs(120);
        assert_eq!(next_attempt(t, 1, Some(ra)), t + ra);
        assert_eq!(next_attempt(t, 1, Some(SignedDuration::from_hours(100))), t + SignedDuration::from_hours(24));
    }

    #[test]
    fn resolving_is_a_type_other_changes_are_not() {
        use ConversationStatus::{Open, Resolved};
        let e = DomainEvent::StatusChanged { from: Open, to: Resolved, until: None, zone: None, reason: None };
        assert_eq!(event_type(&e), Some("conversation.resolved"));
        let e = DomainEvent::StatusChanged { from: Resolved, to: Open, until: None, zone: None, reason: None };
        assert_eq!(event_type(&e), None);
    }
}
