//! A business-started message (an API notification, an agent's new
//! conversation): the contact, the conversation and the message are stored in
//! one transaction, with the client's idempotency key when it gave one. The
//! gate decides inside it, as for every send; a blocked one stores nothing,
//! not even the contact.

use jiff::Timestamp;
use sqlx::Row;
use textdesk_core::Address;
use textdesk_core::event::DomainEvent;
use textdesk_core::gate::BlockReason;

use crate::messages::{Keyed, insert_outbound};
use crate::{IdemKey, Message, NewOutbound, Result, Store, StoreError, is_unique_violation, returned_id, to_ms};

/// A notification stored and queued (or waiting for the customer's morning).
#[derive(Debug, Clone)]
pub struct Notified {
    pub message: Message,
    pub contact_id: i64,
    pub conversation_id: i64,
    /// The message opened a new conversation (rather than continuing one).
    pub new_conversation: bool,
}

#[derive(Debug, Clone)]
pub enum NotifyOutcome {
    Stored(Box<Notified>),
    Blocked(BlockReason),
}

/// The conversation a business-started message to this identity belongs in:
/// the latest one on the inbox not resolved, or a new one whose creation
/// says `reason`. Returns its id and whether it is new.
pub(crate) async fn conversation_for(
    tx: &mut sqlx::AnyConnection,
    (account_id, inbox_id): (i64, i64),
    (identity_id, contact_id): (i64, i64),
    (reason, actor_id): (&str, Option<i64>),
    now: Timestamp,
) -> Result<(i64, bool)> {
    let open = sqlx::query(
        "SELECT id FROM conversations WHERE contact_id = $1 AND inbox_id = $2 AND identity_id = $3 AND status <> 'resolved' ORDER BY id DESC LIMIT 1",
    )
    .bind(contact_id)
    .bind(inbox_id)
    .bind(identity_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(r) = open {
        return Ok((r.try_get::<i64, _>("id")?, false));
    }
    let r = sqlx::query(
        "INSERT INTO conversations (account_id, inbox_id, contact_id, identity_id, status, last_activity_at, created_at) VALUES ($1, $2, $3, $4, 'open', $5, $5) RETURNING id",
    )
    .bind(account_id)
    .bind(inbox_id)
    .bind(contact_id)
    .bind(identity_id)
    .bind(to_ms(now))
    .fetch_one(&mut *tx)
    .await?;
    let id = returned_id(&r)?;
    let ev = DomainEvent::ConversationCreated { reason: Some(reason.into()) };
    crate::events::append(tx, (account_id, id), &ev, actor_id, now).await?;
    Ok((id, true))
}

impl Store {
    /// Sends `new` (its conversation left to this function) to `to` on the
    /// inbox: creates the contact if needed, continues their open
    /// conversation there or opens one (`reason`), and queues the message
    /// through the gate, all in one transaction with the key's claim.
    pub async fn send_notification(
        &self,
        inbox_id: i64,
        to: &Address,
        reason: &str,
        new: NewOutbound,
        key: Option<&IdemKey>,
    ) -> Result<Keyed<NotifyOutcome>> {
        self.inbox(new.account_id, inbox_id).await?;
        let mut attempt = 0;
        loop {
            // Two first messages to one new number race to create its contact:
            // the loser runs again and finds the winner's.
            match self.try_send_notification(inbox_id, to, reason, &new, key).await {
                Err(StoreError::Db(e)) if is_unique_violation(&e) && attempt < 3 => attempt += 1,
                other => return other,
            }
        }
    }

    async fn try_send_notification(
        &self,
        inbox_id: i64,
        to: &Address,
        reason: &str,
        new: &NewOutbound,
        key: Option<&IdemKey>,
    ) -> Result<Keyed<NotifyOutcome>> {
        let account_id = new.account_id;
        let mut tx = self.begin_write().await?;
        if let Some(key) = key
            && !crate::idempotency::claim(&mut tx, key, new.now).await?
        {
            return Ok(Keyed::Taken);
        }
        let who = crate::contacts::contact_for(self, &mut tx, account_id, to, to_ms(new.now)).await?.pair();
        let place = (account_id, inbox_id);
        let (conversation_id, new_conversation) =
            conversation_for(&mut tx, place, who, (reason, new.author_id), new.now).await?;
        let message_id = match insert_outbound(&mut tx, (conversation_id, inbox_id, who.1), new).await? {
            Ok(id) => id,
            Err(reason) => return Ok(Keyed::Fresh(NotifyOutcome::Blocked(reason))),
        };
        if let Some(key) = key {
            crate::idempotency::bind_message(&mut tx, key, message_id).await?;
        }
        self.commit(tx).await?;
        let message = self.message(message_id).await?;
        let notified = Notified { message, contact_id: who.1, conversation_id, new_conversation };
        Ok(Keyed::Fresh(NotifyOutcome::Stored(Box::new(notified))))
    }
}

impl Store {
    /// The contact an address belongs to, created (with its identity) when
    /// new: a consent given by phone is recorded against it before the first text.
    pub async fn contact_for_address(&self, account_id: i64, to: &Address) -> Result<i64> {
        let mut attempt = 0;
        loop {
            let mut tx = self.begin_write().await?;
            match crate::contacts::contact_for(self, &mut tx, account_id, to, to_ms(Timestamp::now())).await {
                Ok(sender) => {
                    self.commit(tx).await?;
                    return Ok(sender.contact_id);
                }
                Err(StoreError::Db(e)) if is_unique_violation(&e) && attempt < 3 => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// The consent that counts for a contact on an inbox (its scope's, or the account's).
    pub async fn consent_on_inbox(&self, contact_id: i64, inbox_id: i64) -> Result<textdesk_core::ConsentState> {
        let mut conn = self.pool.acquire().await?;
        crate::consent::scoped_state(&mut conn, contact_id, inbox_id).await
    }
}
