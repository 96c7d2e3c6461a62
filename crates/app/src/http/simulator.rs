//! The phone simulator: a page where a person plays the customer, and a JSON
//! API for tests. Texts enter through ingest like any provider's webhook.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use textdesk_channels::Provider;
use textdesk_channels::simulator::{PhoneText, Simulator, parse_inbound};
use textdesk_core::{Address, Medium};
use textdesk_store::IngestOutcome;

use crate::http::extract::{Json, Path, host_header};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::services::ingest::Ingested;

#[derive(Template, WebTemplate)]
#[template(path = "simulator.html")]
pub(crate) struct Page {
    business: String,
}

/// The account the simulator plays the customers of: the one whose host name
/// the request came to, or the first account (the demo's).
async fn simulated_account(s: &AppState, headers: &HeaderMap) -> Result<i64, Problem> {
    Ok(s.services.account_at_host(host_header(headers)).await?.unwrap_or(s.default_account))
}

pub(crate) async fn page(State(s): State<AppState>, headers: HeaderMap) -> Result<Page, Problem> {
    let account = simulated_account(&s, &headers).await?;
    Ok(Page { business: s.services.business_name_of(account).await? })
}

#[derive(Serialize)]
pub(crate) struct SimInbox {
    id: i64,
    name: String,
    number: String,
    /// Customer numbers that have texted this inbox, for the phone picker.
    phones: Vec<String>,
}

pub(crate) async fn simulator_inbox(
    s: &AppState,
    headers: &HeaderMap,
    id: i64,
) -> Result<textdesk_store::Inbox, Problem> {
    let inbox = s.services.inbox(simulated_account(s, headers).await?, id).await?;
    if inbox.provider != Simulator.key() {
        return Err(Problem::not_found("simulator inbox"));
    }
    Ok(inbox)
}

pub(crate) async fn inboxes(State(s): State<AppState>, headers: HeaderMap) -> Result<Json<Vec<SimInbox>>, Problem> {
    let mut out = Vec::new();
    for i in s.services.inboxes(simulated_account(&s, &headers).await?).await? {
        if i.provider != Simulator.key() {
            continue;
        }
        let page = s.services.inbox_conversations(&i, 50).await?;
        let mut phones: Vec<String> = page.items.into_iter().map(|c| c.contact_address).collect();
        phones.sort();
        phones.dedup();
        out.push(SimInbox { id: i.id, name: i.name, number: i.sender, phones });
    }
    Ok(Json(out))
}

#[derive(Serialize)]
pub(crate) struct Accepted {
    provider_id: String,
    conversation_id: i64,
    message_id: i64,
    duplicate: bool,
}

pub(crate) async fn text_in(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(inbox): Path<i64>,
    Json(text): Json<PhoneText>,
) -> Result<Response, Problem> {
    let inbox = simulator_inbox(&s, &headers, inbox).await?;
    let event = parse_inbound(text, jiff::Timestamp::now()).map_err(|e| Problem::invalid(e.0))?;
    let provider_id = match &event {
        textdesk_channels::InboundEvent::Message { provider_id, .. } => provider_id.clone(),
        _ => return Err(Problem::invalid("expected a text")),
    };
    match s.services.ingest_into(&inbox, event).await? {
        Ingested::Message(IngestOutcome::Stored { conversation_id, message_id, .. }) => {
            Ok((StatusCode::CREATED, Json(Accepted { provider_id, conversation_id, message_id, duplicate: false }))
                .into_response())
        }
        Ingested::Message(IngestOutcome::Duplicate { conversation_id, message_id, .. }) => {
            Ok((StatusCode::OK, Json(Accepted { provider_id, conversation_id, message_id, duplicate: true }))
                .into_response())
        }
        Ingested::Status { .. } | Ingested::Profile { .. } | Ingested::PhoneShared { .. } => {
            Err(Problem::invalid("expected a text"))
        }
    }
}

#[derive(Serialize)]
pub(crate) struct PhoneMessage {
    id: i64,
    /// `from_phone` (the customer typed it) or `to_phone` (the business sent it).
    direction: &'static str,
    body: String,
    /// Links to the pictures the message carried (what an MMS shows on the phone).
    media: Vec<String>,
    status: String,
    at: String,
}

pub(crate) async fn phone_messages(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((inbox, number)): Path<(i64, String)>,
) -> Result<Json<Vec<PhoneMessage>>, Problem> {
    let inbox = simulator_inbox(&s, &headers, inbox).await?;
    let address = Address::parse(Medium::Sms, &number)?;
    let list = s.services.messages_with(&inbox, &address, 200).await?;
    let mut shown: Vec<(jiff::Timestamp, PhoneMessage)> = list
        .into_iter()
        // A phone only holds what the carrier handed over.
        .filter(|m| {
            m.direction == textdesk_core::Direction::Inbound
                || matches!(m.status, textdesk_core::DeliveryStatus::Delivered | textdesk_core::DeliveryStatus::Read)
        })
        .map(|m| {
            let media = m
                .media
                .iter()
                .filter(|x| {
                    x.state == textdesk_store::MediaState::Stored
                        && crate::services::media::is_picture(x.content_type.as_deref())
                })
                .map(|x| s.services.media.link_path(x.id, jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1)))
                .collect();
            let direction = if m.direction == textdesk_core::Direction::Inbound { "from_phone" } else { "to_phone" };
            let shown = PhoneMessage {
                id: m.id,
                direction,
                media,
                body: m.body,
                status: m.status.as_str().into(),
                at: m.created_at.to_string(),
            };
            (m.created_at, shown)
        })
        .collect();
    // A web chat visitor's codes belong to no conversation, but the phone got them.
    for (check_id, body, at) in s.services.simulated_code_texts(&inbox, &address).await? {
        // Negative: a code's id is its check's, which may equal a message's.
        let shown_code = PhoneMessage {
            id: -check_id,
            direction: "to_phone",
            body,
            media: Vec::new(),
            status: "delivered".into(),
            at: at.to_string(),
        };
        shown.push((at, shown_code));
    }
    shown.sort_by_key(|(at, _)| *at);
    Ok(Json(shown.into_iter().map(|(_, m)| m).collect()))
}

#[derive(Serialize)]
pub(crate) struct PhoneCall {
    sid: String,
    /// The business's number, calling.
    from: String,
    /// ringing (not yet reported: queued) or in-progress.
    status: &'static str,
    /// Where the phone reports its progress: the same status callback a provider posts to.
    status_path: String,
}

/// Calls ringing or going on this simulated phone.
pub(crate) async fn phone_calls(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((inbox, number)): Path<(i64, String)>,
) -> Result<Json<Vec<PhoneCall>>, Problem> {
    let inbox = simulator_inbox(&s, &headers, inbox).await?;
    let address = Address::parse(Medium::Sms, &number)?;
    let calls = s.services.simulated_calls(inbox.id, address.value());
    Ok(Json(
        calls
            .into_iter()
            .map(|c| PhoneCall {
                status_path: c
                    .status_url
                    .split_once("/webhooks/")
                    .map(|(_, p)| format!("/webhooks/{p}"))
                    .unwrap_or_default(),
                status: c.status.as_str(),
                sid: c.sid,
                from: c.from,
            })
            .collect(),
    ))
}
