use jiff::Timestamp;
use sqlx::Row;
use textdesk_core::event::DomainEvent;
use textdesk_core::gate::{self, BlockReason, OutboundKind, OutboundRequest, Verdict};
use textdesk_core::{Body, DeliveryStatus, Direction, segments};

use crate::{Result, Store, StoreError, from_ms, returned_id, to_ms};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Message {
    pub id: i64,
    pub conversation_id: i64,
    pub inbox_id: i64,
    /// What it came or went through (its inbox's medium): one conversation
    /// can cross channels (continue-by-text, a reply on another channel).
    pub medium: textdesk_core::Medium,
    pub direction: Direction,
    pub author_id: Option<i64>,
    pub author_name: Option<String>,
    pub body: String,
    /// Pictures and files, in order.
    pub media: Vec<crate::Media>,
    pub private: bool,
    pub provider_id: Option<String>,
    pub status: DeliveryStatus,
    pub error: Option<String>,
    pub segments: i64,
    pub encoding: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When a scheduled (deferred) message will go out.
    pub send_at: Option<Timestamp>,
    /// How many times the dispatcher has handed it to the provider.
    pub attempts: i64,
    /// When a failed attempt will be tried again.
    pub retry_at: Option<Timestamp>,
    /// The provider template it was sent as (JSON: name, language, values).
    #[serde(skip)]
    pub template: Option<String>,
}

pub struct NewOutbound {
    pub account_id: i64,
    pub conversation_id: i64,
    pub author_id: Option<i64>,
    pub body: Body,
    /// A private note for colleagues: stored in the thread, never sent.
    pub private: bool,
    pub kind: OutboundKind,
    pub now: Timestamp,
    /// The contact's clock at the moment it is to go, for quiet hours; None where they do not apply.
    pub timing: Option<textdesk_core::gate::Timing>,
    /// What the conversation's channel allows (its reply window), for the gate.
    pub channel: textdesk_core::Capabilities,
    /// A later moment chosen by the agent or the API; None sends as soon as the gate allows.
    pub send_at: Option<Timestamp>,
    /// Uploads (by the author) that go with it, in order.
    pub media: Vec<i64>,
    /// An approved provider template it is sent as (its name, language and
    /// values, as JSON the channel reads back); the gate lets it past a closed
    /// reply window. `body` holds its text as filled in.
    pub template: Option<String>,
}

#[derive(Debug, Clone)]
pub enum OutboundOutcome {
    /// Stored; queued in the outbox unless it is a private note.
    Stored(Box<Message>),
    /// The gate said no; nothing was stored or queued.
    Blocked(BlockReason),
}

/// The result of a keyed write: done now, or the key was taken by an earlier
/// request (whose answer the caller reads instead).
#[derive(Debug, Clone)]
pub enum Keyed<T> {
    Fresh(T),
    Taken,
}

/// Where a page of a conversation's messages starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessagePage {
    /// The oldest after this id (from the start when None): paging forward.
    After(Option<i64>),
    /// The newest before this id (the newest of all when None): a long
    /// conversation opens at its end and pages back.
    Before(Option<i64>),
}

/// The most messages one read returns.
pub const MAX_MESSAGES_READ: i64 = 1000;

/// A message's columns, read from `messages m LEFT JOIN users u ON u.id = m.author_id`.
/// The outbox row is read by key for each message returned: as a join, PostgreSQL's
/// plan for a conversation's first page merged it with the whole outbox index in
/// message order (77 ms at 1M messages, docs/performance.md).
pub(crate) const COLUMNS: &str = "m.id, m.conversation_id, m.inbox_id, (SELECT ib.medium FROM inboxes ib WHERE ib.id = m.inbox_id) AS medium, m.direction, m.author_id, u.name AS author_name, m.body, m.media, m.private, m.provider_id, m.status, m.error, m.segments, m.encoding, m.created_at, m.updated_at, (SELECT o.not_before FROM outbox o WHERE o.message_id = m.id) AS send_at, (SELECT o.state FROM outbox o WHERE o.message_id = m.id) AS outbox_state, (SELECT o.attempts FROM outbox o WHERE o.message_id = m.id) AS attempts, m.template";

