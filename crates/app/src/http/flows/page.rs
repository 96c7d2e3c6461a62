//! `/settings/flows` (admins): the account's self-service flows, a new one
//! from a name, a flow file pasted in; `/settings/flows/{id}`: one flow's
//! settings, its steps (each a form of rows: key, label, reply, then), a new
//! step, the keyword answers, the file to download. No JSON to type.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use textdesk_core::flow::{FlowSpec, MenuOption};
use textdesk_store::StoredFlow;

use crate::http::extract::{Confirm, CsrfForm, Path, Query, UiUser};
use crate::http::flows::form::{self, Pairs};
use crate::http::layout::{Chrome, admin_only, chrome, page_or_problem};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::services::error::ServiceError;

/// A flow as listed.
pub struct Row {
    f: StoredFlow,
    steps: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "settings_flows.html")]
pub(crate) struct ListPage {
    chrome: Chrome,
    rows: Vec<Row>,
    error: Option<String>,
    name: String,
    file: String,
}

/// One option row of a step's form.
pub struct OptionRow {
    key: String,
    label: String,
    reply: String,
    then: String,
}

/// One step as its form shows it.
pub struct StepView {
    index: usize,
    name: String,
    text: String,
    /// The customer's view: the text and the numbered choices.
    preview: String,
    is_lookup: bool,
    rows: Vec<OptionRow>,
    lookup_url: String,
    lookup_field: String,
    lookup_reply: String,
    lookup_then: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "settings_flow.html")]
pub(crate) struct DetailPage {
    chrome: Chrome,
    id: i64,
    spec: FlowSpec,
    steps: Vec<StepView>,
    /// (the select's value `step:NAME`, the name)
    step_names: Vec<(String, String)>,
    /// (the select's value `team:ID`, the team's name)
    teams: Vec<(String, String)>,
    /// The answers' rows, with two blank ones to add.
    answers: Vec<(String, String)>,
    error: Option<String>,
    flash: Option<&'static str>,
}

impl DetailPage {
    fn is(&self, a: &str, b: &str) -> bool {
        a == b
    }
}

fn row(o: &MenuOption) -> OptionRow {
    OptionRow {
        key: o.key.clone(),
        label: o.label.clone(),
        reply: o.reply.clone().unwrap_or_default(),
        then: form::then_value(o),
    }
}

fn blank_row() -> OptionRow {
    OptionRow { key: String::new(), label: String::new(), reply: String::new(), then: "end".into() }
}

async fn list_view(
    s: &AppState,
    ui: &UiUser,
    error: Option<String>,
    typed: (String, String),
) -> Result<ListPage, Problem> {
    let rows =
        s.services.flows(&ui.user).await?.into_iter().map(|f| Row { steps: f.flow.spec().steps.len(), f }).collect();
    Ok(ListPage { chrome: chrome(s, ui), rows, error, name: typed.0, file: typed.1 })
}

async fn detail_view(
    s: &AppState,
    ui: &UiUser,
    id: i64,
    error: Option<String>,
    flash: Option<&'static str>,
) -> Result<DetailPage, Problem> {
    let f = s.services.flow(&ui.user, id).await?;
    let book = s.services.rule_book(ui.user.account_id).await?;
    let spec = f.flow.spec().clone();
    let steps = spec
        .steps
        .iter()
        .enumerate()
        .map(|(index, st)| {
            let mut rows: Vec<OptionRow> = st.options.iter().map(row).collect();
            if st.lookup.is_none() {
                rows.push(blank_row());
                rows.push(blank_row());
            }
            let l = st.lookup.clone();
            StepView {
                index,
                name: st.name.clone(),
                text: st.text.clone(),
                preview: st.message(),
                is_lookup: l.is_some(),
                rows,
                lookup_url: l.as_ref().map(|l| l.url.clone()).unwrap_or_default(),
                lookup_field: l.as_ref().map(|l| l.field.clone()).unwrap_or_default(),
                lookup_reply: l.as_ref().map(|l| l.reply.clone()).unwrap_or_default(),
                lookup_then: l.and_then(|l| l.goto).map(|g| format!("step:{g}")).unwrap_or_else(|| "end".into()),
            }
        })
        .collect();
    let mut answers: Vec<(String, String)> =
        spec.answers.iter().map(|a| (a.keywords.join(", "), a.reply.clone())).collect();
    answers.push(Default::default());
    answers.push(Default::default());
    Ok(DetailPage {
        chrome: chrome(s, ui),
        id,
        step_names: spec.steps.iter().map(|s| (format!("step:{}", s.name), s.name.clone())).collect(),
        spec,
        steps,
        teams: book.teams.into_iter().map(|(id, n)| (format!("team:{id}"), n)).collect(),
        answers,
        error,
        flash,
    })
}

pub(crate) async fn flows_page(State(s): State<AppState>, ui: UiUser) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    page_or_problem(StatusCode::OK, list_view(&s, &ui, None, Default::default()).await)
}

/// A refusal the person can fix is shown on the page; anything else is an error page.
fn fixable(e: ServiceError) -> Result<String, Problem> {
    match e {
        ServiceError::Invalid(d) | ServiceError::Conflict(d) => Ok(d),
        other => Err(other.into()),
    }
}

