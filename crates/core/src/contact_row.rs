//! One line of a contacts CSV file, as imported and exported: the columns,
//! and a row checked field by field, each fault named by its column in words
//! a person fixing the spreadsheet understands.
//!
//! Columns: `name`, `phone` (required), `email`, `time_zone`, the consent
//! evidence `consent_state`, `consent_source`, `consent_evidence`,
//! `consent_recorded_at`, and any other column is a contact attribute of that
//! name (`labels`, `plan`, …). Column names are matched without case.

use jiff::Timestamp;

use crate::{AttributeKey, AttributeValue, ConsentState, ContactName, E164, Email, Invalid};

/// The columns every export writes, in order, before the attributes.
pub const FIXED: [&str; 8] = [
    "name",
    "phone",
    "email",
    "time_zone",
    "consent_state",
    "consent_source",
    "consent_evidence",
    "consent_recorded_at",
];

/// The attribute the email column is kept in (the one email escalations read).
pub const EMAIL_ATTRIBUTE: &str = "email";

/// A file's header: where each known column is, and which are attributes.
#[derive(Debug, Clone)]
pub struct Columns {
    names: Vec<String>,
    fixed: [Option<usize>; 8],
    attributes: Vec<(usize, AttributeKey)>,
}

/// What is wrong with one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The line of the file it starts on (the header is line 1).
    pub line: u64,
    /// The column at fault, when it is one column.
    pub column: Option<String>,
    pub reason: String,
}

/// Consent evidence brought in from another system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedConsent {
    pub state: ConsentState,
    /// How it was given there (`web_form`, `paper`, …).
    pub source: String,
    pub evidence: String,
    pub recorded_at: Timestamp,
}

/// A row that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRow {
    pub line: u64,
    /// Empty when the file leaves it empty (an existing contact keeps theirs).
    pub name: String,
    pub phone: E164,
    pub time_zone: Option<String>,
    /// Set on the contact, email included; other keys are kept.
    pub attributes: Vec<(AttributeKey, AttributeValue)>,
    pub consent: Option<ImportedConsent>,
}

impl Columns {
    /// Reads the header row; a byte-order mark before the first name is ignored.
    pub fn parse(header: &[String]) -> Result<Columns, Invalid> {
        let names: Vec<String> =
            header.iter().map(|h| h.trim_start_matches('\u{feff}').trim().to_lowercase()).collect();
        let mut fixed = [None; 8];
        let mut attributes = Vec::new();
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err(Invalid::new(format!("the column {n:?} appears twice in the header")));
            }
            match FIXED.iter().position(|f| f == n) {
                Some(k) => fixed[k] = Some(i),
                None => {
                    let key = AttributeKey::parse(n).map_err(|e| {
                        Invalid::new(format!("the column {n:?} is neither a known column nor an attribute name: {e}"))
                    })?;
                    attributes.push((i, key));
                }
            }
        }
        if fixed[1].is_none() {
            return Err(Invalid::new(format!(
                "the header has no \"phone\" column (its columns are: {})",
                names.join(", ")
            )));
        }
        Ok(Columns { names, fixed, attributes })
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    fn get<'a>(&self, fields: &'a [String], k: usize) -> &'a str {
        self.fixed[k].and_then(|i| fields.get(i)).map(|s| s.trim()).unwrap_or("")
    }

    /// Checks one record of the file, which starts on `line`; `region` reads
    /// numbers written without their country code; `now` bounds the dates.
    pub fn row(
        &self,
        fields: &[String],
        line: u64,
        region: Option<&str>,
        now: Timestamp,
    ) -> Result<ContactRow, Vec<RowError>> {
        let fault = |column: &str, reason: String| RowError { line, column: Some(column.to_owned()), reason };
        if fields.len() != self.len() {
            return Err(vec![RowError {
                line,
                column: None,
                reason: format!("it has {} columns where the header has {}", fields.len(), self.len()),
            }]);
        }
        let mut errors = Vec::new();
        let name = match ContactName::parse(self.get(fields, 0)) {
            Ok(n) => n.as_str().to_owned(),
            Err(e) => {
                errors.push(fault("name", e.0));
                String::new()
            }
        };
        let phone = match self.get(fields, 1) {
            "" => {
                errors.push(fault("phone", "a phone number is needed".into()));
                None
            }
            raw => E164::parse(raw, region).map_err(|e| errors.push(fault("phone", e.0))).ok(),
        };
        let mut attributes = Vec::new();
        match self.get(fields, 2) {
            "" => {}
            raw => match Email::parse(raw) {
                Ok(e) => match (AttributeKey::parse(EMAIL_ATTRIBUTE), AttributeValue::parse(e.as_str())) {
                    (Ok(k), Ok(v)) => attributes.push((k, v)),
                    (_, Err(e)) | (Err(e), _) => errors.push(fault("email", e.0)),
                },
                Err(e) => errors.push(fault("email", e.0)),
            },
        }
        let time_zone = match self.get(fields, 3) {
            "" => None,
            z if jiff::tz::TimeZone::get(z).is_ok() => Some(z.to_owned()),
            z => {
                errors.push(fault("time_zone", format!("{z:?} is not a time zone (use a name like America/Chicago)")));
                None
            }
        };
        for (i, key) in &self.attributes {
            let raw = fields[*i].trim();
            if raw.is_empty() {
                continue;
            }
            match AttributeValue::parse(raw) {
                Ok(v) => attributes.push((key.clone(), v)),
                Err(e) => errors.push(fault(key.as_str(), e.0)),
            }
        }
        let consent = self.consent(fields, now).map_err(|e| errors.extend(e.into_iter().map(|(c, r)| fault(c, r))));
        match (phone, consent) {
            (Some(phone), Ok(consent)) if errors.is_empty() => {
                Ok(ContactRow { line, name, phone, time_zone, attributes, consent })
            }
            _ => Err(errors),
        }
    }

    fn consent(
        &self,
        fields: &[String],
        now: Timestamp,
    ) -> Result<Option<ImportedConsent>, Vec<(&'static str, String)>> {
        let (state, source, evidence, at) =
            (self.get(fields, 4), self.get(fields, 5), self.get(fields, 6), self.get(fields, 7));
        if state.is_empty() {
            if [source, evidence, at].iter().any(|s| !s.is_empty()) {
                return Err(vec![("consent_state", "consent evidence is given without a consent state".into())]);
            }
            return Ok(None);
        }
        let mut errors = Vec::new();
        let state = match state.to_lowercase().as_str() {
            "opted_in" | "opt_in" | "in" => Some(ConsentState::OptedIn),
            "opted_out" | "opt_out" | "out" => Some(ConsentState::OptedOut),
            _ => {
                errors.push(("consent_state", format!("{state:?} is not a consent state: opted_in or opted_out")));
                None
            }
        };
        if source.is_empty() || source.chars().count() > 40 {
            errors
                .push(("consent_source", "say how consent was given, in 1 to 40 characters (web_form, paper…)".into()));
        }
        if evidence.chars().count() > 1000 {
            errors.push(("consent_evidence", "the evidence is longer than 1000 characters".into()));
        }
        let recorded_at = match parse_when(at) {
            Ok(t) if t > now => {
                errors.push(("consent_recorded_at", format!("{at:?} is in the future")));
                None
            }
            Ok(t) => Some(t),
            Err(reason) => {
                errors.push(("consent_recorded_at", reason));
                None
            }
        };
        match (state, recorded_at) {
            (Some(state), Some(recorded_at)) if errors.is_empty() => Ok(Some(ImportedConsent {
                state,
                source: source.to_owned(),
                evidence: evidence.to_owned(),
                recorded_at,
            })),
            _ => Err(errors),
        }
    }
}

