//! The outbox: one row per outbound message, claimed by dispatchers when due.
//!
//! States: `queued` (waiting for `not_before`) → `sending` (claimed; the call to
//! the provider is in flight) → `sent` | `failed`, or back to `queued` with a
//! later `not_before` for a retryable failure. A row found in `sending` after its
//! lease expired is marked `unknown`, never re-sent automatically: the provider
//! may have accepted it, and sending twice is worse than asking a person.

use jiff::{SignedDuration, Timestamp};
use sqlx::Row;
use textdesk_core::{ChannelKind, DeliveryStatus};

use crate::{Backend, Result, Store, StoreError, from_ms, to_ms};

#[derive(Debug, Clone)]
pub struct Claimed {
    pub outbox_id: i64,
    pub message_id: i64,
    pub conversation_id: i64,
    pub account_id: i64,
    pub inbox_id: i64,
    pub channel_kind: ChannelKind,
    pub sender: String,
    pub to: String,
    pub body: String,
    pub attempts: i64,
    pub kind: textdesk_core::gate::OutboundKind,
    /// Consent as it stands now, for the gate's second look.
    pub consent: textdesk_core::ConsentState,
    pub clock: crate::messages::ContactClock,
}

/// Where a claimed row goes when it is not sent.
struct Release {
    state: &'static str,
    not_before: Option<Timestamp>,
    status: DeliveryStatus,
    /// Whether the claim counts as an attempt (a deferral does not).
    attempt_counts: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct OutboxEntry {
    pub state: String,
    pub not_before: Timestamp,
    pub attempts: i64,
    pub last_error: Option<String>,
}

impl Store {
    /// Claims up to `limit` due rows for `worker`. On PostgreSQL, rows another
    /// worker holds are skipped (SKIP LOCKED); SQLite has one writer at a time,
    /// so the single UPDATE is atomic by itself. Either way a row is claimed once.
    pub async fn claim_due(&self, worker: &str, now: Timestamp, limit: i64) -> Result<Vec<Claimed>> {
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE outbox SET state = 'sending', claimed_by = $1, claimed_at = $2, attempts = attempts + 1, updated_at = $2
             WHERE state = 'queued' AND id IN (
                SELECT id FROM outbox WHERE state = 'queued' AND not_before <= $2 ORDER BY not_before, id LIMIT $3 {lock})
             RETURNING id"
        );
        let mut tx = self.begin_write().await?;
        let ids: Vec<i64> = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(worker)
            .bind(to_ms(now))
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get::<i64, _>(0))
            .collect::<Result<_, _>>()?;
        for id in &ids {
            sqlx::query("UPDATE messages SET status = 'sending', updated_at = $1 WHERE id = (SELECT message_id FROM outbox WHERE id = $2)")
                .bind(to_ms(now))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        let mut claimed = Vec::with_capacity(ids.len());
        for id in ids {
            let sql = format!(
                "SELECT o.id AS outbox_id, o.message_id, o.attempts, o.kind, m.conversation_id, m.body, c.account_id, ib.id AS inbox_id,
                        ib.channel_kind, ib.sender, i.address, {} AS consent, ct.time_zone,
                        (SELECT MAX(x.created_at) FROM messages x WHERE x.conversation_id = c.id AND x.direction = 'inbound') AS last_inbound
                 FROM outbox o JOIN messages m ON m.id = o.message_id
                 JOIN conversations c ON c.id = m.conversation_id
                 JOIN contacts ct ON ct.id = c.contact_id
                 JOIN contact_identities i ON i.id = c.identity_id
                 JOIN inboxes ib ON ib.id = o.inbox_id
                 WHERE o.id = $1",
                crate::consent::scoped_consent_sql()
            );
            let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_one(&self.pool).await?;
            let kind: String = r.try_get("channel_kind")?;
            let outbound_kind: String = r.try_get("kind")?;
            let consent: Option<String> = r.try_get("consent")?;
            let address: String = r.try_get("address")?;
            claimed.push(Claimed {
                kind: textdesk_core::gate::OutboundKind::parse(&outbound_kind)
                    .unwrap_or(textdesk_core::gate::OutboundKind::Reply),
                consent: crate::consent::state_of(consent.as_deref()),
                clock: crate::messages::ContactClock {
                    time_zone: r.try_get("time_zone")?,
                    address: address.clone(),
                    last_inbound: r.try_get::<Option<i64>, _>("last_inbound")?.map(from_ms),
                },
                outbox_id: r.try_get("outbox_id")?,
                message_id: r.try_get("message_id")?,
                conversation_id: r.try_get("conversation_id")?,
                account_id: r.try_get("account_id")?,
                inbox_id: r.try_get("inbox_id")?,
                channel_kind: ChannelKind::parse(&kind)?,
                sender: r.try_get("sender")?,
                to: address,
                body: r.try_get("body")?,
                attempts: r.try_get("attempts")?,
            });
        }
        Ok(claimed)
    }

