//! Write transactions. On SQLite one writer holds the database at a time; the
//! writers of this process take turns at an in-process queue (first come,
//! first served) before `BEGIN IMMEDIATE`, instead of each retrying through
//! SQLite's busy handler, whose sleeps (up to 100 ms between tries) turned a
//! short wait into a long tail under a flood of texts. Other processes on
//! the same file still meet at SQLite's lock, as before.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use sqlx::AnyConnection;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::{Result, StoreError};

/// As long as SQLite's busy timeout: a writer that waits longer gets the same
/// "database is busy" it would have had before the queue.
const TURN_TIMEOUT: Duration = Duration::from_secs(10);

/// The queue of this process's SQLite writers (none on PostgreSQL, where
/// writers do not exclude each other).
#[derive(Clone, Default)]
pub(crate) struct WriteQueue(Option<Arc<Mutex<()>>>);

impl WriteQueue {
    pub(crate) fn sqlite() -> Self {
        WriteQueue(Some(Arc::new(Mutex::new(()))))
    }

    /// Waits for this writer's turn (at once on PostgreSQL).
    pub(crate) async fn turn(&self) -> Result<Option<OwnedMutexGuard<()>>> {
        let Some(queue) = &self.0 else { return Ok(None) };
        match tokio::time::timeout(TURN_TIMEOUT, queue.clone().lock_owned()).await {
            Ok(guard) => Ok(Some(guard)),
            Err(_) => Err(StoreError::Db(sqlx::Error::PoolTimedOut)),
        }
    }
}

/// A write transaction, holding this process's turn to write until it is
/// committed, rolled back or dropped. Used as the connection it runs on.
pub struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub(crate) fn new(tx: sqlx::Transaction<'static, sqlx::Any>, turn: Option<OwnedMutexGuard<()>>) -> Self {
        WriteTx { tx, _turn: turn }
    }

    pub(crate) async fn commit(self) -> std::result::Result<(), sqlx::Error> {
        self.tx.commit().await
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
