//! The event log. Every change anyone else cares about appends one row to
//! `event_log` with [`append`] (several at once: [`append_all`]), inside the
//! change's own transaction: the row commits with the change or not at all. The log is the conversation's
//! timeline and what consumers read, in id order, from a saved position:
//!
//! - the live relay (this module's [`EventBus`]): per node, its position in
//!   memory, since its effect (frames on open SSE streams) is not in the
//!   database; a client that missed something resumes from its own id;
//! - durable consumers ([`crate::consumers`]): position in `event_cursors`,
//!   advanced in the same transaction as their effects.
//!
//! Ids are in commit order on both backends (SQLite has one writer; on
//! PostgreSQL appenders take [`APPEND_LOCK`] before their id is drawn), so a
//! reader that has passed id N can never see a smaller id commit later.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::Stream;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, AnyPool, Row};
use textdesk_core::event::DomainEvent;
use tokio::sync::{Notify, broadcast};

use crate::{Backend, Result, from_ms, to_ms};

const CHANNEL: &str = "textdesk_live";

/// Appenders on PostgreSQL take this transaction lock before their id is
/// drawn and keep it until commit, so ids commit in id order.
const APPEND_LOCK: i64 = 0x7465_7874_6c69_7665;

/// Rows read from the log at a time.
pub(crate) const READ_BATCH: i64 = 1000;

/// How often the relay looks at the log without being nudged: what another
/// process wrote (the CLI on SQLite) or a NOTIFY lost with its connection.
const POLL: Duration = Duration::from_millis(500);

/// Appends `ev` to the log in the caller's transaction and returns its id.
/// The one way an event is written. On PostgreSQL it also NOTIFYs every
/// node, which PostgreSQL delivers only if and when the transaction commits.
pub(crate) async fn append(
    conn: &mut AnyConnection,
    (account_id, conversation_id): (i64, i64),
    ev: &DomainEvent,
    actor_id: Option<i64>,
    now: Timestamp,
) -> Result<i64> {
    let postgres = conn.backend_name() == "PostgreSQL";
    let sql = if postgres {
        // Constant payload: PostgreSQL folds a transaction's identical
        // notifications into one; listeners read the rows from the table.
        "WITH l AS (SELECT pg_advisory_xact_lock($9)),
         e AS (INSERT INTO event_log (account_id, conversation_id, message_id, kind, timeline, actor_id, data, created_at)
               SELECT $1, $2, $3, $4, $5, $6, $7, $8 FROM l RETURNING id)
         SELECT id, pg_notify($10, '')::text FROM e"
    } else {
        "INSERT INTO event_log (account_id, conversation_id, message_id, kind, timeline, actor_id, data, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id"
    };
    let mut q = sqlx::query(sql)
        .bind(account_id)
        .bind(conversation_id)
        .bind(ev.message_id())
        .bind(ev.kind())
        .bind(i32::from(ev.on_timeline()))
        .bind(actor_id)
        .bind(ev.to_json())
        .bind(to_ms(now));
    if postgres {
        q = q.bind(APPEND_LOCK).bind(CHANNEL);
    }
    Ok(q.fetch_one(&mut *conn).await?.try_get::<i64, _>(0)?)
}

