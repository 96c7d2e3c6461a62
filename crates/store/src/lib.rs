//! Persistence for textdesk. One interface; SQLite (WAL, one writer) and
//! PostgreSQL behind it through sqlx's `Any` driver. Queries are written once
//! with `$N` placeholders, which both backends accept; only what truly differs
//! (the outbox claim, the event log's order across nodes, migrations) branches on [`Backend`].

mod accounts;
mod admin;
mod audit;
mod auth;
pub mod automations;
mod canned;
mod checkpoint;
mod consent;
mod consumers;
mod contact_links;
mod contact_merges;
mod contact_notes;
mod contact_rows;
mod contacts;
mod conversation_changes;
mod conversations;
pub mod email_jobs;
mod escalations;
mod events;
pub mod flows;
mod group;
mod idempotency;
mod inboxes;
mod ingest;
mod invites;
mod labels;
mod list_sql;
mod media;
mod mentions;
pub(crate) mod messages;
mod multirow;
mod notifications;
mod outbox;
pub mod phone_checks;
pub mod privacy;
mod reach;
pub mod reports;
pub mod retention;
pub mod reviews;
pub mod routing;
mod schedule;
mod search;
mod setup;
pub mod surveys;
mod templates;
mod timeline;
mod vault;
pub mod voice;
pub mod webchat;
pub mod webhooks;
mod write;

use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub use accounts::{Account, AccountOverview, NewUser, Team, User};
pub use audit::{AuditEntry, AuditFilter, MAX_AUDIT_READ, NewAudit};
pub use auth::{ApiToken, LockoutRule, Session};
pub use automations::{Received, Situation, StoredRule};
pub use canned::{CannedFields, CannedResponse};
pub use consent::{ACCOUNT_SCOPE, ConsentEvent, LedgerLine, RecordConsent};
pub use consumers::Consumer;
pub use contact_merges::{ContactMerge, MergeSide, Moved};
pub use contact_notes::ContactNote;
pub use contact_rows::{ExportRow, RowOutcome};
pub use contacts::{Contact, ContactPatch, Identity, Origin};
pub use conversations::{
    AssigneeFilter, Conversation, ConversationFilter, ConversationPage, ConversationSummary, Cursor, Snippet, Snooze,
};
pub use email_jobs::EmailJob;
pub use escalations::{EMAIL_PROVIDER_PREFIX, Escalation, EscalationAct, EscalationOutcome, NewEscalation};
pub use events::{EventBus, Live, LiveEvent, LoggedEvent};
pub use flows::{FlowSession, SessionEnd, StoredFlow};
pub use idempotency::{IDEMPOTENCY_TTL, IdemKey, IdemRecord};
pub use inboxes::{Inbox, NewInbox, inbox_in};
pub use ingest::{InboundMessage, IngestOutcome, StatusReport};
pub use invites::InviteState;
pub use labels::{Label, LabelChange, LabelFields};
pub use media::{MAX_FETCH_ATTEMPTS, Media, MediaFetch, MediaState, NewMedia};
pub use messages::{ContactClock, Keyed, MAX_MESSAGES_READ, Message, MessagePage, NewOutbound, OutboundOutcome};
pub use notifications::{Notified, NotifyOutcome};
pub use outbox::{Claimed, DueSender, OutboxEntry};
pub use privacy::{ContactExport, Erased, ErasureSummary};
pub use reach::Route;
pub use reports::{DayRange, GroupBy, ReportFilter, ReportRow, RollupRow};
pub use retention::{RetentionAction, RetentionCounts, RetentionPolicy, StoredRetention};
pub use reviews::{Review, ReviewFilter, ReviewState, Scorecard};
pub use schedule::Reschedule;
pub use setup::SetupFacts;
pub use surveys::Survey;
pub use templates::{ChannelTemplate, SyncedTemplate};
pub use timeline::TimelineEvent;
pub use vault::{Unlocked, Vault, VaultError};
pub use voice::{Call, CallStart, Callback, NewCall};
pub use webhooks::{AttemptEnd, DueDelivery, WebhookDelivery, WebhookFields, WebhookSubscription};
pub use write::WriteTx;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The key given does not open the database's sealed secrets (`vault`).
    #[error("the secret key does not open the secrets stored in this database")]
    WrongSecretKey,
    /// Secrets were asked for before a key was given (`Store::unlock`).
    #[error("no secret key is loaded, so provider secrets can be neither read nor stored")]
    Locked,
    /// Writing it panicked (a bug): nothing of it was stored.
    #[error("writing it failed unexpectedly; nothing was stored")]
    Panicked,
    /// Written with others that could not be committed (`group`): nothing was stored.
    #[error("not stored: {0}")]
    Unstored(String),
}

impl From<textdesk_core::Invalid> for StoreError {
    fn from(e: textdesk_core::Invalid) -> Self {
        StoreError::Invalid(e.0)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Invalid("the database URL must start with sqlite:// or postgres://".into()))
        }
    }
}

