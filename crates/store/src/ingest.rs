//! Persistence half of ingest: one transaction per inbound message, so an
//! acknowledged message is on disk and a redelivered one is stored once.

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use jiff::Timestamp;
use sqlx::Row;
use textdesk_core::consent::{self, ConsentPolicy, KeywordAction, KeywordDecision};
use textdesk_core::gate::OutboundKind;
use textdesk_core::{
    Address, ConsentState, ConversationStatus, DeliveryStatus, InboundPlacement, LatestConversation, ReopenWindow,
    segments,
};

use textdesk_core::event::{DomainEvent, StatusReason};

use crate::events::append;
use crate::surveys::PollReply;
use crate::{Result, Store, from_ms, is_unique_violation, returned_id, to_ms};

#[derive(Debug, Clone)]
pub struct InboundMessage {
    pub from: Address,
    /// The provider's id for the message; the dedupe key within the inbox.
    pub provider_id: String,
    pub body: String,
    /// Attachments as the provider announced them; fetched after the message is stored.
    pub media: Vec<crate::NewMedia>,
    pub received_at: Timestamp,
    /// The provider acted on a consent keyword itself (Twilio's Advanced
    /// Opt-Out) and has answered the customer: recorded, not answered again.
    pub provider_handled: Option<KeywordAction>,
    /// What the channel it came on allows, for a confirmation sent back on it.
    pub channel: textdesk_core::Capabilities,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    Duplicate {
        account_id: i64,
        conversation_id: i64,
        message_id: i64,
    },
    Stored {
        account_id: i64,
        conversation_id: i64,
        message_id: i64,
        contact_id: i64,
        placement: InboundPlacement,
        /// What the text did to the contact's consent.
        keyword: KeywordDecision,
        /// The confirmation or help text queued in answer, if any.
        reply_id: Option<i64>,
    },
}

#[derive(Debug, Clone)]
pub struct StatusReport {
    pub inbox_id: i64,
    pub provider_id: String,
    pub status: DeliveryStatus,
    pub error: Option<String>,
}

/// The message a provider's id names, with its status and account. A receipt
/// may name any part of a long message: provider_refs holds them all.
const SENT_MESSAGE: &str =
    "SELECT m.id, m.status, c.account_id FROM messages m JOIN conversations c ON c.id = m.conversation_id
     WHERE m.id = COALESCE(
        (SELECT x.id FROM messages x WHERE x.inbox_id = $1 AND x.provider_id = $2),
        (SELECT r.message_id FROM provider_refs r WHERE r.inbox_id = $1 AND r.provider_id = $2))";

