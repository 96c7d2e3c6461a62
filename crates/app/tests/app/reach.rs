//! Answering on another channel the customer uses (issue 14, F3), over real
//! HTTP on both backends: the channels a conversation offers, a reply through
//! WhatsApp from an SMS conversation reaching the fake Graph API (and the
//! customer's answer landing in the same conversation), each message naming
//! its channel; a reply refused outside WhatsApp's window with the reason
//! (in the composer's preview before sending too); and an SMS number the
//! customer never wrote to refused without their opt-in.

use crate::common;

use common::*;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use textdesk_channels::whatsapp::FakeWhatsApp;
use textdesk_core::Role;

const WA_ID: &str = "16315551181";
const CUSTOMER: &str = "+16315551181";

/// A WhatsApp inbox pointed at the fake; returns its id and webhook address.
async fn whatsapp_inbox(t: &TestApp, fake: &FakeWhatsApp) -> (i64, String) {
    let admin = t.token_for("owner@example.com", Role::Admin).await;
    let setup = json!({ "name": "WhatsApp", "channel_kind": "whatsapp", "sender": "+14155550100",
        "whatsapp": { "phone_number_id": fake.phone_number_id(), "waba_id": fake.waba_id(), "access_token": fake.access_token(),
                      "app_secret": fake.app_secret(), "verify_token": fake.verify_token(), "graph_base": fake.base_url() } });
    let inbox = json(t.post(&admin, "/api/v1/inboxes", setup).await).await;
    (inbox["id"].as_i64().unwrap(), inbox["webhook_urls"]["inbound"].as_str().unwrap().to_owned())
}

/// The customer writes on WhatsApp, `ago` before now (Meta's timestamp says when).
async fn whatsapp_text(fake: &FakeWhatsApp, url: &str, body: &str, ago: SignedDuration) {
    let mut m = FakeWhatsApp::message(WA_ID, "text", json!({ "body": body }));
    m["timestamp"] = json!((Timestamp::now() - ago).as_second().to_string());
    let r = fake.post_webhook(url, &fake.messages_payload(WA_ID, "Kerry Fisher", vec![m])).await.unwrap();
    assert_eq!(r.status(), 200);
}

/// An SMS conversation whose customer also writes on WhatsApp (`wa_ago` ago), at midday on their clock.
async fn on_two_channels(
    t: &TestApp,
    fake: &FakeWhatsApp,
    agent: &str,
    wa_ago: SignedDuration,
) -> (i64, i64, String, i64) {
    let sms = t.simulator_inbox().await;
    let (wa, url) = whatsapp_inbox(t, fake).await;
    whatsapp_text(fake, &url, "Is my crown ready?", wa_ago).await;
    assert_eq!(t.text_in(sms, CUSTOMER, "Texting too: is it ready?", None).await.status(), 201);
    let conv = conversations_of(t, agent, sms).await[0]["id"].as_i64().unwrap();
    t.move_contact_to(agent, conv, &common::zone_at_hour(12).0).await;
    (sms, wa, url, conv)
}

fn channels_of(messages: &[Value]) -> Vec<(&str, &str)> {
    messages.iter().map(|m| (m["direction"].as_str().unwrap(), m["channel"].as_str().unwrap())).collect()
}

async fn a_reply_goes_through_the_channel_chosen(db: Db) {
    let fake = FakeWhatsApp::start().await.unwrap();
    let t = app(db).start().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    // WhatsApp first, an hour ago; then an SMS now, in a thread of its own.
    let (sms, wa, hook, conv) = on_two_channels(&t, &fake, &agent, SignedDuration::from_hours(1)).await;
    let channels = json(t.get(&agent, &format!("/api/v1/conversations/{conv}/channels")).await).await;
    let listed: Vec<(i64, &str, bool, bool)> = channels
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["inbox_id"].as_i64().unwrap(),
                c["channel"].as_str().unwrap(),
                c["current"] == true,
                c["default"] == true,
            )
        })
        .collect();
    assert_eq!(listed, [(sms, "sms", true, true), (wa, "whatsapp", false, false)], "{channels}");

    // The agent answers on WhatsApp from the SMS conversation: it goes to Meta, to the customer's WhatsApp id.
    let path = format!("/api/v1/conversations/{conv}/messages");
    let r = t.post(&agent, &path, json!({ "body": "Yes, come by at 3.", "inbox_id": wa })).await;
    assert_eq!(r.status(), 201);
    let sent = json(r).await;
    assert_eq!((sent["channel"].as_str(), sent["inbox_id"].as_i64()), (Some("whatsapp"), Some(wa)), "{sent}");
    assert_eq!(t.dispatch_all().await, 1);
    let (_, out) = fake.sent().last().cloned().unwrap();
    assert_eq!((out["to"].as_str(), out["text"]["body"].as_str()), (Some(WA_ID), Some("Yes, come by at 3.")));
    // One conversation, now on WhatsApp: the customer's answer lands in it, and every message names its channel.
    let c = json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await;
    assert_eq!(c["inbox_id"].as_i64(), Some(wa), "{c}");
    // Meta's timestamps are whole seconds: a second later, so it is plainly their latest.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    whatsapp_text(&fake, &hook, "Great, see you at 3", SignedDuration::ZERO).await;
    let got = messages_in(&t, &agent, conv).await;
    assert_eq!(channels_of(&got), [("inbound", "sms"), ("outbound", "whatsapp"), ("inbound", "whatsapp")], "{got:?}");
    // The page: the picker offers both, the conversation's own channel chosen; each message carries its badge.
    let browser = t.browser("dana@example.com").await;
    let page = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<select id=\"via\" name=\"via\""), "the picker is offered");
    assert!(page.contains(&format!("<option value=\"{wa}\" selected>WhatsApp · WhatsApp</option>")), "{page}");
    assert_eq!(page.matches("data-channel").count(), 3, "a badge per message");
    let timeline = json(t.get(&agent, &format!("/api/v1/conversations/{conv}/timeline")).await).await;
    assert!(timeline.to_string().contains("channel_moved"), "{timeline}");
    // A customer on one medium gets no picker.
    let other = t.inbox_with("Other", "+14155550111", json!({})).await;
    t.text_in(other, "+14155550177", "Hello", None).await;
    let single = conversations_of(&t, &agent, other).await[0]["id"].as_i64().unwrap();
    let only = json(t.get(&agent, &format!("/api/v1/conversations/{single}/channels")).await).await;
    assert_eq!(only.as_array().unwrap().iter().filter(|c| c["channel"] == "whatsapp").count(), 0, "{only}");
    assert!(only.as_array().unwrap().len() > 1, "{only}");
    let page = browser.get(t.url(&format!("/conversations/{single}"))).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("<select id=\"via\""), "no picker for one medium");
}
both_backends!(a_reply_goes_through_the_channel_chosen);

