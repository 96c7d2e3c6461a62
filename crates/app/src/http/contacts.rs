//! The contact panel beside a conversation (name, zone, attributes, notes,
//! earlier conversations) and the same edits over the API. Handlers parse and
//! call `services::contacts`; the panel's forms post and redirect back.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use textdesk_core::contact::channel_label;
use textdesk_core::{AttributeChanges, AttributeKey, AttributeValue, ContactName};
use textdesk_store::{ContactNote, ContactPatch, ConversationFilter, StoreError};
use utoipa::ToSchema;

use crate::http::AppState;
use crate::http::api::ProblemOut;
use crate::http::extract::{ApiUser, Json, Path, UiUser};
use crate::http::problem::Problem;
use crate::services::contacts::{ContactError, parse_zone};

impl From<ContactError> for Problem {
    fn from(e: ContactError) -> Self {
        match e {
            ContactError::Forbidden(why) => Problem::forbidden(why),
            ContactError::Store(e) => e.into(),
        }
    }
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/contacts/{id}/notes", get(list_notes).post(create_note))
        .route("/contacts/{id}/notes/{note_id}", axum::routing::delete(delete_note))
}

pub fn ui_routes() -> Router<AppState> {
    Router::new()
        .route("/conversations/{id}/contact", post(ui_edit_contact))
        .route("/conversations/{id}/contact/attributes", post(ui_attribute))
        .route("/conversations/{id}/contact/notes", post(ui_add_note))
        .route("/conversations/{id}/contact/notes/{note_id}/delete", post(ui_delete_note))
}

// ---------- the panel ----------

/// What the contact panel shows, beside the conversation's own fields.
pub struct ContactPanel {
    /// The stored name (empty: shown by number).
    pub name: String,
    /// ("SMS", "+14155550111"), one per identity.
    pub identities: Vec<(&'static str, String)>,
    /// The zone an agent set, or empty when it is inferred from the number.
    pub zone_set: String,
    pub attributes: Vec<(String, String)>,
    pub previous: Vec<PreviousConversation>,
    pub notes: Vec<NoteView>,
    /// Why the last panel edit was refused, shown in the panel.
    pub error: Option<String>,
}

pub struct PreviousConversation {
    pub id: i64,
    pub status: &'static str,
    pub inbox: String,
    pub last_activity: String,
    pub preview: String,
}

pub struct NoteView {
    pub id: i64,
    pub author: String,
    pub body: String,
    pub when: String,
    pub may_delete: bool,
}

fn may_delete(note: &ContactNote, user: &textdesk_store::User) -> bool {
    note.author_id == Some(user.id) || user.role.at_least(textdesk_core::Role::Admin)
}

pub(crate) async fn contact_panel(
    s: &AppState,
    user: &textdesk_store::User,
    contact: &textdesk_store::Contact,
    conversation_id: i64,
) -> Result<ContactPanel, Problem> {
    let store = &s.services.store;
    let tz = &s.business_tz;
    let when = |t: Timestamp| t.to_zoned(tz.clone()).strftime("%b %-d, %Y %-I:%M %p").to_string();
    let filter = ConversationFilter { contact_id: Some(contact.id), ..Default::default() };
    let previous = store
        .list_conversations(user.account_id, &filter, None, 11)
        .await?
        .items
        .into_iter()
        .filter(|c| c.conversation.id != conversation_id)
        .take(10)
        .map(|c| PreviousConversation {
            id: c.conversation.id,
            status: c.conversation.status.as_str(),
            inbox: c.inbox_name,
            last_activity: when(c.conversation.last_activity_at),
            preview: if c.preview.trim().is_empty() {
                format!("Conversation {}", c.conversation.id)
            } else {
                c.preview
            },
        })
        .collect();
    let notes = store
        .contact_notes(user.account_id, contact.id)
        .await?
        .into_iter()
        .map(|n| NoteView {
            id: n.id,
            may_delete: may_delete(&n, user),
            author: n.author_name.clone().unwrap_or_else(|| "Someone".into()),
            body: n.body,
            when: when(n.created_at),
        })
        .collect();
    Ok(ContactPanel {
        name: contact.name.clone(),
        identities: contact.identities.iter().map(|i| (channel_label(&i.namespace), i.address.clone())).collect(),
        zone_set: contact.time_zone.clone().unwrap_or_default(),
        attributes: contact.attribute_texts().into_iter().collect(),
        previous,
        notes,
        error: None,
    })
}

// ---------- UI forms ----------

#[derive(Deserialize)]
struct ContactForm {
    csrf: String,
    #[serde(default)]
    name: String,
    /// Empty: the zone the number implies.
    #[serde(default)]
    time_zone: String,
}

#[derive(Deserialize)]
struct AttributeForm {
    csrf: String,
    key: String,
    #[serde(default)]
    value: String,
    /// `set` (the default) or `remove`.
    #[serde(default)]
    action: Option<String>,
}

#[derive(Deserialize)]
struct NoteForm {
    csrf: String,
    #[serde(default)]
    body: String,
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

/// The contact of conversation `id`, in the user's account.
async fn contact_of(s: &AppState, ui: &UiUser, id: i64) -> Result<i64, ContactError> {
    Ok(s.services.store.conversation(ui.user.account_id, id).await?.contact_id)
}

/// Back to the conversation, or the page again with the panel saying what was wrong.
async fn finish(s: &AppState, ui: &UiUser, id: i64, result: Result<(), ContactError>) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!("/conversations/{id}")).into_response(),
        Err(ContactError::Store(StoreError::NotFound(what))) => Problem::not_found(what).into_response(),
        Err(e) => {
            let p = Problem::from(e);
            crate::http::ui::render_with_panel_error(s, ui, id, p.status, p.detail).await
        }
    }
}