impl Store {
    /// Keeps a report whose send is not recorded yet, unless it was recorded
    /// while we looked (then returns the message). Under the write lock (and,
    /// on PostgreSQL, a lock on this provider id that `mark_sent` takes too),
    /// so a send recorded at the same moment either is seen here or sees the
    /// kept report: the report is never lost between the two.
    async fn keep_early_report(&self, report: &StatusReport) -> Result<Option<sqlx::any::AnyRow>> {
        let mut tx = self.begin_write().await?;
        self.lock_provider_id(&mut tx, report.inbox_id, &report.provider_id).await?;
        let row =
            sqlx::query(SENT_MESSAGE).bind(report.inbox_id).bind(&report.provider_id).fetch_optional(&mut *tx).await?;
        if row.is_none() {
            sqlx::query("INSERT INTO early_reports (inbox_id, provider_id, status, error, received_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(report.inbox_id)
                .bind(&report.provider_id)
                .bind(report.status.as_str())
                .bind(report.error.as_deref())
                .bind(to_ms(Timestamp::now()))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(row)
    }

    /// On PostgreSQL, a transaction lock on one provider id of an inbox (SQLite
    /// has one writer already).
    pub(crate) async fn lock_provider_id(
        &self,
        tx: &mut sqlx::AnyConnection,
        inbox_id: i64,
        provider_id: &str,
    ) -> Result<()> {
        if self.backend == crate::Backend::Postgres {
            sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock(CAST($1 AS INTEGER), hashtext($2))) l")
                .bind(inbox_id)
                .bind(provider_id)
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }

    async fn find_duplicate(&self, inbox_id: i64, provider_id: &str) -> Result<Option<IngestOutcome>> {
        let mut conn = self.pool.acquire().await?;
        find_duplicate_in(&mut conn, inbox_id, provider_id).await
    }

    /// Stores an inbound message. Two first texts from the same new number can
    /// race to create its contact; the loser's transaction fails on the unique
    /// identity and simply runs again, finding the winner's contact.
    ///
    /// Consent keywords are acted on in the same transaction: an acknowledged
    /// STOP is recorded, and confirmed, or the whole message is not stored.
    /// On SQLite the transaction is shared with other texts (`group`); it
    /// returns once that transaction has committed.
    pub async fn record_inbound(
        &self,
        inbox: &crate::Inbox,
        msg: &InboundMessage,
        window: ReopenWindow,
        policy: &ConsentPolicy,
    ) -> Result<IngestOutcome> {
        if let Some(group) = &self.group {
            return group.record(inbox, msg, window, policy).await;
        }
        // As in a group (`group`): a panic fails this text alone, its transaction rolled back.
        let alone = async {
            let mut attempt = 0;
            loop {
                match self.try_record_inbound(inbox, msg, window, policy).await {
                    Err(crate::StoreError::Db(e)) if is_unique_violation(&e) && attempt < 3 => attempt += 1,
                    other => return other,
                }
            }
        };
        AssertUnwindSafe(alone).catch_unwind().await.unwrap_or_else(|_| {
            tracing::error!(inbox = inbox.id, "writing an inbound text panicked; it was rolled back");
            Err(crate::StoreError::Panicked)
        })
    }

    async fn try_record_inbound(
        &self,
        inbox: &crate::Inbox,
        msg: &InboundMessage,
        window: ReopenWindow,
        policy: &ConsentPolicy,
    ) -> Result<IngestOutcome> {
        // No look for a duplicate first: the message's insert finds one (a
        // provider's retry is rare, a new text is not).
        let mut tx = self.begin_write().await?;
        match self.record_in(&mut tx, inbox, msg, window, policy).await? {
            Some(stored) => {
                self.commit(tx).await?;
                Ok(stored)
            }
            None => {
                // Stored before, or by another delivery of it just now: undo ours.
                tx.rollback().await?;
                self.find_duplicate(inbox.id, &msg.provider_id)
                    .await?
                    .ok_or(crate::StoreError::Conflict("duplicate vanished".into()))
            }
        }
    }

    /// Writes an inbound message through `tx` (the caller commits): None when
    /// a delivery of the same message was stored first and the caller must
    /// undo what this wrote.
    pub(crate) async fn record_in(
        &self,
        tx: &mut sqlx::AnyConnection,
        inbox: &crate::Inbox,
        msg: &InboundMessage,
        window: ReopenWindow,
        policy: &ConsentPolicy,
    ) -> Result<Option<IngestOutcome>> {
        let account_id = inbox.account_id;
        let now = msg.received_at;
        let now_ms = to_ms(now);
        let sender = crate::contacts::contact_for(self, tx, account_id, &msg.from, now_ms).await?;
        let (identity_id, contact_id) = sender.pair();
        self.hooks.maybe_panic(&msg.body);

        // A contact made just now has no conversation, consent or poll to read.
        let past = if sender.fresh { Past::default() } else { self.past_of(tx, contact_id, inbox.id, now).await? };
        let latest = past.latest;
        // Consent first: a keyword is never a poll's answer or comment.
        let decision = match msg.provider_handled {
            Some(action) => provider_decision(action, past.consent),
            None => consent::decide_with(&msg.body, policy, past.consent, past.awaiting_yes),
        };
        let poll = match decision {
            KeywordDecision::None if !sender.fresh => {
                let who = (contact_id, inbox.id);
                crate::surveys::reply_to_poll(tx, who, latest.as_ref(), &msg.body, now).await?
            }
            _ => None,
        };
        let answer = match &poll {
            Some(PollReply::Answer(s, a)) => Some((s, a)),
            _ => None,
        };
        // A score lands in the poll's conversation and leaves it resolved.
        let placement = match answer {
            Some((s, _)) => InboundPlacement::Append(s.conversation_id),
            None => InboundPlacement::decide(latest, now, window),
        };
        // Appended after the message, just before the commit: on PostgreSQL
        // the log's order lock is held from the first append until commit.
        let mut events = Vec::new();
        let conversation_id = match placement {
            InboundPlacement::Append(id) => id,
            InboundPlacement::Reopen(id) => {
                events.push(DomainEvent::StatusChanged {
                    from: ConversationStatus::Resolved,
                    to: ConversationStatus::Open,
                    until: None,
                    zone: None,
                    reason: Some(StatusReason::CustomerReplied),
                });
                id
            }
            InboundPlacement::New => {
                // Made as the message leaves it (open, waiting, one unread): no update after.
                let r = sqlx::query(
                    "INSERT INTO conversations (account_id, inbox_id, contact_id, identity_id, status, last_activity_at, waiting_since, unread, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $6, 1, $6) RETURNING id",
                )
                .bind(account_id)
                .bind(inbox.id)
                .bind(contact_id)
                .bind(identity_id)
                .bind(placement.status_after().as_str())
                .bind(now_ms)
                .fetch_one(&mut *tx)
                .await?;
                events.push(DomainEvent::ConversationCreated { reason: None });
                returned_id(&r)?
            }
        };

        let count = segments::count(&msg.body);
        let inserted = sqlx::query(
            "INSERT INTO messages (conversation_id, inbox_id, direction, body, media, private, provider_id, status, segments, encoding, created_at, updated_at)
             VALUES ($1, $2, 'inbound', $3, $4, 0, $5, 'received', $6, $7, $8, $8)
             ON CONFLICT (inbox_id, provider_id) DO NOTHING RETURNING id",
        )
        .bind(conversation_id)
        .bind(inbox.id)
        .bind(&msg.body)
        .bind("[]")
        .bind(&msg.provider_id)
        .bind(count.segments as i64)
        .bind(count.encoding.as_str())
        .bind(now_ms)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(inserted) = inserted else { return Ok(None) };
        let message_id = returned_id(&inserted)?;
        crate::media::insert_pending(tx, message_id, &msg.media, now).await?;
        if placement == InboundPlacement::New {
            // Inserted as it stands.
        } else if answer.is_some() {
            // Nobody needs to answer a score: it stays resolved, unread and unwaited.
            sqlx::query("UPDATE conversations SET last_activity_at = $1 WHERE id = $2")
                .bind(now_ms)
                .bind(conversation_id)
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query(
                "UPDATE conversations SET status = $1, snoozed_until = NULL, resolved_at = NULL, last_activity_at = $2,
                    waiting_since = CASE WHEN bot = 1 THEN NULL ELSE COALESCE(waiting_since, $2) END, unread = unread + 1 WHERE id = $3",
            )
            .bind(placement.status_after().as_str())
            .bind(now_ms)
            .bind(conversation_id)
            .execute(&mut *tx)
            .await?;
        }
        let keyword = decision != KeywordDecision::None;
        events.push(DomainEvent::MessageReceived { message_id, keyword });
        match &poll {
            Some(PollReply::Answer(s, a)) => {
                events.push(crate::surveys::record_answer(tx, s, a, message_id, now).await?);
            }
            Some(PollReply::Comment(_)) | None => {}
        }
        crate::events::append_all(tx, (account_id, conversation_id), &events, None, now).await?;
        if let Some(PollReply::Comment(s)) = &poll {
            crate::surveys::record_comment(tx, s, &msg.body, message_id, now).await?;
        }
        let target = (account_id, conversation_id, inbox.id, contact_id);
        let (keyword, reply_id) = apply_keyword(tx, msg, policy, target, message_id, decision).await?;
        Ok(Some(IngestOutcome::Stored {
            account_id,
            conversation_id,
            message_id,
            contact_id,
            placement,
            keyword,
            reply_id,
        }))
    }

    /// Applies a provider's delivery report. Reports that would move a message
    /// backwards (a late `sent` after `delivered`) are ignored. Returns the
    /// message when it changed.
    /// The provider ids of messages this inbox sent to `to` at or before
    /// `until` whose status may still become `status` (a Messenger read or
    /// delivery "watermark" names a moment, not messages), newest first, at most 500.
    pub async fn sent_up_to(
        &self,
        inbox_id: i64,
        to: &textdesk_core::Address,
        until: Timestamp,
        status: DeliveryStatus,
    ) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT m.provider_id, m.status FROM messages m
             JOIN conversations c ON c.id = m.conversation_id
             JOIN contact_identities i ON i.id = c.identity_id
             WHERE m.inbox_id = $1 AND m.direction = 'outbound' AND m.provider_id IS NOT NULL
               AND i.namespace = $2 AND i.address = $3 AND m.created_at <= $4
             ORDER BY m.created_at DESC LIMIT 500",
        )
        .bind(inbox_id)
        .bind(to.namespace())
        .bind(to.value())
        .bind(to_ms(until))
        .fetch_all(&self.pool)
        .await?;
        let mut ids = Vec::new();
        for r in rows {
            let current: String = r.try_get("status")?;
            if DeliveryStatus::parse(&current)?.may_become(status) {
                ids.push(r.try_get("provider_id")?);
            }
        }
        Ok(ids)
    }

