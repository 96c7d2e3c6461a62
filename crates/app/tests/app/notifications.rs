//! The business texts first: `POST /api/v1/notifications` to a number or a
//! contact, through the gate (opt-in, quiet hours), once per Idempotency-Key
//! however many times and however concurrently it is asked; and the customer's
//! reply threads under the notification.

use crate::common;

use common::{Db, app, json};
use jiff::Timestamp;
use serde_json::{Value, json};
use textdesk_core::Role;

async fn notify(t: &common::TestApp, token: &str, key: Option<&str>, body: &Value) -> reqwest::Response {
    let mut req = t.client.post(t.url("/api/v1/notifications")).bearer_auth(token).json(body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    req.send().await.unwrap()
}

/// A problem's type and reason, after checking its status.
async fn problem(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    json(r).await
}

async fn thread(t: &common::TestApp, token: &str, conv: i64) -> Vec<Value> {
    json(t.get(token, &format!("/api/v1/conversations/{conv}/messages")).await).await.as_array().unwrap().clone()
}

/// A contact in `zone` who agreed to texts (recorded as an API client would).
async fn consenting_contact(t: &common::TestApp, token: &str, number: &str, zone: &str) -> i64 {
    let r =
        t.post(token, "/api/v1/contacts", json!({ "name": "Ana Lopez", "address": number, "time_zone": zone })).await;
    assert_eq!(r.status(), 201);
    let id = json(r).await["id"].as_i64().unwrap();
    let consent = json!({ "state": "opted_in", "source": "web_form", "evidence": "signed up at the desk" });
    assert_eq!(t.post(token, &format!("/api/v1/contacts/{id}/consent"), consent).await.status(), 201);
    id
}

/// The app with an SMS inbox, an agent, and a consenting contact at midday on their clock.
async fn with_a_contact(db: Db, number: &str) -> (common::TestApp, i64, String, i64) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let (zone, _) = common::zone_at_hour(12);
    let contact = consenting_contact(&t, &agent, number, &zone).await;
    (t, inbox, agent, contact)
}

/// Sends what is due, at the deferred moment if it waits for the customer's morning.
async fn deliver(t: &common::TestApp, answer: &Value) {
    let at = match answer["deferred_until"]["at"].as_str() {
        Some(at) => at.parse::<Timestamp>().unwrap(),
        None => Timestamp::now(),
    };
    let r = t.services.dispatch_at("test", 10, at).await.unwrap();
    assert_eq!(r.sent, 1, "{answer}");
}

/// A team "Front desk" (in turn) with one agent online, and a rule that gives it the inbox's
/// texts: returns the agent's id and the admin's token.
async fn front_desk(t: &common::TestApp, inbox: i64) -> (i64, String) {
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let lee = t.token_for("lee@example.com", Role::Agent).await;
    let lee_id = json(t.get(&lee, "/api/v1/me").await).await["id"].as_i64().unwrap();
    let team = json(t.post(&admin, "/api/v1/teams", json!({ "name": "Front desk" })).await).await["id"].as_i64();
    let team = team.unwrap();
    assert!(
        t.post(&admin, &format!("/api/v1/teams/{team}/members"), json!({ "user_id": lee_id }))
            .await
            .status()
            .is_success()
    );
    let routing = json!({ "assignment": "round_robin", "capacity": 5 });
    let r = t.client.put(t.url(&format!("/api/v1/teams/{team}/routing"))).bearer_auth(&admin).json(&routing);
    assert_eq!(r.send().await.unwrap().status(), 200);
    let online = t.client.put(t.url("/api/v1/me/presence")).bearer_auth(&lee).json(&json!({ "presence": "online" }));
    assert_eq!(online.send().await.unwrap().status(), 200);
    let rule = json!({
        "name": "The front desk answers this line",
        "trigger": { "on": "message_received" },
        "conditions": [{ "if": "inbox", "any_of": [inbox] }],
        "actions": [{ "do": "assign_team", "team_id": team }]
    });
    assert_eq!(t.post(&admin, "/api/v1/automations", rule).await.status(), 201);
    (lee_id, admin)
}