pub(crate) fn message_from(r: &sqlx::any::AnyRow) -> Result<Message> {
    let direction: String = r.try_get("direction")?;
    let status: String = r.try_get("status")?;
    let attempts = r.try_get::<Option<i64>, _>("attempts")?.unwrap_or(0);
    let queued_at = match r.try_get::<Option<String>, _>("outbox_state")?.as_deref() {
        Some("queued") => r.try_get::<Option<i64>, _>("send_at")?.map(from_ms),
        _ => None,
    };
    Ok(Message {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        inbox_id: r.try_get("inbox_id")?,
        medium: textdesk_core::Medium::parse(&r.try_get::<String, _>("medium")?)?,
        direction: Direction::parse(&direction)?,
        author_id: r.try_get("author_id")?,
        author_name: r.try_get("author_name")?,
        body: r.try_get("body")?,
        media: Vec::new(),
        private: r.try_get::<i64, _>("private")? != 0,
        provider_id: r.try_get("provider_id")?,
        status: DeliveryStatus::parse(&status)?,
        error: r.try_get("error")?,
        segments: r.try_get("segments")?,
        encoding: r.try_get("encoding")?,
        created_at: from_ms(r.try_get("created_at")?),
        updated_at: from_ms(r.try_get("updated_at")?),
        send_at: match DeliveryStatus::parse(&status)? {
            DeliveryStatus::Scheduled => queued_at,
            _ => None,
        },
        attempts,
        template: r.try_get("template")?,
        retry_at: match DeliveryStatus::parse(&status)? {
            DeliveryStatus::Queued if attempts > 0 => queued_at,
            _ => None,
        },
    })
}

