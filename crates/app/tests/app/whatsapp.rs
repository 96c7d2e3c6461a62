//! WhatsApp end to end, over real HTTP on both backends: an inbox against the
//! fake Graph API (credentials checked), Meta's handshake, every inbound kind
//! signed as Meta signs it landing in one conversation (media fetched from
//! the fake by id), the customer's number joining their SMS contact, a reply
//! sent to the fake, statuses up to a Read mark and a failure in plain words,
//! the 24-hour window blocking free text while an approved template goes, and
//! bad requests storing nothing.

use crate::common;

use common::*;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use textdesk_channels::whatsapp::FakeWhatsApp;
use textdesk_core::Role;

const SENDER: &str = "+14155550100";
const WA_ID: &str = "16315551181";
const CUSTOMER: &str = "+16315551181";

/// Adds a WhatsApp inbox pointed at the fake; returns its id and its webhook address.
async fn whatsapp_inbox(t: &TestApp, fake: &FakeWhatsApp) -> (i64, String) {
    let admin = t.token_for("owner@example.com", Role::Admin).await;
    let setup = |token: &str| {
        json!({ "name": "WhatsApp", "channel_kind": "whatsapp", "sender": SENDER,
                "whatsapp": { "phone_number_id": fake.phone_number_id(), "waba_id": fake.waba_id(), "access_token": token,
                              "app_secret": fake.app_secret(), "verify_token": fake.verify_token(), "graph_base": fake.base_url() } })
    };
    // The credentials are checked with the Graph API first.
    let r = t.post(&admin, "/api/v1/inboxes", setup("EAAGnot-the-token")).await;
    assert_eq!(r.status(), 422);
    let detail = json(r).await["detail"].as_str().unwrap().to_owned();
    assert!(detail.starts_with("WhatsApp did not accept the access token."), "{detail}");
    let r = t.post(&admin, "/api/v1/inboxes", setup(fake.access_token())).await;
    assert_eq!(r.status(), 201);
    let inbox = json(r).await;
    for secret in [fake.access_token(), fake.app_secret(), fake.verify_token()] {
        assert!(!inbox.to_string().contains(secret), "secrets are never shown again: {inbox}");
    }
    let url = inbox["webhook_urls"]["inbound"].as_str().unwrap().to_owned();
    (inbox["id"].as_i64().unwrap(), url)
}

