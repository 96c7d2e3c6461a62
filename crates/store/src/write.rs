//! Write transactions. On SQLite one writer holds the database at a time; the
//! writers of this process take turns at an in-process queue before `BEGIN
//! IMMEDIATE`, instead of each retrying through SQLite's busy handler, whose
//! sleeps (up to 100 ms between tries) turned a short wait into a long tail
//! under a flood of texts. Other processes on the same file still meet at
//! SQLite's lock, as before.
//!
//! Ordinary writers (agents' changes, event consumers, housekeeping) are
//! served first come, first served. An urgent writer (someone outside waits
//! on it: a batch of inbound texts, a paced sender's claim) waits for the turn
//! under way and at most one ordinary turn more, not for every writer queued
//! before it: in a flood of texts the inbound writer spent 43 % of its time
//! queued behind the event consumers' turns (docs/performance.md, "Session
//! 18"). An ordinary writer's turn still comes after the urgent writers
//! already waiting (one inbound writer, the senders' claims): none starves.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::AnyConnection;
use tokio::sync::{Mutex, Notify, OwnedMutexGuard};

use crate::{Result, StoreError};

/// As long as SQLite's busy timeout: a writer that waits longer gets the same
/// "database is busy" it would have had before the queue.
const TURN_TIMEOUT: Duration = Duration::from_secs(10);

/// The queue of this process's SQLite writers (none on PostgreSQL, where
/// writers do not exclude each other).
#[derive(Clone, Default)]
pub(crate) struct WriteQueue(Option<Arc<Queue>>);

struct Queue {
    /// The database itself: every writer holds it for its turn. Urgent
    /// writers queue here directly; an ordinary writer only once it holds
    /// `ordinary`, so at most one of them is ever queued here.
    db: Arc<Mutex<()>>,
    /// Held by an ordinary writer from before it queues for `db` to the end
    /// of its turn: the ordinary writers' own first-come queue.
    ordinary: Arc<Mutex<()>>,
    /// Writers waiting for their turn that someone outside waits on (inbound
    /// batches, a provider; a paced sender's claim, its rate): an event
    /// consumer holding the turn hands it over after its current event
    /// instead of working through its time budget.
    urgent: AtomicUsize,
    /// Told when an urgent writer starts to wait: a consumer pausing with
    /// the turn held lets it go at once.
    urgent_came: Notify,
    /// Told at the end of every turn: the log has grown (`checkpoint`).
    wrote: Arc<Notify>,
}

/// Counts an urgent writer as waiting until its turn comes (or it gives up).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

impl WriteQueue {
    pub(crate) fn sqlite() -> Self {
        WriteQueue(Some(Arc::new(Queue {
            db: Arc::new(Mutex::new(())),
            ordinary: Arc::new(Mutex::new(())),
            urgent: AtomicUsize::new(0),
            urgent_came: Notify::new(),
            wrote: Arc::new(Notify::new()),
        })))
    }

    /// Told at the end of every turn to write (none on PostgreSQL).
    pub(crate) fn wrote(&self) -> Option<Arc<Notify>> {
        self.0.as_ref().map(|q| q.wrote.clone())
    }

    /// Waits for this writer's turn (at once on PostgreSQL).
    pub(crate) async fn turn(&self) -> Result<Option<TurnGuard>> {
        let Some(queue) = &self.0 else { return Ok(None) };
        wait_for(queue, false).await.map(Some)
    }

    /// [`WriteQueue::turn`] for a writer someone outside waits on: while it
    /// waits, [`WriteQueue::urgent_waiting`] says so.
    pub(crate) async fn urgent_turn(&self) -> Result<Option<TurnGuard>> {
        let Some(queue) = &self.0 else { return Ok(None) };
        queue.urgent.fetch_add(1, Ordering::AcqRel);
        queue.urgent_came.notify_waiters();
        let _waiting = Waiting(&queue.urgent);
        wait_for(queue, true).await.map(Some)
    }

    /// Waits `pause`, or less if an urgent writer starts to wait meanwhile.
    pub(crate) async fn pause_unless_urgent(&self, pause: Duration) {
        let Some(queue) = &self.0 else { return };
        let came = queue.urgent_came.notified();
        tokio::pin!(came);
        // Registered before the look, so an urgent writer arriving between the two is not missed.
        came.as_mut().enable();
        if queue.urgent.load(Ordering::Acquire) > 0 {
            return;
        }
        let _ = tokio::time::timeout(pause, came).await;
    }

    /// Whether an urgent writer waits for the turn now (never on PostgreSQL).
    pub(crate) fn urgent_waiting(&self) -> bool {
        self.0.as_ref().is_some_and(|q| q.urgent.load(Ordering::Acquire) > 0)
    }
}

/// A writer's turn, held until dropped.
pub(crate) struct TurnGuard {
    // Let go in this order: the database first, then the ordinary queue.
    _db: OwnedMutexGuard<()>,
    _ordinary: Option<OwnedMutexGuard<()>>,
    wrote: Arc<Notify>,
}

impl Drop for TurnGuard {
    fn drop(&mut self) {
        self.wrote.notify_one();
    }
}

async fn wait_for(queue: &Queue, urgent: bool) -> Result<TurnGuard> {
    let wait = async {
        let ordinary = match urgent {
            true => None,
            false => Some(queue.ordinary.clone().lock_owned().await),
        };
        TurnGuard { _db: queue.db.clone().lock_owned().await, _ordinary: ordinary, wrote: queue.wrote.clone() }
    };
    match tokio::time::timeout(TURN_TIMEOUT, wait).await {
        Ok(guard) => Ok(guard),
        Err(_) => Err(StoreError::Db(sqlx::Error::PoolTimedOut)),
    }
}

/// This process's turn to write, held with no transaction open: no writer of
/// this process begins until it is dropped.
pub(crate) struct Turn {
    pub(crate) guard: Option<TurnGuard>,
}

/// A write transaction, holding this process's turn to write until it is
/// committed, rolled back or dropped. Used as the connection it runs on.
pub struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Option<TurnGuard>,
}

impl WriteTx {
    pub(crate) fn new(tx: sqlx::Transaction<'static, sqlx::Any>, turn: Option<TurnGuard>) -> Self {
        WriteTx { tx, _turn: turn }
    }

    pub(crate) async fn commit(self) -> std::result::Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    /// Commits and hands back this process's turn to write, still held.
    pub(crate) async fn commit_keeping_turn(self) -> std::result::Result<Turn, sqlx::Error> {
        self.tx.commit().await?;
        Ok(Turn { guard: self._turn })
    }

    pub async fn rollback(self) -> std::result::Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}
