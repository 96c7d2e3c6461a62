//! Calls (issue 16) over real HTTP on both backends: "call now" through a
//! Twilio inbox against the fake Twilio Voice API (the exact Calls request,
//! the bridge's TwiML checked by twilio-python, refused with a bad or expired
//! token or a bad signature; status callbacks signed by the fake and by
//! twilio-python's RequestValidator, and refused unsigned), a call refused in
//! the customer's quiet hours offering a call back, and a call back asked
//! for by the customer's CALL text: offered times, chosen, queued, taken
//! once, placed on the simulated phone, answered and hung up, with the
//! customer's next text in the same conversation; and a rule that escalates.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use jiff::Timestamp;
use serde_json::{Value, json};
use textdesk_channels::twilio::FakeTwilio;
use textdesk_core::Role;

use crate::common::{self, Db, TestApp, json};

const SENDER: &str = "+14155550100";
const CUSTOMER: &str = "+14155550111";
const AGENT_PHONE: &str = "+14155550199";

fn peer_python() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join("target/peers/python/bin/python");
    let ok = python.exists() && Command::new(&python).args(["-c", "import twilio"]).status().is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    if std::env::var("TEXTDESK_REQUIRE_PEERS").is_ok_and(|v| v == "1") {
        panic!("python twilio peer not installed at {} (run scripts/test-deps)", python.display());
    }
    println!("skipped: python twilio peer not installed (run scripts/test-deps)");
    None
}

/// Runs one of the twilio-python peer scripts with `input` on stdin; its stdout and success.
fn peer(python: &PathBuf, script: &str, input: &Value) -> (String, bool) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../channels/tests/peers/twilio").join(script);
    let mut child = Command::new(python)
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the python peer");
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (String::from_utf8_lossy(&out.stdout).trim().to_owned(), out.status.success())
}

async fn twilio_inbox(t: &TestApp, fake: &FakeTwilio, admin: &str) -> String {
    let body = json!({ "name": "Main line", "channel_kind": "twilio", "sender": SENDER,
        "twilio": { "account_sid": fake.account_sid(), "auth_token": fake.auth_token(), "api_base": fake.base_url() } });
    let r = t.post(admin, "/api/v1/inboxes", body).await;
    assert_eq!(r.status(), 201);
    json(r).await["webhook_urls"]["inbound"].as_str().unwrap().to_owned()
}

async fn patch_me(t: &TestApp, token: &str, body: Value) -> reqwest::Response {
    t.client.patch(t.url("/api/v1/me")).bearer_auth(token).json(&body).send().await.unwrap()
}

async fn timeline(t: &TestApp, token: &str, conv: i64) -> Vec<Value> {
    json(t.get(token, &format!("/api/v1/conversations/{conv}/timeline")).await).await.as_array().unwrap().clone()
}

fn call_statuses(tl: &[Value]) -> Vec<(String, Option<i64>)> {
    tl.iter()
        .filter(|e| e["kind"] == "call_status")
        .map(|e| (e["data"]["status"].as_str().unwrap().to_owned(), e["data"]["duration_secs"].as_i64()))
        .collect()
}

