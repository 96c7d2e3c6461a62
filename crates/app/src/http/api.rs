//! REST API v1. JSON in and out, bearer tokens, problem-details errors. The
//! OpenAPI document is generated from these annotations and served at
//! `/api/v1/openapi.json`; a copy is committed in `docs/openapi.json`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use textdesk_core::{Address, Body, ConsentState, ConversationStatus, Email, Password, Priority, Role, SnoozePreset};
use textdesk_store::{
    ACCOUNT_SCOPE, ApiToken, ContactPatch, Conversation, ConversationSummary, Message, MessagePage, RecordConsent,
    TimelineEvent, User,
};
use utoipa::{OpenApi, ToSchema};

use crate::http::extract::{ApiUser, Json, Path, Query};
use crate::http::inboxes::{self, ProviderSetups};
use crate::http::problem::Problem;
use crate::http::{AppState, account, admin, canned, contacts, labels, live, media};
use crate::services::auth;
use crate::services::contacts::parse_zone;
use crate::services::conversations::{Draft, SnoozeWhen};
use crate::services::list::ListAsk;
use crate::services::schedule::ZoneChoice;
use textdesk_core::gate::OutboundKind;

type ApiResult<T> = Result<T, Problem>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/me", get(me).patch(update_me))
        .route("/contacts", get(list_contacts).post(create_contact))
        .route("/contacts/{id}", get(get_contact).patch(update_contact))
        .route("/contacts/{id}/consent", get(consent_history).post(record_consent))
        .route("/consent/export", get(export_consent))
        .route("/contacts/{id}/identities", post(add_identity))
        .route("/teams", get(list_teams).post(create_team))
        .route("/teams/{id}/members", post(add_team_member))
        .route("/conversations", get(list_conversations))
        .route("/conversations/{id}", get(get_conversation))
        .route("/conversations/{id}/assign", post(assign_conversation))
        .route("/conversations/{id}/status", post(set_status))
        .route("/conversations/{id}/priority", post(set_priority))
        .route("/conversations/{id}/read", post(mark_read))
        .route("/conversations/{id}/unread", post(mark_unread))
        .route("/conversations/{id}/labels", axum::routing::put(set_labels))
        .route("/conversations/{id}/timeline", get(timeline))
        .route("/conversations/{id}/messages", get(list_messages).post(create_message))
        .route("/conversations/{id}/scheduled", get(list_scheduled))
        .route("/messages/{id}", axum::routing::patch(edit_waiting_message).delete(cancel_message))
        .route("/messages/{id}/send-now", post(send_now))
        .route("/messages/{id}/retry", post(retry_message))
        .route("/users", get(list_users).post(create_user))
        .route("/users/{id}", axum::routing::patch(update_user))
        .route("/tokens", get(list_tokens).post(create_token))
        .route("/tokens/{id}", axum::routing::delete(revoke_token))
        .route("/compose/preview", post(compose_preview))
        .route("/events", get(live::events))
        .merge(crate::http::inboxes::api_routes())
        .merge(crate::http::canned::api_routes())
        .merge(crate::http::labels::api_routes())
        .merge(crate::http::account::api_routes())
        .merge(crate::http::admin::api_routes())
        .merge(crate::http::contacts::api_routes())
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", "no such API endpoint") })
}

fn ts(t: jiff::Timestamp) -> String {
    t.to_string()
}

// ---------- shapes ----------

#[derive(Serialize, ToSchema)]
pub struct MediaOut {
    id: i64,
    content_type: Option<String>,
    size_bytes: Option<i64>,
    /// pending (still being fetched from the provider), stored, or failed.
    state: String,
    /// Why it could not be fetched (while pending: the last try, which will be retried).
    error: Option<String>,
    /// A link that works for an hour, once stored.
    url: Option<String>,
}

