//! Live events for agents' screens. Every event is a row in `live_events`
//! first: its id is increasing and the same on every node, so a client that
//! lost its connection resumes from the last id it saw. Within a node, a
//! broadcast channel carries events to open streams; across PostgreSQL nodes,
//! LISTEN/NOTIFY carries each row to every node, which rebroadcasts it locally
//! (so a node hears its own events the same way).

use std::sync::Arc;

use futures_util::Stream;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::{AnyPool, Row};
use tokio::sync::{Mutex, broadcast};

use crate::{Backend, Result, to_ms};

const CHANNEL: &str = "textdesk_live";

/// Publishers on PostgreSQL take this transaction lock before their id is
/// drawn, so ids commit (and NOTIFY arrives) in id order: a stream that skips
/// ids it has passed can then never skip one that commits late.
const PUBLISH_LOCK: i64 = 0x7465_7874_6c69_7665;

/// Events read from the table at a time when catching up.
const READ_BATCH: i64 = 1000;

/// How long events are kept for clients to resume from.
pub const KEEP_FOR: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LiveEvent {
    /// Assigned by [`EventBus::publish`]: increasing, the same on every node.
    #[serde(default)]
    pub id: i64,
    pub account_id: i64,
    /// `message.created`, `message.updated`, `message.deleted`, `conversation.updated`.
    pub kind: String,
    pub conversation_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<i64>,
    /// A customer's message (with `message.created`): what may deserve a
    /// notification. Only this flag; the text stays in the messages table.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inbound: bool,
}

impl LiveEvent {
    pub fn new(account_id: i64, kind: &str, conversation_id: i64, message_id: Option<i64>) -> Self {
        LiveEvent { id: 0, account_id, kind: kind.into(), conversation_id, message_id, inbound: false }
    }
}

/// What a stream following one account yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Live {
    Event(LiveEvent),
    /// The events after the id the client gave are no longer kept (or the id
    /// was never given out): it must reload what it shows. Later events follow
    /// from `last_id`, the newest event when this was said.
    Resync {
        last_id: i64,
    },
}

#[derive(Clone)]
pub struct EventBus {
    local: broadcast::Sender<LiveEvent>,
    pool: AnyPool,
    backend: Backend,
    /// On SQLite, the insert and the broadcast happen under this lock, so the
    /// broadcast carries ids in order (PostgreSQL orders them with PUBLISH_LOCK).
    order: Arc<Mutex<()>>,
}

impl EventBus {
    pub(crate) async fn start(backend: Backend, url: &str, pool: AnyPool) -> Result<Self> {
        let (local, _) = broadcast::channel(1024);
        let bus = EventBus { local, pool, backend, order: Arc::default() };
        if backend == Backend::Sqlite {
            return Ok(bus);
        }
        let pg = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(url).await?;
        let mut listener = sqlx::postgres::PgListener::connect_with(&pg).await?;
        listener.listen(CHANNEL).await?;
        let mut last = bus.newest_id().await?;
        let relay = bus.clone();
        tokio::spawn(async move {
            loop {
                match listener.try_recv().await {
                    Ok(Some(n)) => match serde_json::from_str::<LiveEvent>(n.payload()) {
                        Ok(ev) if ev.id > last => {
                            last = ev.id;
                            let _ = relay.local.send(ev);
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "unreadable live event notification"),
                    },
                    // The connection was lost and is listening again: what was
                    // published meanwhile is in the table.
                    Ok(None) => last = relay.relay_missed(last).await,
                    Err(e) => {
                        tracing::warn!(error = %e, "live event listener interrupted");
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                        last = relay.relay_missed(last).await;
                    }
                }
            }
        });
        Ok(bus)
    }

