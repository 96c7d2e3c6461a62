//! The audit trail for admins: the page (`/settings/audit`, newest first, a
//! page at a time, filtered by who, what and when, times in the business's
//! zone) and its export as CSV or JSON, streamed, from the page
//! (`/settings/audit/export`) and the API (`GET /api/v1/audit`).

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use textdesk_core::Role;
use textdesk_store::{AuditEntry, AuditFilter, User};
use utoipa::IntoParams;

use crate::http::extract::{ApiAdmin, ClientIp, Query, UiUser};
use crate::http::layout::{Chrome, chrome};
use crate::http::problem::{Problem, ProblemOut};
use crate::http::state::AppState;
use crate::services::audit::ExportFormat;

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
    /// The filter's choices and values.
    people: Vec<(i64, String)>,
    actions: Vec<(String, String)>,
    who: i64,
    what: String,
    from: String,
    to: String,
    /// The filters as a query string (for "Older entries" and the exports).
    query: String,
    filtered: bool,
}

/// The filters, as the page's form and the API send them.
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    /// Only what this user did (their id; empty for anyone).
    #[param(value_type = Option<i64>)]
    who: Option<String>,
    /// Only this action (`sign_in.failed`), or a family by its first word (`sign_in`).
    what: Option<String>,
    /// From this day (YYYY-MM-DD, on the business's clock) or instant (RFC 3339).
    from: Option<String>,
    /// Up to and including this day (YYYY-MM-DD), or before this instant (RFC 3339).
    to: Option<String>,
    /// Older than this entry (the page's "Older entries").
    #[param(ignore)]
    #[serde(default)]
    before: Option<i64>,
    /// The export's format: `json` (the default) or `csv`.
    format: Option<String>,
}

/// A day on the business's clock (its start; with `next`, the next day's) or an instant.
fn instant(
    v: Option<&str>,
    name: &str,
    tz: &jiff::tz::TimeZone,
    next: bool,
) -> Result<Option<jiff::Timestamp>, Problem> {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else { return Ok(None) };
    if let Ok(t) = v.parse::<jiff::Timestamp>() {
        return Ok(Some(t));
    }
    let bad =
        || Problem::invalid(format!("{name}: {v:?} is not a day like 2026-12-31 or a time like 2026-12-31T00:00:00Z"));
    let mut day = v.parse::<jiff::civil::Date>().map_err(|_| bad())?;
    if next {
        day = day.tomorrow().map_err(|_| bad())?;
    }
    Ok(Some(day.to_zoned(tz.clone()).map_err(|_| bad())?.timestamp()))
}

impl AuditQuery {
    fn filter(&self, tz: &jiff::tz::TimeZone) -> Result<AuditFilter, Problem> {
        let what = self.what.as_deref().map(str::trim).filter(|w| !w.is_empty());
        if what.is_some_and(|w| w.len() > 100) {
            return Err(Problem::invalid("what: an action name is at most 100 characters"));
        }
        Ok(AuditFilter {
            actor_user_id: self.who_id()?,
            action: what.map(str::to_owned),
            from: instant(self.from.as_deref(), "from", tz, false)?,
            to: instant(self.to.as_deref(), "to", tz, true)?,
        })
    }

    /// The person asked for; an empty choice is anyone.
    fn who_id(&self) -> Result<Option<i64>, Problem> {
        match self.who.as_deref().map(str::trim).filter(|w| !w.is_empty()) {
            None => Ok(None),
            Some(w) => w.parse::<i64>().map(Some).map_err(|_| Problem::invalid(format!("who: {w:?} is not a user id"))),
        }
    }

    /// The filters again as a query string.
    fn query_string(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Ok(Some(w)) = self.who_id() {
            q.append_pair("who", &w.to_string());
        }
        for (k, v) in [("what", &self.what), ("from", &self.from), ("to", &self.to)] {
            if let Some(v) = v.as_deref().filter(|v| !v.trim().is_empty()) {
                q.append_pair(k, v.trim());
            }
        }
        q.finish()
    }
}

/// What an action is called on the page; unknown ones show as written.
pub(crate) fn action_label(action: &str) -> String {
    match action {
        "sign_in.locked" => "Sign-in locked".into(),
        "sign_in.failed" => "Sign-in failed".into(),
        "sign_in.succeeded" => "Signed in".into(),
        "settings.account" => "Account settings changed".into(),
        "settings.inbox" => "Inbox settings changed".into(),
        "settings.reviews" => "Review rubric changed".into(),
        "consent.recorded" => "Consent recorded by hand".into(),
        "consent.exported" => "Consent ledger exported".into(),
        "contact.exported" => "Contact's data exported".into(),
        "contact.erased" => "Contact erased".into(),
        "audit.exported" => "Audit trail exported".into(),
        "user.role_changed" => "Role changed".into(),
        "user.deactivated" => "Person deactivated".into(),
        "user.reactivated" => "Person reactivated".into(),
        "conversation.transcript" => "Transcript read".into(),
        other => {
            let mut words = other.replace(['_', '.'], " ");
            if let Some(first) = words.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            words
        }
    }
}

