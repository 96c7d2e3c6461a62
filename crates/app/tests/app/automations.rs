//! Automation rules over HTTP: admins keep them in the API, the engine (a
//! consumer of the event log) runs them once per event and says so in the
//! timeline, every reply goes through the gate and the outbox, and the loop
//! guard keeps automatic messages from answering machines, keywords or a
//! conversation a person is in. The off-hours reply and the holding message
//! are built-in rules.

use crate::common;

use common::{Db, app, json, zone_at_hour};
use serde_json::{Value, json};
use textdesk_core::Role;

async fn thread(t: &common::TestApp, token: &str, conv: i64) -> Vec<Value> {
    json(t.get(token, &format!("/api/v1/conversations/{conv}/messages")).await).await.as_array().unwrap().clone()
}

fn automatic(msgs: &[Value]) -> Vec<Value> {
    msgs.iter().filter(|m| m["direction"] == "outbound" && m["author_id"].is_null()).cloned().collect()
}

async fn firings(t: &common::TestApp, token: &str, conv: i64) -> Vec<Value> {
    let all = json(t.get(token, &format!("/api/v1/conversations/{conv}/timeline")).await).await;
    all.as_array().unwrap().iter().filter(|e| e["kind"] == "automation_fired").map(|e| e["data"].clone()).collect()
}

async fn send(t: &common::TestApp, method: reqwest::Method, token: &str, path: &str, body: Value) -> reqwest::Response {
    t.client.request(method, t.url(path)).bearer_auth(token).json(&body).send().await.unwrap()
}

async fn rules(t: &common::TestApp, token: &str) -> Vec<Value> {
    json(t.get(token, "/api/v1/automations").await).await.as_array().unwrap().clone()
}

async fn text(t: &common::TestApp, inbox: i64, from: &str, body: &str) -> i64 {
    json(t.text_in(inbox, from, body, None).await).await["conversation_id"].as_i64().unwrap()
}

/// Sets the inbox's hours so that it is closed now.
async fn close_inbox(t: &common::TestApp, admin: &str, inbox: i64) {
    let path = format!("/api/v1/inboxes/{inbox}");
    let r = send(t, reqwest::Method::PATCH, admin, &path, json!({ "settings": { "hours": closed_hours() } })).await;
    assert_eq!(r.status(), 200);
}

/// Closed now: open 09:00-17:00 every day in a zone where it is 02:xx.
fn closed_hours() -> Value {
    let (zone, _) = zone_at_hour(2);
    let days: serde_json::Map<String, Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| (d.to_string(), json!(["09:00-17:00"])))
        .collect();
    json!({ "zone": zone, "weekly": days })
}

