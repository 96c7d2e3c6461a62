//! Automation rules end to end, the parts not shown elsewhere: the snooze and
//! resolve actions, the resolved and reopened triggers (and what is not a
//! reopen), a weekly schedule run once per run on the business's clock, the
//! medium condition telling WhatsApp from SMS, and the "send the satisfaction
//! poll" action. Real HTTP, both backends.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use textdesk_channels::whatsapp::FakeWhatsApp;
use textdesk_core::Role;

use crate::common::{self, Db, TestApp, app, json};

async fn rule(t: &TestApp, admin: &str, rule: Value) -> i64 {
    let r = t.post(admin, "/api/v1/automations", rule).await;
    assert_eq!(r.status(), 201);
    json(r).await["id"].as_i64().unwrap()
}

async fn label(t: &TestApp, admin: &str, name: &str) {
    assert_eq!(t.post(admin, "/api/v1/labels", json!({ "name": name })).await.status(), 201);
}

async fn text(t: &TestApp, inbox: i64, from: &str, body: &str) -> i64 {
    json(t.text_in(inbox, from, body, None).await).await["conversation_id"].as_i64().unwrap()
}

async fn conversation(t: &TestApp, token: &str, conv: i64) -> Value {
    json(t.get(token, &format!("/api/v1/conversations/{conv}")).await).await
}

async fn set_status(t: &TestApp, token: &str, conv: i64, body: Value) {
    let r = t.post(token, &format!("/api/v1/conversations/{conv}/status"), body.clone()).await;
    assert_eq!(r.status(), 200, "{body}");
}

/// What each rule's firings did in the conversation, in order.
async fn firings(t: &TestApp, token: &str, conv: i64) -> Vec<(String, Value)> {
    let all = json(t.get(token, &format!("/api/v1/conversations/{conv}/timeline")).await).await;
    all.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "automation_fired")
        .map(|e| (e["data"]["rule"].as_str().unwrap().to_owned(), e["data"]["did"].clone()))
        .collect()
}