/// [`append`] for several events, each with its place and time, in order,
/// in one statement: ids are given in the rows' order (on SQLite one writer;
/// on PostgreSQL under the log's order lock, taken in the same statement,
/// with one `NOTIFY`).
pub(crate) async fn append_all(
    conn: &mut AnyConnection,
    events: &[((i64, i64), DomainEvent, Timestamp)],
    actor_id: Option<i64>,
) -> Result<()> {
    if events.len() < 2 {
        for (place, ev, now) in events {
            append(conn, *place, ev, actor_id, *now).await?;
        }
        return Ok(());
    }
    use crate::multirow::Value;
    let postgres = conn.backend_name() == "PostgreSQL";
    let rows: Vec<Vec<Value>> = events
        .iter()
        .map(|((account_id, conversation_id), ev, now)| {
            vec![
                Value::Int(*account_id),
                Value::Int(*conversation_id),
                Value::OptInt(ev.message_id()),
                Value::Text(ev.kind().to_owned()),
                Value::Int(i64::from(ev.on_timeline())),
                Value::OptInt(actor_id),
                Value::Text(ev.to_json()),
                Value::Int(to_ms(*now)),
            ]
        })
        .collect();
    let columns = "account_id, conversation_id, message_id, kind, timeline, actor_id, data, created_at";
    let sql = if postgres {
        // As `append`, for all of them in one statement: the order lock taken
        // before the ids are drawn (they follow the rows' order), one `NOTIFY`.
        format!(
            "WITH l AS (SELECT pg_advisory_xact_lock({APPEND_LOCK})),
             e AS (INSERT INTO event_log ({columns}) SELECT v.* FROM (VALUES {{values}}) AS v, l RETURNING id)
             SELECT pg_notify('{CHANNEL}', '')::text FROM (SELECT count(*) FROM e) n"
        )
    } else {
        format!("INSERT INTO event_log ({columns}) VALUES {{values}}")
    };
    crate::multirow::run(conn, &sql, &rows).await?;
    Ok(())
}

/// [`append`] for an event about a message, whose conversation and account
/// are read from it.
pub(crate) async fn append_for_message(
    conn: &mut AnyConnection,
    message_id: i64,
    ev: &DomainEvent,
    actor_id: Option<i64>,
    now: Timestamp,
) -> Result<i64> {
    let r = sqlx::query(
        "SELECT c.account_id, m.conversation_id FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.id = $1",
    )
    .bind(message_id)
    .fetch_one(&mut *conn)
    .await?;
    let place = (r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?);
    append(conn, place, ev, actor_id, now).await
}

/// [`append`] once per conversation of a contact (the 20 most recent, the
/// ones an agent may have open), with `shown_in` last: screens coalesce a
/// burst of events and act on the last, so the one most likely open goes last.
pub(crate) async fn append_for_contact(
    conn: &mut AnyConnection,
    (account_id, contact_id, shown_in): (i64, i64, Option<i64>),
    ev: &DomainEvent,
    actor_id: Option<i64>,
    now: Timestamp,
) -> Result<()> {
    let rows = sqlx::query(
        "SELECT id FROM conversations WHERE account_id = $1 AND contact_id = $2 ORDER BY last_activity_at DESC, id DESC LIMIT 20",
    )
    .bind(account_id)
    .bind(contact_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut order: Vec<i64> = rows.iter().map(|r| r.try_get::<i64, _>(0)).collect::<Result<_, _>>()?;
    order.retain(|id| Some(*id) != shown_in);
    order.reverse();
    order.extend(shown_in);
    for id in order {
        append(conn, (account_id, id), ev, actor_id, now).await?;
    }
    Ok(())
}

/// Live events read from the log.
struct Batch {
    events: Vec<LiveEvent>,
    /// Inboxes changed (`DomainEvent::InboxChanged`), for the nodes' caches.
    inboxes: Vec<i64>,
    /// The last id read (readable, told to screens or not).
    read_to: i64,
    /// As many rows as a read takes: there may be more.
    full: bool,
}

/// One row of the log.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEvent {
    pub id: i64,
    pub account_id: i64,
    pub conversation_id: i64,
    pub actor_id: Option<i64>,
    pub event: DomainEvent,
    pub created_at: Timestamp,
}

pub(crate) const LOG_COLUMNS: &str = "id, account_id, conversation_id, actor_id, data, created_at";

/// A row as read with [`LOG_COLUMNS`]; None (logged) for an event this
/// version cannot read, which readers pass over rather than stop at.
pub(crate) fn logged_from(r: &sqlx::any::AnyRow) -> Result<Option<LoggedEvent>> {
    let id: i64 = r.try_get("id")?;
    let data: String = r.try_get("data")?;
    let event = match DomainEvent::from_json(&data) {
        Ok(ev) => ev,
        Err(e) => {
            tracing::warn!(event = id, error = %e, "an event this version cannot read was passed over");
            return Ok(None);
        }
    };
    Ok(Some(LoggedEvent {
        id,
        account_id: r.try_get("account_id")?,
        conversation_id: r.try_get("conversation_id")?,
        actor_id: r.try_get("actor_id")?,
        event,
        created_at: from_ms(r.try_get("created_at")?),
    }))
}

