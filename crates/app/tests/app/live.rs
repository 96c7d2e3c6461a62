//! Live events that survive a lost connection: every event has an id, and a
//! client reconnecting with `Last-Event-ID` (or `?after=`) gets exactly what it
//! missed, in order, then the live stream. Real HTTP, both backends; on
//! PostgreSQL, two application instances over one database.

use crate::common;

use std::time::Duration;

use common::{Db, app, json};
use futures_util::StreamExt;
use serde_json::{Value, json};
use textdesk_core::event::DomainEvent;
use textdesk_core::{Priority, Role};
use textdesk_store::Live;

/// A change with nothing else to write: an event of the log that screens hear
/// as `conversation.updated`.
fn touched() -> DomainEvent {
    DomainEvent::PriorityChanged { priority: Priority::High }
}

/// One server-sent event as the client reads it.
#[derive(Debug, Clone)]
struct Frame {
    id: Option<i64>,
    kind: String,
    data: Value,
}

struct Sse {
    resp: reqwest::Response,
    buf: String,
    /// The id the stream said it starts after (its `ready` event).
    ready: i64,
}

impl Sse {
    async fn open(req: reqwest::RequestBuilder) -> Sse {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let mut s = Sse { resp, buf: String::new(), ready: -1 };
        let first = s.next().await;
        assert_eq!(first.kind, "ready", "a stream starts by saying where");
        s.ready = first.id.expect("ready has an id");
        assert_eq!(first.data["id"], s.ready);
        s
    }

    /// The next frame that is an event (comments and keep-alives skipped).
    async fn next(&mut self) -> Frame {
        let fut = async {
            loop {
                if let Some(pos) = self.buf.find("\n\n") {
                    let block: String = self.buf.drain(..pos + 2).collect();
                    let field = |name: &str| {
                        block.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim_start().to_owned())
                    };
                    let Some(kind) = field("event:") else { continue };
                    let data = field("data:").unwrap_or_default();
                    return Frame {
                        id: field("id:").map(|v| v.parse().expect("a numeric id")),
                        kind,
                        data: serde_json::from_str(&data).expect("JSON data"),
                    };
                }
                let chunk = self.resp.chunk().await.unwrap().expect("stream open");
                self.buf.push_str(&String::from_utf8_lossy(&chunk));
            }
        };
        tokio::time::timeout(Duration::from_secs(3), fut).await.expect("an event within 3 s")
    }

    /// Frames up to and including the one about `message_id`.
    async fn until_message(&mut self, message_id: i64) -> Vec<Frame> {
        let mut seen = Vec::new();
        loop {
            let f = self.next().await;
            let done = f.data["message_id"] == message_id;
            seen.push(f);
            if done {
                return seen;
            }
        }
    }
}

fn summary(frames: &[Frame]) -> Vec<(String, Value)> {
    frames.iter().map(|f| (f.kind.clone(), f.data["message_id"].clone())).collect()
}