async fn a_notification_to_a_new_number_opens_a_conversation_the_reply_threads_under(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let ask = json!({ "to": "(415) 555-0142", "inbox_id": inbox, "body": "Your glasses are ready for pickup." });

    // Nobody has agreed to texts from this number: blocked, and nothing is kept.
    let p = problem(notify(&t, &agent, None, &ask).await, 409).await;
    assert_eq!(p["type"], "urn:textdesk:problem:blocked");
    assert_eq!(p["reason"], "no_opt_in");
    let contacts = json(t.get(&agent, "/api/v1/contacts?q=5550142").await).await;
    assert_eq!(contacts.as_array().map(Vec::len), Some(0), "a blocked notification creates no contact: {contacts}");

    // With the consent the customer gave at the counter: the contact, the
    // conversation and the message, read in the inbox's country.
    let mut ask = ask;
    ask["consent"] = json!({ "source": "in_person", "evidence": "Agreed at the counter on Dec 4" });
    let r = notify(&t, &agent, None, &ask).await;
    assert_eq!(r.status(), 201);
    let sent = json(r).await;
    assert_eq!(sent["new_conversation"], true);
    assert!(["queued", "deferred"].contains(&sent["status"].as_str().unwrap()), "{sent}");
    let conv = sent["conversation_id"].as_i64().unwrap();
    let contact = json(t.get(&agent, &format!("/api/v1/contacts/{}", sent["contact_id"])).await).await;
    assert_eq!(contact["identities"][0]["address"], "+14155550142");
    assert_eq!(contact["consent"], "opted_in");
    deliver(&t, &sent).await;
    // The simulated phone shows it once the carrier reports it delivered.
    let url = t.url(&format!("/simulator/api/inboxes/{inbox}/phones/+14155550142/messages"));
    let phone = t
        .eventually(|| async {
            let list = json(t.client.get(&url).send().await.unwrap()).await;
            (list.as_array().map(Vec::len) == Some(1)).then_some(list)
        })
        .await;
    assert_eq!(phone[0]["body"], "Your glasses are ready for pickup.", "{phone}");

    // The customer's reply lands in that conversation, under the notification.
    let r = json(t.text_in(inbox, "+14155550142", "Great, I'll come by at 5", None).await).await;
    assert_eq!(r["conversation_id"].as_i64(), Some(conv));
    let messages = thread(&t, &agent, conv).await;
    let bodies: Vec<&str> = messages.iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["Your glasses are ready for pickup.", "Great, I'll come by at 5"]);
    assert_eq!(messages[0]["direction"], "outbound");
    assert_eq!(messages[1]["direction"], "inbound");

    // The reply goes to a person: it waits in Unassigned, a routing rule gives it to the
    // front desk, and the desk's agent who is online gets it, with the reason in the timeline.
    let c = json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await;
    assert!(c["waiting_since"].is_string() && c["assignee_id"].is_null(), "waiting for a person: {c}");
    let unassigned = json(t.get(&agent, "/api/v1/conversations?view=unassigned").await).await;
    assert!(unassigned["items"].as_array().unwrap().iter().any(|i| i["id"].as_i64() == Some(conv)), "{unassigned}");
    let (lee, admin) = front_desk(&t, inbox).await;
    t.services.run_automations().await.unwrap();
    t.services.route_waiting(Timestamp::now()).await.unwrap();
    let c = json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await;
    assert_eq!(c["assignee_id"].as_i64(), Some(lee), "{c}");
    let tl = json(t.get(&admin, &format!("/api/v1/conversations/{conv}/timeline")).await).await;
    let why = tl.as_array().unwrap().iter().find(|e| e["kind"] == "assigned").map(|e| e["data"]["why"].clone());
    assert_eq!(why, Some(json!("in turn in the team Front desk")), "{tl}");

    // A second notification continues the open conversation, by contact id too.
    let again = json!({ "contact_id": sent["contact_id"], "inbox_id": inbox, "body": "We close at 6 today." });
    let r = json(notify(&t, &agent, None, &again).await).await;
    assert_eq!(r["conversation_id"].as_i64(), Some(conv));
    assert_eq!(r["new_conversation"], false);
}
both_backends!(a_notification_to_a_new_number_opens_a_conversation_the_reply_threads_under);

