//! What providers post to us, at `/webhooks/{provider}/{inbox}[/{hook}]`
//! (Twilio's addresses, `/webhooks/twilio/{inbox}` and `…/status`, are two of
//! these). Each request is verified by the inbox's channel before anything is
//! read from it, and answered only once what it carried is on disk (a
//! provider retries until it gets a 2xx).

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use textdesk_channels::provider::{InboundRequest, Refusal};

use crate::http::state::AppState;
use textdesk_store::StoreError;

use crate::services::channels::WebhookRefused;
use crate::services::error::ServiceError;

pub(crate) fn plain(status: StatusCode, text: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text.to_owned()).into_response()
}

/// The request as it reached us, for the channel to verify.
pub(crate) struct Received {
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
}

pub(crate) async fn main_hook(
    State(s): State<AppState>,
    Path((provider, inbox_id)): Path<(String, i64)>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    receive(&s, &provider, inbox_id, "inbound", Received { uri, headers, body }).await
}

pub(crate) async fn named_hook(
    State(s): State<AppState>,
    Path((provider, inbox_id, hook)): Path<(String, i64, String)>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if hook == "inbound" {
        // The main hook has the short address only.
        return plain(StatusCode::NOT_FOUND, "no such webhook");
    }
    receive(&s, &provider, inbox_id, &hook, Received { uri, headers, body }).await
}

/// A GET to a provider's webhook: Meta's subscription handshake
/// (`hub.mode`, `hub.verify_token`, `hub.challenge`), answered by the
/// inbox's channel; providers that only POST answer 404.
pub(crate) async fn main_hook_get(
    State(s): State<AppState>,
    Path((provider, inbox_id)): Path<(String, i64)>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    handshake(&s, &provider, inbox_id, "inbound", uri.query().unwrap_or_default()).await
}

pub(crate) async fn named_hook_get(
    State(s): State<AppState>,
    Path((provider, inbox_id, hook)): Path<(String, i64, String)>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    if hook == "inbound" {
        return plain(StatusCode::NOT_FOUND, "no such webhook");
    }
    handshake(&s, &provider, inbox_id, &hook, uri.query().unwrap_or_default()).await
}

async fn handshake(s: &AppState, provider: &str, inbox_id: i64, hook: &str, query: &str) -> Response {
    let inbox = match s.services.webhook_inbox(inbox_id).await {
        Ok(i) if i.provider == provider => i,
        Ok(_) | Err(ServiceError::NotFound(_)) => {
            return plain(StatusCode::NOT_FOUND, &format!("no such {provider} inbox"));
        }
        Err(e) => {
            tracing::error!(error = %e, "reading an inbox for a webhook failed");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "try again");
        }
    };
    let channel = match s.services.channel(&inbox).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(inbox = inbox.id, error = %e, "the inbox has no usable provider setup");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "the inbox is not set up");
        }
    };
    match channel.handshake(hook, query) {
        Ok(answer) => answered(answer),
        Err(Refusal::NotFound(why)) => plain(StatusCode::NOT_FOUND, &why),
        Err(Refusal::Forbidden(why)) => {
            tracing::warn!(inbox = inbox.id, provider, "a webhook handshake failed its check");
            plain(StatusCode::FORBIDDEN, &why)
        }
        Err(Refusal::BadRequest(why)) => plain(StatusCode::BAD_REQUEST, &why),
    }
}

fn answered(answer: textdesk_channels::provider::Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    match answer.content_type {
        Some(ct) => (status, [(header::CONTENT_TYPE, ct)], answer.body).into_response(),
        None => status.into_response(),
    }
}

pub(crate) async fn receive(s: &AppState, provider: &str, inbox_id: i64, hook: &str, r: Received) -> Response {
    // Providers sign the address they were given: ours as the public sees it.
    let path = r.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("{}{path}", s.config.public_url);
    let request = InboundRequest { hook, url: &url, headers: &r.headers, body: &r.body, now: jiff::Timestamp::now() };
    let (inbox, inbound) = match s.services.verify_webhook(provider, inbox_id, &request).await {
        Ok(verified) => verified,
        Err(WebhookRefused::NoInbox) => return plain(StatusCode::NOT_FOUND, &format!("no such {provider} inbox")),
        Err(WebhookRefused::Unavailable(e)) => {
            tracing::error!(error = %e, "reading an inbox for a webhook failed");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "try again");
        }
        Err(WebhookRefused::NotSetUp(e)) => {
            tracing::error!(inbox = inbox_id, error = %e, "the inbox has no usable provider setup");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "the inbox is not set up");
        }
        Err(WebhookRefused::Refused(Refusal::NotFound(why))) => return plain(StatusCode::NOT_FOUND, &why),
        Err(WebhookRefused::Refused(Refusal::Forbidden(why))) => {
            tracing::warn!(inbox = inbox_id, provider, "a webhook failed its check");
            return plain(StatusCode::FORBIDDEN, &why);
        }
        Err(WebhookRefused::Refused(Refusal::BadRequest(why))) => return plain(StatusCode::BAD_REQUEST, &why),
    };
    for event in inbound.events {
        match s.services.ingest_into(&inbox, event).await {
            Ok(_) => {}
            Err(ServiceError::Invalid(e)) => return plain(StatusCode::BAD_REQUEST, &e),
            // A bug, not a busy database: said as one (nothing was stored).
            Err(ServiceError::Store(StoreError::Panicked)) => {
                tracing::error!(inbox = inbox.id, provider, "storing what a provider sent panicked");
                return plain(StatusCode::INTERNAL_SERVER_ERROR, "not stored");
            }
            Err(e) => {
                tracing::error!(inbox = inbox.id, provider, error = %e, "storing what a provider sent failed");
                return plain(StatusCode::SERVICE_UNAVAILABLE, "not stored; try again");
            }
        }
    }
    answered(inbound.answer)
}
