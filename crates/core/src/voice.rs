//! Phone calls for a conversation: a call's status as providers report it
//! (forward only), and call backs: the times offered to a customer in their
//! zone, and reading their choice ("2" or "10:30am").

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use crate::hours::{BusinessHours, describe_opening};
use crate::{Invalid, QuietHours};

/// Where a call is, as Twilio's `CallStatus` names it (the simulator uses the same words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallStatus {
    /// Asked of the provider; not yet accepted.
    Queued,
    Initiated,
    Ringing,
    /// Answered: the agent's phone picked up (then the customer is dialled).
    InProgress,
    Completed,
    Busy,
    NoAnswer,
    Failed,
    Canceled,
}

impl CallStatus {
    pub const ALL: [CallStatus; 9] = [
        Self::Queued,
        Self::Initiated,
        Self::Ringing,
        Self::InProgress,
        Self::Completed,
        Self::Busy,
        Self::NoAnswer,
        Self::Failed,
        Self::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Initiated => "initiated",
            Self::Ringing => "ringing",
            Self::InProgress => "in-progress",
            Self::Completed => "completed",
            Self::Busy => "busy",
            Self::NoAnswer => "no-answer",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| Invalid::new(format!("{s:?} is not a call status")))
    }

    /// The call is over.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Busy | Self::NoAnswer | Self::Failed | Self::Canceled)
    }

    fn rank(self) -> u8 {
        match self {
            Self::Queued => 0,
            Self::Initiated => 1,
            Self::Ringing => 2,
            Self::InProgress => 3,
            _ => 4,
        }
    }

    /// Whether a report of `next` moves a call that is `self`: callbacks may
    /// arrive late or twice, and a finished call stays finished.
    pub fn may_become(self, next: CallStatus) -> bool {
        !self.is_final() && next.rank() > self.rank()
    }

    /// How the thread says it.
    pub fn words(self, duration_secs: Option<u32>) -> String {
        match self {
            Self::Queued => "The call is being placed".into(),
            Self::Initiated => "Calling the agent's phone".into(),
            Self::Ringing => "The phone is ringing".into(),
            Self::InProgress => "The call was answered".into(),
            Self::Completed => match duration_secs {
                Some(d) => format!("The call ended after {}", describe_duration(d)),
                None => "The call ended".into(),
            },
            Self::Busy => "The line was busy: nobody was called".into(),
            Self::NoAnswer => "Nobody answered the call".into(),
            Self::Failed => "The call could not be connected".into(),
            Self::Canceled => "The call was cancelled before it was answered".into(),
        }
    }
}

/// Why a call placed a moment ago may no longer reach the customer when the
/// agent answers: the gate, asked again as the bridge is fetched, said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStopped {
    /// Consent (an opt-out since the click) or the channel's rules.
    Blocked(crate::BlockReason),
    /// The customer's quiet hours began since the click.
    QuietHours,
}

impl CallStopped {
    /// What the thread says.
    pub fn thread_words(self) -> String {
        match self {
            Self::Blocked(crate::BlockReason::OptedOut) => {
                "The customer was not dialled: they opted out after the call was placed".into()
            }
            Self::Blocked(r) => format!("The customer was not dialled: {}", r.explain()),
            Self::QuietHours => {
                "The customer was not dialled: their quiet hours began after the call was placed; schedule a call back"
                    .into()
            }
        }
    }

    /// What the agent hears on their phone before it hangs up.
    pub fn spoken(self) -> &'static str {
        match self {
            Self::Blocked(crate::BlockReason::OptedOut) => {
                "The customer has just opted out, so they will not be called. Goodbye."
            }
            Self::Blocked(_) => "The customer can no longer be called. Goodbye.",
            Self::QuietHours => {
                "It is now the customer's quiet hours, so they will not be called. Schedule a call back instead. Goodbye."
            }
        }
    }
}

/// "4 min 05 s", "45 s".
pub fn describe_duration(secs: u32) -> String {
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s} s"),
        (m, s) => format!("{m} min {s:02} s"),
    }
}

/// How many times a customer is offered for a call back.
pub const CALLBACK_SLOTS: usize = 3;

/// The next `n` whole hours, at least 30 minutes from `now`, when the business
/// is open and the customer's quiet hours allow a call in their `zone`.
pub fn callback_slots(
    hours: &BusinessHours,
    quiet: &QuietHours,
    zone: &TimeZone,
    now: Timestamp,
    n: usize,
) -> Vec<Timestamp> {
    let mut out = Vec::new();
    let mut at = next_whole_hour(now + SignedDuration::from_mins(30));
    // Two weeks of hours is enough for any schedule that opens at all.
    for _ in 0..(14 * 24) {
        if out.len() == n {
            break;
        }
        if hours.is_open(at) && quiet.allows(at, zone) {
            out.push(at);
            at += SignedDuration::from_hours(1);
            continue;
        }
        at = match hours.next_opening(at) {
            Some(open) if open > at => next_whole_hour(open),
            _ => at + SignedDuration::from_hours(1),
        };
    }
    out
}

fn next_whole_hour(t: Timestamp) -> Timestamp {
    let secs = t.as_second();
    let rounded = secs.div_euclid(3600) * 3600;
    let up = if rounded == secs && t.subsec_nanosecond() == 0 { rounded } else { rounded + 3600 };
    Timestamp::from_second(up).unwrap_or(t)
}

/// The offer texted to a customer: "1: 10:00 AM EST today …".
pub fn offer_text(slots: &[Timestamp], zone: &TimeZone, now: Timestamp) -> String {
    if slots.is_empty() {
        return "We cannot offer a call back time just now; a person will text you to arrange one.".into();
    }
    let mut text = String::from("When should we call you? Reply with a number:");
    for (i, at) in slots.iter().enumerate() {
        text.push_str(&format!("\n{}: {}", i + 1, describe_opening(*at, zone, now)));
    }
    text.push_str("\nor reply with another time, e.g. 3pm.");
    text
}