/// Rows after `after` in id order (at most `limit`), for one account or
/// (None) all: the events this version can read, and the id of every row
/// read (readable or not), in order.
pub(crate) async fn read_log(
    conn: impl sqlx::Executor<'_, Database = sqlx::Any>,
    account_id: Option<i64>,
    after: i64,
    limit: i64,
) -> Result<(Vec<LoggedEvent>, Vec<i64>)> {
    let sql = format!(
        "SELECT {LOG_COLUMNS} FROM event_log WHERE id > $1 AND ($2 IS NULL OR account_id = $2) ORDER BY id LIMIT $3"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(after).bind(account_id).bind(limit).fetch_all(conn).await?;
    let mut ids = Vec::with_capacity(rows.len());
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        ids.push(r.try_get::<i64, _>("id")?);
        out.extend(logged_from(r)?);
    }
    Ok((out, ids))
}

/// What a live screen is sent: the SSE wire format `static/app.js` reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LiveEvent {
    /// The log row's id: increasing, the same on every node.
    pub id: i64,
    pub account_id: i64,
    /// `message.created`, `message.updated`, `message.deleted`,
    /// `conversation.updated`, `conversation.read`, `conversation.unread`,
    /// `conversation.escalated`, `survey.low_score` (a low poll score: supervisors are alerted),
    /// `callback.due` (a call back's time came: its taker, or everyone while untaken, is alerted).
    /// `review.queued` (the conversation joined the review queue: supervisors are alerted; anyone
    /// else's stream hears `conversation.updated`).
    /// `webhook.switched_off` (conversation id 0: admins are alerted).
    pub kind: String,
    pub conversation_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<i64>,
    /// A customer's message (with `message.created`): what may deserve a
    /// notification. Only this flag; the text stays in the messages table.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inbound: bool,
    /// With `conversation.escalated`: the supervisor it went to, whose
    /// screen alerts them; with `callback.due`: the agent who took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_user: Option<i64>,
}

impl LiveEvent {
    /// What screens are told of a logged event, if anything.
    pub fn of(e: &LoggedEvent) -> Option<LiveEvent> {
        let n = e.event.live()?;
        Some(LiveEvent {
            id: e.id,
            account_id: e.account_id,
            kind: n.kind.into(),
            conversation_id: e.conversation_id,
            message_id: n.message_id,
            inbound: n.inbound,
            for_user: n.for_user,
        })
    }
}

/// What a stream following one account yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Live {
    Event(LiveEvent),
    /// The id the client gave was never given out (another database, say), or
    /// the log could not be read: it must reload what it shows. Later events
    /// follow from `last_id`, the newest event when this was said.
    Resync {
        last_id: i64,
    },
}

/// The live relay: reads the log after its in-memory position and broadcasts
/// what screens are told on this node.
#[derive(Clone)]
pub struct EventBus {
    local: broadcast::Sender<LiveEvent>,
    /// Inboxes changed on any node (or by the CLI), as the relay reads them.
    inboxes: broadcast::Sender<i64>,
    pool: AnyPool,
    /// Told after a commit on this node, so the relay reads at once.
    nudge: Arc<Notify>,
    /// Test only (`hold_delivery_ms`): see [`EventBus::hold_delivery`].
    hold_ms: Arc<AtomicU64>,
}

