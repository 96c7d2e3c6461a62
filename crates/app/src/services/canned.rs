//! Canned responses: admins and supervisors manage them, every agent lists
//! and uses them. Rendering fills a response in for one conversation, the same
//! for the API and the web composer.

use textdesk_core::Invalid;
use textdesk_core::template::{Rendered, Shortcut, Template, Vars, parse_title};
use textdesk_store::{CannedFields, CannedResponse, User};

use crate::services::Services;
use crate::services::error::{ServiceError, ServiceResult};

/// What someone typed for a canned response, before validation.
#[derive(Debug, Clone, Default)]
pub struct CannedDraft {
    pub shortcut: String,
    pub title: String,
    pub body: String,
}

impl CannedDraft {
    pub fn validate(&self) -> Result<CannedFields, Invalid> {
        Ok(CannedFields {
            shortcut: Shortcut::parse(&self.shortcut)?,
            title: parse_title(&self.title)?,
            body: Template::parse(&self.body)?,
        })
    }
}

impl From<&CannedResponse> for CannedDraft {
    fn from(c: &CannedResponse) -> Self {
        CannedDraft { shortcut: c.shortcut.clone(), title: c.title.clone(), body: c.body.clone() }
    }
}

/// Canned responses are kept by supervisors and admins.
fn manager(user: &User) -> ServiceResult<()> {
    if crate::services::users::curates(user) {
        Ok(())
    } else {
        Err(ServiceError::forbidden("managing canned responses needs the supervisor or admin role"))
    }
}

impl Services {
    /// The account's canned responses, those matching `q` when given.
    pub async fn canned_responses(&self, user: &User, q: Option<&str>) -> ServiceResult<Vec<CannedResponse>> {
        Ok(self.store.canned_list(user.account_id, q).await?)
    }

    pub async fn canned_response(&self, user: &User, id: i64) -> ServiceResult<CannedResponse> {
        Ok(self.store.canned(user.account_id, id).await?)
    }

    /// Changes part of a canned response: `change` edits the stored one as typed.
    pub async fn edit_canned(
        &self,
        user: &User,
        id: i64,
        change: impl FnOnce(&mut CannedDraft),
    ) -> ServiceResult<CannedResponse> {
        manager(user)?;
        let mut draft = CannedDraft::from(&self.store.canned(user.account_id, id).await?);
        change(&mut draft);
        self.update_canned(user, id, &draft).await
    }

    pub async fn create_canned(&self, user: &User, draft: &CannedDraft) -> ServiceResult<CannedResponse> {
        manager(user)?;
        let fields = draft.validate()?;
        Ok(self.store.create_canned(user.account_id, &fields, user.id).await?)
    }

    pub async fn update_canned(&self, user: &User, id: i64, draft: &CannedDraft) -> ServiceResult<CannedResponse> {
        manager(user)?;
        let fields = draft.validate()?;
        Ok(self.store.update_canned(user.account_id, id, &fields).await?)
    }

    pub async fn delete_canned(&self, user: &User, id: i64) -> ServiceResult<()> {
        manager(user)?;
        self.store.delete_canned(user.account_id, id).await?;
        self.audit(user, "canned.deleted", &format!("canned:{id}"), None, "").await
    }

    /// A canned response filled in for a conversation, as `user` would send it.
    pub async fn render_canned(&self, user: &User, conversation_id: i64, canned_id: i64) -> ServiceResult<Rendered> {
        let summary = self.store.conversation_summary(user.account_id, conversation_id).await?;
        let canned = self.store.canned(user.account_id, canned_id).await?;
        // Stored bodies were validated when written; a body that no longer
        // parses (a variable removed in a later version) is reported, not sent.
        let template = Template::parse(&canned.body)?;
        let inbox = self.store.inbox(user.account_id, summary.conversation.inbox_id).await?;
        let next_open = self.next_open_for(&inbox, user.account_id, conversation_id, jiff::Timestamp::now()).await?;
        let business = self.business_name_of(user.account_id).await?;
        let vars = Vars::new(&summary.contact_name, &user.name, &business, next_open);
        Ok(template.render(&vars))
    }
}
