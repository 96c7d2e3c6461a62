//! A conversation's transcript (F12): a print-ready page and the same as JSON,
//! every message and timeline entry in order, times on the business's clock,
//! named.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::conversations::api::{ConversationOut, TimelineOut};
use crate::http::conversations::timeline_words::describe_event;
use crate::http::extract::{ApiUser, ClientIp, Json, Path, UiUser};
use crate::http::layout::{Chrome, chrome};
use crate::http::messages::api::MessageOut;
use crate::http::problem::{ApiResult, Problem, ProblemOut};
use crate::http::state::AppState;
use crate::services::transcript::{Entry, MAX_MESSAGES, Transcript};

/// A time with its date, on the business's clock (the page names the zone once).
fn stamp(t: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> String {
    t.to_zoned(tz.clone()).strftime("%a %b %-d, %Y, %-I:%M %p").to_string()
}

/// One line of the page.
pub struct Line {
    pub(crate) time: String,
    /// `in`, `out`, `note` or `event`.
    pub(crate) class: &'static str,
    pub(crate) who: String,
    pub(crate) text: String,
    pub(crate) status: String,
    /// Attachments by type and size (a printout cannot open a link).
    pub(crate) files: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "transcript.html")]
pub struct TranscriptPage {
    pub(crate) chrome: Chrome,
    pub(crate) id: i64,
    pub(crate) contact: String,
    pub(crate) address: String,
    pub(crate) inbox: String,
    pub(crate) status: String,
    pub(crate) assignee: String,
    pub(crate) zone: String,
    pub(crate) printed: String,
    pub(crate) lines: Vec<Line>,
    pub(crate) cut: bool,
    pub(crate) max: usize,
}

/// The customer as the page names them: their name, or their number when nobody wrote one down.
pub(crate) fn customer(t: &Transcript) -> String {
    let name = t.summary.contact_name.trim();
    if name.is_empty() { t.summary.contact_address.clone() } else { name.to_owned() }
}

pub(crate) fn lines(t: &Transcript, tz: &jiff::tz::TimeZone) -> Vec<Line> {
    use textdesk_core::Direction;
    let customer = customer(t);
    t.entries()
        .into_iter()
        .map(|(at, e)| match e {
            Entry::Message(m) => {
                let (class, who) = match (m.direction, m.private) {
                    (_, true) => ("note", format!("{} (private note)", m.author_name.clone().unwrap_or_default())),
                    (Direction::Inbound, _) => ("in", customer.clone()),
                    (Direction::Outbound, _) => ("out", m.author_name.clone().unwrap_or_else(|| "Automatic".into())),
                };
                let files = m
                    .media
                    .iter()
                    .map(|f| {
                        let kind = f.content_type.clone().unwrap_or_else(|| "file".into());
                        match f.size_bytes {
                            Some(n) => format!("{kind}, {} KB", (n + 1023) / 1024),
                            None => kind,
                        }
                    })
                    .collect();
                let status = match m.status {
                    textdesk_core::DeliveryStatus::Received | textdesk_core::DeliveryStatus::Note => String::new(),
                    s => s.as_str().replace('_', " "),
                };
                Line { time: stamp(at, tz), class, who, text: m.body.clone(), status, files }
            }
            Entry::Event(e) => Line {
                time: stamp(at, tz),
                class: "event",
                who: String::new(),
                text: describe_event(e, &t.users, &t.teams, tz),
                status: String::new(),
                files: Vec::new(),
            },
        })
        .collect()
}

pub async fn transcript_page(
    State(s): State<AppState>,
    ui: UiUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
) -> Result<TranscriptPage, Problem> {
    let ip = ip.to_string();
    let t = s.services.transcript((ui.user.account_id, id), ui.user.id, Some(&ip)).await?;
    let tz = &ui.zone;
    let c = &t.summary;
    Ok(TranscriptPage {
        chrome: chrome(&s, &ui),
        id,
        contact: customer(&t),
        address: c.contact_address.clone(),
        inbox: c.inbox_name.clone(),
        status: c.conversation.status.as_str().into(),
        assignee: c.assignee_name.clone().unwrap_or_else(|| "nobody".into()),
        zone: tz.iana_name().unwrap_or("UTC").to_owned(),
        printed: format!("{} by {}", stamp(jiff::Timestamp::now(), tz), ui.user.name),
        lines: lines(&t, tz),
        cut: t.cut,
        max: MAX_MESSAGES,
    })
}

/// One entry of a transcript: a message or a timeline entry.
#[derive(Serialize, ToSchema)]
pub struct TranscriptEntryOut {
    /// `message` or `event`.
    pub(crate) kind: &'static str,
    pub(crate) at: String,
    pub(crate) message: Option<MessageOut>,
    pub(crate) event: Option<TimelineOut>,
    /// A timeline entry in words, as the page shows it.
    pub(crate) text: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TranscriptOut {
    pub(crate) conversation: ConversationOut,
    pub(crate) contact_name: String,
    pub(crate) contact_address: String,
    /// The zone the entries' words use for times (the business's).
    pub(crate) time_zone: String,
    /// Oldest first.
    pub(crate) entries: Vec<TranscriptEntryOut>,
    /// True when the conversation has more messages than a transcript holds (20,000).
    pub(crate) cut: bool,
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/transcript", tag = "conversations", params(("id" = i64, Path)),
    responses((status = 200, body = TranscriptOut, description = "Every message and timeline entry in order; written to the audit trail"),
        (status = 404, body = ProblemOut)),
    security(("bearer" = [])))]
pub(crate) async fn transcript(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
) -> ApiResult<Json<TranscriptOut>> {
    let ip = ip.to_string();
    let t = s.services.transcript((u.account_id, id), u.id, Some(&ip)).await?;
    let tz = &s.services.business_zone(u.account_id).await?;
    let entries = t
        .entries()
        .into_iter()
        .map(|(at, e)| match e {
            Entry::Message(m) => TranscriptEntryOut {
                kind: "message",
                at: at.to_string(),
                message: Some(MessageOut::of(m.clone(), &s.services)),
                event: None,
                text: None,
            },
            Entry::Event(e) => TranscriptEntryOut {
                kind: "event",
                at: at.to_string(),
                message: None,
                text: Some(describe_event(e, &t.users, &t.teams, tz)),
                event: Some(e.clone().into()),
            },
        })
        .collect();
    Ok(Json(TranscriptOut {
        contact_name: t.summary.contact_name.clone(),
        contact_address: t.summary.contact_address.clone(),
        time_zone: tz.iana_name().unwrap_or("UTC").to_owned(),
        cut: t.cut,
        entries,
        conversation: t.summary.into(),
    }))
}
