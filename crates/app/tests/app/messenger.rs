//! Facebook Messenger end to end, over real HTTP on both backends: an inbox
//! against the fake Send API (credentials checked), Meta's handshake, every
//! inbound kind signed as Meta signs it (attachments fetched from the fake's
//! CDN), a reply sent exactly as the Send API takes it, delivery and read
//! watermarks moving the reply to Read, bad requests storing nothing, and the
//! window: a person's reply between 24 hours and 7 days goes with the
//! HUMAN_AGENT tag (the composer says so), and nothing goes after 7 days.

use crate::common;

use common::*;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use textdesk_channels::messenger::FakeMessenger;
use textdesk_core::Role;

const PSID: &str = "6723950281032171";

/// Adds a Messenger inbox pointed at the fake; returns its id and its webhook address.
pub(crate) async fn messenger_inbox(t: &TestApp, fake: &FakeMessenger) -> (i64, String) {
    let admin = t.token_for("owner@example.com", Role::Admin).await;
    let setup = |token: &str| {
        json!({ "name": "Messenger", "channel_kind": "messenger",
                "messenger": { "page_id": fake.page_id(), "page_access_token": token, "app_secret": fake.app_secret(),
                               "verify_token": fake.verify_token(), "graph_base": fake.base_url() } })
    };
    let r = t.post(&admin, "/api/v1/inboxes", setup("EAABnot-the-token")).await;
    assert_eq!(r.status(), 422);
    let detail = json(r).await["detail"].as_str().unwrap().to_owned();
    assert!(detail.starts_with("Messenger did not accept the Page access token."), "{detail}");
    let r = t.post(&admin, "/api/v1/inboxes", setup(fake.page_token())).await;
    assert_eq!(r.status(), 201);
    let inbox = json(r).await;
    for secret in [fake.page_token(), fake.app_secret(), fake.verify_token()] {
        assert!(!inbox.to_string().contains(secret), "secrets are never shown again: {inbox}");
    }
    assert_eq!(inbox["medium"], "messenger", "{inbox}");
    let url = inbox["webhook_urls"]["inbound"].as_str().unwrap().to_owned();
    (inbox["id"].as_i64().unwrap(), url)
}

async fn thread(t: &TestApp, token: &str, conv: i64) -> Vec<Value> {
    json(t.get(token, &format!("/api/v1/conversations/{conv}/messages")).await).await.as_array().unwrap().clone()
}

async fn only_conversation(t: &TestApp, token: &str, inbox: i64) -> i64 {
    let list = json(t.get(token, &format!("/api/v1/conversations?inbox_id={inbox}")).await).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    items[0]["id"].as_i64().unwrap()
}

async fn message_count(t: &TestApp, token: &str) -> usize {
    let list = json(t.get(token, "/api/v1/conversations").await).await;
    let mut n = 0;
    for c in list["items"].as_array().unwrap() {
        n += thread(t, token, c["id"].as_i64().unwrap()).await.len();
    }
    n
}

