//! The satisfaction poll section of an inbox's settings page: the stored
//! `survey` object as form fields, and the fields back as the object the
//! settings check reads (one reading of the rules: `core::survey_settings`).

use serde_json::{Map, Value, json};
use textdesk_core::survey::SurveyKind;
use textdesk_store::Inbox;

use crate::http::inboxes::settings::{SectionForm, number, opt};
use crate::services::surveys::survey_settings;

/// The language the unlabelled box is stored under.
const FIRST: &str = "en";

pub(crate) fn fill(f: &mut SectionForm, inbox: &Inbox) {
    let s = survey_settings(inbox);
    f.survey_enabled = s.enabled.then(|| "on".into());
    f.survey_kind = s.kind.as_str().into();
    f.survey_delay = s.delay_minutes.to_string();
    f.survey_suppress = s.suppress_days.to_string();
    f.survey_expire = s.expire_days.to_string();
    f.survey_question = s.question.get(FIRST).cloned().unwrap_or_default();
    f.survey_questions = others(&s.question);
    f.survey_followup = s.followup.get(FIRST).cloned().unwrap_or_default();
    f.survey_followups = others(&s.followup);
}

pub(crate) fn merge(stored: &mut SectionForm, typed: SectionForm) {
    stored.survey_enabled = typed.survey_enabled;
    stored.survey_kind = typed.survey_kind;
    stored.survey_delay = typed.survey_delay;
    stored.survey_suppress = typed.survey_suppress;
    stored.survey_expire = typed.survey_expire;
    stored.survey_question = typed.survey_question;
    stored.survey_questions = typed.survey_questions;
    stored.survey_followup = typed.survey_followup;
    stored.survey_followups = typed.survey_followups;
}

/// `es: ¿Cómo lo hicimos?` per line.
fn others(map: &std::collections::BTreeMap<String, String>) -> String {
    map.iter().filter(|(k, _)| k.as_str() != FIRST).map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("\n")
}

fn wording(field: &str, first: &str, more: &str) -> Result<Value, String> {
    let mut map = Map::new();
    if let Some(t) = opt(first) {
        map.insert(FIRST.into(), json!(t));
    }
    for line in more.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((lang, text)) = line.split_once(':') else {
            return Err(format!("{field}: write each language on its own line as \"es: the words\" (not {line:?})"));
        };
        map.insert(lang.trim().to_owned(), json!(text.trim()));
    }
    Ok(Value::Object(map))
}

/// The `survey` change the form asks for.
pub(crate) fn changes(f: &SectionForm) -> Result<Map<String, Value>, String> {
    let kind = SurveyKind::parse(f.survey_kind.trim()).unwrap_or(SurveyKind::Csat);
    let mut survey = Map::new();
    survey.insert("enabled".into(), json!(f.survey_enabled.is_some()));
    survey.insert("kind".into(), json!(kind.as_str()));
    let whole = "a whole number";
    for (key, label, text) in [
        ("delay_minutes", "Minutes after resolving", &f.survey_delay),
        ("suppress_days", "Days between polls to one person", &f.survey_suppress),
        ("expire_days", "Days to wait for an answer", &f.survey_expire),
    ] {
        if let Some(n) = number::<u32>(label, text, whole)? {
            survey.insert(key.into(), json!(n));
        }
    }
    survey.insert("question".into(), wording("Question in other languages", &f.survey_question, &f.survey_questions)?);
    survey.insert("followup".into(), wording("Follow-up in other languages", &f.survey_followup, &f.survey_followups)?);
    let mut changes = Map::new();
    changes.insert("survey".into(), Value::Object(survey));
    Ok(changes)
}

/// The poll's kinds for the form's choice: value, words.
pub(crate) const KINDS: [(&str, &str); 3] = [
    ("csat", "How did we do? 1 to 5 (CSAT)"),
    ("nps", "Would you recommend us? 0 to 10 (NPS)"),
    ("yes_no", "Did we solve your problem? Yes or no"),
];

impl crate::http::inboxes::settings::InboxPage {
    pub(crate) fn survey_kinds(&self) -> &'static [(&'static str, &'static str)] {
        &KINDS
    }

    /// What goes when the question box is left empty: the chosen kind's words.
    pub(crate) fn survey_default_question(&self) -> &'static str {
        SurveyKind::parse(&self.form.survey_kind).unwrap_or(SurveyKind::Csat).default_question()
    }

    pub(crate) fn survey_default_followup(&self) -> &'static str {
        textdesk_core::survey_settings::DEFAULT_FOLLOWUP
    }
}
