//! Merging two contacts who are one person: a preview of what the merge
//! would do (both histories, the consent that results per scope, which value
//! each field keeps), the merge itself, and its undo.

use jiff::Timestamp;
use textdesk_core::merge::{FieldChoice, Picks, ScopeOutcome, choices, consent_outcome, merged_fields};
use textdesk_store::{ContactMerge, MergeSide, User};

use crate::services::Services;
use crate::services::error::{ServiceError, ServiceResult};

/// What merging `other` into `survivor` would do.
#[derive(Debug, Clone)]
pub struct MergePreview {
    pub survivor: MergeSide,
    pub other: MergeSide,
    pub fields: Vec<FieldChoice>,
    pub consent: Vec<ScopeOutcome>,
}

impl Services {
    /// The preview, with the agent's picks applied (a field not picked keeps
    /// the survivor's value, or the other's when the survivor has none).
    pub async fn merge_preview(
        &self,
        account_id: i64,
        (survivor_id, other_id): (i64, i64),
        picks: &Picks,
    ) -> ServiceResult<MergePreview> {
        if survivor_id == other_id {
            return Err(ServiceError::invalid("a contact cannot be merged with itself"));
        }
        let survivor = self.store.merge_side(account_id, survivor_id).await?;
        let other = self.store.merge_side(account_id, other_id).await?;
        let fields = choices(&survivor.fields(), &other.fields(), picks)?;
        let consent = consent_outcome(&survivor.ledger_marks(), &other.ledger_marks());
        Ok(MergePreview { survivor, other, fields, consent })
    }

    /// Merges `other` into `survivor`: what the preview with the same picks showed.
    pub async fn merge_contacts(
        &self,
        user: &User,
        (survivor_id, other_id): (i64, i64),
        picks: &Picks,
    ) -> ServiceResult<ContactMerge> {
        let preview = self.merge_preview(user.account_id, (survivor_id, other_id), picks).await?;
        let fields = merged_fields(&preview.fields);
        let m = self
            .store
            .merge_contacts(user.account_id, (survivor_id, other_id), &fields, Some(user.id), Timestamp::now())
            .await?;
        tracing::info!(merge_id = m.id, survivor_id, other_id, "contacts merged");
        Ok(m)
    }

    pub async fn contact_merge(&self, account_id: i64, merge_id: i64) -> ServiceResult<ContactMerge> {
        Ok(self.store.contact_merge(account_id, merge_id).await?)
    }

    /// The merges into a contact, newest first.
    pub async fn merges_into(&self, account_id: i64, contact_id: i64) -> ServiceResult<Vec<ContactMerge>> {
        Ok(self.store.merges_into(account_id, contact_id).await?)
    }

    /// Undoes a merge within its window, while nothing new has happened to the person.
    pub async fn undo_merge(&self, user: &User, merge_id: i64) -> ServiceResult<ContactMerge> {
        let m = self.store.undo_merge(user.account_id, merge_id, Some(user.id), Timestamp::now()).await?;
        tracing::info!(merge_id, "contact merge undone");
        Ok(m)
    }
}
