//! The satisfaction poll section of an inbox's settings page: the stored
//! `survey` object as form fields, and the fields back as the object the
//! settings check reads (one reading of the rules: `core::survey_settings`).
//! Its fields are flattened into the page's one form (`settings::SectionForm`).

use serde::Deserialize;
use serde_json::{Map, Value, json};
use textdesk_core::survey::SurveyKind;
use textdesk_store::Inbox;

use crate::services::surveys::survey_settings;

/// The language the unlabelled box is stored under.
const FIRST: &str = "en";

/// The poll's kinds for the form's choice: value, words.
const KINDS: [(&str, &str); 3] = [
    ("csat", "How did we do? 1 to 5 (CSAT)"),
    ("nps", "Would you recommend us? 0 to 10 (NPS)"),
    ("yes_no", "Did we solve your problem? Yes or no"),
];

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct SurveyFields {
    pub(crate) survey_enabled: Option<String>,
    pub(crate) survey_kind: String,
    pub(crate) survey_delay: String,
    pub(crate) survey_suppress: String,
    pub(crate) survey_expire: String,
    pub(crate) survey_question: String,
    /// Other languages, `es: ¿Cómo lo hicimos?` per line.
    pub(crate) survey_questions: String,
    pub(crate) survey_followup: String,
    pub(crate) survey_followups: String,
}

impl SurveyFields {
    /// The inbox's settings as the form shows them.
    pub(crate) fn of(inbox: &Inbox) -> Self {
        let s = survey_settings(inbox);
        SurveyFields {
            survey_enabled: s.enabled.then(|| "on".into()),
            survey_kind: s.kind.as_str().into(),
            survey_delay: s.delay_minutes.to_string(),
            survey_suppress: s.suppress_days.to_string(),
            survey_expire: s.expire_days.to_string(),
            survey_question: s.question.get(FIRST).cloned().unwrap_or_default(),
            survey_questions: others(&s.question),
            survey_followup: s.followup.get(FIRST).cloned().unwrap_or_default(),
            survey_followups: others(&s.followup),
        }
    }

    /// The `survey` change the form asks for, or what to fix.
    pub(crate) fn changes(&self) -> Result<Map<String, Value>, String> {
        let kind = SurveyKind::parse(self.survey_kind.trim()).unwrap_or(SurveyKind::Csat);
        let mut survey = Map::new();
        survey.insert("enabled".into(), json!(self.survey_enabled.is_some()));
        survey.insert("kind".into(), json!(kind.as_str()));
        for (key, label, text) in [
            ("delay_minutes", "Minutes after resolving", &self.survey_delay),
            ("suppress_days", "Days between polls to one person", &self.survey_suppress),
            ("expire_days", "Days to wait for an answer", &self.survey_expire),
        ] {
            let t = text.trim();
            if !t.is_empty() {
                let n: u32 = t.parse().map_err(|_| format!("{label}: {t:?} is not a whole number"))?;
                survey.insert(key.into(), json!(n));
            }
        }
        let question = wording("Question in other languages", &self.survey_question, &self.survey_questions)?;
        survey.insert("question".into(), question);
        let followup = wording("Follow-up in other languages", &self.survey_followup, &self.survey_followups)?;
        survey.insert("followup".into(), followup);
        let mut changes = Map::new();
        changes.insert("survey".into(), Value::Object(survey));
        Ok(changes)
    }

    pub(crate) fn kinds(&self) -> &'static [(&'static str, &'static str)] {
        &KINDS
    }

    /// What goes when the question box is left empty: the chosen kind's words.
    pub(crate) fn default_question(&self) -> &'static str {
        SurveyKind::parse(&self.survey_kind).unwrap_or(SurveyKind::Csat).default_question()
    }

    pub(crate) fn default_followup(&self) -> &'static str {
        textdesk_core::survey_settings::DEFAULT_FOLLOWUP
    }
}

/// `es: ¿Cómo lo hicimos?` per line.
fn others(map: &std::collections::BTreeMap<String, String>) -> String {
    map.iter().filter(|(k, _)| k.as_str() != FIRST).map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("\n")
}

fn wording(field: &str, first: &str, more: &str) -> Result<Value, String> {
    let mut map = Map::new();
    if !first.trim().is_empty() {
        map.insert(FIRST.into(), json!(first.trim()));
    }
    for line in more.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((lang, text)) = line.split_once(':') else {
            return Err(format!("{field}: write each language on its own line as \"es: the words\" (not {line:?})"));
        };
        map.insert(lang.trim().to_owned(), json!(text.trim()));
    }
    Ok(Value::Object(map))
}
