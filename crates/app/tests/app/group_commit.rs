//! Texts arriving together. One writer a node commits them in groups, on
//! SQLite and on PostgreSQL. Each acknowledged text is stored once, a text
//! whose writing fails (here: a panic, through the store's test hook) fails
//! alone while the node goes on and leaves nothing in the event log, and
//! agents replying in the same conversations meanwhile are not refused.

use crate::common;

use common::{Db, TestApp, app, json};
use futures_util::future::join_all;
use serde_json::{Value, json};
use textdesk_core::Role;

const BAD: &str = "BREAKS-THE-WRITER";

/// Posts a text from the simulator; the status, and the answer when it was taken.
async fn text(t: &common::TestApp, inbox: i64, from: &str, body: &str, id: &str) -> (u16, Value) {
    let r = t
        .client
        .post(t.url(&format!("/simulator/api/inboxes/{inbox}/messages")))
        .json(&json!({ "from": from, "body": body, "id": id }))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn conversations(t: &common::TestApp, token: &str) -> Vec<Value> {
    let list = json(t.get(token, "/api/v1/conversations?limit=100").await).await;
    list["items"].as_array().unwrap().clone()
}

async fn a_text_that_panics_fails_alone_and_the_node_takes_later_texts(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    t.services.store.panic_on_inbound_body(BAD);

    // 24 first texts from new numbers at once, the twelfth a bad one: it is
    // written beside the others (on SQLite, in their transaction).
    let sends = (0..24).map(|i| {
        let body = if i == 11 { format!("this one {BAD}") } else { format!("text {i}") };
        let t = &t;
        async move { text(t, inbox, &format!("+1415555{:04}", 1000 + i), &body, &format!("SM-group-{i}")).await }
    });
    let answers = join_all(sends).await;
    for (i, (status, _)) in answers.iter().enumerate() {
        assert_eq!(*status, if i == 11 { 500 } else { 201 }, "text {i}");
    }

    // The node goes on taking texts, the same bad one included once it is mended.
    for i in 0..5 {
        let (status, _) = text(&t, inbox, &format!("+1415555{:04}", 2000 + i), "later", &format!("SM-later-{i}")).await;
        assert_eq!(status, 201, "later text {i}");
    }
    let (status, _) = text(&t, inbox, "+14155551011", "mended", "SM-group-11").await;
    assert_eq!(status, 201, "the failed text was not stored, so its retry is new");

    // Nothing of the bad text stayed (its contact was rolled back with it);
    // every other text is in its own conversation, once.
    let convs = conversations(&t, &token).await;
    assert_eq!(convs.len(), 23 + 5 + 1);
    let bad = convs.iter().find(|c| c["contact_address"] == "+14155551011").unwrap();
    let msgs = json(t.get(&token, &format!("/api/v1/conversations/{}/messages", bad["id"])).await).await;
    let bodies: Vec<&str> = msgs.as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["mended"]);
    assert_log_matches_messages(&t, 29).await;
}
both_backends!(a_text_that_panics_fails_alone_and_the_node_takes_later_texts);

/// The event log tells of exactly the inbound messages stored: one
/// `message_received` each, none for a text that was rolled back.
async fn assert_log_matches_messages(t: &TestApp, inbound: i64) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&t.database_url).await.unwrap();
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.unwrap() }
    };
    let stored = count("SELECT COUNT(*) FROM messages WHERE direction = 'inbound'").await;
    let told = count("SELECT COUNT(*) FROM event_log WHERE kind = 'message_received'").await;
    let distinct = count("SELECT COUNT(DISTINCT message_id) FROM event_log WHERE kind = 'message_received'").await;
    let dangling = count(
        "SELECT COUNT(*) FROM event_log e WHERE e.message_id IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = e.message_id)",
    )
    .await;
    assert_eq!((stored, told, distinct, dangling), (inbound, inbound, inbound, 0), "stored, told, distinct, dangling");
}

