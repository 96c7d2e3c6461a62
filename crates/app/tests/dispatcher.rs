//! The outbox and the gate: racing dispatchers send each row once, and an
//! opted-out contact cannot be texted.

mod common;

use std::sync::atomic::Ordering;

use common::{Db, app, json};
use serde_json::json;
use textdesk::Services;
use textdesk_core::Role;

async fn racing_dispatchers_send_each_row_once(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let mut expected = 0;
    for i in 0..12 {
        let from = format!("+1415555{:04}", 200 + i);
        let conv = json(t.text_in(inbox, &from, "hello", None).await).await["conversation_id"].as_i64().unwrap();
        for n in 0..5 {
            let r = t
                .post(
                    &token,
                    &format!("/api/v1/conversations/{conv}/messages"),
                    json!({ "body": format!("reply {n}") }),
                )
                .await;
            assert_eq!(r.status(), 201);
            expected += 1;
        }
    }

    // A second node: its own connection pool to the same database.
    let store2 = textdesk_store::Store::connect(&t.database_url).await.unwrap();
    let node2 = Services { store: store2, ..t.services.clone() };
    let run = |s: Services, name: &'static str| async move {
        let mut sent = 0;
        loop {
            let r = s.dispatch_once(name, 3).await.unwrap();
            sent += r.sent;
            if r.claimed == 0 {
                return sent;
            }
        }
    };
    let (a, b, c) =
        tokio::join!(run(t.services.clone(), "w1"), run(node2.clone(), "w2"), run(t.services.clone(), "w3"));
    assert_eq!(a + b + c, expected, "every row sent exactly once across workers");
    assert_eq!(t.services.carrier.accepted(), expected as u64, "the carrier saw each message once");
    let outbox = t.services.store.outbox_counts().await.unwrap();
    assert_eq!(outbox, vec![("sent".to_owned(), expected as i64)]);
}
both_backends!(racing_dispatchers_send_each_row_once);

async fn opted_out_contacts_cannot_be_texted(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let accepted = json(t.text_in(inbox, "+14155550155", "Who is this?", None).await).await;
    let conv = accepted["conversation_id"].as_i64().unwrap();
    let contact =
        json(t.get(&token, &format!("/api/v1/conversations/{conv}")).await).await["contact_id"].as_i64().unwrap();
    let r = t
        .post(
            &token,
            &format!("/api/v1/contacts/{contact}/consent"),
            json!({ "state": "opted_out", "source": "keyword", "evidence": "Texted STOP" }),
        )
        .await;
    assert_eq!(r.status(), 201);

    let r = t.post(&token, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Are you sure?" })).await;
    assert_eq!(r.status(), 409);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let p = json(r).await;
    assert_eq!(p["type"], "urn:textdesk:problem:blocked");
    assert_eq!(p["reason"], "opted_out");
    assert!(p["detail"].as_str().unwrap().contains("opted out"), "{p}");

    // Nothing stored, nothing queued, nothing sent.
    let msgs = json(t.get(&token, &format!("/api/v1/conversations/{conv}/messages")).await).await;
    assert_eq!(msgs.as_array().unwrap().len(), 1);
    assert_eq!(t.dispatch_all().await, 0);
    assert_eq!(t.services.carrier.accepted(), 0);
    assert_eq!(t.services.metrics.outbound_blocked.load(Ordering::Relaxed), 1);

    // A private note is still fine: it never leaves.
    let r = t
        .post(
            &token,
            &format!("/api/v1/conversations/{conv}/messages"),
            json!({ "body": "Customer opted out", "private": true }),
        )
        .await;
    assert_eq!(r.status(), 201);

    // Opting back in lets replies through again.
    t.post(
        &token,
        &format!("/api/v1/contacts/{contact}/consent"),
        json!({ "state": "opted_in", "source": "keyword", "evidence": "Texted START" }),
    )
    .await;
    let r = t.post(&token, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Welcome back!" })).await;
    assert_eq!(r.status(), 201);
    assert_eq!(t.dispatch_all().await, 1);

    let history = json(t.get(&token, &format!("/api/v1/contacts/{contact}/consent")).await).await;
    let kinds: Vec<&str> = history.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["opt_out", "opt_in"]);
}
both_backends!(opted_out_contacts_cannot_be_texted);

#[tokio::test]
async fn failed_sends_are_marked_with_the_reason() {
    let t = app(Db::Sqlite).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    // The simulated carrier never delivers to numbers ending in 0000.
    let conv = json(t.text_in(inbox, "+14155550000", "hi", None).await).await["conversation_id"].as_i64().unwrap();
    let m =
        json(t.post(&token, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Hello" })).await).await;
    assert_eq!(t.dispatch_all().await, 1);
    let id = m["id"].as_i64().unwrap();
    let failed = t
        .eventually(|| async {
            let msgs = json(t.get(&token, &format!("/api/v1/conversations/{conv}/messages")).await).await;
            msgs.as_array().unwrap().iter().find(|m| m["id"] == id && m["status"] == "undelivered").cloned()
        })
        .await;
    assert!(failed["error"].as_str().unwrap().contains("switched off"));
}

#[tokio::test]
async fn the_worker_sends_replies_without_being_driven() {
    let t = app(Db::Sqlite).workers().start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550111", "hi", None).await).await["conversation_id"].as_i64().unwrap();
    let m =
        json(t.post(&token, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Hello" })).await).await;
    let id = m["id"].as_i64().unwrap();
    t.eventually(|| async {
        let msgs = json(t.get(&token, &format!("/api/v1/conversations/{conv}/messages")).await).await;
        msgs.as_array().unwrap().iter().find(|m| m["id"] == id && m["status"] == "delivered").cloned()
    })
    .await;
}

#[tokio::test]
async fn sends_interrupted_mid_flight_are_never_sent_again() {
    let t = app(Db::Sqlite).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550111", "hi", None).await).await["conversation_id"].as_i64().unwrap();
    let m =
        json(t.post(&token, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Hello" })).await).await;
    // A worker claims the row and dies before recording the outcome; ten minutes pass.
    assert_eq!(t.services.store.claim_due("crashed-node", jiff::Timestamp::now(), 10).await.unwrap().len(), 1);
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(10);
    let expired =
        t.services.store.expire_stale_claims(later, textdesk::services::dispatcher::CLAIM_LEASE).await.unwrap();
    assert_eq!(expired, vec![m["id"].as_i64().unwrap()]);
    assert_eq!(t.dispatch_all().await, 0, "an interrupted send is not retried by itself");
    assert_eq!(t.services.carrier.accepted(), 0);
    let msgs = json(t.get(&token, &format!("/api/v1/conversations/{conv}/messages")).await).await;
    let msg = &msgs[1];
    assert_eq!(msg["status"], "failed");
    assert!(msg["error"].as_str().unwrap().contains("may or may not"));
    // A fresh claim is not expired.
    let m2 =
        json(t.post(&token, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Again" })).await).await;
    t.services.store.claim_due("live-node", jiff::Timestamp::now(), 10).await.unwrap();
    let expired = t
        .services
        .store
        .expire_stale_claims(jiff::Timestamp::now(), textdesk::services::dispatcher::CLAIM_LEASE)
        .await
        .unwrap();
    assert!(expired.is_empty(), "{m2}");
}
