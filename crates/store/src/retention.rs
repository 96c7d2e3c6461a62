//! An account's retention policy: messages (and their media) of resolved
//! conversations older than a cut-off are deleted or redacted. Deleting also
//! takes the event log's rows about those conversations older than the
//! cut-off; redacting keeps them (the timeline and the reports built from the
//! log) with their words taken out, as an erasure does. The dry run and the
//! run read the same rows ([`eligible`]), so what a dry run counts is what a
//! run takes.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{Result, Store, StoreError, from_ms, to_ms};

/// What a redacted message's text becomes.
pub const REDACTED: &str = "[removed by the retention policy]";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionAction {
    /// Messages and their media are deleted.
    Delete,
    /// Messages stay (who wrote when, delivery) with their words and media gone.
    Redact,
}

impl RetentionAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionAction::Delete => "delete",
            RetentionAction::Redact => "redact",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "delete" => Ok(RetentionAction::Delete),
            "redact" => Ok(RetentionAction::Redact),
            _ => Err(StoreError::Invalid("the retention action is delete or redact".into())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    /// Kept this many months after they were written (1 to 120).
    pub months: u32,
    pub action: RetentionAction,
}

/// A policy as stored, with when it last ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredRetention {
    pub account_id: i64,
    pub policy: RetentionPolicy,
    pub last_run_at: Option<Timestamp>,
}

/// What a run takes (or a dry run would).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RetentionCounts {
    /// Resolved conversations with something past the cut-off.
    pub conversations: i64,
    pub messages: i64,
    /// Attachments (rows; their files go with them).
    pub files: i64,
    /// Rows of the event log.
    pub events: i64,
}

/// The messages a run takes ($1 account, $2 cut-off): in resolved
/// conversations, written before the cut-off; for a redaction, those not
/// redacted yet (or still holding media).
fn eligible(action: RetentionAction) -> String {
    let not_done = match action {
        RetentionAction::Delete => String::new(),
        RetentionAction::Redact => {
            format!(" AND (m.body <> '{REDACTED}' OR EXISTS (SELECT 1 FROM media md WHERE md.message_id = m.id))")
        }
    };
    format!(
        "SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id
         WHERE c.account_id = $1 AND c.status = 'resolved' AND m.created_at < $2{not_done}"
    )
}

/// The event log's rows a run takes ($1 account, $2 cut-off, $3 the slowest
/// durable consumer's position): older than the cut-off, about resolved
/// conversations, already passed by every consumer (a lagging one keeps
/// them until it has read them), never the newest row (the live streams
/// read "is this id still given out" from the largest id).
const EVENTS: &str = "FROM event_log WHERE account_id = $1 AND created_at < $2 AND id <= $3
     AND conversation_id IN (SELECT id FROM conversations WHERE account_id = $1 AND status = 'resolved')
     AND id < (SELECT MAX(id) FROM event_log)";

async fn counts(
    tx: &mut sqlx::AnyConnection,
    account_id: i64,
    action: RetentionAction,
    cutoff: i64,
) -> Result<(RetentionCounts, i64)> {
    let messages = eligible(action);
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*), COUNT(DISTINCT m.conversation_id) FROM messages m WHERE m.id IN ({messages})"
    )))
    .bind(account_id)
    .bind(cutoff)
    .fetch_one(&mut *tx)
    .await?;
    let (message_count, conversations): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
    let files: i64 =
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM media WHERE message_id IN ({messages})")))
            .bind(account_id)
            .bind(cutoff)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
    let slowest: Option<i64> =
        sqlx::query("SELECT MIN(position) FROM event_cursors").fetch_one(&mut *tx).await?.try_get(0)?;
    let slowest = slowest.unwrap_or(i64::MAX);
    if action == RetentionAction::Redact {
        return Ok((RetentionCounts { conversations, messages: message_count, files, events: 0 }, slowest));
    }
    let events: i64 = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) {EVENTS}")))
        .bind(account_id)
        .bind(cutoff)
        .bind(slowest)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
    Ok((RetentionCounts { conversations, messages: message_count, files, events }, slowest))
}

impl Store {
    pub async fn retention_policy(&self, account_id: i64) -> Result<Option<StoredRetention>> {
        let row =
            sqlx::query("SELECT account_id, months, action, last_run_at FROM retention_policies WHERE account_id = $1")
                .bind(account_id)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(stored_from).transpose()
    }

    /// Every account's policy (the schedule runs the due ones).
    pub async fn retention_policies(&self) -> Result<Vec<StoredRetention>> {
        let rows =
            sqlx::query("SELECT account_id, months, action, last_run_at FROM retention_policies ORDER BY account_id")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(stored_from).collect()
    }

