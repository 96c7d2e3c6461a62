//! Business hours of an inbox: when someone is there to answer. The schedule is
//! wall-clock time in the business's zone, but every question about it is
//! answered on instants, so "open", "next opening" and "open time between" agree
//! with each other across daylight-saving changes.
//!
//! Each range of a civil day becomes the instants from the first moment the
//! wall clock reads its start to the first moment it reads its end. That one
//! rule settles the odd cases: a start skipped by a spring-forward gap opens at
//! the jump, a time repeated by a fall-back counts at its first reading, and
//! 00:00-24:00 covers the whole civil day whether it lasts 23 or 25 hours.
//! Ranges of consecutive days that touch at midnight meet at the same instant,
//! so they form one open period.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Span, Timestamp};

use crate::Invalid;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const MINUTES_PER_DAY: u16 = 24 * 60;
/// How many closed days in a row mean "it never opens": a year, plus a day so
/// that a yearly holiday on the only open weekday cannot end the search early.
const CLOSED_DAYS_HORIZON: i64 = 367;
/// How far `after_open_time` walks at most, so an absurd duration cannot keep it
/// busy for millions of days.
const WALK_YEARS: i16 = 100;

/// `settings.hours` of an inbox as JSON, e.g.
/// {"always_open": false, "zone": "America/Los_Angeles",
///  "weekly": {"mon": ["08:00-12:00", "13:00-17:00"], "tue": ["08:00-17:00"], "sat": []},
///  "holidays": ["2026-12-25", "2027-01-01"]}
///
/// Once any day is listed in `weekly`, days not listed are closed. An inbox that
/// lists no day at all is open around the clock (except on its holidays): one
/// that set nothing is never "closed". `always_open` ignores days and holidays.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HoursSettings {
    pub always_open: bool,
    /// IANA name; None means the business's zone.
    pub zone: Option<String>,
    /// Keys mon..sun; values "HH:MM-HH:MM", the end may be "24:00".
    pub weekly: BTreeMap<String, Vec<String>>,
    /// "YYYY-MM-DD", closed all day in the business's zone.
    pub holidays: Vec<String>,
}

impl HoursSettings {
    /// Checks every entry, naming the bad one in the message.
    pub fn resolve(&self, business_zone: &TimeZone) -> Result<BusinessHours, Invalid> {
        let zone = match &self.zone {
            Some(name) => TimeZone::get(name.trim()).map_err(|_| {
                Invalid::new(format!("zone: {name:?} is not a known time zone; use a name like America/New_York"))
            })?,
            None => business_zone.clone(),
        };
        let mut weekly: [Vec<(u16, u16)>; 7] = Default::default();
        for (day, ranges) in &self.weekly {
            let Some(index) = DAYS.iter().position(|d| d == day) else {
                return Err(Invalid::new(format!(
                    "weekly: {day:?} is not a day; use mon, tue, wed, thu, fri, sat or sun"
                )));
            };
            weekly[index] = day_ranges(day, ranges)?;
        }
        let mut holidays = BTreeSet::new();
        for h in &self.holidays {
            let date: Date =
                h.trim().parse().map_err(|_| Invalid::new(format!("holidays: {h:?} is not a date like 2026-12-25")))?;
            holidays.insert(date);
        }
        if self.always_open || (self.weekly.is_empty() && holidays.is_empty()) {
            return Ok(BusinessHours::always_open(zone));
        }
        if self.weekly.is_empty() {
            weekly = std::array::from_fn(|_| vec![(0, MINUTES_PER_DAY)]);
        }
        Ok(BusinessHours { zone, always_open: false, weekly, holidays })
    }
}

