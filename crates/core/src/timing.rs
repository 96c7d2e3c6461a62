//! Quiet hours: when a business may text a customer, in the customer's own
//! local time. Correct across daylight-saving changes: the next allowed moment
//! is found among the only instants where "allowed" can begin (the window's
//! start on each nearby day, in every reading of an ambiguous local time, and
//! the zone's transitions), so a start that falls in a spring-forward gap or a
//! fall-back overlap still yields the earliest allowed instant.
//!
//! Some states also shorten or ban whole days (Sundays, legal holidays); those
//! day rules are judged on the contact's own calendar date.

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::Invalid;

/// What the rules say about one day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DayRule {
    /// The usual daily window.
    #[default]
    Usual,
    /// Its own window `[start, end)` that day.
    Window(Time, Time),
    /// No texting at all that day.
    Closed,
}

/// The window in which texting is allowed, `[start, end)` local time, with
/// optional rules for particular weekdays and for US federal holidays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    start: Time,
    end: Time,
    /// Monday first.
    days: [DayRule; 7],
    closed_on_federal_holidays: bool,
}

impl Default for QuietHours {
    /// 08:00 to 21:00, the federal (TCPA) calling window in the recipient's time.
    fn default() -> Self {
        QuietHours::daily(Time::constant(8, 0, 0, 0), Time::constant(21, 0, 0, 0))
    }
}

/// The daily window as `parse` reads it ("08:00-21:00"); day and holiday rules
/// are not part of the text, as an account's window has none.
impl std::fmt::Display for QuietHours {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (a, b) = (self.start, self.end);
        write!(f, "{:02}:{:02}-{:02}:{:02}", a.hour(), a.minute(), b.hour(), b.minute())
    }
}

/// A closed stretch is at most a banned weekend day plus holidays, but a rule
/// open one weekday only can meet Christmas and New Year's Day on consecutive
/// weeks: eight weeks covers every combination of a week with an open day.
const HORIZON_DAYS: i64 = 7 * 8;

impl QuietHours {
    const fn daily(start: Time, end: Time) -> Self {
        QuietHours { start, end, days: [DayRule::Usual; 7], closed_on_federal_holidays: false }
    }

    pub fn new(start: Time, end: Time) -> Result<Self, Invalid> {
        if start >= end {
            return Err(Invalid::new("the allowed window must start before it ends, within one day"));
        }
        Ok(QuietHours::daily(start, end))
    }

    /// The same window with its own rule for one weekday.
    pub fn with_day(mut self, day: Weekday, rule: DayRule) -> Result<Self, Invalid> {
        if let DayRule::Window(start, end) = rule
            && start >= end
        {
            return Err(Invalid::new("the allowed window must start before it ends, within one day"));
        }
        self.days[day.to_monday_zero_offset() as usize] = rule;
        if self.days.iter().all(|d| *d == DayRule::Closed) {
            return Err(Invalid::new("texting cannot be banned on every day of the week"));
        }
        Ok(self)
    }

    /// The same window, with no texting on US federal holidays.
    pub fn closed_on_federal_holidays(mut self) -> Self {
        self.closed_on_federal_holidays = true;
        self
    }

    pub fn day_rule(&self, day: Weekday) -> DayRule {
        self.days[day.to_monday_zero_offset() as usize]
    }

    pub fn bans_federal_holidays(&self) -> bool {
        self.closed_on_federal_holidays
    }

    /// The window on a civil date, None when texting is banned that day.
    pub fn window_on(&self, date: Date) -> Option<(Time, Time)> {
        if self.closed_on_federal_holidays && is_us_federal_holiday(date) {
            return None;
        }
        self.window_on_weekday(date.weekday())
    }

    fn window_on_weekday(&self, day: Weekday) -> Option<(Time, Time)> {
        match self.day_rule(day) {
            DayRule::Usual => Some((self.start, self.end)),
            DayRule::Window(start, end) => Some((start, end)),
            DayRule::Closed => None,
        }
    }