async fn whatsapp_round_trip(db: Db) {
    let fake = FakeWhatsApp::start().await.unwrap();
    let hosts = fake.private_hosts();
    let t = app(db).config(move |c| c.media_allow_private_hosts = hosts).start().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    // The customer has texted the business by SMS before.
    let sms = t.simulator_inbox().await;
    assert_eq!(t.text_in(sms, CUSTOMER, "Hi, is Dr. Li in today?", None).await.status(), 201);
    let (inbox, url) = whatsapp_inbox(&t, &fake).await;
    assert!(url.ends_with(&format!("/webhooks/whatsapp/{inbox}")), "{url}");

    // Meta checks the address: the challenge comes back only for the inbox's verify token.
    let hs = |token: &str| format!("{url}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={token}");
    let r = t.client.get(hs(fake.verify_token())).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "1158201444");
    assert_eq!(t.client.get(hs("guess")).send().await.unwrap().status(), 403);
    let twilio_style = t.client.get(url.replace("whatsapp", "twilio")).send().await.unwrap();
    assert_eq!(twilio_style.status(), 404);

    // Every kind of message, as Meta posts it.
    let png = PNG.to_vec();
    let pdf = b"%PDF-1.4 invoice".to_vec();
    let ogg = b"OggS\0\x02 voice".to_vec();
    let mp4 = b"\0\0\0\x18ftypmp42 video".to_vec();
    let webp = b"RIFF\x10\0\0\0WEBPVP8 sticker".to_vec();
    let m = |kind: &str, content: Value| FakeWhatsApp::message(WA_ID, kind, content);
    let messages = vec![
        m("text", json!({ "body": "Does the crown come in another shade?" })),
        m(
            "image",
            json!({ "id": fake.host_media(png.clone(), "image/png"), "mime_type": "image/png", "caption": "This tooth" }),
        ),
        m(
            "document",
            json!({ "id": fake.host_media(pdf, "application/pdf"), "mime_type": "application/pdf", "filename": "invoice.pdf" }),
        ),
        m(
            "audio",
            json!({ "id": fake.host_media(ogg, "audio/ogg"), "mime_type": "audio/ogg; codecs=opus", "voice": true }),
        ),
        m("video", json!({ "id": fake.host_media(mp4, "video/mp4"), "mime_type": "video/mp4" })),
        m("sticker", json!({ "id": fake.host_media(webp, "image/webp"), "mime_type": "image/webp" })),
        m("location", json!({ "latitude": 37.483307, "longitude": -122.148981, "name": "Philz Coffee" })),
        m("contacts", Value::Null),
        m("button", json!({ "payload": "resched", "text": "Reschedule" })),
        m("interactive", json!({ "type": "button_reply", "button_reply": { "id": "yes", "title": "Yes, keep it" } })),
        m(
            "interactive",
            json!({ "type": "list_reply", "list_reply": { "id": "am", "title": "Morning", "description": "8 to noon" } }),
        ),
        m("reaction", json!({ "message_id": "wamid.x", "emoji": "👍" })),
    ];
    let mut messages = messages;
    messages[7]["contacts"] =
        json!([{ "name": { "formatted_name": "Ana Li" }, "phones": [{ "phone": "+1 555 0100" }] }]);
    let body = fake.messages_payload(WA_ID, "Kerry Fisher", messages.clone());
    let r = fake.post_webhook(&url, &body).await.unwrap();
    assert_eq!(r.status(), 200);
    // Meta retries: the same delivery is stored once.
    assert_eq!(fake.post_webhook(&url, &body).await.unwrap().status(), 200);
    let convs = conversations_of(&t, &agent, inbox).await;
    assert_eq!(convs.len(), 1, "{convs:?}");
    let conv = convs[0]["id"].as_i64().unwrap();
    let got = messages_in(&t, &agent, conv).await;
    let bodies: Vec<&str> = got.iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(
        bodies,
        [
            "Does the crown come in another shade?",
            "This tooth",
            "invoice.pdf",
            "",
            "",
            "",
            "Shared a location: Philz Coffee — https://www.openstreetmap.org/?mlat=37.483307&mlon=-122.148981#map=17/37.483307/-122.148981",
            "Shared a contact: Ana Li, +1 555 0100",
            "Reschedule",
            "Yes, keep it",
            "Morning — 8 to noon",
            "Reacted 👍 to a message",
        ]
    );
    // The pictures and files are fetched from Meta by id, with the token.
    let media = t
        .eventually(|| async {
            let all: Vec<Value> = messages_in(&t, &agent, conv)
                .await
                .iter()
                .flat_map(|m| m["media"].as_array().unwrap().clone())
                .collect();
            (all.len() == 5 && all.iter().all(|x| x["state"] == "stored")).then_some(all)
        })
        .await;
    assert!(fake.storage_saw_token());
    let picture = t.client.get(media[0]["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(picture.headers()["content-type"], "image/png");
    assert_eq!(picture.bytes().await.unwrap().to_vec(), png);
    // One customer, one history: the WhatsApp number is the SMS contact, named from their profile.
    let c = json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await;
    let sms_conv = conversations_of(&t, &agent, sms).await;
    assert_eq!(c["contact_id"], sms_conv[0]["contact_id"], "{c} vs {sms_conv:?}");
    let contact = json(t.get(&agent, &format!("/api/v1/contacts/{}", c["contact_id"])).await).await;
    assert_eq!(contact["name"], "Kerry Fisher", "{contact}");

    // What Meta sends that this version does not keep, or that is not Meta's: nothing stored.
    let before = stored_message_count(&t, &agent).await;
    let order = fake.messages_payload(WA_ID, "Kerry Fisher", vec![m("order", json!({ "catalog_id": "1" }))]);
    assert_eq!(fake.post_webhook(&url, &order).await.unwrap().status(), 200, "Meta retries anything else");
    let forged = fake.messages_payload(WA_ID, "Kerry Fisher", vec![m("text", json!({ "body": "forged" }))]);
    let raw = serde_json::to_vec(&forged).unwrap();
    assert_eq!(fake.post_raw(&url, raw.clone(), Some("another-app-secret")).await.unwrap().status(), 403);
    assert_eq!(fake.post_raw(&url, raw.clone(), None).await.unwrap().status(), 403);
    let mut tampered = raw.clone();
    let signed_for = serde_json::to_vec(&order).unwrap();
    let sig = textdesk_channels::whatsapp::compute_signature(fake.app_secret(), &signed_for);
    let r = t
        .client
        .post(&url)
        .header("X-Hub-Signature-256", sig)
        .body(std::mem::take(&mut tampered))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a signature over another body");
    let r = fake
        .post_raw(&url, b"{\"object\":\"whatsapp_business_account\",".to_vec(), Some(fake.app_secret()))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("not a WhatsApp webhook"));
    // One byte over the limit, so the server has read the whole body when it answers: a larger body would be
    // cut off mid-write and the client would see a broken pipe instead of the 413.
    let huge = vec![b' '; 1024 * 1024 + 1];
    let r = fake.post_raw(&url, huge, Some(fake.app_secret())).await.unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(stored_message_count(&t, &agent).await, before);

    // A reply goes to the Graph API and its statuses come back to the thread.
    let r = t
        .post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Yes: ivory or white." }))
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(t.dispatch_all().await, 1);
    let (wamid, sent) = fake.sent().last().cloned().unwrap();
    assert_eq!((sent["to"].as_str(), sent["text"]["body"].as_str()), (Some(WA_ID), Some("Yes: ivory or white.")));
    let status = |s: &str, error| FakeWhatsApp::status(&wamid, s, WA_ID, error);
    for s in ["sent", "delivered", "read"] {
        assert_eq!(fake.post_webhook(&url, &fake.statuses_payload(vec![status(s, None)])).await.unwrap().status(), 200);
    }
    // A late "delivered" never takes the Read mark away.
    fake.post_webhook(&url, &fake.statuses_payload(vec![status("delivered", None)])).await.unwrap();
    let reply = messages_in(&t, &agent, conv).await.into_iter().find(|m| m["direction"] == "outbound").unwrap();
    assert_eq!((reply["status"].as_str(), reply["provider_id"].as_str()), (Some("read"), Some(wamid.as_str())));
    let browser = t.browser("dana@example.com").await;
    let page = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("✓✓ Read"), "the read receipt is shown in the thread");
    assert!(page.contains("WhatsApp lets you reply freely until"), "the window is in words");

    // A failure comes with WhatsApp's reason, in words.
    t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "And the price?" })).await;
    t.dispatch_all().await;
    let (second, _) = fake.sent().last().cloned().unwrap();
    let failed = FakeWhatsApp::status(
        &second,
        "failed",
        WA_ID,
        Some((131026, "Message undeliverable", "Unable to deliver message.")),
    );
    fake.post_webhook(&url, &fake.statuses_payload(vec![failed])).await.unwrap();
    let m = messages_in(&t, &agent, conv).await.into_iter().rev().find(|m| m["direction"] == "outbound").unwrap();
    assert_eq!(m["status"], "failed");
    let error = m["error"].as_str().unwrap();
    assert!(error.starts_with("WhatsApp could not deliver it: the number may not have WhatsApp"), "{error}");
    assert!(error.contains("(error 131026)"), "{error}");
}
both_backends!(whatsapp_round_trip);

