//! When a snoozed conversation comes back: the presets an agent picks from,
//! computed on the wall clock of a zone (the agent's own, else the business's),
//! so "tomorrow 9:00" is nine in the morning there even across a DST change.

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};

use crate::Invalid;

/// The hour "tomorrow" and "next week" come back at.
const MORNING: Time = Time::constant(9, 0, 0, 0);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnoozePreset {
    /// One hour of real time from now.
    InAnHour,
    /// 9:00 on the next calendar day.
    Tomorrow,
    /// 9:00 on the next Monday (a week from today when today is Monday).
    NextWeek,
}

impl SnoozePreset {
    pub const ALL: [SnoozePreset; 3] = [Self::InAnHour, Self::Tomorrow, Self::NextWeek];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InAnHour => "1h",
            Self::Tomorrow => "tomorrow",
            Self::NextWeek => "next_week",
        }
    }

    /// `1h`, `tomorrow` or `next_week` (`week`, what older forms sent, reads as `next_week`).
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s.trim() {
            "week" => Ok(Self::NextWeek),
            s => Self::ALL
                .into_iter()
                .find(|p| p.as_str() == s)
                .ok_or_else(|| Invalid::new(format!("snooze must be one of 1h, tomorrow, next_week (got {s:?})"))),
        }
    }

    /// The moment the conversation comes back, on `zone`'s clock.
    pub fn until(self, now: Timestamp, zone: &TimeZone) -> Timestamp {
        let here = now.to_zoned(zone.clone());
        let days = match self {
            Self::InAnHour => return now + SignedDuration::from_hours(1),
            Self::Tomorrow => 1,
            // Monday is 1 … Sunday 7: days until the next Monday, 7 from a Monday.
            Self::NextWeek => 8 - i64::from(here.weekday().to_monday_one_offset()),
        };
        morning_after(&here, days).unwrap_or(now + SignedDuration::from_hours(24 * days))
    }
}

/// 9:00 `days` calendar days after `here`'s date, in its zone. A 9:00 the clocks
/// skip reads as the moment after the gap, one they repeat as its first occurrence.
fn morning_after(here: &Zoned, days: i64) -> Option<Timestamp> {
    let date = here.date().checked_add(jiff::Span::new().days(days)).ok()?;
    let zoned = date.to_datetime(MORNING).to_zoned(here.time_zone().clone()).ok()?;
    Some(zoned.timestamp())
}

