//! Durable consumers of the event log: automations, outgoing webhooks and
//! report rollups read the log in id order from a saved position, one
//! `event_cursors` row each. A batch is handled in one transaction that holds
//! the cursor row (locked on PostgreSQL, under SQLite's one writer), runs the
//! consumer's effects and moves the cursor: all of it commits, or none, so an
//! event is handled once across a crash and across nodes.
//!
//! A batch is also short: it commits once it has run for [`TX_BUDGET`]
//! (after at least one event), whatever its limit. On SQLite its transaction
//! holds the one write lock every incoming text needs, and on PostgreSQL a
//! consumer that appends an event (an automatic reply, a review queued) holds
//! the log's append lock until it commits; a batch of 500 events on a loaded
//! machine held either for more than 10 s, past SQLite's busy timeout and
//! near the 15 s after which an SMS provider gives up on a webhook. On
//! SQLite it commits after its current event as soon as an urgent writer
//! waits for the lock (`write::WriteQueue::urgent_waiting`: a batch of
//! inbound texts whose providers wait on it, a paced sender's claim): a
//! consumer's work can wait.

use std::future::Future;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use sqlx::{AnyConnection, Row};

use crate::events::{LoggedEvent, read_log};
use crate::{Result, Store, to_ms};

/// How long a consumer's transaction runs before it commits what it has done
/// so far and lets the writers waiting behind it in (an incoming text waits
/// at most about this long, plus one event's work, for a consumer).
pub(crate) const TX_BUDGET: Duration = Duration::from_millis(50);

/// Rows read from the log at a time inside a batch: the budget usually ends a
/// batch long before its limit, and what was read past that point is read again.
const CHUNK: i64 = 64;

/// Rows read at a time while an urgent writer waits (a flood of texts on
/// SQLite): the batch ends after one event, and reading 64 rows to handle
/// one made every consumer's turn read and decode 63 more for nothing.
const CHUNK_WHEN_URGENT: i64 = 4;

/// On SQLite, the pause after a batch cut short, before the next, with SQLite's
/// lock free and this process's turn held: this process's writers queue in turn
/// (`write::WriteQueue`), but a writer in another process (the CLI beside the
/// server) waits in SQLite's busy handler, which looks again only every 100 ms,
/// and must find the lock free at one of those looks. With several consumers
/// behind, the turn used to pass straight to the next, and the lock was never
/// free (a full-size seeding beside the server: "database is locked" after
/// 10 s). Ended as soon as an urgent writer waits (`write::WriteQueue`).
const PAUSE: Duration = Duration::from_millis(10);

/// Something that acts on each event of the log, once.
pub trait Consumer: Send + Sync {
    /// The cursor row's name: stable, one per consumer.
    fn name(&self) -> &str;

    /// Acts on one event inside the batch's transaction: whatever it writes
    /// through `tx` commits with the cursor that passes this event. An error
    /// rolls the whole batch back (it is handled again on the next call).
    fn handle<'a>(
        &'a self,
        tx: &'a mut AnyConnection,
        event: &'a LoggedEvent,
    ) -> impl Future<Output = Result<()>> + Send + 'a;

    /// Before a batch's first event: forgets whatever a batch that failed
    /// left behind (its transaction was rolled back).
    fn begin(&self) {}

    /// Before the events of each read of the log are handled, in the batch's
    /// transaction: reads what handling them will need, for all of them at
    /// once (the automations engine's customers' messages and
    /// conversations: a statement each for the lot, not a few an event).
    fn prepare<'a>(
        &'a self,
        _tx: &'a mut AnyConnection,
        _events: &'a [LoggedEvent],
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        std::future::ready(Ok(()))
    }

    /// After a batch's last event, in its transaction, before the cursor
    /// moves: writes what the consumer gathered over the batch's events
    /// (the reports' cells and clocks, a statement each instead of a few an event).
    fn finish<'a>(&'a self, _tx: &'a mut AnyConnection) -> impl Future<Output = Result<()>> + Send + 'a {
        std::future::ready(Ok(()))
    }
}

