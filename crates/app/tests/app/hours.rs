//! Business hours over HTTP: a customer who writes while the inbox is closed
//! gets one reply naming the next opening in their own zone (never for a
//! keyword); an open conversation left waiting gets one holding message,
//! counted in business time; admins set all of it through the API.

use crate::common;

use common::{Db, app, json, zone_at_hour};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use textdesk_core::Role;

async fn patch_inbox(t: &common::TestApp, token: &str, inbox: i64, body: Value) -> reqwest::Response {
    t.client.patch(t.url(&format!("/api/v1/inboxes/{inbox}"))).bearer_auth(token).json(&body).send().await.unwrap()
}

async fn thread(t: &common::TestApp, token: &str, conv: i64) -> Vec<Value> {
    json(t.get(token, &format!("/api/v1/conversations/{conv}/messages")).await).await.as_array().unwrap().clone()
}

fn automatic(msgs: &[Value]) -> Vec<String> {
    msgs.iter()
        .filter(|m| m["direction"] == "outbound" && m["author_id"].is_null())
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect()
}

/// Closed now: open 09:00-17:00 every day in a zone where it is 02:xx.
fn closed_now() -> (Value, Timestamp) {
    let (zone, tz) = zone_at_hour(2);
    let days: serde_json::Map<String, Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| (d.to_string(), json!(["09:00-17:00"])))
        .collect();
    let opening = Timestamp::now().to_zoned(tz.clone()).date().at(9, 0, 0, 0).to_zoned(tz).unwrap().timestamp();
    (json!({ "zone": zone, "weekly": days }), opening)
}

async fn a_closed_inbox_answers_once_with_the_opening_in_the_customers_zone(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let inbox = t.simulator_inbox().await;
    let (hours, opening) = closed_now();
    assert_eq!(patch_inbox(&t, &admin, inbox, json!({ "settings": { "hours": hours } })).await.status(), 200);

    // A New York number: the promise is in Eastern time.
    let r = json(t.text_in(inbox, "+12125550111", "Do you have any openings this week?", None).await).await;
    let conv = r["conversation_id"].as_i64().unwrap();
    assert!(automatic(&thread(&t, &admin, conv).await).is_empty(), "the engine answers, not the webhook");
    assert!(t.services.run_automations().await.unwrap() > 0);
    let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
    let local = opening.to_zoned(ny.clone());
    let day = if local.date() == Timestamp::now().to_zoned(ny).date() { "today" } else { "tomorrow" };
    let promise = format!("{} {} {day}", local.strftime("%-I:%M %p"), local.strftime("%Z"));
    let replies = automatic(&thread(&t, &admin, conv).await);
    assert_eq!(replies, vec![format!("Hi, thanks for your message. Someone from our team will reply by {promise}.")]);
    // It goes now: the customer just wrote, whatever the hour.
    assert_eq!(t.dispatch_all().await, 1);

    // More texts in the same closed period, and the keywords: no second reply.
    t.text_in(inbox, "+12125550111", "Hello?", None).await;
    t.text_in(inbox, "+12125550111", "HELP", None).await;
    t.services.run_automations().await.unwrap();
    let replies = automatic(&thread(&t, &admin, conv).await);
    assert_eq!(replies.len(), 2, "the off-hours reply once, then the help text: {replies:?}");
    assert!(replies[1].contains("STOP"), "the second is the help text");

    // A customer we know by name is greeted by it.
    let r = t.post(&admin, "/api/v1/contacts", json!({ "name": "Karen Smith", "address": "+12125550133" })).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let conv =
        json(t.text_in(inbox, "+12125550133", "Are you open?", None).await).await["conversation_id"].as_i64().unwrap();
    t.services.run_automations().await.unwrap();
    let replies = automatic(&thread(&t, &admin, conv).await);
    assert!(replies[0].starts_with("Hi Karen, thanks for your message."), "{replies:?}");
}
both_backends!(a_closed_inbox_answers_once_with_the_opening_in_the_customers_zone);

