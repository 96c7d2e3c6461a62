//! A WeChat Official Account end to end, over real HTTP on both backends: an
//! inbox against the fake WeChat API (credentials checked by fetching a
//! token), the `echostr` check, every inbound kind signed as WeChat signs it
//! (media fetched by MediaId with the token), following and unfollowing as
//! the customer's own opt-in and opt-out, replies through the
//! customer-service API with the token kept and fetched again when WeChat
//! retires it, the 48-hour window, safe mode (encrypted messages, wrong keys
//! and signatures refused), and bad requests storing nothing.

use crate::common;

use common::*;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use textdesk_channels::wechat::FakeWechat;
use textdesk_core::Role;

const OPENID: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";

/// Adds a WeChat inbox pointed at the fake (in safe mode when `safe`); returns its id and server address.
async fn wechat_inbox(t: &TestApp, fake: &FakeWechat, safe: bool) -> (i64, String) {
    let admin = t.token_for("owner@example.com", Role::Admin).await;
    let setup = |secret: &str| {
        let mut w = json!({ "app_id": fake.app_id(), "app_secret": secret, "token": fake.token(), "api_base": fake.base_url() });
        if safe {
            w["encoding_aes_key"] = json!(fake.aes_key());
        }
        json!({ "name": "WeChat", "channel_kind": "wechat", "wechat": w })
    };
    let r = t.post(&admin, "/api/v1/inboxes", setup("not-the-secret")).await;
    assert_eq!(r.status(), 422);
    let detail = json(r).await["detail"].as_str().unwrap().to_owned();
    assert!(detail.starts_with("WeChat did not accept the AppSecret."), "{detail}");
    let r = t.post(&admin, "/api/v1/inboxes", setup(fake.app_secret())).await;
    assert_eq!(r.status(), 201);
    let inbox = json(r).await;
    for secret in [fake.app_secret(), fake.token(), fake.aes_key()] {
        assert!(!inbox.to_string().contains(secret), "secrets are never shown again: {inbox}");
    }
    (inbox["id"].as_i64().unwrap(), inbox["webhook_urls"]["inbound"].as_str().unwrap().to_owned())
}

async fn thread(t: &TestApp, token: &str, conv: i64) -> Vec<Value> {
    json(t.get(token, &format!("/api/v1/conversations/{conv}/messages")).await).await.as_array().unwrap().clone()
}

