//! Escalation (issue 16) over real HTTP on both backends: to a supervisor (the
//! team's lead or one chosen; assigned or watching; priority urgent; alerted
//! on their live stream; their Escalated view; the timeline in words; an
//! `escalation.created` webhook), to a video call (a link from the account's
//! template texted through the gate: queued, held by quiet hours, refused for
//! an opted-out customer with nothing recorded), bad asks refused in words,
//! and the customer's next text back in the same conversation with the same
//! agent. Calls and call backs: `voice.rs`.

use jiff::Timestamp;
use serde_json::{Value, json};
use textdesk_core::Role;

use crate::common::smtp::{mails, smtp_server, smtp_server_on};
use crate::common::{self, Db, TestApp, json, receiver, wait_for_frame};

async fn me(t: &TestApp, token: &str) -> i64 {
    json(t.get(token, "/api/v1/me").await).await["id"].as_i64().unwrap()
}

async fn problem(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status(), status);
    json(r).await
}

async fn to_a_supervisor_assigned_watched_alerted_and_delivered(db: Db) {
    let (hooks, port) = receiver().await;
    let t = common::app(db).config(|c| c.webhook_allow_private_hosts = vec!["127.0.0.1".into()]).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let lead = t.token_for("sam@example.com", Role::Supervisor).await;
    let other = t.token_for("lee@example.com", Role::Supervisor).await;
    let (dana, sam, lee) = (me(&t, &agent).await, me(&t, &lead).await, me(&t, &other).await);
    let hook = json!({ "url": format!("http://127.0.0.1:{port}/hook"), "events": ["escalation.created"] });
    assert_eq!(t.post(&admin, "/api/v1/webhooks", hook).await.status(), 201);
    // A team whose lead is Sam: its supervisor member with the lowest id (Lee joined the account later).
    let team = json(t.post(&admin, "/api/v1/teams", json!({ "name": "Billing" })).await).await["id"].as_i64().unwrap();
    for id in [dana, lee, sam] {
        let r = t.post(&admin, &format!("/api/v1/teams/{team}/members"), json!({ "user_id": id })).await;
        assert!(r.status().is_success());
    }
    let inbox = t.simulator_inbox().await;
    let first = json(t.text_in(inbox, "+14155550160", "I was charged twice!", None).await).await;
    let conv = first["conversation_id"].as_i64().unwrap();
    let assign = json!({ "assignee_id": dana, "team_id": team });
    assert_eq!(t.post(&agent, &format!("/api/v1/conversations/{conv}/assign"), assign).await.status(), 200);

    // Sam's live stream is open before the escalation.
    let mut stream = t.client.get(t.url("/api/v1/events")).bearer_auth(&lead).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    wait_for_frame(&mut stream, "ready").await;

    // Dana keeps it; the team's lead watches.
    let path = format!("/api/v1/conversations/{conv}/escalations");
    let ask = json!({ "to": "supervisor", "reason": "Wants a refund over $500", "keep_agent": true });
    let r = t.post(&agent, &path, ask).await;
    assert_eq!(r.status(), 201);
    let e = json(r).await;
    assert_eq!((e["to"].as_str(), e["supervisor_id"].as_i64()), (Some("supervisor"), Some(sam)));
    assert_eq!((e["kept_agent"].as_bool(), e["actor_id"].as_i64()), (Some(true), Some(dana)));
    assert_eq!(e["reason"], "Wants a refund over $500");
    let c = json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await;
    assert_eq!((c["priority"].as_str(), c["assignee_id"].as_i64()), (Some("urgent"), Some(dana)));

    // Sam hears it live, addressed to them.
    let frame = wait_for_frame(&mut stream, "conversation.escalated").await;
    assert_eq!((frame["conversation_id"].as_i64(), frame["for_user"].as_i64()), (Some(conv), Some(sam)));

    // Sam's Escalated view holds it; Lee's and Dana's do not.
    let ids = |v: Value| v["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect::<Vec<_>>();
    assert_eq!(ids(json(t.get(&lead, "/api/v1/conversations?view=escalated").await).await), [conv]);
    assert!(ids(json(t.get(&other, "/api/v1/conversations?view=escalated").await).await).is_empty());
    assert!(ids(json(t.get(&agent, "/api/v1/conversations?view=escalated").await).await).is_empty());

    // The timeline, the list of escalations, and the words on the page.
    let tl = json(t.get(&agent, &format!("/api/v1/conversations/{conv}/timeline")).await).await;
    let kinds: Vec<&str> = tl.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.ends_with(&["priority_changed", "escalated"]), "{kinds:?}");
    let listed = json(t.get(&lead, &path).await).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["supervisor_name"], "sam");
    let browser = t.browser("sam@example.com").await;
    let page = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("escalated this to a supervisor (sam is watching, priority urgent): “Wants a refund over $500”"),
        "the timeline in words"
    );
    assert!(page.contains(r#"id="escalate-supervisor""#) && page.contains("Escalate"), "the Escalate menu");
    let inbox_page = browser.get(t.url("/inbox?view=escalated")).send().await.unwrap().text().await.unwrap();
    assert!(inbox_page.contains(">Escalated</a>") && inbox_page.contains(&format!("/conversations/{conv}")));
    let dana_page = t.browser("dana@example.com").await.get(t.url("/inbox")).send().await.unwrap();
    assert!(!dana_page.text().await.unwrap().contains(">Escalated</a>"), "agents take no escalations");
    let n =
        json(browser.get(t.url(&format!("/conversations/{conv}/notice?about=escalation"))).send().await.unwrap()).await;
    assert_eq!(n["title"], "Escalated: +14155550160");
    assert!(n["body"].as_str().unwrap().starts_with("dana escalated this conversation to you: “Wants a refund"), "{n}");

    // Webhooks get escalation.created.
    t.services.run_webhooks().await.unwrap();
    assert_eq!(t.services.send_webhooks_due(Timestamp::now()).await.unwrap(), 1);
    let got = hooks.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["type"], "escalation.created");
    let d = &got[0]["data"];
    assert_eq!((d["conversation_id"].as_i64(), d["to"].as_str()), (Some(conv), Some("supervisor")));
    assert_eq!((d["supervisor_id"].as_i64(), d["escalated_by"].as_i64()), (Some(sam), Some(dana)));
    assert_eq!((d["reason"].as_str(), d["kept_agent"].as_bool()), (Some("Wants a refund over $500"), Some(true)));

    // The customer's next text: the same conversation, the same agent.
    let next = json(t.text_in(inbox, "+14155550160", "Any news?", None).await).await;
    assert_eq!(next["conversation_id"].as_i64(), Some(conv));
    let c = json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await;
    assert_eq!(c["assignee_id"].as_i64(), Some(dana));

    // Handed over: assigned to the supervisor chosen, who then is the one the customer's next text reaches.
    let ask = json!({ "to": "supervisor", "supervisor_id": lee });
    let e = json(t.post(&agent, &path, ask).await).await;
    assert_eq!((e["supervisor_id"].as_i64(), e["kept_agent"].as_bool()), (Some(lee), Some(false)));
    let c = json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await;
    assert_eq!(c["assignee_id"].as_i64(), Some(lee));
    let again = json(t.text_in(inbox, "+14155550160", "Hello?", None).await).await;
    assert_eq!(again["conversation_id"].as_i64(), Some(conv));
    let c = json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await;
    assert_eq!(c["assignee_id"].as_i64(), Some(lee));
}
both_backends!(to_a_supervisor_assigned_watched_alerted_and_delivered);

