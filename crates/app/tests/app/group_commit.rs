//! Texts arriving together. On SQLite one writer commits them in groups, a
//! savepoint each; on PostgreSQL each has its own transaction. Either way each
//! acknowledged text is stored once, and a text whose writing fails (here: a
//! panic, through the store's test hook) fails alone while the node goes on.

use crate::common;

use common::{Db, app, json};
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
}
both_backends!(a_text_that_panics_fails_alone_and_the_node_takes_later_texts);

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