    /// Broadcasts on this node what was published after `last` (every
    /// account's), returning the newest id relayed.
    async fn relay_missed(&self, mut last: i64) -> i64 {
        loop {
            match self.read_after(None, last).await {
                Ok(missed) => {
                    let full = missed.len() as i64 >= READ_BATCH;
                    for ev in missed {
                        last = ev.id;
                        let _ = self.local.send(ev);
                    }
                    if !full {
                        return last;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not read missed live events");
                    return last;
                }
            }
        }
    }

    /// Records the event (one INSERT) and sends it to every node's streams.
    /// Returns its id, or None when it could not be recorded (logged).
    pub async fn publish(&self, ev: LiveEvent) -> Option<i64> {
        let now = to_ms(Timestamp::now());
        let inbound = i32::from(ev.inbound);
        let result = match self.backend {
            Backend::Sqlite => {
                let _order = self.order.lock().await;
                let id = sqlx::query(
                    "INSERT INTO live_events (account_id, kind, conversation_id, message_id, inbound, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(ev.account_id)
                .bind(&ev.kind)
                .bind(ev.conversation_id)
                .bind(ev.message_id)
                .bind(inbound)
                .bind(now)
                .fetch_one(&self.pool)
                .await
                .and_then(|r| r.try_get::<i64, _>(0));
                if let Ok(id) = id {
                    let _ = self.local.send(LiveEvent { id, ..ev.clone() });
                }
                id
            }
            // One statement, so one implicit transaction: the lock is held
            // from before the id is drawn until the row and its NOTIFY commit.
            Backend::Postgres => sqlx::query(
                "WITH l AS (SELECT pg_advisory_xact_lock($7)),
                 e AS (INSERT INTO live_events (account_id, kind, conversation_id, message_id, inbound, created_at)
                       SELECT $1, $2, $3, $4, $5, $6 FROM l RETURNING *)
                 SELECT id, pg_notify($8, json_build_object('id', id, 'account_id', account_id, 'kind', kind,
                        'conversation_id', conversation_id, 'message_id', message_id, 'inbound', inbound = 1)::text)::text
                 FROM e",
            )
            .bind(ev.account_id)
            .bind(&ev.kind)
            .bind(ev.conversation_id)
            .bind(ev.message_id)
            .bind(inbound)
            .bind(now)
            .bind(PUBLISH_LOCK)
            .bind(CHANNEL)
            .fetch_one(&self.pool)
            .await
            .and_then(|r| r.try_get::<i64, _>(0)),
        };
        match result {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::warn!(error = %e, kind = %ev.kind, "could not publish a live event");
                None
            }
        }
    }

    /// Every event as it is published on any node (not resumable: for workers
    /// that only need a nudge).
    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.local.subscribe()
    }

    /// The newest event id (0 when there is none).
    pub async fn newest_id(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(id), 0) FROM live_events").fetch_one(&self.pool).await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    /// Events after `after` in id order, for one account or (None) all.
    async fn read_after(&self, account_id: Option<i64>, after: i64) -> Result<Vec<LiveEvent>> {
        let rows = sqlx::query(
            "SELECT id, account_id, kind, conversation_id, message_id, inbound FROM live_events
             WHERE id > $1 AND ($2 IS NULL OR account_id = $2) ORDER BY id LIMIT $3",
        )
        .bind(after)
        .bind(account_id)
        .bind(READ_BATCH)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LiveEvent {
                    id: r.try_get(0)?,
                    account_id: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    conversation_id: r.try_get(3)?,
                    message_id: r.try_get(4)?,
                    inbound: r.try_get::<i32, _>(5)? != 0,
                })
            })
            .collect()
    }

    /// Whether a client that saw `after` can be given everything since: the
    /// id was given out and nothing after it has been pruned.
    async fn can_resume(&self, after: i64) -> Result<bool> {
        let row = sqlx::query("SELECT MIN(id), MAX(id) FROM live_events").fetch_one(&self.pool).await?;
        let (min, max) = (row.try_get::<Option<i64>, _>(0)?, row.try_get::<Option<i64>, _>(1)?);
        Ok(match (min, max) {
            (Some(min), Some(max)) => after >= min - 1 && after <= max,
            _ => after == 0,
        })
    }

    /// Drops events older than [`KEEP_FOR`], keeping the newest so that the
    /// last id anyone saw stays known.
    pub async fn prune(&self, now: Timestamp) -> Result<u64> {
        let cutoff = to_ms(now) - KEEP_FOR.as_millis() as i64;
        let r = sqlx::query("DELETE FROM live_events WHERE created_at < $1 AND id < (SELECT MAX(id) FROM live_events)")
            .bind(cutoff)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    /// One account's events: after `after` when given (from the table, then
    /// live), else from now; with no duplicate and no gap. Subscribes before
    /// reading the table, and skips live events it has already passed. Also
    /// returns the id the stream starts after, for a client to resume from
    /// even if the connection drops before any event arrives.
    pub async fn follow(&self, account_id: i64, after: Option<i64>) -> (i64, impl Stream<Item = Live> + Send + use<>) {
        let rx = self.local.subscribe();
        let mut f = Follow { bus: self.clone(), rx, account_id, last: 0, queue: Vec::new(), more: false, first: None };
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
    /// The newest id passed (sent, or skipped as another account's).
    last: i64,
    /// Read from the table, still to send (newest first, popped from the end).
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
                // Fell behind the broadcast: what it dropped is in the table.
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
        let mut missed = self.bus.read_after(Some(self.account_id), self.last).await?;
        self.more = missed.len() as i64 >= READ_BATCH;
        missed.reverse();
        self.queue = missed;
        Ok(())
    }

    async fn resync(&mut self) -> Option<Live> {
        self.queue.clear();
        self.more = false;
        self.last = self.bus.newest_id().await.unwrap_or(self.last).max(self.last);
        Some(Live::Resync { last_id: self.last })
    }
}