pub(crate) fn row(e: AuditEntry, tz: &jiff::tz::TimeZone) -> Row {
    Row {
        when: e.at.to_zoned(tz.clone()).strftime("%b %-d, %Y %-I:%M:%S %p").to_string(),
        who: e.actor_name.unwrap_or_else(|| "someone not signed in, or the system".into()),
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
    let page = async {
        let f = q.filter(&ui.zone)?;
        let entries = s.services.audit_entries(&ui.user, &f, q.before, PAGE).await?;
        let people = s.services.users(ui.user.account_id).await?.into_iter().map(|u| (u.id, u.name)).collect();
        let actions = s.services.audit_actions(&ui.user).await?.into_iter().map(|a| (action_label(&a), a)).collect();
        let older = (entries.len() as i64 == PAGE).then(|| entries.last().map(|e| e.id)).flatten();
        Ok::<_, Problem>(AuditPage {
            chrome: chrome(&s, &ui),
            zone: ui.zone_name(),
            rows: entries.into_iter().map(|e| row(e, &ui.zone)).collect(),
            older,
            people,
            actions,
            who: f.actor_user_id.unwrap_or(0),
            what: q.what.clone().unwrap_or_default(),
            from: q.from.clone().unwrap_or_default(),
            to: q.to.clone().unwrap_or_default(),
            query: q.query_string(),
            filtered: f != AuditFilter::default(),
        })
    };
    match page.await {
        Ok(p) => p.into_response(),
        Err(p) => p.into_response(),
    }
}

/// The export as a streamed download.
async fn export(
    s: &AppState,
    u: &User,
    q: &AuditQuery,
    tz: &jiff::tz::TimeZone,
    ip: &str,
) -> Result<Response, Problem> {
    let format = ExportFormat::parse(q.format.as_deref().unwrap_or("json"))?;
    let f = q.filter(tz)?;
    let stream = s.services.export_audit(u, f, format, Some(ip)).await?;
    let name = format!("attachment; filename=\"audit-trail.{}\"", format.extension());
    Ok((
        [(header::CONTENT_TYPE, format.content_type().to_owned()), (header::CONTENT_DISPOSITION, name)],
        Body::from_stream(stream),
    )
        .into_response())
}

/// The page's export links.
pub(crate) async fn export_page(
    State(s): State<AppState>,
    ui: UiUser,
    ClientIp(ip): ClientIp,
    Query(q): Query<AuditQuery>,
) -> Result<Response, Problem> {
    export(&s, &ui.user, &q, &ui.zone, &ip.to_string()).await
}

/// One entry of the trail (the JSON export's items; the CSV's columns, in this order).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AuditEntryOut {
    pub(crate) id: i64,
    pub(crate) at: String,
    /// Who acted; null for the system or someone not signed in (a failed sign-in).
    pub(crate) actor_user_id: Option<i64>,
    pub(crate) actor_name: Option<String>,
    /// A dotted name: sign_in.succeeded, sign_in.failed, sign_in.locked, settings.account, settings.inbox,
    /// settings.reviews, consent.recorded, consent.exported, contact.exported, contact.erased, audit.exported,
    /// user.role_changed, user.deactivated, user.reactivated, label.deleted, canned.deleted, flow.deleted,
    /// automation.deleted, webhook.deleted, token.revoked, team_member.removed, contact_note.deleted,
    /// conversation.transcript, retention.…
    pub(crate) action: String,
    /// What it is about: an e-mail, `contact:7`, `inbox:3 (Front desk)`.
    pub(crate) subject: String,
    /// The address the request came from.
    pub(crate) ip: Option<String>,
    pub(crate) detail: String,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "account", params(AuditQuery),
    responses((status = 200, description = "The audit trail, newest first, as a JSON array (`format=json`) or CSV (`format=csv`), streamed; the export is itself written to the trail",
        content((Vec<AuditEntryOut> = "application/json"), (String = "text/csv"))), (status = 403, body = ProblemOut)),
    security(("bearer" = [])))]
pub(crate) async fn export_audit(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    ClientIp(ip): ClientIp,
    Query(q): Query<AuditQuery>,
) -> Result<Response, Problem> {
    let tz = s.services.business_zone(u.account_id).await?;
    export(&s, &u, &q, &tz, &ip.to_string()).await
}
