//! The account's retention policy (F14): the dry run counts what the run
//! takes, only resolved conversations are touched, deleting leaves the events
//! a lagging consumer has not read, redacting keeps the history without its
//! words, and the daily run happens once across nodes.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use textdesk_core::Role;

use crate::common::{self, Db, PNG, TestApp, app, json};

/// Runs SQL on the test's database (moving things into the past).
async fn exec(t: &TestApp, sql: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&t.database_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(&pool).await.unwrap();
    pool.close().await;
}

/// Messages and events of these conversations written 400 days ago.
async fn age(t: &TestApp, convs: &[i64]) {
    let ids = convs.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    let old = (Timestamp::now() - SignedDuration::from_hours(400 * 24)).as_millisecond();
    exec(t, &format!("UPDATE messages SET created_at = {old} WHERE conversation_id IN ({ids})")).await;
    exec(t, &format!("UPDATE event_log SET created_at = {old} WHERE conversation_id IN ({ids})")).await;
    exec(t, &format!("UPDATE conversations SET last_activity_at = {old} WHERE id IN ({ids})")).await;
}

/// Three conversations: `old` resolved with a staff note carrying a picture,
/// `open` as old but still open, `new` resolved today (written last, so the
/// log's newest row is its).
async fn three(t: &TestApp, token: &str) -> (i64, i64, i64) {
    let inbox = t.simulator_inbox().await;
    let conv = |n: &'static str, body: &'static str| async move {
        json(t.text_in(inbox, n, body, None).await).await["conversation_id"].as_i64().unwrap()
    };
    let old = conv("+14155550101", "old and resolved").await;
    let r = t.client.post(t.url("/api/v1/media")).bearer_auth(token).header("content-type", "image/png");
    let media = json(r.body(PNG.to_vec()).send().await.unwrap()).await["id"].as_i64().unwrap();
    let note = json!({ "body": "x-ray", "private": true, "media_ids": [media] });
    assert_eq!(t.post(token, &format!("/api/v1/conversations/{old}/messages"), note).await.status(), 201);
    let open = conv("+14155550102", "old but open").await;
    let new = conv("+14155550103", "new and resolved").await;
    for c in [old, new] {
        let r = t.post(token, &format!("/api/v1/conversations/{c}/status"), json!({ "status": "resolved" })).await;
        assert_eq!(r.status(), 200);
    }
    age(t, &[old, open]).await;
    (old, open, new)
}

async fn messages(t: &TestApp, token: &str, conv: i64) -> Vec<Value> {
    json(t.get(token, &format!("/api/v1/conversations/{conv}/messages")).await).await.as_array().unwrap().clone()
}

/// Rows of the event log about a conversation (timeline or not).
async fn events_of(t: &TestApp, conv: i64) -> usize {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&t.database_url).await.unwrap();
    let sql = format!("SELECT COUNT(*) FROM event_log WHERE conversation_id = {conv}");
    let n: i64 = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_one(&pool).await.unwrap().get(0);
    pool.close().await;
    n as usize
}

/// A conversation's timeline, as the API gives it, in one string.
async fn timeline(t: &TestApp, token: &str, conv: i64) -> String {
    json(t.get(token, &format!("/api/v1/conversations/{conv}/timeline")).await).await.to_string()
}

fn media_files(t: &TestApp) -> usize {
    std::fs::read_dir(&t.services.media.dir).map(|d| d.count()).unwrap_or(0)
}