    /// From hours, as stricter state rules are written (8, 20).
    pub fn hours(start: u8, end: u8) -> Result<Self, Invalid> {
        let t = |h: u8| Time::new(h.min(23) as i8, 0, 0, 0).map_err(|_| Invalid::new("an hour is 0 to 23"));
        if start > 23 || end > 24 {
            return Err(Invalid::new("an hour is 0 to 24"));
        }
        let end = if end == 24 { Time::MAX } else { t(end)? };
        QuietHours::new(t(start)?, end)
    }

    /// "08:00-21:00".
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let bad = || Invalid::new(format!("{s:?} is not a window like 08:00-21:00"));
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let a: Time = a.trim().parse().map_err(|_| bad())?;
        let b: Time = b.trim().parse().map_err(|_| bad())?;
        QuietHours::new(a, b)
    }

    pub fn start(&self) -> Time {
        self.start
    }
    pub fn end(&self) -> Time {
        self.end
    }

    /// The stricter of two windows (a state's rule over the account's). Where
    /// the two windows do not meet at all, this one is kept, as it always was;
    /// a day either bans stays banned.
    pub fn narrowed(self, other: QuietHours) -> QuietHours {
        let meet = |a: (Time, Time), b: (Time, Time)| {
            let (start, end) = (a.0.max(b.0), a.1.min(b.1));
            (start < end).then_some((start, end))
        };
        let (start, end) = meet((self.start, self.end), (other.start, other.end)).unwrap_or((self.start, self.end));
        let mut days = [DayRule::Usual; 7];
        for (i, day) in days.iter_mut().enumerate() {
            let weekday = Weekday::Monday.wrapping_add(i as i64);
            *day = match (self.window_on_weekday(weekday), other.window_on_weekday(weekday)) {
                (Some(a), Some(b)) => match meet(a, b).unwrap_or(a) {
                    w if w == (start, end) => DayRule::Usual,
                    (s, e) => DayRule::Window(s, e),
                },
                _ => DayRule::Closed,
            };
        }
        let closed_on_federal_holidays = self.closed_on_federal_holidays || other.closed_on_federal_holidays;
        QuietHours { start, end, days, closed_on_federal_holidays }
    }

    pub fn allows(&self, at: Timestamp, zone: &TimeZone) -> bool {
        let dt = zone.to_datetime(at);
        self.window_on(dt.date()).is_some_and(|(start, end)| start <= dt.time() && dt.time() < end)
    }

    /// The earliest instant at or after `at` that the window allows.
    pub fn next_allowed(&self, at: Timestamp, zone: &TimeZone) -> Timestamp {
        if self.allows(at, zone) {
            return at;
        }
        let horizon = at + SignedDuration::from_hours(24 * HORIZON_DAYS);
        let today: Date = zone.to_datetime(at).date();
        let mut candidates: Vec<Timestamp> = Vec::with_capacity(3 * HORIZON_DAYS as usize + 16);
        for offset in -1..=HORIZON_DAYS {
            let Ok(day) = today.checked_add(jiff::Span::new().days(offset)) else { continue };
            let Some((start, _)) = self.window_on(day) else { continue };
            let amb = zone.to_ambiguous_timestamp(day.to_datetime(start));
            candidates.extend([amb.earlier(), amb.later(), amb.compatible()].into_iter().flatten());
        }
        candidates.extend(zone.following(at).map(|t| t.timestamp()).take_while(|t| *t <= horizon));
        candidates
            .into_iter()
            .filter(|c| *c >= at && self.allows(*c, zone))
            .min()
            // Only a zone that skips weeks of wall time could get here.
            .unwrap_or(horizon)
    }
}

