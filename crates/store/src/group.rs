//! Group commit of inbound messages. Each node's writer, on a thread of its
//! own, takes the messages waiting (up to [`MAX_BATCH`]) and writes them in
//! one transaction, a statement for all of them at each step
//! (`Store::record_in`); each sender is answered after the commit, so an
//! acknowledged message is still on disk before its 200.
//!
//! On SQLite writers take turns anyway: one turn, one BEGIN and one COMMIT for
//! many texts, instead of a turn each and every text waiting on the others'.
//! The writer's turn is urgent: an event consumer holding the lock hands it
//! over after its current event, and the writer goes ahead of the other
//! writers queued (`write::WriteQueue`). While texts keep coming it keeps the
//! turn from one batch to the next, for [`KEEP_TURN`] at most.
//!
//! On PostgreSQL too one writer a node: a second one, taking batches from
//! the same queue, made batches of one node wait on each other through the
//! unique indexes (the same new numbers in opposite order), each such wait a
//! second of PostgreSQL's deadlock timeout. Batches of different nodes lock
//! known senders' contacts in id order; when two still wait on each other,
//! PostgreSQL stops one, which is written again text by text, each text
//! again if it meets the other batch once more or finds its new contact made
//! by another node first.
//!
//! A text that fails, panics or turns out to be a duplicate sends the batch
//! round again with a savepoint each: that text is rolled back to its
//! savepoint and answered with its error (or the first copy), the others
//! commit. A panic that escapes anyway ends the writer's task, and its
//! supervisor starts a new one.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use textdesk_core::ReopenWindow;
use textdesk_core::consent::ConsentPolicy;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::ingest::{InboundMessage, IngestOutcome, Text, find_duplicate_in, rounds};
use crate::write::Turn;
use crate::{Inbox, Result, Store, StoreError, WriteTx};

/// Texts written in one transaction at most: enough to take every request
/// of a busy node at once, few enough that the first waits little.
const MAX_BATCH: usize = 64;

/// Texts waiting for the writer before senders wait to hand theirs over.
const QUEUE: usize = 1024;

/// How long the writer keeps the write turn through batch after batch while
/// texts keep coming, before it lets the next writer in: a consumer's turn
/// between every two batches cost the writer about a fifth of a flood
/// (docs/performance.md, "Session 18"); an agent's change waits this long at
/// most for it.
const KEEP_TURN: Duration = Duration::from_millis(50);

/// One text to write and where its answer goes.
struct Job {
    inbox: Inbox,
    msg: InboundMessage,
    window: ReopenWindow,
    policy: ConsentPolicy,
    answer: oneshot::Sender<Result<IngestOutcome>>,
}

impl Job {
    fn text(&self) -> Text<'_> {
        Text { inbox: &self.inbox, msg: &self.msg, window: self.window, policy: &self.policy }
    }
}

/// This node's group writer: hands it texts and waits for their commit.
#[derive(Clone)]
pub(crate) struct GroupWriter {
    jobs: mpsc::Sender<Job>,
}

impl GroupWriter {
    /// Starts the writer over `store`, which must not have a group writer
    /// itself (it writes each batch's texts directly). The writer ends once
    /// every handle to this one is dropped.
    pub(crate) fn start(store: Store) -> Self {
        let (jobs, waiting) = mpsc::channel(QUEUE);
        let waiting = Arc::new(Mutex::new(waiting));
        // A thread of its own: each statement of a text is a round trip to
        // SQLite's connection thread, and on the shared runtime each return
        // waited for a worker behind the node's HTTP tasks (docs/performance.md,
        // "The inbound writer").
        let own_thread = tokio::runtime::Builder::new_current_thread().enable_all().build().and_then(|runtime| {
            let (store, waiting) = (store.clone(), waiting.clone());
            std::thread::Builder::new()
                .name("inbound-writer".into())
                .spawn(move || runtime.block_on(supervise(store, waiting)))
        });
        if let Err(e) = own_thread {
            tracing::warn!(error = %e, "the inbound writer has no thread of its own; it shares the runtime");
            tokio::spawn(supervise(store, waiting));
        }
        GroupWriter { jobs }
    }