/// "Tue 9:00 AM" within the coming week, "Tue, Dec 15, 9:00 AM" further away:
/// when a snoozed conversation comes back, on `zone`'s clock.
pub fn describe_until(until: Timestamp, now: Timestamp, zone: &TimeZone) -> String {
    let z = until.to_zoned(zone.clone());
    if until.duration_since(now) < SignedDuration::from_hours(24 * 6) {
        z.strftime("%a %-I:%M %p").to_string()
    } else {
        z.strftime("%a, %b %-d, %-I:%M %p").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, zone: &str) -> (Timestamp, TimeZone) {
        let tz = TimeZone::get(zone).unwrap();
        let civil: jiff::civil::DateTime = text.parse().unwrap();
        (civil.to_zoned(tz.clone()).unwrap().timestamp(), tz)
    }

    fn local(t: Timestamp, tz: &TimeZone) -> String {
        t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M %a").to_string()
    }

    #[test]
    fn parses_presets_and_the_old_form_value() {
        assert_eq!(SnoozePreset::parse("1h"), Ok(SnoozePreset::InAnHour));
        assert_eq!(SnoozePreset::parse("tomorrow"), Ok(SnoozePreset::Tomorrow));
        assert_eq!(SnoozePreset::parse("next_week"), Ok(SnoozePreset::NextWeek));
        assert_eq!(SnoozePreset::parse("week"), Ok(SnoozePreset::NextWeek));
        assert!(SnoozePreset::parse("forever").unwrap_err().0.contains("1h, tomorrow, next_week"));
    }

    #[test]
    fn tomorrow_is_nine_on_the_next_calendar_day_even_late_at_night() {
        let (now, tz) = at("2026-12-01T23:30", "America/New_York");
        assert_eq!(local(SnoozePreset::Tomorrow.until(now, &tz), &tz), "2026-12-02 09:00 Wed");
        let (now, tz) = at("2026-12-01T00:10", "Europe/Berlin");
        assert_eq!(local(SnoozePreset::Tomorrow.until(now, &tz), &tz), "2026-12-02 09:00 Wed");
    }

    #[test]
    fn tomorrow_across_spring_forward_is_nine_on_the_new_clock() {
        // Clocks in New York go from 2:00 EST to 3:00 EDT on 2026-03-08.
        let (now, tz) = at("2026-03-07T10:00", "America/New_York");
        let until = SnoozePreset::Tomorrow.until(now, &tz);
        assert_eq!(local(until, &tz), "2026-03-08 09:00 Sun");
        assert_eq!(until.to_string(), "2026-03-08T13:00:00Z");
        assert_eq!(until.duration_since(now), SignedDuration::from_hours(22));
    }

    #[test]
    fn tomorrow_across_fall_back_is_nine_on_the_new_clock() {
        // Europe/London goes from 2:00 BST back to 1:00 GMT on 2026-10-25.
        let (now, tz) = at("2026-10-24T09:00", "Europe/London");
        let until = SnoozePreset::Tomorrow.until(now, &tz);
        assert_eq!(until.to_string(), "2026-10-25T09:00:00Z");
        assert_eq!(until.duration_since(now), SignedDuration::from_hours(25));
    }

    #[test]
    fn an_hour_is_real_time_even_through_the_gap() {
        let (now, tz) = at("2026-03-08T01:30", "America/New_York");
        let until = SnoozePreset::InAnHour.until(now, &tz);
        assert_eq!(local(until, &tz), "2026-03-08 03:30 Sun");
    }

    #[test]
    fn next_week_is_the_coming_monday_morning() {
        let (now, tz) = at("2026-12-06T20:00", "America/Chicago"); // a Sunday
        assert_eq!(local(SnoozePreset::NextWeek.until(now, &tz), &tz), "2026-12-07 09:00 Mon");
        let (now, tz) = at("2026-12-07T08:00", "America/Chicago"); // a Monday, before nine
        assert_eq!(local(SnoozePreset::NextWeek.until(now, &tz), &tz), "2026-12-14 09:00 Mon");
        let (now, tz) = at("2026-12-02T12:00", "America/Chicago"); // a Wednesday
        assert_eq!(local(SnoozePreset::NextWeek.until(now, &tz), &tz), "2026-12-07 09:00 Mon");
    }

    #[test]
    fn the_zone_decides_which_day_it_is() {
        // 2026-12-06T23:30Z is Sunday night in London but Monday morning in Tokyo.
        let now: Timestamp = "2026-12-06T23:30:00Z".parse().unwrap();
        let london = TimeZone::get("Europe/London").unwrap();
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        assert_eq!(local(SnoozePreset::NextWeek.until(now, &london), &london), "2026-12-07 09:00 Mon");
        assert_eq!(local(SnoozePreset::NextWeek.until(now, &tokyo), &tokyo), "2026-12-14 09:00 Mon");
    }

    #[test]
    fn describes_the_time_shortly_or_with_its_date() {
        let (now, tz) = at("2026-12-01T10:00", "America/New_York");
        let soon = SnoozePreset::Tomorrow.until(now, &tz);
        assert_eq!(describe_until(soon, now, &tz), "Wed 9:00 AM");
        let later = now + SignedDuration::from_hours(24 * 10);
        assert_eq!(describe_until(later, now, &tz), "Fri, Dec 11, 10:00 AM");
    }
}
