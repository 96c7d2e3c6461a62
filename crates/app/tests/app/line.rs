//! LINE end to end, over real HTTP on both backends: an inbox against the
//! fake Messaging API (the token checked, the webhook endpoint set), a follow
//! recorded as the customer's own opt-in, every message kind and a postback
//! signed as LINE signs them landing in one conversation (content fetched
//! with the token), a redelivery stored once, a reply by reply token while
//! it is fresh and by push after, an unfollow as their opt-out, and bad
//! requests storing nothing.

use crate::common;

use common::*;
use serde_json::{Value, json};
use textdesk_channels::line::{FakeLine, compute_signature};
use textdesk_core::Role;

const BASIC_ID: &str = "@123abcde";
const USER: &str = "U4af4980629c8f5d8a2e0e1f3b6c0d9a1";

pub(crate) async fn line_inbox(t: &TestApp, fake: &FakeLine) -> (i64, String) {
    let admin = t.token_for("owner@example.com", Role::Admin).await;
    let setup = |token: &str| {
        json!({ "name": "LINE", "channel_kind": "line", "sender": BASIC_ID,
                "line": { "channel_secret": fake.channel_secret(), "channel_access_token": token,
                          "api_base": fake.api_url(), "data_base": fake.data_url() } })
    };
    let r = t.post(&admin, "/api/v1/inboxes", setup("not-the-token")).await;
    assert_eq!(r.status(), 422);
    let detail = json(r).await["detail"].as_str().unwrap().to_owned();
    assert!(detail.starts_with("LINE did not accept the channel access token."), "{detail}");
    let r = t.post(&admin, "/api/v1/inboxes", setup(fake.access_token())).await;
    assert_eq!(r.status(), 201);
    let inbox = json(r).await;
    for secret in [fake.access_token(), fake.channel_secret()] {
        assert!(!inbox.to_string().contains(secret), "secrets are never shown again: {inbox}");
    }
    let url = inbox["webhook_urls"]["inbound"].as_str().unwrap().to_owned();
    assert_eq!(fake.endpoint().as_deref(), Some(url.as_str()), "adding the inbox set LINE's webhook endpoint");
    (inbox["id"].as_i64().unwrap(), url)
}

async fn ledger(t: &TestApp, token: &str, conv: i64) -> Vec<Value> {
    let c = json(t.get(token, &format!("/api/v1/conversations/{conv}")).await).await;
    let l = json(t.get(token, &format!("/api/v1/contacts/{}/consent", c["contact_id"])).await).await;
    l["items"].as_array().or(l.as_array()).unwrap().clone()
}