async fn the_run_takes_exactly_what_the_dry_run_counted(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let (old, open, new) = three(&t, &admin).await;
    let policy = json!({ "months": 12, "action": "delete" });

    assert_eq!(t.post(&agent, "/api/v1/retention/dry-run", policy.clone()).await.status(), 403);
    let r = t.client.put(t.url("/api/v1/retention")).bearer_auth(&agent).json(&policy).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let bad = json!({ "months": 0, "action": "delete" });
    assert_eq!(t.post(&admin, "/api/v1/retention/dry-run", bad).await.status(), 422);

    // Every durable consumer (the automations engine, outgoing webhooks, polls,
    // the review queue) has read the log: old events may go.
    t.services.run_automations().await.unwrap();
    t.services.run_webhooks().await.unwrap();
    t.services.run_surveys().await.unwrap();
    t.services.run_reviews().await.unwrap();
    // A durable consumer that has read nothing yet keeps every event; once it has read them, they may go.
    let now = Timestamp::now().as_millisecond();
    exec(&t, &format!("INSERT INTO event_cursors (name, position, updated_at) VALUES ('slow', 0, {now})")).await;
    let dry = json(t.post(&admin, "/api/v1/retention/dry-run", policy.clone()).await).await;
    assert_eq!(dry["events"].as_i64(), Some(0), "the lagging consumer's events are kept");
    exec(&t, "UPDATE event_cursors SET position = (SELECT MAX(id) FROM event_log) WHERE name = 'slow'").await;
    let dry = json(t.post(&admin, "/api/v1/retention/dry-run", policy.clone()).await).await;
    assert_eq!(
        (dry["conversations"].as_i64(), dry["messages"].as_i64(), dry["files"].as_i64()),
        (Some(1), Some(2), Some(1))
    );
    assert!(dry["events"].as_i64().unwrap() > 0);
    assert_eq!(messages(&t, &admin, old).await.len(), 2, "a dry run changes nothing");

    let r = t.client.put(t.url("/api/v1/retention")).bearer_auth(&admin).json(&policy).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let open_events = events_of(&t, open).await;
    let runs = t.services.run_due_retention(Timestamp::now()).await.unwrap();
    assert_eq!(runs.len(), 1);
    let c = runs[0].1;
    assert_eq!(
        (c.conversations, c.messages, c.files, c.events),
        (1, 2, 1, dry["events"].as_i64().unwrap()),
        "the run takes what the dry run counted"
    );
    assert!(messages(&t, &admin, old).await.is_empty());
    assert_eq!(events_of(&t, old).await, 0, "the old conversation's history went too");
    assert_eq!(media_files(&t), 0, "the picture's file is deleted");
    assert_eq!(messages(&t, &admin, open).await.len(), 1, "an open conversation is untouched");
    assert_eq!(events_of(&t, open).await, open_events);
    assert_eq!(messages(&t, &admin, new).await.len(), 1, "a recent one is untouched");
    let again = json(t.post(&admin, "/api/v1/retention/dry-run", policy).await).await;
    assert_eq!((again["messages"].as_i64(), again["events"].as_i64()), (Some(0), Some(0)));
    let audit = t.services.store.audit_entries(t.account_id, None, 10).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "retention.ran" && a.detail.contains("deleted 2 messages")));
    let got = json(t.get(&admin, "/api/v1/retention").await).await;
    assert_eq!((got["policy"]["months"].as_i64(), got["last_run_at"].is_string()), (Some(12), true));
}
both_backends!(the_run_takes_exactly_what_the_dry_run_counted);