    /// The provider accepted the message under `provider_id`.
    pub async fn mark_sent(&self, outbox_id: i64, provider_id: &str, now: Timestamp) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE outbox SET state = 'sent', last_error = NULL, updated_at = $1 WHERE id = $2 AND state = 'sending'",
        )
        .bind(to_ms(now))
        .bind(outbox_id)
        .execute(&mut *tx)
        .await?;
        if n.rows_affected() == 0 {
            return Err(StoreError::Conflict("the outbox row is not being sent".into()));
        }
        // A delivery report can beat this write; it only moves status forward.
        sqlx::query(
            "UPDATE messages SET provider_id = $1, status = CASE WHEN status = 'sending' THEN 'sent' ELSE status END, error = NULL, updated_at = $2
             WHERE id = (SELECT message_id FROM outbox WHERE id = $3)",
        )
        .bind(provider_id)
        .bind(to_ms(now))
        .bind(outbox_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The send failed. With `retry_at`, the row waits and is claimed again;
    /// without, the message is failed for good with `error` shown to the agent.
    pub async fn mark_failed(
        &self,
        outbox_id: i64,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<()> {
        let release = match retry_at {
            Some(at) => {
                Release { state: "queued", not_before: Some(at), status: DeliveryStatus::Queued, attempt_counts: true }
            }
            None => Release { state: "failed", not_before: None, status: DeliveryStatus::Failed, attempt_counts: true },
        };
        self.release_claim(outbox_id, release, Some(error), Some(error), now).await
    }

    /// The gate's second look said "not yet": the row waits again until
    /// `until` (the attempt it was claimed for does not count).
    pub async fn defer_claimed(&self, outbox_id: i64, until: Timestamp, now: Timestamp) -> Result<()> {
        let release = Release {
            state: "queued",
            not_before: Some(until),
            status: DeliveryStatus::Scheduled,
            attempt_counts: false,
        };
        self.release_claim(outbox_id, release, None, None, now).await
    }

    /// The gate's second look said no (the contact opted out while the message
    /// waited): it is never sent, and the agent sees why.
    pub async fn block_claimed(
        &self,
        outbox_id: i64,
        reason: textdesk_core::BlockReason,
        now: Timestamp,
    ) -> Result<()> {
        let release =
            Release { state: "failed", not_before: None, status: DeliveryStatus::Blocked, attempt_counts: true };
        self.release_claim(outbox_id, release, Some(reason.code()), Some(reason.explain()), now).await
    }

    /// Ends a claim without a send: the row leaves `sending` as `release` says,
    /// and its message shows `release.status` and `message_error`, together.
    async fn release_claim(
        &self,
        outbox_id: i64,
        release: Release,
        outbox_error: Option<&str>,
        message_error: Option<&str>,
        now: Timestamp,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE outbox SET state = $1, not_before = COALESCE($2, not_before), last_error = $3, attempts = attempts - $4,
                    claimed_by = NULL, updated_at = $5
             WHERE id = $6 AND state = 'sending'",
        )
        .bind(release.state)
        .bind(release.not_before.map(to_ms))
        .bind(outbox_error)
        .bind(if release.attempt_counts { 0i64 } else { 1 })
        .bind(to_ms(now))
        .bind(outbox_id)
        .execute(&mut *tx)
        .await?;
        if n.rows_affected() == 0 {
            return Err(StoreError::Conflict("the outbox row is not being sent".into()));
        }
        sqlx::query("UPDATE messages SET status = $1, error = $2, updated_at = $3 WHERE id = (SELECT message_id FROM outbox WHERE id = $4)")
            .bind(release.status.as_str())
            .bind(message_error)
            .bind(to_ms(now))
            .bind(outbox_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Rows left in `sending` by a worker that died: their fate is unknown, so
    /// they are shown to a person instead of being sent again. Returns the
    /// affected message ids.
    pub async fn expire_stale_claims(&self, now: Timestamp, lease: SignedDuration) -> Result<Vec<i64>> {
        let cutoff = to_ms(now - lease);
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query("UPDATE outbox SET state = 'unknown', last_error = $1, updated_at = $2 WHERE state = 'sending' AND claimed_at < $3 RETURNING message_id")
            .bind("interrupted while sending: it may or may not have reached the customer")
            .bind(to_ms(now))
            .bind(cutoff)
            .fetch_all(&mut *tx)
            .await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.try_get::<i64, _>(0)).collect::<Result<_, _>>()?;
        for id in &ids {
            sqlx::query("UPDATE messages SET status = 'failed', error = $1, updated_at = $2 WHERE id = $3 AND status = 'sending'")
                .bind("Interrupted while sending; it may or may not have reached the customer.")
                .bind(to_ms(now))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(ids)
    }

    pub async fn outbox_entry(&self, message_id: i64) -> Result<Option<OutboxEntry>> {
        let row = sqlx::query("SELECT state, not_before, attempts, last_error FROM outbox WHERE message_id = $1")
            .bind(message_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(OutboxEntry {
                state: r.try_get("state")?,
                not_before: from_ms(r.try_get("not_before")?),
                attempts: r.try_get("attempts")?,
                last_error: r.try_get("last_error")?,
            }),
            None => None,
        })
    }

    /// Counts by outbox state, for metrics.
    pub async fn outbox_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state ORDER BY state")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("state")?, r.try_get("n")?))).collect()
    }
}
