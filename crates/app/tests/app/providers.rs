//! Real providers end to end: a Twilio inbox against a fake Twilio API that
//! speaks Twilio's protocol (signed webhooks, REST sends, status callbacks),
//! and an SMPP inbox bound to an in-process SMSC.

use crate::common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use textdesk_channels::smpp::fake::{FakeSmsc, ReceiptForm};
use textdesk_channels::smpp::receipt::ReceiptState;
use textdesk_channels::twilio::FakeTwilio;
use textdesk_core::Role;

const SENDER: &str = "+14155550100";
const CUSTOMER: &str = "+14155550111";

async fn admin_request(t: &TestApp, token: &str, body: Value) -> reqwest::Response {
    t.client.post(t.url("/api/v1/inboxes")).bearer_auth(token).json(&body).send().await.unwrap()
}

/// Adds a Twilio inbox pointed at the fake; returns its id and webhook URLs.
async fn twilio_inbox(t: &TestApp, fake: &FakeTwilio) -> (i64, String, String) {
    let admin = t.token_for("owner@example.com", Role::Admin).await;
    let r = admin_request(
        t,
        &admin,
        json!({ "name": "Main line", "channel_kind": "twilio", "sender": SENDER,
                "twilio": { "account_sid": fake.account_sid(), "auth_token": fake.auth_token(), "api_base": fake.base_url() } }),
    )
    .await;
    assert_eq!(r.status(), 201);
    let inbox = json(r).await;
    assert!(!inbox.to_string().contains(fake.auth_token()), "the token is never shown again: {inbox}");
    // Tests send faster than a real long code may (1 segment a second).
    let id = inbox["id"].as_i64().unwrap();
    let r = t
        .client
        .patch(t.url(&format!("/api/v1/inboxes/{id}")))
        .bearer_auth(&admin)
        .json(&json!({ "settings": { "rate_limit": { "segments_per_second": 100 } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let urls = &inbox["webhook_urls"];
    (
        inbox["id"].as_i64().unwrap(),
        urls["inbound"].as_str().unwrap().to_owned(),
        urls["status"].as_str().unwrap().to_owned(),
    )
}

async fn thread(t: &TestApp, token: &str, conv: i64) -> Vec<Value> {
    json(t.get(token, &format!("/api/v1/conversations/{conv}/messages")).await).await.as_array().unwrap().clone()
}

async fn only_conversation(t: &TestApp, token: &str) -> i64 {
    let list = json(t.get(token, "/api/v1/conversations").await).await;
    let items = list["items"].as_array().or(list.as_array()).unwrap().clone();
    assert_eq!(items.len(), 1, "{list}");
    items[0]["id"].as_i64().unwrap()
}

async fn twilio_round_trip(db: Db) {
    let fake = FakeTwilio::start().await.unwrap();
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    // A wrong token is refused when the inbox is added, with a clear reason.
    let r = admin_request(
        &t,
        &admin,
        json!({ "name": "Bad", "channel_kind": "twilio", "sender": SENDER,
                "twilio": { "account_sid": fake.account_sid(), "auth_token": "0123456789abcdef0123456789abcdef", "api_base": fake.base_url() } }),
    )
    .await;
    assert_eq!(r.status(), 422);
    let detail = json(r).await["detail"].as_str().unwrap().to_owned();
    assert!(detail.starts_with("Twilio did not accept these credentials."), "plain words: {detail}");
    let (inbox, inbound_url, status_url) = twilio_inbox(&t, &fake).await;
    assert!(inbound_url.ends_with(&format!("/webhooks/twilio/{inbox}")));
    let agent = t.token_for("dana@example.com", Role::Agent).await;

    // A signed text comes in and is answered with empty TwiML; Twilio's retry is stored once.
    let params = fake.inbound_params(CUSTOMER, SENDER, "Is my crown ready?");
    for _ in 0..2 {
        let r = fake.post_inbound(&inbound_url, &params).await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"].to_str().unwrap().contains("xml"));
        assert!(r.text().await.unwrap().contains("<Response"));
    }
    let conv = only_conversation(&t, &agent).await;
    assert_eq!(thread(&t, &agent, conv).await.len(), 1);

    // One changed byte, or no signature: refused, nothing stored.
    let mut tampered = fake.inbound_params(CUSTOMER, SENDER, "forged");
    let sig = textdesk_channels::twilio::compute_signature(fake.auth_token(), &inbound_url, &tampered);
    tampered.iter_mut().find(|(k, _)| k == "Body").unwrap().1 = "forgeD".into();
    let r = t.client.post(&inbound_url).header("X-Twilio-Signature", sig).form(&tampered).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = t.client.post(&inbound_url).form(&params).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = fake.post_inbound(&format!("{}/webhooks/twilio/9999", t.base), &params).await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(thread(&t, &agent, conv).await.len(), 1);

    // The reply goes out through the REST API with a status callback, and callbacks move it forward only.
    t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Yes, come by at 3." })).await;
    assert_eq!(t.dispatch_all().await, 1);
    let sent = fake.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].from.as_str(), sent[0].to.as_str(), sent[0].body.as_str()),
        (SENDER, CUSTOMER, "Yes, come by at 3.")
    );
    assert_eq!(sent[0].status_callback.as_deref(), Some(status_url.as_str()));
    let sid = sent[0].sid.clone();
    for status in ["sent", "delivered", "sent"] {
        assert!(fake.post_status(&status_url, &sid, status, None).await.unwrap().status().is_success());
    }
    let reply = thread(&t, &agent, conv).await.into_iter().find(|m| m["provider_id"] == sid.as_str()).unwrap();
    assert_eq!(reply["status"], "delivered", "a late sent never overwrites delivered");

    // A carrier filter is explained to the agent in plain words, with its code.
    t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Your invoice link" })).await;
    t.dispatch_all().await;
    let sid2 = fake.sent()[1].sid.clone();
    fake.post_status(&status_url, &sid2, "undelivered", Some("30007")).await.unwrap();
    let m = thread(&t, &agent, conv).await.into_iter().find(|m| m["provider_id"] == sid2.as_str()).unwrap();
    assert_eq!(m["status"], "undelivered");
    let why = m["error"].as_str().unwrap();
    assert!(why.contains("30007") && why.to_lowercase().contains("carrier"), "{why}");

    // A 5xx is retried later; the agent sees the attempt and can retry now.
    fake.fail_next(1, 503, None);
    let m =
        json(t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Retry me" })).await)
            .await;
    t.dispatch_all().await;
    let waiting = thread(&t, &agent, conv).await.into_iter().find(|x| x["id"] == m["id"]).unwrap();
    assert_eq!(waiting["status"], "queued");
    assert_eq!(waiting["attempts"], 1);
    assert!(waiting["retry_at"].is_string(), "{waiting}");
    assert_eq!(t.post(&agent, &format!("/api/v1/messages/{}/retry", m["id"]), json!({})).await.status(), 200);
    assert_eq!(t.dispatch_all().await, 1);
    assert_eq!(fake.sent().len(), 3);
}
both_backends!(twilio_round_trip);

async fn twilio_unsubscribes_become_opt_outs(db: Db) {
    let fake = FakeTwilio::start().await.unwrap();
    let t = app(db).start().await;
    let (inbox, inbound_url, _) = twilio_inbox(&t, &fake).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;

    // Advanced Opt-Out: Twilio answered the STOP itself; we record it and say nothing more.
    let mut params = fake.inbound_params(CUSTOMER, SENDER, "STOP");
    params.push(("OptOutType".into(), "STOP".into()));
    assert_eq!(fake.post_inbound(&inbound_url, &params).await.unwrap().status(), 200);
    let conv = only_conversation(&t, &agent).await;
    assert_eq!(thread(&t, &agent, conv).await.len(), 1, "no second confirmation");
    let c = json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await;
    let contact = c["contact_id"].as_i64().unwrap();
    let history = json(t.get(&agent, &format!("/api/v1/contacts/{contact}/consent")).await).await;
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["kind"].as_str(), last["source"].as_str()), (Some("opt_out"), Some("provider")), "{history}");
    let _ = inbox;

    // A recipient Twilio knows as unsubscribed (21610) on send: failed, and recorded as an opt-out.
    let other = "+14155550122";
    fake.fail_to(other, 21610);
    let p = fake.inbound_params(other, SENDER, "hello");
    fake.post_inbound(&inbound_url, &p).await.unwrap();
    let list = json(t.get(&agent, "/api/v1/conversations").await).await;
    let items = list["items"].as_array().or(list.as_array()).unwrap().clone();
    let conv2 = items.iter().find(|c| c["id"] != conv).unwrap()["id"].as_i64().unwrap();
    t.post(&agent, &format!("/api/v1/conversations/{conv2}/messages"), json!({ "body": "Hi!" })).await;
    t.dispatch_all().await;
    let m = thread(&t, &agent, conv2).await.into_iter().find(|m| m["direction"] == "outbound").unwrap();
    assert_eq!(m["status"], "failed");
    let c2 = json(t.get(&agent, &format!("/api/v1/conversations/{conv2}")).await).await;
    let contact2 = c2["contact_id"].as_i64().unwrap();
    let history = json(t.get(&agent, &format!("/api/v1/contacts/{contact2}/consent")).await).await;
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["kind"].as_str(), last["source"].as_str()), (Some("opt_out"), Some("provider")), "{history}");
    // The next reply is stopped by the gate before it reaches Twilio.
    let r = t.post(&agent, &format!("/api/v1/conversations/{conv2}/messages"), json!({ "body": "Still there?" })).await;
    assert_eq!(r.status(), 409);
}
both_backends!(twilio_unsubscribes_become_opt_outs);

