//! Outgoing webhooks (migration `0024_webhooks`): an account's subscriptions
//! (`webhook_subscriptions`, the signing secret sealed with the vault) and the
//! deliveries' outbox (`webhook_deliveries`). The event-log consumer writes
//! deliveries in its own transaction ([`active_webhooks_in`],
//! [`queue_webhook_delivery`]); senders claim due rows with a lease, as media
//! fetches do, so a delivery is attempted by one node at a time.

use jiff::{SignedDuration, Timestamp};
use sqlx::{AnyConnection, Row};
use textdesk_core::event::DomainEvent;

use crate::{Backend, Result, Store, StoreError, from_ms, returned_id, to_ms};

const SUB_COLUMNS: &str = "id, account_id, url, description, events, active, failing_since, disabled_at, \
     disabled_reason, created_at, updated_at";
const DELIVERY_COLUMNS: &str = "id, subscription_id, event_id, msg_id, event_type, payload, state, attempts, \
     next_attempt_at, give_up_at, last_attempt_at, last_status_code, last_error, created_at";

/// A subscription as stored (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSubscription {
    pub id: i64,
    pub account_id: i64,
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub active: bool,
    /// The first failure since the last success, while deliveries keep failing.
    pub failing_since: Option<Timestamp>,
    /// When it was switched off for failing, and why (a notice for admins).
    pub disabled_at: Option<Timestamp>,
    pub disabled_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What a subscription's editable fields are set to.
#[derive(Debug, Clone)]
pub struct WebhookFields {
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub active: bool,
}

/// One delivery and its last attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: i64,
    pub subscription_id: i64,
    pub event_id: Option<i64>,
    /// The `webhook-id` header, the same on every attempt.
    pub msg_id: String,
    pub event_type: String,
    pub payload: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub give_up_at: Timestamp,
    pub last_attempt_at: Option<Timestamp>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
}

/// A claimed delivery with what the sender needs: where, and the opened secret.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub delivery: WebhookDelivery,
    pub account_id: i64,
    pub url: String,
    pub secret: String,
}

/// A delivery to write.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    pub subscription_id: i64,
    pub account_id: i64,
    pub event_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub msg_id: &'a str,
    pub event_type: &'a str,
    pub payload: &'a str,
    pub now: Timestamp,
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub enum AttemptEnd {
    Delivered {
        status: u16,
    },
    /// Tried again at `next` (None: given up, the delivery failed).
    Failed {
        status: Option<u16>,
        error: String,
        next: Option<Timestamp>,
    },
}

/// A message, its conversation and the customer's address: what a message
/// event's payload says.
#[derive(Debug, Clone)]
pub struct MessageFacts {
    pub message_id: i64,
    pub direction: String,
    pub body: String,
    pub status: String,
    pub error: Option<String>,
    pub created_at: Timestamp,
    pub conversation: ConversationFacts,
}

#[derive(Debug, Clone)]
pub struct ConversationFacts {
    pub conversation_id: i64,
    pub inbox_id: i64,
    pub contact_id: i64,
    pub contact_address: String,
    pub status: String,
    pub assignee_id: Option<i64>,
    pub team_id: Option<i64>,
}

fn sub_from(r: &sqlx::any::AnyRow) -> Result<WebhookSubscription> {
    let events: String = r.try_get("events")?;
    Ok(WebhookSubscription {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        url: r.try_get("url")?,
        description: r.try_get("description")?,
        events: serde_json::from_str(&events).map_err(|e| StoreError::Invalid(format!("stored events: {e}")))?,
        active: r.try_get::<i64, _>("active")? != 0,
        failing_since: r.try_get::<Option<i64>, _>("failing_since")?.map(from_ms),
        disabled_at: r.try_get::<Option<i64>, _>("disabled_at")?.map(from_ms),
        disabled_reason: r.try_get("disabled_reason")?,
        created_at: from_ms(r.try_get("created_at")?),
        updated_at: from_ms(r.try_get("updated_at")?),
    })
}