async fn every_inbox_comes_with_two_builtin_rules_admins_edit_and_switch_off(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let lead = t.token_for("lee@example.com", Role::Supervisor).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let inbox = t.simulator_inbox().await;
    t.services.ensure_builtin_rules(t.account_id).await.unwrap();

    assert_eq!(t.get(&agent, "/api/v1/automations").await.status(), 403, "agents do not see the rules");
    let list = rules(&t, &lead).await;
    let off = list.iter().find(|r| r["builtin"] == "off_hours_reply" && r["inbox_id"] == inbox).unwrap().clone();
    let hold = list.iter().find(|r| r["builtin"] == "holding_message" && r["inbox_id"] == inbox).unwrap().clone();
    assert_eq!(off["name"], "After hours");
    assert_eq!(off["enabled"], true, "the off-hours reply starts on");
    assert_eq!(off["trigger"]["on"], "message_received");
    assert_eq!(hold["enabled"], false, "the holding message starts off");
    assert_eq!(hold["trigger"], json!({ "on": "waited", "business_minutes": 15 }));

    // The inbox's old settings are a door to the same rule.
    let r = send(
        &t,
        reqwest::Method::PATCH,
        &admin,
        &format!("/api/v1/inboxes/{inbox}"),
        json!({ "settings": { "hours": closed_hours(), "off_hours_reply": { "text": "Closed. Back {next_open}." } } }),
    )
    .await;
    assert_eq!(r.status(), 200);
    let off = json(t.get(&admin, &format!("/api/v1/automations/{}", off["id"])).await).await;
    assert_eq!(off["actions"], json!([{ "do": "reply", "text": "Closed. Back {next_open}." }]));

    // Nobody but an admin changes a rule; a built-in rule is switched off, never deleted.
    let path = format!("/api/v1/automations/{}", off["id"]);
    assert_eq!(send(&t, reqwest::Method::PATCH, &lead, &path, json!({ "enabled": false })).await.status(), 403);
    let r = send(&t, reqwest::Method::DELETE, &admin, &path, json!({})).await;
    assert_eq!(r.status(), 422);
    assert!(json(r).await["detail"].as_str().unwrap().contains("switch it off"));
    let r = send(&t, reqwest::Method::PATCH, &admin, &path, json!({ "enabled": false })).await;
    assert_eq!(json(r).await["enabled"], false);

    // Switched off: a text while closed gets nothing.
    let conv = text(&t, inbox, "+12125550111", "Are you open?").await;
    t.services.run_automations().await.unwrap();
    assert!(automatic(&thread(&t, &admin, conv).await).is_empty());

    // On again (through the rule): the next customer is answered with the new words.
    let r = send(&t, reqwest::Method::PATCH, &admin, &path, json!({ "enabled": true })).await;
    assert_eq!(r.status(), 200);
    let conv = text(&t, inbox, "+12125550122", "Hello").await;
    t.services.run_automations().await.unwrap();
    let replies = automatic(&thread(&t, &admin, conv).await);
    assert_eq!(replies.len(), 1);
    assert!(replies[0]["body"].as_str().unwrap().starts_with("Closed. Back "), "{replies:?}");
    let fired = firings(&t, &admin, conv).await;
    assert_eq!(fired, vec![json!({ "rule_id": off["id"], "rule": "After hours", "did": ["replied"] })]);
}
both_backends!(every_inbox_comes_with_two_builtin_rules_admins_edit_and_switch_off);

async fn a_rule_acts_once_per_event_and_the_timeline_says_what_it_did(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let dana = t.token_for("dana@example.com", Role::Agent).await;
    let inbox = t.simulator_inbox().await;
    assert_eq!(t.post(&admin, "/api/v1/labels", json!({ "name": "billing" })).await.status(), 201);
    let me = json(t.get(&dana, "/api/v1/me").await).await;
    let rule = json!({
        "name": "Invoices to Dana",
        "trigger": { "on": "message_received" },
        "conditions": [{ "if": "text", "matches": { "contains": "invoice" } }],
        "actions": [
            { "do": "add_label", "label": "Billing" },
            { "do": "set_priority", "priority": "high" },
            { "do": "assign", "user_id": me["id"] }
        ]
    });
    let r = t.post(&admin, "/api/v1/automations", rule).await;
    assert_eq!(r.status(), 201);
    let rule = json(r).await;

    let other = text(&t, inbox, "+12125550111", "Can I book a cleaning?").await;
    let conv = text(&t, inbox, "+12125550122", "Where is my INVOICE from March?").await;
    assert!(t.services.run_automations().await.unwrap() > 0);
    assert_eq!(t.services.run_automations().await.unwrap(), 0, "each event once");

    let c = json(t.get(&admin, &format!("/api/v1/conversations/{conv}")).await).await;
    assert_eq!(c["labels"], json!(["billing"]));
    assert_eq!(c["priority"], "high");
    assert_eq!(c["assignee_id"], me["id"]);
    let fired = firings(&t, &admin, conv).await;
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0]["rule"], "Invoices to Dana");
    assert_eq!(
        fired[0]["did"],
        json!([
            "added the label billing",
            "set the priority to high",
            format!("assigned it to {}", me["name"].as_str().unwrap())
        ])
    );
    let o = json(t.get(&admin, &format!("/api/v1/conversations/{other}")).await).await;
    assert_eq!(o["labels"], json!([]), "the condition picks");
    assert!(firings(&t, &admin, other).await.is_empty());

    // The page says it in words.
    let b = t.browser("dana@example.com").await;
    let page = b.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Automation \u{201c}Invoices to Dana\u{201d} added the label billing"), "{page}");

    // Off: nothing more happens.
    let path = format!("/api/v1/automations/{}", rule["id"]);
    send(&t, reqwest::Method::PATCH, &admin, &path, json!({ "enabled": false })).await;
    let third = text(&t, inbox, "+12125550133", "invoice please").await;
    t.services.run_automations().await.unwrap();
    assert!(firings(&t, &admin, third).await.is_empty());
    assert_eq!(send(&t, reqwest::Method::DELETE, &admin, &path, json!({})).await.status(), 204);
    assert_eq!(t.get(&admin, &path).await.status(), 404);
}
both_backends!(a_rule_acts_once_per_event_and_the_timeline_says_what_it_did);

