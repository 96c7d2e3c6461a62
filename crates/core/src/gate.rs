//! The one door every outbound message passes. Pure: it is handed everything it
//! needs and answers Allow, Defer or Block. Callers cannot send around it,
//! because the outbox only accepts a message together with an `Allow` verdict
//! (see `store::outbox`).

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::{Capabilities, QuietHours};

/// Why a message is going out. Replies answer a customer who wrote to us;
/// everything else is the business starting the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboundKind {
    /// An agent's reply inside a conversation the customer is part of.
    Reply,
    /// A confirmation the law requires after STOP/START/HELP; allowed once even
    /// to an opted-out number, so it is only ever created by the consent rules.
    ConsentConfirmation,
    /// A business-initiated message: reminder, alert, survey.
    Notification,
    /// A one-time code a person just asked for, to prove a number is theirs
    /// (a web chat visitor continuing by text): never to an opted-out number,
    /// but not held by quiet hours (they are waiting for it now) nor needing
    /// an opt-in (it is not marketing, and the number has no contact yet).
    VerificationCode,
}

impl OutboundKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboundKind::Reply => "reply",
            OutboundKind::ConsentConfirmation => "consent_confirmation",
            OutboundKind::Notification => "notification",
            OutboundKind::VerificationCode => "verification_code",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "reply" => Some(OutboundKind::Reply),
            "consent_confirmation" => Some(OutboundKind::ConsentConfirmation),
            "notification" => Some(OutboundKind::Notification),
            "verification_code" => Some(OutboundKind::VerificationCode),
            _ => None,
        }
    }
}

/// The contact's consent for the sending scope, from the consent ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentState {
    /// No recorded event. Replies are fine (the customer wrote first).
    Unknown,
    OptedIn,
    OptedOut,
}

impl ConsentState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentState::Unknown => "unknown",
            ConsentState::OptedIn => "opted_in",
            ConsentState::OptedOut => "opted_out",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "unknown" => Some(ConsentState::Unknown),
            "opted_in" => Some(ConsentState::OptedIn),
            "opted_out" => Some(ConsentState::OptedOut),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutboundRequest {
    pub kind: OutboundKind,
    pub consent: ConsentState,
    pub now: Timestamp,
    /// When the contact may be texted; None where quiet hours do not apply.
    pub timing: Option<Timing>,
    /// What the conversation's channel allows (its reply window).
    pub channel: Capabilities,
    /// When the customer last wrote in the conversation, if ever.
    pub last_inbound: Option<Timestamp>,
    /// A template the provider approved (WhatsApp's): the channel's reply
    /// window does not hold it back, as the provider allows it outside.
    pub template: bool,
    /// A person wrote it (an agent's reply, not an automation's): on a
    /// channel with a human-agent window (Messenger's 7 days) it may go after
    /// the reply window has closed.
    pub by_person: bool,
}

impl OutboundRequest {
    /// Where this message stands with the channel's reply window at `at`.
    pub fn window_at(&self, at: Timestamp) -> WindowUse {
        let by_person = self.by_person && self.kind == OutboundKind::Reply;
        window_use(&self.channel, self.last_inbound, at, self.template, by_person)
    }
}

/// A message against its channel's reply window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowUse {
    /// No window, the window is open, or an approved template (allowed outside it).
    Open,
    /// The window has closed but a person's reply may still go, marked as a
    /// human agent's (Messenger's `HUMAN_AGENT` tag); the provider must be told.
    HumanAgent,
    /// The window has closed and only a person may still answer: not this message.
    PersonOnly,
    /// Nothing free-form may go.
    Closed,
}

/// Where a message written `by_person` (or not) stands at `at`, on `channel`,
/// when the customer last wrote at `last_inbound`.
pub fn window_use(
    channel: &Capabilities,
    last_inbound: Option<Timestamp>,
    at: Timestamp,
    template: bool,
    by_person: bool,
) -> WindowUse {
    let Some(window) = channel.reply_window else { return WindowUse::Open };
    if template {
        return WindowUse::Open;
    }
    let Some(last) = last_inbound else { return WindowUse::Closed };
    if at < last + window {
        return WindowUse::Open;
    }
    match channel.human_agent_window {
        Some(longer) if at < last + longer && by_person => WindowUse::HumanAgent,
        Some(longer) if at < last + longer => WindowUse::PersonOnly,
        _ => WindowUse::Closed,
    }
}