async fn refused_in_words(db: Db) {
    let t = common::app(db).start().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let other = t.token_for("kim@example.com", Role::Agent).await;
    let kim = me(&t, &other).await;
    let inbox = t.simulator_inbox().await;
    let conv = json(t.text_in(inbox, "+14155550161", "Hi", None).await).await["conversation_id"].as_i64().unwrap();
    let path = format!("/api/v1/conversations/{conv}/escalations");
    // A call back needs its time (tests/app/voice.rs has calls and call backs that happen).
    let p = problem(t.post(&agent, &path, json!({ "to": "callback" })).await, 422).await;
    assert!(p["detail"].as_str().unwrap().contains("choose when to call back"), "{p}");
    let p = problem(t.post(&agent, &path, json!({ "to": "callback", "at": "2020-01-01T10:00" })).await, 422).await;
    assert!(p["detail"].as_str().unwrap().contains("within the next 30 days"), "{p}");
    let p = problem(t.post(&agent, &path, json!({ "to": "email", "email": "jo@example.net" })).await, 422).await;
    assert!(p["detail"].as_str().unwrap().contains("email is not set up"), "{p}");
    let p = problem(t.post(&agent, &path, json!({ "to": "manager" })).await, 422).await;
    assert!(p["detail"].as_str().unwrap().contains("supervisor, call, callback, video, email"), "{p}");
    // No team to take a lead from, and an agent is no supervisor.
    let p = problem(t.post(&agent, &path, json!({ "to": "supervisor" })).await, 422).await;
    assert!(p["detail"].as_str().unwrap().contains("choose the supervisor"), "{p}");
    let p = problem(t.post(&agent, &path, json!({ "to": "supervisor", "supervisor_id": kim })).await, 422).await;
    assert!(p["detail"].as_str().unwrap().contains("agents cannot take escalations"), "{p}");
    let long = "x".repeat(501);
    let lead = t.token_for("sam@example.com", Role::Supervisor).await;
    let sam = me(&t, &lead).await;
    let ask = json!({ "to": "supervisor", "supervisor_id": sam, "reason": long });
    assert_eq!(t.post(&agent, &path, ask).await.status(), 422);
    assert_eq!(
        t.post(&agent, "/api/v1/conversations/999999/escalations", json!({ "to": "video" })).await.status(),
        404
    );
    // Nothing was recorded by any of these.
    assert!(json(t.get(&agent, &path).await).await.as_array().unwrap().is_empty());
    let c = json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await;
    assert_eq!(c["priority"], "none");
}
both_backends!(refused_in_words);

