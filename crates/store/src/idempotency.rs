//! Idempotency keys on sends: the key is claimed in the transaction that
//! stores the message, so however many requests race with one key, one
//! message is stored; the others read the first one's answer.

use jiff::{SignedDuration, Timestamp};
use sqlx::Row;

use crate::{Result, Store, to_ms};

/// How long a key is remembered: a retry a day later is a new request.
pub const IDEMPOTENCY_TTL: SignedDuration = SignedDuration::from_hours(24);

/// A client's key on one endpoint, and the fingerprint of the request it came with.
#[derive(Debug, Clone)]
pub struct IdemKey {
    pub account_id: i64,
    /// The operation, e.g. `POST /api/v1/notifications`.
    pub endpoint: String,
    pub key: String,
    /// A hash of what was asked (a reuse with another request is refused).
    pub fingerprint: String,
}

/// What is remembered of a key.
#[derive(Debug, Clone)]
pub struct IdemRecord {
    pub fingerprint: String,
    /// The message it stored (None once that message was deleted).
    pub message_id: Option<i64>,
    /// The first answer, once the first request has written it.
    pub response: Option<(u16, String)>,
}

/// Claims `key` in the caller's transaction: false when it is taken (the
/// transaction must then be abandoned and the record read). On PostgreSQL a
/// claim racing an uncommitted one waits for it and then sees it taken, or
/// takes it if that transaction rolled back; SQLite's writers are one at a time.
pub(crate) async fn claim(tx: &mut sqlx::AnyConnection, key: &IdemKey, now: Timestamp) -> Result<bool> {
    // Forgotten keys go first, this one's included, so it can be used anew.
    sqlx::query("DELETE FROM idempotency_keys WHERE account_id = $1 AND created_at < $2")
        .bind(key.account_id)
        .bind(to_ms(now - IDEMPOTENCY_TTL))
        .execute(&mut *tx)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (account_id, endpoint, idem_key, fingerprint, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (account_id, endpoint, idem_key) DO NOTHING RETURNING account_id",
    )
    .bind(key.account_id)
    .bind(&key.endpoint)
    .bind(&key.key)
    .bind(&key.fingerprint)
    .bind(to_ms(now))
    .fetch_optional(&mut *tx)
    .await?;
    Ok(inserted.is_some())
}

/// Records which message the claimed key stored, in the same transaction.
pub(crate) async fn bind_message(tx: &mut sqlx::AnyConnection, key: &IdemKey, message_id: i64) -> Result<()> {
    sqlx::query(
        "UPDATE idempotency_keys SET message_id = $1 WHERE account_id = $2 AND endpoint = $3 AND idem_key = $4",
    )
    .bind(message_id)
    .bind(key.account_id)
    .bind(&key.endpoint)
    .bind(&key.key)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

impl Store {
    /// What is remembered of a key still within its 24 hours.
    pub async fn idempotency_record(&self, key: &IdemKey) -> Result<Option<IdemRecord>> {
        let row = sqlx::query(
            "SELECT fingerprint, message_id, response_status, response FROM idempotency_keys
             WHERE account_id = $1 AND endpoint = $2 AND idem_key = $3 AND created_at >= $4",
        )
        .bind(key.account_id)
        .bind(&key.endpoint)
        .bind(&key.key)
        .bind(to_ms(Timestamp::now() - IDEMPOTENCY_TTL))
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let status: Option<i64> = r.try_get("response_status")?;
        let body: Option<String> = r.try_get("response")?;
        Ok(Some(IdemRecord {
            fingerprint: r.try_get("fingerprint")?,
            message_id: r.try_get("message_id")?,
            response: match (status, body) {
                (Some(s), Some(b)) => Some((u16::try_from(s).unwrap_or(200), b)),
                _ => None,
            },
        }))
    }

    /// Keeps the first answer for the repeats (written once: a repeat never replaces it).
    pub async fn remember_response(&self, key: &IdemKey, status: u16, body: &str) -> Result<()> {
        self.write_one(
            sqlx::query(
                "UPDATE idempotency_keys SET response_status = $1, response = $2
             WHERE account_id = $3 AND endpoint = $4 AND idem_key = $5 AND response IS NULL",
            )
            .bind(i64::from(status))
            .bind(body)
            .bind(key.account_id)
            .bind(&key.endpoint)
            .bind(&key.key),
        )
        .await?;
        Ok(())
    }
}