/// What the gate needs to respect the contact's night.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    pub quiet: QuietHours,
    /// The contact's zone.
    pub zone: TimeZone,
    /// The customer wrote within the last few minutes: they are in a live
    /// exchange, and a reply goes now whatever the hour, because they asked.
    /// Business-initiated messages still wait for the morning.
    pub live_exchange: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockReason {
    OptedOut,
    NoOptIn,
    /// The channel only lets the business write for a while after the
    /// customer's last message (WhatsApp's 24 hours), and that time is over.
    ReplyWindowClosed,
    /// The reply window has closed and the channel still takes a person's
    /// reply for a while (Messenger's human agent tag), but not an automatic one.
    AutomaticOutsideWindow,
}

impl BlockReason {
    pub fn code(self) -> &'static str {
        match self {
            BlockReason::OptedOut => "opted_out",
            BlockReason::NoOptIn => "no_opt_in",
            BlockReason::ReplyWindowClosed => "reply_window_closed",
            BlockReason::AutomaticOutsideWindow => "automatic_outside_window",
        }
    }

    /// The words an agent sees in the composer and on the blocked message.
    pub fn explain(self) -> &'static str {
        match self {
            BlockReason::OptedOut => {
                "This contact has opted out (replied STOP). Nothing can be sent until they text START."
            }
            BlockReason::NoOptIn => {
                "This contact has not opted in, so the business cannot start a conversation by text."
            }
            BlockReason::ReplyWindowClosed => {
                "This channel only lets the business write for a limited time after the customer's last message (24 hours on WhatsApp, 48 hours on WeChat, 7 days for a person's reply on Messenger), and that time is over. On WhatsApp only an approved template can go now; anything else needs the customer to write first."
            }
            BlockReason::AutomaticOutsideWindow => {
                "More than 24 hours have passed since the customer's last message: Messenger now takes only a reply written by a person (sent as a human agent's reply, up to 7 days after the customer wrote), so this automatic message cannot go."
            }
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "opted_out" => Some(BlockReason::OptedOut),
            "no_opt_in" => Some(BlockReason::NoOptIn),
            "reply_window_closed" => Some(BlockReason::ReplyWindowClosed),
            "automatic_outside_window" => Some(BlockReason::AutomaticOutsideWindow),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Defer(Timestamp),
    Block(BlockReason),
}

/// The gate's policy:
/// - an opted-out contact receives nothing but the one confirmation of their opt-out;
/// - a verification code goes at once to any number that has not opted out;
/// - business-initiated messages need a recorded opt-in;
/// - replies inside a conversation the customer started are allowed unless opted out;
/// - nothing but a consent confirmation goes out in the contact's quiet hours,
///   unless the customer is in a live exchange; such a message is deferred to
///   the earliest allowed moment, never dropped;
/// - on a channel with a reply window, nothing but a consent confirmation or
///   an approved template goes out once the window since the customer's last
///   message has closed, nor is deferred to a moment after it closes (it could
///   never go); where the channel has a human-agent window, a person's reply
///   still goes within it, and an automatic message is refused with its own reason.
pub fn decide(req: &OutboundRequest) -> Verdict {
    let consented = match (req.kind, req.consent) {
        (OutboundKind::ConsentConfirmation, _) => return Verdict::Allow,
        (_, ConsentState::OptedOut) => Verdict::Block(BlockReason::OptedOut),
        (OutboundKind::VerificationCode, _) => return Verdict::Allow,
        (OutboundKind::Notification, ConsentState::Unknown) => Verdict::Block(BlockReason::NoOptIn),
        (OutboundKind::Reply | OutboundKind::Notification, _) => Verdict::Allow,
    };
    let timed = match (&consented, &req.timing) {
        (Verdict::Allow, Some(t)) if !t.quiet.allows(req.now, &t.zone) && !answers_live_exchange(req.kind, t) => {
            Verdict::Defer(t.quiet.next_allowed(req.now, &t.zone))
        }
        _ => consented,
    };
    let refused_at = |at: Timestamp| match req.window_at(at) {
        WindowUse::Open | WindowUse::HumanAgent => None,
        WindowUse::PersonOnly => Some(BlockReason::AutomaticOutsideWindow),
        WindowUse::Closed => Some(BlockReason::ReplyWindowClosed),
    };
    match timed {
        Verdict::Allow => refused_at(req.now).map_or(Verdict::Allow, Verdict::Block),
        Verdict::Defer(until) => refused_at(until).map_or(Verdict::Defer(until), Verdict::Block),
        other => other,
    }
}

