//! The limits of docs/limits.md that no other module checks: pagination caps
//! and the per-address budget of the public endpoints. (Body size, message
//! length: `api::bad_requests_get_clear_problems_and_change_nothing`; media
//! size: `providers`, `contact`; media type: `media::html_never_passes_as_a_picture`.)

use serde_json::json;
use textdesk_core::Role;

use crate::common::{Db, app, json};

async fn pages_are_capped(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("pat@example.com", Role::Agent).await;
    for i in 0..205 {
        let r = t.text_in(inbox, &format!("+1415555{:04}", 3000 + i), "hello", None).await;
        assert!(r.status().is_success(), "{}", r.status());
    }
    let page = json(t.get(&token, "/api/v1/conversations?limit=100000").await).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 200, "a list page holds at most 200 conversations");
    assert!(page["next_cursor"].is_string(), "and says where the rest is: {}", page["next_cursor"]);
    let contacts = json(t.get(&token, "/api/v1/contacts?limit=100000").await).await;
    assert_eq!(contacts.as_array().unwrap().len(), 200, "a page holds at most 200 contacts");
    let r = t.get(&token, "/api/v1/conversations?limit=-5").await;
    assert!(r.status() == 200 || r.status() == 400 || r.status() == 422, "{}", r.status());
}
both_backends!(pages_are_capped);

#[tokio::test]
async fn public_endpoints_have_a_budget_per_address() {
    let t = app(Db::Sqlite).config(|c| c.public_requests_per_minute = 5).start().await;
    let inbox = t.simulator_inbox().await;
    for _ in 0..5 {
        assert_eq!(t.client.get(t.url("/healthz")).send().await.unwrap().status(), 200);
    }
    let refused = t.client.get(t.url("/healthz")).send().await.unwrap();
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(refused.headers()["content-type"], "application/problem+json");
    let p = json(refused).await;
    assert!(p["detail"].as_str().unwrap().starts_with("Too many requests from your network"), "{p}");

    // The budget is the address's, across every public endpoint; a person sees a page.
    let page = t.client.get(t.url("/login")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), 429);
    assert!(page.text().await.unwrap().contains("<h1>Too many requests</h1>"));
    let texted = t.text_in(inbox, "+14155550111", "hello", None).await;
    assert_eq!(texted.status(), 429, "the simulator counts too");

    // Signed-in work and webhooks are not public traffic.
    let token = t.token_for("pat@example.com", Role::Agent).await;
    assert_eq!(t.get(&token, "/api/v1/conversations").await.status(), 200);
    let hook = t.client.post(t.url("/webhooks/twilio/1/inbound")).form(&json!({ "Body": "x" })).send().await.unwrap();
    assert_ne!(hook.status(), 429, "webhooks are verified by signature, not counted");
}
