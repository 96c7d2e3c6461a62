//! The support team's clocks (F11): what is measured in one conversation as
//! its events arrive, on the wall clock and in the business's open hours.
//! Reporting folds each conversation's happenings through a
//! [`ConversationClock`] and adds the [`Measure`]s to its rollups; the
//! definitions are in docs/metrics.md.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::hours::BusinessHours;

/// What reporting needs to know of a conversation's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Happening {
    /// The conversation began (a customer's first text, or our first message).
    Created,
    /// The customer wrote (not a consent keyword: STOP is not a question).
    CustomerWrote,
    /// A person sent a reply to the customer (not a note, not an automatic message).
    PersonReplied,
    /// Self-service took the conversation: the customer's texts wait for no person.
    BotStarted,
    /// Self-service handed the customer to a person: their wait starts now.
    HandedOff,
    Resolved,
    /// Reopened from resolved (a new cycle).
    Reopened,
}

/// A stretch of time on both clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub wall: SignedDuration,
    /// The part of it inside the inbox's business hours.
    pub business: SignedDuration,
}

impl Span {
    pub fn between(from: Timestamp, to: Timestamp, hours: &BusinessHours) -> Span {
        Span { wall: to.duration_since(from).max(SignedDuration::ZERO), business: hours.open_time_between(from, to) }
    }
}

/// One thing measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// The customer's first wait for a person in this conversation, until a person answered.
    FirstResponse(Span),
    /// Any wait for a person (the first one included), until a person answered.
    ReplyWait(Span),
    /// From the start of a cycle (creation or reopening) to its resolution.
    Resolution(Span),
    /// Self-service passed the customer to a person.
    Handoff,
}

/// Where a conversation stands, for the next event: kept per conversation by
/// reporting, so each event is measured as it arrives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationClock {
    /// The start of the current cycle: created, or reopened.
    pub cycle_start: Option<Timestamp>,
    /// Since when the customer has waited for a person, if they are waiting.
    pub waiting_since: Option<Timestamp>,
    /// A person has answered a wait in this conversation (its first response is measured).
    pub answered: bool,
    /// Self-service has the conversation.
    pub in_bot: bool,
}

