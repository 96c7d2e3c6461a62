//! Automatic replies that must go at most once for a given occasion: the
//! off-hours reply (once per closed period) and the "we have your message"
//! holding text (once per wait). The mark and the message are written in one
//! transaction, so two nodes racing on the same conversation send one.

use jiff::Timestamp;
use sqlx::Row;

use crate::{NewOutbound, OutboundOutcome, Result, Store, from_ms, to_ms};

/// Which once-only reply, and the column that remembers its occasion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occasion {
    /// Names the opening the reply promised.
    OffHours,
    /// Names the start of the customer's wait.
    Acknowledgement,
}

impl Occasion {
    fn column(self) -> &'static str {
        match self {
            Occasion::OffHours => "off_hours_replied_for",
            Occasion::Acknowledgement => "acknowledged_wait",
        }
    }
}

/// An open conversation whose customer has waited since `waiting_since` with
/// no holding message yet for that wait.
#[derive(Debug, Clone)]
pub struct Waiting {
    pub conversation_id: i64,
    pub account_id: i64,
    pub waiting_since: Timestamp,
}

impl Store {
    /// Sends `new` unless a reply for this `occasion` (named by `key`) already
    /// went in this conversation. Returns None when it had.
    pub async fn send_once(
        &self,
        occasion: Occasion,
        key: Timestamp,
        new: NewOutbound,
    ) -> Result<Option<OutboundOutcome>> {
        let conv = self.conversation(new.account_id, new.conversation_id).await?;
        let mut tx = self.begin_write().await?;
        let col = occasion.column();
        let marked = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE conversations SET {col} = $1 WHERE id = $2 AND ({col} IS NULL OR {col} <> $1)"
        )))
        .bind(to_ms(key))
        .bind(conv.id)
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() == 0 {
            return Ok(None);
        }
        let outcome =
            match crate::messages::insert_outbound(&mut tx, (conv.id, conv.inbox_id, conv.contact_id), &new).await? {
                // Blocked (the customer opted out): the mark stays, so it is not retried for this occasion.
                Err(reason) => OutboundOutcome::Blocked(reason),
                Ok(id) => {
                    self.commit(tx).await?;
                    return Ok(Some(OutboundOutcome::Stored(Box::new(self.message(id).await?))));
                }
            };
        self.commit(tx).await?;
        Ok(Some(outcome))
    }

    /// Open conversations of `inbox_id` waiting since before `since` with no
    /// holding message for that wait.
    pub async fn unacknowledged_waits(&self, inbox_id: i64, since: Timestamp, limit: i64) -> Result<Vec<Waiting>> {
        let rows = sqlx::query(
            "SELECT id, account_id, waiting_since FROM conversations
             WHERE inbox_id = $1 AND status = 'open' AND waiting_since IS NOT NULL AND waiting_since <= $2
               AND (acknowledged_wait IS NULL OR acknowledged_wait <> waiting_since)
             ORDER BY waiting_since LIMIT $3",
        )
        .bind(inbox_id)
        .bind(to_ms(since))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Waiting {
                    conversation_id: r.try_get("id")?,
                    account_id: r.try_get("account_id")?,
                    waiting_since: from_ms(r.try_get("waiting_since")?),
                })
            })
            .collect()
    }
}
