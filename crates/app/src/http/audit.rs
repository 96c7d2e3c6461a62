//! The audit trail's page for admins (`/settings/audit`): the newest entries
//! first, a page at a time, times in the business's zone.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use textdesk_core::Role;
use textdesk_store::AuditEntry;

use crate::http::extract::{Query, UiUser};
use crate::http::layout::{Chrome, chrome};
use crate::http::problem::Problem;
use crate::http::state::AppState;

/// Entries on one page.
pub(crate) const PAGE: i64 = 100;

pub(crate) struct Row {
    when: String,
    who: String,
    what: String,
    subject: String,
    ip: String,
    detail: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "settings_audit.html")]
pub(crate) struct AuditPage {
    chrome: Chrome,
    zone: String,
    rows: Vec<Row>,
    older: Option<i64>,
}

#[derive(Deserialize)]
pub(crate) struct AuditQuery {
    before: Option<i64>,
}

/// What an action is called on the page; unknown ones show as written.
pub(crate) fn action_label(action: &str) -> String {
    match action {
        "sign_in.locked" => "Sign-in locked".into(),
        other => other.replace(['_', '.'], " "),
    }
}

pub(crate) fn row(e: AuditEntry, tz: &jiff::tz::TimeZone) -> Row {
    Row {
        when: e.at.to_zoned(tz.clone()).strftime("%b %-d, %Y %-I:%M:%S %p").to_string(),
        who: e.actor_name.unwrap_or_else(|| "someone not signed in".into()),
        what: action_label(&e.action),
        subject: e.subject,
        ip: e.ip.unwrap_or_default(),
        detail: e.detail,
    }
}

pub(crate) async fn audit_page(State(s): State<AppState>, ui: UiUser, Query(q): Query<AuditQuery>) -> Response {
    if !ui.user.role.at_least(Role::Admin) {
        return Problem::forbidden("the audit trail is for admins").into_response();
    }
    let entries = match s.services.audit_entries(ui.user.account_id, q.before, PAGE).await {
        Ok(e) => e,
        Err(e) => return Problem::from(e).into_response(),
    };
    let older = (entries.len() as i64 == PAGE).then(|| entries.last().map(|e| e.id)).flatten();
    let rows = entries.into_iter().map(|e| row(e, &ui.zone)).collect();
    AuditPage { chrome: chrome(&s, &ui), zone: ui.zone_name(), rows, older }.into_response()
}