async fn a_video_link_through_the_gate(db: Db) {
    let t = common::app(db).config(|c| c.live_exchange_minutes = 0).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let inbox = t.simulator_inbox().await;
    let conv = json(t.text_in(inbox, "+14155550162", "Can you see the rash?", None).await).await["conversation_id"]
        .as_i64()
        .unwrap();
    // Midday on the customer's clock, whenever the test runs: the link is a business-initiated text.
    t.move_contact_to(&agent, conv, &common::zone_at_hour(12).0).await;
    let path = format!("/api/v1/conversations/{conv}/escalations");
    let patch = |settings: Value| {
        t.client.patch(t.url("/api/v1/account")).bearer_auth(&admin).json(&json!({ "settings": settings })).send()
    };

    // The default template: a Jitsi room with a random id, texted now.
    let e = json(t.post(&agent, &path, json!({ "to": "video" })).await).await;
    let link = e["link"].as_str().unwrap().to_owned();
    let room = link.strip_prefix("https://meet.jit.si/textdesk-").expect("the default template");
    assert!(room.len() >= 12 && room.chars().all(|c| c.is_ascii_alphanumeric()), "{link}");
    let messages = json(t.get(&agent, &format!("/api/v1/conversations/{conv}/messages")).await).await;
    let sent = messages.as_array().unwrap().iter().find(|m| m["id"] == e["message_id"]).expect("the text").clone();
    assert!(sent["body"].as_str().unwrap().ends_with(&link), "{sent}");
    assert_eq!(sent["status"], "queued");
    assert_eq!(t.dispatch_all().await, 1);
    let tl = json(t.get(&agent, &format!("/api/v1/conversations/{conv}/timeline")).await).await;
    let last = tl.as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["kind"].as_str(), last["data"]["link"].as_str()), (Some("escalated"), Some(link.as_str())));

    // The account's own template; a bad one is refused.
    let r = patch(json!({ "escalation": { "video_link": "http://meet.example.com/{room}" } })).await.unwrap();
    assert_eq!(r.status(), 422);
    let r = patch(json!({ "escalation": { "video_link": "https://video.example.com/r/{room}?lang=en" } })).await;
    assert_eq!(r.unwrap().status(), 200);
    let e = json(t.post(&agent, &path, json!({ "to": "video", "reason": "needs to see it" })).await).await;
    let link = e["link"].as_str().unwrap();
    assert!(link.starts_with("https://video.example.com/r/") && link.ends_with("?lang=en"), "{link}");

    // Quiet hours in the customer's zone hold the text; the escalation is recorded with it.
    let (zone, tz) = common::zone_at_hour(9);
    t.move_contact_to(&agent, conv, &zone).await;
    assert_eq!(patch(json!({ "quiet_hours": "10:00-18:00" })).await.unwrap().status(), 200);
    let e = json(t.post(&agent, &path, json!({ "to": "video" })).await).await;
    let messages = json(t.get(&agent, &format!("/api/v1/conversations/{conv}/messages")).await).await;
    let held = messages.as_array().unwrap().iter().find(|m| m["id"] == e["message_id"]).unwrap().clone();
    assert_eq!(held["status"], "scheduled", "{held}");
    let at = held["send_at"].as_str().unwrap().parse::<Timestamp>().unwrap().to_zoned(tz);
    assert_eq!((at.hour(), at.minute()), (10, 0));

    // An opted-out customer gets nothing, and nothing is recorded.
    let c = json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await;
    let stop = json!({ "state": "opted_out", "source": "verbal", "evidence": "Asked for no more texts" });
    assert_eq!(t.post(&agent, &format!("/api/v1/contacts/{}/consent", c["contact_id"]), stop).await.status(), 201);
    let p = problem(t.post(&agent, &path, json!({ "to": "video" })).await, 409).await;
    assert_eq!(p["reason"], "opted_out");
    assert_eq!(json(t.get(&agent, &path).await).await.as_array().unwrap().len(), 3);
}
both_backends!(a_video_link_through_the_gate);

