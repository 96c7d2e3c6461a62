//! Persistence half of ingest: the texts waiting together written in one
//! transaction (`group`), each acknowledged after its commit, so an
//! acknowledged message is on disk and a redelivered one is stored once.

use jiff::Timestamp;
use sqlx::Row;
use textdesk_core::consent::{self, ConsentPolicy, KeywordAction, KeywordDecision};
use textdesk_core::gate::OutboundKind;
use textdesk_core::{
    Address, ConsentState, ConversationStatus, DeliveryStatus, InboundPlacement, LatestConversation, ReopenWindow,
    segments,
};

use textdesk_core::event::{DomainEvent, StatusReason};

use crate::contacts::Sender;
use crate::events::append;
use crate::multirow::{self, Value};
use crate::surveys::PollReply;
use crate::{Result, Store, from_ms, returned_id, to_ms};

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

/// One inbound text to write: the inbox it came to and the rules it meets there.
#[derive(Clone, Copy)]
pub(crate) struct Text<'a> {
    pub inbox: &'a crate::Inbox,
    pub msg: &'a InboundMessage,
    pub window: ReopenWindow,
    pub policy: &'a ConsentPolicy,
}

impl Text<'_> {
    /// What two texts written at once must not share: the sender's address
    /// in the account (the second must find the contact the first made,
    /// whatever the medium) and the message's id in the inbox (the second is
    /// its duplicate).
    pub(crate) fn keys(&self) -> [(i64, &str); 2] {
        // Inbox ids and account ids may be equal: told apart by sign.
        [(self.inbox.account_id, self.msg.from.value()), (-self.inbox.id, self.msg.provider_id.as_str())]
    }
}

/// `items`' indexes in rounds that can each be written at once: no two items
/// of a round share a key, and an item comes in a later round than every
/// earlier item it shares a key with, so those keep their order.
pub(crate) fn rounds<K: Eq + std::hash::Hash + Clone>(items: &[impl AsRef<[K]>]) -> Vec<Vec<usize>> {
    let mut last: std::collections::HashMap<K, usize> = std::collections::HashMap::new();
    let mut out: Vec<Vec<usize>> = Vec::new();
    for (i, keys) in items.iter().enumerate() {
        let keys = keys.as_ref();
        let round = keys.iter().filter_map(|k| last.get(k)).map(|r| r + 1).max().unwrap_or(0);
        for k in keys {
            last.insert(k.clone(), round);
        }
        if out.len() <= round {
            out.push(Vec::new());
        }
        out[round].push(i);
    }
    out
}

/// What a text does, decided before anything of it is written.
struct Plan {
    decision: KeywordDecision,
    poll: Option<PollReply>,
    placement: InboundPlacement,
    /// None until a new conversation is made for it.
    conversation_id: Option<i64>,
    /// Its events before the message's own.
    events: Vec<DomainEvent>,
}

impl Plan {
    fn conversation(&self) -> Result<i64> {
        self.conversation_id.ok_or(crate::StoreError::NotFound("conversation"))
    }
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

    /// Stores an inbound message. Two first texts from the same new number can
    /// race to create its contact (on two nodes of one PostgreSQL); the
    /// loser's text fails on the unique identity and simply runs again,
    /// finding the winner's contact (`group`).
    ///
    /// Consent keywords are acted on in the same transaction: an acknowledged
    /// STOP is recorded, and confirmed, or the whole message is not stored.
    /// The transaction is shared with other texts (`group`); it returns once
    /// that transaction has committed.
    pub async fn record_inbound(
        &self,
        inbox: &crate::Inbox,
        msg: &InboundMessage,
        window: ReopenWindow,
        policy: &ConsentPolicy,
    ) -> Result<IngestOutcome> {
        let group =
            self.group.as_ref().ok_or(crate::StoreError::Unstored("the inbound writer is not running".into()))?;
        group.record(inbox, msg, window, policy).await
    }

