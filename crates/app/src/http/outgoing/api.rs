//! Outgoing webhooks in the REST API (`/api/v1/webhooks…`): supervisors and
//! admins read the subscriptions and their delivery logs, admins change them.
//! Logic lives in `services::webhooks`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use textdesk_store::{WebhookDelivery, WebhookSubscription};
use utoipa::ToSchema;

use crate::http::extract::{ApiAdmin, ApiSupervisor, Json, Path, Query};
use crate::http::problem::{Problem, ProblemOut};
use crate::http::state::AppState;
use crate::services::webhooks::WebhookDraft;

/// An answer that carries a signing secret is kept by no cache.
pub(crate) const NO_STORE: [(axum::http::HeaderName, &str); 1] = [(axum::http::header::CACHE_CONTROL, "no-store")];

#[derive(Serialize, ToSchema)]
pub struct WebhookOut {
    id: i64,
    /// Where deliveries are posted: https (http only to a private host the operator allowed).
    url: String,
    description: String,
    /// Any of message.received, message.sent, message.status, conversation.created,
    /// conversation.assigned, conversation.resolved, consent.changed, survey.answered, escalation.created.
    events: Vec<String>,
    /// Off: nothing is queued or sent for it.
    active: bool,
    /// Since when every delivery has failed (none: the last one succeeded).
    failing_since: Option<String>,
    /// When it was switched off for failing too long, and why.
    disabled_at: Option<String>,
    disabled_reason: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<WebhookSubscription> for WebhookOut {
    fn from(w: WebhookSubscription) -> Self {
        WebhookOut {
            id: w.id,
            url: w.url,
            description: w.description,
            events: w.events,
            active: w.active,
            failing_since: w.failing_since.map(|t| t.to_string()),
            disabled_at: w.disabled_at.map(|t| t.to_string()),
            disabled_reason: w.disabled_reason,
            created_at: w.created_at.to_string(),
            updated_at: w.updated_at.to_string(),
        }
    }
}

/// A new subscription, with its signing secret: shown this once.
#[derive(Serialize, ToSchema)]
pub struct WebhookCreatedOut {
    #[serde(flatten)]
    webhook: WebhookOut,
    /// `whsec_` and base64: the key of the `webhook-signature` HMAC. Not shown again (rotate it to get a new one).
    secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookSecretOut {
    /// The new secret; the old one no longer signs.
    secret: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookIn {
    url: String,
    events: Vec<String>,
    #[serde(default)]
    description: Option<String>,
    /// Default true.
    #[serde(default)]
    active: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatchIn {
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
    /// Switching it on again also clears the notice of an automatic switch-off.
    active: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryOut {
    id: i64,
    /// The `webhook-id` header: the same on every attempt and resend.
    webhook_id: String,
    event_type: String,
    /// `pending` (to be tried, or being tried), `delivered` or `failed`.
    state: String,
    /// Attempts made so far.
    attempts: i64,
    /// The receiver's last HTTP status, if it answered.
    last_status_code: Option<i64>,
    /// What went wrong last, in words.
    last_error: Option<String>,
    last_attempt_at: Option<String>,
    /// When it is tried next (pending only).
    next_attempt_at: Option<String>,
    created_at: String,
    /// The body as posted.
    #[schema(value_type = Object)]
    payload: serde_json::Value,
}

impl From<WebhookDelivery> for DeliveryOut {
    fn from(d: WebhookDelivery) -> Self {
        DeliveryOut {
            id: d.id,
            webhook_id: d.msg_id,
            event_type: d.event_type,
            next_attempt_at: (d.state == "pending").then(|| d.next_attempt_at.to_string()),
            state: d.state,
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            last_attempt_at: d.last_attempt_at.map(|t| t.to_string()),
            created_at: d.created_at.to_string(),
            payload: serde_json::from_str(&d.payload).unwrap_or(serde_json::Value::Null),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = [WebhookOut]), (status = 403, body = ProblemOut, description = "Agents do not see webhooks")),
    security(("bearer" = [])))]
pub async fn list_webhooks(
    State(s): State<AppState>,
    ApiSupervisor(u): ApiSupervisor,
) -> Result<Json<Vec<WebhookOut>>, Problem> {
    Ok(Json(s.services.list_webhooks(&u).await?.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = WebhookIn,
    responses((status = 201, body = WebhookCreatedOut, description = "Added; the secret is in this answer only"),
        (status = 403, body = ProblemOut, description = "Not an admin"),
        (status = 422, body = ProblemOut, description = "A URL that is not https or points at a private address, or an unknown event type")),
    security(("bearer" = [])))]
pub async fn create_webhook(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Json(b): Json<WebhookIn>,
) -> Result<Response, Problem> {
    let draft = WebhookDraft {
        url: b.url,
        description: b.description.unwrap_or_default(),
        events: b.events,
        active: b.active.unwrap_or(true),
    };
    let (w, secret) = s.services.create_webhook(&u, &draft).await?;
    Ok((StatusCode::CREATED, NO_STORE, Json(WebhookCreatedOut { webhook: w.into(), secret })).into_response())
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 200, body = WebhookOut), (status = 403, body = ProblemOut)), security(("bearer" = [])))]
pub async fn get_webhook(
    State(s): State<AppState>,
    ApiSupervisor(u): ApiSupervisor,
    Path(id): Path<i64>,
) -> Result<Json<WebhookOut>, Problem> {
    Ok(Json(s.services.get_webhook(&u, id).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)), request_body = WebhookPatchIn,
    responses((status = 200, body = WebhookOut), (status = 403, body = ProblemOut), (status = 422, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn update_webhook(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Path(id): Path<i64>,
    Json(b): Json<WebhookPatchIn>,
) -> Result<Json<WebhookOut>, Problem> {
    let w = s
        .services
        .update_webhook(&u, id, |d| {
            d.url = b.url.unwrap_or(std::mem::take(&mut d.url));
            d.description = b.description.unwrap_or(std::mem::take(&mut d.description));
            d.events = b.events.unwrap_or(std::mem::take(&mut d.events));
            d.active = b.active.unwrap_or(d.active);
        })
        .await?;
    Ok(Json(w.into()))
}

#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted with its delivery log"), (status = 403, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn delete_webhook(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Path(id): Path<i64>,
) -> Result<StatusCode, Problem> {
    s.services.delete_webhook(&u, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/secret", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 200, body = WebhookSecretOut, description = "Rotated: deliveries from now on are signed with the new secret"),
        (status = 403, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn rotate_secret(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Path(id): Path<i64>,
) -> Result<Response, Problem> {
    let secret = s.services.rotate_webhook_secret(&u, id).await?;
    Ok((NO_STORE, Json(WebhookSecretOut { secret })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = i64, Path), ("limit" = Option<i64>, Query, description = "At most this many, newest first (1 to 500, default 100)")),
    responses((status = 200, body = [DeliveryOut]), (status = 403, body = ProblemOut)), security(("bearer" = [])))]
pub async fn list_deliveries(
    State(s): State<AppState>,
    ApiSupervisor(u): ApiSupervisor,
    Path(id): Path<i64>,
    Query(q): Query<LogQuery>,
) -> Result<Json<Vec<DeliveryOut>>, Problem> {
    let log = s.services.webhook_log(&u, id, q.limit.unwrap_or(100)).await?;
    Ok(Json(log.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/resend", tag = "webhooks",
    params(("id" = i64, Path), ("delivery_id" = i64, Path)),
    responses((status = 202, description = "Due again now, with the same webhook-id and a fresh day of retries"),
        (status = 403, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn resend_delivery(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Path((id, delivery_id)): Path<(i64, i64)>,
) -> Result<StatusCode, Problem> {
    s.services.resend_webhook(&u, id, delivery_id).await?;
    Ok(StatusCode::ACCEPTED)
}
