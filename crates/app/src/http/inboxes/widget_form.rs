//! Saving a web chat inbox's widget settings from its settings page (what the
//! section shows is `widget_view`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Map, Value, json};
use textdesk_channels::webchat::KEY;

use crate::http::extract::{CsrfForm, Path};
use crate::http::inboxes::settings::{InboxQuery, inbox_view};
use crate::http::inboxes::widget_view::WidgetForm;
use crate::http::layout::{admin_only, page_or_problem};
use crate::http::problem::Problem;
use crate::http::state::AppState;

fn changes(f: &WidgetForm) -> Result<Map<String, Value>, String> {
    let mut w = Map::new();
    for (k, v) in [
        ("greeting", &f.greeting),
        ("allowed_sites", &f.allowed_sites),
        ("colour", &f.colour),
        ("position", &f.position),
        ("away_message", &f.away_message),
    ] {
        if !v.trim().is_empty() {
            w.insert(k.into(), json!(v.trim()));
        }
    }
    if !f.sms_inbox.trim().is_empty() {
        let id: i64 = f.sms_inbox.trim().parse().map_err(|_| "Continue by text: pick an SMS inbox".to_owned())?;
        w.insert("sms_inbox".into(), json!(id));
    }
    let mut out = Map::new();
    out.insert(KEY.into(), Value::Object(w));
    Ok(out)
}

pub(crate) async fn save_widget(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, f): CsrfForm<WidgetForm>,
) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    // Only a web chat inbox has a widget (any other, or another account's, is not found).
    match s.services.inbox(ui.user.account_id, id).await {
        Ok(inbox) if inbox.provider == KEY => {}
        Ok(_) => return Problem::not_found("web chat inbox").into_response(),
        Err(e) => return Problem::from(e).into_response(),
    }
    let saved = match changes(&f) {
        Ok(c) => s.services.update_inbox(&ui.user, id, None, Some(&c)).await.map_err(|e| {
            let p: Problem = e.into();
            (p.status, p.detail)
        }),
        Err(e) => Err((StatusCode::UNPROCESSABLE_ENTITY, e)),
    };
    match saved {
        Ok(_) => Redirect::to(&format!("/settings/inboxes/{id}?saved=widget#widget")).into_response(),
        Err((status, detail)) => {
            let page = match inbox_view(&s, &ui, id, None, InboxQuery::default()).await {
                Ok(mut page) => {
                    // The form as typed, with what was wrong.
                    if let Some(w) = page.widget.take() {
                        page.widget = Some(WidgetForm { snippet: w.snippet, sms_choices: w.sms_choices, ..f });
                    }
                    page.error = Some(("widget".into(), detail));
                    Ok(page)
                }
                Err(p) => Err(p),
            };
            page_or_problem(status, page)
        }
    }
}