async fn an_erasure_takes_the_reasons(db: Db) {
    let t = common::app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let sam = me(&t, &t.token_for("sam@example.com", Role::Supervisor).await).await;
    let inbox = t.simulator_inbox().await;
    let first = json(t.text_in(inbox, "+14155550163", "My name is Jo Smith, account 4471", None).await).await;
    let conv = first["conversation_id"].as_i64().unwrap();
    let path = format!("/api/v1/conversations/{conv}/escalations");
    let ask = json!({ "to": "supervisor", "supervisor_id": sam, "reason": "Jo Smith, account 4471, threatens to sue" });
    assert_eq!(t.post(&agent, &path, ask).await.status(), 201);
    let c = json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await;
    let erasure = format!("/api/v1/contacts/{}/erasure", c["contact_id"]);
    assert_eq!(t.post(&admin, &erasure, json!({})).await.status(), 200);
    // The escalation happened (it stays, as the timeline does), without the words about them.
    let listed = json(t.get(&agent, &path).await).await;
    assert_eq!((listed[0]["to"].as_str(), listed[0]["reason"].is_null()), (Some("supervisor"), true), "{listed}");
    let tl = json(t.get(&agent, &format!("/api/v1/conversations/{conv}/timeline")).await).await;
    let esc = tl.as_array().unwrap().iter().find(|e| e["kind"] == "escalated").unwrap().clone();
    assert!(esc["data"].get("reason").is_none() && esc["data"]["supervisor_id"] == sam, "{esc}");
    assert!(!tl.to_string().contains("4471"));
}
both_backends!(an_erasure_takes_the_reasons);

/// An admin sets the meeting link on the account page; a bad one comes back with the reason; empty is the default.
async fn the_video_link_on_the_account_page(db: Db) {
    let t = common::app(db).start().await;
    t.user("ada@example.com", Role::Admin).await;
    let admin = t.browser("ada@example.com").await;
    let html = admin.get(t.url("/settings/account")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Video calls") && html.contains("value=\"https://meet.jit.si/textdesk-{room}\""), "{html}");
    let csrf = common::csrf_of(&html);
    let save = |value: &str| {
        admin.post(t.url("/settings/account/video")).form(&[("csrf", csrf.as_str()), ("video_link", value)]).send()
    };
    let r = save("https://meet.example.com/fixed").await.unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("must hold {room} exactly once") && html.contains("value=\"https://meet.example.com/fixed\"")
    );
    let r = save(" https://meet.example.com/clinic-{room} ").await.unwrap();
    assert_eq!(
        (r.status().as_u16(), r.headers()["location"].to_str().unwrap()),
        (303, "/settings/account?saved=video#video")
    );
    let settings = t.services.account_settings(t.account_id).await.unwrap();
    assert_eq!(settings.escalation.video_link, "https://meet.example.com/clinic-{room}");
    assert_eq!(save("").await.unwrap().status(), 303);
    let settings = t.services.account_settings(t.account_id).await.unwrap();
    assert_eq!(settings.escalation.video_link, "https://meet.jit.si/textdesk-{room}");
}
both_backends!(the_video_link_on_the_account_page);

