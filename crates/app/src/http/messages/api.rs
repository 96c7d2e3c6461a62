//! Messages over the API: a thread's pages, sending (now or later), the
//! waiting ones (edit, send now, cancel), retries, and the draft preview.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use textdesk_core::Body;
use textdesk_core::gate::OutboundKind;
use textdesk_store::{Message, MessagePage};
use utoipa::ToSchema;

use crate::http::extract::{ApiUser, Json, Path, Query, idempotency_header, keyed_answer, ts};
use crate::http::media::MediaOut;
use crate::http::problem::ApiResult;
use crate::http::problem::{Problem, ProblemOut};
use crate::http::state::AppState;
use crate::http::template_input::{self, ButtonValueIn};
use crate::services::Services;
use crate::services::conversations::Draft;
use crate::services::idempotency::Render;
use crate::services::schedule::ZoneChoice;

#[derive(Serialize, ToSchema)]
pub struct MessageOut {
    pub(crate) id: i64,
    pub(crate) conversation_id: i64,
    /// The inbox it came or went through (a conversation can cross channels).
    pub(crate) inbox_id: i64,
    /// That inbox's medium: sms, whatsapp, messenger, telegram, line, wechat, webchat.
    pub(crate) channel: String,
    /// inbound or outbound.
    pub(crate) direction: String,
    pub(crate) author_id: Option<i64>,
    pub(crate) author_name: Option<String>,
    pub(crate) body: String,
    /// Pictures and files, in order.
    pub(crate) media: Vec<MediaOut>,
    /// A note for colleagues, never sent to the customer.
    pub(crate) private: bool,
    /// received, note, queued, sending, sent, delivered, read, undelivered, failed.
    pub(crate) status: String,
    pub(crate) error: Option<String>,
    pub(crate) segments: i64,
    pub(crate) encoding: String,
    pub(crate) provider_id: Option<String>,
    /// For a `scheduled` message: when it will go out (quiet hours, or a time chosen).
    pub(crate) send_at: Option<String>,
    /// How many times it has been handed to the provider.
    pub(crate) attempts: i64,
    /// After a failed attempt that will be retried: when (`POST /messages/{id}/retry` goes now).
    pub(crate) retry_at: Option<String>,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
    /// The name of the provider template it was sent as, if any.
    pub(crate) template: Option<String>,
}

