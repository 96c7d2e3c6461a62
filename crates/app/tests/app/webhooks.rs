//! Outgoing webhooks, over real HTTP on both backends: a receiver in the test
//! (axum on 127.0.0.1, allowed by `webhook_allow_private_hosts`) gets what a
//! simulated text causes, signed so that the Standard Webhooks reference
//! library for Python (scripts/test-deps.d/60-python-standardwebhooks.sh)
//! verifies it; retries keep the `webhook-id`; a dead receiver does not slow
//! the inbound path; private addresses are refused; roles; resend; a
//! subscription failing for days is switched off. The clock of retries is the
//! `now` the tests pass to `send_webhooks_due`.

use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use textdesk_core::Role;

use crate::common::{self, Db, TestApp, json};

/// What the receiver got: the three headers and the body as sent.
#[derive(Debug, Clone)]
struct Got {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

/// A scripted answer: the status, and a `Retry-After` to send with it.
type Answer = (u16, Option<&'static str>);

/// A webhook receiver: records each request and answers from a script
/// (status, Retry-After), then 200 once the script is used up.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Got>>>,
    answers: Arc<Mutex<VecDeque<Answer>>>,
}

impl Receiver {
    async fn start(answers: &[Answer]) -> (Receiver, u16) {
        let r = Receiver { answers: Arc::new(Mutex::new(answers.iter().copied().collect())), ..Receiver::default() };
        let state = r.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                    state.got.lock().unwrap().push(Got {
                        id: h("webhook-id"),
                        timestamp: h("webhook-timestamp"),
                        signature: h("webhook-signature"),
                        body,
                    });
                    let (status, retry_after) = state.answers.lock().unwrap().pop_front().unwrap_or((200, None));
                    let mut res = StatusCode::from_u16(status).unwrap().into_response();
                    if let Some(ra) = retry_after {
                        res.headers_mut().insert("retry-after", ra.parse().unwrap());
                    }
                    res
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (r, port)
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

/// The app, allowed to post to 127.0.0.1 (any port) over http.
async fn app_allowing_local(db: Db) -> TestApp {
    common::app(db).config(|c| c.webhook_allow_private_hosts = vec!["127.0.0.1".into()]).start().await
}

async fn subscribe(t: &TestApp, admin: &str, port: u16, events: &[&str]) -> Value {
    let r = t
        .post(admin, "/api/v1/webhooks", json!({ "url": format!("http://127.0.0.1:{port}/hook"), "events": events }))
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store", "the secret is kept by no cache");
    json(r).await
}

async fn deliveries(t: &TestApp, token: &str, hook: i64) -> Vec<Value> {
    let r = t.get(token, &format!("/api/v1/webhooks/{hook}/deliveries")).await;
    assert_eq!(r.status(), 200);
    json(r).await.as_array().unwrap().clone()
}

/// The Python peer, or None (the test says it was skipped) unless peers are required.
fn python() -> Option<PathBuf> {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/peers/standardwebhooks/bin/python");
    if bin.exists() {
        return Some(bin);
    }
    if std::env::var("TEXTDESK_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("the standardwebhooks peer is not installed in {} (run scripts/test-deps)", bin.display());
    }
    println!("skipped: the Python standardwebhooks peer is not installed (run scripts/test-deps)");
    None
}

/// Verifies with the Standard Webhooks library; Ok(parsed body) or Err(its complaint).
fn peer_verify(python: &PathBuf, secret: &str, got: &Got) -> Result<Value, String> {
    const SCRIPT: &str = "import sys, json\nfrom standardwebhooks.webhooks import Webhook\n\
        d = json.load(sys.stdin)\n\
        try:\n    print(json.dumps(Webhook(d['secret']).verify(d['body'], d['headers'])))\n\
        except Exception as e:\n    print('REFUSED', type(e).__name__, e)\n";
    let mut child =
        Command::new(python).args(["-c", SCRIPT]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let input = json!({ "secret": secret, "body": got.body, "headers": {
        "webhook-id": got.id, "webhook-timestamp": got.timestamp, "webhook-signature": got.signature } });
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    serde_json::from_str(out.trim()).map_err(|_| out)
}

async fn delivered_and_verified(db: Db) {
    let (rx, port) = Receiver::start(&[]).await;
    let t = app_allowing_local(db).await;
    let admin = t.token_for("admin@example.com", Role::Admin).await;
    let hook = subscribe(&t, &admin, port, &["message.received", "conversation.created"]).await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{secret}");
    let shown = json(t.get(&admin, &format!("/api/v1/webhooks/{}", hook["id"])).await).await;
    assert!(shown.get("secret").is_none(), "the secret is shown once only: {shown}");

    let inbox = t.simulator_inbox().await;
    let answer = t.text_in(inbox, "+14155550199", "Is my crown ready?", None).await;
    assert!(answer.status().is_success());
    assert!(t.services.run_webhooks().await.unwrap() > 0);
    assert_eq!(t.services.send_webhooks_due(Timestamp::now()).await.unwrap(), 2);
    let got = rx.got();
    assert_eq!(got.len(), 2, "created and received");
    let received = got.iter().find(|g| g.body.contains("\"message.received\"")).expect("message.received");
    let body: Value = serde_json::from_str(&received.body).unwrap();
    assert_eq!(body["type"], "message.received");
    assert_eq!(body["data"]["body"], "Is my crown ready?");
    assert_eq!(body["data"]["contact_address"], "+14155550199");
    assert_eq!(body["data"]["direction"], "inbound");
    assert!(body["data"]["conversation_id"].as_i64().unwrap() > 0);
    assert!(body["timestamp"].as_str().unwrap().parse::<Timestamp>().is_ok(), "RFC 3339: {body}");
    assert!(received.id.starts_with("msg_") && received.signature.starts_with("v1,"), "{received:?}");
    let ts: i64 = received.timestamp.parse().unwrap();
    assert!((Timestamp::now().as_second() - ts).abs() < 60);

    // Nothing left to send, and the log says delivered with the answer's code.
    assert_eq!(t.services.send_webhooks_due(Timestamp::now() + SignedDuration::from_hours(1)).await.unwrap(), 0);
    let log = deliveries(&t, &admin, hook["id"].as_i64().unwrap()).await;
    assert!(log.iter().all(|d| d["state"] == "delivered" && d["last_status_code"] == 200 && d["attempts"] == 1));
    // Kept for 30 days, then pruned.
    let now = Timestamp::now();
    assert_eq!(t.services.prune_webhook_log(now + SignedDuration::from_hours(24 * 29)).await.unwrap(), 0);

    let Some(py) = python() else { return };
    let verified = peer_verify(&py, &secret, received).expect("the reference library verifies it");
    assert_eq!(verified["data"]["body"], "Is my crown ready?");
    let mut tampered = received.clone();
    tampered.body = tampered.body.replace("crown", "crowd");
    assert!(peer_verify(&py, &secret, &tampered).unwrap_err().contains("REFUSED"), "a changed body fails");

    // A rotated secret signs from now on; the old one no longer verifies.
    let rotated = json(t.post(&admin, &format!("/api/v1/webhooks/{}/secret", hook["id"]), json!({})).await).await;
    let new_secret = rotated["secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    t.text_in(inbox, "+14155550199", "Hello again", None).await;
    t.services.run_webhooks().await.unwrap();
    t.services.send_webhooks_due(Timestamp::now()).await.unwrap();
    let last = rx.got().last().unwrap().clone();
    assert!(peer_verify(&py, new_secret, &last).is_ok());
    assert!(peer_verify(&py, &secret, &last).is_err_and(|e| e.contains("REFUSED")));
}
both_backends!(delivered_and_verified);

async fn retries_keep_the_same_id(db: Db) {
    let (rx, port) = Receiver::start(&[(500, None), (429, Some("120")), (200, None)]).await;
    let t = app_allowing_local(db).await;
    let admin = t.token_for("admin@example.com", Role::Admin).await;
    let hook = subscribe(&t, &admin, port, &["message.received"]).await["id"].as_i64().unwrap();
    let inbox = t.simulator_inbox().await;
    t.text_in(inbox, "+14155550123", "Hi", None).await;
    t.services.run_webhooks().await.unwrap();
    let t0 = Timestamp::now();
    assert_eq!(t.services.send_webhooks_due(t0).await.unwrap(), 1);
    let log = deliveries(&t, &admin, hook).await;
    assert_eq!((log[0]["state"].as_str(), log[0]["attempts"].as_i64()), (Some("pending"), Some(1)));
    assert_eq!(log[0]["last_status_code"], 500);
    // Not before its backoff; then again, and the 429's Retry-After holds it off for two minutes.
    assert_eq!(t.services.send_webhooks_due(t0 + SignedDuration::from_secs(5)).await.unwrap(), 0);
    assert_eq!(t.services.send_webhooks_due(t0 + SignedDuration::from_secs(11)).await.unwrap(), 1);
    assert_eq!(t.services.send_webhooks_due(t0 + SignedDuration::from_secs(100)).await.unwrap(), 0);
    assert_eq!(t.services.send_webhooks_due(t0 + SignedDuration::from_secs(135)).await.unwrap(), 1);
    let got = rx.got();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|g| g.id == got[0].id), "one webhook-id for every attempt: {got:?}");
    let log = deliveries(&t, &admin, hook).await;
    assert_eq!((log[0]["state"].as_str(), log[0]["attempts"].as_i64()), (Some("delivered"), Some(3)));
    assert_eq!(log[0]["webhook_id"], got[0].id.as_str());
    // Finished deliveries leave the log after 30 days.
    assert_eq!(t.services.prune_webhook_log(t0 + SignedDuration::from_hours(24 * 31)).await.unwrap(), 1);
    assert!(deliveries(&t, &admin, hook).await.is_empty());
}
both_backends!(retries_keep_the_same_id);

async fn retries_stop_after_a_day(db: Db) {
    let (rx, port) = Receiver::start(&[(503, None); 40]).await;
    let t = app_allowing_local(db).await;
    let admin = t.token_for("admin@example.com", Role::Admin).await;
    let hook = subscribe(&t, &admin, port, &["message.received"]).await["id"].as_i64().unwrap();
    let inbox = t.simulator_inbox().await;
    t.text_in(inbox, "+14155550124", "Hi", None).await;
    t.services.run_webhooks().await.unwrap();
    let mut now = Timestamp::now();
    for _ in 0..40 {
        t.services.send_webhooks_due(now).await.unwrap();
        now += SignedDuration::from_hours(1);
    }
    let log = deliveries(&t, &admin, hook).await;
    assert_eq!(log[0]["state"], "failed", "{log:?}");
    let attempts = log[0]["attempts"].as_i64().unwrap();
    assert!((5..=20).contains(&attempts), "backoff, not a retry an hour: {attempts}");
    assert_eq!(rx.got().len() as i64, attempts);
}
both_backends!(retries_stop_after_a_day);

async fn a_dead_receiver_does_not_slow_ingest(db: Db) {
    // A receiver that accepts connections and never answers.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    let t =
        common::app(db).config(|c| c.webhook_allow_private_hosts = vec!["127.0.0.1".into()]).workers().start().await;
    let admin = t.token_for("admin@example.com", Role::Admin).await;
    let hook = subscribe(&t, &admin, port, &["message.received", "conversation.created"]).await["id"].as_i64().unwrap();
    // A healthy receiver beside it still gets its deliveries.
    let (healthy, healthy_port) = Receiver::start(&[]).await;
    subscribe(&t, &admin, healthy_port, &["message.received"]).await;
    let inbox = t.simulator_inbox().await;
    let started = Instant::now();
    for n in 0..8 {
        let one = Instant::now();
        let r = t.text_in(inbox, &format!("+1415555{:04}", 3000 + n), "Anyone there?", None).await;
        assert!(r.status().is_success());
        assert!(one.elapsed() < Duration::from_secs(3), "a text waited {:?}", one.elapsed());
    }
    let texts = started.elapsed();
    // The deliveries exist and are still waiting on the silent receiver (an
    // attempt takes up to 10 s): the texts were answered without them.
    let log = t
        .eventually(|| async {
            let log = deliveries(&t, &admin, hook).await;
            (log.len() == 16).then_some(log)
        })
        .await;
    assert!(log.iter().all(|d| d["state"] == "pending"), "{log:?}");
    t.eventually(|| async { (healthy.got().len() == 8).then_some(()) }).await;
    assert!(texts < Duration::from_secs(8), "8 texts took {texts:?} with a dead receiver");
    drop(dead);
}
both_backends!(a_dead_receiver_does_not_slow_ingest);

async fn private_addresses_are_refused(db: Db) {
    let t = common::app(db).start().await;
    let admin = t.token_for("admin@example.com", Role::Admin).await;
    for url in [
        "http://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://169.254.169.254/latest",
        "https://[::1]/x",
        "https://localhost/x",
        "ftp://example.com/x",
        "not a url",
    ] {
        let r = t.post(&admin, "/api/v1/webhooks", json!({ "url": url, "events": ["message.received"] })).await;
        assert_eq!(r.status(), 422, "{url}");
    }
    // A name is judged when it is resolved, on every delivery: this one
    // resolves to this machine, and the delivery fails at once.
    let hook = json(
        t.post(&admin, "/api/v1/webhooks", json!({ "url": "https://localhost./x", "events": ["message.received"] }))
            .await,
    )
    .await;
    let id = hook["id"].as_i64().unwrap_or_else(|| panic!("{hook}"));
    let inbox = t.simulator_inbox().await;
    t.text_in(inbox, "+14155550125", "Hi", None).await;
    t.services.run_webhooks().await.unwrap();
    t.services.send_webhooks_due(Timestamp::now()).await.unwrap();
    let log = deliveries(&t, &admin, id).await;
    assert_eq!(log[0]["state"], "failed", "{log:?}");
    assert!(log[0]["last_error"].as_str().unwrap().contains("private"), "{log:?}");
    assert_eq!(t.services.send_webhooks_due(Timestamp::now() + SignedDuration::from_hours(1)).await.unwrap(), 0);
}
both_backends!(private_addresses_are_refused);

async fn crud_and_roles(db: Db) {
    let t = common::app(db).start().await;
    let admin = t.token_for("admin@example.com", Role::Admin).await;
    let sup = t.token_for("sup@example.com", Role::Supervisor).await;
    let agent = t.token_for("agent@example.com", Role::Agent).await;
    let body = json!({ "url": "https://hooks.example.com/in", "events": ["message.received"], "description": "CRM" });
    assert_eq!(t.post(&sup, "/api/v1/webhooks", body.clone()).await.status(), 403);
    assert_eq!(t.post(&agent, "/api/v1/webhooks", body.clone()).await.status(), 403);
    let created = json(t.post(&admin, "/api/v1/webhooks", body).await).await;
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["active"], true);
    assert_eq!(created["description"], "CRM");
    assert_eq!(t.get(&agent, "/api/v1/webhooks").await.status(), 403);
    let listed = json(t.get(&sup, "/api/v1/webhooks").await).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(listed[0].get("secret").is_none());

    let patch = |token: &str, b: Value| {
        t.client.patch(t.url(&format!("/api/v1/webhooks/{id}"))).bearer_auth(token.to_owned()).json(&b).send()
    };
    assert_eq!(patch(&sup, json!({ "active": false })).await.unwrap().status(), 403);
    let r = patch(&admin, json!({ "events": ["conversation.resolved", "survey.answered"], "active": false }))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let w = json(r).await;
    assert_eq!(w["events"], json!(["conversation.resolved", "survey.answered"]));
    assert_eq!(w["active"], false);
    assert_eq!(w["url"], "https://hooks.example.com/in");
    let bad = patch(&admin, json!({ "events": ["message.teleported"] })).await.unwrap();
    assert_eq!(bad.status(), 422);
    assert!(json(bad).await["detail"].as_str().unwrap().contains("message.teleported"));
    assert_eq!(patch(&admin, json!({ "events": [] })).await.unwrap().status(), 422);
    assert_eq!(patch(&admin, json!({ "url": "https://192.168.1.1/" })).await.unwrap().status(), 422);

    assert_eq!(t.post(&sup, &format!("/api/v1/webhooks/{id}/secret"), json!({})).await.status(), 403);
    let del =
        |token: &str| t.client.delete(t.url(&format!("/api/v1/webhooks/{id}"))).bearer_auth(token.to_owned()).send();
    assert_eq!(del(&sup).await.unwrap().status(), 403);
    assert_eq!(del(&admin).await.unwrap().status(), 204);
    assert_eq!(t.get(&admin, &format!("/api/v1/webhooks/{id}")).await.status(), 404);
}
both_backends!(crud_and_roles);

async fn resend_a_failed_delivery(db: Db) {
    let (rx, port) = Receiver::start(&[(410, None)]).await;
    let t = app_allowing_local(db).await;
    let admin = t.token_for("admin@example.com", Role::Admin).await;
    let sup = t.token_for("sup@example.com", Role::Supervisor).await;
    let hook = subscribe(&t, &admin, port, &["message.received"]).await["id"].as_i64().unwrap();
    let inbox = t.simulator_inbox().await;
    t.text_in(inbox, "+14155550126", "Hi", None).await;
    t.services.run_webhooks().await.unwrap();
    t.services.send_webhooks_due(Timestamp::now()).await.unwrap();
    let log = deliveries(&t, &sup, hook).await;
    assert_eq!((log[0]["state"].as_str(), log[0]["last_status_code"].as_i64()), (Some("failed"), Some(410)));
    // A 4xx other than 429 is not retried.
    assert_eq!(t.services.send_webhooks_due(Timestamp::now() + SignedDuration::from_hours(2)).await.unwrap(), 0);
    let d = log[0]["id"].as_i64().unwrap();
    let path = format!("/api/v1/webhooks/{hook}/deliveries/{d}/resend");
    assert_eq!(t.post(&sup, &path, json!({})).await.status(), 403);
    assert_eq!(t.post(&admin, &path, json!({})).await.status(), 202);
    assert_eq!(
        t.post(&admin, &format!("/api/v1/webhooks/{hook}/deliveries/999999/resend"), json!({})).await.status(),
        404
    );
    assert_eq!(t.services.send_webhooks_due(Timestamp::now()).await.unwrap(), 1);
    let got = rx.got();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].id, got[1].id, "a resend keeps the webhook-id");
    let log = deliveries(&t, &admin, hook).await;
    assert_eq!((log[0]["state"].as_str(), log[0]["attempts"].as_i64()), (Some("delivered"), Some(2)));

