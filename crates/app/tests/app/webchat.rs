//! The web chat widget over real HTTP on both backends: an inbox added by an
//! admin, the loader and the chat page checked against the allowed sites,
//! visitors' tokens (a forged one sees nothing), a message stored once, the
//! live stream carrying the agent's reply, attachments both ways through the
//! media checks, the budgets per visitor and per network, the away message
//! outside business hours, continuing by text (the consent and its evidence
//! in the ledger, the next reply on the simulated phone), and the "text us"
//! page.

use crate::common;

use common::*;
use serde_json::{Value, json};
use textdesk_core::Role;

pub(crate) const SITE: &str = "https://shop.example";
pub(crate) const SMS_NUMBER: &str = "+14155550100";
pub(crate) const VISITOR_PHONE: &str = "+14155550177";

pub(crate) struct Chat {
    pub(crate) inbox: i64,
    pub(crate) sms: i64,
    pub(crate) admin: String,
    pub(crate) agent: String,
}

/// An SMS inbox on the simulator and a web chat that continues through it.
pub(crate) async fn chat(t: &TestApp) -> Chat {
    let admin = t.token_for("owner@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let sms = t.simulator_inbox().await;
    let bad = json!({ "name": "Chat", "channel_kind": "webchat", "sender": "Test Dental",
                      "webchat": { "colour": "red" } });
    let r = t.post(&admin, "/api/v1/inboxes", bad).await;
    assert_eq!(r.status(), 422);
    assert!(json(r).await["detail"].as_str().unwrap().contains("#1f5fbf"), "the mistake is named");
    let good = json!({ "name": "Chat", "channel_kind": "webchat", "sender": "Test Dental",
                       "webchat": { "allowed_sites": SITE, "sms_inbox": sms, "greeting": "Hello from the front desk!" } });
    let r = t.post(&admin, "/api/v1/inboxes", good).await;
    assert_eq!(r.status(), 201);
    let inbox = json(r).await["id"].as_i64().unwrap();
    Chat { inbox, sms, admin, agent }
}

pub(crate) fn widget(t: &TestApp, c: &Chat, path: &str) -> String {
    t.url(&format!("/widget/{}{path}", c.inbox))
}

pub(crate) async fn new_visitor(t: &TestApp, c: &Chat) -> String {
    let r = t.client.post(widget(t, c, "/visitors")).send().await.unwrap();
    assert_eq!(r.status(), 201);
    json(r).await["token"].as_str().unwrap().to_owned()
}

pub(crate) async fn say(t: &TestApp, c: &Chat, token: &str, body: &str, id: &str) -> reqwest::Response {
    let r = t.client.post(widget(t, c, "/messages")).bearer_auth(token);
    r.json(&json!({ "body": body, "client_id": id })).send().await.unwrap()
}

pub(crate) async fn visitor_messages(t: &TestApp, c: &Chat, token: &str) -> Vec<Value> {
    let r = t.client.get(widget(t, c, "/messages")).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    json(r).await.as_array().unwrap().clone()
}

pub(crate) async fn conversations(t: &TestApp, token: &str) -> Vec<Value> {
    json(t.get(token, "/api/v1/conversations").await).await["items"].as_array().unwrap().clone()
}

pub(crate) async fn thread(t: &TestApp, token: &str, conv: i64) -> Vec<Value> {
    json(t.get(token, &format!("/api/v1/conversations/{conv}/messages")).await).await.as_array().unwrap().clone()
}

/// What a visitor's stream said up to its first `update`, which must come within five seconds.
async fn read_until_update(events: &mut reqwest::Response) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !seen.contains("event: update") {
        let chunk = tokio::time::timeout_at(deadline, events.chunk()).await.expect("an update within 5 s");
        seen.push_str(&String::from_utf8_lossy(&chunk.unwrap().expect("the stream stays open")));
    }
    seen
}