    pub async fn apply_status(&self, report: &StatusReport) -> Result<Option<(i64, crate::Message)>> {
        let row = match sqlx::query(SENT_MESSAGE)
            .bind(report.inbox_id)
            .bind(&report.provider_id)
            .fetch_optional(&self.pool)
            .await?
        {
            Some(row) => row,
            None => match self.keep_early_report(report).await? {
                // Kept until the send it describes is recorded (see mark_sent).
                None => return Ok(None),
                // The send was recorded meanwhile.
                Some(row) => row,
            },
        };
        let id: i64 = row.try_get("id")?;
        let account_id: i64 = row.try_get("account_id")?;
        let current: String = row.try_get("status")?;
        let current = DeliveryStatus::parse(&current)?;
        if !current.may_become(report.status) {
            return Ok(None);
        }
        // The guard on the old status makes two racing reports safe.
        let now = Timestamp::now();
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE messages SET status = $1, error = COALESCE($2, error), updated_at = $3 WHERE id = $4 AND status = $5")
            .bind(report.status.as_str())
            .bind(report.error.as_deref())
            .bind(to_ms(now))
            .bind(id)
            .bind(current.as_str())
            .execute(&mut *tx)
            .await?;
        if n.rows_affected() == 0 {
            return Ok(None);
        }
        let ev = DomainEvent::message_status(id, report.status);
        crate::events::append_for_message(&mut tx, id, &ev, None, now).await?;
        self.commit(tx).await?;
        Ok(Some((account_id, self.message(id).await?)))
    }
}

