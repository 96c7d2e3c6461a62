//! Sessions and API tokens. Only hashes of the secrets are stored: a copy of
//! the database does not let anyone sign in.

use jiff::Timestamp;
use sqlx::Row;

use crate::{Result, Store, StoreError, User, from_ms, returned_id, to_ms};

#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf_token: String,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked: bool,
}

impl Store {
    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        expires_at: Timestamp,
    ) -> Result<()> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(token_hash)
            .bind(user_id)
            .bind(csrf)
            .bind(to_ms(Timestamp::now()))
            .bind(to_ms(expires_at))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The live session for a cookie, with its active user; expired sessions are gone.
    pub async fn session(&self, token_hash: &str, now: Timestamp) -> Result<Option<Session>> {
        let row = sqlx::query(
            "SELECT user_id, csrf_token, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(to_ms(now))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user = self.user(row.try_get("user_id")?).await?;
        if !user.active {
            return Ok(None);
        }
        Ok(Some(Session {
            user,
            csrf_token: row.try_get("csrf_token")?,
            expires_at: from_ms(row.try_get("expires_at")?),
        }))
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn delete_expired_sessions(&self, now: Timestamp) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(to_ms(now))
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    pub async fn create_api_token(&self, user_id: i64, name: &str, token_hash: &str) -> Result<ApiToken> {
        let now = Timestamp::now();
        let row = sqlx::query(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(to_ms(now))
        .fetch_one(&self.pool)
        .await?;
        Ok(ApiToken {
            id: returned_id(&row)?,
            user_id,
            name: name.to_owned(),
            created_at: now,
            last_used_at: None,
            revoked: false,
        })
    }

    /// The active user behind a token, marking it used.
    pub async fn user_for_token(&self, token_hash: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT id, user_id FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let user = self.user(row.try_get("user_id")?).await?;
        if !user.active {
            return Ok(None);
        }
        let id: i64 = row.try_get("id")?;
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(to_ms(Timestamp::now()))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(Some(user))
    }

    pub async fn api_tokens(&self, user_id: i64) -> Result<Vec<ApiToken>> {
        let rows = sqlx::query("SELECT id, user_id, name, created_at, last_used_at, revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY id")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ApiToken {
                    id: r.try_get("id")?,
                    user_id: r.try_get("user_id")?,
                    name: r.try_get("name")?,
                    created_at: from_ms(r.try_get("created_at")?),
                    last_used_at: r.try_get::<Option<i64>, _>("last_used_at")?.map(from_ms),
                    revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
                })
            })
            .collect()
    }

    pub async fn revoke_api_token(&self, user_id: i64, id: i64) -> Result<()> {
        let n =
            sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
                .bind(to_ms(Timestamp::now()))
                .bind(id)
                .bind(user_id)
                .execute(&self.pool)
                .await?;
        if n.rows_affected() == 0 {
            return Err(StoreError::NotFound("token"));
        }
        Ok(())
    }
}