/// Milliseconds since the Unix epoch: the one time representation in the schema.
pub fn to_ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

pub fn from_ms(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// The inbound group writer's own connection (`group`).
    inbound: AnyPool,
    backend: Backend,
    events: EventBus,
    /// The key sealing secrets at rest, set once by `unlock`.
    vault: std::sync::Arc<std::sync::OnceLock<Vault>>,
    /// The key erased addresses are hashed with, once read (`privacy::erasure_key`).
    erasure_key: std::sync::Arc<std::sync::OnceLock<String>>,
    /// This process's writers take turns here on SQLite (`write`).
    writers: write::WriteQueue,
    /// The writer that commits inbound texts in groups (`group`); None only
    /// in the store the writer itself writes through.
    group: Option<group::GroupWriter>,
    hooks: TestHooks,
}

/// Faults a test can inject; none unless a test sets one.
#[derive(Clone, Default)]
struct TestHooks {
    /// Writing an inbound text whose body contains this panics.
    panic_on_body: std::sync::Arc<std::sync::OnceLock<String>>,
    /// A search for this word panics.
    panic_on_search: std::sync::Arc<std::sync::OnceLock<String>>,
}

impl TestHooks {
    fn maybe_panic(&self, body: &str) {
        if let Some(marker) = self.panic_on_body.get()
            && body.contains(marker.as_str())
        {
            panic!("test hook: writing an inbound text containing {marker:?} panics");
        }
    }

    fn maybe_panic_searching(&self, words: &[String]) {
        if let Some(marker) = self.panic_on_search.get()
            && words.iter().any(|w| w == marker)
        {
            panic!("test hook: searching for {marker:?} panics");
        }
    }
}

/// How long a PostgreSQL connection sits unused before it is pinged when taken.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(30);

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Connects (creating the SQLite file when missing) and runs migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let connections = if backend == Backend::Sqlite { 8 } else { 16 };
        let pool =
            pool_options(backend, Role::Shared).max_connections(connections).connect_with(options.clone()).await?;
        // The inbound writer's one connection, kept open: on a shared pool its
        // batches went round every connection, and each SQLite connection
        // drops its whole page cache when it finds another one wrote since its
        // last turn, so every batch read the tables' pages anew, and prepared
        // its statements on each connection (docs/performance.md, "Session 25").
        let inbound = pool_options(backend, Role::InboundWriter)
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        // Migrated before the event bus starts: it reads where the event log is.
        migrate(backend, &pool).await?;
        let events = EventBus::start(backend, &url, pool.clone()).await?;
        let writers =
            if backend == Backend::Sqlite { write::WriteQueue::sqlite() } else { write::WriteQueue::default() };
        if let Some(wrote) = writers.wrote() {
            checkpoint::start(pool.clone(), wrote);
        }
        let mut store = Store {
            pool,
            inbound,
            backend,
            events,
            vault: Default::default(),
            erasure_key: Default::default(),
            writers,
            group: None,
            hooks: Default::default(),
        };
        store.group = Some(group::GroupWriter::start(store.clone()));
        Ok(store)
    }

    /// Test only: writing an inbound text whose body contains `marker` panics
    /// (set once per store), to show one bad text fails alone.
    pub fn panic_on_inbound_body(&self, marker: &str) {
        let _ = self.hooks.panic_on_body.set(marker.to_owned());
    }

    /// Test only: a search for the word `marker` (lower case) panics, to show
    /// a fault in one request answers that request with an error.
    pub fn panic_on_search(&self, marker: &str) {
        let _ = self.hooks.panic_on_search.set(marker.to_owned());
    }

    /// Whether a writer someone outside waits on (an inbound batch, a paced
    /// sender's claim) waits for its turn now, on SQLite: a test that holds
    /// the turn waits for one to queue instead of guessing how long it takes.
    pub fn urgent_writer_waiting(&self) -> bool {
        self.writers.urgent_waiting()
    }

    pub async fn migrate(&self) -> Result<()> {
        migrate(self.backend, &self.pool).await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn events(&self) -> &EventBus {
        &self.events
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.inbound.close().await;
    }

    /// Commits a write transaction and tells this node's live relay, which
    /// reads what the transaction appended to the event log.
    async fn commit(&self, tx: WriteTx) -> Result<()> {
        tx.commit().await?;
        self.after_commit().await;
        Ok(())
    }

    /// [`Store::commit`] that hands back this process's turn to write, still held.
    async fn commit_keeping_turn(&self, tx: WriteTx) -> Result<write::Turn> {
        let turn = tx.commit_keeping_turn().await?;
        self.after_commit().await;
        Ok(turn)
    }

    /// What follows every commit: this node's relay is nudged.
    async fn after_commit(&self) {
        // Test only (`hold_delivery_ms`): what follows a commit waits, so a
        // test can kill the server between a change and anything after it.
        let hold = self.events.held();
        if !hold.is_zero() {
            tokio::time::sleep(hold).await;
        }
        self.events.nudge();
    }

    /// A transaction that will write. SQLite takes the write lock up front so
    /// a read-then-write transaction cannot fail half-way with SQLITE_BUSY,
    /// after this process's earlier writers (`write::WriteQueue`).
    async fn begin_write(&self) -> Result<WriteTx> {
        let turn = self.writers.turn().await?;
        self.begin_on(&self.pool, turn).await
    }

    /// [`Store::begin_write`] for a writer someone outside is waiting on (a
    /// provider on the inbound group, a paced sender on its claim): a
    /// consumer holding the turn hands it over after its current event.
    async fn begin_urgent_write(&self) -> Result<WriteTx> {
        let turn = self.writers.urgent_turn().await?;
        self.begin_on(&self.pool, turn).await
    }

    /// One statement that writes, outside a transaction. On SQLite it waits for
    /// this process's turn like every other writer (`write::WriteQueue`), first
    /// come first served, instead of in SQLite's busy handler, whose sleeps (up
    /// to 100 ms between looks) let every writer that queued after it go first:
    /// the router's mark of new arrivals waited up to 630 ms in a flood of texts.
    /// The error is sqlx's own, so a unique violation can still be told apart.
    async fn write_one<'q>(
        &self,
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> std::result::Result<sqlx::any::AnyQueryResult, sqlx::Error> {
        let _turn = self.single_write_turn().await?;
        q.execute(&self.pool).await
    }

    /// [`Store::write_one`] for a statement that returns its row (`RETURNING id`).
    async fn write_row<'q>(
        &self,
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> std::result::Result<sqlx::any::AnyRow, sqlx::Error> {
        let _turn = self.single_write_turn().await?;
        q.fetch_one(&self.pool).await
    }

    /// The turn of [`Store::write_one`] and [`Store::write_row`], its timeout as sqlx's.
    async fn single_write_turn(&self) -> std::result::Result<Option<write::TurnGuard>, sqlx::Error> {
        self.writers.turn().await.map_err(|_| sqlx::Error::PoolTimedOut)
    }

    /// A write transaction of the inbound group writer, on its own connection,
    /// in the turn it kept from its last batch or else after the writers
    /// queued before it, as [`Store::begin_urgent_write`].
    async fn begin_inbound(&self, kept: Option<write::Turn>) -> Result<WriteTx> {
        let turn = match kept {
            Some(turn) => turn.guard,
            None => self.writers.urgent_turn().await?,
        };
        self.begin_on(&self.inbound, turn).await
    }

    async fn begin_on(&self, pool: &AnyPool, turn: Option<write::TurnGuard>) -> Result<WriteTx> {
        let tx = match self.backend {
            Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => pool.begin().await?,
        };
        Ok(WriteTx::new(tx, turn))
    }
}

