//! Consent per sender: a STOP to one number silences that number, not the
//! business's others; an opt-out recorded for the account silences them all;
//! inboxes sharing a pool share consent; the ledger exports as CSV for an audit.

use crate::common;

use common::{Db, app, json};
use serde_json::json;
use textdesk_core::Role;

async fn reply(t: &common::TestApp, token: &str, conv: i64) -> u16 {
    t.post(token, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Hi Karen, about your visit…" }))
        .await
        .status()
        .as_u16()
}

async fn a_stop_silences_one_number_and_an_account_opt_out_all(db: Db) {
    let t = app(db).start().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let a = t.inbox_with("Front desk", "+14155550100", json!({})).await;
    let b = t.inbox_with("Billing", "+14155550200", json!({})).await;
    let on_a = json(t.text_in(a, "+14155550111", "Hi", None).await).await["conversation_id"].as_i64().unwrap();
    let on_b = json(t.text_in(b, "+14155550111", "Question about my bill", None).await).await["conversation_id"]
        .as_i64()
        .unwrap();
    t.text_in(a, "+14155550111", "STOP", None).await;
    assert_eq!(reply(&t, &token, on_a).await, 409, "the number she stopped is silent");
    assert_eq!(reply(&t, &token, on_b).await, 201, "the other number may still answer her");

    // She tells an agent to stop everything: recorded for the account.
    let c = json(t.get(&token, &format!("/api/v1/conversations/{on_b}")).await).await;
    let contact = c["contact_id"].as_i64().unwrap();
    let r = t
        .post(
            &token,
            &format!("/api/v1/contacts/{contact}/consent"),
            json!({ "state": "opted_out", "source": "verbal", "evidence": "Asked on the phone to get no more texts" }),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(json(r).await["scope"], "account");
    assert_eq!(reply(&t, &token, on_b).await, 409);

    // START to the first number opts her back in there only.
    t.text_in(a, "+14155550111", "START", None).await;
    assert_eq!(reply(&t, &token, on_a).await, 201);
    assert_eq!(reply(&t, &token, on_b).await, 409, "the account-wide opt-out still holds for the other");

    // A scope that is not hers to name is refused.
    let r = t
        .post(
            &token,
            &format!("/api/v1/contacts/{contact}/consent"),
            json!({ "state": "opted_in", "source": "web_form", "scope": "inbox:999" }),
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = t
        .post(
            &token,
            &format!("/api/v1/contacts/{contact}/consent"),
            json!({ "state": "opted_in", "source": "web_form", "scope": format!("inbox:{b}"), "evidence": "form #42" }),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(reply(&t, &token, on_b).await, 201);
}
both_backends!(a_stop_silences_one_number_and_an_account_opt_out_all);

async fn inboxes_in_one_pool_share_consent(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let a = t.inbox_with("Front desk", "+14155550100", json!({})).await;
    let b = t.inbox_with("Reminders", "+14155550200", json!({})).await;
    for inbox in [a, b] {
        let r = t
            .client
            .patch(t.url(&format!("/api/v1/inboxes/{inbox}")))
            .bearer_auth(&admin)
            .json(&json!({ "consent_scope": "pool:main" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let bad = t
        .client
        .patch(t.url(&format!("/api/v1/inboxes/{a}")))
        .bearer_auth(&admin)
        .json(&json!({ "consent_scope": "account" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let on_b = json(t.text_in(b, "+14155550111", "Hi", None).await).await["conversation_id"].as_i64().unwrap();
    t.text_in(a, "+14155550111", "STOP", None).await;
    assert_eq!(reply(&t, &admin, on_b).await, 409, "a STOP to one number of the pool silences the pool");
}
both_backends!(inboxes_in_one_pool_share_consent);

async fn the_ledger_exports_as_csv_for_an_audit(db: Db) {
    let t = app(db).start().await;
    let supervisor = t.token_for("sue@example.com", Role::Supervisor).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let inbox = t.simulator_inbox().await;
    let conv = json(t.text_in(inbox, "+14155550111", "Hi", None).await).await["conversation_id"].as_i64().unwrap();
    t.text_in(inbox, "+14155550111", "stop", None).await;
    let c = json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await;
    let contact = c["contact_id"].as_i64().unwrap();
    t.post(
        &agent,
        &format!("/api/v1/contacts/{contact}/consent"),
        json!({ "state": "opted_in", "source": "web_form", "evidence": "=cmd|' /C calc'!A0, signed" }),
    )
    .await;

    assert_eq!(t.get(&agent, "/api/v1/consent/export").await.status(), 403);
    let r = t.get(&supervisor, "/api/v1/consent/export").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("event_id,time_utc,contact_id,contact_name,address,scope,change"));
    assert!(lines[1].contains("+14155550111") && lines[1].contains(&format!("inbox:{inbox}")));
    assert!(lines[1].contains(",opt_out,keyword,") && lines[1].ends_with(",stop"), "{}", lines[1]);
    assert!(lines[2].contains(",opt_in,web_form,\"'=cmd|' /C calc'!A0, signed\",dana"), "{}", lines[2]);

    // A range that ends before everything is just the header; a bad time is named.
    let r = t.get(&supervisor, "/api/v1/consent/export?to=2020-01-01T00:00:00Z").await;
    assert_eq!(r.text().await.unwrap().lines().count(), 1);
    let r = t.get(&supervisor, "/api/v1/consent/export?from=yesterday").await;
    assert_eq!(r.status(), 422);

    // The agent downloads one contact's history from the contact panel.
    let browser = t.browser("dana@example.com").await;
    let page = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    let link = format!("/contacts/{contact}/consent.csv");
    assert!(page.contains(&link));
    let csv = browser.get(t.url(&link)).send().await.unwrap().text().await.unwrap();
    assert_eq!(csv.lines().count(), 3);
}
both_backends!(the_ledger_exports_as_csv_for_an_audit);