async fn ui_edit_contact(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<ContactForm>,
) -> Response {
    if let Err(r) = ui.check_csrf(&headers, &f.csrf, &s.config.public_url) {
        return r.into_response();
    }
    let result = async {
        let contact_id = contact_of(&s, &ui, id).await?;
        let name = ContactName::parse(&f.name).map_err(StoreError::from)?;
        let zone = match f.time_zone.trim() {
            "" => None,
            z => Some(parse_zone(z)?),
        };
        let patch = ContactPatch { name: Some(name), time_zone: Some(zone), attributes: None };
        s.services.edit_contact(&ui.user, contact_id, patch, Some(id)).await?;
        Ok(())
    }
    .await;
    finish(&s, &ui, id, result).await
}

async fn ui_attribute(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<AttributeForm>,
) -> Response {
    if let Err(r) = ui.check_csrf(&headers, &f.csrf, &s.config.public_url) {
        return r.into_response();
    }
    let result = async {
        let contact_id = contact_of(&s, &ui, id).await?;
        let key = AttributeKey::parse(&f.key).map_err(StoreError::from)?;
        let value = match f.action.as_deref() {
            Some("remove") => None,
            None | Some("set") => Some(AttributeValue::parse(&f.value).map_err(StoreError::from)?),
            Some(other) => return Err(StoreError::Invalid(format!("unknown action {other:?}")).into()),
        };
        let patch = ContactPatch { attributes: Some(AttributeChanges::one(key, value)), ..Default::default() };
        s.services.edit_contact(&ui.user, contact_id, patch, Some(id)).await?;
        Ok(())
    }
    .await;
    finish(&s, &ui, id, result).await
}

async fn ui_add_note(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<NoteForm>,
) -> Response {
    if let Err(r) = ui.check_csrf(&headers, &f.csrf, &s.config.public_url) {
        return r.into_response();
    }
    let result = async {
        let contact_id = contact_of(&s, &ui, id).await?;
        s.services.add_contact_note(&ui.user, contact_id, &f.body, Some(id)).await?;
        Ok(())
    }
    .await;
    finish(&s, &ui, id, result).await
}

async fn ui_delete_note(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    Path((id, note_id)): Path<(i64, i64)>,
    axum::Form(f): axum::Form<CsrfForm>,
) -> Response {
    if let Err(r) = ui.check_csrf(&headers, &f.csrf, &s.config.public_url) {
        return r.into_response();
    }
    let result = async {
        let contact_id = contact_of(&s, &ui, id).await?;
        s.services.delete_contact_note(&ui.user, contact_id, note_id, Some(id)).await
    }
    .await;
    finish(&s, &ui, id, result).await
}

// ---------- API ----------

#[derive(Serialize, ToSchema)]
pub struct ContactNoteOut {
    id: i64,
    contact_id: i64,
    author_id: Option<i64>,
    author_name: Option<String>,
    body: String,
    created_at: String,
}

impl From<ContactNote> for ContactNoteOut {
    fn from(n: ContactNote) -> Self {
        ContactNoteOut {
            id: n.id,
            contact_id: n.contact_id,
            author_id: n.author_id,
            author_name: n.author_name,
            body: n.body,
            created_at: n.created_at.to_string(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteIn {
    /// 1 to 2000 characters about the person (seen by colleagues, never sent).
    body: String,
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}/notes", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 200, body = [ContactNoteOut], description = "Newest first"), (status = 404, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn list_notes(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> Result<Json<Vec<ContactNoteOut>>, Problem> {
    s.services.store.contact(u.account_id, id).await?;
    Ok(Json(s.services.store.contact_notes(u.account_id, id).await?.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/api/v1/contacts/{id}/notes", tag = "contacts", params(("id" = i64, Path)), request_body = NoteIn,
    responses((status = 201, body = ContactNoteOut), (status = 404, body = ProblemOut), (status = 422, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn create_note(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<NoteIn>,
) -> Result<Response, Problem> {
    let note = s.services.add_contact_note(&u, id, &b.body, None).await?;
    Ok((StatusCode::CREATED, Json(ContactNoteOut::from(note))).into_response())
}

#[utoipa::path(delete, path = "/api/v1/contacts/{id}/notes/{note_id}", tag = "contacts",
    params(("id" = i64, Path), ("note_id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, body = ProblemOut, description = "Someone else's note (admins may delete any)"), (status = 404, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn delete_note(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path((id, note_id)): Path<(i64, i64)>,
) -> Result<StatusCode, Problem> {
    s.services.delete_contact_note(&u, id, note_id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The API's attribute changes: a string sets the key, null removes it.
pub fn attribute_changes(map: serde_json::Map<String, serde_json::Value>) -> Result<AttributeChanges, Problem> {
    let mut changes = AttributeChanges::default();
    for (k, v) in map {
        let key = AttributeKey::parse(&k)?;
        let value = match v {
            serde_json::Value::Null => None,
            serde_json::Value::String(v) => Some(AttributeValue::parse(&v)?),
            _ => return Err(Problem::invalid(format!("attribute {k:?}: a value is a string (or null to remove it)"))),
        };
        changes.0.insert(key, value);
    }
    Ok(changes)
}
