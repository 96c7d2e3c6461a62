//! An inbox's satisfaction poll settings (F10), as stored under the inbox's
//! `settings.survey` and edited on its settings page and through the API:
//! whether a poll goes after a resolve, which question, how long after, its
//! wording per language, the follow-up after a low score, how many days a
//! contact is spared another poll, and when an unanswered poll expires.

use std::collections::BTreeMap;

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use crate::Invalid;
use crate::survey::SurveyKind;

/// The follow-up after a low score, unless the inbox words it.
pub const DEFAULT_FOLLOWUP: &str = "Sorry we let you down. What went wrong? Your reply goes straight to our team.";

/// The longest poll or follow-up text (three SMS segments of GSM-7).
pub const MAX_WORDING_CHARS: usize = 459;

const MAX_DELAY_MINUTES: u32 = 7 * 24 * 60;
const MAX_SUPPRESS_DAYS: u32 = 365;
const MAX_EXPIRE_DAYS: u32 = 30;
const MAX_LANGUAGES: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SurveySettings {
    pub enabled: bool,
    pub kind: SurveyKind,
    /// Minutes after the resolve (default 5).
    pub delay_minutes: u32,
    /// The question by language code (`en`, `es`, `pt-BR`); missing: the
    /// kind's default wording.
    pub question: BTreeMap<String, String>,
    /// What a low score is asked next, by language.
    pub followup: BTreeMap<String, String>,
    /// No poll to a contact who was sent one in this many days (default 7; 0: no limit).
    pub suppress_days: u32,
    /// Days a poll waits for its answer (default 3).
    pub expire_days: u32,
}

impl Default for SurveySettings {
    fn default() -> Self {
        SurveySettings {
            enabled: false,
            kind: SurveyKind::Csat,
            delay_minutes: 5,
            question: BTreeMap::new(),
            followup: BTreeMap::new(),
            suppress_days: 7,
            expire_days: 3,
        }
    }
}

impl SurveySettings {
    /// Reads and checks the `survey` object; errors name the field.
    pub fn parse(value: &serde_json::Value) -> Result<Self, Invalid> {
        let s: SurveySettings =
            serde_json::from_value(value.clone()).map_err(|e| Invalid::new(format!("survey: {e}")))?;
        s.check()?;
        Ok(s)
    }

    fn check(&self) -> Result<(), Invalid> {
        if self.delay_minutes > MAX_DELAY_MINUTES {
            return Err(Invalid::new(format!("survey.delay_minutes: 0 to {MAX_DELAY_MINUTES} (a week)")));
        }
        if self.suppress_days > MAX_SUPPRESS_DAYS {
            return Err(Invalid::new(format!("survey.suppress_days: 0 to {MAX_SUPPRESS_DAYS}")));
        }
        if !(1..=MAX_EXPIRE_DAYS).contains(&self.expire_days) {
            return Err(Invalid::new(format!("survey.expire_days: 1 to {MAX_EXPIRE_DAYS}")));
        }
        for (field, map) in [("question", &self.question), ("followup", &self.followup)] {
            if map.len() > MAX_LANGUAGES {
                return Err(Invalid::new(format!("survey.{field}: at most {MAX_LANGUAGES} languages")));
            }
            for (lang, text) in map {
                if !is_language(lang) {
                    return Err(Invalid::new(format!(
                        "survey.{field}: {lang:?} is not a language code such as en, es or pt-BR"
                    )));
                }
                let n = text.trim().chars().count();
                if n == 0 || n > MAX_WORDING_CHARS {
                    return Err(Invalid::new(format!("survey.{field}.{lang}: 1 to {MAX_WORDING_CHARS} characters")));
                }
            }
        }
        Ok(())
    }

    pub fn delay(&self) -> SignedDuration {
        SignedDuration::from_mins(self.delay_minutes.into())
    }

    pub fn suppress_for(&self) -> SignedDuration {
        SignedDuration::from_hours(i64::from(self.suppress_days) * 24)
    }

    pub fn expire_after(&self) -> SignedDuration {
        SignedDuration::from_hours(i64::from(self.expire_days) * 24)
    }

    /// The question in the contact's language (their `language` attribute),
    /// else English, else any wording given, else the kind's default.
    pub fn question_for(&self, language: Option<&str>) -> String {
        pick(&self.question, language).unwrap_or_else(|| self.kind.default_question().to_owned())
    }

    pub fn followup_for(&self, language: Option<&str>) -> String {
        pick(&self.followup, language).unwrap_or_else(|| DEFAULT_FOLLOWUP.to_owned())
    }
}

/// `en`, `es`, `pt-BR`, `zh-Hant`: a primary tag of 2–3 letters and an optional region or script.
fn is_language(s: &str) -> bool {
    let mut parts = s.split('-');
    let primary = parts.next().unwrap_or("");
    let rest: Vec<&str> = parts.collect();
    (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_lowercase())
        && rest.len() <= 1
        && rest.iter().all(|r| (2..=4).contains(&r.len()) && r.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn pick(map: &BTreeMap<String, String>, language: Option<&str>) -> Option<String> {
    let lang = language.map(|l| l.trim().replace('_', "-").to_lowercase());
    let found = lang.as_deref().and_then(|l| {
        let primary = l.split('-').next().unwrap_or(l);
        map.iter()
            .find(|(k, _)| k.to_lowercase() == l)
            .or_else(|| map.iter().find(|(k, _)| k.split('-').next() == Some(primary)))
    });
    found.or_else(|| map.get_key_value("en")).or_else(|| map.iter().next()).map(|(_, v)| v.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_the_issues() {
        let s = SurveySettings::parse(&json!({})).unwrap();
        assert!(!s.enabled);
        assert_eq!((s.kind, s.delay_minutes, s.suppress_days, s.expire_days), (SurveyKind::Csat, 5, 7, 3));
        assert_eq!(s.question_for(Some("fr")), SurveyKind::Csat.default_question());
        assert_eq!(s.followup_for(None), DEFAULT_FOLLOWUP);
    }

    #[test]
    fn wording_follows_the_contacts_language() {
        let s = SurveySettings::parse(&json!({
            "enabled": true, "kind": "nps",
            "question": { "en": "Recommend us? 0-10", "es": "¿Nos recomendaría? 0-10", "pt-BR": "Recomendaria? 0-10" }
        }))
        .unwrap();
        assert_eq!(s.question_for(Some("es")), "¿Nos recomendaría? 0-10");
        assert_eq!(s.question_for(Some("es-MX")), "¿Nos recomendaría? 0-10");
        assert_eq!(s.question_for(Some("pt_br")), "Recomendaria? 0-10");
        assert_eq!(s.question_for(Some("de")), "Recommend us? 0-10");
        assert_eq!(s.question_for(None), "Recommend us? 0-10");
    }

    #[test]
    fn bad_settings_name_their_field() {
        for (v, field) in [
            (json!({ "kind": "stars" }), "survey:"),
            (json!({ "delay": 5 }), "survey:"),
            (json!({ "delay_minutes": 999_999 }), "survey.delay_minutes"),
            (json!({ "expire_days": 0 }), "survey.expire_days"),
            (json!({ "suppress_days": 400 }), "survey.suppress_days"),
            (json!({ "question": { "english": "Hi" } }), "survey.question"),
            (json!({ "question": { "en": "  " } }), "survey.question.en"),
            (json!({ "followup": { "en": "x".repeat(500) } }), "survey.followup.en"),
        ] {
            let e = SurveySettings::parse(&v).unwrap_err();
            assert!(e.0.starts_with(field), "{v}: {e}");
        }
    }
}