/// A reply to a customer who just wrote goes now: they asked.
fn answers_live_exchange(kind: OutboundKind, t: &Timing) -> bool {
    t.live_exchange && kind == OutboundKind::Reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timing::DayRule;

    const KINDS: [OutboundKind; 4] = [
        OutboundKind::Reply,
        OutboundKind::ConsentConfirmation,
        OutboundKind::Notification,
        OutboundKind::VerificationCode,
    ];
    const STATES: [ConsentState; 3] = [ConsentState::Unknown, ConsentState::OptedIn, ConsentState::OptedOut];

    /// An SMS-like channel: no reply window.
    const SMS: Capabilities = Capabilities {
        media: true,
        max_chars: 1600,
        reply_window: None,
        human_agent_window: None,
        delivery_receipts: true,
        read_receipts: false,
    };

    fn windowed(hours: i64) -> Capabilities {
        Capabilities { reply_window: Some(jiff::SignedDuration::from_hours(hours)), read_receipts: true, ..SMS }
    }

    fn verdict(kind: OutboundKind, consent: ConsentState) -> Verdict {
        decide(&OutboundRequest {
            kind,
            consent,
            now: Timestamp::UNIX_EPOCH,
            timing: None,
            channel: SMS,
            last_inbound: None,
            template: false,
            by_person: false,
        })
    }

    #[test]
    fn a_closed_reply_window_blocks_everything_but_a_confirmation() {
        let now: Timestamp = "2026-01-15T15:00:00Z".parse().unwrap();
        let hours_ago = |h: i64| Some(now - jiff::SignedDuration::from_hours(h));
        let ask = |kind, consent, last_inbound| {
            decide(&OutboundRequest {
                kind,
                consent,
                now,
                timing: None,
                channel: windowed(24),
                last_inbound,
                template: false,
                by_person: false,
            })
        };
        // Inside the window a reply goes, as on SMS.
        assert_eq!(ask(OutboundKind::Reply, ConsentState::Unknown, hours_ago(23)), Verdict::Allow);
        assert_eq!(ask(OutboundKind::Notification, ConsentState::OptedIn, hours_ago(1)), Verdict::Allow);
        // After it, or when the customer never wrote, the business may not start.
        let closed = Verdict::Block(BlockReason::ReplyWindowClosed);
        assert_eq!(ask(OutboundKind::Reply, ConsentState::Unknown, hours_ago(24)), closed);
        assert_eq!(ask(OutboundKind::Notification, ConsentState::OptedIn, hours_ago(25)), closed);
        assert_eq!(ask(OutboundKind::Notification, ConsentState::OptedIn, None), closed);
        // A confirmation the law requires still goes; an opt-out is still the reason given first.
        assert_eq!(ask(OutboundKind::ConsentConfirmation, ConsentState::OptedOut, hours_ago(30)), Verdict::Allow);
        assert_eq!(
            ask(OutboundKind::Reply, ConsentState::OptedOut, hours_ago(30)),
            Verdict::Block(BlockReason::OptedOut)
        );
        // The same late reply on a channel without a window goes.
        let sms = OutboundRequest {
            kind: OutboundKind::Reply,
            consent: ConsentState::Unknown,
            now,
            timing: None,
            channel: SMS,
            last_inbound: hours_ago(300),
            template: false,
            by_person: false,
        };
        assert_eq!(decide(&sms), Verdict::Allow);
        // An approved template goes after the window, and so does one the customer never wrote to; not past an opt-out.
        let template = |consent, last_inbound| {
            decide(&OutboundRequest {
                kind: OutboundKind::Reply,
                consent,
                now,
                timing: None,
                channel: windowed(24),
                last_inbound,
                template: true,
                by_person: false,
            })
        };
        assert_eq!(template(ConsentState::Unknown, hours_ago(30)), Verdict::Allow);
        assert_eq!(template(ConsentState::OptedOut, hours_ago(30)), Verdict::Block(BlockReason::OptedOut));
        let reason = BlockReason::ReplyWindowClosed;
        assert!(reason.explain().contains("write first"));
        assert_eq!(BlockReason::parse(reason.code()), Some(reason));
    }

    #[test]
    fn a_person_may_answer_on_messenger_for_seven_days_but_an_automation_may_not() {
        let now: Timestamp = "2026-01-15T15:00:00Z".parse().unwrap();
        let messenger =
            Capabilities { human_agent_window: Some(jiff::SignedDuration::from_hours(24 * 7)), ..windowed(24) };
        let ask = |by_person: bool, hours_ago: i64, kind| {
            let req = OutboundRequest {
                kind,
                consent: ConsentState::OptedIn,
                now,
                timing: None,
                channel: messenger,
                last_inbound: Some(now - jiff::SignedDuration::from_hours(hours_ago)),
                template: false,
                by_person,
            };
            (decide(&req), req.window_at(now))
        };
        let reply = OutboundKind::Reply;
        assert_eq!(ask(true, 23, reply), (Verdict::Allow, WindowUse::Open), "inside 24 hours nothing is tagged");
        assert_eq!(ask(false, 23, reply), (Verdict::Allow, WindowUse::Open));
        assert_eq!(ask(true, 30, reply), (Verdict::Allow, WindowUse::HumanAgent), "a person's reply goes, tagged");
        assert_eq!(ask(true, 167, reply), (Verdict::Allow, WindowUse::HumanAgent));
        let automatic = ask(false, 30, reply);
        assert_eq!(automatic.0, Verdict::Block(BlockReason::AutomaticOutsideWindow));
        assert!(BlockReason::AutomaticOutsideWindow.explain().contains("written by a person"));
        // A notification is not a person's answer, whoever pressed the button.
        assert_eq!(ask(true, 30, OutboundKind::Notification).0, Verdict::Block(BlockReason::AutomaticOutsideWindow));
        assert_eq!(ask(true, 168, reply), (Verdict::Block(BlockReason::ReplyWindowClosed), WindowUse::Closed));
        // WhatsApp has no such window: a person is refused after 24 hours like anyone.
        let whatsapp = OutboundRequest {
            kind: reply,
            consent: ConsentState::Unknown,
            now,
            timing: None,
            channel: windowed(24),
            last_inbound: Some(now - jiff::SignedDuration::from_hours(30)),
            template: false,
            by_person: true,
        };
        assert_eq!(decide(&whatsapp), Verdict::Block(BlockReason::ReplyWindowClosed));
        let r = BlockReason::AutomaticOutsideWindow;
        assert_eq!(BlockReason::parse(r.code()), Some(r));
    }

    #[test]
    fn a_message_held_for_the_morning_past_the_window_is_blocked_now() {
        let ny = TimeZone::get("America/New_York").unwrap();
        // 02:00 in New York; quiet hours hold a notification until 08:00 (13:00Z).
        let at_2am: Timestamp = "2026-01-15T07:00:00Z".parse().unwrap();
        let ask = |window_hours: i64, wrote_hours_ago: i64| {
            decide(&OutboundRequest {
                kind: OutboundKind::Notification,
                consent: ConsentState::OptedIn,
                now: at_2am,
                timing: Some(Timing { quiet: QuietHours::default(), zone: ny.clone(), live_exchange: false }),
                channel: windowed(window_hours),
                last_inbound: Some(at_2am - jiff::SignedDuration::from_hours(wrote_hours_ago)),
                template: false,
                by_person: false,
            })
        };
        let morning: Timestamp = "2026-01-15T13:00:00Z".parse().unwrap();
        assert_eq!(ask(24, 1), Verdict::Defer(morning), "the window is still open at 08:00");
        assert_eq!(ask(24, 20), Verdict::Block(BlockReason::ReplyWindowClosed), "it closes at 05:00");
    }

    #[test]
    fn opted_out_contacts_get_only_the_confirmation() {
        for kind in KINDS {
            let v = verdict(kind, ConsentState::OptedOut);
            if kind == OutboundKind::ConsentConfirmation {
                assert_eq!(v, Verdict::Allow);
            } else {
                assert_eq!(v, Verdict::Block(BlockReason::OptedOut), "{kind:?}");
            }
        }
    }

    #[test]
    fn a_code_someone_asked_for_goes_at_night_but_never_past_a_stop() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let at_2am: Timestamp = "2026-01-15T07:00:00Z".parse().unwrap();
        let ask = |consent| {
            decide(&OutboundRequest {
                kind: OutboundKind::VerificationCode,
                consent,
                now: at_2am,
                timing: Some(Timing { quiet: QuietHours::default(), zone: ny.clone(), live_exchange: false }),
                channel: SMS,
                last_inbound: None,
                template: false,
                by_person: false,
            })
        };
        assert_eq!(ask(ConsentState::Unknown), Verdict::Allow, "no opt-in needed, not held for the morning");
        assert_eq!(ask(ConsentState::OptedOut), Verdict::Block(BlockReason::OptedOut));
        let kind = OutboundKind::VerificationCode;
        assert_eq!(OutboundKind::parse(kind.as_str()), Some(kind));
    }

    #[test]
    fn the_business_needs_an_opt_in_to_start_but_not_to_answer() {
        assert_eq!(verdict(OutboundKind::Notification, ConsentState::Unknown), Verdict::Block(BlockReason::NoOptIn));
        assert_eq!(verdict(OutboundKind::Notification, ConsentState::OptedIn), Verdict::Allow);
        assert_eq!(verdict(OutboundKind::Reply, ConsentState::Unknown), Verdict::Allow);
        assert_eq!(verdict(OutboundKind::Reply, ConsentState::OptedIn), Verdict::Allow);
    }

    #[test]
    fn quiet_hours_defer_but_a_live_reply_goes_now() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let at_2am: Timestamp = "2026-01-15T07:00:00Z".parse().unwrap();
        let morning: Timestamp = "2026-01-15T13:00:00Z".parse().unwrap();
        let req = |kind, live| OutboundRequest {
            kind,
            consent: ConsentState::OptedIn,
            now: at_2am,
            timing: Some(Timing { quiet: QuietHours::default(), zone: ny.clone(), live_exchange: live }),
            channel: SMS,
            last_inbound: None,
            template: false,
            by_person: false,
        };
        assert_eq!(decide(&req(OutboundKind::Reply, false)), Verdict::Defer(morning));
        assert_eq!(decide(&req(OutboundKind::Reply, true)), Verdict::Allow);
        assert_eq!(decide(&req(OutboundKind::Notification, true)), Verdict::Defer(morning));
        assert_eq!(decide(&req(OutboundKind::ConsentConfirmation, false)), Verdict::Allow);
    }

    #[test]
    fn state_day_rules_defer_to_the_next_allowed_day() {
        let policy = crate::timing::TimingPolicy {
            quiet: QuietHours::default(),
            fallback_zone: TimeZone::get("America/New_York").unwrap(),
            live_window: jiff::SignedDuration::from_mins(30),
        };
        let ts = |s: &str| s.parse::<Timestamp>().unwrap();
        let notify = |address: &str, now: Timestamp| {
            decide(&OutboundRequest {
                kind: OutboundKind::Notification,
                consent: ConsentState::OptedIn,
                now,
                timing: Some(policy.timing(None, address, None, now)),
                channel: SMS,
                last_inbound: None,
                template: false,
                by_person: false,
            })
        };
        // A Dallas number on Sunday 2026-01-18 at 09:30 CST waits until noon.
        assert_eq!(notify("+12145550111", ts("2026-01-18T15:30:00Z")), Verdict::Defer(ts("2026-01-18T18:00:00Z")));
        // The same hour on a Monday is fine.
        assert_eq!(notify("+12145550111", ts("2026-01-19T15:30:00Z")), Verdict::Allow);
        // A Jackson, Mississippi number on Saturday 21:30 CST: no Sunday, Monday 08:00.
        assert_eq!(notify("+16015550111", ts("2026-01-18T03:30:00Z")), Verdict::Defer(ts("2026-01-19T14:00:00Z")));
        // A Baton Rouge number on Saturday before Labor Day 2026: Sunday and the holiday are banned, Tuesday 08:00.
        assert_eq!(notify("+12255550111", ts("2026-09-06T02:30:00Z")), Verdict::Defer(ts("2026-09-08T13:00:00Z")));
        // A New York number has no day rules: Sunday morning 09:30 goes.
        assert_eq!(notify("+12125550111", ts("2026-01-18T14:30:00Z")), Verdict::Allow);
    }

    #[test]
    fn every_block_explains_itself_and_round_trips() {
        for kind in KINDS {
            for consent in STATES {
                if let Verdict::Block(r) = verdict(kind, consent) {
                    assert!(!r.explain().is_empty());
                    assert_eq!(BlockReason::parse(r.code()), Some(r));
                }
            }
        }
        for s in STATES {
            assert_eq!(ConsentState::parse(s.as_str()), Some(s));
        }
    }

    use proptest::prelude::*;

    fn kind() -> impl Strategy<Value = OutboundKind> {
        proptest::sample::select(KINDS.to_vec())
    }
    fn consent_history() -> impl Strategy<Value = ConsentState> {
        // A history of changes; the gate sees its last state.
        proptest::collection::vec(proptest::sample::select(STATES.to_vec()), 0..6)
            .prop_map(|h| h.last().copied().unwrap_or(ConsentState::Unknown))
    }

    fn day_rule() -> impl Strategy<Value = DayRule> {
        let t = |h: u8| jiff::civil::Time::new(h as i8, 0, 0, 0).unwrap();
        prop_oneof![
            3 => Just(DayRule::Usual),
            1 => Just(DayRule::Closed),
            1 => (0u8..23, 1u8..24).prop_map(move |(s, len)| DayRule::Window(t(s), t((s + len).min(23).max(s + 1)))),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        #[test]
        fn the_gate_never_lets_through_what_it_must_not(
            kind in kind(),
            consent in consent_history(),
            zone in proptest::sample::select(vec!["America/New_York", "America/Chicago", "Europe/London", "Australia/Sydney", "Asia/Kolkata"]),
            secs in 1_700_000_000i64..1_900_000_000i64,
            start in 0u8..12,
            end in 13u8..24,
            live in any::<bool>(),
            days in proptest::collection::vec(day_rule(), 7),
            holidays in any::<bool>(),
        ) {
            let mut quiet = QuietHours::hours(start, end).unwrap();
            for (i, rule) in days.into_iter().enumerate() {
                // Banning every day is refused; the rules before it stand.
                quiet = quiet.with_day(jiff::civil::Weekday::Monday.wrapping_add(i as i64), rule).unwrap_or(quiet);
            }
            if holidays {
                quiet = quiet.closed_on_federal_holidays();
            }
            let timing = Timing { quiet, zone: TimeZone::get(zone).unwrap(), live_exchange: live };
            let now = Timestamp::from_second(secs).unwrap();
            let req = OutboundRequest { kind, consent, now, timing: Some(timing.clone()), channel: SMS, last_inbound: None, template: false, by_person: false };
            let v = decide(&req);
            if kind == OutboundKind::ConsentConfirmation {
                prop_assert_eq!(v, Verdict::Allow);
                return Ok(());
            }
            if consent == ConsentState::OptedOut {
                prop_assert_eq!(v, Verdict::Block(BlockReason::OptedOut));
            }
            let quiet_now = !timing.quiet.allows(now, &timing.zone);
            match v {
                Verdict::Allow => {
                    let asked_now = (live && kind == OutboundKind::Reply) || kind == OutboundKind::VerificationCode;
                    prop_assert!(!quiet_now || asked_now, "allowed in quiet hours");
                    prop_assert!(kind != OutboundKind::Notification || consent == ConsentState::OptedIn);
                }
                Verdict::Defer(until) => {
                    prop_assert!(quiet_now && !(live && kind == OutboundKind::Reply));
                    prop_assert!(until > now);
                    prop_assert_eq!(until, timing.quiet.next_allowed(now, &timing.zone), "deferred to the earliest allowed moment");
                    prop_assert!(timing.quiet.allows(until, &timing.zone), "deferred to a moment that is not allowed");
                }
                Verdict::Block(_) => prop_assert!(consent != ConsentState::OptedIn, "an opted-in contact is never blocked"),
            }
        }
    }
}