/// The US federal legal public holidays of a year (5 U.S.C. § 6103(a)), on
/// their actual dates: a holiday on a weekend is not moved to the Friday or
/// Monday on which federal offices observe it.
pub fn us_federal_holidays(year: i16) -> Vec<(Date, &'static str)> {
    let on = |month: i8, day: i8| Date::new(year, month, day).ok();
    let nth = |month: i8, n: i8, weekday: Weekday| {
        Date::new(year, month, 1).ok().and_then(|d| d.nth_weekday_of_month(n, weekday).ok())
    };
    let all = [
        (on(1, 1), "New Year's Day"),
        (nth(1, 3, Weekday::Monday), "Birthday of Martin Luther King, Jr."),
        (nth(2, 3, Weekday::Monday), "Washington's Birthday"),
        (nth(5, -1, Weekday::Monday), "Memorial Day"),
        // Added in 2021.
        (on(6, 19).filter(|_| year >= 2021), "Juneteenth National Independence Day"),
        (on(7, 4), "Independence Day"),
        (nth(9, 1, Weekday::Monday), "Labor Day"),
        (nth(10, 2, Weekday::Monday), "Columbus Day"),
        (on(11, 11), "Veterans Day"),
        (nth(11, 4, Weekday::Thursday), "Thanksgiving Day"),
        (on(12, 25), "Christmas Day"),
    ];
    all.into_iter().filter_map(|(date, name)| Some((date?, name))).collect()
}

/// Whether a date is one of `us_federal_holidays`, without building the list:
/// the gate asks this for every candidate instant.
pub fn is_us_federal_holiday(date: Date) -> bool {
    let (month, day) = (date.month(), date.day());
    // Which occurrence of its weekday in the month the date is, and whether it is the last.
    let nth = (day - 1) / 7 + 1;
    let last = day + 7 > date.days_in_month();
    match (month, day) {
        (1, 1) | (7, 4) | (11, 11) | (12, 25) => true,
        (6, 19) => date.year() >= 2021,
        _ => matches!(
            (month, date.weekday(), nth, last),
            (1, Weekday::Monday, 3, _)
                | (2, Weekday::Monday, 3, _)
                | (5, Weekday::Monday, _, true)
                | (9, Weekday::Monday, 1, _)
                | (10, Weekday::Monday, 2, _)
                | (11, Weekday::Thursday, 4, _)
        ),
    }
}

/// The zone a number's place implies: its North American area code, else its
/// country's main zone. Chat ids and unknown numbers imply nothing.
fn zone_of_number(address: &str) -> Option<&'static str> {
    let n = crate::E164::parse(address, None).ok()?;
    if let Some(area) = n.nanp_area_code().and_then(crate::numbering::nanp_area) {
        return Some(area.zone);
    }
    crate::numbering::country_zone(&n.region()?)
}

/// The state a North American number belongs to ("US-TX").
fn region_of_number(address: &str) -> Option<&'static str> {
    let n = crate::E164::parse(address, None).ok()?;
    Some(crate::numbering::nanp_area(n.nanp_area_code()?)?.region)
}

impl QuietHours {
    /// A US state's stricter rule as quiet hours, with its day rules; None where
    /// the state has none (see `numbering::state_rule`).
    pub fn for_state(region: &str) -> Option<QuietHours> {
        let rule = crate::numbering::state_rule(region)?;
        let mut q = QuietHours::hours(rule.window.0, rule.window.1).ok()?;
        for &(day, hours) in rule.days {
            let day_rule = match hours {
                Some((start, end)) => {
                    let w = QuietHours::hours(start, end).ok()?;
                    DayRule::Window(w.start, w.end)
                }
                None => DayRule::Closed,
            };
            q = q.with_day(day, day_rule).ok()?;
        }
        Some(if rule.legal_holidays { q.closed_on_federal_holidays() } else { q })
    }
}

