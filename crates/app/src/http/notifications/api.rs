//! `POST /api/v1/notifications`: the business texts a customer first.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::extract::{ApiUser, Json, idempotency_header, keyed_answer, ts};
use crate::http::problem::{ApiResult, Problem, ProblemOut};
use crate::http::state::AppState;
use crate::http::template_input::{self, ButtonValueIn};
use crate::services::Services;
use crate::services::notifications::{Content, GivenConsent, Notification, NotificationSent, Recipient};

/// A canned response by id, or by its shortcut (`"reminder"` or `"/reminder"`).
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(untagged)]
pub enum TemplateRef {
    Id(i64),
    Shortcut(String),
}

/// An approved template of the inbox's provider (WhatsApp's), synced in the inbox's settings.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderTemplateIn {
    /// Its name, as `GET /api/v1/inboxes/{id}/templates` lists it.
    pub(crate) name: String,
    /// Its language code (`en_US`); needed only when the name exists in several.
    pub(crate) language: Option<String>,
    /// One value per body variable ({{1}}, {{2}}…), in order.
    #[serde(default)]
    pub(crate) values: Vec<String>,
    /// For a template with a header: its {{1}}'s value (text header), or the public https
    /// link of its picture, video or document (media header).
    pub(crate) header: Option<String>,
    /// Values for its quick-reply and URL buttons, by index.
    pub(crate) buttons: Option<Vec<ButtonValueIn>>,
}

/// The customer's opt-in given outside texts, recorded before the first one.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentGivenIn {
    /// How it was given: `verbal` (by phone), `in_person`, `web_form`, `api`…
    pub(crate) source: String,
    /// Their words, or where and when they were given (at most 500 characters).
    #[serde(default)]
    pub(crate) evidence: String,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationIn {
    /// A phone number in any common format ("+1 415 555 0123", "(415) 555-0123" read in the inbox's country). Or give `contact_id`.
    pub(crate) to: Option<String>,
    /// An existing contact, reached at their address on the inbox's channel.
    pub(crate) contact_id: Option<i64>,
    pub(crate) inbox_id: i64,
    /// The text. Or give `template`.
    pub(crate) body: Option<String>,
    /// A canned response (id or shortcut) filled in with `variables` and what the app knows.
    pub(crate) template: Option<TemplateRef>,
    /// Values for the template's variables, e.g. `{"contact.first_name": "Ana"}`.
    pub(crate) variables: Option<BTreeMap<String, String>>,
    /// Or an approved provider template (WhatsApp's): the only message that reaches a customer
    /// outside the channel's reply window (for WhatsApp, 24 hours after their last message).
    pub(crate) provider_template: Option<ProviderTemplateIn>,
    /// Not before: an instant with its offset, or a local time (`2026-12-08T09:00`) read in the customer's zone.
    pub(crate) send_at: Option<String>,
    /// `notification` (the default). `reply` is refused: answer a customer in their conversation.
    pub(crate) kind: Option<String>,
    /// Record the customer's opt-in (given by phone or in person) before sending.
    pub(crate) consent: Option<ConsentGivenIn>,
}

/// The customer's clock at a moment.
#[derive(Serialize, ToSchema)]
pub struct LocalMomentOut {
    /// The instant, UTC (RFC 3339).
    pub(crate) at: String,
    /// The customer's IANA zone.
    pub(crate) zone: String,
    /// Their local time, e.g. `2026-12-08T09:00`.
    pub(crate) local: String,
}

#[derive(Serialize, ToSchema)]
pub struct NotificationOut {
    pub(crate) message_id: i64,
    pub(crate) conversation_id: i64,
    pub(crate) contact_id: i64,
    /// The message opened a new conversation (else it continues their open one).
    pub(crate) new_conversation: bool,
    /// `queued` (going out now; follow it on the message) or `deferred` (waiting, see `deferred_until`).
    pub(crate) status: String,
    /// When a deferred message goes: the time asked for, or the end of the customer's quiet hours.
    pub(crate) deferred_until: Option<LocalMomentOut>,
}

