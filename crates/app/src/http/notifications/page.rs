//! "New conversation": an agent texts a customer first, from the inbox. A
//! number or a contact, an inbox, a message. Without a recorded opt-in the
//! form says so before anything is sent, and offers to record the consent the
//! customer gave by phone or in person (the consent ledger's one door), then sends.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use textdesk_core::ConsentState;

use crate::http::extract::{CsrfForm, Query, UiUser};
use crate::http::layout::{Chrome, chrome, page_or_problem};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::services::notifications::{Content, GivenConsent, Notification, Recipient};

/// The form's fields (text, since an unset select sends an empty value).
#[derive(Deserialize, Default)]
pub(crate) struct NewConversationForm {
    #[serde(default)]
    pub(crate) to: String,
    #[serde(default)]
    pub(crate) contact_id: String,
    #[serde(default)]
    pub(crate) inbox_id: String,
    #[serde(default)]
    pub(crate) body: String,
    /// "Record consent given by phone / in person" ticked.
    #[serde(default)]
    pub(crate) consent_given: Option<String>,
    /// `verbal` (by phone) or `in_person`.
    #[serde(default)]
    pub(crate) consent_source: String,
    #[serde(default)]
    pub(crate) evidence: String,
}

/// Why the form is shown again instead of sending.
pub(crate) enum Notice {
    /// No recorded opt-in: the consent step is offered.
    NoOptIn,
    OptedOut,
    Error(String),
}

#[derive(Template, WebTemplate)]
#[template(path = "new_conversation.html")]
pub(crate) struct NewConversationPage {
    pub(crate) chrome: Chrome,
    pub(crate) form: NewConversationForm,
    /// (id, name) of every inbox.
    pub(crate) inboxes: Vec<(i64, String)>,
    /// (id, "Name · +1 415…") of recent contacts.
    pub(crate) contacts: Vec<(i64, String)>,
    pub(crate) notice: Option<Notice>,
}

impl NewConversationPage {
    fn picked(&self, field: &str, id: &i64) -> &'static str {
        let value = if field == "inbox_id" { &self.form.inbox_id } else { &self.form.contact_id };
        if value.trim() == id.to_string() { "selected" } else { "" }
    }
    fn no_opt_in(&self) -> bool {
        matches!(self.notice, Some(Notice::NoOptIn)) || self.form.consent_given.is_some()
    }
    fn source_checked(&self, source: &str) -> &'static str {
        let chosen = if self.form.consent_source.is_empty() { "verbal" } else { self.form.consent_source.as_str() };
        if chosen == source { "checked" } else { "" }
    }
}

async fn render(
    s: &AppState,
    ui: &UiUser,
    form: NewConversationForm,
    notice: Option<Notice>,
) -> Result<NewConversationPage, Problem> {
    let choices = s.services.new_conversation_choices(&ui.user).await?;
    let contacts = choices
        .contacts
        .iter()
        .map(|c| {
            let address = c.identities.first().map(|i| i.address.clone()).unwrap_or_default();
            let label = if c.name.trim().is_empty() { address } else { format!("{} · {address}", c.name) };
            (c.id, label)
        })
        .collect();
    let inboxes = choices.inboxes.into_iter().map(|i| (i.id, i.name)).collect();
    Ok(NewConversationPage { chrome: chrome(s, ui), form, inboxes, contacts, notice })
}

pub(crate) async fn new_conversation_page(
    State(s): State<AppState>,
    ui: UiUser,
    Query(form): Query<NewConversationForm>,
) -> Response {
    page_or_problem(StatusCode::OK, render(&s, &ui, form, None).await)
}

pub(crate) async fn start_conversation(
    State(s): State<AppState>,
    CsrfForm(ui, form): CsrfForm<NewConversationForm>,
) -> Response {
    match send(&s, &ui, &form).await {
        Ok(conversation_id) => Redirect::to(&format!("/conversations/{conversation_id}")).into_response(),
        Err((status, notice)) => page_or_problem(status, render(&s, &ui, form, Some(notice)).await),
    }
}

/// Checks the consent, records the one given by phone if ticked, and sends:
/// the new (or continued) conversation's id.
async fn send(s: &AppState, ui: &UiUser, f: &NewConversationForm) -> Result<i64, (StatusCode, Notice)> {
    let invalid = |m: String| (StatusCode::UNPROCESSABLE_ENTITY, Notice::Error(m));
    let inbox_id: i64 = f.inbox_id.trim().parse().map_err(|_| invalid("Choose the inbox to send from.".into()))?;
    let to = match f.contact_id.trim() {
        "" if f.to.trim().is_empty() => return Err(invalid("Type a phone number, or choose a contact.".into())),
        "" => Recipient::Number(f.to.clone()),
        id => Recipient::Contact(id.parse().map_err(|_| invalid("Choose a contact from the list.".into()))?),
    };
    let problem = |p: Problem| (p.status, Notice::Error(p.detail));
    let consent = match f.consent_given {
        Some(_) => {
            if f.evidence.trim().is_empty() {
                return Err(invalid("Say how and when the customer agreed, in the evidence field.".into()));
            }
            let source = if f.consent_source == "in_person" { "in_person" } else { "verbal" };
            Some(GivenConsent { source: source.into(), evidence: f.evidence.clone() })
        }
        None => {
            match s.services.consent_before_sending(&ui.user, &to, inbox_id).await.map_err(|e| problem(e.into()))? {
                ConsentState::OptedIn => None,
                ConsentState::Unknown => return Err((StatusCode::OK, Notice::NoOptIn)),
                ConsentState::OptedOut => return Err((StatusCode::CONFLICT, Notice::OptedOut)),
            }
        }
    };
    let n = Notification { to, inbox_id, content: Content::Text(f.body.clone()), send_at: None, consent };
    let answer = s
        .services
        .notify(&ui.user, n, "started by an agent", None, |sent| sent.conversation_id.to_string())
        .await
        .map_err(|e| problem(e.into()))?;
    answer.body.parse().map_err(|_| problem(Problem::internal()))
}
