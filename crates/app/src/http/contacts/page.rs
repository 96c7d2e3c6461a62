//! The contact panel's forms: name and zone, attributes, notes. They post
//! and redirect back; a refusal shows the conversation again with the reason.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use textdesk_core::{AttributeChanges, AttributeKey, AttributeValue, ContactName};
use textdesk_store::ContactPatch;

use crate::http::extract::{Confirm, CsrfForm};
use crate::http::extract::{Path, UiUser};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::services::contacts::parse_zone;
use crate::services::error::{ServiceError, ServiceResult};

#[derive(Deserialize)]
pub(crate) struct ContactForm {
    #[serde(default)]
    pub(crate) name: String,
    /// Empty: the zone the number implies.
    #[serde(default)]
    pub(crate) time_zone: String,
}

#[derive(Deserialize)]
pub(crate) struct AttributeForm {
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) value: String,
    /// `set` (the default) or `remove`.
    #[serde(default)]
    pub(crate) action: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct NoteForm {
    #[serde(default)]
    pub(crate) body: String,
}

/// The contact of conversation `id`, in the user's account.
pub(crate) async fn contact_of(s: &AppState, ui: &UiUser, id: i64) -> ServiceResult<i64> {
    Ok(s.services.conversation(ui.user.account_id, id).await?.contact_id)
}

/// Back to the conversation, or the page again with the panel saying what was wrong.
pub(crate) async fn finish(s: &AppState, ui: &UiUser, id: i64, result: ServiceResult<()>) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!("/conversations/{id}")).into_response(),
        Err(ServiceError::NotFound(what)) => Problem::not_found(what).into_response(),
        Err(e) => {
            let p = Problem::from(e);
            crate::http::conversations::thread::render_with_panel_error(s, ui, id, p.status, p.detail).await
        }
    }
}

pub(crate) async fn ui_edit_contact(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, f): CsrfForm<ContactForm>,
) -> Response {
    let result = async {
        let contact_id = contact_of(&s, &ui, id).await?;
        let name = ContactName::parse(&f.name).map_err(ServiceError::from)?;
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

pub(crate) async fn ui_attribute(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, f): CsrfForm<AttributeForm>,
) -> Response {
    let result = async {
        let contact_id = contact_of(&s, &ui, id).await?;
        let key = AttributeKey::parse(&f.key).map_err(ServiceError::from)?;
        let value = match f.action.as_deref() {
            Some("remove") => None,
            None | Some("set") => Some(AttributeValue::parse(&f.value).map_err(ServiceError::from)?),
            Some(other) => return Err(ServiceError::Invalid(format!("unknown action {other:?}"))),
        };
        let patch = ContactPatch { attributes: Some(AttributeChanges::one(key, value)), ..Default::default() };
        s.services.edit_contact(&ui.user, contact_id, patch, Some(id)).await?;
        Ok(())
    }
    .await;
    finish(&s, &ui, id, result).await
}

pub(crate) async fn ui_add_note(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, f): CsrfForm<NoteForm>,
) -> Response {
    let result = async {
        let contact_id = contact_of(&s, &ui, id).await?;
        s.services.add_contact_note(&ui.user, contact_id, &f.body, Some(id)).await?;
        Ok(())
    }
    .await;
    finish(&s, &ui, id, result).await
}

pub(crate) async fn ui_delete_note(
    State(s): State<AppState>,
    Path((id, note_id)): Path<(i64, i64)>,
    CsrfForm(ui, _): CsrfForm<Confirm>,
) -> Response {
    let result = async {
        let contact_id = contact_of(&s, &ui, id).await?;
        s.services.delete_contact_note(&ui.user, contact_id, note_id, Some(id)).await
    }
    .await;
    finish(&s, &ui, id, result).await
}

// ---------- API ----------

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