impl EventBus {
    pub(crate) async fn start(backend: Backend, url: &str, pool: AnyPool) -> Result<Self> {
        let (local, _) = broadcast::channel(1024);
        let (inboxes, _) = broadcast::channel(256);
        let bus = EventBus { local, inboxes, pool, nudge: Arc::default(), hold_ms: Arc::default() };
        let last = bus.newest_id().await?;
        if backend == Backend::Postgres {
            let pg = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(url).await?;
            let mut listener = sqlx::postgres::PgListener::connect_with(&pg).await?;
            listener.listen(CHANNEL).await?;
            let nudge = bus.nudge.clone();
            let store_pool = bus.pool.clone();
            tokio::spawn(async move {
                // Ends with its store (an operator's command closes it and goes on).
                while !store_pool.is_closed() {
                    match listener.try_recv().await {
                        // A notification, or (None) the connection was lost and
                        // listens again: either way the relay reads the log.
                        Ok(_) => nudge.notify_one(),
                        Err(e) => {
                            tracing::warn!(error = %e, "live event listener interrupted");
                            tokio::time::sleep(POLL).await;
                            nudge.notify_one();
                        }
                    }
                }
            });
        }
        tokio::spawn(bus.clone().relay(last));
        Ok(bus)
    }

    /// The relay's loop: wait for a nudge (a commit on this node, a NOTIFY
    /// from any node) or the poll, then hand out what the log has after `last`.
    async fn relay(self, mut last: i64) {
        // Ends with its store: a closed pool has nothing more to hand out.
        while !self.pool.is_closed() {
            let _ = tokio::time::timeout(POLL, self.nudge.notified()).await;
            loop {
                match self.read_after(None, last).await {
                    Ok(batch) => {
                        for id in batch.inboxes {
                            let _ = self.inboxes.send(id);
                        }
                        for ev in batch.events {
                            let _ = self.local.send(ev);
                        }
                        last = batch.read_to;
                        if !batch.full {
                            break;
                        }
                    }
                    // Closed while reading: the loop ends without a word.
                    Err(_) if self.pool.is_closed() => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not read the event log");
                        break;
                    }
                }
            }
        }
    }

    /// Live events after `after` (one account's, or every account's), up to
    /// the first one held back by [`EventBus::hold_delivery`].
    async fn read_after(&self, account_id: Option<i64>, after: i64) -> Result<Batch> {
        let (mut logged, ids) = read_log(&self.pool, account_id, after, READ_BATCH).await?;
        let mut full = ids.len() as i64 >= READ_BATCH;
        let mut read_to = ids.last().copied().unwrap_or(after);
        let hold = self.hold_ms.load(Ordering::Relaxed);
        if hold > 0 {
            let cutoff = Timestamp::now() - jiff::SignedDuration::from_millis(hold as i64);
            // Stop at the first young one, so nothing after it overtakes it.
            if let Some(young) = logged.iter().position(|e| e.created_at > cutoff) {
                read_to = young.checked_sub(1).map_or(after, |i| logged[i].id);
                logged.truncate(young);
                full = false;
            }
        }
        let inboxes = logged
            .iter()
            .filter_map(|e| match e.event {
                DomainEvent::InboxChanged { inbox_id } => Some(inbox_id),
                _ => None,
            })
            .collect();
        Ok(Batch { events: logged.iter().filter_map(LiveEvent::of).collect(), inboxes, read_to, full })
    }

    /// Tells this node's relay that a transaction committed.
    pub(crate) fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// Test only (config `hold_delivery_ms`): live screens get no event until
    /// it is this old, and the store waits this long after each commit, so a
    /// test can kill the server between a change and its delivery (and
    /// between a commit and anything written after it). Zero (the default)
    /// delivers at once.
    pub fn hold_delivery(&self, hold: Duration) {
        self.hold_ms.store(hold.as_millis() as u64, Ordering::Relaxed);
    }

    pub(crate) fn held(&self) -> Duration {
        Duration::from_millis(self.hold_ms.load(Ordering::Relaxed))
    }

    /// Inboxes changed anywhere, as this node's relay reads them from the log
    /// (a lagging receiver must forget everything it keeps).
    pub fn inbox_changes(&self) -> broadcast::Receiver<i64> {
        self.inboxes.subscribe()
    }

    /// Every event screens are told, as this node relays it (not resumable:
    /// for workers that only need a nudge).
    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.local.subscribe()
    }

    /// The newest event id (0 when there is none).
    pub async fn newest_id(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(id), 0) FROM event_log").fetch_one(&self.pool).await?;
        Ok(row.try_get::<i64, _>(0)?.max(0))
    }

    /// Whether a client that saw `after` can be given everything since: the
    /// id was given out (events are kept, so nothing after it is gone).
    async fn can_resume(&self, after: i64) -> Result<bool> {
        Ok(after >= 0 && after <= self.newest_id().await?)
    }

    /// One account's events: after `after` when given (from the log, then
    /// live), else from now; with no duplicate and no gap. Subscribes before
    /// reading the log, and skips live events it has already passed. Also
    /// returns the id the stream starts after, for a client to resume from
    /// even if the connection drops before any event arrives.
    pub async fn follow(&self, account_id: i64, after: Option<i64>) -> (i64, impl Stream<Item = Live> + Send + use<>) {
        let rx = self.local.subscribe();
        let mut f = Follow {
            bus: self.clone(),
            rx,
            account_id,
            last: 0,
            read_to: 0,
            queue: Vec::new(),
            more: false,
            first: None,
        };
        f.first = match after {
            Some(after) => f.resume(after).await,
            None => match self.newest_id().await {
                Ok(id) => {
                    f.last = id;
                    None
                }
                Err(_) => f.resync().await,
            },
        };
        let start = f.last;
        let stream = futures_util::stream::unfold(f, |mut f| async move {
            let item = f.next().await?;
            Some((item, f))
        });
        (start, stream)
    }
}

