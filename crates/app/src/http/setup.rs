//! The first run's pages: the setup checklist on the inbox (put away with
//! `POST /setup/dismiss`) and the away message's preview on an inbox's
//! settings (`POST /settings/inboxes/{id}/away-preview`, which the page asks
//! as the admin types; the server counts, the script only shows).

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use serde::Deserialize;
use textdesk_core::Role;
use textdesk_core::segments::Encoding;
use textdesk_store::Inbox;

use crate::http::extract::CsrfForm;
use crate::http::extract::{Path, UiUser};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::services::setup::AwayPreview;

/// The away message as the settings page shows it.
#[derive(serde::Serialize)]
pub struct AwayView {
    pub text: String,
    /// "1 text · 96 characters · GSM-7", or why it cannot be sent.
    pub summary: String,
}

pub(crate) fn summary(p: &AwayPreview) -> String {
    let texts = if p.count.segments == 1 { "1 text".to_owned() } else { format!("{} texts", p.count.segments) };
    let encoding = match p.count.encoding {
        Encoding::Gsm7 => "GSM-7",
        Encoding::Ucs2 => "Unicode (UCS-2), so fewer characters fit in each text",
    };
    format!("{texts} · {} characters · {encoding}", p.count.characters)
}

pub async fn away_view(s: &AppState, inbox: &Inbox, text: &str) -> AwayView {
    match s.services.away_preview(inbox, text, Timestamp::now()).await {
        Ok(p) => AwayView { summary: summary(&p), text: p.text },
        Err(e) => {
            AwayView { text: String::new(), summary: format!("Cannot be sent as written: {}", Problem::from(e).detail) }
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct AwayForm {
    #[serde(default)]
    off_text: String,
}

/// Read-only, as the composer's preview: no CSRF token.
pub(crate) async fn away_preview(
    State(s): State<AppState>,
    ui: UiUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<AwayForm>,
) -> Result<axum::Json<AwayView>, Problem> {
    if !ui.user.role.at_least(Role::Admin) {
        return Err(Problem::forbidden("the settings are for admins; ask one to change them"));
    }
    let inbox = s.services.inbox(ui.user.account_id, id).await?;
    Ok(axum::Json(away_view(&s, &inbox, &f.off_text).await))
}

#[derive(Deserialize)]
pub(crate) struct DismissForm {}

pub(crate) async fn dismiss(State(s): State<AppState>, CsrfForm(ui, _): CsrfForm<DismissForm>) -> Response {
    if !ui.user.role.at_least(Role::Admin) {
        return Problem::forbidden("only an admin can put the setup checklist away").into_response();
    }
    match s.services.dismiss_setup(&ui.user).await {
        Ok(()) => Redirect::to("/inbox").into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}
