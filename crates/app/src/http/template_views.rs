//! What the pages show of provider templates (WhatsApp's): the inbox
//! settings' list and the composer's picker with the reply window in words.
//! A leaf: the handlers that change things are in `http::templates`.

use jiff::Timestamp;
use textdesk_core::channel_template::TemplateText;

use crate::http::problem::Problem;
use crate::http::state::AppState;

/// A template as the settings page lists it.
pub(crate) struct TemplateRow {
    pub(crate) name: String,
    pub(crate) language: String,
    pub(crate) status: String,
    pub(crate) category: String,
    pub(crate) body: String,
}

pub(crate) async fn rows(s: &AppState, account_id: i64, inbox_id: i64) -> Result<Vec<TemplateRow>, Problem> {
    Ok(s.services
        .inbox_templates(account_id, inbox_id)
        .await?
        .into_iter()
        .map(|t| TemplateRow {
            name: t.name,
            language: t.language,
            status: t.status.to_lowercase(),
            category: t.category.to_lowercase(),
            body: t.body,
        })
        .collect())
}

/// One approved template in the composer's picker.
pub(crate) struct PickerTemplate {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) language: String,
    pub(crate) category: String,
    pub(crate) body: String,
    /// 1, 2, … one field each.
    pub(crate) variables: Vec<usize>,
}

/// The composer's template picker and the reply window's state.
#[derive(Default)]
pub(crate) struct Picker {
    pub(crate) templates: Vec<PickerTemplate>,
    /// The channel has a reply window and it has closed: only a template goes.
    pub(crate) closed: bool,
    /// The window in words ("Free-form replies until 3:12 PM tomorrow (business time)").
    pub(crate) note: Option<String>,
}

pub(crate) async fn picker(s: &AppState, account_id: i64, conversation_id: i64) -> Result<Picker, Problem> {
    let now = Timestamp::now();
    let Some(window) = s.services.reply_window(account_id, conversation_id, now).await? else {
        return Ok(Picker::default());
    };
    let templates: Vec<PickerTemplate> = s
        .services
        .conversation_templates(account_id, conversation_id)
        .await?
        .into_iter()
        .map(|t| {
            let n = TemplateText::new(&t.body).variables();
            PickerTemplate {
                id: t.id,
                name: t.name,
                language: t.language,
                category: t.category.to_lowercase(),
                body: t.body,
                variables: (1..=n).collect(),
            }
        })
        .collect();
    let tz = &s.services.business_zone(account_id).await?;
    let clock = |t: Timestamp| t.to_zoned(tz.clone()).strftime("%b %-d, %-I:%M %p").to_string();
    let zone = tz.iana_name().unwrap_or("UTC");
    let note = match window.closes_at {
        Some(at) if window.open => Some(format!(
            "WhatsApp lets you reply freely until {} ({zone} time), 24 hours after the customer's last message; after that, only an approved template.",
            clock(at)
        )),
        Some(at) => Some(format!(
            "The 24-hour reply window closed at {} ({zone} time). WhatsApp only takes an approved template now; the customer's answer opens the window again.",
            clock(at)
        )),
        None => Some(
            "The customer has not written on WhatsApp yet: only an approved template can start the conversation."
                .into(),
        ),
    };
    Ok(Picker { templates, closed: !window.open, note })
}
