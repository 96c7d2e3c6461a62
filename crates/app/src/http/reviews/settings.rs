//! The rubric and the weekly sample (`/settings/reviews`, admins): one row per
//! criterion (label, what to look for, weight) and an empty row to add one;
//! a row whose label is emptied is removed.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use textdesk_core::review::{Criterion, MAX_SAMPLE_SIZE};

use crate::http::extract::{CsrfForm, Query, UiUser};
use crate::http::layout::{Chrome, admin_only, chrome, page_or_problem};
use crate::http::problem::Problem;
use crate::http::state::AppState;

/// The most criteria a rubric has (`core::review::Rubric::parse`).
const MAX_CRITERIA: usize = 20;

pub(crate) struct Row {
    n: usize,
    label: String,
    help: String,
    weight: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "settings_reviews.html")]
pub(crate) struct ReviewSettingsPage {
    chrome: Chrome,
    sample_size: String,
    max_sample: u32,
    rows: Vec<Row>,
    error: Option<String>,
    saved: bool,
}

#[derive(Deserialize, Default)]
pub(crate) struct SavedQuery {
    saved: Option<String>,
}

/// The rows as stored, plus an empty one to add a criterion.
fn rows_of(criteria: &[Criterion]) -> Vec<Row> {
    let mut rows: Vec<Row> = criteria
        .iter()
        .enumerate()
        .map(|(n, c)| Row { n, label: c.label.clone(), help: c.help.clone(), weight: c.weight.to_string() })
        .collect();
    if rows.len() < MAX_CRITERIA {
        rows.push(Row { n: rows.len(), label: String::new(), help: String::new(), weight: "1".into() });
    }
    rows
}

pub(crate) async fn settings_page(State(s): State<AppState>, ui: UiUser, Query(q): Query<SavedQuery>) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    match s.services.review_settings(ui.user.account_id).await {
        Ok(r) => ReviewSettingsPage {
            chrome: chrome(&s, &ui),
            sample_size: r.sample_size.to_string(),
            max_sample: MAX_SAMPLE_SIZE,
            rows: rows_of(&r.rubric.criteria),
            error: None,
            saved: q.saved.is_some(),
        }
        .into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// Reads the form's rows in order; empty labels are dropped.
fn read_rows(form: &HashMap<String, String>) -> Result<Vec<Criterion>, (Vec<Row>, String)> {
    let mut rows = Vec::new();
    let mut fault = None;
    for n in 0..MAX_CRITERIA {
        let Some(label) = form.get(&format!("label_{n}")) else { continue };
        let help = form.get(&format!("help_{n}")).cloned().unwrap_or_default();
        let weight = form.get(&format!("weight_{n}")).cloned().unwrap_or_default();
        if label.trim().is_empty() {
            continue;
        }
        if weight.trim().parse::<u8>().is_err() && fault.is_none() {
            fault = Some(format!("“{}”: the weight is a number from 1 to 10", label.trim()));
        }
        rows.push(Row { n: rows.len(), label: label.clone(), help, weight });
    }
    match fault {
        Some(f) => Err((rows, f)),
        None => Ok(rows
            .into_iter()
            .map(|r| Criterion { label: r.label, help: r.help, weight: r.weight.trim().parse().unwrap_or(0) })
            .collect()),
    }
}

pub(crate) async fn save_form(
    State(s): State<AppState>,
    CsrfForm(ui, form): CsrfForm<HashMap<String, String>>,
) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    let sample_size = form.get("sample_size").cloned().unwrap_or_default();
    let result = match (sample_size.trim().parse::<u32>(), read_rows(&form)) {
        (Err(_), Ok(c)) => {
            Err((rows_of(&c), format!("the weekly sample is a whole number from 0 to {MAX_SAMPLE_SIZE}")))
        }
        (_, Err(e)) => Err(e),
        (Ok(n), Ok(criteria)) => match s.services.set_review_settings(&ui.user, n, criteria.clone()).await {
            Ok(_) => Ok(()),
            Err(e) => Err((rows_of(&criteria), Problem::from(e).detail)),
        },
    };
    match result {
        Ok(()) => Redirect::to("/settings/reviews?saved=1").into_response(),
        Err((mut rows, error)) => {
            if rows.len() < MAX_CRITERIA && rows.last().is_none_or(|r| !r.label.is_empty()) {
                rows.push(Row { n: rows.len(), label: String::new(), help: String::new(), weight: "1".into() });
            }
            let page = ReviewSettingsPage {
                chrome: chrome(&s, &ui),
                sample_size,
                max_sample: MAX_SAMPLE_SIZE,
                rows,
                error: Some(error),
                saved: false,
            };
            page_or_problem(axum::http::StatusCode::UNPROCESSABLE_ENTITY, Ok::<_, Problem>(page))
        }
    }
}