    /// Writes one inbound message with whatever else is waiting; answers
    /// once the batch has committed (or this text has failed).
    pub(crate) async fn record(
        &self,
        inbox: &Inbox,
        msg: &InboundMessage,
        window: ReopenWindow,
        policy: &ConsentPolicy,
    ) -> Result<IngestOutcome> {
        let (answer, answered) = oneshot::channel();
        let job = Job { inbox: inbox.clone(), msg: msg.clone(), window, policy: policy.clone(), answer };
        self.jobs.send(job).await.map_err(|_| StoreError::Unstored("the inbound writer has stopped".into()))?;
        // Dropped unanswered: the writer's task ended with this text in hand.
        answered.await.map_err(|_| StoreError::Panicked)?
    }
}

/// Runs the writer, and again after a panic, until every sender is gone.
async fn supervise(store: Store, waiting: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        match tokio::spawn(write_batches(store.clone(), waiting.clone())).await {
            // Every sender is gone: the store is closed.
            Ok(()) => break,
            Err(e) if e.is_panic() => {
                tracing::error!("the inbound writer stopped on a panic; starting it again");
            }
            // Cancelled: the runtime is shutting down.
            Err(_) => break,
        }
    }
}

/// The write turn the writer kept from its last batch, and since when it has
/// held it without a break.
type Kept = Option<(Turn, Instant)>;

/// Takes what is waiting, writes it, and again, until every sender is gone.
/// The queue outlives a panic here (a tokio mutex is not poisoned).
async fn write_batches(store: Store, waiting: Arc<Mutex<mpsc::Receiver<Job>>>) {
    let mut kept: Kept = None;
    loop {
        let mut jobs = Vec::with_capacity(MAX_BATCH);
        let mut queue = waiting.lock().await;
        if queue.is_empty() {
            // Not held while the writer waits for texts.
            kept = None;
        }
        if queue.recv_many(&mut jobs, MAX_BATCH).await == 0 {
            return;
        }
        drop(queue);
        let turn = match kept.take() {
            Some((turn, since)) if since.elapsed() < KEEP_TURN => Some((turn, since)),
            // Let go: the writer waiting longest (FIFO at the database) goes next.
            _ => None,
        };
        kept = write_batch(&store, jobs, turn).await;
        // Test only (`hold_delivery_ms`): the pause after each commit is not spent holding the turn.
        if !store.events.held().is_zero() {
            kept = None;
        }
    }
}

/// Writes a batch, in `kept` if given: first every text in one go; if one of
/// them must be undone (a duplicate, a failure, a panic), the batch is
/// written again with a savepoint each. A savepoint costs two statements a
/// text and makes SQLite's full-text indexes write their pending rows out at
/// each one; a text that needs undoing is rare. Returns the turn, still held,
/// after a batch written in one go.
async fn write_batch(store: &Store, jobs: Vec<Job>, kept: Kept) -> Kept {
    match write_together(store, &jobs, kept).await {
        Together::Committed(outcomes, kept) => {
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                let _ = job.answer.send(Ok(outcome));
            }
            Some(kept)
        }
        Together::Undo => {
            write_each(store, jobs).await;
            None
        }
        Together::Failed(e) => {
            fail_all(jobs.into_iter().map(|j| j.answer), &e);
            None
        }
    }
}

enum Together {
    Committed(Vec<IngestOutcome>, (Turn, Instant)),
    /// One text must be undone alone: nothing of the batch was kept.
    Undo,
    /// Beginning or committing failed: nothing of the batch was kept.
    Failed(StoreError),
}

async fn write_together(store: &Store, jobs: &[Job], kept: Kept) -> Together {
    let (turn, since) = match kept {
        Some((turn, since)) => (Some(turn), since),
        None => (None, Instant::now()),
    };
    let began = store.begin_inbound(turn).await.map(|tx| (tx, since));
    let (mut tx, since) = match began {
        Ok(began) => began,
        Err(e) => return Together::Failed(e),
    };
    let texts: Vec<Text<'_>> = jobs.iter().map(Job::text).collect();
    let keys: Vec<[(i64, &str); 2]> = texts.iter().map(Text::keys).collect();
    let mut outcomes: Vec<Option<IngestOutcome>> = vec![None; jobs.len()];
    for round in rounds(&keys) {
        let these: Vec<Text<'_>> = round.iter().map(|&i| texts[i]).collect();
        let written = AssertUnwindSafe(store.record_in(&mut tx, &these)).catch_unwind().await;
        match written {
            Ok(Ok(Some(written))) => {
                for (i, outcome) in round.into_iter().zip(written) {
                    outcomes[i] = Some(outcome);
                }
            }
            // Written again one by one, where the text at fault is undone alone (and its panic reported).
            Ok(Ok(None) | Err(_)) | Err(_) => {
                let _ = tx.rollback().await;
                return Together::Undo;
            }
        }
    }
    let Some(outcomes) = outcomes.into_iter().collect::<Option<Vec<_>>>() else {
        let _ = tx.rollback().await;
        return Together::Undo;
    };
    match store.commit_keeping_turn(tx).await {
        Ok(turn) => Together::Committed(outcomes, (turn, since)),
        Err(e) => Together::Failed(e),
    }
}

