//! Web chat visitors: the one conversation a visitor's widget shows, its
//! messages as the visitor may see them, and the move to SMS when they leave
//! their number ("continue by text").

use jiff::Timestamp;
use sqlx::Row;
use textdesk_core::event::DomainEvent;
use textdesk_core::{Address, ConsentState, Medium};

use crate::consent::{NewConsent, record, scope_of_inbox};
use crate::events::append;
use crate::messages::{COLUMNS, message_from};
use crate::{Message, Result, Store, StoreError, returned_id, to_ms};

/// The conversation a visitor's widget shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitorConversation {
    pub conversation_id: i64,
    /// The inbox it moved to when the visitor chose to continue by text.
    pub moved_to: Option<i64>,
}

/// A visitor's request to continue by text, with the words they agreed to.
pub struct HandOff<'a> {
    pub account_id: i64,
    pub conversation_id: i64,
    pub from_inbox_id: i64,
    pub visitor: &'a str,
    pub to_inbox_id: i64,
    pub phone: &'a Address,
    /// What the ledger keeps as the evidence (the page, the time, the words).
    pub evidence: &'a str,
    /// The code texted to `phone` that the visitor typed back: taken as
    /// confirmed in the same transaction, so a code works once.
    pub check_id: i64,
    pub now: Timestamp,
}