    // Erasing the customer takes their deliveries (the payloads quote them) out of the log.
    let contact = log[0]["payload"]["data"]["contact_id"].as_i64().unwrap();
    let r = t.post(&admin, &format!("/api/v1/contacts/{contact}/erasure"), json!({})).await;
    assert_eq!(r.status(), 200);
    assert!(deliveries(&t, &admin, hook).await.is_empty());
}
both_backends!(resend_a_failed_delivery);

async fn switched_off_after_days_of_failures(db: Db) {
    let (rx, port) = Receiver::start(&[(500, None); 20]).await;
    let t = app_allowing_local(db).await;
    let admin = t.token_for("admin@example.com", Role::Admin).await;
    t.user("boss@example.com", Role::Admin).await;
    let hook = subscribe(&t, &admin, port, &["message.received"]).await["id"].as_i64().unwrap();
    let inbox = t.simulator_inbox().await;
    t.text_in(inbox, "+14155550127", "Day one", None).await;
    t.services.run_webhooks().await.unwrap();
    let t0 = Timestamp::now();
    t.services.send_webhooks_due(t0).await.unwrap();
    // Two days on, still failing: still on.
    t.text_in(inbox, "+14155550127", "Day three", None).await;
    t.services.run_webhooks().await.unwrap();
    t.services.send_webhooks_due(t0 + SignedDuration::from_hours(48)).await.unwrap();
    let w = json(t.get(&admin, &format!("/api/v1/webhooks/{hook}")).await).await;
    assert_eq!(w["active"], true, "{w}");
    assert!(w["failing_since"].is_string());
    // Past three days of failures in a row: switched off, with a notice, live to the admins' open pages.
    let mut stream = t.client.get(t.url("/api/v1/events")).bearer_auth(&admin).send().await.unwrap();
    common::wait_for_frame(&mut stream, "ready").await;
    t.text_in(inbox, "+14155550127", "Day four", None).await;
    t.services.run_webhooks().await.unwrap();
    t.services.send_webhooks_due(t0 + SignedDuration::from_hours(73)).await.unwrap();
    let frame = common::wait_for_frame(&mut stream, "webhook.switched_off").await;
    assert_eq!(frame["conversation_id"], 0, "about the account, not a conversation: {frame}");
    let w = json(t.get(&admin, &format!("/api/v1/webhooks/{hook}")).await).await;
    assert_eq!(w["active"], false, "{w}");
    assert!(w["disabled_reason"].as_str().unwrap().contains("72 hours"), "{w}");
    let audit = t.services.store.audit_entries(t.account_id, None, 10).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "webhook.disabled" && a.subject == format!("webhook:{hook}")));
    let browser = t.browser("boss@example.com").await;
    let page = browser.get(t.url("/settings/webhooks")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("A webhook was switched off"), "the settings page warns admins");
    // Every page of the workspace says so to admins, with the way to the webhooks; not to agents.
    let banner =
        |page: &str| page.find("id=\"webhooks-off\"").map(|at| page[at..].split("</p>").next().unwrap().to_owned());
    let inbox_page = browser.get(t.url("/inbox")).send().await.unwrap().text().await.unwrap();
    let said = banner(&inbox_page).expect("a banner on the inbox");
    assert!(said.contains("A webhook was switched off") && said.contains("href=\"/settings/webhooks\""), "{said}");
    t.user("agent@example.com", Role::Agent).await;
    let agent = t.browser("agent@example.com").await;
    let agent_page = agent.get(t.url("/inbox")).send().await.unwrap().text().await.unwrap();
    assert_eq!(banner(&agent_page), None, "agents cannot switch it on: not theirs to see");

    // Off: nothing more is queued or sent.
    let sent = rx.got().len();
    t.text_in(inbox, "+14155550127", "Day five", None).await;
    t.services.run_webhooks().await.unwrap();
    t.services.send_webhooks_due(t0 + SignedDuration::from_hours(80)).await.unwrap();
    assert_eq!(rx.got().len(), sent);
    // Switched on again by an admin: the notice goes.
    let r = t
        .client
        .patch(t.url(&format!("/api/v1/webhooks/{hook}")))
        .bearer_auth(&admin)
        .json(&json!({ "active": true }))
        .send()
        .await
        .unwrap();
    let w = json(r).await;
    assert_eq!((w["active"].as_bool(), w["disabled_reason"].is_null()), (Some(true), true), "{w}");
    let inbox_page = browser.get(t.url("/inbox")).send().await.unwrap().text().await.unwrap();
    assert_eq!(banner(&inbox_page), None, "the banner goes with it");
}
both_backends!(switched_off_after_days_of_failures);