impl Store {
    pub async fn message(&self, id: i64) -> Result<Message> {
        let sql = format!("SELECT {COLUMNS} FROM messages m LEFT JOIN users u ON u.id = m.author_id WHERE m.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&self.pool).await?;
        let mut m = vec![message_from(&row.ok_or(StoreError::NotFound("message"))?)?];
        self.attach_media(&mut m).await?;
        m.pop().ok_or(StoreError::NotFound("message"))
    }

    /// Fills in each message's attachments, with one query for all of them.
    pub(crate) async fn attach_media(&self, messages: &mut [Message]) -> Result<()> {
        let ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
        for media in self.media_of(&ids).await? {
            if let Some(m) = messages.iter_mut().find(|m| Some(m.id) == media.message_id) {
                m.media.push(media);
            }
        }
        Ok(())
    }

    /// One page of a conversation's messages, oldest first.
    pub async fn messages(
        &self,
        account_id: i64,
        conversation_id: i64,
        page: MessagePage,
        limit: i64,
    ) -> Result<Vec<Message>> {
        self.conversation(account_id, conversation_id).await?;
        let (cond, order, from) = match page {
            MessagePage::After(id) => ("m.id > $2", "ASC", id),
            MessagePage::Before(id) => ("m.id < $2", "DESC", id),
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM messages m LEFT JOIN users u ON u.id = m.author_id
             WHERE m.conversation_id = $1 AND ($2 IS NULL OR {cond}) ORDER BY m.id {order} LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(conversation_id)
            .bind(from)
            .bind(limit.clamp(1, MAX_MESSAGES_READ))
            .fetch_all(&self.pool)
            .await?;
        let mut messages = rows.iter().map(message_from).collect::<Result<Vec<_>>>()?;
        if matches!(page, MessagePage::Before(_)) {
            messages.reverse();
        }
        self.attach_media(&mut messages).await?;
        Ok(messages)
    }

    /// Messages exchanged with one address on one inbox, for the phone simulator.
    pub async fn messages_with_address(
        &self,
        inbox_id: i64,
        namespace: &str,
        address: &str,
        limit: i64,
    ) -> Result<Vec<Message>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM messages m
             JOIN conversations c ON c.id = m.conversation_id
             JOIN contact_identities i ON i.id = c.identity_id
             LEFT JOIN users u ON u.id = m.author_id
             WHERE m.inbox_id = $1 AND i.namespace = $2 AND i.address = $3 AND m.private = 0
             ORDER BY m.id DESC LIMIT $4"
        );
        let mut rows: Vec<Message> = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(inbox_id)
            .bind(namespace)
            .bind(address)
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

    /// The one way a message leaves: the gate decides inside the same
    /// transaction that writes the outbox row, against the consent state read
    /// in that transaction. A blocked message writes nothing.
    pub async fn send_outbound(&self, new: NewOutbound) -> Result<OutboundOutcome> {
        match self.send_outbound_keyed(new, None).await? {
            Keyed::Fresh(outcome) => Ok(outcome),
            Keyed::Taken => Err(StoreError::Conflict("an unkeyed send found its key taken".into())),
        }
    }

    /// As `send_outbound`, claiming a client's idempotency key in the same
    /// transaction: `Taken` when another request holds it, and nothing is stored.
    pub async fn send_outbound_keyed(
        &self,
        new: NewOutbound,
        key: Option<&crate::IdemKey>,
    ) -> Result<Keyed<OutboundOutcome>> {
        self.send_outbound_routed(new, key, None).await
    }

    /// As `send_outbound_keyed`, through `route` (another of the customer's
    /// channels) when it is not the conversation's own: the conversation moves
    /// to that channel in the same transaction, and the gate judges the message
    /// by that inbox's consent scope and reply window. Blocked, nothing moves.
    pub async fn send_outbound_routed(
        &self,
        new: NewOutbound,
        key: Option<&crate::IdemKey>,
        route: Option<crate::reach::Route>,
    ) -> Result<Keyed<OutboundOutcome>> {
        let conv = self.conversation(new.account_id, new.conversation_id).await?;
        let mut tx = self.begin_write().await?;
        if let Some(key) = key
            && !crate::idempotency::claim(&mut tx, key, new.now).await?
        {
            return Ok(Keyed::Taken);
        }
        let route = route.filter(|r| !new.private && (r.inbox_id, r.identity_id) != (conv.inbox_id, conv.identity_id));
        let inbox_id = match &route {
            Some(r) => {
                crate::reach::move_conversation(&mut tx, &conv, r, new.author_id, new.now).await?;
                r.inbox_id
            }
            None => conv.inbox_id,
        };
        match insert_outbound(&mut tx, (conv.id, inbox_id, conv.contact_id), &new).await? {
            Err(reason) => Ok(Keyed::Fresh(OutboundOutcome::Blocked(reason))),
            Ok(message_id) => {
                if let Some(key) = key {
                    crate::idempotency::bind_message(&mut tx, key, message_id).await?;
                }
                self.commit(tx).await?;
                Ok(Keyed::Fresh(OutboundOutcome::Stored(Box::new(self.message(message_id).await?))))
            }
        }
    }
}

/// Writes an outbound message and, unless it is a private note, its outbox
/// row, in the caller's transaction. The only code that inserts outbox rows:
/// the gate's verdict is taken here, on the consent read here.
pub(crate) async fn insert_outbound(
    tx: &mut sqlx::AnyConnection,
    (conversation_id, inbox_id, contact_id): (i64, i64, i64),
    new: &NewOutbound,
) -> Result<Result<i64, BlockReason>> {
    let now_ms = to_ms(new.now);
    let count = segments::count(new.body.as_str());
    let (status, not_before) = if new.private {
        (DeliveryStatus::Note, None)
    } else {
        let who = (conversation_id, contact_id, inbox_id);
        let channel = (new.channel, new.template.is_some(), new.author_id.is_some());
        match gate_in_tx(tx, who, new.kind, (new.now, new.send_at), new.timing.clone(), channel).await? {
            Err(reason) => return Ok(Err(reason)),
            Ok((status, at)) => (status, Some(to_ms(at))),
        }
    };
    let row = sqlx::query(
        "INSERT INTO messages (conversation_id, inbox_id, direction, author_id, body, private, status, segments, encoding, created_at, updated_at, template)
         VALUES ($1, $2, 'outbound', $3, $4, $5, $6, $7, $8, $9, $9, $10) RETURNING id",
    )
    .bind(conversation_id)
    .bind(inbox_id)
    .bind(new.author_id)
    .bind(new.body.as_str())
    .bind(new.private as i64)
    .bind(status.as_str())
    .bind(count.segments as i64)
    .bind(count.encoding.as_str())
    .bind(now_ms)
    .bind(new.template.as_deref().filter(|_| !new.private))
    .fetch_one(&mut *tx)
    .await?;
    let message_id = returned_id(&row)?;
    crate::media::attach_uploads(tx, message_id, new.author_id, &new.media).await?;
    if new.private {
        let ids = (new.account_id, conversation_id, message_id);
        crate::mentions::record(tx, ids, new.author_id, new.body.as_str(), now_ms).await?;
    }
    let place = (new.account_id, conversation_id);
    let Some(nb) = not_before else {
        crate::events::append(tx, place, &DomainEvent::NoteAdded { message_id }, new.author_id, new.now).await?;
        return Ok(Ok(message_id));
    };
    sqlx::query(
        "INSERT INTO outbox (message_id, inbox_id, kind, state, not_before, attempts, created_at, updated_at, live_answer, identity_id)
         VALUES ($1, $2, $3, 'queued', $4, 0, $5, $5, $6, (SELECT identity_id FROM conversations WHERE id = $7))",
    )
    .bind(message_id)
    .bind(inbox_id)
    .bind(new.kind.as_str())
    .bind(nb)
    .bind(now_ms)
    .bind(live_answer(new) as i64)
    .bind(conversation_id)
    .execute(&mut *tx)
    .await?;
    // A person writing to the customer ends the flow that was answering them.
    if new.author_id.is_some() && !new.private {
        use textdesk_core::event::FlowEndReason;
        let end = crate::flows::SessionEnd::Ended(FlowEndReason::PersonStepped);
        crate::flows::end_session(tx, (new.account_id, conversation_id), end, new.now).await?;
    }
    // Only a person's reply ends the customer's wait; automatic replies do not.
    // (The list's preview is read from the messages: `Store::previews_for`.)
    // A message scheduled for later has not answered the customer yet.
    let answered = new.author_id.is_some() && new.send_at.is_none_or(|t| t <= new.now);
    let waiting = if answered { "NULL" } else { "waiting_since" };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE conversations SET last_activity_at = $1, waiting_since = {waiting} WHERE id = $2"
    )))
    .bind(now_ms)
    .bind(conversation_id)
    .execute(&mut *tx)
    .await?;
    let ev = match new.send_at.filter(|t| *t > new.now) {
        Some(send_at) => DomainEvent::MessageScheduled { message_id, send_at },
        None => DomainEvent::MessageQueued { message_id, automatic: new.author_id.is_none() },
    };
    crate::events::append(tx, place, &ev, new.author_id, new.now).await?;
    Ok(Ok(message_id))
}

