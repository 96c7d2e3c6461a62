//! `/settings/automations`: every rule in words, in the order they run, with
//! on/off, order, edit and delete for admins (supervisors read); the form that
//! makes a rule without JSON; and the consent keywords as fixed rules.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use textdesk_core::automation::RuleSpec;
use textdesk_core::{ConsentState, ConversationStatus, Medium, Priority, Role};

use super::form::RuleForm;
use crate::http::extract::{Confirm, CsrfForm, Path, UiUser};
use crate::http::layout::{Chrome, admin_only, chrome};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::services::automations::screen::{FixedRules, RuleBook, RuleRow};

#[derive(Template, WebTemplate)]
#[template(path = "settings_automations.html")]
pub(crate) struct RulesPage {
    chrome: Chrome,
    rows: Vec<RuleRow>,
    fixed: Vec<FixedRules>,
    can_manage: bool,
}

/// Supervisors read the rules (as the API lets them); agents get the settings' 403 page.
fn reader(ui: &UiUser) -> Option<Response> {
    if ui.user.role.at_least(Role::Supervisor) { None } else { admin_only(ui) }
}

pub(crate) async fn automations_page(State(s): State<AppState>, ui: UiUser) -> Response {
    if let Some(no) = reader(&ui) {
        return no;
    }
    let page = async {
        let book = s.services.rule_book(ui.user.account_id).await?;
        Ok::<_, Problem>(RulesPage {
            chrome: chrome(&s, &ui),
            rows: s.services.rule_rows(&ui.user, &book).await?,
            fixed: s.services.fixed_consent_rules(ui.user.account_id).await?,
            can_manage: ui.user.role.at_least(Role::Admin),
        })
    };
    match page.await {
        Ok(p) => p.into_response(),
        Err(p) => p.into_response(),
    }
}

/// The add or edit form, with the choices it offers.
#[derive(Template, WebTemplate)]
#[template(path = "settings_automation_form.html")]
pub(crate) struct RuleFormPage {
    chrome: Chrome,
    /// The rule being edited; None for a new one.
    editing: Option<i64>,
    /// For a built-in rule: the inbox it always applies to.
    came_with: Option<String>,
    /// Set when the stored rule says more than the form holds: shown, not edited.
    api_only: Option<String>,
    form: RuleForm,
    error: Option<String>,
    book: RuleBook,
    days: [(&'static str, &'static str); 7],
    consent_states: Vec<(&'static str, &'static str)>,
    statuses: Vec<&'static str>,
    priorities: Vec<&'static str>,
    media: Vec<(&'static str, &'static str)>,
}

impl RuleFormPage {
    fn action(&self) -> String {
        match self.editing {
            Some(id) => format!("/settings/automations/{id}"),
            None => "/settings/automations".into(),
        }
    }
    fn ticked(&self, list: &[String], value: &str) -> bool {
        RuleForm::ticked(list, value)
    }
    fn ticked_id(&self, list: &[String], id: &i64) -> bool {
        RuleForm::ticked(list, &id.to_string())
    }
    fn is(&self, field: &str, value: &str) -> bool {
        field == value
    }
    fn is_id(&self, field: &str, id: &i64) -> bool {
        field == id.to_string()
    }
}

const DAYS: [(&str, &str); 7] =
    [("mon", "Mon"), ("tue", "Tue"), ("wed", "Wed"), ("thu", "Thu"), ("fri", "Fri"), ("sat", "Sat"), ("sun", "Sun")];

async fn form_page(
    s: &AppState,
    ui: &UiUser,
    editing: Option<i64>,
    form: RuleForm,
    error: Option<String>,
) -> Result<RuleFormPage, Problem> {
    let book = s.services.rule_book(ui.user.account_id).await?;
    let (came_with, api_only) = match editing {
        Some(id) => {
            let r = s.services.automation_rule(&ui.user, id).await?;
            let came_with =
                r.inbox_id.and_then(|i| book.inboxes.iter().find(|(id, _)| *id == i)).map(|(_, n)| n.clone());
            let spec = RuleSpec::from(r.rule.clone());
            let api_only =
                RuleForm::from_spec(&spec).is_none().then(|| serde_json::to_string_pretty(&spec).unwrap_or_default());
            (came_with, api_only)
        }
        None => (None, None),
    };
    Ok(RuleFormPage {
        chrome: chrome(s, ui),
        editing,
        came_with,
        api_only,
        form,
        error,
        book,
        days: DAYS,
        consent_states: vec![
            (ConsentState::OptedIn.as_str(), "opted in"),
            (ConsentState::OptedOut.as_str(), "opted out"),
            (ConsentState::Unknown.as_str(), "no answer yet"),
        ],
        statuses: ConversationStatus::ALL.iter().map(|s| s.as_str()).collect(),
        priorities: Priority::ALL.iter().map(|p| p.as_str()).collect(),
        media: Medium::ALL.iter().map(|m| (m.as_str(), m.label())).collect(),
    })
}

