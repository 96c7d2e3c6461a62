//! Contacts over the API: list and search, create, read, edit, identities
//! and notes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use textdesk_core::Address;
use textdesk_store::{ContactNote, ContactPatch};
use utoipa::ToSchema;

use crate::http::extract::double_option;
use crate::http::extract::{ApiUser, Json, Path, Query, ts};
use crate::http::problem::ApiResult;
use crate::http::problem::{Problem, ProblemOut};
use crate::http::state::AppState;
use crate::services::contacts::parse_zone;

#[derive(Serialize, ToSchema)]
pub struct IdentityOut {
    pub(crate) id: i64,
    /// `phone` for SMS-like channels, else the channel kind.
    pub(crate) namespace: String,
    pub(crate) address: String,
}

#[derive(Serialize, ToSchema)]
pub struct ContactOut {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) time_zone: Option<String>,
    #[schema(value_type = Object)]
    pub(crate) attributes: serde_json::Value,
    /// unknown, opted_in or opted_out.
    pub(crate) consent: String,
    pub(crate) identities: Vec<IdentityOut>,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
}

impl From<textdesk_store::Contact> for ContactOut {
    fn from(c: textdesk_store::Contact) -> Self {
        ContactOut {
            id: c.id,
            name: c.name,
            time_zone: c.time_zone,
            attributes: c.attributes,
            consent: c.consent.as_str().into(),
            identities: c
                .identities
                .into_iter()
                .map(|i| IdentityOut { id: i.id, namespace: i.namespace, address: i.address })
                .collect(),
            created_at: ts(c.created_at),
            updated_at: ts(c.updated_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContactIn {
    #[serde(default)]
    pub(crate) name: String,
    /// The medium the address belongs to (sms, whatsapp, telegram…), or a provider
    /// whose medium it is (twilio); default: an SMS phone number.
    #[serde(default)]
    pub(crate) channel_kind: Option<String>,
    /// A phone number as typed ("+14155550199", or "(415) 555-0199" read in the account's country),
    /// or the app's own id of the customer.
    pub(crate) address: String,
    #[serde(default)]
    pub(crate) time_zone: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityIn {
    /// The medium the address belongs to (sms, whatsapp, telegram…), or a provider
    /// whose medium it is (twilio); default: an SMS phone number.
    #[serde(default)]
    pub(crate) channel_kind: Option<String>,
    /// A phone number as typed ("+14155550199", or "(415) 555-0199" read in the account's country),
    /// or the app's own id of the customer.
    pub(crate) address: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPatchIn {
    /// Up to 100 characters; empty shows the contact by their number.
    pub(crate) name: Option<String>,
    /// An IANA zone such as America/Chicago; null goes back to the zone the number implies.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub(crate) time_zone: Option<Option<String>>,
    /// Keys given are set (a string of up to 500 characters) or removed (null); others are kept.
    /// Keys are 1 to 40 letters, digits, `_` or `-`.
    #[schema(value_type = Option<Object>)]
    pub(crate) attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ContactQuery {
    /// Part of a name or an address.
    pub(crate) q: Option<String>,
    /// Contacts with a smaller id than this (from the last page's last item).
    pub(crate) before_id: Option<i64>,
    pub(crate) limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts", params(ContactQuery), responses((status = 200, body = [ContactOut])), security(("bearer" = [])))]
pub(crate) async fn list_contacts(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Query(q): Query<ContactQuery>,
) -> ApiResult<Json<Vec<ContactOut>>> {
    let list =
        s.services.contacts(u.account_id, q.q.as_deref(), q.before_id, q.limit.unwrap_or(50).clamp(1, 200)).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/api/v1/contacts", tag = "contacts", request_body = NewContactIn, responses((status = 201, body = ContactOut), (status = 409, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn create_contact(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Json(b): Json<NewContactIn>,
) -> ApiResult<Response> {
    let medium = crate::services::channels::medium_named(b.channel_kind.as_deref())?;
    let region = s.services.home_country(u.account_id, None).await?;
    let address = Address::parse_in(medium, &b.address, region.as_deref())?;
    let c = s.services.create_contact(&u, &b.name, &address, b.time_zone.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(ContactOut::from(c))).into_response())
}

#[utoipa::path(post, path = "/api/v1/contacts/{id}/identities", tag = "contacts", params(("id" = i64, Path)), request_body = IdentityIn, responses((status = 201, body = ContactOut), (status = 404, body = ProblemOut), (status = 409, body = ProblemOut, description = "The address belongs to another contact"), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn add_identity(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<IdentityIn>,
) -> ApiResult<Response> {
    let medium = crate::services::channels::medium_named(b.channel_kind.as_deref())?;
    let region = s.services.home_country(u.account_id, None).await?;
    let address = Address::parse_in(medium, &b.address, region.as_deref())?;
    let c = s.services.add_identity(&u, id, &address).await?;
    Ok((StatusCode::CREATED, Json(ContactOut::from(c))).into_response())
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = i64, Path)), responses((status = 200, body = ContactOut), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn get_contact(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<ContactOut>> {
    Ok(Json(s.services.contact(u.account_id, id).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = i64, Path)), request_body = ContactPatchIn, responses((status = 200, body = ContactOut), (status = 404, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn update_contact(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<ContactPatchIn>,
) -> ApiResult<Json<ContactOut>> {
    let time_zone = match b.time_zone {
        Some(Some(z)) => Some(Some(parse_zone(&z)?)),
        other => other,
    };
    let patch = ContactPatch {
        name: b.name.as_deref().map(textdesk_core::ContactName::parse).transpose()?,
        time_zone,
        attributes: b.attributes.map(crate::http::contacts::page::attribute_changes).transpose()?,
    };
    Ok(Json(s.services.edit_contact(&u, id, patch, None).await?.into()))
}

#[derive(Serialize, ToSchema)]
pub struct ContactNoteOut {
    pub(crate) id: i64,
    pub(crate) contact_id: i64,
    pub(crate) author_id: Option<i64>,
    pub(crate) author_name: Option<String>,
    pub(crate) body: String,
    pub(crate) created_at: String,
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
    pub(crate) body: String,
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}/notes", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 200, body = [ContactNoteOut], description = "Newest first"), (status = 404, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn list_notes(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> Result<Json<Vec<ContactNoteOut>>, Problem> {
    Ok(Json(s.services.contact_notes(u.account_id, id).await?.into_iter().map(Into::into).collect()))
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