/// An automatic reply queued as an answer in a live exchange: the
/// dispatcher's second look keeps it live for a few minutes.
fn live_answer(new: &NewOutbound) -> bool {
    new.author_id.is_none()
        && new.kind == OutboundKind::Reply
        && new.send_at.is_none()
        && new.timing.as_ref().is_some_and(|t| t.live_exchange)
}

/// The gate's verdict for a message to `contact_id` from `inbox_id`, on the
/// consent (in the inbox's scope) read in the caller's transaction: blocked, or the status and moment it waits for.
/// `timing` is the contact's clock at the moment asked for (`send_at`, else now); on a
/// channel with a reply window, the customer's last message through this inbox
/// (in any of their conversations) is read in the transaction too.
/// `by_person`: a person wrote it (Messenger lets only them answer after 24 hours).
pub(crate) async fn gate_in_tx(
    tx: &mut sqlx::AnyConnection,
    (_conversation_id, contact_id, inbox_id): (i64, i64, i64),
    kind: OutboundKind,
    (now, send_at): (Timestamp, Option<Timestamp>),
    timing: Option<textdesk_core::gate::Timing>,
    (channel, template, by_person): (textdesk_core::Capabilities, bool, bool),
) -> Result<Result<(DeliveryStatus, Timestamp), BlockReason>> {
    let consent = crate::consent::scoped_state(tx, contact_id, inbox_id).await?;
    let at = send_at.filter(|t| *t > now).unwrap_or(now);
    let last_inbound = match channel.reply_window {
        None => None,
        Some(_) => crate::reach::last_inbound_through(tx, contact_id, inbox_id).await?,
    };
    Ok(
        match gate::decide(&OutboundRequest {
            kind,
            consent,
            now: at,
            timing,
            channel,
            last_inbound,
            template,
            by_person,
        }) {
            Verdict::Block(reason) => Err(reason),
            Verdict::Allow if at == now => Ok((DeliveryStatus::Queued, now)),
            Verdict::Allow => Ok((DeliveryStatus::Scheduled, at)),
            Verdict::Defer(until) => Ok((DeliveryStatus::Scheduled, until)),
        },
    )
}

/// What the gate needs to know about a conversation's contact: the zone an
/// agent set, the address the conversation runs on, and when they last wrote.
#[derive(Debug, Clone)]
pub struct ContactClock {
    pub time_zone: Option<String>,
    pub address: String,
    pub last_inbound: Option<Timestamp>,
}

impl Store {
    pub async fn contact_clock(&self, conversation_id: i64) -> Result<ContactClock> {
        let r = sqlx::query(
            "SELECT ct.time_zone, i.address,
                    (SELECT MAX(m.created_at) FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'inbound') AS last_inbound
             FROM conversations c JOIN contacts ct ON ct.id = c.contact_id JOIN contact_identities i ON i.id = c.identity_id
             WHERE c.id = $1",
        )
        .bind(conversation_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("conversation"))?;
        Ok(ContactClock {
            time_zone: r.try_get("time_zone")?,
            address: r.try_get("address")?,
            last_inbound: r.try_get::<Option<i64>, _>("last_inbound")?.map(from_ms),
        })
    }
}