async fn a_visitor_chats_live_with_an_agent(db: Db) {
    let t = app(db).start().await;
    let c = chat(&t).await;

    // The loader and the chat page exist for a web chat inbox only.
    let r = t.client.get(t.url(&format!("/widget/{}.js", c.inbox))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("/frame#"));
    for other in [format!("/widget/{}.js", c.sms), "/widget/9999.js".into(), format!("/widget/{}/frame", c.sms)] {
        assert_eq!(t.client.get(t.url(&other)).send().await.unwrap().status(), 404, "{other}");
    }
    // The page may sit on the allowed site only: the browser is told, and a page that says it came from elsewhere is refused.
    let r = t.client.get(widget(&t, &c, "/frame")).header("referer", format!("{SITE}/contact")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains(&format!("frame-ancestors 'self' {SITE}")), "{csp}");
    let page = r.text().await.unwrap();
    assert!(page.contains("Hello from the front desk!") && page.contains("aria-live=\"polite\""), "{page}");
    let r = t.client.get(widget(&t, &c, "/frame")).header("referer", "https://evil.example/").send().await.unwrap();
    assert_eq!(r.status(), 403);
    // Calls from another site's scripts are refused, without CORS headers.
    let r = t.client.post(widget(&t, &c, "/visitors")).header("origin", "https://evil.example").send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("access-control-allow-origin").is_none());

    let token = new_visitor(&t, &c).await;
    assert_eq!(
        t.client
            .post(widget(&t, &c, "/messages"))
            .json(&json!({"body": "hi", "client_id": "a"}))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // The live stream, opened before anything is said.
    let mut events = t.client.get(widget(&t, &c, "/events")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(events.status(), 200);

    // A message sent twice (a retry after a lost answer) is stored once.
    assert_eq!(say(&t, &c, &token, "Do you take new patients?", "m1").await.status(), 201);
    let again = say(&t, &c, &token, "Do you take new patients?", "m1").await;
    assert_eq!(again.status(), 200);
    assert_eq!(json(again).await["duplicate"], true);
    let convs = conversations(&t, &c.agent).await;
    assert_eq!(convs.len(), 1);
    let conv = convs[0]["id"].as_i64().unwrap();
    assert_eq!(convs[0]["inbox_id"], c.inbox);
    let msgs = thread(&t, &c.agent, conv).await;
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(msgs[0]["body"], "Do you take new patients?");

    // Bad input stores nothing.
    for (body, id) in [("   ", "m2"), (&*"x".repeat(1601), "m3"), ("hi", "../x"), ("hi", "")] {
        assert_eq!(say(&t, &c, &token, body, id).await.status(), 422, "{body:?} {id:?}");
    }
    let r = t.client.post(widget(&t, &c, "/messages")).bearer_auth(&token).header("content-type", "application/json");
    assert!(r.body("{\"body\": ").send().await.unwrap().status().is_client_error());
    assert_eq!(thread(&t, &c.agent, conv).await.len(), 1);

    // A forged token, another visitor and another inbox's token see nothing.
    let (id, sig) = token.split_once('.').unwrap();
    let forged = format!("{}.{sig}", id.chars().rev().collect::<String>());
    let r = t.client.get(widget(&t, &c, "/messages")).bearer_auth(&forged).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(say(&t, &c, &forged, "let me in", "f1").await.status(), 404);
    let stranger = new_visitor(&t, &c).await;
    assert!(visitor_messages(&t, &c, &stranger).await.is_empty());
    let admin = c.admin.clone();
    let other = json!({ "name": "Chat 2", "channel_kind": "webchat", "sender": "Test Dental", "webchat": {} });
    let other = json(t.post(&admin, "/api/v1/inboxes", other).await).await["id"].as_i64().unwrap();
    let r = t.client.get(t.url(&format!("/widget/{other}/messages"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 404);

    // The stream opened before the visitor's first message followed them into their new conversation.
    assert!(read_until_update(&mut events).await.contains("event: ready"));
    // The agent answers like any conversation; a stream opened now hears of nothing but the reply.
    let mut events = t.client.get(widget(&t, &c, "/events")).bearer_auth(&token).send().await.unwrap();
    let r = t
        .post(&c.agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Yes! When suits you?" }))
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    t.dispatch_all().await;
    read_until_update(&mut events).await;
    let mine = visitor_messages(&t, &c, &token).await;
    let said: Vec<(&str, &str)> =
        mine.iter().map(|m| (m["from"].as_str().unwrap(), m["body"].as_str().unwrap())).collect();
    assert_eq!(said, [("visitor", "Do you take new patients?"), ("business", "Yes! When suits you?")]);
    // A private note never reaches the visitor.
    let note = json!({ "body": "new patient, check insurance", "private": true });
    assert_eq!(t.post(&c.agent, &format!("/api/v1/conversations/{conv}/messages"), note).await.status(), 201);
    assert_eq!(visitor_messages(&t, &c, &token).await.len(), 2);
}
both_backends!(a_visitor_chats_live_with_an_agent);

async fn attachments_go_both_ways_through_the_media_checks(db: Db) {
    let t = app(db).config(|c| c.media_max_bytes = 64 * 1024).start().await;
    let c = chat(&t).await;
    let token = new_visitor(&t, &c).await;
    let attach = |ct: &'static str, bytes: &'static [u8], id: &'static str| {
        let r = t.client.post(widget(&t, &c, "/attachments")).bearer_auth(&token);
        r.header("content-type", ct).header("x-client-id", id).body(bytes.to_vec()).send()
    };
    assert_eq!(attach("image/png", PNG, "p1").await.unwrap().status(), 201);
    // A page calling itself a picture, a type not kept, and nothing at all: refused, nothing stored.
    for (ct, bytes) in
        [("image/png", &b"<html><script>x</script></html>"[..]), ("text/html", b"<p>hi</p>"), ("image/png", b"")]
    {
        let r = t.client.post(widget(&t, &c, "/attachments")).bearer_auth(&token).header("content-type", ct);
        let r = r.header("x-client-id", "bad").body(bytes.to_vec()).send().await.unwrap();
        assert_eq!(r.status(), 422, "{ct}");
    }
    // A file past the media limit is refused before it is read whole.
    let mut huge = PNG.to_vec();
    huge.resize(64 * 1024 + 1, 0);
    let r = t.client.post(widget(&t, &c, "/attachments")).bearer_auth(&token).header("content-type", "image/png");
    let r = r.header("x-client-id", "huge").body(huge).send().await.unwrap();
    assert_eq!(r.status(), 413);
    let conv = conversations(&t, &c.agent).await[0]["id"].as_i64().unwrap();
    let msgs = thread(&t, &c.agent, conv).await;
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let media = msgs[0]["media"].as_array().unwrap();
    assert_eq!(media.len(), 1);
    assert_eq!(media[0]["content_type"], "image/png");
    assert_eq!(media[0]["state"], "stored", "{media:?}");

    // The agent sends a picture back; the visitor's chat links to it.
    let r = t.client.post(t.url("/api/v1/media")).bearer_auth(&c.agent).header("content-type", "image/png");
    let up = json(r.body(PNG.to_vec()).send().await.unwrap()).await;
    let body = json!({ "body": "Here is our map", "media_ids": [up["id"]] });
    assert_eq!(t.post(&c.agent, &format!("/api/v1/conversations/{conv}/messages"), body).await.status(), 201);
    t.dispatch_all().await;
    let mine = visitor_messages(&t, &c, &token).await;
    assert_eq!(mine.len(), 2);
    let (first, reply) = (&mine[0]["media"][0], &mine[1]["media"][0]);
    assert_eq!((first["inline"].as_bool(), reply["content_type"].as_str()), (Some(true), Some("image/png")));
    for m in [first, reply] {
        let r = t.client.get(t.url(m["url"].as_str().unwrap())).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);
    }
}
both_backends!(attachments_go_both_ways_through_the_media_checks);

async fn visitors_and_networks_have_budgets(db: Db) {
    let t = app(db).start().await;
    let c = chat(&t).await;
    let visitors: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(new_visitor(&t, &c).await);
        }
        v
    };
    for n in 0..20 {
        assert_eq!(say(&t, &c, &visitors[0], "hello?", &format!("a{n}")).await.status(), 201);
    }
    let r = say(&t, &c, &visitors[0], "hello??", "a20").await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    assert!(json(r).await["detail"].as_str().unwrap().starts_with("That is a lot of messages at once."));
    // Another visitor on the same network still has theirs, up to the network's.
    for v in &visitors[1..3] {
        for n in 0..20 {
            assert_eq!(say(&t, &c, v, "hi", &format!("b{n}")).await.status(), 201);
        }
    }
    assert_eq!(say(&t, &c, &visitors[3], "me too", "c0").await.status(), 429, "the network's 60 are spent");
    // New visitors per network are counted too (4 made above).
    for _ in 4..10 {
        new_visitor(&t, &c).await;
    }
    assert_eq!(t.client.post(widget(&t, &c, "/visitors")).send().await.unwrap().status(), 429);
}
both_backends!(visitors_and_networks_have_budgets);

