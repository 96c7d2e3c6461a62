//! Answering on another of the customer's channels: when they last wrote
//! through each inbox, and the move of a conversation to the channel a reply
//! is sent through (as continue-by-text moves a web chat to SMS: one
//! conversation, each message keeping the inbox it went through).

use jiff::Timestamp;
use sqlx::Row;
use textdesk_core::Medium;
use textdesk_core::event::DomainEvent;

use crate::{Conversation, Result, Store, from_ms, to_ms};

/// Where a reply goes when it is not the conversation's own channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub inbox_id: i64,
    /// The customer's address on that inbox's medium.
    pub identity_id: i64,
    pub medium: Medium,
}

/// The customer's last message through `inbox_id`, in any of their
/// conversations (a merge can leave one channel's messages in another
/// thread): what a channel's reply window counts from.
pub(crate) async fn last_inbound_through(
    tx: &mut sqlx::AnyConnection,
    contact_id: i64,
    inbox_id: i64,
) -> Result<Option<Timestamp>> {
    Ok(sqlx::query(
        "SELECT MAX(m.created_at) AS last FROM messages m JOIN conversations c ON c.id = m.conversation_id
         WHERE c.contact_id = $1 AND m.inbox_id = $2 AND m.direction = 'inbound'",
    )
    .bind(contact_id)
    .bind(inbox_id)
    .fetch_one(&mut *tx)
    .await?
    .try_get::<Option<i64>, _>("last")?
    .map(from_ms))
}

/// The same read for the dispatcher's claim (`o` the outbox row, `c` its
/// conversation, `ib` its inbox): only on media with a reply window, so an
/// SMS send pays nothing for it.
pub(crate) fn window_inbound_sql() -> String {
    let windowed: Vec<String> =
        Medium::ALL.iter().filter(|m| m.reply_window().is_some()).map(|m| format!("'{}'", m.as_str())).collect();
    format!(
        "CASE WHEN ib.medium IN ({}) THEN (SELECT MAX(w.created_at) FROM messages w JOIN conversations wc ON wc.id = w.conversation_id
           WHERE wc.contact_id = c.contact_id AND w.inbox_id = o.inbox_id AND w.direction = 'inbound') END",
        windowed.join(", ")
    )
}

/// Moves `conv` to `route`'s inbox and address, with the timeline's entry,
/// in the caller's transaction (which also writes the message that goes
/// through it; a blocked message rolls both back).
pub(crate) async fn move_conversation(
    tx: &mut sqlx::AnyConnection,
    conv: &Conversation,
    route: &Route,
    actor: Option<i64>,
    now: Timestamp,
) -> Result<()> {
    sqlx::query("UPDATE conversations SET inbox_id = $1, identity_id = $2, last_activity_at = $3 WHERE id = $4")
        .bind(route.inbox_id)
        .bind(route.identity_id)
        .bind(to_ms(now))
        .bind(conv.id)
        .execute(&mut *tx)
        .await?;
    let moved = DomainEvent::ChannelMoved {
        from_inbox_id: conv.inbox_id,
        to_inbox_id: route.inbox_id,
        to_medium: route.medium.as_str().into(),
        consent_id: None,
    };
    crate::events::append(tx, (conv.account_id, conv.id), &moved, actor, now).await?;
    Ok(())
}

impl Store {
    /// When the contact last wrote through each inbox (any conversation).
    pub async fn last_inbound_by_inbox(&self, contact_id: i64) -> Result<Vec<(i64, Timestamp)>> {
        let rows = sqlx::query(
            "SELECT m.inbox_id, MAX(m.created_at) AS last FROM messages m JOIN conversations c ON c.id = m.conversation_id
             WHERE c.contact_id = $1 AND m.direction = 'inbound' GROUP BY m.inbox_id",
        )
        .bind(contact_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("inbox_id")?, from_ms(r.try_get("last")?)))).collect()
    }

    /// One identity's address (the caller has it from the contact's identities).
    pub async fn identity_address(&self, identity_id: i64) -> Result<String> {
        sqlx::query("SELECT address FROM contact_identities WHERE id = $1")
            .bind(identity_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(crate::StoreError::NotFound("identity"))?
            .try_get::<String, _>("address")
            .map_err(Into::into)
    }
}