async fn a_rule_snoozes_or_resolves_and_the_timeline_says_so(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let inbox = t.simulator_inbox().await;
    let m = |words: &str| json!([{ "if": "text", "matches": { "contains": words } }]);
    let trigger = json!({ "on": "message_received" });
    rule(&t, &admin, json!({ "name": "Goodbyes", "trigger": trigger, "conditions": m("thanks, bye"), "actions": [{ "do": "resolve" }] }))
        .await;
    rule(&t, &admin, json!({ "name": "Later", "trigger": trigger, "conditions": m("call me later"), "actions": [{ "do": "snooze", "minutes": 90 }] }))
        .await;

    let later = text(&t, inbox, "+12125550111", "Busy now, call me later").await;
    let bye = text(&t, inbox, "+12125550122", "All sorted. Thanks, bye!").await;
    let before = Timestamp::now();
    t.services.run_automations().await.unwrap();

    let c = conversation(&t, &admin, later).await;
    assert_eq!(c["status"], "snoozed");
    let until: Timestamp = c["snoozed_until"].as_str().unwrap().parse().unwrap();
    let off = until.duration_since(before) - SignedDuration::from_mins(90);
    assert!(off.abs() < SignedDuration::from_mins(1), "snoozed for 90 minutes: {until}");
    assert_eq!(
        firings(&t, &admin, later).await,
        vec![("Later".to_owned(), json!(["snoozed it for 1 hour 30 minutes"]))]
    );

    assert_eq!(conversation(&t, &admin, bye).await["status"], "resolved");
    assert_eq!(firings(&t, &admin, bye).await, vec![("Goodbyes".to_owned(), json!(["resolved it"]))]);
    let b = t.browser("ada@example.com").await;
    let page = b.get(t.url(&format!("/conversations/{bye}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Automation \u{201c}Goodbyes\u{201d} resolved it"), "{page}");

    // The customer writes again: the conversation wakes, and the rule snoozes it again.
    text(&t, inbox, "+12125550111", "Still later please, call me later").await;
    t.services.run_automations().await.unwrap();
    assert_eq!(conversation(&t, &admin, later).await["status"], "snoozed", "the rule snoozed it again");
    assert_eq!(firings(&t, &admin, later).await.len(), 2);
}
both_backends!(a_rule_snoozes_or_resolves_and_the_timeline_says_so);

/// "Resolved" fires on a resolve; "reopened" when a conversation leaves
/// resolved, by the customer's text or a person; a snooze waking or pending
/// turning open is not a reopen.
async fn resolved_and_reopened_rules_fire_on_their_moments(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let inbox = t.simulator_inbox().await;
    label(&t, &admin, "closed-once").await;
    label(&t, &admin, "came-back").await;
    let done = json!([{ "do": "add_label", "label": "closed-once" }]);
    rule(&t, &admin, json!({ "name": "On resolve", "trigger": { "on": "conversation_resolved" }, "actions": done }))
        .await;
    let back = json!([{ "do": "add_label", "label": "came-back" }, { "do": "set_priority", "priority": "high" }]);
    rule(&t, &admin, json!({ "name": "On reopen", "trigger": { "on": "conversation_reopened" }, "actions": back }))
        .await;

    let conv = text(&t, inbox, "+12125550111", "Can I move my appointment?").await;
    // Pending, snoozed and awake again: no reopen.
    set_status(&t, &agent, conv, json!({ "status": "pending" })).await;
    set_status(&t, &agent, conv, json!({ "status": "open" })).await;
    set_status(&t, &agent, conv, json!({ "status": "snoozed", "snooze": "1h" })).await;
    set_status(&t, &agent, conv, json!({ "status": "open" })).await;
    t.services.run_automations().await.unwrap();
    assert!(firings(&t, &admin, conv).await.is_empty(), "nothing was resolved or reopened");

    set_status(&t, &agent, conv, json!({ "status": "resolved" })).await;
    t.services.run_automations().await.unwrap();
    let c = conversation(&t, &admin, conv).await;
    assert_eq!(c["labels"], json!(["closed-once"]));
    assert_eq!(c["priority"], "none");
    assert_eq!(
        firings(&t, &admin, conv).await,
        vec![("On resolve".to_owned(), json!(["added the label closed-once"]))]
    );

    // The customer writes again inside the reopen window: the same conversation, reopened.
    assert_eq!(text(&t, inbox, "+12125550111", "Sorry, one more thing").await, conv);
    t.services.run_automations().await.unwrap();
    let c = conversation(&t, &admin, conv).await;
    assert_eq!((c["status"].as_str(), c["priority"].as_str()), (Some("open"), Some("high")));
    assert_eq!(c["labels"], json!(["came-back", "closed-once"]));
    let fired = firings(&t, &admin, conv).await;
    assert_eq!(fired[1], ("On reopen".to_owned(), json!(["added the label came-back", "set the priority to high"])));

    // Resolved, then put back to pending by a person: it left resolved, so it was reopened.
    let clear = t.url(&format!("/api/v1/conversations/{conv}/labels"));
    let r = t.client.put(clear).bearer_auth(&agent).json(&json!({ "labels": [] })).send().await.unwrap();
    assert_eq!(r.status(), 200);
    set_status(&t, &agent, conv, json!({ "status": "resolved" })).await;
    set_status(&t, &agent, conv, json!({ "status": "pending" })).await;
    t.services.run_automations().await.unwrap();
    let names: Vec<String> = firings(&t, &admin, conv).await.into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["On resolve", "On reopen", "On resolve", "On reopen"]);
}
both_backends!(resolved_and_reopened_rules_fire_on_their_moments);