async fn resume_after_a_lost_connection(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let api = |after: Option<i64>| {
        let r = t.client.get(t.url("/api/v1/events")).bearer_auth(&token);
        match after {
            Some(id) => r.header("Last-Event-ID", id.to_string()),
            None => r,
        }
    };

    let mut live = Sse::open(api(None)).await;
    let before = live.ready;
    let first = json(t.text_in(inbox, "+14155550111", "Hello?", None).await).await;
    let conv = first["conversation_id"].as_i64().unwrap();
    let f = live.next().await;
    assert_eq!(f.kind, "message.created");
    assert_eq!(f.data["message_id"], first["message_id"]);
    assert_eq!(f.data["inbound"], true, "a customer's message is flagged for notifications");
    assert_eq!(f.data.get("body"), None, "no message text in events");
    let seen = f.id.expect("events carry ids");
    assert!(seen > before, "a new event comes after where the stream started");
    assert_eq!(f.data["id"], seen);
    drop(live);

    // While the client is away: two texts, an assignment, and another account's event.
    let second = json(t.text_in(inbox, "+14155550111", "Are you open?", None).await).await;
    let me = json(t.get(&token, "/api/v1/me").await).await;
    let r = t.post(&token, &format!("/api/v1/conversations/{conv}/assign"), json!({ "assignee_id": me["id"] })).await;
    assert_eq!(r.status(), 200, "assigning");
    t.services.store.record_event(t.account_id + 1, 999_999, &touched(), None).await.unwrap();
    let third = json(t.text_in(inbox, "+14155550111", "Hello again", None).await).await;

    let mut back = Sse::open(api(Some(seen))).await;
    assert_eq!(back.ready, seen, "resumes after the id it was given");
    let missed = back.until_message(third["message_id"].as_i64().unwrap()).await;
    assert_eq!(
        summary(&missed),
        [
            ("message.created".to_owned(), second["message_id"].clone()),
            ("conversation.updated".to_owned(), Value::Null),
            ("message.created".to_owned(), third["message_id"].clone()),
        ],
        "exactly the missed events, in order, and none of another account's"
    );
    let ids: Vec<i64> = missed.iter().map(|f| f.id.unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]) && ids[0] > seen, "ids increase: {ids:?}");
    assert!(missed.iter().all(|f| f.data["account_id"] == t.account_id));

    // Then the stream is live, with no duplicate of what was caught up.
    let fourth = json(t.text_in(inbox, "+14155550111", "Still there?", None).await).await;
    let after = back.until_message(fourth["message_id"].as_i64().unwrap()).await;
    assert_eq!(summary(&after), [("message.created".to_owned(), fourth["message_id"].clone())]);

    // The UI's stream resumes from `?after=` too (a client that opens a new EventSource).
    let browser = t.browser("dana@example.com").await;
    let mut ui = Sse::open(browser.get(t.url(&format!("/events?after={}", ids[0])))).await;
    let caught = ui.until_message(fourth["message_id"].as_i64().unwrap()).await;
    assert_eq!(caught.len(), 3, "after the second text: the assignment and two texts: {caught:?}");
    assert_eq!(caught[0].id, Some(ids[1]));

    // The header wins over the query: EventSource retries its own URL with a newer Last-Event-ID.
    let url = t.url(&format!("/events?after={}", ids[0]));
    let mut ui = Sse::open(browser.get(url).header("Last-Event-ID", ids[2].to_string())).await;
    let caught = ui.until_message(fourth["message_id"].as_i64().unwrap()).await;
    assert_eq!(summary(&caught), [("message.created".to_owned(), fourth["message_id"].clone())]);
}
both_backends!(resume_after_a_lost_connection);