/// Two texts of one conversation decided in one batch of the engine: the
/// second is decided on what the first one's rule did (the engine reads a
/// batch's conversations ahead, and reads one again once a rule may have
/// changed it).
async fn a_rule_sees_what_it_did_for_the_text_before_in_the_same_batch(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let inbox = t.simulator_inbox().await;
    assert_eq!(t.post(&admin, "/api/v1/labels", json!({ "name": "greeted" })).await.status(), 201);
    let rule = json!({
        "name": "Greet once",
        "trigger": { "on": "message_received" },
        "conditions": [{ "if": "lacks_label", "label": "greeted" }],
        "actions": [{ "do": "add_label", "label": "greeted" }, { "do": "set_priority", "priority": "high" }]
    });
    assert_eq!(t.post(&admin, "/api/v1/automations", rule).await.status(), 201);
    let conv = text(&t, inbox, "+12125550144", "Hello?").await;
    assert_eq!(text(&t, inbox, "+12125550144", "Anyone there?").await, conv);
    let other = text(&t, inbox, "+12125550155", "Hi").await;

    // Everything since the rule was made, in one batch.
    assert!(t.services.run_automations().await.unwrap() >= 5);
    let fired = firings(&t, &admin, conv).await;
    assert_eq!(fired.len(), 1, "the second text finds the label the first one added: {fired:?}");
    assert_eq!(firings(&t, &admin, other).await.len(), 1, "another conversation is decided on its own");
    let c = json(t.get(&admin, &format!("/api/v1/conversations/{conv}")).await).await;
    assert_eq!(c["labels"], json!(["greeted"]));
}
both_backends!(a_rule_sees_what_it_did_for_the_text_before_in_the_same_batch);

async fn bad_rules_are_refused_with_what_is_wrong(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let ok = json!({ "name": "Tag", "trigger": { "on": "conversation_created" }, "actions": [{ "do": "resolve" }] });
    assert_eq!(t.post(&agent, "/api/v1/automations", ok).await.status(), 403);
    for (rule, words) in [
        (json!({ "name": "", "trigger": { "on": "message_received" }, "actions": [{ "do": "resolve" }] }), "name"),
        (json!({ "name": "X", "trigger": { "on": "message_received" }, "actions": [] }), "at least one"),
        (
            json!({ "name": "X", "trigger": { "on": "waited", "business_minutes": 0 }, "actions": [{ "do": "resolve" }] }),
            "wait",
        ),
        (
            json!({ "name": "X", "trigger": { "on": "message_received" }, "actions": [{ "do": "add_label", "label": "nosuch" }] }),
            "nosuch",
        ),
        (
            json!({ "name": "X", "trigger": { "on": "message_received" }, "actions": [{ "do": "assign", "user_id": 99999 }] }),
            "assignee",
        ),
        (
            json!({ "name": "X", "trigger": { "on": "message_received" }, "conditions": [{ "if": "inbox", "any_of": [99999] }], "actions": [{ "do": "resolve" }] }),
            "inbox 99999",
        ),
        (
            json!({ "name": "X", "trigger": { "on": "message_received" }, "conditions": [{ "if": "text", "matches": { "regex": "(" } }], "actions": [{ "do": "resolve" }] }),
            "not a regular expression",
        ),
        (
            json!({ "name": "X", "trigger": { "on": "scheduled", "days": ["someday"], "at": "09:00" }, "actions": [{ "do": "resolve" }] }),
            "someday",
        ),
    ] {
        let r = t.post(&admin, "/api/v1/automations", rule.clone()).await;
        assert_eq!(r.status(), 422, "{rule}");
        let p = json(r).await;
        assert!(p["detail"].as_str().unwrap().contains(words), "{rule}: {p}");
    }
    let r = t
        .post(&admin, "/api/v1/automations", json!({ "name": "X", "trigger": { "on": "lunar" }, "actions": [] }))
        .await;
    assert_eq!(r.status(), 422, "an unknown trigger");
    assert_eq!(t.get(&admin, "/api/v1/automations/99999").await.status(), 404);
}
both_backends!(bad_rules_are_refused_with_what_is_wrong);

