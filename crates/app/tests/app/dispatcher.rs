//! The outbox and the gate: racing dispatchers send each row once, and an
//! opted-out contact cannot be texted.

use crate::common;

use std::sync::atomic::Ordering;

use common::{Db, app, json};
use serde_json::json;
use textdesk::Services;
use textdesk_channels::twilio::FakeTwilio;
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
    // A worker stops at its first empty claim, which on a busy machine can come while a row is paced for
    // its sender; what is left is drained afterwards, and must not have been sent by anyone yet.
    let mut left = 0;
    for _ in 0..50 {
        left += run(t.services.clone(), "w4").await;
        if a + b + c + left >= expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(a + b + c + left, expected, "every row sent exactly once across workers");
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

async fn sends_interrupted_mid_flight_are_never_sent_again(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550111", "hi", None).await).await["conversation_id"].as_i64().unwrap();
    let m =
        json(t.post(&token, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Hello" })).await).await;
    let lease = jiff::SignedDuration::from_mins(2);
    // A worker claims the row and dies before recording the outcome; ten minutes pass.
    assert_eq!(t.services.store.claim_due("crashed-node", jiff::Timestamp::now(), 10).await.unwrap().len(), 1);
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(10);
    // The simulated carrier cannot be asked what it received: a person decides.
    assert_eq!(t.services.settle_interrupted(later, lease).await.unwrap(), 1);
    assert_eq!(t.dispatch_all().await, 0, "an interrupted send is not retried by itself");
    assert_eq!(t.services.carrier.accepted(), 0);
    let msgs = json(t.get(&token, &format!("/api/v1/conversations/{conv}/messages")).await).await;
    let msg = msgs.as_array().unwrap().iter().find(|x| x["id"] == m["id"]).unwrap();
    assert_eq!(msg["status"], "failed");
    assert!(msg["error"].as_str().unwrap().contains("may or may not"), "{msg}");
    // A fresh claim is not settled.
    let m2 =
        json(t.post(&token, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Again" })).await).await;
    t.services.store.claim_due("live-node", jiff::Timestamp::now(), 10).await.unwrap();
    assert_eq!(t.services.settle_interrupted(jiff::Timestamp::now(), lease).await.unwrap(), 0, "{m2}");
    // The agent, having checked, retries the interrupted one: it goes once.
    let r = t.post(&token, &format!("/api/v1/messages/{}/retry", m["id"]), json!({})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["status"], "queued");
    assert_eq!(t.dispatch_all().await, 1);
    assert_eq!(t.services.carrier.accepted(), 1);
    // A message that went out cannot be retried.
    let r = t.post(&token, &format!("/api/v1/messages/{}/retry", m["id"]), json!({})).await;
    assert_eq!(r.status(), 409);
}
both_backends!(sends_interrupted_mid_flight_are_never_sent_again);

async fn each_sender_keeps_its_own_pace(db: Db) {
    let t = app(db).start().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    // One number limited to a segment a second, one not limited.
    let slow = t.inbox_with("Slow line", "+14155550100", json!({ "rate_limit": { "segments_per_second": 1 } })).await;
    let fast = t.inbox_with("Fast line", "+14155550199", json!({})).await;
    let mut backlog = Vec::new();
    let mut convs = Vec::new();
    for (inbox, from) in [(slow, "+14155550111"), (fast, "+14155550122")] {
        let conv = json(t.text_in(inbox, from, "hi", None).await).await["conversation_id"].as_i64().unwrap();
        convs.push(conv);
        for i in 0..4 {
            let body = json!({ "body": format!("Update {i}") });
            let m = json(t.post(&token, &format!("/api/v1/conversations/{conv}/messages"), body).await).await;
            backlog.push((inbox, m["id"].as_i64().unwrap()));
        }
    }
    let start = jiff::Timestamp::now();
    let at = |ms: i64| start + jiff::SignedDuration::from_millis(ms);
    // The slow sender's backlog does not hold up the other sender.
    let r = t.services.dispatch_at("w", 50, at(0)).await.unwrap();
    assert_eq!(r.sent, 5, "one from the slow line, all four from the fast one: {r:?}");
    let r = t.services.dispatch_at("w", 50, at(500)).await.unwrap();
    assert_eq!(r.sent, 0, "too soon for the slow line");
    // The step says when the slow line is free: the dispatcher looks again then, not a poll later.
    let ms = |t: Option<jiff::Timestamp>| t.map(|t| t.as_millisecond());
    assert_eq!(ms(r.next_due), ms(Some(at(1000))), "{r:?}");
    assert_eq!(t.services.dispatch_at("w", 50, at(1000)).await.unwrap().sent, 1);
    assert_eq!(t.services.dispatch_at("w", 50, at(1500)).await.unwrap().sent, 0);
    assert_eq!(t.services.dispatch_at("w", 50, at(3000)).await.unwrap().sent, 1);
    assert_eq!(t.services.dispatch_at("w", 50, at(4000)).await.unwrap().sent, 1);
    for (_, id) in &backlog {
        let m = t.services.store.message(*id).await.unwrap();
        assert!(matches!(m.status.as_str(), "sent" | "delivered"), "message {id} went out: {:?}", m.status);
    }
    // A long message costs its segments: three segments hold the line for three seconds.
    let conv = convs[0];
    let long = "x".repeat(400);
    t.post(&token, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": long })).await;
    t.post(&token, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "after" })).await;
    assert_eq!(t.services.dispatch_at("w", 50, at(10_000)).await.unwrap().sent, 1);
    let r = t.services.dispatch_at("w", 50, at(12_000)).await.unwrap();
    assert_eq!((r.sent, ms(r.next_due)), (0, ms(Some(at(13_000)))), "{r:?}");
    assert_eq!(t.services.dispatch_at("w", 50, at(13_000)).await.unwrap().sent, 1);
}
both_backends!(each_sender_keeps_its_own_pace);

#[tokio::test]
async fn a_rate_limit_setting_is_checked() {
    let t = app(Db::Sqlite).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let inbox = t.simulator_inbox().await;
    for bad in [json!({ "segments_per_second": 0 }), json!({ "segments_per_second": "fast" }), json!(5)] {
        let r = t
            .client
            .patch(t.url(&format!("/api/v1/inboxes/{inbox}")))
            .bearer_auth(&admin)
            .json(&json!({ "settings": { "rate_limit": bad } }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{bad}");
        assert!(json(r).await["detail"].as_str().unwrap().contains("rate_limit"));
    }
}

async fn a_delivery_report_that_beats_the_send_record_is_kept(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550111", "hi", None).await).await["conversation_id"].as_i64().unwrap();
    let m =
        json(t.post(&token, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Hello" })).await).await;
    let row = t.services.store.claim_due("w", jiff::Timestamp::now(), 10).await.unwrap().remove(0);
    // The provider's callback arrives while its API answer is still on the way to us.
    let report = textdesk_channels::InboundEvent::Status {
        provider_id: "SMearly".into(),
        status: textdesk_core::DeliveryStatus::Delivered,
        error: None,
    };
    t.services.ingest(inbox, report).await.unwrap();
    t.services.store.mark_sent(row.outbox_id, &["SMearly".to_owned()], jiff::Timestamp::now()).await.unwrap();
    let msg = t.services.store.message(m["id"].as_i64().unwrap()).await.unwrap();
    assert_eq!(msg.status.as_str(), "delivered");
    assert_eq!(msg.provider_id.as_deref(), Some("SMearly"));
}
both_backends!(a_delivery_report_that_beats_the_send_record_is_kept);

/// A sender whose provider answers slowly holds up only itself: the running
/// dispatcher keeps another sender at its pace meanwhile, and the slow
/// sender's own replies still leave in the order they were written. (A step
/// that waited for all its sends held every sender to the slowest answer.)
async fn a_slow_provider_holds_up_only_its_own_sender(db: Db) {
    textdesk_channels::ensure_tls_provider();
    let t = app(db).workers().start().await;
    let token = t.token_for("admin@example.com", Role::Admin).await;
    let slow = FakeTwilio::start().await.unwrap();
    slow.set_latency(std::time::Duration::from_secs(3));
    let steady = FakeTwilio::start().await.unwrap();
    let mut convs = Vec::new();
    for (i, fake) in [&slow, &steady].into_iter().enumerate() {
        let sender = format!("+1415555{:04}", 100 + i);
        let inbox = t.paced_twilio_inbox(&token, fake, &sender, 1, &format!("+1415555{:04}", 200 + i)).await;
        let list = json(t.get(&token, &format!("/api/v1/conversations?inbox_id={}", inbox["id"])).await).await;
        convs.push(list["items"][0]["id"].as_i64().unwrap());
    }
    for (conv, replies) in [(convs[0], 3), (convs[1], 4)] {
        for k in 0..replies {
            let body = json!({ "body": format!("Reply {k}: yes, until six.") });
            assert_eq!(t.post(&token, &format!("/api/v1/conversations/{conv}/messages"), body).await.status(), 201);
        }
    }
    let replies = |fake: &FakeTwilio| -> Vec<(String, jiff::Timestamp)> {
        fake.sent_with_times()
            .into_iter()
            .filter(|(s, _)| s.body.starts_with("Reply "))
            .map(|(s, at)| (s.body, at))
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while replies(&steady).len() < 4 || replies(&slow).len() < 3 {
        assert!(std::time::Instant::now() < deadline, "steady {:?}, slow {:?}", replies(&steady), replies(&slow));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let steady_times: Vec<jiff::Timestamp> = replies(&steady).into_iter().map(|(_, at)| at).collect();
    let spread = steady_times[3].duration_since(steady_times[0]);
    // At one a second, four replies take three seconds; held to the slow
    // sender's three-second answers they took seven.
    assert!(
        spread >= jiff::SignedDuration::from_millis(2500) && spread < jiff::SignedDuration::from_secs(5),
        "the steady sender's four replies took {spread:#}: {steady_times:?}"
    );
    let order: Vec<String> = replies(&slow).into_iter().map(|(body, _)| body).collect();
    assert!(
        order.iter().enumerate().all(|(k, body)| body.starts_with(&format!("Reply {k}:"))),
        "the slow sender's replies left in the order written: {order:?}"
    );
}
both_backends!(a_slow_provider_holds_up_only_its_own_sender);
