//! A WeChat Official Account end to end, over real HTTP on both backends: an
//! inbox against the fake WeChat API (credentials checked by fetching a
//! token), the `echostr` check, every inbound kind signed as WeChat signs it
//! (media fetched by MediaId with the token), following and unfollowing as
//! the customer's own opt-in and opt-out, replies through the
//! customer-service API with the token kept and fetched again when WeChat
//! retires it, one token shared by every node (and left alone by the
//! business's other programs on the same AppID), pictures, voice and video
//! uploaded and sent (and what WeChat cannot take refused before it is
//! queued), the 48-hour window, safe mode (encrypted messages, wrong keys and
//! signatures refused), and bad requests storing nothing.

use crate::common;

use std::time::Duration;

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

/// A follower's conversation on `t`'s WeChat inbox, at midday where the follower is.
async fn follower_writes(t: &TestApp, agent: &str, fake: &FakeWechat, inbox: i64, url: &str) -> i64 {
    let xml = fake.xml(OPENID, "text", &[("Content", "Can you send me the map?")]);
    assert_eq!(fake.post_plain(url, &xml, fake.token()).await.unwrap().status(), 200);
    let conv = conversations(t, agent, inbox).await[0]["id"].as_i64().unwrap();
    t.move_contact_to(agent, conv, &zone_at_hour(12).0).await;
    conv
}

