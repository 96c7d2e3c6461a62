//! Telegram end to end, over real HTTP on both backends: an inbox against the
//! fake Bot API (the token checked with getMe, the webhook set with its
//! secret), every inbound kind posted as Telegram posts it landing in one
//! conversation (files fetched through getFile), the customer's own shared
//! number joining their SMS history, replies with text and a picture sent as
//! the Bot API takes them, a block becoming an opt-out, the settings page's
//! "Register webhook", and bad requests storing nothing.

use crate::common;

use common::*;
use serde_json::{Value, json};
use textdesk_channels::telegram::{FakeTelegram, webhook_secret};
use textdesk_core::Role;

const BOT: &str = "@test_dental_bot";
const USER: i64 = 5_551_234_567;
const PHONE: &str = "+14155550123";
const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00 a tooth";

/// Adds a Telegram inbox pointed at the fake; returns its id and webhook address.
pub(crate) async fn telegram_inbox(t: &TestApp, fake: &FakeTelegram) -> (i64, String) {
    let admin = t.token_for("owner@example.com", Role::Admin).await;
    let setup = |token: &str| {
        json!({ "name": "Telegram", "channel_kind": "telegram", "sender": BOT,
                "telegram": { "bot_token": token, "api_base": fake.base_url() } })
    };
    let wrong = format!("{}:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", fake.bot_id());
    let r = t.post(&admin, "/api/v1/inboxes", setup(&wrong)).await;
    assert_eq!(r.status(), 422);
    let detail = json(r).await["detail"].as_str().unwrap().to_owned();
    assert!(detail.starts_with("Telegram did not accept this bot token."), "{detail}");
    assert!(fake.webhook().is_none(), "nothing is registered for a refused inbox");
    let r = t.post(&admin, "/api/v1/inboxes", setup(fake.token())).await;
    assert_eq!(r.status(), 201);
    let inbox = json(r).await;
    assert!(!inbox.to_string().contains(fake.token()), "the token is never shown again: {inbox}");
    let id = inbox["id"].as_i64().unwrap();
    let url = inbox["webhook_urls"]["inbound"].as_str().unwrap().to_owned();
    assert!(url.ends_with(&format!("/webhooks/telegram/{id}")), "{url}");
    // Adding it told Telegram where to post, with the inbox's secret.
    assert_eq!(fake.webhook(), Some((url.clone(), webhook_secret(fake.token(), id))));
    (id, url)
}