/// An account's rules for when customers may be texted.
#[derive(Debug, Clone, PartialEq)]
pub struct TimingPolicy {
    pub quiet: QuietHours,
    /// For contacts whose zone is neither set nor known from their number.
    pub fallback_zone: TimeZone,
    /// A customer who wrote this recently is in a live exchange.
    pub live_window: SignedDuration,
}

impl TimingPolicy {
    /// The contact's zone: set by an agent or the API, else the one their number
    /// implies, else the business's.
    pub fn zone_for(&self, explicit: Option<&str>, address: &str) -> TimeZone {
        explicit
            .and_then(|z| TimeZone::get(z).ok())
            .or_else(|| zone_of_number(address).and_then(|z| TimeZone::get(z).ok()))
            .unwrap_or_else(|| self.fallback_zone.clone())
    }

    /// The window for this contact: the account's, narrowed where the state
    /// their number belongs to has a stricter rule, days and holidays included.
    pub fn window_for(&self, address: &str) -> QuietHours {
        match region_of_number(address).and_then(QuietHours::for_state) {
            Some(state) => self.quiet.narrowed(state),
            None => self.quiet,
        }
    }

    /// What the gate needs to know about this contact's clock right now.
    pub fn timing(
        &self,
        explicit_zone: Option<&str>,
        address: &str,
        last_inbound: Option<Timestamp>,
        now: Timestamp,
    ) -> crate::gate::Timing {
        crate::gate::Timing {
            quiet: self.window_for(address),
            zone: self.zone_for(explicit_zone, address),
            live_exchange: last_inbound.is_some_and(|t| now.duration_since(t) <= self.live_window),
        }
    }
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

