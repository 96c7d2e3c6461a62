//! What the pages show of provider templates (WhatsApp's): the inbox
//! settings' list and the composer's picker with the reply window in words.
//! A leaf: the handlers that change things are in `http::templates`.

use jiff::Timestamp;
use textdesk_core::channel_template::{HeaderFormat, TemplateText};
use textdesk_store::Conversation;

use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::services::templates::parts_of;

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
    /// A text header's words (shown over the body; its {{1}} filled by `header_field`).
    pub(crate) header_text: Option<String>,
    /// The header's field, where it takes a value.
    pub(crate) header_field: Option<HeaderField>,
    /// A field per button that takes a value.
    pub(crate) buttons: Vec<PickerButton>,
}

/// The header's field in the picker: its label, and whether it takes a link (a file header).
pub(crate) struct HeaderField {
    pub(crate) label: String,
    pub(crate) link: bool,
}

/// A button's field in the picker: a quick reply's payload (optional) or a URL's ending.
pub(crate) struct PickerButton {
    pub(crate) index: usize,
    pub(crate) label: String,
    pub(crate) required: bool,
}

impl PickerTemplate {
    fn of(t: textdesk_store::ChannelTemplate) -> Self {
        let n = TemplateText::new(&t.body).variables();
        let parts = parts_of(&t);
        let header_text = match &parts.header {
            Some(HeaderFormat::Text { text }) => Some(text.clone()),
            _ => None,
        };
        let header_field = match &parts.header {
            Some(HeaderFormat::Text { text }) if TemplateText::new(text).variables() > 0 => {
                Some(HeaderField { label: "Value for {{1}} in the header".to_owned(), link: false })
            }
            Some(HeaderFormat::Text { .. } | HeaderFormat::Location) | None => None,
            Some(_) => Some(HeaderField {
                label: format!("Link to the header file ({}, public https address)", parts.header_words()),
                link: true,
            }),
        };
        let buttons = parts
            .buttons
            .iter()
            .enumerate()
            .filter(|(_, b)| b.takes_value())
            .map(|(index, b)| PickerButton {
                index,
                label: if b.needs_value() {
                    format!(
                        "Ending of the address of the “{}” button ({})",
                        b.text,
                        b.url.as_deref().unwrap_or_default()
                    )
                } else {
                    format!("Payload of the “{}” button (optional, comes back when tapped)", b.text)
                },
                required: b.needs_value(),
            })
            .collect();
        PickerTemplate {
            id: t.id,
            name: t.name,
            language: t.language,
            category: t.category.to_lowercase(),
            body: t.body,
            variables: (1..=n).collect(),
            header_text,
            header_field,
            buttons,
        }
    }
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

pub(crate) async fn picker(s: &AppState, conversation: &Conversation) -> Result<Picker, Problem> {
    let now = Timestamp::now();
    let account_id = conversation.account_id;
    let Some(window) = s.services.reply_window(conversation, now).await? else {
        return Ok(Picker::default());
    };
    let templates: Vec<PickerTemplate> =
        s.services.conversation_templates(conversation).await?.into_iter().map(PickerTemplate::of).collect();
    let tz = &s.services.business_zone(account_id).await?;
    let zone = tz.iana_name().unwrap_or("UTC");
    let clock = |t: Timestamp| format!("{} ({zone} time)", t.to_zoned(tz.clone()).strftime("%b %-d, %-I:%M %p"));
    let note = window_words(&window, now, clock);
    // Closed: nothing typed can go; Messenger's human-agent days leave the composer open.
    let closed = !window.open && window.person_until.is_none_or(|until| now >= until);
    Ok(Picker { templates, closed, note: Some(note) })
}

/// A conversation's reply window in words, each time written by `clock`.
fn window_words(
    w: &crate::services::templates::ReplyWindow,
    now: Timestamp,
    clock: impl Fn(Timestamp) -> String,
) -> String {
    use textdesk_core::Medium;
    let app = w.medium.label();
    let hours = match w.medium {
        Medium::Wechat => 48,
        _ => 24,
    };
    let Some(closes) = w.closes_at else {
        return match w.medium {
            Medium::Whatsapp => {
                "The customer has not written on WhatsApp yet: only an approved template can start the conversation."
                    .into()
            }
            _ => format!("The customer has not written on {app} yet: the business cannot start the conversation."),
        };
    };
    match (w.medium, w.open, w.person_until) {
        (Medium::Whatsapp, true, _) => format!(
            "WhatsApp lets you reply freely until {}, 24 hours after the customer's last message; after that, only an approved template.",
            clock(closes)
        ),
        (Medium::Whatsapp, false, _) => format!(
            "The 24-hour reply window closed at {}. WhatsApp only takes an approved template now; the customer's answer opens the window again.",
            clock(closes)
        ),
        (_, true, Some(until)) => format!(
            "{app} lets you reply freely until {}, {hours} hours after the customer's last message; after that, only a person's reply, sent as a human agent's, until {}.",
            clock(closes),
            clock(until)
        ),
        (_, false, Some(until)) if now < until => format!(
            "The {hours}-hour window closed at {}. {app} still takes your reply as a human agent's reply until {} (7 days after the customer wrote); automatic messages cannot go.",
            clock(closes),
            clock(until)
        ),
        (_, false, Some(until)) => format!(
            "{app} takes nothing more: a person's reply was possible until {}. The customer needs to write first.",
            clock(until)
        ),
        (_, true, None) => {
            format!("{app} lets you reply until {}, {hours} hours after the customer's last message.", clock(closes))
        }
        (_, false, None) => format!(
            "The {hours}-hour reply window closed at {}. {app} takes nothing more until the customer writes again.",
            clock(closes)
        ),
    }
}