/// The message a provider's id names in an inbox, as a duplicate.
pub(crate) async fn find_duplicate_in(
    conn: &mut sqlx::AnyConnection,
    inbox_id: i64,
    provider_id: &str,
) -> Result<Option<IngestOutcome>> {
    let row = sqlx::query(
        "SELECT m.id, m.conversation_id, c.account_id FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.inbox_id = $1 AND m.provider_id = $2",
    )
    .bind(inbox_id)
    .bind(provider_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        Some(r) => Some(IngestOutcome::Duplicate {
            account_id: r.try_get("account_id")?,
            conversation_id: r.try_get("conversation_id")?,
            message_id: r.try_get("id")?,
        }),
        None => None,
    })
}

/// What a keyword the provider acted on means here: the same change our own
/// keywords make, without a reply (the provider has sent one).
fn provider_decision(action: KeywordAction, current: ConsentState) -> KeywordDecision {
    let to = match action {
        KeywordAction::Help => return KeywordDecision::Help,
        KeywordAction::OptOut => ConsentState::OptedOut,
        KeywordAction::OptIn | KeywordAction::Join => ConsentState::OptedIn,
    };
    if current == to { KeywordDecision::Unchanged(action) } else { KeywordDecision::Change(to, action) }
}

/// What a known customer's past says about their text: their latest
/// conversation on the inbox and the consent that counts there.
#[derive(Debug)]
struct Past {
    /// The most recently active, not the newest: a conversation an agent
    /// moved here by answering through this channel (`reach`) is where the
    /// customer's answer belongs, even when an older thread of theirs on
    /// this channel was started later (after a merge).
    latest: Option<LatestConversation>,
    consent: ConsentState,
    /// Asked to confirm a JOIN within the last day, neither confirmed nor opted out since.
    awaiting_yes: bool,
}

impl Default for Past {
    /// A contact made just now: no conversation, no consent, nothing asked.
    fn default() -> Self {
        Past { latest: None, consent: ConsentState::Unknown, awaiting_yes: false }
    }
}