/// Two nodes sending at once: each delivery goes once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_send_each_delivery_once() {
    let (rx, port) = Receiver::start(&[]).await;
    if common::postgres_url().is_none() {
        return;
    }
    let a =
        common::app(Db::Postgres).config(|c| c.webhook_allow_private_hosts = vec!["127.0.0.1".into()]).start().await;
    let db = a.database_url.clone();
    let b = common::app(Db::Postgres)
        .config(move |c| {
            c.database_url = db;
            c.webhook_allow_private_hosts = vec!["127.0.0.1".into()];
        })
        .start()
        .await;
    let admin = a.token_for("admin@example.com", Role::Admin).await;
    let hook = subscribe(&a, &admin, port, &["message.received"]).await["id"].as_i64().unwrap();
    let inbox = a.simulator_inbox().await;
    for n in 0..30 {
        a.text_in(inbox, &format!("+1415555{:04}", 4000 + n), "Hello", None).await;
    }
    a.services.run_webhooks().await.unwrap();
    let now = Timestamp::now();
    loop {
        let (x, y) = tokio::join!(a.services.send_webhooks_due(now), b.services.send_webhooks_due(now));
        if x.unwrap() + y.unwrap() == 0 {
            break;
        }
    }
    let got = rx.got();
    let ids: std::collections::BTreeSet<&str> = got.iter().map(|g| g.id.as_str()).collect();
    assert_eq!((got.len(), ids.len()), (30, 30), "each delivery once");
    let log = deliveries(&a, &admin, hook).await;
    assert!(log.iter().all(|d| d["state"] == "delivered" && d["attempts"] == 1));
}

