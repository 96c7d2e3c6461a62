//! One-time sign-in links for invited people (and new links for anyone an
//! admin resets). Only the SHA-256 of a link's token is stored; a link works
//! once, before it expires, for a user who is still active.

use jiff::Timestamp;
use sqlx::Row;

use crate::{Result, Store, StoreError, User, from_ms, to_ms};

/// Where a user stands with their sign-in links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InviteState {
    pub user_id: i64,
    /// A link has been used: the person has set a password.
    pub accepted: bool,
    /// When the newest link stops working.
    pub expires_at: Timestamp,
}

impl Store {
    /// Stores a new link for a user; any earlier unused link of theirs stops working.
    pub async fn create_invite(
        &self,
        account_id: i64,
        user_id: i64,
        token_hash: &str,
        created_by: i64,
        expires_at: Timestamp,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM invites WHERE user_id = $1 AND used_at IS NULL")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO invites (account_id, user_id, token_hash, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(account_id)
        .bind(user_id)
        .bind(token_hash)
        .bind(created_by)
        .bind(to_ms(Timestamp::now()))
        .bind(to_ms(expires_at))
        .execute(&mut *tx)
        .await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// The active user a link is for, if it is unused and unexpired (nothing is changed).
    pub async fn invite_user(&self, token_hash: &str, now: Timestamp) -> Result<Option<User>> {
        let row =
            sqlx::query("SELECT user_id FROM invites WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2")
                .bind(token_hash)
                .bind(to_ms(now))
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else { return Ok(None) };
        let user = self.user(row.try_get("user_id")?).await?;
        Ok(user.active.then_some(user))
    }

    /// Uses a link: sets the user's password and marks the link used, at most
    /// once. NotFound when the link is unknown, used, expired or its user inactive.
    pub async fn accept_invite(&self, token_hash: &str, password_hash: &str, now: Timestamp) -> Result<User> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE invites SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
        )
        .bind(to_ms(now))
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let user_id: i64 = row.ok_or(StoreError::NotFound("invitation"))?.try_get("user_id")?;
        let n = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND active = 1")
            .bind(password_hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if n.rows_affected() == 0 {
            return Err(StoreError::NotFound("invitation"));
        }
        self.commit(tx).await?;
        self.user(user_id).await
    }

    /// Each invited user's state, for the users page.
    pub async fn invite_states(&self, account_id: i64) -> Result<Vec<InviteState>> {
        let rows = sqlx::query(
            "SELECT user_id, COUNT(used_at) AS used, MAX(expires_at) AS expires FROM invites WHERE account_id = $1 GROUP BY user_id",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(InviteState {
                    user_id: r.try_get("user_id")?,
                    accepted: r.try_get::<i64, _>("used")? > 0,
                    expires_at: from_ms(r.try_get("expires")?),
                })
            })
            .collect()
    }
}