async fn redaction_keeps_messages_and_history_without_words(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    t.user("dana@example.com", Role::Agent).await;
    let (old, _, _) = three(&t, &admin).await;
    // A message scheduled and cancelled in the old conversation: the timeline keeps its words until the policy runs.
    let later = (Timestamp::now() + SignedDuration::from_hours(48)).to_string();
    let path = format!("/api/v1/conversations/{old}/messages");
    let m = json(t.post(&admin, &path, json!({ "body": "Your crown is ready", "send_at": later })).await).await;
    let r = t.client.delete(t.url(&format!("/api/v1/messages/{}", m["id"]))).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(r.status(), 204);
    age(&t, &[old]).await;
    assert!(timeline(&t, &admin, old).await.contains("Your crown is ready"));

    // The settings page: agents are refused; an admin previews, then saves.
    let agent = t.browser("dana@example.com").await;
    assert_eq!(agent.get(t.url("/settings/retention")).send().await.unwrap().status(), 403);
    let browser = t.browser("ada@example.com").await;
    let page = browser.get(t.url("/settings/retention")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("everything is kept"), "{page}");
    let r = browser.get(t.url("/settings/retention?months=abc&action=redact")).send().await.unwrap();
    assert_eq!(r.status(), 422);
    let page =
        browser.get(t.url("/settings/retention?months=12&action=redact")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"<strong id="count-messages">2</strong>"#), "{page}");
    assert!(page.contains(r#"<strong id="count-files">1</strong>"#));
    assert!(page.contains(r#"id="history-kept""#) && !page.contains("count-events"), "{page}");
    let csrf = common::csrf_of(&page);
    let form = [("csrf", csrf.as_str()), ("months", "12"), ("action", "redact")];
    let r = browser.post(t.url("/settings/retention")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let page = browser.get(t.url("/settings/retention?saved=1")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Redact") && page.contains("after 12 months"), "{page}");

    let before = events_of(&t, old).await;
    let runs = t.services.run_due_retention(Timestamp::now()).await.unwrap();
    assert_eq!((runs[0].1.messages, runs[0].1.files, runs[0].1.events), (2, 1, 0));
    let kept = messages(&t, &admin, old).await;
    assert_eq!(kept.len(), 2, "redacted messages stay");
    assert!(
        kept.iter()
            .all(|m| m["body"] == "[removed by the retention policy]" && m["media"].as_array().unwrap().is_empty())
    );
    assert_eq!(media_files(&t), 0);
    assert_eq!(events_of(&t, old).await, before, "the history stays");
    let history = timeline(&t, &admin, old).await;
    assert!(!history.contains("Your crown is ready"), "without the cancelled message's words: {history}");
    assert!(history.contains("schedule_changed") && history.contains("cancelled"), "{history}");
    // Run again: nothing more to take, the history still there.
    let policy = textdesk_store::RetentionPolicy { months: 12, action: textdesk_store::RetentionAction::Redact };
    let c = t.services.run_retention(t.account_id, policy, Timestamp::now()).await.unwrap();
    assert_eq!((c.messages, c.events), (0, 0));
    assert_eq!(events_of(&t, old).await, before);
}
both_backends!(redaction_keeps_messages_and_history_without_words);

async fn the_daily_run_happens_once(db: Db) {
    let t = app(db).start().await;
    let policy = textdesk_store::RetentionPolicy { months: 12, action: textdesk_store::RetentionAction::Delete };
    t.services.set_retention(t.account_id, Some(policy), None).await.unwrap();
    let now = Timestamp::now();
    let (a, b) = tokio::join!(t.services.run_due_retention(now), t.services.run_due_retention(now));
    assert_eq!(a.unwrap().len() + b.unwrap().len(), 1, "two runs at once: one of them runs");
    let soon = now + SignedDuration::from_hours(23);
    assert!(t.services.run_due_retention(soon).await.unwrap().is_empty(), "not again within the day");
    let tomorrow = now + SignedDuration::from_hours(24);
    assert_eq!(t.services.run_due_retention(tomorrow).await.unwrap().len(), 1);
}
both_backends!(the_daily_run_happens_once);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_run_the_policy_once() {
    let Some((a, b)) = common::two_postgres_nodes().await else { return };
    let policy = textdesk_store::RetentionPolicy { months: 12, action: textdesk_store::RetentionAction::Delete };
    a.services.set_retention(a.account_id, Some(policy), None).await.unwrap();
    for day in 0..3 {
        let now = Timestamp::now() + SignedDuration::from_hours(24 * day);
        let (ra, rb) = tokio::join!(a.services.run_due_retention(now), b.services.run_due_retention(now));
        assert_eq!(ra.unwrap().len() + rb.unwrap().len(), 1, "day {day}: exactly one node ran it");
    }
}