async fn messenger_round_trip(db: Db) {
    let fake = FakeMessenger::start().await.unwrap();
    let hosts = fake.private_hosts();
    let t = app(db).config(move |c| c.media_allow_private_hosts = hosts).start().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let (inbox, url) = messenger_inbox(&t, &fake).await;
    assert!(url.ends_with(&format!("/webhooks/messenger/{inbox}")), "{url}");

    // Meta checks the address with the same handshake as WhatsApp's.
    let hs = |token: &str| format!("{url}?hub.mode=subscribe&hub.challenge=870012345&hub.verify_token={token}");
    let r = t.client.get(hs(fake.verify_token())).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.text().await.unwrap()), (200, "870012345".to_owned()));
    assert_eq!(t.client.get(hs("guess")).send().await.unwrap().status(), 403);

    // Every kind Meta posts, in Meta's shapes (the Messenger Platform's webhook reference).
    let png = PNG.to_vec();
    let pdf = b"%PDF-1.4 estimate".to_vec();
    let (picture, file) = (fake.host_media(png.clone(), "image/png"), fake.host_media(pdf, "application/pdf"));
    let e = |content: Value| fake.event(PSID, content);
    let events = vec![
        e(json!({ "message": { "mid": FakeMessenger::mid(), "text": "Is the shop open on Sunday?" } })),
        e(json!({ "message": { "mid": FakeMessenger::mid(), "text": "Book a visit",
                                "quick_reply": { "payload": "BOOK_VISIT" } } })),
        e(
            json!({ "message": { "mid": FakeMessenger::mid(), "attachments": [{ "type": "image", "payload": { "url": picture } }] } }),
        ),
        e(json!({ "message": { "mid": FakeMessenger::mid(), "text": "Here is the estimate",
                                "attachments": [{ "type": "file", "payload": { "url": file } }] } })),
        e(json!({ "postback": { "mid": FakeMessenger::mid(), "title": "Talk to a person", "payload": "HUMAN" } })),
    ];
    let body = fake.payload(events);
    assert_eq!(fake.post_webhook(&url, &body).await.unwrap().status(), 200);
    // Meta retries: the same delivery is stored once.
    assert_eq!(fake.post_webhook(&url, &body).await.unwrap().status(), 200);
    let conv = only_conversation(&t, &agent, inbox).await;
    let got = thread(&t, &agent, conv).await;
    let bodies: Vec<&str> = got.iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["Is the shop open on Sunday?", "Book a visit", "", "Here is the estimate", "Talk to a person"]);
    let media = t
        .eventually(|| async {
            let all: Vec<Value> =
                thread(&t, &agent, conv).await.iter().flat_map(|m| m["media"].as_array().unwrap().clone()).collect();
            (all.len() == 2 && all.iter().all(|x| x["state"] == "stored")).then_some(all)
        })
        .await;
    let fetched = t.client.get(media[0]["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(fetched.bytes().await.unwrap().to_vec(), png);

    // What is not Meta's, or not kept: nothing stored.
    let before = message_count(&t, &agent).await;
    let reaction = fake.payload(vec![e(json!({ "reaction": { "mid": "m_x", "action": "react", "emoji": "👍" } }))]);
    assert_eq!(fake.post_webhook(&url, &reaction).await.unwrap().status(), 200, "Meta retries anything else");
    let echo =
        fake.payload(vec![e(json!({ "message": { "mid": FakeMessenger::mid(), "is_echo": true, "text": "ours" } }))]);
    assert_eq!(fake.post_webhook(&url, &echo).await.unwrap().status(), 200);
    let forged =
        serde_json::to_vec(&fake.payload(vec![e(json!({ "message": { "mid": "m_f", "text": "forged" } }))])).unwrap();
    assert_eq!(fake.post_raw(&url, forged.clone(), Some("another-app-secret")).await.unwrap().status(), 403);
    assert_eq!(fake.post_raw(&url, forged.clone(), None).await.unwrap().status(), 403);
    let sig = textdesk_channels::meta::compute_signature(fake.app_secret(), &serde_json::to_vec(&reaction).unwrap());
    let r = t.client.post(&url).header("X-Hub-Signature-256", sig).body(forged).send().await.unwrap();
    assert_eq!(r.status(), 403, "a signature over another body");
    let r = fake.post_raw(&url, b"{\"object\":\"page\",\"entry\":".to_vec(), Some(fake.app_secret())).await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("not a Messenger webhook"));
    let no_text = fake.payload(vec![e(json!({ "message": { "mid": FakeMessenger::mid() } }))]);
    assert_eq!(fake.post_webhook(&url, &no_text).await.unwrap().status(), 400);
    let huge = vec![b' '; 1024 * 1024 + 1];
    assert_eq!(fake.post_raw(&url, huge, Some(fake.app_secret())).await.unwrap().status(), 413);
    assert_eq!(message_count(&t, &agent).await, before);

    // A reply goes to the Send API as a response; delivery and read watermarks come back.
    let r = t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Yes, 10 to 4." })).await;
    assert_eq!(r.status(), 201);
    assert_eq!(t.dispatch_all().await, 1);
    let (mid, sent) = fake.sent().last().cloned().unwrap();
    assert_eq!(
        sent,
        json!({ "recipient": { "id": PSID }, "messaging_type": "RESPONSE", "message": { "text": "Yes, 10 to 4." } })
    );
    let now_ms = Timestamp::now().as_millisecond() + 1000;
    let delivered = fake.payload(vec![e(json!({ "delivery": { "mids": [mid], "watermark": now_ms } }))]);
    assert_eq!(fake.post_webhook(&url, &delivered).await.unwrap().status(), 200);
    let reply = |m: &Vec<Value>| m.iter().find(|m| m["direction"] == "outbound").cloned().unwrap();
    assert_eq!(reply(&thread(&t, &agent, conv).await)["status"], "delivered");
    let read = fake.payload(vec![e(json!({ "read": { "watermark": now_ms } }))]);
    assert_eq!(fake.post_webhook(&url, &read).await.unwrap().status(), 200);
    let r = reply(&thread(&t, &agent, conv).await);
    assert_eq!((r["status"].as_str(), r["provider_id"].as_str()), (Some("read"), Some(mid.as_str())));
    let browser = t.browser("dana@example.com").await;
    let page = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("✓✓ Read"), "the read receipt is shown in the thread");
    assert!(page.contains("Messenger lets you reply freely until"), "the window is in words");
}
both_backends!(messenger_round_trip);

