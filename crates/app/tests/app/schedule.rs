//! Scheduled messages over HTTP: an agent picks a moment in the customer's
//! zone (or another), sees the list of what waits, edits, sends now or
//! cancels; quiet hours still apply at the chosen moment; a schedule survives a
//! restart and goes on time.

use crate::common;

use common::{Db, app, csrf_of, json};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use textdesk_core::Role;

/// A zone where it is now midday, and tomorrow's date there.
fn a_zone_at_noon() -> (String, TimeZone, Date) {
    let (name, tz) = common::zone_at_hour(12);
    let tomorrow = Timestamp::now().to_zoned(tz.clone()).date().tomorrow().unwrap();
    (name, tz, tomorrow)
}

fn at(date: Date, hour: i8, tz: &TimeZone) -> Timestamp {
    date.at(hour, 0, 0, 0).to_zoned(tz.clone()).unwrap().timestamp()
}

async fn conversation_in(t: &common::TestApp, token: &str, zone: &str) -> i64 {
    let inbox = t.simulator_inbox().await;
    let conv =
        json(t.text_in(inbox, "+14155550111", "Can you remind me tomorrow?", None).await).await["conversation_id"]
            .as_i64()
            .unwrap();
    t.move_contact_to(token, conv, zone).await;
    conv
}