/// A weekly rule runs at its time on the business's clock, once per run, and
/// a run missed by more than an hour (the server was down) is skipped.
async fn a_scheduled_rule_runs_once_per_run(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let inbox = t.simulator_inbox().await;
    label(&t, &admin, "morning-check").await;
    let every_day = json!(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]);
    rule(
        &t,
        &admin,
        json!({ "name": "Morning check", "trigger": { "on": "scheduled", "days": every_day, "at": "09:00" },
                "conditions": [{ "if": "status", "any_of": ["open"] }],
                "actions": [{ "do": "add_label", "label": "morning-check" }] }),
    )
    .await;
    let first = text(&t, inbox, "+12125550111", "Any news on my order?").await;
    let zone = t.services.business_zone(t.account_id).await.unwrap();
    let nine = Timestamp::now().to_zoned(zone.clone()).date().at(9, 0, 0, 0).to_zoned(zone).unwrap().timestamp();
    let at = |minutes: i64| nine + SignedDuration::from_mins(minutes);
    assert_eq!(t.services.run_timed_automations(at(-1)).await.unwrap(), 0, "not yet (and yesterday's is long past)");
    assert_eq!(t.services.run_timed_automations(at(1)).await.unwrap(), 1);
    assert_eq!(t.services.run_timed_automations(at(5)).await.unwrap(), 0, "once per run");
    assert_eq!(conversation(&t, &admin, first).await["labels"], json!(["morning-check"]));
    let fired = firings(&t, &admin, first).await;
    assert_eq!(fired, vec![("Morning check".to_owned(), json!(["added the label morning-check"]))]);

    let second = text(&t, inbox, "+12125550122", "Hello?").await;
    assert_eq!(t.services.run_timed_automations(at(61)).await.unwrap(), 0, "a run missed by over an hour is skipped");
    assert_eq!(conversation(&t, &admin, second).await["labels"], json!([]));
    assert_eq!(t.services.run_timed_automations(at(24 * 60 + 1)).await.unwrap(), 1, "the next day's run");
    assert_eq!(conversation(&t, &admin, second).await["labels"], json!(["morning-check"]));
    assert_eq!(firings(&t, &admin, first).await.len(), 1, "the first had its label: nothing to say");
}
both_backends!(a_scheduled_rule_runs_once_per_run);

/// WhatsApp and SMS customers told apart by what they write with, not by
/// which provider carries it.
async fn a_medium_condition_tells_whatsapp_customers_from_sms(db: Db) {
    let fake = FakeWhatsApp::start().await.unwrap();
    let hosts = fake.private_hosts();
    let t = app(db).config(move |c| c.media_allow_private_hosts = hosts).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    label(&t, &admin, "whatsapp").await;
    rule(
        &t,
        &admin,
        json!({ "name": "WhatsApp customers", "trigger": { "on": "message_received" },
                "conditions": [{ "if": "medium", "any_of": ["whatsapp"] }],
                "actions": [{ "do": "add_label", "label": "whatsapp" }] }),
    )
    .await;
    let sms = t.simulator_inbox().await;
    let setup = json!({ "name": "WhatsApp", "channel_kind": "whatsapp", "sender": "+14155550101",
        "whatsapp": { "phone_number_id": fake.phone_number_id(), "waba_id": fake.waba_id(), "access_token": fake.access_token(),
                      "app_secret": fake.app_secret(), "verify_token": fake.verify_token(), "graph_base": fake.base_url() } });
    let r = t.post(&admin, "/api/v1/inboxes", setup).await;
    assert_eq!(r.status(), 201);
    let wa = json(r).await;
    let url = wa["webhook_urls"]["inbound"].as_str().unwrap().to_owned();

    let by_sms = text(&t, sms, "+16315551181", "Hi by text").await;
    let message = FakeWhatsApp::message("16315551182", "text", json!({ "body": "Hi on WhatsApp" }));
    let body = fake.messages_payload("16315551182", "Kerry Fisher", vec![message]);
    assert_eq!(fake.post_webhook(&url, &body).await.unwrap().status(), 200);
    t.services.run_automations().await.unwrap();

    let by_whatsapp = common::conversations_of(&t, &admin, wa["id"].as_i64().unwrap()).await[0]["id"].as_i64().unwrap();
    assert_eq!(conversation(&t, &admin, by_whatsapp).await["labels"], json!(["whatsapp"]));
    assert_eq!(conversation(&t, &admin, by_sms).await["labels"], json!([]));
    assert!(firings(&t, &admin, by_sms).await.is_empty());
}
both_backends!(a_medium_condition_tells_whatsapp_customers_from_sms);

