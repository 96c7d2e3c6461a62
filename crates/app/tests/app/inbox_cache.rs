//! A node keeps each inbox and its webhook verifier in memory (a webhook
//! reads neither from the database): a change to the inbox, on this node or
//! another, reaches the next webhook. Twilio signs with the account's auth
//! token; rotating it is changing the inbox's connection.

use crate::common;

use common::*;
use serde_json::{Value, json};
use textdesk_channels::twilio::FakeTwilio;
use textdesk_core::Role;

const SENDER: &str = "+14155550100";
const CUSTOMER: &str = "+14155550111";

/// A Twilio inbox on `fake`'s account; its id and inbound webhook URL.
async fn twilio_inbox(t: &TestApp, admin: &str, fake: &FakeTwilio) -> (i64, String) {
    let r = t
        .client
        .post(t.url("/api/v1/inboxes"))
        .bearer_auth(admin)
        .json(&json!({ "name": "Main line", "channel_kind": "twilio", "sender": SENDER,
                "twilio": { "account_sid": fake.account_sid(), "auth_token": fake.auth_token(), "api_base": fake.base_url() } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let inbox = json(r).await;
    (inbox["id"].as_i64().unwrap(), inbox["webhook_urls"]["inbound"].as_str().unwrap().to_owned())
}

async fn patch_inbox(t: &TestApp, admin: &str, inbox: i64, body: Value) -> reqwest::Response {
    t.client.patch(t.url(&format!("/api/v1/inboxes/{inbox}"))).bearer_auth(admin).json(&body).send().await.unwrap()
}

/// The same webhook path on another node.
fn at_node(url: &str, base: &str) -> String {
    format!("{base}{}", &url[url.find("/webhooks/").unwrap()..])
}

/// Moves the inbox to `to`'s account and token (checked with it), as after a
/// rotation in Twilio's console.
async fn rotate(t: &TestApp, admin: &str, inbox: i64, to: &FakeTwilio) {
    let r = patch_inbox(
        t,
        admin,
        inbox,
        json!({ "connection": { "account_sid": to.account_sid(), "auth_token": to.auth_token(), "api_base": to.base_url() } }),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

async fn a_rotated_token_holds_for_the_next_webhook(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let (old, new) = (FakeTwilio::start().await.unwrap(), FakeTwilio::start().await.unwrap());
    let (inbox, url) = twilio_inbox(&t, &admin, &old).await;

    // The node has the inbox's verifier in hand after its first webhook.
    let r = old.post_inbound(&url, &old.inbound_params(CUSTOMER, SENDER, "Before the rotation")).await.unwrap();
    assert_eq!(r.status(), 200);

    // A token that Twilio would not accept is refused, and the inbox keeps its own.
    let r =
        patch_inbox(&t, &admin, inbox, json!({ "connection": { "auth_token": "0123456789abcdef0123456789abcdef" } }))
            .await;
    assert_eq!(r.status(), 422);
    let r = old.post_inbound(&url, &old.inbound_params(CUSTOMER, SENDER, "Still the old token")).await.unwrap();
    assert_eq!(r.status(), 200);

    rotate(&t, &admin, inbox, &new).await;
    let shown = json(t.get(&admin, &format!("/api/v1/inboxes/{inbox}")).await).await;
    assert!(!shown.to_string().contains(new.auth_token()), "the token is never shown: {shown}");
    // Signed with the new token: taken. With the old one: refused, nothing stored.
    let r = new.post_inbound(&url, &new.inbound_params(CUSTOMER, SENDER, "After the rotation")).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = old.post_inbound(&url, &old.inbound_params(CUSTOMER, SENDER, "Forged with the old token")).await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(stored_message_count(&t, &agent).await, 3);

    // The audit names what changed, never the token.
    let audit = t.get(&admin, "/api/v1/audit?what=settings.inbox").await.text().await.unwrap();
    assert!(audit.contains("auth_token") && !audit.contains(new.auth_token()), "{audit}");
}
both_backends!(a_rotated_token_holds_for_the_next_webhook);

/// Two nodes on one PostgreSQL database: the token rotated through one is
/// the only one the other takes, and a setting changed through one is what
/// the other answers with.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_on_one_node_reaches_the_other() {
    let Some((a, b)) = two_postgres_nodes().await else { return };
    let admin = a.token_for("ada@example.com", Role::Admin).await;
    let agent = a.token_for("dana@example.com", Role::Agent).await;
    let (old, new) = (FakeTwilio::start().await.unwrap(), FakeTwilio::start().await.unwrap());
    let (inbox, url) = twilio_inbox(&a, &admin, &old).await;
    let url_b = at_node(&url, &b.base);
    // Node B keeps the inbox and its verifier.
    let r = old.post_inbound(&url_b, &old.inbound_params(CUSTOMER, SENDER, "Hello")).await.unwrap();
    assert_eq!(r.status(), 200);

    rotate(&a, &admin, inbox, &new).await;
    // B hears of the change through the log: the old token stops working there.
    b.eventually(|| async {
        let r = old.post_inbound(&url_b, &old.inbound_params(CUSTOMER, SENDER, "Old token")).await.unwrap();
        (r.status() == 403).then_some(())
    })
    .await;
    let r = new.post_inbound(&url_b, &new.inbound_params(CUSTOMER, SENDER, "New token")).await.unwrap();
    assert_eq!(r.status(), 200);

    // A setting changed on A: B's next HELP is answered with it.
    let help = "Harbor Dental help desk: call 555-0100.";
    let r = patch_inbox(&a, &admin, inbox, json!({ "settings": { "consent": { "help_reply": help } } })).await;
    assert_eq!(r.status(), 200);
    b.eventually(|| async {
        let r = new.post_inbound(&url_b, &new.inbound_params(CUSTOMER, SENDER, "HELP")).await.unwrap();
        assert_eq!(r.status(), 200);
        let convs = conversations_of(&a, &agent, inbox).await;
        let conv = convs[0]["id"].as_i64().unwrap();
        let msgs = messages_in(&a, &agent, conv).await;
        msgs.iter().any(|m| m["body"] == help).then_some(())
    })
    .await;
}
