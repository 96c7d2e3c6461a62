//! The missed-target sweep (issue 15): a customer still waiting past the
//! first-response or reply target is counted as a missed target, and queued
//! for review, while they wait, once across nodes; the late answer is then
//! measured but not counted as missed again, and a rebuild counts the same.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use textdesk_core::{Medium, Role};

use crate::common::{Db, TestApp, app, json};
use crate::reports::{at, reply, text_at};

fn mins(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

/// Missed targets and first responses measured from yesterday to today (UTC).
async fn figures(t: &TestApp, token: &str) -> (Option<f64>, Option<i64>) {
    let today = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let yesterday = today.yesterday().unwrap();
    let r = json(t.get(token, &format!("/api/v1/reports?period={yesterday}..{today}")).await).await;
    let kpi = |key: &str| r["kpis"].as_array().unwrap().iter().find(|k| k["key"] == key).unwrap().clone();
    (kpi("sla_breaches")["value"].as_f64(), kpi("first_response_business")["measured"].as_i64())
}

/// The conversations waiting in the review queue for a missed target.
async fn queued_for_missing(t: &TestApp, token: &str) -> Vec<i64> {
    let q: Value = json(t.get(token, "/api/v1/reviews?reason=sla_breach").await).await;
    let items = q.as_array().or(q["items"].as_array()).cloned().unwrap_or_default();
    let mut ids: Vec<i64> = items.iter().filter_map(|r| r["conversation_id"].as_i64()).collect();
    ids.sort_unstable();
    ids
}

async fn customers_still_waiting_past_a_target_count_once(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let sup = t.token_for("sue@example.com", Role::Supervisor).await;
    let settings = json!({ "time_zone": "UTC", "targets": { "first_response_minutes": 15, "reply_minutes": 10 } });
    let r = t.client.patch(t.url("/api/v1/account")).bearer_auth(&admin).json(&json!({ "settings": settings }));
    assert_eq!(r.send().await.unwrap().status(), 200);
    // The simulator's inbox is always open: business time is wall time.
    let inbox = t.simulator_inbox().await;
    let now = Timestamp::now();
    // Nobody answered for 40 minutes (target 15); a 5-minute wait (not late); an answered
    // customer who wrote again 30 minutes ago (reply target 10).
    let unanswered = text_at(&t, inbox, Medium::Sms, "+14155550301", now - mins(40)).await;
    let fresh = text_at(&t, inbox, Medium::Sms, "+14155550302", now - mins(5)).await;
    let again = text_at(&t, inbox, Medium::Sms, "+14155550303", now - mins(60)).await;
    at(&t, again, reply(), now - mins(58)).await;
    assert_eq!(text_at(&t, inbox, Medium::Sms, "+14155550303", now - mins(30)).await, again);
    t.services.run_reports().await.unwrap();
    assert_eq!(figures(&t, &sup).await, (Some(0.0), Some(1)), "nothing missed yet: only the answered one measured");

    // Two nodes sweep at once: each wait is counted by one of them.
    let (a, b) = tokio::join!(t.services.sweep_missed_targets(now), t.services.sweep_missed_targets(now));
    assert_eq!(a.unwrap() + b.unwrap(), 2);
    assert_eq!(t.services.sweep_missed_targets(now + mins(5)).await.unwrap(), 0, "a wait is counted once");
    assert_eq!(figures(&t, &sup).await.0, Some(2.0));
    assert!(t.services.breached(unanswered).await.unwrap() && t.services.breached(again).await.unwrap());
    assert!(!t.services.breached(fresh).await.unwrap());
    let mut both = vec![unanswered, again];
    both.sort_unstable();
    assert_eq!(queued_for_missing(&t, &sup).await, both, "queued for review while they wait");

    // The late answer is measured (40 minutes), not missed a second time.
    at(&t, unanswered, reply(), now).await;
    t.services.run_reports().await.unwrap();
    assert_eq!(figures(&t, &sup).await, (Some(2.0), Some(2)));
    assert_eq!(queued_for_missing(&t, &sup).await, both, "still one review each");

    // The sweep's finding is in the log: a rebuild counts the same.
    t.services.rebuild_reports(&mut |_| {}).await.unwrap();
    assert_eq!(figures(&t, &sup).await, (Some(2.0), Some(2)));
}
both_backends!(customers_still_waiting_past_a_target_count_once);