/// Another program of the business on the same AppID (its website, say),
/// using WeChat's basic token API as most do: its token, and whether a
/// customer-service text with it is still taken.
async fn their_token(fake: &FakeWechat) -> String {
    let url = format!("{}/cgi-bin/token", fake.base_url());
    let q = [("grant_type", "client_credential"), ("appid", fake.app_id()), ("secret", fake.app_secret())];
    let answer: Value = reqwest::Client::new().get(url).query(&q).send().await.unwrap().json().await.unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

async fn they_can_send(fake: &FakeWechat, token: &str) -> bool {
    let url = format!("{}/cgi-bin/message/custom/send", fake.base_url());
    let body = json!({ "touser": OPENID, "msgtype": "text", "text": { "content": "Your order shipped." } });
    let r = reqwest::Client::new().post(url).query(&[("access_token", token)]).json(&body).send().await.unwrap();
    r.json::<Value>().await.unwrap()["errcode"] == 0
}

async fn one_access_token_across_nodes(db: Db) {
    let fake = FakeWechat::start().await.unwrap();
    // Two servers on one database, as behind a load balancer.
    let one = app(db).start().await;
    let url = one.database_url.clone();
    let two = app(db).config(move |c| c.database_url = url).start().await;
    let agent = one.token_for("dana@example.com", Role::Agent).await;
    let (inbox, hook) = wechat_inbox(&one, &fake, false).await;
    let theirs = their_token(&fake).await;
    let conv = follower_writes(&one, &agent, &fake, inbox, &hook).await;

    // Replies go out through both nodes, turn about, over twenty minutes.
    for round in 0..4 {
        for node in [&one, &two] {
            let path = format!("/api/v1/conversations/{conv}/messages");
            let r = node.post(&agent, &path, json!({ "body": format!("Reply {round} from {}", node.base) })).await;
            assert_eq!(r.status(), 201);
            assert_eq!(node.dispatch_all().await, 1);
        }
        fake.advance(Duration::from_secs(6 * 60));
    }
    assert_eq!(fake.sent().len(), 8);
    let outbound: Vec<Value> =
        thread(&one, &agent, conv).await.into_iter().filter(|m| m["direction"] == "outbound").collect();
    assert!(outbound.iter().all(|m| m["status"] == "sent"), "{outbound:?}");
    // Neither node knocked the other's token out: WeChat refused nothing, and
    // the account has one token for textdesk besides the other program's.
    assert_eq!(fake.refused(), 0, "a node's token was retired by another's fetch");
    assert_eq!(fake.tokens_issued(), 2);
    assert!(they_can_send(&fake, &theirs).await, "textdesk retired the other program's token");
}
both_backends!(one_access_token_across_nodes);

/// The smallest files of each kind WeChat takes.
const AMR: &[u8] = b"#!AMR\n\x3c\x48\x77\x55\x2c";
const MP4: &[u8] = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom\x00\x00\x00\x08free";

async fn pictures_voice_and_video_go_to_wechat(db: Db) {
    let fake = FakeWechat::start().await.unwrap();
    let t = app(db).start().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let (inbox, url) = wechat_inbox(&t, &fake, false).await;
    let conv = follower_writes(&t, &agent, &fake, inbox, &url).await;

    // From the composer: the text, then the picture, uploaded to WeChat and sent by its media_id.
    let browser = t.browser("dana@example.com").await;
    let page = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("type=\"file\" name=\"files\""), "the composer offers attachments on WeChat");
    let (ct, body) = multipart(
        &[("csrf", &csrf_of(&page)), ("body", "Here is the map."), ("media_ids", "")],
        &[("files", "map.png", "image/png", PNG)],
    );
    let r = browser.post(t.url(&format!("/conversations/{conv}/reply"))).header("content-type", ct).body(body);
    assert_eq!(r.send().await.unwrap().status(), 303);
    assert_eq!(t.dispatch_all().await, 1);
    let uploads = fake.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!((uploads[0].kind.as_str(), uploads[0].content_type.as_str()), ("image", "image/png"));
    assert_eq!(uploads[0].bytes, PNG);
    assert!(uploads[0].file_name.ends_with(".png"), "WeChat goes by the extension: {}", uploads[0].file_name);
    assert_eq!(
        fake.sent(),
        [
            json!({ "touser": OPENID, "msgtype": "text", "text": { "content": "Here is the map." } }),
            json!({ "touser": OPENID, "msgtype": "image", "image": { "media_id": uploads[0].media_id } }),
        ]
    );
    let last = thread(&t, &agent, conv).await.pop().unwrap();
    assert_eq!(last["status"], "sent", "{last}");

    // Over the API: a voice note and a video, with no text.
    let mut ids = Vec::new();
    for (kind, bytes) in [("audio/amr", AMR), ("video/mp4", MP4)] {
        let r = t.client.post(t.url("/api/v1/media")).bearer_auth(&agent).header("content-type", kind);
        let r = r.body(bytes.to_vec()).send().await.unwrap();
        assert_eq!(r.status(), 201, "{kind}");
        ids.push(json(r).await["id"].as_i64().unwrap());
    }
    let r = t
        .post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "", "media_ids": ids }))
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(t.dispatch_all().await, 1);
    let uploads = fake.uploads();
    let kinds: Vec<(&str, &str)> = uploads.iter().map(|u| (u.kind.as_str(), u.content_type.as_str())).collect();
    assert_eq!(kinds, [("image", "image/png"), ("voice", "audio/amr"), ("video", "video/mp4")]);
    let sent = fake.sent();
    assert_eq!(sent[2], json!({ "touser": OPENID, "msgtype": "voice", "voice": { "media_id": uploads[1].media_id } }));
    assert_eq!(sent[3], json!({ "touser": OPENID, "msgtype": "video", "video": { "media_id": uploads[2].media_id } }));

    // What WeChat cannot take is refused in words before anything is queued.
    let before = thread(&t, &agent, conv).await.len();
    let big_voice = [AMR, &vec![0u8; 2 * 1024 * 1024 + 1 - AMR.len()][..]].concat();
    for (kind, bytes, words) in [
        ("application/pdf", b"%PDF-1.4 test".to_vec(), "WeChat cannot carry a PDF document"),
        ("audio/amr", big_voice, "too large for WeChat (2.1 MB): it takes pictures"),
        ("video/webm", b"\x1a\x45\xdf\xa3webm".to_vec(), "WeChat cannot carry a WebM video"),
    ] {
        let r = t.client.post(t.url("/api/v1/media")).bearer_auth(&agent).header("content-type", kind);
        let r = r.body(bytes).send().await.unwrap();
        assert_eq!(r.status(), 201, "{kind} is kept by textdesk");
        let id = json(r).await["id"].as_i64().unwrap();
        let r = t
            .post(
                &agent,
                &format!("/api/v1/conversations/{conv}/messages"),
                json!({ "body": "See attached", "media_ids": [id] }),
            )
            .await;
        assert_eq!(r.status(), 422, "{kind}");
        let detail = json(r).await["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(words), "{detail}");
    }
    assert_eq!(thread(&t, &agent, conv).await.len(), before, "nothing queued");
    assert_eq!(t.dispatch_all().await, 0);
    assert_eq!(fake.uploads().len(), 3);
}
both_backends!(pictures_voice_and_video_go_to_wechat);
