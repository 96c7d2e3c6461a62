//! Escalating a conversation: `POST/GET /api/v1/conversations/{id}/escalations`
//! and the conversation page's "Escalate" menu.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use textdesk_store::Escalation;
use utoipa::ToSchema;

use crate::http::conversations::actions::{after_action, thread_href};
use crate::http::conversations::list::ListParams;
use crate::http::extract::{ApiUser, CsrfForm, Json, Path, Query, ts};
use crate::http::problem::{ApiResult, ProblemOut};
use crate::http::state::AppState;
use crate::services::email::InboundEmail;
use crate::services::escalations::EscalationAsk;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalationIn {
    /// supervisor, call, callback, video or email. `call` rings the caller's own phone (their profile's
    /// `phone`) and, when they answer, the customer's; `callback` queues a call back at `at`.
    #[serde(default)]
    pub(crate) to: String,
    /// Why, in words for the supervisor and the timeline (at most 500 characters).
    #[serde(default)]
    pub(crate) reason: Option<String>,
    /// With `supervisor`: the supervisor or admin to escalate to; without it, the lead of the
    /// conversation's team (its supervisor or admin member with the lowest user id).
    #[serde(default)]
    pub(crate) supervisor_id: Option<i64>,
    /// With `supervisor`: keep the current agent assigned, the supervisor watching (listed in their
    /// Escalated view and alerted), instead of assigning it to the supervisor.
    #[serde(default)]
    pub(crate) keep_agent: bool,
    /// With `email`: the customer's address, checked and kept on the contact (attribute `email`);
    /// without it, the one the contact has (422 when none).
    #[serde(default)]
    pub(crate) email: Option<String>,
    /// With `email`: `transcript` (the conversation so far, the default) or `request` (asks for the details).
    /// Sent with `Reply-To: reply+<token>@` the account's `settings.email.reply_domain`.
    #[serde(default)]
    pub(crate) send: Option<String>,
    /// With `callback`: when to call, on the customer's clock (`2026-12-07T10:00`) or as an instant
    /// (`2026-12-07T15:00:00Z`); within the next 30 days.
    #[serde(default)]
    pub(crate) at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct EscalationOut {
    pub(crate) id: i64,
    pub(crate) conversation_id: i64,
    /// supervisor, call, callback, video or email.
    pub(crate) to: String,
    pub(crate) reason: Option<String>,
    pub(crate) actor_id: Option<i64>,
    pub(crate) actor_name: Option<String>,
    pub(crate) supervisor_id: Option<i64>,
    pub(crate) supervisor_name: Option<String>,
    pub(crate) kept_agent: bool,
    /// A video escalation's meeting link; an email escalation's Reply-To address.
    pub(crate) link: Option<String>,
    /// The message that carried the link to the customer (queued through the gate; it may wait for quiet hours to end).
    pub(crate) message_id: Option<i64>,
    pub(crate) created_at: String,
}

impl From<Escalation> for EscalationOut {
    fn from(e: Escalation) -> Self {
        EscalationOut {
            id: e.id,
            conversation_id: e.conversation_id,
            to: e.kind.as_str().into(),
            reason: e.reason,
            actor_id: e.actor_id,
            actor_name: e.actor_name,
            supervisor_id: e.supervisor_id,
            supervisor_name: e.supervisor_name,
            kept_agent: e.kept_agent,
            link: e.link,
            message_id: e.message_id,
            created_at: ts(e.created_at),
        }
    }
}

impl EscalationIn {
    fn ask(self) -> EscalationAsk {
        EscalationAsk {
            to: self.to,
            reason: self.reason,
            supervisor_id: self.supervisor_id,
            keep_agent: self.keep_agent,
            email: self.email,
            send: self.send,
            at: self.at,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/escalations", tag = "conversations", params(("id" = i64, Path)), request_body = EscalationIn, responses((status = 201, body = EscalationOut, description = "Escalated: recorded in the timeline, sent to webhooks as escalation.created"), (status = 404, body = ProblemOut), (status = 409, body = ProblemOut, description = "The gate refused: a video link it would not text (opted out, outside the reply window), or a call in the customer's quiet hours (the detail offers a call back): nothing recorded"), (status = 422, body = ProblemOut, description = "Bad input, no phone number in the caller's profile, an inbox that cannot call, email not set up, or the provider or mail server refused: nothing recorded")), security(("bearer" = [])))]
pub(crate) async fn create_escalation(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<EscalationIn>,
) -> ApiResult<(StatusCode, Json<EscalationOut>)> {
    let e = s.services.escalate(&u, id, &b.ask()).await?;
    Ok((StatusCode::CREATED, Json(e.into())))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/escalations", tag = "conversations", params(("id" = i64, Path)), responses((status = 200, body = [EscalationOut], description = "Oldest first"), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn list_escalations(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<EscalationOut>>> {
    Ok(Json(s.services.escalations(u.account_id, id).await?.into_iter().map(Into::into).collect()))
}

#[derive(Deserialize)]
pub(crate) struct EscalateForm {
    #[serde(default)]
    pub(crate) to: String,
    #[serde(default)]
    pub(crate) reason: Option<String>,
    /// A user id, or empty for the team's lead.
    #[serde(default)]
    pub(crate) supervisor: Option<String>,
    /// A checkbox: present when ticked.
    #[serde(default)]
    pub(crate) keep_agent: Option<String>,
    #[serde(default)]
    pub(crate) email: Option<String>,
    /// `transcript` or `request`.
    #[serde(default)]
    pub(crate) send: Option<String>,
    /// A call back's time on the customer's clock (`datetime-local`).
    #[serde(default)]
    pub(crate) at: Option<String>,
}

/// The Escalate menu's forms: back to the conversation, or the reason shown above the composer.
pub(crate) async fn escalate_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(p): Query<ListParams>,
    CsrfForm(ui, f): CsrfForm<EscalateForm>,
) -> Response {
    let result = async {
        let supervisor_id = match f.supervisor.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => Some(v.parse().map_err(|_| {
                crate::services::error::ServiceError::Invalid("choose a supervisor from the list".into())
            })?),
        };
        let ask = EscalationAsk {
            to: f.to,
            reason: f.reason,
            supervisor_id,
            keep_agent: f.keep_agent.is_some(),
            email: f.email,
            send: f.send,
            at: f.at,
        };
        s.services.escalate(&ui.user, id, &ask).await?;
        Ok(thread_href(id, &p))
    }
    .await;
    after_action(&s, &ui, id, &p, result).await
}

/// The most an inbound-parse post may be: ten attachments at the media limit, and the text around them.
pub(crate) fn email_body_limit(media_max_bytes: u64) -> usize {
    (media_max_bytes as usize).saturating_mul(crate::services::email::MAX_EMAIL_FILES).saturating_add(1 << 20)
}

/// The inbound-parse webhook (`POST /webhooks/email/{account_id}/{secret}`): a customer's reply to an
/// escalation's email (multipart `from`, `to`, `subject`, `text` and attachments, kept as the message's
/// after the media type checks), threaded into its conversation. The secret in the path is the credential (403 otherwise); 404 for an address no
/// escalation gave out; 200 once stored (a repeat is stored once).
pub(crate) async fn inbound_email(
    State(s): State<AppState>,
    Path((account_id, secret)): Path<(i64, String)>,
    form: axum::extract::Multipart,
) -> Result<StatusCode, crate::http::problem::Problem> {
    let parts = crate::http::extract::provider_form(form, s.config.media_max_bytes).await.map_err(|p| {
        if p.status == StatusCode::PAYLOAD_TOO_LARGE {
            let most = crate::services::media::human_size(email_body_limit(s.config.media_max_bytes) as u64);
            crate::http::problem::Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Email too large",
                format!("an inbound email may be at most {most} in all, each attachment at most the media limit"),
            )
        } else {
            p
        }
    })?;
    let field = |n: &str| parts.field(n).unwrap_or_default();
    let files = parts.files.iter().map(|f| (f.content_type.as_str(), f.bytes.as_ref())).collect();
    let mail =
        InboundEmail { from: field("from"), to: field("to"), subject: field("subject"), text: field("text"), files };
    s.services.inbound_email(account_id, &secret, &mail).await?;
    Ok(StatusCode::OK)
}
