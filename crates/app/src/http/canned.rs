//! Canned responses over HTTP: the REST API (`/api/v1/canned-responses`, and
//! rendering one for a conversation), the settings page where admins and
//! supervisors manage them, and the two JSON endpoints the composer's `/`
//! picker uses. Logic lives in `services::canned`.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use textdesk_core::template::{Rendered, Var};
use textdesk_store::CannedResponse;
use utoipa::{IntoParams, ToSchema};

use crate::http::extract::{ApiSupervisor, ApiUser, Json, Path, Query, UiUser};
use crate::http::extract::{Confirm, CsrfForm};
use crate::http::layout::{Chrome, chrome};
use crate::http::problem::{Problem, ProblemOut};
use crate::http::state::AppState;
use crate::services::canned::CannedDraft;
use crate::services::error::ServiceError;
use crate::services::users::curates;

// ---------- API ----------

#[derive(Serialize, ToSchema)]
pub struct CannedOut {
    id: i64,
    /// Typed after `/` in the composer: lowercase letters, digits and `-`.
    shortcut: String,
    title: String,
    /// The template: text with `{contact.first_name}`, `{contact.name}`, `{agent.name}`,
    /// `{agent.first_name}`, `{business.name}`, `{next_open}`; `{variable|fallback}` for a
    /// fallback; `{{` and `}}` for literal braces.
    body: String,
    created_by: Option<i64>,
    created_at: String,
    updated_at: String,
}

