//! A durable consumer working through a long backlog (a report rebuild, an
//! upgrade, a loaded machine) never keeps an incoming text waiting: its
//! transactions are short, so a signed Twilio webhook sent meanwhile is
//! stored and answered 200 before Twilio gives up; and cutting its batches
//! short keeps every event handled once, in order.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common;

use common::{Db, TestApp, app, json};
use serde_json::json;
use textdesk_channels::twilio::FakeTwilio;
use textdesk_core::Role;
use textdesk_core::review::ReviewReason;
use textdesk_store::{Consumer, LoggedEvent, Store};

const SENDER: &str = "+14155550100";

/// How long Twilio waits for a webhook's answer before it counts it failed.
const TWILIO_WAITS: Duration = Duration::from_secs(15);

/// A consumer whose work on each event takes `per_event` (what a loaded
/// machine makes of a few queries), that queues the conversation for review
/// as the report rollups do for a newly missed target (on PostgreSQL that
/// appends an event, which holds the log's append lock until the batch
/// commits), and that records each event it handles in `proof`, whose
/// primary key fails a batch that handles an event twice.
struct Slow {
    name: &'static str,
    per_event: Duration,
    handled: Arc<AtomicUsize>,
}

impl Consumer for Slow {
    fn name(&self) -> &str {
        self.name
    }

    async fn handle(&self, tx: &mut sqlx::AnyConnection, event: &LoggedEvent) -> textdesk_store::Result<()> {
        if event.conversation_id > 0 {
            let at = (event.account_id, event.conversation_id);
            textdesk_store::reviews::enqueue(tx, at, ReviewReason::SlaBreach, None, event.created_at).await?;
        }
        sqlx::query("INSERT INTO proof (consumer, event_id) VALUES ($1, $2)")
            .bind(self.name)
            .bind(event.id)
            .execute(&mut *tx)
            .await?;
        tokio::time::sleep(self.per_event).await;
        self.handled.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

async fn raw(t: &TestApp) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&t.database_url).await.unwrap();
    sqlx::query(
        "CREATE TABLE proof (consumer TEXT NOT NULL, event_id BIGINT NOT NULL, PRIMARY KEY (consumer, event_id))",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool
}

async fn ids(pool: &sqlx::AnyPool, sql: &str) -> Vec<i64> {
    use sqlx::Row;
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).fetch_all(pool).await.unwrap();
    rows.iter().map(|r| r.get::<i64, _>(0)).collect()
}

/// `n` customers text the business (a conversation and a message each, and more).
async fn backlog(t: &TestApp, n: usize) {
    let inbox = t.simulator_inbox().await;
    for i in 0..n {
        let r = t.text_in(inbox, &format!("+1415555{:04}", 1000 + i), "Is my crown ready?", None).await;
        assert!(r.status().is_success(), "{}", r.status());
    }
}

/// A Twilio inbox on the fake; its signed inbound webhook URL.
async fn twilio_inbox(t: &TestApp, fake: &FakeTwilio, admin: &str) -> String {
    let body = json!({ "name": "Main line", "channel_kind": "twilio", "sender": SENDER,
        "twilio": { "account_sid": fake.account_sid(), "auth_token": fake.auth_token(), "api_base": fake.base_url() } });
    let r = t.post(admin, "/api/v1/inboxes", body).await;
    assert_eq!(r.status(), 201);
    json(r).await["webhook_urls"]["inbound"].as_str().unwrap().to_owned()
}