async fn interrupted_twilio_sends_are_settled_by_asking_twilio(db: Db) {
    let fake = FakeTwilio::start().await.unwrap();
    let t = app(db).start().await;
    let (_, inbound_url, _) = twilio_inbox(&t, &fake).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    fake.post_inbound(&inbound_url, &fake.inbound_params(CUSTOMER, SENDER, "hi")).await.unwrap();
    let conv = only_conversation(&t, &agent).await;
    let lease = jiff::SignedDuration::from_secs(30);
    let later = || jiff::Timestamp::now() + jiff::SignedDuration::from_mins(2);

    // Twilio accepted the first, but the worker died before recording it.
    t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Accepted" })).await;
    t.services.store.claim_due("crashed", jiff::Timestamp::now(), 10).await.unwrap();
    let sid = fake.add_sent(SENDER, CUSTOMER, "Accepted", jiff::Timestamp::now());
    assert_eq!(t.services.settle_interrupted(later(), lease).await.unwrap(), 1);
    let m = thread(&t, &agent, conv).await.into_iter().find(|m| m["body"] == "Accepted").unwrap();
    assert_eq!((m["status"].as_str(), m["provider_id"].as_str()), (Some("sent"), Some(sid.as_str())));
    assert_eq!(t.dispatch_all().await, 0, "not sent again");

    // The second never reached Twilio: it is sent once.
    t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Lost" })).await;
    t.services.store.claim_due("crashed", jiff::Timestamp::now(), 10).await.unwrap();
    let at = later();
    assert_eq!(t.services.settle_interrupted(at, lease).await.unwrap(), 1);
    assert_eq!(t.services.dispatch_at("w", 50, at).await.unwrap().sent, 1);
    let bodies: Vec<String> = fake.sent().into_iter().map(|s| s.body).collect();
    assert_eq!(bodies.iter().filter(|b| *b == "Lost").count(), 1, "{bodies:?}");
    assert_eq!(bodies.iter().filter(|b| *b == "Accepted").count(), 1, "{bodies:?}");

    // Twilio cannot be reached to ask: the row waits for the next round, neither resent nor given up.
    t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Unasked" })).await;
    t.services.store.claim_due("crashed", jiff::Timestamp::now(), 10).await.unwrap();
    let gone = fake.base_url().trim_start_matches("http://").trim_end_matches('/').to_owned();
    drop(fake);
    // The fake's server task is aborted, not joined: wait until its port really refuses (a busy machine
    // may otherwise still answer the question "was it sent?" from the dying server).
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&gone).await.is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let at = later();
    t.services.settle_interrupted(at, lease).await.unwrap();
    let m = thread(&t, &agent, conv).await.into_iter().find(|m| m["body"] == "Unasked").unwrap();
    assert_eq!(m["status"], "sending", "{m}");
    assert_eq!(t.services.dispatch_at("w", 50, at).await.unwrap().claimed, 0);
}
both_backends!(interrupted_twilio_sends_are_settled_by_asking_twilio);