impl Store {
    /// [`Past`] in one read. On PostgreSQL the contact's row is locked first,
    /// in a statement of its own, so two racing STOPs confirm once: the read
    /// that follows sees what the first committed (SQLite's write lock is
    /// already held).
    async fn past_of(
        &self,
        tx: &mut sqlx::AnyConnection,
        contact_id: i64,
        inbox_id: i64,
        now: Timestamp,
    ) -> Result<Past> {
        if self.backend == crate::Backend::Postgres {
            sqlx::query("UPDATE contacts SET updated_at = updated_at WHERE id = $1")
                .bind(contact_id)
                .execute(&mut *tx)
                .await?;
        }
        let any_kind = |column: &str| {
            format!(
                "(SELECT e.{column} FROM consent_events e WHERE e.contact_id = ct.id AND e.scope IN ({}, 'account') ORDER BY e.id DESC LIMIT 1)",
                crate::consent::INBOX_SCOPE
            )
        };
        let sql = format!(
            "SELECT {} AS consent, {} AS last_kind, {} AS last_at, cv.id AS conversation_id, cv.status, cv.resolved_at
             FROM contacts ct JOIN inboxes ib ON ib.id = $2
             LEFT JOIN conversations cv ON cv.id = (SELECT x.id FROM conversations x WHERE x.contact_id = $1 AND x.inbox_id = $2
                                                    ORDER BY x.last_activity_at DESC, x.id DESC LIMIT 1)
             WHERE ct.id = $1",
            crate::consent::scoped_consent_sql(),
            any_kind("kind"),
            any_kind("created_at"),
        );
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(contact_id).bind(inbox_id).fetch_one(&mut *tx).await?;
        let latest = match r.try_get::<Option<i64>, _>("conversation_id")? {
            Some(id) => {
                let status: String = r.try_get("status")?;
                Some(LatestConversation {
                    id,
                    status: ConversationStatus::parse(&status)?,
                    resolved_at: r.try_get::<Option<i64>, _>("resolved_at")?.map(from_ms),
                })
            }
            None => None,
        };
        let consent = crate::consent::state_of(r.try_get::<Option<String>, _>("consent")?.as_deref());
        let last_kind: Option<String> = r.try_get("last_kind")?;
        let last_at: Option<i64> = r.try_get("last_at")?;
        let awaiting_yes = last_kind.as_deref() == Some("opt_in_requested")
            && last_at.is_some_and(|at| from_ms(at) + crate::consent::CONFIRM_WINDOW >= now);
        Ok(Past { latest, consent, awaiting_yes })
    }
}

/// Acts on a consent keyword in the message just stored, in its transaction.
async fn apply_keyword(
    tx: &mut sqlx::AnyConnection,
    msg: &InboundMessage,
    policy: &ConsentPolicy,
    (account_id, conversation_id, inbox_id, contact_id): (i64, i64, i64, i64),
    message_id: i64,
    decision: KeywordDecision,
) -> Result<(KeywordDecision, Option<i64>)> {
    let source = if msg.provider_handled.is_some() { "provider" } else { "keyword" };
    let reply = match decision {
        KeywordDecision::None | KeywordDecision::Unchanged(_) => None,
        KeywordDecision::Flag => {
            let ev = DomainEvent::StopRequested { message_id };
            append(tx, (account_id, conversation_id), &ev, None, msg.received_at).await?;
            None
        }
        KeywordDecision::Help => msg.provider_handled.is_none().then(|| policy.help_reply.clone()),
        KeywordDecision::AskToConfirm => {
            let who = (contact_id, inbox_id);
            crate::consent::record_confirmation_request(tx, who, &msg.body, message_id, msg.received_at).await?;
            Some(policy.confirm_request.clone())
        }
        KeywordDecision::Change(state, action) => {
            let scope = crate::consent::scope_of_inbox(tx, inbox_id).await?;
            let c = crate::consent::NewConsent {
                contact_id,
                scope: &scope,
                state,
                source,
                evidence: &msg.body,
                actor_id: None,
                message_id: Some(message_id),
            };
            crate::consent::record(tx, c, msg.received_at).await?;
            let ev = DomainEvent::ConsentChanged {
                to: state,
                source: source.into(),
                scope: None,
                message_id: Some(message_id),
            };
            append(tx, (account_id, conversation_id), &ev, None, msg.received_at).await?;
            msg.provider_handled.is_none().then(|| policy.reply(action).clone())
        }
    };
    let Some(body) = reply else { return Ok((decision, None)) };
    let new = crate::NewOutbound {
        account_id,
        conversation_id,
        author_id: None,
        body,
        private: false,
        kind: OutboundKind::ConsentConfirmation,
        now: msg.received_at,
        // Confirmations answer the customer at once, whatever the hour.
        timing: None,
        channel: msg.channel,
        send_at: None,
        media: Vec::new(),
        template: None,
    };
    let reply_id = crate::messages::insert_outbound(tx, (conversation_id, inbox_id, contact_id), &new).await?.ok();
    Ok((decision, reply_id))
}