impl From<CannedResponse> for CannedOut {
    fn from(c: CannedResponse) -> Self {
        CannedOut {
            id: c.id,
            shortcut: c.shortcut,
            title: c.title,
            body: c.body,
            created_by: c.created_by,
            created_at: c.created_at.to_string(),
            updated_at: c.updated_at.to_string(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedIn {
    shortcut: String,
    title: String,
    body: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedPatchIn {
    shortcut: Option<String>,
    title: Option<String>,
    body: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CannedQuery {
    /// The start of a shortcut, or of a word in the title.
    q: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RenderOut {
    /// The response filled in for the conversation.
    text: String,
    /// Variables that had no value and no fallback, so rendered empty: the agent may want to fill them in.
    missing: Vec<String>,
}

impl From<Rendered> for RenderOut {
    fn from(r: Rendered) -> Self {
        RenderOut { text: r.text, missing: r.missing.into_iter().map(|v| v.name().to_owned()).collect() }
    }
}

#[utoipa::path(get, path = "/api/v1/canned-responses", tag = "canned responses", params(CannedQuery), responses((status = 200, body = [CannedOut])), security(("bearer" = [])))]
pub async fn list_canned(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Query(q): Query<CannedQuery>,
) -> Result<Json<Vec<CannedOut>>, Problem> {
    let list = s.services.canned_responses(&u, q.q.as_deref()).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/api/v1/canned-responses", tag = "canned responses", request_body = CannedIn,
    responses((status = 201, body = CannedOut), (status = 403, body = ProblemOut, description = "Agents use canned responses; supervisors and admins manage them"), (status = 409, body = ProblemOut, description = "The shortcut is taken"), (status = 422, body = ProblemOut, description = "A bad shortcut, title or template (the detail names the problem)")),
    security(("bearer" = [])))]
pub async fn create_canned(
    State(s): State<AppState>,
    ApiSupervisor(u): ApiSupervisor,
    Json(b): Json<CannedIn>,
) -> Result<Response, Problem> {
    let draft = CannedDraft { shortcut: b.shortcut, title: b.title, body: b.body };
    let c = s.services.create_canned(&u, &draft).await?;
    Ok((StatusCode::CREATED, Json(CannedOut::from(c))).into_response())
}

#[utoipa::path(get, path = "/api/v1/canned-responses/{id}", tag = "canned responses", params(("id" = i64, Path)), responses((status = 200, body = CannedOut), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
pub async fn get_canned(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> Result<Json<CannedOut>, Problem> {
    Ok(Json(s.services.canned_response(&u, id).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/canned-responses/{id}", tag = "canned responses", params(("id" = i64, Path)), request_body = CannedPatchIn,
    responses((status = 200, body = CannedOut), (status = 403, body = ProblemOut), (status = 404, body = ProblemOut), (status = 409, body = ProblemOut), (status = 422, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn update_canned(
    State(s): State<AppState>,
    ApiSupervisor(u): ApiSupervisor,
    Path(id): Path<i64>,
    Json(b): Json<CannedPatchIn>,
) -> Result<Json<CannedOut>, Problem> {
    let edited = s
        .services
        .edit_canned(&u, id, |draft| {
            draft.shortcut = b.shortcut.unwrap_or(std::mem::take(&mut draft.shortcut));
            draft.title = b.title.unwrap_or(std::mem::take(&mut draft.title));
            draft.body = b.body.unwrap_or(std::mem::take(&mut draft.body));
        })
        .await?;
    Ok(Json(edited.into()))
}

#[utoipa::path(delete, path = "/api/v1/canned-responses/{id}", tag = "canned responses", params(("id" = i64, Path)), responses((status = 204), (status = 403, body = ProblemOut), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
pub async fn delete_canned(
    State(s): State<AppState>,
    ApiSupervisor(u): ApiSupervisor,
    Path(id): Path<i64>,
) -> Result<StatusCode, Problem> {
    s.services.delete_canned(&u, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/canned-responses/{cid}/render", tag = "canned responses",
    params(("id" = i64, Path, description = "The conversation"), ("cid" = i64, Path, description = "The canned response")),
    responses((status = 200, body = RenderOut, description = "The canned response filled in for this conversation, as the caller would send it"), (status = 404, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn render_canned(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path((id, cid)): Path<(i64, i64)>,
) -> Result<Json<RenderOut>, Problem> {
    Ok(Json(s.services.render_canned(&u, id, cid).await?.into()))
}

// ---------- web UI ----------

pub struct Row {
    id: i64,
    shortcut: String,
    title: String,
    body: String,
}

/// The add or edit form, with what was typed and what was wrong with it.
pub struct FormView {
    /// The response being edited; None for a new one.
    editing: Option<i64>,
    shortcut: String,
    title: String,
    body: String,
    error: Option<String>,
}

impl FormView {
    fn action(&self) -> String {
        match self.editing {
            Some(id) => format!("/settings/canned/{id}"),
            None => "/settings/canned".into(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "settings_canned.html")]
pub(crate) struct SettingsPage {
    chrome: Chrome,
    rows: Vec<Row>,
    can_manage: bool,
    form: FormView,
    /// `{contact.first_name}`…, for the help under the form.
    variables: Vec<String>,
}

#[derive(Deserialize)]
pub(crate) struct EditParam {
    edit: Option<i64>,
}

pub(crate) async fn settings_view(s: &AppState, ui: &UiUser, form: FormView) -> Result<SettingsPage, Problem> {
    let list = s.services.canned_responses(&ui.user, None).await?;
    Ok(SettingsPage {
        chrome: chrome(s, ui),
        rows: list.into_iter().map(|c| Row { id: c.id, shortcut: c.shortcut, title: c.title, body: c.body }).collect(),
        can_manage: curates(&ui.user),
        form,
        variables: Var::ALL.iter().map(|v| format!("{{{}}}", v.name())).collect(),
    })
}

pub(crate) async fn settings_page(
    State(s): State<AppState>,
    ui: UiUser,
    Query(p): Query<EditParam>,
) -> Result<SettingsPage, Problem> {
    let form = match p.edit {
        Some(id) => {
            let c = s.services.canned_response(&ui.user, id).await?;
            FormView { editing: Some(id), shortcut: c.shortcut, title: c.title, body: c.body, error: None }
        }
        None => {
            FormView { editing: None, shortcut: String::new(), title: String::new(), body: String::new(), error: None }
        }
    };
    settings_view(&s, &ui, form).await
}

#[derive(Deserialize)]
pub(crate) struct CannedForm {
    #[serde(default)]
    shortcut: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
}

/// After a form: back to the list, or the page again with the form as typed and the reason.
pub(crate) async fn after_form(
    s: &AppState,
    ui: &UiUser,
    editing: Option<i64>,
    f: CannedForm,
    result: Result<(), ServiceError>,
) -> Response {
    let Err(e) = result else { return Redirect::to("/settings/canned").into_response() };
    let p = Problem::from(e);
    let form = FormView { editing, shortcut: f.shortcut, title: f.title, body: f.body, error: Some(p.detail) };
    match settings_view(s, ui, form).await {
        Ok(page) => (p.status, page).into_response(),
        Err(p) => p.into_response(),
    }
}

pub(crate) async fn create_form(State(s): State<AppState>, CsrfForm(ui, f): CsrfForm<CannedForm>) -> Response {
    let draft = CannedDraft { shortcut: f.shortcut.clone(), title: f.title.clone(), body: f.body.clone() };
    let result = s.services.create_canned(&ui.user, &draft).await.map(|_| ());
    after_form(&s, &ui, None, f, result).await
}

pub(crate) async fn update_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, f): CsrfForm<CannedForm>,
) -> Response {
    let draft = CannedDraft { shortcut: f.shortcut.clone(), title: f.title.clone(), body: f.body.clone() };
    let result = s.services.update_canned(&ui.user, id, &draft).await.map(|_| ());
    after_form(&s, &ui, Some(id), f, result).await
}

pub(crate) async fn delete_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, _): CsrfForm<Confirm>,
) -> Response {
    match s.services.delete_canned(&ui.user, id).await {
        Ok(()) => Redirect::to("/settings/canned").into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

#[derive(Serialize)]
pub(crate) struct PickerItem {
    id: i64,
    shortcut: String,
    title: String,
}

/// The composer's list behind `/` (the bodies are fetched rendered, one at a time).
pub(crate) async fn picker_list(State(s): State<AppState>, ui: UiUser) -> Response {
    match s.services.canned_responses(&ui.user, None).await {
        Ok(list) => axum::Json(
            list.into_iter().map(|c| PickerItem { id: c.id, shortcut: c.shortcut, title: c.title }).collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// The composer's pick: the response filled in for this conversation.
pub(crate) async fn picker_render(
    State(s): State<AppState>,
    Path((id, cid)): Path<(i64, i64)>,
    CsrfForm(ui, _): CsrfForm<Confirm>,
) -> Response {
    match s.services.render_canned(&ui.user, id, cid).await {
        Ok(r) => axum::Json(RenderOut::from(r)).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}