async fn telegram_round_trip(db: Db) {
    let fake = FakeTelegram::start().await.unwrap();
    let hosts = fake.private_hosts();
    let t = app(db).config(move |c| c.media_allow_private_hosts = hosts).start().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    // The customer has texted the business by SMS before.
    let sms = t.simulator_inbox().await;
    assert_eq!(t.text_in(sms, PHONE, "Hi, are you open Saturday?", None).await.status(), 201);
    let (inbox, url) = telegram_inbox(&t, &fake).await;
    let secret = webhook_secret(fake.token(), inbox);
    let post = |update: &Value| fake.post_update(&url, serde_json::to_vec(update).unwrap(), Some(&secret));

    // Every kind, as Telegram posts it.
    let photo = fake.host_file(JPEG.to_vec(), "photos/file_0.jpg");
    let pdf = fake.host_file(b"%PDF-1.4 invoice".to_vec(), "documents/file_1.pdf");
    let voice = fake.host_file(b"OggS\0\x02 voice".to_vec(), "voice/file_2.oga");
    let u = |content: Value| FakeTelegram::message_update(USER, "Kerry", content);
    let updates = vec![
        u(json!({ "text": "Does the crown come in another shade?" })),
        u(json!({ "photo": [{ "file_id": "AgACsmall", "file_unique_id": "AQADs", "width": 90, "height": 67 },
                            { "file_id": photo, "file_unique_id": "AQADb", "width": 800, "height": 600, "file_size": JPEG.len() }],
                  "caption": "This tooth" })),
        u(
            json!({ "document": { "file_id": pdf, "file_unique_id": "AgADd", "file_name": "invoice.pdf", "mime_type": "application/pdf" } }),
        ),
        u(json!({ "voice": { "file_id": voice, "file_unique_id": "AgADv", "duration": 3, "mime_type": "audio/ogg" } })),
        u(json!({ "location": { "latitude": 37.483307, "longitude": -122.148981 } })),
        u(json!({ "contact": { "phone_number": "14155550123", "first_name": "Kerry", "user_id": USER } })),
    ];
    for update in &updates {
        assert_eq!(post(update).await.unwrap().status(), 200);
    }
    // Telegram retries: the same update is stored once.
    assert_eq!(post(&updates[0]).await.unwrap().status(), 200);
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
            "Shared a location — https://www.openstreetmap.org/?mlat=37.483307&mlon=-122.148981#map=17/37.483307/-122.148981",
            "Shared a contact: Kerry, 14155550123",
        ]
    );
    // The files come through getFile, the largest photo size.
    let media = t
        .eventually(|| async {
            let all: Vec<Value> = messages_in(&t, &agent, conv)
                .await
                .iter()
                .flat_map(|m| m["media"].as_array().unwrap().clone())
                .collect();
            (all.len() == 3 && all.iter().all(|x| x["state"] == "stored")).then_some(all)
        })
        .await;
    let picture = t.client.get(media[0]["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(picture.headers()["content-type"], "image/jpeg");
    assert_eq!(picture.bytes().await.unwrap().to_vec(), JPEG);
    assert!(fake.file_requests() >= 3);
    // One customer, one history: their own number joined the SMS contact, named from Telegram.
    let c = json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await;
    let sms_conv = conversations_of(&t, &agent, sms).await;
    assert_eq!(c["contact_id"], sms_conv[0]["contact_id"], "{c} vs {sms_conv:?}");
    let contact = json(t.get(&agent, &format!("/api/v1/contacts/{}", c["contact_id"])).await).await;
    assert_eq!(contact["name"], "Kerry", "{contact}");
    // Telegram carries no calls: its conversation offers no "Call now"; the customer's SMS conversation does.
    let ui = t.browser("dana@example.com").await;
    let page_of = |id: &Value| t.url(&format!("/conversations/{id}"));
    let tg_page = ui.get(page_of(&json!(conv))).send().await.unwrap().text().await.unwrap();
    let sms_page = ui.get(page_of(&sms_conv[0]["id"])).send().await.unwrap().text().await.unwrap();
    assert!(!tg_page.contains("id=\"call-now\"") && tg_page.contains("id=\"escalate-callback\""), "{tg_page}");
    assert!(sms_page.contains("id=\"call-now\""), "the simulator's SMS inbox can call");
    let ids: Vec<String> = contact["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("{}:{}", i["namespace"].as_str().unwrap(), i["address"].as_str().unwrap()))
        .collect();
    assert_eq!(ids, [format!("phone:{PHONE}"), format!("telegram:{USER}")]);
    let all_contacts = json(t.get(&agent, "/api/v1/contacts").await).await;
    let listed = all_contacts["items"].as_array().or(all_contacts.as_array()).unwrap().len();
    assert_eq!(listed, 1, "the chat's own contact was folded in: {all_contacts}");

    // What is not Telegram's, or not for an inbox to keep: nothing stored.
    let before = stored_message_count(&t, &agent).await;
    let forged = serde_json::to_vec(&u(json!({ "text": "forged" }))).unwrap();
    assert_eq!(fake.post_update(&url, forged.clone(), Some("guess")).await.unwrap().status(), 403);
    assert_eq!(fake.post_update(&url, forged.clone(), None).await.unwrap().status(), 403);
    let other_inbox = webhook_secret(fake.token(), inbox + 1);
    assert_eq!(fake.post_update(&url, forged, Some(&other_inbox)).await.unwrap().status(), 403);
    let r = fake.post_update(&url, b"{\"update_id\": 1, \"message\":".to_vec(), Some(&secret)).await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("not a Telegram update"));
    let edited = json!({ "update_id": 99, "edited_message": updates[0]["message"] });
    assert_eq!(post(&edited).await.unwrap().status(), 200, "Telegram holds back later updates until a 200");
    let mut group = u(json!({ "text": "hi all" }));
    group["message"]["chat"] = json!({ "id": -1001234, "type": "supergroup", "title": "Patients" });
    assert_eq!(post(&group).await.unwrap().status(), 200);
    let huge = vec![b' '; 1024 * 1024 + 1];
    assert_eq!(fake.post_update(&url, huge, Some(&secret)).await.unwrap().status(), 413);
    assert_eq!(stored_message_count(&t, &agent).await, before);

    // A reply goes out with sendMessage, exactly.
    let r = t
        .post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Yes: ivory or white." }))
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(t.dispatch_all().await, 1);
    let (method, sent, id) = fake.sent().last().cloned().unwrap();
    assert_eq!((method.as_str(), sent), ("sendMessage", json!({ "chat_id": USER, "text": "Yes: ivory or white." })));
    let reply = messages_in(&t, &agent, conv).await.into_iter().find(|m| m["direction"] == "outbound").unwrap();
    assert_eq!(reply["status"], "sent");
    assert_eq!(reply["provider_id"], format!("{USER}:{id}"));

    // A picture goes with sendPhoto by our signed link, the text as its caption.
    let up = t.client.post(t.url("/api/v1/media")).bearer_auth(&agent).header("content-type", "image/png");
    let media_id = json(up.body(PNG.to_vec()).send().await.unwrap()).await["id"].as_i64().unwrap();
    let r = t
        .post(
            &agent,
            &format!("/api/v1/conversations/{conv}/messages"),
            json!({ "body": "Like this one", "media_ids": [media_id] }),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(t.dispatch_all().await, 1);
    let (method, sent, _) = fake.sent().last().cloned().unwrap();
    assert_eq!(
        (method.as_str(), sent["chat_id"].as_i64(), sent["caption"].as_str()),
        ("sendPhoto", Some(USER), Some("Like this one"))
    );
    let link = sent["photo"].as_str().unwrap();
    assert_eq!(t.client.get(link).send().await.unwrap().bytes().await.unwrap().to_vec(), PNG);

    // The customer blocked the bot: Telegram refuses, and that is their opt-out.
    fake.fail_next(1, 403, "Forbidden: bot was blocked by the user");
    t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Still there?" })).await;
    t.dispatch_all().await;
    let m = messages_in(&t, &agent, conv).await.into_iter().rev().find(|m| m["direction"] == "outbound").unwrap();
    assert_eq!(m["status"], "failed", "{m}");
    let r = t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Hello?" })).await;
    assert_eq!(r.status(), 409, "nothing more goes to a customer who blocked the bot");
}
both_backends!(telegram_round_trip);

async fn blocking_the_bot_is_an_opt_out_and_the_webhook_registers_again_from_settings(db: Db) {
    let fake = FakeTelegram::start().await.unwrap();
    let t = app(db).start().await;
    let (inbox, url) = telegram_inbox(&t, &fake).await;
    let secret = webhook_secret(fake.token(), inbox);
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let hello = FakeTelegram::message_update(USER, "Kerry", json!({ "text": "/start" }));
    fake.post_update(&url, serde_json::to_vec(&hello).unwrap(), Some(&secret)).await.unwrap();
    let conv = conversations_of(&t, &agent, inbox).await[0]["id"].as_i64().unwrap();
    // Telegram's my_chat_member update when the customer blocks the bot.
    let member = |old: &str, new: &str| {
        json!({ "update_id": rand_id(), "my_chat_member": {
            "chat": { "id": USER, "first_name": "Kerry", "type": "private" },
            "from": { "id": USER, "is_bot": false, "first_name": "Kerry" }, "date": jiff::Timestamp::now().as_second(),
            "old_chat_member": { "user": { "id": fake.bot_id(), "is_bot": true, "first_name": "Test Dental" }, "status": old },
            "new_chat_member": { "user": { "id": fake.bot_id(), "is_bot": true, "first_name": "Test Dental" }, "status": new, "until_date": 0 } } })
    };
    let r =
        fake.post_update(&url, serde_json::to_vec(&member("member", "kicked")).unwrap(), Some(&secret)).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Hello?" })).await;
    assert_eq!(r.status(), 409, "blocked by the customer's own opt-out");
    let contact =
        json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await["contact_id"].as_i64().unwrap();
    let ledger = json(t.get(&agent, &format!("/api/v1/contacts/{contact}/consent")).await).await;
    let rows = ledger["items"].as_array().or(ledger.as_array()).unwrap().clone();
    assert_eq!((rows[0]["kind"].as_str(), rows[0]["source"].as_str()), (Some("opt_out"), Some("provider")), "{ledger}");
    assert_eq!(rows[0]["evidence"], "Blocked the bot in Telegram");
    assert!(fake.sent().is_empty(), "no confirmation is sent to a customer who blocked the bot");
    let r =
        fake.post_update(&url, serde_json::to_vec(&member("kicked", "member")).unwrap(), Some(&secret)).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Welcome back" })).await;
    assert_eq!(r.status(), 201);

    // "Register webhook" on the settings page tells Telegram again (admins only).
    let admin = t.browser("owner@example.com").await;
    let page_url = t.url(&format!("/settings/inboxes/{inbox}"));
    let page = admin.get(&page_url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Register webhook") && page.contains(&url), "the address with its button");
    assert!(!page.contains(fake.token()) && !page.contains(&secret), "secrets are write-only");
    let csrf = csrf_of(&page);
    let register = format!("/settings/inboxes/{inbox}/webhook/register");
    let agent_ui = t.browser("dana@example.com").await;
    let agent_page = agent_ui.get(t.url("/inbox")).send().await.unwrap().text().await.unwrap();
    let r = agent_ui.post(t.url(&register)).form(&[("csrf", csrf_of(&agent_page))]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = admin.post(t.url(&register)).form(&[("csrf", csrf.clone())]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let shown = admin.get(r.headers()["location"].to_str().map(|l| t.url(l)).unwrap()).send().await.unwrap();
    assert!(shown.text().await.unwrap().contains("Telegram will post to this address."));
    assert_eq!(fake.webhook(), Some((url, secret)));
}
both_backends!(blocking_the_bot_is_an_opt_out_and_the_webhook_registers_again_from_settings);

fn rand_id() -> i64 {
    jiff::Timestamp::now().as_nanosecond() as i64 % 1_000_000_000
}

/// An agent's voice note, recording and video reach the customer as
/// Telegram plays them (sendVoice, sendAudio, sendVideo), not as files to
/// open; a recording Telegram cannot play still goes, as a document.
async fn voice_notes_recordings_and_videos_go_as_themselves(db: Db) {
    let fake = FakeTelegram::start().await.unwrap();
    let t = app(db).start().await;
    let (inbox, url) = telegram_inbox(&t, &fake).await;
    let secret = webhook_secret(fake.token(), inbox);
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let hello = FakeTelegram::message_update(USER, "Kerry", json!({ "text": "Can you send the directions?" }));
    fake.post_update(&url, serde_json::to_vec(&hello).unwrap(), Some(&secret)).await.unwrap();
    let conv = conversations_of(&t, &agent, inbox).await[0]["id"].as_i64().unwrap();
    let files: [(&str, &[u8], &str, &str); 4] = [
        ("audio/ogg", b"OggS\x00\x02 opus voice note", "sendVoice", "voice"),
        ("audio/mpeg", b"ID3\x04\x00 an mp3 recording", "sendAudio", "audio"),
        ("video/mp4", b"\x00\x00\x00\x18ftypmp42 a video", "sendVideo", "video"),
        ("audio/amr", b"#!AMR\n a phone recording", "sendDocument", "document"),
    ];
    for (content_type, bytes, method, field) in files {
        let up = t.client.post(t.url("/api/v1/media")).bearer_auth(&agent).header("content-type", content_type);
        let r = up.body(bytes.to_vec()).send().await.unwrap();
        assert_eq!(r.status(), 201, "{content_type}");
        let media_id = json(r).await["id"].as_i64().unwrap();
        let path = format!("/api/v1/conversations/{conv}/messages");
        let r = t.post(&agent, &path, json!({ "body": "Here you go", "media_ids": [media_id] })).await;
        assert_eq!(r.status(), 201, "{content_type}");
        assert_eq!(t.dispatch_all().await, 1);
        let (sent_by, sent, _) = fake.sent().last().cloned().unwrap();
        assert_eq!((sent_by.as_str(), sent["caption"].as_str()), (method, Some("Here you go")), "{content_type}");
        let link = sent[field].as_str().unwrap();
        assert_eq!(t.client.get(link).send().await.unwrap().bytes().await.unwrap().to_vec(), bytes, "{content_type}");
    }
    let statuses: Vec<Value> = messages_in(&t, &agent, conv)
        .await
        .into_iter()
        .filter(|m| m["direction"] == "outbound")
        .map(|m| m["status"].clone())
        .collect();
    assert_eq!(statuses, vec![json!("sent"); 4]);
}
both_backends!(voice_notes_recordings_and_videos_go_as_themselves);

/// `POST /api/v1/inboxes/{id}/webhook-registration`: the settings button's
/// service for scripts. Telegram is told the address with the inbox's secret;
/// a provider that takes its address only in its console gets the address and
/// where to paste it; agents may not.
async fn the_api_registers_the_webhook_or_says_where_to_paste_it(db: Db) {
    let fake = FakeTelegram::start().await.unwrap();
    let t = app(db).start().await;
    let (inbox, url) = telegram_inbox(&t, &fake).await;
    let admin = t.token_for("lee@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    fake.forget_webhook();
    let path = format!("/api/v1/inboxes/{inbox}/webhook-registration");
    assert_eq!(t.post(&agent, &path, json!({})).await.status(), 403);
    assert!(fake.webhook().is_none());
    let r = t.post(&admin, &path, json!({})).await;
    assert_eq!(r.status(), 200);
    let answer = json(r).await;
    assert_eq!((answer["registered"].as_bool(), answer["provider"].as_str()), (Some(true), Some("Telegram")));
    assert_eq!(answer["webhooks"], json!([{ "name": "inbound", "label": "Webhook URL", "url": url }]));
    assert!(!answer.to_string().contains(fake.token()), "{answer}");
    assert_eq!(fake.webhook(), Some((url, webhook_secret(fake.token(), inbox))));

    let missing = t.post(&admin, "/api/v1/inboxes/999999/webhook-registration", json!({})).await;
    assert_eq!(missing.status(), 404);

    // Twilio takes its addresses only in its console: both, and where they go.
    let twilio = t
        .services
        .store
        .create_inbox(textdesk_store::NewInbox {
            account_id: t.account_id,
            name: "Twilio".into(),
            provider: "twilio".into(),
            medium: textdesk_core::Medium::Sms,
            sender: "+14155550100".into(),
            settings: json!({}),
            secrets: json!({}),
        })
        .await
        .unwrap()
        .id;
    let r = t.post(&admin, &format!("/api/v1/inboxes/{twilio}/webhook-registration"), json!({})).await;
    assert_eq!(r.status(), 200);
    let answer = json(r).await;
    assert_eq!(answer["registered"], false);
    let names: Vec<&str> = answer["webhooks"].as_array().unwrap().iter().map(|h| h["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["inbound", "status"]);
    assert!(answer["webhooks"][1]["url"].as_str().unwrap().ends_with(&format!("/webhooks/twilio/{twilio}/status")));
    assert_eq!(
        answer["instructions"],
        "In the Twilio console, open this number (or its messaging service) and paste these."
    );
}
both_backends!(the_api_registers_the_webhook_or_says_where_to_paste_it);