async fn call_now_through_twilio(db: Db) {
    let fake = FakeTwilio::start().await.unwrap();
    let t = common::app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let inbound = twilio_inbox(&t, &fake, &admin).await;
    let r = fake.post_inbound(&inbound, &fake.inbound_params(CUSTOMER, SENDER, "Can someone call me?")).await.unwrap();
    assert_eq!(r.status(), 200);
    let conv = json(t.get(&agent, "/api/v1/conversations").await).await["items"][0]["id"].as_i64().unwrap();
    let path = format!("/api/v1/conversations/{conv}/escalations");
    // Midday on the customer's clock, whenever the test runs: a call is business-initiated.
    t.move_contact_to(&agent, conv, &common::zone_at_hour(12).0).await;

    // Without a phone of their own, nothing is rung and nothing recorded.
    let p = json(t.post(&agent, &path, json!({ "to": "call" })).await).await;
    assert_eq!(p["status"], 422);
    assert!(p["detail"].as_str().unwrap().contains("phone number to your profile"), "{p}");
    assert!(fake.calls().is_empty());

    // The profile's phone: checked, E.164.
    for bad in ["4155550199", "+1 415 555", "call me"] {
        assert_eq!(patch_me(&t, &agent, json!({ "phone": bad })).await.status(), 422, "{bad}");
    }
    let me = json(patch_me(&t, &agent, json!({ "phone": "+1 (415) 555-0199" })).await).await;
    assert_eq!(me["phone"], AGENT_PHONE);

    let r = t.post(&agent, &path, json!({ "to": "call", "reason": "Easier to explain by phone" })).await;
    assert_eq!(r.status(), 201);
    let e = json(r).await;
    assert_eq!(e["to"], "call");

    // The exact request Twilio got.
    let calls = fake.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!((call.to.as_str(), call.from.as_str()), (AGENT_PHONE, SENDER));
    let base = t.url("/webhooks/calls/");
    let call_id: i64 = call.url.strip_prefix(&base).unwrap().split('/').next().unwrap().parse().unwrap();
    assert!(call.url.starts_with(&format!("{base}{call_id}/answer?expires=")) && call.url.contains("&token="));
    assert_eq!(call.method.as_deref(), Some("POST"));
    assert_eq!(call.status_callback.as_deref(), Some(format!("{base}{call_id}/status").as_str()));
    assert_eq!(call.status_callback_method.as_deref(), Some("POST"));
    assert_eq!(call.status_callback_events, ["initiated", "ringing", "answered", "completed"]);

    // Progress as it happens; a report signed with another key changes nothing.
    assert_eq!(fake.post_call_status(&call.sid, "initiated", None).await.unwrap().status(), 204);
    assert_eq!(fake.post_call_status(&call.sid, "ringing", None).await.unwrap().status(), 204);
    let forged = t
        .client
        .post(call.status_callback.clone().unwrap())
        .header("X-Twilio-Signature", "bm90IHRoZSBzaWduYXR1cmU=")
        .form(&[("CallSid", call.sid.as_str()), ("CallStatus", "completed"), ("AccountSid", fake.account_sid())])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let unsigned = t.client.post(call.status_callback.clone().unwrap()).form(&[("CallStatus", "busy")]).send().await;
    assert_eq!(unsigned.unwrap().status(), 403);

    // The agent answers: Twilio fetches the bridge, which dials the customer from the inbox's number.
    let r = fake.answer_call(&call.sid).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/xml"));
    let twiml = r.text().await.unwrap();
    assert!(twiml.contains(&format!("<Dial callerId=\"{SENDER}\"><Number>{CUSTOMER}</Number></Dial>")), "{twiml}");
    if let Some(python) = peer_python() {
        let (out, ok) = peer(&python, "twiml.py", &json!({ "xml": twiml, "caller_id": SENDER, "number": CUSTOMER }));
        assert!(ok, "twilio-python builds another TwiML: {out}");
    }
    // The bridge is refused with a changed token, an expired one, or a bad signature.
    let bad_token = format!("{}0", call.url);
    let r = t.client.post(&bad_token).form(&[("CallSid", call.sid.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = t.client.post(&call.url).header("X-Twilio-Signature", "AAAA").form(&[("CallSid", &call.sid)]).send().await;
    assert_eq!(r.unwrap().status(), 403);
    let query: Vec<(String, String)> =
        url::Url::parse(&call.url).unwrap().query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let (expires, token) = (query[0].1.parse::<i64>().unwrap(), query[1].1.clone());
    let later = Timestamp::from_second(expires + 1).unwrap();
    let headers = axum::http::HeaderMap::new();
    let path_and_query = call.url.strip_prefix(&t.base).unwrap();
    let hook = textdesk::services::voice::CallHook { call_id, path_and_query, headers: &headers, body: b"" };
    assert!(
        matches!(
            t.services.answer_call(&hook, expires, &token, later).await,
            Err(textdesk::services::error::ServiceError::Forbidden(_))
        ),
        "an expired link"
    );

    assert_eq!(fake.post_call_status(&call.sid, "in-progress", None).await.unwrap().status(), 204);
    assert_eq!(fake.post_call_status(&call.sid, "completed", Some(65)).await.unwrap().status(), 204);
    // A late report, signed by twilio-python's RequestValidator: accepted, and changes nothing.
    if let Some(python) = peer_python() {
        let url = call.status_callback.clone().unwrap();
        let params: Vec<(String, String)> = [
            ("AccountSid", fake.account_sid()),
            ("CallSid", call.sid.as_str()),
            ("CallStatus", "ringing"),
            ("CallbackSource", "call-progress-events"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let (signature, ok) =
            peer(&python, "sign.py", &json!({ "token": fake.auth_token(), "url": url, "params": params }));
        assert!(ok);
        let r = t.client.post(&url).header("X-Twilio-Signature", signature).form(&params).send().await.unwrap();
        assert_eq!(r.status(), 204);
    }
    let tl = timeline(&t, &agent, conv).await;
    let want = [("initiated", None), ("ringing", None), ("in-progress", None), ("completed", Some(65))];
    let want: Vec<(String, Option<i64>)> = want.iter().map(|(s, d)| ((*s).to_owned(), *d)).collect();
    assert_eq!(call_statuses(&tl), want);
    let page = t.browser("dana@example.com").await.get(t.url(&format!("/conversations/{conv}"))).send().await;
    let page = page.unwrap().text().await.unwrap();
    assert!(page.contains("dana called the customer"), "the escalation in words");
    assert!(page.contains("The call ended after 1 min 05 s"), "the duration in the thread");

    // The customer's next text lands in the same conversation.
    fake.post_inbound(&inbound, &fake.inbound_params(CUSTOMER, SENDER, "Thanks for the call!")).await.unwrap();
    let list = json(t.get(&agent, "/api/v1/conversations").await).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"].as_i64(), Some(conv));
}
both_backends!(call_now_through_twilio);

/// The customer's quiet hours begin, or they opt out, between the click and the agent answering: when Twilio
/// fetches the bridge the gate is asked again, the agent hears why and the call hangs up without dialling the
/// customer, and the thread says why, once.
async fn the_bridge_asks_the_gate_again(db: Db) {
    let fake = FakeTwilio::start().await.unwrap();
    let t = common::app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let inbound = twilio_inbox(&t, &fake, &admin).await;
    assert_eq!(patch_me(&t, &agent, json!({ "phone": AGENT_PHONE })).await.status(), 200);
    fake.post_inbound(&inbound, &fake.inbound_params(CUSTOMER, SENDER, "Please call me")).await.unwrap();
    let conv = json(t.get(&agent, "/api/v1/conversations").await).await["items"][0]["id"].as_i64().unwrap();
    let path = format!("/api/v1/conversations/{conv}/escalations");
    let (noon, night) = (common::zone_at_hour(12).0, common::zone_at_hour(2).0);
    let bridge = |sid: String| {
        let fake = &fake;
        async move {
            let r = fake.answer_call(&sid).await.unwrap();
            assert_eq!(r.status(), 200);
            assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/xml"));
            r.text().await.unwrap()
        }
    };

    // Placed at midday; by the time the agent answers it is 2 a.m. for the customer (they moved, say).
    t.move_contact_to(&agent, conv, &noon).await;
    assert_eq!(t.post(&agent, &path, json!({ "to": "call" })).await.status(), 201);
    t.move_contact_to(&agent, conv, &night).await;
    let twiml = bridge(fake.calls()[0].sid.clone()).await;
    assert!(twiml.contains("<Say>") && twiml.contains("quiet hours") && twiml.contains("<Hangup/>"), "{twiml}");
    assert!(!twiml.contains("<Dial") && !twiml.contains(CUSTOMER), "nobody dialled: {twiml}");
    if let Some(python) = peer_python() {
        let said = textdesk_core::voice::CallStopped::QuietHours.spoken();
        let (out, ok) = peer(&python, "twiml.py", &json!({ "xml": twiml, "say": said }));
        assert!(ok, "twilio-python builds the same Say and Hangup: {out}");
    }

    // Placed at midday again; the customer texts STOP while the agent's phone rings.
    t.move_contact_to(&agent, conv, &noon).await;
    assert_eq!(t.post(&agent, &path, json!({ "to": "call" })).await.status(), 201);
    fake.post_inbound(&inbound, &fake.inbound_params(CUSTOMER, SENDER, "STOP")).await.unwrap();
    let sid = fake.calls()[1].sid.clone();
    let twiml = bridge(sid.clone()).await;
    assert!(twiml.contains("opted out") && twiml.contains("<Hangup/>") && !twiml.contains("<Dial"), "{twiml}");
    assert!(bridge(sid.clone()).await.contains("<Hangup/>"), "a repeated fetch is refused too");
    // The agent's leg ends; the call stays as textdesk stopped it.
    assert_eq!(fake.post_call_status(&sid, "completed", Some(4)).await.unwrap().status(), 204);

    let tl = timeline(&t, &agent, conv).await;
    let stopped: Vec<&str> = tl
        .iter()
        .filter(|e| e["kind"] == "call_status" && e["data"]["status"] == "canceled")
        .map(|e| e["data"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(stopped.len(), 2, "each call once: {tl:?}");
    assert!(stopped[0].contains("quiet hours began") && stopped[1].contains("opted out"), "{stopped:?}");
    assert!(call_statuses(&tl).iter().all(|(s, _)| s != "completed"), "{tl:?}");
    let page = t.browser("dana@example.com").await.get(t.url(&format!("/conversations/{conv}"))).send().await;
    let page = page.unwrap().text().await.unwrap();
    assert!(page.contains("The customer was not dialled: they opted out after the call was placed"), "in words");
}
both_backends!(the_bridge_asks_the_gate_again);

async fn quiet_hours_offer_a_call_back(db: Db) {
    let t = common::app(db).start().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    assert_eq!(patch_me(&t, &agent, json!({ "phone": AGENT_PHONE })).await.status(), 200);
    let inbox = t.simulator_inbox().await;
    let conv = json(t.text_in(inbox, CUSTOMER, "Please call me tomorrow", None).await).await["conversation_id"]
        .as_i64()
        .unwrap();
    // 2 a.m. where the customer is: no ring, words that say why and what to do instead.
    let (zone, _) = common::zone_at_hour(2);
    t.move_contact_to(&agent, conv, &zone).await;
    let path = format!("/api/v1/conversations/{conv}/escalations");
    let p = json(t.post(&agent, &path, json!({ "to": "call" })).await).await;
    assert_eq!(p["status"], 409, "{p}");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("quiet hours") && detail.contains("call back"), "{detail}");
    assert!(json(t.get(&agent, &path).await).await.as_array().unwrap().is_empty(), "nothing recorded");
    assert!(t.services.simulated_calls(inbox, CUSTOMER).is_empty(), "nothing rang");

    // The call back instead, on the customer's clock.
    let tomorrow = Timestamp::now().to_zoned(jiff::tz::TimeZone::get(&zone).unwrap()).date().tomorrow().unwrap();
    let at = format!("{tomorrow}T10:00");
    assert_eq!(t.post(&agent, &path, json!({ "to": "callback", "at": "yesterday" })).await.status(), 422);
    let r = t.post(&agent, &path, json!({ "to": "callback", "at": at })).await;
    assert_eq!(r.status(), 201);
    let queue = json(t.get(&agent, "/api/v1/callbacks").await).await;
    assert_eq!(queue.as_array().unwrap().len(), 1, "{queue}");
    let due: Timestamp = queue[0]["due_at"].as_str().unwrap().parse().unwrap();
    let local = due.to_zoned(jiff::tz::TimeZone::get(&zone).unwrap());
    assert_eq!((local.date(), local.hour(), local.minute()), (tomorrow, 10, 0));
    assert_eq!(queue[0]["conversation_id"].as_i64(), Some(conv));
}
both_backends!(quiet_hours_offer_a_call_back);

async fn a_customer_texts_call(db: Db) {
    let t = common::app(db).start().await;
    let dana = t.token_for("dana@example.com", Role::Agent).await;
    let lee = t.token_for("lee@example.com", Role::Agent).await;
    let inbox = t.simulator_inbox().await;
    let first = json(t.text_in(inbox, CUSTOMER, "My router keeps dropping", None).await).await;
    let conv = first["conversation_id"].as_i64().unwrap();
    // Midday on the customer's clock, whenever the test runs: the call back is placed at once below.
    t.move_contact_to(&dana, conv, &common::zone_at_hour(12).0).await;
    t.services.run_automations().await.unwrap();

    // CALL is answered with times; "2" picks the second.
    t.text_in(inbox, CUSTOMER, "call", None).await;
    t.services.run_automations().await.unwrap();
    let msgs = json(t.get(&dana, &format!("/api/v1/conversations/{conv}/messages")).await).await;
    let offer = msgs.as_array().unwrap().iter().rev().find(|m| m["direction"] == "outbound").unwrap().clone();
    let offer = offer["body"].as_str().unwrap().to_owned();
    assert!(offer.starts_with("When should we call you? Reply with a number:") && offer.contains("\n2: "), "{offer}");
    t.text_in(inbox, CUSTOMER, "2", None).await;
    t.services.run_automations().await.unwrap();
    let msgs = json(t.get(&dana, &format!("/api/v1/conversations/{conv}/messages")).await).await;
    let thanks = msgs.as_array().unwrap().iter().rev().find(|m| m["direction"] == "outbound").unwrap().clone();
    let second = offer.lines().find_map(|l| l.strip_prefix("2: ")).unwrap();
    assert!(thanks["body"].as_str().unwrap().contains(second), "{thanks} names {second}");

    // Queued, with its conversation; taken by one agent only.
    let queue = json(t.get(&dana, "/api/v1/callbacks").await).await;
    assert_eq!(queue.as_array().unwrap().len(), 1, "{queue}");
    let (id, state) = (queue[0]["id"].as_i64().unwrap(), queue[0]["state"].as_str().unwrap());
    assert_eq!(
        (state, queue[0]["conversation_id"].as_i64(), queue[0]["requested_by"].is_null()),
        ("waiting", Some(conv), true)
    );
    let tl = timeline(&t, &dana, conv).await;
    assert!(tl.iter().any(|e| e["kind"] == "callback_requested" && e["data"]["by_customer"] == true), "{tl:?}");
    let page = t.browser("dana@example.com").await.get(t.url("/callbacks")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&format!("/conversations/{conv}")) && page.contains(&format!("id=\"take-{id}\"")));
    assert_eq!(t.post(&lee, &format!("/api/v1/callbacks/{id}/call"), json!({})).await.status(), 409, "not taken");
    let take = format!("/api/v1/callbacks/{id}/take");
    let (a, b) = tokio::join!(t.post(&dana, &take, json!({})), t.post(&lee, &take, json!({})));
    let mut codes = [a.status().as_u16(), b.status().as_u16()];
    codes.sort();
    assert_eq!(codes, [200, 409], "one taker");
    let taker = if a.status() == 200 { &dana } else { &lee };

    // One click places it: the simulated phone rings, is answered, hangs up.
    let r = t.post(taker, &format!("/api/v1/callbacks/{id}/call"), json!({})).await;
    assert_eq!(r.status(), 201);
    let ringing = t.services.simulated_calls(inbox, CUSTOMER);
    assert_eq!(ringing.len(), 1);
    let sim = &ringing[0];
    let status_path = sim.status_url.strip_prefix(&t.base).unwrap().to_owned();
    let report = |status: &'static str, sid: String| {
        let url = t.url(&status_path);
        let client = t.client.clone();
        async move { client.post(url).form(&[("CallSid", sid.as_str()), ("CallStatus", status)]).send().await.unwrap() }
    };
    assert_eq!(report("ringing", "SIMCAnotacall".into()).await.status(), 403, "a call the carrier never placed");
    for s in ["ringing", "in-progress"] {
        assert_eq!(report(s, sim.sid.clone()).await.status(), 204);
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(report("completed", sim.sid.clone()).await.status(), 204);
    assert!(t.services.simulated_calls(inbox, CUSTOMER).is_empty());
    let statuses = call_statuses(&timeline(&t, &dana, conv).await);
    assert_eq!(statuses.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), ["ringing", "in-progress", "completed"]);
    assert!(statuses[2].1.is_some_and(|d| d >= 1), "{statuses:?}");
    assert!(json(t.get(&dana, "/api/v1/callbacks").await).await.as_array().unwrap().is_empty(), "done");

    // The customer's next text: the same conversation.
    let next = json(t.text_in(inbox, CUSTOMER, "Thanks, all fixed", None).await).await;
    assert_eq!(next["conversation_id"].as_i64(), Some(conv));
}
both_backends!(a_customer_texts_call);

/// The engine was behind: a customer's CALL and their "2" after it are
/// decided in one run of the engine (one batch, unless its time budget cuts
/// it after the CALL), and come out as they do one at a time (the engine
/// reads a batch's conversations ahead and reads one again once it may have
/// changed it: here, the offer the CALL made).
async fn call_and_its_choice_in_one_batch_as_one_at_a_time(db: Db) {
    let t = common::app(db).start().await;
    let dana = t.token_for("dana@example.com", Role::Agent).await;
    let inbox = t.simulator_inbox().await;
    let mut queued = Vec::new();
    for (customer, one_at_a_time) in [("+14155550121", true), ("+14155550122", false)] {
        let first = json(t.text_in(inbox, customer, "My router keeps dropping", None).await).await;
        let conv = first["conversation_id"].as_i64().unwrap();
        t.move_contact_to(&dana, conv, &common::zone_at_hour(12).0).await;
        t.services.run_automations().await.unwrap();
        t.text_in(inbox, customer, "call", None).await;
        if one_at_a_time {
            t.services.run_automations().await.unwrap();
        }
        t.text_in(inbox, customer, "2", None).await;
        t.services.run_automations().await.unwrap();
        let msgs = json(t.get(&dana, &format!("/api/v1/conversations/{conv}/messages")).await).await;
        let said: Vec<&str> = msgs
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["direction"] == "outbound")
            .map(|m| m["body"].as_str().unwrap().split(':').next().unwrap())
            .collect();
        assert_eq!(
            said,
            ["When should we call you? Reply with a number", "Thank you"],
            "one at a time: {one_at_a_time}"
        );
        queued.push(conv);
    }
    let queue = json(t.get(&dana, "/api/v1/callbacks").await).await;
    let mut waiting: Vec<i64> =
        queue.as_array().unwrap().iter().map(|c| c["conversation_id"].as_i64().unwrap()).collect();
    waiting.sort();
    assert_eq!(waiting, queued, "{queue}");
}
both_backends!(call_and_its_choice_in_one_batch_as_one_at_a_time);

/// A rule escalates: "refund" goes to a supervisor (urgent, alerted like an agent's escalation), "phone"
/// offers a call back; the customer's "1" queues it.
async fn a_rule_escalates(db: Db) {
    let t = common::app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let lead = t.token_for("sam@example.com", Role::Supervisor).await;
    let sam = json(t.get(&lead, "/api/v1/me").await).await["id"].as_i64().unwrap();
    let inbox = t.simulator_inbox().await;
    let rule = |name: &str, word: &str, action: Value| {
        json!({ "name": name, "trigger": { "on": "message_received" },
                "conditions": [{ "if": "text", "matches": { "contains": word } }], "actions": [action] })
    };
    let bad = rule("Bad", "x", json!({ "do": "escalate", "to": "callback_offer", "supervisor_id": sam }));
    assert_eq!(t.post(&admin, "/api/v1/automations", bad).await.status(), 422);
    let to_sam = rule("Refunds", "refund", json!({ "do": "escalate", "to": "supervisor", "supervisor_id": sam }));
    assert_eq!(t.post(&admin, "/api/v1/automations", to_sam).await.status(), 201);
    let offer = rule("Phone", "phone", json!({ "do": "escalate", "to": "callback_offer" }));
    assert_eq!(t.post(&admin, "/api/v1/automations", offer).await.status(), 201);

    let refund = json(t.text_in(inbox, "+14155550141", "I want a refund now", None).await).await;
    let conv = refund["conversation_id"].as_i64().unwrap();
    t.services.run_automations().await.unwrap();
    let c = json(t.get(&admin, &format!("/api/v1/conversations/{conv}")).await).await;
    assert_eq!((c["priority"].as_str(), c["assignee_id"].as_i64()), (Some("urgent"), Some(sam)));
    let listed = json(t.get(&admin, &format!("/api/v1/conversations/{conv}/escalations")).await).await;
    assert_eq!((listed[0]["to"].as_str(), listed[0]["supervisor_id"].as_i64()), (Some("supervisor"), Some(sam)));
    assert!(listed[0]["actor_id"].is_null(), "the rule's, not a person's");
    let view = json(t.get(&lead, "/api/v1/conversations?view=escalated").await).await;
    assert_eq!(view["items"][0]["id"].as_i64(), Some(conv));

    let phone = json(t.text_in(inbox, "+14155550142", "Can we talk on the phone?", None).await).await;
    let conv = phone["conversation_id"].as_i64().unwrap();
    t.services.run_automations().await.unwrap();
    let msgs = json(t.get(&admin, &format!("/api/v1/conversations/{conv}/messages")).await).await;
    assert!(msgs.to_string().contains("When should we call you?"), "{msgs}");
    t.text_in(inbox, "+14155550142", "1", None).await;
    t.services.run_automations().await.unwrap();
    let queue = json(t.get(&admin, "/api/v1/callbacks").await).await;
    assert_eq!(queue.as_array().unwrap().len(), 1);
    assert_eq!(queue[0]["conversation_id"].as_i64(), Some(conv));
}
both_backends!(a_rule_escalates);

/// A call back falls due: the agent who took it is alerted live (their alert's words, the queue's link), an
/// untaken one alerts everyone, the thread says so, and two nodes' housekeeping at once remind once.
async fn a_due_call_back_reminds_once(db: Db) {
    let t = common::app(db).start().await;
    let dana = t.token_for("dana@example.com", Role::Agent).await;
    let dana_id = json(t.get(&dana, "/api/v1/me").await).await["id"].as_i64().unwrap();
    let inbox = t.simulator_inbox().await;
    let (zone, tz) = common::zone_at_hour(12);
    let tomorrow = Timestamp::now().to_zoned(tz).date().tomorrow().unwrap();
    let mut convs = Vec::new();
    for (number, hour) in [("+14155550181", 10), ("+14155550182", 11)] {
        let conv =
            json(t.text_in(inbox, number, "Call me tomorrow?", None).await).await["conversation_id"].as_i64().unwrap();
        t.move_contact_to(&dana, conv, &zone).await;
        let ask = json!({ "to": "callback", "at": format!("{tomorrow}T{hour}:00") });
        assert_eq!(t.post(&dana, &format!("/api/v1/conversations/{conv}/escalations"), ask).await.status(), 201);
        convs.push(conv);
    }
    let queue = json(t.get(&dana, "/api/v1/callbacks").await).await;
    let taken = queue.as_array().unwrap().iter().find(|c| c["conversation_id"] == convs[0]).unwrap().clone();
    assert_eq!(t.post(&dana, &format!("/api/v1/callbacks/{}/take", taken["id"]), json!({})).await.status(), 200);
    let last_due: Timestamp = queue[1]["due_at"].as_str().unwrap().parse().unwrap();

    let mut stream = t.client.get(t.url("/api/v1/events")).bearer_auth(&dana).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    common::wait_for_frame(&mut stream, "ready").await;
    assert_eq!(t.services.remind_due_callbacks(Timestamp::now()).await.unwrap(), 0, "not due yet");
    let at = last_due + jiff::SignedDuration::from_mins(1);
    let (a, b) = tokio::join!(t.services.remind_due_callbacks(at), t.services.remind_due_callbacks(at));
    assert_eq!(a.unwrap() + b.unwrap(), 2, "each once, whichever node");
    assert_eq!(t.services.remind_due_callbacks(at).await.unwrap(), 0);

    let mut frames = Vec::new();
    for _ in 0..2 {
        frames.push(common::wait_for_frame(&mut stream, "callback.due").await);
    }
    frames.sort_by_key(|f| f["conversation_id"].as_i64());
    assert_eq!(
        (frames[0]["conversation_id"].as_i64(), frames[0]["for_user"].as_i64()),
        (Some(convs[0]), Some(dana_id))
    );
    assert_eq!(frames[1]["conversation_id"].as_i64(), Some(convs[1]));
    assert!(frames[1].get("for_user").is_none(), "untaken: everyone's screen alerts: {}", frames[1]);

    let browser = t.browser("dana@example.com").await;
    let notice = |conv: i64| browser.get(t.url(&format!("/conversations/{conv}/notice?about=callback"))).send();
    let n = json(notice(convs[0]).await.unwrap()).await;
    assert!(n["title"].as_str().unwrap().starts_with("Call back due"), "{n}");
    assert!(
        n["body"].as_str().unwrap().contains("you took this call back")
            && n["body"].as_str().unwrap().contains("10:00 AM"),
        "{n}"
    );
    assert_eq!((n["url"].as_str(), n["action"].as_str()), (Some("/callbacks"), Some("Open the call back queue")));
    let n = json(notice(convs[1]).await.unwrap()).await;
    assert!(n["body"].as_str().unwrap().contains("nobody has taken it yet"), "{n}");

    for (conv, who) in [(convs[0], "dana was reminded"), (convs[1], "nobody has taken it")] {
        let tl = timeline(&t, &dana, conv).await;
        assert_eq!(tl.iter().filter(|e| e["kind"] == "callback_due").count(), 1, "{tl:?}");
        let page = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("The call back is due") && page.contains(who), "{conv}: {who}");
    }
}
both_backends!(a_due_call_back_reminds_once);
