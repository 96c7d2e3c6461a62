//! Messages waiting in the outbox for a later moment: chosen by an agent or
//! the API, or deferred by the gate out of the customer's quiet hours. They are
//! outbox rows with `not_before`, so a restart loses none; while a row is still
//! `queued` it can be edited, moved, sent now or cancelled. Once a dispatcher
//! has claimed it, it is on its way and these changes are refused.

use jiff::Timestamp;
use textdesk_core::event::{DomainEvent, ScheduleAction};

use crate::events::append;
use sqlx::Row;
use textdesk_core::gate::{BlockReason, OutboundKind, Timing};
use textdesk_core::{Body, segments};

use crate::messages::gate_in_tx;
use crate::{Message, Result, Store, StoreError, to_ms};

/// A change to a waiting message. `send_at: None` means "as soon as the gate allows".
pub struct Reschedule {
    pub account_id: i64,
    pub message_id: i64,
    pub actor_id: Option<i64>,
    /// A new text, or None to keep it.
    pub body: Option<Body>,
    pub send_at: Option<Timestamp>,
    pub now: Timestamp,
    /// The contact's clock at the moment asked for.
    pub timing: Option<Timing>,
    /// What the conversation's channel allows (its reply window).
    pub channel: textdesk_core::Capabilities,
}

/// The waiting message as its conversation and outbox know it.
struct Waiting {
    conversation_id: i64,
    contact_id: i64,
    inbox_id: i64,
    kind: OutboundKind,
    /// Sent as a provider template: a closed reply window does not hold it.
    template: bool,
    /// A person wrote it (Messenger's human-agent window is theirs only).
    by_person: bool,
}

impl Store {
    /// The conversation's messages that have not gone yet, soonest first.
    pub async fn scheduled_messages(&self, account_id: i64, conversation_id: i64) -> Result<Vec<Message>> {
        self.conversation(account_id, conversation_id).await?;
        let ids: Vec<i64> = sqlx::query(
            "SELECT m.id FROM messages m JOIN outbox o ON o.message_id = m.id
             WHERE m.conversation_id = $1 AND o.state = 'queued' ORDER BY o.not_before, m.id",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.message(id).await?);
        }
        Ok(out)
    }

    /// The conversation a message belongs to, within the account.
    pub async fn message_in_account(&self, account_id: i64, message_id: i64) -> Result<Message> {
        let m = self.message(message_id).await?;
        self.conversation(account_id, m.conversation_id).await.map_err(|_| StoreError::NotFound("message"))?;
        Ok(m)
    }

    async fn waiting(tx: &mut sqlx::AnyConnection, account_id: i64, message_id: i64) -> Result<Waiting> {
        let r = sqlx::query(
            "SELECT c.id AS conversation_id, c.contact_id, c.inbox_id, o.kind, o.state, m.template, m.author_id FROM messages m
             JOIN conversations c ON c.id = m.conversation_id
             LEFT JOIN outbox o ON o.message_id = m.id
             WHERE m.id = $1 AND c.account_id = $2",
        )
        .bind(message_id)
        .bind(account_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("message"))?;
        if r.try_get::<Option<String>, _>("state")?.as_deref() != Some("queued") {
            return Err(StoreError::Conflict(
                "this message is no longer waiting: it has been sent or is being sent".into(),
            ));
        }
        let kind: String = r.try_get("kind")?;
        Ok(Waiting {
            conversation_id: r.try_get("conversation_id")?,
            contact_id: r.try_get("contact_id")?,
            inbox_id: r.try_get("inbox_id")?,
            kind: OutboundKind::parse(&kind).unwrap_or(OutboundKind::Reply),
            template: r.try_get::<Option<String>, _>("template")?.is_some(),
            by_person: r.try_get::<Option<i64>, _>("author_id")?.is_some(),
        })
    }

    /// Edits, moves or ("send now") brings forward a waiting message; the gate
    /// decides again on the new moment. Blocked leaves the message as it was.
    pub async fn reschedule(&self, r: Reschedule) -> Result<Result<Message, BlockReason>> {
        let mut tx = self.begin_write().await?;
        let w = Self::waiting(&mut tx, r.account_id, r.message_id).await?;
        let (status, at) = match gate_in_tx(
            &mut tx,
            (w.conversation_id, w.contact_id, w.inbox_id),
            w.kind,
            (r.now, r.send_at),
            r.timing,
            (r.channel, w.template, w.by_person),
        )
        .await?
        {
            Err(reason) => return Ok(Err(reason)),
            Ok(v) => v,
        };
        let now = to_ms(r.now);
        if let Some(body) = &r.body {
            let count = segments::count(body.as_str());
            sqlx::query("UPDATE messages SET body = $1, segments = $2, encoding = $3 WHERE id = $4")
                .bind(body.as_str())
                .bind(count.segments as i64)
                .bind(count.encoding.as_str())
                .bind(r.message_id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE messages SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(now)
            .bind(r.message_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE outbox SET not_before = $1, updated_at = $2 WHERE message_id = $3 AND state = 'queued'")
            .bind(to_ms(at))
            .bind(now)
            .bind(r.message_id)
            .execute(&mut *tx)
            .await?;
        let action = if r.send_at.is_none_or(|t| t <= r.now) { ScheduleAction::SendNow } else { ScheduleAction::Moved };
        let ev = DomainEvent::ScheduleChanged { action, message_id: r.message_id, send_at: Some(at), body: None };
        append(&mut tx, (r.account_id, w.conversation_id), &ev, r.actor_id, r.now).await?;
        self.commit(tx).await?;
        Ok(Ok(self.message(r.message_id).await?))
    }

    /// Cancels a waiting message: it leaves the thread, and the timeline keeps
    /// what it said and who cancelled it.
    pub async fn cancel_scheduled(
        &self,
        account_id: i64,
        message_id: i64,
        actor_id: Option<i64>,
        now: Timestamp,
    ) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let w = Self::waiting(&mut tx, account_id, message_id).await?;
        let body: String = sqlx::query("SELECT body FROM messages WHERE id = $1")
            .bind(message_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("body")?;
        sqlx::query("DELETE FROM outbox WHERE message_id = $1").bind(message_id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM messages WHERE id = $1").bind(message_id).execute(&mut *tx).await?;
        let ev = DomainEvent::ScheduleChanged {
            action: ScheduleAction::Cancelled,
            message_id,
            send_at: None,
            body: Some(body),
        };
        append(&mut tx, (account_id, w.conversation_id), &ev, actor_id, now).await?;
        self.commit(tx).await?;
        Ok(w.conversation_id)
    }
}