/// Events are kept: a client that saw an id a day ago (after housekeeping
/// has run) still gets everything since. An id never given out resyncs.
async fn a_day_old_id_resumes_and_an_unknown_one_resyncs(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let a = json(t.text_in(inbox, "+14155550111", "One", None).await).await;
    let b = json(t.text_in(inbox, "+14155550111", "Two", None).await).await;
    let events = t.services.store.events();
    let newest = events.newest_id().await.unwrap();
    let open = |after: String| {
        Sse::open(t.client.get(t.url("/api/v1/events")).bearer_auth(&token).header("Last-Event-ID", after))
    };
    let mut s = open((newest - 1).to_string()).await;
    assert_eq!(summary(&[s.next().await]), [("message.created".to_owned(), b["message_id"].clone())]);

    // A day passes (every event is 25 hours old) and housekeeping runs.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&t.database_url).await.unwrap();
    sqlx::query("UPDATE event_log SET created_at = created_at - 90000000").execute(&pool).await.unwrap();
    pool.close().await;
    textdesk::housekeep_once(&t.services).await;
    let mut s = open("0".into()).await;
    let kept = s.until_message(b["message_id"].as_i64().unwrap()).await;
    assert_eq!(
        summary(&kept),
        [
            ("message.created".to_owned(), a["message_id"].clone()),
            ("message.created".to_owned(), b["message_id"].clone())
        ],
        "a day later, everything since the client's id is still there"
    );
    let c = json(t.text_in(inbox, "+14155550111", "Three", None).await).await;
    let f = s.next().await;
    assert_eq!((f.kind.as_str(), &f.data["message_id"]), ("message.created", &c["message_id"]));

    // An id never given out (another database, say) resyncs, from the newest.
    let newest = events.newest_id().await.unwrap();
    let mut s = open((newest + 1000).to_string()).await;
    let f = s.next().await;
    assert_eq!((f.kind.as_str(), f.id), ("resync", Some(newest)));

    // Malformed ids are refused plainly, and nothing is lost.
    for (bad, status) in [("abc", 400), ("1.5", 400), ("-3", 422)] {
        let r = t
            .client
            .get(t.url("/api/v1/events"))
            .bearer_auth(&token)
            .header("Last-Event-ID", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "Last-Event-ID {bad}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    let r = t.client.get(t.url("/api/v1/events?after=x")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let mut s = open(newest.to_string()).await;
    let d = json(t.text_in(inbox, "+14155550111", "Four", None).await).await;
    let got = s.until_message(d["message_id"].as_i64().unwrap()).await;
    assert_eq!(summary(&got), [("message.created".to_owned(), d["message_id"].clone())]);
}
both_backends!(a_day_old_id_resumes_and_an_unknown_one_resyncs);

/// A stream that falls behind the in-process broadcast (more than it holds)
/// catches up from the table instead of giving up.
async fn a_lagging_stream_catches_up_from_the_table(db: Db) {
    let t = app(db).start().await;
    let events = t.services.store.events();
    let (_, stream) = events.follow(t.account_id, None).await;
    let mut published = Vec::new();
    let store = &t.services.store;
    for n in 0..1100 {
        published.push(store.record_event(t.account_id, n, &touched(), None).await.expect("recorded"));
        if n % 10 == 0 {
            store.record_event(t.account_id + 1, n, &touched(), None).await.expect("recorded");
        }
    }
    let got: Vec<i64> = stream
        .take(1100)
        .map(|l| match l {
            Live::Event(ev) => ev.id,
            Live::Resync { .. } => panic!("caught up, not resynced"),
        })
        .collect()
        .await;
    assert_eq!(got, published);
}
both_backends!(a_lagging_stream_catches_up_from_the_table);

/// Two nodes on one PostgreSQL database: an event published on node A reaches
/// a stream on node B with the same id, and B resumes from ids A gave out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_are_the_same_on_every_node() {
    let Some((a, b)) = common::two_postgres_nodes().await else { return };
    let inbox = a.simulator_inbox().await;
    let on_a = a.token_for("dana@example.com", Role::Agent).await;
    let on_b = b.token_for("sam@example.com", Role::Agent).await;
    let mut sa = Sse::open(a.client.get(a.url("/api/v1/events")).bearer_auth(&on_a)).await;
    let mut sb = Sse::open(b.client.get(b.url("/api/v1/events")).bearer_auth(&on_b)).await;
    let first = json(a.text_in(inbox, "+14155550111", "Hello node A", None).await).await;
    let (fa, fb) = (sa.next().await, sb.next().await);
    assert_eq!(fb.data["message_id"], first["message_id"]);
    assert_eq!(fa.id, fb.id, "one id on both nodes");
    drop(sb);

    let second = json(a.text_in(inbox, "+14155550111", "Again", None).await).await;
    let mut sb = Sse::open(
        b.client.get(b.url("/api/v1/events")).bearer_auth(&on_b).header("Last-Event-ID", fb.id.unwrap().to_string()),
    )
    .await;
    let f = sb.next().await;
    assert_eq!(f.data["message_id"], second["message_id"], "node B resumes from node A's id");
    assert_eq!(f.id, sa.next().await.id);
}

/// What a browser notification says comes from the agent's session, not from
/// the event: the contact and the start of their latest text; nothing for an
/// unknown conversation or without a session.
async fn a_notice_names_the_contact(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    t.user("dana@example.com", Role::Agent).await;
    let long = format!("Can I move my appointment? {}", "Thanks! ".repeat(30));
    let accepted = json(t.text_in(inbox, "+14155550111", &long, None).await).await;
    let conv = accepted["conversation_id"].as_i64().unwrap();
    let browser = t.browser("dana@example.com").await;

    let r = browser.get(t.url(&format!("/conversations/{conv}/notice"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let n = json(r).await;
    assert_eq!(n["title"], "+14155550111", "a contact without a name is named by their number");
    let body = n["body"].as_str().unwrap();
    assert!(body.starts_with("Can I move my appointment?") && body.ends_with('…'), "{body}");
    assert!(body.chars().count() <= 121, "a short preview: {body}");
    assert_eq!(n["url"], format!("/conversations/{conv}"));

    let r = browser.get(t.url("/conversations/424242/notice")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let r = t.client.get(t.url(&format!("/conversations/{conv}/notice"))).send().await.unwrap();
    assert!(r.status().is_redirection() || r.status() == 401, "no session, no notice: {}", r.status());
}
both_backends!(a_notice_names_the_contact);

/// A node's LISTEN connection is cut (as when PostgreSQL restarts or a proxy
/// drops it): what was published meanwhile reaches that node's streams from
/// the table once it listens again, exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_lost_its_listener_catches_up() {
    let Some((a, b)) = common::two_postgres_nodes().await else { return };
    let inbox = a.simulator_inbox().await;
    let on_b = b.token_for("sam@example.com", Role::Agent).await;
    let mut sb = Sse::open(b.client.get(b.url("/api/v1/events")).bearer_auth(&on_b)).await;

    // A row whose NOTIFY nobody heard (its publisher's was lost), then the cut.
    let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&a.database_url).await.unwrap();
    let unheard: i64 = sqlx::query_scalar(
        "INSERT INTO event_log (account_id, conversation_id, kind, timeline, data, created_at)
         VALUES ($1, 77, 'priority_changed', 1, '{\"v\":1,\"type\":\"priority_changed\",\"priority\":\"high\"}', 0) RETURNING id",
    )
    .bind(a.account_id)
    .fetch_one(&mut c)
    .await
    .unwrap();
    let cut = sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    assert!(cut.len() >= 2, "both nodes' listeners were cut ({})", cut.len());
    let f = sb.next().await;
    assert_eq!((f.id, f.data["conversation_id"].as_i64()), (Some(unheard), Some(77)), "relayed from the table");
    let missed = json(a.text_in(inbox, "+14155550111", "Sent after the cut", None).await).await;
    let f = sb.next().await;
    assert_eq!(f.data["message_id"], missed["message_id"]);

    // And the node listens again: the next event arrives the ordinary way, once.
    let next = json(a.text_in(inbox, "+14155550111", "And now?", None).await).await;
    let f = sb.next().await;
    assert_eq!(f.data["message_id"], next["message_id"], "no duplicate of the caught-up event");
}

/// Writers racing each other (webhooks, the dispatcher, agents) never make a
/// stream skip an event: ids reach it in order, every one of them. On
/// PostgreSQL this fails without the log's order lock (ids drawn before
/// commit would commit out of order).
async fn racing_publishers_leave_no_gap(db: Db) {
    let t = app(db).start().await;
    let (_, stream) = t.services.store.events().follow(t.account_id, None).await;
    let tasks: Vec<_> = (0..4)
        .map(|task| {
            let store = t.services.store.clone();
            let account = t.account_id;
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for n in 0..100 {
                    ids.push(store.record_event(account, task * 1000 + n, &touched(), None).await);
                }
                ids
            })
        })
        .collect();
    let mut published: Vec<i64> = Vec::new();
    for task in tasks {
        published.extend(task.await.unwrap().into_iter().map(|id| id.expect("recorded")));
    }
    published.sort_unstable();
    let got = tokio::time::timeout(
        Duration::from_secs(10),
        stream
            .take(400)
            .map(|l| match l {
                Live::Event(ev) => ev.id,
                Live::Resync { .. } => panic!("no resync"),
            })
            .collect::<Vec<_>>(),
    )
    .await
    .expect("every event arrives");
    assert_eq!(got, published);
}
both_backends!(racing_publishers_leave_no_gap);