async fn stop_gets_only_its_confirmation_and_opted_out_customers_get_nothing(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let inbox = t.simulator_inbox().await;
    let (hours, _) = closed_now();
    let custom = "Harbor Dental is closed. We reopen {next_open}.";
    let r = patch_inbox(
        &t,
        &admin,
        inbox,
        json!({ "settings": { "hours": hours, "off_hours_reply": { "text": custom } } }),
    );
    assert_eq!(r.await.status(), 200);
    let conv = json(t.text_in(inbox, "+12125550111", "STOP", None).await).await["conversation_id"].as_i64().unwrap();
    t.services.run_automations().await.unwrap();
    let replies = automatic(&thread(&t, &admin, conv).await);
    assert_eq!(replies.len(), 1);
    assert!(replies[0].contains("unsubscribed"), "only the confirmation: {replies:?}");
    t.text_in(inbox, "+12125550111", "why are you closed", None).await;
    t.services.run_automations().await.unwrap();
    assert_eq!(automatic(&thread(&t, &admin, conv).await).len(), 1, "nothing to an opted-out customer");

    // Another customer gets the inbox's own text.
    let conv = json(t.text_in(inbox, "+12125550122", "hi", None).await).await["conversation_id"].as_i64().unwrap();
    t.services.run_automations().await.unwrap();
    let replies = automatic(&thread(&t, &admin, conv).await);
    assert!(replies[0].starts_with("Harbor Dental is closed. We reopen "), "{replies:?}");
    assert!(!replies[0].contains('{'));
}
both_backends!(stop_gets_only_its_confirmation_and_opted_out_customers_get_nothing);

async fn a_waiting_customer_gets_one_holding_message_in_business_time(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let inbox = t.simulator_inbox().await;
    let r = patch_inbox(&t, &admin, inbox, json!({ "settings": { "acknowledge": { "after_minutes": 10 } } })).await;
    assert_eq!(r.status(), 200);
    let conv = json(t.text_in(inbox, "+12125550111", "My crown fell out", None).await).await["conversation_id"]
        .as_i64()
        .unwrap();
    let now = Timestamp::now();
    let mins = |m: i64| now + SignedDuration::from_mins(m);
    assert_eq!(t.services.run_timed_automations(mins(5)).await.unwrap(), 0, "not yet");
    assert_eq!(t.services.run_timed_automations(mins(11)).await.unwrap(), 1);
    assert_eq!(t.services.run_timed_automations(mins(20)).await.unwrap(), 0, "once per wait");
    t.text_in(inbox, "+12125550111", "Hello??", None).await;
    assert_eq!(t.services.run_timed_automations(mins(30)).await.unwrap(), 0, "still the same wait");
    let replies = automatic(&thread(&t, &admin, conv).await);
    assert_eq!(replies.len(), 1);
    assert!(replies[0].contains("We have your message"));

    // A person answers; the next question starts a new wait.
    let r = t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Come in at 3" })).await;
    assert_eq!(r.status(), 201);
    t.text_in(inbox, "+12125550111", "Can I come at 4 instead?", None).await;
    assert_eq!(t.services.run_timed_automations(Timestamp::now() + SignedDuration::from_mins(11)).await.unwrap(), 1);
}
both_backends!(a_waiting_customer_gets_one_holding_message_in_business_time);

#[tokio::test]
async fn waiting_while_closed_does_not_count() {
    let t = app(Db::Sqlite).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let inbox = t.simulator_inbox().await;
    let (hours, opening) = closed_now();
    let settings =
        json!({ "hours": hours, "off_hours_reply": { "enabled": false }, "acknowledge": { "after_minutes": 10 } });
    assert_eq!(patch_inbox(&t, &admin, inbox, json!({ "settings": settings })).await.status(), 200);
    let conv =
        json(t.text_in(inbox, "+12125550111", "Anyone there?", None).await).await["conversation_id"].as_i64().unwrap();
    t.services.run_automations().await.unwrap();
    assert!(automatic(&thread(&t, &admin, conv).await).is_empty(), "the off-hours reply is switched off");
    // Hours of night are not business time; five minutes after opening is not ten.
    assert_eq!(t.services.run_timed_automations(opening - SignedDuration::from_mins(1)).await.unwrap(), 0);
    assert_eq!(t.services.run_timed_automations(opening + SignedDuration::from_mins(5)).await.unwrap(), 0);
    assert_eq!(t.services.run_timed_automations(opening + SignedDuration::from_mins(10)).await.unwrap(), 1);
}