fn delivery_from(r: &sqlx::any::AnyRow) -> Result<WebhookDelivery> {
    Ok(WebhookDelivery {
        id: r.try_get("id")?,
        subscription_id: r.try_get("subscription_id")?,
        event_id: r.try_get("event_id")?,
        msg_id: r.try_get("msg_id")?,
        event_type: r.try_get("event_type")?,
        payload: r.try_get("payload")?,
        state: r.try_get("state")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: from_ms(r.try_get("next_attempt_at")?),
        give_up_at: from_ms(r.try_get("give_up_at")?),
        last_attempt_at: r.try_get::<Option<i64>, _>("last_attempt_at")?.map(from_ms),
        last_status_code: r.try_get("last_status_code")?,
        last_error: r.try_get("last_error")?,
        created_at: from_ms(r.try_get("created_at")?),
    })
}

/// NotFound when a write by id touched no row (another account's, or gone).
fn exactly_one(done: &sqlx::any::AnyQueryResult, what: &'static str) -> Result<()> {
    if done.rows_affected() == 0 { Err(StoreError::NotFound(what)) } else { Ok(()) }
}

fn events_json(events: &[String]) -> String {
    serde_json::to_string(events).unwrap_or_else(|_| "[]".into())
}

/// The account's active subscriptions and their event types, read in the consumer's transaction.
pub async fn active_webhooks_in(
    tx: &mut AnyConnection,
    account_id: i64,
    happened_at: Timestamp,
) -> Result<Vec<(i64, Vec<String>)>> {
    // A subscription hears of what happens from its creation on, even when
    // the consumer reads the event later (it skips ahead only now and then
    // while nobody subscribes).
    let rows = sqlx::query(
        "SELECT id, events FROM webhook_subscriptions WHERE account_id = $1 AND active = 1 AND created_at <= $2
          ORDER BY id",
    )
    .bind(account_id)
    .bind(to_ms(happened_at))
    .fetch_all(&mut *tx)
    .await?;
    rows.iter()
        .map(|r| {
            let events: String = r.try_get(1)?;
            Ok((r.try_get(0)?, serde_json::from_str(&events).unwrap_or_default()))
        })
        .collect()
}

/// Writes a delivery due now, in the caller's transaction; an event already
/// queued for the subscription (the same `msg_id`) is not queued twice.
pub async fn queue_webhook_delivery(tx: &mut AnyConnection, d: NewDelivery<'_>) -> Result<()> {
    let now = to_ms(d.now);
    sqlx::query(
        "INSERT INTO webhook_deliveries (subscription_id, account_id, event_id, msg_id, event_type, payload, state,
             attempts, next_attempt_at, give_up_at, created_at, contact_id)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $8, $7, $9) ON CONFLICT DO NOTHING",
    )
    .bind(d.subscription_id)
    .bind(d.account_id)
    .bind(d.event_id)
    .bind(d.msg_id)
    .bind(d.event_type)
    .bind(d.payload)
    .bind(now)
    .bind(to_ms(d.now + textdesk_core::webhook::RETRY_FOR))
    .bind(d.contact_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

const CONVERSATION_FACTS: &str = "c.id AS conversation_id, c.inbox_id, c.contact_id, ci.address AS contact_address, \
     c.status AS conversation_status, c.assignee_id, c.team_id";

fn conversation_facts_from(r: &sqlx::any::AnyRow) -> Result<ConversationFacts> {
    Ok(ConversationFacts {
        conversation_id: r.try_get("conversation_id")?,
        inbox_id: r.try_get("inbox_id")?,
        contact_id: r.try_get("contact_id")?,
        contact_address: r.try_get("contact_address")?,
        status: r.try_get("conversation_status")?,
        assignee_id: r.try_get("assignee_id")?,
        team_id: r.try_get("team_id")?,
    })
}

/// A message's facts for a payload (None: it is gone, or a private note).
pub async fn message_facts_in(tx: &mut AnyConnection, message_id: i64) -> Result<Option<MessageFacts>> {
    let sql = format!(
        "SELECT m.id, m.direction, m.body, m.status, m.error, m.created_at, {CONVERSATION_FACTS}
         FROM messages m JOIN conversations c ON c.id = m.conversation_id
         JOIN contact_identities ci ON ci.id = c.identity_id WHERE m.id = $1 AND m.private = 0"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(message_id).fetch_optional(&mut *tx).await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(MessageFacts {
        message_id: r.try_get("id")?,
        direction: r.try_get("direction")?,
        body: r.try_get("body")?,
        status: r.try_get("status")?,
        error: r.try_get("error")?,
        created_at: from_ms(r.try_get("created_at")?),
        conversation: conversation_facts_from(&r)?,
    }))
}