/// While a consumer is hundreds of slow events behind (today's batch of 500
/// would hold the write lock for 20 s: past SQLite's 10 s busy timeout, and on
/// PostgreSQL the append lock past Twilio's 15 s), a customer's text through
/// the signed Twilio webhook is stored and answered 200 in time.
async fn a_text_is_answered_while_a_consumer_works_through_a_backlog(db: Db) {
    let t = app(db).start().await;
    let fake = FakeTwilio::start().await.unwrap();
    let admin = t.token_for("owner@example.com", Role::Admin).await;
    let inbound = twilio_inbox(&t, &fake, &admin).await;
    backlog(&t, 100).await;
    let pool = raw(&t).await;
    let log = ids(&pool, "SELECT id FROM event_log WHERE id > 0").await;
    assert!(log.len() >= 200, "a conversation and a message per text at least: {}", log.len());

    let handled = Arc::new(AtomicUsize::new(0));
    let slow = Slow { name: "test-slow", per_event: Duration::from_millis(100), handled: handled.clone() };
    let store: Store = t.services.store.clone();
    let worker = tokio::spawn(async move { while store.consume(&slow, 500).await.expect("a batch") > 0 {} });
    // The consumer is inside its first batch, holding what it holds.
    t.eventually(|| {
        let handled = handled.clone();
        async move { (handled.load(Ordering::SeqCst) > 0).then_some(()) }
    })
    .await;

    let params = fake.inbound_params("+14155552671", SENDER, "Can I move my appointment to Friday?");
    let answered = tokio::time::timeout(TWILIO_WAITS, fake.post_inbound(&inbound, &params)).await;
    let status = answered.map(|r| r.map(|r| r.status().as_u16()));
    assert!(matches!(status, Ok(Ok(200))), "Twilio's webhook was answered {status:?} while the consumer worked");
    let position = t.services.store.consumer_position("test-slow").await.unwrap();
    assert!(position < *log.last().unwrap(), "the text came in while the backlog was still being worked through");
    worker.abort();
    let _ = worker.await;

    let found = json(t.get(&admin, "/api/v1/conversations?q=Friday").await).await;
    let found = found["items"].as_array().unwrap();
    assert_eq!(found.len(), 1, "the text answered meanwhile is stored: {found:?}");
    let thread = common::messages_in(&t, &admin, found[0]["id"].as_i64().unwrap()).await;
    assert_eq!(thread[0]["body"], "Can I move my appointment to Friday?");
    let handled_ids = ids(&pool, "SELECT event_id FROM proof ORDER BY event_id").await;
    let log = ids(&pool, "SELECT id FROM event_log WHERE id > 0 ORDER BY id").await;
    assert_eq!(handled_ids, log[..handled_ids.len()], "what the consumer committed is the log's start, each once");
    pool.close().await;
}
both_backends!(a_text_is_answered_while_a_consumer_works_through_a_backlog);

/// A batch the time budget cuts short commits what it handled and moves the
/// cursor just past it: drained in several short batches, every event is
/// handled exactly once, in order, and the counts of rows passed add up.
async fn short_batches_handle_every_event_once(db: Db) {
    let t = app(db).start().await;
    backlog(&t, 8).await;
    let pool = raw(&t).await;
    let slow = Slow { name: "test-slow", per_event: Duration::from_millis(20), handled: Arc::new(AtomicUsize::new(0)) };
    let mut batches = Vec::new();
    loop {
        let n = t.services.store.consume(&slow, 500).await.expect("a batch");
        if n == 0 {
            break;
        }
        batches.push(n);
    }
    let log = ids(&pool, "SELECT id FROM event_log WHERE id > 0 ORDER BY id").await;
    assert!(log.len() >= 16, "{log:?}");
    // Each event takes 20 ms at least, so a batch is past its 50 ms after the third.
    assert!(batches.iter().all(|n| *n <= 3), "events passed per batch, asked for 500 at a time: {batches:?}");
    assert_eq!(ids(&pool, "SELECT event_id FROM proof ORDER BY event_id").await, log, "every event once, in order");
    assert_eq!(batches.iter().sum::<usize>(), log.len(), "each batch counted the rows it passed");
    assert_eq!(t.services.store.consumer_position("test-slow").await.unwrap(), *log.last().unwrap());
    pool.close().await;
}
both_backends!(short_batches_handle_every_event_once);

/// A writer in another process (the CLI beside the server, an import) waits
/// for SQLite's lock in SQLite's busy handler, which looks only now and then.
/// While three consumers work through a backlog, each batch cut short leaves
/// the lock free for a moment before the next consumer takes it: the other
/// process gets its turn within its busy timeout. The turn used to pass from
/// one consumer straight to the next, and the lock was never free.
#[tokio::test]
async fn another_process_writes_while_consumers_work_through_a_backlog() {
    use sqlx::{Connection, Executor};
    let t = app(Db::Sqlite).start().await;
    backlog(&t, 60).await;
    let pool = raw(&t).await;
    let handled = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for name in ["test-slow-1", "test-slow-2", "test-slow-3"] {
        let slow = Slow { name, per_event: Duration::from_millis(20), handled: handled.clone() };
        let store: Store = t.services.store.clone();
        workers.push(tokio::spawn(async move { while store.consume(&slow, 500).await.expect("a batch") > 0 {} }));
    }
    t.eventually(|| {
        let handled = handled.clone();
        async move { (handled.load(Ordering::SeqCst) > 3).then_some(()) }
    })
    .await;

    // Its own connection, as another process has: it meets this process's
    // writers only at SQLite's lock.
    let mut other = sqlx::AnyConnection::connect(&t.database_url).await.unwrap();
    other.execute("PRAGMA busy_timeout = 5000").await.unwrap();
    let began = std::time::Instant::now();
    let wrote = other.execute("BEGIN IMMEDIATE; CREATE TABLE written_beside (id INTEGER); COMMIT;").await;
    let waited = began.elapsed();
    let busy = workers.iter().all(|w| !w.is_finished());
    for w in workers {
        w.abort();
        let _ = w.await;
    }
    assert!(wrote.is_ok(), "the other process's write failed after {waited:?}: {wrote:?}");
    assert!(busy, "the consumers were still working through the backlog when it wrote");
    other.close().await.unwrap();
    pool.close().await;
}