async fn outside_the_channels_window_it_is_refused_with_the_reason(db: Db) {
    let fake = FakeWhatsApp::start().await.unwrap();
    let t = app(db).start().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    // The customer last wrote on WhatsApp 25 hours ago, by SMS just now.
    let (sms, wa, _, conv) = on_two_channels(&t, &fake, &agent, SignedDuration::from_hours(25)).await;
    // The composer says so before anything is sent.
    let browser = t.browser("dana@example.com").await;
    let page = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&format!("<option value=\"{sms}\" selected>")), "the conversation's own channel");
    let preview = |via: i64| {
        browser
            .post(t.url(&format!("/conversations/{conv}/preview")))
            .form(&[("body", "Ready!"), ("via", &via.to_string())])
            .send()
    };
    let p: Value = preview(wa).await.unwrap().json().await.unwrap();
    assert_eq!(p["verdict"]["reason"], "reply_window_closed", "{p}");
    let p: Value = preview(sms).await.unwrap().json().await.unwrap();
    assert_eq!(p["verdict"]["decision"], "allow", "{p}");
    // Sent anyway: 409 with the reason; nothing reaches Meta and the conversation stays on SMS.
    let r = t
        .post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Ready!", "inbox_id": wa }))
        .await;
    assert_eq!(r.status(), 409);
    let detail = json(r).await["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("24 hours on WhatsApp"), "{detail}");
    assert_eq!(t.dispatch_all().await, 0);
    assert!(fake.sent().is_empty());
    let c = json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await;
    assert_eq!(c["inbox_id"].as_i64(), Some(sms), "{c}");
    assert_eq!(messages_in(&t, &agent, conv).await.len(), 1, "nothing stored");
    // An inbox that does not reach them is refused too.
    let r = t
        .post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Hi", "inbox_id": 999_999 }))
        .await;
    assert_eq!(r.status(), 422);
}
both_backends!(outside_the_channels_window_it_is_refused_with_the_reason);

async fn a_number_they_never_wrote_to_needs_their_opt_in(db: Db) {
    let t = app(db).start().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let main = t.inbox_with("Main", "+14155550100", json!({})).await;
    let billing = t.inbox_with("Billing", "+14155550199", json!({})).await;
    assert_eq!(t.text_in(main, CUSTOMER, "Question about my bill", None).await.status(), 201);
    let conv = conversations_of(&t, &agent, main).await[0]["id"].as_i64().unwrap();
    t.move_contact_to(&agent, conv, &common::zone_at_hour(12).0).await;
    // From the billing number they never texted, the business starts the exchange: no opt-in, no text.
    let path = format!("/api/v1/conversations/{conv}/messages");
    let r = t.post(&agent, &path, json!({ "body": "Billing here: your balance is $0.", "inbox_id": billing })).await;
    assert_eq!(r.status(), 409);
    let p = json(r).await;
    assert_eq!(p["reason"], "no_opt_in", "{p}");
    // Their own number's reply still goes, as ever.
    assert_eq!(t.post(&agent, &path, json!({ "body": "Looking into it." })).await.status(), 201);
    // With their opt-in recorded, the billing number may write.
    let c = json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await;
    let consent = json!({ "state": "opted_in", "source": "verbal", "evidence": "said yes on the phone" });
    let r = t.post(&agent, &format!("/api/v1/contacts/{}/consent", c["contact_id"]), consent).await;
    assert_eq!(r.status(), 201);
    let r = t.post(&agent, &path, json!({ "body": "Billing here: your balance is $0.", "inbox_id": billing })).await;
    assert_eq!(r.status(), 201);
    assert_eq!(t.dispatch_all().await, 2);
    // The simulated phone shows it once the carrier's delivery receipt is in.
    let url = t.url(&format!("/simulator/api/inboxes/{billing}/phones/{CUSTOMER}/messages"));
    t.eventually(|| async {
        let phone = json(t.client.get(&url).send().await.unwrap()).await;
        phone.to_string().contains("your balance is $0").then_some(())
    })
    .await;
}
both_backends!(a_number_they_never_wrote_to_needs_their_opt_in);
