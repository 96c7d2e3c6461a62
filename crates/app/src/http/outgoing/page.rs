//! The outgoing webhooks' settings pages (admins): `/settings/webhooks` lists
//! the subscriptions, adds one (its secret shown once, on the answer) and
//! warns of any switched off for failing; `/settings/webhooks/{id}` edits
//! one, rotates its secret, deletes it, and shows its delivery log with a
//! Resend button per delivery.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use serde::Deserialize;
use textdesk_core::webhook::EVENT_TYPES;
use textdesk_store::{WebhookDelivery, WebhookSubscription};

use crate::http::extract::{Confirm, CsrfForm, Path, Query, UiUser};
use crate::http::layout::{Chrome, admin_only, chrome};
use crate::http::outgoing::api::NO_STORE;
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::services::error::ServiceError;
use crate::services::webhooks::WebhookDraft;

/// The add or edit form, with what was typed and what was wrong with it.
pub struct HookForm {
    url: String,
    description: String,
    events: Vec<String>,
    active: bool,
    error: Option<String>,
}

impl HookForm {
    fn blank() -> Self {
        HookForm {
            url: String::new(),
            description: String::new(),
            events: vec!["message.received".into()],
            active: true,
            error: None,
        }
    }
    fn of(w: &WebhookSubscription) -> Self {
        HookForm {
            url: w.url.clone(),
            description: w.description.clone(),
            events: w.events.clone(),
            active: w.active,
            error: None,
        }
    }
    /// The form as posted: repeated `events` fields, a checkbox for `active`.
    fn posted(fields: &[(String, String)]) -> Self {
        let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
        HookForm {
            url: get("url"),
            description: get("description"),
            events: fields.iter().filter(|(n, _)| n == "events").map(|(_, v)| v.clone()).collect(),
            active: fields.iter().any(|(n, _)| n == "active"),
            error: None,
        }
    }
    fn draft(&self) -> WebhookDraft {
        WebhookDraft {
            url: self.url.clone(),
            description: self.description.clone(),
            events: self.events.clone(),
            active: self.active,
        }
    }
    fn has(&self, event: &&str) -> bool {
        self.events.iter().any(|e| e == event)
    }
}

/// A subscription as listed.
pub struct Row {
    w: WebhookSubscription,
    /// "Active", "Off", or since when it has been failing.
    state: String,
}

/// A delivery as the log shows it.
pub struct LogRow {
    d: WebhookDelivery,
    when: String,
    next: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "settings_webhooks.html")]
pub(crate) struct ListPage {
    chrome: Chrome,
    rows: Vec<Row>,
    /// The subscriptions switched off for failing: the notice admins must see.
    switched_off: Vec<WebhookSubscription>,
    form: HookForm,
    /// A secret just made: (the subscription's URL, the secret).
    secret: Option<(String, String)>,
    event_types: Vec<&'static str>,
}

#[derive(Template, WebTemplate)]
#[template(path = "settings_webhook.html")]
pub(crate) struct DetailPage {
    chrome: Chrome,
    w: WebhookSubscription,
    form: HookForm,
    log: Vec<LogRow>,
    secret: Option<String>,
    flash: Option<&'static str>,
    zone: String,
    event_types: Vec<&'static str>,
}

fn when(ui: &UiUser, t: Timestamp) -> String {
    t.to_zoned(ui.zone.clone()).strftime("%b %-d, %Y %-I:%M:%S %p").to_string()
}

async fn list_view(
    s: &AppState,
    ui: &UiUser,
    form: HookForm,
    secret: Option<(String, String)>,
) -> Result<ListPage, Problem> {
    let subs = s.services.list_webhooks(&ui.user).await?;
    let switched_off = subs.iter().filter(|w| !w.active && w.disabled_reason.is_some()).cloned().collect();
    let rows = subs
        .into_iter()
        .map(|w| {
            let state = match (w.active, w.failing_since) {
                (false, _) => "Off".to_owned(),
                (true, Some(t)) => format!("Failing since {}", when(ui, t)),
                (true, None) => "Active".to_owned(),
            };
            Row { w, state }
        })
        .collect();
    Ok(ListPage { chrome: chrome(s, ui), rows, switched_off, form, secret, event_types: EVENT_TYPES.to_vec() })
}