fn respond(status: StatusCode, page: Result<RuleFormPage, Problem>) -> Response {
    match page {
        Ok(p) => (status, p).into_response(),
        Err(p) => p.into_response(),
    }
}

pub(crate) async fn new_rule_page(State(s): State<AppState>, ui: UiUser) -> Response {
    if let Some(no) = admin_only(&ui) {
        return no;
    }
    respond(StatusCode::OK, form_page(&s, &ui, None, RuleForm::blank(), None).await)
}

pub(crate) async fn edit_rule_page(State(s): State<AppState>, ui: UiUser, Path(id): Path<i64>) -> Response {
    if let Some(no) = admin_only(&ui) {
        return no;
    }
    let form = match s.services.automation_rule(&ui.user, id).await {
        Ok(r) => RuleForm::from_spec(&RuleSpec::from(r.rule)).unwrap_or_else(RuleForm::blank),
        Err(e) => return Problem::from(e).into_response(),
    };
    respond(StatusCode::OK, form_page(&s, &ui, Some(id), form, None).await)
}

/// Back to the list, or the form again with what was typed and what is wrong.
async fn after_save(
    s: &AppState,
    ui: &UiUser,
    editing: Option<i64>,
    form: RuleForm,
    saved: Result<(), Problem>,
) -> Response {
    match saved {
        Ok(()) => Redirect::to("/settings/automations").into_response(),
        Err(p) if p.status == StatusCode::UNPROCESSABLE_ENTITY || p.status == StatusCode::CONFLICT => {
            respond(p.status, form_page(s, ui, editing, form, Some(p.detail)).await)
        }
        Err(p) => p.into_response(),
    }
}

async fn save(s: &AppState, ui: &UiUser, editing: Option<i64>, form: &RuleForm) -> Result<(), Problem> {
    let spec = serde_json::to_value(form.to_spec()?).map_err(|_| Problem::internal())?;
    match editing {
        Some(id) => s.services.update_automation_rule(&ui.user, id, spec).await.map(drop)?,
        None => s.services.create_automation_rule(&ui.user, spec).await.map(drop)?,
    }
    Ok(())
}

pub(crate) async fn create_rule_form(
    State(s): State<AppState>,
    CsrfForm(ui, pairs): CsrfForm<Vec<(String, String)>>,
) -> Response {
    if let Some(no) = admin_only(&ui) {
        return no;
    }
    let form = RuleForm::from_pairs(pairs);
    let saved = save(&s, &ui, None, &form).await;
    after_save(&s, &ui, None, form, saved).await
}

pub(crate) async fn update_rule_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, pairs): CsrfForm<Vec<(String, String)>>,
) -> Response {
    if let Some(no) = admin_only(&ui) {
        return no;
    }
    let form = RuleForm::from_pairs(pairs);
    let saved = save(&s, &ui, Some(id), &form).await;
    after_save(&s, &ui, Some(id), form, saved).await
}

#[derive(serde::Deserialize)]
pub(crate) struct Switch {
    /// `on` or `off`.
    #[serde(default)]
    to: String,
}

pub(crate) async fn switch_rule_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, f): CsrfForm<Switch>,
) -> Response {
    if let Some(no) = admin_only(&ui) {
        return no;
    }
    let on = match f.to.as_str() {
        "on" => true,
        "off" => false,
        _ => return Problem::invalid("to: on or off").into_response(),
    };
    match s.services.set_automation_enabled(&ui.user, id, on).await {
        Ok(_) => Redirect::to(&format!("/settings/automations#rule-{id}")).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct MoveTo {
    /// The place in the order it goes to (1 is first).
    #[serde(default)]
    position: Option<i64>,
}

pub(crate) async fn move_rule_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, f): CsrfForm<MoveTo>,
) -> Response {
    if let Some(no) = admin_only(&ui) {
        return no;
    }
    let Some(position) = f.position else {
        return Problem::invalid("position: a place in the order, from 1").into_response();
    };
    let position = position.clamp(1, 10_000) as usize;
    match s.services.move_automation_rule(&ui.user, id, position).await {
        Ok(()) => Redirect::to(&format!("/settings/automations#rule-{id}")).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

pub(crate) async fn delete_rule_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, _): CsrfForm<Confirm>,
) -> Response {
    if let Some(no) = admin_only(&ui) {
        return no;
    }
    match s.services.delete_automation_rule(&ui.user, id).await {
        Ok(()) => Redirect::to("/settings/automations").into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}