#[tokio::test]
async fn smpp_inbox_binds_sends_and_receives() {
    let smsc = FakeSmsc::start("textdesk", "secret").await.unwrap();
    let t = app(Db::Sqlite).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let mut cfg = serde_json::to_value(smsc.config()).unwrap();
    // A wrong password is refused on save.
    cfg["password"] = json!("wrong");
    let r =
        admin_request(&t, &admin, json!({ "name": "Direct", "channel_kind": "smpp", "sender": SENDER, "smpp": cfg }))
            .await;
    assert_eq!(r.status(), 422, "{}", r.text().await.unwrap());
    cfg["password"] = json!("secret");
    let r =
        admin_request(&t, &admin, json!({ "name": "Direct", "channel_kind": "smpp", "sender": SENDER, "smpp": cfg }))
            .await;
    assert_eq!(r.status(), 201);
    let inbox = json(r).await;
    assert!(!inbox.to_string().contains("secret"), "{inbox}");
    let id = inbox["id"].as_i64().unwrap();
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let bound = t
        .eventually(|| async {
            let i = json(t.get(&agent, &format!("/api/v1/inboxes/{id}")).await).await;
            i["link_state"].as_str().is_some_and(|s| s.starts_with("bound")).then_some(i)
        })
        .await;
    assert!(bound["link_state"].is_string());
    let metrics = t.client.get(t.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(&format!("textdesk_smpp_link_up{{inbox=\"{id}\",state=\"bound\"}} 1")), "{metrics}");

    // A long text from a phone arrives in parts and is put back together.
    let long = "My appointment next week needs to move, ".repeat(5);
    smsc.send_mo(CUSTOMER, SENDER, &long).unwrap();
    let conv = t
        .eventually(|| async {
            let list = json(t.get(&agent, "/api/v1/conversations").await).await;
            let items = list["items"].as_array().or(list.as_array()).cloned().unwrap_or_default();
            items.first().and_then(|c| c["id"].as_i64())
        })
        .await;
    assert_eq!(thread(&t, &agent, conv).await[0]["body"], long.as_str());

    // The reply goes as concatenated parts, and a receipt for a part marks it delivered.
    let reply = "Of course. ".repeat(20);
    t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": reply })).await;
    assert_eq!(t.dispatch_all().await, 1);
    let submits = smsc.submits();
    assert_eq!(submits.len(), 2, "{submits:?}");
    let part = submits[1].message_id.clone();
    smsc.send_receipt(&part, ReceiptState::Delivered, "000", ReceiptForm::Tlv).unwrap();
    t.eventually(|| async {
        let m = thread(&t, &agent, conv).await.into_iter().find(|m| m["direction"] == "outbound")?;
        (m["status"] == "delivered").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1)).await;
}