async fn outside_hours_the_widget_shows_the_away_message(db: Db) {
    let t = app(db).start().await;
    let c = chat(&t).await;
    let token = new_visitor(&t, &c).await;
    let state = |token: String| {
        let r = t.client.get(widget(&t, &c, "/state")).bearer_auth(token).send();
        async move { json(r.await.unwrap()).await }
    };
    assert_eq!(state(token.clone()).await["away"], Value::Null, "open by default");
    // A day listed with no hours, and no other day: closed all week.
    let closed = json!({ "settings": { "hours": { "weekly": { "mon": [] } },
        "webchat": { "allowed_sites": SITE, "sms_inbox": c.sms, "away_message": "We are closed, back at 9." } } });
    let r = t.client.patch(t.url(&format!("/api/v1/inboxes/{}", c.inbox))).bearer_auth(&c.admin).json(&closed);
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(state(token.clone()).await["away"], "We are closed, back at 9.");
    let bad = json!({ "settings": { "webchat": { "allowed_sites": "https://shop.example/checkout" } } });
    let r = t.client.patch(t.url(&format!("/api/v1/inboxes/{}", c.inbox))).bearer_auth(&c.admin).json(&bad);
    assert_eq!(r.send().await.unwrap().status(), 422);
}
both_backends!(outside_hours_the_widget_shows_the_away_message);

