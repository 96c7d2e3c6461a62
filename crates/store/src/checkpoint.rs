//! SQLite's checkpoints, out of the writers' way. By default the connection
//! whose commit takes the write-ahead log past 1,000 pages copies them into
//! the database file and syncs it before that commit returns: in a flood of
//! texts the inbound writer's commit took 7 ms in place of 0.5 every few
//! batches (docs/performance.md, "Session 20"). The store's connections do
//! not checkpoint as they commit; this task does, shortly after writes, in
//! passive mode: it neither waits for a writer nor makes one wait, and copies
//! what no reader still needs.

use std::sync::Arc;
use std::time::Duration;

use sqlx::AnyPool;
use tokio::sync::Notify;

/// How long after a write the checkpoint waits, so that a burst's commits
/// are copied in one go.
const GATHER: Duration = Duration::from_millis(200);

/// How often the log is checkpointed with no write of this process seen:
/// another process (the command line beside the server) may have written.
const IDLE: Duration = Duration::from_secs(10);

/// Starts the checkpoints of `pool`'s database; `wrote` is told at the end of
/// every turn to write. Ends once the pool is closed or the store is gone.
pub(crate) fn start(pool: AnyPool, wrote: Arc<Notify>) {
    tokio::spawn(run(pool, wrote));
}

async fn run(pool: AnyPool, wrote: Arc<Notify>) {
    loop {
        let _ = tokio::time::timeout(IDLE, wrote.notified()).await;
        // Nobody else holds the signal: the store has been dropped.
        if pool.is_closed() || Arc::strong_count(&wrote) == 1 {
            return;
        }
        tokio::time::sleep(GATHER).await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "checkpointing the database's write-ahead log failed; it is tried again after the next write");
        }
    }
}
