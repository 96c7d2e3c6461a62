//! Calls over HTTP: what the voice provider asks of us about a call
//! (`/webhooks/calls/{id}/answer`, the bridge to the customer at a signed,
//! expiring URL; `/webhooks/calls/{id}/status`, its progress), the call back
//! queue (`/callbacks`, `/api/v1/callbacks`), and the person's own phone
//! (`/profile`; `PATCH /api/v1/me` with `phone`). Logic lives in `services::voice`.

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use textdesk_store::Callback;
use utoipa::ToSchema;

use crate::http::conversations::escalations::EscalationOut;
use crate::http::extract::{ApiUser, CsrfForm, Json, Path, Query, UiUser, ts};
use crate::http::layout::{Chrome, chrome};
use crate::http::problem::{ApiResult, Problem, ProblemOut};
use crate::http::state::AppState;
use crate::http::webhooks::plain;
use crate::services::error::ServiceError;
use crate::services::voice::CallHook;

// ---------- what the provider asks ----------

#[derive(Deserialize)]
pub(crate) struct AnswerQuery {
    #[serde(default)]
    expires: i64,
    #[serde(default)]
    token: String,
}

/// A provider's request about a call, refused: a plain answer it understands
/// (anything but a missing call, a failed check or a bad request is ours, and
/// it is told to try again).
fn refused(e: ServiceError) -> Response {
    match e {
        ServiceError::NotFound(_) => plain(StatusCode::NOT_FOUND, "no such call"),
        ServiceError::Forbidden(why) => {
            tracing::warn!("a request about a call failed its check");
            plain(StatusCode::FORBIDDEN, &why)
        }
        ServiceError::Invalid(why) => plain(StatusCode::BAD_REQUEST, &why),
        other => {
            tracing::error!(error = %other, "a request about a call could not be handled");
            plain(StatusCode::SERVICE_UNAVAILABLE, "try again")
        }
    }
}

/// The agent answered: TwiML that dials the customer (403 for a bad or expired token or signature).
pub(crate) async fn answer(
    State(s): State<AppState>,
    Path(call_id): Path<i64>,
    Query(q): Query<AnswerQuery>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let hook = CallHook { call_id, path_and_query: path, headers: &headers, body: &body };
    match s.services.answer_call(&hook, q.expires, &q.token, Timestamp::now()).await {
        Ok(a) => {
            let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::OK);
            let ct = a.content_type.unwrap_or("text/plain; charset=utf-8");
            (status, [(header::CONTENT_TYPE, ct)], a.body).into_response()
        }
        Err(e) => refused(e),
    }
}

/// A status callback (ringing, in-progress, completed with its duration…): 204 once recorded.
pub(crate) async fn status(
    State(s): State<AppState>,
    Path(call_id): Path<i64>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let hook = CallHook { call_id, path_and_query: path, headers: &headers, body: &body };
    match s.services.call_status(&hook, Timestamp::now()).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => refused(e),
    }
}

// ---------- the call back queue ----------

#[derive(Serialize, ToSchema)]
pub struct CallbackOut {
    id: i64,
    conversation_id: i64,
    /// `waiting` (nobody took it yet) or `taken`.
    state: String,
    /// When to call (UTC).
    due_at: Option<String>,
    /// The customer's zone, when known (their clock is the one they chose the time on).
    time_zone: Option<String>,
    contact_name: String,
    contact_address: String,
    /// Null when the customer asked by text.
    requested_by: Option<i64>,
    taken_by: Option<i64>,
    taken_by_name: Option<String>,
    created_at: String,
}

