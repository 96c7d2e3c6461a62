//! The contacts page: find a contact (and merge from there), and for admins
//! the CSV import (with its dry run's report, row by row) and the streamed export.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use textdesk_core::Role;

use crate::http::extract::{CsrfMultipart, Query, UiUser};
use crate::http::layout::{Chrome, chrome};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::services::contact_csv::{ImportOptions, ImportReport};

const ADMINS_ONLY: &str = "importing and exporting contacts is for admins";

pub struct ReportView {
    pub dry_run: bool,
    /// "Line 4, column phone: …", one per fault.
    pub faults: Vec<String>,
    pub summary: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "contacts.html")]
pub struct ContactsPage {
    chrome: Chrome,
    q: String,
    /// id, name, addresses, consent.
    rows: Vec<(i64, String, String, &'static str)>,
    report: Option<ReportView>,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: Option<String>,
}

async fn render(
    s: &AppState,
    ui: &UiUser,
    status: StatusCode,
    q: String,
    report: Option<ReportView>,
    notice: Option<String>,
) -> Response {
    let list = match s.services.contacts(ui.user.account_id, Some(q.trim()).filter(|q| !q.is_empty()), None, 50).await {
        Ok(l) => l,
        Err(e) => return Problem::from(e).into_response(),
    };
    let rows = list
        .into_iter()
        .map(|c| {
            let addresses: Vec<String> = c.identities.iter().map(|i| i.address.clone()).collect();
            let consent = match c.consent {
                textdesk_core::ConsentState::OptedIn => "opted in",
                textdesk_core::ConsentState::OptedOut => "opted out",
                textdesk_core::ConsentState::Unknown => "—",
            };
            (c.id, c.display_name(), addresses.join(", "), consent)
        })
        .collect();
    (status, ContactsPage { chrome: chrome(s, ui), q, rows, report, notice }).into_response()
}

pub async fn contacts_page(State(s): State<AppState>, ui: UiUser, Query(q): Query<ListQuery>) -> Response {
    render(&s, &ui, StatusCode::OK, q.q.unwrap_or_default(), None, None).await
}

fn report_view(r: &ImportReport) -> ReportView {
    let described = r.describe();
    let mut lines: Vec<String> = described.lines().map(str::to_owned).collect();
    let summary = lines.pop().unwrap_or_default();
    ReportView { dry_run: r.dry_run, faults: lines, summary }
}

pub async fn import_form(State(s): State<AppState>, ui: UiUser, req: Request) -> Response {
    if !ui.user.role.at_least(Role::Admin) {
        let why = format!("Nothing was imported: {ADMINS_ONLY}.");
        return render(&s, &ui, StatusCode::FORBIDDEN, String::new(), None, Some(why)).await;
    }
    let CsrfMultipart(ui, form) = match CsrfMultipart::from_request(req, &s).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(file) = form.files.first() else {
        let why = "Nothing was imported: choose a CSV file first.".to_owned();
        return render(&s, &ui, StatusCode::UNPROCESSABLE_ENTITY, String::new(), None, Some(why)).await;
    };
    let opts = ImportOptions {
        dry_run: form.field("dry_run").is_some_and(|v| !v.is_empty()),
        region: None,
        file_name: "an upload".into(),
    };
    match s.services.import_contacts(ui.user.account_id, Some(&ui.user), &file.bytes[..], &opts, &mut |_| {}).await {
        Ok(r) => {
            let status = if r.bad_rows > 0 { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
            render(&s, &ui, status, String::new(), Some(report_view(&r)), None).await
        }
        Err(e) => {
            let p = Problem::from(e);
            let why = format!("Nothing was imported: {}", p.detail);
            render(&s, &ui, p.status, String::new(), None, Some(why)).await
        }
    }
}

/// The CSV as it is written, a page of contacts at a time.
pub async fn export_csv(State(s): State<AppState>, ui: UiUser) -> Result<Response, Problem> {
    if !ui.user.role.at_least(Role::Admin) {
        return Err(Problem::forbidden(ADMINS_ONLY));
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
    let services = s.services.clone();
    let user = ui.user.clone();
    tokio::spawn(async move {
        if let Err(e) = services.export_contacts(user.account_id, Some(&user), tx, &mut |_| {}).await {
            tracing::warn!(error = %e, "the contacts export stopped");
        }
    });
    let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (Ok::<_, std::io::Error>(chunk), rx))
    });
    let mut res = axum::body::Body::from_stream(chunks).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"contacts.csv\""));
    Ok(res)
}