async fn mms_pictures_are_fetched_into_the_media_store(db: Db) {
    let fake = FakeTwilio::start().await.unwrap();
    // The fake runs on 127.0.0.1: private, so named for media fetches.
    let hosts = fake.private_hosts();
    let t = app(db).config(move |c| c.media_allow_private_hosts = hosts).start().await;
    let (_, inbound_url, _) = twilio_inbox(&t, &fake).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let png = b"\x89PNG\r\n\x1a\n a tooth, close up".to_vec();
    let picture = fake.host_media(png.clone(), "image/png");
    let missing = format!("{}/2010-04-01/Accounts/{}/Messages/MM0/Media/ME404", fake.base_url(), fake.account_sid());
    let script = fake.host_media(b"<svg onload=alert(1)>".to_vec(), "image/svg+xml");
    let params = fake.inbound_media_params(
        CUSTOMER,
        SENDER,
        "This one hurts",
        &[(&picture, "image/png"), (&missing, "image/jpeg"), (&script, "image/svg+xml")],
    );
    assert_eq!(fake.post_inbound(&inbound_url, &params).await.unwrap().status(), 200);
    let conv = only_conversation(&t, &agent).await;
    // The picture is fetched (with the account's credentials, through Twilio's redirect).
    let media = t
        .eventually(|| async {
            let m = thread(&t, &agent, conv).await[0]["media"].as_array().unwrap().clone();
            (m[0]["state"] == "stored" && m[1]["state"] == "failed" && m[2]["state"] == "failed").then_some(m)
        })
        .await;
    let url = media[0]["url"].as_str().unwrap();
    let r = t.client.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().to_vec(), png);
    // The link is the permission: altered, it shows nothing.
    let forged = url.replace("sig=", "sig=0");
    assert_eq!(t.client.get(&forged).send().await.unwrap().status(), 404);
    // A script-capable picture is not kept; a missing one (404) is not asked for again.
    assert!(media[2]["error"].as_str().unwrap().contains("not kept"), "{media:?}");
    assert!(media[2]["url"].is_null());
    assert!(media[1]["error"].is_string() && media[1]["url"].is_null(), "{media:?}");
    // The thread shows the picture inline and a note for the others.
    let browser = t.browser("dana@example.com").await;
    let page = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<img src=\"/media/"), "the picture is shown inline");
    assert!(page.contains("not kept"));
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(10);
    assert_eq!(t.services.fetch_due_media(later).await.unwrap(), 0, "nothing left to fetch");
}
both_backends!(mms_pictures_are_fetched_into_the_media_store);

