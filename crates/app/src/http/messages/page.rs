//! The composer on a conversation's page: reply or note (with files), send
//! later, the outbox's waiting messages, and the live preview as one types.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use serde::Deserialize;
use textdesk_core::Body;
use textdesk_core::gate::OutboundKind;

use crate::http::conversations::list::ListParams;
use crate::http::conversations::thread::{action_failure, render_conversation};
use crate::http::extract::{CsrfForm, CsrfMultipart, FormFile};
use crate::http::extract::{Path, UiUser};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::services::conversations::Draft;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::schedule::ZoneChoice;

#[derive(Deserialize)]
pub(crate) struct ReplyForm {
    #[serde(default)]
    pub(crate) body: String,
    #[serde(default)]
    pub(crate) private: Option<String>,
    /// "Send later": a local time from the browser's picker, and whose zone it is in.
    #[serde(default)]
    pub(crate) send_at: Option<String>,
    #[serde(default)]
    pub(crate) send_at_zone: Option<String>,
    /// Files the composer uploaded already, comma-separated ids, in order.
    #[serde(default)]
    pub(crate) media_ids: String,
    /// The channel picker's choice: an inbox id (shown when the customer has more than one).
    #[serde(default)]
    pub(crate) via: Option<String>,
    /// Files sent with the form itself (a browser running no script).
    #[serde(skip)]
    pub(crate) files: Vec<FormFile>,
}

impl ReplyForm {
    /// The composer posts a multipart form (it may carry files) or, from the
    /// script, an url-encoded one; either way its CSRF token is checked.
    async fn read(s: &AppState, req: axum::extract::Request) -> Result<(UiUser, Self), Response> {
        use axum::extract::FromRequest;
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("multipart/form-data"));
        if !multipart {
            let CsrfForm(ui, f) = CsrfForm::<ReplyForm>::from_request(req, s).await?;
            return Ok((ui, f));
        }
        let CsrfMultipart(ui, parts) = CsrfMultipart::from_request(req, s).await?;
        let text = |k: &str| parts.field(k).map(str::to_owned);
        let f = ReplyForm {
            body: text("body").unwrap_or_default(),
            private: text("private"),
            send_at: text("send_at"),
            send_at_zone: text("send_at_zone"),
            media_ids: text("media_ids").unwrap_or_default(),
            via: text("via"),
            files: parts.files,
        };
        Ok((ui, f))
    }

    fn media_ids(&self) -> ServiceResult<Vec<i64>> {
        self.media_ids
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(|x| x.parse().map_err(|_| ServiceError::Invalid(format!("attachment {x:?} is not an upload id"))))
            .collect()
    }
}

/// The moment a form asks for: None when the field is empty ("send now").
pub(crate) async fn form_send_at(
    s: &AppState,
    account_id: i64,
    conversation_id: i64,
    at: Option<&str>,
    zone: Option<&str>,
) -> ServiceResult<Option<Timestamp>> {
    match at.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => {
            let zone = ZoneChoice::parse(zone.unwrap_or("")).map_err(ServiceError::from)?;
            Ok(Some(s.services.send_time(account_id, conversation_id, t, &zone).await?))
        }
    }
}

