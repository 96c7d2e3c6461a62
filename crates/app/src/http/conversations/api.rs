//! Conversations over the API: list and search, read, assign, status,
//! priority, labels, read/unread, timeline.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use textdesk_core::{ConversationStatus, Priority, SnoozePreset};
use textdesk_store::{Conversation, ConversationSummary, TimelineEvent};
use utoipa::ToSchema;

use crate::http::extract::double_option;
use crate::http::extract::{ApiUser, Json, Path, Query, ts};
use crate::http::problem::ApiResult;
use crate::http::problem::{Problem, ProblemOut};
use crate::http::state::AppState;
use crate::services::conversations::SnoozeWhen;
use crate::services::list::ListAsk;

#[derive(Serialize, ToSchema)]
pub struct ConversationOut {
    pub(crate) id: i64,
    pub(crate) inbox_id: i64,
    pub(crate) contact_id: i64,
    /// open, pending, snoozed or resolved.
    pub(crate) status: String,
    /// A self-service flow is answering the customer ("bot"): the status stays `open`, but nobody is
    /// waiting for a person, it is not routed, and the lists show it only with `status=bot`.
    pub(crate) bot: bool,
    pub(crate) snoozed_until: Option<String>,
    pub(crate) assignee_id: Option<i64>,
    pub(crate) team_id: Option<i64>,
    pub(crate) priority: String,
    pub(crate) labels: Vec<String>,
    pub(crate) last_activity_at: String,
    pub(crate) waiting_since: Option<String>,
    pub(crate) resolved_at: Option<String>,
    pub(crate) unread: i64,
    pub(crate) created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) contact_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) contact_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) preview: Option<String>,
}

impl From<Conversation> for ConversationOut {
    fn from(c: Conversation) -> Self {
        ConversationOut {
            id: c.id,
            inbox_id: c.inbox_id,
            contact_id: c.contact_id,
            status: c.status.as_str().into(),
            bot: c.bot,
            snoozed_until: c.snoozed_until.map(ts),
            assignee_id: c.assignee_id,
            team_id: c.team_id,
            priority: c.priority.as_str().into(),
            labels: c.labels,
            last_activity_at: ts(c.last_activity_at),
            waiting_since: c.waiting_since.map(ts),
            resolved_at: c.resolved_at.map(ts),
            unread: c.unread,
            created_at: ts(c.created_at),
            contact_name: None,
            contact_address: None,
            preview: None,
        }
    }
}