#[tokio::test]
async fn an_unreachable_picture_is_retried_then_given_up() {
    let fake = FakeTwilio::start().await.unwrap();
    let t = app(Db::Sqlite).config(|c| c.media_allow_private_hosts = vec!["127.0.0.1:1".into()]).start().await;
    let (_, inbound_url, _) = twilio_inbox(&t, &fake).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    // Nothing listens on port 1: the fetch fails in a way worth retrying.
    let params = fake.inbound_media_params(CUSTOMER, SENDER, "", &[("http://127.0.0.1:1/media/x", "image/jpeg")]);
    assert_eq!(fake.post_inbound(&inbound_url, &params).await.unwrap().status(), 200);
    let conv = only_conversation(&t, &agent).await;
    let first = t
        .eventually(|| async {
            let m = first_media(&t, &agent, conv).await;
            (m["state"] == "pending" && m["error"].is_string()).then_some(m)
        })
        .await;
    assert!(first["url"].is_null(), "{first}");
    let mut at = jiff::Timestamp::now();
    for _ in 0..6 {
        at += jiff::SignedDuration::from_hours(3);
        t.services.fetch_due_media(at).await.unwrap();
    }
    let last = first_media(&t, &agent, conv).await;
    assert_eq!(last["state"], "failed", "{last}");
    assert!(last["error"].is_string());
    let preview = json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await;
    assert!(preview.to_string().contains("attachment"), "the list shows there is an attachment: {preview}");
}

async fn first_media(t: &TestApp, token: &str, conv: i64) -> Value {
    thread(t, token, conv).await[0]["media"][0].clone()
}

async fn pictures_go_out_as_mms_at_signed_links(db: Db) {
    let fake = FakeTwilio::start().await.unwrap();
    let t = app(db).config(|c| c.media_max_bytes = 64 * 1024).start().await;
    let (_, inbound_url, _) = twilio_inbox(&t, &fake).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let other = t.token_for("sam@example.com", Role::Agent).await;
    fake.post_inbound(&inbound_url, &fake.inbound_params(CUSTOMER, SENDER, "Where is the office?")).await.unwrap();
    let conv = only_conversation(&t, &agent).await;
    let upload = |token: &str, ct: &str, bytes: Vec<u8>| {
        t.client.post(t.url("/api/v1/media")).bearer_auth(token).header("content-type", ct).body(bytes).send()
    };
    let map = b"\x89PNG\r\n\x1a\n the map".to_vec();
    let r = upload(&agent, "image/png", map.clone()).await.unwrap();
    assert_eq!(r.status(), 201);
    let media = json(r).await;
    // What a browser could run, what is too big, and someone else's upload are refused.
    assert_eq!(upload(&agent, "image/svg+xml", b"<svg/>".to_vec()).await.unwrap().status(), 422);
    assert_eq!(upload(&agent, "image/png", vec![0; 65 * 1024]).await.unwrap().status(), 413);
    let body = json!({ "body": "Here's the map", "media_ids": [media["id"]] });
    let r = t.post(&other, &format!("/api/v1/conversations/{conv}/messages"), body.clone()).await;
    assert_eq!(r.status(), 422, "only the uploader sends an upload");
    let r = t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), body.clone()).await;
    assert_eq!(r.status(), 201);
    assert_eq!(json(r).await["media"][0]["content_type"], "image/png");
    assert_eq!(
        t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), body).await.status(),
        422,
        "sent once"
    );
    assert_eq!(t.dispatch_all().await, 1);
    let sent = fake.sent().pop().unwrap();
    assert_eq!(sent.media_urls.len(), 1, "{sent:?}");
    // Twilio fetches the picture from our signed link, without a session.
    let got = t.client.get(&sent.media_urls[0]).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().to_vec(), map);
}
both_backends!(pictures_go_out_as_mms_at_signed_links);

#[tokio::test]
async fn agents_see_why_a_send_failed_and_retry_it_from_the_thread() {
    let fake = FakeTwilio::start().await.unwrap();
    let t = app(Db::Sqlite).start().await;
    let (_, inbound_url, _) = twilio_inbox(&t, &fake).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    fake.post_inbound(&inbound_url, &fake.inbound_params(CUSTOMER, SENDER, "hi")).await.unwrap();
    let conv = only_conversation(&t, &agent).await;
    fake.fail_next(1, 400, Some(21211));
    let m =
        json(t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Hello" })).await).await;
    t.dispatch_all().await;
    let browser = t.browser("dana@example.com").await;
    let page = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("21211") && page.contains("Retry now"), "the reason and the action are shown");
    let csrf = common::csrf_of(&page);
    let r = browser
        .post(t.url(&format!("/conversations/{conv}/waiting/{}", m["id"])))
        .form(&[("csrf", csrf.as_str()), ("action", "retry")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(t.dispatch_all().await, 1);
    assert_eq!(fake.sent().len(), 1, "sent once, on the retry");
}