async fn concurrent_repeats_of_one_key_send_one_message(db: Db) {
    let (t, inbox, agent, contact) = with_a_contact(db, "+14155550177").await;
    let ask = json!({ "contact_id": contact, "inbox_id": inbox, "body": "Your order has shipped." });

    let requests = (0..10).map(|_| async {
        let r = notify(&t, &agent, Some("order-1234-shipped"), &ask).await;
        (r.status().as_u16(), r.text().await.unwrap())
    });
    let answers = futures_util::future::join_all(requests).await;
    assert!(answers.iter().all(|a| a == &answers[0]), "every repeat gets the first answer: {answers:?}");
    assert_eq!(answers[0].0, 201);
    let first: Value = serde_json::from_str(&answers[0].1).unwrap();
    let conv = first["conversation_id"].as_i64().unwrap();
    assert_eq!(thread(&t, &agent, conv).await.len(), 1, "one message for ten requests");

    // Key order and spacing do not make another request; another body does.
    let reordered = json!({ "body": "Your order has shipped.", "inbox_id": inbox, "contact_id": contact });
    let r = notify(&t, &agent, Some("order-1234-shipped"), &reordered).await;
    assert_eq!((r.status().as_u16(), r.text().await.unwrap()), answers[0]);
    let other = json!({ "contact_id": contact, "inbox_id": inbox, "body": "Your order was delivered." });
    let p = problem(notify(&t, &agent, Some("order-1234-shipped"), &other).await, 422).await;
    assert!(p["detail"].as_str().unwrap().contains("different request"), "{p}");
    assert_eq!(thread(&t, &agent, conv).await.len(), 1);

    // The messages endpoint keeps its own keys: concurrent retries of a reply send it once.
    let messages = format!("/api/v1/conversations/{conv}/messages");
    let reply = json!({ "body": "Tracking: 1Z999" });
    let requests = (0..5).map(|_| async {
        let r = t
            .client
            .post(t.url(&messages))
            .bearer_auth(&agent)
            .header("Idempotency-Key", "order-1234-shipped")
            .json(&reply)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    });
    let answers = futures_util::future::join_all(requests).await;
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert_eq!(answers[0].0, 201);
    assert_eq!(thread(&t, &agent, conv).await.len(), 2);
    let r = t
        .client
        .post(t.url(&messages))
        .bearer_auth(&agent)
        .header("Idempotency-Key", "order-1234-shipped")
        .json(&json!({ "body": "Tracking: 1Z000" }))
        .send()
        .await
        .unwrap();
    problem(r, 422).await;
    // Without a key, every request is a new message.
    assert_eq!(t.post(&agent, &messages, reply.clone()).await.status(), 201);
    assert_eq!(thread(&t, &agent, conv).await.len(), 3);
    // A key is 1 to 255 printable characters.
    let long = "k".repeat(256);
    problem(notify(&t, &agent, Some(&long), &ask).await, 422).await;
    assert_eq!(thread(&t, &agent, conv).await.len(), 3);
}
both_backends!(concurrent_repeats_of_one_key_send_one_message);

async fn a_repeat_answers_even_when_the_first_died_before_answering(db: Db) {
    let (t, inbox, agent, contact) = with_a_contact(db, "+14155550199").await;
    let ask = json!({ "contact_id": contact, "inbox_id": inbox, "body": "Your table is booked." });
    let r = notify(&t, &agent, Some("booking-77"), &ask).await;
    let first = (r.status().as_u16(), r.text().await.unwrap());
    assert_eq!(first.0, 201);

    // As if the server had stopped between storing the message and keeping its answer.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&t.database_url).await.unwrap();
    sqlx::query("UPDATE idempotency_keys SET response = NULL, response_status = NULL").execute(&pool).await.unwrap();
    pool.close().await;

    // The repeat waits a moment for an answer, then builds it from the message stored: the same, and nothing sent again.
    let r = notify(&t, &agent, Some("booking-77"), &ask).await;
    assert_eq!((r.status().as_u16(), r.text().await.unwrap()), first);
    let conv = serde_json::from_str::<Value>(&first.1).unwrap()["conversation_id"].as_i64().unwrap();
    assert_eq!(thread(&t, &agent, conv).await.len(), 1);
}
both_backends!(a_repeat_answers_even_when_the_first_died_before_answering);