async fn by_email_through_a_real_smtp_server(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut smtp, port)) = smtp_server(dir.path()) else { return };
    // 1 MiB a file: an inbound email may then be 11 MiB in all.
    let t = common::app(db).config(|c| c.media_max_bytes = 1 << 20).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let inbox = t.simulator_inbox().await;
    let conv = json(t.text_in(inbox, "+14155550164", "The invoice has the wrong address", None).await).await
        ["conversation_id"]
        .as_i64()
        .unwrap();
    let said = json!({ "body": "Sorry! I will send you the details by email." });
    assert_eq!(t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), said).await.status(), 201);
    let note = json!({ "body": "Check the billing system", "private": true });
    assert_eq!(t.post(&agent, &format!("/api/v1/conversations/{conv}/messages"), note).await.status(), 201);

    // The mail server, with a write-only password: kept sealed, never shown.
    let email = json!({ "email": { "host": "127.0.0.1", "port": port, "tls": "none", "from": "help@clinic.example",
        "reply_domain": "Reply.Clinic.example", "password": "hunter2-smtp" } });
    let r = t.client.patch(t.url("/api/v1/account")).bearer_auth(&admin).json(&json!({ "settings": email })).send();
    let r = r.await.unwrap();
    assert_eq!(r.status(), 200);
    let shown = r.text().await.unwrap();
    assert!(!shown.contains("hunter2") && shown.contains("reply.clinic.example"), "{shown}");
    let stored = t.services.store.account_settings(t.account_id).await.unwrap();
    assert!(!stored.to_string().contains("hunter2"), "not in the settings: {stored}");
    let sealed = t.services.store.server_secret(&format!("smtp_password:{}", t.account_id)).await.unwrap();
    assert_eq!(sealed.as_deref(), Some("hunter2-smtp"));

    // A bad address is refused; a good one is kept on the contact and the transcript goes to it.
    let path = format!("/api/v1/conversations/{conv}/escalations");
    let p = problem(t.post(&agent, &path, json!({ "to": "email", "email": "jo at example" })).await, 422).await;
    assert!(p["detail"].as_str().unwrap().contains("e-mail") || p["detail"].as_str().unwrap().contains("email"), "{p}");
    let r = t.post(&agent, &path, json!({ "to": "email", "email": "Jo@Example.net", "reason": "wants it in writing" }));
    let e = json(r.await).await;
    assert_eq!(e["to"], "email");
    let reply_to = e["link"].as_str().unwrap().to_owned();
    let token = reply_to.strip_prefix("reply+").and_then(|r| r.strip_suffix("@reply.clinic.example")).unwrap();
    assert!(token.len() >= 40 && token.chars().all(|c| c.is_ascii_hexdigit()), "{reply_to}");
    let got = mails(dir.path());
    assert_eq!(got.len(), 1);
    let mail = &got[0];
    let header = |name: &str| {
        mail.lines().find_map(|l| l.strip_prefix(&format!("{name}: "))).unwrap_or_else(|| panic!("{name} in {mail}"))
    };
    assert_eq!(header("From"), "help@clinic.example");
    assert_eq!(header("Reply-To"), reply_to);
    assert!(header("To").eq_ignore_ascii_case("jo@example.net"), "{mail}");
    assert!(header("Subject").starts_with("Your conversation with"), "{mail}");
    assert!(mail.contains("You: The invoice has the wrong address"), "the customer's words: {mail}");
    assert!(mail.contains("Sorry! I will send you the details by email."), "our reply: {mail}");
    assert!(!mail.contains("Check the billing system"), "never a private note: {mail}");
    let c = json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await;
    let contact = json(t.get(&agent, &format!("/api/v1/contacts/{}", c["contact_id"])).await).await;
    assert!(contact.to_string().to_lowercase().contains("jo@example.net"), "kept on the contact: {contact}");

    // Next time the kept address serves: a request for the details.
    let e2 = json(t.post(&agent, &path, json!({ "to": "email", "send": "request" })).await).await;
    assert_ne!(e2["link"], e["link"], "a new token each time");
    let got = mails(dir.path());
    assert_eq!(got.len(), 2);
    assert!(got.iter().any(|m| m.contains("please reply to this email with the details")), "{got:?}");
    let tl = json(t.get(&agent, &format!("/api/v1/conversations/{conv}/timeline")).await).await;
    assert_eq!(
        tl.as_array().unwrap().iter().filter(|e| e["kind"] == "escalated" && e["data"]["to"] == "email").count(),
        2
    );

    // The customer's reply, posted by the reply domain's inbound-parse webhook, threads back in, marked as email.
    let page = t.browser("ada@example.com").await.get(t.url("/settings/account")).send().await.unwrap();
    let page = page.text().await.unwrap();
    let start = page.find("/webhooks/email/").expect("the inbound address on the account page");
    let hook: String = page[start..].chars().take_while(|c| *c != '<').collect();
    assert!(hook.starts_with(&format!("/webhooks/email/{}/", t.account_id)) && hook.len() > 40, "{hook}");
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    let reply_with = |hook: &str, to: &str, text: &str, file: (&str, &str, &[u8])| {
        let fields =
            [("from", "Jo <jo@example.net>"), ("to", to), ("subject", "Re: Your conversation"), ("text", text)];
        let (ctype, body) = common::multipart(&fields, &[("attachment1", file.0, file.1, file.2)]);
        t.client.post(t.url(hook)).header("content-type", ctype).body(body).send()
    };
    let reply = |hook: &str, to: &str, text: &str| reply_with(hook, to, text, ("door.png", "image/png", PNG));
    let words =
        "The right address is 12 Oak St, Springfield.\n\nOn Fri, Dec 4, 2026 Test wrote:\n> Our conversation with";
    let to = format!("Test Dental <{}>", reply_to.to_uppercase().replace("REPLY+", "reply+"));
    assert_eq!(reply(&hook, &to, words).await.unwrap().status(), 200);
    assert_eq!(reply(&hook, &to, words).await.unwrap().status(), 200, "a repeat is taken");
    // An attachment that is not what it says, or a body past the limit: refused in words, nothing kept.
    let html = ("door.png", "image/png", b"<html><script>alert(1)</script></html>".as_slice());
    let r = reply_with(&hook, &to, "Here is the picture", html).await.unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("attachment 1: the file is not"), "the type check");
    // One byte over in all, so the server has read the whole body when it answers.
    let limit = 11 << 20;
    let fields = [("from", "Jo <jo@example.net>"), ("to", to.as_str()), ("subject", "Re: Your conversation")];
    let framing = common::multipart(
        &[fields[0], fields[1], fields[2], ("text", "A big one")],
        &[("attachment1", "big.png", "image/png", b"")],
    )
    .1
    .len();
    let huge = vec![0u8; limit - framing + 1];
    let r = reply_with(&hook, &to, "A big one", ("big.png", "image/png", &huge)).await.unwrap();
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().contains("an inbound email may be at most"), "the size limit in words");
    let forged = format!("/webhooks/email/{}/not-the-secret", t.account_id);
    assert_eq!(reply(&forged, &to, "Forged").await.unwrap().status(), 403);
    let unknown = "reply+00aa@reply.clinic.example";
    assert_eq!(reply(&hook, unknown, "Who?").await.unwrap().status(), 404);
    let messages = json(t.get(&agent, &format!("/api/v1/conversations/{conv}/messages")).await).await;
    let back: Vec<&Value> = messages
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["body"] == "The right address is 12 Oak St, Springfield.")
        .collect();
    assert_eq!(back.len(), 1, "once, quoted history cut: {messages}");
    assert_eq!(back[0]["direction"], "inbound");
    let media = back[0]["media"].as_array().unwrap();
    assert_eq!(media.len(), 1, "the attachment is the message's: {}", back[0]);
    assert_eq!((media[0]["content_type"].as_str(), media[0]["state"].as_str()), (Some("image/png"), Some("stored")));
    assert!(!messages.to_string().contains("Here is the picture") && !messages.to_string().contains("A big one"));
    assert!(!messages.to_string().contains("Forged") && !messages.to_string().contains("Our conversation with"));
    let thread = t.browser("dana@example.com").await.get(t.url(&format!("/conversations/{conv}"))).send().await;
    let thread = thread.unwrap().text().await.unwrap();
    assert!(thread.contains("The right address is 12 Oak St") && thread.contains("✉ by email"), "marked as email");

    // A customer with no address, and a mail server that is gone: refused, nothing recorded.
    let other = json(t.text_in(inbox, "+14155550165", "Hi", None).await).await["conversation_id"].as_i64().unwrap();
    let other_path = format!("/api/v1/conversations/{other}/escalations");
    let p = problem(t.post(&agent, &other_path, json!({ "to": "email" })).await, 422).await;
    assert!(p["detail"].as_str().unwrap().contains("no email address"), "{p}");
    smtp.stop();
    let p = problem(t.post(&agent, &other_path, json!({ "to": "email", "email": "kim@example.net" })).await, 422).await;
    assert!(p["detail"].as_str().unwrap().contains("the mail server did not take the email"), "{p}");
    assert!(json(t.get(&agent, &other_path).await).await.as_array().unwrap().is_empty());
}
both_backends!(by_email_through_a_real_smtp_server);