async fn line_round_trip(db: Db) {
    let fake = FakeLine::start().await.unwrap();
    let hosts = fake.private_hosts();
    let t = app(db).config(move |c| c.media_allow_private_hosts = hosts).start().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let (inbox, url) = line_inbox(&t, &fake).await;

    // The customer adds the account as a friend: their own opt-in.
    let follow = fake.event(USER, "follow", json!({ "follow": { "isUnblocked": false } }));
    assert_eq!(fake.post_webhook(&url, &FakeLine::payload(vec![follow])).await.unwrap().status(), 200);
    let conv = conversations_of(&t, &agent, inbox).await[0]["id"].as_i64().unwrap();
    let rows = ledger(&t, &agent, conv).await;
    assert_eq!(
        (rows[0]["kind"].as_str(), rows[0]["evidence"].as_str()),
        (Some("opt_in"), Some("Added the business as a friend on LINE"))
    );

    // Every message kind and a postback, in one delivery as LINE batches them.
    let png = PNG.to_vec();
    let mp4 = b"\0\0\0\x18ftypmp42 video".to_vec();
    let m4a = b"\0\0\0\x18ftypM4A  voice".to_vec();
    let pdf = b"%PDF-1.4 invoice".to_vec();
    let line_content = json!({ "type": "line" });
    let events = vec![
        fake.message_event(USER, json!({ "type": "text", "text": "Does the crown come in another shade?" })),
        fake.message_event(USER, json!({ "type": "image", "id": fake.host_content(png.clone(), "image/png"), "contentProvider": line_content })),
        fake.message_event(USER, json!({ "type": "video", "id": fake.host_content(mp4, "video/mp4"), "duration": 6000, "contentProvider": line_content })),
        fake.message_event(USER, json!({ "type": "audio", "id": fake.host_content(m4a, "audio/mp4"), "duration": 3000, "contentProvider": line_content })),
        fake.message_event(USER, json!({ "type": "file", "id": fake.host_content(pdf, "application/pdf"), "fileName": "invoice.pdf", "fileSize": 16 })),
        fake.message_event(USER, json!({ "type": "location", "title": "my location", "address": "Tokyo", "latitude": 35.65910807942215, "longitude": 139.70372892916203 })),
        fake.message_event(USER, json!({ "type": "sticker", "packageId": "446", "stickerId": "1988", "stickerResourceType": "STATIC", "keywords": ["Happy", "Smile"] })),
        fake.event(USER, "postback", json!({ "postback": { "data": "action=reschedule&visit=42", "params": { "datetime": "2026-12-08T09:00" } } })),
    ];
    let body = FakeLine::payload(events);
    assert_eq!(fake.post_webhook(&url, &body).await.unwrap().status(), 200);
    // LINE redelivers a failed delivery with the same ids: stored once.
    let mut again = body.clone();
    for e in again["events"].as_array_mut().unwrap() {
        e["deliveryContext"]["isRedelivery"] = json!(true);
    }
    assert_eq!(fake.post_webhook(&url, &again).await.unwrap().status(), 200);
    let got = messages_in(&t, &agent, conv).await;
    let bodies: Vec<&str> = got.iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(
        bodies,
        [
            "Added the business as a friend on LINE",
            "Does the crown come in another shade?",
            "",
            "",
            "",
            "invoice.pdf",
            "Shared a location: my location, Tokyo — https://www.openstreetmap.org/?mlat=35.659108&mlon=139.703729#map=17/35.659108/139.703729",
            "Sent a sticker: Happy, Smile",
            "Chose: action=reschedule&visit=42 (2026-12-08T09:00)",
        ]
    );
    let media = t
        .eventually(|| async {
            let all: Vec<Value> = messages_in(&t, &agent, conv)
                .await
                .iter()
                .flat_map(|m| m["media"].as_array().unwrap().clone())
                .collect();
            (all.len() == 4 && all.iter().all(|x| x["state"] == "stored")).then_some(all)
        })
        .await;
    assert!(fake.content_saw_token(), "the content API is asked with the channel's token");
    let picture = t.client.get(media[0]["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(picture.bytes().await.unwrap().to_vec(), png);

    // What LINE sends that is not kept, or is not LINE's: nothing stored.
    let before = stored_message_count(&t, &agent).await;
    let mut group = fake.message_event(USER, json!({ "type": "text", "text": "hi all" }));
    group["source"] = json!({ "type": "group", "groupId": "Ca56f94637cc4347f90a25382909b24b9", "userId": USER });
    let unknown = fake.event(USER, "videoPlayComplete", json!({ "videoPlayComplete": { "trackingId": "t" } }));
    let r = fake.post_webhook(&url, &FakeLine::payload(vec![group, unknown])).await.unwrap();
    assert_eq!(r.status(), 200, "LINE counts anything else as a failed delivery");
    assert_eq!(
        fake.post_webhook(&url, &FakeLine::payload(vec![])).await.unwrap().status(),
        200,
        "the console's Verify"
    );
    let forged = serde_json::to_vec(&FakeLine::payload(vec![
        fake.message_event(USER, json!({ "type": "text", "text": "forged" })),
    ]))
    .unwrap();
    assert_eq!(fake.post_raw(&url, forged.clone(), Some("another-channel-secret")).await.unwrap().status(), 403);
    assert_eq!(fake.post_raw(&url, forged.clone(), None).await.unwrap().status(), 403);
    let signed_for_other = compute_signature(fake.channel_secret(), b"{\"events\":[]}");
    let r = t.client.post(&url).header("x-line-signature", signed_for_other).body(forged).send().await.unwrap();
    assert_eq!(r.status(), 403, "a signature over another body");
    let r = fake
        .post_raw(&url, b"{\"destination\":\"U1\",\"events\":".to_vec(), Some(fake.channel_secret()))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("not a LINE webhook"));
    let huge = vec![b' '; 1024 * 1024 + 1];
    assert_eq!(fake.post_raw(&url, huge, Some(fake.channel_secret())).await.unwrap().status(), 413);
    assert_eq!(stored_message_count(&t, &agent).await, before);

    // A quick answer goes by reply with the newest event's token; the next by push.
    let messages = format!("/api/v1/conversations/{conv}/messages");
    let post_reply = |text: &str| t.post(&agent, &messages, json!({ "body": text }));
    assert_eq!(post_reply("Tuesday at 9 works.").await.status(), 201);
    assert_eq!(t.dispatch_all().await, 1);
    let postback_token = body["events"][7]["replyToken"].as_str().unwrap();
    let (kind, sent, ids) = fake.sent().last().cloned().unwrap();
    assert_eq!(kind, "reply");
    assert_eq!(
        sent,
        json!({ "replyToken": postback_token, "messages": [{ "type": "text", "text": "Tuesday at 9 works." }] })
    );
    let m = messages_in(&t, &agent, conv).await.into_iter().rev().find(|m| m["direction"] == "outbound").unwrap();
    assert_eq!((m["status"].as_str(), m["provider_id"].as_str()), (Some("sent"), Some(ids[0].as_str())));
    assert_eq!(post_reply("See you then.").await.status(), 201);
    assert_eq!(t.dispatch_all().await, 1);
    let (kind, sent, _) = fake.sent().last().cloned().unwrap();
    assert_eq!(
        (kind.as_str(), sent),
        ("push", json!({ "to": USER, "messages": [{ "type": "text", "text": "See you then." }] }))
    );
    // LINE's refusal in words.
    fake.fail_next(1, 400, "The request body has 1 error(s)");
    assert_eq!(post_reply("And the price?").await.status(), 201);
    t.dispatch_all().await;
    let m = messages_in(&t, &agent, conv).await.into_iter().rev().find(|m| m["direction"] == "outbound").unwrap();
    assert_eq!(m["status"], "failed");
    assert!(m["error"].as_str().unwrap().starts_with("LINE refused the message (HTTP 400)"), "{m}");

    // Blocking the account is the customer's opt-out: nothing more goes.
    let unfollow = fake.event(USER, "unfollow", json!({}));
    assert_eq!(fake.post_webhook(&url, &FakeLine::payload(vec![unfollow])).await.unwrap().status(), 200);
    assert_eq!(post_reply("Hello?").await.status(), 409);
    let rows = ledger(&t, &agent, conv).await;
    let latest = rows.iter().max_by_key(|r| r["id"].as_i64()).unwrap();
    assert_eq!(
        (latest["kind"].as_str(), latest["evidence"].as_str()),
        (Some("opt_out"), Some("Blocked the business on LINE"))
    );
    let sent_before = fake.sent().len();
    t.dispatch_all().await;
    assert_eq!(fake.sent().len(), sent_before, "no confirmation to someone who blocked the account");
}
both_backends!(line_round_trip);