/// A customer's answer to the offer: the number of an offered slot, or a time
/// of day ("3pm", "15:30", "10:30 am"), the next such moment in their zone.
pub fn read_choice(text: &str, slots: &[Timestamp], zone: &TimeZone, now: Timestamp) -> Option<Timestamp> {
    let t = text.trim().trim_end_matches(['.', '!']).trim().to_ascii_lowercase();
    if let Ok(n) = t.parse::<usize>()
        && (1..=slots.len()).contains(&n)
    {
        return Some(slots[n - 1]);
    }
    let (clock, pm) = if let Some(c) = t.strip_suffix("pm") {
        (c.trim(), Some(true))
    } else if let Some(c) = t.strip_suffix("am") {
        (c.trim(), Some(false))
    } else {
        (t.as_str(), None)
    };
    let (h, m) = match clock.split_once(':') {
        Some((h, m)) if m.len() == 2 => (h.parse::<i8>().ok()?, m.parse::<i8>().ok()?),
        None if pm.is_some() && !clock.is_empty() && clock.len() <= 2 => (clock.parse::<i8>().ok()?, 0),
        _ => return None,
    };
    let hour = match pm {
        Some(_) if !(1..=12).contains(&h) => return None,
        Some(true) => h % 12 + 12,
        Some(false) => h % 12,
        None => h,
    };
    if !(0..24).contains(&hour) || !(0..60).contains(&m) {
        return None;
    }
    let today = zone.to_datetime(now).date();
    for day in 0..2 {
        let date = today.checked_add(day.days()).ok()?;
        let at = date.at(hour, m, 0, 0).to_zoned(zone.clone()).ok()?.timestamp();
        if at > now {
            return Some(at);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hours::HoursSettings;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn statuses_only_move_forward_and_finish_once() {
        use CallStatus::*;
        assert!(Queued.may_become(Ringing) && Ringing.may_become(InProgress) && InProgress.may_become(Completed));
        assert!(!InProgress.may_become(Ringing), "a late ringing does not undo an answer");
        assert!(!Completed.may_become(Failed) && !Ringing.may_become(Ringing));
        assert!(Ringing.may_become(NoAnswer) && Initiated.may_become(Busy));
        for s in CallStatus::ALL {
            assert_eq!(CallStatus::parse(s.as_str()), Ok(s));
        }
        assert!(CallStatus::parse("answered").is_err());
        assert_eq!(Completed.words(Some(245)), "The call ended after 4 min 05 s");
        assert_eq!(describe_duration(45), "45 s");
    }

    fn nine_to_five() -> BusinessHours {
        let s: HoursSettings = serde_json::from_value(serde_json::json!({
            "zone": "America/New_York",
            "weekly": { "mon": ["09:00-17:00"], "tue": ["09:00-17:00"], "wed": ["09:00-17:00"],
                        "thu": ["09:00-17:00"], "fri": ["09:00-17:00"] }
        }))
        .unwrap();
        s.resolve(&TimeZone::UTC).unwrap()
    }

    #[test]
    fn slots_are_open_hours_the_customer_may_be_called_at() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let quiet = QuietHours::parse("08:00-21:00").unwrap();
        // Friday 16:10 in New York: 17:00 is closed; next is Monday 9:00.
        let now = ts("2026-12-04T21:10:00Z");
        let slots = callback_slots(&nine_to_five(), &quiet, &ny, now, 3);
        let local: Vec<String> =
            slots.iter().map(|t| t.to_zoned(ny.clone()).strftime("%a %H:%M").to_string()).collect();
        assert_eq!(local, ["Mon 09:00", "Mon 10:00", "Mon 11:00"]);
        // A customer in Los Angeles is not called at 6 a.m. their time.
        let la = TimeZone::get("America/Los_Angeles").unwrap();
        let slots = callback_slots(&nine_to_five(), &quiet, &la, now, 1);
        assert_eq!(slots[0].to_zoned(ny.clone()).strftime("%a %H:%M").to_string(), "Mon 11:00");
        let text = offer_text(&slots, &la, now);
        assert!(text.contains("1: 8:00 AM PST Monday"), "{text}");
    }

    #[test]
    fn a_choice_is_a_number_offered_or_a_time_in_their_zone() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let now = ts("2026-12-04T15:00:00Z"); // 10:00 in New York
        let slots = [ts("2026-12-04T16:00:00Z"), ts("2026-12-04T17:00:00Z")];
        assert_eq!(read_choice("2", &slots, &ny, now), Some(slots[1]));
        assert_eq!(read_choice(" 1. ", &slots, &ny, now), Some(slots[0]));
        assert_eq!(read_choice("3", &slots, &ny, now), None);
        assert_eq!(read_choice("3pm", &slots, &ny, now), Some(ts("2026-12-04T20:00:00Z")));
        assert_eq!(read_choice("10:30 AM", &slots, &ny, now), Some(ts("2026-12-04T15:30:00Z")));
        assert_eq!(read_choice("9:00", &slots, &ny, now), Some(ts("2026-12-05T14:00:00Z")), "tomorrow");
        assert_eq!(read_choice("12am", &slots, &ny, now), Some(ts("2026-12-05T05:00:00Z")));
        for nonsense in ["", "call me", "25:00", "13pm", "9:5", "0", "-1"] {
            assert_eq!(read_choice(nonsense, &slots, &ny, now), None, "{nonsense:?}");
        }
    }
}