/// What a pool's connections are for.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    Shared,
    InboundWriter,
}

/// The page cache of the inbound writer's SQLite connection, in KiB: a flood
/// of known senders touches their conversations all over the tables and
/// their indexes, and SQLite's default (2,000 KiB) read pages again within a
/// run. A cap, taken only as pages are read.
const INBOUND_WRITER_CACHE_KIB: u32 = 32_000;

/// A pool's settings for `backend`, all but its size.
fn pool_options(backend: Backend, role: Role) -> AnyPoolOptions {
    match backend {
        Backend::Sqlite => AnyPoolOptions::new()
            // A SQLite connection is a file this process has open: it
            // cannot be lost the way a network one is, so it is not
            // pinged (a round trip to its thread) each time it is taken.
            .test_before_acquire(false)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    // WAL lets readers run beside the one writer; the busy
                    // timeout makes writers queue instead of failing, which is
                    // what lets the CLI act while the server runs. No
                    // connection checkpoints as it commits: `checkpoint` does.
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;")
                        .await?;
                    if role == Role::InboundWriter {
                        let cache = format!("PRAGMA cache_size = -{INBOUND_WRITER_CACHE_KIB}");
                        conn.execute(sqlx::AssertSqlSafe(cache)).await?;
                    }
                    Ok(())
                })
            }),
        Backend::Postgres => AnyPoolOptions::new()
            .acquire_timeout(Duration::from_secs(10))
            // Pinged before use only after a while unused, when a server
            // restart or a firewall may have dropped it: a ping each
            // time a connection was taken was a round trip more for
            // every transaction and every read.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= IDLE_BEFORE_PING {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            }),
    }
}

async fn migrate(backend: Backend, pool: &AnyPool) -> Result<()> {
    match backend {
        Backend::Sqlite => SQLITE_MIGRATIONS.run(pool).await?,
        Backend::Postgres => POSTGRES_MIGRATIONS.run(pool).await?,
    }
    Ok(())
}

/// `$first, $first+1, …`: `count` placeholders for an `IN (…)` list, bound one by one.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

/// Rows inserted with `RETURNING id`.
fn returned_id(row: &sqlx::any::AnyRow) -> Result<i64> {
    use sqlx::Row;
    Ok(row.try_get::<i64, _>(0)?)
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}