async fn the_chat_continues_by_text_with_consent_on_record(db: Db) {
    let t = app(db).start().await;
    let c = chat(&t).await;
    let token = new_visitor(&t, &c).await;
    let cont = |body: Value| {
        let r = t.client.post(widget(&t, &c, "/continue-by-text")).bearer_auth(&token).json(&body).send();
        async move { r.await.unwrap() }
    };
    let page = format!("{SITE}/appointments?step=2");
    let ask = json!({ "phone": VISITOR_PHONE, "page": page, "agreed": true });
    assert_eq!(cont(ask.clone()).await.status(), 422, "nothing to continue yet");
    assert_eq!(say(&t, &c, &token, "Can I book a cleaning?", "m1").await.status(), 201);
    let state = json(t.client.get(widget(&t, &c, "/state")).bearer_auth(&token).send().await.unwrap()).await;
    let words = state["text_offer"]["words"].as_str().unwrap().to_owned();
    assert!(words.contains("Test Dental may text me") && words.contains(SMS_NUMBER), "{words}");
    // Not agreed, a page on another site, a number that is not one: refused.
    for bad in [
        json!({ "phone": VISITOR_PHONE, "page": page, "agreed": false }),
        json!({ "phone": VISITOR_PHONE, "page": "https://evil.example/", "agreed": true }),
        json!({ "phone": "call me", "page": page, "agreed": true }),
    ] {
        assert_eq!(cont(bad.clone()).await.status(), 422, "{bad}");
    }
    let r = cont(ask.clone()).await;
    assert_eq!(r.status(), 202, "a code is texted first");
    assert_eq!(json(r).await["code_sent_to"], VISITOR_PHONE);
    // Before the code comes back nothing moved, and the number is nobody's yet.
    let convs = conversations(&t, &c.agent).await;
    assert_eq!((convs.len(), &convs[0]["inbox_id"]), (1, &json!(c.inbox)), "still the web chat");
    let contacts = json(t.get(&c.agent, "/api/v1/contacts").await).await;
    assert!(!contacts.to_string().contains(VISITOR_PHONE), "the number is on no contact: {contacts}");
    // The code goes now, even in the number's night (asked for, not held by quiet hours), from the SMS inbox.
    let night = night_in_los_angeles();
    assert_eq!(t.services.dispatch_at("test", 50, night).await.unwrap().sent, 1);
    let code = code_on_phone(&t, c.sms, VISITOR_PHONE).await;
    let state = json(t.client.get(widget(&t, &c, "/state")).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(state["code"]["to"], VISITOR_PHONE);
    assert_eq!(state["code"]["delivery"], "sent");
    let confirm = |code: String| {
        let r = t.client.post(widget(&t, &c, "/continue-by-text/confirm")).bearer_auth(&token);
        let r = r.json(&json!({ "code": code })).send();
        async move { r.await.unwrap() }
    };
    let r = confirm(code.clone()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["texting_from"], SMS_NUMBER);
    assert_eq!(confirm(code).await.status(), 409, "moved once");
    assert_eq!(cont(ask).await.status(), 409, "nothing more to prove");

    // The agent's conversation is the same one, now in the SMS inbox, and says it moved.
    let convs = conversations(&t, &c.agent).await;
    assert_eq!(convs.len(), 1);
    let conv = convs[0]["id"].as_i64().unwrap();
    assert_eq!(convs[0]["inbox_id"], c.sms);
    let timeline = json(t.get(&c.agent, &format!("/api/v1/conversations/{conv}/timeline")).await).await;
    assert!(timeline.to_string().contains("channel_moved"), "{timeline}");
    let browser = t.browser("dana@example.com").await;
    let html = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Moved from web chat to SMS"), "the agent sees it in the thread");
    // One contact: the web visitor and their phone.
    let detail = json(t.get(&c.agent, &format!("/api/v1/conversations/{conv}")).await).await;
    let contact = json(t.get(&c.agent, &format!("/api/v1/contacts/{}", detail["contact_id"])).await).await;
    let ids = contact["identities"].to_string();
    assert!(ids.contains(VISITOR_PHONE) && ids.contains("webchat"), "{contact}");
    // The consent and its evidence: the page, the time, the exact words.
    let ledger = json(t.get(&c.agent, &format!("/api/v1/contacts/{}/consent", detail["contact_id"])).await).await;
    let entry =
        ledger.as_array().unwrap().iter().find(|e| e["source"] == "web_form").expect("a web_form entry").clone();
    assert_eq!(entry["kind"], "opt_in");
    let evidence = entry["evidence"].as_str().unwrap();
    assert!(evidence.contains(&page) && evidence.contains(&words) && evidence.contains("(UTC)"), "{evidence}");
    assert!(evidence.contains("confirmed by the code texted to it"), "{evidence}");

    // The next reply goes by SMS, to the simulated phone; the phone's answer joins the same conversation.
    let r =
        t.post(&c.agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Tuesday at 10?" })).await;
    assert_eq!(r.status(), 201);
    t.dispatch_all().await;
    let phone = t.url(&format!("/simulator/api/inboxes/{}/phones/{}/messages", c.sms, VISITOR_PHONE));
    let on_phone = t
        .eventually(|| async {
            let list = json(t.client.get(&phone).send().await.unwrap()).await;
            list.as_array().filter(|l| l.len() == 2).cloned()
        })
        .await;
    assert!(on_phone[0]["body"].as_str().unwrap().contains(" code is "), "{on_phone:?}");
    assert_eq!(on_phone[1]["body"], "Tuesday at 10?", "after the code");
    assert_eq!(t.text_in(c.sms, VISITOR_PHONE, "Perfect", None).await.status(), 201);
    let msgs = thread(&t, &c.agent, conv).await;
    assert_eq!(msgs.last().unwrap()["body"], "Perfect");
    assert_eq!(conversations(&t, &c.agent).await.len(), 1);
    // The widget says where the chat went, and shows none of the texts.
    let state = json(t.client.get(widget(&t, &c, "/state")).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(state["texting_from"], SMS_NUMBER);
    assert_eq!(visitor_messages(&t, &c, &token).await.len(), 1);
}
both_backends!(the_chat_continues_by_text_with_consent_on_record);

/// The next 03:00 in Los Angeles (the visitor's +1 415 number), after now.
pub(crate) fn night_in_los_angeles() -> jiff::Timestamp {
    let la = jiff::tz::TimeZone::get("America/Los_Angeles").unwrap();
    let now = jiff::Timestamp::now().to_zoned(la);
    let today = now.date().at(3, 0, 0, 0).to_zoned(now.time_zone().clone()).unwrap();
    let at = if today > now { today } else { today.tomorrow().unwrap() };
    at.timestamp()
}

/// The code in the latest code text the simulated phone received from `sms`.
pub(crate) async fn code_on_phone(t: &TestApp, sms: i64, phone: &str) -> String {
    let url = t.url(&format!("/simulator/api/inboxes/{sms}/phones/{phone}/messages"));
    let list = json(t.client.get(&url).send().await.unwrap()).await;
    let text =
        list.as_array().unwrap().iter().rev().find_map(|m| m["body"].as_str().filter(|b| b.contains(" code is ")));
    let text = text.expect("a code text on the phone").to_owned();
    assert!(text.starts_with("Your Test Dental code is ") && text.contains("Reply STOP"), "{text}");
    text.split(" code is ").nth(1).unwrap()[..6].to_owned()
}

async fn the_text_us_page_shows_the_number_and_its_code(db: Db) {
    let t = app(db).start().await;
    let c = chat(&t).await;
    for inbox in [c.sms, c.inbox] {
        let r = t.client.get(t.url(&format!("/text-us/{inbox}"))).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        assert!(html.contains("Text Test Dental") && html.contains(&format!("href=\"sms:{SMS_NUMBER}\"")), "{html}");
        assert!(html.contains("<svg") && html.contains("QR code that starts a text message"), "{html}");
    }
    let r = t.client.get(t.url("/text-us/9999")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("<html"), "an error page, not JSON");
}
both_backends!(the_text_us_page_shows_the_number_and_its_code);
