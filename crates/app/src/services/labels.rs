//! The account's labels: supervisors and admins manage the catalogue, agents
//! apply its labels to conversations. Renames and deletions reach every
//! conversation carrying the label, and every open screen hears of it.

use textdesk_core::label::parse_description;
use textdesk_core::{Invalid, LabelColor, LabelName};
use textdesk_store::{Label, LabelFields, StoreError, User};

use crate::services::Services;

#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    #[error("managing labels needs the supervisor or admin role")]
    Forbidden,
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What someone typed for a label, before validation.
#[derive(Debug, Clone, Default)]
pub struct LabelDraft {
    pub name: String,
    pub color: String,
    pub description: String,
}

impl LabelDraft {
    pub fn validate(&self) -> Result<LabelFields, Invalid> {
        Ok(LabelFields {
            name: LabelName::parse(&self.name)?,
            color: if self.color.trim().is_empty() { LabelColor::default() } else { LabelColor::parse(&self.color)? },
            description: parse_description(&self.description)?,
        })
    }
}

impl From<&Label> for LabelDraft {
    fn from(l: &Label) -> Self {
        LabelDraft { name: l.name.clone(), color: l.color.clone(), description: l.description.clone() }
    }
}

fn manager(user: &User) -> Result<(), LabelError> {
    if crate::services::users::curates(user) { Ok(()) } else { Err(LabelError::Forbidden) }
}

impl Services {
    pub async fn create_label(&self, user: &User, draft: &LabelDraft) -> Result<Label, LabelError> {
        manager(user)?;
        let fields = draft.validate()?;
        Ok(self.store.create_label(user.account_id, &fields).await?)
    }

    pub async fn update_label(&self, user: &User, id: i64, draft: &LabelDraft) -> Result<Label, LabelError> {
        manager(user)?;
        let fields = draft.validate()?;
        Ok(self.store.update_label(user.account_id, id, &fields).await?.label)
    }

    pub async fn delete_label(&self, user: &User, id: i64) -> Result<Label, LabelError> {
        manager(user)?;
        Ok(self.store.delete_label(user.account_id, id).await?.label)
    }
}