pub(crate) async fn reply(State(s): State<AppState>, Path(id): Path<i64>, req: axum::extract::Request) -> Response {
    let (ui, f) = match ReplyForm::read(&s, req).await {
        Ok(read) => read,
        Err(r) => return r,
    };
    let draft = async {
        let mut media = f.media_ids()?;
        if !f.files.is_empty() {
            // Refused before any file is kept, so a wrong conversation leaves no strays.
            s.services.conversation(ui.user.account_id, id).await?;
        }
        for file in &f.files {
            media.push(s.services.upload(&ui.user, &file.content_type, &file.bytes).await?.id);
        }
        let body = Body::parse_with(&f.body, media.len()).map_err(ServiceError::from)?;
        let private = f.private.is_some();
        let send_at = if private {
            None
        } else {
            form_send_at(&s, ui.user.account_id, id, f.send_at.as_deref(), f.send_at_zone.as_deref()).await?
        };
        let via = via_field(f.via.as_deref())?;
        Ok::<_, ServiceError>(Draft { body, private, kind: OutboundKind::Reply, send_at, media, template: None, via })
    };
    let result = match draft.await {
        Ok(d) => s.services.send(&ui.user, id, d).await.map_err(action_failure),
        Err(e) => Err(action_failure(e)),
    };
    match result {
        Ok(_) => Redirect::to(&format!("/conversations/{id}")).into_response(),
        Err((status, msg)) => match render_conversation(&s, &ui, id, &ListParams::default(), Some(msg), f.body).await {
            Ok(page) => (status, page).into_response(),
            Err(p) => p.into_response(),
        },
    }
}

#[derive(Deserialize)]
pub(crate) struct WaitingForm {
    /// `send_now`, `cancel`, `edit` or `retry`.
    pub(crate) action: String,
    #[serde(default)]
    pub(crate) body: Option<String>,
    #[serde(default)]
    pub(crate) send_at: Option<String>,
    #[serde(default)]
    pub(crate) send_at_zone: Option<String>,
}

/// Edit, send now or cancel a message still waiting in the outbox.
pub(crate) async fn waiting_action(
    State(s): State<AppState>,
    Path((id, message_id)): Path<(i64, i64)>,
    CsrfForm(ui, f): CsrfForm<WaitingForm>,
) -> Response {
    let result = async {
        let m = s.services.message(ui.user.account_id, message_id).await?;
        if m.conversation_id != id {
            return Err(ServiceError::NotFound("message"));
        }
        match f.action.as_str() {
            "send_now" => s.services.reschedule(&ui.user, message_id, None, None).await.map(drop),
            "cancel" => s.services.cancel_scheduled(&ui.user, message_id).await.map(drop),
            "retry" => s.services.retry_now(&ui.user, message_id).await,
            "edit" => {
                let body = f.body.as_deref().map(Body::parse).transpose().map_err(ServiceError::from)?;
                let at = form_send_at(&s, ui.user.account_id, id, f.send_at.as_deref(), f.send_at_zone.as_deref())
                    .await?
                    .or(m.send_at);
                s.services.reschedule(&ui.user, message_id, body, at).await.map(drop)
            }
            other => Err(ServiceError::Invalid(format!("unknown action {other:?}"))),
        }
    }
    .await
    .map_err(action_failure);
    match result {
        Ok(()) => Redirect::to(&format!("/conversations/{id}")).into_response(),
        Err((status, msg)) => {
            match render_conversation(&s, &ui, id, &ListParams::default(), Some(msg), String::new()).await {
                Ok(page) => (status, page).into_response(),
                Err(p) => p.into_response(),
            }
        }
    }
}

/// The picker's field: empty is the conversation's own channel.
fn via_field(via: Option<&str>) -> ServiceResult<Option<i64>> {
    match via.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| ServiceError::Invalid(format!("channel {v:?} is not an inbox id"))),
    }
}

#[derive(Deserialize)]
pub(crate) struct PreviewForm {
    #[serde(default)]
    pub(crate) body: String,
    /// The channel picker's choice, judged as the send would be.
    #[serde(default)]
    pub(crate) via: Option<String>,
}

/// The composer asks this as the agent types (read-only, so no CSRF token).
pub(crate) async fn preview(
    State(s): State<AppState>,
    ui: UiUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<PreviewForm>,
) -> Response {
    let via = match via_field(f.via.as_deref()) {
        Ok(v) => v,
        Err(e) => return Problem::from(e).into_response(),
    };
    match s.services.compose_preview_via(ui.user.account_id, &f.body, id, via).await {
        Ok(p) => axum::Json(p).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}
