//! The retention policy's settings page (`/settings/retention`, admins) and
//! API (`/api/v1/retention`). A policy is previewed before it is saved: the
//! page shows what it would remove today, counted by the same query the run uses.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use textdesk_core::Role;
use textdesk_store::{RetentionAction, RetentionCounts, RetentionPolicy};
use utoipa::ToSchema;

use crate::http::extract::{ApiAdmin, CsrfForm, Json, Query, UiUser};
use crate::http::layout::{Chrome, chrome};
use crate::http::problem::{Problem, ProblemOut};
use crate::http::state::AppState;
use crate::services::retention::{cutoff, parse_policy};

const ADMINS_ONLY: &str = "the retention policy is for admins";

// ---------- the page ----------

#[derive(Template, WebTemplate)]
#[template(path = "settings_retention.html")]
struct RetentionPage {
    chrome: Chrome,
    zone: String,
    /// The saved policy, in words ("Delete … after 12 months"), or None.
    current: Option<String>,
    last_run: Option<String>,
    /// The form's values.
    months: String,
    action: &'static str,
    /// A valid policy previewed: what it would remove today, and from before when.
    preview: Option<(RetentionCounts, String)>,
    error: Option<String>,
    saved: bool,
}

#[derive(Deserialize)]
pub struct PageQuery {
    months: Option<String>,
    action: Option<String>,
    #[serde(default)]
    saved: Option<String>,
}

fn describe(p: RetentionPolicy) -> String {
    let what = match p.action {
        RetentionAction::Delete => "Delete",
        RetentionAction::Redact => "Redact (keep who wrote when, remove the words and files of)",
    };
    format!("{what} messages of resolved conversations after {} months", p.months)
}

fn when(ui: &UiUser, t: Timestamp) -> String {
    t.to_zoned(ui.zone.clone()).strftime("%b %-d, %Y %-I:%M %p").to_string()
}

pub async fn retention_page(State(s): State<AppState>, ui: UiUser, Query(q): Query<PageQuery>) -> Response {
    if !ui.user.role.at_least(Role::Admin) {
        return Problem::forbidden(ADMINS_ONLY).into_response();
    }
    let stored = match s.services.retention_policy(ui.user.account_id).await {
        Ok(p) => p,
        Err(e) => return Problem::from(e).into_response(),
    };
    let mut page = RetentionPage {
        chrome: chrome(&s, &ui),
        zone: ui.zone_name(),
        current: stored.map(|p| describe(p.policy)),
        last_run: stored.and_then(|p| p.last_run_at).map(|t| when(&ui, t)),
        months: stored.map_or_else(|| "24".to_owned(), |p| p.policy.months.to_string()),
        action: stored.map_or("redact", |p| p.policy.action.as_str()),
        preview: None,
        error: None,
        saved: q.saved.is_some(),
    };
    let mut status = StatusCode::OK;
    if let (Some(months), Some(action)) = (q.months, q.action) {
        page.months = months.clone();
        match parse_policy(&months, &action) {
            Ok(p) => {
                page.action = p.action.as_str();
                let now = Timestamp::now();
                match s.services.retention_dry_run(ui.user.account_id, p, now).await {
                    Ok(c) => page.preview = Some((c, when(&ui, cutoff(now, p.months)))),
                    Err(e) => return Problem::from(e).into_response(),
                }
            }
            Err(e) => {
                status = StatusCode::UNPROCESSABLE_ENTITY;
                page.error = Some(format!("Not previewed: {e}."));
            }
        }
    }
    (status, page).into_response()
}

#[derive(Deserialize)]
pub struct SaveForm {
    #[serde(default)]
    months: String,
    /// `delete`, `redact`, or `off` (keep everything). Absent reads as not
    /// valid, after the role is checked (a form missing it is not a way to
    /// learn what a non-admin may not do).
    #[serde(default)]
    action: String,
}

