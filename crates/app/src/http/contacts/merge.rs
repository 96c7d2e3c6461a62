//! Merging two contacts over the API: the preview, the merge, the undo.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use textdesk_core::merge::{FieldChoice, Keep, Picks, ScopeOutcome};
use textdesk_store::{ContactMerge, MergeSide};
use utoipa::ToSchema;

use crate::http::contacts::api::ContactOut;
use crate::http::contacts::consent::ConsentEventOut;
use crate::http::extract::{ApiUser, Json, Path, ts};
use crate::http::problem::{ApiResult, ProblemOut};
use crate::http::state::AppState;
use crate::services::merge::MergePreview;

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct KeepIn {
    /// `survivor` (this contact's value) or `other`.
    pub(crate) name: Option<String>,
    pub(crate) time_zone: Option<String>,
    /// Per attribute key: `survivor` or `other`.
    #[serde(default)]
    pub(crate) attributes: BTreeMap<String, String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeIn {
    /// The contact merged into this one (it disappears; everything of it moves here).
    pub(crate) other_id: i64,
    /// Which value each field keeps; by default this contact's, or the other's when this one has none.
    #[serde(default)]
    pub(crate) keep: KeepIn,
}

impl KeepIn {
    pub(crate) fn picks(&self) -> Result<Picks, textdesk_core::Invalid> {
        let side = |s: &Option<String>| s.as_deref().map(Keep::parse).transpose();
        Ok(Picks {
            name: side(&self.name)?,
            time_zone: side(&self.time_zone)?,
            attributes: self
                .attributes
                .iter()
                .map(|(k, v)| Ok((k.clone(), Keep::parse(v)?)))
                .collect::<Result<_, textdesk_core::Invalid>>()?,
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct MediumCount {
    /// sms, whatsapp, telegram…
    pub(crate) medium: String,
    pub(crate) conversations: i64,
}

#[derive(Serialize, ToSchema)]
pub struct MergeSideOut {
    pub(crate) contact: ContactOut,
    pub(crate) conversations: Vec<MediumCount>,
    pub(crate) notes: i64,
    /// The consent ledger, oldest first.
    pub(crate) consent_events: Vec<ConsentEventOut>,
}

impl From<MergeSide> for MergeSideOut {
    fn from(s: MergeSide) -> Self {
        MergeSideOut {
            contact: s.contact.into(),
            conversations: s
                .conversations
                .into_iter()
                .map(|(medium, conversations)| MediumCount { medium, conversations })
                .collect(),
            notes: s.notes,
            consent_events: s.consent.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct FieldOut {
    /// `name`, `time_zone` or `attributes.<key>`.
    pub(crate) field: String,
    pub(crate) survivor: Option<String>,
    pub(crate) other: Option<String>,
    /// `survivor` or `other`: whose value the merged contact keeps.
    pub(crate) keep: String,
    /// Both have a value and they differ.
    pub(crate) conflict: bool,
}

impl From<FieldChoice> for FieldOut {
    fn from(f: FieldChoice) -> Self {
        let keep = if f.keep == Keep::Survivor { "survivor" } else { "other" };
        FieldOut { field: f.field, survivor: f.survivor, other: f.other, keep: keep.into(), conflict: f.conflict }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ScopeOut {
    /// `account` or a sender's scope.
    pub(crate) scope: String,
    /// unknown, opted_in or opted_out: each side's latest word in the scope.
    pub(crate) survivor: String,
    pub(crate) other: String,
    /// The merged contact's: an opt-out on either side holds unless the other side opted in later.
    pub(crate) result: String,
    pub(crate) conflict: bool,
}

impl From<ScopeOutcome> for ScopeOut {
    fn from(s: ScopeOutcome) -> Self {
        ScopeOut {
            scope: s.scope,
            survivor: s.survivor.as_str().into(),
            other: s.other.as_str().into(),
            result: s.result.as_str().into(),
            conflict: s.conflict,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MergePreviewOut {
    pub(crate) survivor: MergeSideOut,
    pub(crate) other: MergeSideOut,
    pub(crate) fields: Vec<FieldOut>,
    pub(crate) consent: Vec<ScopeOut>,
}

impl From<MergePreview> for MergePreviewOut {
    fn from(p: MergePreview) -> Self {
        MergePreviewOut {
            survivor: p.survivor.into(),
            other: p.other.into(),
            fields: p.fields.into_iter().map(Into::into).collect(),
            consent: p.consent.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MergeOut {
    pub(crate) id: i64,
    pub(crate) survivor_id: i64,
    pub(crate) merged_id: i64,
    pub(crate) actor_id: Option<i64>,
    pub(crate) identities_moved: usize,
    pub(crate) conversations_moved: usize,
    pub(crate) notes_moved: usize,
    pub(crate) consent_events_moved: usize,
    pub(crate) created_at: String,
    /// Until when it may be undone (if nothing new happens to the person first).
    pub(crate) undo_until: String,
    pub(crate) undone_at: Option<String>,
}

impl From<ContactMerge> for MergeOut {
    fn from(m: ContactMerge) -> Self {
        MergeOut {
            id: m.id,
            survivor_id: m.survivor_id,
            merged_id: m.merged_id,
            actor_id: m.actor_id,
            identities_moved: m.moved.identities.len(),
            conversations_moved: m.moved.conversations.len(),
            notes_moved: m.moved.notes.len(),
            consent_events_moved: m.moved.consent_events.len(),
            created_at: ts(m.created_at),
            undo_until: ts(m.created_at + textdesk_core::merge::UNDO_WINDOW),
            undone_at: m.undone_at.map(ts),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/contacts/{id}/merge/preview", tag = "contacts", params(("id" = i64, Path, description = "The contact that stays")), request_body = MergeIn,
    responses((status = 200, body = MergePreviewOut), (status = 404, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn merge_preview(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<MergeIn>,
) -> ApiResult<Json<MergePreviewOut>> {
    let picks = b.keep.picks()?;
    Ok(Json(s.services.merge_preview(u.account_id, (id, b.other_id), &picks).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/contacts/{id}/merge", tag = "contacts", params(("id" = i64, Path, description = "The contact that stays")), request_body = MergeIn,
    responses((status = 201, body = MergeOut), (status = 404, body = ProblemOut), (status = 409, body = ProblemOut, description = "An erased contact"), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn merge_contacts(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<MergeIn>,
) -> ApiResult<Response> {
    let picks = b.keep.picks()?;
    let m = s.services.merge_contacts(&u, (id, b.other_id), &picks).await?;
    Ok((StatusCode::CREATED, Json(MergeOut::from(m))).into_response())
}

#[utoipa::path(post, path = "/api/v1/contact-merges/{id}/undo", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 200, body = MergeOut), (status = 404, body = ProblemOut), (status = 409, body = ProblemOut, description = "Too late, already undone, or something new happened since")), security(("bearer" = [])))]
pub(crate) async fn undo_merge(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<MergeOut>> {
    Ok(Json(s.services.undo_merge(&u, id).await?.into()))
}
