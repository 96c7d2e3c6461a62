//! Satisfaction polls by text (issue 15, F10) over real HTTP on both backends:
//! the poll after the delay (the test moves the clock), never twice, each
//! suppression (opted out, never wrote, no opt-in, a recent poll), quiet hours
//! deferring it, a score recorded without reopening, a low score's one
//! follow-up and its comment, the supervisors' live alert, the
//! `survey.answered` webhook, a reply that is not a score reopening the
//! conversation, expiry, and the inbox's settings through the API and its page.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use textdesk_core::Role;
use textdesk_core::survey_settings::DEFAULT_FOLLOWUP;

use crate::common::{self, Db, TestApp, json, receiver, wait_for_frame};

fn later(minutes: i64) -> Timestamp {
    Timestamp::now() + SignedDuration::from_mins(minutes)
}

/// An admin, an agent and a simulator inbox whose polls are switched on through the API.
async fn polled(t: &TestApp, number: &str, survey: Value) -> (String, String, i64) {
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let inbox = t.inbox_with("SMS", number, json!({})).await;
    let r = t
        .client
        .patch(t.url(&format!("/api/v1/inboxes/{inbox}")))
        .bearer_auth(&admin)
        .json(&json!({ "settings": { "survey": survey } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    (admin, agent, inbox)
}

/// The customer writes, is on midday (or `hour`) on their clock and, with `consent`, opted in.
async fn customer(t: &TestApp, agent: &str, inbox: i64, from: &str, hour: i8, consent: bool) -> (i64, i64) {
    let first = json(t.text_in(inbox, from, "My order has not arrived", None).await).await;
    let conv = first["conversation_id"].as_i64().unwrap();
    let (zone, _) = common::zone_at_hour(hour);
    t.move_contact_to(agent, conv, &zone).await;
    let contact =
        json(t.get(agent, &format!("/api/v1/conversations/{conv}")).await).await["contact_id"].as_i64().unwrap();
    if consent {
        let yes = json!({ "state": "opted_in", "source": "web_form", "evidence": "ticked the box at checkout" });
        assert_eq!(t.post(agent, &format!("/api/v1/contacts/{contact}/consent"), yes).await.status(), 201);
    }
    (conv, contact)
}

async fn set_status(t: &TestApp, token: &str, conv: i64, status: &str) {
    let r = t.post(token, &format!("/api/v1/conversations/{conv}/status"), json!({ "status": status })).await;
    assert_eq!(r.status(), 200, "{status}");
}

async fn resolve(t: &TestApp, token: &str, conv: i64) {
    set_status(t, token, conv, "resolved").await;
    t.services.run_surveys().await.unwrap();
}

async fn survey(t: &TestApp, token: &str, conv: i64) -> Value {
    let list = json(t.get(token, &format!("/api/v1/conversations/{conv}/surveys")).await).await;
    let list = list.as_array().unwrap();
    assert!(list.len() <= 1, "one poll per conversation: {list:?}");
    list.first().cloned().unwrap_or(Value::Null)
}

async fn messages(t: &TestApp, token: &str, conv: i64) -> Vec<Value> {
    json(t.get(token, &format!("/api/v1/conversations/{conv}/messages")).await).await.as_array().unwrap().clone()
}

async fn status_of(t: &TestApp, token: &str, conv: i64) -> String {
    json(t.get(token, &format!("/api/v1/conversations/{conv}")).await).await["status"].as_str().unwrap().to_owned()
}

async fn timeline(t: &TestApp, token: &str, conv: i64) -> Vec<String> {
    let tl = json(t.get(token, &format!("/api/v1/conversations/{conv}/timeline")).await).await;
    tl.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect()
}

async fn sent_after_the_delay_answered_and_never_twice(db: Db) {
    let t = common::app(db).start().await;
    let (_, agent, inbox) = polled(&t, "+14155550170", json!({ "enabled": true })).await;
    let (conv, _) = customer(&t, &agent, inbox, "+14155550171", 12, true).await;
    resolve(&t, &agent, conv).await;
    assert_eq!(survey(&t, &agent, conv).await["state"], "due");

    // Not before the five minutes are up; then once.
    assert_eq!(t.services.run_due_surveys(later(4)).await.unwrap().sent, 0);
    let before = messages(&t, &agent, conv).await.len();
    assert_eq!(t.services.run_due_surveys(later(6)).await.unwrap().sent, 1);
    let all = messages(&t, &agent, conv).await;
    assert_eq!(all.len(), before + 1);
    let poll = all.last().unwrap();
    assert_eq!(poll["body"], "How did we do? Reply with a number from 1 (poor) to 5 (great).");
    assert_eq!((poll["direction"].as_str(), poll["status"].as_str()), (Some("outbound"), Some("queued")));
    let s = survey(&t, &agent, conv).await;
    assert_eq!((s["state"].as_str(), s["kind"].as_str()), (Some("sent"), Some("csat")));
    assert_eq!(s["message_id"], poll["id"]);
    assert_eq!(t.services.run_due_surveys(later(30)).await.unwrap().sent, 0, "never twice");
    // Queued at the clock the pass ran on (six minutes on).
    let r = t.services.dispatch_at("test", 10, later(7)).await.unwrap();
    assert_eq!(r.claimed, 1, "{r:?}");
    let poll = messages(&t, &agent, conv).await.pop().unwrap();
    assert!(["sent", "delivered"].contains(&poll["status"].as_str().unwrap()), "{poll}");

    // "4 - quick and kind": recorded, in the same conversation, which stays resolved and unread.
    let r = json(t.text_in(inbox, "+14155550171", "4 - quick and kind", None).await).await;
    assert_eq!(r["conversation_id"].as_i64(), Some(conv));
    assert_eq!(status_of(&t, &agent, conv).await, "resolved");
    let s = survey(&t, &agent, conv).await;
    assert_eq!((s["state"].as_str(), s["score"].as_i64()), (Some("answered"), Some(4)));
    assert_eq!((s["comment"].as_str(), s["low"].as_bool()), (Some("quick and kind"), Some(false)));
    assert!(timeline(&t, &agent, conv).await.ends_with(&["survey_sent".into(), "survey_answered".into()]));
    // No follow-up for a good score, no automatic answer to it.
    t.services.run_surveys().await.unwrap();
    t.services.run_automations().await.unwrap();
    assert_eq!(messages(&t, &agent, conv).await.len(), before + 2);
    let browser = t.browser("dana@example.com").await;
    let page = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Satisfaction poll sent (how did we do, 1 to 5)"), "the timeline in words");
    assert!(page.contains("Customer answered 4 of 5"), "the score in the thread");

    // Reopened and resolved again: still one poll for the conversation.
    set_status(&t, &agent, conv, "open").await;
    resolve(&t, &agent, conv).await;
    assert_eq!(t.services.run_due_surveys(later(60)).await.unwrap(), Default::default());
    assert_eq!(survey(&t, &agent, conv).await["state"], "answered");
}
both_backends!(sent_after_the_delay_answered_and_never_twice);

async fn reopened_before_the_delay_waits_for_the_next_resolve(db: Db) {
    let t = common::app(db).start().await;
    let (_, agent, inbox) = polled(&t, "+14155550180", json!({ "enabled": true, "delay_minutes": 10 })).await;
    let (conv, _) = customer(&t, &agent, inbox, "+14155550181", 12, true).await;
    resolve(&t, &agent, conv).await;
    // The customer writes again within the ten minutes: reopened, the poll waits.
    t.text_in(inbox, "+14155550181", "Sorry, one more thing", None).await;
    t.services.run_surveys().await.unwrap();
    assert_eq!(status_of(&t, &agent, conv).await, "open");
    assert_eq!(t.services.run_due_surveys(later(15)).await.unwrap().sent, 0);
    assert_eq!(survey(&t, &agent, conv).await["due_at"], Value::Null);
    resolve(&t, &agent, conv).await;
    assert_eq!(t.services.run_due_surveys(later(5)).await.unwrap().sent, 0);
    assert_eq!(t.services.run_due_surveys(later(11)).await.unwrap().sent, 1);
}
both_backends!(reopened_before_the_delay_waits_for_the_next_resolve);

async fn suppressed_for_an_opt_out_no_opt_in_a_silent_customer_and_a_recent_poll(db: Db) {
    let t = common::app(db).start().await;
    let (_, agent, inbox) = polled(&t, "+14155550190", json!({ "enabled": true })).await;
    let reason = |s: Value| (s["state"].as_str().unwrap().to_owned(), s["reason"].as_str().map(str::to_owned));
    let suppressed = |why: &str| ("suppressed".to_owned(), Some(why.to_owned()));

    // Ended with an opt-out.
    let (stopped, _) = customer(&t, &agent, inbox, "+14155550191", 12, true).await;
    t.text_in(inbox, "+14155550191", "STOP", None).await;
    resolve(&t, &agent, stopped).await;
    // Never opted in (they wrote, but a poll is the business starting an exchange).
    let (unknown, _) = customer(&t, &agent, inbox, "+14155550192", 12, false).await;
    resolve(&t, &agent, unknown).await;
    // The customer never wrote: a notification the business sent.
    let r = t
        .post(&agent, "/api/v1/notifications", json!({ "to": "+14155550193", "inbox_id": inbox, "body": "Your car is ready.", "consent": { "source": "verbal" } }))
        .await;
    assert_eq!(r.status(), 201);
    let silent = json(r).await["conversation_id"].as_i64().unwrap();
    resolve(&t, &agent, silent).await;

    let counts = |ids: [i64; 3]| {
        let (t, agent) = (&t, &agent);
        async move {
            let mut n = Vec::new();
            for c in ids {
                n.push(messages(t, agent, c).await.len());
            }
            n
        }
    };
    let ids = [stopped, unknown, silent];
    let before = counts(ids).await;
    let pass = t.services.run_due_surveys(later(6)).await.unwrap();
    assert_eq!((pass.sent, pass.suppressed), (0, 3));
    assert_eq!(counts(ids).await, before, "nothing was texted");
    assert_eq!(reason(survey(&t, &agent, stopped).await), suppressed("opted_out"));
    assert_eq!(reason(survey(&t, &agent, unknown).await), suppressed("no_opt_in"));
    assert_eq!(reason(survey(&t, &agent, silent).await), suppressed("never_wrote"));

    // A recent poll: the same person polled from another inbox within the seven days.
    let (_, polled_conv) = {
        let (conv, _) = customer(&t, &agent, inbox, "+14155550194", 12, true).await;
        resolve(&t, &agent, conv).await;
        (t.services.run_due_surveys(later(6)).await.unwrap(), conv)
    };
    assert_eq!(survey(&t, &agent, polled_conv).await["state"], "sent");
    let other = t.inbox_with("Store", "+14155550195", json!({ "survey": { "enabled": true } })).await;
    let next = json(t.text_in(other, "+14155550194", "Do you have size 9?", None).await).await;
    let next = next["conversation_id"].as_i64().unwrap();
    assert_ne!(next, polled_conv);
    resolve(&t, &agent, next).await;
    assert_eq!(t.services.run_due_surveys(later(6)).await.unwrap().suppressed, 1);
    assert_eq!(reason(survey(&t, &agent, next).await), suppressed("recent_poll"));
}
both_backends!(suppressed_for_an_opt_out_no_opt_in_a_silent_customer_and_a_recent_poll);

async fn quiet_hours_defer_the_poll(db: Db) {
    let t = common::app(db).start().await;
    let (_, agent, inbox) = polled(&t, "+14155550200", json!({ "enabled": true, "kind": "nps" })).await;
    let (conv, _) = customer(&t, &agent, inbox, "+14155550201", 2, true).await;
    resolve(&t, &agent, conv).await;
    assert_eq!(t.services.run_due_surveys(later(6)).await.unwrap().sent, 1);
    let poll = messages(&t, &agent, conv).await.pop().unwrap();
    assert!(poll["body"].as_str().unwrap().starts_with("How likely are you to recommend us"));
    assert_eq!(poll["status"], "scheduled", "held for the customer's morning: {poll}");
    let goes: Timestamp = poll["send_at"].as_str().unwrap().parse().unwrap();
    assert!(goes > later(60), "at 2 a.m. the poll waits hours, not minutes: {goes}");
    assert_eq!(t.dispatch_all().await, 0, "not sent at night");
    // Its three days to answer start when it goes.
    let s = survey(&t, &agent, conv).await;
    let expires: Timestamp = s["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(expires >= goes + SignedDuration::from_hours(72) - SignedDuration::from_secs(1), "{s}");
}
both_backends!(quiet_hours_defer_the_poll);

async fn a_low_score_alerts_asks_once_and_keeps_the_comment(db: Db) {
    let (hooks, port) = receiver().await;
    let t = common::app(db).config(|c| c.webhook_allow_private_hosts = vec!["127.0.0.1".into()]).start().await;
    let (admin, agent, inbox) = polled(&t, "+14155550210", json!({ "enabled": true })).await;
    let lead = t.token_for("sam@example.com", Role::Supervisor).await;
    let hook = json!({ "url": format!("http://127.0.0.1:{port}/hook"), "events": ["survey.answered"] });
    assert_eq!(t.post(&admin, "/api/v1/webhooks", hook).await.status(), 201);
    let team = json(t.post(&admin, "/api/v1/teams", json!({ "name": "Orders" })).await).await["id"].as_i64().unwrap();
    let dana = json(t.get(&agent, "/api/v1/me").await).await["id"].as_i64().unwrap();
    let r = t.post(&admin, &format!("/api/v1/teams/{team}/members"), json!({ "user_id": dana })).await;
    assert!(r.status().is_success());
    let (conv, contact) = customer(&t, &agent, inbox, "+14155550211", 12, true).await;
    let assign = json!({ "assignee_id": dana, "team_id": team });
    assert_eq!(t.post(&agent, &format!("/api/v1/conversations/{conv}/assign"), assign).await.status(), 200);
    resolve(&t, &agent, conv).await;
    assert_eq!(t.services.run_due_surveys(later(6)).await.unwrap().sent, 1);
    // Handed to someone else after the resolve: the score still counts for Dana and Orders.
    assert_eq!(
        t.post(&admin, &format!("/api/v1/conversations/{conv}/assign"), json!({ "assignee_id": null })).await.status(),
        200
    );

    let mut stream = t.client.get(t.url("/api/v1/events")).bearer_auth(&lead).send().await.unwrap();
    wait_for_frame(&mut stream, "ready").await;
    let answer = json(t.text_in(inbox, "+14155550211", "1", None).await).await;
    let frame = wait_for_frame(&mut stream, "survey.low_score").await;
    assert_eq!(frame["conversation_id"].as_i64(), Some(conv));
    let browser = t.browser("sam@example.com").await;
    let n = json(browser.get(t.url(&format!("/conversations/{conv}/notice?about=survey"))).send().await.unwrap()).await;
    assert_eq!(n["title"], "Low score: +14155550211");
    assert_eq!(n["body"], "The customer answered the satisfaction poll: 1 of 5");
    let inbox_page = browser.get(t.url("/inbox")).send().await.unwrap().text().await.unwrap();
    assert!(inbox_page.contains("data-supervisor"), "supervisors' pages listen for the alert");
    let agent_page = t.browser("dana@example.com").await.get(t.url("/inbox")).send().await.unwrap();
    assert!(!agent_page.text().await.unwrap().contains("data-supervisor"));

    // One follow-up, asking what went wrong; the conversation stays resolved.
    let before = messages(&t, &agent, conv).await.len();
    t.services.run_surveys().await.unwrap();
    t.services.run_surveys().await.unwrap();
    let all = messages(&t, &agent, conv).await;
    assert_eq!(all.len(), before + 1, "one follow-up");
    assert_eq!(all.last().unwrap()["body"], DEFAULT_FOLLOWUP);
    assert_eq!(status_of(&t, &agent, conv).await, "resolved");

    // The next reply is the comment, and an ordinary message: it reopens the conversation.
    t.text_in(inbox, "+14155550211", "Nobody called me back", None).await;
    let s = survey(&t, &agent, conv).await;
    assert_eq!((s["state"].as_str(), s["score"].as_i64()), (Some("commented"), Some(1)));
    assert_eq!(s["comment"], "Nobody called me back");
    assert_eq!((s["agent_id"].as_i64(), s["team_id"].as_i64()), (Some(dana), Some(team)));
    assert_eq!(status_of(&t, &agent, conv).await, "open");
    assert!(timeline(&t, &agent, conv).await.contains(&"survey_commented".to_owned()));
    // A later text is no comment.
    t.text_in(inbox, "+14155550211", "Still waiting", None).await;
    assert_eq!(survey(&t, &agent, conv).await["comment"], "Nobody called me back");

    // survey.answered carries the survey, the score, the conversation, the contact, the agent and the team.
    t.services.run_webhooks().await.unwrap();
    assert_eq!(t.services.send_webhooks_due(Timestamp::now()).await.unwrap(), 1);
    let got = hooks.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["type"], "survey.answered");
    let d = &got[0]["data"];
    assert_eq!((d["survey_id"].as_i64(), d["kind"].as_str()), (s["id"].as_i64(), Some("csat")));
    assert_eq!((d["score"].as_i64(), d["low"].as_bool()), (Some(1), Some(true)));
    assert_eq!((d["conversation_id"].as_i64(), d["contact_id"].as_i64()), (Some(conv), Some(contact)));
    assert_eq!((d["agent_id"].as_i64(), d["team_id"].as_i64()), (Some(dana), Some(team)));
    assert_eq!(d["message_id"], answer["message_id"]);
    assert_eq!(d["comment"], Value::Null);
}
both_backends!(a_low_score_alerts_asks_once_and_keeps_the_comment);

async fn a_reply_that_is_no_score_reopens_and_an_unanswered_poll_expires(db: Db) {
    let t = common::app(db).start().await;
    let (_, agent, inbox) = polled(&t, "+14155550220", json!({ "enabled": true, "kind": "yes_no" })).await;
    let (talks, _) = customer(&t, &agent, inbox, "+14155550221", 12, true).await;
    let (quiet, _) = customer(&t, &agent, inbox, "+14155550222", 12, true).await;
    resolve(&t, &agent, talks).await;
    resolve(&t, &agent, quiet).await;
    assert_eq!(t.services.run_due_surveys(later(6)).await.unwrap().sent, 2);

    // Not a yes or a no: the customer's words, in the thread, and the conversation is open again.
    let r = json(t.text_in(inbox, "+14155550221", "no problem, but the box was damaged", None).await).await;
    assert_eq!(r["conversation_id"].as_i64(), Some(talks));
    assert_eq!(status_of(&t, &agent, talks).await, "open");
    let last = messages(&t, &agent, talks).await.pop().unwrap();
    assert_eq!(last["body"], "no problem, but the box was damaged");
    assert_eq!(survey(&t, &agent, talks).await["state"], "sent");

    // Three days without an answer: expired, once; a "yes" after that is an ordinary message.
    assert_eq!(t.services.run_due_surveys(later(3 * 24 * 60 - 10)).await.unwrap().expired, 0);
    assert_eq!(t.services.run_due_surveys(later(3 * 24 * 60 + 10)).await.unwrap().expired, 2);
    assert_eq!(t.services.run_due_surveys(later(4 * 24 * 60)).await.unwrap().expired, 0);
    assert_eq!(survey(&t, &agent, quiet).await["state"], "expired");
    assert!(timeline(&t, &agent, quiet).await.ends_with(&["survey_sent".into(), "survey_expired".into()]));
    let browser = t.browser("dana@example.com").await;
    let page = browser.get(t.url(&format!("/conversations/{quiet}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Satisfaction poll expired without an answer"));
}
both_backends!(a_reply_that_is_no_score_reopens_and_an_unanswered_poll_expires);

async fn settings_through_the_api_and_the_page(db: Db) {
    let t = common::app(db).start().await;
    let (admin, agent, inbox) = polled(&t, "+14155550230", json!({ "enabled": false })).await;
    let patch = |body: Value| {
        let (t, admin) = (&t, &admin);
        async move {
            t.client
                .patch(t.url(&format!("/api/v1/inboxes/{inbox}")))
                .bearer_auth(admin)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    // Bad settings are refused by name; nothing changes.
    for (bad, words) in [
        (json!({ "kind": "stars" }), "survey:"),
        (json!({ "delay_minutes": -5 }), "survey:"),
        (json!({ "expire_days": 0 }), "survey.expire_days"),
        (json!({ "question": { "english": "How did we do?" } }), "survey.question"),
    ] {
        let r = patch(json!({ "settings": { "survey": bad } })).await;
        assert_eq!(r.status(), 422);
        assert!(json(r).await["detail"].as_str().unwrap().contains(words));
    }
    let r = t
        .client
        .patch(t.url(&format!("/api/v1/inboxes/{inbox}")))
        .bearer_auth(&agent)
        .json(&json!({ "settings": { "survey": { "enabled": true } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "admins only");
    let stored = json(t.get(&admin, &format!("/api/v1/inboxes/{inbox}")).await).await;
    assert_eq!(stored["settings"]["survey"], json!({ "enabled": false }));

    // The page's form: Spanish wording for contacts whose language is es.
    let browser = t.browser("ada@example.com").await;
    let page = browser.get(t.url(&format!("/settings/inboxes/{inbox}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Satisfaction poll") && page.contains(r#"name="survey_kind""#));
    let csrf = common::csrf_of(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("survey_enabled", "on"),
        ("survey_kind", "csat"),
        ("survey_delay", "2"),
        ("survey_suppress", "7"),
        ("survey_expire", "3"),
        ("survey_question", ""),
        ("survey_questions", "es: ¿Cómo lo hicimos? Responda del 1 al 5."),
        ("survey_followup", ""),
        ("survey_followups", ""),
    ];
    let r = browser
        .post(t.url(&format!("/settings/inboxes/{inbox}/survey")))
        .header("origin", &t.base)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let stored = json(t.get(&admin, &format!("/api/v1/inboxes/{inbox}")).await).await;
    assert_eq!(stored["settings"]["survey"]["delay_minutes"], 2);
    assert_eq!(stored["settings"]["survey"]["question"]["es"], "¿Cómo lo hicimos? Responda del 1 al 5.");
    let mut bad = form;
    bad[3] = ("survey_delay", "soon");
    let r = browser
        .post(t.url(&format!("/settings/inboxes/{inbox}/survey")))
        .header("origin", &t.base)
        .form(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Minutes after resolving: ") && page.contains("soon") && page.contains("is not a whole number")
    );

    let (conv, contact) = customer(&t, &agent, inbox, "+14155550231", 12, true).await;
    let r = t
        .client
        .patch(t.url(&format!("/api/v1/contacts/{contact}")))
        .bearer_auth(&agent)
        .json(&json!({ "attributes": { "language": "es" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    resolve(&t, &agent, conv).await;
    assert_eq!(t.services.run_due_surveys(later(3)).await.unwrap().sent, 1);
    let poll = messages(&t, &agent, conv).await.pop().unwrap();
    assert_eq!(poll["body"], "¿Cómo lo hicimos? Responda del 1 al 5.");
    // Someone else's conversation is not found.
    assert_eq!(t.get(&agent, "/api/v1/conversations/999999/surveys").await.status(), 404);
}
both_backends!(settings_through_the_api_and_the_page);