impl MessageOut {
    pub fn of(m: Message, services: &crate::Services) -> Self {
        MessageOut {
            id: m.id,
            conversation_id: m.conversation_id,
            inbox_id: m.inbox_id,
            channel: m.medium.as_str().into(),
            direction: m.direction.as_str().into(),
            author_id: m.author_id,
            author_name: m.author_name,
            body: m.body,
            media: m.media.into_iter().map(|x| MediaOut::of(x, services)).collect(),
            private: m.private,
            status: m.status.as_str().into(),
            error: m.error,
            segments: m.segments,
            encoding: m.encoding,
            provider_id: m.provider_id,
            send_at: m.send_at.map(ts),
            attempts: m.attempts,
            retry_at: m.retry_at.map(ts),
            created_at: ts(m.created_at),
            updated_at: ts(m.updated_at),
            template: m
                .template
                .as_deref()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
                .and_then(|t| t["name"].as_str().map(str::to_owned)),
        }
    }
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessageIn {
    /// The text (may be empty with media; leave it out when sending a template).
    #[serde(default)]
    pub(crate) body: String,
    /// Send an approved template of the conversation's inbox instead of free text
    /// (WhatsApp, outside the 24 hours after the customer's last message).
    pub(crate) template: Option<TemplateIn>,
    /// true for a private note.
    #[serde(default)]
    pub(crate) private: bool,
    /// `reply` (the default: an answer in a conversation the customer started) or
    /// `notification` (business-initiated: needs a recorded opt-in, waits out quiet hours).
    pub(crate) kind: Option<String>,
    /// Send no earlier than this: `2026-11-23T09:00` read in `send_at_zone`, or an instant with an offset.
    pub(crate) send_at: Option<String>,
    /// `contact` (the default), `business`, or an IANA zone name such as the agent's.
    pub(crate) send_at_zone: Option<String>,
    /// Pictures or files uploaded with `POST /api/v1/media`, sent with the text (MMS), in order.
    pub(crate) media_ids: Option<Vec<i64>>,
    /// Answer on another channel the customer uses: one of `GET /api/v1/conversations/{id}/channels`'
    /// inbox ids. The conversation moves to that channel (the customer's answer lands in it), and
    /// the message is judged by that channel's rules: its reply window, its consent scope (through an
    /// inbox the customer never wrote to, it is business-initiated and needs their opt-in there),
    /// quiet hours. Left out: the conversation's own inbox.
    pub(crate) inbox_id: Option<i64>,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateIn {
    /// The template's id, from `GET /api/v1/inboxes/{id}/templates`.
    pub(crate) id: i64,
    /// One value per body variable ({{1}}, {{2}}…), in order.
    #[serde(default)]
    pub(crate) values: Vec<String>,
    /// For a template with a header: its {{1}}'s value (text header), or the public https
    /// link of its picture, video or document (media header).
    pub(crate) header: Option<String>,
    /// Values for its quick-reply and URL buttons, by index.
    pub(crate) buttons: Option<Vec<ButtonValueIn>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleIn {
    /// A new text; left out keeps it.
    pub(crate) body: Option<String>,
    /// A new moment, read as for a new message; left out keeps it.
    pub(crate) send_at: Option<String>,
    pub(crate) send_at_zone: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewIn {
    pub(crate) body: String,
    /// A conversation to judge the draft for (consent, quiet hours, its inbox's price).
    pub(crate) conversation_id: Option<i64>,
    /// Or just an inbox, for its price.
    pub(crate) inbox_id: Option<i64>,
}

/// The preview of a draft (its fields are listed in the operation's description).
#[derive(Serialize)]
pub struct PreviewOut(crate::services::compose::ComposePreview);

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MessageQuery {
    /// The oldest messages after this id (paging forward from the start).
    pub(crate) after_id: Option<i64>,
    /// The newest messages before this id, still oldest first (paging back from the end).
    pub(crate) before_id: Option<i64>,
    /// Start from the newest messages instead of the oldest (with neither id).
    pub(crate) latest: Option<bool>,
    /// 1 to 1000, default 200.
    pub(crate) limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "messages", params(("id" = i64, Path), MessageQuery), responses((status = 200, body = [MessageOut]), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn list_messages(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<MessageQuery>,
) -> ApiResult<Json<Vec<MessageOut>>> {
    let page = match (q.after_id, q.before_id, q.latest.unwrap_or(false)) {
        (Some(_), Some(_), _) => return Err(Problem::invalid("give after_id or before_id, not both")),
        (Some(a), None, false) => MessagePage::After(Some(a)),
        (None, Some(b), _) => MessagePage::Before(Some(b)),
        (None, None, true) => MessagePage::Before(None),
        (None, None, false) => MessagePage::After(None),
        (Some(_), None, true) => return Err(Problem::invalid("latest pages back from the end; it takes no after_id")),
    };
    let list = s.services.messages(u.account_id, id, page, q.limit.unwrap_or(200)).await?;
    Ok(Json(list.into_iter().map(|m| MessageOut::of(m, &s.services)).collect()))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "messages", params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header, description = "Any unique string (a UUID): a repeat within 24 hours gets the first answer and sends nothing; the same key with another request gets 422")), request_body = NewMessageIn,
    responses((status = 201, body = MessageOut, description = "Stored; queued for sending unless private"), (status = 404, body = ProblemOut), (status = 409, body = ProblemOut, description = "Blocked by the gate (e.g. the contact opted out); nothing was sent"), (status = 422, body = ProblemOut)),
    security(("bearer" = [])))]
pub(crate) async fn create_message(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Json(b): Json<NewMessageIn>,
) -> ApiResult<Response> {
    // The conversation is part of what the key stands for: the same key on another one is another request.
    let endpoint = "POST /api/v1/conversations/{id}/messages";
    let key = Services::idempotency_key(&u, endpoint, idempotency_header(&headers)?, &(id, &b))?;
    let render = |m: Message| serde_json::to_string(&MessageOut::of(m, &s.services)).unwrap_or_default();
    if let Some(answer) = s.services.replay(key.as_ref(), Render::Message(&render)).await? {
        return Ok(keyed_answer(answer));
    }
    let kind = match b.kind.as_deref() {
        None => OutboundKind::Reply,
        Some("reply") => OutboundKind::Reply,
        Some("notification") => OutboundKind::Notification,
        Some(other) => return Err(Problem::invalid(format!("kind {other:?}: use reply or notification"))),
    };
    let media = b.media_ids.clone().unwrap_or_default();
    let send_at = match &b.send_at {
        Some(t) => Some(
            s.services
                .send_time(u.account_id, id, t, &ZoneChoice::parse(b.send_at_zone.as_deref().unwrap_or(""))?)
                .await?,
        ),
        None => None,
    };
    let draft = match &b.template {
        None => Draft {
            body: Body::parse_with(&b.body, media.len())?,
            private: b.private,
            kind,
            send_at,
            media,
            template: None,
            via: b.inbox_id,
        },
        Some(t) => {
            if !b.body.trim().is_empty() || !media.is_empty() || b.private {
                return Err(Problem::invalid("a template is sent as it is: leave out body, media_ids and private"));
            }
            let fill = template_input::fill(&t.values, t.header.as_ref(), t.buttons.as_ref());
            let mut d = s.services.template_draft(u.account_id, id, t.id, &fill).await?;
            d.kind = kind;
            d.send_at = send_at;
            d.via = b.inbox_id;
            d
        }
    };
    Ok(keyed_answer(s.services.send_once(&u, id, draft, key.as_ref(), render).await?))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/scheduled", tag = "messages", params(("id" = i64, Path)),
    responses((status = 200, body = [MessageOut], description = "Messages waiting to go, soonest first"), (status = 404, body = ProblemOut)),
    security(("bearer" = [])))]
pub(crate) async fn list_scheduled(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<MessageOut>>> {
    Ok(Json(s.services.scheduled(&u, id).await?.into_iter().map(|m| MessageOut::of(m, &s.services)).collect()))
}

#[utoipa::path(patch, path = "/api/v1/messages/{id}", tag = "messages", params(("id" = i64, Path)), request_body = ScheduleIn,
    responses((status = 200, body = MessageOut), (status = 404, body = ProblemOut), (status = 409, body = ProblemOut, description = "Already sent or being sent, or blocked by the gate"), (status = 422, body = ProblemOut)),
    security(("bearer" = [])))]
pub(crate) async fn edit_waiting_message(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<ScheduleIn>,
) -> ApiResult<Json<MessageOut>> {
    let m = s.services.message(u.account_id, id).await?;
    let body = b.body.as_deref().map(Body::parse).transpose()?;
    let send_at = match &b.send_at {
        Some(t) => Some(
            s.services
                .send_time(
                    u.account_id,
                    m.conversation_id,
                    t,
                    &ZoneChoice::parse(b.send_at_zone.as_deref().unwrap_or(""))?,
                )
                .await?,
        ),
        None => m.send_at,
    };
    Ok(Json(MessageOut::of(s.services.reschedule(&u, id, body, send_at).await?, &s.services)))
}

#[utoipa::path(post, path = "/api/v1/messages/{id}/send-now", tag = "messages", params(("id" = i64, Path)),
    responses((status = 200, body = MessageOut, description = "Queued now, or still waiting if it is the customer's quiet hours"), (status = 404, body = ProblemOut), (status = 409, body = ProblemOut)),
    security(("bearer" = [])))]