/// One day's ranges as minutes of the day, sorted, checked not to overlap.
fn day_ranges(day: &str, ranges: &[String]) -> Result<Vec<(u16, u16)>, Invalid> {
    let mut parsed = Vec::with_capacity(ranges.len());
    for text in ranges {
        let bad = || Invalid::new(format!("weekly.{day}: {text:?} is not a range like 09:00-17:00"));
        let (a, b) = text.split_once('-').ok_or_else(bad)?;
        let (start, end) = (clock(a).ok_or_else(bad)?, clock(b).ok_or_else(bad)?);
        if start >= end {
            return Err(Invalid::new(format!(
                "weekly.{day}: {text:?} ends before it starts; a range cannot cross midnight, so write \
                 22:00-24:00 on one day and 00:00-02:00 on the next"
            )));
        }
        parsed.push((start, end, text));
    }
    parsed.sort();
    for w in parsed.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(Invalid::new(format!("weekly.{day}: {:?} and {:?} overlap", w[0].2, w[1].2)));
        }
    }
    Ok(parsed.into_iter().map(|(s, e, _)| (s, e)).collect())
}

/// "8:00" or "08:00" as minutes since midnight; "24:00" is the end of the day.
fn clock(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    let digits = |x: &str, len: std::ops::RangeInclusive<usize>| {
        (len.contains(&x.len()) && x.bytes().all(|b| b.is_ascii_digit())).then(|| x.parse::<u16>().ok()).flatten()
    };
    let (h, m) = (digits(h, 1..=2)?, digits(m, 2..=2)?);
    match (h, m) {
        (24, 0) => Some(MINUTES_PER_DAY),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

/// Resolved, validated business hours.
#[derive(Debug, Clone)]
pub struct BusinessHours {
    zone: TimeZone,
    always_open: bool,
    /// Monday first; `[start, end)` minutes of the day, sorted, not overlapping.
    weekly: [Vec<(u16, u16)>; 7],
    holidays: BTreeSet<Date>,
}

impl BusinessHours {
    pub fn always_open(zone: TimeZone) -> Self {
        BusinessHours { zone, always_open: true, weekly: Default::default(), holidays: BTreeSet::new() }
    }

    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    pub fn is_always_open(&self) -> bool {
        self.always_open
    }

    pub fn is_open(&self, at: Timestamp) -> bool {
        if self.always_open {
            return true;
        }
        // An instant belongs to its local date's span, or a neighbour's when a
        // transition moves the wall clock across midnight.
        let date = self.zone.to_datetime(at).date();
        [date.yesterday().ok(), Some(date), date.tomorrow().ok()]
            .into_iter()
            .flatten()
            .any(|d| self.open_periods_of(d).any(|(s, e)| s <= at && at < e))
    }

    /// The earliest instant >= at when the business is open (at itself when open now).
    /// None when it does not open within about a year.
    pub fn next_opening(&self, at: Timestamp) -> Option<Timestamp> {
        if self.always_open {
            return Some(at);
        }
        self.walk(at, |start, _| ControlFlow::Break(start))
    }

    /// How much open time lies in [from, to). Zero if to <= from.
    pub fn open_time_between(&self, from: Timestamp, to: Timestamp) -> SignedDuration {
        if to <= from {
            return SignedDuration::ZERO;
        }
        if self.always_open {
            return to.duration_since(from);
        }
        let mut total = SignedDuration::ZERO;
        let mut date = self.first_date(from);
        // Walks every civil day up to `to`, however long a closed stretch lasts,
        // so that sums over adjacent spans always add up.
        while let Some(d) = date {
            let Some(day_start) = self.instant(d, 0) else { break };
            if day_start >= to {
                break;
            }
            for (s, e) in self.open_periods_of(d) {
                let (s, e) = (s.max(from), e.min(to));
                if s < e {
                    total += e.duration_since(s);
                }
            }
            date = d.tomorrow().ok();
        }
        total
    }

    /// The instant when open time since `from` first reaches `d` (`from` itself
    /// for zero), None if that is not within reach. Consistent with `open_time_between`.
    pub fn after_open_time(&self, from: Timestamp, d: SignedDuration) -> Option<Timestamp> {
        if d <= SignedDuration::ZERO {
            return Some(from);
        }
        if self.always_open {
            return from.checked_add(d).ok();
        }
        let mut left = d;
        self.walk(from, |start, end| {
            let here = end.duration_since(start);
            if left <= here {
                ControlFlow::Break(start + left)
            } else {
                left -= here;
                ControlFlow::Continue(())
            }
        })
    }

    /// Calls `visit` with each open period from `from` on, clipped to start no
    /// earlier than `from`, until it breaks. Gives up after a year of closed
    /// days in a row, or after a century.
    fn walk<T>(&self, from: Timestamp, mut visit: impl FnMut(Timestamp, Timestamp) -> ControlFlow<T>) -> Option<T> {
        let first = self.first_date(from)?;
        let last = first.checked_add(Span::new().years(WALK_YEARS)).unwrap_or(Date::MAX);
        let mut closed_days = 0;
        for d in first.series(Span::new().days(1)).take_while(|d| *d <= last) {
            let mut opened = false;
            for (s, e) in self.open_periods_of(d) {
                if e <= from {
                    continue;
                }
                opened = true;
                if let ControlFlow::Break(t) = visit(s.max(from), e) {
                    return Some(t);
                }
            }
            closed_days = if opened { 0 } else { closed_days + 1 };
            if closed_days > CLOSED_DAYS_HORIZON {
                return None;
            }
        }
        None
    }

    /// The first civil date whose open periods may reach `at`.
    fn first_date(&self, at: Timestamp) -> Option<Date> {
        let date = self.zone.to_datetime(at).date();
        date.yesterday().ok().or(Some(date))
    }

    /// The open periods of one civil date as instants, in order, none empty.
    fn open_periods_of(&self, date: Date) -> impl Iterator<Item = (Timestamp, Timestamp)> + '_ {
        let ranges: &[(u16, u16)] =
            if self.holidays.contains(&date) { &[] } else { &self.weekly[weekday_index(date.weekday())] };
        ranges.iter().filter_map(move |&(s, e)| {
            let (s, e) = (self.instant(date, s)?, self.instant(date, e)?);
            (s < e).then_some((s, e))
        })
    }

    /// The first instant the wall clock reads `minute` of `date` or later.
    fn instant(&self, date: Date, minute: u16) -> Option<Timestamp> {
        let (date, minute) = if minute >= MINUTES_PER_DAY { (date.tomorrow().ok()?, 0) } else { (date, minute) };
        let dt = date.at((minute / 60) as i8, (minute % 60) as i8, 0, 0);
        first_reading(&self.zone, dt)
    }
}

fn weekday_index(w: Weekday) -> usize {
    w.to_monday_zero_offset() as usize
}

/// The first instant whose wall clock reads `dt` or later: the first of two
/// readings in a fall-back, the jump itself when `dt` is skipped.
fn first_reading(zone: &TimeZone, dt: DateTime) -> Option<Timestamp> {
    match zone.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(dt).ok(),
        AmbiguousOffset::Fold { before, after } => {
            let (a, b) = (before.to_timestamp(dt).ok()?, after.to_timestamp(dt).ok()?);
            Some(a.min(b))
        }
        AmbiguousOffset::Gap { before, after } => {
            // Read with the later offset, `dt` names an instant just before the jump.
            let (a, b) = (before.to_timestamp(dt).ok()?, after.to_timestamp(dt).ok()?);
            zone.following(a.min(b)).next().map(|t| t.timestamp())
        }
    }
}

