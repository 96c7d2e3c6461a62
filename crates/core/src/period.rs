//! A report's period, as people write it: `2026-11-03` (a day), `2026-W45`
//! (an ISO week), `2026-11` (a month), `2026-Q4`, `2026` (a year), or
//! `2026-11-01..2026-11-15` (custom, both days included). Days are the
//! business's; each period knows the one before it, of the same length.

use jiff::ToSpan;
use jiff::civil::{Date, ISOWeekDate, Weekday};
use serde::Serialize;

use crate::Invalid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    Day,
    Week,
    Month,
    Quarter,
    Year,
    Custom,
}

/// Days `from..=to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub kind: PeriodKind,
    pub from: Date,
    pub to: Date,
}

/// The longest custom period (a few years of days).
pub const MAX_DAYS: i32 = 3 * 366;

const HELP: &str = "a period is a day (2026-11-03), a week (2026-W45), a month (2026-11), a quarter (2026-Q4), \
                    a year (2026) or two days (2026-11-01..2026-11-15)";

fn bad() -> Invalid {
    Invalid::new(HELP)
}

fn year(s: &str) -> Result<i16, Invalid> {
    let y: i16 = s.parse().map_err(|_| bad())?;
    if !(2000..=2100).contains(&y) || s.len() != 4 {
        return Err(bad());
    }
    Ok(y)
}

fn day(s: &str) -> Result<Date, Invalid> {
    if s.len() != 10 {
        return Err(bad());
    }
    let d: Date = s.parse().map_err(|_| bad())?;
    year(&s[..4])?;
    Ok(d)
}

impl Period {
    pub fn parse(s: &str) -> Result<Period, Invalid> {
        let s = s.trim();
        let p = |kind, from: Date, to: Date| Ok(Period { kind, from, to });
        if let Some((a, b)) = s.split_once("..") {
            let (from, to) = (day(a)?, day(b)?);
            if to < from {
                return Err(Invalid::new("the period ends before it starts"));
            }
            if (to - from).get_days() >= MAX_DAYS {
                return Err(Invalid::new(format!("a custom period is at most {MAX_DAYS} days")));
            }
            return p(PeriodKind::Custom, from, to);
        }
        if s.len() == 10 {
            let d = day(s)?;
            return p(PeriodKind::Day, d, d);
        }
        if let Some((y, w)) = s.split_once("-W") {
            let w: i8 = w.parse().map_err(|_| bad())?;
            let start = ISOWeekDate::new(year(y)?, w, Weekday::Monday).map_err(|_| bad())?.date();
            return p(PeriodKind::Week, start, start + 6.days());
        }
        if let Some((y, q)) = s.split_once("-Q") {
            let q: i8 = q.parse().map_err(|_| bad())?;
            if !(1..=4).contains(&q) {
                return Err(bad());
            }
            let from = Date::new(year(y)?, (q - 1) * 3 + 1, 1).map_err(|_| bad())?;
            return p(PeriodKind::Quarter, from, from + 3.months() - 1.day());
        }
        if let Some((y, m)) = s.split_once('-') {
            let m: i8 = m.parse().map_err(|_| bad())?;
            let from = Date::new(year(y)?, m, 1).map_err(|_| bad())?;
            return p(PeriodKind::Month, from, from.last_of_month());
        }
        let from = Date::new(year(s)?, 1, 1).map_err(|_| bad())?;
        p(PeriodKind::Year, from, from.last_of_year())
    }

    /// The month that holds `d`.
    pub fn month_of(d: Date) -> Period {
        Period { kind: PeriodKind::Month, from: d.first_of_month(), to: d.last_of_month() }
    }

    /// The period before, of the same kind (a custom one: as many days, just before).
    pub fn previous(&self) -> Period {
        let (from, to) = match self.kind {
            PeriodKind::Day => (self.from - 1.day(), self.to - 1.day()),
            PeriodKind::Week => (self.from - 7.days(), self.to - 7.days()),
            PeriodKind::Month => {
                let from = self.from - 1.month();
                (from, from.last_of_month())
            }
            PeriodKind::Quarter => {
                let from = self.from - 3.months();
                (from, self.from - 1.day())
            }
            PeriodKind::Year => (self.from - 1.year(), self.from - 1.day()),
            PeriodKind::Custom => {
                let len = self.days();
                (self.from - len.days(), self.from - 1.day())
            }
        };
        Period { kind: self.kind, from, to }
    }

    pub fn days(&self) -> i32 {
        (self.to - self.from).get_days() + 1
    }

    /// As written: `2026-11`, `2026-Q4`…
    pub fn label(&self) -> String {
        match self.kind {
            PeriodKind::Day => self.from.to_string(),
            PeriodKind::Week => {
                let w = self.from.iso_week_date();
                format!("{}-W{:02}", w.year(), w.week())
            }
            PeriodKind::Month => self.from.strftime("%Y-%m").to_string(),
            PeriodKind::Quarter => format!("{}-Q{}", self.from.year(), (self.from.month() - 1) / 3 + 1),
            PeriodKind::Year => self.from.year().to_string(),
            PeriodKind::Custom => format!("{}..{}", self.from, self.to),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn every_kind_reads_with_its_previous_period() {
        let cases = [
            ("2026-11-03", (date(2026, 11, 3), date(2026, 11, 3)), (date(2026, 11, 2), date(2026, 11, 2))),
            ("2026-W45", (date(2026, 11, 2), date(2026, 11, 8)), (date(2026, 10, 26), date(2026, 11, 1))),
            ("2026-03", (date(2026, 3, 1), date(2026, 3, 31)), (date(2026, 2, 1), date(2026, 2, 28))),
            ("2026-Q1", (date(2026, 1, 1), date(2026, 3, 31)), (date(2025, 10, 1), date(2025, 12, 31))),
            ("2026", (date(2026, 1, 1), date(2026, 12, 31)), (date(2025, 1, 1), date(2025, 12, 31))),
            (
                "2026-11-01..2026-11-10",
                (date(2026, 11, 1), date(2026, 11, 10)),
                (date(2026, 10, 22), date(2026, 10, 31)),
            ),
        ];
        for (text, now, before) in cases {
            let p = Period::parse(text).unwrap();
            assert_eq!((p.from, p.to), now, "{text}");
            assert_eq!((p.previous().from, p.previous().to), before, "{text}");
            assert_eq!(p.label(), text);
        }
    }

    #[test]
    fn nonsense_is_refused_with_the_forms_that_work() {
        for bad in ["", "11-2026", "2026-13", "2026-Q5", "2026-W54", "2026-11-10..2026-11-01", "1999", "2026-11-3", "x"]
        {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
        assert!(Period::parse("2020-01-01..2026-01-01").unwrap_err().0.contains("at most"));
    }
}