async fn automatic_messages_never_answer_machines_keywords_or_a_person_at_work(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let inbox = t.simulator_inbox().await;
    let rule = json!({
        "name": "Thanks",
        "trigger": { "on": "message_received" },
        "actions": [{ "do": "reply", "text": "Thanks, we got it." }]
    });
    assert_eq!(t.post(&admin, "/api/v1/automations", rule).await.status(), 201);

    // Another machine's auto-reply gets nothing, and the timeline says why.
    let bot = text(&t, inbox, "+12125550111", "Automatic reply: I am out of the office until Monday").await;
    t.services.run_automations().await.unwrap();
    assert!(automatic(&thread(&t, &admin, bot).await).is_empty());
    let fired = firings(&t, &admin, bot).await;
    assert!(fired[0]["silenced"].as_str().unwrap().contains("automatic reply"), "{fired:?}");

    // A keyword is answered by the consent rules only.
    let stop = text(&t, inbox, "+12125550122", "STOP").await;
    t.services.run_automations().await.unwrap();
    let replies = automatic(&thread(&t, &admin, stop).await);
    assert_eq!(replies.len(), 1);
    assert!(replies[0]["body"].as_str().unwrap().contains("unsubscribed"));

    // A person's question gets the reply; once a person has answered, the rule is silent.
    let conv = text(&t, inbox, "+12125550133", "Is parking free?").await;
    t.services.run_automations().await.unwrap();
    assert_eq!(automatic(&thread(&t, &admin, conv).await).len(), 1);
    let r = t
        .post(&agent, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Yes, behind the building" }))
        .await;
    assert_eq!(r.status(), 201);
    t.text_in(inbox, "+12125550133", "Great, and on Saturdays too?", None).await;
    t.services.run_automations().await.unwrap();
    assert_eq!(automatic(&thread(&t, &admin, conv).await).len(), 1, "a person is in the conversation");
    let fired = firings(&t, &admin, conv).await;
    assert!(fired.last().unwrap()["silenced"].as_str().unwrap().contains("a person"), "{fired:?}");
}
both_backends!(automatic_messages_never_answer_machines_keywords_or_a_person_at_work);

/// Tried as a new user would: a text at 2 a.m. their time to a closed inbox
/// must be answered at once, not held by quiet hours until 8:00 with the real answer.
async fn the_off_hours_reply_goes_at_once_even_in_the_customers_night(db: Db) {
    let t = app(db).config(|c| c.live_exchange_minutes = 0).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let inbox = t.simulator_inbox().await;
    close_inbox(&t, &admin, inbox).await;
    let conv = text(&t, inbox, "+12125550111", "My tooth hurts, are you open?").await;
    let (night, _) = zone_at_hour(2);
    t.move_contact_to(&admin, conv, &night).await;
    t.services.run_automations().await.unwrap();
    let replies = automatic(&thread(&t, &admin, conv).await);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0]["status"], "queued", "not deferred to the morning: {replies:?}");
    assert_eq!(t.dispatch_all().await, 1);
}
both_backends!(the_off_hours_reply_goes_at_once_even_in_the_customers_night);

async fn a_queued_automatic_message_is_cancelled_when_the_customer_opts_out(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let inbox = t.simulator_inbox().await;
    close_inbox(&t, &admin, inbox).await;
    let conv = text(&t, inbox, "+12125550111", "Hi, can I reschedule?").await;
    t.services.run_automations().await.unwrap();
    assert_eq!(automatic(&thread(&t, &admin, conv).await).len(), 1, "queued, not sent yet");
    t.text_in(inbox, "+12125550111", "STOP", None).await;
    let left = automatic(&thread(&t, &admin, conv).await);
    assert_eq!(left.len(), 1, "only the opt-out confirmation: {left:?}");
    assert!(left[0]["body"].as_str().unwrap().contains("unsubscribed"));
    assert_eq!(t.dispatch_all().await, 1);
}
both_backends!(a_queued_automatic_message_is_cancelled_when_the_customer_opts_out);

