//! The conversation loop end to end over HTTP: a customer texts in, an agent
//! answers, delivery is reported, the agent resolves, the customer writes again.

use crate::common;

use common::{Db, app, json};
use serde_json::json;
use textdesk_core::Role;

async fn story(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;

    // A customer texts in; the conversation appears, unassigned and open.
    let r = t.text_in(inbox, "+1 (415) 555-0111", "Hi, can I move my cleaning to next week?", None).await;
    assert_eq!(r.status(), 201);
    let accepted = json(r).await;
    let conv = accepted["conversation_id"].as_i64().unwrap();
    let list = json(t.get(&token, "/api/v1/conversations?status=open&assignee=none").await).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], conv);
    assert_eq!(items[0]["contact_address"], "+14155550111");
    assert_eq!(items[0]["unread"], 1);
    assert!(items[0]["waiting_since"].is_string());

    // The agent takes it and answers.
    let me = json(t.get(&token, "/api/v1/me").await).await;
    let r = t.post(&token, &format!("/api/v1/conversations/{conv}/assign"), json!({ "assignee_id": me["id"] })).await;
    assert_eq!(r.status(), 200);
    let r = t
        .post(
            &token,
            &format!("/api/v1/conversations/{conv}/messages"),
            json!({ "body": "Of course! Tuesday at 2:30?" }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let reply = json(r).await;
    assert_eq!(reply["status"], "queued");
    assert_eq!(reply["segments"], 1);
    assert_eq!(reply["encoding"], "gsm7");

    // The customer is no longer waiting once a person has answered.
    let c = json(t.get(&token, &format!("/api/v1/conversations/{conv}")).await).await;
    assert!(c["waiting_since"].is_null());
    assert_eq!(c["assignee_id"], me["id"]);

    // The dispatcher sends it; the simulated carrier reports it delivered.
    assert_eq!(t.dispatch_all().await, 1);
    let reply_id = reply["id"].as_i64().unwrap();
    let delivered = t
        .eventually(|| async {
            let msgs = json(t.get(&token, &format!("/api/v1/conversations/{conv}/messages")).await).await;
            let m = msgs.as_array().unwrap().iter().find(|m| m["id"] == reply_id).cloned().unwrap();
            (m["status"] == "delivered").then_some(m)
        })
        .await;
    assert!(delivered["provider_id"].as_str().unwrap().starts_with("SIM"));

    // The phone received it.
    let phone = json(
        t.client
            .get(t.url(&format!("/simulator/api/inboxes/{inbox}/phones/+14155550111/messages")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let bodies: Vec<&str> = phone.as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["Hi, can I move my cleaning to next week?", "Of course! Tuesday at 2:30?"]);

    // A private note stays in the thread and is never sent.
    let r = t
        .post(
            &token,
            &format!("/api/v1/conversations/{conv}/messages"),
            json!({ "body": "Prefers afternoons", "private": true }),
        )
        .await;
    assert_eq!(json(r).await["status"], "note");
    assert_eq!(t.dispatch_all().await, 0);

    // Resolve; then the customer writes again within the window: same conversation, open again.
    let r = t.post(&token, &format!("/api/v1/conversations/{conv}/status"), json!({ "status": "resolved" })).await;
    assert_eq!(json(r).await["status"], "resolved");
    let again = json(t.text_in(inbox, "+14155550111", "Actually, Wednesday is better", None).await).await;
    assert_eq!(again["conversation_id"], conv);
    let c = json(t.get(&token, &format!("/api/v1/conversations/{conv}")).await).await;
    assert_eq!(c["status"], "open");
    assert!(c["resolved_at"].is_null());

    let msgs = json(t.get(&token, &format!("/api/v1/conversations/{conv}/messages")).await).await;
    let kinds: Vec<(String, bool)> = msgs
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["direction"].as_str().unwrap().to_owned(), m["private"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [("inbound".into(), false), ("outbound".into(), false), ("outbound".into(), true), ("inbound".into(), false)]
    );

    // The timeline records who did what.
    let timeline = json(t.get(&token, &format!("/api/v1/conversations/{conv}/timeline")).await).await;
    let events: Vec<&str> = timeline.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(events, ["created", "assigned", "status_changed", "status_changed"]);
    assert_eq!(timeline[2]["data"]["to"], "resolved");
    assert_eq!(timeline[3]["data"]["reason"], "customer replied");
}

both_backends!(story);
