//! The business-hours form: a day is a "Closed" box and time pickers (opening
//! and closing, and a second pair for a break), read back into the ranges the
//! inbox's settings hold ("09:00-12:00, 13:00-17:00"). Mistakes are told per
//! day in plain words before the settings' own checks run.

use std::collections::HashMap;

/// The days of the form, with the plural a sentence uses.
pub const DAYS: [(&str, &str, &str); 7] = [
    ("mon", "Monday", "Mondays"),
    ("tue", "Tuesday", "Tuesdays"),
    ("wed", "Wednesday", "Wednesdays"),
    ("thu", "Thursday", "Thursdays"),
    ("fri", "Friday", "Fridays"),
    ("sat", "Saturday", "Saturdays"),
    ("sun", "Sunday", "Sundays"),
];

/// One day as the form shows it.
pub struct DayRow {
    pub key: &'static str,
    pub label: &'static str,
    pub closed: bool,
    pub open: String,
    pub close: String,
    /// A second range, for a break in the day.
    pub open2: String,
    pub close2: String,
    /// Ranges past the second (set through the API), kept as they are.
    pub more: String,
}

/// "09:00-17:00" as its two times.
pub(crate) fn split(range: &str) -> (String, String) {
    match range.split_once('-') {
        Some((a, b)) => (a.trim().to_owned(), if b.trim() == "24:00" { "00:00".into() } else { b.trim().to_owned() }),
        None => (String::new(), String::new()),
    }
}

impl DayRow {
    /// A day from its ranges as text. With no hours stored at all, the
    /// pickers suggest a working week (the form still says it is open around the clock).
    pub fn of(key: &'static str, label: &'static str, text: &str, nothing_stored: bool) -> Self {
        let ranges: Vec<&str> = text.split(',').map(str::trim).filter(|r| !r.is_empty()).collect();
        let weekday = !matches!(key, "sat" | "sun");
        let (open, close) = match ranges.first() {
            Some(r) => split(r),
            None if nothing_stored && weekday => ("09:00".into(), "17:00".into()),
            None => (String::new(), String::new()),
        };
        let (open2, close2) = ranges.get(1).map(|r| split(r)).unwrap_or_default();
        DayRow {
            key,
            label,
            closed: ranges.is_empty() && !(nothing_stored && weekday),
            open,
            close,
            open2,
            close2,
            more: ranges.iter().skip(2).copied().collect::<Vec<_>>().join(", "),
        }
    }
}

impl DayRow {
    /// A day as the admin just posted it (a refused form comes back as typed).
    pub fn typed(key: &'static str, label: &'static str, fields: &HashMap<String, String>) -> Option<Self> {
        let field = |name: &str| fields.get(&format!("{key}_{name}")).map(|v| v.trim().to_owned()).unwrap_or_default();
        fields.contains_key(&format!("{key}_open")).then(|| DayRow {
            key,
            label,
            closed: !field("closed").is_empty(),
            open: field("open"),
            close: field("close"),
            open2: field("open2"),
            close2: field("close2"),
            more: field("more"),
        })
    }
}

/// "9:05", "09:05" or "09:05:00" (what a time picker sends) as "09:05"; None if it is no time.
pub(crate) fn clock(text: &str) -> Option<(u16, String)> {
    let mut parts = text.trim().split(':');
    let h: u16 = parts.next()?.parse().ok()?;
    let m: u16 = parts.next()?.parse().ok()?;
    if let Some(s) = parts.next() {
        s.parse::<u16>().ok().filter(|s| *s < 60)?;
    }
    (h < 24 && m < 60 && parts.next().is_none()).then(|| (h * 60 + m, format!("{h:02}:{m:02}")))
}