impl ConversationClock {
    /// Moves the clock by one happening at `at`, returning what it measured.
    /// Happenings arrive in the log's order; one that makes no sense where
    /// the conversation stands (a reply nobody waited for) measures nothing.
    pub fn apply(&mut self, h: Happening, at: Timestamp, hours: &BusinessHours) -> Vec<Measure> {
        let mut out = Vec::new();
        match h {
            Happening::Created => {
                self.cycle_start.get_or_insert(at);
            }
            Happening::CustomerWrote => {
                self.cycle_start.get_or_insert(at);
                // Several texts in a row are one wait, from the first.
                if !self.in_bot && self.waiting_since.is_none() {
                    self.waiting_since = Some(at);
                }
            }
            Happening::PersonReplied => {
                // Only an answer to a wait counts: a notification we sent first
                // is not a response, so the customer's first text still has one.
                if let Some(since) = self.waiting_since.take() {
                    let span = Span::between(since, at, hours);
                    if !self.answered {
                        out.push(Measure::FirstResponse(span));
                    }
                    out.push(Measure::ReplyWait(span));
                    self.answered = true;
                }
                // A person who writes during self-service has taken it over.
                self.in_bot = false;
            }
            Happening::BotStarted => {
                self.in_bot = true;
                self.waiting_since = None;
            }
            Happening::HandedOff => {
                if self.in_bot {
                    out.push(Measure::Handoff);
                }
                self.in_bot = false;
                self.waiting_since.get_or_insert(at);
            }
            Happening::Resolved => {
                if let Some(start) = self.cycle_start.take() {
                    out.push(Measure::Resolution(Span::between(start, at, hours)));
                }
                // Resolved without an answer: the wait ends unmeasured (counted by the resolution).
                self.waiting_since = None;
                self.in_bot = false;
            }
            Happening::Reopened => {
                self.cycle_start = Some(at);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hours::HoursSettings;
    use jiff::tz::TimeZone;

    fn at(s: &str) -> Timestamp {
        // Local times in New York.
        s.parse::<jiff::civil::DateTime>()
            .unwrap()
            .to_zoned(TimeZone::get("America/New_York").unwrap())
            .unwrap()
            .timestamp()
    }

    /// Weekdays 9:00–17:00 in New York.
    fn office() -> BusinessHours {
        let zone = TimeZone::get("America/New_York").unwrap();
        let weekly = ["mon", "tue", "wed", "thu", "fri"].iter().map(|d| (d.to_string(), vec!["09:00-17:00".into()]));
        HoursSettings { weekly: weekly.collect(), ..HoursSettings::default() }.resolve(&zone).unwrap()
    }

    fn run(steps: &[(Happening, &str)]) -> Vec<Measure> {
        let hours = office();
        let mut clock = ConversationClock::default();
        steps.iter().flat_map(|(h, t)| clock.apply(*h, at(t), &hours)).collect()
    }

    fn mins(m: i64) -> SignedDuration {
        SignedDuration::from_mins(m)
    }

    #[test]
    fn a_friday_evening_question_answered_on_monday() {
        use Happening::*;
        // Fri 16:50 → Mon 9:20: 64.5 hours on the wall, 10 + 20 = 30 business minutes.
        let m = run(&[
            (CustomerWrote, "2026-11-20T16:50"),
            (CustomerWrote, "2026-11-20T18:00"),
            (PersonReplied, "2026-11-23T09:20"),
            (Resolved, "2026-11-23T09:30"),
        ]);
        let span = Span { wall: mins(64 * 60 + 30), business: mins(30) };
        assert_eq!(
            m,
            vec![
                Measure::FirstResponse(span),
                Measure::ReplyWait(span),
                Measure::Resolution(Span { wall: mins(64 * 60 + 40), business: mins(40) })
            ]
        );
    }

    #[test]
    fn only_the_first_answer_is_the_first_response_and_each_wait_counts() {
        use Happening::*;
        let m = run(&[
            (CustomerWrote, "2026-11-24T10:00"),
            (PersonReplied, "2026-11-24T10:05"),
            (PersonReplied, "2026-11-24T10:06"),
            (CustomerWrote, "2026-11-24T11:00"),
            (PersonReplied, "2026-11-24T11:30"),
        ]);
        let five = Span { wall: mins(5), business: mins(5) };
        let thirty = Span { wall: mins(30), business: mins(30) };
        assert_eq!(m, vec![Measure::FirstResponse(five), Measure::ReplyWait(five), Measure::ReplyWait(thirty)]);
    }

    #[test]
    fn self_service_waits_for_nobody_until_the_handoff() {
        use Happening::*;
        let m = run(&[
            (CustomerWrote, "2026-11-24T10:00"),
            (BotStarted, "2026-11-24T10:00"),
            (CustomerWrote, "2026-11-24T10:01"),
            (HandedOff, "2026-11-24T10:10"),
            (PersonReplied, "2026-11-24T10:12"),
        ]);
        let two = Span { wall: mins(2), business: mins(2) };
        assert_eq!(m, vec![Measure::Handoff, Measure::FirstResponse(two), Measure::ReplyWait(two)]);
    }

    #[test]
    fn each_reopened_cycle_has_its_resolution() {
        use Happening::*;
        let m = run(&[
            (Created, "2026-11-24T10:00"),
            (Resolved, "2026-11-24T10:20"),
            (Reopened, "2026-11-24T12:00"),
            (Resolved, "2026-11-24T12:45"),
            (Resolved, "2026-11-24T12:50"),
        ]);
        let r = |m| Measure::Resolution(Span { wall: mins(m), business: mins(m) });
        assert_eq!(m, vec![r(20), r(45)], "a second resolve without a reopen measures nothing");
    }

    #[test]
    fn a_notification_first_is_not_the_first_response() {
        use Happening::*;
        // Our notification opens the conversation; the customer's first text is the first wait.
        let m = run(&[
            (Created, "2026-11-24T10:00"),
            (PersonReplied, "2026-11-24T10:00"),
            (CustomerWrote, "2026-11-24T10:30"),
            (PersonReplied, "2026-11-24T10:40"),
            (PersonReplied, "2026-11-24T10:41"),
        ]);
        let ten = Span { wall: mins(10), business: mins(10) };
        assert_eq!(
            m,
            vec![Measure::FirstResponse(ten), Measure::ReplyWait(ten)],
            "a reply nobody waited for measures nothing"
        );
    }

    #[test]
    fn the_business_clock_across_a_dst_change() {
        use Happening::*;
        // New York leaves summer time on Sun 1 Nov 2026: Fri 16:00 → Mon 10:00 is 67 wall hours (one extra), 2 business.
        let m = run(&[(CustomerWrote, "2026-10-30T16:00"), (PersonReplied, "2026-11-02T10:00")]);
        let span = Span { wall: mins(67 * 60), business: mins(120) };
        assert_eq!(m, vec![Measure::FirstResponse(span), Measure::ReplyWait(span)]);
    }
}
