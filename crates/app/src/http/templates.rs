//! Provider templates (WhatsApp's): the inbox settings' list and "Sync
//! templates", the API's list and sync, and the composer's picker (a form per
//! approved template, a field per variable, a preview) that sends one.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;
use textdesk_core::channel_template::{HeaderFormat, TemplateText};
use textdesk_store::ChannelTemplate;
use utoipa::ToSchema;

use crate::http::conversations::list::ListParams;
use crate::http::conversations::thread::{action_failure, render_conversation};
use crate::http::extract::{ApiAdmin, ApiUser, CsrfForm, Json, Path, UiUser};
use crate::http::inboxes::settings::{InboxQuery, inbox_view};
use crate::http::layout::{admin_only, page_or_problem};
use crate::http::problem::{ApiResult, ProblemOut};
use crate::http::state::AppState;
use crate::services::error::ServiceError;
use crate::services::templates::{TemplateFill, parts_of};

/// "Sync templates" on the inbox's settings page.
pub(crate) async fn sync_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, _): CsrfForm<Vec<(String, String)>>,
) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    match s.services.sync_templates(&ui.user, id).await {
        Ok(_) => Redirect::to(&format!("/settings/inboxes/{id}?saved=templates#templates")).into_response(),
        Err(e) => {
            let (status, msg) = action_failure(e);
            let page = inbox_view(&s, &ui, id, None, InboxQuery::default()).await.map(|mut page| {
                page.error = Some(("templates".into(), msg));
                page
            });
            page_or_problem(if status.is_server_error() { StatusCode::BAD_GATEWAY } else { status }, page)
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TemplateOut {
    id: i64,
    name: String,
    /// The language code, such as en_US.
    language: String,
    /// As WhatsApp says it: APPROVED, PENDING, REJECTED, PAUSED…; only APPROVED ones can be sent.
    status: String,
    /// UTILITY, MARKETING or AUTHENTICATION.
    category: String,
    /// The body, with {{1}}-style variables.
    body: String,
    /// How many values sending it takes.
    variables: usize,
    /// Its header: `text` (with `header_text`), `a picture`, `a video`, `a document`, `a location` or `none`.
    header: &'static str,
    /// A text header's words, perhaps with a {{1}} to fill (`header` when sending).
    header_text: Option<String>,
    /// Its buttons in order (their index is their place here).
    buttons: Vec<TemplateButtonOut>,
    synced_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct TemplateButtonOut {
    index: usize,
    /// `quick_reply`, `url` or `other` (a phone number, a copy code… sent without a value).
    kind: String,
    text: String,
    /// A URL button's address; ending in {{1}}, it needs a value when sending.
    url: Option<String>,
    /// Sending needs a value for it (a URL's ending); a quick reply's payload is optional.
    needs_value: bool,
}

impl TemplateOut {
    fn of(t: ChannelTemplate) -> Self {
        let parts = parts_of(&t);
        TemplateOut {
            variables: TemplateText::new(&t.body).variables(),
            header: parts.header_words(),
            header_text: match &parts.header {
                Some(HeaderFormat::Text { text }) => Some(text.clone()),
                _ => None,
            },
            buttons: parts
                .buttons
                .iter()
                .enumerate()
                .map(|(index, b)| TemplateButtonOut {
                    index,
                    kind: serde_json::to_value(b.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    text: b.text.clone(),
                    url: b.url.clone(),
                    needs_value: b.needs_value(),
                })
                .collect(),
            id: t.id,
            name: t.name,
            language: t.language,
            status: t.status,
            category: t.category,
            body: t.body,
            synced_at: t.synced_at.to_string(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SyncedOut {
    /// How many templates the provider holds now.
    synced: usize,
    templates: Vec<TemplateOut>,
}

#[utoipa::path(get, path = "/api/v1/inboxes/{id}/templates", tag = "inboxes", params(("id" = i64, Path)),
    responses((status = 200, body = [TemplateOut], description = "The inbox's message templates as last synced"), (status = 404, body = ProblemOut)),
    security(("bearer" = [])))]
pub(crate) async fn list_templates(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<TemplateOut>>> {
    Ok(Json(s.services.inbox_templates(u.account_id, id).await?.into_iter().map(TemplateOut::of).collect()))
}

#[utoipa::path(post, path = "/api/v1/inboxes/{id}/templates/sync", tag = "inboxes", params(("id" = i64, Path)),
    responses((status = 200, body = SyncedOut, description = "Synced from the provider (admins)"), (status = 403, body = ProblemOut), (status = 404, body = ProblemOut),
              (status = 422, body = ProblemOut, description = "The provider has no templates, or refused the credentials")),
    security(("bearer" = [])))]
pub(crate) async fn sync_templates(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Path(id): Path<i64>,
) -> ApiResult<Json<SyncedOut>> {
    let synced = s.services.sync_templates(&u, id).await?;
    let templates = s.services.inbox_templates(u.account_id, id).await?.into_iter().map(TemplateOut::of).collect();
    Ok(Json(SyncedOut { synced, templates }))
}

/// The picker's "Send template": the template's id and a `value` per variable, in order.
pub(crate) async fn send_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, form): CsrfForm<Vec<(String, String)>>,
) -> Response {
    let result = send_picked(&s, &ui, id, &form).await.map_err(action_failure);
    match result {
        Ok(()) => Redirect::to(&format!("/conversations/{id}")).into_response(),
        Err((status, msg)) => {
            match render_conversation(&s, &ui, id, &ListParams::default(), Some(msg), String::new()).await {
                Ok(page) => (status, page).into_response(),
                Err(p) => p.into_response(),
            }
        }
    }
}

async fn send_picked(s: &AppState, ui: &UiUser, id: i64, form: &[(String, String)]) -> Result<(), ServiceError> {
    let template_id = form
        .iter()
        .find(|(k, _)| k == "template_id")
        .and_then(|(_, v)| v.parse::<i64>().ok())
        .ok_or_else(|| ServiceError::invalid("pick a template"))?;
    let values: Vec<String> = form.iter().filter(|(k, _)| k == "value").map(|(_, v)| v.clone()).collect();
    let header = form.iter().find(|(k, _)| k == "header").map(|(_, v)| v.clone());
    let buttons =
        form.iter().filter_map(|(k, v)| Some((k.strip_prefix("button_")?.parse::<usize>().ok()?, v.clone()))).collect();
    let fill = TemplateFill { values, header, buttons };
    let draft = s.services.template_draft(ui.user.account_id, id, template_id, &fill).await?;
    s.services.send(&ui.user, id, draft).await.map(drop)
}