async fn admins_set_hours_and_mistakes_are_named(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let inbox = t.simulator_inbox().await;
    let good = json!({ "settings": { "hours": { "zone": "America/Los_Angeles", "weekly": { "mon": ["08:00-12:00", "13:00-17:00"] }, "holidays": ["2026-12-25"] }, "price_per_segment": 0.0079 } });
    assert_eq!(patch_inbox(&t, &agent, inbox, good.clone()).await.status(), 403);
    let r = patch_inbox(&t, &admin, inbox, good).await;
    assert_eq!(r.status(), 200);
    let out = json(r).await;
    assert_eq!(out["settings"]["hours"]["weekly"]["mon"][1], "13:00-17:00");
    for (settings, words) in [
        (json!({ "hours": { "weekly": { "mon": ["9-5"] } } }), "mon"),
        (json!({ "hours": { "weekly": { "funday": ["09:00-17:00"] } } }), "funday"),
        (json!({ "hours": { "holidays": ["Christmas"] } }), "Christmas"),
        (json!({ "hours": { "zone": "Atlantis/Main" } }), "zone"),
        (json!({ "acknowledge": { "after_minutes": 0 } }), "after_minutes"),
        (json!({ "off_hours": {} }), "not an inbox setting"),
        (json!({ "consent": { "help_reply": "" } }), "help_reply"),
        (json!({ "price_per_segment": -1 }), "price_per_segment"),
    ] {
        let r = patch_inbox(&t, &admin, inbox, json!({ "settings": settings })).await;
        assert_eq!(r.status(), 422, "{settings}");
        let p = json(r).await;
        assert!(p["detail"].as_str().unwrap().contains(words), "{p}");
    }
    // Nothing bad was stored; null removes a setting and keeps the others.
    let r = patch_inbox(&t, &admin, inbox, json!({ "settings": { "price_per_segment": null } })).await;
    let out = json(r).await;
    assert!(out["settings"].get("price_per_segment").is_none());
    assert_eq!(out["settings"]["hours"]["holidays"][0], "2026-12-25");
    assert_eq!(patch_inbox(&t, &admin, 99999, json!({ "name": "X" })).await.status(), 404);
}
both_backends!(admins_set_hours_and_mistakes_are_named);

#[tokio::test]
async fn canned_responses_name_the_next_opening_while_closed() {
    let t = app(Db::Sqlite).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let inbox = t.simulator_inbox().await;
    let canned = json!({ "shortcut": "hours", "title": "Hours", "body": "We reopen {next_open|soon}." });
    let id = json(t.post(&admin, "/api/v1/canned-responses", canned).await).await["id"].as_i64().unwrap();
    let conv = json(t.text_in(inbox, "+12125550111", "When are you open?", None).await).await["conversation_id"]
        .as_i64()
        .unwrap();
    let render = || async {
        json(t.post(&admin, &format!("/api/v1/conversations/{conv}/canned-responses/{id}/render"), json!({})).await)
            .await
    };
    // Open now (no hours set): the fallback.
    assert_eq!(render().await["text"], "We reopen soon.");
    let (hours, opening) = closed_now();
    assert_eq!(patch_inbox(&t, &admin, inbox, json!({ "settings": { "hours": hours } })).await.status(), 200);
    let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
    let local = opening.to_zoned(ny);
    let text = render().await["text"].as_str().unwrap().to_owned();
    assert!(
        text.starts_with(&format!("We reopen {} {} ", local.strftime("%-I:%M %p"), local.strftime("%Z"))),
        "{text}"
    );
}
