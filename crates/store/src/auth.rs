//! Sessions, API tokens and failed sign-ins. Only hashes of the secrets are
//! stored: a copy of the database does not let anyone sign in.

use jiff::{SignedDuration, Timestamp};
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
        let now = to_ms(Timestamp::now());
        self.write_one(sqlx::query("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $4)")
            .bind(token_hash)
            .bind(user_id)
            .bind(csrf)
            .bind(now)
            .bind(to_ms(expires_at))
            )
            .await?;
        Ok(())
    }

    /// The live session for a cookie, with its active user: not past its
    /// absolute expiry, and used within `idle`. Using it keeps it alive; the
    /// time is written at most once a minute, so reading pages stays read-only.
    pub async fn session(&self, token_hash: &str, now: Timestamp, idle: SignedDuration) -> Result<Option<Session>> {
        let row = sqlx::query(
            "SELECT user_id, csrf_token, expires_at, COALESCE(last_seen_at, created_at) AS seen FROM sessions
             WHERE token_hash = $1 AND expires_at > $2 AND COALESCE(last_seen_at, created_at) > $3",
        )
        .bind(token_hash)
        .bind(to_ms(now))
        .bind(to_ms(now - idle))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let seen: i64 = row.try_get("seen")?;
        if seen < to_ms(now - SignedDuration::from_mins(1)) {
            self.write_one(
                sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
                    .bind(to_ms(now))
                    .bind(token_hash),
            )
            .await?;
        }
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
        self.write_one(sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash)).await?;
        Ok(())
    }

    /// Drops sessions past their absolute expiry or idle for longer than `idle`.
    pub async fn delete_expired_sessions(&self, now: Timestamp, idle: SignedDuration) -> Result<u64> {
        Ok(self
            .write_one(
                sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR COALESCE(last_seen_at, created_at) <= $2")
                    .bind(to_ms(now))
                    .bind(to_ms(now - idle)),
            )
            .await?
            .rows_affected())
    }

    pub async fn create_api_token(&self, user_id: i64, name: &str, token_hash: &str) -> Result<ApiToken> {
        let now = Timestamp::now();
        let row = self.write_row(sqlx::query(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(to_ms(now))
        )
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

    /// The active user behind a token, marking it used. Like a session's, the
    /// time is written at most once a minute: a write on every API request
    /// queued each read behind SQLite's one writer.
    pub async fn user_for_token(&self, token_hash: &str) -> Result<Option<User>> {
        let row = sqlx::query(
            "SELECT id, user_id, last_used_at FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user = self.user(row.try_get("user_id")?).await?;
        if !user.active {
            return Ok(None);
        }
        let now = Timestamp::now();
        let used: Option<i64> = row.try_get("last_used_at")?;
        if used.is_none_or(|t| t < to_ms(now - SignedDuration::from_mins(1))) {
            self.write_one(
                sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                    .bind(to_ms(now))
                    .bind(row.try_get::<i64, _>("id")?),
            )
            .await?;
        }
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
        let n = self
            .write_one(
                sqlx::query(
                    "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
                )
                .bind(to_ms(Timestamp::now()))
                .bind(id)
                .bind(user_id),
            )
            .await?;
        if n.rows_affected() == 0 {
            return Err(StoreError::NotFound("token"));
        }
        Ok(())
    }
}

/// How failed sign-ins for one e-mail turn into a lockout.
#[derive(Debug, Clone, Copy)]
pub struct LockoutRule {
    /// This many failures within `window` lock the e-mail…
    pub failures: i64,
    pub window: SignedDuration,
    /// …for this long.
    pub lock_for: SignedDuration,
}

impl Store {
    /// Until when sign-ins for this e-mail (its hash) are refused, if they are now.
    /// The count is the server's, not an account's: the lock holds whichever
    /// account the e-mail belongs to, or none.
    pub async fn login_locked_until(&self, email_hash: &str, now: Timestamp) -> Result<Option<Timestamp>> {
        let row = sqlx::query("SELECT locked_until FROM login_failures WHERE email_hash = $1 AND locked_until > $2")
            .bind(email_hash)
            .bind(to_ms(now))
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<Option<i64>, _>("locked_until")?.map(from_ms),
            None => None,
        })
    }

    /// Counts a failed sign-in. Returns when the lock ends if this failure
    /// started one (exactly one node sees that, so it is audited once).
    pub async fn record_login_failure(
        &self,
        email_hash: &str,
        now: Timestamp,
        rule: LockoutRule,
    ) -> Result<Option<Timestamp>> {
        let mut tx = self.begin_write().await?;
        // A window that has passed starts again from this failure.
        let row = sqlx::query(
            "INSERT INTO login_failures (email_hash, failures, window_start) VALUES ($1, 1, $2)
             ON CONFLICT (email_hash) DO UPDATE SET
               failures = CASE WHEN login_failures.window_start <= $3 THEN 1 ELSE login_failures.failures + 1 END,
               window_start = CASE WHEN login_failures.window_start <= $3 THEN $2 ELSE login_failures.window_start END
             RETURNING failures",
        )
        .bind(email_hash)
        .bind(to_ms(now))
        .bind(to_ms(now - rule.window))
        .fetch_one(&mut *tx)
        .await?;
        let failures: i64 = row.try_get("failures")?;
        let mut locked = None;
        if failures >= rule.failures {
            let until = now + rule.lock_for;
            let n = sqlx::query(
                "UPDATE login_failures SET locked_until = $1, failures = 0, window_start = $2
                 WHERE email_hash = $3 AND (locked_until IS NULL OR locked_until <= $2)",
            )
            .bind(to_ms(until))
            .bind(to_ms(now))
            .bind(email_hash)
            .execute(&mut *tx)
            .await?;
            if n.rows_affected() == 1 {
                locked = Some(until);
            }
        }
        tx.commit().await?;
        Ok(locked)
    }

    /// A successful sign-in forgets the failures before it.
    pub async fn clear_login_failures(&self, email_hash: &str) -> Result<()> {
        self.write_one(sqlx::query("DELETE FROM login_failures WHERE email_hash = $1").bind(email_hash)).await?;
        Ok(())
    }

    /// Drops counts whose window and lock have both passed.
    pub async fn prune_login_failures(&self, now: Timestamp, window: SignedDuration) -> Result<u64> {
        Ok(self.write_one(sqlx::query(
            "DELETE FROM login_failures WHERE window_start <= $1 AND (locked_until IS NULL OR locked_until <= $2)",
        )
        .bind(to_ms(now - window))
        .bind(to_ms(now))
        )
        .await?
        .rows_affected())
    }
}