impl Store {
    /// The visitor's latest conversation in this web chat inbox, still there
    /// or moved to text.
    pub async fn visitor_conversation(&self, inbox_id: i64, visitor: &str) -> Result<Option<VisitorConversation>> {
        let here = sqlx::query(
            "SELECT c.id FROM conversations c JOIN contact_identities i ON i.id = c.identity_id
             WHERE c.inbox_id = $1 AND i.namespace = $2 AND i.address = $3 ORDER BY c.id DESC LIMIT 1",
        )
        .bind(inbox_id)
        .bind(Medium::Webchat.identity_namespace())
        .bind(visitor)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| r.try_get::<i64, _>("id"))
        .transpose()?;
        let moved = sqlx::query(
            "SELECT conversation_id, to_inbox_id FROM webchat_handoffs WHERE from_inbox_id = $1 AND visitor = $2
             ORDER BY id DESC LIMIT 1",
        )
        .bind(inbox_id)
        .bind(visitor)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| Ok::<_, StoreError>((r.try_get::<i64, _>("conversation_id")?, r.try_get::<i64, _>("to_inbox_id")?)))
        .transpose()?;
        Ok(match (here, moved) {
            (Some(h), Some((m, to))) if m > h => Some(VisitorConversation { conversation_id: m, moved_to: Some(to) }),
            (Some(h), _) => Some(VisitorConversation { conversation_id: h, moved_to: None }),
            (None, Some((m, to))) => Some(VisitorConversation { conversation_id: m, moved_to: Some(to) }),
            (None, None) => None,
        })
    }

    /// The conversation's messages that went through the web chat inbox
    /// (never private notes, never what was later texted), oldest first,
    /// after `after_id`.
    pub async fn visitor_messages(
        &self,
        conversation_id: i64,
        inbox_id: i64,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<Message>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM messages m LEFT JOIN users u ON u.id = m.author_id
             WHERE m.conversation_id = $1 AND m.inbox_id = $2 AND m.private = 0 AND m.id > $3
             ORDER BY m.id DESC LIMIT $4"
        );
        let mut rows: Vec<Message> = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(conversation_id)
            .bind(inbox_id)
            .bind(after_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(message_from)
            .collect::<Result<_>>()?;
        rows.reverse();
        self.attach_media(&mut rows).await?;
        Ok(rows)
    }

    /// Moves the conversation to the SMS inbox, in one transaction: the phone
    /// becomes an identity of the visitor's contact (or, when another contact
    /// already has that number, the conversation and the visitor join that
    /// contact: one person, one history), their consent is recorded with the
    /// evidence, and the timeline says the channel changed. Returns the
    /// consent entry's id. A conversation already moved, or a code already
    /// used, burned or expired, is a conflict and nothing changes.
    pub async fn hand_off_to_sms(&self, h: HandOff<'_>) -> Result<i64> {
        let now_ms = to_ms(h.now);
        let mut tx = self.begin_write().await?;
        if !crate::phone_checks::confirm(&mut tx, h.check_id, h.now).await? {
            return Err(StoreError::Conflict("that code can no longer be used: ask for a new one".into()));
        }
        let current = sqlx::query(
            "SELECT contact_id, identity_id FROM conversations WHERE id = $1 AND account_id = $2 AND inbox_id = $3",
        )
        .bind(h.conversation_id)
        .bind(h.account_id)
        .bind(h.from_inbox_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::Conflict("this chat has already moved".into()))?;
        let (mut contact_id, web_identity): (i64, i64) =
            (current.try_get("contact_id")?, current.try_get("identity_id")?);
        let known = sqlx::query(
            "SELECT id, contact_id FROM contact_identities WHERE account_id = $1 AND namespace = $2 AND address = $3",
        )
        .bind(h.account_id)
        .bind(h.phone.namespace())
        .bind(h.phone.value())
        .fetch_optional(&mut *tx)
        .await?;
        let phone_identity = match known {
            Some(r) => {
                let owner: i64 = r.try_get("contact_id")?;
                if owner != contact_id {
                    sqlx::query("UPDATE contact_identities SET contact_id = $1 WHERE id = $2")
                        .bind(owner)
                        .bind(web_identity)
                        .execute(&mut *tx)
                        .await?;
                    contact_id = owner;
                }
                r.try_get::<i64, _>("id")?
            }
            None => {
                let r = sqlx::query(
                    "INSERT INTO contact_identities (account_id, contact_id, namespace, address, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(h.account_id)
                .bind(contact_id)
                .bind(h.phone.namespace())
                .bind(h.phone.value())
                .bind(now_ms)
                .fetch_one(&mut *tx)
                .await?;
                returned_id(&r)?
            }
        };
        sqlx::query(
            "UPDATE conversations SET inbox_id = $1, identity_id = $2, contact_id = $3, last_activity_at = $4 WHERE id = $5",
        )
        .bind(h.to_inbox_id)
        .bind(phone_identity)
        .bind(contact_id)
        .bind(now_ms)
        .bind(h.conversation_id)
        .execute(&mut *tx)
        .await?;
        let scope = scope_of_inbox(&mut tx, h.to_inbox_id).await?;
        let consent = NewConsent {
            contact_id,
            scope: &scope,
            state: ConsentState::OptedIn,
            source: "web_form",
            evidence: h.evidence,
            actor_id: None,
            message_id: None,
        };
        let consent_id = record(&mut tx, consent, h.now).await?;
        let place = (h.account_id, h.conversation_id);
        let changed = DomainEvent::ConsentChanged {
            to: ConsentState::OptedIn,
            source: "web_form".into(),
            scope: Some(scope),
            message_id: None,
        };
        append(&mut tx, place, &changed, None, h.now).await?;
        let moved = DomainEvent::ChannelMoved {
            from_inbox_id: h.from_inbox_id,
            to_inbox_id: h.to_inbox_id,
            to_medium: Medium::Sms.as_str().into(),
            consent_id: Some(consent_id),
        };
        append(&mut tx, place, &moved, None, h.now).await?;
        sqlx::query(
            "INSERT INTO webchat_handoffs (account_id, conversation_id, from_inbox_id, visitor, to_inbox_id, consent_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(h.account_id)
        .bind(h.conversation_id)
        .bind(h.from_inbox_id)
        .bind(h.visitor)
        .bind(h.to_inbox_id)
        .bind(consent_id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        self.commit(tx).await?;
        Ok(consent_id)
    }
}
