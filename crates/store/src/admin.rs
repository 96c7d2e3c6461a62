//! What the settings screens need beyond the basic tables: team membership,
//! an inbox's consent scope, and the conversation a test message goes in.

use jiff::Timestamp;
use sqlx::Row;
use textdesk_core::Address;

use crate::{Result, Store, StoreError, User, to_ms};

impl Store {
    pub async fn remove_team_member(&self, team_id: i64, user_id: i64) -> Result<()> {
        self.write_one(
            sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2").bind(team_id).bind(user_id),
        )
        .await?;
        Ok(())
    }

    /// The ids of a team's members.
    pub async fn team_member_ids(&self, team_id: i64) -> Result<Vec<i64>> {
        let rows = sqlx::query("SELECT user_id FROM team_members WHERE team_id = $1 ORDER BY user_id")
            .bind(team_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get::<i64, _>("user_id")?)).collect()
    }

    /// A team's members.
    pub async fn team_members(&self, team_id: i64) -> Result<Vec<User>> {
        let mut out = Vec::new();
        for id in self.team_member_ids(team_id).await? {
            out.push(self.user(id).await?);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// The consent scope an inbox shares with others; None when it keeps its own.
    pub async fn inbox_shared_scope(&self, account_id: i64, id: i64) -> Result<Option<String>> {
        let row = sqlx::query("SELECT consent_scope FROM inboxes WHERE account_id = $1 AND id = $2")
            .bind(account_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.ok_or(StoreError::NotFound("inbox"))?.try_get("consent_scope")?)
    }

    /// The conversation with an address on an inbox that a business-started
    /// message belongs in: the latest one not resolved, or a new one (the
    /// contact too, on first contact). Sending is left to the one gate.
    pub async fn conversation_with(&self, account_id: i64, inbox_id: i64, to: &Address, actor_id: i64) -> Result<i64> {
        self.inbox(account_id, inbox_id).await?;
        let now = Timestamp::now();
        let mut tx = self.begin_write().await?;
        let who = crate::contacts::contact_for(self, &mut tx, account_id, to, to_ms(now)).await?.pair();
        let why = ("test message", Some(actor_id));
        let (id, _) = crate::notifications::conversation_for(&mut tx, (account_id, inbox_id), who, why, now).await?;
        self.commit(tx).await?;
        Ok(id)
    }
}