/// The ranges a day's pickers ask for, as the settings' text ("" when closed),
/// or a sentence saying what to fix. `None` when the form carries no pickers for the day.
pub fn day_text(fields: &HashMap<String, String>, key: &str, plural: &str) -> Option<Result<String, String>> {
    let field = |name: &str| fields.get(&format!("{key}_{name}")).map(|v| v.trim()).unwrap_or_default();
    if !fields.contains_key(&format!("{key}_open")) {
        return None;
    }
    if !field("closed").is_empty() {
        return Some(Ok(String::new()));
    }
    let range = |open: &str, close: &str| -> Result<Option<(u16, u16, String)>, String> {
        if open.is_empty() && close.is_empty() {
            return Ok(None);
        }
        let hint = format!("{plural}: write hours like 09:00-17:00, or tick Closed");
        let ((a, a_text), (b, b_text)) = match (clock(open), clock(close)) {
            (Some(a), Some(b)) => (a, b),
            _ => return Err(hint),
        };
        // A picker cannot say 24:00: closing at 00:00 means at midnight.
        let (b, b_text) = if b == 0 { (24 * 60, "24:00".to_owned()) } else { (b, b_text) };
        if b <= a {
            return Err(format!(
                "{plural}: closing time {b_text} is not after opening time {a_text}; for hours past midnight, \
                 close at 00:00 and open the next day at 00:00"
            ));
        }
        Ok(Some((a, b, format!("{a_text}-{b_text}"))))
    };
    let first = match range(field("open"), field("close")) {
        Ok(Some(r)) => r,
        Ok(None) => return Some(Err(format!("{plural}: choose when you open and close, or tick Closed"))),
        Err(e) => return Some(Err(e)),
    };
    let mut texts = vec![first.2.clone()];
    match range(field("open2"), field("close2")) {
        Ok(Some(second)) => {
            if second.0 < first.1 && first.0 < second.1 {
                return Some(Err(format!("{plural}: the two times of day overlap ({} and {})", first.2, second.2)));
            }
            texts.push(second.2);
        }
        Ok(None) => {}
        Err(e) => return Some(Err(e)),
    }
    let more = field("more");
    if !more.is_empty() {
        texts.push(more.to_owned());
    }
    Some(Ok(texts.join(", ")))
}

/// Every zone jiff knows, the business's first: the form's time-zone picker.
pub fn zone_choices(business: &str) -> Vec<String> {
    let mut zones: Vec<String> =
        jiff::tz::db().available().map(|z| z.to_string()).filter(|z| z.contains('/') && z != business).collect();
    zones.sort();
    zones.dedup();
    zones.insert(0, business.to_owned());
    zones
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn pickers_read_as_ranges() {
        let f = form(&[("mon_open", "09:00"), ("mon_close", "17:00"), ("mon_open2", ""), ("mon_close2", "")]);
        assert_eq!(day_text(&f, "mon", "Mondays"), Some(Ok("09:00-17:00".into())));
        let f =
            form(&[("tue_open", "8:30"), ("tue_close", "12:00:00"), ("tue_open2", "13:00"), ("tue_close2", "00:00")]);
        assert_eq!(day_text(&f, "tue", "Tuesdays"), Some(Ok("08:30-12:00, 13:00-24:00".into())));
        let f = form(&[("sun_open", "09:00"), ("sun_close", "17:00"), ("sun_closed", "on")]);
        assert_eq!(day_text(&f, "sun", "Sundays"), Some(Ok(String::new())));
        assert_eq!(day_text(&f, "mon", "Mondays"), None, "no pickers posted for Monday");
    }

    #[test]
    fn mistakes_are_told_in_plain_words() {
        let f = form(&[("mon_open", "9am"), ("mon_close", "5pm")]);
        assert_eq!(
            day_text(&f, "mon", "Mondays"),
            Some(Err("Mondays: write hours like 09:00-17:00, or tick Closed".into()))
        );
        let f = form(&[("mon_open", "17:00"), ("mon_close", "09:00")]);
        let Some(Err(e)) = day_text(&f, "mon", "Mondays") else { panic!() };
        assert!(e.starts_with("Mondays: closing time 09:00 is not after opening time 17:00"), "{e}");
        let f = form(&[("wed_open", ""), ("wed_close", "")]);
        assert_eq!(
            day_text(&f, "wed", "Wednesdays"),
            Some(Err("Wednesdays: choose when you open and close, or tick Closed".into()))
        );
        let f = form(&[("fri_open", "09:00"), ("fri_close", "13:00"), ("fri_open2", "12:00"), ("fri_close2", "17:00")]);
        assert_eq!(
            day_text(&f, "fri", "Fridays"),
            Some(Err("Fridays: the two times of day overlap (09:00-13:00 and 12:00-17:00)".into()))
        );
    }

    #[test]
    fn stored_ranges_show_in_the_pickers() {
        let d = DayRow::of("mon", "Monday", "09:00-12:00, 13:00-24:00, 20:00-22:00", false);
        assert_eq!(
            (d.open.as_str(), d.close.as_str(), d.open2.as_str(), d.close2.as_str()),
            ("09:00", "12:00", "13:00", "00:00")
        );
        assert_eq!(d.more, "20:00-22:00");
        assert!(!d.closed);
        assert!(DayRow::of("sat", "Saturday", "", false).closed);
        let suggested = DayRow::of("tue", "Tuesday", "", true);
        assert!(!suggested.closed && suggested.open == "09:00");
        assert!(DayRow::of("sun", "Sunday", "", true).closed);
    }

    #[test]
    fn the_business_zone_comes_first() {
        let zones = zone_choices("America/Chicago");
        assert_eq!(zones[0], "America/Chicago");
        assert!(zones.iter().any(|z| z == "Europe/Paris"));
        assert_eq!(zones.iter().filter(|z| *z == "America/Chicago").count(), 1);
    }
}