async fn deferred_in_quiet_hours_with_the_customers_local_time(db: Db) {
    let t = app(db).config(|c| c.live_exchange_minutes = 0).start().await;
    let inbox = t.simulator_inbox().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let (zone, tz) = common::zone_at_hour(23);
    let contact = consenting_contact(&t, &agent, "+14155550166", &zone).await;
    let tomorrow = Timestamp::now().to_zoned(tz.clone()).date().tomorrow().unwrap();

    let r = notify(
        &t,
        &agent,
        None,
        &json!({ "contact_id": contact, "inbox_id": inbox, "body": "Reminder: dentist at 10" }),
    )
    .await;
    assert_eq!(r.status(), 201);
    let sent = json(r).await;
    assert_eq!(sent["status"], "deferred", "{sent}");
    let until = &sent["deferred_until"];
    assert_eq!(until["zone"], zone.as_str());
    assert_eq!(until["local"], format!("{tomorrow}T08:00"), "the end of their quiet hours, on their clock");
    let at: Timestamp = until["at"].as_str().unwrap().parse().unwrap();
    assert_eq!(at, tomorrow.at(8, 0, 0, 0).to_zoned(tz.clone()).unwrap().timestamp());
    // Nothing goes before then.
    assert_eq!(t.services.dispatch_at("test", 10, Timestamp::now()).await.unwrap().sent, 0);

    // A local time asked for is read on the customer's clock.
    let later =
        json!({ "contact_id": contact, "inbox_id": inbox, "body": "See you", "send_at": format!("{tomorrow}T09:30") });
    let sent = json(notify(&t, &agent, None, &later).await).await;
    assert_eq!(sent["status"], "deferred");
    assert_eq!(sent["deferred_until"]["local"], format!("{tomorrow}T09:30"));
    let at: Timestamp = sent["deferred_until"]["at"].as_str().unwrap().parse().unwrap();
    assert_eq!(at, tomorrow.at(9, 30, 0, 0).to_zoned(tz.clone()).unwrap().timestamp());

    // An instant (RFC 3339, in UTC or with an offset) is that instant, told back on the customer's clock.
    let ten = tomorrow.at(10, 0, 0, 0).to_zoned(tz.clone()).unwrap();
    let with_offset = ten.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
    for send_at in [ten.timestamp().to_string(), with_offset] {
        let ask =
            json!({ "contact_id": contact, "inbox_id": inbox, "body": "Your table is ready", "send_at": send_at });
        let sent = json(notify(&t, &agent, None, &ask).await).await;
        assert_eq!(sent["status"], "deferred", "{send_at}: {sent}");
        let at: Timestamp = sent["deferred_until"]["at"].as_str().unwrap().parse().unwrap();
        assert_eq!(at, ten.timestamp(), "{send_at}");
        assert_eq!(sent["deferred_until"]["local"], format!("{tomorrow}T10:00"), "{send_at}");
    }
}
both_backends!(deferred_in_quiet_hours_with_the_customers_local_time);

async fn blocked_when_opted_out_and_replies_refused(db: Db) {
    let (t, inbox, agent, contact) = with_a_contact(db, "+14155550133").await;
    let stop = json!({ "state": "opted_out", "source": "verbal", "evidence": "Asked on the phone for no more texts" });
    assert_eq!(t.post(&agent, &format!("/api/v1/contacts/{contact}/consent"), stop).await.status(), 201);

    let ask = json!({ "to": "+1 415 555 0133", "inbox_id": inbox, "body": "Sale this weekend!" });
    let p = problem(notify(&t, &agent, Some("sale-1"), &ask).await, 409).await;
    assert_eq!(p["type"], "urn:textdesk:problem:blocked");
    assert_eq!(p["reason"], "opted_out");
    let list = json(t.get(&agent, "/api/v1/conversations?status=any").await).await;
    assert_eq!(list["items"].as_array().map(Vec::len).unwrap_or(0), 0, "nothing stored: {list}");

    // `reply` is not a notification; neither is a request naming two recipients.
    let mut reply = ask.clone();
    reply["kind"] = json!("reply");
    let p = problem(notify(&t, &agent, None, &reply).await, 422).await;
    assert!(p["detail"].as_str().unwrap().contains("reply"), "{p}");
    let both = json!({ "to": "+14155550133", "contact_id": contact, "inbox_id": inbox, "body": "x" });
    problem(notify(&t, &agent, None, &both).await, 422).await;
    let bad = json!({ "to": "555", "inbox_id": inbox, "body": "x" });
    problem(notify(&t, &agent, None, &bad).await, 422).await;
}
both_backends!(blocked_when_opted_out_and_replies_refused);

