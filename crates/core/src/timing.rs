//! Quiet hours: when a business may text a customer, in the customer's own
//! local time. Correct across daylight-saving changes: the next allowed moment
//! is found among the only instants where "allowed" can begin (the window's
//! start on each nearby day, in every reading of an ambiguous local time, and
//! the zone's transitions), so a start that falls in a spring-forward gap or a
//! fall-back overlap still yields the earliest allowed instant.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::Invalid;

/// The daily window in which texting is allowed, `[start, end)` local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    start: Time,
    end: Time,
}

impl Default for QuietHours {
    /// 08:00 to 21:00, the federal (TCPA) calling window in the recipient's time.
    fn default() -> Self {
        QuietHours { start: Time::constant(8, 0, 0, 0), end: Time::constant(21, 0, 0, 0) }
    }
}

impl QuietHours {
    pub fn new(start: Time, end: Time) -> Result<Self, Invalid> {
        if start >= end {
            return Err(Invalid::new("the allowed window must start before it ends, within one day"));
        }
        Ok(QuietHours { start, end })
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

    /// The stricter of two windows (a state's rule over the account's).
    pub fn narrowed(self, other: QuietHours) -> QuietHours {
        let start = self.start.max(other.start);
        let end = self.end.min(other.end);
        if start < end { QuietHours { start, end } } else { self }
    }

    pub fn allows(&self, at: Timestamp, zone: &TimeZone) -> bool {
        let t = zone.to_datetime(at).time();
        self.start <= t && t < self.end
    }

    /// The earliest instant at or after `at` that the window allows.
    pub fn next_allowed(&self, at: Timestamp, zone: &TimeZone) -> Timestamp {
        if self.allows(at, zone) {
            return at;
        }
        let horizon = at + SignedDuration::from_hours(24 * 8);
        let today: Date = zone.to_datetime(at).date();
        let mut candidates: Vec<Timestamp> = Vec::with_capacity(32);
        for offset in -1..=8 {
            let Ok(day) = today.checked_add(jiff::Span::new().days(offset)) else { continue };
            let amb = zone.to_ambiguous_timestamp(day.to_datetime(self.start));
            candidates.extend([amb.earlier(), amb.later(), amb.compatible()].into_iter().flatten());
        }
        candidates.extend(zone.following(at).map(|t| t.timestamp()).take_while(|t| *t <= horizon));
        candidates
            .into_iter()
            .filter(|c| *c >= at && self.allows(*c, zone))
            .min()
            // Only a zone that skips more than a week of wall time could get here.
            .unwrap_or(horizon)
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

/// A stricter state calling window for a North American number's state.
fn state_window_of_number(address: &str) -> Option<(u8, u8)> {
    let n = crate::E164::parse(address, None).ok()?;
    let area = crate::numbering::nanp_area(n.nanp_area_code()?)?;
    crate::numbering::state_quiet_window(area.region)
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
    /// their number belongs to has a stricter rule.
    pub fn window_for(&self, address: &str) -> QuietHours {
        match state_window_of_number(address) {
            Some((start, end)) => QuietHours::hours(start, end).map(|w| self.quiet.narrowed(w)).unwrap_or(self.quiet),
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