impl Store {
    /// Hands `consumer` the events after its position, at most `limit`, in id
    /// order, and moves its position past them, in one transaction that ends
    /// after [`TX_BUDGET`] (having handled one event at least). Returns how
    /// many rows it passed (0: nothing new; an event this version cannot read
    /// is passed over, logged). A new consumer starts at the beginning of the
    /// log (rows copied from before the log, ids <= 0, are history, not news).
    pub async fn consume<C: Consumer>(&self, consumer: &C, limit: i64) -> Result<usize> {
        // A consumer that has caught up takes no write lock: on SQLite that
        // lock is the one every incoming text waits for, and the loops ask
        // after every event.
        if !self.consumer_behind(consumer.name()).await? {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        // From the lock: the wait for it is not this batch's to spend.
        let started = Instant::now();
        let now = to_ms(Timestamp::now());
        // Made if missing and locked in one statement: the update that does
        // nothing locks the row on PostgreSQL, so another node handling a
        // batch holds it until it commits, and we then read the position it
        // moved to (an update acts on the newest version of the row).
        let position: i64 = sqlx::query(
            "INSERT INTO event_cursors (name, position, updated_at) VALUES ($1, 0, $2)
             ON CONFLICT (name) DO UPDATE SET updated_at = event_cursors.updated_at RETURNING position",
        )
        .bind(consumer.name())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let limit = limit.clamp(1, crate::events::READ_BATCH);
        let (mut at, mut passed, mut cut) = (position, 0usize, false);
        consumer.begin();
        while !cut && (passed as i64) < limit {
            // An urgent writer already waiting cuts the batch after its first event: the rest would be read for nothing.
            let chunk = if self.writers.urgent_waiting() { CHUNK_WHEN_URGENT } else { CHUNK };
            let want = chunk.min(limit - passed as i64);
            let (events, ids) = read_log(&mut *tx, None, at, want).await?;
            consumer.prepare(&mut tx, &events).await?;
            let mut handled_to = ids.last().copied();
            for e in &events {
                consumer.handle(&mut tx, e).await?;
                if started.elapsed() >= TX_BUDGET || self.writers.urgent_waiting() {
                    // The rows after this event wait for the next batch.
                    handled_to = Some(e.id);
                    cut = true;
                    break;
                }
            }
            let Some(to) = handled_to else { break };
            passed += ids.partition_point(|id| *id <= to);
            at = to;
            if (ids.len() as i64) < want {
                break;
            }
        }
        if passed == 0 {
            tx.rollback().await?;
            return Ok(0);
        }
        consumer.finish(&mut tx).await?;
        sqlx::query("UPDATE event_cursors SET position = $1, updated_at = $2 WHERE name = $3")
            .bind(at)
            .bind(now)
            .bind(consumer.name())
            .execute(&mut *tx)
            .await?;
        let turn = tx.commit_keeping_turn().await?;
        // No queue, no pause: PostgreSQL's writers do not exclude each other.
        if cut {
            // The pause keeps this process's turn: were it let go, the next
            // of this process's writers would take SQLite's lock at once and
            // a writer in another process would never find it free. An
            // urgent writer ends it.
            self.writers.pause_unless_urgent(PAUSE).await;
        }
        drop(turn);
        self.after_commit().await;
        Ok(passed)
    }

    /// Runs [`Store::consume`] in batches of `batch` until the consumer has
    /// caught up; returns how many rows it passed in all.
    pub async fn consume_all<C: Consumer>(&self, consumer: &C, batch: i64) -> Result<usize> {
        let mut total = 0;
        loop {
            let n = self.consume(consumer, batch).await?;
            total += n;
            if n == 0 {
                return Ok(total);
            }
        }
    }

    /// Whether the log holds events a consumer has not passed yet: two
    /// reads, no lock (a hint; [`Store::consume`] reads again under its lock).
    pub async fn consumer_behind(&self, name: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT COALESCE((SELECT position FROM event_cursors WHERE name = $1), 0),
                    COALESCE((SELECT MAX(id) FROM event_log), 0)",
        )
        .bind(name)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>(0)? < row.try_get::<i64, _>(1)?)
    }

    /// How many consumers have events still to handle: none once every
    /// consumer has caught up with the log (a benchmark waits for that
    /// between its runs, and times it).
    pub async fn consumers_behind(&self) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM event_cursors WHERE position < (SELECT COALESCE(MAX(id), 0) FROM event_log)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Where a consumer is (0 before its first batch).
    pub async fn consumer_position(&self, name: &str) -> Result<i64> {
        let row = sqlx::query("SELECT position FROM event_cursors WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get(0)?,
            None => 0,
        })
    }

    /// Creates a consumer's position at the end of the log, unless it exists:
    /// for a consumer that acts on what happens from now on (automations),
    /// not on the history before it was installed.
    pub async fn start_consumer_at_end(&self, name: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO event_cursors (name, position, updated_at)
             SELECT $1, COALESCE(MAX(id), 0), $2 FROM event_log WHERE TRUE ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(to_ms(Timestamp::now()))
        .execute(&mut *tx)
        .await?;
        self.commit(tx).await
    }
}