async fn a_template_with_variables(db: Db) {
    let t = app(db).config(|c| c.account_name = "Harbor Dental".into()).start().await;
    let inbox = t.simulator_inbox().await;
    let lead = t.token_for("lee@example.com", Role::Supervisor).await;
    let canned = json!({ "shortcut": "visit", "title": "Visit reminder", "body": "Hi {contact.first_name}, your visit is confirmed. – {business.name}" });
    assert_eq!(t.post(&lead, "/api/v1/canned-responses", canned).await.status(), 201);
    let (zone, _) = common::zone_at_hour(12);
    let contact = consenting_contact(&t, &lead, "+14155550122", &zone).await;

    // The app fills in what it knows (the contact's name); the caller's values come first.
    let ask = json!({ "contact_id": contact, "inbox_id": inbox, "template": "/visit" });
    let sent = json(notify(&t, &lead, None, &ask).await).await;
    let m = &thread(&t, &lead, sent["conversation_id"].as_i64().unwrap()).await[0];
    assert_eq!(m["body"], "Hi Ana, your visit is confirmed. – Harbor Dental");
    let ask = json!({ "contact_id": contact, "inbox_id": inbox, "template": "visit", "variables": { "contact.name": "Mrs. Lopez" } });
    let sent = json(notify(&t, &lead, None, &ask).await).await;
    let m = thread(&t, &lead, sent["conversation_id"].as_i64().unwrap()).await;
    assert_eq!(m[1]["body"], "Hi Mrs., your visit is confirmed. – Harbor Dental");

    // A value nobody has, a variable that does not exist, a template that does not: refused.
    let new_number =
        json!({ "to": "+14155550123", "inbox_id": inbox, "template": "visit", "consent": { "source": "verbal" } });
    let p = problem(notify(&t, &lead, None, &new_number).await, 422).await;
    assert!(p["detail"].as_str().unwrap().contains("contact.first_name"), "{p}");
    let unknown =
        json!({ "contact_id": contact, "inbox_id": inbox, "template": "visit", "variables": { "time": "9:00" } });
    let p = problem(notify(&t, &lead, None, &unknown).await, 422).await;
    assert!(p["detail"].as_str().unwrap().contains("\"time\""), "{p}");
    let missing = json!({ "contact_id": contact, "inbox_id": inbox, "template": "nope" });
    problem(notify(&t, &lead, None, &missing).await, 422).await;
}
both_backends!(a_template_with_variables);

async fn an_agent_starts_a_conversation_recording_consent_given_by_phone(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let browser = t.browser("dana@example.com").await;
    let page = |path: &str| {
        let url = t.url(path);
        let b = browser.clone();
        async move { b.get(url).send().await.unwrap().text().await.unwrap() }
    };
    assert!(page("/inbox").await.contains("href=\"/conversations/new\""), "the list offers a new conversation");
    let form = page("/conversations/new").await;
    assert!(form.contains("id=\"new-conversation-form\""));
    let csrf = common::csrf_of(&form);
    let inbox_id = inbox.to_string();
    let base = [
        ("csrf", csrf.as_str()),
        ("to", "415 555 0188"),
        ("contact_id", ""),
        ("inbox_id", inbox_id.as_str()),
        ("body", "Hi, this is Dana from the clinic about your refill."),
    ];

    // No recorded opt-in: said before anything is sent, with the way to record it.
    let r = browser.post(t.url("/conversations/new")).form(&base).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("No recorded opt-in."), "{html}");
    assert!(html.contains("Record consent given by phone / in person"));
    assert!(html.contains("Hi, this is Dana from the clinic"), "the message typed is kept");
    let contacts = json(t.get(&agent, "/api/v1/contacts?q=5550188").await).await;
    assert_eq!(contacts.as_array().map(Vec::len), Some(0), "nothing sent, nobody created");

    // Ticked, without evidence: asked for it.
    let mut ticked = base.to_vec();
    ticked.extend([("consent_given", "1"), ("consent_source", "verbal"), ("evidence", "")]);
    let r = browser.post(t.url("/conversations/new")).form(&ticked).send().await.unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("evidence field"));

    // With the evidence: recorded, sent, and the agent lands in the conversation.
    ticked.pop();
    ticked.push(("evidence", "Said yes to texts on a call on Dec 4, 10:05"));
    let r = browser.post(t.url("/conversations/new")).form(&ticked).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    let conv: i64 = to.trim_start_matches("/conversations/").parse().unwrap();
    let messages = thread(&t, &agent, conv).await;
    assert_eq!(messages[0]["body"], "Hi, this is Dana from the clinic about your refill.");
    assert!(messages[0]["author_id"].is_i64(), "signed by the agent");
    let c = json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await;
    let history = json(t.get(&agent, &format!("/api/v1/contacts/{}/consent", c["contact_id"])).await).await;
    assert_eq!(history[0]["kind"], "opt_in");
    assert_eq!(history[0]["source"], "verbal");
    assert_eq!(history[0]["evidence"], "Said yes to texts on a call on Dec 4, 10:05");

    // The contact is in the form's list now, and needs no consent step.
    let contact_id = c["contact_id"].to_string();
    let again = [
        ("csrf", csrf.as_str()),
        ("to", ""),
        ("contact_id", contact_id.as_str()),
        ("inbox_id", inbox_id.as_str()),
        ("body", "Your refill is ready."),
    ];
    assert!(page("/conversations/new").await.contains("+14155550188"));
    let r = browser.post(t.url("/conversations/new")).form(&again).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"].to_str().unwrap(), to, "continues the open conversation");
}
both_backends!(an_agent_starts_a_conversation_recording_consent_given_by_phone);