impl From<Callback> for CallbackOut {
    fn from(c: Callback) -> Self {
        CallbackOut {
            id: c.id,
            conversation_id: c.conversation_id,
            state: c.state,
            due_at: c.due_at.map(ts),
            time_zone: c.time_zone,
            contact_name: c.contact_name,
            contact_address: c.contact_address,
            requested_by: c.requested_by,
            taken_by: c.taken_by,
            taken_by_name: c.taken_by_name,
            created_at: ts(c.created_at),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/callbacks", tag = "conversations", responses((status = 200, body = [CallbackOut], description = "Call backs waiting or taken, soonest first"), (status = 401, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn list_callbacks(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
) -> ApiResult<Json<Vec<CallbackOut>>> {
    Ok(Json(s.services.callback_queue(u.account_id).await?.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/api/v1/callbacks/{id}/take", tag = "conversations", params(("id" = i64, Path)), responses((status = 200, body = CallbackOut, description = "Taken by the caller"), (status = 404, body = ProblemOut), (status = 409, body = ProblemOut, description = "Someone else took it first")), security(("bearer" = [])))]
pub(crate) async fn take_callback(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<CallbackOut>> {
    Ok(Json(s.services.take_callback(&u, id).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/callbacks/{id}/call", tag = "conversations", params(("id" = i64, Path)), responses((status = 201, body = EscalationOut, description = "The call is placed: the caller's phone rings first"), (status = 404, body = ProblemOut), (status = 409, body = ProblemOut, description = "Not taken by the caller, or the customer's quiet hours"), (status = 422, body = ProblemOut, description = "No phone in the caller's profile, or the provider refused")), security(("bearer" = [])))]
pub(crate) async fn call_callback(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<(StatusCode, Json<EscalationOut>)> {
    Ok((StatusCode::CREATED, Json(s.services.call_back(&u, id).await?.into())))
}

pub struct QueueRow {
    id: i64,
    conversation_id: i64,
    who: String,
    /// On the customer's clock, named.
    their_time: String,
    /// On the business's clock.
    our_time: String,
    asked_by: &'static str,
    taken_by: Option<String>,
    mine: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "callbacks.html")]
struct CallbacksPage {
    chrome: Chrome,
    zone: String,
    rows: Vec<QueueRow>,
    error: Option<String>,
}

fn clock(at: Timestamp, zone: &jiff::tz::TimeZone) -> String {
    at.to_zoned(zone.clone()).strftime("%a %b %-d, %-I:%M %p").to_string()
}

async fn queue_page(s: &AppState, ui: &UiUser, error: Option<String>) -> Response {
    let queue = match s.services.callback_queue(ui.user.account_id).await {
        Ok(q) => q,
        Err(e) => return Problem::from(e).into_response(),
    };
    let rows = queue
        .into_iter()
        .map(|c| {
            let due = c.due_at.unwrap_or(c.created_at);
            let theirs = c.time_zone.as_deref().and_then(|z| jiff::tz::TimeZone::get(z).ok());
            let their_time = match &theirs {
                Some(z) => format!("{} ({} time)", clock(due, z), z.iana_name().unwrap_or("their")),
                None => "their zone is not known".into(),
            };
            let who = if c.contact_name.is_empty() { c.contact_address.clone() } else { c.contact_name.clone() };
            QueueRow {
                id: c.id,
                conversation_id: c.conversation_id,
                who,
                their_time,
                our_time: clock(due, &ui.zone),
                asked_by: if c.requested_by.is_some() { "an agent" } else { "the customer, by text" },
                mine: c.taken_by == Some(ui.user.id),
                taken_by: c.taken_by_name,
            }
        })
        .collect();
    let status = if error.is_some() { StatusCode::CONFLICT } else { StatusCode::OK };
    (status, CallbacksPage { chrome: chrome(s, ui), zone: ui.zone_name(), rows, error }).into_response()
}

pub(crate) async fn callbacks_page(State(s): State<AppState>, ui: UiUser) -> Response {
    queue_page(&s, &ui, None).await
}

#[derive(Deserialize)]
pub(crate) struct EmptyForm {}

/// Takes a call back, then shows its conversation (the thread, with the Call button on the queue).
pub(crate) async fn take_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, _f): CsrfForm<EmptyForm>,
) -> Response {
    match s.services.take_callback(&ui.user, id).await {
        Ok(cb) => Redirect::to(&format!("/conversations/{}", cb.conversation_id)).into_response(),
        Err(crate::services::error::ServiceError::Conflict(why)) => queue_page(&s, &ui, Some(why)).await,
        Err(e) => Problem::from(e).into_response(),
    }
}

/// Places a taken call back (the agent's phone rings), then shows the thread.
pub(crate) async fn call_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, _f): CsrfForm<EmptyForm>,
) -> Response {
    match s.services.call_back(&ui.user, id).await {
        Ok(e) => Redirect::to(&format!("/conversations/{}", e.conversation_id)).into_response(),
        Err(
            crate::services::error::ServiceError::Conflict(why) | crate::services::error::ServiceError::Invalid(why),
        ) => queue_page(&s, &ui, Some(why)).await,
        Err(e) => Problem::from(e).into_response(),
    }
}

// ---------- the person's own phone ----------

#[derive(Template, WebTemplate)]
#[template(path = "profile.html")]
struct ProfilePage {
    chrome: Chrome,
    phone: String,
    error: Option<String>,
    saved: bool,
}

#[derive(Deserialize)]
pub(crate) struct ProfileQuery {
    #[serde(default)]
    saved: Option<String>,
}

pub(crate) async fn profile_page(State(s): State<AppState>, ui: UiUser, Query(q): Query<ProfileQuery>) -> Response {
    let phone = ui.user.phone.clone().unwrap_or_default();
    ProfilePage { chrome: chrome(&s, &ui), phone, error: None, saved: q.saved.is_some() }.into_response()
}

#[derive(Deserialize)]
pub(crate) struct PhoneForm {
    #[serde(default)]
    phone: String,
}

pub(crate) async fn save_profile(State(s): State<AppState>, CsrfForm(ui, f): CsrfForm<PhoneForm>) -> Response {
    match s.services.set_phone(&ui.user, Some(&f.phone)).await {
        Ok(_) => Redirect::to("/profile?saved=1").into_response(),
        Err(crate::services::error::ServiceError::Invalid(why)) => {
            let page = ProfilePage { chrome: chrome(&s, &ui), phone: f.phone, error: Some(why), saved: false };
            (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
        }
        Err(e) => Problem::from(e).into_response(),
    }
}