async fn agents_schedule_edit_send_now_and_cancel(db: Db) {
    let t = app(db).start().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let (zone, tz, tomorrow) = a_zone_at_noon();
    let conv = conversation_in(&t, &token, &zone).await;
    let path = format!("/api/v1/conversations/{conv}/messages");

    // 10:00 tomorrow in the customer's zone, and a time written on Paris's
    // clock that is midday for the customer (a fixed Paris hour would fall in
    // their night at some hours of the day this test runs, and be deferred).
    let paris = TimeZone::get("Europe/Paris").unwrap();
    let their_noon = at(tomorrow, 12, &tz);
    let in_paris = their_noon.to_zoned(paris).datetime().strftime("%Y-%m-%dT%H:%M").to_string();
    let m1 = t
        .post(
            &token,
            &path,
            json!({ "body": "Reminder: cleaning at 11.", "send_at": format!("{tomorrow}T10:00"), "send_at_zone": "contact" }),
        )
        .await;
    assert_eq!(m1.status(), 201);
    let m1 = json(m1).await;
    assert_eq!(m1["status"], "scheduled");
    assert_eq!(m1["send_at"].as_str().unwrap().parse::<Timestamp>().unwrap(), at(tomorrow, 10, &tz));
    let m2 = json(
        t.post(&token, &path, json!({ "body": "Bonjour", "send_at": in_paris, "send_at_zone": "Europe/Paris" })).await,
    )
    .await;
    assert_eq!(m2["send_at"].as_str().unwrap().parse::<Timestamp>().unwrap(), their_noon);

    // The list shows both, soonest first; nothing goes now.
    let list = json(t.get(&token, &format!("/api/v1/conversations/{conv}/scheduled")).await).await;
    let ids: Vec<_> = list.as_array().unwrap().iter().map(|m| m["id"].clone()).collect();
    let mut expected = vec![(at(tomorrow, 10, &tz), m1["id"].clone()), (their_noon, m2["id"].clone())];
    expected.sort_by_key(|(t, _)| *t);
    assert_eq!(ids, expected.into_iter().map(|(_, id)| id).collect::<Vec<_>>());
    assert_eq!(t.dispatch_all().await, 0);

    // Edit the text and move it to 11:00 their time.
    let r = t
        .client
        .patch(t.url(&format!("/api/v1/messages/{}", m1["id"])))
        .bearer_auth(&token)
        .json(&json!({ "body": "Reminder: your cleaning is at 11:30 😊", "send_at": format!("{tomorrow}T11:00") }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let edited = json(r).await;
    assert_eq!(edited["encoding"], "ucs2", "counts follow the new text");
    assert_eq!(edited["send_at"].as_str().unwrap().parse::<Timestamp>().unwrap(), at(tomorrow, 11, &tz));

    // Send the Paris one now: it is midday for the customer, so it goes.
    let r = t.post(&token, &format!("/api/v1/messages/{}/send-now", m2["id"]), json!({})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["status"], "queued");
    assert_eq!(t.dispatch_all().await, 1);
    // Once sent it can no longer be changed.
    let r = t.post(&token, &format!("/api/v1/messages/{}/send-now", m2["id"]), json!({})).await;
    assert_eq!(r.status(), 409);

    // Cancel the other: it never goes, and the timeline says who cancelled what.
    let del = |id: &serde_json::Value| t.client.delete(t.url(&format!("/api/v1/messages/{id}"))).bearer_auth(&token);
    assert_eq!(del(&m1["id"]).send().await.unwrap().status(), 204);
    assert_eq!(del(&m1["id"]).send().await.unwrap().status(), 404);
    assert!(json(t.get(&token, &format!("/api/v1/conversations/{conv}/scheduled")).await).await == json!([]));
    let r = t.services.dispatch_at("test", 10, at(tomorrow, 12, &tz)).await.unwrap();
    assert_eq!(r.claimed, 0);
    let timeline = json(t.get(&token, &format!("/api/v1/conversations/{conv}/timeline")).await).await;
    let cancelled = timeline
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "schedule_changed" && e["data"]["action"] == "cancelled")
        .expect("a cancel event");
    assert!(cancelled["data"]["body"].as_str().unwrap().contains("11:30"));
    assert!(timeline.as_array().unwrap().iter().any(|e| e["kind"] == "scheduled"));
}
both_backends!(agents_schedule_edit_send_now_and_cancel);

async fn bad_schedules_are_refused_clearly(db: Db) {
    let t = app(db).start().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let (zone, _, _) = a_zone_at_noon();
    let conv = conversation_in(&t, &token, &zone).await;
    let path = format!("/api/v1/conversations/{conv}/messages");
    for (send_at, zone, words) in [
        ("2020-01-01T09:00", "contact", "already passed"),
        ("next tuesday", "contact", "not a time"),
        ("2099-01-01T09:00", "contact", "a year ahead"),
        ("2030-01-01T09:00", "Mars/Olympus", "not a time zone"),
    ] {
        let r = t.post(&token, &path, json!({ "body": "Hi", "send_at": send_at, "send_at_zone": zone })).await;
        assert_eq!(r.status(), 422, "{send_at} {zone}");
        let p = json(r).await;
        assert!(p["detail"].as_str().unwrap().contains(words), "{p}");
    }
    let r = t.post(&token, &path, json!({ "body": "Hi", "kind": "campaign" })).await;
    assert_eq!(r.status(), 422);
    assert_eq!(t.post(&token, "/api/v1/messages/999999/send-now", json!({})).await.status(), 404);
    // Nothing was stored by any of it.
    let msgs = json(t.get(&token, &path).await).await;
    assert_eq!(msgs.as_array().unwrap().len(), 1);
}
both_backends!(bad_schedules_are_refused_clearly);

async fn a_time_in_the_customers_night_waits_for_their_morning(db: Db) {
    let t = app(db).start().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let (zone, tz, tomorrow) = a_zone_at_noon();
    let conv = conversation_in(&t, &token, &zone).await;
    // 03:00 their time is quiet hours, and no live exchange then: 08:00 instead.
    let m = json(
        t.post(
            &token,
            &format!("/api/v1/conversations/{conv}/messages"),
            json!({ "body": "Early bird!", "send_at": format!("{tomorrow}T03:00") }),
        )
        .await,
    )
    .await;
    assert_eq!(m["send_at"].as_str().unwrap().parse::<Timestamp>().unwrap(), at(tomorrow, 8, &tz));
}
both_backends!(a_time_in_the_customers_night_waits_for_their_morning);

async fn notifications_need_an_opt_in(db: Db) {
    let t = app(db).start().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let (zone, _, _) = a_zone_at_noon();
    let conv = conversation_in(&t, &token, &zone).await;
    let path = format!("/api/v1/conversations/{conv}/messages");
    let r = t.post(&token, &path, json!({ "body": "Your order shipped", "kind": "notification" })).await;
    assert_eq!(r.status(), 409);
    assert_eq!(json(r).await["reason"], "no_opt_in");
    let c = json(t.get(&token, &format!("/api/v1/conversations/{conv}")).await).await;
    let r = t
        .post(
            &token,
            &format!("/api/v1/contacts/{}/consent", c["contact_id"]),
            json!({ "state": "opted_in", "source": "web_form", "evidence": "Signed the form at the front desk" }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = t.post(&token, &path, json!({ "body": "Your order shipped", "kind": "notification" })).await;
    assert_eq!(r.status(), 201);
}
both_backends!(notifications_need_an_opt_in);

#[tokio::test]
async fn a_schedule_survives_a_restart_and_goes_on_time() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("keep.db").display());
    let u1 = url.clone();
    let t = app(Db::Sqlite).config(move |c| c.database_url = u1).start().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let (zone, tz, tomorrow) = a_zone_at_noon();
    let conv = conversation_in(&t, &token, &zone).await;
    let due = at(tomorrow, 9, &tz);
    let m = t
        .post(
            &token,
            &format!("/api/v1/conversations/{conv}/messages"),
            json!({ "body": "Your appointment is today at 2", "send_at": due.to_string() }),
        )
        .await;
    assert_eq!(m.status(), 201);
    t.services.store.close().await;
    drop(t);

    let u2 = url.clone();
    let t2 = app(Db::Sqlite).config(move |c| c.database_url = u2).start().await;
    let early = t2.services.dispatch_at("after-restart", 10, due - SignedDuration::from_mins(1)).await.unwrap();
    assert_eq!(early.claimed, 0, "not a minute early");
    let r = t2.services.dispatch_at("after-restart", 10, due).await.unwrap();
    assert_eq!((r.claimed, r.sent), (1, 1));
    assert_eq!(t2.services.carrier.accepted(), 1);
}

#[tokio::test]
async fn the_web_composer_sends_later_and_the_thread_offers_the_changes() {
    let t = app(Db::Sqlite).start().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let (zone, tz, tomorrow) = a_zone_at_noon();
    let conv = conversation_in(&t, &token, &zone).await;
    let browser = t.browser("dana@example.com").await;
    let page = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Send later"));
    assert!(page.contains(&format!("their time ({zone})")));
    let csrf = csrf_of(&page);
    let r = browser
        .post(t.url(&format!("/conversations/{conv}/reply")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("body", "See you tomorrow!"),
            ("send_at", &format!("{tomorrow}T10:00")),
            ("send_at_zone", "contact"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Scheduled: goes out at 10:00 AM their time"), "{page}");
    assert!(page.contains("Send now") && page.contains("Cancel"));
    let waiting = json(t.get(&token, &format!("/api/v1/conversations/{conv}/scheduled")).await).await;
    let id = waiting[0]["id"].as_i64().unwrap();
    assert_eq!(waiting[0]["send_at"].as_str().unwrap().parse::<Timestamp>().unwrap(), at(tomorrow, 10, &tz));

    // A time already gone is refused on the page, and the draft is kept.
    let r = browser
        .post(t.url(&format!("/conversations/{conv}/reply")))
        .form(&[("csrf", csrf.as_str()), ("body", "Too late"), ("send_at", "2020-01-01T10:00")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("already passed") && html.contains("Too late"));

    let r = browser
        .post(t.url(&format!("/conversations/{conv}/waiting/{id}")))
        .form(&[("csrf", csrf.as_str()), ("action", "cancel")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(json(t.get(&token, &format!("/api/v1/conversations/{conv}/scheduled")).await).await, json!([]));
    let page = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("cancelled a scheduled message"));
}