/// The batch again, each text in its own savepoint.
async fn write_each(store: &Store, jobs: Vec<Job>) {
    let mut tx = match store.begin_inbound(None).await {
        Ok(tx) => tx,
        Err(e) => return fail_all(jobs.into_iter().map(|j| j.answer), &e),
    };
    let mut stored = Vec::with_capacity(jobs.len());
    let mut jobs = jobs.into_iter();
    while let Some(job) = jobs.next() {
        match in_savepoint_again(store, &mut tx, &job).await {
            Ok(Ok(outcome)) => stored.push((job.answer, outcome)),
            // Rolled back to its savepoint: nothing of it stays, the others go on.
            Ok(Err(e)) => {
                let _ = job.answer.send(Err(e));
            }
            // The transaction itself failed: nothing of the batch is kept.
            Err(e) => {
                tracing::error!(error = %e, "a batch of inbound texts could not be written");
                let _ = tx.rollback().await;
                let answers = stored.into_iter().map(|(a, _)| a).chain([job.answer]).chain(jobs.map(|j| j.answer));
                return fail_all(answers, &e);
            }
        }
    }
    match store.commit(tx).await {
        Ok(()) => {
            for (answer, outcome) in stored {
                let _ = answer.send(Ok(outcome));
            }
        }
        Err(e) => fail_all(stored.into_iter().map(|(a, _)| a), &e),
    }
}

/// [`in_savepoint`], again when the text met another transaction
/// (PostgreSQL): another node or writer made the sender's contact at the same
/// moment (the next try finds it), or the two waited on each other and
/// PostgreSQL stopped this one (the other has gone on by the next try).
async fn in_savepoint_again(store: &Store, tx: &mut WriteTx, job: &Job) -> Result<Result<IngestOutcome>> {
    let mut attempt = 0;
    loop {
        match in_savepoint(store, tx, job).await? {
            Err(StoreError::Db(e)) if met_another(&e) && attempt < 5 => attempt += 1,
            other => return Ok(other),
        }
    }
}

/// A unique violation or a deadlock: a race with another transaction that a
/// second try settles.
fn met_another(e: &sqlx::Error) -> bool {
    const DEADLOCK_DETECTED: &str = "40P01";
    crate::is_unique_violation(e)
        || matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some(DEADLOCK_DETECTED))
}

/// One text in its own savepoint. The outer result is the savepoint's own
/// (an error there leaves the transaction unusable); the inner one the text's.
async fn in_savepoint(store: &Store, tx: &mut WriteTx, job: &Job) -> Result<Result<IngestOutcome>> {
    sqlx::query("SAVEPOINT inbound").execute(&mut **tx).await?;
    let written = AssertUnwindSafe(store.record_in(tx, &[job.text()]))
        .catch_unwind()
        .await
        .map(|w| w.map(|one| one.and_then(|mut one| one.pop())))
        .unwrap_or_else(|_| {
            tracing::error!(inbox = job.inbox.id, "writing an inbound text panicked; it was rolled back alone");
            Err(StoreError::Panicked)
        });
    let result = match written {
        Ok(Some(outcome)) => {
            sqlx::query("RELEASE inbound").execute(&mut **tx).await?;
            return Ok(Ok(outcome));
        }
        // Stored before (or earlier in this batch): what this wrote is undone
        // and the first copy answered. Not looked for first: a retry is rare.
        Ok(None) => None,
        Err(e) => Some(e),
    };
    sqlx::query("ROLLBACK TO inbound").execute(&mut **tx).await?;
    sqlx::query("RELEASE inbound").execute(&mut **tx).await?;
    Ok(match result {
        Some(e) => Err(e),
        // Read in the batch's transaction: it sees the texts written before this one.
        None => find_duplicate_in(tx, job.inbox.id, &job.msg.provider_id)
            .await?
            .ok_or_else(|| StoreError::Conflict("the duplicate of a message vanished".into())),
    })
}

fn fail_all(answers: impl Iterator<Item = oneshot::Sender<Result<IngestOutcome>>>, e: &StoreError) {
    for answer in answers {
        let _ = answer.send(Err(StoreError::Unstored(e.to_string())));
    }
}