async fn the_window_closes_after_24_hours_and_a_template_still_goes(db: Db) {
    let fake = FakeWhatsApp::start().await.unwrap();
    let t = app(db).start().await;
    let (inbox, url) = whatsapp_inbox(&t, &fake).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let admin = t.token_for("lee@example.com", Role::Admin).await;
    // The customer last wrote 25 hours ago (Meta's timestamp says when).
    let mut old = FakeWhatsApp::message(WA_ID, "text", json!({ "body": "Can I move my cleaning?" }));
    old["timestamp"] = json!((Timestamp::now() - SignedDuration::from_hours(25)).as_second().to_string());
    assert_eq!(fake.post_webhook(&url, &fake.messages_payload(WA_ID, "Kerry", vec![old])).await.unwrap().status(), 200);
    let conv = conversations_of(&t, &agent, inbox).await[0]["id"].as_i64().unwrap();
    // Midday on the customer's clock, whenever the test runs: a template is business-initiated, and at night
    // their quiet hours would rightly hold it.
    t.move_contact_to(&agent, conv, &common::zone_at_hour(12).0).await;

    // Free text is blocked by the gate, with the reason; nothing reaches WhatsApp.
    let r =
        t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Sure, Tuesday?" })).await;
    assert_eq!(r.status(), 409);
    let detail = json(r).await["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("24 hours on WhatsApp") && detail.contains("approved template"), "{detail}");

    // Templates come from the account; only admins sync them.
    fake.add_template(
        "visit_reminder",
        "en_US",
        "APPROVED",
        "UTILITY",
        "Hi {{1}}, your visit is on {{2}}. Reply to change it.",
    );
    fake.add_template("spring_sale", "en_US", "REJECTED", "MARKETING", "20% off whitening");
    let sync = format!("/api/v1/inboxes/{inbox}/templates/sync");
    assert_eq!(t.post(&agent, &sync, json!({})).await.status(), 403);
    let synced = json(t.post(&admin, &sync, json!({})).await).await;
    assert_eq!(synced["synced"], 2, "{synced}");
    let listed = json(t.get(&agent, &format!("/api/v1/inboxes/{inbox}/templates")).await).await;
    let id_of =
        |name: &str| listed.as_array().unwrap().iter().find(|x| x["name"] == name).unwrap()["id"].as_i64().unwrap();
    let (reminder, sale) = (id_of("visit_reminder"), id_of("spring_sale"));
    assert_eq!(listed.as_array().unwrap().iter().find(|x| x["name"] == "visit_reminder").unwrap()["variables"], 2);

    let messages_path = format!("/api/v1/conversations/{conv}/messages");
    let send = |template: Value| t.post(&agent, &messages_path, json!({ "template": template }));
    let r = send(json!({ "id": reminder, "values": ["Kerry"] })).await;
    assert_eq!(r.status(), 422);
    assert!(json(r).await["detail"].as_str().unwrap().contains("takes 2 values"));
    let r = send(json!({ "id": sale, "values": [] })).await;
    assert_eq!(r.status(), 422, "a rejected template cannot go");
    assert!(fake.sent().is_empty());
    // The page says the window closed and offers the picker, open.
    let browser = t.browser("dana@example.com").await;
    let page = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("The 24-hour reply window closed at"), "{page}");
    assert!(page.contains("id=\"template-picker\" open") && page.contains("visit_reminder"));
    assert!(!page.contains("spring_sale"), "only approved templates are offered");
    // The agent picks it and fills its variables in the composer's picker.
    let form = [
        ("csrf", csrf_of(&page)),
        ("template_id", reminder.to_string()),
        ("value", "Kerry".into()),
        ("value", "Tuesday at 9:00".into()),
    ];
    let r = browser.post(t.url(&format!("/conversations/{conv}/template"))).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(t.dispatch_all().await, 1);
    let (_, sent) = fake.sent().last().cloned().unwrap();
    assert_eq!(sent["type"], "template");
    assert_eq!(sent["template"]["name"], "visit_reminder");
    assert_eq!(sent["template"]["components"][0]["parameters"][1]["text"], "Tuesday at 9:00");
    let m = messages_in(&t, &agent, conv).await.into_iter().find(|m| m["direction"] == "outbound").unwrap();
    assert_eq!(m["body"], "textdesk\n\nHi Kerry, your visit is on Tuesday at 9:00. Reply to change it.");
    assert_eq!((m["status"].as_str(), m["template"].as_str()), (Some("sent"), Some("visit_reminder")));

    // Once the customer writes again, free text goes.
    let again = FakeWhatsApp::message(WA_ID, "text", json!({ "body": "Tuesday works" }));
    fake.post_webhook(&url, &fake.messages_payload(WA_ID, "Kerry", vec![again])).await.unwrap();
    let r = t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "See you then." })).await;
    assert_eq!(r.status(), 201);
}
both_backends!(the_window_closes_after_24_hours_and_a_template_still_goes);
