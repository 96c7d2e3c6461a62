//! The account's audit trail as admins read it (entries are written by the
//! services that act: sign-in locks, privacy requests, retention).

use textdesk_store::AuditEntry;

use crate::services::Services;
use crate::services::error::ServiceResult;

impl Services {
    /// The account's audit trail, newest first, before entry `before_id`.
    pub async fn audit_entries(
        &self,
        account_id: i64,
        before_id: Option<i64>,
        limit: i64,
    ) -> ServiceResult<Vec<AuditEntry>> {
        Ok(self.store.audit_entries(account_id, before_id, limit).await?)
    }
}
