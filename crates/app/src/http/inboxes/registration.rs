//! Registering an inbox's webhook with its provider (admins), from the
//! settings page's "Register webhook" button or
//! `POST /api/v1/inboxes/{id}/webhook-registration`, through one service:
//! providers that take their webhook address from textdesk (Telegram's
//! `setWebhook` with the secret, LINE's endpoint) are told; for the others
//! the answer says what the admin pastes where.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::conversations::thread::action_failure;
use crate::http::extract::{ApiAdmin, CsrfForm, Json, Path};
use crate::http::inboxes::settings::{InboxQuery, inbox_view};
use crate::http::layout::{admin_only, page_or_problem};
use crate::http::problem::{ApiResult, ProblemOut};
use crate::http::state::AppState;
use crate::services::channels::WebhookRegistration;
use crate::services::error::ServiceError;

pub(crate) async fn register_webhook_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, _): CsrfForm<Vec<(String, String)>>,
) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    let done = s.services.register_webhook(&ui.user, id).await.and_then(|r| {
        // The page offers the button only where textdesk registers; a post from elsewhere learns where to paste.
        if r.registered { Ok(()) } else { Err(ServiceError::invalid(r.instructions)) }
    });
    match done {
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

/// One of the inbox's webhook addresses.
#[derive(Serialize, ToSchema)]
pub struct WebhookAddressOut {
    /// `inbound`, or `status` (Twilio's status callback).
    name: &'static str,
    /// Where it goes in the provider's console ("Callback URL").
    label: &'static str,
    url: String,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookRegistrationOut {
    /// True: textdesk told the provider the address (Telegram with the inbox's secret, LINE).
    /// False: the provider takes it only in its console; `instructions` say where.
    registered: bool,
    /// The provider, as people call it.
    provider: &'static str,
    webhooks: Vec<WebhookAddressOut>,
    /// What the admin does in the provider's console, in words.
    instructions: &'static str,
}

impl WebhookRegistrationOut {
    fn of(r: WebhookRegistration) -> Self {
        WebhookRegistrationOut {
            registered: r.registered,
            provider: r.provider,
            webhooks: r
                .webhooks
                .into_iter()
                .map(|(h, url)| WebhookAddressOut { name: h.name, label: h.label, url })
                .collect(),
            instructions: r.instructions,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/inboxes/{id}/webhook-registration", tag = "inboxes", params(("id" = i64, Path)),
    responses((status = 200, body = WebhookRegistrationOut, description = "Registered with the provider (`registered: true`), or what to paste where (`registered: false`); admins"),
              (status = 403, body = ProblemOut), (status = 404, body = ProblemOut),
              (status = 422, body = ProblemOut, description = "The provider refused (type urn:textdesk:problem:credentials): the token, or an address it will not post to (Telegram wants public HTTPS)")),
    security(("bearer" = [])))]
pub(crate) async fn register_webhook(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Path(id): Path<i64>,
) -> ApiResult<Json<WebhookRegistrationOut>> {
    Ok(Json(WebhookRegistrationOut::of(s.services.register_webhook(&u, id).await?)))
}