/// How the next opening reads to the customer, in their zone: "8:00 AM EST today",
/// "8:00 AM EST tomorrow", "9:00 AM CET Monday" (within the coming 6 days), else
/// "9:00 AM EST on Dec 28". "today" and "tomorrow" are judged in the customer's zone.
pub fn describe_opening(opening: Timestamp, customer_zone: &TimeZone, now: Timestamp) -> String {
    let local = opening.to_zoned(customer_zone.clone());
    let today = customer_zone.to_datetime(now).date();
    let days = today.until(local.date()).map(|s| s.get_days()).unwrap_or(i32::MAX);
    let clock = local.strftime("%-I:%M %p").to_string();
    let zone = zone_label(customer_zone, opening);
    let day = match days {
        0 => "today".to_owned(),
        1 => "tomorrow".to_owned(),
        2..=6 => local.strftime("%A").to_string(),
        _ => local.strftime("on %b %-d").to_string(),
    };
    format!("{clock} {zone} {day}")
}

/// The zone's abbreviation at that instant, or "UTC+3" where the zone has only a
/// numeric one ("+03"), which reads as a typo to most people.
fn zone_label(zone: &TimeZone, at: Timestamp) -> String {
    let info = zone.to_offset_info(at);
    let abbr = info.abbreviation();
    if !abbr.is_empty() && !abbr.starts_with(['+', '-']) {
        return abbr.to_owned();
    }
    let secs = info.offset().seconds();
    if secs == 0 {
        return "UTC".to_owned();
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let (h, m) = (secs.unsigned_abs() / 3600, secs.unsigned_abs() % 3600 / 60);
    if m == 0 { format!("UTC{sign}{h}") } else { format!("UTC{sign}{h}:{m:02}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }
    fn tz(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap()
    }
    fn week(days: &[(&str, &[&str])]) -> HoursSettings {
        HoursSettings {
            weekly: days.iter().map(|(d, r)| (d.to_string(), r.iter().map(|s| s.to_string()).collect())).collect(),
            ..HoursSettings::default()
        }
    }
    const WEEKDAYS_9_TO_5: &[(&str, &[&str])] = &[
        ("mon", &["09:00-17:00"]),
        ("tue", &["09:00-17:00"]),
        ("wed", &["09:00-17:00"]),
        ("thu", &["09:00-17:00"]),
        ("fri", &["09:00-17:00"]),
    ];
    fn hours(days: &[(&str, &[&str])], zone: &str) -> BusinessHours {
        week(days).resolve(&tz(zone)).unwrap()
    }
    fn err(s: HoursSettings) -> String {
        s.resolve(&tz("UTC")).unwrap_err().0
    }

    #[test]
    fn settings_are_validated_with_messages_naming_the_entry() {
        assert_eq!(err(week(&[("mon", &["9-5"])])), "weekly.mon: \"9-5\" is not a range like 09:00-17:00");
        assert!(err(week(&[("monday", &["09:00-17:00"])])).starts_with("weekly: \"monday\" is not a day"));
        assert!(err(week(&[("tue", &["08:00-12:00", "11:00-13:00"])])).contains("overlap"));
        assert!(err(week(&[("wed", &["22:00-02:00"])])).contains("cannot cross midnight"));
        for bad in ["24:00-24:00", "08:60-09:00", "8:0-9:00", "08:00-24:30", "-", "08:00", "a:bc-09:00"] {
            assert!(err(week(&[("thu", &[bad])])).starts_with("weekly.thu: "), "{bad}");
        }
        let zone = HoursSettings { zone: Some("Mars/Olympus".into()), ..HoursSettings::default() };
        assert!(err(zone).starts_with("zone: \"Mars/Olympus\""));
        let date = HoursSettings { holidays: vec!["2026-13-01".into()], ..HoursSettings::default() };
        assert_eq!(err(date), "holidays: \"2026-13-01\" is not a date like 2026-12-25");
        // Touching ranges, a single-digit hour and 24:00 are fine.
        assert!(week(&[("fri", &["13:00-24:00", "8:00-13:00"])]).resolve(&tz("UTC")).is_ok());
    }

    #[test]
    fn an_inbox_that_set_nothing_is_always_open() {
        let ny = tz("America/New_York");
        assert!(HoursSettings::default().resolve(&ny).unwrap().is_always_open());
        let explicit = HoursSettings { always_open: true, ..week(WEEKDAYS_9_TO_5) };
        assert!(explicit.resolve(&ny).unwrap().is_always_open());
        // Holidays alone: open around the clock except on them.
        let h = HoursSettings { holidays: vec!["2026-12-25".into()], ..HoursSettings::default() }.resolve(&ny).unwrap();
        assert!(!h.is_always_open());
        assert!(h.is_open(ts("2026-12-24T23:00:00Z")));
        assert!(!h.is_open(ts("2026-12-25T12:00:00Z")));
        assert_eq!(h.next_opening(ts("2026-12-25T12:00:00Z")), Some(ts("2026-12-26T05:00:00Z")));
        // Days listed but no hours: never open.
        let never = hours(&[("mon", &[])], "UTC");
        assert_eq!(never.next_opening(ts("2026-01-01T00:00:00Z")), None);
        assert_eq!(never.after_open_time(ts("2026-01-01T00:00:00Z"), SignedDuration::from_mins(1)), None);
        assert_eq!(
            never.open_time_between(ts("2026-01-01T00:00:00Z"), ts("2027-01-01T00:00:00Z")),
            SignedDuration::ZERO
        );
        // The business's zone unless the settings name one.
        let la = HoursSettings { zone: Some("America/Los_Angeles".into()), ..week(WEEKDAYS_9_TO_5) };
        assert_eq!(la.resolve(&ny).unwrap().zone().iana_name(), Some("America/Los_Angeles"));
    }

    #[test]
    fn evenings_weekends_and_holidays_wait_for_the_next_opening() {
        let ny = hours(WEEKDAYS_9_TO_5, "America/New_York");
        // Wednesday 2026-01-14 18:00 EST → Thursday 09:00 EST.
        assert!(!ny.is_open(ts("2026-01-14T23:00:00Z")));
        assert_eq!(ny.next_opening(ts("2026-01-14T23:00:00Z")), Some(ts("2026-01-15T14:00:00Z")));
        // Open now: now.
        assert!(ny.is_open(ts("2026-01-15T15:00:00Z")));
        assert_eq!(ny.next_opening(ts("2026-01-15T15:00:00Z")), Some(ts("2026-01-15T15:00:00Z")));
        // 17:00 itself is closed; 09:00 itself is open.
        assert!(!ny.is_open(ts("2026-01-15T22:00:00Z")));
        assert!(ny.is_open(ts("2026-01-15T14:00:00Z")));
        // Friday 2026-01-16 19:00 EST → Monday 2026-01-19 09:00 EST.
        assert_eq!(ny.next_opening(ts("2026-01-17T00:00:00Z")), Some(ts("2026-01-19T14:00:00Z")));
        // With Monday a holiday → Tuesday.
        let mut s = week(WEEKDAYS_9_TO_5);
        s.holidays = vec!["2026-01-19".into()];
        let h = s.resolve(&tz("America/New_York")).unwrap();
        assert!(!h.is_open(ts("2026-01-19T15:00:00Z")));
        assert_eq!(h.next_opening(ts("2026-01-17T00:00:00Z")), Some(ts("2026-01-20T14:00:00Z")));
        // A lunch break.
        let lunch = hours(&[("mon", &["08:00-12:00", "13:00-17:00"])], "UTC");
        assert_eq!(lunch.next_opening(ts("2026-01-19T12:30:00Z")), Some(ts("2026-01-19T13:00:00Z")));
        assert_eq!(lunch.open_time_between(ts("2026-01-19T00:00:00Z"), ts("2026-01-20T00:00:00Z")), hrs(8));
    }

    fn hrs(h: i64) -> SignedDuration {
        SignedDuration::from_hours(h)
    }

    #[test]
    fn ranges_touching_midnight_form_one_open_period() {
        let h = hours(&[("fri", &["22:00-24:00"]), ("sat", &["00:00-02:00"])], "UTC");
        assert!(h.is_open(ts("2026-01-17T00:00:00Z")));
        assert_eq!(h.open_time_between(ts("2026-01-16T23:00:00Z"), ts("2026-01-17T01:00:00Z")), hrs(2));
        assert_eq!(h.after_open_time(ts("2026-01-16T22:30:00Z"), hrs(3)), Some(ts("2026-01-17T01:30:00Z")));
        assert_eq!(h.next_opening(ts("2026-01-17T02:00:00Z")), Some(ts("2026-01-23T22:00:00Z")));
    }

    #[test]
    fn business_time_is_counted_and_added() {
        let ny = hours(WEEKDAYS_9_TO_5, "America/New_York");
        // Friday 16:00 EST to Monday 10:00 EST: one hour Friday, one Monday.
        let (fri, mon) = (ts("2026-01-16T21:00:00Z"), ts("2026-01-19T15:00:00Z"));
        assert_eq!(ny.open_time_between(fri, mon), hrs(2));
        assert_eq!(ny.open_time_between(mon, fri), SignedDuration::ZERO);
        assert_eq!(ny.after_open_time(fri, hrs(2)), Some(mon));
        assert_eq!(ny.after_open_time(fri, hrs(1)), Some(ts("2026-01-16T22:00:00Z")));
        assert_eq!(ny.after_open_time(fri, SignedDuration::ZERO), Some(fri));
        // A week of business time is 40 hours.
        assert_eq!(ny.open_time_between(ts("2026-01-12T00:00:00Z"), ts("2026-01-19T00:00:00Z")), hrs(40));
    }

    #[test]
    fn spring_forward_in_new_york_and_london() {
        // New York skips 02:00-03:00 on Sunday 2026-03-08.
        let ny = hours(&[("sun", &["00:00-24:00"]), ("mon", &["09:00-17:00"])], "America/New_York");
        let (sun, mon) = (ts("2026-03-08T05:00:00Z"), ts("2026-03-09T04:00:00Z"));
        assert_eq!(ny.open_time_between(sun, mon), hrs(23));
        assert!(ny.is_open(ts("2026-03-08T07:00:00Z")));
        assert_eq!(ny.next_opening(mon), Some(ts("2026-03-09T13:00:00Z")), "09:00 EDT");
        // A range starting in the gap opens at the jump (03:00 EDT = 07:00Z).
        let gap = hours(&[("sun", &["02:30-04:00"])], "America/New_York");
        assert!(!gap.is_open(ts("2026-03-08T06:59:00Z")));
        assert!(gap.is_open(ts("2026-03-08T07:00:00Z")));
        assert_eq!(gap.next_opening(sun), Some(ts("2026-03-08T07:00:00Z")));
        assert_eq!(gap.open_time_between(sun, mon), hrs(1));
        // London skips 01:00-02:00 on Sunday 2026-03-29.
        let london = hours(&[("sun", &["00:00-24:00"]), ("mon", &["01:30-03:00"])], "Europe/London");
        let (sun, mon) = (ts("2026-03-29T00:00:00Z"), ts("2026-03-29T23:00:00Z"));
        assert_eq!(london.open_time_between(sun, mon), hrs(23));
        assert!(!london.is_open(mon));
        assert_eq!(london.next_opening(mon), Some(ts("2026-03-30T00:30:00Z")), "01:30 BST");
        let gap = hours(&[("sun", &["01:30-03:00"])], "Europe/London");
        assert_eq!(gap.next_opening(sun), Some(ts("2026-03-29T01:00:00Z")), "the jump to 02:00 BST");
        assert_eq!(gap.open_time_between(sun, mon), hrs(1));
    }

    #[test]
    fn fall_back_in_new_york_and_london() {
        // New York repeats 01:00-02:00 on Sunday 2026-11-01.
        let ny = hours(&[("sun", &["00:00-24:00"])], "America/New_York");
        let (sun, mon) = (ts("2026-11-01T04:00:00Z"), ts("2026-11-02T05:00:00Z"));
        assert_eq!(ny.open_time_between(sun, mon), hrs(25));
        assert!(ny.is_open(ts("2026-11-01T06:30:00Z")), "the second 01:30");
        assert!(!ny.is_open(mon));
        assert_eq!(ny.next_opening(mon), Some(ts("2026-11-08T05:00:00Z")));
        // The first reading counts: a range 01:30-03:00 opens at 01:30 EDT and
        // lasts 2.5 hours; a range ending at 01:30 ends at the first 01:30.
        let first = hours(&[("sun", &["01:30-03:00"])], "America/New_York");
        assert_eq!(first.next_opening(sun), Some(ts("2026-11-01T05:30:00Z")));
        assert_eq!(first.open_time_between(sun, mon), SignedDuration::from_mins(150));
        let early = hours(&[("sun", &["00:00-01:30"])], "America/New_York");
        assert!(early.is_open(ts("2026-11-01T05:29:00Z")));
        assert!(!early.is_open(ts("2026-11-01T06:10:00Z")), "01:10 EST, after the first 01:30");
        assert_eq!(early.open_time_between(sun, mon), SignedDuration::from_mins(90));
        // London repeats 01:00-02:00 on Sunday 2026-10-25.
        let london = hours(&[("sun", &["00:00-24:00"]), ("sat", &["22:00-24:00"])], "Europe/London");
        let (sat, mon) = (ts("2026-10-24T21:00:00Z"), ts("2026-10-26T00:00:00Z"));
        assert_eq!(london.open_time_between(sat, mon), hrs(27));
        assert_eq!(london.after_open_time(sat, hrs(27)), Some(mon));
        assert_eq!(london.next_opening(ts("2026-10-24T12:00:00Z")), Some(sat));
    }

    #[test]
    fn openings_read_in_the_customers_zone() {
        let la = hours(&[("thu", &["08:00-17:00"]), ("fri", &["08:00-17:00"])], "America/Los_Angeles");
        let ny = tz("America/New_York");
        // Wednesday 2026-01-14 20:00 EST (Thursday 01:00Z): LA opens Thursday 08:00 PST = 11:00 EST.
        let now = ts("2026-01-15T01:00:00Z");
        let open = la.next_opening(now).unwrap();
        assert_eq!(describe_opening(open, &ny, now), "11:00 AM EST tomorrow");
        // Thursday 06:00 EST: the same opening is today.
        assert_eq!(describe_opening(open, &ny, ts("2026-01-15T11:00:00Z")), "11:00 AM EST today");
        // In Paris, Thursday 17:00 CET; within the week, the weekday.
        let paris = tz("Europe/Paris");
        assert_eq!(describe_opening(open, &paris, ts("2026-01-12T12:00:00Z")), "5:00 PM CET Thursday");
        assert_eq!(describe_opening(open, &paris, ts("2026-01-01T12:00:00Z")), "5:00 PM CET on Jan 15");
        // A numeric abbreviation reads as UTC+3; half hours keep their minutes.
        assert_eq!(describe_opening(ts("2026-01-15T06:00:00Z"), &tz("Europe/Istanbul"), now), "9:00 AM UTC+3 today");
        assert_eq!(describe_opening(ts("2026-01-15T06:00:00Z"), &tz("Asia/Kolkata"), now), "11:30 AM IST today");
        assert_eq!(describe_opening(ts("2026-01-15T06:00:00Z"), &tz("Asia/Tehran"), now), "9:30 AM UTC+3:30 today");
        assert_eq!(describe_opening(ts("2026-01-15T06:00:00Z"), &tz("UTC"), now), "6:00 AM UTC today");
    }

    const ZONES: &[&str] = &[
        "America/New_York",
        "America/Los_Angeles",
        "America/St_Johns",
        "America/Santiago",
        "Europe/London",
        "Europe/Berlin",
        "Australia/Lord_Howe",
        "Australia/Sydney",
        "Asia/Kolkata",
        "Pacific/Chatham",
        "UTC",
    ];

    /// Random schedules: up to three ranges a day on the quarter hour, some
    /// touching midnight, and random holidays in 2026-2027.
    fn schedule() -> impl Strategy<Value = BusinessHours> {
        let day = proptest::collection::vec((0u16..=96, 0u16..=96), 0..4).prop_map(|cuts| {
            let mut points: Vec<u16> = cuts.into_iter().flat_map(|(a, b)| [a * 15, b * 15]).collect();
            points.sort();
            points.dedup();
            points.chunks_exact(2).map(|p| (p[0], p[1])).collect::<Vec<_>>()
        });
        let days = proptest::collection::vec(day, 7);
        let holidays = proptest::collection::btree_set(0i32..730, 0..40);
        (proptest::sample::select(ZONES), days, holidays).prop_map(|(zone, days, holidays)| {
            let text = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
            let settings = HoursSettings {
                always_open: false,
                zone: Some(zone.to_string()),
                weekly: DAYS
                    .iter()
                    .zip(days)
                    .map(|(d, r)| (d.to_string(), r.iter().map(|&(s, e)| format!("{}-{}", text(s), text(e))).collect()))
                    .collect(),
                holidays: holidays
                    .into_iter()
                    .map(|n| Date::constant(2026, 1, 1).checked_add(Span::new().days(n)).unwrap().to_string())
                    .collect(),
            };
            settings.resolve(&TimeZone::UTC).unwrap()
        })
    }

    fn instant_2026_2027() -> impl Strategy<Value = Timestamp> {
        (1_767_225_600i64..1_830_297_600i64).prop_map(|s| Timestamp::from_second(s).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn the_next_opening_is_open_and_the_earliest(h in schedule(), at in instant_2026_2027()) {
            match h.next_opening(at) {
                Some(next) => {
                    prop_assert!(next >= at && h.is_open(next), "{next} is not open");
                    prop_assert_eq!(h.open_time_between(at, next), SignedDuration::ZERO);
                    // Every whole minute between is closed (ranges open on whole minutes).
                    let secs = at.as_second();
                    let mut m = Timestamp::from_second(secs - secs.rem_euclid(60) + 60).unwrap();
                    let step = SignedDuration::from_mins(1).max(next.duration_since(at) / 2000);
                    while m < next {
                        prop_assert!(!h.is_open(m), "{m} is open and earlier than {next}");
                        m += step;
                    }
                    if next > at {
                        prop_assert!(!h.is_open(at));
                        prop_assert!(!h.is_open(next - SignedDuration::from_secs(1)));
                    }
                }
                None => prop_assert!(h.weekly.iter().all(|d| d.is_empty()), "closed for a year with some hours"),
            }
        }

        #[test]
        fn open_time_adds_up_and_after_open_time_inverts_it(
            h in schedule(),
            a in instant_2026_2027(),
            b in instant_2026_2027(),
            c in instant_2026_2027(),
        ) {
            let mut v = [a, b, c];
            v.sort();
            let [a, b, c] = v;
            let (ab, bc, ac) = (h.open_time_between(a, b), h.open_time_between(b, c), h.open_time_between(a, c));
            prop_assert_eq!(ab + bc, ac);
            prop_assert!(ac <= c.duration_since(a));
            if ac > SignedDuration::ZERO {
                let t = h.after_open_time(a, ac).unwrap();
                prop_assert!(t <= c && h.open_time_between(a, t) == ac, "{t} vs {c}");
                // The first instant to reach it: just before, less was open.
                let before = t - SignedDuration::from_secs(1);
                prop_assert!(before < a || h.open_time_between(a, before) < ac);
            }
            // Open at an instant exactly when a second from it has open time.
            prop_assert_eq!(h.is_open(b), h.open_time_between(b, b + SignedDuration::from_secs(1)) > SignedDuration::ZERO);
        }
    }
}