impl MediaOut {
    pub fn of(m: textdesk_store::Media, services: &crate::Services) -> Self {
        MediaOut {
            url: (m.state == textdesk_store::MediaState::Stored)
                .then(|| services.media_link(m.id, jiff::SignedDuration::from_hours(1))),
            id: m.id,
            content_type: m.content_type,
            size_bytes: m.size_bytes,
            state: m.state.as_str().into(),
            error: m.last_error,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct IdentityOut {
    id: i64,
    /// `phone` for SMS-like channels, else the channel kind.
    namespace: String,
    address: String,
}

#[derive(Serialize, ToSchema)]
pub struct ContactOut {
    id: i64,
    name: String,
    time_zone: Option<String>,
    #[schema(value_type = Object)]
    attributes: serde_json::Value,
    /// unknown, opted_in or opted_out.
    consent: String,
    identities: Vec<IdentityOut>,
    created_at: String,
    updated_at: String,
}

impl From<textdesk_store::Contact> for ContactOut {
    fn from(c: textdesk_store::Contact) -> Self {
        ContactOut {
            id: c.id,
            name: c.name,
            time_zone: c.time_zone,
            attributes: c.attributes,
            consent: c.consent.as_str().into(),
            identities: c
                .identities
                .into_iter()
                .map(|i| IdentityOut { id: i.id, namespace: i.namespace, address: i.address })
                .collect(),
            created_at: ts(c.created_at),
            updated_at: ts(c.updated_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContactIn {
    #[serde(default)]
    name: String,
    /// The medium the address belongs to (sms, whatsapp, telegram…), or a provider
    /// whose medium it is (twilio); default: an SMS phone number.
    #[serde(default)]
    channel_kind: Option<String>,
    address: String,
    #[serde(default)]
    time_zone: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityIn {
    /// The medium the address belongs to (sms, whatsapp, telegram…), or a provider
    /// whose medium it is (twilio); default: an SMS phone number.
    #[serde(default)]
    channel_kind: Option<String>,
    address: String,
}

#[derive(Serialize, ToSchema)]
pub struct TeamOut {
    id: i64,
    name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamIn {
    name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberIn {
    user_id: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPatchIn {
    /// Up to 100 characters; empty shows the contact by their number.
    name: Option<String>,
    /// An IANA zone such as America/Chicago; null goes back to the zone the number implies.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    time_zone: Option<Option<String>>,
    /// Keys given are set (a string of up to 500 characters) or removed (null); others are kept.
    /// Keys are 1 to 40 letters, digits, `_` or `-`.
    #[schema(value_type = Option<Object>)]
    attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentIn {
    /// opted_in or opted_out.
    state: String,
    /// How consent was given or withdrawn: web_form, verbal, api, …
    source: String,
    /// What proves it (a form submission id, a note of the call).
    #[serde(default)]
    evidence: String,
    /// `account` (every sender of the business; the default) or one sender's scope
    /// (`inbox:<id>`, or the shared scope an inbox was given).
    scope: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentEventOut {
    id: i64,
    /// `account` (applies to every sender) or a sender's scope (`inbox:<id>` or a shared pool's).
    scope: String,
    /// opt_in or opt_out.
    kind: String,
    source: String,
    evidence: String,
    actor_id: Option<i64>,
    message_id: Option<i64>,
    created_at: String,
}

impl From<textdesk_store::ConsentEvent> for ConsentEventOut {
    fn from(e: textdesk_store::ConsentEvent) -> Self {
        ConsentEventOut {
            id: e.id,
            scope: e.scope,
            kind: e.kind,
            source: e.source,
            evidence: e.evidence,
            actor_id: e.actor_id,
            message_id: e.message_id,
            created_at: ts(e.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConversationOut {
    id: i64,
    inbox_id: i64,
    contact_id: i64,
    /// open, pending, snoozed or resolved.
    status: String,
    snoozed_until: Option<String>,
    assignee_id: Option<i64>,
    team_id: Option<i64>,
    priority: String,
    labels: Vec<String>,
    last_activity_at: String,
    waiting_since: Option<String>,
    resolved_at: Option<String>,
    unread: i64,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preview: Option<String>,
}

impl From<Conversation> for ConversationOut {
    fn from(c: Conversation) -> Self {
        ConversationOut {
            id: c.id,
            inbox_id: c.inbox_id,
            contact_id: c.contact_id,
            status: c.status.as_str().into(),
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
    items: Vec<ConversationOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MessageOut {
    id: i64,
    conversation_id: i64,
    /// inbound or outbound.
    direction: String,
    author_id: Option<i64>,
    author_name: Option<String>,
    body: String,
    /// Pictures and files, in order.
    media: Vec<MediaOut>,
    /// A note for colleagues, never sent to the customer.
    private: bool,
    /// received, note, queued, sending, sent, delivered, read, undelivered, failed.
    status: String,
    error: Option<String>,
    segments: i64,
    encoding: String,
    provider_id: Option<String>,
    /// For a `scheduled` message: when it will go out (quiet hours, or a time chosen).
    send_at: Option<String>,
    /// How many times it has been handed to the provider.
    attempts: i64,
    /// After a failed attempt that will be retried: when (`POST /messages/{id}/retry` goes now).
    retry_at: Option<String>,
    created_at: String,
    updated_at: String,
}

impl MessageOut {
    pub fn of(m: Message, services: &crate::Services) -> Self {
        MessageOut {
            id: m.id,
            conversation_id: m.conversation_id,
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
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessageIn {
    body: String,
    /// true for a private note.
    #[serde(default)]
    private: bool,
    /// `reply` (the default: an answer in a conversation the customer started) or
    /// `notification` (business-initiated: needs a recorded opt-in, waits out quiet hours).
    kind: Option<String>,
    /// Send no earlier than this: `2026-11-23T09:00` read in `send_at_zone`, or an instant with an offset.
    send_at: Option<String>,
    /// `contact` (the default), `business`, or an IANA zone name such as the agent's.
    send_at_zone: Option<String>,
    /// Pictures or files uploaded with `POST /api/v1/media`, sent with the text (MMS), in order.
    media_ids: Option<Vec<i64>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleIn {
    /// A new text; left out keeps it.
    body: Option<String>,
    /// A new moment, read as for a new message; left out keeps it.
    send_at: Option<String>,
    send_at_zone: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignIn {
    /// The agent to assign; null unassigns.
    assignee_id: Option<i64>,
    /// Optionally also set the owning team (null clears it).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    team_id: Option<Option<i64>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusIn {
    /// open, pending, snoozed or resolved.
    status: String,
    /// With `snoozed`, a preset: `1h`, `tomorrow` (9:00 the next day) or `next_week` (Monday 9:00),
    /// on the clock of `zone`.
    #[serde(default)]
    snooze: Option<String>,
    /// With `snoozed`, instead of a preset: when it reopens, RFC 3339 (`2026-05-01T09:00:00Z`)
    /// or a local time read in `zone` (`2026-05-01T09:00`).
    #[serde(default)]
    snoozed_until: Option<String>,
    /// IANA zone the snooze is read in (the agent's own); the business's `time_zone` when absent.
    #[serde(default)]
    zone: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityIn {
    priority: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelsIn {
    /// Names from the account's labels (`/api/v1/labels`), in any case; at most 20. An
    /// unknown name is refused (422) and named in the detail.
    labels: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TimelineOut {
    id: i64,
    kind: String,
    actor_id: Option<i64>,
    actor_name: Option<String>,
    #[schema(value_type = Object)]
    data: serde_json::Value,
    created_at: String,
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

#[derive(Serialize, ToSchema)]
pub struct UserOut {
    id: i64,
    email: String,
    name: String,
    role: String,
    active: bool,
    created_at: String,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        UserOut {
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role.as_str().into(),
            active: u.active,
            created_at: ts(u.created_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserIn {
    email: String,
    #[serde(default)]
    name: String,
    role: String,
    password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatchIn {
    role: Option<String>,
    active: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenOut {
    id: i64,
    name: String,
    created_at: String,
    last_used_at: Option<String>,
    revoked: bool,
}

impl From<ApiToken> for TokenOut {
    fn from(t: ApiToken) -> Self {
        TokenOut {
            id: t.id,
            name: t.name,
            created_at: ts(t.created_at),
            last_used_at: t.last_used_at.map(ts),
            revoked: t.revoked,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenIn {
    name: String,
}

#[derive(Serialize, ToSchema)]
pub struct NewTokenOut {
    token: TokenOut,
    /// The secret: shown this once, stored only as a hash.
    secret: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewIn {
    body: String,
    /// A conversation to judge the draft for (consent, quiet hours, its inbox's price).
    conversation_id: Option<i64>,
    /// Or just an inbox, for its price.
    inbox_id: Option<i64>,
}

/// The preview of a draft (its fields are listed in the operation's description).
#[derive(Serialize)]
pub struct PreviewOut(crate::services::compose::ComposePreview);

#[derive(Serialize, ToSchema)]
pub struct ProblemOut {
    #[serde(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    detail: String,
}

// ---------- handlers ----------

#[derive(Serialize, ToSchema)]
pub struct MeOut {
    #[serde(flatten)]
    user: UserOut,
    preferences: PreferencesOut,
}

#[derive(Serialize, ToSchema)]
pub struct PreferencesOut {
    /// Enter sends a reply (true) or makes a new line, Ctrl+Enter sending (false); null until
    /// chosen: Enter sends on a keyboard and makes a new line on a touch screen.
    enter_sends: Option<bool>,
}

impl From<User> for MeOut {
    fn from(u: User) -> Self {
        MeOut { preferences: PreferencesOut { enter_sends: u.enter_sends }, user: u.into() }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MePatchIn {
    preferences: Option<PreferencesIn>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesIn {
    /// true, false, or null for the keyboard's default.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<bool>)]
    enter_sends: Option<Option<bool>>,
}

#[utoipa::path(get, path = "/api/v1/me", tag = "users", responses((status = 200, body = MeOut), (status = 401, body = ProblemOut)), security(("bearer" = [])))]
async fn me(ApiUser(u): ApiUser) -> Json<MeOut> {
    Json(u.into())
}

#[utoipa::path(patch, path = "/api/v1/me", tag = "users", request_body = MePatchIn, responses((status = 200, body = MeOut), (status = 401, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
async fn update_me(State(s): State<AppState>, ApiUser(u): ApiUser, Json(b): Json<MePatchIn>) -> ApiResult<Json<MeOut>> {
    let mut user = u;
    if let Some(enter_sends) = b.preferences.and_then(|p| p.enter_sends) {
        user = s.services.store.set_enter_sends(user.id, enter_sends).await?;
    }
    Ok(Json(user.into()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ContactQuery {
    /// Part of a name or an address.
    q: Option<String>,
    /// Contacts with a smaller id than this (from the last page's last item).
    before_id: Option<i64>,
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts", params(ContactQuery), responses((status = 200, body = [ContactOut])), security(("bearer" = [])))]
async fn list_contacts(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Query(q): Query<ContactQuery>,
) -> ApiResult<Json<Vec<ContactOut>>> {
    let list = s
        .services
        .store
        .contacts(u.account_id, q.q.as_deref(), q.before_id, q.limit.unwrap_or(50).clamp(1, 200))
        .await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/api/v1/contacts", tag = "contacts", request_body = NewContactIn, responses((status = 201, body = ContactOut), (status = 409, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
async fn create_contact(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Json(b): Json<NewContactIn>,
) -> ApiResult<Response> {
    let address = Address::parse(crate::services::channels::medium_named(b.channel_kind.as_deref())?, &b.address)?;
    let tz = b.time_zone.as_deref().map(parse_zone).transpose()?;
    let c = s.services.store.create_contact(u.account_id, b.name.trim(), &address, tz.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(ContactOut::from(c))).into_response())
}

#[utoipa::path(post, path = "/api/v1/contacts/{id}/identities", tag = "contacts", params(("id" = i64, Path)), request_body = IdentityIn, responses((status = 201, body = ContactOut), (status = 404, body = ProblemOut), (status = 409, body = ProblemOut, description = "The address belongs to another contact"), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
async fn add_identity(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<IdentityIn>,
) -> ApiResult<Response> {
    let address = Address::parse(crate::services::channels::medium_named(b.channel_kind.as_deref())?, &b.address)?;
    let c = s.services.store.add_identity(u.account_id, id, &address).await?;
    Ok((StatusCode::CREATED, Json(ContactOut::from(c))).into_response())
}

#[utoipa::path(get, path = "/api/v1/teams", tag = "users", responses((status = 200, body = [TeamOut])), security(("bearer" = [])))]
async fn list_teams(State(s): State<AppState>, ApiUser(u): ApiUser) -> ApiResult<Json<Vec<TeamOut>>> {
    let teams = s.services.store.teams(u.account_id).await?;
    Ok(Json(teams.into_iter().map(|t| TeamOut { id: t.id, name: t.name }).collect()))
}

#[utoipa::path(post, path = "/api/v1/teams", tag = "users", request_body = TeamIn, responses((status = 201, body = TeamOut), (status = 403, body = ProblemOut), (status = 409, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
async fn create_team(State(s): State<AppState>, user: ApiUser, Json(b): Json<TeamIn>) -> ApiResult<Response> {
    let admin = user.require(Role::Admin)?;
    let name = b.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(Problem::invalid("a team name is 1 to 100 characters"));
    }
    let t = s.services.store.create_team(admin.account_id, name).await?;
    Ok((StatusCode::CREATED, Json(TeamOut { id: t.id, name: t.name })).into_response())
}

#[utoipa::path(post, path = "/api/v1/teams/{id}/members", tag = "users", params(("id" = i64, Path)), request_body = MemberIn, responses((status = 204), (status = 403, body = ProblemOut), (status = 404, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
async fn add_team_member(
    State(s): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<MemberIn>,
) -> ApiResult<StatusCode> {
    let admin = user.require(Role::Admin)?;
    s.services.store.team(admin.account_id, id).await?;
    // The path names the team (404 if it is not there); a body naming nobody is a bad body.
    let no_one = || Problem::invalid("user_id: no one with this id works in this account");
    let member = match s.services.store.user(b.user_id).await {
        Ok(m) if m.account_id == admin.account_id => m,
        Ok(_) | Err(textdesk_store::StoreError::NotFound(_)) => return Err(no_one()),
        Err(e) => return Err(e.into()),
    };
    s.services.store.add_team_member(id, member.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = i64, Path)), responses((status = 200, body = ContactOut), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
async fn get_contact(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<ContactOut>> {
    Ok(Json(s.services.store.contact(u.account_id, id).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = i64, Path)), request_body = ContactPatchIn, responses((status = 200, body = ContactOut), (status = 404, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
async fn update_contact(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<ContactPatchIn>,
) -> ApiResult<Json<ContactOut>> {
    let time_zone = match b.time_zone {
        Some(Some(z)) => Some(Some(parse_zone(&z)?)),
        other => other,
    };
    let patch = ContactPatch {
        name: b.name.as_deref().map(textdesk_core::ContactName::parse).transpose()?,
        time_zone,
        attributes: b.attributes.map(crate::http::contacts::attribute_changes).transpose()?,
    };
    Ok(Json(s.services.edit_contact(&u, id, patch, None).await?.into()))
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}/consent", tag = "contacts", params(("id" = i64, Path)), responses((status = 200, body = [ConsentEventOut]), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
async fn consent_history(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<ConsentEventOut>>> {
    s.services.store.contact(u.account_id, id).await?;
    let events = s.services.store.consent_history(id).await?;
    Ok(Json(events.into_iter().map(Into::into).collect()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    /// Only this contact's events.
    contact_id: Option<i64>,
    /// From this instant (RFC 3339), inclusive.
    from: Option<String>,
    /// Up to this instant, exclusive.
    to: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/consent/export", tag = "contacts", params(LedgerQuery),
    responses((status = 200, content_type = "text/csv", description = "The consent ledger, one line per opt-in or opt-out"), (status = 403, body = ProblemOut), (status = 422, body = ProblemOut)),
    security(("bearer" = [])))]
async fn export_consent(State(s): State<AppState>, user: ApiUser, Query(q): Query<LedgerQuery>) -> ApiResult<Response> {
    let u = user.require(Role::Supervisor)?;
    let instant = |v: &Option<String>, name: &str| -> Result<Option<jiff::Timestamp>, Problem> {
        v.as_deref()
            .map(|t| {
                t.parse()
                    .map_err(|_| Problem::invalid(format!("{name}: {t:?} is not a time like 2026-01-31T00:00:00Z")))
            })
            .transpose()
    };
    let (from, to) = (instant(&q.from, "from")?, instant(&q.to, "to")?);
    let lines = s.services.store.consent_ledger(u.account_id, q.contact_id, from, to).await?;
    Ok(csv_response(crate::services::consent::ledger_csv(&lines)))
}

/// A CSV download.
pub fn csv_response(body: String) -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (axum::http::header::CONTENT_DISPOSITION, "attachment; filename=\"consent-ledger.csv\""),
        ],
        body,
    )
        .into_response()
}

#[utoipa::path(post, path = "/api/v1/contacts/{id}/consent", tag = "contacts", params(("id" = i64, Path)), request_body = ConsentIn, responses((status = 201, body = ConsentEventOut), (status = 404, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
async fn record_consent(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<ConsentIn>,
) -> ApiResult<Response> {
    let state = match ConsentState::parse(&b.state) {
        Some(st @ (ConsentState::OptedIn | ConsentState::OptedOut)) => st,
        _ => return Err(Problem::invalid("state must be opted_in or opted_out")),
    };
    let source = b.source.trim();
    if source.is_empty() || source.len() > 50 {
        return Err(Problem::invalid("source is 1 to 50 characters (web_form, verbal, api, …)"));
    }
    let r = RecordConsent {
        contact_id: id,
        conversation_id: None,
        scope: b.scope.as_deref().unwrap_or(ACCOUNT_SCOPE),
        state,
        source,
        evidence: b.evidence.trim(),
        actor_id: Some(u.id),
    };
    let e = s.services.store.record_consent(u.account_id, r).await?;
    Ok((StatusCode::CREATED, Json(ConsentEventOut::from(e))).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConversationQuery {
    /// mine, unassigned, team (the caller's teams), mentions (private notes mentioning the caller) or all (default).
    view: Option<String>,
    /// open, pending, snoozed, resolved, or any (default).
    status: Option<String>,
    /// `me`, `none`, or a user id.
    assignee: Option<String>,
    inbox_id: Option<i64>,
    team_id: Option<i64>,
    label: Option<String>,
    /// none, low, medium, high or urgent.
    priority: Option<String>,
    contact_id: Option<i64>,
    /// Words (matched as prefixes, all required) in the messages or the contact's name; a phone number's digits in the address.
    q: Option<String>,
    /// activity (most recent first, default), waiting (longest waiting first) or mentioned (view=mentions only; its default).
    sort: Option<String>,
    /// From the previous page's `next_cursor`, with the same sort.
    cursor: Option<String>,
    /// 1 to 200, default 25.
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", params(ConversationQuery), responses((status = 200, body = ConversationListOut), (status = 400, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
async fn list_conversations(
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
async fn get_conversation(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<ConversationOut>> {
    Ok(Json(s.services.store.conversation_summary(u.account_id, id).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/assign", tag = "conversations", params(("id" = i64, Path)), request_body = AssignIn, responses((status = 200, body = ConversationOut), (status = 404, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
async fn assign_conversation(
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
async fn set_status(
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
        Some(s.services.snooze_until(&when, b.zone.as_deref(), jiff::Timestamp::now())?)
    } else {
        None
    };
    Ok(Json(s.services.set_status(&u, id, status, until).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/read", tag = "conversations", params(("id" = i64, Path)), responses((status = 200, body = ConversationOut, description = "Marked read: `unread` is 0"), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
async fn mark_read(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<ConversationOut>> {
    s.services.mark_read(&u, id).await?;
    Ok(Json(s.services.store.conversation_summary(u.account_id, id).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/unread", tag = "conversations", params(("id" = i64, Path)), responses((status = 200, body = ConversationOut, description = "Marked unread: `unread` is at least 1 until someone opens it in the web UI or marks it read"), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
async fn mark_unread(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<ConversationOut>> {
    Ok(Json(s.services.mark_unread(&u, id).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/priority", tag = "conversations", params(("id" = i64, Path)), request_body = PriorityIn, responses((status = 200, body = ConversationOut), (status = 404, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
async fn set_priority(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<PriorityIn>,
) -> ApiResult<Json<ConversationOut>> {
    let p = Priority::parse(&b.priority)?;
    Ok(Json(s.services.set_priority(&u, id, p).await?.into()))
}

#[utoipa::path(put, path = "/api/v1/conversations/{id}/labels", tag = "conversations", params(("id" = i64, Path)), request_body = LabelsIn, responses((status = 200, body = ConversationOut), (status = 404, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
async fn set_labels(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<LabelsIn>,
) -> ApiResult<Json<ConversationOut>> {
    Ok(Json(s.services.set_labels(&u, id, &b.labels).await?.into()))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/timeline", tag = "conversations", params(("id" = i64, Path)), responses((status = 200, body = [TimelineOut]), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
async fn timeline(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<TimelineOut>>> {
    s.services.store.conversation(u.account_id, id).await?;
    Ok(Json(s.services.store.timeline(id).await?.into_iter().map(Into::into).collect()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MessageQuery {
    /// The oldest messages after this id (paging forward from the start).
    after_id: Option<i64>,
    /// The newest messages before this id, still oldest first (paging back from the end).
    before_id: Option<i64>,
    /// Start from the newest messages instead of the oldest (with neither id).
    latest: Option<bool>,
    /// 1 to 1000, default 200.
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "messages", params(("id" = i64, Path), MessageQuery), responses((status = 200, body = [MessageOut]), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
async fn list_messages(
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
    let list = s.services.store.messages(u.account_id, id, page, q.limit.unwrap_or(200)).await?;
    Ok(Json(list.into_iter().map(|m| MessageOut::of(m, &s.services)).collect()))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "messages", params(("id" = i64, Path)), request_body = NewMessageIn,
    responses((status = 201, body = MessageOut, description = "Stored; queued for sending unless private"), (status = 404, body = ProblemOut), (status = 409, body = ProblemOut, description = "Blocked by the gate (e.g. the contact opted out); nothing was sent"), (status = 422, body = ProblemOut)),
    security(("bearer" = [])))]
async fn create_message(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<NewMessageIn>,
) -> ApiResult<Response> {
    let kind = match b.kind.as_deref() {
        None => OutboundKind::Reply,
        Some("reply") => OutboundKind::Reply,
        Some("notification") => OutboundKind::Notification,
        Some(other) => return Err(Problem::invalid(format!("kind {other:?}: use reply or notification"))),
    };
    let media = b.media_ids.unwrap_or_default();
    let body = Body::parse_with(&b.body, media.len())?;
    let send_at = match &b.send_at {
        Some(t) => {
            Some(s.services.send_time(id, t, &ZoneChoice::parse(b.send_at_zone.as_deref().unwrap_or(""))?).await?)
        }
        None => None,
    };
    let m = s.services.send(&u, id, Draft { body, private: b.private, kind, send_at, media }).await?;
    Ok((StatusCode::CREATED, Json(MessageOut::of(m, &s.services))).into_response())
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/scheduled", tag = "messages", params(("id" = i64, Path)),
    responses((status = 200, body = [MessageOut], description = "Messages waiting to go, soonest first"), (status = 404, body = ProblemOut)),
    security(("bearer" = [])))]
async fn list_scheduled(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<MessageOut>>> {
    Ok(Json(s.services.scheduled(&u, id).await?.into_iter().map(|m| MessageOut::of(m, &s.services)).collect()))
}

#[utoipa::path(patch, path = "/api/v1/messages/{id}", tag = "messages", params(("id" = i64, Path)), request_body = ScheduleIn,
    responses((status = 200, body = MessageOut), (status = 404, body = ProblemOut), (status = 409, body = ProblemOut, description = "Already sent or being sent, or blocked by the gate"), (status = 422, body = ProblemOut)),
    security(("bearer" = [])))]
async fn edit_waiting_message(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<ScheduleIn>,
) -> ApiResult<Json<MessageOut>> {
    let m = s.services.store.message_in_account(u.account_id, id).await?;
    let body = b.body.as_deref().map(Body::parse).transpose()?;
    let send_at = match &b.send_at {
        Some(t) => Some(
            s.services
                .send_time(m.conversation_id, t, &ZoneChoice::parse(b.send_at_zone.as_deref().unwrap_or(""))?)
                .await?,
        ),
        None => m.send_at,
    };
    Ok(Json(MessageOut::of(s.services.reschedule(&u, id, body, send_at).await?, &s.services)))
}

#[utoipa::path(post, path = "/api/v1/messages/{id}/send-now", tag = "messages", params(("id" = i64, Path)),
    responses((status = 200, body = MessageOut, description = "Queued now, or still waiting if it is the customer's quiet hours"), (status = 404, body = ProblemOut), (status = 409, body = ProblemOut)),
    security(("bearer" = [])))]
async fn send_now(State(s): State<AppState>, ApiUser(u): ApiUser, Path(id): Path<i64>) -> ApiResult<Json<MessageOut>> {
    Ok(Json(MessageOut::of(s.services.reschedule(&u, id, None, None).await?, &s.services)))
}

#[utoipa::path(post, path = "/api/v1/messages/{id}/retry", tag = "messages", params(("id" = i64, Path)),
    responses((status = 200, body = MessageOut, description = "Queued to go at the next dispatch (the gate still looks first)"), (status = 404, body = ProblemOut), (status = 409, body = ProblemOut, description = "Not failed, and not waiting to retry")),
    security(("bearer" = [])))]
async fn retry_message(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<MessageOut>> {
    s.services.retry_now(&u, id).await?;
    Ok(Json(MessageOut::of(s.services.store.message(id).await?, &s.services)))
}

#[utoipa::path(delete, path = "/api/v1/messages/{id}", tag = "messages", params(("id" = i64, Path)),
    responses((status = 204, description = "Cancelled: it will not be sent"), (status = 404, body = ProblemOut), (status = 409, body = ProblemOut, description = "Already sent or being sent")),
    security(("bearer" = [])))]
async fn cancel_message(State(s): State<AppState>, ApiUser(u): ApiUser, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    s.services.cancel_scheduled(&u, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, body = [UserOut])), security(("bearer" = [])))]
async fn list_users(State(s): State<AppState>, ApiUser(u): ApiUser) -> ApiResult<Json<Vec<UserOut>>> {
    Ok(Json(s.services.store.users(u.account_id).await?.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUserIn, responses((status = 201, body = UserOut), (status = 403, body = ProblemOut), (status = 409, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
async fn create_user(State(s): State<AppState>, user: ApiUser, Json(b): Json<NewUserIn>) -> ApiResult<Response> {
    let admin = user.require(Role::Admin)?;
    let email = Email::parse(&b.email)?;
    let role = Role::parse(&b.role)?;
    let password = Password::parse(&b.password)?;
    let created = auth::create_user(&s.services.store, admin.account_id, email, &b.name, role, &password)
        .await
        .map_err(|e| match e.downcast::<textdesk_store::StoreError>() {
            Ok(se) => Problem::from(se),
            Err(other) => {
                tracing::error!(error = %other, "creating a user failed");
                Problem::internal()
            }
        })?;
    Ok((StatusCode::CREATED, Json(UserOut::from(created))).into_response())
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)), request_body = UserPatchIn, responses((status = 200, body = UserOut), (status = 403, body = ProblemOut), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
async fn update_user(
    State(s): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<UserPatchIn>,
) -> ApiResult<Json<UserOut>> {
    let admin = user.require(Role::Admin)?;
    let target = s.services.store.user(id).await?;
    if target.account_id != admin.account_id {
        return Err(Problem::not_found("user"));
    }
    if target.id == admin.id && (b.active == Some(false) || b.role.as_deref().is_some_and(|r| r != "admin")) {
        return Err(Problem::invalid("you cannot demote or deactivate yourself; ask another admin"));
    }
    let mut out = target;
    if let Some(r) = b.role {
        out = s.services.store.set_user_role(id, Role::parse(&r)?).await?;
    }
    if let Some(a) = b.active {
        out = s.services.store.set_user_active(id, a).await?;
    }
    Ok(Json(out.into()))
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", responses((status = 200, body = [TokenOut])), security(("bearer" = [])))]
async fn list_tokens(State(s): State<AppState>, ApiUser(u): ApiUser) -> ApiResult<Json<Vec<TokenOut>>> {
    Ok(Json(s.services.store.api_tokens(u.id).await?.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = NewTokenIn, responses((status = 201, body = NewTokenOut)), security(("bearer" = [])))]
async fn create_token(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Json(b): Json<NewTokenIn>,
) -> ApiResult<Response> {
    let name = b.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(Problem::invalid("a token name is 1 to 100 characters"));
    }
    let (token, secret) = auth::create_token(&s.services.store, u.id, name).await?;
    Ok((StatusCode::CREATED, Json(NewTokenOut { token: token.into(), secret })).into_response())
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
async fn revoke_token(State(s): State<AppState>, ApiUser(u): ApiUser, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    s.services.store.revoke_api_token(u.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/compose/preview", tag = "messages", request_body = PreviewIn,
    responses((status = 200, body = serde_json::Value, description = "Counts, advice, cost and the gate's verdict for a draft: characters, encoding (gsm7/ucs2), units, segments, remaining_in_segment, ucs2_characters [{character, replacement}], warnings [{code, message}], cost {per_segment, total, currency} or null, verdict {decision allow|defer|block, until, until_local, reason, explanation} or null"), (status = 404, body = ProblemOut)),
    security(("bearer" = [])))]
async fn compose_preview(
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

#[derive(OpenApi)]
#[openapi(
    info(title = "textdesk API", version = "1", description = "The REST API of textdesk, a self-hosted help desk for text messaging. Authenticate with `Authorization: Bearer <token>` (create one with `textdesk token create`). Errors are RFC 9457 problem details."),
    paths(
        me, update_me, inboxes::list_inboxes, inboxes::get_inbox, inboxes::create_inbox, inboxes::update_inbox, list_contacts, create_contact, get_contact, update_contact, consent_history, record_consent, export_consent, add_identity, list_teams, create_team, add_team_member,
        compose_preview, list_conversations, get_conversation, assign_conversation, set_status, mark_read, mark_unread, set_priority, set_labels, timeline, list_messages, create_message,
        list_scheduled, edit_waiting_message, send_now, retry_message, cancel_message, media::upload,
        list_users, create_user, update_user, list_tokens, create_token, revoke_token, live::events,
        labels::list_labels, labels::create_label, labels::get_label, labels::update_label, labels::delete_label,
        canned::list_canned, canned::create_canned, canned::get_canned, canned::update_canned, canned::delete_canned, canned::render_canned,
        account::get_account, account::update_account,
        admin::create_invite, admin::reissue_invite, admin::list_members, admin::remove_member,
        contacts::list_notes, contacts::create_note, contacts::delete_note,
        crate::http::privacy::export_contact, crate::http::privacy::erasure_preview, crate::http::privacy::erase_contact, crate::http::retention::get_retention, crate::http::retention::put_retention, crate::http::retention::delete_retention, crate::http::retention::dry_run
    ),
    modifiers(&BearerAuth, &ProviderSetups, &ErrorResponses)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The answers every operation can give besides its own, written once here
/// rather than on each handler: problem details under their own media type,
/// 401 and 429 where a token is needed, 400/413/415/422 where a JSON body or a query
/// string is read, 404 where the path names something.
struct ErrorResponses;

impl utoipa::Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let problem = |description: &str| -> RefOr<utoipa::openapi::Response> {
            let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ProblemOut"))).build();
            ResponseBuilder::new().description(description).content("application/problem+json", content).build().into()
        };
        let is_problem = |c: &RefOr<utoipa::openapi::Content>| matches!(c, RefOr::T(c) if matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/ProblemOut")));
        for item in openapi.paths.paths.values_mut() {
            let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for op in ops.into_iter().flatten() {
                for (code, response) in op.responses.responses.iter_mut() {
                    let RefOr::T(r) = response else { continue };
                    // OpenAPI requires one; generated clients refuse a document without.
                    if r.description.is_empty() {
                        let reason = code.parse().ok().and_then(|c| axum::http::StatusCode::from_u16(c).ok());
                        r.description = reason.and_then(|c| c.canonical_reason()).unwrap_or("Answer").to_owned();
                    }
                    if r.content.get("application/json").is_some_and(is_problem)
                        && let Some(c) = r.content.shift_remove("application/json")
                    {
                        r.content.insert("application/problem+json".into(), c);
                    }
                }
                let params = op.parameters.iter().flatten();
                let located =
                    |place: ParameterIn| params.clone().any(|p| matches!(p, RefOr::T(p) if p.parameter_in == place));
                let (query, path) = (located(ParameterIn::Query), located(ParameterIn::Path));
                let json_body =
                    matches!(&op.request_body, Some(RefOr::T(b)) if b.content.contains_key("application/json"));
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let mut add = |code: &str, description: &str, when: bool| {
                    if when {
                        op.responses.responses.entry(code.into()).or_insert_with(|| problem(description));
                    }
                };
                add("400", "The JSON body or the query string could not be read", json_body || query);
                add("401", "No API token, or one that is not valid", secured);
                add("404", "Nothing with that id in the account", path);
                add("413", "The body is larger than the server accepts", json_body);
                add("415", "The body is not sent as application/json", json_body);
                add("422", "Well-formed, but a value is not valid (the detail names it)", json_body || query);
                // Bad tokens count against the caller's address, as failed sign-ins do.
                add("429", "Too many failed attempts from this address; Retry-After says when to try again", secured);
            }
        }
    }
}

/// The OpenAPI document, pretty-printed (the committed copy is this text).
pub fn openapi_document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default() + "\n"
}

async fn openapi_json() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], openapi_document()).into_response()
}

/// Tells "absent" (None) from "null" (Some(None)) in a PATCH-like body.
pub(crate) fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
