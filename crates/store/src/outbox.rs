//! The outbox: one row per outbound message, claimed by dispatchers when due.
//!
//! States: `queued` (waiting for `not_before`) → `sending` (claimed; the call to
//! the provider is in flight) → `sent` | `failed`, or back to `queued` with a
//! later `not_before` for a retryable failure. A row found in `sending` after its
//! lease expired is settled: recorded as sent or queued again when the provider
//! can say whether it has it, otherwise marked `unknown` for a person, never
//! re-sent automatically (see docs/decisions.md, "Never sending twice").

use jiff::{SignedDuration, Timestamp};
use sqlx::Row;
use textdesk_core::event::DomainEvent;
use textdesk_core::pacing::Rate;
use textdesk_core::{DeliveryStatus, Medium};

use crate::{Backend, Result, Store, StoreError, from_ms, to_ms};

/// A sender with rows due, and where its pacing schedule stands (none
/// before its first paced send).
#[derive(Debug, Clone, Copy)]
pub struct DueSender {
    pub inbox_id: i64,
    pub tat: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct Claimed {
    pub outbox_id: i64,
    pub message_id: i64,
    pub conversation_id: i64,
    pub account_id: i64,
    pub inbox_id: i64,
    /// The inbox's provider key and medium: which channel sends it.
    pub provider: String,
    pub medium: Medium,
    pub sender: String,
    pub to: String,
    pub body: String,
    pub attempts: i64,
    /// When this claim began: a provider asked after a crash looks from here.
    pub claimed_at: Timestamp,
    pub kind: textdesk_core::gate::OutboundKind,
    /// Consent as it stands now, for the gate's second look.
    pub consent: textdesk_core::ConsentState,
    pub clock: crate::messages::ContactClock,
    /// The customer's last message through this row's inbox (any of their
    /// conversations), on a channel with a reply window: what it counts from.
    pub window_inbound: Option<Timestamp>,
    /// An automatic answer queued in a live exchange, and when it was queued.
    pub live_answer: Option<Timestamp>,
    /// The provider template it goes as (JSON), if any.
    pub template: Option<String>,
    /// A person wrote it (not an automation).
    pub by_person: bool,
    /// A web chat visitor's code (`message_id` and `conversation_id` are 0:
    /// it belongs to no conversation), with the salt it is derived from; the
    /// body holds `{code}` where the code goes.
    pub phone_check: Option<(i64, String)>,
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
    /// The senders (inboxes) that have rows due at `now`, each with its pacing
    /// schedule: a sender not free yet is passed over without a transaction.
    pub async fn due_senders(&self, now: Timestamp) -> Result<Vec<DueSender>> {
        let rows = sqlx::query(
            "SELECT d.inbox_id, p.tat FROM (SELECT DISTINCT inbox_id FROM outbox WHERE state = 'queued' AND not_before <= $1) d
             LEFT JOIN sender_pacing p ON p.inbox_id = d.inbox_id",
        )
        .bind(to_ms(now))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DueSender {
                    inbox_id: r.try_get("inbox_id")?,
                    tat: r.try_get::<Option<i64>, _>("tat")?.map(from_ms),
                })
            })
            .collect()
    }

    /// When the first queued row that is not due yet falls due.
    pub async fn next_not_before(&self, now: Timestamp) -> Result<Option<Timestamp>> {
        let row = sqlx::query("SELECT MIN(not_before) FROM outbox WHERE state = 'queued' AND not_before > $1")
            .bind(to_ms(now))
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?.map(from_ms))
    }

    /// Claims due rows of every sender, unpaced: for tools and tests that
    /// want everything that is due.
    pub async fn claim_due(&self, worker: &str, now: Timestamp, limit: i64) -> Result<Vec<Claimed>> {
        let mut claimed = Vec::new();
        for DueSender { inbox_id, .. } in self.due_senders(now).await? {
            let left = limit - claimed.len() as i64;
            if left <= 0 {
                break;
            }
            claimed.extend(self.claim_for_sender(worker, inbox_id, now, left, None).await?);
        }
        Ok(claimed)
    }

    /// Claims up to `limit` due rows of one sender for `worker`, oldest first,
    /// as many as its `rate` (segments per second) allows now; the sender's
    /// schedule advances in the same transaction. On PostgreSQL, a sender
    /// another node is claiming for, and rows another worker holds, are
    /// skipped (SKIP LOCKED); SQLite has one writer at a time. Either way a
    /// row is claimed once.
    pub async fn claim_for_sender(
        &self,
        worker: &str,
        inbox_id: i64,
        now: Timestamp,
        limit: i64,
        rate: Option<Rate>,
    ) -> Result<Vec<Claimed>> {
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        // Urgent: a paced sender's wait for the lock is lost from its rate.
        let mut tx = self.begin_urgent_write().await?;
        let mut tat = None;
        if rate.is_some() {
            sqlx::query("INSERT INTO sender_pacing (inbox_id, tat) VALUES ($1, 0) ON CONFLICT (inbox_id) DO NOTHING")
                .bind(inbox_id)
                .execute(&mut *tx)
                .await?;
            let row =
                sqlx::query(sqlx::AssertSqlSafe(format!("SELECT tat FROM sender_pacing WHERE inbox_id = $1 {lock}")))
                    .bind(inbox_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            match row {
                Some(r) => tat = Some(from_ms(r.try_get("tat")?)),
                None => {
                    tx.rollback().await?;
                    return Ok(Vec::new());
                }
            }
        }
        let lock_rows = match self.backend {
            Backend::Postgres => "FOR UPDATE OF o SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let candidates = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT o.id, COALESCE(m.segments, 1) AS segments FROM outbox o LEFT JOIN messages m ON m.id = o.message_id
             WHERE o.inbox_id = $1 AND o.state = 'queued' AND o.not_before <= $2
             ORDER BY o.not_before, o.id LIMIT $3 {lock_rows}"
        )))
        .bind(inbox_id)
        .bind(to_ms(now))
        .bind(limit.max(0))
        .fetch_all(&mut *tx)
        .await?;
        let mut ids = Vec::with_capacity(candidates.len());
        for r in &candidates {
            if let (Some(rate), Some(t)) = (rate, tat) {
                match rate.admit(t, now, r.try_get("segments")?) {
                    Some(next) => tat = Some(next),
                    None => break,
                }
            }
            ids.push(r.try_get::<i64, _>("id")?);
        }
        if ids.is_empty() {
            // Ended now, not when the pool next uses the connection: until then
            // PostgreSQL would keep the sender's row locked, and other steps skip it.
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        let list = crate::placeholders(3, ids.len());
        let mut update = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE outbox SET state = 'sending', claimed_by = $1, claimed_at = $2, attempts = attempts + 1, updated_at = $2
             WHERE state = 'queued' AND id IN ({list})"
        )))
        .bind(worker)
        .bind(to_ms(now));
        for id in &ids {
            update = update.bind(id);
        }
        update.execute(&mut *tx).await?;
        let mut mark = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE messages SET status = 'sending', updated_at = $1
             WHERE id IN (SELECT message_id FROM outbox WHERE id IN ({}))",
            crate::placeholders(2, ids.len())
        )))
        .bind(to_ms(now));
        for id in &ids {
            mark = mark.bind(id);
        }
        mark.execute(&mut *tx).await?;
        if let Some(t) = tat {
            sqlx::query("UPDATE sender_pacing SET tat = $1 WHERE inbox_id = $2")
                .bind(to_ms(t))
                .bind(inbox_id)
                .execute(&mut *tx)
                .await?;
        }
        self.commit(tx).await?;
        self.claimed_rows(&ids).await
    }

    /// What the dispatcher needs to send the claimed rows `ids`, in one query.
    async fn claimed_rows(&self, ids: &[i64]) -> Result<Vec<Claimed>> {
        let sql = format!(
            "SELECT o.id AS outbox_id, o.message_id, o.attempts, o.kind, o.claimed_at, o.live_answer, o.created_at AS queued_at, m.conversation_id, m.body, m.template, m.author_id, c.account_id,
                    ib.id AS inbox_id, ib.channel_kind, ib.medium, ib.sender, i.address, {} AS consent, ct.time_zone,
                    (SELECT MAX(x.created_at) FROM messages x WHERE x.conversation_id = c.id AND x.direction = 'inbound') AS last_inbound,
                    {} AS window_inbound
             FROM outbox o JOIN messages m ON m.id = o.message_id
             JOIN conversations c ON c.id = m.conversation_id
             JOIN contacts ct ON ct.id = c.contact_id
             JOIN contact_identities i ON i.id = COALESCE(o.identity_id, c.identity_id)
             JOIN inboxes ib ON ib.id = o.inbox_id
             WHERE o.id IN ({}) ORDER BY o.not_before, o.id",
            crate::consent::scoped_consent_sql(),
            crate::reach::window_inbound_sql(),
            crate::placeholders(1, ids.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut claimed = self.claimed_checks(ids).await?;
        for r in rows {
            let medium: String = r.try_get("medium")?;
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
                window_inbound: r.try_get::<Option<i64>, _>("window_inbound")?.map(from_ms),
                outbox_id: r.try_get("outbox_id")?,
                message_id: r.try_get("message_id")?,
                conversation_id: r.try_get("conversation_id")?,
                account_id: r.try_get("account_id")?,
                inbox_id: r.try_get("inbox_id")?,
                provider: r.try_get("channel_kind")?,
                medium: Medium::parse(&medium)?,
                sender: r.try_get("sender")?,
                to: address,
                body: r.try_get("body")?,
                template: r.try_get("template")?,
                by_person: r.try_get::<Option<i64>, _>("author_id")?.is_some(),
                attempts: r.try_get("attempts")?,
                claimed_at: r.try_get::<Option<i64>, _>("claimed_at")?.map(from_ms).unwrap_or(Timestamp::UNIX_EPOCH),
                live_answer: match r.try_get::<i64, _>("live_answer")? {
                    0 => None,
                    _ => Some(from_ms(r.try_get("queued_at")?)),
                },
                phone_check: None,
            });
        }
        Ok(claimed)
    }

    /// The claimed rows among `ids` that carry a web chat visitor's code.
    async fn claimed_checks(&self, ids: &[i64]) -> Result<Vec<Claimed>> {
        let sql = format!(
            "SELECT o.id AS outbox_id, o.attempts, o.kind, o.claimed_at, pc.id AS check_id, pc.account_id, pc.phone, pc.salt, pc.body,
                    ib.id AS inbox_id, ib.channel_kind, ib.medium, ib.sender, {} AS consent
             FROM outbox o JOIN phone_checks pc ON pc.id = o.check_id JOIN inboxes ib ON ib.id = o.inbox_id
             WHERE o.id IN ({}) ORDER BY o.not_before, o.id",
            crate::phone_checks::check_consent_sql(),
            crate::placeholders(1, ids.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(id);
        }
        let mut claimed = Vec::new();
        for r in query.fetch_all(&self.pool).await? {
            let medium: String = r.try_get("medium")?;
            let kind: String = r.try_get("kind")?;
            let consent: Option<String> = r.try_get("consent")?;
            let phone: String = r.try_get("phone")?;
            claimed.push(Claimed {
                outbox_id: r.try_get("outbox_id")?,
                message_id: 0,
                conversation_id: 0,
                account_id: r.try_get("account_id")?,
                inbox_id: r.try_get("inbox_id")?,
                provider: r.try_get("channel_kind")?,
                medium: Medium::parse(&medium)?,
                sender: r.try_get("sender")?,
                to: phone.clone(),
                body: r.try_get("body")?,
                attempts: r.try_get("attempts")?,
                claimed_at: r.try_get::<Option<i64>, _>("claimed_at")?.map(from_ms).unwrap_or(Timestamp::UNIX_EPOCH),
                kind: textdesk_core::gate::OutboundKind::parse(&kind)
                    .unwrap_or(textdesk_core::gate::OutboundKind::VerificationCode),
                consent: crate::consent::state_of(consent.as_deref()),
                clock: crate::messages::ContactClock { time_zone: None, address: phone, last_inbound: None },
                window_inbound: None,
                live_answer: None,
                template: None,
                by_person: false,
                phone_check: Some((r.try_get("check_id")?, r.try_get("salt")?)),
            });
        }
        Ok(claimed)
    }

    /// The provider accepted the message: `provider_ids` holds one id per part
    /// it was sent as, the first being the message's own.
    pub async fn mark_sent(&self, outbox_id: i64, provider_ids: &[String], now: Timestamp) -> Result<()> {
        let Some(provider_id) = provider_ids.first() else {
            return Err(StoreError::Conflict("a provider accepted a message without giving an id".into()));
        };
        // Urgent, as every write that ends a claim: the sender's next claim waits for its lane to finish.
        let mut tx = self.begin_urgent_write().await?;
        let row = sqlx::query(
            "UPDATE outbox SET state = 'sent', last_error = NULL, updated_at = $1 WHERE id = $2 AND state = 'sending'
             RETURNING message_id, inbox_id, check_id",
        )
        .bind(to_ms(now))
        .bind(outbox_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::Conflict("the outbox row is not being sent".into()));
        };
        if let Some(check_id) = row.try_get::<Option<i64>, _>("check_id")? {
            crate::phone_checks::record_send(&mut tx, check_id, "sent", None, Some(provider_id)).await?;
            self.commit(tx).await?;
            return Ok(());
        }
        let message_id: i64 = row.try_get("message_id")?;
        let inbox_id: i64 = row.try_get("inbox_id")?;
        // A delivery report can beat this write; it only moves status forward.
        sqlx::query(
            "UPDATE messages SET provider_id = $1, status = CASE WHEN status = 'sending' THEN 'sent' ELSE status END, error = NULL, updated_at = $2
             WHERE id = $3",
        )
        .bind(provider_id)
        .bind(to_ms(now))
        .bind(message_id)
        .execute(&mut *tx)
        .await?;
        for part in provider_ids {
            sqlx::query(
                "INSERT INTO provider_refs (inbox_id, provider_id, message_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(inbox_id)
            .bind(part)
            .bind(message_id)
            .execute(&mut *tx)
            .await?;
            self.lock_provider_id(&mut tx, inbox_id, part).await?;
            apply_early_reports(&mut tx, inbox_id, part, message_id, now).await?;
        }
        let ev = DomainEvent::MessageSent { message_id };
        crate::events::append_for_message(&mut tx, message_id, &ev, None, now).await?;
        self.commit(tx).await?;
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

    /// A stopping node hands back a row it claimed but never handed to the
    /// provider: queued again as it was, not an attempt, for any node to send
    /// now (rather than after the lease, as if the node had died).
    pub async fn unclaim(&self, outbox_id: i64, now: Timestamp) -> Result<()> {
        let release =
            Release { state: "queued", not_before: None, status: DeliveryStatus::Queued, attempt_counts: false };
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
        let mut tx = self.begin_urgent_write().await?;
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
        let row = sqlx::query("SELECT message_id, check_id FROM outbox WHERE id = $1")
            .bind(outbox_id)
            .fetch_one(&mut *tx)
            .await?;
        // A visitor's code has no message: its check says what became of it.
        if let Some(check_id) = row.try_get::<Option<i64>, _>("check_id")? {
            let status = release.status.as_str();
            crate::phone_checks::record_send(&mut tx, check_id, status, message_error, None).await?;
            self.commit(tx).await?;
            return Ok(());
        }
        let message_id: i64 = row.try_get("message_id")?;
        sqlx::query("UPDATE messages SET status = $1, error = $2, updated_at = $3 WHERE id = $4")
            .bind(release.status.as_str())
            .bind(message_error)
            .bind(to_ms(now))
            .bind(message_id)
            .execute(&mut *tx)
            .await?;
        let ev = match (release.status, release.state) {
            (DeliveryStatus::Queued, "queued") if release.attempt_counts && outbox_error.is_some() => {
                DomainEvent::MessageFailed { message_id, will_retry: true }
            }
            (status, _) => DomainEvent::message_status(message_id, status),
        };
        crate::events::append_for_message(&mut tx, message_id, &ev, None, now).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Rows left in `sending` longer than `lease`: their worker died or hung
    /// between handing them to the provider and recording the answer.
    pub async fn stale_claims(&self, now: Timestamp, lease: SignedDuration) -> Result<Vec<Claimed>> {
        let rows =
            sqlx::query("SELECT id FROM outbox WHERE state = 'sending' AND claimed_at < $1 ORDER BY id LIMIT 100")
                .bind(to_ms(now - lease))
                .fetch_all(&self.pool)
                .await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.try_get::<i64, _>(0)).collect::<Result<_, _>>()?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.claimed_rows(&ids).await
    }

    /// Takes over the claim on a `sending` row: its lease starts again at
    /// `now`, on condition that the claim is still the one seen at
    /// `claimed_at`. A dispatcher calls it just before handing the row to the
    /// provider (a long batch never outlives its lease, row by row), and the
    /// settler before asking the provider about a stale row; whichever comes
    /// second gets `false` and leaves the row alone. So a row is never settled
    /// while it is being sent, nor sent after it was settled.
    pub async fn take_claim(&self, outbox_id: i64, claimed_at: Timestamp, now: Timestamp) -> Result<bool> {
        // In the write queue: outside it, on SQLite, it met the queue's writer at the busy handler's sleeps.
        let mut tx = self.begin_urgent_write().await?;
        let n = sqlx::query(
            "UPDATE outbox SET claimed_at = $1, updated_at = $1 WHERE id = $2 AND state = 'sending' AND claimed_at = $3",
        )
        .bind(to_ms(now))
        .bind(outbox_id)
        .bind(to_ms(claimed_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(n.rows_affected() == 1)
    }

    /// The provider confirms it never got the interrupted row: it goes again.
    pub async fn requeue_interrupted(&self, outbox_id: i64, now: Timestamp) -> Result<()> {
        let release =
            Release { state: "queued", not_before: Some(now), status: DeliveryStatus::Queued, attempt_counts: true };
        let why = "interrupted before the provider received it; sending again";
        self.release_claim(outbox_id, release, Some(why), None, now).await
    }

    /// The provider cannot say whether it got the interrupted row: it is shown
    /// to a person instead of being sent again, since twice is worse than asking.
    pub async fn mark_interrupted(&self, outbox_id: i64, now: Timestamp) -> Result<()> {
        let release =
            Release { state: "unknown", not_before: None, status: DeliveryStatus::Failed, attempt_counts: true };
        self.release_claim(
            outbox_id,
            release,
            Some("interrupted while sending: it may or may not have reached the customer"),
            Some("Interrupted while sending; it may or may not have reached the customer. Retry if it did not."),
            now,
        )
        .await
    }

    /// An agent's "retry now": a failed, interrupted or waiting-to-retry
    /// message goes at the next dispatch (the gate still looks at it first).
    pub async fn retry_now(&self, account_id: i64, message_id: i64, now: Timestamp) -> Result<()> {
        self.message_in_account(account_id, message_id).await?;
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE outbox SET state = 'queued', not_before = $1, claimed_by = NULL, updated_at = $1
             WHERE message_id = $2 AND (state IN ('failed', 'unknown') OR (state = 'queued' AND attempts > 0))",
        )
        .bind(to_ms(now))
        .bind(message_id)
        .execute(&mut *tx)
        .await?;
        if n.rows_affected() == 0 {
            return Err(StoreError::Conflict("only a failed message, or one waiting to retry, can be retried".into()));
        }
        sqlx::query("UPDATE messages SET status = 'queued', error = NULL, updated_at = $1 WHERE id = $2")
            .bind(to_ms(now))
            .bind(message_id)
            .execute(&mut *tx)
            .await?;
        let ev = DomainEvent::message_status(message_id, DeliveryStatus::Queued);
        crate::events::append_for_message(&mut tx, message_id, &ev, None, now).await?;
        self.commit(tx).await?;
        Ok(())
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

/// Delivery reports for `provider_id` that arrived before the send was
/// recorded, applied now in order; each only moves the status forward.
async fn apply_early_reports(
    tx: &mut sqlx::AnyConnection,
    inbox_id: i64,
    provider_id: &str,
    message_id: i64,
    now: Timestamp,
) -> Result<()> {
    let reports =
        sqlx::query("SELECT status, error FROM early_reports WHERE inbox_id = $1 AND provider_id = $2 ORDER BY id")
            .bind(inbox_id)
            .bind(provider_id)
            .fetch_all(&mut *tx)
            .await?;
    for r in reports {
        let current: String = sqlx::query("SELECT status FROM messages WHERE id = $1")
            .bind(message_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let reported: String = r.try_get("status")?;
        let reported = DeliveryStatus::parse(&reported)?;
        if DeliveryStatus::parse(&current)?.may_become(reported) {
            sqlx::query("UPDATE messages SET status = $1, error = COALESCE($2, error), updated_at = $3 WHERE id = $4")
                .bind(reported.as_str())
                .bind(r.try_get::<Option<String>, _>("error")?)
                .bind(to_ms(now))
                .bind(message_id)
                .execute(&mut *tx)
                .await?;
            let ev = DomainEvent::message_status(message_id, reported);
            crate::events::append_for_message(tx, message_id, &ev, None, now).await?;
        }
    }
    sqlx::query("DELETE FROM early_reports WHERE inbox_id = $1 AND provider_id = $2")
        .bind(inbox_id)
        .bind(provider_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

impl Store {
    /// Which of `ids` are already recorded for sends of this inbox.
    pub async fn known_provider_ids(&self, inbox_id: i64, ids: &[String]) -> Result<Vec<String>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT provider_id FROM provider_refs WHERE inbox_id = $1 AND provider_id IN ({})",
            crate::placeholders(2, ids.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(inbox_id);
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(&self.pool).await?.iter().map(|r| Ok(r.try_get::<String, _>(0)?)).collect()
    }

    /// Early reports no send ever claimed (a day is far longer than any send).
    pub async fn drop_stale_early_reports(&self, now: Timestamp) -> Result<u64> {
        let n = self
            .write_one(
                sqlx::query("DELETE FROM early_reports WHERE received_at < $1")
                    .bind(to_ms(now - SignedDuration::from_hours(24))),
            )
            .await?;
        Ok(n.rows_affected())
    }
}