    /// Writes inbound texts through `tx` (the caller commits), in order, each
    /// statement for all of them at once: a text's contact, conversation,
    /// message and events cost a share of one statement each, not a statement
    /// each (on SQLite every statement is a round trip to the connection's
    /// thread). The texts must be apart ([`rounds`]). None when a delivery of
    /// one of them was stored first and the caller must undo what this wrote.
    pub(crate) async fn record_in(
        &self,
        tx: &mut sqlx::AnyConnection,
        texts: &[Text<'_>],
    ) -> Result<Option<Vec<IngestOutcome>>> {
        let who: Vec<(i64, &Address, i64)> =
            texts.iter().map(|t| (t.inbox.account_id, &t.msg.from, to_ms(t.msg.received_at))).collect();
        let senders = crate::contacts::senders_for(self, tx, &who).await?;
        for t in texts {
            self.hooks.maybe_panic(&t.msg.body);
        }
        // Two addresses of one contact (merged, or a number on two media)
        // are written one after the other: the second finds the first's conversation.
        let keys: Vec<[i64; 1]> = senders.iter().map(|s| [s.contact_id]).collect();
        let mut outcomes: Vec<Option<IngestOutcome>> = vec![None; texts.len()];
        for round in rounds(&keys) {
            let items: Vec<(Text<'_>, &Sender)> = round.iter().map(|&i| (texts[i], &senders[i])).collect();
            let Some(written) = self.record_round(tx, &items).await? else { return Ok(None) };
            for (i, outcome) in round.into_iter().zip(written) {
                outcomes[i] = Some(outcome);
            }
        }
        let all = outcomes.into_iter().collect::<Option<Vec<_>>>();
        all.map(Some).ok_or_else(|| crate::StoreError::Unstored("a text of the batch was not written".into()))
    }

    /// [`Store::record_in`] for texts whose senders are known and whose
    /// contacts are all different.
    async fn record_round(
        &self,
        tx: &mut sqlx::AnyConnection,
        items: &[(Text<'_>, &Sender)],
    ) -> Result<Option<Vec<IngestOutcome>>> {
        // A contact made just now has no conversation, consent or poll to read.
        let known: Vec<(i64, i64, Timestamp)> = items
            .iter()
            .filter(|(_, s)| !s.fresh)
            .map(|(t, s)| (s.contact_id, t.inbox.id, t.msg.received_at))
            .collect();
        let mut pasts = self.pasts_of(tx, &known).await?.into_iter();
        let mut plans = Vec::with_capacity(items.len());
        for (t, sender) in items {
            let past = if sender.fresh { None } else { pasts.next() };
            plans.push(plan(t, past.unwrap_or_default()));
        }

        // The new conversations, made as the message leaves them (open,
        // waiting, one unread): no update after.
        let new: Vec<usize> = (0..plans.len()).filter(|&i| plans[i].conversation_id.is_none()).collect();
        let rows: Vec<Vec<Value>> = new
            .iter()
            .map(|&i| {
                let ((t, sender), plan) = (&items[i], &plans[i]);
                let now_ms = to_ms(t.msg.received_at);
                vec![
                    Value::Int(t.inbox.account_id),
                    Value::Int(t.inbox.id),
                    Value::Int(sender.contact_id),
                    Value::Int(sender.identity_id),
                    Value::Text(plan.placement.status_after().as_str().to_owned()),
                    Value::Int(now_ms),
                    Value::Int(now_ms),
                    Value::Int(1),
                    Value::Int(now_ms),
                ]
            })
            .collect();
        let sql = "INSERT INTO conversations (account_id, inbox_id, contact_id, identity_id, status, last_activity_at, waiting_since, unread, created_at)
                   VALUES {values} RETURNING id";
        let ids = crate::contacts::inserted_ids(multirow::run(tx, sql, &rows).await?, new.len())?;
        for (&i, id) in new.iter().zip(ids) {
            plans[i].conversation_id = Some(id);
            plans[i].events.push(DomainEvent::ConversationCreated { reason: None });
        }

        let mut rows = Vec::with_capacity(items.len());
        for ((t, _), plan) in items.iter().zip(&plans) {
            let count = segments::count(&t.msg.body);
            let now_ms = to_ms(t.msg.received_at);
            rows.push(vec![
                Value::Int(plan.conversation()?),
                Value::Int(t.inbox.id),
                Value::Text("inbound".into()),
                Value::Text(t.msg.body.clone()),
                Value::Text("[]".into()),
                Value::Int(0),
                Value::Text(t.msg.provider_id.clone()),
                Value::Text("received".into()),
                Value::Int(count.segments as i64),
                Value::Text(count.encoding.as_str().to_owned()),
                Value::Int(now_ms),
                Value::Int(now_ms),
            ]);
        }
        let sql = "INSERT INTO messages (conversation_id, inbox_id, direction, body, media, private, provider_id, status, segments, encoding, created_at, updated_at)
                   VALUES {values} ON CONFLICT (inbox_id, provider_id) DO NOTHING RETURNING id, inbox_id, provider_id";
        let mut inserted = std::collections::HashMap::new();
        for r in multirow::run(tx, sql, &rows).await? {
            inserted
                .insert((r.try_get::<i64, _>("inbox_id")?, r.try_get::<String, _>("provider_id")?), returned_id(&r)?);
        }

        let mut message_ids = Vec::with_capacity(items.len());
        let mut events = Vec::new();
        for ((t, _), plan) in items.iter().zip(&mut plans) {
            let key = (t.inbox.id, t.msg.provider_id.clone());
            // Stored before (or earlier in this transaction): the caller undoes this one.
            let Some(&message_id) = inserted.get(&key) else { return Ok(None) };
            message_ids.push(message_id);
            let conversation_id = plan.conversation()?;
            let now = t.msg.received_at;
            crate::media::insert_pending(tx, message_id, &t.msg.media, now).await?;
            let keyword = plan.decision != KeywordDecision::None;
            plan.events.push(DomainEvent::MessageReceived { message_id, keyword });
            if let Some(PollReply::Answer(s, a)) = &plan.poll {
                plan.events.push(crate::surveys::record_answer(tx, s, a, message_id, now).await?);
            }
            let place = (t.inbox.account_id, conversation_id);
            events.extend(plan.events.drain(..).map(|ev| (place, ev, now)));
        }
        let updates: Vec<(i64, &Plan, Timestamp)> = items
            .iter()
            .zip(&plans)
            .map(|((t, _), plan)| Ok((plan.conversation()?, plan, t.msg.received_at)))
            .collect::<Result<_>>()?;
        after_messages(tx, &updates).await?;
        // Appended after the messages, just before the commit: on PostgreSQL
        // the log's order lock is held from the first append until commit.
        crate::events::append_all(tx, &events, None).await?;

        let mut out = Vec::with_capacity(items.len());
        for (((t, sender), plan), message_id) in items.iter().zip(plans).zip(message_ids) {
            let conversation_id = plan.conversation()?;
            if let Some(PollReply::Comment(s)) = &plan.poll {
                crate::surveys::record_comment(tx, s, &t.msg.body, message_id, t.msg.received_at).await?;
            }
            let (account_id, contact_id) = (t.inbox.account_id, sender.contact_id);
            let target = (account_id, conversation_id, t.inbox.id, contact_id);
            let (keyword, reply_id) = apply_keyword(tx, t.msg, t.policy, target, message_id, plan.decision).await?;
            out.push(IngestOutcome::Stored {
                account_id,
                conversation_id,
                message_id,
                contact_id,
                placement: plan.placement,
                keyword,
                reply_id,
            });
        }
        Ok(Some(out))
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

/// What a text does, from its sender's past: consent first (a keyword is
/// never a poll's answer or comment), then a poll, then where it lands.
fn plan(t: &Text<'_>, past: Past) -> Plan {
    let now = t.msg.received_at;
    let latest = past.latest;
    let decision = match t.msg.provider_handled {
        Some(action) => provider_decision(action, past.consent),
        None => consent::decide_with(&t.msg.body, t.policy, past.consent, past.awaiting_yes),
    };
    let poll = match decision {
        KeywordDecision::None => past.poll.and_then(|s| crate::surveys::reply_to_poll(s, latest.as_ref(), &t.msg.body)),
        _ => None,
    };
    // A score lands in the poll's conversation and leaves it resolved.
    let placement = match &poll {
        Some(PollReply::Answer(s, _)) => InboundPlacement::Append(s.conversation_id),
        _ => InboundPlacement::decide(latest, now, t.window),
    };
    let mut events = Vec::new();
    let conversation_id = match placement {
        InboundPlacement::Append(id) => Some(id),
        InboundPlacement::Reopen(id) => {
            events.push(DomainEvent::StatusChanged {
                from: ConversationStatus::Resolved,
                to: ConversationStatus::Open,
                until: None,
                zone: None,
                reason: Some(StatusReason::CustomerReplied),
            });
            Some(id)
        }
        InboundPlacement::New => None,
    };
    Plan { decision, poll, placement, conversation_id, events }
}

/// The known conversations after their customers' texts: active now, and
/// open and waiting unless the text answered a poll. One statement for all
/// but the answers (a new conversation was made as it stands).
async fn after_messages(tx: &mut sqlx::AnyConnection, updates: &[(i64, &Plan, Timestamp)]) -> Result<()> {
    let mut rows = Vec::with_capacity(updates.len());
    for &(conversation_id, plan, now) in updates {
        let now_ms = to_ms(now);
        if plan.placement == InboundPlacement::New {
            continue;
        }
        if matches!(plan.poll, Some(PollReply::Answer(..))) {
            // Nobody needs to answer a score: it stays resolved, unread and unwaited.
            sqlx::query("UPDATE conversations SET last_activity_at = $1 WHERE id = $2")
                .bind(now_ms)
                .bind(conversation_id)
                .execute(&mut *tx)
                .await?;
            continue;
        }
        let status = plan.placement.status_after().as_str().to_owned();
        rows.push(vec![Value::Int(conversation_id), Value::Text(status), Value::Int(now_ms)]);
    }
    let sql = "UPDATE conversations SET status = v.column2, snoozed_until = NULL, resolved_at = NULL,
                 last_activity_at = v.column3, waiting_since = CASE WHEN bot = 1 THEN NULL ELSE COALESCE(waiting_since, v.column3) END,
                 unread = unread + 1
               FROM (VALUES {values}) AS v WHERE conversations.id = v.column1";
    multirow::run(tx, sql, &rows).await?;
    Ok(())
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
    /// Their latest poll in the inbox still waiting for an answer or a comment.
    poll: Option<crate::surveys::Survey>,
}

impl Default for Past {
    /// A contact made just now: no conversation, no consent, nothing asked.
    fn default() -> Self {
        Past { latest: None, consent: ConsentState::Unknown, awaiting_yes: false, poll: None }
    }
}

impl Store {
    /// The [`Past`] of each (contact, inbox) at its time, in one read (and one
    /// more for their polls, if any waits). On PostgreSQL the contacts' rows
    /// are locked first, in a statement of its own, so two racing STOPs
    /// confirm once: the read that follows sees what the first committed
    /// (SQLite's write lock is already held).
    async fn pasts_of(&self, tx: &mut sqlx::AnyConnection, who: &[(i64, i64, Timestamp)]) -> Result<Vec<Past>> {
        if who.is_empty() {
            return Ok(Vec::new());
        }
        if self.backend == crate::Backend::Postgres {
            // In the order of their ids, as every batch takes them: two nodes' batches never wait on each other in a circle.
            let ids: Vec<Value> = who.iter().map(|w| Value::Int(w.0)).collect();
            let sql = "SELECT id FROM contacts WHERE id IN ({in}) ORDER BY id FOR UPDATE";
            multirow::select_in(tx, sql, &[], &ids).await?;
        }
        let any_kind = |column: &str| {
            format!(
                "(SELECT e.{column} FROM consent_events e WHERE e.contact_id = ct.id AND e.scope IN ({}, 'account') ORDER BY e.id DESC LIMIT 1)",
                crate::consent::INBOX_SCOPE
            )
        };
        let sql = format!(
            "WITH v (contact_id, inbox_id, at_ms) AS (VALUES {{values}})
             SELECT v.contact_id AS for_contact, v.inbox_id AS for_inbox, {} AS consent, {} AS last_kind,
                    {} AS last_at, {} AS poll_id, cv.id AS conversation_id, cv.status, cv.resolved_at
             FROM v JOIN contacts ct ON ct.id = v.contact_id JOIN inboxes ib ON ib.id = v.inbox_id
             LEFT JOIN conversations cv ON cv.id = (SELECT x.id FROM conversations x WHERE x.contact_id = v.contact_id
                 AND x.inbox_id = v.inbox_id ORDER BY x.last_activity_at DESC, x.id DESC LIMIT 1)",
            crate::consent::scoped_consent_sql(),
            any_kind("kind"),
            any_kind("created_at"),
            crate::surveys::waiting_poll_sql("v"),
        );
        let rows: Vec<Vec<Value>> =
            who.iter().map(|&(c, i, at)| vec![Value::Int(c), Value::Int(i), Value::Int(to_ms(at))]).collect();
        let mut found = std::collections::HashMap::new();
        let mut poll_ids = Vec::new();
        for r in multirow::run(tx, &sql, &rows).await? {
            let key: (i64, i64) = (r.try_get("for_contact")?, r.try_get("for_inbox")?);
            poll_ids.extend(r.try_get::<Option<i64>, _>("poll_id")?);
            found.insert(key, r);
        }
        let mut polls = match poll_ids.is_empty() {
            true => Default::default(),
            false => crate::surveys::polls_by_id(tx, &poll_ids).await?,
        };
        let mut out = Vec::with_capacity(who.len());
        for &(contact_id, inbox_id, now) in who {
            let r = found.get(&(contact_id, inbox_id)).ok_or(crate::StoreError::NotFound("contact"))?;
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
            let poll = r.try_get::<Option<i64>, _>("poll_id")?.and_then(|id| polls.remove(&id));
            out.push(Past { latest, consent, awaiting_yes, poll });
        }
        Ok(out)
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