/// A rule asks the customers it picks (here: the VIPs) for a score, though the
/// inbox does not poll every conversation: once per conversation, by the
/// polls' own sending (quiet hours, opt-in, its question).
async fn a_rule_sends_the_poll_to_the_conversations_it_picks_once(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let inbox = t.simulator_inbox().await;
    label(&t, &admin, "vip").await;
    rule(
        &t,
        &admin,
        json!({ "name": "Ask VIPs", "trigger": { "on": "conversation_resolved" },
                "conditions": [{ "if": "has_label", "label": "vip" }],
                "actions": [{ "do": "send_survey", "after_minutes": 10 }] }),
    )
    .await;
    let (zone, _) = common::zone_at_hour(12);
    let mut convs = Vec::new();
    for from in ["+12125550111", "+12125550122"] {
        let conv = text(&t, inbox, from, "My crown feels loose").await;
        t.move_contact_to(&agent, conv, &zone).await;
        let contact = conversation(&t, &agent, conv).await["contact_id"].clone();
        let yes = json!({ "state": "opted_in", "source": "web_form", "evidence": "ticked the box at booking" });
        assert_eq!(t.post(&agent, &format!("/api/v1/contacts/{contact}/consent"), yes).await.status(), 201);
        convs.push(conv);
    }
    let (vip, other) = (convs[0], convs[1]);
    let r = t
        .client
        .put(t.url(&format!("/api/v1/conversations/{vip}/labels")))
        .bearer_auth(&agent)
        .json(&json!({ "labels": ["vip"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for conv in [vip, other] {
        set_status(&t, &agent, conv, json!({ "status": "resolved" })).await;
    }
    t.services.run_automations().await.unwrap();
    t.services.run_surveys().await.unwrap();
    let words = json!(["will send the satisfaction poll 10 minutes after the resolve"]);
    assert_eq!(firings(&t, &admin, vip).await, vec![("Ask VIPs".to_owned(), words)]);
    assert!(firings(&t, &admin, other).await.is_empty());

    let later = |m: i64| Timestamp::now() + SignedDuration::from_mins(m);
    assert_eq!(t.services.run_due_surveys(later(5)).await.unwrap().sent, 0, "not before its ten minutes");
    assert_eq!(t.services.run_due_surveys(later(11)).await.unwrap().sent, 1, "only the VIP, though polls are off");
    let polls = |conv: i64| {
        let (t, agent) = (&t, &agent);
        async move {
            let all = json(t.get(agent, &format!("/api/v1/conversations/{conv}/messages")).await).await;
            let question = "How did we do? Reply with a number from 1 (poor) to 5 (great).";
            all.as_array().unwrap().iter().filter(|m| m["body"] == question).count()
        }
    };
    assert_eq!(polls(vip).await, 1);
    assert_eq!(polls(other).await, 0);
    assert!(json(t.get(&agent, &format!("/api/v1/conversations/{other}/surveys")).await).await == json!([]));

    // Reopened and resolved again: the rule fires, the conversation had its poll.
    set_status(&t, &agent, vip, json!({ "status": "open" })).await;
    set_status(&t, &agent, vip, json!({ "status": "resolved" })).await;
    t.services.run_automations().await.unwrap();
    t.services.run_surveys().await.unwrap();
    let last = firings(&t, &admin, vip).await.pop().unwrap();
    assert_eq!(last.1, json!(["did not send the poll: this conversation had its poll already"]));
    assert_eq!(t.services.run_due_surveys(later(30)).await.unwrap().sent, 0, "never twice");
    assert_eq!(polls(vip).await, 1);
}
both_backends!(a_rule_sends_the_poll_to_the_conversations_it_picks_once);
