//! The account's labels: supervisors and admins manage the catalogue, agents
//! apply its labels to conversations. Renames and deletions reach every
//! conversation carrying the label, and every open screen hears of it.

use textdesk_core::label::parse_description;
use textdesk_core::{Invalid, LabelColor, LabelName};
use textdesk_store::{Label, LabelFields, User};

use crate::services::Services;
use crate::services::error::{ServiceError, ServiceResult};

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

fn manager(user: &User) -> ServiceResult<()> {
    if crate::services::users::curates(user) {
        Ok(())
    } else {
        Err(ServiceError::forbidden("managing labels needs the supervisor or admin role"))
    }
}

impl Services {
    pub async fn labels(&self, user: &User) -> ServiceResult<Vec<Label>> {
        Ok(self.store.labels(user.account_id).await?)
    }

    pub async fn label(&self, user: &User, id: i64) -> ServiceResult<Label> {
        Ok(self.store.label(user.account_id, id).await?)
    }

    /// Changes part of a label: `change` edits the stored one as typed.
    pub async fn edit_label(&self, user: &User, id: i64, change: impl FnOnce(&mut LabelDraft)) -> ServiceResult<Label> {
        manager(user)?;
        let mut draft = LabelDraft::from(&self.store.label(user.account_id, id).await?);
        change(&mut draft);
        self.update_label(user, id, &draft).await
    }

    pub async fn create_label(&self, user: &User, draft: &LabelDraft) -> ServiceResult<Label> {
        manager(user)?;
        let fields = draft.validate()?;
        Ok(self.store.create_label(user.account_id, &fields).await?)
    }

    pub async fn update_label(&self, user: &User, id: i64, draft: &LabelDraft) -> ServiceResult<Label> {
        manager(user)?;
        let fields = draft.validate()?;
        Ok(self.store.update_label(user.account_id, id, &fields).await?.label)
    }

    pub async fn delete_label(&self, user: &User, id: i64) -> ServiceResult<Label> {
        manager(user)?;
        let label = self.store.delete_label(user.account_id, id).await?.label;
        self.audit(user, "label.deleted", &format!("label:{id} ({})", label.name), None, "").await?;
        Ok(label)
    }
}