pub(crate) async fn send_now(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<MessageOut>> {
    Ok(Json(MessageOut::of(s.services.reschedule(&u, id, None, None).await?, &s.services)))
}

#[utoipa::path(post, path = "/api/v1/messages/{id}/retry", tag = "messages", params(("id" = i64, Path)),
    responses((status = 200, body = MessageOut, description = "Queued to go at the next dispatch (the gate still looks first)"), (status = 404, body = ProblemOut), (status = 409, body = ProblemOut, description = "Not failed, and not waiting to retry")),
    security(("bearer" = [])))]
pub(crate) async fn retry_message(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<MessageOut>> {
    s.services.retry_now(&u, id).await?;
    Ok(Json(MessageOut::of(s.services.message(u.account_id, id).await?, &s.services)))
}

#[utoipa::path(delete, path = "/api/v1/messages/{id}", tag = "messages", params(("id" = i64, Path)),
    responses((status = 204, description = "Cancelled: it will not be sent"), (status = 404, body = ProblemOut), (status = 409, body = ProblemOut, description = "Already sent or being sent")),
    security(("bearer" = [])))]
pub(crate) async fn cancel_message(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.services.cancel_scheduled(&u, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/compose/preview", tag = "messages", request_body = PreviewIn,
    responses((status = 200, body = serde_json::Value, description = "Counts, advice, cost and the gate's verdict for a draft: characters, encoding (gsm7/ucs2), units, segments, remaining_in_segment, ucs2_characters [{character, replacement}], warnings [{code, message}], cost {per_segment, total, currency} or null, verdict {decision allow|defer|block, until, until_local, reason, explanation} or null"), (status = 404, body = ProblemOut)),
    security(("bearer" = [])))]
pub(crate) async fn compose_preview(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Json(b): Json<PreviewIn>,
) -> ApiResult<Json<PreviewOut>> {
    if b.body.chars().count() > 10 * textdesk_core::Body::MAX_CHARS {
        return Err(Problem::invalid("the draft is far longer than any text"));
    }
    let p = s.services.compose_preview(u.account_id, &b.body, b.conversation_id, b.inbox_id).await?;
    Ok(Json(PreviewOut(p)))
}