/// A consumer that holds its first batch open until `release` is told, and
/// says when it is inside it.
pub(crate) struct Holder {
    inside: Arc<tokio::sync::Notify>,
    release: Arc<tokio::sync::Notify>,
}

impl Consumer for Holder {
    fn name(&self) -> &str {
        "test-holder"
    }

    async fn handle(&self, _tx: &mut sqlx::AnyConnection, _event: &LoggedEvent) -> textdesk_store::Result<()> {
        self.inside.notify_one();
        self.release.notified().await;
        Ok(())
    }
}

/// A [`Holder`]'s batch, started and inside: it has the database until the
/// returned `Notify` is told. The log must hold an event it has not seen.
pub(crate) async fn hold_database(
    store: &Store,
) -> (tokio::task::JoinHandle<textdesk_store::Result<usize>>, Arc<tokio::sync::Notify>) {
    let (inside, release) = (Arc::new(tokio::sync::Notify::new()), Arc::new(tokio::sync::Notify::new()));
    let holder = Holder { inside: inside.clone(), release: release.clone() };
    let held = tokio::spawn({
        let store = store.clone();
        async move { store.consume(&holder, 1).await }
    });
    inside.notified().await;
    (held, release)
}

/// A consumer that notes the presence of `user` its batch reads (what the
/// writers before it left).
struct Reader {
    user: i64,
    seen: Arc<std::sync::Mutex<Option<String>>>,
}

impl Consumer for Reader {
    fn name(&self) -> &str {
        "test-reader"
    }

    async fn handle(&self, tx: &mut sqlx::AnyConnection, _event: &LoggedEvent) -> textdesk_store::Result<()> {
        use sqlx::Row;
        let row = sqlx::query("SELECT presence FROM users WHERE id = $1").bind(self.user).fetch_one(&mut *tx).await?;
        let presence: String = row.get(0);
        self.seen.lock().unwrap().get_or_insert(presence);
        Ok(())
    }
}

