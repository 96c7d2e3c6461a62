//! WhatsApp templates with every part Meta's Cloud API takes, on both
//! backends against the fake Graph API (which checks each send against the
//! template as Meta does): a synced template's header (text with a variable,
//! or a document by link) and buttons (a quick reply's payload, a URL's
//! ending) listed by the API, asked for by the composer's picker, checked
//! before anything is stored, and sent as `components` of type header, body
//! and button; and the notifications API sending an approved template to a
//! customer whose 24 hours are over, through the gate, where free text is
//! refused.

use crate::common;

use common::*;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use textdesk_channels::whatsapp::FakeWhatsApp;
use textdesk_core::Role;

const WA_ID: &str = "16315551181";

/// A WhatsApp inbox against the fake, a customer who last wrote 25 hours ago
/// (at midday on their clock now), and the account's templates synced.
/// Returns the app, the inbox, the conversation, the sync's answer and an agent's token.
async fn closed_window(db: Db, fake: &FakeWhatsApp) -> (TestApp, i64, i64, Value, String) {
    let t = app(db).start().await;
    let admin = t.token_for("owner@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let setup = json!({ "name": "WhatsApp", "channel_kind": "whatsapp", "sender": "+14155550100",
        "whatsapp": { "phone_number_id": fake.phone_number_id(), "waba_id": fake.waba_id(), "access_token": fake.access_token(),
                      "app_secret": fake.app_secret(), "verify_token": fake.verify_token(), "graph_base": fake.base_url() } });
    let inbox = json(t.post(&admin, "/api/v1/inboxes", setup).await).await;
    let (inbox, url) = (inbox["id"].as_i64().unwrap(), inbox["webhook_urls"]["inbound"].as_str().unwrap().to_owned());
    let mut old = FakeWhatsApp::message(WA_ID, "text", json!({ "body": "Is my order ready?" }));
    old["timestamp"] = json!((Timestamp::now() - SignedDuration::from_hours(25)).as_second().to_string());
    assert_eq!(fake.post_webhook(&url, &fake.messages_payload(WA_ID, "Kerry", vec![old])).await.unwrap().status(), 200);
    let conv = conversations_of(&t, &agent, inbox).await[0]["id"].as_i64().unwrap();
    t.move_contact_to(&agent, conv, &common::zone_at_hour(12).0).await;

    // As Meta lists them (the Business Management API's message_templates).
    fake.add_template_with(
        "order_ready",
        "en_US",
        json!([
            { "type": "HEADER", "format": "DOCUMENT", "example": { "header_handle": ["4::YXBwbGljYXRpb24vcGRm"] } },
            { "type": "BODY", "text": "Hi {{1}}, your order {{2}} is ready.", "example": { "body_text": [["Kerry", "A-17"]] } },
            { "type": "FOOTER", "text": "Test Dental" },
            { "type": "BUTTONS", "buttons": [
                { "type": "QUICK_REPLY", "text": "Pick up today" },
                { "type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+14155550100" },
                { "type": "URL", "text": "Track", "url": "https://shop.example/t/{{1}}", "example": ["https://shop.example/t/A-17"] } ] }
        ]),
    );
    fake.add_template_with(
        "greeting",
        "en_US",
        json!([
            { "type": "HEADER", "format": "TEXT", "text": "Hello {{1}}", "example": { "header_text": ["Kerry"] } },
            { "type": "BODY", "text": "We have news about your visit." }
        ]),
    );
    let synced = json(t.post(&admin, &format!("/api/v1/inboxes/{inbox}/templates/sync"), json!({})).await).await;
    assert_eq!(synced["synced"], 2, "{synced}");
    (t, inbox, conv, synced, agent)
}

fn id_of(synced: &Value, name: &str) -> i64 {
    synced["templates"].as_array().unwrap().iter().find(|x| x["name"] == name).unwrap()["id"].as_i64().unwrap()
}