/// Each type a subscription may name (but the later features') is delivered
/// with its own data: a reply sent and delivered, an assignment, resolving,
/// and an opt-out.
async fn every_event_type_is_delivered(db: Db) {
    let (rx, port) = Receiver::start(&[]).await;
    let t = app_allowing_local(db).await;
    let admin = t.token_for("admin@example.com", Role::Admin).await;
    let me = json(t.get(&admin, "/api/v1/me").await).await["id"].as_i64().unwrap();
    let all = [
        "message.received",
        "message.sent",
        "message.status",
        "conversation.created",
        "conversation.assigned",
        "conversation.resolved",
        "consent.changed",
    ];
    subscribe(&t, &admin, port, &all).await;
    let inbox = t.simulator_inbox().await;
    let number = "+14155550131";
    let conv = json(t.text_in(inbox, number, "Hi there", None).await).await["conversation_id"].as_i64().unwrap();
    let r = t
        .post(&admin, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Hello, how can we help?" }))
        .await;
    assert!(r.status().is_success());
    assert_eq!(t.dispatch_all().await, 1);
    let r = t.post(&admin, &format!("/api/v1/conversations/{conv}/assign"), json!({ "assignee_id": me })).await;
    assert!(r.status().is_success());
    let r = t.post(&admin, &format!("/api/v1/conversations/{conv}/status"), json!({ "status": "resolved" })).await;
    assert!(r.status().is_success());
    t.text_in(inbox, number, "STOP", None).await;
    // The carrier's delivery report comes a moment after the send.
    let by_type = t
        .eventually(|| async {
            t.services.run_webhooks().await.unwrap();
            t.services.send_webhooks_due(Timestamp::now()).await.unwrap();
            let got: Vec<Value> = rx.got().iter().map(|g| serde_json::from_str(&g.body).unwrap()).collect();
            let delivered = got.iter().any(|v| v["type"] == "message.status" && v["data"]["status"] == "delivered");
            let types: std::collections::BTreeSet<String> =
                got.iter().map(|v| v["type"].as_str().unwrap().to_owned()).collect();
            (delivered && all.iter().all(|a| types.contains(*a))).then_some(got)
        })
        .await;
    let one = |kind: &str| by_type.iter().find(|v| v["type"] == kind).unwrap().clone();
    assert_eq!(one("message.sent")["data"]["body"], "Hello, how can we help?");
    assert_eq!(one("message.sent")["data"]["direction"], "outbound");
    assert_eq!(one("conversation.assigned")["data"]["assignee_id"], me);
    assert_eq!(one("conversation.resolved")["data"]["conversation_id"], conv);
    let consent = one("consent.changed");
    assert_eq!(
        (consent["data"]["consent"].as_str(), consent["data"]["contact_address"].as_str()),
        (Some("opted_out"), Some(number))
    );
    let opt_outs = by_type.iter().filter(|v| v["type"] == "consent.changed").count();
    assert_eq!(opt_outs, 1, "one change, one delivery");
}
both_backends!(every_event_type_is_delivered);

/// The settings pages as an admin's browser posts them: add (the secret on
/// that answer only), a refused edit says why and keeps what was typed,
/// rotate, delete; other roles are refused.
async fn the_settings_pages(db: Db) {
    let t = common::app(db).start().await;
    t.user("boss@example.com", Role::Admin).await;
    t.user("lee@example.com", Role::Supervisor).await;
    let admin = t.browser("boss@example.com").await;
    let page = admin.get(t.url("/settings/webhooks")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("No webhooks yet"));
    let csrf = common::csrf_of(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("url", "https://crm.example.com/hooks/textdesk"),
        ("description", "CRM"),
        ("events", "message.received"),
        ("events", "consent.changed"),
        ("active", "on"),
    ];
    let r = admin.post(t.url("/settings/webhooks")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let added = r.text().await.unwrap();
    assert!(added.contains("id=\"webhook-secret-value\">whsec_"), "the secret is shown once");
    let page = admin.get(t.url("/settings/webhooks")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("whsec_"), "and not again");
    assert!(page.contains("message.received, consent.changed"));
    let id = t.services.store.webhooks(t.account_id).await.unwrap()[0].id;

    let bad = [("csrf", csrf.as_str()), ("url", "https://10.0.0.7/in"), ("events", "message.sent")];
    let r = admin.post(t.url(&format!("/settings/webhooks/{id}"))).form(&bad).send().await.unwrap();
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(page.contains("private or local address") && page.contains("value=\"https://10.0.0.7/in\""), "{page}");
    let off = [("csrf", csrf.as_str()), ("url", "https://crm.example.com/v2"), ("events", "message.sent")];
    let r = admin.post(t.url(&format!("/settings/webhooks/{id}"))).form(&off).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let w = t.services.store.webhook(t.account_id, id).await.unwrap();
    assert_eq!(
        (w.url.as_str(), w.events.as_slice(), w.active),
        ("https://crm.example.com/v2", &["message.sent".to_owned()][..], false)
    );

    let r =
        admin.post(t.url(&format!("/settings/webhooks/{id}/secret"))).form(&[("csrf", &csrf)]).send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.text().await.unwrap().contains("New signing secret"));

    let sup = t.browser("lee@example.com").await;
    assert_eq!(sup.get(t.url("/settings/webhooks")).send().await.unwrap().status(), 403);
    let sup_page = sup.get(t.url("/inbox")).send().await.unwrap().text().await.unwrap();
    let sup_csrf = common::csrf_of(&sup_page);
    let r =
        sup.post(t.url(&format!("/settings/webhooks/{id}/delete"))).form(&[("csrf", &sup_csrf)]).send().await.unwrap();
    assert_eq!(r.status(), 403);

    let r =
        admin.post(t.url(&format!("/settings/webhooks/{id}/delete"))).form(&[("csrf", &csrf)]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(t.services.store.webhooks(t.account_id).await.unwrap().is_empty());
}
both_backends!(the_settings_pages);

/// A rule's "call a webhook" action: the firing goes to that subscription
/// (whatever it subscribes to), signed, with the rule's name and what it did.
async fn a_rule_calls_a_webhook(db: Db) {
    let (rx, port) = Receiver::start(&[]).await;
    let t = app_allowing_local(db).await;
    let admin = t.token_for("admin@example.com", Role::Admin).await;
    let hook = subscribe(&t, &admin, port, &["consent.changed"]).await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    let rule = json!({
        "name": "Tell the CRM about invoices",
        "trigger": { "on": "message_received" },
        "conditions": [{ "if": "text", "matches": { "contains": "invoice" } }],
        "actions": [{ "do": "set_priority", "priority": "high" }, { "do": "call_webhook", "webhook_id": hook["id"] }]
    });
    assert_eq!(t.post(&admin, "/api/v1/automations", rule).await.status(), 201);
    let missing = json!({
        "name": "Gone", "trigger": { "on": "message_received" },
        "actions": [{ "do": "call_webhook", "webhook_id": 999_999 }]
    });
    let r = t.post(&admin, "/api/v1/automations", missing).await;
    assert_eq!(r.status(), 422);
    assert!(json(r).await["detail"].as_str().unwrap().contains("there is no webhook 999999"));

    let inbox = t.simulator_inbox().await;
    t.text_in(inbox, "+14155550177", "Where is my invoice?", None).await;
    t.text_in(inbox, "+14155550178", "Hello", None).await;
    t.services.run_automations().await.unwrap();
    t.services.run_webhooks().await.unwrap();
    assert_eq!(t.services.send_webhooks_due(Timestamp::now()).await.unwrap(), 1, "one firing, one delivery");
    let got = rx.got();
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["type"], "automation.fired");
    assert_eq!(body["data"]["rule"], "Tell the CRM about invoices");
    assert_eq!(body["data"]["contact_address"], "+14155550177");
    assert!(body["data"]["did"].as_array().unwrap().iter().any(|d| d == "set the priority to high"), "{body}");
    let Some(py) = python() else { return };
    peer_verify(&py, &secret, &got[0]).expect("signed like every delivery");
}
both_backends!(a_rule_calls_a_webhook);

/// With no subscription on, the consumer's cursor jumps to the log's end (a
/// write every few seconds instead of one per batch); a subscription made
/// afterwards receives everything from its creation on, and nothing from
/// before it that the consumer had not reached yet.
async fn an_idle_consumer_skips_ahead_and_a_new_subscription_misses_nothing(db: Db) {
    let (rx, port) = Receiver::start(&[]).await;
    let t = app_allowing_local(db).await;
    let admin = t.token_for("admin@example.com", Role::Admin).await;
    let inbox = t.simulator_inbox().await;
    assert!(t.text_in(inbox, "+14155550111", "Before anyone listened", None).await.status().is_success());
    let cursor = textdesk::services::webhooks::deliver::CURSOR;
    assert_eq!(t.services.tend_webhooks(false).await.unwrap(), 0, "nothing read with nobody subscribed");
    let newest = t.services.store.events().newest_id().await.unwrap();
    assert!(t.services.store.consumer_position(cursor).await.unwrap() < newest, "and not moved until due");
    assert_eq!(t.services.tend_webhooks(true).await.unwrap(), 0);
    assert_eq!(t.services.store.consumer_position(cursor).await.unwrap(), newest, "moved to the end at once");

    // A text the consumer has not reached when a subscription is made: from before it, so not delivered.
    assert!(t.text_in(inbox, "+14155550111", "Still nobody listens", None).await.status().is_success());
    assert_eq!(t.services.tend_webhooks(false).await.unwrap(), 0);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let hook = subscribe(&t, &admin, port, &["message.received"]).await;
    assert!(t.text_in(inbox, "+14155550111", "Now someone listens", None).await.status().is_success());
    assert!(t.services.tend_webhooks(true).await.unwrap() > 0, "a subscription on: the log is read, not skipped");
    t.services.send_webhooks_due(Timestamp::now()).await.unwrap();
    let bodies: Vec<String> = rx.got().iter().map(|g| g.body.clone()).collect();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(bodies[0].contains("Now someone listens"), "{bodies:?}");
    assert_eq!(deliveries(&t, &admin, hook["id"].as_i64().unwrap()).await.len(), 1);
}
both_backends!(an_idle_consumer_skips_ahead_and_a_new_subscription_misses_nothing);