async fn a_person_answers_for_seven_days_with_the_human_agent_tag(db: Db) {
    let fake = FakeMessenger::start().await.unwrap();
    let t = app(db).start().await;
    let (inbox, url) = messenger_inbox(&t, &fake).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    // The customer last wrote 30 hours ago (Meta's timestamp says when).
    let mut old =
        fake.event(PSID, json!({ "message": { "mid": FakeMessenger::mid(), "text": "Any news on my order?" } }));
    old["timestamp"] = json!((Timestamp::now() - SignedDuration::from_hours(30)).as_millisecond());
    assert_eq!(fake.post_webhook(&url, &fake.payload(vec![old])).await.unwrap().status(), 200);
    let conv = only_conversation(&t, &agent, inbox).await;
    // Midday where the customer is, so quiet hours do not hold the reply.
    let (noon, _) = zone_at_hour(12);
    t.move_contact_to(&agent, conv, &noon).await;

    // The composer says the reply goes as a human agent's.
    let preview = json(
        t.post(&agent, "/api/v1/compose/preview", json!({ "body": "It ships today.", "conversation_id": conv })).await,
    )
    .await;
    assert_eq!(preview["verdict"]["decision"], "allow", "{preview}");
    assert_eq!(preview["verdict"]["reason"], "human_agent", "{preview}");
    let browser = t.browser("dana@example.com").await;
    let page = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("still takes your reply as a human agent"), "the window is in words");
    assert!(page.contains("automatic messages cannot go"));

    // The agent's reply goes, tagged.
    let r =
        t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "It ships today." })).await;
    assert_eq!(r.status(), 201);
    assert_eq!(t.dispatch_all().await, 1);
    let (_, sent) = fake.sent().last().cloned().unwrap();
    assert_eq!(
        (sent["messaging_type"].as_str(), sent["tag"].as_str()),
        (Some("MESSAGE_TAG"), Some("HUMAN_AGENT")),
        "{sent}"
    );

    // Meta's own refusal is explained in words.
    fake.fail_next(1, 400, 10, 2018278);
    t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Tracking: 1Z999" })).await;
    t.dispatch_all().await;
    let last = thread(&t, &agent, conv).await.into_iter().rev().find(|m| m["direction"] == "outbound").unwrap();
    assert_eq!(last["status"], "failed", "{last}");
    assert!(last["error"].as_str().unwrap().contains("more than 24 hours have passed"), "{last}");

    // Another customer who wrote 8 days ago (kept as 7, the most Meta's clock is trusted for): nothing goes.
    let mut older = fake.event("9988776655", json!({ "message": { "mid": FakeMessenger::mid(), "text": "Hello?" } }));
    older["timestamp"] = json!((Timestamp::now() - SignedDuration::from_hours(24 * 8)).as_millisecond());
    assert_eq!(fake.post_webhook(&url, &fake.payload(vec![older])).await.unwrap().status(), 200);
    let list = json(t.get(&agent, &format!("/api/v1/conversations?inbox_id={inbox}")).await).await;
    let late = list["items"].as_array().unwrap().iter().find(|c| c["id"] != conv).unwrap()["id"].as_i64().unwrap();
    t.move_contact_to(&agent, late, &noon).await;
    let sent_before = fake.sent().len();
    let r = t
        .post(&agent, &format!("/api/v1/conversations/{late}/messages"), json!({ "body": "Sorry for the wait" }))
        .await;
    assert_eq!(r.status(), 409);
    let detail = json(r).await["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("7 days for a person's reply on Messenger"), "{detail}");
    assert_eq!(fake.sent().len(), sent_before);
}
both_backends!(a_person_answers_for_seven_days_with_the_human_agent_tag);