pub(crate) async fn create_flow_form(State(s): State<AppState>, CsrfForm(ui, f): CsrfForm<Pairs>) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    let name = f.iter().find(|(k, _)| k == "name").map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    match s.services.start_new_flow(&ui.user, &name).await {
        Ok(flow) => Redirect::to(&format!("/settings/flows/{}?created=1", flow.id)).into_response(),
        Err(e) => match fixable(e) {
            Ok(why) => page_or_problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                list_view(&s, &ui, Some(why), (name, String::new())).await,
            ),
            Err(p) => p.into_response(),
        },
    }
}

#[derive(Deserialize)]
pub struct ImportForm {
    #[serde(default)]
    file: String,
}

pub(crate) async fn import_flow_form(State(s): State<AppState>, CsrfForm(ui, f): CsrfForm<ImportForm>) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    match s.services.import_flow(&ui.user, &f.file, None).await {
        Ok(flow) => Redirect::to(&format!("/settings/flows/{}?imported=1", flow.id)).into_response(),
        Err(e) => match fixable(e) {
            Ok(why) => page_or_problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                list_view(&s, &ui, Some(format!("The file was not imported: {why}")), (String::new(), f.file)).await,
            ),
            Err(p) => p.into_response(),
        },
    }
}

#[derive(Deserialize)]
pub struct DetailQuery {
    saved: Option<String>,
    created: Option<String>,
    imported: Option<String>,
}

pub(crate) async fn flow_page(
    State(s): State<AppState>,
    ui: UiUser,
    Path(id): Path<i64>,
    Query(q): Query<DetailQuery>,
) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    let flash = match (q.saved, q.created, q.imported) {
        (Some(_), _, _) => Some("Saved."),
        (_, Some(_), _) => {
            Some("Created, with a first menu offering a person and a call back. Add choices and steps below.")
        }
        (_, _, Some(_)) => Some("Imported."),
        _ => None,
    };
    page_or_problem(StatusCode::OK, detail_view(&s, &ui, id, None, flash).await)
}

/// Applies one form's change to the flow and goes back to its page (or shows
/// the page again with what is wrong).
async fn edit(
    s: &AppState,
    ui: &UiUser,
    id: i64,
    change: impl FnOnce(&mut FlowSpec) -> Result<(), String>,
    anchor: &str,
) -> Response {
    if let Some(r) = admin_only(ui) {
        return r;
    }
    match s.services.edit_flow(&ui.user, id, change).await {
        Ok(_) => Redirect::to(&format!("/settings/flows/{id}?saved=1{anchor}")).into_response(),
        Err(e) => match fixable(e) {
            Ok(why) => page_or_problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                detail_view(s, ui, id, Some(format!("Not saved: {why}")), None).await,
            ),
            Err(p) => p.into_response(),
        },
    }
}

pub(crate) async fn settings_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, f): CsrfForm<Pairs>,
) -> Response {
    edit(&s, &ui, id, |spec| form::settings(spec, &f), "").await
}

pub(crate) async fn step_form(
    State(s): State<AppState>,
    Path((id, n)): Path<(i64, usize)>,
    CsrfForm(ui, f): CsrfForm<Pairs>,
) -> Response {
    edit(&s, &ui, id, |spec| form::step(spec, n, &f), &format!("#step-{n}")).await
}

pub(crate) async fn add_step_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, f): CsrfForm<Pairs>,
) -> Response {
    edit(&s, &ui, id, |spec| form::add_step(spec, &f), "#steps").await
}

pub(crate) async fn delete_step_form(
    State(s): State<AppState>,
    Path((id, n)): Path<(i64, usize)>,
    CsrfForm(ui, _): CsrfForm<Confirm>,
) -> Response {
    edit(&s, &ui, id, |spec| form::delete_step(spec, n), "#steps").await
}

pub(crate) async fn answers_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, f): CsrfForm<Pairs>,
) -> Response {
    edit(&s, &ui, id, |spec| form::answers(spec, &f), "#answers").await
}

pub(crate) async fn delete_flow_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, _): CsrfForm<Confirm>,
) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    match s.services.delete_flow(&ui.user, id).await {
        Ok(()) => Redirect::to("/settings/flows").into_response(),
        Err(e) => match fixable(e) {
            Ok(why) => page_or_problem(
                StatusCode::CONFLICT,
                detail_view(&s, &ui, id, Some(format!("Not deleted: {why}")), None).await,
            ),
            Err(p) => p.into_response(),
        },
    }
}

#[derive(Deserialize)]
pub struct DownloadQuery {
    format: Option<String>,
}

/// The flow's file, to download (JSON, or YAML with `?format=yaml`).
pub(crate) async fn export_file(
    State(s): State<AppState>,
    ui: UiUser,
    Path(id): Path<i64>,
    Query(q): Query<DownloadQuery>,
) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    let yaml = q.format.as_deref() == Some("yaml");
    match s.services.export_flow(&ui.user, id, yaml).await {
        Ok((name, text)) => {
            let kind = HeaderValue::from_static(if yaml { "application/yaml" } else { "application/json" });
            let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
                .unwrap_or(HeaderValue::from_static("attachment"));
            ([(header::CONTENT_TYPE, kind), (header::CONTENT_DISPOSITION, disposition)], text).into_response()
        }
        Err(e) => Problem::from(e).into_response(),
    }
}