impl From<ConversationSummary> for ConversationOut {
    fn from(s: ConversationSummary) -> Self {
        let mut out = ConversationOut::from(s.conversation);
        out.contact_name = Some(s.contact_name);
        out.contact_address = Some(s.contact_address);
        out.preview = Some(s.preview);
        out
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConversationListOut {
    pub(crate) items: Vec<ConversationOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub(crate) next_cursor: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignIn {
    /// The agent to assign; null unassigns.
    pub(crate) assignee_id: Option<i64>,
    /// Optionally also set the owning team (null clears it).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub(crate) team_id: Option<Option<i64>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusIn {
    /// open, pending, snoozed or resolved.
    pub(crate) status: String,
    /// With `snoozed`, a preset: `1h`, `tomorrow` (9:00 the next day) or `next_week` (Monday 9:00),
    /// on the clock of `zone`.
    #[serde(default)]
    pub(crate) snooze: Option<String>,
    /// With `snoozed`, instead of a preset: when it reopens, RFC 3339 (`2026-05-01T09:00:00Z`)
    /// or a local time read in `zone` (`2026-05-01T09:00`).
    #[serde(default)]
    pub(crate) snoozed_until: Option<String>,
    /// IANA zone the snooze is read in (the agent's own); the business's `time_zone` when absent.
    #[serde(default)]
    pub(crate) zone: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityIn {
    pub(crate) priority: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelsIn {
    /// Names from the account's labels (`/api/v1/labels`), in any case; at most 20. An
    /// unknown name is refused (422) and named in the detail.
    pub(crate) labels: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TimelineOut {
    pub(crate) id: i64,
    pub(crate) kind: String,
    pub(crate) actor_id: Option<i64>,
    pub(crate) actor_name: Option<String>,
    #[schema(value_type = Object)]
    pub(crate) data: serde_json::Value,
    pub(crate) created_at: String,
}

impl From<TimelineEvent> for TimelineOut {
    /// `kind` and `data` as they were before the typed log: the event's type
    /// and its fields.
    fn from(e: TimelineEvent) -> Self {
        let mut data = serde_json::to_value(&e.event).unwrap_or_default();
        if let Some(fields) = data.as_object_mut() {
            fields.remove("type");
        }
        TimelineOut {
            id: e.id,
            kind: e.event.kind().to_owned(),
            actor_id: e.actor_id,
            actor_name: e.actor_name,
            data,
            created_at: ts(e.created_at),
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConversationQuery {
    /// mine, unassigned, team (the caller's teams), mentions (private notes mentioning the caller), escalated
    /// (escalated to the caller as a supervisor) or all (default).
    pub(crate) view: Option<String>,
    /// open (waiting for or with a person), bot (a self-service flow is answering), pending, snoozed,
    /// resolved, or any (default). The mine, unassigned and team views leave out the bot's unless
    /// status=bot.
    pub(crate) status: Option<String>,
    /// `me`, `none`, or a user id.
    pub(crate) assignee: Option<String>,
    pub(crate) inbox_id: Option<i64>,
    pub(crate) team_id: Option<i64>,
    pub(crate) label: Option<String>,
    /// none, low, medium, high or urgent.
    pub(crate) priority: Option<String>,
    pub(crate) contact_id: Option<i64>,
    /// Words (matched as prefixes, all required) in the messages or the contact's name; a phone number's digits in the address.
    pub(crate) q: Option<String>,
    /// activity (most recent first, default), waiting (longest waiting first) or mentioned (view=mentions only; its default).
    pub(crate) sort: Option<String>,
    /// From the previous page's `next_cursor`, with the same sort.
    pub(crate) cursor: Option<String>,
    /// 1 to 200, default 25.
    pub(crate) limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", params(ConversationQuery), responses((status = 200, body = ConversationListOut), (status = 400, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn list_conversations(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Query(q): Query<ConversationQuery>,
) -> ApiResult<Json<ConversationListOut>> {
    let ask = ListAsk {
        view: q.view.as_deref(),
        status: q.status.as_deref(),
        assignee: q.assignee.as_deref(),
        inbox_id: q.inbox_id,
        team_id: q.team_id,
        label: q.label.as_deref(),
        priority: q.priority.as_deref(),
        contact_id: q.contact_id,
        q: q.q.as_deref(),
        sort: q.sort.as_deref(),
        cursor: q.cursor.as_deref(),
        limit: q.limit.unwrap_or(25),
    };
    let query = s.services.list_query(&u, &ask).await?;
    let page = s.services.list(&u, &query).await?;
    Ok(Json(ConversationListOut {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations", params(("id" = i64, Path)), responses((status = 200, body = ConversationOut), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn get_conversation(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<ConversationOut>> {
    Ok(Json(s.services.conversation_summary(u.account_id, id).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/assign", tag = "conversations", params(("id" = i64, Path)), request_body = AssignIn, responses((status = 200, body = ConversationOut), (status = 404, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn assign_conversation(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<AssignIn>,
) -> ApiResult<Json<ConversationOut>> {
    let mut c = s.services.assign(&u, id, b.assignee_id).await?;
    if let Some(team) = b.team_id {
        c = s.services.set_team(&u, id, team).await?;
    }
    Ok(Json(c.into()))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/status", tag = "conversations", params(("id" = i64, Path)), request_body = StatusIn, responses((status = 200, body = ConversationOut), (status = 404, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn set_status(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<StatusIn>,
) -> ApiResult<Json<ConversationOut>> {
    let status = ConversationStatus::parse(&b.status)?;
    let until = if status == ConversationStatus::Snoozed {
        let when = match (b.snooze.as_deref(), b.snoozed_until.as_deref()) {
            (Some(_), Some(_)) => return Err(Problem::invalid("give snooze or snoozed_until, not both")),
            (Some(preset), None) => SnoozeWhen::Preset(SnoozePreset::parse(preset)?),
            (None, Some(at)) => SnoozeWhen::At(at.to_owned()),
            (None, None) => {
                return Err(Problem::invalid(
                    "snoozing needs snooze (1h, tomorrow or next_week) or snoozed_until (a time)",
                ));
            }
        };
        Some(s.services.snooze_until(u.account_id, &when, b.zone.as_deref(), jiff::Timestamp::now()).await?)
    } else {
        None
    };
    Ok(Json(s.services.set_status(&u, id, status, until).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/read", tag = "conversations", params(("id" = i64, Path)), responses((status = 200, body = ConversationOut, description = "Marked read: `unread` is 0"), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn mark_read(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<ConversationOut>> {
    s.services.mark_read(&u, id).await?;
    Ok(Json(s.services.conversation_summary(u.account_id, id).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/unread", tag = "conversations", params(("id" = i64, Path)), responses((status = 200, body = ConversationOut, description = "Marked unread: `unread` is at least 1 until someone opens it in the web UI or marks it read"), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn mark_unread(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<ConversationOut>> {
    Ok(Json(s.services.mark_unread(&u, id).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/priority", tag = "conversations", params(("id" = i64, Path)), request_body = PriorityIn, responses((status = 200, body = ConversationOut), (status = 404, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn set_priority(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<PriorityIn>,
) -> ApiResult<Json<ConversationOut>> {
    let p = Priority::parse(&b.priority)?;
    Ok(Json(s.services.set_priority(&u, id, p).await?.into()))
}

#[utoipa::path(put, path = "/api/v1/conversations/{id}/labels", tag = "conversations", params(("id" = i64, Path)), request_body = LabelsIn, responses((status = 200, body = ConversationOut), (status = 404, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn set_labels(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<LabelsIn>,
) -> ApiResult<Json<ConversationOut>> {
    Ok(Json(s.services.set_labels(&u, id, &b.labels).await?.into()))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/timeline", tag = "conversations", params(("id" = i64, Path)), responses((status = 200, body = [TimelineOut]), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn timeline(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<TimelineOut>>> {
    Ok(Json(s.services.timeline(u.account_id, id).await?.into_iter().map(Into::into).collect()))
}
