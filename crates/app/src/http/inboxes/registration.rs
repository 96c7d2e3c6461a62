//! "Register webhook" on an inbox's settings page, for providers that take
//! their webhook address from textdesk (Telegram's `setWebhook`, LINE's
//! endpoint): admins only; a refusal is shown beside the button.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::http::conversations::thread::action_failure;
use crate::http::extract::{CsrfForm, Path};
use crate::http::inboxes::settings::{InboxQuery, inbox_view};
use crate::http::layout::{admin_only, page_or_problem};
use crate::http::state::AppState;

pub(crate) async fn register_webhook_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, _): CsrfForm<Vec<(String, String)>>,
) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    match s.services.register_webhook(&ui.user, id).await {
        Ok(()) => Redirect::to(&format!("/settings/inboxes/{id}?saved=webhook#webhooks")).into_response(),
        Err(e) => {
            let (status, msg) = action_failure(e);
            let page = inbox_view(&s, &ui, id, None, InboxQuery::default()).await.map(|mut page| {
                page.error = Some(("webhook".into(), msg));
                page
            });
            page_or_problem(if status.is_server_error() { StatusCode::BAD_GATEWAY } else { status }, page)
        }
    }
}
