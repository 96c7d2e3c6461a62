//! Consent keywords from a customer's phone, end to end over HTTP.

use crate::common;

use common::{Db, app, json};
use serde_json::{Value, json};
use textdesk_core::Role;

async fn thread(t: &common::TestApp, token: &str, conv: i64) -> Vec<Value> {
    json(t.get(token, &format!("/api/v1/conversations/{conv}/messages")).await).await.as_array().unwrap().clone()
}

/// What the customer's phone has received from the business.
async fn phone_inbox(t: &common::TestApp, inbox: i64, number: &str) -> Vec<String> {
    let url = t.url(&format!("/simulator/api/inboxes/{inbox}/phones/{number}/messages"));
    let list = json(t.client.get(url).send().await.unwrap()).await;
    list.as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "to_phone")
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect()
}

async fn stop_confirms_once_blocks_replies_and_start_undoes_it(db: Db) {
    let t = app(db).config(|c| c.account_name = "Harbor Dental".into()).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let number = "+14155550155";
    let conv =
        json(t.text_in(inbox, number, "Hi, is my cleaning still on Friday?", None).await).await["conversation_id"]
            .as_i64()
            .unwrap();

    // STOP: recorded with the message as evidence, confirmed once.
    t.text_in(inbox, number, "Stop.", None).await;
    t.dispatch_all().await;
    let c = json(t.get(&token, &format!("/api/v1/conversations/{conv}")).await).await;
    let contact = c["contact_id"].as_i64().unwrap();
    let history = json(t.get(&token, &format!("/api/v1/contacts/{contact}/consent")).await).await;
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert_eq!(history[0]["kind"], "opt_out");
    assert_eq!(history[0]["source"], "keyword");
    assert_eq!(history[0]["evidence"], "Stop.");
    assert!(history[0]["message_id"].is_i64());
    let received =
        t.eventually(|| async { Some(phone_inbox(&t, inbox, number).await).filter(|v| !v.is_empty()) }).await;
    assert_eq!(received.len(), 1);
    assert!(received[0].starts_with("Harbor Dental: You are unsubscribed"), "{received:?}");

    // A second STOP changes nothing and sends nothing.
    t.text_in(inbox, number, "STOP", None).await;
    assert_eq!(t.dispatch_all().await, 0);
    let history = json(t.get(&token, &format!("/api/v1/contacts/{contact}/consent")).await).await;
    assert_eq!(history.as_array().unwrap().len(), 1);

    // The agent's reply is blocked, with the reason.
    let r = t
        .post(&token, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Sorry to see you go!" }))
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(json(r).await["reason"], "opted_out");

    // HELP is answered even now: it is the one thing the law says must be.
    t.text_in(inbox, number, "help", None).await;
    assert_eq!(t.dispatch_all().await, 1);

    // "Yes" from an opted-out customer resubscribes; START does too.
    t.text_in(inbox, number, "START", None).await;
    assert_eq!(t.dispatch_all().await, 1);
    let history = json(t.get(&token, &format!("/api/v1/contacts/{contact}/consent")).await).await;
    let kinds: Vec<&str> = history.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["opt_out", "opt_in"]);
    let r = t
        .post(
            &token,
            &format!("/api/v1/conversations/{conv}/messages"),
            json!({ "body": "Welcome back! Friday 10 AM it is." }),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(t.dispatch_all().await, 1);

    let sent: Vec<(String, Option<i64>)> = thread(&t, &token, conv)
        .await
        .iter()
        .filter(|m| m["direction"] == "outbound")
        .map(|m| (m["body"].as_str().unwrap().to_owned(), m["author_id"].as_i64()))
        .collect();
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert!(sent[0].0.contains("unsubscribed") && sent[0].1.is_none());
    assert!(sent[1].0.contains("Reply to this message to reach our team"));
    assert!(sent[2].0.contains("subscribed to our messages again"));
    assert_eq!(sent[3].0, "Welcome back! Friday 10 AM it is.");

    // The customer is still waiting for a person: automatic replies do not count.
    let timeline = json(t.get(&token, &format!("/api/v1/conversations/{conv}/timeline")).await).await;
    let consent_events: Vec<&str> = timeline
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "consent_changed")
        .map(|e| e["data"]["to"].as_str().unwrap())
        .collect();
    assert_eq!(consent_events, ["opted_out", "opted_in"]);
}
both_backends!(stop_confirms_once_blocks_replies_and_start_undoes_it);

#[tokio::test]
async fn ordinary_words_do_not_touch_consent() {
    let t = app(Db::Sqlite).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550111", "Can I stop by at 3?", None).await).await["conversation_id"]
        .as_i64()
        .unwrap();
    for text in ["Yes", "I want to cancel my appointment", "yes please"] {
        t.text_in(inbox, "+14155550111", text, None).await;
    }
    assert_eq!(t.dispatch_all().await, 0, "no automatic replies");
    let c = json(t.get(&token, &format!("/api/v1/conversations/{conv}")).await).await;
    let contact = json(t.get(&token, &format!("/api/v1/contacts/{}", c["contact_id"])).await).await;
    assert_eq!(contact["consent"], "unknown");
    assert!(c["waiting_since"].is_string());
}