async fn conversations(t: &TestApp, token: &str, inbox: i64) -> Vec<Value> {
    json(t.get(token, &format!("/api/v1/conversations?inbox_id={inbox}")).await).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn wechat_round_trip(db: Db) {
    let fake = FakeWechat::start().await.unwrap();
    let t = app(db).start().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let (inbox, url) = wechat_inbox(&t, &fake, false).await;
    assert!(url.ends_with(&format!("/webhooks/wechat/{inbox}")), "{url}");

    // WeChat checks the address: echostr comes back only when signed with the inbox's Token.
    let (q, _, _) = fake.signed_query(fake.token(), OPENID);
    let r = t.client.get(format!("{url}?{q}&echostr=5839104729104")).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.text().await.unwrap()), (200, "5839104729104".to_owned()));
    let (bad, _, _) = fake.signed_query("AnotherToken", OPENID);
    assert_eq!(t.client.get(format!("{url}?{bad}&echostr=1")).send().await.unwrap().status(), 403);

    // Following is the customer's own opt-in; then every kind of message.
    let amr = b"#!AMR\n voice".to_vec();
    let voice_id = fake.host_media(amr.clone(), "audio/amr");
    let picture_id = fake.host_media(PNG.to_vec(), "image/png");
    let xmls = [
        fake.xml(OPENID, "event", &[("Event", "subscribe")]),
        fake.xml(OPENID, "text", &[("Content", "你好, is the clinic open & staffed?")]),
        fake.xml(OPENID, "image", &[("PicUrl", "http://mmbiz.qpic.cn/x"), ("MediaId", &picture_id)]),
        fake.xml(OPENID, "voice", &[("MediaId", &voice_id), ("Format", "amr"), ("Recognition", "明天见")]),
        fake.xml(
            OPENID,
            "location",
            &[("Location_X", "31.230416"), ("Location_Y", "121.473701"), ("Scale", "15"), ("Label", "People's Square")],
        ),
    ];
    for xml in &xmls {
        let r = fake.post_plain(&url, xml, fake.token()).await.unwrap();
        assert_eq!((r.status().as_u16(), r.text().await.unwrap()), (200, "success".to_owned()));
    }
    // WeChat retries a message it got no answer for: stored once.
    assert_eq!(fake.post_plain(&url, &xmls[1], fake.token()).await.unwrap().status(), 200);
    let convs = conversations(&t, &agent, inbox).await;
    assert_eq!(convs.len(), 1, "{convs:?}");
    let conv = convs[0]["id"].as_i64().unwrap();
    let got = thread(&t, &agent, conv).await;
    let bodies: Vec<&str> = got.iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(
        bodies,
        [
            "Followed the Official Account",
            "你好, is the clinic open & staffed?",
            "",
            "明天见",
            "Shared a location: People's Square — https://www.openstreetmap.org/?mlat=31.230416&mlon=121.473701",
        ]
    );
    let contact = convs[0]["contact_id"].as_i64().unwrap();
    let history = json(t.get(&agent, &format!("/api/v1/contacts/{contact}/consent")).await).await;
    assert_eq!(history[0]["kind"], "opt_in", "{history}");
    assert_eq!(history[0]["evidence"], "Followed the Official Account");
    // The voice and the picture are fetched by MediaId, with the token.
    let media = t
        .eventually(|| async {
            let all: Vec<Value> =
                thread(&t, &agent, conv).await.iter().flat_map(|m| m["media"].as_array().unwrap().clone()).collect();
            (all.len() == 2 && all.iter().all(|x| x["state"] == "stored")).then_some(all)
        })
        .await;
    let voice = t.client.get(media[1]["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(voice.bytes().await.unwrap().to_vec(), amr);

    // Bad requests: nothing stored.
    let before = thread(&t, &agent, conv).await.len();
    let forged = fake.xml(OPENID, "text", &[("Content", "forged")]);
    assert_eq!(fake.post_plain(&url, &forged, "AnotherToken").await.unwrap().status(), 403);
    assert_eq!(fake.post(&url, forged.clone()).await.unwrap().status(), 403, "no signature at all");
    let (q, _, _) = fake.signed_query(fake.token(), OPENID);
    assert_eq!(fake.post(&format!("{url}?{q}"), "<xml><MsgType>text".into()).await.unwrap().status(), 400);
    let bomb =
        "<!DOCTYPE xml [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;\">]><xml><Content>&b;</Content></xml>";
    let r = fake.post(&format!("{url}?{q}"), bomb.into()).await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("DOCTYPE"));
    let huge = format!("<xml><Content>{}</Content></xml>", "x".repeat(1024 * 1024));
    assert_eq!(fake.post(&format!("{url}?{q}"), huge).await.unwrap().status(), 413);
    let click = fake.xml(OPENID, "event", &[("Event", "CLICK"), ("EventKey", "MENU_1")]);
    assert_eq!(fake.post_plain(&url, &click, fake.token()).await.unwrap().status(), 200, "WeChat would retry");
    assert_eq!(thread(&t, &agent, conv).await.len(), before);

    // Replies go through the customer-service API; the token is fetched once and kept.
    let fetched_by_now = fake.token_fetches();
    for text in ["Yes, 9 to 5.", "See you tomorrow."] {
        let r = t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": text })).await;
        assert_eq!(r.status(), 201);
        assert_eq!(t.dispatch_all().await, 1);
    }
    assert_eq!(fake.token_fetches(), fetched_by_now, "the token is kept between sends");
    assert_eq!(
        fake.sent().last().cloned().unwrap(),
        json!({ "touser": OPENID, "msgtype": "text", "text": { "content": "See you tomorrow." } })
    );
    // WeChat retires the token early (42001): a new one is fetched and the message goes once.
    fake.retire_token(42001);
    t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Bring your card." })).await;
    assert_eq!(t.dispatch_all().await, 1);
    assert_eq!(fake.token_fetches(), fetched_by_now + 1);
    assert_eq!(fake.sent().len(), 3);
    let last = thread(&t, &agent, conv).await.into_iter().rev().find(|m| m["direction"] == "outbound").unwrap();
    assert_eq!(last["status"], "sent", "{last}");

    // Unfollowing is the customer's opt-out: nothing more goes.
    let unsub = fake.xml(OPENID, "event", &[("Event", "unsubscribe")]);
    assert_eq!(fake.post_plain(&url, &unsub, fake.token()).await.unwrap().status(), 200);
    let history = json(t.get(&agent, &format!("/api/v1/contacts/{contact}/consent")).await).await;
    assert_eq!(history.as_array().unwrap().last().unwrap()["kind"], "opt_out", "{history}");
    let r = t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Bye!" })).await;
    assert_eq!(r.status(), 409);
}
both_backends!(wechat_round_trip);

