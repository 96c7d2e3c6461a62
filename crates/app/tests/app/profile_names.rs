//! Customers named from their provider's profile where its webhooks carry no
//! name (LINE's `GET /v2/bot/profile/{userId}`, Messenger's Graph API user
//! profile), through the local fakes, on both backends: the message is
//! stored whatever the profile call does, a failed call is tried again on the
//! customer's next message, a customer with no profile stays unnamed, and an
//! agent's name is never replaced (nor asked about again).

use crate::common;

use common::*;
use serde_json::{Value, json};
use textdesk_channels::line::FakeLine;
use textdesk_channels::messenger::FakeMessenger;
use textdesk_core::Role;

const LINE_USER: &str = "U4af4980629c8f5d8a2e0e1f3b6c0d9a1";
const LINE_STRANGER: &str = "U0b2c3d4e5f60718293a4b5c6d7e8f901";
const PSID: &str = "6723950281032171";

async fn contact_of(t: &TestApp, token: &str, conv: i64) -> Value {
    let c = json(t.get(token, &format!("/api/v1/conversations/{conv}")).await).await;
    json(t.get(token, &format!("/api/v1/contacts/{}", c["contact_id"])).await).await
}

/// The contact's name once it is `want`.
async fn named(t: &TestApp, token: &str, conv: i64, want: &str) {
    t.eventually(|| async { (contact_of(t, token, conv).await["name"] == want).then_some(()) }).await;
}

/// The contact's name a moment after the provider was asked `n` times.
async fn name_after_asked(t: &TestApp, token: &str, conv: i64, asked: impl Fn() -> usize, n: usize) -> String {
    t.eventually(|| async { (asked() >= n).then_some(()) }).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    contact_of(t, token, conv).await["name"].as_str().unwrap_or_default().to_owned()
}

async fn a_line_customer_is_named_from_their_profile(db: Db) {
    let fake = FakeLine::start().await.unwrap();
    let t = app(db).start().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let (inbox, url) = crate::line::line_inbox(&t, &fake).await;
    let say = |user: &str, text: &str| {
        let body = FakeLine::payload(vec![fake.message_event(user, json!({ "type": "text", "text": text }))]);
        let (fake, url) = (&fake, &url);
        async move { fake.post_webhook(url, &body).await }
    };

    // LINE is down for the profile: the message is stored all the same, the contact left unnamed.
    fake.fail_profiles(1);
    assert_eq!(say(LINE_USER, "Is Saturday free?").await.unwrap().status(), 200);
    let conv = conversations_of(&t, &agent, inbox).await[0]["id"].as_i64().unwrap();
    assert_eq!(messages_in(&t, &agent, conv).await[0]["body"], "Is Saturday free?");
    assert_eq!(name_after_asked(&t, &agent, conv, || fake.profile_requests(), 1).await, "");

    // Their next message asks again, and the name LINE shows is theirs in the inbox.
    fake.set_profile(LINE_USER, "Kerry Tanaka");
    assert_eq!(say(LINE_USER, "Or Sunday?").await.unwrap().status(), 200);
    named(&t, &agent, conv, "Kerry Tanaka").await;
    assert_eq!(say(LINE_USER, "Thanks").await.unwrap().status(), 200);
    assert_eq!(messages_in(&t, &agent, conv).await.len(), 3);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(fake.profile_requests(), 2, "a named customer is not asked about again");

    // Someone who never added the account as a friend has no profile (404): stored, unnamed.
    assert_eq!(say(LINE_STRANGER, "Hello?").await.unwrap().status(), 200);
    let convs = conversations_of(&t, &agent, inbox).await;
    let other = convs.iter().map(|c| c["id"].as_i64().unwrap()).find(|id| *id != conv).unwrap();
    assert_eq!(name_after_asked(&t, &agent, other, || fake.profile_requests(), 3).await, "");
}
both_backends!(a_line_customer_is_named_from_their_profile);

async fn a_messenger_customer_is_named_from_their_profile_and_an_agents_name_wins(db: Db) {
    let fake = FakeMessenger::start().await.unwrap();
    let t = app(db).start().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let (inbox, url) = crate::messenger::messenger_inbox(&t, &fake).await;
    let say = |text: &str| {
        let body =
            fake.payload(vec![fake.event(PSID, json!({ "message": { "mid": FakeMessenger::mid(), "text": text } }))]);
        let (fake, url) = (&fake, &url);
        async move { fake.post_webhook(url, &body).await }
    };

    fake.fail_profiles(1);
    assert_eq!(say("Do you deliver?").await.unwrap().status(), 200);
    let conv = conversations_of(&t, &agent, inbox).await[0]["id"].as_i64().unwrap();
    assert_eq!(name_after_asked(&t, &agent, conv, || fake.profile_requests(), 1).await, "");
    fake.set_profile(PSID, "Peter", "Chang");
    assert_eq!(say("To Oakland?").await.unwrap().status(), 200);
    named(&t, &agent, conv, "Peter Chang").await;

    // An agent's name for the customer stays, whatever Facebook says later.
    let contact = contact_of(&t, &agent, conv).await["id"].as_i64().unwrap();
    let r = t
        .client
        .patch(t.url(&format!("/api/v1/contacts/{contact}")))
        .bearer_auth(&agent)
        .json(&json!({ "name": "Pete (Oakland order)" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    fake.set_profile(PSID, "Peter", "Changed");
    assert_eq!(say("Any news?").await.unwrap().status(), 200);
    assert_eq!(messages_in(&t, &agent, conv).await.len(), 3);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(contact_of(&t, &agent, conv).await["name"], "Pete (Oakland order)");
    assert_eq!(fake.profile_requests(), 2);
}
both_backends!(a_messenger_customer_is_named_from_their_profile_and_an_agents_name_wins);
