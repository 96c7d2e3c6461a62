//! The web UI over real HTTP: sign-in, CSRF protection, replying from a form,
//! the opted-out block shown to the agent, and live updates over SSE.

use crate::common;

use std::time::Duration;

use common::{Db, PASSWORD, app, csrf_of, json, sign_in};
use textdesk_core::{ConsentState, Role};

#[tokio::test]
async fn sign_in_and_out() {
    let t = app(Db::Sqlite).start().await;
    t.user("dana@example.com", Role::Agent).await;
    let anon = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = anon.get(t.url("/inbox?view=all")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login?next=/inbox%3Fview%3Dall");

    let r = sign_in(&anon, &t.base, "dana@example.com", "wrong password").await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("do not match"));
    let r = sign_in(&anon, &t.base, "nobody@example.com", PASSWORD).await;
    assert_eq!(r.status(), 401);

    // A login link cannot send people elsewhere.
    let page = anon.get(t.url("/login")).send().await.unwrap();
    let cookie = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let csrf = csrf_of(&page.text().await.unwrap());
    let r = anon
        .post(t.url("/login"))
        .header("cookie", cookie)
        .form(&[("email", "dana@example.com"), ("password", PASSWORD), ("next", "//evil.example/"), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/inbox");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("textdesk_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");

    let browser = t.browser("dana@example.com").await;
    let page = browser.get(t.url("/inbox")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let csrf = csrf_of(&html);
    let r = browser.post(t.url("/logout")).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(browser.get(t.url("/inbox")).send().await.unwrap().status(), 303, "signed out");
}

#[tokio::test]
async fn forms_without_the_csrf_token_or_from_elsewhere_are_refused() {
    let t = app(Db::Sqlite).start().await;
    let inbox = t.simulator_inbox().await;
    t.user("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550111", "hi", None).await).await["conversation_id"].as_i64().unwrap();
    let browser = t.browser("dana@example.com").await;
    let html = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    let csrf = csrf_of(&html);
    let reply = t.url(&format!("/conversations/{conv}/reply"));

    let r = browser.post(&reply).form(&[("csrf", "forged"), ("body", "hello")]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = browser.post(&reply).form(&[("body", "hello")]).send().await.unwrap();
    assert!(r.status().is_client_error());
    let r = browser
        .post(&reply)
        .header("origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str()), ("body", "hello")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let assign = t.url(&format!("/conversations/{conv}/assign"));
    let r = browser.post(&assign).form(&[("csrf", "forged"), ("assignee", "me")]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(t.dispatch_all().await, 0, "nothing was queued");

    // The genuine forms, from our own origin, work.
    let r = browser.post(&assign).form(&[("csrf", csrf.as_str()), ("assignee", "me")]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let html = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("took this"), "the timeline shows the assignment");
    let r = browser
        .post(&reply)
        .header("origin", t.base.as_str())
        .form(&[("csrf", csrf.as_str()), ("body", "hello")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(t.dispatch_all().await, 1);
}

#[tokio::test]
async fn the_agent_sees_why_a_reply_is_blocked() {
    let t = app(Db::Sqlite).start().await;
    let inbox = t.simulator_inbox().await;
    let dana = t.user("dana@example.com", Role::Agent).await;
    let r = json(t.text_in(inbox, "+14155550155", "Who is this?", None).await).await;
    let conv = r["conversation_id"].as_i64().unwrap();
    let c = t.services.store.conversation(t.account_id, conv).await.unwrap();
    t.services
        .store
        .record_consent(
            t.account_id,
            textdesk_store::RecordConsent {
                contact_id: c.contact_id,
                conversation_id: None,
                scope: textdesk_store::ACCOUNT_SCOPE,
                state: ConsentState::OptedOut,
                source: "agent",
                evidence: "said stop on the phone",
                actor_id: Some(dana.id),
            },
        )
        .await
        .unwrap();

    let browser = t.browser("dana@example.com").await;
    let html = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("has opted out"), "the composer warns before sending");
    let csrf = csrf_of(&html);
    let r = browser
        .post(t.url(&format!("/conversations/{conv}/reply")))
        .form(&[("csrf", csrf.as_str()), ("body", "Please reconsider")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"flash\""), "the reason is shown");
    assert!(html.contains("Nothing can be sent until they text START"));
    assert!(html.contains("Please reconsider"), "the draft is kept");
    assert_eq!(t.dispatch_all().await, 0);
    assert_eq!(t.services.carrier.accepted(), 0);
}

#[tokio::test]
async fn pages_render_the_inbox_and_thread_without_javascript() {
    let t = app(Db::Sqlite).start().await;
    let inbox = t.simulator_inbox().await;
    t.user("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550111", "Is <b>this</b> escaped?", None).await).await["conversation_id"]
        .as_i64()
        .unwrap();
    let browser = t.browser("dana@example.com").await;
    let html = browser.get(t.url("/inbox?view=unassigned")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(&format!("/conversations/{conv}")));
    assert!(
        html.contains("Is &#60;b&#62;this&#60;/b&#62; escaped?")
            || html.contains("Is &lt;b&gt;this&lt;/b&gt; escaped?"),
        "customer text is escaped"
    );
    assert!(!html.contains("<b>this</b>"));
    let html = browser.get(t.url("/inbox?status=bogus")).send().await.unwrap();
    assert_eq!(html.status(), 422);
    assert_eq!(browser.get(t.url("/conversations/424242")).send().await.unwrap().status(), 404);
    let fragment =
        browser.get(t.url(&format!("/conversations/{conv}/thread"))).send().await.unwrap().text().await.unwrap();
    assert!(fragment.contains("messages") && !fragment.contains("<html"));
}

/// Reads server-sent events until one of `kind` arrives; returns its data.
async fn next_event(resp: &mut reqwest::Response, kind: &str, buf: &mut String) -> serde_json::Value {
    next_of(resp, &[kind], buf).await.1
}

/// Reads server-sent events until one of `kinds` arrives; returns its kind and data.
async fn next_of(resp: &mut reqwest::Response, kinds: &[&str], buf: &mut String) -> (String, serde_json::Value) {
    let fut = async {
        loop {
            if let Some(pos) = buf.find("\n\n") {
                let block: String = buf.drain(..pos + 2).collect();
                let event = block.lines().find_map(|l| l.strip_prefix("event:")).map(str::trim).unwrap_or("");
                let data = block.lines().find_map(|l| l.strip_prefix("data:")).map(str::trim).unwrap_or("");
                if kinds.contains(&event) {
                    return (event.to_owned(), serde_json::from_str(data).unwrap());
                }
                continue;
            }
            let chunk = resp.chunk().await.unwrap().expect("stream open");
            buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(Duration::from_secs(1), fut).await.expect("event within a second")
}

async fn live_events_reach_open_screens(db: Db) {
    let t = app(db).workers().start().await;
    let inbox = t.simulator_inbox().await;
    t.user("dana@example.com", Role::Agent).await;
    let token = t.token_for("sam@example.com", Role::Agent).await;
    let browser = t.browser("dana@example.com").await;
    let mut ui = browser.get(t.url("/events")).send().await.unwrap();
    assert_eq!(ui.headers()["content-type"], "text/event-stream");
    let mut api = t.client.get(t.url("/api/v1/events")).bearer_auth(&token).send().await.unwrap();
    let (mut b1, mut b2) = (String::new(), String::new());

    let accepted = json(t.text_in(inbox, "+14155550111", "Anyone there?", None).await).await;
    let ev = next_event(&mut ui, "message.created", &mut b1).await;
    assert_eq!(ev["conversation_id"], accepted["conversation_id"]);
    let ev = next_event(&mut api, "message.created", &mut b2).await;
    assert_eq!(ev["message_id"], accepted["message_id"]);

    // A reply goes out and its delivery tick arrives live too.
    let conv = accepted["conversation_id"].as_i64().unwrap();
    let m = json(
        t.post(
            &token,
            &format!("/api/v1/conversations/{conv}/messages"),
            serde_json::json!({ "body": "Yes! How can we help?" }),
        )
        .await,
    )
    .await;
    // The dispatcher may report the send before the reply's own event is out:
    // the two kinds arrive in either order.
    let (mut created, mut delivered) = (false, false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while !(created && delivered) {
        let (kind, ev) = next_of(&mut ui, &["message.created", "message.updated"], &mut b1).await;
        assert_eq!(ev["message_id"], m["id"]);
        created |= kind == "message.created";
        let status = t.services.store.message(m["id"].as_i64().unwrap()).await.unwrap().status;
        delivered |= kind == "message.updated" && status == textdesk_core::DeliveryStatus::Delivered;
        assert!(tokio::time::Instant::now() < deadline, "created and delivered within 3 s");
    }
}
both_backends!(live_events_reach_open_screens);

/// Two nodes on one PostgreSQL database: a text arriving at one reaches an
/// agent connected to the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_events_cross_nodes_on_postgres() {
    let Some((a, b)) = common::two_postgres_nodes().await else { return };
    let inbox = a.simulator_inbox().await;
    let token = b.token_for("sam@example.com", Role::Agent).await;
    let mut stream = b.client.get(b.url("/api/v1/events")).bearer_auth(&token).send().await.unwrap();
    let mut buf = String::new();
    let accepted = json(a.text_in(inbox, "+14155550111", "Hello node A", None).await).await;
    let ev = next_event(&mut stream, "message.created", &mut buf).await;
    assert_eq!(ev["message_id"], accepted["message_id"]);
}

/// A long conversation opens at its end: the latest 200 messages, with a link
/// to earlier ones; the API pages back from the end the same way.
async fn long_threads_open_at_their_end(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550142", "note 0 from the customer", None).await).await["conversation_id"]
        .as_i64()
        .unwrap();
    for n in 1..=230 {
        let r = t
            .post(
                &token,
                &format!("/api/v1/conversations/{conv}/messages"),
                serde_json::json!({ "body": format!("note {n} for the team"), "private": true }),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    let browser = t.browser("dana@example.com").await;
    let page = |q: &str| {
        let url = t.url(&format!("/conversations/{conv}{q}"));
        let b = browser.clone();
        async move { b.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let html = page("").await;
    assert!(html.contains("note 230 for the team"), "the newest message is shown");
    assert!(html.contains("note 31 for the team") && !html.contains("note 30 for the team"), "exactly the latest 200");
    assert!(!html.contains("Conversation started"), "what came before the window is left out with it");
    assert!(html.contains(&format!("href=\"/conversations/{conv}?shown=400\">Show earlier messages")));
    let all = page("?shown=400").await;
    assert!(all.contains("note 0 from the customer") && all.contains("Conversation started"));
    assert!(!all.contains("Show earlier messages"), "nothing is left to show");
    // A nonsense count is read as the first page, not an error.
    assert!(page("?shown=-5").await.contains("Show earlier messages"));

    let api = |q: String| {
        let (t, token) = (&t, &token);
        async move { json(t.get(token, &format!("/api/v1/conversations/{conv}/messages?{q}")).await).await }
    };
    let bodies = |v: &serde_json::Value| {
        v.as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    let last = api("latest=true&limit=3".into()).await;
    assert_eq!(bodies(&last), ["note 228 for the team", "note 229 for the team", "note 230 for the team"]);
    let before = last[0]["id"].as_i64().unwrap();
    let earlier = api(format!("before_id={before}&limit=2")).await;
    assert_eq!(bodies(&earlier), ["note 226 for the team", "note 227 for the team"]);
    let first = api("limit=1".into()).await;
    assert_eq!(bodies(&first), ["note 0 from the customer"], "without latest, paging starts at the beginning");
    let r = t.get(&token, &format!("/api/v1/conversations/{conv}/messages?after_id=1&before_id=9")).await;
    assert_eq!(r.status(), 422);
}

both_backends!(long_threads_open_at_their_end);