    /// Sets the policy (None: keep everything).
    pub async fn set_retention_policy(&self, account_id: i64, policy: Option<RetentionPolicy>) -> Result<()> {
        let now = to_ms(Timestamp::now());
        match policy {
            None => {
                self.write_one(sqlx::query("DELETE FROM retention_policies WHERE account_id = $1").bind(account_id))
                    .await?;
            }
            Some(p) => {
                self.write_one(sqlx::query(
                    "INSERT INTO retention_policies (account_id, months, action, updated_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (account_id) DO UPDATE SET months = $2, action = $3, updated_at = $4",
                )
                .bind(account_id)
                .bind(i64::from(p.months))
                .bind(p.action.as_str())
                .bind(now)
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Takes the account's run for this period: true for exactly one caller
    /// across every node (a compare-and-set on `last_run_at`), when the last
    /// run began at or before `due_before`.
    pub async fn claim_retention_run(&self, account_id: i64, now: Timestamp, due_before: Timestamp) -> Result<bool> {
        let done = self
            .write_one(
                sqlx::query(
                    "UPDATE retention_policies SET last_run_at = $2
             WHERE account_id = $1 AND (last_run_at IS NULL OR last_run_at <= $3)",
                )
                .bind(account_id)
                .bind(to_ms(now))
                .bind(to_ms(due_before)),
            )
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// What a run with `action` and `cutoff` would take now.
    pub async fn retention_counts(
        &self,
        account_id: i64,
        action: RetentionAction,
        cutoff: Timestamp,
    ) -> Result<RetentionCounts> {
        let mut tx = self.pool.begin().await?;
        let (c, _) = counts(&mut tx, account_id, action, to_ms(cutoff)).await?;
        tx.rollback().await?;
        Ok(c)
    }

    /// Runs the policy in one transaction; returns what went and the media
    /// files no row names any more (the caller deletes them).
    pub async fn apply_retention(
        &self,
        account_id: i64,
        action: RetentionAction,
        cutoff: Timestamp,
    ) -> Result<(RetentionCounts, Vec<String>)> {
        let cutoff = to_ms(cutoff);
        let mut tx = self.begin_write().await?;
        let (c, slowest) = counts(&mut tx, account_id, action, cutoff).await?;
        let messages = eligible(action);
        let files = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT stored_name FROM media WHERE stored_name IS NOT NULL AND message_id IN ({messages})"
        )))
        .bind(account_id)
        .bind(cutoff)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<Vec<_>, _>>()?;
        // Conversations with nothing newer than the cut-off lose their stored preview.
        sqlx::query(
            "UPDATE conversations SET preview = '' WHERE account_id = $1 AND status = 'resolved' AND last_activity_at < $2",
        )
        .bind(account_id)
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        let mut steps = vec![
            format!("DELETE FROM media WHERE message_id IN ({messages})"),
            // An escalation's reason may quote the customer: it goes with their words.
            "UPDATE escalations SET reason = NULL WHERE account_id = $1 AND created_at < $2
             AND conversation_id IN (SELECT id FROM conversations WHERE account_id = $1 AND status = 'resolved')"
                .to_owned(),
            // A poll's comment too (its score stays for the reports).
            "UPDATE surveys SET comment = NULL WHERE account_id = $1 AND created_at < $2
             AND conversation_id IN (SELECT id FROM conversations WHERE account_id = $1 AND status = 'resolved')"
                .to_owned(),
        ];
        match action {
            RetentionAction::Delete => {
                // The consent ledger outlives the message that was its evidence.
                steps.push(format!("UPDATE consent_events SET message_id = NULL WHERE message_id IN ({messages})"));
                steps.push(format!("DELETE FROM messages WHERE id IN ({messages})"));
            }
            RetentionAction::Redact => steps.push(format!(
                "UPDATE messages SET body = '{REDACTED}', media = '[]', error = NULL, template = NULL WHERE id IN ({messages})"
            )),
        }
        for sql in steps {
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(cutoff).execute(&mut *tx).await?;
        }
        match action {
            RetentionAction::Delete => {
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE {EVENTS}")))
                    .bind(account_id)
                    .bind(cutoff)
                    .bind(slowest)
                    .execute(&mut *tx)
                    .await?;
            }
            RetentionAction::Redact => {
                let select = "SELECT id, data FROM event_log WHERE account_id = $1 AND created_at < $2
                    AND conversation_id IN (SELECT id FROM conversations WHERE account_id = $1 AND status = 'resolved')";
                crate::privacy::scrub_selected_events(&mut tx, select, &[account_id, cutoff]).await?;
            }
        }
        self.commit(tx).await?;
        Ok((c, files))
    }
}

fn stored_from(r: &sqlx::any::AnyRow) -> Result<StoredRetention> {
    let months: i64 = r.try_get("months")?;
    let action: String = r.try_get("action")?;
    Ok(StoredRetention {
        account_id: r.try_get("account_id")?,
        policy: RetentionPolicy {
            months: u32::try_from(months).unwrap_or(u32::MAX),
            action: RetentionAction::parse(&action)?,
        },
        last_run_at: r.try_get::<Option<i64>, _>("last_run_at")?.map(from_ms),
    })
}
