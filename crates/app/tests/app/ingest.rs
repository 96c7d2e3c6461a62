//! Ingest: duplicates stored once, and the reopen-or-new rule.

use crate::common;

use common::{Db, app, json};
use serde_json::json;
use textdesk_core::Role;

async fn duplicate_provider_ids_are_stored_once(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;

    let first = t.text_in(inbox, "+14155550111", "Hello?", Some("SM-retry-1")).await;
    assert_eq!(first.status(), 201);
    let first = json(first).await;
    // The provider retries the same message, twice and concurrently.
    let (a, b) = tokio::join!(
        t.text_in(inbox, "+14155550111", "Hello?", Some("SM-retry-1")),
        t.text_in(inbox, "+14155550111", "Hello?", Some("SM-retry-1"))
    );
    for r in [a, b] {
        assert_eq!(r.status(), 200);
        let r = json(r).await;
        assert_eq!(r["duplicate"], true);
        assert_eq!(r["message_id"], first["message_id"]);
    }
    let conv = first["conversation_id"].as_i64().unwrap();
    let msgs = json(t.get(&token, &format!("/api/v1/conversations/{conv}/messages")).await).await;
    assert_eq!(msgs.as_array().unwrap().len(), 1);
    let c = json(t.get(&token, &format!("/api/v1/conversations/{conv}")).await).await;
    assert_eq!(c["unread"], 1, "a duplicate does not count as a new unread message");

    // A different message id from the same phone is a new message.
    let r = t.text_in(inbox, "+14155550111", "Hello?", Some("SM-retry-2")).await;
    assert_eq!(r.status(), 201);

    // Many first texts from new numbers at once: each gets one contact and one conversation.
    let numbers: Vec<String> = (0..8).map(|i| format!("+1415555{:04}", 300 + i)).collect();
    let tasks: Vec<_> = numbers.iter().map(|from| t.text_in(inbox, from, "first text", None)).collect();
    for r in futures_util::future::join_all(tasks).await {
        assert_eq!(r.status(), 201);
    }
    // And the same new number texting twice at once: still one contact, one conversation.
    let (a, b) =
        tokio::join!(t.text_in(inbox, "+14155550999", "one", None), t.text_in(inbox, "+14155550999", "two", None));
    let (a, b) = (json(a).await, json(b).await);
    assert_eq!(a["conversation_id"], b["conversation_id"]);
    let list = json(t.get(&token, "/api/v1/conversations?limit=50").await).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 10);
    assert_eq!(t.services.metrics.inbound_duplicates.load(std::sync::atomic::Ordering::Relaxed), 2);
}
both_backends!(duplicate_provider_ids_are_stored_once);

async fn resolved_conversations_reopen_within_the_window(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550111", "Hi", None).await).await["conversation_id"].as_i64().unwrap();
    t.post(&token, &format!("/api/v1/conversations/{conv}/status"), json!({ "status": "resolved" })).await;
    let again = json(t.text_in(inbox, "+14155550111", "One more thing", None).await).await;
    assert_eq!(again["conversation_id"], conv);

    // Snoozed and pending conversations take the message and wake up.
    let until = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(2)).to_string();
    let r = t
        .post(
            &token,
            &format!("/api/v1/conversations/{conv}/status"),
            json!({ "status": "snoozed", "snoozed_until": until }),
        )
        .await;
    assert_eq!(json(r).await["status"], "snoozed");
    let again = json(t.text_in(inbox, "+14155550111", "Hello?", None).await).await;
    assert_eq!(again["conversation_id"], conv);
    let c = json(t.get(&token, &format!("/api/v1/conversations/{conv}")).await).await;
    assert_eq!(c["status"], "open");
    assert!(c["snoozed_until"].is_null());
}
both_backends!(resolved_conversations_reopen_within_the_window);

async fn old_resolved_conversations_give_way_to_new_ones(db: Db) {
    // A zero-hour window: any later message is a new matter.
    let t = app(db).config(|c| c.reopen_window_hours = 0).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550111", "Hi", None).await).await["conversation_id"].as_i64().unwrap();
    t.post(&token, &format!("/api/v1/conversations/{conv}/status"), json!({ "status": "resolved" })).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let next = json(t.text_in(inbox, "+14155550111", "New question", None).await).await;
    let new_conv = next["conversation_id"].as_i64().unwrap();
    assert_ne!(new_conv, conv);
    let old = json(t.get(&token, &format!("/api/v1/conversations/{conv}")).await).await;
    assert_eq!(old["status"], "resolved", "the old conversation stays resolved");
    // Same contact, two conversations.
    assert_eq!(
        old["contact_id"],
        json(t.get(&token, &format!("/api/v1/conversations/{new_conv}")).await).await["contact_id"]
    );
}
both_backends!(old_resolved_conversations_give_way_to_new_ones);

#[tokio::test]
async fn bad_simulator_texts_are_refused_and_store_nothing() {
    let t = app(Db::Sqlite).start().await;
    let inbox = t.simulator_inbox().await;
    for (from, body) in [("not a number", "hi"), ("+14155550111", "   "), ("+1 555", "hi")] {
        let r = t.text_in(inbox, from, body, None).await;
        assert_eq!(r.status(), 422, "{from:?} {body:?}");
        assert_eq!(json(r).await["type"], "urn:textdesk:problem:invalid");
    }
    let r = t.text_in(9999, "+14155550111", "hi", None).await;
    assert_eq!(r.status(), 404);
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let list = json(t.get(&token, "/api/v1/conversations?status=open").await).await;
    assert!(list["items"].as_array().unwrap().is_empty());
}