async fn safe_mode_and_the_48_hour_window(db: Db) {
    let fake = FakeWechat::start().await.unwrap();
    let t = app(db).start().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let (inbox, url) = wechat_inbox(&t, &fake, true).await;

    // An encrypted message, as WeChat sends it in safe mode.
    let xml = fake.xml(OPENID, "text", &[("Content", "Encrypted hello")]);
    let r = fake.post_safe(&url, &xml, fake.aes_key(), fake.app_id()).await.unwrap();
    assert_eq!(r.status(), 200);
    let conv = conversations(&t, &agent, inbox).await[0]["id"].as_i64().unwrap();
    assert_eq!(thread(&t, &agent, conv).await[0]["body"], "Encrypted hello");
    // Another key, another account's AppID: refused, nothing stored.
    let other_key = "Z".repeat(43);
    assert_eq!(fake.post_safe(&url, &xml, &other_key, fake.app_id()).await.unwrap().status(), 403);
    assert_eq!(fake.post_safe(&url, &xml, fake.aes_key(), "wx00000000000000ff").await.unwrap().status(), 403);
    assert_eq!(thread(&t, &agent, conv).await.len(), 1);

    // A reply inside 48 hours goes; the page says until when.
    let r = t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Hello!" })).await;
    assert_eq!(r.status(), 201);
    let browser = t.browser("dana@example.com").await;
    let page = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("WeChat lets you reply until"), "the window is in words");

    // A follower who last wrote 49 hours ago cannot be written to.
    let old_xml = fake.xml("oUpF8uOldFollower_000000000", "text", &[("Content", "Are you there?")]).replace(
        &format!("<CreateTime>{}</CreateTime>", Timestamp::now().as_second()),
        &format!("<CreateTime>{}</CreateTime>", (Timestamp::now() - SignedDuration::from_hours(49)).as_second()),
    );
    assert_eq!(fake.post_safe(&url, &old_xml, fake.aes_key(), fake.app_id()).await.unwrap().status(), 200);
    let late =
        conversations(&t, &agent, inbox).await.into_iter().find(|c| c["id"] != conv).unwrap()["id"].as_i64().unwrap();
    // Midday where the follower is: the window, not quiet hours, is what refuses.
    t.move_contact_to(&agent, late, &zone_at_hour(12).0).await;
    let r = t.post(&agent, &format!("/api/v1/conversations/{late}/messages"), json!({ "body": "Sorry!" })).await;
    assert_eq!(r.status(), 409);
    let detail = json(r).await["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("48 hours on WeChat"), "{detail}");
}
both_backends!(safe_mode_and_the_48_hour_window);