/// A rule asks for the details by email. The job is written in the engine's transaction and sent afterwards by
/// the email worker through the real SMTP server: a server that is down is tried again later, two nodes' workers
/// at once send it once, the thread shows it, and the customer's reply threads back. A job whose address went
/// away, and one the server never takes, are given up with the reason in the thread.
async fn a_rule_asks_for_the_details_by_email(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let port = common::binary::free_port();
    if !std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/peers/aiosmtpd/bin/python").exists() {
        smtp_server_on(dir.path(), port); // says it was skipped, or panics when peers are required
        return;
    }
    let t = common::app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let email = json!({ "email": { "host": "127.0.0.1", "port": port, "tls": "none", "from": "help@clinic.example",
        "reply_domain": "reply.clinic.example" } });
    let r = t.client.patch(t.url("/api/v1/account")).bearer_auth(&admin).json(&json!({ "settings": email })).send();
    assert_eq!(r.await.unwrap().status(), 200);
    let rule = json!({ "name": "Invoices by email", "trigger": { "on": "message_received" },
        "conditions": [{ "if": "text", "matches": { "contains": "invoice" } }],
        "actions": [{ "do": "escalate", "to": "email" }] });
    let bad = json!({ "name": "Bad", "trigger": { "on": "message_received" },
        "actions": [{ "do": "escalate", "to": "email", "supervisor_id": 1 }] });
    assert_eq!(t.post(&admin, "/api/v1/automations", bad).await.status(), 422);
    assert_eq!(t.post(&admin, "/api/v1/automations", rule).await.status(), 201);
    let inbox = t.simulator_inbox().await;
    let from = "+14155550166";
    let conv =
        json(t.text_in(inbox, from, "Where is my invoice?", None).await).await["conversation_id"].as_i64().unwrap();
    t.services.run_automations().await.unwrap();
    let tl = json(t.get(&admin, &format!("/api/v1/conversations/{conv}/timeline")).await).await;
    assert!(tl.to_string().contains("did not email the customer: their contact has no email address"), "{tl}");

    let c = json(t.get(&admin, &format!("/api/v1/conversations/{conv}")).await).await;
    let contact = format!("/api/v1/contacts/{}", c["contact_id"]);
    let set_email = |value: Value| {
        t.client.patch(t.url(&contact)).bearer_auth(&admin).json(&json!({ "attributes": { "email": value } })).send()
    };
    assert_eq!(set_email(json!("kim@example.net")).await.unwrap().status(), 200);
    t.text_in(inbox, from, "The invoice, please", None).await;
    t.services.run_automations().await.unwrap();

    // The mail server is not there yet: nothing sent, nothing recorded, tried again in a minute.
    let now = Timestamp::now();
    assert_eq!(t.services.run_email_jobs(now).await.unwrap(), 0);
    let mut smtp = smtp_server_on(dir.path(), port).unwrap();
    assert_eq!(t.services.run_email_jobs(now).await.unwrap(), 0, "not due again yet");
    // Due again: one node claims it and stops before sending. Another leaves it alone while that claim
    // holds, and sends it once the claim has run out (two nodes' workers at once: one email).
    let later = now + jiff::SignedDuration::from_mins(2);
    let stalled = t.services.store.claim_email_jobs(later, jiff::SignedDuration::from_mins(2), 20).await.unwrap();
    assert_eq!(stalled.len(), 1);
    assert_eq!(t.services.run_email_jobs(later).await.unwrap(), 0, "another node holds it");
    assert!(mails(dir.path()).is_empty());
    let later = later + jiff::SignedDuration::from_mins(3);
    let (a, b) = tokio::join!(t.services.run_email_jobs(later), t.services.run_email_jobs(later));
    assert_eq!(a.unwrap() + b.unwrap(), 1, "two nodes' workers send it once");
    assert_eq!(t.services.run_email_jobs(later).await.unwrap(), 0);
    // The stalled node wakes up: its claim is gone, so it records nothing.
    let late = t.services.store.email_job_sent(&stalled[0], "reply+00@reply.clinic.example", later).await.unwrap();
    assert!(!late, "recorded once");
    let got = mails(dir.path());
    assert_eq!(got.len(), 1);
    let mail = &got[0];
    let header = |name: &str| {
        mail.lines().find_map(|l| l.strip_prefix(&format!("{name}: "))).unwrap_or_else(|| panic!("{name} in {mail}"))
    };
    assert!(header("To").eq_ignore_ascii_case("kim@example.net") && header("Subject").contains("send us the details"));
    assert!(mail.contains("please reply to this email with the details"), "{mail}");
    let listed = json(t.get(&admin, &format!("/api/v1/conversations/{conv}/escalations")).await).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!((listed[0]["to"].as_str(), listed[0]["actor_id"].is_null()), (Some("email"), true));
    assert_eq!(listed[0]["link"].as_str(), Some(header("Reply-To")));
    let thread = t.browser("ada@example.com").await.get(t.url(&format!("/conversations/{conv}"))).send().await;
    let thread = thread.unwrap().text().await.unwrap();
    assert!(thread.contains("is asking the customer by email for the details"), "the rule's firing");
    assert!(
        thread.contains("textdesk escalated this to email; the customer&#39;s reply will come back"),
        "the email sent"
    );

    // Kim answers by email: the reply threads into the conversation.
    let hook = t.services.inbound_email_path(t.account_id).await.unwrap();
    let fields = [
        ("from", "Kim <kim@example.net>"),
        ("to", header("Reply-To")),
        ("subject", "Re: details"),
        ("text", "Number 4471, sent to the old address."),
    ];
    let (ctype, body) = common::multipart(&fields, &[]);
    let r = t.client.post(t.url(&hook)).header("content-type", ctype).body(body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let messages = json(t.get(&admin, &format!("/api/v1/conversations/{conv}/messages")).await).await;
    assert!(messages.to_string().contains("Number 4471, sent to the old address."), "{messages}");

    // The address is taken off before the worker runs: given up at once, said in the thread.
    t.text_in(inbox, from, "invoice?", None).await;
    t.services.run_automations().await.unwrap();
    assert_eq!(set_email(Value::Null).await.unwrap().status(), 200);
    assert_eq!(t.services.run_email_jobs(later).await.unwrap(), 0);
    // A server that is gone for good: five tries, then given up.
    assert_eq!(set_email(json!("kim@example.net")).await.unwrap().status(), 200);
    smtp.stop();
    t.text_in(inbox, from, "invoice!!", None).await;
    t.services.run_automations().await.unwrap();
    let mut at = later;
    for _ in 0..6 {
        assert_eq!(t.services.run_email_jobs(at).await.unwrap(), 0);
        at += jiff::SignedDuration::from_mins(61);
    }
    let tl = json(t.get(&admin, &format!("/api/v1/conversations/{conv}/timeline")).await).await;
    let failed: Vec<&Value> = tl.as_array().unwrap().iter().filter(|e| e["kind"] == "email_failed").collect();
    assert_eq!(failed.len(), 2, "{tl}");
    assert_eq!(failed[0]["data"]["attempts"], 1);
    assert!(failed[0]["data"]["error"].as_str().unwrap().contains("no valid email address"));
    assert_eq!(failed[1]["data"]["attempts"], 5);
    assert_eq!(mails(dir.path()).len(), 1, "nothing more went");
}
both_backends!(a_rule_asks_for_the_details_by_email);