async fn agents_reply_while_customers_text_in_the_same_conversations(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let numbers: Vec<String> = (0..10).map(|i| format!("+1415555{:04}", 4000 + i)).collect();
    for (i, n) in numbers.iter().enumerate() {
        assert_eq!(text(&t, inbox, n, "hello", &format!("SM-first-{i}")).await.0, 201);
    }
    let convs = conversations(&t, &token).await;
    let ids: Vec<i64> = convs.iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 10);

    // Six more texts from each customer and three replies into each of their
    // conversations, all at once: a group of texts and the agents' writes
    // lock the same conversations.
    let texts = (0..60).map(|i| {
        let (t, from) = (&t, &numbers[i % 10]);
        async move { text(t, inbox, from, &format!("more {i}"), &format!("SM-more-{i}")).await.0 }
    });
    let replies = (0..30).map(|i| {
        let (t, token, conv) = (&t, &token, ids[i % 10]);
        async move {
            let r = t
                .post(token, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": format!("reply {i}") }))
                .await;
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
    });
    let (texts, replies) = tokio::join!(join_all(texts), join_all(replies));
    assert!(texts.iter().all(|s| *s == 201), "every text stored: {texts:?}");
    let refused: Vec<&(u16, String)> = replies.iter().filter(|(s, _)| *s != 201).collect();
    assert!(refused.is_empty(), "every reply taken: {refused:?}");

    for conv in &ids {
        let msgs = json(t.get(&token, &format!("/api/v1/conversations/{conv}/messages")).await).await;
        let directions: Vec<&str> = msgs.as_array().unwrap().iter().map(|m| m["direction"].as_str().unwrap()).collect();
        let inbound = directions.iter().filter(|d| **d == "inbound").count();
        assert_eq!((inbound, directions.len() - inbound), (7, 3), "conversation {conv}: {directions:?}");
    }
    assert_log_matches_messages(&t, 70).await;
}
both_backends!(agents_reply_while_customers_text_in_the_same_conversations);

async fn texts_arriving_together_are_each_stored_once(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;

    // 8 new numbers send 2 texts each, and the provider delivers every text
    // three times, all 48 requests at once.
    let sends = (0..48).map(|i| {
        let (number, text_id) = (i % 8, i % 16);
        let t = &t;
        async move {
            let from = format!("+1415555{:04}", 3000 + number);
            (text_id, text(t, inbox, &from, &format!("text {text_id}"), &format!("SM-once-{text_id}")).await)
        }
    });
    let answers = join_all(sends).await;
    for text_id in 0..16 {
        let copies: Vec<&(u16, Value)> = answers.iter().filter(|(id, _)| *id == text_id).map(|(_, a)| a).collect();
        let statuses: Vec<u16> = copies.iter().map(|(s, _)| *s).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "text {text_id} stored once: {statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 2, "its copies acknowledged: {statuses:?}");
        let ids: Vec<&Value> = copies.iter().map(|(_, a)| &a["message_id"]).collect();
        assert!(ids.iter().all(|id| *id == ids[0]), "every copy names the one message: {ids:?}");
    }

    // One conversation per number, holding its two texts once each.
    let convs = conversations(&t, &token).await;
    assert_eq!(convs.len(), 8);
    for c in &convs {
        let msgs = json(t.get(&token, &format!("/api/v1/conversations/{}/messages", c["id"])).await).await;
        let mut bodies: Vec<&str> = msgs.as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
        bodies.sort();
        assert_eq!(bodies.len(), 2, "{bodies:?}");
        assert_ne!(bodies[0], bodies[1]);
        assert_eq!(c["unread"], 2, "copies do not count as unread messages");
    }
}
both_backends!(texts_arriving_together_are_each_stored_once);

/// A contact known by two numbers, with no conversation yet, texts from both
/// at once: the texts are written in one batch (the database is held while
/// they arrive), and land in one new conversation, as they would one after
/// the other. A new number's text in the same batch gets its own. On SQLite
/// only: there an event consumer's turn holds the writer back while the
/// texts gather; PostgreSQL's writers do not wait for one another.
#[tokio::test]
async fn one_contacts_two_numbers_texting_together_share_one_conversation() {
    let t = app(Db::Sqlite).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let r = t.post(&token, "/api/v1/contacts", json!({ "name": "Ines", "address": "+14155550140" })).await;
    assert_eq!(r.status(), 201);
    let contact = json(r).await["id"].as_i64().unwrap();
    let r =
        t.post(&token, &format!("/api/v1/contacts/{contact}/identities"), json!({ "address": "+14155550141" })).await;
    assert_eq!(r.status(), 201);
    // An event for the holder of the database to hold it on.
    assert_eq!(text(&t, inbox, "+14155550150", "first in line", "SM-two-0").await.0, 201);

    let (held, release) = crate::consumer_turns::hold_database(&t.services.store).await;
    // The writer takes what is waiting, then waits for the database: this text
    // alone, so that the three after it wait together for the next batch.
    let primer = text(&t, inbox, "+14155550151", "the writer's first", "SM-two-p");
    let sends = [
        ("+14155550140", "from the first number", "SM-two-1"),
        ("+14155550141", "from the second number", "SM-two-2"),
        ("+14155550199", "from someone new", "SM-two-3"),
    ]
    .map(|(from, body, id)| {
        let t = &t;
        async move {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            text(t, inbox, from, body, id).await.0
        }
    });
    let sent = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        release.notify_one();
    };
    let ((first, _), statuses, ()) = tokio::join!(primer, join_all(sends), sent);
    held.await.unwrap().expect("the holder's batch");
    assert_eq!((first, statuses), (201, vec![201, 201, 201]));

    let convs = conversations(&t, &token).await;
    let of_ines: Vec<&Value> = convs.iter().filter(|c| c["contact_id"] == contact).collect();
    assert_eq!(of_ines.len(), 1, "one conversation for the contact: {convs:?}");
    assert_eq!(convs.len(), 4, "and one for each other number: {convs:?}");
    let msgs = json(t.get(&token, &format!("/api/v1/conversations/{}/messages", of_ines[0]["id"])).await).await;
    let mut bodies: Vec<&str> = msgs.as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
    bodies.sort();
    assert_eq!(bodies, ["from the first number", "from the second number"]);
    assert_eq!(of_ines[0]["unread"], 2);
}

