use std::fmt;

use crate::Invalid;

/// A phone number in E.164 form (`+14155550123`), checked against the
/// numbering plan. Once a value is an `E164`, nobody re-checks it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct E164(String);

/// Numbers in E.164 form that passed the check against the numbering plan,
/// by the text they came as. A provider's webhook names the business's own
/// number on every text and a known customer's on each of theirs, and the
/// check (the numbering plan's patterns) cost about as much as the rest of
/// reading a Twilio webhook (docs/performance.md, "Session 24").
mod checked {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};

    use super::E164;

    /// Emptied when full: a flood of new numbers costs what it did before.
    const MAX: usize = 10_000;

    fn map() -> &'static Mutex<HashMap<String, E164>> {
        static MAP: OnceLock<Mutex<HashMap<String, E164>>> = OnceLock::new();
        MAP.get_or_init(Mutex::default)
    }

    pub(super) fn get(text: &str) -> Option<E164> {
        map().lock().ok()?.get(text).cloned()
    }

    pub(super) fn keep(text: &str, number: &E164) {
        if let Ok(mut m) = map().lock() {
            if m.len() >= MAX {
                m.clear();
            }
            m.insert(text.to_owned(), number.clone());
        }
    }
}

impl E164 {
    /// Parses a number typed by a person or sent by a provider. Numbers without a
    /// leading `+` are read in `default_region` (an ISO 3166 code such as "US").
    pub fn parse(input: &str, default_region: Option<&str>) -> Result<Self, Invalid> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(Invalid::new("a phone number is required"));
        }
        if trimmed.len() > 32 {
            return Err(Invalid::new("a phone number has at most 15 digits"));
        }
        // Letters are keypad digits to the parser ("1-800-FLOWERS"), which would turn a sender's name
        // ("AMAZON") or a stray word into someone's number: a number here is written in digits.
        if trimmed.chars().any(char::is_alphabetic) {
            return Err(Invalid::new(format!("{trimmed:?} is not a phone number: write it in digits")));
        }
        // Written in E.164 already (as providers send them): the country is in
        // the number, so the answer depends on the text alone and may be kept.
        let international =
            trimmed.strip_prefix('+').is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
        if international && let Some(known) = checked::get(trimmed) {
            return Ok(known);
        }
        let region = default_region.and_then(|r| r.to_ascii_uppercase().parse::<phonenumber::country::Id>().ok());
        let parsed = phonenumber::parse(region, trimmed)
            .map_err(|_| Invalid::new(format!("{trimmed:?} is not a phone number")))?;
        if !phonenumber::is_valid(&parsed) {
            return Err(Invalid::new(format!("{trimmed:?} is not a valid phone number")));
        }
        let e164 = parsed.format().mode(phonenumber::Mode::E164).to_string();
        // E.164 allows 15 digits at most, whatever a country's metadata accepts.
        if e164.len() > 16 {
            return Err(Invalid::new("a phone number has at most 15 digits"));
        }
        let number = E164(e164);
        if international {
            checked::keep(trimmed, &number);
        }
        Ok(number)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The area code of a North American (+1) number.
    pub fn nanp_area_code(&self) -> Option<u16> {
        self.0.strip_prefix("+1").filter(|rest| rest.len() == 10).and_then(|rest| rest[..3].parse().ok())
    }

    /// The ISO 3166 country the number belongs to ("US", "GB", "JM"…).
    pub fn region(&self) -> Option<String> {
        let n = phonenumber::parse(None, &self.0).ok()?;
        n.country().id().map(|id| id.as_ref().to_owned())
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for E164 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        E164::parse(&s, None).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_national_and_international_forms() {
        assert_eq!(E164::parse("+1 (415) 555-2671", None).unwrap().as_str(), "+14155552671");
        assert_eq!(E164::parse("415 555 2671", Some("us")).unwrap().as_str(), "+14155552671");
        assert_eq!(E164::parse("+44 20 7946 0958", None).unwrap().as_str(), "+442079460958");
    }

    #[test]
    fn knows_where_a_number_is() {
        let sf = E164::parse("+14155552671", None).unwrap();
        assert_eq!((sf.nanp_area_code(), sf.region().as_deref()), (Some(415), Some("US")));
        let london = E164::parse("+442079460958", None).unwrap();
        assert_eq!((london.nanp_area_code(), london.region().as_deref()), (None, Some("GB")));
        assert_eq!(E164::parse("+18764445555", None).unwrap().region().as_deref(), Some("JM"));
    }

    #[test]
    fn a_number_checked_before_reads_the_same_again() {
        // In any region, and as written with the national prefix after the country code.
        for (text, region, want) in [
            ("+14155552672", None, "+14155552672"),
            ("+14155552672", Some("gb"), "+14155552672"),
            ("+4402079460959", None, "+442079460959"),
            ("+4402079460959", Some("us"), "+442079460959"),
        ] {
            assert_eq!(E164::parse(text, region).unwrap().as_str(), want, "{text} in {region:?}");
        }
        // A number refused is refused again (it was never kept).
        for _ in 0..2 {
            assert!(E164::parse("+1555", None).is_err());
        }
    }

    #[test]
    fn rejects_what_is_not_a_number() {
        assert!(E164::parse("", None).is_err());
        assert!(E164::parse("hello", None).is_err());
        assert!(E164::parse("+1 555", None).is_err());
        assert!(E164::parse(&"9".repeat(40), None).is_err());
        // A national number without a region cannot be placed.
        assert!(E164::parse("4155552671", None).is_err());
    }
}