async fn detail_view(
    s: &AppState,
    ui: &UiUser,
    id: i64,
    form: Option<HookForm>,
    secret: Option<String>,
    flash: Option<&'static str>,
) -> Result<DetailPage, Problem> {
    let w = s.services.get_webhook(&ui.user, id).await?;
    let log = s
        .services
        .webhook_log(&ui.user, id, 100)
        .await?
        .into_iter()
        .map(|d| LogRow {
            when: when(ui, d.last_attempt_at.unwrap_or(d.created_at)),
            next: (d.state == "pending").then(|| when(ui, d.next_attempt_at)),
            d,
        })
        .collect();
    Ok(DetailPage {
        chrome: chrome(s, ui),
        form: form.unwrap_or_else(|| HookForm::of(&w)),
        w,
        log,
        secret,
        flash,
        zone: ui.zone_name(),
        event_types: EVENT_TYPES.to_vec(),
    })
}

/// A refusal the person can fix is shown on the form; anything else is an error page.
fn form_error(e: ServiceError) -> Result<String, Problem> {
    match e {
        ServiceError::Invalid(d) => Ok(d),
        other => Err(other.into()),
    }
}

fn page<T: IntoResponse>(status: StatusCode, p: Result<T, Problem>) -> Response {
    crate::http::layout::page_or_problem(status, p)
}

pub(crate) async fn list_page(State(s): State<AppState>, ui: UiUser) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    page(StatusCode::OK, list_view(&s, &ui, HookForm::blank(), None).await)
}

pub(crate) async fn create_form(
    State(s): State<AppState>,
    CsrfForm(ui, f): CsrfForm<Vec<(String, String)>>,
) -> Response {
    let mut form = HookForm::posted(&f);
    match s.services.create_webhook(&ui.user, &form.draft()).await {
        Ok((w, secret)) => {
            let shown = list_view(&s, &ui, HookForm::blank(), Some((w.url, secret))).await;
            (NO_STORE, page(StatusCode::OK, shown)).into_response()
        }
        Err(e) => match form_error(e) {
            Ok(detail) => {
                form.error = Some(detail);
                page(StatusCode::UNPROCESSABLE_ENTITY, list_view(&s, &ui, form, None).await)
            }
            Err(p) => p.into_response(),
        },
    }
}

#[derive(Deserialize)]
pub struct DetailQuery {
    saved: Option<String>,
    resent: Option<String>,
}

pub(crate) async fn detail_page(
    State(s): State<AppState>,
    ui: UiUser,
    Path(id): Path<i64>,
    Query(q): Query<DetailQuery>,
) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    let flash = match (q.saved, q.resent) {
        (Some(_), _) => Some("Saved."),
        (_, Some(_)) => Some("The delivery is due again; it goes within a few seconds."),
        _ => None,
    };
    page(StatusCode::OK, detail_view(&s, &ui, id, None, None, flash).await)
}

pub(crate) async fn update_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, f): CsrfForm<Vec<(String, String)>>,
) -> Response {
    let mut form = HookForm::posted(&f);
    let typed = form.draft();
    match s.services.update_webhook(&ui.user, id, |d| *d = typed).await {
        Ok(_) => Redirect::to(&format!("/settings/webhooks/{id}?saved=1")).into_response(),
        Err(e) => match form_error(e) {
            Ok(detail) => {
                form.error = Some(detail);
                page(StatusCode::UNPROCESSABLE_ENTITY, detail_view(&s, &ui, id, Some(form), None, None).await)
            }
            Err(p) => p.into_response(),
        },
    }
}

pub(crate) async fn delete_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, _): CsrfForm<Confirm>,
) -> Response {
    match s.services.delete_webhook(&ui.user, id).await {
        Ok(()) => Redirect::to("/settings/webhooks").into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

pub(crate) async fn rotate_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, _): CsrfForm<Confirm>,
) -> Response {
    match s.services.rotate_webhook_secret(&ui.user, id).await {
        Ok(secret) => {
            (NO_STORE, page(StatusCode::OK, detail_view(&s, &ui, id, None, Some(secret), None).await)).into_response()
        }
        Err(e) => Problem::from(e).into_response(),
    }
}

pub(crate) async fn resend_form(
    State(s): State<AppState>,
    Path((id, delivery_id)): Path<(i64, i64)>,
    CsrfForm(ui, _): CsrfForm<Confirm>,
) -> Response {
    match s.services.resend_webhook(&ui.user, id, delivery_id).await {
        Ok(()) => Redirect::to(&format!("/settings/webhooks/{id}?resent=1")).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}
