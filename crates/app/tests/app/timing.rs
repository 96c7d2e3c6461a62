//! Quiet hours over HTTP: a reply written in the customer's night waits for
//! their morning, survives in the outbox, and is checked again when it is due.

use crate::common;

use common::{Db, app, json};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use textdesk_core::Role;

/// A zone where it is now between 02:00 and 03:00, so "now" is in quiet hours
/// there, and its 08:00 today, 5 to 6 hours away.
fn a_zone_at_night() -> (String, Timestamp) {
    let (name, tz) = common::zone_at_hour(2);
    let morning = Timestamp::now().to_zoned(tz.clone()).date().at(8, 0, 0, 0).to_zoned(tz).unwrap().timestamp();
    (name, morning)
}

async fn night_replies_wait_for_the_customers_morning(db: Db) {
    // No live exchange: the customer's text is not a reason to answer at night.
    let t = app(db).config(|c| c.live_exchange_minutes = 0).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550111", "Can I book a cleaning?", None).await).await["conversation_id"]
        .as_i64()
        .unwrap();
    let (zone, morning) = a_zone_at_night();
    t.move_contact_to(&token, conv, &zone).await;

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let r = t
        .post(&token, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Yes! Tuesday at 9?" }))
        .await;
    assert_eq!(r.status(), 201);
    let m = json(r).await;
    assert_eq!(m["status"], "scheduled");
    assert_eq!(m["send_at"].as_str().unwrap().parse::<Timestamp>().unwrap(), morning);

    // Nothing goes now, nor a minute before their 8:00.
    assert_eq!(t.dispatch_all().await, 0);
    let r = t.services.dispatch_at("test", 10, morning - SignedDuration::from_mins(1)).await.unwrap();
    assert_eq!(r.claimed, 0);
    // At their 8:00 it goes.
    let r = t.services.dispatch_at("test", 10, morning).await.unwrap();
    assert_eq!((r.claimed, r.sent), (1, 1));
    assert_eq!(t.services.carrier.accepted(), 1);

    // The agent saw when it would go, in the customer's time.
    t.user("sam@example.com", Role::Agent).await;
    let browser = t.browser("sam@example.com").await;
    let html = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Their local time"));
    assert!(html.contains(&zone));
}
both_backends!(night_replies_wait_for_the_customers_morning);

async fn a_stop_while_a_reply_waits_cancels_it(db: Db) {
    let t = app(db).config(|c| c.live_exchange_minutes = 0).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550111", "Hello?", None).await).await["conversation_id"].as_i64().unwrap();
    let (zone, morning) = a_zone_at_night();
    t.move_contact_to(&token, conv, &zone).await;
    let m = json(
        t.post(&token, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Good morning!" })).await,
    )
    .await;
    assert_eq!(m["status"], "scheduled");

    // Overnight the customer texts STOP: the confirmation goes at once, whatever the hour.
    t.text_in(inbox, "+14155550111", "STOP", None).await;
    assert_eq!(t.dispatch_all().await, 1);
    // In the morning the waiting reply is checked again, and never sent.
    let r = t.services.dispatch_at("test", 10, morning).await.unwrap();
    assert_eq!((r.claimed, r.sent, r.blocked), (1, 0, 1));
    assert_eq!(t.services.carrier.accepted(), 1, "only the confirmation");
    let msgs = json(t.get(&token, &format!("/api/v1/conversations/{conv}/messages")).await).await;
    let reply = msgs.as_array().unwrap().iter().find(|x| x["id"] == m["id"]).unwrap();
    assert_eq!(reply["status"], "blocked");
    assert!(reply["error"].as_str().unwrap().contains("opted out"));
}
both_backends!(a_stop_while_a_reply_waits_cancels_it);

#[tokio::test]
async fn a_live_exchange_is_answered_at_once_even_at_night() {
    let t = app(Db::Sqlite).start().await; // live exchange: 30 minutes
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550111", "Are you still open?", None).await).await["conversation_id"]
        .as_i64()
        .unwrap();
    let (zone, _) = a_zone_at_night();
    t.move_contact_to(&token, conv, &zone).await;
    let m = json(
        t.post(
            &token,
            &format!("/api/v1/conversations/{conv}/messages"),
            json!({ "body": "We open at 8, see you then!" }),
        )
        .await,
    )
    .await;
    assert_eq!(m["status"], "queued");
    assert!(m["send_at"].is_null());
    assert_eq!(t.dispatch_all().await, 1);
}

#[tokio::test]
async fn a_deferred_reply_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("keep.db").display());
    let (zone, morning) = a_zone_at_night();
    let u1 = url.clone();
    let t = app(Db::Sqlite)
        .config(move |c| {
            c.live_exchange_minutes = 0;
            c.database_url = u1;
        })
        .start()
        .await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550111", "Hi", None).await).await["conversation_id"].as_i64().unwrap();
    t.move_contact_to(&token, conv, &zone).await;
    let m =
        json(t.post(&token, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Morning!" })).await)
            .await;
    assert_eq!(m["status"], "scheduled");
    t.services.store.close().await;
    drop(t);

    // A new process on the same database.
    let u2 = url.clone();
    let t2 = app(Db::Sqlite).config(move |c| c.database_url = u2).start().await;
    let r = t2.services.dispatch_at("after-restart", 10, morning).await.unwrap();
    assert_eq!((r.claimed, r.sent), (1, 1));
}