/// An instant (`2026-03-01T09:30:00Z`, with its offset) or a day (`2026-03-01`, read as its start in UTC).
fn parse_when(s: &str) -> Result<Timestamp, String> {
    if s.is_empty() {
        return Err("when consent was recorded is needed with a consent state (like 2026-03-01T09:30:00Z)".into());
    }
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>()
        && let Ok(z) = d.to_zoned(jiff::tz::TimeZone::UTC)
    {
        return Ok(z.timestamp());
    }
    Err(format!("{s:?} is not a date: write it like 2026-03-01 or 2026-03-01T09:30:00Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn now() -> Timestamp {
        "2026-12-04T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn the_header_names_known_columns_and_attributes() {
        let c = Columns::parse(&strings(&["\u{feff}Name", "PHONE", "plan", "consent_state"])).unwrap();
        assert_eq!(c.len(), 4);
        let row = c.row(&strings(&["Ana", "+1 415 555 0111", "pro", ""]), 2, None, now()).unwrap();
        assert_eq!(row.phone.as_str(), "+14155550111");
        assert_eq!(row.attributes[0].0.as_str(), "plan");
        assert!(Columns::parse(&strings(&["name"])).unwrap_err().0.contains("no \"phone\""));
        assert!(Columns::parse(&strings(&["phone", "Phone"])).unwrap_err().0.contains("twice"));
        assert!(Columns::parse(&strings(&["phone", "first name"])).unwrap_err().0.contains("first name"));
    }

    #[test]
    fn each_bad_field_is_named_with_its_reason() {
        let c = Columns::parse(&strings(&FIXED)).unwrap();
        let bad = c
            .row(&strings(&["Ana", "12", "not-an-email", "Mars/Base", "maybe", "", "", "yesterday"]), 7, None, now())
            .unwrap_err();
        let columns: Vec<&str> = bad.iter().map(|e| e.column.as_deref().unwrap()).collect();
        assert_eq!(columns, ["phone", "email", "time_zone", "consent_state", "consent_source", "consent_recorded_at"]);
        assert!(bad.iter().all(|e| e.line == 7));
        let short = c.row(&strings(&["Ana", "+14155550111"]), 9, None, now()).unwrap_err();
        assert_eq!(short[0].column, None);
        assert!(short[0].reason.contains("2 columns where the header has 8"));
        let future = c
            .row(&strings(&["", "+14155550111", "", "", "opted_in", "web", "", "2027-01-01"]), 3, None, now())
            .unwrap_err();
        assert!(future[0].reason.contains("future"));
    }

    #[test]
    fn consent_evidence_is_read_whole() {
        let c = Columns::parse(&strings(&FIXED)).unwrap();
        let row = c
            .row(
                &strings(&[
                    "Ana",
                    "(415) 555-0111",
                    "ana@example.com",
                    "America/Chicago",
                    "opted_in",
                    "web_form",
                    "signup form #88",
                    "2026-03-01",
                ]),
                2,
                Some("US"),
                now(),
            )
            .unwrap();
        let consent = row.consent.unwrap();
        assert_eq!(consent.state, ConsentState::OptedIn);
        assert_eq!(consent.recorded_at.to_string(), "2026-03-01T00:00:00Z");
        assert_eq!(row.attributes[0].1.as_str(), "ana@example.com");
        let no_state = c.row(&strings(&["", "+14155550111", "", "", "", "web", "", ""]), 4, None, now()).unwrap_err();
        assert_eq!(no_state[0].column.as_deref(), Some("consent_state"));
    }
}