impl NotificationOut {
    pub(crate) fn of(n: &NotificationSent) -> Self {
        let deferred_until = n.message.send_at.map(|at| LocalMomentOut {
            at: ts(at),
            zone: n.zone.iana_name().unwrap_or("UTC").to_owned(),
            local: at.to_zoned(n.zone.clone()).strftime("%Y-%m-%dT%H:%M").to_string(),
        });
        NotificationOut {
            message_id: n.message.id,
            conversation_id: n.conversation_id,
            contact_id: n.contact_id,
            new_conversation: n.new_conversation,
            status: if deferred_until.is_some() { "deferred" } else { "queued" }.into(),
            deferred_until,
        }
    }
}

impl NotificationIn {
    fn notification(&self) -> Result<Notification, Problem> {
        match self.kind.as_deref() {
            None | Some("notification") => {}
            Some("reply") => {
                return Err(Problem::invalid(
                    "kind reply is refused here: a notification is business-initiated; to answer a customer, \
                     post to /api/v1/conversations/{id}/messages",
                ));
            }
            Some(other) => return Err(Problem::invalid(format!("kind {other:?}: use notification"))),
        }
        let to = match (&self.to, self.contact_id) {
            (Some(n), None) => Recipient::Number(n.clone()),
            (None, Some(id)) => Recipient::Contact(id),
            _ => return Err(Problem::invalid("give either to (a phone number) or contact_id")),
        };
        let content = match (&self.body, &self.template, &self.provider_template) {
            (None, None, Some(p)) if self.variables.is_none() => Content::ProviderTemplate {
                name: p.name.clone(),
                language: p.language.clone(),
                fill: template_input::fill(&p.values, p.header.as_ref(), p.buttons.as_ref()),
            },
            (_, _, Some(_)) => {
                return Err(Problem::invalid(
                    "a provider_template is sent as it is: leave out body, template and variables",
                ));
            }
            (Some(b), None, None) if self.variables.is_none() => Content::Text(b.clone()),
            (None, Some(t), None) => Content::Template {
                canned: match t {
                    TemplateRef::Id(id) => id.to_string(),
                    TemplateRef::Shortcut(s) => s.clone(),
                },
                variables: self.variables.clone().unwrap_or_default(),
            },
            (Some(_), None, None) => return Err(Problem::invalid("variables go with a template, not with body")),
            _ => return Err(Problem::invalid("give either body, template or provider_template")),
        };
        Ok(Notification {
            to,
            inbox_id: self.inbox_id,
            content,
            send_at: self.send_at.clone(),
            consent: self
                .consent
                .as_ref()
                .map(|c| GivenConsent { source: c.source.clone(), evidence: c.evidence.clone() }),
        })
    }
}

#[utoipa::path(post, path = "/api/v1/notifications", tag = "messages", request_body = NotificationIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Any unique string (a UUID): a repeat within 24 hours gets the first answer and sends nothing; the same key with another request gets 422")),
    responses((status = 201, body = NotificationOut, description = "Stored: queued now, or deferred until the time asked or the end of the customer's quiet hours (their local time given)"),
        (status = 404, body = ProblemOut, description = "No such inbox or contact"),
        (status = 409, body = ProblemOut, description = "Blocked (type urn:textdesk:problem:blocked, `reason` no_opt_in, opted_out or reply_window_closed (free text outside WhatsApp's 24 hours: send a provider_template)): nothing was sent or stored; or the key's first request is still running"),
        (status = 422, body = ProblemOut, description = "Invalid, kind reply, or an Idempotency-Key reused with another request")),
    security(("bearer" = [])))]
pub(crate) async fn create_notification(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    headers: HeaderMap,
    Json(b): Json<NotificationIn>,
) -> ApiResult<Response> {
    let key = Services::idempotency_key(&u, "POST /api/v1/notifications", idempotency_header(&headers)?, &b)?;
    let n = b.notification()?;
    let render = |sent: &NotificationSent| serde_json::to_string(&NotificationOut::of(sent)).unwrap_or_default();
    let answer = s.services.notify(&u, n, "notification", key.as_ref(), render).await?;
    Ok(keyed_answer(answer))
}
