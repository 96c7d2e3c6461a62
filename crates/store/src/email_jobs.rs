//! Emails that automations ask for. The rule writes a job in the engine's
//! transaction (no mail server is spoken to while it is open); the email
//! worker claims each due job with a lease, sends it with no transaction
//! open, and records the outcome: the escalation and its event once sent, a
//! later try, or the failure in the thread.

use jiff::{SignedDuration, Timestamp};
use sqlx::{AnyConnection, Row};
use textdesk_core::escalation::{EmailContent, EscalationKind};
use textdesk_core::event::DomainEvent;

use crate::escalations::{Written, write_escalation};
use crate::{Result, Store, from_ms, returned_id, to_ms};

/// A job this node claimed.
#[derive(Debug, Clone)]
pub struct EmailJob {
    pub id: i64,
    pub account_id: i64,
    pub conversation_id: i64,
    pub content: EmailContent,
    /// Tries so far, this one included.
    pub attempts: u32,
    /// This node's claim: the outcome is kept only while it still holds.
    pub lease_until: Timestamp,
}

/// A rule's email, queued in the automations engine's transaction.
pub async fn queue_email(
    conn: &mut AnyConnection,
    (account_id, conversation_id, rule_id): (i64, i64, i64),
    content: EmailContent,
    now: Timestamp,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO email_jobs (account_id, conversation_id, rule_id, content, state, next_at, created_at)
         VALUES ($1, $2, $3, $4, 'queued', $5, $5) RETURNING id",
    )
    .bind(account_id)
    .bind(conversation_id)
    .bind(rule_id)
    .bind(content.as_str())
    .bind(to_ms(now))
    .fetch_one(&mut *conn)
    .await?;
    returned_id(&row)
}

impl Store {
    /// Claims up to `limit` due jobs for `lease`: each is taken by one node
    /// only (a compare-and-set on its lease), and by another once the lease
    /// has run out (the node stopped mid-send).
    pub async fn claim_email_jobs(&self, now: Timestamp, lease: SignedDuration, limit: i64) -> Result<Vec<EmailJob>> {
        let due = sqlx::query(
            "SELECT id FROM email_jobs WHERE state = 'queued' AND next_at <= $1
               AND (lease_until IS NULL OR lease_until <= $1) ORDER BY next_at, id LIMIT $2",
        )
        .bind(to_ms(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let until = to_ms(now + lease);
        let mut claimed = Vec::new();
        for r in due {
            let id: i64 = r.try_get("id")?;
            let mut tx = self.begin_write().await?;
            let took = sqlx::query(
                "UPDATE email_jobs SET lease_until = $1, attempts = attempts + 1
                 WHERE id = $2 AND state = 'queued' AND next_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)",
            )
            .bind(until)
            .bind(id)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if took == 0 {
                continue;
            }
            let r = sqlx::query("SELECT account_id, conversation_id, content, attempts FROM email_jobs WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            self.commit(tx).await?;
            let content: String = r.try_get("content")?;
            claimed.push(EmailJob {
                id,
                account_id: r.try_get("account_id")?,
                conversation_id: r.try_get("conversation_id")?,
                content: EmailContent::parse(Some(content.as_str()))?,
                attempts: u32::try_from(r.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
                lease_until: from_ms(until),
            });
        }
        Ok(claimed)
    }

    /// The mail server took the job's email: the escalation (with the
    /// `Reply-To` that brings the reply back) and its event, once. False
    /// when this node's claim had lapsed and another node finished it.
    pub async fn email_job_sent(&self, job: &EmailJob, reply_to: &str, now: Timestamp) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE email_jobs SET state = 'sent', lease_until = NULL, last_error = NULL
             WHERE id = $1 AND state = 'queued' AND lease_until = $2",
        )
        .bind(job.id)
        .bind(to_ms(job.lease_until))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            return Ok(false);
        }
        let w = Written {
            kind: EscalationKind::Email,
            reason: None,
            supervisor_id: None,
            kept_agent: false,
            link: Some(reply_to.to_owned()),
            message_id: None,
        };
        let escalation = write_escalation(&mut tx, (job.account_id, job.conversation_id, None), w, now).await?;
        sqlx::query("UPDATE email_jobs SET escalation_id = $1 WHERE id = $2")
            .bind(escalation)
            .bind(job.id)
            .execute(&mut *tx)
            .await?;
        self.commit(tx).await?;
        Ok(true)
    }

    /// The email was not sent: tried again at `retry_at`, or, with none, given
    /// up with the server's words in the thread.
    pub async fn email_job_failed(
        &self,
        job: &EmailJob,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let (state, next_at) = match retry_at {
            Some(at) => ("queued", at),
            None => ("failed", now),
        };
        let moved = sqlx::query(
            "UPDATE email_jobs SET state = $1, next_at = $2, lease_until = NULL, last_error = $3
             WHERE id = $4 AND state = 'queued' AND lease_until = $5",
        )
        .bind(state)
        .bind(to_ms(next_at))
        .bind(error)
        .bind(job.id)
        .bind(to_ms(job.lease_until))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved == 1 && retry_at.is_none() {
            let ev = DomainEvent::EmailFailed { job_id: job.id, attempts: job.attempts, error: error.to_owned() };
            crate::events::append(&mut tx, (job.account_id, job.conversation_id), &ev, None, now).await?;
        }
        self.commit(tx).await
    }
}