#[tokio::test]
async fn a_plain_request_to_stop_is_flagged_not_applied() {
    let t = app(Db::Sqlite).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let r = json(t.text_in(inbox, "+14155550111", "Please stop texting me, thanks", None).await).await;
    let conv = r["conversation_id"].as_i64().unwrap();
    let timeline = json(t.get(&token, &format!("/api/v1/conversations/{conv}/timeline")).await).await;
    let flag = timeline.as_array().unwrap().iter().find(|e| e["kind"] == "stop_requested").expect("flagged");
    assert_eq!(flag["data"]["message_id"], r["message_id"]);
    let c = json(t.get(&token, &format!("/api/v1/conversations/{conv}")).await).await;
    let contact = json(t.get(&token, &format!("/api/v1/contacts/{}", c["contact_id"])).await).await;
    assert_eq!(contact["consent"], "unknown", "a person decides");
    assert_eq!(t.dispatch_all().await, 0);
}

#[tokio::test]
async fn inboxes_use_their_own_words_and_replies() {
    let t = app(Db::Sqlite).start().await;
    let inbox = t.inbox_with("Línea en español", "+14155550101", json!({ "consent": { "keywords": { "opt_out": ["STOP", "BAJA", "ALTO"] }, "opt_out_reply": "Clínica Harbor: Se ha dado de baja. Responda START para volver." } })).await;
    t.text_in(inbox, "+14155550111", "¡Baja!", None).await;
    t.dispatch_all().await;
    let received =
        t.eventually(|| async { Some(phone_inbox(&t, inbox, "+14155550111").await).filter(|v| !v.is_empty()) }).await;
    assert_eq!(received, ["Clínica Harbor: Se ha dado de baja. Responda START para volver."]);
}

#[tokio::test]
async fn the_agent_records_the_opt_out_a_customer_asked_for_in_words() {
    let t = app(Db::Sqlite).start().await;
    let inbox = t.simulator_inbox().await;
    t.user("dana@example.com", Role::Agent).await;
    let r = json(t.text_in(inbox, "+14155550111", "Please stop texting me", None).await).await;
    let conv = r["conversation_id"].as_i64().unwrap();
    let browser = t.browser("dana@example.com").await;
    let page = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("This customer may be asking to stop"));
    assert!(page.contains("Please stop texting me"));
    let csrf = common::csrf_of(&page);
    let form = [("csrf", csrf.as_str()), ("state", "opted_out"), ("evidence", "Please stop texting me")];
    let r = browser.post(t.url(&format!("/conversations/{conv}/consent"))).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let page = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("This customer may be asking to stop"), "the flag is resolved");
    assert!(page.contains("Cannot text this contact"));
    assert!(page.contains("Dana recorded: opted out (agent)") || page.contains("recorded: opted out (agent)"));
    let c = t.services.store.conversation(t.account_id, conv).await.unwrap();
    let history = t.services.store.consent_history(c.contact_id).await.unwrap();
    assert_eq!(
        (history.len(), history[0].source.as_str(), history[0].evidence.as_str()),
        (1, "agent", "Please stop texting me")
    );
    // A forged form records nothing.
    let r = browser
        .post(t.url(&format!("/conversations/{conv}/consent")))
        .form(&[("csrf", "x"), ("state", "opted_in")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(t.services.store.consent_history(c.contact_id).await.unwrap().len(), 1);
}

async fn join_subscribes_and_double_opt_in_waits_for_yes(db: Db) {
    let t = app(db).config(|c| c.account_name = "Harbor Dental".into()).start().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let notify = |conv: i64| {
        let token = token.clone();
        let t = &t;
        async move {
            let path = format!("/api/v1/conversations/{conv}/messages");
            t.post(&token, &path, json!({ "body": "Your cleaning is due", "kind": "notification" })).await.status()
        }
    };

    // Single opt-in: JOIN subscribes at once, with a confirmation.
    let single = t.simulator_inbox().await;
    let conv = json(t.text_in(single, "+14155550155", "Join", None).await).await["conversation_id"].as_i64().unwrap();
    let replies: Vec<String> = thread(&t, &token, conv).await.iter().skip(1).map(|m| m["body"].to_string()).collect();
    assert_eq!(replies.len(), 1);
    assert!(replies[0].contains("You are subscribed"), "{replies:?}");
    assert_eq!(notify(conv).await, 201);

    // Double opt-in: JOIN asks for a YES and changes nothing yet.
    let double = t.inbox_with("Reminders", "+14155550300", json!({ "consent": { "double_opt_in": true } })).await;
    let r = json(t.text_in(double, "+14155550166", "JOIN", None).await).await;
    let conv = r["conversation_id"].as_i64().unwrap_or_else(|| panic!("{r}"));
    let msgs = thread(&t, &token, conv).await;
    assert!(msgs[1]["body"].as_str().unwrap().contains("Reply YES to confirm"), "{msgs:?}");
    assert_eq!(notify(conv).await, 409, "not subscribed before the YES");
    t.text_in(double, "+14155550166", "yes", None).await;
    let msgs = thread(&t, &token, conv).await;
    assert!(msgs[3]["body"].as_str().unwrap().contains("You are subscribed"), "{msgs:?}");
    assert_eq!(notify(conv).await, 201);
    let c = json(t.get(&token, &format!("/api/v1/conversations/{conv}")).await).await;
    let history = json(t.get(&token, &format!("/api/v1/contacts/{}/consent", c["contact_id"])).await).await;
    let kinds: Vec<&str> = history.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["opt_in_requested", "opt_in"]);
    assert_eq!(history[1]["evidence"], "yes");
}
both_backends!(join_subscribes_and_double_opt_in_waits_for_yes);