struct Follow {
    bus: EventBus,
    rx: broadcast::Receiver<LiveEvent>,
    account_id: i64,
    /// The newest id passed (sent, or skipped as another account's or as
    /// nothing screens are told).
    last: i64,
    /// The last id the latest read of the log reached.
    read_to: i64,
    /// Read from the log, still to send (newest first, popped from the end).
    queue: Vec<LiveEvent>,
    /// The last read filled a batch: read again once the queue is sent.
    more: bool,
    /// Said before anything else (a resync).
    first: Option<Live>,
}

impl Follow {
    async fn next(&mut self) -> Option<Live> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        loop {
            if let Some(ev) = self.queue.pop() {
                self.last = ev.id;
                return Some(Live::Event(ev));
            }
            self.last = self.last.max(self.read_to);
            if self.more {
                if let Err(e) = self.catch_up().await {
                    tracing::warn!(error = %e, "a live stream could not catch up");
                    return self.resync().await;
                }
                continue;
            }
            match self.rx.recv().await {
                Ok(ev) if ev.id <= self.last => {}
                Ok(ev) if ev.account_id != self.account_id => self.last = ev.id,
                Ok(ev) => {
                    self.last = ev.id;
                    return Some(Live::Event(ev));
                }
                // Fell behind the broadcast: what it dropped is in the log.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    if let Err(e) = self.catch_up().await {
                        tracing::warn!(error = %e, "a live stream could not catch up");
                        return self.resync().await;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// The backlog after the client's id, or (returned) a resync.
    async fn resume(&mut self, after: i64) -> Option<Live> {
        match self.bus.can_resume(after).await {
            Ok(true) => {
                self.last = after;
                match self.catch_up().await {
                    Ok(()) => None,
                    Err(_) => self.resync().await,
                }
            }
            _ => self.resync().await,
        }
    }

    async fn catch_up(&mut self) -> Result<()> {
        let batch = self.bus.read_after(Some(self.account_id), self.last).await?;
        self.more = batch.full;
        self.read_to = batch.read_to;
        let mut missed = batch.events;
        missed.reverse();
        self.queue = missed;
        Ok(())
    }

    async fn resync(&mut self) -> Option<Live> {
        self.queue.clear();
        self.more = false;
        self.last = self.bus.newest_id().await.unwrap_or(self.last).max(self.last);
        self.read_to = self.last;
        Some(Live::Resync { last_id: self.last })
    }
}