/// An agent's own change (here, going away) made while the server's writers
/// are busy waits its turn with them, first come first served: it is written
/// before a writer that came after it, not left sleeping in SQLite's busy
/// handler while every later writer goes first (in a flood of texts the
/// router's mark of new arrivals waited 630 ms that way). PostgreSQL's writers
/// do not wait for each other, so this is SQLite's.
#[tokio::test]
async fn an_agents_change_waits_its_turn_not_behind_later_writers() {
    let t = app(Db::Sqlite).start().await;
    backlog(&t, 2).await;
    let agent = t.user("agent@example.com", Role::Agent).await;
    let store: Store = t.services.store.clone();
    store.set_presence(agent.id, textdesk_core::routing::Presence::Online, jiff::Timestamp::now()).await.unwrap();

    let (held, release) = hold_database(&store).await;

    // The agent's change comes first, while the holder has the database…
    let change = tokio::spawn({
        let store = store.clone();
        async move { store.set_presence(agent.id, textdesk_core::routing::Presence::Away, jiff::Timestamp::now()).await }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    // …then another writer, which reads what the writers before it left.
    let seen = Arc::new(std::sync::Mutex::new(None));
    let reader = Reader { user: agent.id, seen: seen.clone() };
    let later = tokio::spawn({
        let store = store.clone();
        async move { store.consume(&reader, 1).await }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!change.is_finished(), "the change waits while the holder has the database");
    release.notify_one();

    held.await.unwrap().expect("the holder's batch");
    change.await.unwrap().expect("the agent's change is written");
    later.await.unwrap().expect("the later writer's batch");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.as_deref(), Some("away"), "the writer that came later found the agent's change already written");
}

/// A consumer that notes whether a customer's text with `body` had been
/// written when its batch ran.
struct Seer {
    name: &'static str,
    body: &'static str,
    saw: Arc<std::sync::Mutex<Option<bool>>>,
}

impl Consumer for Seer {
    fn name(&self) -> &str {
        self.name
    }

    async fn handle(&self, tx: &mut sqlx::AnyConnection, _event: &LoggedEvent) -> textdesk_store::Result<()> {
        use sqlx::Row;
        let row =
            sqlx::query("SELECT COUNT(*) FROM messages WHERE body = $1").bind(self.body).fetch_one(&mut *tx).await?;
        self.saw.lock().unwrap().get_or_insert(row.get::<i64, _>(0) > 0);
        Ok(())
    }
}

/// A customer's text, which a provider waits on, goes before the server's
/// own writers queued ahead of it: three consumers queue while another holds
/// the database, then a text comes in; it is written as soon as the turn
/// under way ends, before any of the three. In a flood of texts the inbound
/// writer spent 43 % of its time queued behind the consumers' turns.
/// SQLite's: PostgreSQL's writers do not queue.
#[tokio::test]
async fn a_text_goes_before_the_writers_queued_ahead_of_it() {
    const BODY: &str = "Can I move my cleaning to the 14th?";
    let t = app(Db::Sqlite).start().await;
    backlog(&t, 2).await;
    let inbox = t.simulator_inbox().await;
    let store: Store = t.services.store.clone();
    let (held, release) = hold_database(&store).await;

    let mut seers = Vec::new();
    for name in ["test-seer-1", "test-seer-2", "test-seer-3"] {
        let saw = Arc::new(std::sync::Mutex::new(None));
        let seer = Seer { name, body: BODY, saw: saw.clone() };
        let store = store.clone();
        seers.push((tokio::spawn(async move { store.consume(&seer, 1).await }), saw));
        // Queued in this order.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = tokio::spawn({
        let (client, url) = (t.client.clone(), t.url(&format!("/simulator/api/inboxes/{inbox}/messages")));
        async move { client.post(url).json(&json!({ "from": "+14155550199", "body": BODY })).send().await.unwrap().status() }
    });
    // Waited for, not slept on: a busy machine can take longer than any guess to bring it to the queue.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !store.urgent_writer_waiting() {
        assert!(!text.is_finished(), "the text waits while the holder has the database");
        assert!(std::time::Instant::now() < deadline, "the text's writer never queued");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    release.notify_one();

    held.await.unwrap().expect("the holder's batch");
    assert!(text.await.unwrap().is_success(), "the text is stored");
    let mut saw = Vec::new();
    for (seer, seen) in seers {
        seer.await.unwrap().expect("a queued writer's batch");
        saw.push(seen.lock().unwrap().expect("each queued writer ran"));
    }
    assert_eq!(saw, [true, true, true], "whether each queued writer found the text already written");
}

/// While texts keep coming, the inbound writer keeps its turn from one batch
/// to the next, but not for the whole flood: an agent's change made meanwhile
/// is written while the texts still come, within a moment. 200 senders hand
/// their texts straight to ingest (no HTTP in between), so the writer always
/// has more waiting than one batch takes.
#[tokio::test]
async fn an_agents_change_is_written_while_texts_keep_coming() {
    let t = app(Db::Sqlite).start().await;
    let inbox = t.simulator_inbox().await;
    let agent = t.user("agent@example.com", Role::Agent).await;
    let (stop, sent) = (Arc::new(std::sync::atomic::AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let mut senders = Vec::new();
    for s in 0..200 {
        let (services, stop, sent) = (t.services.clone(), stop.clone(), sent.clone());
        senders.push(tokio::spawn(async move {
            let started = std::time::Instant::now();
            let mut i = 0;
            // Bounded, so a writer that never lets go fails the test instead of hanging it.
            while !stop.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(30) {
                let number = format!("+1415{:03}{i:04}", 200 + s);
                let event = textdesk_channels::InboundEvent::Message {
                    from: textdesk_core::Address::parse(textdesk_core::Medium::Sms, &number).unwrap(),
                    provider_id: format!("flood-{s}-{i}"),
                    body: "Is my crown ready?".into(),
                    media: Vec::new(),
                    received_at: jiff::Timestamp::now(),
                    consent_signal: None,
                };
                services.ingest(inbox, event).await.expect("a text of the flood is stored");
                sent.fetch_add(1, Ordering::SeqCst);
                i += 1;
            }
        }));
    }
    t.eventually(|| {
        let sent = sent.clone();
        async move { (sent.load(Ordering::SeqCst) > 500).then_some(()) }
    })
    .await;

    let store: Store = t.services.store.clone();
    let began = std::time::Instant::now();
    store.set_presence(agent.id, textdesk_core::routing::Presence::Away, jiff::Timestamp::now()).await.unwrap();
    let took = began.elapsed();
    let flooding = senders.iter().all(|s| !s.is_finished());
    stop.store(true, Ordering::SeqCst);
    for s in senders {
        s.await.unwrap();
    }
    assert!(flooding, "the agent's change waited for the flood to end ({took:?})");
    assert!(took < Duration::from_secs(5), "the agent's change took {took:?} during the flood");
    let pool = raw(&t).await;
    let row = sqlx::query("SELECT presence FROM users WHERE id = $1").bind(agent.id).fetch_one(&pool).await.unwrap();
    assert_eq!(sqlx::Row::get::<String, _>(&row, 0), "away", "the change is written");
    pool.close().await;
}