/// An admin changes the mail server's password while e-mails go out: each
/// send finds the old password or the new one, never none (it was deleted and
/// then written again, in two statements, and a send between the two went
/// without one).
async fn a_changed_mail_password_is_never_missing(db: Db) {
    let t = common::app(db).start().await;
    let (store, name) = (t.services.store.clone(), format!("smtp_password:{}", t.account_id));
    store.set_server_secret(&name, Some("first-password")).await.unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = tokio::spawn({
        let (store, name, done) = (store.clone(), name.clone(), done.clone());
        async move {
            let (mut reads, mut missing) = (0, 0);
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                reads += 1;
                if store.server_secret(&name).await.unwrap().is_none() {
                    missing += 1;
                }
                tokio::task::yield_now().await;
            }
            (reads, missing)
        }
    });
    for i in 0..300 {
        store.set_server_secret(&name, Some(&format!("password-{i}"))).await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let (reads, missing) = reader.await.unwrap();
    assert!(reads > 0);
    assert_eq!(missing, 0, "reads that found no password, of {reads}");
    assert_eq!(store.server_secret(&name).await.unwrap().as_deref(), Some("password-299"));
    store.set_server_secret(&name, None).await.unwrap();
    assert_eq!(store.server_secret(&name).await.unwrap(), None, "removed");
}
both_backends!(a_changed_mail_password_is_never_missing);