pub async fn save_form(State(s): State<AppState>, CsrfForm(ui, f): CsrfForm<SaveForm>) -> Response {
    if !ui.user.role.at_least(Role::Admin) {
        return Problem::forbidden(ADMINS_ONLY).into_response();
    }
    let policy = if f.action == "off" {
        None
    } else {
        match parse_policy(&f.months, &f.action) {
            Ok(p) => Some(p),
            Err(e) => return Problem::from(e).into_response(),
        }
    };
    match s.services.set_retention(ui.user.account_id, policy, Some(ui.user.id)).await {
        Ok(()) => Redirect::to("/settings/retention?saved=1").into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

// ---------- the API ----------

#[derive(Deserialize, Serialize, ToSchema)]
pub struct RetentionIn {
    /// Months messages are kept after they were written (1 to 120).
    #[schema(minimum = 1, maximum = 120)]
    pub months: u32,
    /// `delete`, or `redact` (the message stays, its words and files go).
    pub action: String,
}

impl RetentionIn {
    fn policy(&self) -> Result<RetentionPolicy, Problem> {
        Ok(parse_policy(&self.months.to_string(), &self.action)?)
    }
}

#[derive(Serialize, ToSchema)]
pub struct RetentionOut {
    /// None: everything is kept.
    pub policy: Option<RetentionIn>,
    pub last_run_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RetentionCountsOut {
    /// Resolved conversations with messages older than the cut-off.
    pub conversations: i64,
    pub messages: i64,
    pub files: i64,
    /// Rows of the event log (the conversations' history) older than the cut-off.
    pub events: i64,
    /// Messages written before this instant go.
    pub cutoff: String,
}

#[utoipa::path(get, path = "/api/v1/retention", tag = "privacy",
    responses((status = 200, body = RetentionOut), (status = 403, body = ProblemOut, description = "Not an admin")),
    security(("bearer" = [])))]
pub async fn get_retention(State(s): State<AppState>, ApiAdmin(u): ApiAdmin) -> Result<Json<RetentionOut>, Problem> {
    let stored = s.services.retention_policy(u.account_id).await?;
    Ok(Json(RetentionOut {
        policy: stored.map(|p| RetentionIn { months: p.policy.months, action: p.policy.action.as_str().into() }),
        last_run_at: stored.and_then(|p| p.last_run_at).map(|t| t.to_string()),
    }))
}

#[utoipa::path(put, path = "/api/v1/retention", tag = "privacy", request_body = RetentionIn,
    responses((status = 204, description = "Saved; it runs daily"), (status = 403, body = ProblemOut, description = "Not an admin"),
        (status = 422, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn put_retention(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Json(b): Json<RetentionIn>,
) -> Result<StatusCode, Problem> {
    s.services.set_retention(u.account_id, Some(b.policy()?), Some(u.id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/retention", tag = "privacy",
    responses((status = 204, description = "Turned off: everything is kept"), (status = 403, body = ProblemOut, description = "Not an admin")),
    security(("bearer" = [])))]
pub async fn delete_retention(State(s): State<AppState>, ApiAdmin(u): ApiAdmin) -> Result<StatusCode, Problem> {
    s.services.set_retention(u.account_id, None, Some(u.id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/retention/dry-run", tag = "privacy", request_body = RetentionIn,
    responses((status = 200, body = RetentionCountsOut, description = "What the policy would remove if it ran now; nothing is changed"),
        (status = 403, body = ProblemOut, description = "Not an admin"), (status = 422, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn dry_run(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Json(b): Json<RetentionIn>,
) -> Result<Json<RetentionCountsOut>, Problem> {
    let p = b.policy()?;
    let now = Timestamp::now();
    let c = s.services.retention_dry_run(u.account_id, p, now).await?;
    Ok(Json(RetentionCountsOut {
        conversations: c.conversations,
        messages: c.messages,
        files: c.files,
        events: c.events,
        cutoff: cutoff(now, p.months).to_string(),
    }))
}