async fn headers_and_buttons_are_asked_for_and_sent_as_meta_takes_them(db: Db) {
    let fake = FakeWhatsApp::start().await.unwrap();
    let (t, _inbox, conv, synced, agent) = closed_window(db, &fake).await;
    let order = synced["templates"].as_array().unwrap().iter().find(|x| x["name"] == "order_ready").unwrap().clone();
    assert_eq!((order["header"].as_str(), order["variables"].as_u64()), (Some("a document"), Some(2)));
    assert_eq!(
        order["buttons"],
        json!([
            { "index": 0, "kind": "quick_reply", "text": "Pick up today", "url": null, "needs_value": false },
            { "index": 1, "kind": "other", "text": "Call us", "url": null, "needs_value": false },
            { "index": 2, "kind": "url", "text": "Track", "url": "https://shop.example/t/{{1}}", "needs_value": true }
        ])
    );

    // What is missing or not the template's is refused before anything is stored.
    let path = format!("/api/v1/conversations/{conv}/messages");
    let send = |template: Value| t.post(&agent, &path, json!({ "template": template }));
    let id = id_of(&synced, "order_ready");
    let link = "https://files.example.com/orders/A-17.pdf";
    for (template, words) in [
        (
            json!({ "id": id, "values": ["Kerry", "A-17"], "buttons": [{ "index": 2, "value": "A-17" }] }),
            "give its link",
        ),
        (json!({ "id": id, "values": ["Kerry", "A-17"], "header": link }), "ending of button 2 (Track)"),
        (
            json!({ "id": id, "values": ["Kerry", "A-17"], "header": "http://files.example.com/a.pdf",
                    "buttons": [{ "index": 2, "value": "A-17" }] }),
            "public https:// address",
        ),
        (
            json!({ "id": id, "values": ["Kerry", "A-17"], "header": link,
                    "buttons": [{ "index": 1, "value": "x" }, { "index": 2, "value": "A-17" }] }),
            "button 1 of this template takes no value",
        ),
    ] {
        let r = send(template).await;
        assert_eq!(r.status(), 422);
        let detail = json(r).await["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(words), "{detail}");
    }
    assert_eq!(messages_in(&t, &agent, conv).await.len(), 1, "nothing stored");

    // All of it: the document header, the body, a quick reply's payload and the URL's ending.
    let r = send(json!({ "id": id, "values": ["Kerry", "A-17"], "header": link,
                         "buttons": [{ "index": 2, "value": "A-17" }, { "index": 0, "value": "PICKUP-A-17" }] }))
    .await;
    assert_eq!(r.status(), 201);
    assert_eq!(t.dispatch_all().await, 1);
    let (_, sent) = fake.sent().last().cloned().unwrap();
    assert_eq!(
        sent["template"],
        json!({ "name": "order_ready", "language": { "code": "en_US" }, "components": [
            { "type": "header", "parameters": [{ "type": "document", "document": { "link": link } }] },
            { "type": "body", "parameters": [{ "type": "text", "text": "Kerry" }, { "type": "text", "text": "A-17" }] },
            { "type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{ "type": "payload", "payload": "PICKUP-A-17" }] },
            { "type": "button", "sub_type": "url", "index": "2", "parameters": [{ "type": "text", "text": "A-17" }] }
        ] })
    );
    let m = messages_in(&t, &agent, conv).await.into_iter().rfind(|m| m["direction"] == "outbound").unwrap();
    assert_eq!((m["status"].as_str(), m["body"].as_str()), (Some("sent"), Some("Hi Kerry, your order A-17 is ready.")));

    // The composer's picker asks for the header's {{1}}, the file's link and the buttons' values.
    let browser = t.browser("dana@example.com").await;
    let page = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Value for {{1}} in the header"), "{page}");
    assert!(page.contains("Link to the header file (a document, public https address)"));
    assert!(page.contains("Ending of the address of the “Track” button (https://shop.example/t/{{1}})"));
    assert!(page.contains("Payload of the “Pick up today” button (optional"));
    assert!(!page.contains("name=\"button_1\""), "a phone button takes no value");
    let form =
        [("csrf", csrf_of(&page)), ("template_id", id_of(&synced, "greeting").to_string()), ("header", "Kerry".into())];
    let r = browser.post(t.url(&format!("/conversations/{conv}/template"))).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(t.dispatch_all().await, 1);
    let (_, sent) = fake.sent().last().cloned().unwrap();
    assert_eq!(
        sent["template"]["components"],
        json!([{ "type": "header", "parameters": [{ "type": "text", "text": "Kerry" }] }])
    );
    let m = messages_in(&t, &agent, conv).await.into_iter().rfind(|m| m["direction"] == "outbound").unwrap();
    assert_eq!(m["body"], "Hello Kerry\n\nWe have news about your visit.");
}
both_backends!(headers_and_buttons_are_asked_for_and_sent_as_meta_takes_them);

async fn a_notification_reaches_a_customer_outside_the_window_only_as_a_template(db: Db) {
    let fake = FakeWhatsApp::start().await.unwrap();
    let (t, inbox, conv, _synced, agent) = closed_window(db, &fake).await;
    let contact = json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await["contact_id"].clone();
    let consent = json!({ "source": "in_person", "evidence": "Asked for order news at the counter" });

    // Free text is refused by the gate: WhatsApp's 24 hours are over.
    let r = t
        .post(
            &agent,
            "/api/v1/notifications",
            json!({ "contact_id": contact, "inbox_id": inbox, "body": "Your order is ready", "consent": consent }),
        )
        .await;
    assert_eq!(r.status(), 409);
    let problem = json(r).await;
    assert_eq!(problem["reason"], "reply_window_closed", "{problem}");

    // Bad input is a clear 422, nothing sent.
    for (template, words) in [
        (json!({ "name": "no_such_template" }), "no template \"no_such_template\""),
        (json!({ "name": "order_ready", "values": ["Kerry"] }), "takes 2 values"),
        (json!({ "name": "order_ready", "language": "de_DE", "values": ["Kerry", "A-17"] }), "in de_DE"),
    ] {
        let ask = json!({ "contact_id": contact, "inbox_id": inbox, "provider_template": template });
        let r = t.post(&agent, "/api/v1/notifications", ask).await;
        assert_eq!(r.status(), 422);
        let detail = json(r).await["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(words), "{detail}");
    }
    let both =
        json!({ "contact_id": contact, "inbox_id": inbox, "body": "Hi", "provider_template": { "name": "greeting" } });
    assert_eq!(t.post(&agent, "/api/v1/notifications", both).await.status(), 422);
    assert!(fake.sent().is_empty());

    // The approved template goes, with every part filled.
    let ask = json!({ "contact_id": contact, "inbox_id": inbox, "consent": consent,
        "provider_template": { "name": "order_ready", "language": "en_US", "values": ["Kerry", "A-17"],
            "header": "https://files.example.com/orders/A-17.pdf", "buttons": [{ "index": 2, "value": "A-17" }] } });
    let r = t.post(&agent, "/api/v1/notifications", ask).await;
    assert_eq!(r.status(), 201);
    let sent = json(r).await;
    assert_eq!((sent["status"].as_str(), sent["conversation_id"].as_i64()), (Some("queued"), Some(conv)), "{sent}");
    assert_eq!(t.dispatch_all().await, 1);
    let (_, got) = fake.sent().last().cloned().unwrap();
    let to = got["to"].as_str().map(|t| t.trim_start_matches('+'));
    assert_eq!((got["type"].as_str(), to), (Some("template"), Some(WA_ID)), "{got}");
    let kinds: Vec<&str> =
        got["template"]["components"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["header", "body", "button"]);
    let m = messages_in(&t, &agent, conv).await.into_iter().rfind(|m| m["direction"] == "outbound").unwrap();
    assert_eq!((m["status"].as_str(), m["template"].as_str()), (Some("sent"), Some("order_ready")));
}
both_backends!(a_notification_reaches_a_customer_outside_the_window_only_as_a_template);