/// A conversation's facts for a payload (None: it is gone).
pub async fn conversation_facts_in(tx: &mut AnyConnection, conversation_id: i64) -> Result<Option<ConversationFacts>> {
    let sql = format!(
        "SELECT {CONVERSATION_FACTS} FROM conversations c JOIN contact_identities ci ON ci.id = c.identity_id
         WHERE c.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(conversation_id).fetch_optional(&mut *tx).await?;
    row.as_ref().map(conversation_facts_from).transpose()
}

impl Store {
    /// Whether any account has a subscription switched on.
    pub async fn any_active_webhook(&self) -> Result<bool> {
        let row = sqlx::query("SELECT COUNT(*) FROM (SELECT 1 FROM webhook_subscriptions WHERE active = 1 LIMIT 1) s")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>(0)? > 0)
    }

    /// Moves the webhooks consumer to the end of the log without reading it,
    /// only while no subscription is on (checked in the same statement, so a
    /// subscription switched on meanwhile misses nothing).
    pub async fn skip_idle_webhook_cursor(&self, cursor: &str) -> Result<()> {
        self.write_one(
            sqlx::query(
                "UPDATE event_cursors SET position = (SELECT COALESCE(MAX(id), 0) FROM event_log), updated_at = $2
              WHERE name = $1 AND position < (SELECT COALESCE(MAX(id), 0) FROM event_log)
                AND NOT EXISTS (SELECT 1 FROM webhook_subscriptions WHERE active = 1)",
            )
            .bind(cursor)
            .bind(to_ms(Timestamp::now())),
        )
        .await?;
        Ok(())
    }

    /// Adds a subscription with its secret (sealed before it is written).
    pub async fn create_webhook(
        &self,
        account_id: i64,
        f: &WebhookFields,
        secret: &str,
    ) -> Result<WebhookSubscription> {
        let now = to_ms(Timestamp::now());
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO webhook_subscriptions (account_id, url, description, events, active, secret, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, '', $6, $6) RETURNING id",
        )
        .bind(account_id)
        .bind(&f.url)
        .bind(&f.description)
        .bind(events_json(&f.events))
        .bind(i64::from(f.active))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let id = returned_id(&row)?;
        // The sealed value is bound to its row, so the id comes first.
        sqlx::query("UPDATE webhook_subscriptions SET secret = $1 WHERE id = $2")
            .bind(self.seal_webhook_secret(id, secret)?)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.webhook(account_id, id).await
    }

    pub async fn webhooks(&self, account_id: i64) -> Result<Vec<WebhookSubscription>> {
        let sql = format!("SELECT {SUB_COLUMNS} FROM webhook_subscriptions WHERE account_id = $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).fetch_all(&self.pool).await?;
        rows.iter().map(sub_from).collect()
    }

    pub async fn webhook(&self, account_id: i64, id: i64) -> Result<WebhookSubscription> {
        let sql = format!("SELECT {SUB_COLUMNS} FROM webhook_subscriptions WHERE account_id = $1 AND id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(id).fetch_optional(&self.pool).await?;
        sub_from(&row.ok_or(StoreError::NotFound("webhook"))?)
    }

    /// Saves the fields. Switching it on again starts its failure count afresh
    /// and clears the notice of an automatic switch-off.
    pub async fn update_webhook(&self, account_id: i64, id: i64, f: &WebhookFields) -> Result<WebhookSubscription> {
        let done = self.write_one(sqlx::query(
            "UPDATE webhook_subscriptions SET url = $1, description = $2, events = $3, active = $4, updated_at = $5,
                 failing_since = CASE WHEN $4 = 1 AND active = 0 THEN NULL ELSE failing_since END,
                 disabled_at = CASE WHEN $4 = 1 THEN NULL ELSE disabled_at END,
                 disabled_reason = CASE WHEN $4 = 1 THEN NULL ELSE disabled_reason END
             WHERE account_id = $6 AND id = $7",
        )
        .bind(&f.url)
        .bind(&f.description)
        .bind(events_json(&f.events))
        .bind(i64::from(f.active))
        .bind(to_ms(Timestamp::now()))
        .bind(account_id)
        .bind(id)
        )
        .await?;
        exactly_one(&done, "webhook")?;
        self.webhook(account_id, id).await
    }

    /// Deletes the subscription and its delivery log.
    pub async fn delete_webhook(&self, account_id: i64, id: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "DELETE FROM webhook_deliveries WHERE subscription_id IN
                 (SELECT id FROM webhook_subscriptions WHERE account_id = $1 AND id = $2)",
        )
        .bind(account_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM webhook_subscriptions WHERE account_id = $1 AND id = $2")
            .bind(account_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        exactly_one(&done, "webhook")?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the signing secret.
    pub async fn set_webhook_secret(&self, account_id: i64, id: i64, secret: &str) -> Result<()> {
        let done = self
            .write_one(
                sqlx::query(
                    "UPDATE webhook_subscriptions SET secret = $1, updated_at = $2 WHERE account_id = $3 AND id = $4",
                )
                .bind(self.seal_webhook_secret(id, secret)?)
                .bind(to_ms(Timestamp::now()))
                .bind(account_id)
                .bind(id),
            )
            .await?;
        exactly_one(&done, "webhook")
    }

    /// A subscription's deliveries, newest first.
    pub async fn webhook_deliveries(&self, subscription_id: i64, limit: i64) -> Result<Vec<WebhookDelivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE subscription_id = $1 ORDER BY id DESC LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(subscription_id)
            .bind(limit.clamp(1, 500))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(delivery_from).collect()
    }

    /// Makes a delivery due again at `now`, with a fresh day of retries; its
    /// `webhook-id` stays, so a receiver that has it already can tell.
    pub async fn resend_webhook_delivery(&self, subscription_id: i64, id: i64, now: Timestamp) -> Result<()> {
        let done = self
            .write_one(
                sqlx::query(
                    "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $1, give_up_at = $2
             WHERE subscription_id = $3 AND id = $4",
                )
                .bind(to_ms(now))
                .bind(to_ms(now + textdesk_core::webhook::RETRY_FOR))
                .bind(subscription_id)
                .bind(id),
            )
            .await?;
        exactly_one(&done, "delivery")
    }

    /// Claims up to `limit` due deliveries of active subscriptions: each is
    /// moved `lease` ahead (compare-and-set; rows locked by another node are
    /// skipped on PostgreSQL), so it is attempted once at a time; a sender that
    /// dies leaves it due again when the lease ends.
    pub async fn claim_webhook_deliveries(
        &self,
        now: Timestamp,
        lease: SignedDuration,
        limit: i64,
    ) -> Result<Vec<DueDelivery>> {
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE OF d SKIP LOCKED",
            Backend::Sqlite => "",
        };
        // A read first: an idle sender takes no write lock.
        let due =
            sqlx::query("SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= $1 LIMIT 1")
                .bind(to_ms(now))
                .fetch_optional(&self.pool)
                .await?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let cols = DELIVERY_COLUMNS.split(", ").map(|c| format!("d.{c}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {cols}, s.account_id AS sub_account, s.url, s.secret FROM webhook_deliveries d
             JOIN webhook_subscriptions s ON s.id = d.subscription_id
             WHERE d.state = 'pending' AND d.next_attempt_at <= $1 AND s.active = 1
             ORDER BY d.next_attempt_at, d.id LIMIT $2 {lock}"
        );
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(to_ms(now)).bind(limit).fetch_all(&mut *tx).await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for r in &rows {
            let delivery = delivery_from(r)?;
            let moved = sqlx::query(
                "UPDATE webhook_deliveries SET next_attempt_at = $1
                 WHERE id = $2 AND state = 'pending' AND next_attempt_at = $3",
            )
            .bind(to_ms(now + lease))
            .bind(delivery.id)
            .bind(to_ms(delivery.next_attempt_at))
            .execute(&mut *tx)
            .await?;
            if moved.rows_affected() == 1 {
                let secret = self.open_webhook_secret(delivery.subscription_id, r.try_get("secret")?)?;
                claimed.push(DueDelivery {
                    account_id: r.try_get("sub_account")?,
                    url: r.try_get("url")?,
                    secret,
                    delivery,
                });
            }
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Records an attempt's end on the delivery and on its subscription's run
    /// of failures; returns the subscription as it is now.
    pub async fn finish_webhook_attempt(
        &self,
        d: &WebhookDelivery,
        end: &AttemptEnd,
        now: Timestamp,
    ) -> Result<WebhookSubscription> {
        let mut tx = self.begin_write().await?;
        let (state, code, error, next) = match end {
            AttemptEnd::Delivered { status } => ("delivered", Some(i64::from(*status)), None, None),
            AttemptEnd::Failed { status, error, next: Some(n) } => {
                ("pending", status.map(i64::from), Some(error.as_str()), Some(to_ms(*n)))
            }
            AttemptEnd::Failed { status, error, next: None } => {
                ("failed", status.map(i64::from), Some(error.as_str()), None)
            }
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, last_attempt_at = $2,
                 last_status_code = $3, last_error = $4, next_attempt_at = COALESCE($5, next_attempt_at)
             WHERE id = $6",
        )
        .bind(state)
        .bind(to_ms(now))
        .bind(code)
        .bind(error)
        .bind(next)
        .bind(d.id)
        .execute(&mut *tx)
        .await?;
        let mark = if matches!(end, AttemptEnd::Delivered { .. }) {
            sqlx::query("UPDATE webhook_subscriptions SET failing_since = NULL WHERE id = $1").bind(d.subscription_id)
        } else {
            sqlx::query("UPDATE webhook_subscriptions SET failing_since = COALESCE(failing_since, $1) WHERE id = $2")
                .bind(to_ms(now))
                .bind(d.subscription_id)
        };
        mark.execute(&mut *tx).await?;
        let sql = format!("SELECT {SUB_COLUMNS} FROM webhook_subscriptions WHERE id = $1");
        let sub = sub_from(&sqlx::query(sqlx::AssertSqlSafe(sql)).bind(d.subscription_id).fetch_one(&mut *tx).await?)?;
        tx.commit().await?;
        Ok(sub)
    }

    /// Deletes finished deliveries (delivered or failed) made before `before`; returns how many.
    pub async fn prune_webhook_deliveries(&self, before: Timestamp) -> Result<u64> {
        let done = self
            .write_one(
                sqlx::query("DELETE FROM webhook_deliveries WHERE state <> 'pending' AND created_at < $1")
                    .bind(to_ms(before)),
            )
            .await?;
        Ok(done.rows_affected())
    }

    /// Switches a subscription off for failing, with the reason admins are
    /// shown, and logs it (account-wide: conversation id 0) so their open
    /// pages alert them. False when it was already off (another node did it).
    pub async fn disable_failing_webhook(
        &self,
        account_id: i64,
        id: i64,
        reason: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE webhook_subscriptions SET active = 0, disabled_at = $1, disabled_reason = $2, updated_at = $1
             WHERE id = $3 AND account_id = $4 AND active = 1",
        )
        .bind(to_ms(now))
        .bind(reason)
        .bind(id)
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        let ev = DomainEvent::WebhookSwitchedOff { subscription_id: id };
        crate::events::append(&mut tx, (account_id, 0), &ev, None, now).await?;
        self.commit(tx).await?;
        Ok(true)
    }

    /// How many of the account's subscriptions were switched off for failing
    /// and not switched on again since.
    pub async fn switched_off_webhooks(&self, account_id: i64) -> Result<u32> {
        let n: i64 = sqlx::query(
            "SELECT COUNT(*) FROM webhook_subscriptions WHERE account_id = $1 AND active = 0 AND disabled_reason IS NOT NULL",
        )
        .bind(account_id)
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
}
