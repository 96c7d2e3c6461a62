//! Labels over HTTP: the catalogue in the REST API (`/api/v1/labels`) and the
//! settings page `/settings/labels` where supervisors and admins manage it.
//! Applying labels to a conversation is a conversation action (`ui.rs`,
//! `api.rs`). Logic lives in `services::labels`.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use textdesk_core::label::PALETTE;
use textdesk_store::Label;
use utoipa::ToSchema;

use crate::http::extract::{ApiSupervisor, ApiUser, Json, Path, Query, UiUser};
use crate::http::extract::{Confirm, CsrfForm};
use crate::http::layout::{Chrome, chrome};
use crate::http::problem::{Problem, ProblemOut};
use crate::http::state::AppState;
use crate::services::error::ServiceError;
use crate::services::labels::LabelDraft;
use crate::services::users::curates;

// ---------- API ----------

#[derive(Serialize, ToSchema)]
pub struct LabelOut {
    id: i64,
    /// 1 to 50 letters, digits, `-` or `_`; unique in the account regardless of case.
    name: String,
    /// `#rrggbb`, one of the palette (each carries white text readably).
    color: String,
    description: String,
    /// How many conversations carry it now.
    conversations: i64,
    created_at: String,
}

impl From<Label> for LabelOut {
    fn from(l: Label) -> Self {
        LabelOut {
            id: l.id,
            name: l.name,
            color: l.color,
            description: l.description,
            conversations: l.conversations,
            created_at: l.created_at.to_string(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelIn {
    name: String,
    /// One of #1d4ed8, #0f766e, #15803d, #a16207, #c2410c, #b91c1c, #be185d, #7e22ce, #4338ca,
    /// #4b5563; blue when absent.
    #[serde(default)]
    color: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelPatchIn {
    /// A new name is carried over to every conversation that has the label.
    name: Option<String>,
    color: Option<String>,
    description: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/labels", tag = "labels", responses((status = 200, body = [LabelOut])), security(("bearer" = [])))]
pub async fn list_labels(State(s): State<AppState>, ApiUser(u): ApiUser) -> Result<Json<Vec<LabelOut>>, Problem> {
    Ok(Json(s.services.labels(&u).await?.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/api/v1/labels", tag = "labels", request_body = LabelIn,
    responses((status = 201, body = LabelOut), (status = 403, body = ProblemOut, description = "Agents apply labels; supervisors and admins manage them"), (status = 409, body = ProblemOut, description = "The name is taken"), (status = 422, body = ProblemOut, description = "A bad name, colour or description (the detail says which)")),
    security(("bearer" = [])))]
pub async fn create_label(
    State(s): State<AppState>,
    ApiSupervisor(u): ApiSupervisor,
    Json(b): Json<LabelIn>,
) -> Result<Response, Problem> {
    let draft =
        LabelDraft { name: b.name, color: b.color.unwrap_or_default(), description: b.description.unwrap_or_default() };
    let l = s.services.create_label(&u, &draft).await?;
    Ok((StatusCode::CREATED, Json(LabelOut::from(l))).into_response())
}

#[utoipa::path(get, path = "/api/v1/labels/{id}", tag = "labels", params(("id" = i64, Path)), responses((status = 200, body = LabelOut), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
pub async fn get_label(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> Result<Json<LabelOut>, Problem> {
    Ok(Json(s.services.label(&u, id).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/labels/{id}", tag = "labels", params(("id" = i64, Path)), request_body = LabelPatchIn,
    responses((status = 200, body = LabelOut), (status = 403, body = ProblemOut), (status = 404, body = ProblemOut), (status = 409, body = ProblemOut), (status = 422, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn update_label(
    State(s): State<AppState>,
    ApiSupervisor(u): ApiSupervisor,
    Path(id): Path<i64>,
    Json(b): Json<LabelPatchIn>,
) -> Result<Json<LabelOut>, Problem> {
    let edited = s
        .services
        .edit_label(&u, id, |draft| {
            draft.name = b.name.unwrap_or(std::mem::take(&mut draft.name));
            draft.color = b.color.unwrap_or(std::mem::take(&mut draft.color));
            draft.description = b.description.unwrap_or(std::mem::take(&mut draft.description));
        })
        .await?;
    Ok(Json(edited.into()))
}

#[utoipa::path(delete, path = "/api/v1/labels/{id}", tag = "labels", params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted and taken off every conversation; timelines keep their words"), (status = 403, body = ProblemOut), (status = 404, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn delete_label(
    State(s): State<AppState>,
    ApiSupervisor(u): ApiSupervisor,
    Path(id): Path<i64>,
) -> Result<StatusCode, Problem> {
    s.services.delete_label(&u, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------- web UI ----------

/// The add or edit form, with what was typed and what was wrong with it.
pub struct FormView {
    /// The label being edited; None for a new one.
    editing: Option<i64>,
    name: String,
    color: String,
    description: String,
    error: Option<String>,
}

impl FormView {
    fn action(&self) -> String {
        match self.editing {
            Some(id) => format!("/settings/labels/{id}"),
            None => "/settings/labels".into(),
        }
    }
    fn checked(&self, hex: &str) -> bool {
        self.color.eq_ignore_ascii_case(hex) || (self.color.is_empty() && hex == PALETTE[0].0)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "settings_labels.html")]
pub(crate) struct SettingsPage {
    chrome: Chrome,
    rows: Vec<Label>,
    can_manage: bool,
    form: FormView,
    palette: Vec<(&'static str, &'static str)>,
}

#[derive(Deserialize)]
pub(crate) struct EditParam {
    edit: Option<i64>,
}

pub(crate) async fn settings_view(s: &AppState, ui: &UiUser, form: FormView) -> Result<SettingsPage, Problem> {
    Ok(SettingsPage {
        chrome: chrome(s, ui),
        rows: s.services.labels(&ui.user).await?,
        can_manage: curates(&ui.user),
        form,
        palette: PALETTE.to_vec(),
    })
}

pub(crate) async fn settings_page(
    State(s): State<AppState>,
    ui: UiUser,
    Query(p): Query<EditParam>,
) -> Result<SettingsPage, Problem> {
    let form = match p.edit {
        Some(id) => {
            let l = s.services.label(&ui.user, id).await?;
            FormView { editing: Some(id), name: l.name, color: l.color, description: l.description, error: None }
        }
        None => FormView {
            editing: None,
            name: String::new(),
            color: String::new(),
            description: String::new(),
            error: None,
        },
    };
    settings_view(&s, &ui, form).await
}

#[derive(Deserialize)]
pub(crate) struct LabelForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    color: String,
    #[serde(default)]
    description: String,
}

impl LabelForm {
    fn draft(&self) -> LabelDraft {
        LabelDraft { name: self.name.clone(), color: self.color.clone(), description: self.description.clone() }
    }
}

/// After a form: back to the list, or the page again with the form as typed and the reason.
pub(crate) async fn after_form(
    s: &AppState,
    ui: &UiUser,
    editing: Option<i64>,
    f: LabelForm,
    result: Result<(), ServiceError>,
) -> Response {
    let Err(e) = result else { return Redirect::to("/settings/labels").into_response() };
    let p = Problem::from(e);
    let form = FormView { editing, name: f.name, color: f.color, description: f.description, error: Some(p.detail) };
    match settings_view(s, ui, form).await {
        Ok(page) => (p.status, page).into_response(),
        Err(p) => p.into_response(),
    }
}

pub(crate) async fn create_form(State(s): State<AppState>, CsrfForm(ui, f): CsrfForm<LabelForm>) -> Response {
    let result = s.services.create_label(&ui.user, &f.draft()).await.map(drop);
    after_form(&s, &ui, None, f, result).await
}

pub(crate) async fn update_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, f): CsrfForm<LabelForm>,
) -> Response {
    let result = s.services.update_label(&ui.user, id, &f.draft()).await.map(drop);
    after_form(&s, &ui, Some(id), f, result).await
}

pub(crate) async fn delete_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, _): CsrfForm<Confirm>,
) -> Response {
    match s.services.delete_label(&ui.user, id).await {
        Ok(_) => Redirect::to("/settings/labels").into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}