/// A contact known by four numbers texts from all of them at once, twice,
/// while four new numbers text too: every text is stored, the contact's all
/// in one new conversation, on both engines (the texts of one contact in a
/// batch are written one round after another).
async fn one_contacts_numbers_texting_at_once_share_one_conversation(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let numbers = ["+14155550160", "+14155550161", "+14155550162", "+14155550163"];
    let r = t.post(&token, "/api/v1/contacts", json!({ "name": "Ines", "address": numbers[0] })).await;
    assert_eq!(r.status(), 201);
    let contact = json(r).await["id"].as_i64().unwrap();
    for n in &numbers[1..] {
        let r = t.post(&token, &format!("/api/v1/contacts/{contact}/identities"), json!({ "address": n })).await;
        assert_eq!(r.status(), 201);
    }

    let strangers = ["+14155550170", "+14155550171", "+14155550172", "+14155550173"];
    let sends =
        numbers.iter().chain(&strangers).flat_map(|from| [(from, 1), (from, 2)]).enumerate().map(|(i, (from, n))| {
            let t = &t;
            async move { text(t, inbox, from, &format!("{from} #{n}"), &format!("SM-four-{i}")).await.0 }
        });
    let statuses = join_all(sends).await;
    assert!(statuses.iter().all(|s| *s == 201), "every text stored: {statuses:?}");

    let convs = conversations(&t, &token).await;
    let of_ines: Vec<&Value> = convs.iter().filter(|c| c["contact_id"] == contact).collect();
    assert_eq!(of_ines.len(), 1, "one conversation for the contact: {convs:?}");
    assert_eq!(convs.len(), 5, "and one for each new number: {convs:?}");
    assert_eq!(of_ines[0]["unread"], 8);
    let msgs = json(t.get(&token, &format!("/api/v1/conversations/{}/messages", of_ines[0]["id"])).await).await;
    let mut bodies: Vec<&str> = msgs.as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
    bodies.sort();
    let mut expected: Vec<String> = numbers.iter().flat_map(|n| [format!("{n} #1"), format!("{n} #2")]).collect();
    expected.sort();
    assert_eq!(bodies, expected);
    assert_log_matches_messages(&t, 16).await;
}
both_backends!(one_contacts_numbers_texting_at_once_share_one_conversation);