    #[test]
    fn windows_print_as_they_parse() {
        for text in ["08:00-21:00", "10:30-18:05", "00:00-23:59"] {
            assert_eq!(QuietHours::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn windows_parse_and_validate() {
        assert_eq!(QuietHours::parse("08:00-21:00").unwrap(), QuietHours::default());
        assert!(QuietHours::parse("21:00-08:00").is_err());
        assert!(QuietHours::parse("8am to 9pm").is_err());
        assert_eq!(
            QuietHours::default().narrowed(QuietHours::hours(8, 20).unwrap()),
            QuietHours::hours(8, 20).unwrap()
        );
    }

    #[test]
    fn an_evening_message_waits_for_the_morning_in_the_contacts_zone() {
        let q = QuietHours::default();
        let ny = tz("America/New_York");
        // 22:30 in New York on a winter evening (03:30Z) → 08:00 EST next day (13:00Z).
        assert_eq!(q.next_allowed(ts("2026-01-15T03:30:00Z"), &ny), ts("2026-01-15T13:00:00Z"));
        // 06:00 local → 08:00 the same day.
        assert_eq!(q.next_allowed(ts("2026-01-15T11:00:00Z"), &ny), ts("2026-01-15T13:00:00Z"));
        // Inside the window: now.
        assert_eq!(q.next_allowed(ts("2026-01-15T15:00:00Z"), &ny), ts("2026-01-15T15:00:00Z"));
        // The same instant is fine in Los Angeles' evening (19:30 PST).
        assert!(q.allows(ts("2026-01-15T03:30:00Z"), &tz("America/Los_Angeles")));
    }

    #[test]
    fn spring_forward_gap_new_york_and_london() {
        // New York skips 02:00-03:00 on 2026-03-08. A window opening at 02:30 opens
        // at the transition itself, 03:00 EDT = 07:00Z.
        let q = QuietHours::parse("02:30-21:00").unwrap();
        let ny = tz("America/New_York");
        assert_eq!(q.next_allowed(ts("2026-03-08T05:00:00Z"), &ny), ts("2026-03-08T07:00:00Z"));
        // 08:00 the morning after the change is 12:00Z (EDT), not 13:00Z.
        let d = QuietHours::default();
        assert_eq!(d.next_allowed(ts("2026-03-08T04:00:00Z"), &ny), ts("2026-03-08T12:00:00Z"));
        // London skips 01:00-02:00 on 2026-03-29; a window opening at 01:30 opens at 02:00 BST = 01:00Z.
        let q = QuietHours::parse("01:30-21:00").unwrap();
        assert_eq!(q.next_allowed(ts("2026-03-29T00:10:00Z"), &tz("Europe/London")), ts("2026-03-29T01:00:00Z"));
    }

    #[test]
    fn fall_back_overlap_new_york_and_london() {
        // London repeats 01:00-02:00 on 2026-10-25. A window opening at 01:30
        // opens at the first 01:30 (BST, 00:30Z).
        let q = QuietHours::parse("01:30-21:00").unwrap();
        let london = tz("Europe/London");
        assert_eq!(q.next_allowed(ts("2026-10-24T23:00:00Z"), &london), ts("2026-10-25T00:30:00Z"));
        // A window ending at 01:30: at 01:45 BST (00:45Z) it is closed, but the
        // clocks go back to 01:00 GMT at 01:00Z and it opens again then.
        let q = QuietHours::parse("00:00-01:30").unwrap();
        assert_eq!(q.next_allowed(ts("2026-10-25T00:45:00Z"), &london), ts("2026-10-25T01:00:00Z"));
        // New York repeats 01:00-02:00 on 2026-11-01; 08:00 that day is EST, 13:00Z.
        let d = QuietHours::default();
        assert_eq!(d.next_allowed(ts("2026-11-01T04:00:00Z"), &tz("America/New_York")), ts("2026-11-01T13:00:00Z"));
    }

    fn policy() -> TimingPolicy {
        TimingPolicy {
            quiet: QuietHours::default(),
            fallback_zone: tz("America/Chicago"),
            live_window: SignedDuration::from_mins(30),
        }
    }

    #[test]
    fn the_contacts_zone_comes_from_the_agent_then_the_number_then_the_business() {
        let p = policy();
        let name = |z: TimeZone| z.iana_name().unwrap_or("").to_owned();
        assert_eq!(name(p.zone_for(None, "+14155550111")), "America/Los_Angeles");
        assert_eq!(name(p.zone_for(None, "+12125550111")), "America/New_York");
        assert_eq!(name(p.zone_for(None, "+442079460958")), "Europe/London");
        assert_eq!(name(p.zone_for(Some("Asia/Tokyo"), "+14155550111")), "Asia/Tokyo");
        assert_eq!(name(p.zone_for(Some("Not/AZone"), "+14155550111")), "America/Los_Angeles");
        assert_eq!(name(p.zone_for(None, "telegram-id-123")), "America/Chicago");
        assert_eq!(name(p.zone_for(None, "+18005550199")), "America/New_York", "toll-free: the country's zone");
    }

    #[test]
    fn stricter_states_narrow_the_window_for_their_numbers() {
        let p = policy();
        assert_eq!(p.window_for("+13055550111"), QuietHours::hours(8, 20).unwrap(), "Florida");
        assert_eq!(p.window_for("+12125550111"), QuietHours::default(), "New York");
        assert_eq!(p.window_for("+442079460958"), QuietHours::default());
        // 20:30 in Miami is quiet for a Florida number, not for a New York one.
        let at = ts("2026-01-16T01:30:00Z");
        assert!(!p.timing(None, "+13055550111", None, at).quiet.allows(at, &tz("America/New_York")));
        assert!(p.timing(None, "+12125550111", None, at).quiet.allows(at, &tz("America/New_York")));
        // A customer who wrote 10 minutes ago is in a live exchange; one from an hour ago is not.
        assert!(p.timing(None, "+12125550111", Some(at - SignedDuration::from_mins(10)), at).live_exchange);
        assert!(!p.timing(None, "+12125550111", Some(at - SignedDuration::from_mins(60)), at).live_exchange);
    }

    #[test]
    fn federal_holidays_on_their_actual_dates() {
        let h = us_federal_holidays(2026);
        let dates: Vec<String> = h.iter().map(|(d, _)| d.to_string()).collect();
        assert_eq!(
            dates,
            [
                "2026-01-01",
                "2026-01-19",
                "2026-02-16",
                "2026-05-25",
                "2026-06-19",
                "2026-07-04",
                "2026-09-07",
                "2026-10-12",
                "2026-11-11",
                "2026-11-26",
                "2026-12-25"
            ]
        );
        assert_eq!(us_federal_holidays(2020).len(), 10, "no Juneteenth before 2021");
        // The predicate agrees with the list, day by day.
        for year in 2018..2035 {
            let list = us_federal_holidays(year);
            for day in Date::new(year, 1, 1).unwrap().series(jiff::Span::new().days(1)).take_while(|d| d.year() == year)
            {
                assert_eq!(is_us_federal_holiday(day), list.iter().any(|(d, _)| *d == day), "{day}");
            }
        }
    }

    #[test]
    fn day_rules_validate() {
        let q = QuietHours::default();
        let t = |h| Time::new(h, 0, 0, 0).unwrap();
        assert!(q.with_day(Weekday::Sunday, DayRule::Window(t(12), t(9))).is_err());
        let mut all = q;
        for i in 0..6 {
            all = all.with_day(Weekday::Monday.wrapping_add(i), DayRule::Closed).unwrap();
        }
        assert!(all.with_day(Weekday::Sunday, DayRule::Closed).is_err(), "some day must stay open");
        assert_eq!(q.with_day(Weekday::Sunday, DayRule::Closed).unwrap().day_rule(Weekday::Sunday), DayRule::Closed);
        assert_eq!(q.day_rule(Weekday::Sunday), DayRule::Usual);
    }

    #[test]
    fn state_day_rules_reach_the_window() {
        let p = policy();
        let t = |h| Time::new(h, 0, 0, 0).unwrap();
        // Texas: 9-21, Sundays from noon.
        let tx = p.window_for("+12145550111");
        assert_eq!((tx.start(), tx.end()), (t(9), t(21)));
        assert_eq!(tx.day_rule(Weekday::Sunday), DayRule::Window(t(12), t(21)));
        assert!(!tx.bans_federal_holidays());
        // Louisiana: 8-20, no Sundays, no holidays.
        let la = p.window_for("+12255550111");
        assert_eq!(la.day_rule(Weekday::Sunday), DayRule::Closed);
        assert!(la.bans_federal_holidays());
        // An account stricter than the state keeps its own window and takes the state's bans.
        let strict = TimingPolicy { quiet: QuietHours::hours(10, 18).unwrap(), ..policy() };
        let w = strict.window_for("+12145550111");
        assert_eq!((w.start(), w.end()), (t(10), t(18)));
        assert_eq!(w.day_rule(Weekday::Sunday), DayRule::Window(t(12), t(18)));
        assert_eq!(w.day_rule(Weekday::Monday), DayRule::Usual);
        let w = strict.window_for("+12255550111");
        assert_eq!(w.day_rule(Weekday::Sunday), DayRule::Closed);
        assert!(w.bans_federal_holidays());
        // Rhode Island's Saturday window is narrowed too.
        assert_eq!(p.window_for("+14015550111").day_rule(Weekday::Saturday), DayRule::Window(t(10), t(17)));
        // Narrowing commutes on what it allows.
        let ny = tz("America/New_York");
        let (a, b) = (strict.quiet, QuietHours::for_state("US-RI").unwrap());
        for h in 0..24 * 14 {
            let at = ts("2026-08-30T00:00:00Z") + SignedDuration::from_hours(h);
            assert_eq!(a.narrowed(b).allows(at, &ny), a.allows(at, &ny) && b.allows(at, &ny), "{at}");
        }
    }

    #[test]
    fn banned_days_are_skipped() {
        let p = policy();
        let chicago = tz("America/Chicago");
        // Texas, Sunday 2026-01-18 09:30 CST: waits for noon.
        let tx = p.window_for("+12145550111");
        assert_eq!(tx.next_allowed(ts("2026-01-18T15:30:00Z"), &chicago), ts("2026-01-18T18:00:00Z"));
        // Mississippi, Saturday 2026-01-17 21:30 CST: no Sunday, so Monday 08:00.
        let ms = p.window_for("+16015550111");
        assert_eq!(ms.next_allowed(ts("2026-01-18T03:30:00Z"), &chicago), ts("2026-01-19T14:00:00Z"));
        // Louisiana, Saturday 2026-09-05 21:30 CDT: Sunday banned, Monday is Labor Day: Tuesday 08:00 CDT.
        let la = p.window_for("+12255550111");
        assert!(!la.allows(ts("2026-09-07T15:00:00Z"), &chicago), "Labor Day noon");
        assert_eq!(la.next_allowed(ts("2026-09-06T02:30:00Z"), &chicago), ts("2026-09-08T13:00:00Z"));
        // Only Mondays open, across Christmas and New Year's Day on Mondays (2028): three weeks on.
        let mondays = (1..7)
            .fold(QuietHours::default(), |q, i| q.with_day(Weekday::Monday.wrapping_add(i), DayRule::Closed).unwrap())
            .closed_on_federal_holidays();
        assert_eq!(mondays.next_allowed(ts("2028-12-19T12:00:00Z"), &tz("UTC")), ts("2029-01-08T08:00:00Z"));
    }

    const ZONES: &[&str] = &[
        "America/New_York",
        "America/Los_Angeles",
        "America/St_Johns",
        "America/Santiago",
        "America/Havana",
        "Europe/London",
        "Europe/Dublin",
        "Australia/Lord_Howe",
        "Australia/Sydney",
        "Asia/Kolkata",
        "Asia/Beirut",
        "Pacific/Apia",
        "Pacific/Chatham",
        "UTC",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn the_next_allowed_moment_is_allowed_and_the_earliest(
            zone in proptest::sample::select(ZONES),
            secs in 1_262_304_000i64..1_924_992_000i64, // 2010 to 2031
            start in 0i64..1439,
            len in 1i64..1440,
        ) {
            let end = (start + len).min(1439);
            prop_assume!(end > start);
            let t = |m: i64| Time::new((m / 60) as i8, (m % 60) as i8, 0, 0).unwrap();
            let q = QuietHours::new(t(start), t(end)).unwrap();
            let zone = tz(zone);
            let at = Timestamp::from_second(secs).unwrap();
            let next = q.next_allowed(at, &zone);
            prop_assert!(next >= at);
            prop_assert!(q.allows(next, &zone), "{next} is not allowed");
            // No allowed whole minute (where windows open and zones change) lies before it.
            let mut m = Timestamp::from_second(secs - secs.rem_euclid(60) + 60).unwrap();
            while m < next {
                prop_assert!(!q.allows(m, &zone), "{m} is allowed and earlier than {next}");
                m += SignedDuration::from_mins(1);
            }
        }
    }

    fn day_rules() -> impl Strategy<Value = (Vec<DayRule>, bool)> {
        let t = |m: u16| Time::new((m / 60) as i8, (m % 60) as i8, 0, 0).unwrap();
        let rule = prop_oneof![
            3 => Just(DayRule::Usual),
            2 => Just(DayRule::Closed),
            2 => (0u16..1439, 1u16..1440).prop_map(move |(s, len)| DayRule::Window(t(s), t((s + len).min(1439).max(s + 1)))),
        ];
        (proptest::collection::vec(rule, 7), any::<bool>())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// With random day rules and holiday bans, the next allowed moment is
        /// still allowed and the earliest, and narrowing allows exactly what both allow.
        #[test]
        fn the_next_allowed_moment_is_earliest_with_day_rules(
            zone in proptest::sample::select(ZONES),
            secs in 1_767_225_600i64..1_830_297_600i64, // 2026 and 2027
            start in 0u8..23,
            len in 1u8..24,
            (days, holidays) in day_rules(),
            (other_days, other_holidays) in day_rules(),
        ) {
            let build = |days: &[DayRule], holidays: bool, window: QuietHours| {
                let mut q = window;
                for (i, rule) in days.iter().enumerate() {
                    q = q.with_day(Weekday::Monday.wrapping_add(i as i64), *rule).ok()?;
                }
                Some(if holidays { q.closed_on_federal_holidays() } else { q })
            };
            let Some(q) = build(&days, holidays, QuietHours::hours(start, (start + len).min(24)).unwrap()) else {
                return Ok(()); // every day banned: refused
            };
            let zone = tz(zone);
            let at = Timestamp::from_second(secs).unwrap();
            let next = q.next_allowed(at, &zone);
            prop_assert!(next >= at);
            prop_assert!(q.allows(next, &zone), "{next} is not allowed");
            let mut m = Timestamp::from_second(secs - secs.rem_euclid(60) + 60).unwrap();
            while m < next {
                prop_assert!(!q.allows(m, &zone), "{m} is allowed and earlier than {next}");
                m += SignedDuration::from_mins(1);
            }
            if let Some(other) = build(&other_days, other_holidays, QuietHours::default()) {
                let both = other.narrowed(q);
                let windows_meet = q.start() < QuietHours::default().end() && QuietHours::default().start() < q.end();
                for k in 0..48 {
                    let t = at + SignedDuration::from_mins(k * 97);
                    let allowed = both.allows(t, &zone);
                    prop_assert!(!allowed || other.allows(t, &zone), "narrowed allows {t}, the account does not");
                    if windows_meet && q.window_on(zone.to_datetime(t).date()).zip(other.window_on(zone.to_datetime(t).date())).is_some_and(|(a, b)| a.0.max(b.0) < a.1.min(b.1)) {
                        prop_assert_eq!(allowed, q.allows(t, &zone) && other.allows(t, &zone), "{}", t);
                    }
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        /// The same property, sampled where it is hard: around real DST changes,
        /// with windows that open or close near the changed hour.
        #[test]
        fn the_next_allowed_moment_is_earliest_around_transitions(
            zone in proptest::sample::select(&ZONES[..13]),
            year in 2015i16..2031,
            nth in 0usize..2,
            around_mins in -2160i64..2160,
            start_shift in -120i64..120,
            len in 1i64..1200,
        ) {
            let zone = tz(zone);
            let jan1 = zone.to_ambiguous_timestamp(Date::new(year, 1, 1).unwrap().at(0, 0, 0, 0)).compatible().unwrap();
            let Some(tr) = zone.following(jan1).nth(nth) else { return Ok(()) };
            let tr = tr.timestamp();
            let local = zone.to_datetime(tr).time();
            let start = (local.hour() as i64 * 60 + local.minute() as i64 + start_shift).clamp(0, 1438);
            let end = (start + len).min(1439);
            let t = |m: i64| Time::new((m / 60) as i8, (m % 60) as i8, 0, 0).unwrap();
            let q = QuietHours::new(t(start), t(end)).unwrap();
            let at = tr + SignedDuration::from_mins(around_mins);
            let next = q.next_allowed(at, &zone);
            prop_assert!(next >= at && q.allows(next, &zone));
            let secs = at.as_second();
            let mut m = Timestamp::from_second(secs - secs.rem_euclid(60) + 60).unwrap();
            while m < next {
                prop_assert!(!q.allows(m, &zone), "{m} is allowed and earlier than {next}");
                m += SignedDuration::from_mins(1);
            }
        }
    }
}