async fn a_rule_after_a_wait_runs_in_business_time_once_per_wait(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let inbox = t.simulator_inbox().await;
    assert_eq!(t.post(&admin, "/api/v1/labels", json!({ "name": "late" })).await.status(), 201);
    let rule = json!({
        "name": "Flag slow answers",
        "trigger": { "on": "waited", "business_minutes": 30 },
        "conditions": [{ "if": "status", "any_of": ["open"] }],
        "actions": [{ "do": "add_label", "label": "late" }, { "do": "set_priority", "priority": "urgent" }],
        "once": "per_wait"
    });
    assert_eq!(t.post(&admin, "/api/v1/automations", rule).await.status(), 201);
    let conv = text(&t, inbox, "+12125550111", "Hello?").await;
    let now = jiff::Timestamp::now();
    let later = |m: i64| now + jiff::SignedDuration::from_mins(m);
    assert_eq!(t.services.run_timed_automations(later(20)).await.unwrap(), 0, "not yet");
    assert_eq!(t.services.run_timed_automations(later(31)).await.unwrap(), 1);
    assert_eq!(t.services.run_timed_automations(later(45)).await.unwrap(), 0, "once per wait");
    let c = json(t.get(&admin, &format!("/api/v1/conversations/{conv}")).await).await;
    assert_eq!(c["labels"], json!(["late"]));
    assert_eq!(c["priority"], "urgent");
}
both_backends!(a_rule_after_a_wait_runs_in_business_time_once_per_wait);

/// An upgrade does not act on history: a new engine position starts at the
/// end of the log.
#[tokio::test]
async fn the_engine_starts_at_the_end_of_the_log() {
    let t = app(Db::Sqlite).start().await;
    let inbox = t.simulator_inbox().await;
    text(&t, inbox, "+12125550111", "an old question").await;
    let newest = t.services.store.events().newest_id().await.unwrap();
    assert!(newest > 0);
    t.services.store.start_consumer_at_end("automations-after-upgrade").await.unwrap();
    assert_eq!(t.services.store.consumer_position("automations-after-upgrade").await.unwrap(), newest);
    // Made once: a restart keeps where it got to.
    text(&t, inbox, "+12125550122", "a new question").await;
    t.services.store.start_consumer_at_end("automations-after-upgrade").await.unwrap();
    assert_eq!(t.services.store.consumer_position("automations-after-upgrade").await.unwrap(), newest);
}

/// Two nodes run the engine on one database: a rule acts once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_act_once() {
    let Some((a, b)) = common::two_postgres_nodes().await else { return };
    let admin = a.token_for("ada@example.com", Role::Admin).await;
    let inbox = a.simulator_inbox().await;
    let rule = json!({ "name": "Thanks", "trigger": { "on": "message_received" }, "actions": [{ "do": "reply", "text": "Got it." }] });
    assert_eq!(a.post(&admin, "/api/v1/automations", rule).await.status(), 201);
    let mut convs = Vec::new();
    for n in 0..6 {
        convs.push(text(&a, inbox, &format!("+1212555016{n}"), "Hello there").await);
    }
    let (x, y) = tokio::join!(a.services.run_automations(), b.services.run_automations());
    x.unwrap();
    y.unwrap();
    for conv in convs {
        assert_eq!(automatic(&thread(&a, &admin, conv).await).len(), 1, "conversation {conv}");
    }
}

/// Texts pouring in while the engine runs beside them (SQLite's one writer,
/// eight pooled connections): every text is taken, and every customer gets
/// the off-hours reply once. The engine reads only through its own
/// transaction, so it never waits on the pool while holding the write lock.
async fn a_burst_of_texts_while_the_engine_runs(db: Db) {
    let t = app(db).workers().start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let inbox = t.simulator_inbox().await;
    close_inbox(&t, &admin, inbox).await;
    let texts = (0..48).map(|n| {
        let t = &t;
        async move {
            let r = t.text_in(inbox, &format!("+1212555{:04}", 3000 + n), "Are you open tomorrow?", None).await;
            assert!(r.status().is_success(), "text {n}: {}", r.status());
            json(r).await["conversation_id"].as_i64().unwrap()
        }
    });
    let convs = futures_util::future::join_all(texts).await;
    for conv in convs {
        let replies = t
            .eventually(|| async {
                let r = automatic(&thread(&t, &admin, conv).await);
                (!r.is_empty()).then_some(r)
            })
            .await;
        assert_eq!(replies.len(), 1, "conversation {conv}: {replies:?}");
    }
}
both_backends!(a_burst_of_texts_while_the_engine_runs);
